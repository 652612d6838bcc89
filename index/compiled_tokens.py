"""Find the token pattern's matches in compiled code: the spans an answer tokenizes its passages by.

An answer tokenizes the passages it reads for every question (``Analyzer.tokens``),
and ``re.split`` with the token pattern was about half of that: the pattern tries
its three alternatives at every character. This finds the same matches in one
compiled pass over the text's code points, with the pattern's notions of a word
character (``\\w``) and a digit (``\\d``) read from a table that ``re`` itself
fills: a footnote marker ``[`` 1-4 digits ``]``; a number, digits joined by single
``.``, ``,`` or ``:``; a word, letters joined by single apostrophes. The table covers
the Basic Multilingual Plane; a text with a character beyond it (an emoji, a rare
ideograph) returns None and takes the pattern.
"""

from __future__ import annotations

import numba
import numpy as np

from index.analysis import Analyzer
from index.analysis import Token
from index.unicode_tables import classes_table

_WORD = np.uint8(1)  # re's \w
_DIGIT = np.uint8(2)  # re's \d
_TABLE_SIZE = 0x10000
_APOSTROPHES = np.array([ord(c) for c in "'’‘"], np.uint32)  # the pattern's word joiners


_CLASSES = classes_table({r"\w": _WORD, r"\d": _DIGIT}, _TABLE_SIZE)


@numba.njit(cache=True, nogil=True)
def _is_letter(point, classes):  # pragma: no cover - compiled
    """``[^\\W\\d_]``: a word character that is neither a digit nor the underscore."""
    return classes[point] & 3 == 1 and point != 95


@numba.njit(cache=True, nogil=True)
def _spans(points, classes, apostrophes, out):  # pragma: no cover - compiled
    """Write the (start, end) of each token match into *out*'s rows, footnote markers left out;
    return how many, or -1 when a code point lies beyond *classes* (whose bit 1 is ``_WORD``,
    bit 2 ``_DIGIT``)."""
    n = len(points)
    for i in range(n):
        if points[i] >= len(classes):
            return -1
    k = 0
    i = 0
    while i < n:
        point = points[i]
        if point == 91:  # "[": a footnote marker is 1-4 digits and "]", and is no token
            j = i + 1
            while j < n and j - i <= 4 and classes[points[j]] & 2:
                j += 1
            if j > i + 1 and j < n and points[j] == 93:
                i = j + 1
            else:
                i += 1
        elif classes[point] & 2:  # a number: digits, then any [.,:] followed by digits
            j = i + 1
            while j < n and classes[points[j]] & 2:
                j += 1
            while j + 1 < n and (points[j] == 46 or points[j] == 44 or points[j] == 58) and classes[points[j + 1]] & 2:
                j += 2
                while j < n and classes[points[j]] & 2:
                    j += 1
            out[k, 0], out[k, 1] = i, j
            k += 1
            i = j
        elif _is_letter(point, classes):  # a word: letters, then any apostrophe followed by letters
            j = i + 1
            while j < n and _is_letter(points[j], classes):
                j += 1
            while (
                j + 1 < n
                and _is_letter(points[j + 1], classes)
                and (points[j] == apostrophes[0] or points[j] == apostrophes[1] or points[j] == apostrophes[2])
            ):
                j += 2
                while j < n and _is_letter(points[j], classes):
                    j += 1
            out[k, 0], out[k, 1] = i, j
            k += 1
            i = j
        else:
            i += 1
    return k


def token_spans(text: str) -> tuple[list[int], list[int]] | None:
    """The starts and the ends of the token pattern's matches in *text* that are terms' candidates
    (footnote markers left out), or None for a text with a character beyond the table."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    out = np.empty((len(points) + 1, 2), np.int64)  # at most a match per character ("a1b2")
    n = _spans(points, _CLASSES, _APOSTROPHES, out)
    if n < 0:
        return None
    return out[:n, 0].tolist(), out[:n, 1].tolist()


def tokens(analyzer: Analyzer, text: str) -> list[Token]:
    """``analyzer.tokens(text)``, its spans found in compiled code where the table covers *text*."""
    found = token_spans(text)
    if found is None:
        return analyzer.tokens(text)
    return analyzer.tokens_at(text, *found)
