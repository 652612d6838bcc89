"""Full-build time of the working tree against another commit, in alternating runs.

This machine's build time moves by 10-20% between runs of the very same code, so a
change to the build is only measured against its baseline run next to it, in
alternating order, several times. This makes a git worktree of the baseline commit,
compiles both checkouts' numba kernels before timing (a first build would otherwise
pay for compiling them), then runs full builds of one documents folder in pairs,
baseline first in odd pairs and the working tree first in even ones. Each run is
its own process: wall time, the build process's CPU time, its workers' CPU time and
both peaks. Titles are left out of the chunks (``title_in_chunks=False``), as in every
figure of bench/results/build.md.

    python bench/build_ab.py --documents bench/data/chunks1000000 --baseline HEAD~1 --pairs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs inside a checkout (first on sys.path): one full build, its figures as JSON.
RUN = """
import json, os, resource, sys, time
from index.build import build_index
from index.settings import BuildSettings
started, cpu = time.perf_counter(), time.process_time()
build_index(sys.argv[1], sys.argv[2], BuildSettings(title_in_chunks=False), full=True)
me, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "wall": time.perf_counter() - started,
    "main_cpu": time.process_time() - cpu,
    "workers_cpu": workers.ru_utime + workers.ru_stime,
    "peak_main_mb": me.ru_maxrss / 1024,
    "peak_worker_mb": workers.ru_maxrss / 1024,
}))
"""

# Byte-compiles the checkout's index package and compiles (or loads from cache) every kernel a
# large build uses, for ASCII and wider text: a worker's whole ingest of a file, and the grouping.
WARM = """
import compileall, tempfile
from pathlib import Path
compileall.compile_dir("index", quiet=1)
import numpy as np
from index.analysis import TermNumbering
from index.ingest import analyzer_for, ingest_file
from index.counting import ChunkCounter
from index.settings import BuildSettings
from index import kernels
numbering = TermNumbering(analyzer_for("english"), "warm")
counter = ChunkCounter(numbering)
with tempfile.TemporaryDirectory() as folder:
    texts = ("Plain words here. And more.", "Caf\u00e9 words \u2014 here.", "Caf\u00e9. Read more")
    for name, text in zip("abc", texts):
        (Path(folder) / f"{name}.txt").write_text(text, encoding="utf-8")
        ingest_file(Path(folder) / f"{name}.txt", name, BuildSettings(), numbering, counter)
one = np.ones(1, np.int32)
kernels.impacts_by_term(one, one, one, one, np.array([0, 1], np.int64), np.ones(2), 1.0, 1.5, 0.75)
if hasattr(kernels, "occurrences"):  # large builds count each term's postings with it (since cfa5f72)
    kernels.occurrences(one, 2)
"""


def run_in(checkout: Path, code: str, *args: str) -> str:
    """Run *code* with *checkout* first on the import path; return its standard output."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=checkout, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"run in {checkout} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=Path, required=True, help="folder to build (e.g. from bench/corpus.py)")
    parser.add_argument("--baseline", default="HEAD", help="commit to compare the working tree with (default HEAD)")
    parser.add_argument("--pairs", type=int, default=3, help="pairs of runs (default 3)")
    args = parser.parse_args()
    documents = args.documents.resolve()
    with tempfile.TemporaryDirectory(prefix="docqa-ab-") as tmp:
        baseline = Path(tmp) / "baseline"
        git = ["git", "-C", str(ROOT), "worktree"]
        subprocess.run([*git, "add", "--detach", str(baseline), args.baseline], check=True)
        try:
            checkouts = {"baseline": baseline, "working tree": ROOT}
            for checkout in checkouts.values():
                run_in(checkout, WARM)
            rows: dict[str, list[dict]] = {name: [] for name in checkouts}
            for pair in range(args.pairs):
                order = list(checkouts) if pair % 2 == 0 else list(reversed(checkouts))
                for name in order:
                    index = Path(tmp) / "index.sqlite"
                    figures = json.loads(run_in(checkouts[name], RUN, str(documents), str(index)))
                    for stale in Path(tmp).glob("index.sqlite*"):
                        stale.unlink()
                    rows[name].append(figures)
                    print(
                        f"pair {pair + 1} {name:12s} wall {figures['wall']:6.1f} s  main {figures['main_cpu']:5.1f}"
                        f"  workers {figures['workers_cpu']:6.1f} CPU-s  peak {figures['peak_main_mb']:.0f} /"
                        f" {figures['peak_worker_mb']:.0f} MB",
                        flush=True,
                    )
            for name, runs in rows.items():
                print(
                    f"{name:12s} median wall {statistics.median(r['wall'] for r in runs):6.1f} s,"
                    f" workers {statistics.median(r['workers_cpu'] for r in runs):6.1f} CPU-s,"
                    f" main {statistics.median(r['main_cpu'] for r in runs):5.1f} CPU-s"
                )
        finally:
            subprocess.run([*git, "remove", "--force", str(baseline)], check=False)


if __name__ == "__main__":
    main()
