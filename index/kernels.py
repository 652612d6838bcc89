"""Compiled loops (numba): a query's ranking, and a large build's grouping of postings by term.

Scores are built exactly as rank_bm25 builds them (0.0 plus each term's impact, in
query order), so no pruning is needed to stay exact, and a compiled loop over every
posting is faster than pruning in numpy up to millions of chunks; a first pass in
single precision only narrows down which chunks get that exact sum (``dense_top_k``).
Imported lazily (numba takes half a second to load): only large builds use it, to
group postings.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import types

from index.bm25 import TermList

_SCORES = types.Array(types.float64, 1, "C")
_IDS = types.Array(types.int32, 1, "C", readonly=True)
_IMPACTS = types.Array(types.float64, 1, "C", readonly=True)


@numba.njit(types.void(_SCORES, _IDS, _IMPACTS, types.float64), cache=True, nogil=True)
def _add(scores, ids, impacts, weight):  # pragma: no cover - compiled
    """Add one term's (weighted) impacts to its chunks' scores.

    The posting lists are mapped read-only from the index file, so nothing is
    copied: a query's work is this scatter, one pass per term in query order.
    """
    if weight == 1.0:
        for p in range(len(ids)):
            scores[ids[p]] += impacts[p]
    else:
        for p in range(len(ids)):
            scores[ids[p]] += impacts[p] * weight


@numba.njit(types.Tuple((types.int64[:], types.float64[:]))(_SCORES, types.int64), cache=True, nogil=True)
def _collect(scores, k):  # pragma: no cover - compiled
    """The *k* best positive scores and their chunks; the buffer is left zeroed.

    One sequential pass over every chunk's score is several times faster than
    walking the posting lists a second time: those reads are random, this one is
    a stream the prefetcher follows. Scanning in ascending id order and taking
    only strictly better scores breaks ties by lower id, as a stable sort does.
    """
    n = len(scores)
    best_score = np.zeros(k)
    best_id = np.full(k, n, np.int64)  # empty slots: score 0, an id past every chunk
    weakest, bar = 0, 0.0
    for chunk in range(n):
        s = scores[chunk]
        if s > bar:
            best_score[weakest] = s
            best_id[weakest] = chunk
            weakest = 0
            for j in range(1, k):
                if best_score[j] < best_score[weakest] or (
                    best_score[j] == best_score[weakest] and best_id[j] > best_id[weakest]
                ):
                    weakest = j
            bar = best_score[weakest]
    scores[:] = 0.0
    return best_id, best_score


#: First-pass impacts outside these bounds (or not numbers) send a query down the double
#: precision path: single precision holds these to nearly full relative precision.
_SINGLE_MIN, _SINGLE_MAX = 1e-30, 1e30
_SCORES_SINGLE = types.Array(types.float32, 1, "C")


@numba.njit(types.boolean(_SCORES_SINGLE, _IDS, _IMPACTS, types.float64), cache=True, nogil=True)
def _add_single(scores, ids, impacts, weight):  # pragma: no cover - compiled
    """``_add`` into single-precision scores; False when an impact (weighted) is not within
    ``_SINGLE_MIN``..``_SINGLE_MAX``, where the first pass's error bound would not hold."""
    fine = True
    for p in range(len(ids)):
        x = impacts[p] * weight  # times 1.0: the impact itself
        if not (_SINGLE_MIN <= x <= _SINGLE_MAX):
            fine = False
        scores[ids[p]] += np.float32(x)
    return fine


#: Scores ``_candidates`` looks at together: one vectorized maximum per block, and only a
#: block whose maximum reaches the cut is looked at score by score (a 32-score block
#: halved the pass at 1.3M chunks; 64 was slower than none).
_BLOCK = 32
#: Chunks ``_candidates`` can keep at once: far more than ever come near the k-th best,
#: except where thousands of chunks tie (copies of one document).
_KEPT = 4096


@numba.njit(cache=True, nogil=True)
def _above(kept, kept_score, n_kept, cut):  # pragma: no cover - compiled
    """Keep, in order, the kept chunks scoring at least *cut*; return how many."""
    n = 0
    for i in range(n_kept):
        if kept_score[i] >= cut:
            kept[n] = kept[i]
            kept_score[n] = kept_score[i]
            n += 1
    return n


