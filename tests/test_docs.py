"""The documentation keeps up with the code: every setting, command and option."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from datalab.cli import cli
from datalab.config import Settings

DOCS = Path(__file__).parent.parent / "docs"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    text = (DOCS / "configuration.md").read_text()
    assert f"`DATALAB_{name.upper()}`" in text
    assert Settings.model_fields[name].description, f"{name} has no description"


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_and_option_is_documented(command: str) -> None:
    text = (DOCS / "cli.md").read_text()
    assert f"## `datalab {command}" in text
    section = text.split(f"## `datalab {command}", 1)[1].split("\n## ", 1)[0]
    for param in cli.commands[command].params:
        if isinstance(param, click.Option):
            assert any(opt in section for opt in param.opts), f"{command} {param.opts}"
        assert cli.commands[command].help


def test_readme_quick_start_is_two_commands() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["./scripts/serve", "./scripts/test"]
    ci = (DOCS.parent / ".ci" / "run").read_text()
    assert "./scripts/test" in ci
