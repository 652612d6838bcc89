"""Rank chunks for a list of query terms, reading only those terms' postings."""

from __future__ import annotations

from typing import NamedTuple

from index.bm25 import accumulate
from index.bm25 import top_k
from index.store import IndexFile


class Hit(NamedTuple):
    """A ranked chunk: its position in the index and its BM25 score."""

    idx: int
    score: float


def search(index: IndexFile, terms: list[str], k: int = 10) -> list[Hit]:
    """Return the *k* best chunks for *terms* (repeats count, as in rank_bm25).

    Chunks that share no term with the query score 0 and are never returned.
    """
    postings = index.postings(terms)
    lists = [(postings[t][0], postings[t][1]) for t in terms if t in postings]
    candidates, scores = accumulate(index.stats.n_chunks, lists)
    positive = scores > 0
    ids, best = top_k(candidates[positive], scores[positive], k)
    return [Hit(int(i), float(s)) for i, s in zip(ids, best, strict=True)]
