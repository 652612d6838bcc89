"""BM25 with rank-bm25's BM25Okapi semantics, precomputed per posting.

rank_bm25 computes, for each query term q and chunk d,

    idf(q) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))

with idf(q) = log(N - df + 0.5) - log(df + 0.5), and every negative idf replaced by
``epsilon * mean(idf)`` (the mean over all terms of the corpus). Everything in that
product is known at build time, so we store the product ("impact") for each
(term, chunk) posting and a query only adds up the impacts of its own terms. The
float operations are done in rank_bm25's order, so the scores are the same numbers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any
from typing import NamedTuple

import numpy as np


class Bm25Params(NamedTuple):
    """The BM25Okapi parameters, with rank-bm25's defaults."""

    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25


DEFAULT_PARAMS = Bm25Params()


class Bm25Stats(NamedTuple):
    """Corpus-wide numbers a query needs besides the postings."""

    n_chunks: int
    avgdl: float
    average_idf: float


class PostingMatrix(NamedTuple):
    """Impacts grouped by term: term t owns ``chunk_ids[ptr[t]:ptr[t+1]]`` (ascending)."""

    ptr: np.ndarray  # int64, len = n_terms + 1
    chunk_ids: np.ndarray  # int32
    impacts: np.ndarray  # float64
    df: np.ndarray  # int64 per term
    idf: np.ndarray  # float64 per term (0 where df == 0)
    stats: Bm25Stats


def okapi_idf(df: np.ndarray, n_chunks: int, epsilon: float) -> tuple[np.ndarray, float]:
    """Return (idf per term, mean idf) exactly as ``BM25Okapi._calc_idf`` does.

    Terms with ``df == 0`` do not occur in the corpus: rank_bm25 never sees them, so
    they get idf 0 and stay out of the mean.
    """
    present = df > 0
    # idf depends on df alone: evaluate math.log once per distinct df, as rank_bm25 does.
    distinct = np.unique(df[present])
    table = {int(f): math.log(n_chunks - int(f) + 0.5) - math.log(int(f) + 0.5) for f in distinct}
    idf = np.zeros(len(df), dtype=np.float64)
    if not table:
        return idf, 0.0
    lookup = np.array([table[int(f)] for f in distinct])
    idf[present] = lookup[np.searchsorted(distinct, df[present])]
    # fsum: exactly rounded, so the mean does not depend on the vocabulary's order
    # (an incremental build numbers terms differently from a full one).
    average_idf = math.fsum(idf[present].tolist()) / int(present.sum())
    idf[present & (idf < 0)] = epsilon * average_idf
    return idf, average_idf


def build_matrix(
    term_ids: np.ndarray,
    tfs: np.ndarray,
    counts: np.ndarray,
    doc_len: np.ndarray,
    n_terms: int,
    params: Bm25Params = DEFAULT_PARAMS,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> PostingMatrix:
    """Compute every (term, chunk) impact from raw term frequencies.

    :param term_ids: term of each posting (each term at most once per chunk)
    :param tfs: its frequency in the chunk
    :param counts: the number of postings of each chunk, whose postings come one chunk after the other
    :param doc_len: number of terms of each chunk
    :param n_terms: size of the vocabulary (term ids are below it)
    :param out: int32 and float64 arrays of one entry per posting to write the chunk ids
        and impacts into (a build maps them from its postings file: no second copy in
        memory), instead of new arrays
    """
    n_chunks = len(doc_len)
    if n_chunks == 0:
        empty = np.zeros(0)
        return PostingMatrix(
            np.zeros(n_terms + 1, np.int64),
            empty.astype(np.int32),
            empty,
            np.zeros(n_terms, np.int64),
            np.zeros(n_terms),
            Bm25Stats(0, 0.0, 0.0),
        )
    avgdl = int(doc_len.sum()) / n_chunks
    count = _kernel("occurrences", len(term_ids))
    df = count(term_ids, n_terms) if count else np.bincount(term_ids, minlength=n_terms).astype(np.int64)
    idf, average_idf = okapi_idf(df, n_chunks, params.epsilon)
    compiled = _kernel("impacts_by_term", len(term_ids))
    if compiled is not None:
        halves = 2 if (os.cpu_count() or 1) > 1 else 1
        chunk_ids, impacts = compiled(term_ids, tfs, counts, doc_len, df, idf, avgdl, params.k1, params.b, halves, out)
    else:
        posting_chunk = np.repeat(np.arange(n_chunks, dtype=np.int32), counts)
        order = np.argsort(term_ids, kind="stable")  # by term, in chunk order within each
        if out is None:
            out = np.empty(len(order), dtype=np.int32), np.empty(len(order), dtype=np.float64)
        chunk_ids, impacts = out
        # In blocks, so that a million chunks' temporaries do not all live at once.
        for a in range(0, len(order), IMPACT_BLOCK):
            idx = order[a : a + IMPACT_BLOCK]
            chunk_ids[a : a + len(idx)] = posting_chunk[idx]
            impacts[a : a + len(idx)] = okapi_impacts(
                idf[term_ids[idx]], tfs[idx], doc_len[posting_chunk[idx]], avgdl, params
            )
    ptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=ptr[1:])
    return PostingMatrix(ptr, chunk_ids, impacts, df, idf, Bm25Stats(n_chunks, avgdl, average_idf))


