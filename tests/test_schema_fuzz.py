"""Schemathesis fuzzes the running server from its own OpenAPI document: no 5xx, no broken schema."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LiveServer

MAX_EXAMPLES = os.environ.get("SCHEMA_FUZZ_EXAMPLES", "60")
# The venv's own "st", found beside its Python: CI runs .venv/bin/python without activating the venv.
ST = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")


@pytest.mark.skipif(ST is None, reason="schemathesis is not installed (pip install -e '.[test]')")
def test_schemathesis_finds_no_failures(documents, built, tmp_path):
    server = LiveServer(documents, built, {"DOCQA_ADMIN_TOKEN": "s3cret", "DOCQA_ASK_RATE_LIMIT": "0"})
    try:
        done = subprocess.run(
            [
                ST,
                "run",
                server.url + "/api/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                MAX_EXAMPLES,
                "--seed",
                "1",
                "-H",
                "Authorization: Bearer s3cret",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,  # schemathesis keeps a cache in its working directory
        )
    finally:
        log = server.stop()
    assert done.returncode == 0, done.stdout[-4000:]
    server_errors = [line for line in log.splitlines() if re.match(r"^[A-Z]+ \S+ 5\d\d ", line)]
    assert not server_errors, server_errors[:5]
