"""The postings file beside an index: the corpus's term counts, then every term's postings.

Layout, little-endian, for *n* postings and *c* chunks (``layout``):

- ``[0, 8n)``: each posting's term id and frequency (int32 pairs), chunk after chunk,
  as the chunks' words were counted: what BM25 is computed from, kept so that the
  next build reuses an unchanged file's counts without reading it again;
- ``[8n, 8n + 4c)``: each chunk's length in terms; ``[8n + 4c, 8n + 8c)``: how many
  postings each chunk has (int32);
- then the postings, term after term: their chunk ids (int32) and, 8-byte aligned,
  their BM25 impacts (float64).

One file, written by a build while it ingests: the counts go straight into the file's
pages as the documents come (``PostingsWriter.room``), so they are written once, not
held in memory and then copied into the database too; the postings follow when the
counts are complete. A reader maps the file (``MappedPostings``): a query's lists are
views into the page cache, and a server's worker processes share one copy. Each build
writes a new file and renames its index into place after it, so an index and its
postings file stay a pair for readers that still have the old ones open.
"""

from __future__ import annotations

import errno
import mmap
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np


class Layout(NamedTuple):
    """Where each array of a postings file starts (bytes), and the file's size."""

    lengths: int
    counts: int
    ids: int
    impacts: int
    size: int


def layout(n_postings: int, n_chunks: int) -> Layout:
    """The layout of a postings file with *n_postings* postings over *n_chunks* chunks."""
    lengths = 8 * n_postings
    counts = lengths + 4 * n_chunks
    ids = counts + 4 * n_chunks
    impacts = (ids + 4 * n_postings + 7) // 8 * 8
    return Layout(lengths, counts, ids, impacts, impacts + 8 * n_postings)


class CountArrays(NamedTuple):
    """The corpus's term counts: ``pairs`` (term id, frequency, ...) chunk after chunk, and
    each chunk's length and number of postings."""

    pairs: np.ndarray
    lengths: np.ndarray
    counts: np.ndarray


class PostingArrays(NamedTuple):
    """A build's view of its new postings file: the counts to compute from (term ids and
    frequencies, strided views of the pairs) and the arrays to write the postings into."""

    term_ids: np.ndarray
    tfs: np.ndarray
    chunk_ids: np.ndarray
    impacts: np.ndarray


class PostingsWriter:
    """A build's new postings file: room for the term counts first, the postings at the end.

    ``room`` is the start of the file mapped writable, for *expected_postings* pairs,
    and the space is reserved on disk first, so that a full disk is an ``OSError``
    here and not a crash when a page is written. A build that appends more pairs
    than that carries on in memory (``finish`` copies them in).
    """

    def __init__(self, path: Path, expected_postings: int) -> None:
        self.path = path
        self._handle = open(path, "w+b")
        try:
            size = max(8 * expected_postings, mmap.PAGESIZE)
            _reserve(self._handle.fileno(), size)
            self._maps = [mmap.mmap(self._handle.fileno(), size)]
        except BaseException:
            self._handle.close()
            raise
        self.room: np.ndarray = np.frombuffer(self._maps[0], "<i4")

    def finish(self, counts: CountArrays) -> PostingArrays:
        """Write the chunks' lengths and counts after the pairs (and the pairs, if they
        outgrew the room), size the file for the postings, and map them to be filled."""
        n_postings, n_chunks = len(counts.pairs) // 2, len(counts.lengths)
        where = layout(n_postings, n_chunks)
        in_place = counts.pairs.base is self.room  # appended into the mapped room: already in the file
        fd = self._handle.fileno()
        if where.size < os.fstat(fd).st_size:
            os.ftruncate(fd, where.size)  # the room's unused end (the old mapping is not read past the pairs)
        else:
            _reserve(fd, where.size)
        if where.size == 0:
            empty = np.zeros(0, "<i4")
            return PostingArrays(empty, empty, empty, np.zeros(0))
        mapped = mmap.mmap(fd, where.size)
        self._maps.append(mapped)
        pairs = np.frombuffer(mapped, "<i4", 2 * n_postings)
        if not in_place:
            pairs[:] = counts.pairs
        np.frombuffer(mapped, "<i4", n_chunks, where.lengths)[:] = counts.lengths
        np.frombuffer(mapped, "<i4", n_chunks, where.counts)[:] = counts.counts
        return PostingArrays(
            pairs[0::2],
            pairs[1::2],
            np.frombuffer(mapped, "<i4", n_postings, where.ids),
            np.frombuffer(mapped, "<f8", n_postings, where.impacts),
        )

    def close(self) -> None:
        """Write the file's pages out (fsync) and close it; the mappings go with the last view of them."""
        try:
            self._maps[-1].flush()
            os.fsync(self._handle.fileno())
        finally:
            self._handle.close()

    def __enter__(self) -> PostingsWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Synced and closed when the block ends; only closed on an error (the build removes the file)."""
        if exc_type is None:
            self.close()
        else:
            self._handle.close()


def _reserve(fd: int, size: int) -> None:
    """Give the file *size* bytes of disk space now, or at least its length where the file
    system cannot reserve space (its pages then find a full disk as they are written)."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        os.ftruncate(fd, size)


class MappedPostings:
    """An index's postings file, mapped read-only: the postings and the term counts.

    :raises ValueError: the file's size is not the one its index describes
    :raises OSError: the file cannot be opened
    """

    def __init__(self, path: Path, n_postings: int, n_chunks: int) -> None:
        where = layout(n_postings, n_chunks)
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size != where.size:
                raise ValueError(f"{path.name} holds {size} bytes, not {where.size}")
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self.ids = np.frombuffer(self._map, "<i4", n_postings, where.ids)
        self.impacts = np.frombuffer(self._map, "<f8", n_postings, where.impacts)
        self.counts = CountArrays(
            np.frombuffer(self._map, "<i4", 2 * n_postings),
            np.frombuffer(self._map, "<i4", n_chunks, where.lengths),
            np.frombuffer(self._map, "<i4", n_chunks, where.counts),
        )
