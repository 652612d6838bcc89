"""The README must keep up with the code."""

from pathlib import Path

from click.testing import CliRunner

from index.settings import SETTINGS
from service.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented():
    missing = [s.name for s in SETTINGS if f"`DOCQA_{s.name.upper()}`" not in README]
    assert not missing


def test_every_command_is_documented_and_has_help():
    for name, command in cli.commands.items():
        assert f"`docqa {name}" in README
        assert CliRunner().invoke(cli, [name, "--help"]).exit_code == 0
        assert command.help


def test_readme_opens_with_the_two_commands():
    blocks = README.split("```sh\n")
    assert "docqa serve" in blocks[1].split("```")[0]
    assert "pytest" in blocks[2].split("```")[0]
