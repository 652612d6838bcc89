"""Cut a document into chunks with compiled per-sentence work: the same chunks as ``chunk_document``.

``chunk_document`` spends a few microseconds of Python on every sentence (strip it,
look for a word, count its words, fit it into a window): after the term count, the
largest share of a large build. Here the sentence splitter still runs per paragraph,
but everything after it runs in one compiled pass over the text's code points:
stripping and word counting with the same notion of a space as ``str.strip`` and
``str.split``, "has a word" with the same notion of a word character as ``re``'s
``\\w`` (both read from a table built from ``re`` itself), over-long sentences cut
as ``_split_long`` cuts them, and the windows of ``_windows``. A document that might
hold a boilerplate line takes the Python path: those lines end a run of sentences,
and finding them needs the pattern.
"""

from __future__ import annotations

from collections.abc import Iterable

import numba
import numpy as np
import sentencex

from index.analysis import ISO_CODES
from index.chunking import PARAGRAPH
from index.chunking import Chunk
from index.chunking import chunk_document
from index.loaders import Block
from index.unicode_tables import classes_table

#: Words every boilerplate line (``chunking.BOILERPLATE``) contains one of, ignoring case:
#: a text without any has no boilerplate sentence.
BOILERPLATE_WORDS = (
    "comment",
    "read more",
    "subscribe to",
    "sign up for",
    "leave a reply",
    "share this",
    "click here",
    "advertisement",
    "skip to",
)
_WORDS = np.zeros((len(BOILERPLATE_WORDS), max(map(len, BOILERPLATE_WORDS))), np.uint32)
_WORD_LENGTHS = np.array([len(word) for word in BOILERPLATE_WORDS], np.int64)
_WORD_PAIRS = np.zeros(128 * 128, np.int64)  # by a word's first two letters: a bit per word
for _k, _word in enumerate(BOILERPLATE_WORDS):
    _WORDS[_k, : len(_word)] = [ord(c) for c in _word]
    _WORD_PAIRS[ord(_word[0]) * 128 + ord(_word[1])] |= 1 << _k

#: The characters beyond ASCII that ``re.IGNORECASE`` matches to a letter of those words
#: (İ, ı, ſ and the Kelvin sign), which ``_fold`` folds to it.
_FOLDED = "\u0130\u0131\u017f\u212a"

_SPACE = np.uint8(1)
_WORD = np.uint8(2)
_CLASSES: np.ndarray | None = None


def character_classes() -> np.ndarray:
    """Per code point: bit 1 ``str.isspace``, bit 2 ``re``'s ``\\w``; built once per process (0.3 s)."""
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = classes_table({r"\s": _SPACE, r"\w": _WORD})  # re's \s is str.isspace (the tests check it)
    return _CLASSES


def compiled_chunks(
    text: str,
    points: np.ndarray,
    blocks: Iterable[Block],
    chunk_words: int = 120,
    overlap: int = 1,
    language: str = "english",
) -> tuple[list[Chunk], np.ndarray]:
    """``chunk_document(text, blocks, chunk_words, overlap, language)``, given *text*'s code points,
    and the chunks' (start, end) as the rows of an array (as ``ChunkCounter.count`` takes them)."""
    blocks = list(blocks)
    if _might_hold_boilerplate(points, _WORDS, _WORD_LENGTHS, _WORD_PAIRS):
        return _python_chunks(text, blocks, chunk_words, overlap, language)
    iso = ISO_CODES.get(language, "en")
    lengths: list[int] = []
    starts: list[int] = []  # per paragraph: its offset, sentence count and block
    counts: list[int] = []
    owners: list[int] = []
    for b, block in enumerate(blocks):
        for para in PARAGRAPH.finditer(text, block.start, block.end):
            piece = para.group()
            sentences = sentencex.segment(iso, piece)
            if "".join(sentences) != piece:  # never seen: the splitter keeps every character
                return _python_chunks(text, blocks, chunk_words, overlap, language)
            lengths.extend(map(len, sentences))
            starts.append(para.start())
            counts.append(len(sentences))
            owners.append(b)
    found = _chunk(
        points,
        character_classes(),
        np.array(lengths, np.int64),
        np.array(starts, np.int64),
        np.array(counts, np.int64),
        np.array(owners, np.int64),
        chunk_words,
        overlap,
    )
    chunks = [Chunk(k, blocks[b].label, s, e) for k, (s, e, b) in enumerate(found.tolist())]
    return chunks, found[:, :2]


def _python_chunks(
    text: str, blocks: list[Block], chunk_words: int, overlap: int, language: str
) -> tuple[list[Chunk], np.ndarray]:
    chunks = chunk_document(text, blocks, chunk_words, overlap, language)
    return chunks, np.array([(c.start, c.end) for c in chunks], np.int64).reshape(-1, 2)


