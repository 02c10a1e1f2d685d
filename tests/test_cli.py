"""The command line on a copy of the sample vault: index, stats, errors, and a read-only promise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.cli import cli


def test_index_summary_line(kb) -> None:
    result = kb("index")
    assert result.exit_code == 0, result.output
    # Counted by hand: 9 notes (templates/ is excluded by .obsidian/app.json);
    # 22 [[wikilinks]] + 4 local image embeds in the log = 26 links.
    assert result.stdout.startswith("9 notes (9 new, 0 changed, 0 removed)")
    assert "26 links" in result.stdout
    assert "0 warnings" in result.stdout
    again = kb("index")
    assert again.stdout.startswith("9 notes (0 new, 0 changed, 0 removed)")


def test_index_json_and_incremental(kb, vault_copy: Path) -> None:
    kb("index")
    (vault_copy / "topics" / "ReLU.md").write_text("# ReLU\n\nrewritten\n", encoding="utf-8")
    (vault_copy / "topics" / "全局平均池化.md").unlink()
    data = json.loads(kb("index", "--json").stdout)
    assert data["changed"] == ["topics/ReLU.md"]
    assert data["removed"] == ["topics/全局平均池化.md"]
    assert data["notes"] == 8


def test_index_full(kb) -> None:
    """--full reads every note again; an unchanged note is neither new nor changed."""
    first = json.loads(kb("index", "--json").stdout)
    assert len(first["added"]) == 9
    data = json.loads(kb("index", "--full", "--json").stdout)
    assert data["added"] == data["changed"] == [] and data["notes"] == 9


def test_index_warns_about_bad_front_matter(kb, vault_copy: Path) -> None:
    (vault_copy / "bad.md").write_text(
        "---\ntags: [a, b\n---\n# Bad\n#still-read\n", encoding="utf-8"
    )
    result = kb("index")
    assert result.exit_code == 0
    assert "warning: bad.md: front matter" in result.stderr
    assert "1 warnings" in result.stdout


def test_a_command_that_reads_a_bad_note_says_so_once(kb, vault_copy: Path) -> None:
    """A note added with front matter never closed, then `kb search`: its refresh reads the
    note and says what is wrong, as `kb index` would; the next command is quiet."""
    kb("index")
    (vault_copy / "open.md").write_text("---\ntitle: x\n# Open\n\nrelu here\n", encoding="utf-8")
    first = kb("search", "relu")
    assert first.exit_code == 0 and "open.md" in first.stdout
    assert first.stderr == (
        "warning: open.md: front matter on line 1 is never closed by a `---` line; read as text\n"
    )
    assert kb("show", "relu").stderr == "" and kb("search", "relu").stderr == ""


def test_no_hits_in_a_vault_without_notes_says_so(tmp_path: Path) -> None:
    """`kb --vault EMPTY search relu`: not only "no hits", but why (no Markdown notes)."""
    from click.testing import CliRunner

    from kb.cli import cli

    (tmp_path / "v").mkdir()
    result = CliRunner().invoke(cli, ["--vault", str(tmp_path / "v"), "search", "relu"])
    assert result.exit_code == 1
    assert result.stderr == f"no hits for 'relu': {tmp_path / 'v'} holds no Markdown notes\n"


def test_stats(kb) -> None:
    data = json.loads(kb("stats", "--json").stdout)
    # Hand counts (see test_index_summary_line); the 4 embeds are images the sample
    # vault does not ship (imgs/1.jpg …), so they are missing embeds, not broken links.
    assert data["notes"] == 9
    assert data["links"] == 26
    assert data["broken_links"] == 0
    assert data["missing_embeds"] == 4
    # cnn, cnn/block, paper, 深度学习, 深度学习/架构, 激活函数, 模型压缩, loss, 目标检测
    # (#todo is inside a %% comment, #not-a-tag inside code).
    assert data["tags"] == 9
    text = kb("stats").stdout
    assert "broken links" in text and "orphans" in text


def test_unknown_vault_is_one_line(runner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["--vault", str(tmp_path / "nope"), "stats"])
    assert result.exit_code == 2  # an error, as grep counts them (1 is "nothing found")
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_no_vault_found_is_one_line(runner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KB_VAULT", raising=False)
    result = runner.invoke(cli, ["stats"])
    assert result.exit_code == 2
    assert "--vault PATH" in result.output


ALL_COMMANDS = [
    ["index"],
    ["index", "--full"],
    ["stats"],
    ["search", "relu"],
    ["search", "知识蒸馏", "--json"],
    ["related", "ReLU"],
    ["show", "resnet"],
    ["show", "bottleneck", "--json"],
    ["path", "resnet", "1x1 conv"],
    ["neighbors", "relu", "--depth", "2"],
    ["tags"],
    ["orphans"],
    ["doctor"],
    ["graph", "--topic", "resnet", "--format", "json", "--out", "-"],
]


TORTURE_COMMANDS = [
    ["index"],
    ["index", "--full", "--strict"],
    ["stats", "--json"],
    ["search", "hub"],
    ["related", "Hub", "--json"],
    ["show", "hub"],
    ["path", "hub", "alpha", "--json"],
    ["neighbors", "hub"],
    ["tags"],
    ["orphans", "--json"],
    ["doctor"],
    ["graph", "--all"],
    ["graph", "--topic", "hub", "--format", "json", "--out", "-"],
]


@pytest.mark.parametrize("which", ["sample", "torture"])
def test_every_command_leaves_the_vault_byte_identical(
    runner, which: str, vault_copy: Path, tmp_path: Path, monkeypatch
) -> None:
    """Files (bytes, mode, mtime), folders, symlinks: all as they were after each command, and
    no attempt to write anywhere in the vault but .kb/ (seen by an audit hook, since as root a
    write would succeed)."""
    from tests.torture import WritesInto, build_torture_vault, snapshot

    if which == "sample":
        vault, commands = vault_copy, ALL_COMMANDS + [["graph", "--topic", "resnet"]]
    else:
        vault, commands = build_torture_vault(tmp_path / "t", big=False), TORTURE_COMMANDS
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # kb graph writes graph/… under the current folder
    before = snapshot(vault)
    for args in commands:
        with WritesInto(vault, allowed=vault / ".kb") as writes:
            result = runner.invoke(cli, ["--vault", str(vault), *args])
        assert result.exit_code in (0, 1 if "--strict" in args else 0), (args, result.output)
        assert writes.seen == [], args
        assert snapshot(vault) == before, args
    assert (work / "graph").is_dir()


def test_the_write_watch_sees_attempts(runner, vault_copy: Path) -> None:
    """The check above can fail: without KB_INDEX_DIR kb creates .kb/ in the vault, and plain
    Python writes are seen too."""
    from tests.torture import WritesInto

    with WritesInto(vault_copy) as writes:
        assert runner.invoke(cli, ["--vault", str(vault_copy), "index"]).exit_code == 0
    assert ("os.mkdir", str(vault_copy / ".kb")) in writes.seen
    assert any(event == "sqlite3.connect" for event, _ in writes.seen)
    with WritesInto(vault_copy, allowed=vault_copy / ".kb") as writes:
        (vault_copy / "x.md").write_text("x", encoding="utf-8")
        (vault_copy / "x.md").unlink()
        (vault_copy / ".kb" / "ok").write_text("fine", encoding="utf-8")
    assert [event for event, _ in writes.seen] == ["open", "os.remove"]


def test_read_only_vault_with_kb_index_dir(runner, vault_copy: Path, tmp_path: Path) -> None:
    """chmod -R a-w and KB_INDEX_DIR: every command works and nothing is even tried in the
    vault (root could write there anyway, so the audit hook is the real check)."""
    from tests.torture import WritesInto, snapshot

    for path in [vault_copy, *vault_copy.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    index_dir = tmp_path / "index"
    before = snapshot(vault_copy, with_root_mtime=True)
    try:
        for args in ALL_COMMANDS:
            with WritesInto(vault_copy) as writes:
                result = runner.invoke(
                    cli,
                    ["--vault", str(vault_copy), *args],
                    env={"KB_INDEX_DIR": str(index_dir)},
                )
            assert result.exit_code == 0, (args, result.output)
            assert writes.seen == [], args
        assert snapshot(vault_copy, with_root_mtime=True) == before
        assert not (vault_copy / ".kb").exists() and (index_dir / "notes.sqlite").is_file()
    finally:
        for path in [vault_copy, *vault_copy.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)  # so pytest can clean up


@pytest.mark.parametrize("args", ALL_COMMANDS, ids=lambda a: " ".join(a))
def test_python_m_kb_runs(args: list[str], kb) -> None:
    result = kb(*args)
    assert result.exit_code == 0, result.output


def test_index_with_nothing_changed_does_not_touch_the_graph(kb, monkeypatch) -> None:
    from kb.graph import update

    assert kb("index").exit_code == 0
    for name in ("update", "open_db"):
        monkeypatch.setattr(update, name, lambda *a, **k: (_ for _ in ()).throw(AssertionError(a)))
    result = kb("index")
    assert result.exit_code == 0, result.output


def test_two_kb_processes_at_once_index_each_section_once(vault_copy: Path) -> None:
    """Two first-time `kb index` runs (say, an editor hook and a shell) do not double the index."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "kb", "--vault", str(vault_copy), "index"]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "kb",
            "--vault",
            str(vault_copy),
            "search",
            "relu",
            "-n",
            "50",
            "--json",
        ],
        capture_output=True,
        check=True,
    )
    hits = [(h["path"], h["line"]) for h in json.loads(out.stdout)]
    assert hits and len(hits) == len(set(hits))


