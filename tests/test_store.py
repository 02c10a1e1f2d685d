"""The .kb/ store: incremental refresh by stat, hash and parse."""

from __future__ import annotations

import os
from pathlib import Path

from kb.store import Store
from kb.vault import Vault, find_vault


def store_for(root: Path) -> Store:
    return Store(find_vault(str(root), environ={}, cwd=root))


def test_first_refresh_reads_everything(vault_copy: Path) -> None:
    store = store_for(vault_copy)
    changes = store.refresh()
    assert "面试准备计划.md" in changes.added
    assert not changes.changed and not changes.removed
    assert set(changes.parsed) == set(changes.added)
    assert store.totals().notes == len(changes.added)


def test_second_refresh_reads_nothing(vault_copy: Path, monkeypatch) -> None:
    store = store_for(vault_copy)
    store.refresh()
    # An unchanged vault must not even open a note file.
    monkeypatch.setattr(
        Vault, "read_note", lambda self, rel: (_ for _ in ()).throw(AssertionError(rel))
    )
    changes = store.refresh()
    assert not changes.any
    assert changes.unchanged == store.totals().notes


def test_edit_add_delete(vault_copy: Path) -> None:
    store = store_for(vault_copy)
    store.refresh()
    relu = vault_copy / "topics" / "ReLU.md"
    relu.write_text(relu.read_text(encoding="utf-8") + "\n新增一行 #新标签\n", encoding="utf-8")
    (vault_copy / "new.md").write_text("# New\n[[ReLU]]\n", encoding="utf-8")
    (vault_copy / "topics" / "Smooth L1.md").unlink()
    changes = store.refresh()
    assert changes.changed == ["topics/ReLU.md"]
    assert changes.added == ["new.md"]
    assert changes.removed == ["topics/Smooth L1.md"]
    assert "新标签" in store.notes(["topics/ReLU.md"])["topics/ReLU.md"].tags
    assert "topics/Smooth L1.md" not in store.hashes()


def test_touched_but_identical_file_is_not_parsed_again(vault_copy: Path) -> None:
    store = store_for(vault_copy)
    store.refresh()
    relu = vault_copy / "topics" / "ReLU.md"
    st = relu.stat()
    os.utime(relu, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    changes = store.refresh()
    assert not changes.any and not changes.parsed
    # …and the new mtime is remembered, so the next refresh does not even hash it.
    assert not store.refresh().any


def test_full_rebuild_reparses_all(vault_copy: Path) -> None:
    """--full reads every note again, and says new or changed only of those that are."""
    store = store_for(vault_copy)
    first = store.refresh()
    relu = vault_copy / "topics" / "ReLU.md"
    relu.write_text(relu.read_text(encoding="utf-8") + "\nzebra\n", encoding="utf-8")
    (vault_copy / "new.md").write_text("# New\n", encoding="utf-8")
    again = store.refresh(full=True)
    assert set(again.parsed) == {*first.added, "new.md"}
    assert again.added == ["new.md"] and again.changed == ["topics/ReLU.md"]
    assert again.unchanged == len(first.added) - 1


def test_consumer_diff(vault_copy: Path) -> None:
    store = store_for(vault_copy)
    store.refresh()
    held = store.hashes()
    assert store.diff(held) == ([], [])
    held["gone.md"] = "x"
    held["topics/ReLU.md"] = "old"
    assert store.diff(held) == (["topics/ReLU.md"], ["gone.md"])


def test_many_files_parse_in_a_pool(tmp_path: Path) -> None:
    for i in range(150):
        (tmp_path / f"n{i:03}.md").write_text(
            f"# Note {i}\n\nlinks to [[n{(i + 1) % 150:03}]] #t{i % 7}\n"
        )
    store = store_for(tmp_path)
    seen: list[tuple[int, int]] = []
    changes = store.refresh(progress=lambda done, total: seen.append((done, total)))
    assert len(changes.added) == 150
    assert [s for s in seen if s[1]][-1] == (150, 150)
    assert seen[-1] == (0, 0)  # then writing them: a step with no count (kb.output.progress)
    notes = store.notes()
    assert notes["n149.md"].links[0].target == "n000"


def test_store_lives_in_data_dir_only(vault_copy: Path, tmp_path: Path) -> None:
    before = sorted(p.relative_to(vault_copy) for p in vault_copy.rglob("*"))
    idx = tmp_path / "elsewhere"
    store = Store(find_vault(str(vault_copy), str(idx), environ={}, cwd=tmp_path))
    store.refresh()
    assert (idx / "notes.sqlite").exists()
    assert sorted(p.relative_to(vault_copy) for p in vault_copy.rglob("*")) == before


def test_worker_processes_do_not_keep_the_write_lock(vault_copy: Path) -> None:
    """A kb killed mid-update must not leave its forked workers holding .kb/lock."""
    import subprocess
    import sys

    # Take the lock, fork a long-lived worker (a parser, a whoosh writer), then die at once,
    # as under `kill -9`: no unlock, no cleanup.
    killed = (
        "import os, sys, time\n"
        "from kb.store import write_lock; from kb.vault import find_vault\n"
        "with write_lock(find_vault(sys.argv[1])):\n"
        "    if os.fork() == 0:\n"
        "        null = os.open(os.devnull, os.O_RDWR); os.dup2(null, 1); os.dup2(null, 2)\n"
        "        time.sleep(30); os._exit(0)\n"
        "    print(os.getpid(), flush=True); os._exit(9)\n"
    )
    probe = (
        "import sys; from kb.store import write_lock; from kb.vault import find_vault\n"
        "with write_lock(find_vault(sys.argv[1]), wait=False): print('free')"
    )
    first = subprocess.run([sys.executable, "-c", killed, str(vault_copy)], capture_output=True)
    assert first.returncode == 9, first.stderr
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(vault_copy)], capture_output=True, text=True
        )
        assert done.stdout.strip() == "free", done.stderr
    finally:
        subprocess.run(["pkill", "-f", f"{vault_copy}"], check=False)


