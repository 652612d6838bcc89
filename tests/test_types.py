"""The typed code (index/ and service/) passes mypy with the project's settings."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_index_and_service_pass_mypy(tmp_path):
    api = pytest.importorskip("mypy.api", reason="mypy comes with the test extra: pip install -e '.[test]'")
    config = str(ROOT / "pyproject.toml")
    folders = [str(ROOT / "index"), str(ROOT / "service")]
    out, err, status = api.run([*folders, "--config-file", config, "--cache-dir", str(tmp_path / "cache")])
    assert status == 0, out + err
