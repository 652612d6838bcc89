"""Build the index file from a documents folder: incremental, and atomic on disk.

A build writes a complete new file beside the old one and renames it into place,
so a reader sees the old index or the new one, never a mix, and a build killed at
any moment leaves the old file untouched (its temporary file is removed by the
next build). Files whose size and mtime (or, failing that, content hash) are
unchanged are copied from the old index with their stored term counts: they are
not re-read or re-tokenized. BM25 impacts are recomputed for every build, because
the idf of every term and the average chunk length change with any file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timezone
from pathlib import Path

import numpy as np
import sqlite_utils

from index.analysis import Analyzer
from index.bm25 import Bm25Params
from index.bm25 import build_matrix
from index.chunking import chunk_document
from index.errors import BuildFailed
from index.errors import BuildInProgress
from index.errors import DocumentsMissing
from index.errors import UnreadableDocument
from index.loaders import format_of
from index.loaders import load
from index.scan import FileEntry
from index.scan import scan_documents
from index.settings import BuildSettings
from index.store import FORMAT_VERSION
from index.store import create_schema
from index.store import pack
from index.store import write_meta


@dataclass
class BuildSummary:
    """What a build did, for the CLI's last line and the admin API."""

    index: str
    full: bool
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    documents: int = 0
    chunks: int = 0
    terms: int = 0
    seconds: float = 0.0
    generation: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Return the summary as plain JSON-ready data."""
        return asdict(self)

    def line(self) -> str:
        """One human sentence for the end of ``docqa index``."""
        return (
            f"Indexed {self.documents} documents into {self.chunks} chunks in {self.seconds:.2f}s: "
            f"{self.added} added, {self.changed} changed, {self.removed} removed, "
            f"{self.unchanged} unchanged, {self.failed} failed, {self.skipped} skipped "
            f"(generation {self.generation}, {self.index})."
        )


@dataclass
class _DocTerms:
    lengths: np.ndarray
    counts: np.ndarray
    term_ids: np.ndarray
    tfs: np.ndarray


def document_id(relpath: str) -> str:
    """A stable, URL-safe id for a document, derived from its path under documents/."""
    return hashlib.sha1(relpath.encode("utf-8")).hexdigest()[:16]


@contextlib.contextmanager
def build_lock(index_path: Path) -> Iterator[None]:
    """Hold an exclusive lock so two builds never write the same index at once."""
    lock_path = index_path.with_name(index_path.name + ".lock")
    try:
        handle = open(lock_path, "a+")
    except OSError as exc:
        raise BuildFailed(f"Cannot create {lock_path} ({exc.strerror}); make its folder writable or pass --index.") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildInProgress(f"Another build is writing {index_path}; wait for it to finish.") from None
        yield


def _remove_stale_temp_files(index_path: Path) -> None:
    """Delete leftovers of killed builds (we hold the lock, so none is live)."""
    for stale in index_path.parent.glob(index_path.name + ".tmp-*"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _open_previous(index_path: Path, settings: BuildSettings) -> tuple[sqlite3.Connection | None, dict]:
    """Open the current index to reuse its work, or return (None, {}) when it can't be reused."""
    if not index_path.exists():
        return None, {}
    try:
        conn = sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)
        meta = {k: json.loads(v) for k, v in conn.execute("select key, value from meta")}
    except (sqlite3.DatabaseError, ValueError):
        return None, {}
    if meta.get("format_version") != FORMAT_VERSION or meta.get("tokenization") != settings.tokenization_key():
        conn.close()
        return None, meta
    return conn, meta


