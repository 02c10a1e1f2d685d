"""Every example session in the README is run and must show what the README shows.

Each ```console block of README.md is a list of ``$ command`` lines, each followed by the
output it shows. The blocks run in order, in one copy of the repository's layout (a folder
``kb/`` holding a copy of the sample vault, ``vault/``), after the quick start's
``kb search relu`` — as a reader goes through them. Each block starts in that folder (the
first one, which begins with ``cd kb``, just above it); ``cd`` lasts to the end of its block.
What a command prints on stdout and stderr is compared line by line with the README, with
times (``0.34 s``) allowed to differ, a line ``…`` standing for any number of lines and a
``…`` within a line for any text.
A command piped into ``jq`` needs jq (.ci/run installs it).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import REPO, SAMPLE_VAULT

README = (REPO / "README.md").read_text(encoding="utf-8")


@dataclass
class Example:
    """One ``$ command`` of a console block and the lines the README shows for it."""

    block: int
    command: str
    shown: list[str] = field(default_factory=list)


def examples(text: str) -> list[list[Example]]:
    """The console blocks of a Markdown text, each a list of examples."""
    blocks: list[list[Example]] = []
    for n, body in enumerate(re.findall(r"^```console\n(.*?)^```", text, re.M | re.S)):
        block: list[Example] = []
        for line in body.splitlines():
            if line.startswith("$"):
                command = line[1:].split("  #")[0].strip()
                if command.startswith("#"):
                    command = ""
                block.append(Example(n, command))
            elif block:
                block[-1].shown.append(line.rstrip())
        blocks.append(block)
    return blocks


_TIME = re.compile(r"\b\d+(\.\d+)? s\b")


def _same(shown: list[str], got: list[str]) -> bool:
    """True when ``got`` is what ``shown`` shows: ``…`` lines match any lines, times any time."""
    pattern = []
    for line in shown:
        if line.strip() == "…":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            parts = _TIME.sub("T s", line).split("…")  # "…" in a line: text left out
            pattern.append("[^\n]*?".join(map(re.escape, parts)) + r"\n")
    text = "".join(_TIME.sub("T s", g) + "\n" for g in got)
    return re.fullmatch("".join(pattern), text) is not None


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    """The folder above the repository copy, and the environment the examples run in."""
    top = tmp_path_factory.mktemp("readme")
    repo = top / "kb"
    shutil.copytree(SAMPLE_VAULT, repo / "vault", ignore=shutil.ignore_patterns(".kb"))
    bin_dir = top / "bin"
    bin_dir.mkdir()
    kb = bin_dir / "kb"
    kb.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m kb "$@"\n')
    kb.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(REPO),
        NO_COLOR="1",
        HOME=str(top / "home"),
        COLUMNS="100",
    )
    quick_start = _run("kb search relu", repo, env)  # the README's first command
    assert quick_start.returncode == 0, quick_start.stdout
    return {"top": top, "repo": repo, "env": env}


def _run(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )


BLOCKS = examples(README)


def test_the_readme_has_example_sessions() -> None:
    assert len(BLOCKS) >= 8
    assert sum(len(b) for b in BLOCKS) >= 15


@pytest.mark.parametrize("n", range(len(BLOCKS)), ids=lambda n: f"block{n}")
def test_readme_example_shows_what_it_says(session, n: int) -> None:
    # The blocks share one session: run the ones before this one first (once each).
    done: set[int] = session.setdefault("done", set())
    for m in range(n + 1):
        if m not in done:
            done.add(m)
            session[m] = _run_block(session, m)
    failures = session[n]
    assert not failures, "\n\n".join(failures)


def _run_block(session: dict, n: int) -> list[str]:
    cwd = session["top"] if n == 0 else session["repo"]
    failures: list[str] = []
    for ex in BLOCKS[n]:
        if not ex.command:
            continue
        if re.fullmatch(r"cd [^\s;&|]+", ex.command):
            cwd = (cwd / ex.command[3:].strip()).resolve()
            continue
        if "| jq" in ex.command and shutil.which("jq") is None:
            pytest.skip("jq is not installed (.ci/run installs it)")
        done = _run(ex.command, cwd, session["env"])
        got = [line.rstrip() for line in done.stdout.splitlines()]
        if done.returncode != 0 or not _same(ex.shown, got):
            failures.append(
                f"$ {ex.command}   (exit {done.returncode})\n"
                + "README shows:\n  "
                + "\n  ".join(ex.shown)
                + "\nkb prints:\n  "
                + "\n  ".join(got)
            )
    return failures


def test_ellipsis_and_times_in_the_comparison() -> None:
    assert _same(["a in 0.34 s", "…", "z"], ["a in 12.5 s", "b", "c", "z"])
    assert _same(["a", "…"], ["a"])
    assert _same(["«one …»"], ["«one two three»"])
    assert not _same(["a", "b"], ["a", "c"])
    assert not _same(["a"], ["a", "b"])
