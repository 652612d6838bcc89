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
import itertools
import json
import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from pathlib import Path

import numpy as np
import sqlite_utils

from index.bm25 import Bm25Params
from index.bm25 import build_matrix
from index.errors import BuildFailed
from index.errors import BuildInProgress
from index.errors import DocumentsMissing
from index.ingest import Ingested
from index.ingest import ingest_file
from index.loaders import format_of
from index.scan import FileEntry
from index.scan import scan_documents
from index.settings import BuildSettings
from index.store import FORMAT_VERSION
from index.store import create_schema
from index.store import pack
from index.store import term_rows
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
def build_lock(index_path: Path) -> Iterator[int]:
    """Hold an exclusive lock so two builds never write the same index at once."""
    lock_path = index_path.with_name(index_path.name + ".lock")
    try:
        handle = open(lock_path, "a+")
    except OSError as exc:
        raise BuildFailed(
            f"Cannot create {lock_path} ({exc.strerror}); make its folder writable or pass --index."
        ) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildInProgress(f"Another build is writing {index_path}; wait for it to finish.") from None
        yield handle.fileno()


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
    documents_dir: Path,
    index_path: Path,
    settings: BuildSettings | None = None,
    *,
    full: bool = False,
    progress: bool = False,
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
        raise DocumentsMissing(f"Documents folder {documents_dir} does not exist; create it or pass --documents DIR.")
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildFailed(f"Cannot create {index_path.parent} ({exc.strerror}); pass a writable --index.") from exc
    with build_lock(index_path) as lock_fd:
        _remove_stale_temp_files(index_path)
        tmp = index_path.with_name(f"{index_path.name}.tmp-{os.getpid()}")
        try:
            summary = _build(documents_dir, index_path, tmp, settings, full, progress, lock_fd)
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
    documents_dir: Path,
    index_path: Path,
    tmp: Path,
    settings: BuildSettings,
    full: bool,
    progress: bool,
    lock_fd: int = -1,
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
        old_docs = {
            r[1]: dict(zip(cols, r, strict=True)) for r in old.execute(f"select {', '.join(cols)} from documents")
        }
        vocabulary = dict(old.execute("select term, id from terms"))
        old.close()
    db = sqlite_utils.Database(tmp, recreate=True)
    db.execute("pragma journal_mode = off")
    db.execute("pragma synchronous = off")
    create_schema(db)
    if old_docs:
        db.execute("attach database ? as old", [f"file:{index_path}?mode=ro"])
    entries = scan_documents(documents_dir)
    plans = [_plan(entry, old_docs.get(entry.relpath)) for entry in entries]
    writer = _Writer(db, vocabulary, summary)
    to_ingest = [entry for entry, action in plans if action == "ingest"]
    results = _ingest_all(to_ingest, settings, lock_fd)
    for entry, action in _progress(plans, progress):
        if action == "skip":
            writer.skipped(entry)
        elif action == "copy":
            writer.copy(entry, old_docs[entry.relpath])
        else:
            writer.add(entry, next(results), old_docs.get(entry.relpath))
    writer.flush()
    summary.removed = len(set(old_docs) - {e.relpath for e in entries})
    if old_docs:
        db.conn.commit()
        db.execute("detach database old")
    _write_terms(db, vocabulary, writer.doc_terms, settings)
    summary.documents = summary.added + summary.changed + summary.unchanged
    summary.chunks = writer.next_idx
    summary.terms = int(db.execute("select count(*) from terms where df > 0").fetchone()[0])
    summary.generation = int(old_meta.get("generation", 0)) + 1
    summary.seconds = round(time.perf_counter() - started, 3)
    write_meta(
        db,
        {
            "format_version": FORMAT_VERSION,
            "generation": summary.generation,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "tokenization": settings.tokenization_key(),
            "bm25": {"k1": settings.k1, "b": settings.b, "epsilon": settings.epsilon},
            "documents": summary.documents,
            "build_seconds": summary.seconds,
        },
    )
    db.conn.commit()
    db.conn.close()
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    return summary


