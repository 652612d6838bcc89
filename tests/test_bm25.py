"""Our scores must be rank_bm25's BM25Okapi scores, through a real SQLite index file."""

import random

import numpy as np
import pytest
import sqlite_utils
from rank_bm25 import BM25Okapi

from index import bm25
from index.analysis import ANALYZER_VERSION
from index.bm25 import Bm25Params
from index.bm25 import TermList
from index.bm25 import accumulate
from index.bm25 import build_matrix
from index.bm25 import exact_top_k
from index.bm25 import okapi_impacts
from index.bm25 import split_top
from index.bm25 import top_k
from index.postings_file import CountArrays
from index.postings_file import MappedPostings
from index.postings_file import PostingsWriter
from index.retrieval import search
from index.store import FORMAT_VERSION
from index.store import IndexFile
from index.store import create_schema
from index.store import new_postings_path
from index.store import store_terms
from index.store import write_meta
from index.writer import CorpusCounts


def random_corpus(rng: random.Random, n_docs: int, vocab: int) -> list[list[str]]:
    words = [f"w{i}" for i in range(vocab)]
    weights = [1 / (i + 1) for i in range(vocab)]  # Zipf-like: common words get negative idf
    return [rng.choices(words, weights, k=rng.randint(1, 40)) for _ in range(n_docs)]


def write_index(path, corpus: list[list[str]], params: Bm25Params) -> None:
    """Store a token corpus as an index file (one chunk per token list)."""
    vocabulary: dict[str, int] = {}
    term_ids, tfs, posting_chunk = [], [], []
    for i, tokens in enumerate(corpus):
        counts: dict[str, int] = {}
        for t in tokens:
            counts[t] = counts.get(t, 0) + 1
        for t, tf in counts.items():
            term_ids.append(vocabulary.setdefault(t, len(vocabulary)))
            tfs.append(tf)
            posting_chunk.append(i)
    postings = new_postings_path(path)
    counts = np.bincount(posting_chunk, minlength=len(corpus)).astype(np.int32)
    lengths = np.array([len(d) for d in corpus], np.int32)
    with PostingsWriter(postings, 0) as out:  # as a build writes them
        arrays = out.finish(CountArrays(interleaved(term_ids, tfs), lengths, counts))
        m = build_matrix(
            arrays.term_ids, arrays.tfs, counts, lengths, len(vocabulary), params, (arrays.chunk_ids, arrays.impacts)
        )
    db = sqlite_utils.Database(path)
    create_schema(db)
    store_terms(db, postings, vocabulary, m)
    write_meta(
        db,
        {
            "format_version": FORMAT_VERSION,
            "tokenization": {"analyzer": ANALYZER_VERSION},  # queried with tokens, but readable as this version's
            "chunks": len(corpus),
            "avgdl": m.stats.avgdl,
            "average_idf": m.stats.average_idf,
        },
    )
    db.conn.close()


def interleaved(term_ids, tfs) -> np.ndarray:
    """Term ids and frequencies as the pairs a postings file holds."""
    return np.column_stack((term_ids, tfs)).astype(np.int32).ravel() if len(term_ids) else np.zeros(0, np.int32)


def index_with_reference(path, corpus: list[list[str]], params: Bm25Params = bm25.DEFAULT_PARAMS):
    """Our index of *corpus* at *path*, and rank_bm25's model of the same corpus."""
    write_index(path, corpus, params)
    return IndexFile(path), BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)


def full_scores(index: IndexFile, query: list[str]) -> np.ndarray:
    postings = index.postings(query)
    ids, scores = accumulate(index.stats.n_chunks, [postings[t][:2] for t in query if t in postings])
    dense = np.zeros(index.stats.n_chunks)
    dense[ids] = scores
    return dense


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("params", [Bm25Params(), Bm25Params(1.2, 0.4, 0.5), Bm25Params(2.0, 1.0, 0.0)])
def test_scores_and_top10_equal_rank_bm25(tmp_path, seed, params, monkeypatch):
    monkeypatch.setattr(bm25, "IMPACT_BLOCK", 97)  # impacts computed over many blocks
    # postings grouped by the compiled loop for odd seeds, by numpy's sort for even ones
    monkeypatch.setattr(bm25, "COMPILED_GROUPING_MIN", 0 if seed % 2 else 10**9)
    rng = random.Random(seed)
    corpus = random_corpus(rng, rng.randint(30, 400), rng.randint(20, 300))
    index, reference = index_with_reference(tmp_path / "bm25.sqlite", corpus, params)
    for _ in range(25):
        query = rng.choices(list(reference.idf) + ["unknown"], k=rng.randint(1, 6))
        expected = reference.get_scores(query)
        got = full_scores(index, query)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
        want_top = [int(i) for i in np.argsort(-expected, kind="stable")[:10] if expected[i] > 0]
        hits = search(index, query, 10)  # the ranking's own sums, not full_scores'
        assert [h.idx for h in hits] == want_top
        np.testing.assert_allclose([h.score for h in hits], expected[want_top], rtol=0, atol=1e-9)


