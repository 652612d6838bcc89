"""Measure docqa on public collections: retrieval (BEIR layout) and question answering (SQuAD layout).

Both evaluations build a real index from the collection (through the same build
code as ``docqa index``) and ask through the same code as ``POST /api/ask``. Each
reports a plain rank-bm25 baseline measured in the same run, so a gain is visible.
Measures come from ir-measures (trec_eval underneath), not from hand-written code.
"""

from __future__ import annotations

import html
import json
import re
import statistics
import string
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from index.analysis import Analyzer
from index.build import build_index
from index.settings import BuildSettings
from index.store import IndexFile
from service.answers import MIN_PASSAGE_COVERAGE
from service.answers import answer
from service.answers import query_terms
from service.answers import retrieve

MEASURES = ("nDCG@10", "R@100", "RR@10")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of a JSON-lines file."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read a BEIR qrels TSV (query-id, corpus-id, score, with a header line)."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def write_collection(docs: list[dict[str, Any]], folder: Path) -> None:
    """Write each collection document as an HTML file, so its title is metadata, not text."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        name = re.sub(r"[^\w.-]", "_", str(doc["_id"]))
        (folder / f"{name}.html").write_text(
            f"<html><head><title>{html.escape(doc.get('title') or '')}</title></head>"
            f"<body><p>{html.escape(doc['text'])}</p></body></html>",
            encoding="utf-8",
        )


def document_key(path: str) -> str:
    """The collection id a document file was written for."""
    return Path(path).stem


def _measure(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> tuple[dict, dict]:
    import ir_measures

    measures = [ir_measures.parse_measure(m) for m in MEASURES]
    aggregate = ir_measures.calc_aggregate(measures, qrels, run)
    per_query: dict[str, dict[str, float]] = {}
    for metric in ir_measures.iter_calc(measures, qrels, run):
        per_query.setdefault(metric.query_id, {})[str(metric.measure)] = metric.value
    return {str(k): round(v, 4) for k, v in aggregate.items()}, per_query


def baseline_run(docs: list[dict[str, Any]], queries: dict[str, str], depth: int = 100) -> dict[str, dict[str, float]]:
    """Plain rank-bm25: lowercase word tokens of title + text, whole documents, no stemming."""
    from rank_bm25 import BM25Okapi

    def tokens(text: str) -> list[str]:
        return re.findall(r"\w+", text.lower())

    bm25 = BM25Okapi([tokens(f"{d.get('title') or ''} {d['text']}") for d in docs])
    ids = [str(d["_id"]) for d in docs]
    run = {}
    for qid, text in queries.items():
        scores = bm25.get_scores(tokens(text))
        best = np.argsort(-scores, kind="stable")[:depth]
        run[qid] = {ids[i]: float(scores[i]) for i in best if scores[i] > 0}
    return run


def docqa_run(
    index: IndexFile, analyzer: Analyzer, queries: dict[str, str], depth: int = 100, feedback_terms: int = 0
) -> dict[str, dict[str, float]]:
    """docqa's ranking: chunks scored by BM25, a document scored by its best chunk."""
    run = {}
    for qid, text in queries.items():
        hits, _ = retrieve(index, analyzer, query_terms(analyzer, text, []), depth * 4, feedback_terms)
        chunks = index.chunks(i for i, _ in hits)
        ranked: dict[str, float] = {}
        for chunk, (_, score) in zip(chunks, hits, strict=False):
            ranked.setdefault(document_key(chunk.path), score)
        run[qid] = dict(list(ranked.items())[:depth])
    return run


