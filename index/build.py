"""Build the index file from a documents folder: incremental, and atomic on disk.

A build writes a complete new file beside the old one (and a new postings file,
index/store.py) and renames it into place, so a reader sees the old index or the
new one, never a mix, and a build killed at any moment leaves the old files
untouched (its temporary files are removed by the next build). Files whose size
and mtime (or, failing that, content hash) are unchanged are copied from the old
index with their stored term counts: they are not re-read or re-tokenized. BM25
impacts are recomputed for every build, because the idf of every term and the
average chunk length change with any file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import sqlite_utils

from index.errors import BuildFailed
from index.errors import BuildInProgress
from index.errors import DocumentsMissing
from index.ingest import Workers
from index.ingest import batch_size
from index.ingest import ingest_all
from index.ingest import start_workers
from index.postings_file import PostingsWriter
from index.scan import NOT_STATED
from index.scan import FileEntry
from index.scan import scan_documents
from index.settings import BuildSettings
from index.store import FORMAT_VERSION
from index.store import POSTINGS_INFIX
from index.store import REBUILD_HINT
from index.store import create_schema
from index.store import new_postings_path
from index.store import postings_file_of
from index.store import write_meta
from index.summary import BuildSummary
from index.writer import CorpusCounts
from index.writer import IndexWriter
from index.writer import StoredCounts
from index.writer import write_terms


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


def _remove_stale_files(index_path: Path) -> None:
    """Delete leftovers of killed builds and postings files no index uses (we hold the lock).

    A server still answering from an older generation keeps its postings mapped:
    on POSIX an unlinked file lives on until its last mapping goes.
    """
    in_use = postings_file_of(index_path)
    stale = [
        *index_path.parent.glob(index_path.name + ".tmp-*"),
        *index_path.parent.glob(index_path.name + POSTINGS_INFIX + "*"),
    ]
    for path in stale:
        if path.name != in_use:
            with contextlib.suppress(OSError):
                path.unlink()


def _open_previous(index_path: Path, settings: BuildSettings) -> tuple[sqlite3.Connection | None, dict]:
    """Open the current index to reuse its work, or return (None, {}) when it can't be reused."""
    if not index_path.exists():
        return None, {}
    try:
        conn = sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)
        meta = {k: json.loads(v) for k, v in conn.execute("select key, value from meta")}
    except (sqlite3.DatabaseError, ValueError):
        return None, {}
    if _not_reusable(meta, settings):
        conn.close()
        return None, meta
    return conn, meta


def _not_reusable(meta: dict, settings: BuildSettings) -> str | None:
    """Why a build with *settings* cannot reuse the work of the index whose *meta* this is
    (empty: it could not be read), or None when it can."""
    if not meta:
        return "the previous index could not be read"
    stored, wanted = meta.get("tokenization"), settings.tokenization_key()
    if meta.get("format_version") == FORMAT_VERSION and stored == wanted:
        return None
    stored = stored if isinstance(stored, dict) else {}
    if (
        meta.get("format_version") != FORMAT_VERSION
        or set(stored) != set(wanted)
        or any(stored[version] != wanted[version] for version in ("analyzer", "loaders"))
    ):
        return "the index was built by another version of docqa"
    return "these settings changed since the last build: " + ", ".join(
        name for name in wanted if stored[name] != wanted[name]
    )


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
        _remove_stale_files(index_path)
        tmp = index_path.with_name(f"{index_path.name}.tmp-{os.getpid()}")
        postings = new_postings_path(index_path)
        replaced = False
        try:
            summary = _build(documents_dir, index_path, tmp, postings, settings, full, progress, lock_fd)
            os.replace(tmp, index_path)
            replaced = True  # from here the new postings file is the one in use
            _fsync_dir(index_path.parent)
            _remove_stale_files(index_path)  # the previous generation's postings
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
            if not replaced:
                with contextlib.suppress(OSError):
                    postings.unlink()


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
    postings: Path,
    settings: BuildSettings,
    full: bool,
    progress: bool,
    lock_fd: int = -1,
) -> BuildSummary:
    started = time.perf_counter()
    summary = BuildSummary(index=str(index_path), full=full)
    old, old_meta = _open_previous(index_path, settings)
    if old is None and not full and index_path.exists():
        summary.reread = _not_reusable(old_meta, settings)
    if full and old is not None:
        old.close()
        old = None
    old_docs: dict[str, dict] = {}
    vocabulary: dict[str, int] = {}
    if old is not None:
        cols = (
            "id",
            "path",
            "size",
            "mtime_ns",
            "sha256",
            "status",
            "chunk_count",
            "first_page",
            "pages",
            "first_chunk",
        )
        old_docs = {
            r[1]: dict(zip(cols, r, strict=True)) for r in old.execute(f"select {', '.join(cols)} from documents")
        }
        vocabulary = dict(old.execute("select term, id from terms"))
        old.close()
    db = sqlite_utils.Database(tmp, recreate=True)
    db.execute("pragma page_size = 16384")  # a third smaller file than 4 KiB pages, no slower
    db.execute("pragma journal_mode = off")
    db.execute("pragma synchronous = off")
    create_schema(db)
    if old_docs:
        db.execute("attach database ? as old", [f"file:{index_path}?mode=ro"])
    workers: Workers | None = None

    def start_early(files: int) -> None:
        nonlocal workers
        if not old_docs:  # every file will be read: the workers start while the files are stat'ed
            workers = start_workers(files, settings, lock_fd)

    try:
        # A build that reads every file leaves their stat to its readers (ingest_file).
        entries = scan_documents(documents_dir, start_early, stat_readable=bool(old_docs))
        steps = _steps([_plan(entry, old_docs.get(entry.relpath)) for entry in entries])
    except BaseException:
        if workers is not None:
            workers.pool.shutdown(cancel_futures=True)
        raise
    to_ingest = [batch for action, batch in steps if action == "ingest"]
    expected = _expected_postings(to_ingest, old_meta if old_docs else {})
    with PostingsWriter(postings, expected) as postings_out:
        counts = CorpusCounts(postings_out.room, expected)
        previous = _previous_counts(index_path, old_meta, len(vocabulary)) if old_docs else None
        writer = IndexWriter(db, vocabulary, summary, counts, previous)
        # Closed once the batches are written, the workers exit then, not when the build
        # returns: their memory is free again before the build's largest step (write_terms).
        with (
            contextlib.closing(ingest_all(to_ingest, settings, lock_fd, workers)) as results,
            _progress(len(entries), progress) as bar,
        ):
            for action, files in steps:
                if action == "skip":
                    writer.skipped(files[0])
                elif action == "copy":
                    writer.copy(files[0], old_docs[files[0].relpath])
                else:
                    replaced = {e.relpath for e in files if e.relpath in old_docs} if old_docs else ()
                    writer.add(next(results), replaced)
                bar.update(len(files))
        writer.finish()
        summary.removed = len(set(old_docs) - {e.relpath for e in entries})
        if old_docs:
            db.conn.commit()
            db.execute("detach database old")
        write_terms(db, postings_out, vocabulary, counts, settings)
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


