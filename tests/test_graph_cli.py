"""Graph commands on a copy of the sample vault, and on the real foam-docs vault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.cli import cli

from .conftest import shared_vault


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_path_resnet_to_1x1_conv_shows_why(kb):
    result = kb("path", "resnet", "1x1 conv")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("ResNet → 1x1 卷积")
    # ResNet → Bottleneck → 1x1 卷积: two hops between topics, through the topic notes'
    # links (sections are where the evidence is, not stops on the way)…
    assert out.startswith("ResNet → 1x1 卷积: 2 hops\n")
    assert "1. ResNet –links_to→ Bottleneck" in out and "2. Bottleneck –links_to→ 1x1 卷积" in out
    assert "topics/ResNet.md:16" in out and "topics/Bottleneck.md:9" in out
    # ...and the user's own note, which speaks of "ResNet的BottNeck结构" in its 1x1 conv entry:
    # a sentence that says both, listed as another place they are said together.
    also = out.split("also joined by:")[1]
    assert "面试准备计划.md:73" in also and "ResNet的BottNeck结构" in also

    data = _json(kb("path", "resnet", "1x1 conv", "--json"))
    assert data["from"] == "note:topics/ResNet.md" and data["to"] == "note:topics/1x1 卷积.md"
    assert data["hops"][0]["source"] == data["from"] or data["hops"][0]["target"] == data["from"]
    assert [(h["source"], h["target"]) for h in data["hops"]] == [
        ("note:topics/ResNet.md", "note:topics/Bottleneck.md"),
        ("note:topics/Bottleneck.md", "note:topics/1x1 卷积.md"),
    ]
    for hop in data["hops"]:
        assert hop["kind"] == "links_to"
        assert set(hop["evidence"]) == {"path", "line", "text"} and hop["evidence"]["text"]
    via = {a["via"]: a for a in data["also"]}
    log_entry = via["section:面试准备计划.md#67"]
    texts = " ".join(e["evidence"]["text"] for e in log_entry["evidence"])
    assert "BottNeck" in texts


def test_log_joins_resnet_bottleneck_and_1x1_conv(kb):
    # The 1x1 conv entry of the log is one hop from all three.
    data = _json(kb("neighbors", "section:面试准备计划.md#67", "--json"))
    near = {n["id"] for n in data["neighbors"]}
    assert {"note:topics/ResNet.md", "note:topics/Bottleneck.md", "note:topics/1x1 卷积.md"} <= near


def test_show_bottleneck(kb):
    result = kb("show", "bottleneck")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Bottleneck  (note)  topics/Bottleneck.md")
    card = _json(kb("show", "BottNeck", "--json"))
    assert card["id"] == "note:topics/Bottleneck.md" and card["kind"] == "note"
    assert card["path"] == "topics/Bottleneck.md"
    assert {"BottNeck", "瓶颈结构"} <= set(card["aliases"])
    assert "cnn" in card["tags"]
    # Backlinks from the topic notes, with their lines.
    back = {(b["path"], b["line"]) for b in card["backlinks"]}
    assert ("topics/ResNet.md", 16) in back and ("topics/1x1 卷积.md", 11) in back
    # The user's log mentions it as "BottNeck" without linking it.
    mention = [m for m in card["unlinked_mentions"] if m["path"] == "面试准备计划.md"]
    assert mention and "ResNet的BottNeck结构" in mention[0]["context"] and mention[0]["line"] == 73
    targets = {(o["target"], o["path"]) for o in card["links_out"]}
    assert ("ResNet", "topics/ResNet.md") in targets
    for key in (
        "id",
        "label",
        "kind",
        "path",
        "line",
        "aliases",
        "tags",
        "links_out",
        "backlinks",
        "unlinked_mentions",
        "parents",
        "children",
    ):
        assert key in card


def test_show_concept_from_the_log_and_a_tag(kb):
    card = _json(kb("show", "dead relu", "--json"))
    assert card["kind"] == "concept"
    assert ("面试准备计划.md", 196) in {(d["path"], d["line"]) for d in card["defined_in"]}
    assert "ReLU" in [p["label"] for p in card["parents"]]
    tag = _json(kb("show", "#cnn", "--json"))
    assert tag["kind"] == "tag" and "topics/Bottleneck.md" in tag["notes"]
    assert "#cnn/block" in [c["label"] for c in tag["children"]]


def test_unknown_topic_suggests_names(kb):
    result = kb("show", "bottlenek")
    assert result.exit_code == 1
    assert "did you mean" in result.output and "Bottleneck" in result.output
    assert "Traceback" not in result.output


def test_no_path_is_one_line_and_exit_1(kb, vault_copy: Path):
    (vault_copy / "孤岛.md").write_text("# 孤岛\n\nnothing to see\n", encoding="utf-8")
    result = kb("path", "resnet", "孤岛")
    assert result.exit_code == 1
    assert result.output.strip() == "ResNet and 孤岛 are not connected."


def test_tags_orphans_neighbors(kb, vault_copy: Path):
    tags = _json(kb("tags", "--json"))
    by = {t["tag"]: t for t in tags}
    assert by["cnn"]["notes"] >= by["cnn/block"]["notes"] >= 1 and by["cnn/block"]["depth"] == 1
    text = kb("tags").stdout
    assert f"{by['cnn/block']['notes']}    #cnn/block" in text  # nested under #cnn
    (vault_copy / "lonely.md").write_text("# lonely\n\nno links\n", encoding="utf-8")
    assert "lonely.md" in _json(kb("orphans", "--json"))
    data = _json(kb("neighbors", "relu", "--depth", "2", "--json"))
    assert data["id"] == "note:topics/ReLU.md"
    assert {n["distance"] for n in data["neighbors"]} == {1, 2}


def test_doctor_reports_and_exits_0(kb, vault_copy: Path):
    (vault_copy / "bad.md").write_text(
        "---\ntags: [a\n---\n# bad\n\nSee [[Nope]] and [[ReLU]], ![[missing.png]].\n",
        encoding="utf-8",
    )
    result = kb("doctor")
    assert result.exit_code == 0, result.output
    data = _json(kb("doctor", "--json"))
    assert [(b["path"], b["target"]) for b in data["broken"]] == [("bad.md", "Nope")]
    assert ("bad.md", "missing.png") in {(m["path"], m["target"]) for m in data["missing_embeds"]}
    assert [w["path"] for w in data["bad_frontmatter"]] == ["bad.md"]
    suggestions = {(s["path"], s["target"]) for s in data["suggestions"]}
    assert ("面试准备计划.md", "Bottleneck") in suggestions


def test_graph_html_and_data_exports(kb, runner, vault_copy: Path, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = kb("graph", "--topic", "resnet", "--depth", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "graph/resnet.html"  # relative to the current folder
    assert (work / "graph" / "resnet.html").is_file()
    assert (work / "graph" / "resnet.html").stat().st_size > 1000
    data = _json(kb("graph", "--topic", "1x1 conv", "--format", "json", "--out", "-"))
    ids = {n["id"] for n in data["nodes"]}
    assert "note:topics/1x1 卷积.md" in ids
    out = tmp_path / "all.graphml"
    assert kb("graph", "--all", "--format", "graphml", "--out", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("<?xml")
    assert kb("graph").exit_code == 2  # neither --topic nor --all
    # Run from inside the vault, the default file goes to kb's data folder, not the vault.
    monkeypatch.chdir(vault_copy)
    result = kb("graph", "--topic", "relu", "--depth", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ".kb/graph/relu.html"
    assert (vault_copy / ".kb" / "graph" / "relu.html").is_file()
    assert not (vault_copy / "graph").exists()


# -- a real vault ------------------------------------------------------------------------


@pytest.mark.shared
def test_foam_docs_links_and_backlinks(runner, tmp_path):
    """Counted by hand in ../shared/vaults/foam-docs:

    grep -rn -o '\\[\\[[^]]*\\]\\]' --include=*.md . | grep -i 'backlinking'  -> 5 wikilinks
      (migrating-from-obsidian.md:20, recipes.md:36, recipes.md:40, tools/cli/links.md:59,
      user/index.md:49), all in prose; grep -rn 'backlinking.md)' -> 1 Markdown link
      (getting-started/navigation.md:138). The `[backlinking]: …backlinking.md` reference
      definitions at the file ends are not used as links. backlinking.md itself has one
      [[wikilinks]], but inside `inline code` (line 9), and two more inside a ```markdown
      block: no links out.
    the same greps for 'graph-view' -> 9 wikilinks from 9 notes (search-and-navigate-notes:28,
      migrating-from-obsidian:21, recipes:35, note-properties:33, wikilinks:12, tags:54,
      navigation:52, installation:71, user/index:52) and 3 Markdown links
      (note-taking-in-foam:232, navigation:137, first-workspace:202): 12 links from 11 notes.
      graph-view.md's own links out: 4 at lines 142-145 ([[wikilinks]] [[templates]]
      [[tags]] [[daily-notes]]); its one Markdown link (line 172) is an image, not a note.
    """
    vault = shared_vault("foam-docs")

    def card(topic):
        result = runner.invoke(
            cli, ["--vault", str(vault), "--index-dir", str(tmp_path), "show", topic, "--json"]
        )
        return _json(result)

    back = card("backlinking")
    assert back["path"] == "user/features/backlinking.md"
    assert sorted((b["path"].rsplit("/", 1)[-1], b["line"]) for b in back["backlinks"]) == [
        ("index.md", 49),
        ("links.md", 59),
        ("migrating-from-obsidian.md", 20),
        ("navigation.md", 138),
        ("recipes.md", 36),
        ("recipes.md", 40),
    ]
    assert back["links_out"] == []

    view = card("graph-view")
    assert len(view["backlinks"]) == 12
    assert len({b["path"] for b in view["backlinks"]}) == 11
    # (in order of how related the target is, not of place)
    assert sorted((o["line"], o["target"]) for o in view["links_out"]) == [
        (142, "wikilinks"),
        (143, "templates"),
        (144, "tags"),
        (145, "daily-notes"),
    ]
    rank = {e["id"]: i for i, e in enumerate(view["related"])}
    order = [rank.get(o["id"], len(rank)) for o in view["links_out"]]
    assert order == sorted(order)
    assert not (vault / ".kb").exists()


def test_escape_sequences_in_a_note_never_reach_kb_show(kb, vault_copy: Path):
    (vault_copy / "esc.md").write_bytes(b"# esc\n\nzzesc \x1b[2J\x1b]0;pwned\x07 see [[ReLU]]\n")
    result = kb("show", "esc")
    assert result.exit_code == 0, result.output
    assert "zzesc" in result.stdout and "esc.md:3" in result.stdout  # line kept
    assert "\x1b" not in result.output and "\x07" not in result.output


@pytest.mark.parametrize(
    "topic",
    ["./topics/ReLU.md", "topics/ReLU", "./topics/ReLU", "topics\\ReLU.md", ".\\topics\\ReLU"],
)
def test_show_takes_a_path_as_the_shell_gives_it(kb, topic: str):
    assert _json(kb("show", topic, "--json"))["id"] == "note:topics/ReLU.md"


def test_markdown_suffix_note_is_named_without_it(kb, vault_copy: Path):
    (vault_copy / "ext.markdown").write_text("zzext body, see [[ReLU]]\n", encoding="utf-8")
    card = _json(kb("show", "ext", "--json"))
    assert card["id"] == "note:ext.markdown" and card["label"] == "ext"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", ""), "TOPIC is empty"),
        (("show", "  "), "TOPIC is empty"),
        (("path", "", "relu"), "A is empty"),
        (("path", "relu", " "), "B is empty"),
        (("neighbors", ""), "TOPIC is empty"),
        (("graph", "--topic", ""), "--topic is empty"),
    ],
)
def test_empty_topic_is_a_usage_error(kb, args: tuple[str, ...], message: str):
    result = kb(*args)
    assert result.exit_code == 2, result.output
    # One line: what is wrong, and where the help is (not click's four-line usage block).
    assert result.output.startswith(f"Error: {message}. See '")
    assert result.output.endswith(f" {args[0]} -h'.\n") and result.output.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ("graph", "--topic", "relu", "--depth", "-1"),
        ("graph", "--topic", "relu", "--max-nodes", "0"),
        ("neighbors", "relu", "--depth", "-1"),
    ],
)
def test_out_of_range_numbers_are_refused(kb, args: tuple[str, ...]):
    result = kb(*args)
    assert result.exit_code == 2, result.output
    assert "is not in the range" in result.output


def test_path_from_a_topic_to_itself(kb):
    result = kb("path", "relu", "topics/ReLU.md")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ReLU and ReLU are the same topic."
    data = _json(kb("path", "relu", "relu", "--json"))
    assert data == {"from": "note:topics/ReLU.md", "to": "note:topics/ReLU.md", "hops": []}


def test_doctor_shows_the_first_items_of_each_kind(kb):
    full = kb("doctor", "-n", "0").stdout
    assert "面试准备计划.md:109  imgs/6.png" in full and "more (-n 0" not in full
    short = kb("doctor", "-n", "2").stdout
    assert "面试准备计划.md:109  imgs/6.png" not in short
    assert "    … 2 more (-n 0 for all)" in short  # 4 missing image embeds


def test_show_lists_the_first_entries_of_each_list(kb):
    full = kb("show", "relu", "-n", "0").stdout
    short = kb("show", "relu", "-n", "1").stdout
    # Two backlinks; the one from the more related topic (by the card's related list)
    # comes first, whatever its place.
    card = json.loads(kb("show", "relu", "--json").stdout)
    related = [e["label"] for e in card["related"]]
    first, second = [b["path"] for b in card["backlinks"]]
    assert {first, second} == {"topics/激活函数.md", "topics/ResNet.md"}
    by_topic = {"topics/激活函数.md": "激活函数", "topics/ResNet.md": "ResNet"}
    assert related.index(by_topic[first]) < related.index(by_topic[second])
    assert f"{second}:" in full and f"{second}:" not in short.split("backlinks")[1]
    assert "    … 1 more (-n 0 for all)" in short  # 2 backlinks, 1 shown
    assert len(json.loads(kb("show", "relu", "-n", "1", "--json").stdout)["backlinks"]) == 2


def test_graph_queries_rebuild_a_damaged_graph(kb, vault_copy):
    assert kb("show", "relu").exit_code == 0
    (vault_copy / ".kb" / "graph.sqlite").write_bytes(b"not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (vault_copy / ".kb" / f"graph.sqlite{suffix}").unlink(missing_ok=True)
    result = kb("show", "relu", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["path"] == "topics/ReLU.md"


def test_neighbors_come_most_closely_tied_first(kb):
    data = _json(kb("neighbors", "resnet", "--json"))
    near = [n for n in data["neighbors"] if n["distance"] == 1]
    strengths = [n["strength"] for n in near]
    assert strengths == sorted(strengths, reverse=True) and strengths[0] > strengths[-1]
    order = [n["label"] for n in near]
    # ResNet links Bottleneck twice (a link and an embed) and the card's own topics are its
    # headings; a tag is one edge at four times a link's cost.
    assert order.index("Bottleneck") < order.index("#cnn")
    assert order[-1].startswith("#")


def test_show_lists_every_related_topic_with_n_0(tmp_path) -> None:
    """The related list is ranked on the way; -n 0 ranks them all, a cut says so."""
    from click.testing import CliRunner

    from kb.cli import cli

    root = tmp_path / "v"
    root.mkdir()
    names = [f"Topic{i:02d}" for i in range(20)]
    (root / "Hub.md").write_text(
        "# Hub\n\n" + "\n".join(f"- [[{n}]] matters." for n in names) + "\n", encoding="utf-8"
    )
    for n in names:
        (root / f"{n}.md").write_text(f"# {n}\n\nPart of the hub.\n", encoding="utf-8")
    run = lambda *a: CliRunner().invoke(cli, ["--vault", str(root), *a])  # noqa: E731
    every = run("show", "Hub", "-n", "0")
    assert every.exit_code == 0, every.output
    assert "related (20)" in every.output
    cut = run("show", "Hub", "-n", "3")
    assert "related (15+)" in cut.output and "… more (-n 0 for all)" in cut.output


@pytest.mark.skipif((__import__("os").cpu_count() or 1) < 2, reason="one core: no graph process")
def test_a_full_index_leaves_no_write_ahead_log_of_the_graph(tmp_path: Path) -> None:
    """The graph is built in a forked process on a full index; it closes its connection, so
    the next kb does not fold in a log as large as the graph (103 MB at 1,500 notes)."""
    import os
    import shutil
    import subprocess
    import sys

    from .conftest import REPO, SAMPLE_VAULT

    vault = tmp_path / "vault"
    shutil.copytree(SAMPLE_VAULT, vault, ignore=shutil.ignore_patterns(".kb"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "kb", "--vault", str(vault), "index", "--full"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    wal = vault / ".kb" / "graph.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_tags_and_orphans_take_n_like_every_list(kb, tmp_path) -> None:
    from click.testing import CliRunner

    from kb.cli import cli

    root = tmp_path / "v"
    root.mkdir()
    for name in ("a", "b", "c"):
        (root / f"{name}.md").write_text(f"# {name}\n\nAlone.\n", encoding="utf-8")
    run = lambda *a: CliRunner().invoke(cli, ["--vault", str(root), *a])  # noqa: E731
    assert run("orphans").output.splitlines() == ["a.md", "b.md", "c.md"]
    assert run("orphans", "-n", "1").output.splitlines() == ["a.md", "… 2 more (-n 0 for all)"]
    assert json.loads(run("orphans", "-n", "2", "--json").stdout) == ["a.md", "b.md"]
    tags = kb("tags", "-n", "1")
    assert tags.exit_code == 0 and "more (-n 0 for all)" in tags.output
    assert len(json.loads(kb("tags", "-n", "1", "--json").stdout)) == 1


def test_neighbors_refuses_depth_0(kb) -> None:
    result = kb("neighbors", "relu", "--depth", "0")
    assert result.exit_code == 2 and "--depth" in result.output


def test_show_of_a_tag_no_note_carries_is_no_topic(tmp_path) -> None:
    """A vault without tags: `kb show '#cnn'` says there is no such topic, rather than
    building a card from the sections that say "cnn"."""
    from click.testing import CliRunner

    from kb.cli import cli

    root = tmp_path / "v"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nA note about cnn.\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--vault", str(root), "show", "#cnn"])
    assert result.exit_code == 1 and "no topic '#cnn'" in result.output


def test_a_link_to_a_topic_no_note_holds_relates_to_the_topic(tmp_path) -> None:
    """[[ReLU]] where ReLU is a heading, not a note: the link stays missing (as in Obsidian),
    and the related list names the topic once, not "relu (missing)" beside it (trial)."""
    from click.testing import CliRunner

    root = tmp_path / "v"
    root.mkdir()
    (root / "act.md").write_text("# Activations\n\n## ReLU\n\nmax(0, x).\n", encoding="utf-8")
    (root / "swish.md").write_text("# Swish\n\nSwish 比 [[relu]] 更平滑。\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["--vault", str(root), "show", "swish", "--json"])
    card = _json(out)
    assert [r["id"] for r in card["related"]] == ["concept:relu"]
    assert [e["id"] for e in card["links_out"]] == ["missing:relu"]


def test_did_you_mean_puts_names_holding_the_word_before_loose_spellings(tmp_path) -> None:
    from click.testing import CliRunner

    root = tmp_path / "v"
    root.mkdir()
    (root / "a.md").write_text(
        "# A\n\n## Retention\n\nRetention of tokens.\n\n## Attention-based Model\n\nText.\n\n"
        "## Bottleneck\n\nText.\n",
        encoding="utf-8",
    )
    run = lambda *a: CliRunner().invoke(cli, ["--vault", str(root), *a]).output  # noqa: E731
    assert "did you mean: Attention-based Model, Retention" in run("show", "attention")
    assert "did you mean: Bottleneck" in run("show", "bottlenek")


def test_path_takes_n_for_the_places_also_said_together(kb) -> None:
    every = kb("path", "ResNet", "Bottleneck", "-n", "0").stdout
    one = kb("path", "ResNet", "Bottleneck", "-n", "1").stdout
    if "also joined by" in every:
        assert len(one.splitlines()) <= len(every.splitlines())
    assert kb("path", "ResNet", "Bottleneck", "-n", "x").exit_code == 2


def test_a_cut_whole_vault_page_names_the_options_that_apply(tmp_path: Path) -> None:
    """`kb graph --all` has no --depth to lower: its cut page points at --max-nodes and at
    drawing one topic; a topic's page points at both of its own options."""
    from click.testing import CliRunner

    root = tmp_path / "v"
    root.mkdir()
    for i in range(8):
        (root / f"Topic{i}.md").write_text(f"# Topic{i}\n\nSee [[Topic{(i + 1) % 8}]].\n")
    run = lambda *a: CliRunner().invoke(cli, ["--vault", str(root), *a])  # noqa: E731
    whole = run("graph", "--all", "--max-nodes", "3", "--out", str(tmp_path / "all.html"))
    assert whole.exit_code == 0, whole.output
    assert "omitted (raise --max-nodes, or draw one --topic)" in whole.output
    assert "--depth" not in whole.output
    topic = run(
        "graph", "--topic", "Topic0", "--depth", "3", "--max-nodes", "2",
        "--out", str(tmp_path / "t.html"),
    )  # fmt: skip
    assert topic.exit_code == 0, topic.output
    assert "omitted (raise --max-nodes or lower --depth)" in topic.output


def test_a_topic_typed_with_a_wrong_chinese_character_is_suggested(tmp_path: Path) -> None:
    """`kb show 卷机` means 卷积 (read alike: an input method's wrong pick); a name read
    alike but longer (卷积层) is not that typo."""
    from click.testing import CliRunner

    root = tmp_path / "v"
    root.mkdir()
    (root / "卷积.md").write_text("# 卷积\n\n卷积层用卷积核扫过输入。\n", encoding="utf-8")
    (root / "笔记.md").write_text("# 笔记\n\n## 卷积层\n\n见卷积。\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--vault", str(root), "show", "卷机"])
    assert result.exit_code == 1
    assert "did you mean: 卷积" in result.output
    assert "卷积层" not in result.output.split("did you mean:")[1]


def test_a_link_to_no_note_is_no_related_topic(tmp_path: Path) -> None:
    """[[Nowhere]] (no note, no topic so named) is a link out of the card, not a topic
    related to it; [[Beta]] is both."""
    from click.testing import CliRunner

    root = tmp_path / "v"
    root.mkdir()
    (root / "Alpha.md").write_text("# Alpha\n\nSee [[Beta]] and [[Nowhere]].\n", encoding="utf-8")
    (root / "Beta.md").write_text("# Beta\n\nA note.\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["--vault", str(root), "show", "Alpha", "--json"])
    assert out.exit_code == 0, out.output
    card = json.loads(out.output)
    assert [e["id"] for e in card["related"]] == ["note:Beta.md"]
    assert {e["id"] for e in card["links_out"]} == {"note:Beta.md", "missing:nowhere"}


def test_a_related_child_with_no_text_of_its_own_shows_where_it_sits(tmp_path: Path) -> None:
    """A heading with nothing under it but a sub-heading is related by the outline alone:
    its evidence is that place (``Optimisers › Feature Scaling``), never an empty «»."""
    from click.testing import CliRunner

    root = tmp_path / "v"
    root.mkdir()
    (root / "Optimisers.md").write_text(
        "# Optimisers\n\nHow to train.\n\n## Feature Scaling\n\n### Why\n\nSame range.\n",
        encoding="utf-8",
    )
    out = CliRunner().invoke(cli, ["--vault", str(root), "show", "Optimisers", "--json"])
    assert out.exit_code == 0, out.output
    related = {e["label"]: e for e in json.loads(out.output)["related"]}
    assert related["Feature Scaling"]["evidence"][0]["text"] == "Optimisers › Feature Scaling"


def test_show_says_the_other_notes_a_name_names(kb, vault_copy: Path):
    """A name two notes share (a file name and another note's title) shows the note whose
    file name says it, and a line naming the other, never an "ambiguous" error."""
    (vault_copy / "topics").mkdir(exist_ok=True)
    (vault_copy / "topics" / "weight-decay.md").write_text(
        "# 权重衰减\n\n权重衰减限制模型的容量。\n", encoding="utf-8"
    )
    (vault_copy / "weight-decay-en.md").write_text(
        "# Weight Decay\n\nWeight decay limits the capacity of a model.\n", encoding="utf-8"
    )
    result = kb("show", "weight decay")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("weight-decay  (note)  topics/weight-decay.md")
    assert "  also      weight-decay-en.md (named 'weight decay' too)" in lines
    card = _json(kb("show", "weight decay", "--json"))
    assert card["also_named"] == ["weight-decay-en.md"]
