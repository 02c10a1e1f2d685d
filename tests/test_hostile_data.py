"""A search index that came with a shared vault is data, never code (issue 11, point 1).

whoosh unpickles its table of contents, stored fields, posting blocks and the extras of its
terms file; kb's index holds none of those pickles (kb/whoosh_safe.py). Here the files of
``<data_dir>/search/`` are replaced by pickles whose ``__reduce__`` would run a command, in
whoosh's own file formats where whoosh would unpickle them: kb answers, rebuilding the index
with one line of notice, and the command never runs.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kb import index
from kb.vault import Vault

TIMEOUT = 120
"""Seconds any kb run here may take: a hang fails the test instead of blocking the suite."""


class _Exploit:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _kb(vault: Path, *args: str, runner: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, *([str(runner)] if runner else ["-m", "kb"])]
    return subprocess.run(
        [*command, "--vault", str(vault), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _notices(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    """A two-note vault, indexed by kb."""
    vault = tmp_path / "v"
    vault.mkdir()
    (vault / "A.md").write_text("# A\n\nAlpha links [[B]].\n", encoding="utf-8")
    (vault / "B.md").write_text("# B\n\nBeta and alpha.\n", encoding="utf-8")
    done = _kb(vault, "index")
    assert done.returncode == 0, done.stderr
    return vault


def _search_dir(vault: Path) -> Path:
    return vault / ".kb" / "search"


# -- planting ----------------------------------------------------------------------------------


def _whoosh_toc(path: Path, payload: bytes) -> None:
    """A whoosh table of contents (whoosh/index.py TOC.write) whose schema is ``payload``:
    whoosh's TOC.read unpickles it when it is not handed a schema."""
    from whoosh.filedb.structfile import StructFile
    from whoosh.system import _FLOAT_SIZE, _INT_SIZE, _LONG_SIZE

    generation = int(path.name.split("_")[2].split(".")[0])
    with open(path, "wb") as raw:
        f = StructFile(raw)
        for size in (_INT_SIZE, _LONG_SIZE, _FLOAT_SIZE):
            f.write_varint(size)
        f.write_int(-12345)
        f.write_int(-111)  # whoosh's current TOC version
        for num in (2, 7, 5):
            f.write_varint(num)
        f.write_string(payload)
        f.write_int(generation)
        f.write_int(0)
        f.write(payload)  # the segment list (read_pickle): the same pickle
        f.flush()


def _whoosh_stored_column(path: Path, payload: object, docs: int) -> None:
    """Stored fields as whoosh3 writes them (a PickleColumn): every document's is ``payload``."""
    from whoosh import columns
    from whoosh.filedb.structfile import StructFile

    with open(path, "wb") as raw:
        f = StructFile(raw)
        writer = columns.PickleColumn(columns.CompressedBytesColumn()).writer(f)
        for docnum in range(docs):
            writer.add(docnum, payload)
        writer.finish(docs)
        f.flush()


def _doc_count(folder: Path) -> int:
    (toc,) = folder.glob("_MAIN_*.toc")
    try:
        return sum(s["doccount"] for s in json.loads(toc.read_bytes())["segments"])
    except ValueError:  # whoosh's own TOC, as kb <= 7 wrote it: run there, these tests fail
        from whoosh import index as whoosh_index

        return whoosh_index.open_dir(str(folder)).doc_count_all()


def _plant(vault: Path, what: str, marker: Path) -> list[Path]:
    """Replace the index files named by ``what`` with hostile pickles; the files planted."""
    folder = _search_dir(vault)
    exploit = _Exploit(marker)
    blob = pickle.dumps(exploit)
    docs = _doc_count(folder)
    planted: list[Path] = []
    for path in sorted(folder.iterdir()):
        if path.name in ("held.json", "MAIN_WRITELOCK") or not path.is_file():
            continue
        if what in ("toc", "every file") and path.suffix == ".toc":
            _whoosh_toc(path, blob)
        elif what in ("stored fields", "every file") and path.name.endswith("._stored.col"):
            _whoosh_stored_column(path, exploit, docs)
        elif what == "every file":
            path.write_bytes(blob)
        elif what == "terms and postings" and path.suffix in (".trm", ".pst"):
            path.write_bytes(blob)
        else:
            continue
        planted.append(path)
    assert planted, f"nothing to plant for {what!r} in {sorted(folder.iterdir())}"
    return planted


