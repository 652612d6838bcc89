"""Count the terms of a document's chunks in compiled code: a large build's hottest loop.

``TermNumbering.numbers`` cuts a text at whitespace and looks each piece up in a
dict, then a ``Counter`` counts each chunk: a few hundred nanoseconds of Python per
word, most of a build's time at a million chunks. This module does the same over
the text's code points in one compiled pass: pieces are cut where ``str.split``
cuts, found in a table by two different 64-bit hashes of their code points (a
false match needs both to collide: among millions of pieces, odds far below those
of a memory error), and counted per chunk in the order their terms first appear,
exactly as ``Counter`` orders them. Only pieces the table has not met run Python
(``TermNumbering`` analyzes them), in the order the count meets them (chunk after
chunk), so terms are numbered exactly as the Python path numbers them. A chunk
with a space beyond Latin-1 (which ``str.split`` also cuts at) sends its document
down the Python path.
"""

from __future__ import annotations

import numba
import numpy as np

from index.analysis import TermNumbering
from index.growing import GrowingArray

#: The characters ``str.split`` cuts at below 256 (``_is_wide_space`` has the rest; the
#: tests check both against ``str.split`` over every code point).
LATIN1_SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0"

_IS_SPACE = np.zeros(256, np.bool_)
_IS_SPACE[[ord(c) for c in LATIN1_SPACES]] = True

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

# A slot's value: 0 empty, 1 a piece without terms (stop word, punctuation), 2 + n a
# piece whose one term is number n, MULTI | k a piece whose terms are row k of the
# multi-term table ("well-known").
_EMPTY = np.uint64(0)
_NO_TERMS = np.uint64(1)
_MULTI = np.uint64(1 << 62)
_NO_TITLE = np.zeros(0, np.int32)


@numba.njit(cache=True, nogil=True)
def _hashes(buf, start, end):  # pragma: no cover - compiled
    """FNV-1a and a multiply-xorshift hash of the code points ``buf[start:end]``."""
    h1 = _FNV_OFFSET
    h2 = np.uint64(end - start)
    for i in range(start, end):
        point = np.uint64(buf[i])
        h1 = (h1 ^ point) * _FNV_PRIME
        h2 = (h2 + point + np.uint64(1)) * _GOLDEN
        h2 ^= h2 >> np.uint64(29)
    return h1, h2


@numba.njit(cache=True, nogil=True)
def _slot(table, h1, h2):  # pragma: no cover - compiled
    """The slot holding (h1, h2), or the empty slot where it would go (linear probing)."""
    mask = np.uint64(len(table) - 1)
    slot = h1 & mask
    while table[slot, 2] != _EMPTY and (table[slot, 0] != h1 or table[slot, 1] != h2):
        slot = (slot + np.uint64(1)) & mask
    return slot


@numba.njit(cache=True, nogil=True)
def _is_wide_space(point):  # pragma: no cover - compiled
    return (
        point == 0x1680
        or 0x2000 <= point <= 0x200A
        or point == 0x2028
        or point == 0x2029
        or point == 0x202F
        or point == 0x205F
        or point == 0x3000
    )


@numba.njit(cache=True, nogil=True)
def _tally(terms, tf, touched, n_touched):  # pragma: no cover - compiled
    """Count *terms* into *tf*, listing each term the chunk had not met in *touched*; return its new length."""
    for term in terms:
        if tf[term] == 0:
            touched[n_touched] = term
            n_touched += 1
        tf[term] += 1
    return n_touched