@numba.njit(
    types.Tuple((types.int32[:], types.boolean))(_SCORES_SINGLE, types.int64, types.float32), cache=True, nogil=True
)
def _candidates(scores, k, factor):  # pragma: no cover - compiled
    """The chunks whose score is positive and at least *factor* times the *k*-th best, in
    ascending order, and True; or False when more than ``_KEPT`` of them come that near
    (ties). The buffer is left zeroed either way.

    One pass: the k-th best so far only rises, so a chunk below *factor* times it when
    met is below *factor* times the final one too.
    """
    n = len(scores)
    best = np.zeros(k, np.float32)
    weakest, bar, cut = 0, np.float32(0.0), np.float32(0.0)
    kept = np.empty(_KEPT, np.int32)
    kept_score = np.empty(_KEPT, np.float32)
    n_kept, complete = 0, True
    for start in range(0, n, _BLOCK):
        end = min(start + _BLOCK, n)
        top = np.float32(0.0)
        if end - start == _BLOCK:
            for j in range(_BLOCK):  # a fixed count: unrolled into vector instructions
                top = max(top, scores[start + j])
        else:
            for j in range(start, end):
                top = max(top, scores[j])
        if top == 0.0:
            continue
        if top < cut:
            scores[start:end] = 0.0
            continue
        for chunk in range(start, end):
            s = scores[chunk]
            if not (s >= cut and s > 0.0):
                continue
            if n_kept == _KEPT:  # drop those the cut has passed since
                n_kept = _above(kept, kept_score, n_kept, cut)
            if n_kept < _KEPT:
                kept[n_kept] = chunk
                kept_score[n_kept] = s
                n_kept += 1
            else:
                complete = False
            if s > bar:
                best[weakest] = s
                weakest = 0
                for j in range(1, k):
                    if best[j] < best[weakest]:
                        weakest = j
                bar = best[weakest]
                cut = np.float32(bar * factor)
        scores[start:end] = 0.0
    n_kept = _above(kept, kept_score, n_kept, cut)
    return kept[:n_kept].copy(), complete


_buffers = threading.local()


def dense_top_k(n_chunks: int, terms: list[TermList], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The *k* best chunks by adding every posting list in compiled code: exact, no pruning.

    Faster than pruning in numpy up to millions of chunks: the work is a tight loop
    over the query's postings and one pass over a score per chunk. At a million chunks
    that is mostly moving scores through memory, so the lists are first added in single
    precision (half the bytes to scatter into, scan and clear); then only the chunks
    that could be in the top *k* are scored again, in double precision and in query
    order, as rank_bm25 adds them (``add_found``): the same scores and top *k* as adding
    everything in double precision.

    Why the first pass misses none: each of a chunk's at most *n* positive terms is
    rounded once to single precision and each sum once more, so its single-precision
    score is within a relative (n + 1) * 2^-24 of the exact one. With *m* twice that,
    every chunk of the exact top *k* scores in single precision at least
    (1 - m) / (1 + m) times the k-th best single-precision score, and those are the
    chunks ``_candidates`` keeps. A query with an impact that is not a positive number
    in single precision's comfortable range (a negative idf under rank_bm25's epsilon
    floor) is added in double precision throughout, as before. Each thread keeps its
    own score buffers.
    """
    lists = [t for t in terms if len(t.ids)]
    if not lists:
        return np.zeros(0, np.int32), np.zeros(0)
    typed = [(_readonly(t.ids, np.int32), _readonly(t.impacts, np.float64), float(t.weight)) for t in lists]
    single = _buffer("single", n_chunks, np.float32)
    fine = True
    for ids, impacts, weight in typed:
        fine = _add_single(single, ids, impacts, weight) and fine
    complete = False
    if fine:
        margin = 2 * (len(typed) + 1) * 2.0**-24
        factor = np.float32((1 - margin) / (1 + margin) * (1 - 2.0**-23))  # rounded to float32 downwards
        candidates, complete = _candidates(single, max(k, 1), factor)
    else:
        single[:] = 0.0
    if complete:
        best_id, best_score = candidates, np.zeros(len(candidates))
        for ids, impacts, weight in typed:
            _add_found(best_score, candidates, ids, impacts, weight)
    else:
        double = _buffer("double", n_chunks, np.float64)
        for ids, impacts, weight in typed:
            _add(double, ids, impacts, weight)
        found_id, best_score = _collect(double, max(k, 1))
        best_id = found_id[found_id < n_chunks]
        best_score = best_score[found_id < n_chunks]
    positive = best_score > 0
    best_id, best_score = best_id[positive], best_score[positive]
    order = np.lexsort((best_id, -best_score))[:k]
    return best_id[order].astype(np.int32), best_score[order]


def _buffer(name: str, n_chunks: int, dtype: type) -> np.ndarray:
    """This thread's zeroed score buffer *name* for *n_chunks* chunks."""
    buffer: np.ndarray | None = getattr(_buffers, name, None)
    if buffer is None or len(buffer) != n_chunks:
        buffer = np.zeros(n_chunks, dtype)
        setattr(_buffers, name, buffer)
    return buffer


def add_found(scores: np.ndarray, candidates: np.ndarray, ids: np.ndarray, impacts: np.ndarray, weight: float) -> None:
    """Add one term's (weighted) impact to each candidate chunk it occurs in: ``retrieval.score_chunks``' step.

    *candidates* and *ids* ascend, so each candidate's posting is found by binary
    search; the addition is the full search's (``_add``), so the sums are the same.
    """
    _add_found(scores, candidates, ids, impacts, float(weight))


