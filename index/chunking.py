"""Cut a document into sentence-aligned passages: the units BM25 ranks and answers cite.

A chunk never crosses a section (so its citation names one place) and never cuts a
sentence, except a single "sentence" longer than two chunks (PDF tables, run-on
text), which is cut at word boundaries so no chunk grows without bound.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

import sentencex

from index.analysis import ISO_CODES
from index.loaders import Block

# Lines that are page furniture, not content: kept in the text, never indexed.
BOILERPLATE = re.compile(
    r"^(?:subscribe to .{1,80}|sign up for .{1,80}|leave a reply|share this:?|click here.{0,60}"
    r"|\d+ comments?(?: ».*| / \d+ comments?)?|.{0,40}\| \d+ comments? ».*|advertisement"
    r"|read more|skip to (?:main )?content)$",
    re.IGNORECASE,
)
_WORD = re.compile(r"\S+")
#: A paragraph: lines up to a blank line (paragraph breaks always end a sentence). A line
#: that starts with "|" is a table row (Markdown's, or a text table's) and a paragraph of
#: its own: a table has no sentence punctuation, so its rows would otherwise read as one
#: sentence, and a question about one row would be answered with the whole table.
PARAGRAPH = re.compile(r"[ \t]*\|[^\n]*|[^\n]+(?:\n(?!\s*\n|[ \t]*\|)[^\n]*)*")
_HAS_WORD = re.compile(r"\w")


class Span(NamedTuple):
    """A half-open character range of a document's text."""

    start: int
    end: int


class Chunk(NamedTuple):
    """A passage: its place in the document and the section it belongs to."""

    ordinal: int
    section: str | None
    start: int
    end: int


def sentence_spans(text: str, start: int = 0, end: int | None = None, language: str = "english") -> list[Span]:
    """Return the sentences of ``text[start:end]`` as stripped spans of *text*.

    Paragraph breaks always end a sentence, even without punctuation.
    """
    end = len(text) if end is None else end
    spans: list[Span] = []
    iso = ISO_CODES.get(language, "en")
    for para in PARAGRAPH.finditer(text, start, end):
        base = para.start()
        for found in sentencex.get_sentence_boundaries(iso, para.group()):
            s, e = base + found["start_index"], base + found["end_index"]
            piece = text[s:e]
            stripped = piece.strip()
            if not stripped or not _HAS_WORD.search(stripped):
                continue
            s += len(piece) - len(piece.lstrip())
            spans.append(Span(s, s + len(stripped)))
    return spans


def is_boilerplate(sentence: str) -> bool:
    """True for page furniture such as "Subscribe to ... for Free"."""
    return bool(BOILERPLATE.match(sentence.strip()))


def _split_long(text: str, span: Span, limit: int) -> list[Span]:
    """Cut one over-long sentence into pieces of at most *limit* words."""
    words = list(_WORD.finditer(text, span.start, span.end))
    return [Span(words[i].start(), words[min(i + limit, len(words)) - 1].end()) for i in range(0, len(words), limit)]


def chunk_document(
    text: str, blocks: Iterable[Block], chunk_words: int = 120, overlap: int = 1, language: str = "english"
) -> list[Chunk]:
    """Group each block's sentences into windows of about *chunk_words* words.

    Consecutive windows share *overlap* sentences so an answer that straddles a
    boundary is still found whole in one chunk.
    """
    chunks: list[Chunk] = []
    for block in blocks:
        for sentences in _runs(text, block, chunk_words, language):
            for first, last in _windows([w for _, w in sentences], chunk_words, overlap):
                chunks.append(Chunk(len(chunks), block.label, sentences[first][0].start, sentences[last][0].end))
    return chunks


def _runs(text: str, block: Block, chunk_words: int, language: str) -> list[list[tuple[Span, int]]]:
    """The block's sentences with their word counts, in runs separated by boilerplate.

    A boilerplate line ends a run, so no chunk's span contains one.
    """
    runs: list[list[tuple[Span, int]]] = [[]]
    for span in sentence_spans(text, block.start, block.end, language):
        sentence = text[span.start : span.end]
        if is_boilerplate(sentence):
            runs.append([])
            continue
        words = len(sentence.split())  # its \S+ runs: str.split cuts at the same (Unicode) spaces
        if words > 2 * chunk_words:
            runs[-1].extend((piece, chunk_words) for piece in _split_long(text, span, chunk_words))
        else:
            runs[-1].append((span, words))
    return [run for run in runs if run]


def _windows(lengths: list[int], size: int, overlap: int) -> list[tuple[int, int]]:
    """Return (first, last) sentence indexes of each window over sentence *lengths*."""
    windows: list[tuple[int, int]] = []
    i = 0
    n = len(lengths)
    while i < n:
        j, words = i, lengths[i]
        while j + 1 < n and words + lengths[j + 1] <= size:
            j += 1
            words += lengths[j]
        rest = sum(lengths[j + 1 :])
        if 0 < rest < size // 3:  # fold a short tail into this window
            j = n - 1
        windows.append((i, j))
        if j == n - 1:
            break
        i = max(j + 1 - overlap, i + 1)
    return windows
