"""Read, parse, chunk and tokenize one file: the part of a build that runs in parallel.

Everything here is a pure function of the file's bytes and the build settings, so
worker processes can run it and hand back plain data (no database, no vocabulary).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import multiprocessing
import os
import signal
import threading
import uuid
from collections import Counter
from collections import deque
from collections.abc import Generator
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import cast

import numpy as np

from index.analysis import Analyzer
from index.analysis import TermNumbering
from index.chunking import Chunk
from index.chunking import chunk_document
from index.errors import UnreadableDocument
from index.loaders import format_of
from index.loaders import load
from index.loaders import read_file_stat
from index.scan import NOT_STATED
from index.scan import FileEntry
from index.settings import BuildSettings
from index.store import DOCUMENT_COLUMNS
from index.store import text_pages

if TYPE_CHECKING:
    from index.counting import ChunkCounter


@dataclass
class Ingested:
    """One parsed document and its chunks' term counts, or the reason it failed.

    Terms are given as numbers of the ingesting process's ``TermNumbering``: posting
    ``i`` of the document is term number ``term_ids[i]`` with frequency ``tfs[i]``;
    chunk ``c`` owns ``counts[c]`` consecutive postings and ``lengths[c]`` tokens, the
    four arrays back to back in ``packed``.
    """

    relpath: str
    sha256: str | None = None
    error: str | None = None
    size: int = 0  # of the file as it was read (0 if it could not be)
    mtime_ns: int = 0
    title: str = ""
    format: str = ""
    text: str = ""
    chunks: list[Chunk] | None = None
    packed: np.ndarray | None = None  # lengths, counts, term_ids, tfs


@dataclass
class IngestedBatch:
    """Consecutive files ingested together, as the rows the build inserts and their term counts.

    A build's workers send one of these back per batch of files. The worker makes the
    rows, so the build's process (the busiest one of a large build) inserts each table's
    rows of a batch with one statement and maps and keeps its term counts with a few
    array operations, instead of running Python per file and per chunk.

    Pages and chunks are numbered from the batch's start, for the build to add where
    the batch starts: in the ``documents`` rows (``DOCUMENT_COLUMNS``' order) their
    ``first_page`` and ``first_chunk``, the ``pages`` as ``(page, UTF-8 text)`` and the
    ``chunks`` as ``(chunk, document id, ordinal, section, start, end)``. ``packed`` holds the
    lengths and counts of every chunk, then the term numbers and frequencies of every
    posting, in the worker's ``TermNumbering`` (named by ``numbering``); ``new_terms``
    are the terms that numbering met first in this batch, numbered on from the ones
    before, so the build learns every number in order.
    """

    numbering: str
    new_terms: list[str]
    documents: list[tuple]
    pages: list[tuple[int, bytes]]
    chunks: list[tuple[int, str, int, str | None, int, int]]
    packed: np.ndarray  # lengths, counts, term_ids, tfs
    failures: list[tuple[str, str]]  # (path, error) of the files that could not be indexed


def unpack_counts(packed: np.ndarray, chunks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The views ``(lengths, counts, term_ids, tfs)`` of ``[*lengths, *counts, *term_ids, *tfs]`` of *chunks*."""
    postings = (len(packed) - 2 * chunks) // 2
    p = packed
    return p[:chunks], p[chunks : 2 * chunks], p[2 * chunks : 2 * chunks + postings], p[2 * chunks + postings :]


def document_id(relpath: str) -> str:
    """A stable, URL-safe id for a document, derived from its path under documents/."""
    return hashlib.sha1(relpath.encode("utf-8")).hexdigest()[:16]


def document_row(entry: FileEntry, **values) -> tuple:
    """A ``documents`` row (``DOCUMENT_COLUMNS``' order) for a file that has no text in the index
    (skipped or failed): *values* over defaults (the file name as title, the suffix as format)."""
    path = entry.path
    row = {
        "id": document_id(entry.relpath),
        "path": entry.relpath,
        "title": path.name,
        "format": format_of(path) or path.suffix.lstrip(".").lower(),
        "size": max(entry.size, 0),  # 0 for a file the scan did not stat (NOT_STATED)
        "mtime_ns": max(entry.mtime_ns, 0),
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


_ANALYZERS: dict[str, Analyzer] = {}


def analyzer_for(language: str) -> Analyzer:
    """One analyzer per language and process, so its caches serve every file."""
    return _ANALYZERS.get(language) or _ANALYZERS.setdefault(language, Analyzer(language))


def ingest_file(
    path: Path | str,
    relpath: str,
    settings: BuildSettings,
    numbering: TermNumbering,
    counter: ChunkCounter | None = None,
) -> Ingested:
    """Read *path* and turn it into chunks and term counts; failures become ``error``.

    :param counter: chunks the text and counts the chunks' terms in compiled code
        (build workers), with the same result as the plain Python used without it
    """
    try:
        data, stat = read_file_stat(path, uncache=True)
    except OSError as exc:
        return Ingested(relpath, error=f"cannot be read ({exc.strerror})")
    sha = hashlib.sha256(data).hexdigest()
    size, mtime_ns = stat.st_size, stat.st_mtime_ns
    try:
        loaded = load(path, data)
    except UnreadableDocument as exc:
        return Ingested(relpath, sha, str(exc), size, mtime_ns)
    except RecursionError:
        return Ingested(relpath, sha, "too deeply nested to parse", size, mtime_ns)
    title_numbers = numbering.numbers(loaded.title) * settings.title_weight if settings.title_in_chunks else []
    if counter is not None:
        from index.compiled_chunking import compiled_chunks  # numba: loaded with the counter
        from index.counting import code_points

        points = code_points(loaded.text)
        chunks, bounds = compiled_chunks(
            loaded.text, points, loaded.blocks, settings.chunk_words, settings.chunk_overlap, settings.language
        )
        packed = counter.count(loaded.text, bounds, title_numbers, points)
    else:
        chunks = chunk_document(
            loaded.text, loaded.blocks, settings.chunk_words, settings.chunk_overlap, settings.language
        )
        packed = count_chunk_terms(numbering, loaded.text, [(c.start, c.end) for c in chunks], title_numbers)
    return Ingested(relpath, sha, None, size, mtime_ns, loaded.title, loaded.format, loaded.text, chunks, packed)


def ingest_batch(
    entries: list[FileEntry], settings: BuildSettings, numbering: TermNumbering, counter: ChunkCounter | None = None
) -> IngestedBatch:
    """Ingest consecutive files (``ingest_file``) and make them the rows of an ``IngestedBatch``."""
    known = len(numbering.terms)
    documents: list[tuple] = []
    pages: list[tuple[int, bytes]] = []
    chunks: list[tuple[int, str, int, str | None, int, int]] = []
    failures: list[tuple[str, str]] = []
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    read_ahead(entries)
    for entry in entries:
        result = ingest_file(entry.file, entry.relpath, settings, numbering, counter)
        # The stat of the file as read: the scan's, if it stat'ed the file, may be older.
        stat = {"size": result.size, "mtime_ns": result.mtime_ns} if result.sha256 else {}
        if result.error is not None:
            # Its first page and chunk are where its own would be, as for a copied failure.
            status = {"status": "failed", "error": result.error, "first_page": len(pages), "first_chunk": len(chunks)}
            documents.append(document_row(entry, sha256=result.sha256, **stat, **status))
            failures.append((entry.relpath, result.error))
            continue
        assert result.chunks is not None and result.packed is not None
        doc_id = document_id(entry.relpath)
        texts = text_pages(result.text)
        first = len(chunks)
        documents.append(
            (doc_id, entry.relpath, result.title, result.format, result.size, result.mtime_ns, result.sha256)
            + ("ok", None, len(result.chunks), len(pages), len(texts), first)
        )
        pages.extend(enumerate((text.encode() for text in texts), len(pages)))
        chunks.extend((first + c.ordinal, doc_id, *c) for c in result.chunks)
        parts.append(unpack_counts(result.packed, len(result.chunks)))
    packed = np.concatenate([part[i] for i in range(4) for part in parts]) if parts else np.zeros(0, np.int32)
    return IngestedBatch(numbering.key, numbering.terms[known:], documents, pages, chunks, packed, failures)


#: Files up to this size are asked for ahead of reading (``read_ahead``); larger ones are
#: read sequentially anyway, where the kernel reads ahead by itself.
READ_AHEAD_MAX_BYTES = 1 << 20


def read_ahead(entries: list[FileEntry]) -> None:
    """Ask the kernel to start reading a batch's small files now, all at once.

    A file not in the page cache blocks its reader for a disk read (a quarter of a
    millisecond here, as long as ingesting a small file takes): read one after the
    other, a large folder's files cost each worker that wait every time. Asked for
    together, the reads go on while the first files are ingested (a worker-like loop
    over uncached files: 522 -> 368 us a file). A file that cannot be opened is left to
    ``ingest_file`` to report.
    """
    if not hasattr(os, "posix_fadvise"):  # not on every platform (macOS)
        return
    for entry in entries:
        if entry.size > READ_AHEAD_MAX_BYTES:
            continue
        try:
            fd = os.open(entry.file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            with contextlib.suppress(OSError):
                if entry.size == NOT_STATED and os.fstat(fd).st_size > READ_AHEAD_MAX_BYTES:
                    continue
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)


def count_chunk_terms(
    numbering: TermNumbering, text: str, spans: list[tuple[int, int]], title: list[int]
) -> np.ndarray:
    """``[*lengths, *counts, *term_ids, *tfs]`` of the chunks ``text[start:end]``, each with *title*'s terms.

    Terms are numbered in the order they appear and counted with a ``Counter`` per
    chunk, so each chunk lists its terms in first-seen order. ``ChunkCounter`` gives
    the same array without Python per word.
    """
    lengths: list[int] = []
    counts: list[int] = []
    term_ids: list[int] = []
    tfs: list[int] = []
    numbers = numbering.numbers
    for start, end in spans:
        # This loop runs for every chunk of a build: counting stays in C (Counter).
        terms = numbers(text[start:end]) + title
        bag = Counter(terms)
        lengths.append(len(terms))
        counts.append(len(bag))
        term_ids.extend(bag)
        tfs.extend(bag.values())
    return np.array([*lengths, *counts, *term_ids, *tfs], np.int32)


def number_terms(numbers: dict[str, int], terms: Iterable[str]) -> list[int]:
    """The number of each term in *numbers*, giving new terms the next free numbers.

    Runs for every document copied into a build and every batch of new terms: one
    C-level lookup pass finds the known terms and only the misses take the slow path.
    """
    terms = list(terms)
    ids: list[int | None] = list(map(numbers.get, terms))
    if None in ids:
        i = ids.index(None)
        while True:
            ids[i] = numbers.setdefault(terms[i], len(numbers))
            try:
                i = ids.index(None, i + 1)
            except ValueError:
                break
    return cast(list[int], ids)  # every None was filled in


def new_numbering(language: str) -> TermNumbering:
    """A term numbering for one process in one build, under a name no other one has."""
    return TermNumbering(analyzer_for(language), f"{os.getpid()}-{uuid.uuid4().hex}")


PARALLEL_MIN_FILES = 64


def _worker_init(lock_fd: int, settings: BuildSettings | None = None) -> None:
    """Detach a forked worker from the build's lock, make it die with the build, and load
    the compiled code it will use.

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
    if settings is not None:
        _warm_up(settings)


def _warm_up(settings: BuildSettings) -> None:
    """Load numba and the compiled chunker's and counter's code (from numba's cache, for ASCII
    and for wider text), as a worker of a large build starts: about a second."""
    from index.compiled_chunking import compiled_chunks
    from index.counting import ChunkCounter
    from index.counting import code_points
    from index.loaders import Block

    counter = ChunkCounter(TermNumbering(analyzer_for(settings.language), "warm-up"))
    for text in ("Warm up.", "Warm up, caf\u00e9."):
        points = code_points(text)
        blocks = [Block(0, len(text), None)]
        _, bounds = compiled_chunks(
            text, points, blocks, settings.chunk_words, settings.chunk_overlap, settings.language
        )
        counter.count(text, bounds, [], points)


def batch_size(files: int) -> int:
    """Files per batch when *files* are to be ingested: ``BATCH_FILES``, or fewer for small
    folders, so that every worker gets some."""
    return max(1, min(BATCH_FILES, files // (WINDOW_BATCHES_PER_WORKER * _workers())))


def _workers() -> int:
    return min(os.cpu_count() or 1, 8)


@dataclass
class Workers:
    """A started pool of ingesting processes, for one build."""

    pool: ProcessPoolExecutor
    build: str  # this build's key: each worker's numbering is the build's and its own
    compiled: bool  # chunk and count in compiled code


def start_workers(files: int, settings: BuildSettings, lock_fd: int = -1) -> Workers | None:
    """Start the processes that will ingest *files* files, or return None when this process
    should ingest them itself (too few files to pay for the processes, or one core).

    The workers start at once and a large build's load their compiled code as they
    start, so a build that starts them before it stats its files has them ready when
    its first batch comes.
    """
    workers = _workers()
    if files < PARALLEL_MIN_FILES or workers < 2:
        return None
    # fork is cheapest, but forking a process that runs other threads (a web server
    # rebuilding through the API) can copy a held lock; forkserver is safe there.
    method = "fork" if threading.active_count() == 1 else "forkserver"
    compiled = files >= COMPILED_MIN_FILES
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_worker_init,
        initargs=(lock_fd if method == "fork" else -1, settings if compiled else None),
    )
    pool.submit(int)  # with fork, the first task starts every worker
    return Workers(pool, uuid.uuid4().hex, compiled)


def ingest_all(
    batches: list[list[FileEntry]], settings: BuildSettings, lock_fd: int = -1, workers: Workers | None = None
) -> Generator[IngestedBatch, None, None]:
    """Ingest batches of files in order, across all cores when there are enough files to pay off.

    Each process numbers terms its own way (``IngestedBatch.numbering``); the build maps
    those numbers to its vocabulary. If the worker pool breaks (a worker killed, a
    platform without fork), the rest of the batches are ingested in this process:
    slower, never a failed build.

    :param workers: already started (``start_workers``); they are shut down when the
        batches are done or the generator is closed
    """
    if workers is not None and not batches:
        workers.pool.shutdown()
        workers = None
    elif workers is None:
        workers = start_workers(sum(map(len, batches)), settings, lock_fd)
    if workers is None:
        numbering = new_numbering(settings.language)
        return (ingest_batch(batch, settings, numbering) for batch in batches)
    pool, build, compiled = workers.pool, workers.build, workers.compiled
    window = WINDOW_BATCHES_PER_WORKER * _workers()

    def ordered() -> Generator[IngestedBatch, None, None]:
        done = 0
        try:
            with pool:
                # A bounded window of batches in flight: results wait in memory only
                # while the writer catches up, never for the whole folder.
                pending: deque[Future] = deque()
                queue = iter(batches)
                for batch in itertools.islice(queue, window):
                    pending.append(pool.submit(_ingest_batch, batch, settings, build, compiled))
                while pending:
                    result = pending.popleft().result()
                    following = next(queue, None)
                    if following is not None:
                        pending.append(pool.submit(_ingest_batch, following, settings, build, compiled))
                    done += 1
                    yield result
        except BrokenProcessPool:
            numbering = new_numbering(settings.language)
            for batch in batches[done:]:
                yield ingest_batch(batch, settings, numbering)

    return ordered()


#: Files to ingest from which workers count terms in compiled code (``ChunkCounter``):
#: it saves about 0.2 ms a file but costs each worker a second or two to load (and,
#: the first time after an install, some seconds to compile), so it pays on large
#: folders only.
COMPILED_MIN_FILES = 10_000
#: Files a worker ingests per task, at most: each task and result costs the build's
#: process some pickling, pipe reads and thread wake-ups (64 files a task instead of
#: 16 took a third of that work off a large build's busiest process).
BATCH_FILES = 64
#: Tasks queued per worker: enough to keep workers busy, few enough to bound memory.
WINDOW_BATCHES_PER_WORKER = 4

#: This worker's numbering and compiled counter (if used), by build: a worker takes its
#: tasks in the order they were queued, so the build receives its new terms in the
#: order they were numbered.
_WORKER_NUMBERING: dict[str, tuple[TermNumbering, ChunkCounter | None]] = {}


def _ingest_batch(entries: list[FileEntry], settings: BuildSettings, build: str, compiled: bool) -> IngestedBatch:
    key = f"{build}-{os.getpid()}"  # a forked worker must not continue its parent's numbering
    found = _WORKER_NUMBERING.get(key)
    if found is None:
        _WORKER_NUMBERING.clear()
        numbering = TermNumbering(analyzer_for(settings.language), key)
        counter = None
        if compiled:
            from index.counting import ChunkCounter  # numba: loaded by the workers of large builds only

            counter = ChunkCounter(numbering)
        found = _WORKER_NUMBERING[key] = numbering, counter
    numbering, counter = found
    return ingest_batch(entries, settings, numbering, counter)
