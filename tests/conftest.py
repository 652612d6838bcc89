"""Shared fixtures: real documents of every format, real index files, real servers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs a short fuzz; bench/soak.sh selects the long one.
settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("soak", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
ARTICLE = ROOT / "documents" / "russia-and-the-new-middle-east-part-2.txt"

PDF_PAGES = [
    "Volcanoes of Iceland. Hekla erupted in 1947 and again in 2000. The eruption of 1947 lasted thirteen months.",
    "Glaciers of Iceland. Vatnajokull is the largest glacier in Iceland. It covers about eight percent of the country.",
]


def make_pdf(path: Path, pages: list[str]) -> None:
    """Write a real PDF with one page per string, using fpdf2."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Iceland Facts")
    for text in pages:
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 8, text)
    pdf.output(str(path))


@pytest.fixture
def documents(tmp_path: Path) -> Path:
    """A documents folder with the shipped article and one file of each other format."""
    folder = tmp_path / "documents"
    folder.mkdir()
    shutil.copy(ARTICLE, folder / ARTICLE.name)
    shutil.copy(DATA / "guide.md", folder / "guide.md")
    shutil.copy(DATA / "lighthouse.html", folder / "lighthouse.html")
    make_pdf(folder / "iceland.pdf", PDF_PAGES)
    return folder


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    """Where the test's index file goes."""
    return tmp_path / "instance" / "docqa.sqlite"


@pytest.fixture
def built(documents: Path, index_path: Path) -> Path:
    """A freshly built index over ``documents``."""
    from index.build import build_index

    build_index(documents, index_path)
    return index_path


@pytest.fixture
def app(documents: Path, built: Path):
    """The Flask app over the built index."""
    from service import create_app

    return create_app({"TESTING": True, "DOCUMENTS": str(documents), "INDEX": str(built), "ADMIN_TOKEN": "s3cret"})


@pytest.fixture
def client(app):
    """Flask's test client."""
    return app.test_client()


def age_index(index: Path, analyzer_version: int) -> None:
    """Make *index* look built by a docqa whose analyzer had another version (an upgrade's case)."""
    import sqlite3

    with sqlite3.connect(index) as conn:
        (value,) = conn.execute("select value from meta where key = 'tokenization'").fetchone()
        tokenization = {**json.loads(value), "analyzer": analyzer_version}
        conn.execute("update meta set value = ? where key = 'tokenization'", (json.dumps(tokenization),))
    conn.close()


def free_port() -> int:
    """Ask the OS for a free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real ``docqa serve`` process on 127.0.0.1."""

    def __init__(self, documents: Path, index: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {**os.environ, **(env or {})}
        # A file, not a pipe: nobody reads a pipe while the test runs, and a full pipe
        # would block the server's access log and with it every request.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service",
                "serve",
                "--documents",
                str(documents),
                "--index",
                str(index),
                "--port",
                str(self.port),
            ],
            env=environ,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("server exited: " + self.output()) from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start within 30 s")

    def output(self) -> str:
        """Everything the server printed so far."""
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self) -> str:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        out = self.output()
        self.log.close()
        return out


@pytest.fixture
def live_server(documents: Path, built: Path):
    """A running production server over the built index."""
    server = LiveServer(documents, built, {"DOCQA_ADMIN_TOKEN": "s3cret"})
    yield server
    server.stop()
