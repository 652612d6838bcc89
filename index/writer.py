"""Write the rows of a new index file: documents, chunks, term counts and BM25 postings.

Rows are batched (sqlite-utils ``insert_all``) and chunks are numbered in document
order, whether a document was copied from the previous index or freshly ingested.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import sqlite_utils

from index.bm25 import Bm25Params
from index.bm25 import build_matrix
from index.errors import BuildFailed
from index.growing import GrowingArray
from index.ingest import Ingested
from index.ingest import number_terms
from index.loaders import format_of
from index.scan import FileEntry
from index.settings import BuildSettings
from index.store import insert_tuples
from index.store import pack
from index.store import store_postings
from index.store import text_pages
from index.store import write_meta
from index.summary import BuildSummary


class CorpusCounts:
    """Every chunk's length and term counts, in chunk order, as the BM25 matrix needs them.

    Documents are appended as the build writes them (a copied one's from its stored
    counts), into arrays that grow by doubling: joining hundreds of thousands of small
    per-document arrays at the end was seconds of the build's serial tail.
    """

    def __init__(self) -> None:
        self._parts = tuple(GrowingArray(np.int32) for _ in range(4))

    def append(self, lengths: np.ndarray, counts: np.ndarray, term_ids: np.ndarray, tfs: np.ndarray) -> None:
        for part, values in zip(self._parts, (lengths, counts, term_ids, tfs), strict=True):
            part.extend(values)

    def take(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(lengths, counts, term_ids, tfs)`` of the whole corpus; this object lets go of them."""
        lengths, counts, term_ids, tfs = (part.array[: part.size] for part in self._parts)
        self._parts = tuple(GrowingArray(np.int32) for _ in range(4))
        return lengths, counts, term_ids, tfs


def document_id(relpath: str) -> str:
    """A stable, URL-safe id for a document, derived from its path under documents/."""
    return hashlib.sha1(relpath.encode("utf-8")).hexdigest()[:16]


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


#: The ``documents`` table's columns, in the order of the rows the writer buffers.
DOCUMENT_COLUMNS = (
    "id",
    "path",
    "title",
    "format",
    "size",
    "mtime_ns",
    "sha256",
    "status",
    "error",
    "chunk_count",
    "first_page",
    "pages",
    "first_chunk",
)

#: How ``IndexWriter.copy`` carries an unchanged document's rows over from the old index
#: (attached as ``old``), its pages and chunks renumbered to follow the documents before it.
_COPY_SQL = {
    "documents": "insert into main.documents select id, path, title, format, ?, ?, sha256, status, error, "
    "chunk_count, ?, pages, ? from old.documents where id = ?",
    "text_pages": "insert into main.text_pages (id, text) "
    "select id + ?, text from old.text_pages where id between ? and ?",
    "chunks": 'insert into main.chunks (idx, document_id, ordinal, section, start, "end") '
    'select ? + ordinal, document_id, ordinal, section, start, "end" from old.chunks where idx between ? and ?',
    "document_terms": "insert into main.document_terms (document_id, lengths, counts, term_ids, tfs) "
    "values (?, ?, ?, ?, ?)",
}


