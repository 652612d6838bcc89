import hypothesis.strategies as st
from hypothesis import example
from hypothesis import given
from hypothesis import settings

from index.analysis import _TOKEN_RE
from index.analysis import Analyzer
from index.analysis import TermNumbering
from index.analysis import normalize
from index.analysis import strip_possessive

A = Analyzer()


def test_normalize_folds_case_width_and_curly_apostrophes():
    assert normalize("Israel’s") == "israel's"
    assert normalize("ＦＵＬＬ") == "full"


def test_possessive_is_dropped():
    assert strip_possessive("israel's") == "israel"
    assert A.terms("Israel’s army") == A.terms("Israel army")


def test_stop_words_are_dropped_and_words_stemmed():
    assert A.terms("Who is leading the parties?") == ["lead", "parti"]


def test_ship_nouns_meet_their_base_word_but_ship_compounds_stay():
    assert A.terms("relationship relationships") == A.terms("relations relation")
    assert A.terms("leadership membership") == A.terms("leaders members")
    for compound in ("battleship", "hardship", "flagship", "worship", "friendship"):
        assert A.terms(compound) == [compound]


def test_demonyms_meet_their_countrys_name():
    assert A.terms("Israeli Israelis Russian Russians Chinese") == A.terms("Israel Israel Russia Russia China")
    assert A.terms("Israel's UN ambassador") == A.terms("the Israeli UN ambassador")


def test_a_demonym_that_is_an_everyday_word_stays_apart():
    assert A.terms("polish") == A.terms("Polish") != A.terms("Poland")


def test_ily_adverbs_meet_their_adjective_when_it_is_a_word():
    assert A.terms("intervened militarily, easily") == A.terms("intervened military, easy")
    assert A.terms("family") != A.terms("famy")  # no such adjective: the word stays
    assert A.terms("daily") != A.terms("day")  # too short to tell


def test_numbers_are_kept_whole():
    assert A.terms("UNSCR 2334 in 1965 with 1.5 million and 1,000 people") == [
        "unscr",
        "2334",
        "1965",
        "1.5",
        "million",
        "1000",
        "peopl",
    ]


def test_footnote_markers_are_not_tokens():
    assert A.terms("against Israel”.[20][21] Then") == ["israel"]


def test_spans_point_into_the_original_text():
    text = "Putin’s “friendship” with Netanyahu"
    for token in A.tokens(text):
        assert A.terms(text[token.start : token.end]) == [token.term]


@given(st.text(alphabet=st.sampled_from("ab1 .,’'[]2É\u00a0\u2003\u3000\t\n"), max_size=80) | st.text(max_size=80))
@example("Israel’s 1,000.5,ab [20]Putin ab'cd.ef 1,000.5,ab")  # runs of several tokens, twice
def test_tokens_are_the_terms_in_order_with_their_spans(text):
    # tokens() and terms() each have their own loop over the text and the term cache;
    # a fresh analyzer (every word stemmed) and warmed ones (looked up) must agree.
    fresh = Analyzer()
    tokens = fresh.tokens(text)
    assert fresh.tokens(text) == tokens == A.tokens(text)
    assert [t.term for t in tokens] == A.terms(text)
    assert all(A.terms(text[t.start : t.end]) == [t.term] for t in tokens)
    assert all(a.end <= b.start for a, b in zip(tokens, tokens[1:], strict=False))
    # tokens() finds its spans without match objects: they are the pattern's matches that have a term.
    assert [(t.start, t.end) for t in tokens] == [m.span() for m in _TOKEN_RE.finditer(text) if A.term(m.group())]


def test_only_stop_words_and_punctuation_give_no_terms():
    assert A.terms("What is it? ... !!") == []


def test_unknown_language_is_a_clear_error():
    import pytest

    from index.errors import SettingError

    with pytest.raises(SettingError, match="Unknown language 'klingon'"):
        Analyzer("klingon")


def test_term_numbering_gives_the_analyzers_terms_as_numbers():
    numbering = TermNumbering(A, "test")
    texts = [
        "Who leads the parties? The parties' leaders [3] met in 1965, 1,000 times.",
        "Leaders leading relationships; new words twice: zyzzyva zyzzyva, and the end.",
        "",
        "the of and",  # stop words only
    ]
    for text in texts:
        numbers = numbering.numbers(text)
        assert 0 not in numbers
        assert [numbering.terms[n - 1] for n in numbers] == A.terms(text)
    assert len(numbering.terms) == len(set(numbering.terms))  # each term numbered once


_PIECES = st.sampled_from(
    [
        "the",
        "Leaders",
        "leader's",
        "don't",
        "O’Neil",
        "well-known",
        "1,000",
        "1965",
        "3.5:2",
        "[20]",
        "[12345]",
        "café",
        "naïve",
        "Straße",
        "ǅemal",
        "½",
        "²",
        "٣",
        "x_y",
        "...",
        "(",
        ")",
        "'",
        "’",
        "-",
        "[",
        "]",
        ",",
        ":",
    ]
)
_SHARED_NUMBERING = TermNumbering(A, "shared")  # across examples, so pieces met before are looked up
_SPACE = st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", "\u2003", "\x1c", "\u3000", ""])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_PIECES, _SPACE), max_size=40))
def test_term_numbering_equals_the_analyzer_on_any_spacing(parts):
    """Numbering looks up whitespace-separated pieces whole; that must never change the terms,
    whatever the spaces (Unicode ones included) and however punctuation sticks to words."""
    text = "".join(piece + space for piece, space in parts)
    numbering = _SHARED_NUMBERING
    numbers = numbering.numbers(text)
    assert 0 not in numbers
    assert [numbering.terms[n - 1] for n in numbers] == A.terms(text)


def test_porter_is_english_with_the_english_stop_words():
    assert Analyzer("porter").terms("Who is leading the parties?") == ["lead", "parti"]
