"""Turn text into index terms: the one analyzer shared by documents and questions.

The chain is small pure steps (find word spans, normalize, drop possessives and
stop words, dictionary form, then for English "-ship" nouns, demonyms and "-ily"
adverbs to the words they come from, stem) so each can be tested on its own, and so
the spans of the original text survive for highlighting.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from functools import partial
from itertools import accumulate
from itertools import chain
from itertools import compress
from typing import NamedTuple

import Stemmer

from index.demonyms import countries_by_demonym
from index.errors import SettingError

# Footnote markers such as "[20]" come first in the alternation so they are
# consumed (and dropped) before their digits can become a number token.
_TOKEN_RE = re.compile(
    r"\[\d{1,4}\]"  # footnote marker: skipped
    r"|\d+(?:[.,:]\d+)*"  # numbers, kept whole: 2334, 1.5, 1,000
    r"|[^\W\d_]+(?:['’‘][^\W\d_]+)*",  # words, with inner apostrophes
)

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "‛": "'", "ʼ": "'", "`": "'"})

# The Snowball project's English stop list (snowballstem.org/algorithms/english/stop.txt).
# The stop-words package's English list has 1,333 entries, "first", "billion" and
# "computer" among them: too many for answering factual questions.
ENGLISH_STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him
    his himself she her hers herself it its itself they them their theirs
    themselves what which who whom this that these those am is are was were be been
    being have has had having do does did doing would should could ought i'm you're
    he's she's it's we're they're i've you've we've they've i'd you'd he'd she'd
    we'd they'd i'll you'll he'll she'll we'll they'll isn't aren't wasn't weren't
    hasn't haven't hadn't doesn't don't didn't won't wouldn't shan't shouldn't
    can't cannot couldn't mustn't let's that's who's what's here's there's when's
    where's why's how's a an the and but if or because as until while of at by for
    with about against between into through during before after above below to
    from up down in out on off over under again further then once here there when
    where why how all any both each few more most other some such no nor not only
    own same so than too very s t can will just don should now
    """.split()
)

#: The Snowball algorithms for English: the default one and the original Porter stemmer.
ENGLISH = ("english", "porter")

STOP_WORDS_BY_LANGUAGE: dict[str, frozenset[str]] = dict.fromkeys(ENGLISH, ENGLISH_STOP_WORDS)

#: Bumped whenever a text's terms change, so that a build re-reads every file
#: instead of mixing terms of two analyzers (stored in the index's settings).
ANALYZER_VERSION = 4


class Token(NamedTuple):
    """One index term and the span of the original text it came from."""

    term: str
    start: int
    end: int


#: The token pattern as ``re.split``'s group: the text between tokens and the tokens, in turn
#: (so ``_TOKEN_RE`` must keep its own groups non-capturing).
_TOKEN_SPLIT = re.compile(f"({_TOKEN_RE.pattern})")
#: ``Token`` from a (term, start, end) tuple in C, as ``Token._make`` does in Python.
_new_token = partial(tuple.__new__, Token)


def normalize(word: str) -> str:
    """Fold a raw word to a comparable form: NFKC, straight apostrophes, casefold."""
    return unicodedata.normalize("NFKC", word).translate(_APOSTROPHES).casefold()


def strip_possessive(word: str) -> str:
    """Drop an English possessive or contraction tail: "israel's" -> "israel"."""
    if word.endswith("'s"):
        word = word[:-2]
    return word.replace("'", "")


def normalize_number(raw: str) -> str:
    """Keep a number whole, dropping thousands separators: "1,000" -> "1000"."""
    if re.fullmatch(r"\d{1,3}(,\d{3})+", raw):
        return raw.replace(",", "")
    return raw


