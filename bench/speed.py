"""Retrieval speed and exactness at scale: docqa against rank_bm25, bm25s and SQLite FTS5.

For each corpus size it writes a documents folder of real English sentences
(bench/corpus.py), builds the docqa index with ``docqa index --full``, then gives
every engine the very same chunk tokens (docqa's analyzer output) and the same
queries (real questions from ../shared/eval/), and measures in one run:
build seconds, peak RSS, index size, p50/p95 latency, queries per second, the
largest score difference to rank_bm25 and the top-10 overlap with it.

    python bench/speed.py --chunks 10000 100000 --queries 200
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.corpus import EVAL  # noqa: E402
from bench.corpus import write_folder  # noqa: E402
from bench.machine import describe  # noqa: E402
from index.analysis import Analyzer  # noqa: E402
from index.retrieval import search  # noqa: E402
from index.store import IndexFile  # noqa: E402

DATA = HERE / "data"
RESULTS = HERE / "results"
WORDS_PER_DOC = 360  # about 3.3 chunks of 120 words


def questions(n: int) -> list[str]:
    """Real questions and queries from the shared collections, interleaved."""
    pools = []
    for name, field in (
        ("squad-v1.1-dev/questions.jsonl", "question"),
        ("scifact/queries.jsonl", "text"),
        ("cranfield/queries.jsonl", "text"),
    ):
        with open(EVAL / name, encoding="utf-8") as handle:
            pools.append([json.loads(line)[field] for line in handle])
    out = []
    for i in range(n):
        pool = pools[i % len(pools)]
        out.append(pool[(i * 7919) % len(pool)])
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, queries) -> tuple[list[float], list]:
    """Per-query milliseconds and results."""
    times, results = [], []
    for q in queries:
        started = time.perf_counter()
        results.append(fn(q))
        times.append((time.perf_counter() - started) * 1000)
    return times, results


def summarize(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(float(np.percentile(times, 95)), 3),
        "qps": round(1000 / statistics.mean(times), 1),
    }


def build_docqa(folder: Path, index: Path) -> dict:
    """Run ``docqa index --full`` in a child process and measure it."""
    env = {**os.environ, "DOCQA_TITLE_IN_CHUNKS": "false"}  # chunk tokens = analyzer(chunk text)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "service", "index", "--full", "--documents", str(folder), "--index", str(index)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "build_s": round(seconds, 1),
        "peak_rss_mb": round(max(peak, before) / 1024),
        # the database and the postings file beside it
        "index_mb": round(
            sum(p.stat().st_size for p in index.parent.glob(index.name + "*") if ".lock" not in p.name) / 2**20
        ),
    }


def chunk_tokens(index: IndexFile, analyzer: Analyzer) -> list[list[str]]:
    """The exact token list of every chunk, in index order."""
    n = index.stats.n_chunks
    out: list[list[str]] = []
    for start in range(0, n, 20_000):
        for chunk in index.chunks(range(start, min(n, start + 20_000))):
            out.append(analyzer.terms(chunk.text))
    return out


def run_size(n_chunks: int, n_queries: int, reference_queries: int) -> list[dict]:
    folder = DATA / f"chunks{n_chunks}"
    index_path = DATA / f"chunks{n_chunks}.sqlite"
    if not folder.exists():
        write_folder(folder, max(1, round(n_chunks / 3.3)), WORDS_PER_DOC)
    rows = []
    docqa_build = build_docqa(folder, index_path)
    analyzer = Analyzer()
    index = IndexFile(index_path)
    size = index.stats.n_chunks
    qs = [analyzer.terms(q) for q in questions(n_queries)]
    qs = [q for q in qs if q]
    search(index, qs[0], 10)
    cold, _ = timed(lambda q: search(index, q, 10), qs)  # first pass reads postings from SQLite
    warm, docqa_results = timed(lambda q: search(index, q, 10), qs)
    rows.append(
        {
            "engine": "docqa",
            "chunks": size,
            **docqa_build,
            **summarize(warm),
            "cold_p50_ms": round(statistics.median(cold), 3),
        }
    )

    tokens = chunk_tokens(index, analyzer)
    ref_qs = qs[:reference_queries]

    # rank_bm25: the reference for scores.
    from rank_bm25 import BM25Okapi

    started = time.perf_counter()
    bm25 = BM25Okapi(tokens)
    ref_build = time.perf_counter() - started
    ref_times, ref_scores = timed(bm25.get_scores, ref_qs)
    max_diff, overlap = 0.0, []
    for q_scores, hits in zip(ref_scores, docqa_results[: len(ref_qs)], strict=True):
        want = [int(i) for i in np.argsort(-q_scores, kind="stable")[:10] if q_scores[i] > 0]
        got = [h.idx for h in hits]
        overlap.append(len(set(want) & set(got)) / len(want) if want else float(not got))
        for h in hits:
            max_diff = max(max_diff, abs(h.score - float(q_scores[h.idx])))
    rows[0]["max_diff_vs_rank_bm25"] = max_diff
    rows[0]["top10_overlap"] = round(statistics.mean(overlap), 4)
    ref = {
        "engine": "rank_bm25",
        "chunks": size,
        "build_s": round(ref_build, 1),
        **summarize(ref_times),
        "queries_timed": len(ref_qs),
    }
    rows.append(ref)
    rows[0]["speedup_vs_rank_bm25"] = round(ref["p50_ms"] / rows[0]["p50_ms"], 1)
    del bm25, ref_scores

    # bm25s, same tokens: its numba backend when numba is installed (the fast one), else numpy.
    import bm25s

    try:
        import numba  # noqa: F401

        backend = "numba"
    except ImportError:
        backend = "numpy"
    started = time.perf_counter()
    retriever = bm25s.BM25(k1=1.5, b=0.75, backend=backend)
    retriever.index(tokens, show_progress=False)
    b_build = time.perf_counter() - started
    vocab = retriever.vocab_dict if hasattr(retriever, "vocab_dict") else None

    def bm25s_query(q):
        known = [t for t in q if vocab is None or t in vocab]
        if not known:
            return []
        docs, _ = retriever.retrieve([known], k=10, show_progress=False, n_threads=1)
        return docs[0].tolist()

    bm25s_query(qs[0])  # compiles the numba kernels before timing
    b_times, b_results = timed(bm25s_query, qs)
    b_overlap = [
        len(set(b) & {h.idx for h in d}) / max(len(d), 1) for b, d in zip(b_results, docqa_results, strict=True) if d
    ]
    rows.append(
        {
            "engine": f"bm25s_{backend}",
            "chunks": size,
            "build_s": round(b_build, 1),
            **summarize(b_times),
            "top10_overlap": round(statistics.mean(b_overlap), 4),
        }
    )

    # SQLite FTS5 with its bm25() ranking, same tokens.
    fts_path = DATA / f"fts{n_chunks}.sqlite"
    fts_path.unlink(missing_ok=True)
    started = time.perf_counter()
    conn = sqlite3.connect(fts_path)
    conn.execute("create virtual table c using fts5(t, tokenize='unicode61 remove_diacritics 0')")
    conn.executemany("insert into c(rowid, t) values (?, ?)", ((i, " ".join(t)) for i, t in enumerate(tokens)))
    conn.commit()
    f_build = time.perf_counter() - started

    def fts_query(q):
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in q)
        return [r[0] for r in conn.execute("select rowid from c where c match ? order by bm25(c) limit 10", [match])]

    f_times, f_results = timed(fts_query, qs)
    f_overlap = [
        len(set(f) & {h.idx for h in d}) / max(len(d), 1) for f, d in zip(f_results, docqa_results, strict=True) if d
    ]
    rows.append(
        {
            "engine": "sqlite_fts5",
            "chunks": size,
            "build_s": round(f_build, 1),
            **summarize(f_times),
            "index_mb": round(fts_path.stat().st_size / 2**20),
            "top10_overlap": round(statistics.mean(f_overlap), 4),
        }
    )
    conn.close()
    fts_path.unlink()
    index.close()
    return rows


def write_results(rows: list[dict]) -> None:
    """Merge *rows* into bench/results/speed.json (replacing same engine and size) and redraw."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "speed.json"
    sizes = {(r["engine"], r["chunks"]) for r in rows}
    previous = json.loads(path.read_text()) if path.exists() else []
    rows = sorted(
        [r for r in previous if (r["engine"], r["chunks"]) not in sizes] + rows,
        key=lambda r: (r["chunks"], r["engine"] != "docqa", r["engine"]),
    )
    path.write_text(json.dumps(rows, indent=2))
    cols = [
        "engine",
        "chunks",
        "build_s",
        "peak_rss_mb",
        "index_mb",
        "p50_ms",
        "p95_ms",
        "qps",
        "cold_p50_ms",
        "max_diff_vs_rank_bm25",
        "top10_overlap",
        "speedup_vs_rank_bm25",
        "machine",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    (RESULTS / "speed.md").write_text(
        "# Retrieval speed (top 10, one thread)\n\n"
        "Generated by `python bench/speed.py`; top10_overlap and max_diff are against rank_bm25 for docqa,\n"
        "and against docqa for the others. rank_bm25 is timed on a subset of the queries (queries_timed in\n"
        "speed.json). Compare rows of one machine and day only: the machine this project runs on changes\n"
        "between sessions, and its speed by a factor of two or more.\n\n" + "\n".join(lines) + "\n"
    )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for engine in dict.fromkeys(r["engine"] for r in rows):
        points = sorted((r["chunks"], r["p50_ms"]) for r in rows if r["engine"] == engine)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=engine)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks")
    ax.set_ylabel("p50 latency, ms (log)")
    ax.set_title("Top-10 retrieval latency against corpus size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "latency.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reference-queries", type=int, default=50, help="queries timed on rank_bm25")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    rows = []
    machine = describe()
    for n in args.chunks:
        rows += [{**row, "machine": machine} for row in run_size(n, args.queries, args.reference_queries)]
        write_results(rows)
        print(json.dumps(rows[-4:], indent=1), flush=True)


if __name__ == "__main__":
    main()
