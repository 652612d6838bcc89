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
from collections import Counter
from collections import deque
from collections.abc import Iterable
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.analysis import Analyzer
from index.chunking import Chunk
from index.chunking import chunk_document
from index.errors import UnreadableDocument
from index.loaders import load
from index.scan import FileEntry
from index.settings import BuildSettings


@dataclass
class Ingested:
    """A parsed document and its chunks' term counts, or the reason it failed.

    Term counts are given against the document's own term list (``terms``): posting
    ``i`` of the document is term ``terms[term_index[i]]`` with frequency ``tfs[i]``;
    chunk ``c`` owns ``counts[c]`` consecutive postings and ``lengths[c]`` tokens.
    """

    relpath: str
    sha256: str | None = None
    error: str | None = None
    title: str = ""
    format: str = ""
    text: str = ""
    chunks: list[Chunk] | None = None
    terms: list[str] | None = None
    term_index: np.ndarray | None = None
    tfs: np.ndarray | None = None
    counts: np.ndarray | None = None
    lengths: np.ndarray | None = None


_ANALYZERS: dict[str, Analyzer] = {}


def ingest_file(path: Path, relpath: str, settings: BuildSettings) -> Ingested:
    """Read *path* and turn it into chunks and term counts; failures become ``error``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Ingested(relpath, error=f"cannot be read ({exc.strerror})")
    sha = hashlib.sha256(data).hexdigest()
    try:
        loaded = load(Path(path), data)
    except UnreadableDocument as exc:
        return Ingested(relpath, sha, error=str(exc))
    except RecursionError:
        return Ingested(relpath, sha, error="too deeply nested to parse")
    analyzer = _ANALYZERS.get(settings.language) or _ANALYZERS.setdefault(
        settings.language, Analyzer(settings.language)
    )
    chunks = chunk_document(loaded.text, loaded.blocks, settings.chunk_words, settings.chunk_overlap, settings.language)
    title_terms = analyzer.terms(loaded.title) if settings.title_in_chunks else []
    local: dict[str, int] = {}
    term_index: list[int] = []
    tfs: list[int] = []
    counts: list[int] = []
    lengths: list[int] = []
    text = loaded.text
    for chunk in chunks:
        # This loop runs for every chunk of a build: counting stays in C (Counter).
        terms = analyzer.terms(text[chunk.start : chunk.end]) + title_terms
        bag = Counter(terms)
        lengths.append(len(terms))
        counts.append(len(bag))
        term_index.extend(number_terms(local, bag))
        tfs.extend(bag.values())
    return Ingested(
        relpath,
        sha,
        None,
        loaded.title,
        loaded.format,
        loaded.text,
        chunks,
        list(local),
        np.array(term_index, np.int32),
        np.array(tfs, np.int32),
        np.array(counts, np.int32),
        np.array(lengths, np.int32),
    )


def number_terms(numbers: dict[str, int], terms: Iterable[str]) -> list[int]:
    """The number of each term in *numbers*, giving new terms the next free numbers.

    Runs for every chunk and every document of a build: most terms are known, so one
    C-level lookup pass finds them and only the misses take the slower path.
    """
    terms = list(terms)
    ids = list(map(numbers.get, terms))
    if None in ids:
        ids = [numbers.setdefault(t, len(numbers)) if i is None else i for t, i in zip(terms, ids, strict=True)]
    return ids


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


def ingest_all(entries: list[FileEntry], settings: BuildSettings, lock_fd: int = -1) -> Iterator[Ingested]:
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

    batches = [entries[i : i + BATCH_FILES] for i in range(0, len(entries), BATCH_FILES)]

    def ordered() -> Iterator[Ingested]:
        done = 0
        try:
            with pool:
                # A bounded window of batches in flight: results wait in memory only
                # while the writer catches up, never for the whole folder.
                pending: deque[Future] = deque()
                queue = iter(batches)
                for batch in itertools.islice(queue, WINDOW_BATCHES_PER_WORKER * workers):
                    pending.append(pool.submit(_ingest_batch, batch, settings))
                while pending:
                    results = pending.popleft().result()
                    batch = next(queue, None)
                    if batch is not None:
                        pending.append(pool.submit(_ingest_batch, batch, settings))
                    for result in results:
                        done += 1
                        yield result
        except BrokenProcessPool:
            for entry in entries[done:]:
                yield ingest_file(entry.path, entry.relpath, settings)

    return ordered()


#: Files a worker ingests per task (fewer round trips than one file at a time).
BATCH_FILES = 16
#: Tasks queued per worker: enough to keep workers busy, few enough to bound memory.
WINDOW_BATCHES_PER_WORKER = 4


def _ingest_batch(entries: list[FileEntry], settings: BuildSettings) -> list[Ingested]:
    return [ingest_file(e.path, e.relpath, settings) for e in entries]
