"""Crash safety and concurrent runs of the real `kb` process (issue 7, points 2 and 3).

Killed with SIGKILL at random moments or at chosen points, kb never leaves data a later
command fails on: the next commands give the results of a clean index of the same vault, and
say so when they rebuild something. Two `kb index` at once: the second waits, saying so; a
`kb search` during indexing sees a complete index.

The tests run on a generated vault big enough that indexing takes about a second. A killed
run loses its whole process group (the parser pool, whoosh's sub-writers and the graph
process die with it). Marked slow: `pytest -m "not slow"` leaves them out, plain `pytest`
runs them.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import SAMPLE_VAULT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes in /proc"),
]

KILLS = 20
"""Random kills the trials must land (runs that finish before their kill do not count)."""
SEED = 20240607
NOTES = 40
"""Generated notes, besides the sample vault's."""

KB = [sys.executable, "-m", "kb"]
# The same kb with its parallel paths switched on for this small vault: a parse pool, whoosh
# writing with one process per core, and the graph built in a forked child beside the index.
PARALLEL_KB = [
    sys.executable,
    "-c",
    "import kb.index, kb.refresh, kb.store, kb.cli\n"
    "kb.index.PARALLEL_MIN_NOTES = kb.refresh.PARALLEL_GRAPH_NOTES = 30\n"
    "kb.store.PARALLEL_MIN_FILES = 30\n"
    "kb.cli.main()",
]

QUERIES = ["relu", "bottleneck", "残差", "gradient tag:gen", "title:gen", "relu OR zebra OR quokka"]
CHANGED = QUERIES[-1]
"""A query whose hits differ in each state of the vault."""

# -- the vault ---------------------------------------------------------------------------------

WORDS = (
    "residual bottleneck gradient softmax attention kernel stride padding dropout "
    "batch norm layer tensor loss margin anchor pooling"
).split()
ZH = "卷积 残差 梯度 注意力 池化 归一化 损失 激活 网络 特征 通道 训练".split()


def _note(i: int, n: int, rng: random.Random) -> str:
    links = " ".join(f"[[g{rng.randrange(n):03}]]" for _ in range(3))
    lines = [f"---\ntags: [gen, t{i % 9}]\naliases: [Gen {i}]\n---", f"# Gen {i}", ""]
    for h in range(2):
        w = rng.sample(WORDS, 3)
        z = rng.sample(ZH, 3)
        lines += [
            f"## {w[0].title()} {i}-{h}",
            "",
            f"Text about {' '.join(w)} and {''.join(z)} {links} #topic{h}",
            "",
            f"- **{w[1]} {h}**: explains {w[2]} with [[ReLU]] and [[ResNet]]",
            f"- {z[0]}：{z[1]}{z[2]}",
            "",
            "```python",
            f"x = {i} * {h}",
            "```",
            "",
        ]
    return "\n".join(lines)


def _make_vault(root: Path, n: int) -> None:
    shutil.copytree(SAMPLE_VAULT, root, ignore=shutil.ignore_patterns(".kb"))
    rng = random.Random(SEED)
    (root / "gen").mkdir()
    for i in range(n):
        (root / "gen" / f"g{i:03}.md").write_text(_note(i, n, rng), encoding="utf-8")


class States:
    """The vault in one of three states: as generated (base), a few notes edited, added and
    removed (small), or every generated note edited (big: kb's parallel paths run)."""

    def __init__(self, root: Path):
        self.root = root
        self.originals = {
            p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.md"))
        }
        self.gen = sorted(p for p in self.originals if p.startswith("gen/"))
        self.current = "base"

    def files(self, state: str) -> dict[str, bytes]:
        files = dict(self.originals)
        if state == "small":
            for p in self.gen[:5]:
                files[p] += b"\n## Zebra\n\nzebra crossing [[Bottleneck]] #edited\n"
            for p in self.gen[-3:]:
                del files[p]
            for i in range(4):
                files[f"new/quokka {i}.md"] = f"# Quokka {i}\n\nquokka [[ReLU]] #new\n".encode()
        elif state == "big":
            for p in self.gen:
                files[p] = files[p].replace(b"Text about", b"Zebra text about", 1)
        return files

    def set(self, state: str) -> None:
        self.current = state
        wanted = self.files(state)
        for p in self.root.rglob("*.md"):
            if p.relative_to(self.root).as_posix() not in wanted:
                p.unlink()
        for rel, data in wanted.items():
            path = self.root / rel
            if not path.exists() or path.read_bytes() != data:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)


# -- running kb and reading what it says -------------------------------------------------------


def _run(vault: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KB, "--vault", str(vault), *args], capture_output=True, text=True, timeout=180
    )