class Analyzer:
    """Tokenize, normalize, drop stop words and stem, for one language."""

    def __init__(self, language: str = "english") -> None:
        if language not in Stemmer.algorithms():
            raise SettingError(
                f"Unknown language {language!r}; choose one of: " + ", ".join(sorted(Stemmer.algorithms()))
            )
        self.language = language
        self._cache: dict[str, str] = {}

    def tokens(self, text: str) -> list[Token]:
        """The terms of *text* with their character spans.

        An answer tokenizes its passages (a few hundred words) for every question, so
        this runs no Python per word: ``re.split`` with the pattern as its group gives
        the text between tokens and the tokens in turn, whose running lengths are the
        tokens' spans; the terms come from the cache by ``map`` (a word met for the first
        time takes the slow path); the tokens are made by ``map`` over ``compress``, which
        drops the stop words. The same tokens as a loop over ``finditer``, with 9% less
        time a whole answer (300 questions of the 130K-chunk benchmark index, six
        interleaved rounds). Keeping each whitespace-separated piece's tokens instead
        measured a little faster, but holds about 375 bytes a piece in every server
        worker: not kept. Answers now find the spans in compiled code where numba is
        available (index/compiled_tokens.py, then ``tokens_at``); this is the reference
        they are tested against and the path without numba.
        """
        parts = _TOKEN_SPLIT.split(text)
        ends = list(accumulate(map(len, parts)))  # a token's start is where the text before it ends
        return self._tokens(parts[1::2], ends[:-1:2], ends[1::2])

    def tokens_at(self, text: str, starts: list[int], ends: list[int]) -> list[Token]:
        """The tokens of *text* given the spans of its token pattern matches (``tokens`` finds
        them with the pattern; index/compiled_tokens.py in compiled code)."""
        return self._tokens(list(map(text.__getitem__, map(slice, starts, ends))), starts, ends)

    def _tokens(self, raws: list[str], starts: list[int], ends: list[int]) -> list[Token]:
        """The tokens of raw words at those spans, stop words and markers (term "") left out."""
        terms = list(map(self._cache.get, raws))
        if None in terms:
            cached = self._cached
            terms = [cached(raw) if term is None else term for raw, term in zip(raws, terms, strict=True)]
        return list(map(_new_token, compress(zip(terms, starts, ends, strict=True), terms)))

    def terms(self, text: str) -> list[str]:
        """Return just the terms of *text*, in order: the BM25 view of it (the build's hot loop)."""
        cache = self._cache
        out = []
        for raw in _TOKEN_RE.findall(text):
            term = cache.get(raw)  # inlined: this loop runs once per word of every document
            if term is None:
                term = self._cached(raw)
            if term:
                out.append(term)
        return out

    def _cached(self, raw: str) -> str:
        """``term(raw)``, remembered: a corpus repeats its words, and stemming is the slow part."""
        term = self._cache.get(raw)
        if term is None:
            term = self.term(raw)
            if len(self._cache) < 2_000_000:
                self._cache[raw] = term
        return term

    def term(self, raw: str) -> str:
        """Map one raw token to its term, or "" when it is dropped (stop word, footnote marker)."""
        first = raw[0]
        if first == "[":
            return ""
        if first.isdigit():
            return normalize_number(raw)
        return _stem_word(self.language, raw)


class _PieceNumbers(dict):
    """Whitespace-separated piece -> the numbers of its terms; a piece not met before is analyzed."""

    def __init__(self, numbering: TermNumbering) -> None:
        super().__init__()
        self._numbering = numbering

    def __missing__(self, piece: str) -> tuple[int, ...]:
        numbers = self._numbering.piece_numbers(piece)
        if len(self) < TermNumbering.RAW_LIMIT:
            self[piece] = numbers
        return numbers


