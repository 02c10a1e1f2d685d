"""Issue 16, the first hour of a new user: a plain folder of notes is a vault, global options
after the command, one meaning for -n, progress for every long phase, and a benchmark that
leaves the repository as it was."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli
from kb.errors import VaultNotFound
from kb.refresh import _sync_graph as _real_sync_graph
from kb.vault import find_vault

from .conftest import REPO

# -- 1. a plain folder of Markdown is a vault ----------------------------------------------------


def _notes_folder(root: Path, notes: int = 5) -> Path:
    root.mkdir(parents=True)
    for i in range(notes):
        (root / f"note {i}.md").write_text(f"# Note {i}\n\nrelu and more words {i}\n")
    return root


def test_a_plain_folder_of_notes_is_the_vault_said_once(runner, tmp_path, monkeypatch) -> None:
    folder = _notes_folder(tmp_path / "zk")
    monkeypatch.chdir(folder)
    monkeypatch.delenv("KB_VAULT", raising=False)
    monkeypatch.delenv("KB_INDEX_DIR", raising=False)
    first = runner.invoke(cli, ["search", "relu"])
    assert first.exit_code == 0, first.output
    assert first.stderr.count("using the current folder") == 1
    assert str(folder) in first.stderr and "5 Markdown notes" in first.stderr
    assert "note 0.md:1" in first.stdout
    again = runner.invoke(cli, ["search", "relu"])  # its .kb/ now marks it
    assert again.exit_code == 0 and "using the current folder" not in again.stderr


def test_home_and_root_folders_are_refused_naming_vault(tmp_path: Path) -> None:
    home = _notes_folder(tmp_path / "home")
    with pytest.raises(VaultNotFound, match="home folder.*--vault PATH"):
        find_vault(None, environ={"HOME": str(home)}, cwd=home)
    with pytest.raises(VaultNotFound, match="root folder.*--vault PATH"):
        find_vault(None, environ={"HOME": str(home)}, cwd=Path("/"))


def test_a_folder_of_far_more_files_than_notes_is_refused(tmp_path: Path) -> None:
    src = _notes_folder(tmp_path / "src", notes=1)
    for i in range(20):
        (src / f"mod{i}.py").write_text("pass\n")
    with pytest.raises(VaultNotFound, match="21 files but only 1 Markdown note.*--vault PATH"):
        find_vault(None, environ={}, cwd=src)
    assert not (src / ".kb").exists()


def test_an_empty_folder_still_says_how_to_choose(tmp_path: Path) -> None:
    with pytest.raises(VaultNotFound, match="no Markdown notes.*--vault PATH"):
        find_vault(None, environ={}, cwd=tmp_path)


# -- 2. global options before or after the command ------------------------------------------------


def test_global_options_after_the_command(runner, vault_copy: Path, tmp_path: Path) -> None:
    for args in (
        ["search", "relu", "--vault", str(vault_copy)],
        ["search", "relu", f"--vault={vault_copy}", "--debug"],
        ["show", "relu", "--vault", str(vault_copy), "--index-dir", str(tmp_path / "data")],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, (args, result.output)
        assert "ReLU" in result.stdout
    assert (tmp_path / "data" / "kb-data.json").is_file()


def test_nothing_after_double_dash_is_moved() -> None:
    from kb.cli import globals_first

    assert globals_first(["search", "relu", "--vault", "v"]) == ["--vault", "v", "search", "relu"]
    assert globals_first(["--debug", "search", "--", "--vault"]) == [
        "--debug",
        "search",
        "--",
        "--vault",
    ]
    assert globals_first(["--vault", "v", "show", "x"]) == ["--vault", "v", "show", "x"]


def test_a_global_option_without_its_value_is_one_line(runner) -> None:
    result = runner.invoke(cli, ["search", "relu", "--vault"])
    assert result.exit_code == 2
    assert "'--vault' requires an argument" in result.output


# -- 5. one meaning per flag ----------------------------------------------------------------------


def test_n_0_means_all_on_every_command(kb) -> None:
    for args in (
        ["search", "loss"],
        ["related", "ReLU"],
        ["show", "resnet"],
        ["neighbors", "resnet"],
        ["doctor"],
    ):
        result = kb(*args, "-n", "0")
        assert result.exit_code == 0, (args, result.output)
        assert "more (-n 0 for all)" not in result.stdout
    every = kb("search", "x", "-n", "0", "--json")
    assert len(json.loads(every.stdout)) == 11  # the default 10 is not a ceiling


def test_long_lists_end_with_the_same_more_line(kb) -> None:
    for args, ending in (
        (["search", "loss", "-n", "2"], "… more (-n 0 for all)"),
        (["related", "ReLU", "-n", "1"], "… more (-n 0 for all)"),
        (["show", "relu", "-n", "1"], "    … 1 more (-n 0 for all)"),
        (["doctor", "-n", "2"], "    … 2 more (-n 0 for all)"),
        (["neighbors", "bottleneck", "-n", "3"], "  … 2 more (-n 0 for all)"),
    ):
        result = kb(*args)
        assert result.exit_code == 0, (args, result.output)
        assert ending in result.stdout.splitlines(), (args, result.stdout)


def test_neighbors_are_cut_at_20_and_json_lists_all(kb) -> None:
    text = kb("neighbors", "resnet", "--depth", "2").stdout.splitlines()
    total = int(text[0].split(": ")[1].split()[0])
    assert total > 20
    assert len(text) == 1 + 20 + 1 and text[-1] == f"  … {total - 20} more (-n 0 for all)"
    data = json.loads(kb("neighbors", "resnet", "--depth", "2", "--json").stdout)
    assert len(data["neighbors"]) == total  # as kb show --json: every entry


# -- 7. running the benchmark never changes the repository ----------------------------------------


def test_only_the_whole_benchmark_run_writes_bench_results(monkeypatch) -> None:
    from bench.run import DEFAULT_OUT, default_out, parse_args

    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    assert default_out(parse_args([])) == DEFAULT_OUT
    assert default_out(parse_args(["--huge"])) == DEFAULT_OUT
    for argv in (["--quick"], ["--sizes", "40"], ["--vault", "x"]):
        out = default_out(parse_args(argv))
        assert REPO not in out.parents and out.is_dir(), argv
        out.rmdir()
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "a test")
    out = default_out(parse_args([]))
    assert REPO not in out.parents
    out.rmdir()
    assert parse_args(["--out", "here"]).out == Path("here")


# -- 4. no silent phases ---------------------------------------------------------------------------


@pytest.fixture
def terminal(monkeypatch):
    """stderr taken for a terminal, and every phase for a long one (so each shows)."""
    import kb.output

    monkeypatch.setattr(kb.output, "_terminal", lambda stream: True)
    monkeypatch.setattr(kb.output, "SHOW_AFTER", 0.0)


def test_every_phase_of_a_first_index_shows_on_stderr_only(kb, terminal) -> None:
    result = kb("index")
    assert result.exit_code == 0, result.output
    for phase in ("Reading notes", "Indexing sections", "Linking concepts"):
        assert phase in result.stderr
    assert "Indexing sections…" in result.stderr  # whoosh writing its segments, uncounted
    assert result.stdout.startswith("9 notes (9 new") and len(result.stdout.splitlines()) == 1
    data = kb("index", "--full", "--json")
    assert "Indexing sections" in data.stderr
    assert json.loads(data.stdout)["notes"] == 9


def test_the_first_search_says_it_is_indexing(kb, terminal) -> None:
    result = kb("search", "relu", "--json")
    assert "Reading notes" in result.stderr and "Indexing sections" in result.stderr
    assert json.loads(result.stdout)[0]["path"] == "topics/ReLU.md"


def test_waiting_for_the_graph_process_shows(kb, terminal, monkeypatch) -> None:
    from kb import refresh

    monkeypatch.setattr(refresh, "PARALLEL_GRAPH_NOTES", 1)
    monkeypatch.setattr(refresh, "_sync_graph", _slow_sync_graph)
    result = kb("index")
    assert result.exit_code == 0, result.output
    assert "Linking concepts…" in result.stderr


def _slow_sync_graph(vault, full: bool) -> None:
    """The graph process, still at work when indexing ends (module level: it is pickled)."""
    import time

    time.sleep(1.5)
    _real_sync_graph(vault, full)


def test_a_short_phase_stays_quiet(monkeypatch, capsys) -> None:
    import kb.output

    monkeypatch.setattr(kb.output, "_terminal", lambda stream: True)
    with kb.output.progress("Reading notes") as cb:
        for i in range(1, 10):
            cb(i, 9)  # 9 notes in well under a second: no bar
        cb(0, 0)  # a step with no count: shown, then erased as it was short
    err = capsys.readouterr().err
    assert "[" not in err.replace("\x1b[K", "")
    assert err.endswith("\r\x1b[K")


# -- 3. an interrupted first index resumes --------------------------------------------------------


def _interrupted_after(monkeypatch, notes: int) -> list[str]:
    """Make parsing raise KeyboardInterrupt (Ctrl-C) after ``notes`` notes; the parsed paths."""
    from kb import store

    parsed: list[str] = []
    real = store._parse_chunk

    def parse(vault, rels):
        if len(parsed) >= notes:
            raise KeyboardInterrupt
        parsed.extend(rels)
        return real(vault, rels)

    monkeypatch.setattr(store, "_parse_chunk", parse)
    return parsed


def test_an_interrupted_first_index_resumes_and_equals_a_fresh_one(
    kb, vault_copy: Path, tmp_path: Path, monkeypatch
) -> None:
    from kb import store

    monkeypatch.setattr(store, "STORE_BATCH_NOTES", 3)
    real = store._parse_chunk
    parsed = _interrupted_after(monkeypatch, 7)
    stopped = kb("index")
    assert stopped.exit_code != 0 and len(parsed) == 7
    parsed.clear()
    monkeypatch.setattr(store, "_parse_chunk", _parse_counting(parsed, real))
    resumed = kb("index")
    assert resumed.exit_code == 0, resumed.output
    assert len(parsed) == 9 - 6, parsed  # two batches of 3 were kept; the 7th note is read again
    assert resumed.stdout.startswith("9 notes (3 new")
    fresh = tmp_path / "fresh"
    shutil.copytree(vault_copy, fresh, ignore=shutil.ignore_patterns(".kb"))
    for args in (
        ["stats", "--json"],
        ["search", "x", "-n", "0", "--json"],
        ["show", "resnet", "--json"],
        ["neighbors", "resnet", "--depth", "2", "--json"],
        ["doctor", "--json"],
    ):
        assert kb(*args).stdout == CliRunner().invoke(cli, ["--vault", str(fresh), *args]).stdout


def _parse_counting(parsed: list[str], real):
    def parse(vault, rels):
        parsed.extend(rels)
        return real(vault, rels)

    return parse


@pytest.fixture(scope="module")
def big_vault(tmp_path_factory) -> Path:
    """Enough notes for the parser pool (64) and whoosh's writer processes (1,000)."""
    from bench import gen

    vault = tmp_path_factory.mktemp("big") / "vault"
    gen.generate(vault, 1200, 1)
    return vault