#: Postings whose impacts are computed together (bounds the build's temporary memory).
IMPACT_BLOCK = 1 << 22
#: From this many postings, a compiled loop groups them by term and computes their impacts (worth loading numba for).
COMPILED_GROUPING_MIN = 2_000_000


def _kernel(name: str, n_postings: int) -> Callable[..., Any] | None:
    """The compiled build loop *name* (index/kernels.py) for a build this large, or None.

    None for small builds (loading numba costs more than it saves) and where numba is
    unavailable: the callers then run the same computation in numpy.
    """
    if n_postings < COMPILED_GROUPING_MIN:
        return None
    try:
        from index import kernels
    except (ImportError, OSError, RuntimeError):
        return None
    return getattr(kernels, name)


def okapi_impacts(
    idf: np.ndarray, tfs: np.ndarray, lengths: np.ndarray, avgdl: float, params: Bm25Params
) -> np.ndarray:
    """``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl))`` per posting.

    The same expression in the same evaluation order as ``BM25Okapi.get_scores``,
    so each impact is the very float rank_bm25 adds for that term and chunk.
    """
    k1, b = params.k1, params.b
    q_freq = tfs.astype(np.int64)
    length = lengths.astype(np.int64)
    return idf * (q_freq * (k1 + 1) / (q_freq + k1 * (1 - b + b * length / avgdl)))