# whoosh's TOC.read leaves its file open when the schema it unpickled is not one.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_planted_files_are_what_whoosh_unpickles(indexed: Path, tmp_path: Path) -> None:
    """The planting above is real: stock whoosh, as kb used it until now, runs the command."""
    from whoosh import columns
    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import TOC

    marker = tmp_path / "PWNED"
    stored, toc = (_plant(indexed, what, marker)[0] for what in ("stored fields", "toc"))
    storage = FileStorage(str(toc.parent))
    with pytest.raises(Exception):  # noqa: B017 - the schema is not one: after it was unpickled
        TOC.read(storage, "MAIN")
    assert marker.exists()
    marker.unlink()
    f = storage.open_file(stored.name)
    reader = columns.PickleColumn(columns.CompressedBytesColumn()).reader(
        f, 0, storage.file_length(stored.name), 1
    )
    reader[0]
    f.close()
    assert marker.exists()


@pytest.mark.parametrize("what", ["toc", "stored fields", "terms and postings", "every file"])
def test_planted_search_index_never_runs(indexed: Path, tmp_path: Path, what: str) -> None:
    marker = tmp_path / "PWNED"
    _plant(indexed, what, marker)
    # Without --no-refresh kb may repair its data: it rebuilds the index and answers.
    found = _kb(indexed, "search", "alpha", "--json")
    assert not marker.exists()
    assert found.returncode == 0, found.stderr
    assert sorted(h["path"] for h in json.loads(found.stdout)) == ["A.md", "B.md"]
    notices = _notices(found)
    assert len(notices) <= 1 and "Traceback" not in found.stderr, found.stderr
    assert all("rebuilding" in line for line in notices), notices
    # The rebuilt index holds no pickle: kb's JSON table of contents.
    (toc,) = _search_dir(indexed).glob("_MAIN_*.toc")
    assert json.loads(toc.read_text(encoding="utf-8"))["format"] == "kb-search-toc/1"
    for args in (["show", "A"], ["stats"], ["search", "beta", "--no-refresh"]):
        done = _kb(indexed, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert _notices(done) == [], (args, done.stderr)
    assert not marker.exists()


def test_planted_index_updated_after_an_edit_is_rebuilt(indexed: Path, tmp_path: Path) -> None:
    """An update in place reads the terms and postings it deletes from: planted, it rebuilds."""
    marker = tmp_path / "PWNED"
    _plant(indexed, "terms and postings", marker)
    (indexed / "B.md").write_text("# B\n\nBeta, alpha and gamma.\n", encoding="utf-8")
    found = _kb(indexed, "search", "gamma", "--json")
    assert not marker.exists()
    assert found.returncode == 0, found.stderr
    assert [h["path"] for h in json.loads(found.stdout)] == ["B.md"]
    (line,) = _notices(found)
    assert "damaged" in line and "rebuilding" in line, line


@pytest.mark.parametrize("what", ["toc", "stored fields", "terms and postings"])
def test_planted_index_with_no_refresh_is_one_line(indexed: Path, tmp_path: Path, what) -> None:
    """--no-refresh leaves kb's data alone: the planted index is refused with what to run."""
    marker = tmp_path / "PWNED"
    _plant(indexed, what, marker)
    found = _kb(indexed, "search", "alpha", "--no-refresh")
    assert not marker.exists()
    assert found.returncode == 2
    (line,) = _notices(found)
    assert "damaged" in line and "kb index --full" in line, line
    for args in (["show", "A"], ["stats"]):
        assert _kb(indexed, *args).returncode == 0
    assert not marker.exists()


# -- an index as kb wrote it until now -------------------------------------------------------


def _index_with_stock_whoosh(vault: Path, held_version: int, marker: Path) -> None:
    """Replace the vault's index with one written the way kb <= INDEX_VERSION 7 wrote it:
    stock whoosh (a pickled TOC, pickled stored fields), one stored value a hostile pickle."""
    from whoosh import index as whoosh_index

    from kb.store import Store

    folder = _search_dir(vault)
    held = json.loads((folder / "held.json").read_text(encoding="utf-8"))["notes"]
    for path in folder.iterdir():
        path.unlink()
    ix = whoosh_index.create_in(str(folder), index._schema())
    writer = ix.writer()
    store = Store(Vault(vault, vault / ".kb"))
    for note in store.notes().values():
        for doc in index.documents(note):
            writer.add_document(**{**doc, "note_title": _Exploit(marker)})
    store.close()
    writer.commit()
    assert not marker.exists()
    (folder / "held.json").write_text(
        json.dumps({"version": held_version, "notes": held}), encoding="utf-8"
    )


@pytest.mark.parametrize("held_version", [7, index.INDEX_VERSION])
def test_an_index_written_before_is_rebuilt_not_read(
    indexed: Path, tmp_path: Path, held_version: int
) -> None:
    """An index of kb's last version (7) is rebuilt for its version; one that claims to be of
    this version but holds whoosh's pickles is rebuilt as damaged. Neither is read."""
    marker = tmp_path / "PWNED"
    _index_with_stock_whoosh(indexed, held_version, marker)
    found = _kb(indexed, "search", "alpha", "--json")
    assert not marker.exists()
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert {h["title"] for h in hits} == {"A", "B"}
    (line,) = _notices(found)
    assert "rebuilding" in line
    assert ("another version" in line) == (held_version != index.INDEX_VERSION), line
    held = json.loads((_search_dir(indexed) / "held.json").read_text(encoding="utf-8"))
    assert held["version"] == index.INDEX_VERSION


# -- nothing is unpickled at all: an audit hook --------------------------------------------------

_RUNNER = textwrap.dedent(  # raw: the runner's own "\n" stays an escape
    r"""
    # Runs kb with every unpickling, marshal.loads outside the import system, and exec or
    # compile called from kb or whoosh recorded: one JSON line each in the file KB_AUDIT_OUT,
    # written at once (kb leaves with os._exit: atexit would not run).
    import json, os, pickle, runpy, sys

    out = open(os.environ["KB_AUDIT_OUT"], "w", encoding="utf-8")

    class Events:
        def append(self, event):
            out.write(json.dumps(event) + "\n")
            out.flush()

    events = Events()
    roots = [os.environ["KB_AUDIT_KB"], os.environ["KB_AUDIT_WHOOSH"]]

    def caller(depth):
        frame = sys._getframe(depth)
        return frame.f_code.co_filename if frame else "?"

    def importing():
        frame = sys._getframe(2)
        while frame:
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                return True
            frame = frame.f_back
        return False

    def hook(event, args):
        if event == "pickle.find_class":
            events.append([event, f"{args[0]}.{args[1]}"])
        elif event in ("marshal.loads", "marshal.load"):
            where = caller(2)
            if "importlib" not in where:
                events.append([event, where])
        elif event in ("exec", "compile") and not importing():
            # (whoosh.compat runs literals at import time: eval("exec"), with_metaclass.)
            where = caller(2)
            if any(where.startswith(r) for r in roots):
                events.append([event, where])

    sys.addaudithook(hook)

    # Every way into the unpickler, wrapped before kb or whoosh imports it (whoosh.compat does
    # `from pickle import load, loads`): find_class is only raised for a pickle with globals.
    def wrap(name, fn):
        def wrapper(*args, **kwargs):
            events.append(["pickle." + name, caller(2)])
            return fn(*args, **kwargs)
        return wrapper

    pickle.load = wrap("load", pickle.load)
    pickle.loads = wrap("loads", pickle.loads)

    class Unpickler(pickle.Unpickler):
        def __init__(self, *args, **kwargs):
            events.append(["pickle.Unpickler", caller(2)])
            super().__init__(*args, **kwargs)

    pickle.Unpickler = Unpickler

    sys.argv = ["kb", *sys.argv[1:]]
    runpy.run_module("kb", run_name="__main__", alter_sys=True)
    """
)


@pytest.mark.parametrize(
    "args",
    [
        ["search", "alpha", "--no-refresh"],
        ["search", "alpha"],
        ["search", "zzz", "--no-refresh"],  # no hits: suggestions read the vocabulary
        ["related", "A"],
        ["search", "gamma", "EDIT"],  # after an edit: the index is updated in place
        ["show", "A"],  # the concept graph (graph.sqlite)
        ["path", "A", "B"],
        ["neighbors", "A"],
        ["doctor"],
        ["index", "EDIT"],  # the graph is updated as well
        ["stats"],  # the store only: kb stats reads no graph
    ],
    ids=" ".join,
)
def test_reading_the_data_folder_unpickles_nothing(
    indexed: Path, tmp_path: Path, args: list[str]
) -> None:
    import whoosh

    import kb

    runner = tmp_path / "audited_kb.py"
    runner.write_text(_RUNNER, encoding="utf-8")
    out = tmp_path / "events.json"
    if "EDIT" in args:
        args = [a for a in args if a != "EDIT"]
        (indexed / "B.md").write_text("# B\n\nBeta, alpha and gamma.\n", encoding="utf-8")
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "KB_AUDIT_OUT": str(out),
        "KB_AUDIT_KB": os.path.dirname(kb.__file__),
        "KB_AUDIT_WHOOSH": os.path.dirname(whoosh.__file__),
    }
    done = subprocess.run(
        [sys.executable, str(runner), "--vault", str(indexed), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: no hits
    assert "Traceback" not in done.stderr
    assert out.read_text(encoding="utf-8") == ""  # no event: created by the runner, left empty


def test_the_audit_runner_sees_an_unpickling(indexed: Path, tmp_path: Path) -> None:
    """The runner above records what it should: a planted whoosh TOC read by stock whoosh."""
    runner = tmp_path / "audited.py"
    runner.write_text(
        _RUNNER.replace(
            'runpy.run_module("kb", run_name="__main__", alter_sys=True)',
            "from whoosh import index as w\ntry:\n    w.open_dir(sys.argv[-1])\n"
            "except Exception:\n    pass",
        ),
        encoding="utf-8",
    )
    _plant(indexed, "toc", tmp_path / "PWNED")
    out = tmp_path / "events.json"
    env = {**os.environ, "KB_AUDIT_OUT": str(out), "KB_AUDIT_KB": "/nonexistent"}
    env["KB_AUDIT_WHOOSH"] = "/nonexistent"
    done = subprocess.run(
        [sys.executable, str(runner), str(_search_dir(indexed))],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    kinds = {json.loads(line)[0] for line in out.read_text(encoding="utf-8").splitlines()}
    assert {"pickle.loads", "pickle.find_class"} <= kinds, kinds


# -- the decoders ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"path": {"x": 1}}',
        b'{"path": [1, 2]}',
        b'{"line": true}',
        b"[]",
        b"not json",
        b"[" * 5000,
        pickle.dumps({"path": "A.md"}),
    ],
)
def test_stored_fields_that_are_not_kbs_are_refused(raw: bytes) -> None:
    from kb import whoosh_safe

    with pytest.raises(whoosh_safe.IndexDamaged):
        whoosh_safe.decode_stored(raw)


def test_stored_fields_round_trip(indexed: Path) -> None:
    from kb import whoosh_safe

    vault = Vault(indexed, indexed / ".kb")
    ix = whoosh_safe.open_dir(str(index.index_dir(vault)), index._schema())
    with ix.searcher() as searcher:
        stored = [searcher.stored_fields(d) for d in range(searcher.doc_count_all())]
    lead = next(s for s in stored if s["path"] == "A.md")
    assert lead == {
        "path": "A.md",
        "body": "Alpha links B.",
        "prose": len("Alpha links B."),  # all of it prose: no code
        "line": lead["line"],
        "heading_path": ["A"],
        "note_title": "A",
        "note_tags": [],
        "note_aliases": [],
    }
    assert isinstance(lead["line"], int)


def test_positions_round_trip_and_phrases_still_match(indexed: Path) -> None:
    from kb import whoosh_safe

    for positions in ([], [0], [3, 4, 90, 100000], list(range(0, 4000, 7))):
        assert whoosh_safe.decode_positions(whoosh_safe.encode_positions(positions)) == positions
    with pytest.raises(whoosh_safe.IndexDamaged):
        whoosh_safe.decode_positions(b"\x00\x00\x00\x02" + pickle.dumps([1, 2]))
    vault = Vault(indexed, indexed / ".kb")
    assert [h.path for h in index.search(vault, '"alpha links"')] == ["A.md"]
    assert index.search(vault, '"links alpha"') == []


def test_search_index_code_has_no_pickle() -> None:
    """kb's search-index modules never import pickle or marshal, nor call whoosh's readers."""
    kb_dir = Path(index.__file__).parent
    for name in ("index.py", "whoosh_safe.py", "query.py"):
        source = (kb_dir / name).read_text(encoding="utf-8")
        for call in ("import pickle", "pickle.load", "import marshal", "read_pickle", "eval("):
            assert call not in source, (name, call)
    source = (kb_dir / "index.py").read_text(encoding="utf-8")
    for call in ("whoosh_index.open_dir", "whoosh_index.create_in", "whoosh_index.exists_in"):
        assert call not in source, call


# -- rows of kb's SQLite files changed by hand (issue 11, found by a hostile trial) ----------
def _sql(db: Path, *statements: str) -> None:
    import sqlite3

    con = sqlite3.connect(db)
    for s in statements:
        con.execute(s)
    con.commit()
    con.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE nodes SET tags = '{{' WHERE kind = 'note'",
        "UPDATE nodes SET heading = '[[['",
    ],
)
def test_a_damaged_graph_row_is_rebuilt_by_the_command_that_meets_it(
    indexed: Path, statement: str
) -> None:
    _sql(indexed / ".kb" / "graph.sqlite", statement)
    shown = _kb(indexed, "show", "A")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("A  (note)  A.md")
    assert any("rebuilding it" in line for line in _notices(shown)), shown.stderr
    again = _kb(indexed, "path", "A", "B")
    assert again.returncode == 0 and not _notices(again), again.stderr