class TermNumbering:
    """Number an analyzer's terms 1, 2, 3... in first-seen order, remembering each word's number.

    This is a build worker's hot loop. A text is cut at whitespace (``str.split``, far
    faster than the token pattern) and each piece looked up whole: no token can contain
    whitespace, so the pattern's matches in a text are exactly its matches in each
    piece, in order. Each piece maps to the tuple of its terms' numbers: ``()`` for a
    stop word or punctuation, one number for most words, several for "well-known" or
    "1965-67". So one C-level pass (``chain`` over the looked-up tuples) gives a text's
    numbers, and only pieces never met before run Python code. The build maps these
    numbers to its vocabulary's through ``terms``, which it receives in order.
    """

    #: Pieces and raw words remembered; past it (a folder of gibberish) they are analyzed again.
    RAW_LIMIT = 4_000_000

    def __init__(self, analyzer: Analyzer, key: str = "") -> None:
        self.analyzer, self.key = analyzer, key
        self.terms: list[str] = []  # the term numbered i + 1
        self._numbers: dict[str, int] = {}
        self._raw: dict[str, int] = {}  # raw word (a pattern match) -> number, 0 for none
        self._singles: list[tuple[int, ...]] = [()]  # (n,) for each number n, shared by its pieces
        self._lookup = _PieceNumbers(self).__getitem__

    def numbers(self, text: str) -> list[int]:
        """The numbers of the terms of *text*, in order: ``Analyzer.terms`` as numbers."""
        return list(chain.from_iterable(map(self._lookup, text.split())))

    def piece_numbers(self, piece: str) -> tuple[int, ...]:
        """The numbers of the terms of one whitespace-free *piece* (analyzed, not looked up)."""
        found = [n for n in map(self._raw_number, _TOKEN_RE.findall(piece)) if n]
        return self._singles[found[0]] if len(found) == 1 else tuple(found)

    def _raw_number(self, raw: str) -> int:
        number = self._raw.get(raw)
        return self._number(raw) if number is None else number

    def _number(self, raw: str) -> int:
        term = self.analyzer.term(raw)
        number = self._numbers.get(term, 0) if term else 0
        if term and not number:
            self.terms.append(term)
            number = self._numbers[term] = len(self.terms)
            self._singles.append((number,))
        if len(self._raw) < self.RAW_LIMIT:
            self._raw[raw] = number
        return number


@lru_cache(maxsize=8)
def _stemmer_for(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


# Snowball language names -> ISO 639-1, for simplemma and sentencex.
ISO_CODES = {
    "english": "en",
    "porter": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "russian": "ru",
    "swedish": "sv",
    "danish": "da",
    "norwegian": "nb",
    "finnish": "fi",
    "polish": "pl",
    "turkish": "tr",
    "hungarian": "hu",
    "romanian": "ro",
    "greek": "el",
}


def lemmatize(word: str, language: str) -> str:
    """Map an inflected form to its dictionary form with simplemma ("said" -> "say", "found" -> "find").

    Snowball stemming only strips suffixes, so irregular forms would never meet their
    base form; a question asking what someone "said" must match "say" and vice versa.
    """
    iso = ISO_CODES.get(language)
    if iso is None:
        return word
    import simplemma

    return simplemma.lemmatize(word, lang=iso).casefold()


# "-ship" nouns made from a person or act noun ("relationship", "leadership",
# "membership", "dictatorship") mean the relation itself, but Snowball keeps the
# suffix, so "relationship" never meets "relations". Compounds of the noun "ship"
# ("battleship", "flagship", "hardship") do not end their first part this way.
_SHIP_NOUN = re.compile(r"([^\W\d_]{3,}(?:ion|er|or|an|en))ship(s?)")


def strip_ship(word: str) -> str:
    """ "relationships" -> "relations", "leadership" -> "leader"; other words unchanged."""
    match = _SHIP_NOUN.fullmatch(word)
    return match.group(1) + match.group(2) if match else word


def adjective_of_adverb(word: str) -> str:
    """ "militarily" -> "military", "easily" -> "easy"; other words unchanged.

    Snowball takes "-ly" off "quickly" but keeps "-ily" ("militarili" against "militari"), so
    "intervened militarily" did not meet "military intervention". The "-y" word must be one
    simplemma knows, so "family" (no "famy") stays; words under six letters ("daily", "lily")
    are left alone.
    """
    if len(word) < 6 or not word.endswith("ily"):
        return word
    import simplemma

    adjective = word[:-3] + "y"
    return adjective if simplemma.is_known(adjective, lang="en") else word


@lru_cache(maxsize=500_000)
def _stem_word(language: str, raw: str) -> str:
    """Map a raw word to its term, or "" for a stop word; cached so each word is analyzed once."""
    stop_words = STOP_WORDS_BY_LANGUAGE.get(language, ())
    word = normalize(raw)
    if word in stop_words:
        return ""
    word = strip_possessive(word)
    if not word or word in stop_words:
        return ""
    word = lemmatize(word, language)
    if word in stop_words:
        return ""
    if language in ENGLISH:
        word = adjective_of_adverb(countries_by_demonym().get(word) or strip_ship(word))
    return _stemmer_for(language).stemWord(word)