def accumulate(n_chunks: int, postings: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum the impacts of each query term, in query order, over the chunks they touch.

    Returns (candidate chunk ids ascending, their scores). Adding term by term in the
    query's order reproduces rank_bm25's float sums; chunks no term touches score 0
    and are left out.
    """
    lists = [ids for ids, _ in postings if len(ids)]
    if not lists:
        return np.zeros(0, np.int32), np.zeros(0)
    scores = np.zeros(n_chunks, dtype=np.float64)
    for ids, impacts in postings:
        scores[ids] += impacts
    candidates = np.unique(np.concatenate(lists)) if len(lists) > 1 else lists[0]
    return candidates, scores[candidates]


def score_candidates(candidates: np.ndarray, postings: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Exact scores of *candidates* (ascending ids), adding each term's impact in query order.

    Looks each candidate up in each posting list by binary search, so a long list
    costs log(length) per candidate instead of its whole length.
    """
    scores = np.zeros(len(candidates), dtype=np.float64)
    for ids, impacts in postings:
        if not len(ids) or not len(candidates):
            continue
        pos = np.searchsorted(ids, candidates)
        pos[pos == len(ids)] = 0
        found = ids[pos] == candidates
        scores[found] += impacts[pos[found]]
    return scores


#: Below this many postings in all, adding up every list is cheaper than pruning.
PRUNE_MIN_POSTINGS = 20_000
#: How many of a term's largest impacts are kept apart for the first pruning pass.
TOP_POSTINGS = 256


def split_top(ids: np.ndarray, impacts: np.ndarray, n: int = TOP_POSTINGS) -> tuple[np.ndarray, float]:
    """The chunks of a term's *n* largest impacts (ascending ids) and a bound on all the others.

    A term with at most *n* postings returns an empty array (meaning: all of them) and 0.
    """
    if len(ids) <= n:
        return np.zeros(0, np.int32), 0.0
    cut = np.argpartition(impacts, len(impacts) - n)
    top = np.sort(ids[cut[len(impacts) - n :]])
    return top, float(impacts[cut[: len(impacts) - n]].max())


class TermList(NamedTuple):
    """What the ranking needs of one query term: postings, pruning bounds and its weight.

    The impacts are the stored ones; *weight* scales them where they are added, so a
    weighted query copies no posting list.
    """

    ids: np.ndarray
    impacts: np.ndarray
    top_ids: np.ndarray
    rest_max: float
    weight: float = 1.0

    def weighted(self) -> TermList:
        """The same term with its weight multiplied into impacts and bound (weight 1)."""
        if self.weight == 1.0:
            return self
        return TermList(self.ids, self.impacts * self.weight, self.top_ids, self.rest_max * self.weight)


def exact_top_k(
    n_chunks: int, terms: list[TermList], k: int, prune_min_postings: int = PRUNE_MIN_POSTINGS
) -> tuple[np.ndarray, np.ndarray]:
    """The *k* best chunks, with scores exactly equal to adding up every posting list.

    *terms* are the query's terms in query order (a repeated term appears twice).
    1. Score exactly the chunks of every term's largest impacts: the k-th best of
       those scores is a threshold theta that the final top k cannot fall below.
    2. A chunk outside every such top list gets at most ``rest_max`` from each term.
       Terms whose ``rest_max`` bounds add up to less than theta cannot lift such a
       chunk into the top k on their own ("non-essential"), so only the other
       ("essential") terms' lists are read in full. Their impacts give each chunk
       they touch a partial score; a chunk whose partial score plus the
       non-essential bounds stays below theta is dropped unscored (MaxScore).
    3. The survivors are scored exactly by binary search in every list, adding the
       terms in query order as rank_bm25 does.
    """
    terms = [t.weighted() for t in terms]
    pairs = [(t.ids, t.impacts) for t in terms]
    total = sum(len(ids) for ids, _ in pairs)
    if total == 0:
        return np.zeros(0, np.int32), np.zeros(0)
    if total < prune_min_postings or len(pairs) == 1:
        return _top_of_all(n_chunks, pairs, k)
    seed = np.unique(np.concatenate([t.top_ids for t in terms]))
    seed_scores = score_candidates(seed, pairs)
    theta = float(np.partition(seed_scores, len(seed) - k)[len(seed) - k]) if len(seed) >= k else 0.0
    if theta <= 0:
        return _top_of_all(n_chunks, pairs, k)
    cut = theta * (1 - 1e-9)  # float slack: never drop a chunk that could tie theta
    essential: list[TermList] = []
    optional: list[TermList] = []
    bound = 0.0  # the most the non-essential terms can add to a chunk outside the top lists
    for t in sorted(terms, key=lambda t: t.rest_max):
        rest = max(t.rest_max, 0.0)
        if bound + rest < cut:
            bound += rest
            optional.append(t)
        else:
            essential.append(t)
    # Chunks the essential lists touch, if their impacts there plus the bound can reach theta.
    cand, partial = _partials(n_chunks, [t for t in essential if len(t.ids)], cut - bound)
    outside = ~np.isin(cand, seed, assume_unique=True)  # seed chunks are scored anyway
    cand, partial = cand[outside], partial[outside]
    if len(cand) > k:
        # The best partial scores are likely top chunks: scoring them exactly raises theta.
        best = cand[np.argpartition(partial, len(cand) - k)[len(cand) - k :]]
        known = np.concatenate([seed_scores, score_candidates(np.sort(best), pairs)])
        theta = max(theta, float(np.partition(known, len(known) - k)[len(known) - k]))
        cut = theta * (1 - 1e-9)
        keep = partial + bound >= cut
        cand, partial = cand[keep], partial[keep]
    # Probe the non-essential lists, largest bound first, dropping chunks that fall behind.
    for t in sorted(optional, key=lambda t: -t.rest_max):
        if not len(cand):
            break
        bound -= max(t.rest_max, 0.0)
        if len(t.ids):
            pos = np.searchsorted(t.ids, cand)
            pos[pos == len(t.ids)] = 0
            found = t.ids[pos] == cand
            partial[found] += t.impacts[pos[found]]
        keep = partial + max(bound, 0.0) >= cut
        cand, partial = cand[keep], partial[keep]
    candidates = np.union1d(seed, cand) if len(cand) else seed
    scores = score_candidates(candidates, pairs)
    positive = scores > 0
    return top_k(candidates[positive], scores[positive], k)


def _top_of_all(n_chunks: int, pairs: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best *k* by adding up every list in full (no pruning)."""
    candidates, scores = accumulate(n_chunks, pairs)
    positive = scores > 0
    return top_k(candidates[positive], scores[positive], k)


#: Essential postings above this share of the corpus are summed into a dense array.
DENSE_SHARE = 1 / 32


def _partials(n_chunks: int, essential: list[TermList], floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The chunks (ascending) where the essential lists' impacts add up to at least *floor* (> 0), and those sums."""
    if not essential:
        return np.zeros(0, np.int32), np.zeros(0)
    size = sum(len(t.ids) for t in essential)
    if size > DENSE_SHARE * n_chunks:
        dense = np.zeros(n_chunks)
        for t in essential:
            dense[t.ids] += t.impacts
        touched = np.flatnonzero(dense >= floor).astype(np.int32)
        return touched, dense[touched]
    ids = np.concatenate([t.ids for t in essential])
    impacts = np.concatenate([t.impacts for t in essential])
    touched, inverse = np.unique(ids, return_inverse=True)
    sums = np.bincount(inverse, weights=impacts, minlength=len(touched))
    keep = sums >= floor
    return touched[keep], sums[keep]


def top_k(candidates: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best *k* by score, ties broken by lower chunk id (as a stable argsort of -scores)."""
    if len(candidates) > k:
        cut = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= cut
        candidates, scores = candidates[keep], scores[keep]
    order = np.lexsort((candidates, -scores))[:k]
    return candidates[order], scores[order]