def test_generation_changes_with_the_notes_and_only_then(vault_copy: Path) -> None:
    """The token the search index and the graph trust to skip comparing every hash."""
    store = store_for(vault_copy)
    assert store.generation() == ""  # no store yet
    store.refresh()
    first = store.generation()
    assert first
    store.refresh()
    assert store.generation() == first  # nothing changed: the same token
    relu = vault_copy / "topics" / "ReLU.md"
    st = relu.stat()
    os.utime(relu, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    store.refresh()
    assert store.generation() == first  # touched, same content: the notes did not change
    relu.write_text(relu.read_text(encoding="utf-8") + "\nzebra\n", encoding="utf-8")
    store.refresh()
    edited = store.generation()
    assert edited not in ("", first)
    (vault_copy / "topics" / "Smooth L1.md").unlink()
    store.refresh()
    assert store.generation() not in ("", first, edited)
    full = store.generation()
    store.refresh(full=True)
    assert store.generation() != full


def test_a_store_without_a_generation_gets_one(vault_copy: Path) -> None:
    """A store written before the generation existed: the next refresh gives it one."""
    import sqlite3

    store = store_for(vault_copy)
    store.refresh()
    store.close()
    db = sqlite3.connect(vault_copy / ".kb" / "notes.sqlite")
    db.execute("DELETE FROM meta WHERE key='generation'")
    db.commit()
    db.close()
    store = store_for(vault_copy)
    assert store.generation() == ""
    assert not store.refresh().any
    assert store.generation()


def test_a_damaged_record_dropped_changes_the_generation(vault_copy: Path) -> None:
    import sqlite3

    store = store_for(vault_copy)
    store.refresh()
    before = store.generation()
    store.close()
    db = sqlite3.connect(vault_copy / ".kb" / "notes.sqlite")
    db.execute("UPDATE notes SET note='{not a note' WHERE path='topics/ReLU.md'")
    db.commit()
    db.close()
    store = store_for(vault_copy)
    assert "topics/ReLU.md" not in store.notes(["topics/ReLU.md"])  # refused and forgotten
    assert store.generation() != before


def _bump(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_the_journal_says_what_changed_since_a_generation(vault_copy: Path) -> None:
    """A consumer that caught up with a generation learns what changed since from the journal
    (kb index after one edit compares one note, not every note's hash)."""
    store = store_for(vault_copy)
    store.refresh()
    first = store.generation()
    assert store.changed_since(first) == set()
    relu = vault_copy / "topics" / "ReLU.md"
    _bump(relu, relu.read_text(encoding="utf-8") + "\nzebra\n")
    store.refresh()
    edited = store.generation()
    assert store.changed_since(first) == {"topics/ReLU.md"}
    (vault_copy / "new.md").write_text("# New\n", encoding="utf-8")
    (vault_copy / "topics" / "Smooth L1.md").unlink()
    store.refresh()
    assert store.changed_since(edited) == {"new.md", "topics/Smooth L1.md"}
    assert store.changed_since(first) == {"topics/ReLU.md", "new.md", "topics/Smooth L1.md"}
    held = {"topics/ReLU.md": "old", "topics/Smooth L1.md": "x", "new.md": "y", "a.md": "z"}
    stale, gone = store.diff(held, store.changed_since(first))
    assert stale == ["new.md", "topics/ReLU.md"] and gone == ["topics/Smooth L1.md"]
    assert store.changed_since("") is None and store.changed_since("no such token") is None
    store.refresh(full=True)  # a full refresh says nothing of what it rewrote
    assert store.changed_since(first) is None


def test_a_consumer_too_far_behind_compares_everything(vault_copy: Path, monkeypatch) -> None:
    import kb.store

    monkeypatch.setattr(kb.store, "JOURNAL_KEPT", 3)
    store = store_for(vault_copy)
    store.refresh()
    first = store.generation()
    for i in range(3):
        _bump(vault_copy / f"n{i}.md", f"# N{i}\n")
        store.refresh()
    assert store.changed_since(first) is None  # its rows were trimmed
    assert store.changed_since(store.generation()) == set()


def test_a_planted_or_dropped_journal_is_not_trusted(vault_copy: Path) -> None:
    import sqlite3

    store = store_for(vault_copy)
    store.refresh()
    first = store.generation()
    store.close()
    db = sqlite3.connect(vault_copy / ".kb" / "notes.sqlite")
    db.execute("INSERT INTO journal (generation, path) VALUES ('x', CAST('ab' AS BLOB))")
    db.commit()
    store = store_for(vault_copy)
    assert store.changed_since(first) is None  # not a path: compare every note
    store.close()
    db.execute("DROP TABLE journal")
    db.commit()
    db.close()
    store = store_for(vault_copy)
    assert store.changed_since(first) is None  # made again, with no memory of `first`
    assert not store.refresh().any