def build_index(
    documents_dir: Path, index_path: Path, settings: BuildSettings | None = None,
    *, full: bool = False, progress: bool = False,
) -> BuildSummary:
    """Bring the index at *index_path* up to date with *documents_dir*.

    :param full: ignore the previous index and re-read every file
    :param progress: show a progress bar (for terminals)
    :raises DocumentsMissing: the documents folder does not exist
    :raises BuildInProgress: another build holds the lock
    :raises BuildFailed: the new index could not be written; the old one is kept
    """
    settings = settings or BuildSettings()
    documents_dir, index_path = Path(documents_dir), Path(index_path)
    if not documents_dir.is_dir():
        raise DocumentsMissing(
            f"Documents folder {documents_dir} does not exist; create it or pass --documents DIR."
        )
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildFailed(f"Cannot create {index_path.parent} ({exc.strerror}); pass a writable --index.") from exc
    with build_lock(index_path):
        _remove_stale_temp_files(index_path)
        tmp = index_path.with_name(f"{index_path.name}.tmp-{os.getpid()}")
        try:
            summary = _build(documents_dir, index_path, tmp, settings, full, progress)
            os.replace(tmp, index_path)
            _fsync_dir(index_path.parent)
            return summary
        except sqlite3.OperationalError as exc:
            raise BuildFailed(
                f"Writing the new index failed ({exc}); the previous index is unchanged. "
                "Free disk space or choose another --index, then run `docqa index` again."
            ) from exc
        except OSError as exc:
            raise BuildFailed(
                f"Writing the new index failed ({exc.strerror or exc}); the previous index is unchanged. "
                "Check that the index folder is writable and has space."
            ) from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _build(
    documents_dir: Path, index_path: Path, tmp: Path, settings: BuildSettings, full: bool, progress: bool
) -> BuildSummary:
    started = time.perf_counter()
    summary = BuildSummary(index=str(index_path), full=full)
    old, old_meta = _open_previous(index_path, settings)
    if full and old is not None:
        old.close()
        old = None
    old_docs: dict[str, dict] = {}
    vocabulary: dict[str, int] = {}
    if old is not None:
        cols = ("id", "path", "size", "mtime_ns", "sha256", "status")
        old_docs = {r[1]: dict(zip(cols, r)) for r in old.execute(f"select {', '.join(cols)} from documents")}
        vocabulary = dict(old.execute("select term, id from terms"))
    db = sqlite_utils.Database(tmp, recreate=True)
    db.execute("pragma journal_mode = off")
    db.execute("pragma synchronous = off")
    create_schema(db)
    if old is not None:
        old.close()
        db.execute("attach database ? as old", [f"file:{index_path}?mode=ro"])
    analyzer = Analyzer(settings.language)
    entries = scan_documents(documents_dir)
    doc_terms: list[_DocTerms] = []
    next_idx = 0
    seen: set[str] = set()
    for entry in _progress(entries, progress):
        seen.add(entry.relpath)
        previous = old_docs.get(entry.relpath)
        n = _index_entry(db, entry, previous, analyzer, settings, vocabulary, doc_terms, next_idx, summary)
        next_idx += n
    summary.removed = len(set(old_docs) - seen)
    if old is not None:
        db.conn.commit()
        db.execute("detach database old")
    _write_terms(db, vocabulary, doc_terms, settings)
    summary.documents = summary.added + summary.changed + summary.unchanged
    summary.chunks = next_idx
    summary.terms = int(db.execute("select count(*) from terms where df > 0").fetchone()[0])
    summary.generation = int(old_meta.get("generation", 0)) + 1
    summary.seconds = round(time.perf_counter() - started, 3)
    write_meta(db, {
        "format_version": FORMAT_VERSION,
        "generation": summary.generation,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tokenization": settings.tokenization_key(),
        "bm25": {"k1": settings.k1, "b": settings.b, "epsilon": settings.epsilon},
        "documents": summary.documents,
        "build_seconds": summary.seconds,
    })
    db.conn.commit()
    db.conn.close()
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    return summary


def _progress(entries: list[FileEntry], enabled: bool):
    if not enabled:
        return entries
    from tqdm import tqdm

    return tqdm(entries, unit="file", desc="Indexing", leave=False)


def _index_entry(
    db: sqlite_utils.Database, entry: FileEntry, previous: dict | None, analyzer: Analyzer,
    settings: BuildSettings, vocabulary: dict[str, int], doc_terms: list[_DocTerms], base: int,
    summary: BuildSummary,
) -> int:
    """Add one file to the new index, reusing the old index's rows when it is unchanged.

    Returns the number of chunks it contributed.
    """
    doc_id = document_id(entry.relpath)
    row = {"id": doc_id, "path": entry.relpath, "title": entry.path.name, "format": format_of(entry.path) or "",
           "size": entry.size, "mtime_ns": entry.mtime_ns, "sha256": None, "status": "ok",
           "error": None, "chunk_count": 0, "text": ""}
    if entry.skip_reason:
        row.update(status="skipped", error=entry.skip_reason, format=entry.path.suffix.lstrip(".").lower())
        db["documents"].insert(row)
        summary.skipped += 1
        return 0
    same_stat = previous and previous["size"] == entry.size and previous["mtime_ns"] == entry.mtime_ns
    if previous and same_stat and previous["status"] != "ok":
        _copy_document(db, doc_id, base, entry, previous["sha256"])
        summary.failed += 1
        summary.failures.append({"path": entry.relpath, "error": _old_error(db, doc_id)})
        return 0
    data: bytes | None = None
    sha = None
    if not same_stat:
        try:
            data = entry.path.read_bytes()
        except OSError as exc:
            return _fail(db, row, f"cannot be read ({exc.strerror})", summary)
        sha = hashlib.sha256(data).hexdigest()
    if previous and previous["status"] == "ok" and (same_stat or sha == previous["sha256"]):
        n = _copy_document(db, doc_id, base, entry, sha or previous["sha256"])
        doc_terms.append(_load_terms(db, doc_id))
        summary.unchanged += 1
        return n
    if data is None:  # stat matched a failed or skipped row: re-read
        data = entry.path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
    row["sha256"] = sha
    try:
        loaded = load(entry.path, data)
    except UnreadableDocument as exc:
        return _fail(db, row, str(exc), summary)
    except RecursionError:
        return _fail(db, row, "too deeply nested to parse", summary)
    chunks = chunk_document(loaded.text, loaded.blocks, settings.chunk_words, settings.chunk_overlap, settings.language)
    title_terms = analyzer.terms(loaded.title) if settings.title_in_chunks else []
    lengths, counts, term_ids, tfs = [], [], [], []
    for chunk in chunks:
        terms = Counter(analyzer.terms(loaded.text[chunk.start : chunk.end]))
        terms.update(title_terms)
        lengths.append(sum(terms.values()))
        counts.append(len(terms))
        for term, tf in terms.items():
            term_ids.append(vocabulary.setdefault(term, len(vocabulary)))
            tfs.append(tf)
    row.update(title=loaded.title, format=loaded.format, chunk_count=len(chunks), text=loaded.text)
    db["documents"].insert(row)
    db["chunks"].insert_all(
        {"idx": base + c.ordinal, "id": f"{doc_id}-{c.ordinal}", "document_id": doc_id, "ordinal": c.ordinal,
         "section": c.section, "start": c.start, "end": c.end, "text": loaded.text[c.start : c.end]}
        for c in chunks
    )
    terms_row = _DocTerms(np.array(lengths, np.int32), np.array(counts, np.int32),
                          np.array(term_ids, np.int32), np.array(tfs, np.int32))
    db["document_terms"].insert({
        "document_id": doc_id, "lengths": pack(terms_row.lengths, "<i4"), "counts": pack(terms_row.counts, "<i4"),
        "term_ids": pack(terms_row.term_ids, "<i4"), "tfs": pack(terms_row.tfs, "<i4"),
    })
    doc_terms.append(terms_row)
    if previous:
        summary.changed += 1
    else:
        summary.added += 1
    return len(chunks)


