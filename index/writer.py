"""Write the rows of a new index file: documents, chunks, term counts and BM25 postings.

Rows are inserted a batch at a time and chunks are numbered in document order,
whether a document was copied from the previous index or freshly ingested.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Iterator
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
from index.scan import FileEntry
from index.settings import BuildSettings
from index.store import DOCUMENT_COLUMNS
from index.store import postings_file
from index.store import store_terms
from index.store import write_meta
from index.summary import BuildSummary

#: Postings per chunk assumed in reserving room for the chunks' lengths and counts: chunks
#: have dozens of distinct terms, so this reserves more room than they use (room is free).
POSTINGS_PER_CHUNK = 16


class CorpusCounts:
    """Every chunk's length and term counts, in chunk order, as the BM25 matrix needs them.

    Documents are appended as the build writes them (a copied one's from its stored
    counts), into arrays that grow by doubling: joining hundreds of thousands of small
    per-document arrays at the end was seconds of the build's serial tail. Room for
    *expected_postings* is reserved (``GrowingArray``) so that a large build rarely grows.
    """

    def __init__(self, expected_postings: int = 0) -> None:
        chunks = expected_postings // POSTINGS_PER_CHUNK
        self._parts = tuple(
            GrowingArray(np.int32, reserve=n) for n in (chunks, chunks, expected_postings, expected_postings)
        )

    def append(self, lengths: np.ndarray, counts: np.ndarray, term_ids: np.ndarray, tfs: np.ndarray) -> None:
        for part, values in zip(self._parts, (lengths, counts, term_ids, tfs), strict=True):
            part.extend(values)

    def take(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(lengths, counts, term_ids, tfs)`` of the whole corpus; this object lets go of them."""
        lengths, counts, term_ids, tfs = (part.array[: part.size] for part in self._parts)
        self._parts = tuple(GrowingArray(np.int32) for _ in range(4))
        return lengths, counts, term_ids, tfs


class _NumberMap:
    """A process's term numbers (1, 2, 3...) to vocabulary ids, growing as it numbers more terms."""

    def __init__(self) -> None:
        self._ids = GrowingArray(np.int32, first=-1)  # number 0 is never given (it means a dropped word)

    def extend(self, ids: list[int]) -> None:
        self._ids.extend(ids)

    def map(self, numbers: np.ndarray) -> np.ndarray:
        return self._ids.array[numbers]


