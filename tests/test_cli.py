"""The docqa command, through click's runner and as a real process."""

import json
import subprocess
import sys

from click.testing import CliRunner

from service.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_index_then_ask(documents, index_path):
    result = run("index", "--documents", str(documents), "--index", str(index_path))
    assert result.exit_code == 0, result.output
    assert "4 added" in result.output and "generation 1" in result.output
    result = run("ask", "--index", str(index_path), "Who leads Yisrael Beyteinu?")
    assert result.exit_code == 0
    assert "Avigdor Liberman" in result.output and "[1]" in result.output
    result = run("ask", "--index", str(index_path), "What did Netanyahu ask Putin?")
    answer_line = result.output.splitlines()[0]
    assert "Putin refused. [1]" in answer_line and answer_line.count("[1]") == 1  # one marker per run
    result = run("ask", "--index", str(index_path), "--json", "--top-k", "2", "Who leads Yisrael Beyteinu?")
    body = json.loads(result.output)
    assert body["answered"] and len(body["passages"]) == 2


def test_index_reports_failures_and_rebuilds_incrementally(documents, index_path):
    (documents / "bad.pdf").write_bytes(b"not a pdf")
    first = run("index", "--documents", str(documents), "--index", str(index_path))
    assert "failed: bad.pdf" in first.output and "1 failed" in first.output
    second = run("index", "--documents", str(documents), "--index", str(index_path))
    assert "4 unchanged" in second.output
    full = run("index", "--full", "--documents", str(documents), "--index", str(index_path))
    assert "4 added" in full.output


def test_errors_are_messages_not_tracebacks(tmp_path):
    result = CliRunner().invoke(
        cli, ["index", "--documents", str(tmp_path / "missing"), "--index", str(tmp_path / "i")]
    )
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(
        cli, ["index", "--watch", "--documents", str(tmp_path / "missing"), "--index", str(tmp_path / "i")]
    )
    assert result.exit_code == 1 and "does not exist" in result.output
    result = CliRunner().invoke(cli, ["ask", "--index", str(tmp_path / "none.sqlite"), "hello?"])
    assert result.exit_code == 1 and "run `docqa index`" in result.output
    result = CliRunner().invoke(cli, ["ask", "--index", str(tmp_path / "none.sqlite"), "   "])
    assert result.exit_code == 1


def test_bad_environment_setting_is_reported(tmp_path):
    result = CliRunner().invoke(cli, ["index", "--index", str(tmp_path / "i")], env={"DOCQA_CHUNK_WORDS": "many"})
    assert result.exit_code == 1 and "chunk_words" in result.output
    result = CliRunner().invoke(cli, ["index", "--index", str(tmp_path / "i")], env={"DOCQA_TYPO": "1"})
    assert result.exit_code == 1 and "DOCQA_TYPO" in result.output
    result = CliRunner().invoke(cli, ["index", "--index", str(tmp_path / "i")], env={"DOCQA_TITLE_WEIGHT": "0"})
    assert result.exit_code == 1 and "title_weight must be between 1 and 10" in result.output


def test_console_script_runs(documents, index_path):
    done = subprocess.run(
        [sys.executable, "-m", "service", "index", "--documents", str(documents), "--index", str(index_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "Indexed 4 documents" in done.stdout
