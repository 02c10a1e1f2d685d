"""Bad arguments: one line on stderr saying what is wrong and what to do, the right exit code
(2 for an error or a query kb cannot read, 1 for a topic that is not there), no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.cli import cli

LONG = "a" * 10_000

CASES = [
    # (id, args, exit code, words of the message)
    ("unclosed quote", ["search", '"soft target'], 2, "unclosed quote"),
    ("stray quote", ["search", 'relu"'], 2, "unclosed quote"),
    ("unclosed paren", ["search", "(relu OR dead"], 2, "unclosed '('"),
    ("stray paren", ["search", "relu)"], 2, "unbalanced ')'"),
    ("only parens", ["search", "(("], 2, "nothing to search for"),
    ("empty parens", ["search", "relu ()"], 2, "empty ( )"),
    ("lone AND", ["search", "AND"], 2, "AND needs a search term on each side"),
    ("lone OR", ["search", "OR"], 2, "OR needs a search term on each side"),
    ("lone NOT", ["search", "NOT"], 2, "NOT needs a term after it"),
    ("lone minus", ["search", "-"], 2, "nothing to search for"),
    ("trailing AND", ["search", "relu AND"], 2, "AND needs a search term"),
    ("leading OR", ["search", "OR relu"], 2, "OR needs a search term"),
    ("empty filter", ["search", "tag:"], 2, "tag: needs a value"),
    ("10,000 characters", ["search", LONG], 2, "at most 1,000"),
    ("2,000 words", ["search", "relu " * 2000], 2, "at most 1,000"),
    ("10,000 CJK characters", ["search", "卷积" * 5000], 2, "at most 1,000"),
    ("deep parens", ["search", "(" * 40 + "relu" + ")" * 40], 2, "more than 32 deep"),
    ("many NOTs", ["search", "NOT " * 40 + "relu"], 2, "more than 32 deep"),
    ("unknown topic", ["show", "nosuchtopic"], 1, "no topic 'nosuchtopic'"),
    ("long unknown topic", ["show", LONG], 1, "no topic 'aaaa"),
    ("unknown path end", ["path", "relu", "nosuchtopic"], 1, "no topic 'nosuchtopic'"),
    ("unknown graph topic", ["graph", "--topic", "nosuchtopic"], 1, "no topic"),
    ("unknown neighbors", ["neighbors", "nosuchtopic"], 1, "no topic"),
    ("unknown related", ["related", "nosuchtopic"], 1, "no topic"),
    ("unknown option", ["search", "--nosuch", "relu"], 2, "No such option '--nosuch'"),
    ("mistyped global option", ["--debg", "stats"], 2, "Did you mean '--debug'?"),
    ("missing argument", ["path", "relu"], 2, "Missing argument 'B'. See '"),
    ("bad option value", ["search", "-n", "many", "relu"], 2, "'many' is not a valid integer"),
    ("unknown command", ["serach", "relu"], 2, "No such command 'serach'. Did you mean 'search'?"),
]


@pytest.mark.parametrize(
    ("args", "code", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_argument_is_one_line(kb, args: list[str], code: int, message: str) -> None:
    start = time.perf_counter()
    result = kb(*args)
    assert time.perf_counter() - start < 10
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert len(lines[0]) < 300
    assert result.stdout == ""
    assert "Traceback" not in result.output


def _vault_cases(tmp: Path, sample: Path) -> list[tuple[str, list[str], dict[str, str], str]]:
    afile = tmp / "a-file"
    afile.write_text("x", encoding="utf-8")
    missing = str(tmp / "missing")
    return [
        ("--vault missing", ["--vault", missing, "stats"], {}, "(from --vault) does not exist"),
        ("--vault is a file", ["--vault", str(afile), "stats"], {}, "is a file, not a folder"),
        ("KB_VAULT missing", ["stats"], {"KB_VAULT": missing}, "(from KB_VAULT) does not exist"),
        ("KB_VAULT is a file", ["search", "x"], {"KB_VAULT": str(afile)}, "is a file"),
        (
            "--index-dir is a file",
            ["--vault", str(sample), "--index-dir", str(afile), "index"],
            {},
            "give --index-dir (or KB_INDEX_DIR) a folder",
        ),
        (
            "--index-dir under a file",
            ["--vault", str(sample), "--index-dir", str(afile / "sub"), "search", "relu"],
            {},
            "cannot use",
        ),
        (
            "KB_INDEX_DIR is a file",
            ["--vault", str(sample), "show", "relu"],
            {"KB_INDEX_DIR": str(afile)},
            "cannot use",
        ),
    ]


VAULT_CASE_IDS = [
    "--vault missing",
    "--vault is a file",
    "KB_VAULT missing",
    "KB_VAULT is a file",
    "--index-dir is a file",
    "--index-dir under a file",
    "KB_INDEX_DIR is a file",
]


@pytest.mark.parametrize("case", VAULT_CASE_IDS)
def test_bad_vault_or_index_dir_is_one_line(
    runner, case: str, tmp_path: Path, vault_copy: Path, monkeypatch
) -> None:
    monkeypatch.delenv("KB_VAULT", raising=False)
    monkeypatch.delenv("KB_INDEX_DIR", raising=False)
    cases = {c[0]: c[1:] for c in _vault_cases(tmp_path, vault_copy)}
    args, env, message = cases[case]
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_unexpected_failure_is_one_line_and_debug_shows_it(kb, monkeypatch) -> None:
    """A bug in kb still gives one line (and says how to see more); --debug shows the trace."""
    from kb import index

    def broken(*args, **kwargs):
        raise RuntimeError("something kb did not expect")

    monkeypatch.setattr(index, "search", broken)
    result = kb("search", "relu")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: kb failed (RuntimeError: something kb did not expect); "
        "run it again with --debug to see where"
    ]
    debug = kb("--debug", "search", "relu")
    assert isinstance(debug.exception, RuntimeError)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["search", LONG], 2),
        (["search", "(" * 40 + "relu" + ")" * 40], 2),
        (["show", "nosuchtopic"], 1),
        (["--vault", "/nonexistent/kb-vault", "stats"], 2),
        (["show", "--nosuch", "relu"], 2),
    ],
    ids=["long query", "deep query", "unknown topic", "missing vault", "unknown option"],
)
def test_real_process_prints_one_line(vault_copy: Path, args: list[str], code: int) -> None:
    """The same through the console entry point (kb.cli.main), as a user runs it."""
    cmd = [sys.executable, "-m", "kb"]
    if args[0] != "--vault":
        cmd += ["--vault", str(vault_copy)]
    proc = subprocess.run(cmd + args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("Error: ")
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "args",
    [["show", "nosuchtopic"], ["path", "relu", "nosuchtopic"], ["search", "OR relu"]],
    ids=["show", "path", "search"],
)
def test_an_error_with_json_is_json_on_stdout_too(kb, args: list[str]) -> None:
    """A script reading stdout gets an answer it can parse; the line stays on stderr."""
    result = kb(*args, "--json")
    assert result.exit_code in (1, 2)
    answer = json.loads(result.stdout)
    assert answer["error"] and answer["error"] in result.stderr
    if args[0] != "search":
        assert answer["did_you_mean"] == [] or all(
            isinstance(s, str) for s in answer["did_you_mean"]
        )