def _stored_counts(
    chunk_count: int, blobs: tuple[bytes, bytes, bytes, bytes] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """A document's stored ``(lengths, counts, term_ids, tfs)``, or None when they do not fit
    together: one length and count per chunk, as many postings as the counts add up to."""
    if blobs is None or any(len(blob) % 4 for blob in blobs):
        return None
    lengths, counts, term_ids, tfs = (np.frombuffer(blob, dtype="<i4") for blob in blobs)
    if len(lengths) != chunk_count or len(counts) != chunk_count or len(tfs) != len(term_ids):
        return None
    if int(counts.sum()) != len(term_ids):
        return None
    return lengths, counts, term_ids, tfs


#: How ``IndexWriter.add`` inserts a batch's rows, its pages and chunks numbered on from
#: where the batch starts (``{page}``, ``{chunk}``): SQLite adds them, not Python per row.
_ADD_SQL = {
    "documents": f"insert into main.documents ({', '.join(DOCUMENT_COLUMNS)}) "
    "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? + {page}, ?, ? + {chunk})",
    "text_pages": "insert into main.text_pages (id, text) values (? + {page}, ?)",
    "chunks": 'insert into main.chunks (idx, document_id, ordinal, section, start, "end") '
    "values (? + {chunk}, ?, ?, ?, ?, ?)",
    "document_terms": "insert into main.document_terms (document_id, lengths, counts, term_ids, tfs) "
    "values (?, ?, ?, ?, ?)",
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
    "document_terms": _ADD_SQL["document_terms"],
}


_STATUS = DOCUMENT_COLUMNS.index("status")
_CHUNK_COUNT = DOCUMENT_COLUMNS.index("chunk_count")


def _document_terms(
    batch: IngestedBatch, lengths: np.ndarray, counts: np.ndarray, term_ids: np.ndarray, tfs: np.ndarray
) -> Iterator[tuple[str, bytes, bytes, bytes, bytes]]:
    """The ``document_terms`` rows of a batch's indexed documents: their slices of the batch's counts."""
    indexed = [row for row in batch.documents if row[_STATUS] == "ok"]
    chunk_ends = np.cumsum([row[_CHUNK_COUNT] for row in indexed], dtype=np.int64).tolist()
    posting_ends = np.concatenate(([0], np.cumsum(counts, dtype=np.int64))).tolist()
    chunk = posting = 0
    ok = (row[0] for row in indexed)
    for doc_id, chunk_end in zip(ok, chunk_ends, strict=True):
        posting_end = posting_ends[chunk_end]
        yield (
            doc_id,
            lengths[chunk:chunk_end].tobytes(),
            counts[chunk:chunk_end].tobytes(),
            term_ids[posting:posting_end].tobytes(),
            tfs[posting:posting_end].tobytes(),
        )
        chunk, posting = chunk_end, posting_end


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
        expected_postings: int = 0,
    ) -> None:
        self.db, self.vocabulary, self.summary = db, vocabulary, summary
        self.next_idx = 0
        self.corpus_counts = CorpusCounts(expected_postings)
        self._documents: list[tuple] = []  # skipped files' rows, in DOCUMENT_COLUMNS' order
        self._unflushed = 0  # documents written since the last commit
        self.next_page = 1  # id of the next text page: a document's pages are consecutive
        self._numberings: dict[str, _NumberMap] = {}  # each ingesting process's term numbers
        self._copies: dict[str, list[tuple]] = {table: [] for table in _COPY_SQL}  # parameters, by table
        self._old_terms: dict[str, tuple[bytes, bytes, bytes, bytes]] | None = None

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
        blobs = self._old_document_terms().pop(doc_id, None)
        stored = _stored_counts(previous["chunk_count"], blobs)
        if blobs is None or stored is None:
            # The compiled impact loop trusts these counts (it reads without bounds checks).
            raise BuildFailed(
                f"The previous index's term counts for {entry.relpath} are damaged; "
                "run `docqa index --full` to rebuild it from the documents."
            )
        copies["document_terms"].append((doc_id, *blobs))
        self.corpus_counts.append(*stored)
        self.next_idx += previous["chunk_count"]
        self.summary.unchanged += 1
        if len(copies["documents"]) >= self.BATCH:
            self.flush()

    def _old_document_terms(self) -> dict[str, tuple[bytes, bytes, bytes, bytes]]:
        """The old index's term counts by document, read in one pass when the first file is copied."""
        if self._old_terms is None:
            rows = self.db.conn.execute("select document_id, lengths, counts, term_ids, tfs from old.document_terms")
            self._old_terms = {row[0]: row[1:] for row in rows}
        return self._old_terms

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
        conn.executemany(_ADD_SQL["document_terms"], _document_terms(batch, lengths, counts, term_ids, tfs))
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
        """Write what is buffered and let go of the old index's term counts (those of changed and
        removed files were never taken), before the build's most memory-hungry step."""
        self.flush()
        self._old_terms = None

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
    postings_path: Path,
    vocabulary: dict[str, int],
    corpus_counts: CorpusCounts,
    settings: BuildSettings,
) -> None:
    """Compute BM25 impacts for the whole corpus into *postings_path* and write the terms' rows.

    Takes the counts out of *corpus_counts*, so that they are freed as soon as the
    impacts are computed, before the terms' rows are written.
    """
    lengths, counts, term_ids, tfs = corpus_counts.take()
    params = Bm25Params(settings.k1, settings.b, settings.epsilon)
    with postings_file(postings_path, len(term_ids)) as out:
        matrix = build_matrix(term_ids, tfs, counts, lengths, len(vocabulary), params, out)
    del term_ids, tfs, counts  # only the matrix is needed from here on
    store_terms(db, postings_path, vocabulary, matrix)
    write_meta(
        db,
        {
            "chunks": matrix.stats.n_chunks,
            "avgdl": matrix.stats.avgdl,
            "average_idf": matrix.stats.average_idf,
            "vocabulary": len(vocabulary),
        },
    )