def _ctrl_c_in(
    vault: Path,
    data: Path,
    phase: str,
    percent: int,
    kb: list[str] | None = None,
    sig: int | None = None,
) -> tuple[int, str, float, str]:
    """``kb index`` on a terminal (a pseudo-terminal), Ctrl-C'd as a terminal does it (the
    whole process group) once the bar of ``phase`` shows ``percent``: exit code, what it
    printed, seconds it took to stop, and the bar's last state. ``kb`` is the command that
    runs kb, ``sig`` the signal sent (SIGINT: Ctrl-C)."""
    import os
    import re
    import select
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    kb = kb or [sys.executable, "-m", "kb"]
    args = [*kb, "--vault", str(vault), "--index-dir", str(data), "index"]
    master, slave = os.openpty()

    def as_at_a_terminal() -> None:
        # A shell ignores Ctrl-C for the jobs it starts in the background, and kb keeps a
        # signal its parent ignored (as nohup means it): when pytest itself runs so, kb
        # would finish the whole index. At a terminal, Ctrl-C is not ignored.
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        args,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=as_at_a_terminal,
    )
    os.close(slave)
    out, sent, at = b"", None, ""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        chunk = b""
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal's other end closed: kb is gone
                pass
        out += chunk
        if not chunk and proc.poll() is not None:
            break
        lines = out.decode("utf-8", "replace").replace("\r", "\n").splitlines()
        bar = re.search(r"(\d+)%", lines[-1]) if lines and phase in lines[-1] else None
        if sent is None and bar and int(bar.group(1)) >= percent:
            at = lines[-1]
            os.killpg(proc.pid, sig or signal.SIGINT)
            sent = time.monotonic()
    proc.wait(30)
    os.close(master)
    assert sent is not None, out.decode("utf-8", "replace")
    return proc.returncode, out.decode("utf-8", "replace"), time.monotonic() - sent, at


