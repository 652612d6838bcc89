"""The served API at scale: start-up time, memory, end-to-end latency and throughput.

Starts ``docqa serve`` (gunicorn, 2 workers) on an index built by bench/speed.py,
then measures: seconds until /healthz answers, resident memory of all server
processes, p50/p95 of POST /api/ask one at a time, and requests per second under
wrk (Debian package ``wrk``) with several connections on 127.0.0.1, counting
every non-2xx or malformed answer as an error.

    python bench/serving.py --index bench/data/chunks100000.sqlite --seconds 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.machine import describe  # noqa: E402
from bench.speed import questions  # noqa: E402
from service import DEFAULT_THREADS  # noqa: E402
from service.cli import built_by_another_version  # noqa: E402
from tests.conftest import free_port  # noqa: E402

LUA = """
local questions = {%s}
local i = 0
request = function()
  i = i + 1
  local body = '{"question": ' .. questions[(i %% #questions) + 1] .. '}'
  return wrk.format("POST", "/api/ask", {["Content-Type"] = "application/json"}, body)
end
local errors = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"answered"', 1, true) then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("BAD %%d\\n", summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""


def memory_mb(pid: int) -> dict[str, float]:
    """Memory of a server and its workers, in MiB, from /proc/PID/smaps_rollup.

    ``rss`` adds each process's resident set, so pages the workers share (the
    mapped postings file, the forked interpreter) count once per process; ``pss``
    divides every shared page among the processes that map it: the memory the
    server really holds. ``pss_anon`` is its own heap, ``pss_file`` mapped files
    (page cache the kernel can reclaim and reread).
    """
    totals = dict.fromkeys(("Rss", "Pss", "Pss_Anon", "Pss_File"), 0)
    pids = [pid] + [
        int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    for p in pids:
        with open(f"/proc/{p}/smaps_rollup") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in totals:
                    totals[key] += int(value.split()[0])
    return {name.lower(): round(kb / 1024) for name, kb in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="threads per worker (as docqa serve)")
    args = parser.parse_args()
    if built_by_another_version(args.index):  # serve would rebuild it, with the default settings
        raise SystemExit(f"{args.index} was built by another docqa version; rebuild it first (docqa index --full).")
    port = free_port()
    env = {**os.environ, "DOCQA_ASK_RATE_LIMIT": "0"}
    log = tempfile.TemporaryFile()
    started = time.perf_counter()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service",
            "serve",
            "--index",
            str(args.index),
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                    health = json.loads(response.read())
                break
            except OSError:
                if time.perf_counter() - started > 60:
                    raise SystemExit("server did not start") from None
                time.sleep(0.02)
        ready_s = time.perf_counter() - started
        memory_start = memory_mb(server.pid)
        qs = questions(300)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        times = []
        for q in qs:
            t = time.perf_counter()
            conn.request("POST", "/api/ask", json.dumps({"question": q}), {"Content-Type": "application/json"})
            body = conn.getresponse().read()
            times.append((time.perf_counter() - t) * 1000)
            assert b'"answered"' in body
        result = {
            "chunks": health["chunks"],
            "workers": args.workers,
            "threads": args.threads,
            "ready_s": round(ready_s, 2),
            "rss_mb_at_start": memory_start["rss"],
            "pss_mb_at_start": memory_start["pss"],
            "ask_p50_ms": round(statistics.median(times), 2),
            "ask_p95_ms": round(sorted(times)[int(len(times) * 0.95)], 2),
            "machine": describe(),
        }
        if shutil.which("wrk"):
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write(LUA % ", ".join(json.dumps(json.dumps(q)) for q in qs[:100]))
            out = subprocess.run(
                ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "-s", script.name, url],
                capture_output=True,
                text=True,
            ).stdout
            os.unlink(script.name)
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            total = int(re.search(r"(\d+) requests in", out).group(1))
            bad = int(re.search(r"BAD (\d+)", out).group(1))
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            result.update(
                {
                    "wrk_requests": total,
                    "wrk_rps": rps,
                    "wrk_errors": bad + (int(non2xx.group(1)) if non2xx else 0),
                    **{f"{k}_mb_after_load": v for k, v in memory_mb(server.pid).items()},
                }
            )
        print(json.dumps(result, indent=1))
        out_path = HERE / "results" / "http.json"
        previous = json.loads(out_path.read_text()) if out_path.exists() else []
        out_path.write_text(json.dumps([r for r in previous if r["chunks"] != result["chunks"]] + [result], indent=1))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
