"""Write the rows of a new index file: documents, chunks, term counts and BM25 postings.

Rows are inserted a batch at a time and chunks are numbered in document order,
whether a document was copied from the previous index or freshly ingested.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import sqlite_utils

from index.bm25 import Bm25Params
from index.bm25 import build_matrix
from index.errors import BuildFailed
from index.growing import GrowingArray
from index.ingest import IngestedBatch
from index.ingest import document_row
from index.ingest import number_terms
from index.ingest import unpack_counts
from index.postings_file import CountArrays
from index.postings_file import MappedPostings
from index.postings_file import PostingsWriter
from index.scan import FileEntry
from index.settings import BuildSettings
from index.store import DOCUMENT_COLUMNS
from index.store import REBUILD_HINT
from index.store import store_terms
from index.store import write_meta
from index.summary import BuildSummary

#: Postings per chunk assumed in reserving room for the chunks' lengths and counts: chunks
#: have dozens of distinct terms, so this reserves more room than they use (room is free).
POSTINGS_PER_CHUNK = 16


class CorpusCounts:
    """Every chunk's length and term counts, in chunk order, as the BM25 matrix needs them.

    Documents are appended as the build writes them (a copied one's from the previous
    postings file): the (term id, frequency) pairs into *room*, the start of the new
    postings file, mapped (``PostingsWriter.room``), so they are written once and are
    the file's own; past it they grow in memory by doubling. Joining hundreds of
    thousands of small per-document arrays at the end was seconds of the build's tail.
    """

    def __init__(self, room: np.ndarray, expected_postings: int) -> None:
        chunks = expected_postings // POSTINGS_PER_CHUNK
        self._lengths = GrowingArray(np.int32, reserve=chunks)
        self._counts = GrowingArray(np.int32, reserve=chunks)
        self._pairs = GrowingArray(np.int32, room=room)

    def append(self, lengths: np.ndarray, counts: np.ndarray, term_ids: np.ndarray, tfs: np.ndarray) -> None:
        self._lengths.extend(lengths)
        self._counts.extend(counts)
        pairs = self._pairs.grow(2 * len(term_ids))
        pairs[0::2] = term_ids
        pairs[1::2] = tfs

    def append_stored(self, stored: CountArrays) -> None:
        """Append counts as a postings file holds them (a document's, from the previous one)."""
        self._lengths.extend(stored.lengths)
        self._counts.extend(stored.counts)
        self._pairs.extend(stored.pairs)

    def take(self) -> CountArrays:
        """The whole corpus's counts; this object lets go of them."""
        taken = CountArrays(*(part.array[: part.size] for part in (self._pairs, self._lengths, self._counts)))
        self._lengths = self._counts = self._pairs = GrowingArray(np.int32)
        return taken


class StoredCounts:
    """The previous index's term counts (its postings file, mapped), to copy an unchanged document's.

    Checked whole when opened: the compiled impact loop trusts these numbers (it reads
    without bounds checks), and a damaged file must stop the build with the fix, not crash it.
    """

    def __init__(self, path: Path, n_postings: int, n_chunks: int, n_terms: int) -> None:
        try:
            self._stored = MappedPostings(path, n_postings, n_chunks).counts
        except (OSError, ValueError) as exc:
            raise BuildFailed(f"The previous index's postings file cannot be read ({exc}); {_FULL_REBUILD}") from exc
        pairs, lengths, counts = self._stored
        term_ids, tfs = pairs[0::2], pairs[1::2]
        if len(counts) and (
            int(counts.sum(dtype=np.int64)) != n_postings or int(counts.min()) < 0 or int(lengths.min()) < 0
        ):
            raise BuildFailed(f"The previous index's chunk counts ({path.name}) are damaged; {_FULL_REBUILD}")
        if n_postings and (int(term_ids.min()) < 0 or int(term_ids.max()) >= n_terms or int(tfs.min()) < 1):
            raise BuildFailed(f"The previous index's term counts ({path.name}) are damaged; {_FULL_REBUILD}")
        self._starts = np.zeros(n_chunks + 1, np.int64)
        np.cumsum(counts, out=self._starts[1:])

    def document(self, relpath: str, first_chunk: int, chunk_count: int) -> CountArrays:
        """The counts of the document whose chunks were ``first_chunk`` on."""
        end = first_chunk + chunk_count
        if first_chunk < 0 or chunk_count < 0 or end > len(self._starts) - 1:
            raise BuildFailed(f"The previous index's chunks of {relpath} are damaged; {_FULL_REBUILD}")
        a, z = int(self._starts[first_chunk]), int(self._starts[end])
        pairs, lengths, counts = self._stored
        return CountArrays(pairs[2 * a : 2 * z], lengths[first_chunk:end], counts[first_chunk:end])


_FULL_REBUILD = f"{REBUILD_HINT} from the documents."


class _NumberMap:
    """A process's term numbers (1, 2, 3...) to vocabulary ids, growing as it numbers more terms."""

    def __init__(self) -> None:
        self._ids = GrowingArray(np.int32, first=-1)  # number 0 is never given (it means a dropped word)

    def extend(self, ids: list[int]) -> None:
        self._ids.extend(ids)

    def map(self, numbers: np.ndarray) -> np.ndarray:
        return self._ids.array[numbers]


#: How ``IndexWriter.add`` inserts a batch's rows, its pages and chunks numbered on from
#: where the batch starts (``{page}``, ``{chunk}``): SQLite adds them, not Python per row.
_ADD_SQL = {
    "documents": f"insert into main.documents ({', '.join(DOCUMENT_COLUMNS)}) "
    "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? + {page}, ?, ? + {chunk})",
    # The text comes as UTF-8 bytes, stored as text as it is: a worker encodes it once (pickled
    # bytes are copied, a pickled string is encoded and decoded again) and nothing re-encodes it.
    "text_pages": "insert into main.text_pages (id, text) values (? + {page}, cast(? as text))",
    "chunks": 'insert into main.chunks (idx, document_id, ordinal, section, start, "end") '
    "values (? + {chunk}, ?, ?, ?, ?, ?)",
}


#: How ``IndexWriter.copy`` carries an unchanged document's rows over from the old index
#: (attached as ``old``), its pages and chunks renumbered to follow the documents before it.
_COPY_SQL = {
    "documents": "insert into main.documents select id, path, title, format, ?, ?, sha256, status, error, "
    "chunk_count, ?, pages, ? from old.documents where id = ?",
    "text_pages": "insert into main.text_pages (id, text) "
    "select id + ?, text from old.text_pages where id between ? and ?",
    "chunks": 'insert into main.chunks (idx, document_id, ordinal, section, start, "end") '
    'select ? + ordinal, document_id, ordinal, section, start, "end" from old.chunks where idx between ? and ?',
}


class IndexWriter:
    """Write documents, chunks and term counts into the new file, in batches, in order.

    Chunks are numbered (``idx``, their column in the BM25 matrix) in the order the
    documents come, whether copied from the old index or freshly ingested.
    """

    BATCH = 500

    def __init__(
        self,
        db: sqlite_utils.Database,
        vocabulary: dict[str, int],
        summary: BuildSummary,
        corpus_counts: CorpusCounts,
        previous: StoredCounts | None = None,
    ) -> None:
        """:param previous: the previous index's counts, when it has files to copy"""
        self.db, self.vocabulary, self.summary = db, vocabulary, summary
        self.next_idx = 0
        self.corpus_counts = corpus_counts
        self.previous = previous
        self._documents: list[tuple] = []  # skipped files' rows, in DOCUMENT_COLUMNS' order
        self._unflushed = 0  # documents written since the last commit
        self.next_page = 1  # id of the next text page: a document's pages are consecutive
        self._numberings: dict[str, _NumberMap] = {}  # each ingesting process's term numbers
        self._copies: dict[str, list[tuple]] = {table: [] for table in _COPY_SQL}  # parameters, by table

    def skipped(self, entry: FileEntry) -> None:
        self._documents.append(document_row(entry, status="skipped", error=entry.skip_reason))
        self.summary.skipped += 1

    def copy(self, entry: FileEntry, previous: dict) -> None:
        """Reuse a document's rows from the attached old index, renumbering its chunks.

        The copies are queued and run in batches (``flush``): an incremental build copies
        every unchanged file, and one statement per row and file was most of its time.
        """
        doc_id = previous["id"]
        old_first, pages, old_chunk = previous["first_page"], previous["pages"], previous["first_chunk"]
        copies = self._copies
        copies["documents"].append((entry.size, entry.mtime_ns, self.next_page, self.next_idx, doc_id))
        copies["text_pages"].append((self.next_page - old_first, old_first, old_first + pages - 1))
        self.next_page += pages
        if previous["status"] != "ok":
            error = self.db.execute("select error from old.documents where id = ?", [doc_id]).fetchone()[0]
            self.summary.failed += 1
            self.summary.failures.append({"path": entry.relpath, "error": error})
            return
        copies["chunks"].append((self.next_idx, old_chunk, old_chunk + previous["chunk_count"] - 1))
        if self.previous is None:
            raise BuildFailed(f"The previous index has no term counts for {entry.relpath}; {_FULL_REBUILD}")
        self.corpus_counts.append_stored(self.previous.document(entry.relpath, old_chunk, previous["chunk_count"]))
        self.next_idx += previous["chunk_count"]
        self.summary.unchanged += 1
        if len(copies["documents"]) >= self.BATCH:
            self.flush()

    def add(self, batch: IngestedBatch, replaced: Collection[str] = ()) -> None:
        """Write a batch of freshly ingested documents (and record its failures).

        :param replaced: the paths of the batch's files that the previous index had
        """
        if self._documents or self._copies["documents"]:
            self.flush()  # what came before the batch goes in first
        # Stored as little-endian int32, like every other array of the index file.
        lengths, counts, term_ids, tfs = unpack_counts(batch.packed.astype("<i4", copy=False), len(batch.chunks))
        to_vocabulary = self._numberings.get(batch.numbering)
        if to_vocabulary is None:
            to_vocabulary = self._numberings[batch.numbering] = _NumberMap()
        to_vocabulary.extend(number_terms(self.vocabulary, batch.new_terms))
        term_ids[:] = to_vocabulary.map(term_ids)  # in place: the four arrays share one buffer
        page, chunk = self.next_page, self.next_idx
        conn = self.db.conn
        conn.executemany(_ADD_SQL["documents"].format(page=page, chunk=chunk), batch.documents)
        conn.executemany(_ADD_SQL["text_pages"].format(page=page), batch.pages)
        conn.executemany(_ADD_SQL["chunks"].format(chunk=chunk), batch.chunks)
        self.corpus_counts.append(lengths, counts, term_ids, tfs)
        self.next_page += len(batch.pages)
        self.next_idx += len(batch.chunks)
        changed = len(replaced) - sum(1 for path, _ in batch.failures if path in replaced) if replaced else 0
        self.summary.changed += changed
        self.summary.added += len(batch.documents) - len(batch.failures) - changed
        self.summary.failed += len(batch.failures)
        self.summary.failures.extend({"path": path, "error": error} for path, error in batch.failures)
        self._unflushed += len(batch.documents)
        if self._unflushed >= self.BATCH:
            self.flush()

    def finish(self) -> None:
        """Write what is buffered and let go of the previous index's counts."""
        self.flush()
        self.previous = None

    def flush(self) -> None:
        """Run the queued copies, insert the skipped files' rows, and commit."""
        with self.db.conn:
            for table, params in self._copies.items():
                if params:
                    self.db.conn.executemany(_COPY_SQL[table], params)
                    params.clear()
            if self._documents:
                self.db.conn.executemany(_ADD_SQL["documents"].format(page=0, chunk=0), self._documents)
                self._documents.clear()
        self._unflushed = 0


def write_terms(
    db: sqlite_utils.Database,
    postings: PostingsWriter,
    vocabulary: dict[str, int],
    corpus_counts: CorpusCounts,
    settings: BuildSettings,
) -> None:
    """Compute BM25 impacts for the whole corpus into the new postings file and write the terms' rows.

    Takes the counts out of *corpus_counts*, so that those held in memory are freed as
    soon as the impacts are computed, before the terms' rows are written.
    """
    counts = corpus_counts.take()
    arrays = postings.finish(counts)
    params = Bm25Params(settings.k1, settings.b, settings.epsilon)
    matrix = build_matrix(
        arrays.term_ids,
        arrays.tfs,
        counts.counts,
        counts.lengths,
        len(vocabulary),
        params,
        (arrays.chunk_ids, arrays.impacts),
    )
    del counts, arrays  # only the matrix is needed from here on
    store_terms(db, postings.path, vocabulary, matrix)
    write_meta(
        db,
        {
            "chunks": matrix.stats.n_chunks,
            "avgdl": matrix.stats.avgdl,
            "average_idf": matrix.stats.average_idf,
            "vocabulary": len(vocabulary),
        },
    )
