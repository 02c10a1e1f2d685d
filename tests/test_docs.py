"""Every command has help with an example and a README section (cf. sqlite-utils' test_docs)."""

from __future__ import annotations

import re

import pytest

from kb.cli import COMMANDS, SUMMARIES, cli

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_has_help_with_example(runner, name: str) -> None:
    result = runner.invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"kb {name}" in result.output or "kb --vault" in result.output


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_documented_in_readme(name: str) -> None:
    assert re.search(rf"^### `kb {name}\b", README, re.M), f"README has no '### `kb {name}' section"


def test_every_command_has_a_summary() -> None:
    assert set(SUMMARIES) == set(COMMANDS)


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    command = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest"
    assert command in README
    assert command in ci
