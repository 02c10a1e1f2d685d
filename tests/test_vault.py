"""Choosing the vault and listing its notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.errors import VaultNotFound
from kb.vault import decode, find_vault


def make(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def test_explicit_vault_wins_over_env(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    v = find_vault(str(a), environ={"KB_VAULT": str(b)}, cwd=tmp_path)
    assert v.root == a.resolve()
    assert v.data_dir == a.resolve() / ".kb"


def test_env_vault_then_relative_to_cwd(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    v = find_vault(None, environ={"KB_VAULT": "notes"}, cwd=tmp_path)
    assert v.root == (tmp_path / "notes").resolve()


def test_missing_explicit_vault_says_where_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(VaultNotFound, match="from KB_VAULT"):
        find_vault(None, environ={"KB_VAULT": str(tmp_path / "nope")}, cwd=tmp_path)


def test_nearest_obsidian_folder_upwards(tmp_path: Path) -> None:
    (tmp_path / "v" / ".obsidian").mkdir(parents=True)
    deep = tmp_path / "v" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_vault(None, environ={}, cwd=deep).root == (tmp_path / "v").resolve()


def test_nearest_kb_folder_upwards(tmp_path: Path) -> None:
    (tmp_path / "v" / ".kb").mkdir(parents=True)
    (tmp_path / "v" / "sub").mkdir()
    assert (
        find_vault(None, environ={}, cwd=tmp_path / "v" / "sub").root == (tmp_path / "v").resolve()
    )


def test_dot_vault_folder_fallback(tmp_path: Path) -> None:
    (tmp_path / "vault").mkdir()
    assert find_vault(None, environ={}, cwd=tmp_path).root == (tmp_path / "vault").resolve()


def test_no_vault_error_says_how_to_choose(tmp_path: Path) -> None:
    with pytest.raises(VaultNotFound, match="--vault PATH"):
        find_vault(None, environ={}, cwd=tmp_path)


def test_index_dir_from_option_or_env(tmp_path: Path) -> None:
    (tmp_path / "v").mkdir()
    v = find_vault(str(tmp_path / "v"), str(tmp_path / "idx"), environ={}, cwd=tmp_path)
    assert v.data_dir == (tmp_path / "idx").resolve()
    v = find_vault(
        str(tmp_path / "v"), environ={"KB_INDEX_DIR": str(tmp_path / "i2")}, cwd=tmp_path
    )
    assert v.data_dir == (tmp_path / "i2").resolve()


def test_scan_skips_dot_folders_and_non_notes(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "a.md": "a",
            "sub/b.markdown": "b",
            "sub/image.png": "x",
            ".obsidian/workspace.md": "no",
            ".trash/old.md": "no",
            ".git/x.md": "no",
            ".kb/y.md": "no",
            ".hidden.md": "no",
        },
    )
    # .kb/ holding a note is not kb's data folder (kb refuses it): the data goes elsewhere.
    v = find_vault(str(root), str(tmp_path.with_name(tmp_path.name + "-data")), environ={})
    assert sorted(v.scan()) == ["a.md", "sub/b.markdown"]


def test_scan_honours_obsidian_user_ignore_filters(tmp_path: Path) -> None:
    root = make(
        tmp_path,
        {
            "keep.md": "",
            "templates/t.md": "",
            "archive/2019/x.md": "",
            "drafts-1.md": "",
            ".obsidian/app.json": json.dumps(
                {"userIgnoreFilters": ["templates/", "archive/2019", "/^drafts-\\d/"]}
            ),
        },
    )
    v = find_vault(str(root), environ={}, cwd=tmp_path)
    assert sorted(v.scan()) == ["keep.md"]


def test_sample_vault_excludes_its_templates(vault_copy: Path) -> None:
    files = find_vault(str(vault_copy), environ={}, cwd=vault_copy).scan()
    assert "面试准备计划.md" in files
    assert "topics/ResNet.md" in files
    assert not any(f.startswith("templates/") for f in files)


def test_decode_handles_bom_utf16_and_junk() -> None:
    assert decode("\ufeff# 标题".encode())[0] == "# 标题"
    assert decode("# t".encode("utf-16"))[0] == "# t"
    assert "\ufffd" in decode(b"ok \xff\xfe\xfd bad")[0]


def test_read_only_vault_asks_for_index_dir(tmp_path: Path, monkeypatch) -> None:
    from kb.errors import KbError

    (tmp_path / "v").mkdir()
    v = find_vault(str(tmp_path / "v"), environ={}, cwd=tmp_path)

    def refuse(self, *a, **k):
        raise PermissionError(13, "Permission denied")

    # Simulated, because tests may run as root, who can write anywhere.
    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(KbError, match="--index-dir DIR or set KB_INDEX_DIR"):
        v.ensure_data_dir()


def _aged(root: Path, seconds: int = 3600) -> None:
    """Every folder and file under ``root`` with an mtime an hour old (a vault not just made)."""
    import os
    import time

    then = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (then, then), follow_symlinks=False)


def test_snapshot_sees_every_kind_of_change_without_listing(tmp_path: Path) -> None:
    """A snapshot of a vault whose folders are not fresh says "unchanged" only while no note
    was edited, added, removed, renamed or replaced, and Obsidian's exclusions are the same:
    each such change shows in the stat of a note, a folder or app.json."""
    import os

    from kb.vault import Vault

    root = tmp_path / "v"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / ".obsidian").mkdir()
    (root / "a.md").write_text("# A\n", encoding="utf-8")
    (root / "sub" / "b.md").write_text("# B\n", encoding="utf-8")
    (root / "sub" / "deep" / "c.md").write_text("# C\n", encoding="utf-8")
    vault = Vault(root, root / ".kb")

    def append() -> None:
        with (root / "sub" / "deep" / "c.md").open("a", encoding="utf-8") as fh:
            fh.write("x\n")

    def edits():
        yield "append in place", append
        yield "same size in place", lambda: (root / "a.md").write_text("# Z\n", encoding="utf-8")
        yield "new note in a subfolder", lambda: (root / "sub" / "deep" / "d.md").write_text("#")
        yield "removed", lambda: (root / "sub" / "b.md").unlink()
        yield "renamed", lambda: (root / "sub" / "deep" / "c.md").rename(root / "sub" / "e.md")
        yield "new folder", lambda: (root / "sub" / "new").mkdir()
        yield "chmod", lambda: os.chmod(root / "a.md", 0o000)
        yield "exclusions", lambda: (root / ".obsidian" / "app.json").write_text("{}")

    for what, edit in edits():
        _aged(root)
        snap = vault.snapshot()
        assert snap.settled and snap.unchanged(), what
        assert snap.files == vault.scan({}), what
        edit()
        assert not snap.unchanged(), what
    os.chmod(root / "a.md", 0o644)


def test_snapshot_does_not_trust_a_folder_changed_just_now(tmp_path: Path) -> None:
    """A folder whose mtime is this second's may change again in the same tick of the clock
    without its mtime moving: the snapshot is then not settled, and says "look again"."""
    from kb.vault import Vault

    root = tmp_path / "v"
    root.mkdir()
    (root / "a.md").write_text("# A\n", encoding="utf-8")
    snap = Vault(root, root / ".kb").snapshot()
    assert not snap.settled and not snap.unchanged()
    _aged(root)
    assert Vault(root, root / ".kb").snapshot().unchanged()