@numba.njit(cache=True, nogil=True)
def _might_hold_boilerplate(points, words, lengths, pairs):  # pragma: no cover - compiled
    """Whether one of *words* is in the text, as ``re.IGNORECASE`` would find it (or more often).

    A pattern with the words as alternatives tries each at every character (300 us a
    file), a search of the lowered text per word costs 15 us; here each character is
    looked at about once, with the words that could start there (*pairs*: by their
    first two letters, a bit per word). A character folds as ``re.IGNORECASE`` folds
    it to an ASCII letter (ASCII capitals, and ``_FOLDED``); a control character
    folds to some ASCII character too, which only makes a match likelier.
    """
    n = len(points)
    if n < 2:
        return False
    ahead = _fold(points[0])
    for i in range(n - 1):
        first = ahead
        ahead = _fold(points[i + 1])
        candidates = pairs[first * 128 + ahead]
        if candidates == 0:
            continue
        for k in range(len(lengths)):
            length = lengths[k]
            if not (candidates >> k) & 1 or i + length > n:
                continue
            j = 2
            while j < length and _fold(points[i + j]) == words[k, j]:
                j += 1
            if j == length:
                return True
    return False


@numba.njit(cache=True, nogil=True)
def _fold(point):  # pragma: no cover - compiled
    if point < 128:
        return np.uint32(point | 0x20)
    if point == 0x130 or point == 0x131:  # İ ı
        return np.uint32(0x69)
    if point == 0x17F:  # ſ
        return np.uint32(0x73)
    if point == 0x212A:  # Kelvin sign
        return np.uint32(0x6B)
    return np.uint32(0)


@numba.njit(cache=True, nogil=True)
def _chunk(points, classes, lengths, para_starts, para_counts, para_blocks, chunk_words, overlap):  # pragma: no cover
    """Rows (start, end, block) of the chunks: ``chunking._runs`` then ``_windows`` per block."""
    # A sentence of n characters has at most (n + 1) // 2 words, cut into pieces of chunk_words.
    longest = 0
    for length in lengths:
        longest = max(longest, length)
    capacity = 2 * len(lengths) + len(points) // chunk_words + 1
    item_starts = np.empty(capacity, np.int64)  # a block's sentences (or pieces of one)
    item_ends = np.empty(capacity, np.int64)
    item_words = np.empty(capacity, np.int64)
    word_starts = np.empty((longest + 1) // 2 + 1, np.int64)  # an over-long sentence's words
    word_ends = np.empty((longest + 1) // 2 + 1, np.int64)
    out = np.empty((capacity, 3), np.int64)
    n_out = 0
    n_items = 0
    sentence = 0
    for p in range(len(para_starts)):
        s = para_starts[p]
        for _k in range(para_counts[p]):
            e = s + lengths[sentence]
            sentence += 1
            start, end = s, e
            s = e
            while start < end and classes[points[start]] & 1:
                start += 1
            while end > start and classes[points[end - 1]] & 1:
                end -= 1
            has_word = False
            n_words = 0
            i = start
            while i < end:
                if classes[points[i]] & 1:
                    i += 1
                    continue
                word_starts[n_words] = i
                while i < end and not classes[points[i]] & 1:
                    if classes[points[i]] & 2:
                        has_word = True
                    i += 1
                word_ends[n_words] = i
                n_words += 1
            if not has_word:
                continue
            if n_words > 2 * chunk_words:
                for w in range(0, n_words, chunk_words):
                    item_starts[n_items] = word_starts[w]
                    item_ends[n_items] = word_ends[min(w + chunk_words, n_words) - 1]
                    item_words[n_items] = chunk_words
                    n_items += 1
            else:
                item_starts[n_items] = start
                item_ends[n_items] = end
                item_words[n_items] = n_words
                n_items += 1
        if p + 1 == len(para_starts) or para_blocks[p + 1] != para_blocks[p]:
            block = para_blocks[p]
            n_out = _windows(item_starts, item_ends, item_words, n_items, chunk_words, overlap, block, out, n_out)
            n_items = 0
    return out[:n_out]


@numba.njit(cache=True, nogil=True)
def _windows(starts, ends, words, n, size, overlap, block, out, n_out):  # pragma: no cover - compiled
    """``chunking._windows`` over the first *n* items, written to *out* from row *n_out*; return the rows."""
    i = 0
    while i < n:
        j = i
        total = words[i]
        while j + 1 < n and total + words[j + 1] <= size:
            j += 1
            total += words[j]
        rest = 0
        for k in range(j + 1, n):
            rest += words[k]
        if 0 < rest < size // 3:  # fold a short tail into this window
            j = n - 1
        out[n_out, 0] = starts[i]
        out[n_out, 1] = ends[j]
        out[n_out, 2] = block
        n_out += 1
        if j == n - 1:
            break
        i = max(j + 1 - overlap, i + 1)
    return n_out
