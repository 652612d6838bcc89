import hypothesis.strategies as st
from hypothesis import example
from hypothesis import given

from index.analysis import _TOKEN_RE
from index.analysis import Analyzer
from index.compiled_tokens import token_spans
from index.compiled_tokens import tokens
from service.answers import passage_tokenizer

A = Analyzer()


def pattern_spans(text: str) -> list[tuple[int, int]]:
    """The token pattern's matches, footnote markers left out: what ``token_spans`` must find."""
    return [m.span() for m in _TOKEN_RE.finditer(text) if not m.group().startswith("[")]


def test_every_character_of_the_table_is_classed_as_the_pattern_classes_it():
    # Each code point the table covers, alone, between letters, between digits, in a marker
    # and doubled: a word or digit character missed or added shows as a different span.
    text = "".join(f" {c} a{c}b 1{c}2 [{c}] [1{c}] {c}{c}" for c in map(chr, range(0x10000)))
    found = token_spans(text)
    assert found is not None
    assert list(zip(*found, strict=True)) == pattern_spans(text)


@given(
    st.text(alphabet=st.sampled_from("ab1 .,:’‘'`[]_2É½٣\u00a0\u2003\n"), max_size=80)
    | st.text(alphabet=st.characters(max_codepoint=0xFFFF), max_size=80)
)
@example("[1234] [12345] [1]2 [] [a] a[1]b 1.5. 1,000:30, it’s ‘quoted’ rock'n'roll x_y a1b2 ½ ٣٤.٥")
def test_compiled_spans_and_tokens_are_the_patterns(text):
    found = token_spans(text)
    assert found is not None
    assert list(zip(*found, strict=True)) == pattern_spans(text)
    assert tokens(A, text) == A.tokens(text)


def test_a_character_beyond_the_table_takes_the_pattern():
    text = "Ask about \U0001f600 emoji and \U00020000 ideographs, 1,000 of them."
    assert token_spans("the first code point past the table: \U00010000") is None
    assert token_spans(text) is None
    assert tokens(A, text) == A.tokens(text)
    assert [t.term for t in tokens(A, text)] == ["ask", "emoji", "\U00020000", "ideograph", "1000"]


def test_answers_tokenize_passages_in_compiled_code():
    # numba is a dependency: the answers' tokenizer is the compiled one, not the fallback.
    assert passage_tokenizer() is tokens