def _plan(entry: FileEntry, previous: dict | None) -> tuple[FileEntry, str]:
    """Decide what to do with a file: "skip" it, "copy" its old rows, or "ingest" it anew.

    A file whose size and mtime match the old index is copied without being read;
    one whose stat changed is hashed, and copied if its content did not.
    """
    if entry.skip_reason:
        return entry, "skip"
    if previous is None or previous["status"] == "skipped":
        return entry, "ingest"
    if previous["size"] == entry.size and previous["mtime_ns"] == entry.mtime_ns:
        return entry, "copy"
    if previous["status"] == "ok" and previous["sha256"]:
        try:
            if _sha256(entry.path) == previous["sha256"]:
                return entry, "copy"
        except OSError:
            pass
    return entry, "ingest"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


PARALLEL_MIN_FILES = 64


def _worker_init(lock_fd: int) -> None:
    """Detach a forked worker from the build's lock and make it die with the build.

    A worker that kept a copy of the lock's descriptor, or outlived a killed build,
    would block every later build with "Another build is writing".
    """
    if lock_fd >= 0:
        with contextlib.suppress(OSError):
            os.close(lock_fd)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the build died before prctl took effect
        os._exit(1)


def _ingest_all(entries: list[FileEntry], settings: BuildSettings, lock_fd: int = -1) -> Iterator[Ingested]:
    """Ingest files in order, across all cores when there are enough of them to pay off.

    If the worker pool breaks (a worker killed, a platform without fork), the rest
    of the files are ingested in this process: slower, never a failed build.
    """
    workers = min(os.cpu_count() or 1, 8)
    if len(entries) < PARALLEL_MIN_FILES or workers < 2:
        return (ingest_file(e.path, e.relpath, settings) for e in entries)
    # fork is cheapest, but forking a process that runs other threads (a web server
    # rebuilding through the API) can copy a held lock; forkserver is safe there.
    method = "fork" if threading.active_count() == 1 else "forkserver"
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_worker_init,
        initargs=(lock_fd if method == "fork" else -1,),
    )

    def ordered() -> Iterator[Ingested]:
        done = 0
        try:
            with pool:
                for result in pool.map(
                    ingest_file,
                    [e.path for e in entries],
                    [e.relpath for e in entries],
                    itertools.repeat(settings),
                    chunksize=16,
                ):
                    done += 1
                    yield result
        except BrokenProcessPool:
            for entry in entries[done:]:
                yield ingest_file(entry.path, entry.relpath, settings)

    return ordered()


def _progress(plans: list, enabled: bool):
    if not enabled:
        return plans
    from tqdm import tqdm

    return tqdm(plans, unit="file", desc="Indexing", leave=False)