@pytest.mark.parametrize("phase, percent", [("Reading notes", 40), ("Indexing sections", 5)])
def test_ctrl_c_in_a_big_first_index_is_one_line(
    big_vault: Path, tmp_path: Path, phase: str, percent: int
) -> None:
    """Ctrl-C reaches kb's worker processes too: once it printed their tracebacks (whoosh's
    sub-writers, and the parser pool's InvalidStateError). Now: one line, and the notes read
    so far are kept."""
    import sqlite3

    from kb.cli import INTERRUPTED

    data = tmp_path / "data"
    code, out, took, at = _ctrl_c_in(big_vault, data, phase, percent)
    assert phase in at, at  # the Ctrl-C came in the phase meant
    assert code == 130
    assert "Traceback" not in out and "Error" not in out, out
    said = [line for line in out.replace("\r", "\n").splitlines() if line.strip()]
    assert said[-1].strip() == INTERRUPTED, said[-3:]
    assert not [line for line in said if "%" not in line and "Reading" not in line][:-1], said
    assert took < 15, took
    db = sqlite3.connect(f"file:{data / 'notes.sqlite'}?mode=ro", uri=True)
    try:
        kept = db.execute("SELECT count(*) FROM notes").fetchone()[0]
    finally:
        db.close()
    assert kept >= 200 if phase == "Reading notes" else kept == 1200


