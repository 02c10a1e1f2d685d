"""kb's data folder (issue 11, points 2, 8 and 11): kb removes only what it made, never
reaches its data folder through a symlink, and ``kb graph --out`` never overwrites a note.

Every test runs kb in a subprocess with a hard timeout, on folders built here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 120

# Every name kb writes in its data folder (as found after `kb index` + `kb graph`), and the
# leftovers it cleans up, given to files and folders of the user's.
USER_FILES = {
    "search/held.json": b'{"mine": true}',
    "search/_MAIN_1.toc": b"my table of contents",
    "search/MAIN_abc.seg": b"not whoosh's",
    "search/MAIN.tmp/run1": b"my run",
    "search/notes.txt": b"my search notes",
    "search.old.x/a.txt": b"old x",
    "search.new.y/b.txt": b"new y",
    "search.old.123/held.json": b"{}",
    "search.new.456/_MAIN_1.toc": b"toc",
    "notes.sqlite": b"my database",
    "notes.sqlite-wal": b"wal",
    "notes.sqlite-shm": b"shm",
    "graph.pickle": b"my pickle",
    "graph-notes.pickle": b"my notes pickle",
    "graph-held.json": b'{"held": 1}',
    "graph-text.sqlite": b"my text db",
    "graph/v.html": b"<html>my page</html>",
    "graph/vault.html": b"<html>my other page</html>",
    "lock": b"my lock",
    "held.123.tmp": b"tmp",
    "graph.pickle.999.tmp": b"tmp",
    "notes.sqlite.42.tmp": b"tmp",
    "diary.md": b"# my diary\n",
}

COMMANDS = [
    ["index"],
    ["index", "--full"],
    ["search", "relu"],
    ["show", "ReLU"],
    ["path", "ReLU", "ResNet"],
    ["neighbors", "ReLU"],
    ["tags"],
    ["orphans"],
    ["doctor"],
    ["stats"],
    ["graph", "--all"],
    ["graph", "--topic", "ReLU", "--format", "json"],
]


def kb(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    environ["PYTHONPATH"] = str(REPO)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "kb", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def plant(folder: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def snapshot(folder: Path, skip: str | None = None) -> dict[str, bytes]:
    """Every file under folder (not following symlinks) by relative path, with its bytes."""
    found = {}
    for dirpath, _dirs, files in os.walk(folder):
        rel = Path(dirpath).relative_to(folder)
        if skip is not None and rel.parts[:1] == (skip,):
            continue
        for f in files:
            found[(rel / f).as_posix()] = (Path(dirpath) / f).read_bytes()
    return found


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def vault(vault_copy: Path) -> Path:
    return vault_copy


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working folder outside the vault (graph --all writes graph/<name>.html there)."""
    here = tmp_path / "work"
    here.mkdir()
    return here


# -- point 2: an index dir of the user's --------------------------------------------------------


@pytest.mark.parametrize("how", ["option", "env"])
def test_index_dir_with_user_files_named_like_kbs_keeps_every_one(
    vault: Path, outside: Path, tmp_path: Path, how: str
) -> None:
    """Every command with --index-dir / KB_INDEX_DIR at a folder of the user's holding files
    named like kb's: each works, kb's data goes to its own kb-data/ there, and every user file
    is still there byte for byte (main deleted search.old.x/, search.new.y/ and more)."""
    home = tmp_path / "home"
    plant(home, USER_FILES)
    before = snapshot(home)
    for command in COMMANDS:
        if how == "option":
            result = kb("--vault", str(vault), "--index-dir", str(home), *command, cwd=outside)
        else:
            result = kb(
                "--vault", str(vault), *command, cwd=outside, env={"KB_INDEX_DIR": str(home)}
            )
        assert result.returncode == 0, (command, result.stderr)
        assert snapshot(home, skip="kb-data") == before, command
    assert (home / "kb-data" / "kb-data.json").is_file()
    assert (home / "kb-data" / "notes.sqlite").is_file()
    assert (home / "kb-data" / "search" / "held.json").is_file()
    assert not (vault / ".kb").exists()