def _fail(db: sqlite_utils.Database, row: dict, reason: str, summary: BuildSummary) -> int:
    row.update(status="failed", error=reason)
    db["documents"].insert(row)
    summary.failed += 1
    summary.failures.append({"path": row["path"], "error": reason})
    return 0


def _old_error(db: sqlite_utils.Database, doc_id: str) -> str:
    found = db.execute("select error from documents where id = ?", [doc_id]).fetchone()
    return found[0] if found else ""


def _copy_document(db: sqlite_utils.Database, doc_id: str, base: int, entry: FileEntry, sha: str | None) -> int:
    """Copy a document's rows from the attached old index, renumbering its chunks from *base*."""
    db.execute(
        "insert into main.documents select id, path, title, format, ?, ?, ?, status, error, chunk_count, text "
        "from old.documents where id = ?",
        [entry.size, entry.mtime_ns, sha, doc_id],
    )
    db.execute(
        'insert into main.chunks (idx, id, document_id, ordinal, section, start, "end", text) '
        'select ? + ordinal, id, document_id, ordinal, section, start, "end", text from old.chunks '
        "where document_id = ? order by ordinal",
        [base, doc_id],
    )
    db.execute("insert into main.document_terms select * from old.document_terms where document_id = ?", [doc_id])
    return int(db.execute("select chunk_count from main.documents where id = ?", [doc_id]).fetchone()[0])


def _load_terms(db: sqlite_utils.Database, doc_id: str) -> _DocTerms:
    row = db.execute(
        "select lengths, counts, term_ids, tfs from main.document_terms where document_id = ?", [doc_id]
    ).fetchone()
    return _DocTerms(*(np.frombuffer(blob, dtype="<i4") for blob in row))


def _write_terms(db: sqlite_utils.Database, vocabulary: dict[str, int], doc_terms: list[_DocTerms],
                 settings: BuildSettings) -> None:
    """Compute BM25 impacts for the whole corpus and store each term's postings."""
    if doc_terms:
        lengths = np.concatenate([d.lengths for d in doc_terms])
        counts = np.concatenate([d.counts for d in doc_terms])
        term_ids = np.concatenate([d.term_ids for d in doc_terms])
        tfs = np.concatenate([d.tfs for d in doc_terms])
    else:
        lengths = counts = term_ids = tfs = np.zeros(0, np.int32)
    posting_chunk = np.repeat(np.arange(len(lengths), dtype=np.int32), counts)
    matrix = build_matrix(term_ids, tfs, posting_chunk, lengths, len(vocabulary),
                          Bm25Params(settings.k1, settings.b, settings.epsilon))
    ptr = matrix.ptr

    def rows():
        for term, tid in vocabulary.items():
            a, z = ptr[tid], ptr[tid + 1]
            yield {"id": tid, "term": term, "df": int(matrix.df[tid]), "idf": float(matrix.idf[tid]),
                   "chunk_ids": pack(matrix.chunk_ids[a:z], "<i4"), "impacts": pack(matrix.impacts[a:z], "<f8")}

    db["terms"].insert_all(rows(), batch_size=2000)
    write_meta(db, {"chunks": matrix.stats.n_chunks, "avgdl": matrix.stats.avgdl,
                    "average_idf": matrix.stats.average_idf, "vocabulary": len(vocabulary)})
