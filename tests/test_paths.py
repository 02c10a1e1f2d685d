"""Links and symlinks that lead out of the vault are never read, embedded or exported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli
from kb.store import Store
from kb.vault import find_vault
from tests.torture import SECRET_MARKER, WritesInto

COMMANDS = [
    ["index"],
    ["index", "--json"],
    ["stats", "--json"],
    ["search", "secret"],
    ["search", "passwd", "--json"],
    ["search", "root"],
    ["related", "Links out", "--json"],
    ["show", "links out"],
    ["show", "links out", "--json"],
    ["show", "secret"],
    ["path", "links out", "hub"],
    ["neighbors", "links out", "--json"],
    ["tags", "--json"],
    ["orphans", "--json"],
    ["doctor", "-n", "0"],
    ["doctor", "--json"],
    ["graph", "--all", "--out", "all.html"],
    ["graph", "--topic", "links out", "--out", "topic.html"],
    ["graph", "--all", "--format", "json", "--out", "-"],
    ["graph", "--all", "--format", "graphml", "--out", "-"],
    ["graph", "--all", "--format", "gexf", "--out", "-"],
]


@pytest.fixture
def escape(tmp_path: Path) -> tuple[Path, Path]:
    """A vault whose notes link out of it in every way, and the folder outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = f"# Secret\n\n{SECRET_MARKER} [[Hub]] #secret-tag\n"
    for name in ("secret.md", "passwd", "secret.png"):
        (outside / name).write_text(secret, encoding="utf-8")
    vault = tmp_path / "home" / "vault"
    (vault / "sub").mkdir(parents=True)
    (vault / "Hub.md").write_text("# Hub\n\nThe hub. See [[Links out]].\n", encoding="utf-8")
    (vault / "sub" / "Links out.md").write_text(
        "# Links out\n\n"
        "[passwd](../../etc/passwd) [abs](/etc/passwd) ![f](file:///etc/passwd)\n"
        f"[secret]({outside}/secret.md) ![[{outside}/secret.md]] [[{outside}/secret]]\n"
        "![[../../../outside/secret.md]] ![](../../../outside/secret.png) "
        "[[../../outside/secret]] [up](../../../outside/passwd)\n"
        "[[escape/secret]] ![[escape/secret.png]] ![[escaped secret]] [[secret]]\n",
        encoding="utf-8",
    )
    (vault / "escape").symlink_to(outside)  # a folder symlink out of the vault
    (vault / "escaped secret.md").symlink_to(outside / "secret.md")  # a file symlink out
    (vault / "sub" / "passwd.md").symlink_to("/etc/passwd")
    return vault, outside


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_nothing_outside_the_vault_is_read_or_shown(
    escape: tuple[Path, Path], args: list[str], tmp_path: Path, monkeypatch
) -> None:
    vault, outside = escape
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    runner = CliRunner()
    assert runner.invoke(cli, ["--vault", str(vault), "index"]).exit_code == 0
    with WritesInto(outside, Path("/etc/passwd"), reads=True) as opened:
        result = runner.invoke(cli, ["--vault", str(vault), *args])
    assert result.exit_code in (0, 1), result.output
    assert opened.seen == []  # not even opened
    assert SECRET_MARKER not in result.output
    assert "root:x:0:0" not in result.output  # a line of /etc/passwd
    for page in work.rglob("*"):
        if page.is_file():
            assert SECRET_MARKER not in page.read_text(encoding="utf-8"), page


def test_kb_data_holds_nothing_from_outside(escape: tuple[Path, Path]) -> None:
    vault, _ = escape
    runner = CliRunner()
    result = runner.invoke(cli, ["--vault", str(vault), "index"])
    assert result.exit_code == 0, result.output
    # The symlinks out are named (once each), never followed.
    assert sorted(line.split(": ")[1] for line in result.stderr.splitlines()) == [
        "escape",
        "escaped secret.md",
        "sub/passwd.md",
    ]
    assert "symlink to a folder outside the vault; not followed" in result.stderr
    for path in (vault / ".kb").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET_MARKER.encode() not in data and b"root:x:0:0" not in data, path
    notes = Store(find_vault(str(vault), environ={})).notes()
    assert sorted(notes) == ["Hub.md", "sub/Links out.md"]
    for note in notes.values():
        assert SECRET_MARKER not in repr(note) and "secret-tag" not in note.tags
    search = runner.invoke(cli, ["--vault", str(vault), "search", SECRET_MARKER, "--json"])
    assert json.loads(search.stdout) == []


def test_links_out_are_reported_as_written_not_resolved(escape: tuple[Path, Path]) -> None:
    """kb doctor names such links by their text (as the note has it); none reaches a note."""
    vault, outside = escape
    runner = CliRunner()
    data = json.loads(runner.invoke(cli, ["--vault", str(vault), "doctor", "--json"]).stdout)
    targets = {p["target"] for p in data["broken"] + data["missing_embeds"]}
    assert {"../../etc/passwd", "/etc/passwd", "escape/secret", "escaped secret"} <= targets
    assert f"{outside}/secret.md" in targets  # the user's own words, not the file's content
    show = runner.invoke(cli, ["--vault", str(vault), "show", "links out", "--json"])
    card = json.loads(show.stdout)
    assert all(link.get("path") in (None, "Hub.md") for link in card["links_out"])