class IndexWriter:
    """Write documents, chunks and term counts into the new file, in batches, in order.

    Chunks are numbered (``idx``, their column in the BM25 matrix) in the order the
    documents come, whether copied from the old index or freshly ingested.
    """

    BATCH = 500

    def __init__(self, db: sqlite_utils.Database, vocabulary: dict[str, int], summary: BuildSummary) -> None:
        self.db, self.vocabulary, self.summary = db, vocabulary, summary
        self.next_idx = 0
        self.corpus_counts = CorpusCounts()
        self._documents: list[tuple] = []  # rows, in DOCUMENT_COLUMNS' order
        self._chunks: list[tuple] = []
        self._terms: list[tuple] = []
        self._pages: list[tuple] = []
        self.next_page = 1  # id of the next text page: a document's pages are consecutive
        self._numberings: dict[str, _NumberMap] = {}  # each ingesting process's term numbers
        self._copies: dict[str, list[tuple]] = {table: [] for table in _COPY_SQL}  # parameters, by table
        self._old_terms: dict[str, tuple[bytes, bytes, bytes, bytes]] | None = None

    def _row(self, entry: FileEntry, **values) -> tuple:
        """A skipped or failed file's ``documents`` row: *values* over defaults (the file name as
        title, the suffix as format). An ingested file's row is built whole in ``add``."""
        path = entry.path
        row = {
            "id": document_id(entry.relpath),
            "path": entry.relpath,
            "title": path.name,
            "format": format_of(path) or path.suffix.lstrip(".").lower(),
            "size": entry.size,
            "mtime_ns": entry.mtime_ns,
            "sha256": None,
            "status": "ok",
            "error": None,
            "chunk_count": 0,
            "first_page": 0,
            "pages": 0,
            "first_chunk": 0,
        }
        row.update(values)
        return tuple(row[column] for column in DOCUMENT_COLUMNS)

    def skipped(self, entry: FileEntry) -> None:
        self._documents.append(self._row(entry, status="skipped", error=entry.skip_reason))
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

    def add(self, entry: FileEntry, result: Ingested, previous: dict | None) -> None:
        """Write a freshly ingested document (or record its failure)."""
        if result.error is not None:
            self._documents.append(self._row(entry, sha256=result.sha256, status="failed", error=result.error))
            self.summary.failed += 1
            self.summary.failures.append({"path": entry.relpath, "error": result.error})
            return
        assert result.chunks is not None and result.new_terms is not None
        lengths, counts, term_ids, tfs = result.term_counts()
        doc_id = document_id(entry.relpath)
        pages = text_pages(result.text)
        first_page, base = self.next_page, self.next_idx
        self._documents.append(
            (doc_id, entry.relpath, result.title, result.format, entry.size, entry.mtime_ns, result.sha256)
            + ("ok", None, len(result.chunks), first_page, len(pages), base)
        )
        self._pages.extend((first_page + n, page) for n, page in enumerate(pages))
        self.next_page += len(pages)
        self._chunks.extend(
            (base + ordinal, doc_id, ordinal, section, start, end) for ordinal, section, start, end in result.chunks
        )
        to_vocabulary = self._numberings.get(result.numbering)
        if to_vocabulary is None:
            to_vocabulary = self._numberings[result.numbering] = _NumberMap()
        to_vocabulary.extend(number_terms(self.vocabulary, result.new_terms))
        term_ids[:] = to_vocabulary.map(term_ids)  # in place: the four arrays share one buffer
        self._terms.append((doc_id, pack(lengths, "<i4"), pack(counts, "<i4"), pack(term_ids, "<i4"), pack(tfs, "<i4")))
        self.corpus_counts.append(lengths, counts, term_ids, tfs)
        self.next_idx += len(result.chunks)
        if previous:
            self.summary.changed += 1
        else:
            self.summary.added += 1
        if len(self._documents) >= self.BATCH:
            self.flush()

    def finish(self) -> None:
        """Write what is buffered and let go of the old index's term counts (those of changed and
        removed files were never taken), before the build's most memory-hungry step."""
        self.flush()
        self._old_terms = None

    def flush(self) -> None:
        """Insert the buffered rows, and run the queued copies."""
        with self.db.conn:
            for table, params in self._copies.items():
                if params:
                    self.db.conn.executemany(_COPY_SQL[table], params)
                    params.clear()
        tables = (
            ("documents", DOCUMENT_COLUMNS, self._documents),
            ("text_pages", ("id", "text"), self._pages),
            ("chunks", ("idx", "document_id", "ordinal", "section", "start", "end"), self._chunks),
            ("document_terms", ("document_id", "lengths", "counts", "term_ids", "tfs"), self._terms),
        )
        for table, columns, rows in tables:
            if rows:
                insert_tuples(self.db, table, columns, rows)
                rows.clear()


def write_terms(
    db: sqlite_utils.Database,
    postings_path: Path,
    vocabulary: dict[str, int],
    corpus_counts: CorpusCounts,
    settings: BuildSettings,
) -> None:
    """Compute BM25 impacts for the whole corpus and store each term's postings in *postings_path*.

    Takes the counts out of *corpus_counts*, so that they are freed as soon as the
    impacts are computed, before the postings are written.
    """
    lengths, counts, term_ids, tfs = corpus_counts.take()
    matrix = build_matrix(
        term_ids, tfs, counts, lengths, len(vocabulary), Bm25Params(settings.k1, settings.b, settings.epsilon)
    )
    del term_ids, tfs, counts  # only the matrix is needed from here on
    store_postings(db, postings_path, vocabulary, matrix)
    write_meta(
        db,
        {
            "chunks": matrix.stats.n_chunks,
            "avgdl": matrix.stats.avgdl,
            "average_idf": matrix.stats.average_idf,
            "vocabulary": len(vocabulary),
        },
    )
