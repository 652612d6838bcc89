"""Tables of code-point classes filled by ``re`` itself, for compiled loops over a text's code points.

A compiled loop cannot call ``re``; it looks each code point up in a table instead. Filling
the table with the very pattern whose notion it stands for (``\\s``, ``\\w``, ``\\d``) makes
the loop agree with ``re`` by construction, whatever the Unicode version of this Python.
"""

from __future__ import annotations

import re

import numpy as np


def classes_table(bits: dict[str, int | np.integer], size: int = 0x110000) -> np.ndarray:
    """A ``uint8`` per code point below *size*: the OR of the bits whose pattern (a character
    class, as ``r"\\w"``) matches it. The whole of Unicode takes about 0.3 s a pattern."""
    every = "".join(map(chr, range(size)))
    table = np.zeros(size, np.uint8)
    for pattern, bit in bits.items():
        for found in re.finditer(f"(?:{pattern})+", every):
            table[found.start() : found.end()] |= bit
    return table
