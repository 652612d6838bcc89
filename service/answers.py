"""Answer a question extractively: the best sentences of the best passages, cited.

No model: a sentence is chosen for the question terms it contains (weighted by
idf), how close together they are, how well its passage ranked and whether it
offers what the question asks for. Only passages that hold enough of the question
may answer (see ``answerable``); when none does, the answer says the documents do
not hold it, and the passages are offered as related reading.
This module does not import Flask: the API, the pages and ``docqa ask`` share it.
"""

from __future__ import annotations

import math
import re
import time
from bisect import bisect_left
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from index.analysis import Analyzer
from index.analysis import Token
from index.chunking import Span
from index.chunking import sentence_spans
from index.errors import InvalidQuestion
from index.feedback import search_with_feedback
from index.store import ChunkRow
from index.store import IndexFile

NOT_FOUND_TEXT = "I could not find an answer to that in the documents. The closest passages are listed below."
NO_MATCH_TEXT = "I could not find an answer to that in the documents: none of them use any word of the question."
NO_TERMS_TEXT = "Your question has no searchable words (only stop words or punctuation); ask with more specific words."
MAX_HISTORY = 20
MIN_PASSAGE_COVERAGE = 0.75
#: Distinct question terms that, found together in a passage, halve the coverage it needs.
CORROBORATING_TERMS = 3
#: Share of the coverage a passage needs when it holds the question's key terms (``answerable``).
FOCUSED_SHARE = 0.75
#: A question term weighing this share of its heaviest term is a key term.
KEY_TERM_SHARE = 0.8
ANSWER_PASSAGES = 5
INFORMATIVE_SHARE = 0.25
MAX_SENTENCES = 3
NEXT_SENTENCE_RATIO = 0.8
UNSEEN_WEIGHT = 0.5
#: How much a sentence's score leans on its passage's BM25 score (relative to the best passage).
PASSAGE_WEIGHT = 0.6