def test_search_goes_on_while_the_index_is_rebuilt(kb, vault_copy: Path, monkeypatch) -> None:
    from kb import index
    from kb.store import Store
    from kb.vault import find_vault

    assert kb("index").exit_code == 0
    vault = find_vault(str(vault_copy))
    seen: list[int] = []
    real = index._write_notes

    def slow_write(*args, **kwargs):
        # Halfway through a full rebuild, the live index still answers.
        seen.append(len(index.search(vault, "relu")))
        return real(*args, **kwargs)

    monkeypatch.setattr(index, "_write_notes", slow_write)
    index.sync(vault, Store(vault), full=True)
    assert seen and seen[0] > 0
    assert index.search(vault, "relu")


def test_tags_are_one_tag_in_any_case_everywhere(kb, vault_copy: Path) -> None:
    """#Straße, #STRASSE and #strasse are one tag for stats, `kb tags` and `tag:` search."""
    for i, tag in enumerate(["Straße", "STRASSE", "strasse"]):
        (vault_copy / f"s{i}.md").write_text(f"# S{i}\n\nzebra #{tag}\n", encoding="utf-8")
    assert json.loads(kb("stats", "--json").stdout)["tags"] == 10  # 9 in the sample vault
    tags = json.loads(kb("tags", "--json").stdout)
    assert [t["notes"] for t in tags if t["tag"].casefold() == "strasse"] == [3]
    found = {h["path"] for h in json.loads(kb("search", "zebra tag:straße", "--json").stdout)}
    assert found == {"s0.md", "s1.md", "s2.md"}