def evaluate_retrieval(
    corpus: Path,
    queries_path: Path,
    qrels_path: Path,
    settings: BuildSettings,
    per_query_out: Path | None = None,
    workdir: Path | None = None,
    feedback_terms: int = 0,
) -> dict[str, Any]:
    """Index a BEIR collection and report docqa's and the baseline's measures.

    With feedback, docqa's ranking without it is measured too, so the gain of each
    part shows in the same run.
    """
    docs = list(read_jsonl(corpus))
    qrels = read_qrels(qrels_path)
    queries = {str(q["_id"]): q["text"] for q in read_jsonl(queries_path) if str(q["_id"]) in qrels}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp) / "documents"
        write_collection(docs, folder)
        started = time.perf_counter()
        summary = build_index(folder, Path(tmp) / "index.sqlite", settings)
        build_seconds = time.perf_counter() - started
        index = IndexFile(Path(tmp) / "index.sqlite")
        started = time.perf_counter()
        analyzer = Analyzer(settings.language)
        run = docqa_run(index, analyzer, queries, feedback_terms=feedback_terms)
        query_ms = (time.perf_counter() - started) * 1000 / max(len(queries), 1)
        question_only = docqa_run(index, analyzer, queries) if feedback_terms else None
        index.close()
    ours, ours_per_query = _measure(qrels, run)
    base, base_per_query = _measure(qrels, baseline_run(docs, queries))
    if per_query_out:
        with open(per_query_out, "w", encoding="utf-8") as out:
            out.write("query_id\t" + "\t".join(f"docqa_{m}\tbaseline_{m}" for m in MEASURES) + "\tquery\n")
            for qid in queries:
                values = [
                    f"{ours_per_query.get(qid, {}).get(m, 0):.4f}\t{base_per_query.get(qid, {}).get(m, 0):.4f}"
                    for m in MEASURES
                ]
                out.write(f"{qid}\t" + "\t".join(values) + f"\t{queries[qid]}\n")
    return {
        "documents": len(docs),
        "chunks": summary.chunks,
        "queries": len(queries),
        "build_seconds": round(build_seconds, 2),
        "mean_query_ms": round(query_ms, 2),
        "feedback_terms": feedback_terms,
        "docqa": ours,
        **({"docqa_without_feedback": _measure(qrels, question_only)[0]} if question_only is not None else {}),
        "baseline": base,
    }


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalization: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().replace("’", "'")
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def naive_extractor(index: IndexFile, analyzer: Analyzer, question: str) -> tuple[str, str | None]:
    """Baseline: in the top BM25 passage, the sentence sharing the most question words.

    Returns that sentence and the path of the passage's document.
    """
    from index.chunking import sentence_spans

    hits, _ = retrieve(index, analyzer, query_terms(analyzer, question, []), 1)
    if not hits:
        return "", None
    chunk = index.chunks([hits[0][0]])[0]
    words = set(re.findall(r"\w+", question.lower()))
    best, best_overlap = "", -1
    for span in sentence_spans(chunk.text):
        sentence = chunk.text[span.start : span.end]
        overlap = len(words & set(re.findall(r"\w+", sentence.lower())))
        if overlap > best_overlap:
            best, best_overlap = sentence, overlap
    return best, chunk.path


def evaluate_qa(
    corpus: Path,
    questions_path: Path,
    settings: BuildSettings,
    limit: int | None = None,
    unanswerable: list[str] | None = None,
    workdir: Path | None = None,
    min_coverage: float = MIN_PASSAGE_COVERAGE,
    feedback_terms: int = 0,
) -> dict[str, Any]:
    """Index SQuAD paragraphs as documents and ask every question through the answer code."""
    docs = list(read_jsonl(corpus))
    questions = list(read_jsonl(questions_path))
    if limit:
        questions = questions[:limit]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp) / "documents"
        write_collection(docs, folder)
        build_index(folder, Path(tmp) / "index.sqlite", settings)
        index = IndexFile(Path(tmp) / "index.sqlite")
        analyzer = Analyzer(settings.language)
        found = rank1 = top5 = abstained = naive_found = bm25_rank1 = 0
        latencies = []
        for q in questions:
            started = time.perf_counter()
            result = answer(index, analyzer, q["question"], [], 5, min_coverage, feedback_terms)
            latencies.append((time.perf_counter() - started) * 1000)
            gold = [normalize_answer(a) for a in q["answers"]]
            text = normalize_answer(result["answer"]["text"]) if result["answered"] else ""
            found += any(g and g in text for g in gold)
            abstained += not result["answered"]
            ranked = [document_key(p["document"]["path"]) for p in result["passages"]]
            rank1 += bool(ranked) and ranked[0] == q["paragraph_id"]
            top5 += q["paragraph_id"] in ranked[:5]
            naive, top_path = naive_extractor(index, analyzer, q["question"])
            naive_found += any(g and g in normalize_answer(naive) for g in gold)
            bm25_rank1 += top_path is not None and document_key(top_path) == q["paragraph_id"]
        out_of_scope = None
        if unanswerable:
            declined = sum(
                not answer(index, analyzer, q, [], 5, min_coverage, feedback_terms)["answered"] for q in unanswerable
            )
            out_of_scope = {"questions": len(unanswerable), "abstained": round(declined / len(unanswerable), 4)}
        index.close()
    n = max(len(questions), 1)
    return {
        "paragraphs": len(docs),
        "questions": len(questions),
        "feedback_terms": feedback_terms,
        "answer_in_sentences": round(found / n, 4),
        "paragraph_at_1": round(rank1 / n, 4),
        "paragraph_at_1_bm25_order": round(bm25_rank1 / n, 4),
        "paragraph_in_top5": round(top5 / n, 4),
        "abstention_rate": round(abstained / n, 4),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "baseline_naive_answer_in_sentence": round(naive_found / n, 4),
        "unanswerable": out_of_scope,
    }
