"""The compiled chunk counter must give exactly what the plain Python count gives."""

import hypothesis.strategies as st
import numpy as np
from hypothesis import given
from hypothesis import settings

from index.analysis import Analyzer
from index.analysis import TermNumbering
from index.counting import LATIN1_SPACES
from index.counting import ChunkCounter
from index.counting import _is_wide_space
from index.ingest import count_chunk_terms

A = Analyzer()


def test_the_counters_spaces_are_the_ones_str_split_cuts_at():
    cuts = {chr(p) for p in range(0x110000) if len(f"a{chr(p)}b".split()) == 2}
    assert {c for c in cuts if ord(c) < 256} == set(LATIN1_SPACES)
    assert {c for c in cuts if ord(c) >= 256} == {chr(p) for p in range(256, 0x110000) if _is_wide_space(p)}


_PIECES = st.sampled_from(
    ["the", "Leaders", "leader's", "well-known", "1,000", "[20]", "café", "Straße", "HIV-1", "x_y", "...", "(e.g.", "½"]
)
_SPACE = st.sampled_from([" ", "  ", "\n", "\t", "\x1c", "\xa0", "\x85", "\u200b", ""])

# One pair of numberings across examples, so that pieces met before are looked up
# (in the table, and in the numbering's dict) rather than all analyzed afresh.
_PYTHON = TermNumbering(A, "python")
_COMPILED = TermNumbering(A, "compiled")
_COUNTER = ChunkCounter(_COMPILED)


def _spans(text: str, cuts: list[int]) -> list[tuple[int, int]]:
    """Chunks in order, each starting inside the one before it, anywhere (even mid-word: harsher
    than the chunker, whose chunks start and end at sentences)."""
    bounds = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [(bounds[max(i - 1, 0)] // 2 + bounds[i] // 2, bounds[i + 1]) for i in range(len(bounds) - 1)]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(_PIECES, _SPACE), max_size=40),
    st.lists(st.integers(0, 400), max_size=4),
    st.lists(_PIECES, max_size=3),
    st.sampled_from(["", "\u2003", "\u3000", "\u2028"]),
)
def test_compiled_counts_equal_the_python_counts(parts, cuts, title_words, wide):
    text = "".join(piece + space for piece, space in parts)
    if wide and text:
        text = text[: len(text) // 2] + wide + text[len(text) // 2 :]  # a wide space: the Python path
    spans = _spans(text, cuts)
    title = " ".join(title_words)
    expected = count_chunk_terms(_PYTHON, text, spans, _PYTHON.numbers(title) * 2)
    got = _COUNTER.count(text, spans, _COMPILED.numbers(title) * 2)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert _COMPILED.terms == _PYTHON.terms  # the same numbers for the same terms, in the same order


def test_a_new_numbering_counts_a_text_of_new_words_in_order():
    numbering = TermNumbering(A, "fresh")
    text = "Zyzzyva zyzzyvas meet aardvarks; aardvarks meet well-known zyzzyvas."
    spans = [(0, 32), (22, len(text))]  # "... aardvarks;" and "aardvarks; ... zyzzyvas."
    got = ChunkCounter(numbering).count(text, spans, [])
    reference = TermNumbering(A, "reference")
    assert np.array_equal(got, count_chunk_terms(reference, text, spans, []))
    assert numbering.terms == reference.terms == ["zyzzyva", "meet", "aardvark", "well", "know"]


def test_a_text_sent_to_python_midway_leaves_the_counter_clean():
    """A wide space is found mid-chunk, after some terms were counted: those counts must not leak."""
    compiled, reference = TermNumbering(A, "compiled"), TermNumbering(A, "reference")
    counter = ChunkCounter(compiled)
    for text in ["aardvarks meet", "aardvarks meet\u2003zyzzyvas", "aardvarks meet aardvarks"]:  # known, then not
        spans = [(0, len(text))]
        assert np.array_equal(counter.count(text, spans, []), count_chunk_terms(reference, text, spans, []))


def test_past_the_piece_limit_new_pieces_are_counted_in_python(monkeypatch):
    monkeypatch.setattr(TermNumbering, "RAW_LIMIT", 5)
    compiled, reference = TermNumbering(A, "compiled"), TermNumbering(A, "reference")
    counter = ChunkCounter(compiled)
    for text in ["alpha beta gamma", "delta epsilon zeta eta theta", "alpha iota kappa beta"]:
        spans = [(0, len(text)), (6, len(text))]
        assert np.array_equal(counter.count(text, spans, []), count_chunk_terms(reference, text, spans, []))
    assert compiled.terms == reference.terms


def test_chunks_overlapping_many_times_are_counted_whole():
    """Overlap is a setting: the counter's buffers must hold a text counted many times over
    (here 30 chunks of the whole text: more missing pieces and postings than characters)."""
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho well-known"
    spans = [(0, len(text))] * 30
    compiled, reference = TermNumbering(A, "compiled"), TermNumbering(A, "reference")
    got = ChunkCounter(compiled).count(text, spans, compiled.numbers("Aardvark zyzzyva") * 3)
    assert np.array_equal(got, count_chunk_terms(reference, text, spans, reference.numbers("Aardvark zyzzyva") * 3))