_PRONOUNS = {
    "he",
    "she",
    "it",
    "they",
    "him",
    "her",
    "them",
    "his",
    "hers",
    "its",
    "their",
    "theirs",
    "this",
    "that",
    "these",
    "those",
    "there",
    "then",
}
_DEPENDENT_START = re.compile(
    r"^(?:he|she|it|they|his|her|its|their|this|that|these|those|such|there|then|but|however|also|"
    r"moreover|furthermore|thus|therefore|so|and|yet|instead|still)\b",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[^\W_]+")
# Words that say what form the answer takes, which the answer rarely repeats: "how many/much" (a
# quantity), "what year/century" (a date), "the name/type/kind of", "what happened to X" (events),
# "what does X think/feel about" (a stance: "Lavrov said Russia is rather negative about the ICC").
_QUESTION_FORM = re.compile(
    r"\bhow\s+(?:many|much)\b|(?<=\bwhat\s)(?:happened|happens|happen)\b"
    r"|\b(?:names?|types?|kinds?|sorts?)(?=\s+of\b)|\b(?:what|which)\s+(?:year|century|decade|date)\b"
    r"|(?<=\s)(?:think|thinks|thought|feel|feels|felt|believe|believes|believed)\b"
    r"(?=\s+(?:about|of|on|that)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class QueryTerm:
    """A term to look for, with its weight (1 for the question, less when borrowed)."""

    term: str
    weight: float


def validate(question: Any, history: Any, top_k: Any, max_chars: int) -> tuple[str, list[str], int]:
    """Check the request fields and return them cleaned.

    :raises InvalidQuestion: a field is missing, empty, too long or of the wrong type
    """
    if not isinstance(question, str):
        raise InvalidQuestion('"question" must be a string, e.g. {"question": "Who leads Yisrael Beyteinu?"}.')
    if len(question) > max_chars:
        raise InvalidQuestion(f"The question is {len(question)} characters long; the limit is {max_chars}. Shorten it.")
    question = question.strip()
    if not question:
        raise InvalidQuestion("The question is empty; type a question.")
    if history is None:
        history = []
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise InvalidQuestion('"history" must be a list of earlier questions (strings), oldest first.')
    history = [h[:max_chars] for h in history[-MAX_HISTORY:]]
    if top_k is None:
        top_k = 5
    if isinstance(top_k, float) and top_k.is_integer():  # JSON has one number type: 5.0 is 5
        top_k = int(top_k)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 20:
        raise InvalidQuestion('"top_k" must be a whole number from 1 to 20.')
    return question, history, top_k


def query_terms(analyzer: Analyzer, question: str, history: list[str]) -> list[QueryTerm]:
    """The question's terms, plus earlier questions' terms at a lower weight for a follow-up.

    A follow-up is a question that leans on what came before: it uses a pronoun, or
    it has at most one content term. A question that stands on its own is unchanged.
    """
    own = analyzer.terms(_QUESTION_FORM.sub(" ", question))
    terms = [QueryTerm(t, 1.0) for t in own]
    words = {w.casefold() for w in _WORDS.findall(question)}
    if not history or not (words & _PRONOUNS or len(set(own)) <= 1):
        return terms
    seen = set(own)
    weight = 0.5
    for earlier in reversed(history[-3:]):
        for term in dict.fromkeys(analyzer.terms(earlier)):
            if term not in seen:
                seen.add(term)
                terms.append(QueryTerm(term, weight))
        weight /= 2
    return terms


def retrieve(
    index: IndexFile, analyzer: Analyzer, terms: list[QueryTerm], k: int, feedback_terms: int = 0
) -> tuple[list[tuple[int, float]], dict[str, float]]:
    """Rank chunks by weighted BM25, the question widened by *feedback_terms* words of its best passages.

    Without feedback and with weights all 1 this is exactly rank_bm25's score.
    """
    weighted = [(t.term, t.weight) for t in terms]
    hits, idf = search_with_feedback(index, analyzer, weighted, k, feedback_terms)
    return [(h.idx, h.score) for h in hits], {term: max(value, 0.0) for term, value in idf.items()}


#: Every ASCII byte that is not a letter or digit (what ``_WORDS`` leaves out of ASCII text) -> a space.
_ASCII_NON_WORD = bytes(c if chr(c).isalnum() and c < 128 else 32 for c in range(256))
#: A character of ``_WORDS`` outside ASCII (a letter or digit such as "é").
_NON_ASCII_WORD_CHARACTER = re.compile(r"[^\W\x00-\x7f]")


def _casefolded_words(text: str) -> list[str]:
    """``_WORDS``' matches in *text*, casefolded.

    An answer takes the words of each of its ten or so passages to find near-duplicates,
    and the pattern's per-character test was most of that. When every letter and digit
    of the text is ASCII (curly quotes, dashes and no-break spaces are not letters), its
    words are the runs of ASCII letters and digits and casefolding is lowering: every
    other character made a space by one table lookup (``bytes.translate``, after
    ``encode`` made each other character a "?") and ``split`` give the same words
    several times faster. Other text takes the pattern.
    """
    if text.isascii() or not _NON_ASCII_WORD_CHARACTER.search(text):
        return text.encode("ascii", "replace").lower().translate(_ASCII_NON_WORD).decode("ascii").split()
    return list(map(str.casefold, _WORDS.findall(text)))


def _shingles(text: str) -> set[tuple[str, ...]]:
    """The passage's 3-word shingles (its words, if it has fewer than 3)."""
    words = _casefolded_words(text)
    if len(words) < 3:
        return {tuple(words)}
    return set(zip(words, words[1:], words[2:], strict=False))


def collapse_duplicates(chunks: list[ChunkRow]) -> list[list[ChunkRow]]:
    """Group passages that mostly repeat each other (half the 3-word shingles of the smaller one).

    Containment rather than Jaccard, because a repeated passage is usually chunked
    with different boundaries in its two places.

    The first (best-ranked) passage of each group leads it; the others become extra
    citations of the same result.
    """
    groups: list[tuple[set, list[ChunkRow]]] = []
    for chunk in chunks:
        shingles = _shingles(chunk.text)
        for lead_shingles, members in groups:
            smaller = min(len(shingles), len(lead_shingles)) or 1
            if len(shingles & lead_shingles) / smaller >= 0.5:
                members.append(chunk)
                break
        else:
            groups.append((shingles, [chunk]))
    return [members for _, members in groups]


@dataclass
class _Sentence:
    chunk: ChunkRow
    rank: int
    start: int  # offsets in the document text
    end: int
    score: float
    matched: set[str]


Tokenizer = Callable[[Analyzer, str], list[Token]]
_tokenizer: Tokenizer | None = None


def passage_tokenizer() -> Tokenizer:
    """``Analyzer.tokens``, its spans found in compiled code where numba is available
    (index/compiled_tokens.py: a third less time a passage), loaded on first use: the
    server calls this before forking its workers, so that no question waits for it."""
    global _tokenizer
    if _tokenizer is None:
        try:
            from index.compiled_tokens import token_spans
            from index.compiled_tokens import tokens
        except (ImportError, OSError, RuntimeError):  # as in index.retrieval.ranker()
            _tokenizer = Analyzer.tokens
        else:
            # Compiled (or loaded from numba's cache) now; no word is stemmed, which would
            # load the lemma dictionary before forking (service/server.py: warm_worker).
            token_spans("Warm up, caf\u00e9.")
            _tokenizer = tokens
    return _tokenizer


_START = attrgetter("start")
_END = attrgetter("end")


class _Read:
    """Each passage's tokens and sentences, worked out once per answer.

    Scoring, context, continuation and highlighting all look at the same few
    passages; tokenizing them once is most of an answer's cost.
    """

    def __init__(self, analyzer: Analyzer, index: IndexFile) -> None:
        self.analyzer = analyzer
        self.index = index
        self._tokens: dict[int, list[Token]] = {}
        self._sentences: dict[int, list[Span]] = {}
        self._sentence_tokens: dict[int, list[tuple[Span, list[Token]]]] = {}
        self._marked: dict[tuple[int, frozenset[str]], list[Token]] = {}

    def tokens(self, chunk: ChunkRow) -> list[Token]:
        if chunk.idx not in self._tokens:
            self._tokens[chunk.idx] = passage_tokenizer()(self.analyzer, chunk.text)
        return self._tokens[chunk.idx]

    def following(self, chunk: ChunkRow) -> ChunkRow | None:
        """The next passage of the same document, if any."""
        found = self.index.chunks([chunk.idx + 1])
        return found[0] if found and found[0].document_id == chunk.document_id else None

    def sentences(self, chunk: ChunkRow) -> list[Span]:
        if chunk.idx not in self._sentences:
            self._sentences[chunk.idx] = sentence_spans(chunk.text, language=self.analyzer.language)
        return self._sentences[chunk.idx]

    def sentence_tokens(self, chunk: ChunkRow) -> list[tuple[Span, list[Token]]]:
        """Each sentence of the passage with the tokens inside it: those from the first
        that starts at or after the sentence's start, up to the first that ends past its end.

        Tokens ascend and do not overlap, so their starts and ends both ascend and each
        sentence's tokens are found by binary search instead of a step per token.
        """
        if chunk.idx in self._sentence_tokens:
            return self._sentence_tokens[chunk.idx]
        tokens = self.tokens(chunk)
        starts = list(map(_START, tokens))
        ends = list(map(_END, tokens))
        out, i = [], 0
        for span in self.sentences(chunk):
            i = bisect_left(starts, span.start, i)
            j = bisect_right(ends, span.end, i)
            out.append((span, tokens[i:j]))
            i = j
        self._sentence_tokens[chunk.idx] = out
        return out

    def highlights(self, chunk: ChunkRow, terms: set[str], start: int = 0, end: int | None = None) -> list[list[int]]:
        """Spans of question terms in ``chunk.text[start:end]``, relative to *start*.

        An answer asks this of the same passages several times (whole, and per quoted
        sentence) with the same terms: the passage's tokens of those terms are kept.
        """
        end = len(chunk.text) if end is None else end
        key = (chunk.idx, frozenset(terms))
        marked = self._marked.get(key)
        if marked is None:
            marked = self._marked[key] = [t for t in self.tokens(chunk) if t.term in terms]
        return [[t.start - start, t.end - start] for t in marked if start <= t.start and t.end <= end]


def _score_sentences(
    read: _Read,
    chunk: ChunkRow,
    rank: int,
    passage_norm: float,
    weights: dict[str, float],
    total: float,
    expected: str | None,
    asked: set[str],
) -> list[_Sentence]:
    """Score each sentence of a passage by covered idf, term proximity, passage rank and answer type.

    *expected* is the kind of answer the question asks for (``expected_answer``), and
    *asked* the question's own words, which do not count as offering it.
    """
    out = []
    for span, tokens in read.sentence_tokens(chunk):
        positions = [i for i, tok in enumerate(tokens) if tok.term in weights]
        matched = {tokens[i].term for i in positions}
        covered = sum(weights[t] for t in matched)
        coverage = covered / total if total else 0.0
        if len(matched) >= 2:
            window = positions[-1] - positions[0] + 1
            proximity = len(matched) / window
        else:
            proximity = 1.0 if matched else 0.0
        short = 0.1 if len(tokens) < 4 else 0.0
        fits = TYPE_BONUS if expected and _offers(expected, chunk.text[span.start : span.end], asked) else 0.0
        score = coverage + 0.15 * proximity + PASSAGE_WEIGHT * passage_norm - short + fits
        out.append(_Sentence(chunk, rank, chunk.start + span.start, chunk.start + span.end, score, matched))
    return out


_ANSWER_TYPES = (
    (re.compile(r"^\W*(?:when|(?:in |by )?(?:what|which) (?:year|date|century|decade|month))\b", re.I), "time"),
    (re.compile(r"^\W*how (?:many|much|long|far|old|large|big|tall|high|often)\b", re.I), "number"),
    (re.compile(r"^\W*(?:who|whom|whose)\b", re.I), "name"),
    (re.compile(r"^\W*where\b", re.I), "name"),
)
_TIME = re.compile(
    r"\b(?:1\d{3}|20\d{2}|\d{1,2}(?:st|nd|rd|th) century|january|february|march|april|may|june|july|august"
    r"|september|october|november|december|spring|summer|autumn|winter)\b",
    re.I,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
    r"|hundred|thousand|million|billion|dozen|half|several)\b",
    re.I,
)
_NAME = re.compile(r"(?<=\S )[A-Z][\w’'-]+")
#: Added to a sentence's score when it offers what the question asks for (a date for "when").
TYPE_BONUS = 0.2


def expected_answer(question: str) -> str | None:
    """What kind of answer a question asks for: "time", "number", "name", or None."""
    for pattern, kind in _ANSWER_TYPES:
        if pattern.search(question):
            return kind
    return None


def _offers(kind: str, sentence: str, asked: set[str]) -> bool:
    """True if *sentence* holds a date, number or name that the question itself does not."""
    pattern = {"time": _TIME, "number": _NUMBER, "name": _NAME}[kind]
    return any(m.group().casefold() not in asked for m in pattern.finditer(sentence))


def document_url(document_id: str, start: int, end: int) -> str:
    """Link to the document view, scrolled to and highlighting a span.

    Written out rather than by ``urlencode``: an answer makes about eight of these, the
    id is hexadecimal and the offsets are integers, so nothing needs quoting.
    """
    return f"/documents/{document_id}?start={start:d}&end={end:d}#cited"


def _document(chunk: ChunkRow) -> dict[str, str]:
    return {"id": chunk.document_id, "title": chunk.title, "path": chunk.path}


def _place(chunk: ChunkRow, start: int | None = None, end: int | None = None) -> dict[str, Any]:
    start = chunk.start if start is None else start
    end = chunk.end if end is None else end
    return {
        "document": _document(chunk),
        "section": chunk.section,
        "chunk_id": chunk.id,
        "start": start,
        "end": end,
        "url": document_url(chunk.document_id, start, end),
    }


def answer(
    index: IndexFile,
    analyzer: Analyzer,
    question: str,
    history: list[str] | None = None,
    top_k: int = 5,
    min_coverage: float = MIN_PASSAGE_COVERAGE,
    feedback_terms: int = 0,
) -> dict[str, Any]:
    """Answer *question* from *index*; the result is the ``POST /api/ask`` body.

    :param min_coverage: share of the question's idf weight a passage must contain
        before its sentences may answer (half of it when three question terms meet
        there); higher abstains more often
    :param feedback_terms: words of the best passages added to the question before
        ranking (index/feedback.py); 0 ranks by the question alone. Whether a
        passage may answer, and what is highlighted, still depend on the question's
        own terms only.
    """
    started = time.perf_counter()
    terms = query_terms(analyzer, question, history or [])
    result: dict[str, Any] = {
        "question": question,
        "answered": False,
        "answer": None,
        "message": NOT_FOUND_TEXT,
        "citations": [],
        "passages": [],
        "took_ms": 0.0,
        "index": {"generation": index.generation, "built_at": index.meta.get("built_at")},
    }
    if not terms:
        result["message"] = NO_TERMS_TEXT
        result["took_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return result
    # Twice the passages needed, so that collapsing near-duplicates still leaves enough.
    hits, idf = retrieve(index, analyzer, terms, 2 * max(top_k, ANSWER_PASSAGES), feedback_terms)
    if not hits:  # no passage to list "below"
        result["message"] = NO_MATCH_TEXT
    # A term the documents never use still counts (half as much as the rarest term):
    # a question about "liquid nitrogen" is not answered by a sentence that only
    # shares "point", while one paraphrased word does not sink a good match.
    unseen = UNSEEN_WEIGHT * (math.log(index.stats.n_chunks + 0.5) - math.log(0.5))
    weights: dict[str, float] = {}
    for t in terms:
        weights[t.term] = max(weights.get(t.term, 0.0), idf.get(t.term, unseen) * t.weight)
    total = sum(weights.values())
    unseen_terms = set(weights) - set(idf)
    chunks = index.chunks(i for i, _ in hits)
    score_of = dict(hits)
    groups = collapse_duplicates(chunks)[: max(top_k, ANSWER_PASSAGES)]
    top_score = hits[0][1] if hits else 1.0
    read = _Read(analyzer, index)
    marked = set(weights)  # the terms highlighted wherever text is shown
    expected = expected_answer(question)
    asked = {w.casefold() for w in _WORDS.findall(question)}
    sentences: list[_Sentence] = []
    for rank, group in enumerate(groups[:ANSWER_PASSAGES], start=1):
        lead = group[0]
        norm = score_of[lead.idx] / top_score
        scored = _score_sentences(read, lead, rank, norm, weights, total, expected, asked)
        if answerable([s.matched for s in scored], weights, total, min_coverage, unseen_terms):
            sentences += scored
    chosen = _choose(sentences, weights)
    citations: list[dict[str, Any]] = []
    if chosen:
        result["answered"] = True
        result["message"] = None
        answer_sentences: list[dict[str, Any]] = []
        emitted: set[tuple[str, int]] = set()
        for sentence in chosen:
            chunk = sentence.chunk
            if (chunk.document_id, sentence.start) in emitted:  # already given as another's context
                continue
            spans = [(start, end, chunk) for start, end in _with_context(sentence, read)]
            following = _continuation(sentence, read, weights)
            if following:
                spans.append(following)
            # Context already given by another sentence is not given again.
            spans = [span for span in spans if (span[2].document_id, span[0]) not in emitted]
            # The citation marks every sentence given under its number: neighbours in one document.
            citations.append(
                {
                    "n": len(citations) + 1,
                    **_place(chunk, spans[0][0], spans[-1][1]),
                    "passage": {
                        "text": chunk.text,
                        "start": chunk.start,
                        "end": chunk.end,
                        "highlights": read.highlights(chunk, marked),
                    },
                }
            )
            n = len(citations)
            for start, end, source in spans:
                emitted.add((source.document_id, start))
                begin, stop = start - source.start, end - source.start
                answer_sentences.append(
                    {
                        "text": source.text[begin:stop],
                        "citation": n,
                        "start": start,
                        "end": end,
                        "highlights": read.highlights(source, marked, begin, stop),
                    }
                )
        result["answer"] = {"text": " ".join(s["text"] for s in answer_sentences), "sentences": answer_sentences}
    result["citations"] = citations
    if chosen:
        # The passage the answer comes from leads the list; the rest stay in BM25 order.
        lead_at = next(i for i, g in enumerate(groups) if g[0].idx == chosen[0].chunk.idx)
        groups = [groups[lead_at], *groups[:lead_at], *groups[lead_at + 1 :]]
    result["passages"] = [
        {
            "rank": rank,
            "score": round(score_of[group[0].idx], 6),
            **_place(group[0]),
            "text": group[0].text,
            "highlights": read.highlights(group[0], marked),
            "also_in": [_place(other) for other in group[1:]],
        }
        for rank, group in enumerate(groups[:top_k], start=1)
    ]
    result["took_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return result


def _choose(sentences: list[_Sentence], weights: dict[str, float]) -> list[_Sentence]:
    """Pick up to three good sentences from distinct places, best first.

    A sentence qualifies only if it shares an informative term with the question
    (one weighing at least a quarter of the heaviest term), so a sentence that only
    repeats "Russia" in a corpus about Russia is never offered as an answer.
    """
    floor = INFORMATIVE_SHARE * max(weights.values(), default=0.0)
    eligible = [s for s in sentences if any(weights[t] >= floor for t in s.matched)]
    if not eligible:
        return []
    eligible.sort(key=lambda s: (-s.score, s.rank, s.start))
    best = eligible[0]
    chosen = [best]
    for s in eligible[1:]:
        if len(chosen) == MAX_SENTENCES or s.score < NEXT_SENTENCE_RATIO * best.score:
            break
        if any(c.chunk.document_id == s.chunk.document_id and abs(c.start - s.start) < 200 for c in chosen):
            continue
        if _sentence_key(s) in {_sentence_key(c) for c in chosen}:  # the same words quoted elsewhere
            continue
        chosen.append(s)
    return chosen


def _sentence_key(sentence: _Sentence) -> str:
    """A sentence's words, case-folded: equal keys are the same sentence repeated."""
    text = sentence.chunk.text[sentence.start - sentence.chunk.start : sentence.end - sentence.chunk.start]
    return " ".join(_WORDS.findall(text.casefold()))


def answerable(
    matched: list[set[str]],
    weights: dict[str, float],
    total: float,
    min_coverage: float,
    unseen: set[str] | frozenset[str] = frozenset(),
) -> bool:
    """May a passage answer? *matched* holds the question terms of each of its sentences.

    It must hold *min_coverage* of the question's weight, or less when other evidence
    says it is on topic:

    - corroborated, half of it: at least three distinct question terms, two of them in
      one sentence. One or two words shared by chance are common (an off-topic "Who won
      the 2018 FIFA World Cup?" finds "world cup" somewhere); three words of the
      question together rarely are.
    - focused, three quarters of it: the passage misses no question term nearly as
      specific as the most specific one (80% of its idf), two question terms meet in
      one sentence, and the documents use every word of the question. What is missing
      then is the question's framing ("What does CBD *stand* for?", "What's Piketty's
      *job*?"), not its subject; a word the documents never use ("cello", "firmware")
      says the question is about something else.

    Measured on SQuAD with off-topic questions (bench/results/eval.md): 90% of the
    off-topic questions stay unanswered; the focused rule took the gold answer in the
    answer sentences from 80.0% to 82.0% of all 10,570 questions.
    """
    if not total:
        return False
    present = set().union(*matched)
    share = sum(weights[t] for t in present) / total
    if share >= min_coverage:
        return True
    paired = any(len(m) >= 2 for m in matched)
    if paired and len(present) >= CORROBORATING_TERMS and share >= min_coverage / 2:
        return True
    if not paired or unseen or share < FOCUSED_SHARE * min_coverage:
        return False
    key = KEY_TERM_SHARE * max(weights.values())
    return all(weight < key for term, weight in weights.items() if term not in present)


def _with_context(sentence: _Sentence, read: _Read) -> list[tuple[int, int]]:
    """The sentence, preceded by its neighbour when it starts like "He said" or "This"."""
    text = sentence.chunk.text[sentence.start - sentence.chunk.start : sentence.end - sentence.chunk.start]
    if not _DEPENDENT_START.match(text):
        return [(sentence.start, sentence.end)]
    previous = None
    for span in read.sentences(sentence.chunk):
        absolute = (sentence.chunk.start + span.start, sentence.chunk.start + span.end)
        if absolute[0] >= sentence.start:
            break
        previous = absolute
    if previous is None:
        return [(sentence.start, sentence.end)]
    base = sentence.chunk.start
    between = sentence.chunk.text[previous[1] - base : sentence.start - base]
    before = sentence.chunk.text[previous[0] - base : previous[1] - base]
    # Only a real sentence of the same paragraph gives context: not a heading or a byline.
    if "\n\n" in between or len(before.split()) < 5:
        return [(sentence.start, sentence.end)]
    return [previous, (sentence.start, sentence.end)]


def _continuation(sentence: _Sentence, read: _Read, weights: dict[str, float]) -> tuple[int, int, ChunkRow] | None:
    """The next sentence of the paragraph when it carries the answer on, with the passage holding it.

    It does when it leans on this one ("They ultimately decided ...", "These
    chloroplasts ...") or holds question terms this one lacks: SQuAD shows the
    answer often sits in the sentence after the one that repeats the question.
    At a passage's end the next sentence is looked for in the following passage.
    """
    chunk = sentence.chunk
    sentences = read.sentence_tokens(chunk)
    i = next((i for i, (span, _) in enumerate(sentences) if chunk.start + span.start == sentence.start), None)
    if i is None:
        return None
    holder: ChunkRow | None
    if i + 1 < len(sentences):
        holder, (following, tokens) = chunk, sentences[i + 1]
    else:
        holder = read.following(chunk)
        # The next passage must go on from this sentence: overlapping it, or one space on.
        if holder is None or not holder.start <= sentence.end + 1 <= holder.end + 1:
            return None
        later = [(sp, toks) for sp, toks in read.sentence_tokens(holder) if holder.start + sp.start >= sentence.end]
        if not later:
            return None
        following, tokens = later[0]
    between = holder.text[max(sentence.end - holder.start, 0) : following.start]
    if "\n\n" in between:
        return None
    text = holder.text[following.start : following.end]
    adds = bool(({t.term for t in tokens} & set(weights)) - sentence.matched)
    if not (adds or _DEPENDENT_START.match(text)):
        return None
    return holder.start + following.start, holder.start + following.end, holder