def test_negative_idf_uses_epsilon_floor(tmp_path):
    corpus = [["common", "rare"], ["common"], ["common", "other"], ["common"]]
    path = tmp_path / "neg.sqlite"
    write_index(path, corpus, Bm25Params())
    reference = BM25Okapi(corpus)
    index = IndexFile(path)
    assert reference.idf["common"] == pytest.approx(0.25 * reference.average_idf)
    np.testing.assert_allclose(full_scores(index, ["common"]), reference.get_scores(["common"]), atol=1e-12)


def test_top_k_breaks_ties_by_lower_id():
    ids, scores = top_k(np.array([5, 1, 9, 3]), np.array([1.0, 2.0, 2.0, 1.0]), 3)
    assert ids.tolist() == [1, 9, 3]
    assert scores.tolist() == sorted(scores.tolist(), reverse=True)


def test_query_without_known_terms_returns_nothing(tmp_path):
    path = tmp_path / "x.sqlite"
    write_index(path, [["a", "b"], ["b", "c"]], Bm25Params())
    assert search(IndexFile(path), ["zzz"], 5) == []
    assert search(IndexFile(path), [], 5) == []


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dense_share", [0.0, 1e9])
def test_pruned_top_k_equals_rank_bm25(tmp_path, seed, dense_share, monkeypatch):
    """MaxScore pruning (forced on, and on a corpus large enough to use it) keeps the exact top 10.

    Partial scores are summed both ways: in a dense array (dense_share 0) and by sorting (1e9).
    """
    monkeypatch.setattr(bm25, "DENSE_SHARE", dense_share)
    rng = random.Random(100 + seed)
    corpus = random_corpus(rng, 5000, 2000)
    index, reference = index_with_reference(tmp_path / "big.sqlite", corpus)
    vocabulary = list(reference.idf)
    for _ in range(30):
        query = rng.choices(vocabulary[:50], k=rng.randint(1, 3)) + rng.choices(vocabulary, k=rng.randint(0, 3))
        expected = reference.get_scores(query)
        want = [int(i) for i in np.argsort(-expected, kind="stable")[:10] if expected[i] > 0]
        hits = search(index, query, 10)
        assert [h.idx for h in hits] == want
        np.testing.assert_allclose([h.score for h in hits], expected[want], rtol=0, atol=1e-9)
        postings = index.postings(query)
        lists = [
            TermList(postings[t].ids, postings[t].impacts, postings[t].top_ids, postings[t].rest_max)
            for t in query
            if t in postings
        ]
        ids, scores = exact_top_k(index.stats.n_chunks, lists, 10, prune_min_postings=0)
        assert ids.tolist() == want
        # Weighted terms (a follow-up's borrowed terms) prune exactly too.
        weights = [rng.choice([0.25, 0.5, 1.0, 2.0]) for _ in lists]
        weighted = [t._replace(weight=w) for t, w in zip(lists, weights, strict=True)]
        ids, scores = exact_top_k(index.stats.n_chunks, weighted, 10, prune_min_postings=0)
        dense = np.zeros(index.stats.n_chunks)
        for t in weighted:
            dense[t.ids] += t.impacts * t.weight
        best = [int(i) for i in np.argsort(-dense, kind="stable")[:10] if dense[i] > 0]
        assert ids.tolist() == best
        np.testing.assert_allclose(scores, dense[best], rtol=0, atol=1e-9)