@numba.njit(cache=True, nogil=True)
def _add_found(scores, candidates, ids, impacts, weight):  # pragma: no cover - compiled
    low = 0
    for c in range(len(candidates)):
        chunk = candidates[c]
        high = len(ids)
        while low < high:  # the first posting at or past *chunk*, from the previous candidate's on
            mid = (low + high) // 2
            if ids[mid] < chunk:
                low = mid + 1
            else:
                high = mid
        if low < len(ids) and ids[low] == chunk:
            if weight == 1.0:
                scores[c] += impacts[low]
            else:
                scores[c] += impacts[low] * weight


def _readonly(array: np.ndarray, dtype: type) -> np.ndarray:
    """*array* as the compiled code takes it: contiguous, of *dtype*, read-only (as mapped lists are)."""
    view: np.ndarray = np.ascontiguousarray(array, dtype=dtype).view()
    view.flags.writeable = False
    return view


@numba.njit(cache=True, nogil=True)
def _impacts_by_term(
    term_ids, tfs, counts, doc_len, idf, avgdl, k1, b, next_slot, chunk_ids, impacts, first_chunk
):  # pragma: no cover - compiled
    p = 0
    for chunk in range(len(counts)):
        length = np.int64(doc_len[chunk])
        for _ in range(counts[chunk]):
            term = term_ids[p]
            q_freq = np.int64(tfs[p])
            slot = next_slot[term]
            next_slot[term] = slot + 1
            chunk_ids[slot] = first_chunk + chunk
            # okapi_impacts' expression, operation for operation (no fastmath): the same floats.
            impacts[slot] = idf[term] * (q_freq * (k1 + 1) / (q_freq + k1 * (1 - b + b * length / avgdl)))
            p += 1


def occurrences(ids: np.ndarray, n: int) -> np.ndarray:
    """``np.bincount(ids, minlength=n)`` for ids below *n*, as int64.

    ``np.bincount`` first copies int32 ids to int64: at a million chunks, 660 MB of
    new memory whose page faults cost the build's serial tail seconds.
    """
    return _occurrences(ids, n)


@numba.njit(cache=True, nogil=True)
def _occurrences(ids, n):  # pragma: no cover - compiled
    out = np.zeros(n, np.int64)
    for i in ids:
        out[i] += 1
    return out


def impacts_by_term(
    term_ids: np.ndarray,
    tfs: np.ndarray,
    counts: np.ndarray,
    doc_len: np.ndarray,
    df: np.ndarray,
    idf: np.ndarray,
    avgdl: float,
    k1: float,
    b: float,
    halves: int = 1,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each posting's chunk and BM25 impact, grouped by term in chunk order: ``bm25.build_matrix``'s loop in one pass.

    A counting sort that computes as it places: the postings are read in the order
    they were written (chunk after chunk, *counts* of each) and each goes to the next
    free slot of its term (*df* sizes each term's run), so every term's run comes out
    in chunk order, as a stable sort by term gives. Reading in order and writing to
    one moving place per term is twice as fast at a million chunks as sorting the
    positions first and then gathering the postings through them (a random read per
    posting), and needs no array of positions nor of each posting's chunk.

    With *halves* 2, two threads place the first and the second half of the chunks at
    once (the loop releases the GIL): the second half starts each term where the
    first half's postings of it end, so every posting lands in the slot one pass gives.

    :param out: the ``(chunk_ids, impacts)`` arrays to fill (a mapped postings file),
        instead of new ones
    """
    next_slot = np.zeros(len(df), np.int64)
    np.cumsum(df[:-1], out=next_slot[1:])
    if out is None:
        out = np.empty(len(term_ids), np.int32), np.empty(len(term_ids), np.float64)
    chunk_ids, impacts = out
    stats = (idf, float(avgdl), float(k1), float(b))
    middle = len(counts) // 2 if halves == 2 else 0
    if middle == 0:
        _impacts_by_term(term_ids, tfs, counts, doc_len, *stats, next_slot, chunk_ids, impacts, 0)
        return chunk_ids, impacts
    split = int(counts[:middle].sum())
    later_slot = next_slot + occurrences(term_ids[:split], len(df))
    first = (term_ids[:split], tfs[:split], counts[:middle], doc_len[:middle], *stats, next_slot)
    later = (term_ids[split:], tfs[split:], counts[middle:], doc_len[middle:], *stats, later_slot)
    with ThreadPoolExecutor(1) as pool:
        second = pool.submit(_impacts_by_term, *later, chunk_ids, impacts, middle)
        _impacts_by_term(*first, chunk_ids, impacts, 0)
        second.result()
    return chunk_ids, impacts