def test_new_or_empty_index_dir_is_used_as_it_is(
    vault: Path, outside: Path, tmp_path: Path
) -> None:
    for name in ("new", "empty"):
        folder = tmp_path / name
        if name == "empty":
            folder.mkdir()
        result = kb(
            "--vault", str(vault), "--index-dir", str(folder), "search", "relu", cwd=outside
        )
        assert result.returncode == 0, result.stderr
        assert (folder / "kb-data.json").is_file() and (folder / "search").is_dir()
        assert not (folder / "kb-data").exists()


@pytest.mark.parametrize("where", ["root", "inside"])
def test_index_dir_in_the_vault_is_refused(vault: Path, outside: Path, where: str) -> None:
    """KB_INDEX_DIR at the vault root (or a folder in it) is refused with one line; main used
    it and deleted the user's search.old.x/ there."""
    plant(vault, {"search.old.x/keep.md": b"# keep\n", "search/mine.md": b"# mine\n"})
    folder = vault if where == "root" else vault / "topics"
    before = snapshot(vault)
    for env in ({"KB_INDEX_DIR": str(folder)}, None):
        if env is None:
            result = kb("--vault", str(vault), "--index-dir", str(folder), "index", cwd=outside)
        else:
            result = kb("--vault", str(vault), "index", cwd=outside, env=env)
        one_line_error(result, "inside the vault" if where == "inside" else "the vault itself")
        assert snapshot(vault) == before


def test_index_dir_named_as_default_kb_is_allowed(vault: Path, outside: Path) -> None:
    result = kb(
        "--vault", str(vault), "--index-dir", str(vault / ".kb"), "search", "relu", cwd=outside
    )
    assert result.returncode == 0, result.stderr
    assert (vault / ".kb" / "kb-data.json").is_file()


# -- the default .kb/ -------------------------------------------------------------------------


def test_kb_folder_of_an_older_kb_is_adopted(vault: Path, outside: Path) -> None:
    """A .kb/ without a marker holding only names kb writes keeps working, and is marked."""
    assert kb("--vault", str(vault), "index", cwd=outside).returncode == 0
    (vault / ".kb" / "kb-data.json").unlink()
    result = kb("--vault", str(vault), "search", "relu", cwd=outside)
    assert result.returncode == 0, result.stderr
    assert "ReLU" in result.stdout
    assert (vault / ".kb" / "kb-data.json").is_file()


def test_kb_folder_holding_other_files_is_refused(vault: Path, outside: Path) -> None:
    """A .kb/ that kb did not make (no marker, files not kb's) is refused, not written to."""
    plant(vault / ".kb", {"mine.txt": b"mine", "search/x.txt": b"x", "search.old.1/y": b"y"})
    before = snapshot(vault / ".kb")
    result = kb("--vault", str(vault), "index", cwd=outside)
    one_line_error(result, "mine.txt", "--index-dir")
    assert snapshot(vault / ".kb") == before


# -- point 8: symlinks --------------------------------------------------------------------------


def test_kb_folder_that_is_a_symlink_is_refused(vault: Path, outside: Path, tmp_path: Path) -> None:
    """<vault>/.kb -> ../projects: main wrote there and deleted projects/search/."""
    projects = tmp_path / "projects"
    plant(projects, {"search/plan.md": b"# plan\n", "search.old.1/x": b"x", "notes.sqlite": b"n"})
    (vault / ".kb").symlink_to(projects)
    before = snapshot(projects)
    for command in (["search", "relu"], ["index"], ["graph", "--all"]):
        one_line_error(kb("--vault", str(vault), *command, cwd=vault), "symlink")
        assert snapshot(projects) == before


