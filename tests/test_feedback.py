"""Pseudo-relevance feedback over a real index: exact rescoring, and the reordering it is for."""

import random

import numpy as np
import pytest

from index.analysis import Analyzer
from index.build import build_index
from index.errors import SettingError
from index.feedback import search_with_feedback
from index.retrieval import add_found_numpy
from index.retrieval import score_chunks
from index.retrieval import search_weighted
from index.settings import BuildSettings
from index.store import IndexFile
from service import create_app
from service.answers import answer
from tests.test_bm25 import index_with_reference
from tests.test_bm25 import random_corpus

# The question "what do quokkas eat" is about the first passage. The wallaby passage
# shares only "eat" with it but much of its vocabulary; the shark passage shares only
# "eat" and is shorter, so the question alone ranks it above the wallaby.
PASSAGES = {
    "quokka.txt": "Quokkas eat leaves, grasses, shrubs and stems. The quokka is a small marsupial "
    "that browses at night in dense scrub, chewing leaves and grasses.",
    "wallaby.txt": "Wallabies eat shrubs, stems, grasses and leaves. By night this marsupial browses "
    "scrub, where grasses are chewed slowly with dense leaves; by day it rests in shade, far from the coast.",
    "shark.txt": "Sharks eat fish and seals.",
    # Unrelated passages, so that "eat" is a word of a few documents, not of most.
    "bees.txt": "Honey bees communicate the location of flowers with a waggle dance.",
    "otters.txt": "Sea otters hold hands while sleeping so that they do not drift apart.",
    "penguins.txt": "Emperor penguins huddle together to survive the Antarctic winter.",
    "octopus.txt": "An octopus has three hearts and blue blood.",
}


@pytest.fixture
def index(tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    for name, text in PASSAGES.items():
        (folder / name).write_text(text)
    build_index(folder, tmp_path / "index.sqlite", BuildSettings())
    opened = IndexFile(tmp_path / "index.sqlite")
    yield opened
    opened.close()


def paths(index: IndexFile, hits) -> list[str]:
    return [chunk.path for chunk in index.chunks(hit.idx for hit in hits)]


def test_feedback_ranks_a_passage_like_the_best_one_above_a_mere_word_match(index):
    analyzer = Analyzer()
    terms = [(t, 1.0) for t in analyzer.terms("what do quokkas eat")]
    alone, _ = search_weighted(index, terms, 10)
    assert paths(index, alone) == ["quokka.txt", "shark.txt", "wallaby.txt"]
    widened, idf = search_with_feedback(index, analyzer, terms, 10, 40)
    assert paths(index, widened) == ["quokka.txt", "wallaby.txt", "shark.txt"]
    assert set(idf) == {t for t, _ in terms}


def test_no_feedback_is_one_plain_search(index):
    analyzer = Analyzer()
    terms = [(t, 1.0) for t in analyzer.terms("what do quokkas eat")]
    assert search_with_feedback(index, analyzer, terms, 2, 0) == search_weighted(index, terms, 2)


def test_feedback_changes_the_order_not_the_question_for_answers(index):
    analyzer = Analyzer()
    plain = answer(index, analyzer, "What do quokkas eat?")
    widened = answer(index, analyzer, "What do quokkas eat?", feedback_terms=40)
    assert [p["document"]["path"] for p in widened["passages"]] == ["quokka.txt", "wallaby.txt", "shark.txt"]
    assert widened["answer"]["text"] == plain["answer"]["text"]
    # Only the question's words are highlighted, not the feedback's ("leaves", "grasses").
    wallaby = widened["passages"][1]
    marked = {wallaby["text"][a:b].lower() for a, b in wallaby["highlights"]}
    assert marked == {"eat"}


@pytest.mark.parametrize(("feedback", "order"), [(0, ["shark", "wallaby"]), (40, ["wallaby", "shark"])])
def test_the_api_ranks_with_the_configured_feedback(index, feedback, order):
    app = create_app({"TESTING": True, "INDEX": str(index.path), "FEEDBACK_TERMS": feedback})
    response = app.test_client().post("/api/ask", json={"question": "What do quokkas eat?"})
    assert response.status_code == 200
    assert [p["document"]["path"] for p in response.json["passages"]] == ["quokka.txt", *(f"{o}.txt" for o in order)]


@pytest.mark.parametrize("seed", range(4))
def test_rescored_candidates_have_the_full_searchs_scores(tmp_path, seed):
    rng = random.Random(seed)
    corpus = random_corpus(rng, rng.randint(50, 300), rng.randint(20, 200))
    index, reference = index_with_reference(tmp_path / "bm25.sqlite", corpus)
    words = list(reference.idf)
    for _ in range(20):
        query = rng.choices(words + ["unknown"], k=rng.randint(1, 6))
        candidates = rng.sample(range(len(corpus)), rng.randint(1, len(corpus)))
        hits = score_chunks(index, [(t, 1.0) for t in query], candidates)
        expected = reference.get_scores(query)
        assert {h.idx for h in hits} == {i for i in candidates if expected[i] > 0}
        np.testing.assert_allclose([h.score for h in hits], expected[[h.idx for h in hits]], rtol=0, atol=1e-9)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        weighted = [(t, rng.choice([0.25, 1.0, 1.7])) for t in query]
        full = {h.idx: h.score for h in search_weighted(index, weighted, len(corpus))[0]}
        assert {h.idx: h.score for h in score_chunks(index, weighted, candidates)} == {
            i: s for i, s in full.items() if i in set(candidates)
        }
    index.close()


def test_feedback_terms_setting_is_checked(tmp_path):
    with pytest.raises(SettingError, match="feedback_terms must be between 0"):
        create_app({"INDEX": str(tmp_path / "x.sqlite"), "FEEDBACK_TERMS": 500})


@pytest.mark.parametrize("weight", [1.0, 0.3])
def test_compiled_rescoring_step_equals_numpys(weight):
    from index.kernels import add_found

    rng = np.random.default_rng(7)
    ids = np.unique(rng.integers(0, 5000, 800)).astype(np.int32)
    impacts = rng.random(len(ids))
    candidates = np.unique(np.concatenate([rng.choice(ids, 50), rng.integers(0, 5001, 50)])).astype(np.int32)
    compiled, numpy_way = np.zeros(len(candidates)), np.zeros(len(candidates))
    add_found(compiled, candidates, ids, impacts, weight)
    add_found_numpy(numpy_way, candidates, ids, impacts, weight)
    assert np.array_equal(compiled, numpy_way) and np.count_nonzero(compiled) >= 50
