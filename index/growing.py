"""A numpy array appended to from Python, growing by doubling: for numbers learned one batch at a time."""

from __future__ import annotations

import numpy as np


class GrowingArray:
    """``array[:size]`` holds what was appended; the rest is room (zeros) to grow into.

    Compiled code and fancy indexes take ``array`` itself, so it is never copied per use.
    Room reserved up front (*reserve*) costs nothing until it is written: a large zeroed
    array is mapped by the operating system on first use. Growing by doubling instead
    writes every number about twice (into each larger array), and on a virtual machine
    that hands out memory lazily the first write to a page is what costs.
    """

    def __init__(self, dtype: type, first: int | None = None, reserve: int = 0, room: np.ndarray | None = None) -> None:
        """:param room: an array to fill first (a mapped file's pages), instead of a new one"""
        if room is not None:
            self.array: np.ndarray = room
        else:
            try:
                self.array = np.zeros(max(1024, reserve), dtype)
            except MemoryError:  # more than the system lets one array have: grow as it fills
                self.array = np.zeros(1024, dtype)
        self.size = 0
        if first is not None:
            self.append(first)

    def append(self, value: int) -> None:
        self.extend([value])

    def extend(self, values: np.ndarray | list[int] | tuple[int, ...]) -> None:
        self.grow(len(values))[:] = values

    def grow(self, n: int) -> np.ndarray:
        """Append *n* numbers to be written into the returned view (zeros until they are)."""
        end = self.size + n
        if end > len(self.array):
            grown = np.zeros(max(end, 2 * len(self.array), 1024), self.array.dtype)
            grown[: self.size] = self.array[: self.size]
            self.array = grown
        view = self.array[self.size : end]
        self.size = end
        return view
