"""Pseudo-relevance feedback: reorder a question's passages with the words of its best ones.

A question names its subject in a few words; the passages about that subject use
more words for it than the question does ("buckling" beside "stability" and
"cylinder", "shock" beside "boundary layer"). The question's best passages are
taken as relevant, their words are added to the question, weighted by how well
each passage ranked, and the widened question reorders the question's best
``CANDIDATES`` chunks. This is RM3 (Lavrenko and Croft's relevance model,
interpolated with the question) over docqa's own BM25 index:

- each of the best ``FEEDBACK_PASSAGES`` passages weighs ``exp(SCORE_SCALE * (score -
  best score))``: its share of the evidence falls off quickly below the best match;
- a passage counts with its neighbours in the same document, and with its title
  ``title_weight`` times when titles are indexed with chunks (as the build counts it
  in each chunk); each word's count is divided by the words of the whole;
- the ``n_terms`` heaviest words become query terms that together weigh as much as
  the question's own terms, which keep their weights.

Measured (bench/results/eval.md), 40 terms: Cranfield nDCG@10 0.3817 -> 0.4262,
SciFact 0.7038 -> 0.7006, SQuAD answers 82.1% -> 81.1%; 6-9 ms more a question
at 130,000 and 1.3M chunks (it reads and tokenizes up to 30 passages), which is why it is
off unless DOCQA_FEEDBACK_TERMS asks for it. The scores are rank_bm25's for the
weighted, widened question, not for the question alone.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from operator import itemgetter

from index.analysis import Analyzer
from index.errors import SettingError
from index.retrieval import Hit
from index.retrieval import score_chunks
from index.retrieval import search_weighted
from index.store import IndexFile

#: Chunks the widened question reorders: the question's best (measured: 50 or more keep all the gain).
CANDIDATES = 100
#: Passages whose words are added to the question (the best ones of the first search).
FEEDBACK_PASSAGES = 10
#: Most feedback words a question may take (DOCQA_FEEDBACK_TERMS).
MAX_FEEDBACK_TERMS = 200
#: How sharply a passage's share falls with its score: exp(SCORE_SCALE * (score - best score)).
SCORE_SCALE = 0.5
#: Passages weighing less than this (relative to the best) add nothing worth reading them for.
MIN_SHARE = 0.001
#: Share of the widened question's weight that stays with the question's own terms.
QUESTION_SHARE = 0.5


def check_feedback_terms(n_terms: int) -> int:
    """Return *n_terms* if it is a usable DOCQA_FEEDBACK_TERMS.

    :raises SettingError: it is negative or above ``MAX_FEEDBACK_TERMS``
    """
    if not 0 <= n_terms <= MAX_FEEDBACK_TERMS:
        raise SettingError(
            f"feedback_terms must be between 0 (off) and {MAX_FEEDBACK_TERMS}; 40 is the measured choice."
        )
    return n_terms


def feedback_weights(index: IndexFile, analyzer: Analyzer, hits: Sequence[Hit]) -> dict[str, float]:
    """The relevance model of the best passages: each term's probability, mixed by passage rank."""
    top = list(hits[:FEEDBACK_PASSAGES])
    if not top:
        return {}
    best = max(hit.score for hit in top)
    shares = {hit.idx: math.exp(SCORE_SCALE * (hit.score - best)) for hit in top}
    shares = {idx: share for idx, share in shares.items() if share >= MIN_SHARE}
    total_share = sum(shares.values())
    tokenization = index.meta.get("tokenization", {})
    title_times = int(tokenization.get("title_weight", 1)) if tokenization.get("title_in_chunks") else 0
    wanted = sorted({n for idx in shares for n in range(max(idx - 1, 0), idx + 2)})
    chunks = {chunk.idx: chunk for chunk in index.chunks(wanted)}
    counts = {idx: Counter(analyzer.terms(chunk.text)) for idx, chunk in chunks.items()}
    model: dict[str, float] = {}
    for idx, share in shares.items():
        chunk = chunks.get(idx)
        if chunk is None:
            continue
        # The passage in context: with its neighbours in the same document (whose
        # overlapping sentence counts twice, as it is indexed in both).
        context = Counter({term: n * title_times for term, n in Counter(analyzer.terms(chunk.title or "")).items()})
        for near in (idx - 1, idx, idx + 1):
            if near in chunks and chunks[near].document_id == chunk.document_id:
                context.update(counts[near])
        length = sum(context.values())
        if not length:
            continue
        weight = share / total_share / length
        for term, n in context.items():
            model[term] = model.get(term, 0.0) + weight * n
    return model


def widen(terms: Sequence[tuple[str, float]], model: dict[str, float], n_terms: int) -> list[tuple[str, float]]:
    """The question's weighted terms plus the model's *n_terms* heaviest, weighing as much in all.

    The question's terms keep their weights (so a term the feedback does not pick
    scores as before); a picked term that is also in the question gains weight.
    """
    picked = heapq.nlargest(n_terms, model.items(), key=itemgetter(1))
    picked_total = sum(p for _, p in picked)
    question_total = sum(weight for _, weight in terms)
    if not picked_total or not question_total:
        return list(terms)
    scale = question_total * (1 - QUESTION_SHARE) / QUESTION_SHARE / picked_total
    widened: dict[str, float] = {}
    for term, weight in terms:
        widened[term] = widened.get(term, 0.0) + weight
    for term, p in picked:
        widened[term] = widened.get(term, 0.0) + p * scale
    return list(widened.items())


def search_with_feedback(
    index: IndexFile, analyzer: Analyzer, terms: Sequence[tuple[str, float]], k: int, n_terms: int
) -> tuple[list[Hit], dict[str, float]]:
    """Rank with the question widened by its best passages' words (see the module docstring).

    The widened question reorders the question's own ``CANDIDATES`` best chunks
    rather than searching again: its extra words then cost a binary search per
    candidate instead of a pass over their (often long) posting lists, and every
    passage offered still holds a word of the question. Returns the *k* best
    chunks and the idf of the question's known terms. With *n_terms* 0 it is one
    plain search.
    """
    if n_terms <= 0:
        return search_weighted(index, list(terms), k)
    hits, idf = search_weighted(index, list(terms), max(k, CANDIDATES))
    if not hits:
        return hits, idf
    widened = widen(terms, feedback_weights(index, analyzer, hits), n_terms)
    return score_chunks(index, widened, [hit.idx for hit in hits])[:k], idf