def test_graph_built_in_a_second_process_is_the_same(kb, vault_copy: Path, monkeypatch) -> None:
    """On a big change `kb index` builds the graph beside the search index, in a child process."""
    from kb import refresh

    serial = json.loads(kb("graph", "--all", "--format", "json", "--out", "-").stdout)
    monkeypatch.setattr(refresh, "PARALLEL_GRAPH_NOTES", 1)
    assert kb("index", "--full").exit_code == 0
    parallel = json.loads(kb("graph", "--all", "--format", "json", "--out", "-").stdout)
    assert parallel == serial and parallel["nodes"]


def test_a_note_is_named_by_its_lone_top_h1_everywhere(kb, vault_copy: Path) -> None:
    """Foam-style `backlinking.md` titled `# Backlinks`: show, related and title: all know it."""
    (vault_copy / "backlinking.md").write_text(
        "# Backlinks\n\nBacklinks list the notes that link to ReLU and ResNet.\n", encoding="utf-8"
    )
    assert json.loads(kb("show", "Backlinks", "--json").stdout)["path"] == "backlinking.md"
    assert kb("related", "Backlinks").exit_code == 0
    hits = json.loads(kb("search", "title:backlinks", "--json").stdout)
    assert {h["path"] for h in hits} == {"backlinking.md"}


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["search", "relu"], 0),
        (["search", "zzzyxq"], 1),  # no hits, like grep
        (["show", "nosuchtopicatall"], 1),
        (["search", '"unclosed'], 2),
        (["--vault", "/nonexistent/vault", "stats"], 2),
    ],
)
def test_exit_codes_of_the_real_process(vault_copy: Path, args: list[str], code: int) -> None:
    import subprocess
    import sys

    cmd = [
        sys.executable,
        "-m",
        "kb",
        *(["--vault", str(vault_copy)] if args[0] != "--vault" else []),
    ]
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    if code == 2:
        assert len(done.stderr.strip().splitlines()) == 1  # one clear line


def test_piped_into_head_is_not_an_error(vault_copy: Path) -> None:
    """`kb … | head` closes the pipe early: exit 0, no traceback (1 would mean "no hits")."""
    import subprocess
    import sys

    for i in range(400):  # enough hits for output well beyond one pipe buffer
        (vault_copy / f"z{i:03}.md").write_text(f"# Z{i}\n\nzebra crossing {i}\n", "utf-8")
    kb_cmd = f"'{sys.executable}' -m kb --vault '{vault_copy}'"
    for args in ("search zebra -n 500", "doctor -n 0", "graph --all --format json --out -"):
        done = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {kb_cmd} {args} | head -c 1 >/dev/null"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_related_knows_the_names_the_graph_knows(kb, vault_copy: Path) -> None:
    """`kb show` and `kb related` agree on a name the graph took from a title's parts."""
    (vault_copy / "block.md").write_text(
        "# 残差块（Residual Block）\n\n残差块让 ResNet 很深也能训练，bottleneck 是它的变体。\n",
        "utf-8",
    )
    assert kb("index").exit_code == 0
    assert json.loads(kb("show", "Residual Block", "--json").stdout)["path"] == "block.md"
    result = kb("related", "Residual Block", "--json")
    assert result.exit_code == 0, result.output
    assert "block.md" not in {h["path"] for h in json.loads(result.stdout)}  # not itself


def test_related_of_a_concept_says_whose_notes_it_gives(kb) -> None:
    """A concept is no note: `kb related` says on stderr it answers for the note holding it."""
    assert kb("index").exit_code == 0  # the graph knows concepts; `kb related` builds no graph
    result = kb("related", "dead relu", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "'dead relu' is the concept 'Dead ReLU' at topics/ReLU.md:14, not a note: "
        "the notes most like topics/ReLU.md\n"
    )
    assert json.loads(result.stdout) == json.loads(kb("related", "ReLU", "--json").stdout)
    assert kb("related", "ReLU").stderr == ""
    tag = kb("related", "#cnn")
    assert tag.exit_code != 0 and "'#cnn' is a tag, not a note" in tag.stderr
