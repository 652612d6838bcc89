"""Rank chunks for a query, reading only its terms' postings.

The ranking adds up the postings in compiled code (index/kernels.py); where numba
is not available it prunes in numpy instead (MaxScore, index/bm25.py). Both give
rank_bm25's scores and top k exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from index.bm25 import TermList
from index.bm25 import exact_top_k
from index.store import IndexFile

Ranker = Callable[[int, list[TermList], int], tuple[np.ndarray, np.ndarray]]
_ranker: Ranker | None = None


def ranker() -> Ranker:
    """The fastest exact top-k available here, loaded (and compiled) on first use."""
    global _ranker
    if _ranker is None:
        try:
            from index.kernels import dense_top_k
        except (ImportError, OSError, RuntimeError):  # no numba here, or nowhere to keep its compiled code
            _ranker = exact_top_k
        else:
            ids, impacts = _one_mapped_posting()
            dense_top_k(1, [TermList(ids, impacts, ids, 0.0)], 1)  # compiled now, not at a question
            _ranker = dense_top_k
    return _ranker


def _one_mapped_posting() -> tuple[np.ndarray, np.ndarray]:
    """A one-posting list (chunk 0, impact 1.0) typed as mapped postings are (int32 ids,
    float64 impacts, both read-only): what warms a compiled loop up for real queries."""
    ids, impacts = np.zeros(1, np.int32), np.ones(1)
    ids.flags.writeable = impacts.flags.writeable = False
    return ids, impacts


class Hit(NamedTuple):
    """A ranked chunk: its position in the index and its BM25 score."""

    idx: int
    score: float


def search_weighted(
    index: IndexFile, terms: list[tuple[str, float]], k: int = 10
) -> tuple[list[Hit], dict[str, float]]:
    """Return the *k* best chunks for weighted terms, and the idf of each known term.

    With every weight 1 the scores are exactly rank_bm25's ``get_scores`` for the
    same term list (repeats count); a weight scales that term's contribution.
    Chunks that share no term with the query score 0 and are never returned.
    """
    postings = index.postings(term for term, _ in terms)
    lists = []
    for term, weight in terms:
        p = postings.get(term)
        if p is None:
            continue
        lists.append(TermList(p.ids, p.impacts, p.top_ids, p.rest_max, weight))
    ids, scores = ranker()(index.stats.n_chunks, lists, k)
    hits = [Hit(int(i), float(s)) for i, s in zip(ids, scores, strict=True)]
    return hits, {term: p.idf for term, p in postings.items()}


def search(index: IndexFile, terms: list[str], k: int = 10) -> list[Hit]:
    """Return the *k* best chunks for *terms*, scored exactly as rank_bm25 would."""
    return search_weighted(index, [(t, 1.0) for t in terms], k)[0]


Adder = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float], None]
_add_found: Adder | None = None


def rescorer() -> Adder:
    """``score_chunks``' step in compiled code where numba is available, else in numpy.

    Compiled on first use, with the types of mapped postings: the server calls this
    before forking its workers, so that no question waits for the compiler.
    """
    global _add_found
    if _add_found is None:
        try:
            from index.kernels import add_found
        except (ImportError, OSError, RuntimeError):  # as in ranker()
            _add_found = add_found_numpy
        else:
            ids, impacts = _one_mapped_posting()
            add_found(np.zeros(1), np.zeros(1, np.int32), ids, impacts, 0.5)
            _add_found = add_found
    return _add_found


def add_found_numpy(
    scores: np.ndarray, candidates: np.ndarray, ids: np.ndarray, impacts: np.ndarray, weight: float
) -> None:
    """Add one term's (weighted) impact to each ascending candidate chunk it occurs in."""
    at = np.minimum(np.searchsorted(ids, candidates), len(ids) - 1)
    found = np.where(ids[at] == candidates, impacts[at], 0.0)  # adding 0.0 changes no score
    scores += found if weight == 1.0 else found * weight


def score_chunks(index: IndexFile, terms: list[tuple[str, float]], idxs: list[int]) -> list[Hit]:
    """Score the given chunks for weighted terms, best first: the same numbers a full search gives them.

    Each term's postings are ascending chunk ids, so each chunk's impact is found by
    binary search: the cost grows with the candidates, not with the corpus.
    """
    candidates = np.unique(np.asarray(idxs, dtype=np.int32))
    scores = np.zeros(len(candidates))
    postings = index.postings(term for term, _ in terms)
    add = rescorer()
    for term, weight in terms:  # in query order, as the full search adds them
        p = postings.get(term)
        if p is not None and len(candidates):
            add(scores, candidates, p.ids, p.impacts, weight)
    order = np.lexsort((candidates, -scores))
    return [Hit(int(candidates[i]), float(scores[i])) for i in order if scores[i] > 0]