@pytest.mark.parametrize("dense_share", [0.0, 1e9])
def test_pruning_with_short_top_lists_equals_adding_every_list(dense_share, monkeypatch):
    """Top lists of 8 postings leave most of the work to the bounds: every pruning step must be safe."""
    monkeypatch.setattr(bm25, "DENSE_SHARE", dense_share)
    rng = np.random.default_rng(7)
    n_chunks = 3000
    for _ in range(300):
        lists = []
        for _ in range(rng.integers(2, 7)):
            ids = np.sort(rng.choice(n_chunks, size=rng.integers(1, 2500), replace=False)).astype(np.int32)
            impacts = rng.random(len(ids)) * rng.choice([0.1, 1.0, 5.0]) * rng.choice([0.5, 1.0])
            top_ids, rest_max = split_top(ids, impacts, 8)
            lists.append(TermList(ids, impacts, top_ids if len(top_ids) else ids, rest_max))
        dense = np.zeros(n_chunks)
        for t in lists:
            dense[t.ids] += t.impacts
        want = [int(i) for i in np.argsort(-dense, kind="stable")[:10] if dense[i] > 0]
        ids, scores = exact_top_k(n_chunks, lists, 10, prune_min_postings=0)
        assert ids.tolist() == want
        np.testing.assert_allclose(scores, dense[want], rtol=0, atol=1e-9)


def random_lists(rng: np.random.Generator, n_chunks: int) -> list[TermList]:
    lists = []
    for _ in range(rng.integers(1, 7)):
        ids = np.sort(rng.choice(n_chunks, size=rng.integers(1, n_chunks), replace=False)).astype(np.int32)
        # Few distinct impact values, so that many chunks tie; some zero or negative
        # (rank_bm25's epsilon floor is negative when the mean idf is).
        impacts = rng.integers(-1, 4, len(ids)) * rng.choice([0.5, 1.0, 1.5])
        weight = float(rng.choice([1.0, 1.0, 0.5, 2.0]))
        lists.append(TermList(ids, impacts.astype(np.float64), ids, 0.0, weight))
    return lists


def dense_reference(n_chunks: int, lists: list[TermList], k: int) -> tuple[list[int], list[float]]:
    """The top *k* by adding every list in double precision, ties to the lower chunk id."""
    dense = np.zeros(n_chunks)
    for t in lists:
        dense[t.ids] += t.impacts * t.weight
    want = [int(i) for i in np.argsort(-dense, kind="stable")[:k] if dense[i] > 0]
    return want, dense[want].tolist()


def test_compiled_ranking_equals_adding_every_list_ties_included():
    from index.kernels import dense_top_k

    rng = np.random.default_rng(11)
    for _ in range(300):
        n_chunks = int(rng.integers(2, 400))
        lists = random_lists(rng, n_chunks)
        k = int(rng.integers(1, 15))
        want, want_scores = dense_reference(n_chunks, lists, k)
        for _ in range(2):  # the second call checks the reused buffer was left clean
            ids, scores = dense_top_k(n_chunks, lists, k)
            assert ids.tolist() == want
            assert scores.tolist() == want_scores  # bit-equal: same additions, same order
    assert dense_top_k(10, [], 5)[0].tolist() == []


def test_compiled_ranking_of_near_ties_is_exact():
    """Positive impacts are added in single precision first: chunks whose scores differ in
    the last bits of double precision look equal there, and the exact top k must still come
    out, with rank_bm25's bits."""
    from index.kernels import dense_top_k

    rng = np.random.default_rng(23)
    for _ in range(300):
        n_chunks = int(rng.integers(2, 3000))
        lists = []
        for _ in range(rng.integers(1, 9)):
            ids = np.sort(rng.choice(n_chunks, size=rng.integers(1, n_chunks + 1), replace=False)).astype(np.int32)
            # A few values, each nudged by a few units of double precision's last place.
            base = rng.choice([0.25, 1.0, 3.0], len(ids)) * rng.choice([1.0, 7.3])
            impacts = base * (1 + rng.integers(0, 4, len(ids)) * 2.0**-50)
            lists.append(TermList(ids, impacts, ids, 0.0, float(rng.choice([1.0, 1.0, 0.5, 0.125]))))
        k = int(rng.integers(1, 15))
        want, want_scores = dense_reference(n_chunks, lists, k)
        for _ in range(2):  # the second call checks both buffers were left clean
            ids, scores = dense_top_k(n_chunks, lists, k)
            assert ids.tolist() == want
            assert scores.tolist() == want_scores


