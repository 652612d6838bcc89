"""A numpy array appended to from Python, growing by doubling: for numbers learned one batch at a time."""

from __future__ import annotations

import numpy as np


class GrowingArray:
    """``array[:size]`` holds what was appended; the rest is room (zeros) to grow into.

    Compiled code and fancy indexes take ``array`` itself, so it is never copied per use.
    """

    def __init__(self, dtype: type, first: int | None = None) -> None:
        self.array: np.ndarray = np.zeros(1024, dtype)
        self.size = 0
        if first is not None:
            self.append(first)

    def append(self, value: int) -> None:
        self.extend([value])

    def extend(self, values: np.ndarray | list[int] | tuple[int, ...]) -> None:
        end = self.size + len(values)
        if end > len(self.array):
            grown = np.zeros(max(end, 2 * len(self.array)), self.array.dtype)
            grown[: self.size] = self.array[: self.size]
            self.array = grown
        self.array[self.size : end] = values
        self.size = end