@numba.njit(cache=True, nogil=True)
def _count(buf, bounds, title, is_space, table, multi_at, multi_terms, tf):  # pragma: no cover
    """Count the terms of each chunk ``buf[bounds[c, 0]:bounds[c, 1]]``; return ``(0, counts packed as
    ChunkCounter.count returns them)``, ``(k, the starts then the ends of the k pieces missing from
    the table)``, or ``(-1, _)`` when a chunk holds a space beyond Latin-1.

    With any piece missing the counts are incomplete: the caller adds the pieces to the
    table and counts again.
    """
    n_chunks = len(bounds)
    # Chunks may overlap by any amount: each yields at most a term per character (and a
    # missing piece per character) plus the title's terms.
    capacity = 1
    longest = 0
    for c in range(n_chunks):
        capacity += bounds[c, 1] - bounds[c, 0] + len(title) + 1
        longest = max(longest, bounds[c, 1] - bounds[c, 0])
    # rows: 0 term numbers and 1 their counts (postings, chunk after chunk), 2 chunk lengths
    # and 3 distinct terms per chunk, 4-5 the start and end of each missing piece
    out = np.empty((6, capacity), np.int32)
    touched = np.empty(longest + len(title) + 1, np.int64)  # a chunk has at most a term per character
    n_post = 0
    n_missing = 0
    for c in range(n_chunks):
        n_touched = 0
        length = 0
        i, end = bounds[c, 0], bounds[c, 1]
        while i < end:
            while i < end and buf[i] < 256 and is_space[buf[i]]:
                i += 1
            if i == end:
                break
            j = i
            while j < end and not (buf[j] < 256 and is_space[buf[j]]):
                if buf[j] >= 0x1680 and _is_wide_space(buf[j]):  # str.split cuts here too:
                    for t in range(n_touched):  # leave the scratch zeroed, and count in Python
                        tf[touched[t]] = 0
                    return -1, np.empty(0, np.int32)
                j += 1
            h1, h2 = _hashes(buf, i, j)
            value = table[_slot(table, h1, h2), 2]
            if value == _EMPTY:
                out[4, n_missing] = i
                out[5, n_missing] = j
                n_missing += 1
            elif n_missing == 0 and value != _NO_TERMS:
                if value >= _MULTI:  # a row of the multi-term table, its terms in order
                    row = np.int64(value - _MULTI)
                    first, stop = multi_at[row], multi_at[row + 1]
                else:  # one term: no array is made for it (most pieces)
                    first, stop = np.int64(-1), np.int64(0)
                for at in range(first, stop):
                    term = np.int64(value - np.uint64(2)) if at < 0 else np.int64(multi_terms[at])
                    if tf[term] == 0:
                        touched[n_touched] = term
                        n_touched += 1
                    tf[term] += 1
                length += stop - first
            i = j
        n_touched = _tally(title, tf, touched, n_touched)
        length += len(title)
        out[2, c] = length
        out[3, c] = n_touched
        for t in range(n_touched):
            term = touched[t]
            out[0, n_post] = term
            out[1, n_post] = tf[term]
            tf[term] = 0
            n_post += 1
    if n_missing:
        missing = np.empty(2 * n_missing, np.int32)
        missing[:n_missing] = out[4, :n_missing]
        missing[n_missing:] = out[5, :n_missing]
        return n_missing, missing
    n = n_chunks
    packed = np.empty(2 * n + 2 * n_post, np.int32)
    packed[:n] = out[2, :n]
    packed[n : 2 * n] = out[3, :n]
    packed[2 * n : 2 * n + n_post] = out[0, :n_post]
    packed[2 * n + n_post :] = out[1, :n_post]
    return 0, packed


@numba.njit(cache=True, nogil=True)
def _insert(table, buf, starts, ends, values):  # pragma: no cover - compiled
    """Enter the pieces ``buf[starts[k]:ends[k]]`` with their slot values."""
    for k in range(len(starts)):
        h1, h2 = _hashes(buf, starts[k], ends[k])
        slot = _slot(table, h1, h2)
        table[slot, 0] = h1
        table[slot, 1] = h2
        table[slot, 2] = values[k]


@numba.njit(cache=True, nogil=True)
def _rehash(old, new):  # pragma: no cover - compiled
    for k in range(len(old)):
        if old[k, 2] != _EMPTY:
            slot = _slot(new, old[k, 0], old[k, 1])
            new[slot, 0] = old[k, 0]
            new[slot, 1] = old[k, 1]
            new[slot, 2] = old[k, 2]