class _Writer:
    """Write documents, chunks and term counts into the new file, in batches, in order.

    Chunks are numbered (``idx``, their column in the BM25 matrix) in the order the
    documents come, whether copied from the old index or freshly ingested.
    """

    BATCH = 500

    def __init__(self, db: sqlite_utils.Database, vocabulary: dict[str, int], summary: BuildSummary) -> None:
        self.db, self.vocabulary, self.summary = db, vocabulary, summary
        self.next_idx = 0
        self.doc_terms: list[_DocTerms] = []
        self._documents: list[dict] = []
        self._chunks: list[dict] = []
        self._terms: list[dict] = []

    def _row(self, entry: FileEntry, **values) -> dict:
        row = {
            "id": document_id(entry.relpath),
            "path": entry.relpath,
            "title": entry.path.name,
            "format": format_of(entry.path) or entry.path.suffix.lstrip(".").lower(),
            "size": entry.size,
            "mtime_ns": entry.mtime_ns,
            "sha256": None,
            "status": "ok",
            "error": None,
            "chunk_count": 0,
            "text": "",
        }
        row.update(values)
        return row

    def skipped(self, entry: FileEntry) -> None:
        self._documents.append(self._row(entry, status="skipped", error=entry.skip_reason))
        self.summary.skipped += 1

    def copy(self, entry: FileEntry, previous: dict) -> None:
        """Reuse a document's rows from the attached old index, renumbering its chunks."""
        doc_id = previous["id"]
        db = self.db
        db.execute(
            "insert into main.documents select id, path, title, format, ?, ?, sha256, status, error, chunk_count, "
            "text from old.documents where id = ?",
            [entry.size, entry.mtime_ns, doc_id],
        )
        if previous["status"] != "ok":
            error = db.execute("select error from main.documents where id = ?", [doc_id]).fetchone()[0]
            self.summary.failed += 1
            self.summary.failures.append({"path": entry.relpath, "error": error})
            return
        db.execute(
            'insert into main.chunks (idx, id, document_id, ordinal, section, start, "end") '
            'select ? + ordinal, id, document_id, ordinal, section, start, "end" from old.chunks '
            "where document_id = ?",
            [self.next_idx, doc_id],
        )
        row = db.execute(
            "select lengths, counts, term_ids, tfs from old.document_terms where document_id = ?", [doc_id]
        ).fetchone()
        db.execute("insert into main.document_terms select * from old.document_terms where document_id = ?", [doc_id])
        terms = _DocTerms(*(np.frombuffer(blob, dtype="<i4") for blob in row))
        self.doc_terms.append(terms)
        self.next_idx += len(terms.lengths)
        self.summary.unchanged += 1

    def add(self, entry: FileEntry, result: Ingested, previous: dict | None) -> None:
        """Write a freshly ingested document (or record its failure)."""
        if result.error is not None:
            self._documents.append(self._row(entry, sha256=result.sha256, status="failed", error=result.error))
            self.summary.failed += 1
            self.summary.failures.append({"path": entry.relpath, "error": result.error})
            return
        assert result.chunks is not None and result.terms is not None
        doc_id = document_id(entry.relpath)
        self._documents.append(
            self._row(
                entry,
                sha256=result.sha256,
                title=result.title,
                format=result.format,
                chunk_count=len(result.chunks),
                text=result.text,
            )
        )
        base = self.next_idx
        self._chunks.extend(
            {
                "idx": base + c.ordinal,
                "id": f"{doc_id}-{c.ordinal}",
                "document_id": doc_id,
                "ordinal": c.ordinal,
                "section": c.section,
                "start": c.start,
                "end": c.end,
            }
            for c in result.chunks
        )
        vocabulary = self.vocabulary
        local_ids = np.array([vocabulary.setdefault(t, len(vocabulary)) for t in result.terms], dtype=np.int32)
        terms = _DocTerms(
            result.lengths,
            result.counts,
            local_ids[result.term_index] if len(local_ids) else np.zeros(0, np.int32),
            result.tfs,
        )
        self._terms.append(
            {
                "document_id": doc_id,
                "lengths": pack(terms.lengths, "<i4"),
                "counts": pack(terms.counts, "<i4"),
                "term_ids": pack(terms.term_ids, "<i4"),
                "tfs": pack(terms.tfs, "<i4"),
            }
        )
        self.doc_terms.append(terms)
        self.next_idx += len(result.chunks)
        if previous:
            self.summary.changed += 1
        else:
            self.summary.added += 1
        if len(self._documents) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        """Insert the buffered rows."""
        for table, rows in (("documents", self._documents), ("chunks", self._chunks), ("document_terms", self._terms)):
            if rows:
                self.db[table].insert_all(rows, batch_size=1000)
                rows.clear()


def _write_terms(
    db: sqlite_utils.Database, vocabulary: dict[str, int], doc_terms: list[_DocTerms], settings: BuildSettings
) -> None:
    """Compute BM25 impacts for the whole corpus and store each term's postings."""
    if doc_terms:
        lengths = np.concatenate([d.lengths for d in doc_terms])
        counts = np.concatenate([d.counts for d in doc_terms])
        term_ids = np.concatenate([d.term_ids for d in doc_terms])
        tfs = np.concatenate([d.tfs for d in doc_terms])
    else:
        lengths = counts = term_ids = tfs = np.zeros(0, np.int32)
    posting_chunk = np.repeat(np.arange(len(lengths), dtype=np.int32), counts)
    matrix = build_matrix(
        term_ids, tfs, posting_chunk, lengths, len(vocabulary), Bm25Params(settings.k1, settings.b, settings.epsilon)
    )
    db["terms"].insert_all(term_rows(vocabulary, matrix), batch_size=2000)
    write_meta(
        db,
        {
            "chunks": matrix.stats.n_chunks,
            "avgdl": matrix.stats.avgdl,
            "average_idf": matrix.stats.average_idf,
            "vocabulary": len(vocabulary),
        },
    )