def test_nodes_deleted_by_hand_are_rebuilt_by_index_and_doctor(indexed: Path) -> None:
    _sql(indexed / ".kb" / "graph.sqlite", "DELETE FROM nodes")
    doctor = _kb(indexed, "doctor")
    assert doctor.returncode == 0 and "Traceback" not in doctor.stderr, doctor.stderr
    assert "rebuilding it" in doctor.stderr
    _sql(indexed / ".kb" / "graph.sqlite", "DELETE FROM nodes WHERE kind = 'note'")
    assert "rebuilding it" in _kb(indexed, "index").stderr
    assert _kb(indexed, "show", "B").stdout.startswith("B  (note)")


def test_a_trigger_planted_in_the_store_never_fires(indexed: Path) -> None:
    store = indexed / ".kb" / "notes.sqlite"
    _sql(
        store,
        "CREATE TABLE evil (x)",
        "CREATE TRIGGER t AFTER INSERT ON notes BEGIN INSERT INTO evil VALUES (1); END",
    )
    (indexed / "C.md").write_text("# C\n", encoding="utf-8")
    done = _kb(indexed, "index")
    assert done.returncode == 0, done.stderr
    assert "triggers or views" in done.stderr
    import sqlite3

    con = sqlite3.connect(store)
    assert not con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    con.close()


def test_a_folder_where_the_store_goes_is_one_line_and_kept(indexed: Path) -> None:
    store = indexed / ".kb" / "notes.sqlite"
    for suffix in ("", "-wal", "-shm"):
        store.with_name(store.name + suffix).unlink(missing_ok=True)
    store.mkdir()
    (store / "mine.txt").write_text("mine", encoding="utf-8")
    done = _kb(indexed, "index")
    assert done.returncode != 0
    assert "is not a file kb wrote" in done.stderr and "Traceback" not in done.stderr
    assert (store / "mine.txt").read_text(encoding="utf-8") == "mine"


def test_a_file_name_with_a_newline_prints_on_one_line(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    vault.mkdir()
    (vault / "two\nlines.md").write_text("# Odd\n\nzebra here\n", encoding="utf-8")
    (vault / "long.md").write_text("# " + "zebra " * 2000 + "\n\nzebra too\n", encoding="utf-8")
    found = _kb(vault, "search", "zebra")
    assert found.returncode == 0, found.stderr
    assert "two\\nlines.md" in found.stdout
    assert not any(line.startswith("lines.md") for line in found.stdout.splitlines())
    assert max(len(line) for line in found.stdout.splitlines()) < 2100
    assert "more characters)" in found.stdout