def _checked(done: subprocess.CompletedProcess, what: object) -> subprocess.CompletedProcess:
    """A command after a crash: a normal exit (0 or 1, never 2), no traceback."""
    assert done.returncode in (0, 1), (what, done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, (what, done.stderr)
    return done


def _hit_list(stdout: str) -> list[tuple[str, int]]:
    """Every hit of `kb search --json`, sorted (a list: a section indexed twice shows)."""
    return sorted((h["path"], h["line"]) for h in json.loads(stdout))


def _hits(vault: Path, query: str) -> list[tuple[str, int]]:
    return _hit_list(_checked(_run(vault, "search", query, "-n", "1000", "--json"), query).stdout)


def _graph_sets(stdout: str) -> dict:
    """Node-link JSON as sorted lists: its order is the order notes entered the graph."""
    data = json.loads(stdout)
    return {key: sorted(json.dumps(x, sort_keys=True) for x in data[key]) for key in data}


COMMANDS = {
    "search": (["search", CHANGED, "-n", "1000", "--json"], _hit_list, "hits"),
    "show": (["show", "relu", "--json"], json.loads, "card"),
    "stats": (["stats", "--json"], json.loads, "stats"),
    "graph": (["graph", "--all", "--format", "json", "--out", "-"], _graph_sets, "graph"),
}
"""name -> (arguments, reading of its output, field of Reference)."""


@dataclass
class Reference:
    """What the commands print on a clean index of one state of the vault."""

    hits: list[tuple[str, int]]
    card: dict
    stats: dict
    graph: dict
    queries: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def _reference(vault: Path, index_dir: Path) -> Reference:
    """What kb answers on a fresh index of the vault (in this process: faster)."""
    from click.testing import CliRunner

    from kb.cli import cli

    def run(*args: str) -> str:
        where = ["--vault", str(vault), "--index-dir", str(index_dir)]
        done = CliRunner().invoke(cli, [*where, *args])
        assert done.exit_code in (0, 1), done.output
        return done.stdout

    run("index")
    ref = Reference(**{name: read(run(*args)) for args, read, name in COMMANDS.values()})
    ref.queries = {q: _hit_list(run("search", q, "-n", "1000", "--json")) for q in QUERIES}
    return ref


def _follow(vault: Path, what: str, ref: Reference, label: object) -> list[str]:
    """Run a command as a user would after a crash: it works and answers as a clean index
    does. Returns the notices it printed (``kb: …`` lines on stderr)."""
    if what == "index":
        done = _checked(_run(vault, "index"), label)
    else:
        args, read, name = COMMANDS[what]
        done = _checked(_run(vault, *args), label)
        assert read(done.stdout) == getattr(ref, name), (label, what)
    return [line for line in done.stderr.splitlines() if line.startswith("kb:")]


def _debris(vault: Path) -> list[str]:
    """Temporary files and folders of unfinished writes left in .kb/."""
    data = vault / ".kb"
    return sorted(
        p.relative_to(data).as_posix()
        for p in [*data.iterdir(), *(data / "search").iterdir()]
        if p.name.endswith(".tmp")
        or ".toc." in p.name  # whoosh's table of contents before its rename
        or p.name.startswith(("search.new.", "search.old."))
    )


@pytest.fixture(scope="module")
def crash_vault(tmp_path_factory) -> tuple[Path, States, dict[str, Reference]]:
    base = tmp_path_factory.mktemp("crash")
    vault = base / "vault"
    _make_vault(vault, NOTES)
    states = States(vault)
    refs: dict[str, Reference] = {}
    for state in ("small", "big", "base"):
        states.set(state)
        refs[state] = _reference(vault, base / f"clean-{state}")
    assert len({json.dumps(r.hits) for r in refs.values()}) == 3
    assert _run(vault, "index").returncode == 0
    return vault, states, refs


# -- random kills ------------------------------------------------------------------------------


def _kill_after(cmd: list[str], delay: float) -> int | None:
    """Start a command in its own process group and SIGKILL the whole group after ``delay``
    seconds; the exit code when it finished first, else None."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        return proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    # The group's other processes die with the leader; wait until none is left running, so
    # that the next command never races a half-dead writer. (Dead ones may stay zombies for a
    # while, until init reaps them: they hold no file or lock any more.)
    deadline = time.monotonic() + 10
    while _running_in_group(proc.pid):
        assert time.monotonic() < deadline, "killed processes still running"
        time.sleep(0.005)
    return None


def _group(pgid: int) -> list[int]:
    """The processes of a process group that are not dead (zombies are), from Linux's /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(group) == pgid and state not in "ZX":
            found.append(int(stat.parent.name))
    return found


def _running_in_group(pgid: int) -> bool:
    """True while a process of the group is not yet dead."""
    return bool(_group(pgid))


def test_kill_at_random_moments_never_breaks_the_next_command(crash_vault) -> None:
    vault, states, refs = crash_vault
    rng = random.Random(SEED)
    # Kills are spread over the time each kind of run takes here, learnt from the runs that
    # finish before their kill; the first guess is the time of a whole `kb index --full`.
    start = time.perf_counter()
    assert _run(vault, "index", "--full").returncode == 0
    guess = time.perf_counter() - start
    took: dict[tuple[str, bool], float] = {}
    follow = itertools.cycle(["search", "show", "stats", "index"])
    killed = trials = 0
    notices: list[str] = []
    while killed < KILLS:
        trials += 1
        assert trials <= 2 * KILLS, f"only {killed} of {trials} runs were killed"
        # Each trial changes the vault, so the killed command has work to do; a change from
        # or to "big" touches every generated note.
        state = rng.choice([s for s in ("base", "small", "big") if s != states.current])
        big = "big" in (state, states.current)
        states.set(state)
        what = rng.choice(["index", "index", "index --full", "index --full", "search", "show"])
        args = {"search": ["search", "relu"], "show": ["show", "relu"]}.get(what, what.split())
        runner = PARALLEL_KB if rng.random() < 0.5 else KB
        delay = rng.uniform(0.05, 0.9) * took.get((what, big), guess)
        start = time.perf_counter()
        code = _kill_after([*runner, "--vault", str(vault), *args], delay)
        if code is None:
            killed += 1
        else:
            took[(what, big)] = time.perf_counter() - start
            assert code in (0, 1), (trials, what, code)
        label = (trials, what, runner is PARALLEL_KB, round(delay, 2))
        notices += _follow(vault, next(follow), refs[state], label)
    # Whatever kb repaired, it said so, and it said nothing else.
    assert all("rebuilding it" in n or "reading every note again" in n for n in notices), notices
    # Finally: everything equals a clean index of the same vault, and no debris is left.
    ref = refs[states.current]
    _checked(_run(vault, "index"), "final index")
    for what in ("show", "stats", "graph", "search"):
        assert not _follow(vault, what, ref, what)
    assert {q: _hits(vault, q) for q in QUERIES} == ref.queries
    assert not _debris(vault)


def test_kill_of_kb_alone_leaves_no_worker_behind(crash_vault) -> None:
    """`kill -9 <kb's pid>` (not its process group): the parser pool, whoosh's sub-writers and
    the graph process die with kb, instead of waiting forever or writing .kb/ unlocked (a
    sub-writer shares whoosh's write lock: an orphan would block every later update)."""
    vault, states, refs = crash_vault
    rng = random.Random(SEED + 1)
    start = time.perf_counter()
    assert _run(vault, "index", "--full").returncode == 0
    took = time.perf_counter() - start
    workers = 0
    for trial in range(5):
        states.set("big" if states.current != "big" else "base")
        args = ["index", "--full"] if trial % 2 else ["index"]
        proc = subprocess.Popen(
            [*PARALLEL_KB, "--vault", str(vault), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.3, 0.9) * took)
        workers += len(_group(proc.pid)) > 1
        proc.kill()  # kb alone
        proc.wait()
        deadline = time.monotonic() + 5
        while _running_in_group(proc.pid):
            assert time.monotonic() < deadline, ("workers outlived kb", trial, _group(proc.pid))
            time.sleep(0.01)
        assert not _follow(vault, "search", refs[states.current], trial)
    assert workers >= 2, "kb was never caught with its workers running"


# -- kills at chosen points --------------------------------------------------------------------

CRASH_AT = [
    sys.executable,
    "-c",
    # python -c CODE OBJECT NTH WHEN kb-args…: SIGKILL the process group before or after the
    # NTH call (in the main process) of OBJECT (module:attribute.path), then run kb.
    "import importlib, os, signal, sys\n"
    "where, nth, when = sys.argv.pop(1), int(sys.argv.pop(1)), sys.argv.pop(1)\n"
    "module, _, name = where.partition(':')\n"
    "owner = importlib.import_module(module)\n"
    "*path, attr = name.split('.')\n"
    "for part in path:\n"
    "    owner = getattr(owner, part)\n"
    "real, main, calls = getattr(owner, attr), os.getpid(), [0]\n"
    "def crash(*args, **kwargs):\n"
    "    mine = os.getpid() == main\n"
    "    calls[0] += mine\n"
    "    if mine and calls[0] == nth and when == 'before':\n"
    "        os.killpg(0, signal.SIGKILL)\n"
    "    out = real(*args, **kwargs)\n"
    "    if mine and calls[0] == nth and when == 'after':\n"
    "        os.killpg(0, signal.SIGKILL)\n"
    "    return out\n"
    "setattr(owner, attr, crash)\n"
    "import kb.cli\n"
    "kb.cli.main()",
]

REBUILDS = "rebuilding it"


@pytest.mark.parametrize(
    ("where", "nth", "when", "args", "notice"),
    [
        # the store written, the search index and the graph not
        ("kb.index:sync", 1, "before", ["index"], None),
        # whoosh committed, held.json not written: the index holds notes it does not list
        ("kb.index:_write_held", 1, "before", ["index"], None),
        ("kb.index:_write_held", 1, "before", ["search", "relu"], None),
        # a rebuild begun beside the live index
        ("kb.index:_write_notes", 1, "before", ["index", "--full"], None),
        # between the two renames that swap a rebuilt index in: no live index for an instant
        ("os:replace", 3, "before", ["index", "--full"], None),
        ("os:replace", 3, "after", ["index", "--full"], None),
        # whoosh wrote a segment but no table of contents; a TOC, but did not clean up
        ("kb.whoosh_safe:write_toc", 1, "before", ["index"], None),
        ("whoosh.index:clean_files", 1, "before", ["index"], None),
        # the graph: not begun; halfway through its one transaction (a note's rows written,
        # not the rest); the transaction written but not yet acknowledged
        ("kb.graph:sync", 1, "before", ["index"], None),
        ("kb.graph.db:GraphDB.put_note", 2, "after", ["index"], None),
        ("kb.graph.db:GraphDB.put_note", 2, "after", ["show", "relu"], None),
        ("kb.graph.db:GraphDB.drop_unlinked", 1, "after", ["index"], None),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v) if isinstance(v, list) else None,
)
def test_kill_at_a_chosen_point(crash_vault, where, nth, when, args, notice) -> None:
    """The next commands see the last complete data or what the killed kb finished, and say
    so when they rebuild something."""
    vault, states, refs = crash_vault
    state = "small" if states.current == "base" else "base"
    states.set(state)
    proc = subprocess.run(
        [*CRASH_AT, where, str(nth), when, "--vault", str(vault), *args],
        capture_output=True,
        text=True,
        timeout=180,
        start_new_session=True,
    )
    assert proc.returncode == -signal.SIGKILL, (where, proc.returncode, proc.stderr)
    # kb show brings the store and the graph up to date, kb search the search index.
    notices = [n for what in ("show", "search") for n in _follow(vault, what, refs[state], where)]
    if notice:
        assert any(notice in n for n in notices), notices
    else:
        assert not notices, notices
    assert not _debris(vault)


# -- two kb at once ----------------------------------------------------------------------------


def _start(vault: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*KB, "--vault", str(vault), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _rebuilding(vault: Path, proc: subprocess.Popen) -> None:
    """Wait until ``proc`` (a `kb index --full`) holds the lock and builds the new index."""
    deadline = time.monotonic() + 60
    while not any((vault / ".kb").glob(f"search.new.{proc.pid}")):
        assert proc.poll() is None, "kb index --full finished before it was caught at work"
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_second_kb_index_waits_for_the_first_and_says_so(crash_vault) -> None:
    vault, states, refs = crash_vault
    states.set("small" if states.current == "base" else "base")
    first = _start(vault, "index", "--full")
    _rebuilding(vault, first)
    second = _start(vault, "index")
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert f"waiting for kb (pid {first.pid}) that holds" in err2
    assert "Traceback" not in err1 + err2
    # The second found the work done: it read nothing again.
    assert " (0 new, 0 changed, 0 removed)" in out2, out2
    assert {q: _hits(vault, q) for q in QUERIES} == refs[states.current].queries


def test_search_during_a_full_rebuild_sees_a_complete_index(crash_vault) -> None:
    vault, states, refs = crash_vault
    assert _run(vault, "index").returncode == 0
    ref = refs[states.current].hits
    indexer = _start(vault, "index", "--full")
    _rebuilding(vault, indexer)
    during = 0
    while indexer.poll() is None:
        during += 1  # this search started while the rebuild was running
        assert _hits(vault, CHANGED) == ref  # never an error, never an empty or partial list
    _, err = indexer.communicate()
    assert indexer.returncode == 0, err
    assert during, "no search started while the index was rebuilt"
    assert _hits(vault, CHANGED) == ref


def test_search_during_an_incremental_index_sees_the_index_before_or_after(crash_vault) -> None:
    vault, states, refs = crash_vault
    assert _run(vault, "index").returncode == 0
    before = refs[states.current].hits
    states.set("small" if states.current == "big" else "big")  # a long incremental update
    after = refs[states.current].hits
    indexer = _start(vault, "index")
    seen = []
    while indexer.poll() is None:
        seen.append(_hits(vault, CHANGED))
    _, err = indexer.communicate()
    assert indexer.returncode == 0, err
    assert seen, "no search ran while kb index did"
    assert all(hits in (before, after) for hits in seen)
    assert _hits(vault, CHANGED) == after
