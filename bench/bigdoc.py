"""Answers from one book-sized document: a passage costs its own pages, not the whole file.

Writes every SQuAD v1.1 dev paragraph, five times over, into one text file (about
8 MB), indexes it, then times in one run: ``POST /api/ask``'s answer code for the
SQuAD questions of a few articles, reading ten passages, and, as the baseline,
reading the whole document text once (what each passage used to cost when it was
cut out of the full text).

    python bench/bigdoc.py --copies 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.corpus import EVAL  # noqa: E402
from index.analysis import Analyzer  # noqa: E402
from index.build import build_index  # noqa: E402
from index.store import IndexFile  # noqa: E402
from service.answers import answer  # noqa: E402


def timed_ms(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=5, help="times the SQuAD paragraphs are repeated")
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    squad = EVAL / "squad-v1.1-dev"
    paragraphs = [json.loads(line)["text"] for line in open(squad / "corpus.jsonl", encoding="utf-8")]
    questions = [json.loads(line)["question"] for line in open(squad / "questions.jsonl", encoding="utf-8")]
    questions = questions[:: max(1, len(questions) // args.questions)][: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "documents"
        folder.mkdir()
        text = "SQuAD dev, all paragraphs\n\n" + "\n\n".join(paragraphs * args.copies)
        (folder / "book.txt").write_text(text, encoding="utf-8")
        summary = build_index(folder, Path(tmp) / "index.sqlite")
        index, analyzer = IndexFile(Path(tmp) / "index.sqlite"), Analyzer()
        doc_id = index.documents()[0]["id"]
        answer(index, analyzer, questions[0])
        ask = []
        for q in questions:
            ask += timed_ms(lambda q=q: answer(index, analyzer, q), 1)
        spread = range(0, summary.chunks, max(1, summary.chunks // 10))
        passages = timed_ms(lambda: index.chunks(spread), 20)
        whole = timed_ms(lambda: index.document(doc_id), 5)
        result = {
            "document_mb": round(len(text.encode("utf-8")) / 2**20, 1),
            "chunks": summary.chunks,
            "ask_p50_ms": round(statistics.median(ask), 2),
            "ask_p95_ms": round(sorted(ask)[int(len(ask) * 0.95)], 2),
            "ten_passages_p50_ms": round(statistics.median(passages), 3),
            "whole_text_p50_ms": round(statistics.median(whole), 2),
        }
        result["whole_text_vs_ten_passages"] = round(result["whole_text_p50_ms"] / result["ten_passages_p50_ms"], 1)
        index.close()
    print(json.dumps(result, indent=1))
    (HERE / "results" / "bigdoc.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