BATCHED_KB = [
    sys.executable,
    "-c",
    # kb with a first index committed 75 notes at a time (of 300), whoosh written by one
    # process (as a fresh index of 300 notes is: the same document order, the same ties),
    # each note's sections slowed a little (so the phase's bar shows on the terminal), and the
    # notes it indexed counted on stderr
    "import sys, time, kb.index, kb.cli\n"
    "kb.index.INDEX_BATCH_NOTES = 75\n"
    "real, indexed = kb.index.documents, []\n"
    "def documents(note):\n"
    "    indexed.append(note.path)\n"
    "    time.sleep(0.01)\n"
    "    return real(note)\n"
    "kb.index.documents = documents\n"
    "real_sync = kb.index.sync\n"
    "def sync(*args, **kwargs):\n"
    "    done = real_sync(*args, **kwargs)\n"
    "    sys.stderr.write(f'indexed {len(indexed)} notes\\n')\n"
    "    return done\n"
    "kb.index.sync = sync\n"
    "kb.cli.main()",
]


@pytest.fixture(scope="module")
def few_hundred(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """300 generated notes, and what kb answers on a fresh index of them."""
    from bench import gen

    vault = tmp_path_factory.mktemp("few") / "vault"
    gen.generate(vault, 300, 3)
    data = vault.parent / "fresh"
    _kb_in(vault, data, "index")
    answers = {" ".join(args): _kb_in(vault, data, *args) for args in ANSWERS}
    return vault, answers


ANSWERS = (
    ["search", "gradient", "-n", "0", "--json"],
    ["search", "attention OR 卷积", "--json"],
    ["stats", "--json"],
)


def _kb_in(vault: Path, data: Path, *args: str) -> str:
    done = CliRunner().invoke(cli, ["--vault", str(vault), "--index-dir", str(data), *args])
    assert done.exit_code == 0, done.output
    return done.stdout


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_a_first_index_stopped_while_indexing_sections_resumes(
    few_hundred, tmp_path: Path, sig: str
) -> None:
    """Ctrl-C or a kill in the search phase of a first index keeps the batches committed;
    the next `kb index` says it resumes, indexes only the notes they lack, and answers as a
    fresh index does (search hits and scores, a card, the graph's tables)."""
    import signal
    import subprocess

    vault, answers = few_hundred
    data = tmp_path / "data"
    code, out, _took, at = _ctrl_c_in(
        vault, data, "Indexing sections", 60, BATCHED_KB, getattr(signal, sig)
    )
    assert "Indexing sections" in at, at
    assert code == (130 if sig == "SIGINT" else -signal.SIGKILL), out
    args = ["--vault", str(vault), "--index-dir", str(data), "index"]
    again = subprocess.run([*BATCHED_KB, *args], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    said = re.search(r"where it stopped: (\d+) of 300 notes were indexed", again.stderr)
    assert said, again.stderr
    kept = int(said.group(1))
    assert 75 <= kept < 300 and kept % 75 == 0, kept
    assert f"indexed {300 - kept} notes" in again.stderr  # only the notes it lacked
    for args in ANSWERS:
        assert _kb_in(vault, data, *args) == answers[" ".join(args)], args
    assert _graph_tables(data) == _graph_tables(vault.parent / "fresh")


def _graph_tables(data: Path) -> dict[str, list[str]]:
    """Every table of graph.sqlite but its meta (store generations), rows sorted."""
    import sqlite3

    db = sqlite3.connect(f"file:{data / 'graph.sqlite'}?mode=ro", uri=True)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: sorted(map(repr, db.execute(f"SELECT * FROM {t}"))) for t in names if t != "meta"
        }
    finally:
        db.close()


# -- 8. the README's plain `pytest` runs on every core --------------------------------------------


def test_plain_pytest_runs_on_every_core_and_the_test_extra_brings_xdist() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(
        d.startswith("pytest-xdist") for d in project["project"]["optional-dependencies"]["test"]
    )
    addopts = project["tool"]["pytest"]["ini_options"]["addopts"]
    assert addopts[addopts.index("-n") + 1] == "auto"


def test_an_index_interrupted_while_writing_sections_resumes(
    kb, vault_copy: Path, tmp_path: Path, monkeypatch
) -> None:
    """A first index is committed in batches: Ctrl-C keeps those done, the next kb indexes
    only the notes they lack (saying so): the same answers as a fresh index, from one
    segment a batch."""
    from kb import index, whoosh_safe

    monkeypatch.setattr(index, "INDEX_BATCH_NOTES", 3)
    real = index.documents
    indexed: list[str] = []

    def documents(note):
        if len(indexed) >= 7:
            raise KeyboardInterrupt
        indexed.append(note.path)
        return real(note)

    monkeypatch.setattr(index, "documents", documents)
    assert kb("index").exit_code != 0 and len(indexed) == 7
    indexed.clear()
    monkeypatch.setattr(index, "documents", lambda note: indexed.append(note.path) or real(note))
    resumed = kb("search", "x", "-n", "0", "--json")
    assert resumed.exit_code == 0, resumed.output
    assert len(indexed) == 3, indexed  # two batches of 3 were kept
    assert "resuming the first search index where it stopped: 6 of 9 notes" in resumed.stderr
    segments = whoosh_safe.open_dir(str(vault_copy / ".kb" / "search"), index._schema())
    assert len(segments._segments()) == 3
    assert not index._is_partial(index.Vault(vault_copy, vault_copy / ".kb"))
    assert kb("search", "x").stderr == ""  # resumed once: a complete index now
    fresh = tmp_path / "fresh"
    shutil.copytree(vault_copy, fresh, ignore=shutil.ignore_patterns(".kb"))
    for args in (
        ["search", "x", "-n", "0", "--json"],
        ["search", "卷积 OR relu", "--json"],
        ["show", "resnet", "--json"],
        ["neighbors", "resnet", "--depth", "2", "--json"],
    ):
        assert kb(*args).stdout == CliRunner().invoke(cli, ["--vault", str(fresh), *args]).stdout
