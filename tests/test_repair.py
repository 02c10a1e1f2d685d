"""kb's own data from another version of kb, or damaged, is rebuilt on its own, saying so on
one line of stderr, and the answers are those of a clean index (issue 7, point 2).

Each part of ``.kb/`` keeps its own version: the note store (``notes.sqlite``, kb.store
SCHEMA), the search index (``search/held.json``, kb.index INDEX_VERSION) and the concept
graph (``graph.sqlite``, kb.graph.db SCHEMA). "Another version" is
made by running kb with that number changed, as an older or newer kb would write it.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from kb import index, store
from kb.graph import db as graph_db


def _answers(kb) -> dict:
    """What the commands print (stdout stays pure JSON whatever kb says on stderr)."""
    out = {}
    for name, args in {
        "search": ["search", "relu", "-n", "100", "--json"],
        "show": ["show", "relu", "--json"],
        "stats": ["stats", "--json"],
    }.items():
        result = kb(*args)
        assert result.exit_code == 0, result.output
        out[name] = json.loads(result.stdout)
    # Which sections are hits; not their scores: whoosh counts a note indexed again in place
    # a little differently from a new index until it merges its segments.
    out["search"] = sorted((h["path"], h["line"]) for h in out["search"])
    return out


VERSIONS = {
    "store": (store, "SCHEMA", "notes.sqlite is from another version of kb; reading every note"),
    "index": (index, "INDEX_VERSION", "the search index in"),
    "graph": (graph_db, "SCHEMA", "the concept graph in"),
}


@pytest.mark.parametrize("part", list(VERSIONS))
@pytest.mark.parametrize("first", ["index", "search", "show"])
def test_data_of_another_version_is_rebuilt_with_a_message(
    kb, monkeypatch, part: str, first: str
) -> None:
    module, name, message = VERSIONS[part]
    expected = _answers(kb)
    with monkeypatch.context() as m:
        m.setattr(module, name, getattr(module, name) + 1)  # another kb writes .kb/
        assert kb("index", "--full").exit_code == 0
    args = {"index": ["index"], "search": ["search", "relu"], "show": ["show", "relu"]}[first]
    if (part, first) in {("index", "show"), ("graph", "search")}:
        args = ["index"]  # kb show never reads the search index, kb search never the graph
    result = kb(*args, "--json")
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # the message is on stderr: stdout stays JSON
    notices = [line for line in result.stderr.splitlines() if line.startswith("kb: ")]
    assert len(notices) == 1 and message in notices[0], result.stderr
    if part != "store":
        assert "is from another version of kb; rebuilding it" in notices[0]
    assert _answers(kb) == expected
    assert "kb:" not in kb(*args).stderr  # said once


def _damage_sqlite(vault: Path) -> None:
    (vault / ".kb" / "notes.sqlite").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (vault / ".kb" / f"notes.sqlite{suffix}").unlink(missing_ok=True)


def _damage_graph(vault: Path) -> None:
    (vault / ".kb" / "graph.sqlite").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (vault / ".kb" / f"graph.sqlite{suffix}").unlink(missing_ok=True)


def _plant_trigger(vault: Path) -> None:
    """A graph file from elsewhere with a trigger (SQL that would run on kb's writes)."""
    import sqlite3

    db = sqlite3.connect(vault / ".kb" / "graph.sqlite")
    db.execute("CREATE TRIGGER t AFTER INSERT ON notes BEGIN DELETE FROM edges; END")
    db.commit()
    db.close()


def _plant_bad_row(vault: Path) -> None:
    """A note's facts that are JSON of the wrong shape."""
    import sqlite3

    db = sqlite3.connect(vault / ".kb" / "graph.sqlite")
    db.execute("UPDATE notes SET light = '[1, 2]'")
    db.commit()
    db.close()


def _damage_toc(vault: Path) -> None:
    for toc in (vault / ".kb" / "search").glob("_MAIN_*.toc"):
        toc.write_bytes(b"\x00" * 64)


DAMAGES = {
    "notes.sqlite": (_damage_sqlite, "notes.sqlite is damaged"),
    "held.json": (
        lambda v: (v / ".kb" / "search" / "held.json").write_text("{not json"),
        "the search index in",
    ),
    "held.json missing": (
        lambda v: (v / ".kb" / "search" / "held.json").unlink(),
        "the search index in",
    ),
    "whoosh TOC": (_damage_toc, "the search index in"),
    "graph.sqlite": (_damage_graph, "the concept graph in"),
    "graph.sqlite with a trigger": (_plant_trigger, "the concept graph in"),
    "graph.sqlite with a bad row": (_plant_bad_row, "the concept graph in"),
}


@pytest.mark.parametrize(
    "what",
    [
        pytest.param(
            what,
            # whoosh leaves the damaged file open when it fails to read it: harmless in a kb
            # process, a ResourceWarning (an error here) when the test process collects it.
            marks=[pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]
            if what == "whoosh TOC"
            else [],
        )
        for what in DAMAGES
    ],
)
def test_damaged_data_is_rebuilt_with_a_message(kb, vault_copy: Path, what: str) -> None:
    damage, message = DAMAGES[what]
    expected = _answers(kb)
    # The commands ran in this process (CliRunner) and may leave SQLite connections open
    # until collected. Probably (not proven: the failure was seen once in a full run and not
    # again alone) one still open shares its WAL index with the next connection to the same
    # file, which then never sees the damage. A kb process exits, so users are not affected.
    gc.collect()
    damage(vault_copy)
    # A note changes too, so that every part has to be read (the graph's bookkeeping is read
    # only when something changed).
    note = vault_copy / "topics" / "ReLU.md"
    note.write_text(note.read_text(encoding="utf-8") + "\nzebra\n", encoding="utf-8")
    result = kb("index")
    assert result.exit_code == 0, result.output
    notices = [line for line in result.stderr.splitlines() if line.startswith("kb: ")]
    assert len(notices) == 1 and message in notices[0], result.stderr
    assert "rebuilding it" in notices[0] or "reading every note again" in notices[0]
    for command in ("show", "search"):
        result = kb(command, "relu", "--json")
        assert result.exit_code == 0 and "kb:" not in result.stderr, result.output
    answers = _answers(kb)
    assert answers["stats"] == expected["stats"]
    assert answers["search"] == expected["search"]
    assert answers["show"]["path"] == expected["show"]["path"]


def test_a_rebuild_on_purpose_says_nothing(kb) -> None:
    assert kb("index").exit_code == 0
    result = kb("index", "--full")
    assert result.exit_code == 0 and "kb:" not in result.stderr, result.stderr
    fresh = kb("show", "relu")
    assert fresh.exit_code == 0 and "kb:" not in fresh.stderr, fresh.stderr