def test_compiled_ranking_of_scores_split_differently_is_exact():
    """Chunks whose exact scores differ by a millionth of single precision's resolution, each
    the sum of several terms split differently: single-precision rounding orders them at
    random, and only the first pass's margin keeps the exact top k among its candidates."""
    from index.kernels import dense_top_k

    rng = np.random.default_rng(29)
    for _ in range(100):
        n_chunks, n_terms = int(rng.integers(50, 2000)), int(rng.integers(2, 6))
        totals = 1.0 + rng.integers(0, 8, n_chunks) * 2.0**-44
        shares = rng.dirichlet(np.ones(n_terms), n_chunks)  # each chunk's total split over the terms
        ids = np.arange(n_chunks, dtype=np.int32)
        lists = [TermList(ids, totals * shares[:, t], ids, 0.0) for t in range(n_terms)]
        k = int(rng.integers(1, 15))
        want, want_scores = dense_reference(n_chunks, lists, k)
        for _ in range(2):
            ids, scores = dense_top_k(n_chunks, lists, k)
            assert ids.tolist() == want
            assert scores.tolist() == want_scores


@pytest.mark.parametrize(
    "case", ["thousands tie", "scores rise chunk after chunk", "an impact single precision cannot hold"]
)
def test_compiled_ranking_is_exact_where_the_first_pass_gives_up(case):
    """Past what the single-precision pass can keep (thousands of chunks within its margin of
    the k-th best) or hold (an impact below its range), the ranking adds in double precision."""
    from index.kernels import dense_top_k

    n_chunks = 20_000
    ids = np.arange(n_chunks, dtype=np.int32)
    if case == "thousands tie":
        impacts = np.where(ids % 3 == 0, 2.0, 1.0)  # 6,667 chunks tie for the top
    elif case == "scores rise chunk after chunk":
        impacts = 1.0 + ids * 1e-7  # each chunk beats the last: every one is kept, then dropped
    else:
        impacts = np.where(ids == 7, 1e-35, 1.0 + (ids % 5))
    other = TermList(ids[::2].copy(), np.full(n_chunks // 2, 0.5), ids[::2].copy(), 0.0)
    lists = [TermList(ids, impacts, ids, 0.0), other]
    for k in (1, 10, 50):
        want, want_scores = dense_reference(n_chunks, lists, k)
        for _ in range(2):
            found, scores = dense_top_k(n_chunks, lists, k)
            assert found.tolist() == want and scores.tolist() == want_scores


@pytest.mark.parametrize("halves", [1, 2])
def test_compiled_grouping_places_postings_as_a_stable_sort_does(halves):
    from index.kernels import impacts_by_term

    rng = np.random.default_rng(5)
    for n_terms, n_chunks in ((1, 4000), (7, 4000), (1000, 4000), (50, 1), (50, 3)):
        term_ids = (rng.zipf(1.5, 20_000) % n_terms).astype(np.int32)
        posting_chunk = np.sort(rng.integers(0, n_chunks, len(term_ids))).astype(np.int32)
        tfs = rng.integers(1, 5, len(term_ids)).astype(np.int32)
        lengths = rng.integers(1, 200, n_chunks).astype(np.int32)
        df = np.bincount(term_ids, minlength=n_terms + 3)  # and terms no chunk uses any more
        idf = rng.random(len(df))
        counts = np.bincount(posting_chunk, minlength=len(lengths))
        chunk_ids, impacts = impacts_by_term(term_ids, tfs, counts, lengths, df, idf, 80.0, 1.5, 0.75, halves)
        order = np.argsort(term_ids, kind="stable")
        assert chunk_ids.tolist() == posting_chunk[order].tolist()
        want = okapi_impacts(idf[term_ids[order]], tfs[order], lengths[posting_chunk[order]], 80.0, Bm25Params())
        assert impacts.tobytes() == want.tobytes()


@pytest.mark.parametrize("params", [Bm25Params(), Bm25Params(1.2, 0.4, 0.5)])
def test_compiled_impacts_are_the_same_floats_as_numpys(monkeypatch, params):
    rng = np.random.default_rng(3)
    n_chunks, n_postings, n_terms = 5000, 60000, 3000
    posting_chunk = np.sort(rng.integers(0, n_chunks, n_postings)).astype(np.int32)
    term_ids = rng.integers(0, n_terms, n_postings).astype(np.int32)
    tfs = rng.integers(1, 9, n_postings).astype(np.int32)
    lengths = rng.integers(1, 300, n_chunks).astype(np.int32)
    monkeypatch.setattr(bm25, "COMPILED_GROUPING_MIN", 10**12)
    counts = np.bincount(posting_chunk, minlength=n_chunks)
    by_numpy = build_matrix(term_ids, tfs, counts, lengths, n_terms, params)
    monkeypatch.setattr(bm25, "COMPILED_GROUPING_MIN", 0)
    compiled = build_matrix(term_ids, tfs, counts, lengths, n_terms, params)
    assert np.array_equal(compiled.chunk_ids, by_numpy.chunk_ids)
    assert compiled.impacts.tobytes() == by_numpy.impacts.tobytes()
    assert compiled.df.dtype == by_numpy.df.dtype and np.array_equal(compiled.df, by_numpy.df)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("room", ["enough", "too little"])
def test_impacts_computed_into_the_postings_file_are_the_ones_computed_in_memory(tmp_path, monkeypatch, compiled, room):
    """A build appends its counts into the mapped postings file (or, past the room it reserved,
    in memory) and computes its impacts straight into it: read back as a server maps it,
    the file holds the counts appended and the very arrays the in-memory computation gives."""
    rng = np.random.default_rng(11)
    n_chunks, n_postings, n_terms = 3000, 40001, 2000  # an odd count: the impacts start 8-byte aligned
    posting_chunk = np.sort(rng.integers(0, n_chunks, n_postings)).astype(np.int32)
    term_ids = rng.integers(0, n_terms, n_postings).astype(np.int32)
    tfs = rng.integers(1, 9, n_postings).astype(np.int32)
    lengths = rng.integers(1, 300, n_chunks).astype(np.int32)
    counts = np.bincount(posting_chunk, minlength=n_chunks).astype(np.int32)
    monkeypatch.setattr(bm25, "COMPILED_GROUPING_MIN", 0 if compiled else 10**12)
    in_memory = build_matrix(term_ids, tfs, counts, lengths, n_terms)
    path = tmp_path / "postings"
    expected = n_postings if room == "enough" else 1000
    with PostingsWriter(path, expected) as out:
        corpus = CorpusCounts(out.room, expected)
        starts = np.concatenate(([0], np.cumsum(counts)))
        for a in range(0, n_chunks, 700):  # documents of 700 chunks
            z = min(a + 700, n_chunks)
            p, q = starts[a], starts[z]
            corpus.append(lengths[a:z], counts[a:z], term_ids[p:q], tfs[p:q])
        taken = corpus.take()
        assert (taken.pairs.base is out.room) == (room == "enough")
        arrays = out.finish(taken)
        into_file = build_matrix(
            arrays.term_ids, arrays.tfs, counts, lengths, n_terms, out=(arrays.chunk_ids, arrays.impacts)
        )
        assert into_file.chunk_ids is arrays.chunk_ids and into_file.impacts is arrays.impacts
    mapped = MappedPostings(path, n_postings, n_chunks)
    assert mapped.ids.tolist() == in_memory.chunk_ids.tolist()
    assert mapped.impacts.tobytes() == in_memory.impacts.tobytes()
    assert np.array_equal(into_file.ptr, in_memory.ptr) and into_file.idf.tobytes() == in_memory.idf.tobytes()
    stored = mapped.counts
    assert stored.pairs.tolist() == interleaved(term_ids, tfs).tolist()
    assert stored.lengths.tolist() == lengths.tolist() and stored.counts.tolist() == counts.tolist()


def test_a_postings_file_of_chunks_without_postings_is_read_back(tmp_path):
    """Chunks of stop words alone have lengths and counts but no postings."""
    path = tmp_path / "postings"
    with PostingsWriter(path, 0) as out:
        arrays = out.finish(CountArrays(np.zeros(0, np.int32), np.zeros(3, np.int32), np.zeros(3, np.int32)))
        assert len(arrays.chunk_ids) == len(arrays.impacts) == 0
    mapped = MappedPostings(path, 0, 3)
    assert mapped.counts.lengths.tolist() == [0, 0, 0] and len(mapped.ids) == 0
    with pytest.raises(ValueError, match="holds 24 bytes, not 32"):
        MappedPostings(path, 0, 4)