def test_planted_symlink_in_kb_folder_is_not_followed(
    vault: Path, outside: Path, tmp_path: Path
) -> None:
    """.kb/search -> somewhere else: kb neither writes nor removes through it."""
    assert kb("--vault", str(vault), "index", cwd=outside).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(vault / ".kb" / "search", elsewhere)
    shutil.rmtree(vault / ".kb" / "search")
    (vault / ".kb" / "search").symlink_to(elsewhere)
    (vault / "topics" / "ReLU.md").write_text("# ReLU\n\nchanged [[ResNet]]\n", encoding="utf-8")
    before = snapshot(elsewhere)
    for command in (["index"], ["index", "--full"], ["search", "changed"]):
        one_line_error(kb("--vault", str(vault), *command, cwd=outside), "symlink")
        assert snapshot(elsewhere) == before
        assert (vault / ".kb" / "search").is_symlink()


def test_planted_symlink_lock_is_not_followed(vault: Path, outside: Path, tmp_path: Path) -> None:
    assert kb("--vault", str(vault), "index", cwd=outside).returncode == 0
    target = tmp_path / "precious.txt"
    target.write_bytes(b"precious")
    (vault / ".kb" / "lock").unlink()
    (vault / ".kb" / "lock").symlink_to(target)
    (vault / "topics" / "ReLU.md").write_text("# ReLU\n\nchanged\n", encoding="utf-8")
    one_line_error(kb("--vault", str(vault), "index", cwd=outside), "symlink")
    assert target.read_bytes() == b"precious"


# -- point 11: graph --out ------------------------------------------------------------------------


def test_graph_out_into_the_vault_is_refused(vault: Path, outside: Path) -> None:
    note = vault / "topics" / "ReLU.md"
    before = note.read_bytes()
    for fmt in ("html", "json"):
        result = kb(
            "--vault",
            str(vault),
            "graph",
            "--all",
            "--format",
            fmt,
            "--out",
            str(note),
            cwd=outside,
        )
        one_line_error(result, "inside the vault")
        assert note.read_bytes() == before
    result = kb("--vault", str(vault), "graph", "--all", "--out", "new.html", cwd=vault / "topics")
    one_line_error(result, "inside the vault")
    assert not (vault / "topics" / "new.html").exists()


def test_graph_out_to_a_symlink_into_the_vault_is_refused(vault: Path, outside: Path) -> None:
    note = vault / "topics" / "ReLU.md"
    before = note.read_bytes()
    link = outside / "graph.html"
    link.symlink_to(note)
    one_line_error(
        kb("--vault", str(vault), "graph", "--all", "--out", str(link), "--force", cwd=outside),
        "inside the vault",
    )
    assert note.read_bytes() == before and link.is_symlink()


def test_graph_out_asks_before_overwriting_a_file_kb_did_not_write(
    vault: Path, outside: Path
) -> None:
    mine = outside / "mine.html"
    mine.write_bytes(b"<html>mine</html>")
    result = kb("--vault", str(vault), "graph", "--all", "--out", str(mine), cwd=outside)
    one_line_error(result, "--force")
    assert mine.read_bytes() == b"<html>mine</html>"
    result = kb("--vault", str(vault), "graph", "--all", "--out", str(mine), "--force", cwd=outside)
    assert result.returncode == 0, result.stderr
    assert b'<meta name="generator" content="kb">' in mine.read_bytes()
    for fmt in ("html", "json", "graphml", "gexf"):
        out = outside / f"kb.{fmt}"
        for _ in range(2):  # the second run overwrites kb's own file without asking
            result = kb(
                "--vault",
                str(vault),
                "graph",
                "--all",
                "--format",
                fmt,
                "--out",
                str(out),
                cwd=outside,
            )
            assert result.returncode == 0, (fmt, result.stderr)


def test_graph_default_out_in_the_vault_goes_to_kbs_folder(vault: Path) -> None:
    result = kb("--vault", str(vault), "graph", "--all", cwd=vault)
    assert result.returncode == 0, result.stderr
    assert (vault / ".kb" / "graph" / "vault.html").is_file()