class ChunkCounter:
    """A ``TermNumbering``'s pieces in a compiled table, to count chunks' terms without Python per word.

    The table holds each piece met as its two hashes and its terms (one number, none,
    or a row of the multi-term table), in one row of 24 bytes: a lookup is one probe
    of memory, where a dict of strings takes several. It grows up to
    ``TermNumbering.RAW_LIMIT`` pieces; past that a text with a new piece is counted
    in Python.
    """

    def __init__(self, numbering: TermNumbering) -> None:
        self.numbering = numbering
        self._table = np.zeros((1 << 12, 3), np.uint64)
        self._pieces = 0
        self._multi_at = GrowingArray(np.int64, 0)
        self._multi_terms = GrowingArray(np.int32)
        self._tf = np.zeros(1024, np.int32)

    def count(
        self,
        text: str,
        spans: list[tuple[int, int]] | np.ndarray,
        title: list[int],
        points: np.ndarray | None = None,
    ) -> np.ndarray:
        """``[*lengths, *counts, *term_ids, *tfs]`` of the chunks ``text[start:end]``, each with *title* added.

        The same numbers, in the same order, as counting ``numbering.numbers(chunk) + title``
        with a ``Counter`` per chunk.

        :param spans: (start, end) pairs, or the rows of an int64 array
        :param points: ``code_points(text)``, when the caller has them
        """
        buf = code_points(text) if points is None else points
        bounds = spans if isinstance(spans, np.ndarray) else np.array(spans, np.int64).reshape(-1, 2)
        title_array = np.array(title, np.int32) if title else _NO_TITLE
        for _attempt in range(2):
            self._fit_scratch()
            status, found = _count(
                buf,
                bounds,
                title_array,
                _IS_SPACE,
                self._table,
                self._multi_at.array,
                self._multi_terms.array,
                self._tf,
            )
            if status == 0:
                return found
            if status < 0 or not self._learn(text, buf, found[:status], found[status:]):
                break
        return self._count_in_python(text, [(a, b) for a, b in bounds.tolist()], title)

    def _count_in_python(self, text: str, spans: list[tuple[int, int]], title: list[int]) -> np.ndarray:
        from index.ingest import count_chunk_terms

        return count_chunk_terms(self.numbering, text, spans, title)

    def _learn(self, text: str, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bool:
        """Add the missing pieces, analyzed in the order the count met them; False when the table is full."""
        seen: set[str] = set()
        new_starts, new_ends, values = [], [], []
        for k in range(len(starts)):  # in the order met, chunk after chunk, as the Python count meets them
            piece = text[starts[k] : ends[k]]
            if piece in seen:
                continue
            if self._pieces + len(seen) >= TermNumbering.RAW_LIMIT:
                return False
            seen.add(piece)
            # Analyzed (new terms numbered in order), not kept in the numbering's own dict of
            # pieces as well: this table is where the piece is looked up from now on.
            numbers = self.numbering.piece_numbers(piece)
            if not numbers:
                value = int(_NO_TERMS)
            elif len(numbers) == 1:
                value = 2 + numbers[0]
            else:
                value = int(_MULTI) | (self._multi_at.size - 1)
                self._multi_terms.extend(numbers)
                self._multi_at.append(self._multi_terms.size)
            new_starts.append(starts[k])
            new_ends.append(ends[k])
            values.append(value)
        self._pieces += len(values)
        if 2 * self._pieces > len(self._table):  # at most half full: probes stay short
            table = np.zeros((1 << (2 * self._pieces).bit_length(), 3), np.uint64)
            _rehash(self._table, table)
            self._table = table
        _insert(
            self._table,
            buf,
            np.array(new_starts, np.int64),
            np.array(new_ends, np.int64),
            np.array(values, np.uint64),
        )
        return True

    def _fit_scratch(self) -> None:
        needed = len(self.numbering.terms) + 1
        if needed > len(self._tf):
            self._tf = np.zeros(max(needed, 2 * len(self._tf)), np.int32)


def code_points(text: str) -> np.ndarray:
    """The text's code points, one array element per character (so offsets stay character offsets)."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), np.uint8)
    return np.frombuffer(text.encode("utf-32-le"), np.uint32)
