"""A data folder that came with a shared vault is data, never code: notes.sqlite (issue 11).

The store keeps each parsed Note as JSON checked field by field (kb/note_codec.py). A record
planted by someone else, here a pickle whose ``__reduce__`` would run a command, is treated as
damaged: the note is read again from the vault and nothing is executed.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kb import note_codec
from kb.parse import parse_note
from kb.store import Store
from kb.vault import Vault


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _kb(vault: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kb", "--vault", str(vault), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    """A two-note vault, indexed, whose every stored note was replaced by a hostile pickle."""
    vault = tmp_path / "v"
    vault.mkdir()
    (vault / "A.md").write_text("# A\n\nAlpha links [[B]].\n", encoding="utf-8")
    (vault / "B.md").write_text("# B\n\nBeta.\n", encoding="utf-8")
    assert _kb(vault, "index").returncode == 0
    marker = tmp_path / "PWNED"
    blob = pickle.dumps(_Exploit(marker))
    db = sqlite3.connect(vault / ".kb" / "notes.sqlite")
    with db:
        db.execute("UPDATE notes SET note=?, warnings=1", (blob,))
    db.close()
    return vault, marker


def test_planted_store_records_never_run(planted: tuple[Path, Path]) -> None:
    vault, marker = planted
    store = Store(Vault(vault, vault / ".kb"))
    assert store.notes() == {}  # every record refused
    assert store.warnings() == {}
    store.close()
    assert not marker.exists()
    # The refused records were forgotten: the next refresh reads both notes again.
    done = _kb(vault, "index")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    shown = _kb(vault, "show", "A")
    assert shown.returncode == 0, shown.stderr
    assert not marker.exists()
    store = Store(Vault(vault, vault / ".kb"))
    assert sorted(store.notes()) == ["A.md", "B.md"]
    store.close()


def test_no_pickle_is_loaded_from_the_store(planted: tuple[Path, Path]) -> None:
    vault, marker = planted
    seen: list[tuple] = []

    def hook(event: str, args: tuple) -> None:
        if event == "pickle.find_class":
            seen.append(args)

    sys.addaudithook(hook)  # cannot be removed: it only records
    store = Store(Vault(vault, vault / ".kb"))
    store.notes()
    store.notes(["A.md"])
    store.warnings()
    store.close()
    assert seen == [] and not marker.exists()


def test_store_code_has_no_pickle() -> None:
    source = (Path(__file__).parents[1] / "kb" / "store.py").read_text(encoding="utf-8")
    for call in ("import pickle", "pickle.load", "import marshal", "marshal.load", "eval("):
        assert call not in source


def test_note_round_trips_through_json() -> None:
    text = (
        "---\naliases: [x]\ntags: [t]\n---\n# T\n\n"
        "See [[B|b]] and #tag, $1\\times1$.\n\n## S\n\n- **k**: v\n"
    )
    note = parse_note(text, "d/T.md")
    assert note_codec.decode(note_codec.encode(note)) == note


@pytest.mark.parametrize(
    "record",
    ['{"a": 1}', "[]", '["p", 1, [], [], [], [], [], [], {}, []]', "not json", "[" * 5000],
)
def test_malformed_records_are_refused(record: str) -> None:
    with pytest.raises(note_codec.BadNote):
        note_codec.decode(record)


def test_alias_bomb_front_matter_stays_small() -> None:
    level: list = ["lol"] * 9
    for _ in range(8):
        level = [level] * 9  # shared, as YAML anchors are: 9**9 values written out
    note = parse_note("# T\n", "T.md")
    from dataclasses import replace

    stored = note_codec.encode(replace(note, frontmatter={"bomb": level}))
    assert len(stored) < 10_000
    assert "too much data" in note_codec.decode(stored).warnings[-1]