#: Bytes of a file to reserve one posting for: English text has about one word per six
#: bytes, and a chunk lists each of its words once; the room is only used as it fills.
BYTES_PER_POSTING = 4


def _previous_counts(index_path: Path, meta: dict, n_terms: int) -> StoredCounts:
    """The previous index's term counts, from the postings file its *meta* names."""
    name = meta.get("postings_file")
    if not isinstance(name, str):
        raise BuildFailed(f"The previous index names no postings file; {REBUILD_HINT}.")
    return StoredCounts(index_path.with_name(name), int(meta.get("postings", 0)), int(meta.get("chunks", 0)), n_terms)


def _expected_postings(to_ingest: list[list[FileEntry]], previous_meta: dict) -> int:
    """About as many postings as the new index will have, or more: the previous index's
    (for the files it copies) and one per ``BYTES_PER_POSTING`` of each file to read.

    Files the scan did not stat count as the average of a sample of them, stat'ed here,
    with a margin; should the room still fall short, the counts past it grow in memory.
    """
    known = [entry.size for batch in to_ingest for entry in batch if entry.size != NOT_STATED]
    unknown = [entry.file for batch in to_ingest for entry in batch if entry.size == NOT_STATED]
    new_bytes = sum(known) + int(len(unknown) * ROOM_MARGIN * _average_size(unknown))
    return int(previous_meta.get("postings", 0)) + new_bytes // BYTES_PER_POSTING


#: How many of the files the scan did not stat are stat'ed to size the room for the counts,
#: and the room given over their average size (a sample's mean is a few percent off).
SIZE_SAMPLE = 2000
ROOM_MARGIN = 1.25


def _average_size(files: list[str]) -> float:
    """The mean size of an evenly spaced sample of *files* (0 when none can be stat'ed)."""
    step = max(1, len(files) // SIZE_SAMPLE)
    sizes = []
    for file in files[::step]:
        with contextlib.suppress(OSError):
            sizes.append(os.stat(file).st_size)
    return sum(sizes) / len(sizes) if sizes else 0.0


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


def _steps(plans: list[tuple[FileEntry, str]]) -> list[tuple[str, list[FileEntry]]]:
    """The build's steps in document order: ``("skip", [file])``, ``("copy", [file])``, or
    ``("ingest", batch)`` for each batch of consecutive files to ingest (``ingest.batch_size``)."""
    steps: list[tuple[str, list[FileEntry]]] = []
    size = batch_size(sum(1 for _, action in plans if action == "ingest"))
    for action, group in itertools.groupby(plans, key=lambda plan: plan[1]):
        files = [entry for entry, _ in group]
        if action == "ingest":
            steps.extend(("ingest", files[i : i + size]) for i in range(0, len(files), size))
        else:
            steps.extend((action, [entry]) for entry in files)
    return steps


class _NoProgress:
    """What ``_progress`` gives when no bar is wanted (a disabled tqdm still starts a thread)."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def _progress(files: int, enabled: bool) -> contextlib.AbstractContextManager:
    """A progress bar over *files* (for terminals), or nothing to show."""
    if not enabled:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(total=files, unit="file", desc="Indexing", leave=False)
