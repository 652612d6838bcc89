"""A real ``docqa serve`` process on 127.0.0.1, talked to with curl and urllib."""

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from index.analysis import ANALYZER_VERSION
from index.build import build_index
from tests.conftest import LiveServer
from tests.conftest import age_index

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def curl(*args: str) -> tuple[int, dict]:
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=30)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_curl_good_empty_and_malformed(live_server):
    url = live_server.url + "/api/ask"
    status, body = curl(
        "-H", "Content-Type: application/json", "-d", '{"question": "Who leads Yisrael Beyteinu?"}', url
    )
    assert status == 200 and body["answered"] and "Liberman" in body["answer"]["text"]
    status, body = curl("-H", "Content-Type: application/json", "-d", '{"question": ""}', url)
    assert status == 400 and body["error"]["code"] == "invalid_question"
    status, body = curl("-H", "Content-Type: application/json", "-d", '{"question": ', url)
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    status, body = curl("-d", "question=hello", url)
    assert status == 415
    # One access line per request: method, path (never the query string), status, milliseconds.
    curl(live_server.url + "/api/documents?secret=1")
    # A worker writes its access line once the response is sent: the client can get there first.
    deadline = time.monotonic() + 10
    while True:
        lines = re.findall(r"^([A-Z]+) (\S+) (\d{3}) (\d+)ms$", live_server.output(), re.M)
        lines = [line for line in lines if line[1] != "/healthz"]
        if len(lines) >= 5 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [line[:3] for line in lines] == [
        ("POST", "/api/ask", "200"),
        ("POST", "/api/ask", "400"),
        ("POST", "/api/ask", "400"),
        ("POST", "/api/ask", "415"),
        ("GET", "/api/documents", "200"),
    ]


def test_security_headers_on_every_response(live_server):
    for path in ("/", "/api/documents", "/nope"):
        request = urllib.request.Request(live_server.url + path)
        try:
            response = urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
            assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_running_server_answers_from_a_rebuilt_index(live_server, documents, built):
    status, health = curl(live_server.url + "/healthz")
    assert health["generation"] == 1
    (documents / "otters.md").write_text(
        "# Otters\n\nSea otters hold hands while they sleep so they do not drift apart.\n"
    )
    build_index(documents, built)
    status, body = curl(
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"question": "Why do sea otters hold hands?"}',
        live_server.url + "/api/ask",
    )
    assert status == 200 and "drift apart" in body["answer"]["text"]
    status, health = curl(live_server.url + "/healthz")
    assert health["generation"] == 2 and health["documents"] == 5


def test_serve_rebuilds_an_index_of_another_version_first(documents, built):
    age_index(built, ANALYZER_VERSION - 1)
    server = LiveServer(documents, built)
    try:
        status, body = curl(
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"question": "Who leads Yisrael Beyteinu?"}',
            server.url + "/api/ask",
        )
        assert status == 200 and "Liberman" in body["answer"]["text"]
        assert body["index"]["generation"] == 2
    finally:
        output = server.stop()
    assert "built by another version of docqa; rebuilding it first" in output


def test_admin_rebuild_over_http(live_server, documents):
    status, body = curl("-X", "POST", live_server.url + "/api/index")
    assert status == 401
    (documents / "bees.txt").write_text("Honey bees communicate the direction of flowers with a waggle dance.\n")
    status, body = curl("-X", "POST", "-H", "Authorization: Bearer s3cret", live_server.url + "/api/index")
    assert status == 200 and body["added"] == 1 and body["unchanged"] == 4


def test_watch_rebuilds_when_a_document_changes(documents, index_path):
    build_index(documents, index_path)
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service",
            "index",
            "--watch",
            "--documents",
            str(documents),
            "--index",
            str(index_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from index.store import IndexFile

        deadline = time.monotonic() + 20
        while IndexFile(index_path).generation < 2 and time.monotonic() < deadline:  # the initial pass
            time.sleep(0.1)
        (documents / "penguins.md").write_text("# Penguins\n\nEmperor penguins huddle to survive the winter.\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if IndexFile(index_path).postings(["penguin"]):
                break
            time.sleep(0.2)
        assert IndexFile(index_path).postings(["penguin"]), "watch did not rebuild within 30 s"
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
