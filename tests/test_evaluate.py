"""docqa eval on tiny collections written by the test (same layouts as BEIR and SQuAD)."""

import json

import pytest
from click.testing import CliRunner

from service.cli import cli
from service.evaluate import normalize_answer

FACTS = [
    ("d1", "Honey bees", "Honey bees communicate the location of flowers with a waggle dance."),
    ("d2", "Sea otters", "Sea otters hold hands while sleeping so that they do not drift apart."),
    ("d3", "Penguins", "Emperor penguins huddle together to survive the Antarctic winter."),
    ("d4", "Octopuses", "An octopus has three hearts and blue blood."),
    ("d5", "Camels", "Camels store fat, not water, in their humps."),
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_eval_retrieval_reports_measures_and_baseline(tmp_path):
    write_jsonl(tmp_path / "corpus.jsonl", [{"_id": i, "title": t, "text": x} for i, t, x in FACTS])
    write_jsonl(
        tmp_path / "queries.jsonl",
        [
            {"_id": "q1", "text": "how do bees tell where flowers are"},
            {"_id": "q2", "text": "animal with three hearts"},
        ],
    )
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td4\t1\n")
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "retrieval",
            "--corpus",
            str(tmp_path / "corpus.jsonl"),
            "--queries",
            str(tmp_path / "queries.jsonl"),
            "--qrels",
            str(tmp_path / "qrels.tsv"),
            "--per-query",
            str(tmp_path / "per_query.tsv"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["docqa"]["nDCG@10"] == 1.0 and report["docqa"]["RR@10"] == 1.0
    assert set(report["baseline"]) == {"nDCG@10", "R@100", "RR@10"}
    lines = (tmp_path / "per_query.tsv").read_text().splitlines()
    assert lines[0].startswith("query_id\tdocqa_nDCG@10") and len(lines) == 3


@pytest.mark.parametrize("command", ["retrieval", "qa"])
def test_eval_measures_feedback_beside_the_question_alone(tmp_path, command):
    write_jsonl(tmp_path / "corpus.jsonl", [{"_id": i, "title": t, "text": x} for i, t, x in FACTS])
    write_jsonl(tmp_path / "queries.jsonl", [{"_id": "q2", "text": "animal with three hearts"}])
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq2\td4\t1\n")
    question = {"id": "a", "question": "How many hearts does an octopus have?", "answers": ["three"]}
    write_jsonl(tmp_path / "questions.jsonl", [{**question, "paragraph_id": "d4"}])
    inputs = (
        ["--queries", str(tmp_path / "queries.jsonl"), "--qrels", str(tmp_path / "qrels.tsv")]
        if command == "retrieval"
        else ["--questions", str(tmp_path / "questions.jsonl")]
    )
    args = ["eval", command, "--corpus", str(tmp_path / "corpus.jsonl"), *inputs]
    result = CliRunner().invoke(cli, [*args, "--feedback-terms", "40"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["feedback_terms"] == 40
    if command == "retrieval":
        assert report["docqa"]["nDCG@10"] == report["docqa_without_feedback"]["nDCG@10"] == 1.0
    else:
        assert report["answer_in_sentences"] == 1.0
    refused = CliRunner().invoke(cli, [*args, "--feedback-terms", "500"])
    assert refused.exit_code == 2 and "500 is not in the range 0<=x<=200" in refused.output
    from_env = CliRunner().invoke(cli, args, env={"DOCQA_FEEDBACK_TERMS": "500"})
    assert from_env.exit_code == 1 and "feedback_terms must be between 0 (off) and 200" in from_env.output


def test_eval_qa_checks_answers_ranks_and_abstention(tmp_path):
    write_jsonl(tmp_path / "corpus.jsonl", [{"_id": i, "title": t, "text": x} for i, t, x in FACTS])
    questions = [
        {
            "id": "a",
            "question": "How many hearts does an octopus have?",
            "answers": ["three hearts", "three"],
            "paragraph_id": "d4",
        },
        {"id": "b", "question": "What do camels store in their humps?", "answers": ["fat"], "paragraph_id": "d5"},
    ]
    write_jsonl(tmp_path / "questions.jsonl", questions)
    (tmp_path / "neg.txt").write_text("Who painted the Mona Lisa?\nWhat is the capital of Peru?\n")
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "qa",
            "--corpus",
            str(tmp_path / "corpus.jsonl"),
            "--questions",
            str(tmp_path / "questions.jsonl"),
            "--unanswerable",
            str(tmp_path / "neg.txt"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["answer_in_sentences"] == 1.0 and report["paragraph_at_1"] == 1.0
    assert report["paragraph_at_1_bm25_order"] == 1.0 and report["baseline_naive_answer_in_sentence"] == 1.0
    assert report["unanswerable"] == {"questions": 2, "abstained": 1.0}


def test_normalize_answer_follows_squad():
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
