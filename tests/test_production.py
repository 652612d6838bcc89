"""Production behaviour with real server processes: load during rebuilds, faults, hostile files.

The load test runs for LOAD_SECONDS (default 8; bench/soak.sh runs it longer).
"""

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from index.build import build_index
from index.errors import UnreadableDocument
from index.loaders import load
from index.store import IndexFile
from tests.conftest import DATA
from tests.conftest import PDF_PAGES
from tests.conftest import LiveServer
from tests.conftest import make_pdf

LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "8"))
QUESTIONS = [
    "What is the current release codename?",
    "Who leads Yisrael Beyteinu?",
    "What is it?",
    "What is the boiling point of liquid nitrogen?",
    "Where do quokkas live?",
]


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def release_note(n: int) -> str:
    return f"# Release notes\n\nThe current release codename is Zebra{n}.\n"


def test_answers_stay_whole_while_documents_change_and_rebuild(documents, index_path):
    (documents / "release.md").write_text(release_note(0))
    build_index(documents, index_path)
    written = {IndexFile(index_path).generation: 0}
    server = LiveServer(documents, index_path, {"DOCQA_ASK_RATE_LIMIT": "0"})
    stop = threading.Event()
    seen: list[tuple[int, int, str, dict]] = []
    failures: list[str] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            question = rng.choice(QUESTIONS)
            try:
                status, body = post(server.url + "/api/ask", {"question": question})
            except Exception as exc:  # a refused or broken connection is a failure too
                failures.append(repr(exc))
                continue
            seen.append((status, body.get("index", {}).get("generation", -1), question, body))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    rebuilds = 0
    try:
        deadline = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < deadline:
            rebuilds += 1
            (documents / "release.md").write_text(release_note(rebuilds))
            extra = documents / "quokka.txt"
            if rebuilds % 2:
                extra.write_text("Quokkas live on Rottnest Island near Perth.\n")
            else:
                extra.unlink(missing_ok=True)
            summary = build_index(documents, index_path)
            written[summary.generation] = rebuilds
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop()
    assert not failures, failures[:3]
    assert rebuilds >= 3 and len(seen) > 50
    assert all(status == 200 for status, *_ in seen), [(status, body) for status, _, _, body in seen if status != 200][
        :3
    ]
    for _, generation, question, body in seen:
        assert generation in written
        assert set(body) >= {"question", "answered", "answer", "citations", "passages", "took_ms"}
        if question.startswith("What is the current release") and body["answered"]:
            # the answer comes from one whole index: the release note of that very generation
            assert f"Zebra{written[generation]}." in body["answer"]["text"], (generation, body["answer"]["text"])
    print(f"{len(seen)} answers during {rebuilds} rebuilds, generations {min(written)}-{max(written)}")


def test_corrupt_index_gives_503_then_recovers_without_restart(live_server, documents, built):
    status, _ = post(live_server.url + "/api/ask", {"question": "Who leads Yisrael Beyteinu?"})
    assert status == 200
    good = built.read_bytes()
    broken = built.with_name("broken.sqlite")
    broken.write_bytes(good[: len(good) // 3])  # truncated
    os.replace(broken, built)
    status, body = post(live_server.url + "/api/ask", {"question": "Who leads Yisrael Beyteinu?"})
    assert status == 503 and "docqa index --full" in body["error"]["message"]
    broken.write_bytes(b"garbage" * 1000)
    os.replace(broken, built)
    status, body = post(live_server.url + "/api/ask", {"question": "Who leads Yisrael Beyteinu?"})
    assert status == 503 and "docqa index --full" in body["error"]["message"]
    build_index(documents, built, full=True)
    status, body = post(live_server.url + "/api/ask", {"question": "Who leads Yisrael Beyteinu?"})
    assert status == 200 and body["answered"]
    assert live_server.process.poll() is None


def test_full_disk_during_build_keeps_the_old_index(documents, built):
    for i in range(20):
        shutil.copy(documents / "russia-and-the-new-middle-east-part-2.txt", documents / f"copy{i}.txt")
    before = built.read_bytes()

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) + 10_000, len(before) + 10_000))

    done = subprocess.run(
        [sys.executable, "-m", "service", "index", "--documents", str(documents), "--index", str(built)],
        preexec_fn=small_files,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "previous index is unchanged" in done.stderr and "Traceback" not in done.stderr
    assert built.read_bytes() == before
    assert not list(built.parent.glob("*.tmp-*"))


def test_unwritable_index_location_is_a_clear_message(documents, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the instance folder should be")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "service",
            "index",
            "--documents",
            str(documents),
            "--index",
            str(blocker / "docqa.sqlite"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Cannot create" in done.stderr and "--index" in done.stderr and "Traceback" not in done.stderr


def test_document_routes_take_ids_not_paths(client):
    for path in ("/documents/..%2F..%2Fetc%2Fpasswd", "/api/documents/..%2Fsecret", "/documents/%2Fetc%2Fpasswd"):
        assert client.get(path).status_code == 404


SAMPLES = {
    "txt": (Path(__file__).resolve().parent.parent / "documents").glob("*.txt").__next__().read_bytes()[:4000],
    "md": (DATA / "guide.md").read_bytes(),
    "html": (DATA / "lighthouse.html").read_bytes(),
}


@pytest.fixture(scope="module")
def pdf_sample(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("pdf") / "sample.pdf"
    make_pdf(path, PDF_PAGES)
    return path.read_bytes()


def check_loader(suffix: str, data: bytes) -> None:
    """A loader either returns a document whose blocks fit its text, or raises UnreadableDocument."""
    try:
        doc = load(Path(f"fuzz.{suffix}"), data)
    except UnreadableDocument as exc:
        assert str(exc)
        return
    assert doc.text.strip()
    for block in doc.blocks:
        assert 0 <= block.start <= block.end <= len(doc.text)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["txt", "md", "html", "pdf"]), st.binary(max_size=3000))
def test_loaders_survive_random_bytes(suffix, data):
    check_loader(suffix, data)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["txt", "md", "html", "pdf"]), st.floats(0, 1), st.integers(0, 255), st.integers(0, 10**6))
def test_loaders_survive_truncated_and_flipped_files(pdf_sample, suffix, cut, byte, where):
    data = bytearray(pdf_sample if suffix == "pdf" else SAMPLES[suffix])
    data = data[: int(len(data) * cut)]
    if data:
        data[where % len(data)] = byte
    check_loader(suffix, bytes(data))


def test_build_reports_fuzzed_files_and_carries_on(documents, index_path, pdf_sample):
    rng = random.Random(5)
    for i in range(12):
        suffix = ["txt", "md", "html", "pdf"][i % 4]
        data = bytearray(pdf_sample if suffix == "pdf" else SAMPLES[suffix])
        data = data[: rng.randint(0, len(data))]
        for _ in range(rng.randint(0, 20)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        (documents / f"fuzz{i}.{suffix}").write_bytes(bytes(data))
    summary = build_index(documents, index_path)
    assert summary.added + summary.failed == 16
    assert all(f["error"] for f in summary.failures)
    assert IndexFile(index_path).postings(["yisrael"])
