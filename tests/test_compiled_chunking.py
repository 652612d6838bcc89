"""The compiled chunker must cut exactly the chunks the Python chunker cuts."""

import re
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import given
from hypothesis import settings

from index.chunking import BOILERPLATE
from index.chunking import chunk_document
from index.compiled_chunking import _FOLDED
from index.compiled_chunking import _WORD_LENGTHS
from index.compiled_chunking import _WORD_PAIRS
from index.compiled_chunking import _WORDS
from index.compiled_chunking import BOILERPLATE_WORDS
from index.compiled_chunking import _fold
from index.compiled_chunking import _might_hold_boilerplate
from index.compiled_chunking import character_classes
from index.compiled_chunking import compiled_chunks
from index.counting import code_points
from index.loaders import Block
from index.loaders import load

ROOT = Path(__file__).resolve().parent.parent


def test_the_character_classes_are_str_isspace_and_re_word():
    classes = character_classes()
    every = [chr(p) for p in range(0x110000)]
    assert [bool(c & 1) for c in classes] == [c.isspace() for c in every]
    assert [bool(c & 2) for c in classes] == [c.isalnum() or c == "_" for c in every]


def test_the_characters_folded_to_ascii_are_the_ones_re_ignorecase_matches():
    letters = set("".join(BOILERPLATE_WORDS)) - {" "}
    beyond_ascii = "".join(map(chr, range(128, 0x110000)))
    matched = {found.group() for letter in letters for found in re.finditer(letter, beyond_ascii, re.IGNORECASE)}
    assert matched == set(_FOLDED)
    folded = {chr(p): chr(_fold(p)) for p in range(128, 0x110000) if _fold(p)}
    assert set(folded) == matched
    assert all(re.fullmatch(letter, c, re.IGNORECASE) for c, letter in folded.items())


@settings(max_examples=300, deadline=None)
@given(st.from_regex(BOILERPLATE, fullmatch=True), st.text(max_size=20), st.text(max_size=20))
def test_every_boilerplate_line_holds_a_boilerplate_word(line, before, after):
    assert BOILERPLATE.match(line)
    assert _might_hold_boilerplate(code_points(before + line + after), _WORDS, _WORD_LENGTHS, _WORD_PAIRS)


def test_text_without_boilerplate_words_is_not_flagged():
    text = "Commentary is not in here. Recommend reading; Advert only. Skipping to the end."
    assert not _might_hold_boilerplate(code_points("Nothing to see here."), _WORDS, _WORD_LENGTHS, _WORD_PAIRS)
    assert _might_hold_boilerplate(code_points(text), _WORDS, _WORD_LENGTHS, _WORD_PAIRS)  # "comment" inside
    assert _might_hold_boilerplate(code_points("READ\u00a0MORE or read MORE"), _WORDS, _WORD_LENGTHS, _WORD_PAIRS)
    assert _might_hold_boilerplate(code_points("Clic\u212a here"), _WORDS, _WORD_LENGTHS, _WORD_PAIRS)


_PIECES = st.sampled_from(
    ["Word", "words", "Dr.", "e.g.", "U.S.", "3.5", "end.", "Why?", "Yes!", "…", "—", "_", "x_y", "café", "日本語",
     "“Quoted.”", "(see below)", "•", "¶", "½", "Read more", "1 Comment", "Subscribe to this", "|", "| cell |",
     "|---|"]
)  # fmt: skip
_SPACE = st.sampled_from([" ", " ", " ", "  ", "\n", "\n\n", "\n \n", "\t", "\xa0", "\x85", "\u2003", "\u3000", ""])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(_PIECES, _SPACE), max_size=80),
    st.lists(st.integers(0, 1000), max_size=3),
    st.sampled_from([(120, 1), (6, 1), (3, 0), (2, 2), (4, 3)]),
)
def test_compiled_chunks_equal_the_python_chunks(parts, cuts, size):
    text = "".join(piece + space for piece, space in parts)
    bounds = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    pairs = zip(bounds, bounds[1:], strict=False)
    blocks = [Block(a, b, f"section {i}" if i % 2 else None) for i, (a, b) in enumerate(pairs)]
    chunk_words, overlap = size
    expected = chunk_document(text, blocks, chunk_words, overlap)
    chunks, bounds = compiled_chunks(text, code_points(text), blocks, chunk_words, overlap)
    assert chunks == expected
    assert bounds.tolist() == [[c.start, c.end] for c in expected]


def test_compiled_chunks_of_the_shipped_article_equal_the_python_chunks():
    for path in sorted((ROOT / "documents").iterdir()):
        doc = load(path, path.read_bytes())
        for chunk_words, overlap in [(120, 1), (40, 0)]:
            expected = chunk_document(doc.text, doc.blocks, chunk_words, overlap)
            assert len(expected) > 10
            chunks, bounds = compiled_chunks(doc.text, code_points(doc.text), doc.blocks, chunk_words, overlap)
            assert chunks == expected
            assert bounds.tolist() == [[c.start, c.end] for c in expected]
