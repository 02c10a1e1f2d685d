"""The concept graph: names, mentions, the golden mini vault, incremental updates, queries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kb import graph
from kb.checks import check_links
from kb.concepts import concept_key, is_dated, names_a_concept
from kb.errors import TopicNotFound
from kb.graph.facts import prose
from kb.graph.queries import Hop
from kb.mentions import Matcher
from kb.model import Link, Note, Section, TagUse
from kb.nodes import EDGE_KINDS, NODE_KINDS
from kb.parse import parse_note
from kb.resolve import Resolver
from kb.store import Store
from kb.topicnames import heading_term
from kb.vault import AttachmentIndex, find_vault

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "graph"
MINI = FIXTURES / "mini"
GOLDEN = FIXTURES / "mini.edges.txt"
GOLDEN_TOPICS = FIXTURES / "mini.topics.txt"


# -- hand-built notes --------------------------------------------------------------


def sec(title, kind="item", level=11, line=1, parent=0, text="", code="", math="", path=()):
    return Section(
        title=title,
        kind=kind,
        level=level,
        heading_path=path or (title,),
        line_start=line,
        line_end=line,
        parent=parent,
        text=text,
        code=code,
        math=math,
    )


def note(path, *sections, title=None, aliases=(), links=(), tags=(), warnings=()):
    title = title or path.rsplit("/", 1)[-1][:-3]
    root = Section(title, "root", 0, (title,), 1, 99, None, "")
    first = sections[0] if sections and sections[0].kind == "root" else None
    secs = ((first,) + sections[1:]) if first else (root, *sections)
    uses = tuple(TagUse(t, 1) for t in tags)
    return Note(
        path=path,
        title=title,
        aliases=tuple(aliases),
        tags=tuple(tags),
        tag_uses=uses,
        links=tuple(links),
        sections=secs,
        warnings=tuple(warnings),
    )


def root(title, text):
    return Section(title, "root", 0, (title,), 1, 99, None, text)


def link(target, line=1, section=0, embed=False, kind="wikilink", context=""):
    return Link(target, None, None, None, kind, embed, line, context or target, section)


def edges(kg):
    return sorted(f"{u} -[{d['kind']}]-> {v}" for u, v, d in kg.graph.edges(data=True))


# -- names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ["ReLU", "relu", "Relu", "ReLu", " RELU "],
        ["1x1 conv", "1×1 conv", "1 x 1 conv", "1\\times1 conv", "1X1 Conv"],
        ["1x1 卷积", "1x1卷积", "1×1 卷积"],
        ["Leaky ReLU", "leaky-relu", "Leaky_ReLU"],
        ["残差块", "(残差块)", "[残差块]", "1.2 残差块：", "7.6.1 残差块"],
    ],
)
def test_spellings_share_one_key(spellings):
    assert len({concept_key(s) for s in spellings}) == 1


@pytest.mark.parametrize(
    "title", ["2019.4.26", "2019-04-26", "2019年4月26日", "2019/4/26", "4月26日", "20190426"]
)
def test_date_headings_are_not_concepts(title):
    assert is_dated(title)
    assert not names_a_concept(title)


@pytest.mark.parametrize("title", ["思路", "缺陷", "优点", "缺点", "Summary", "References", "1-2"])
def test_generic_titles_are_not_concepts(title):
    assert not names_a_concept(title)


def test_title_parts_give_alternative_names():
    assert heading_term("残差网络（ResNet）").aliases == ("ResNet",)
    assert heading_term("知识蒸馏 knowledge distillation").aliases == (
        "知识蒸馏",
        "knowledge distillation",
    )
    assert heading_term("1x1 卷积").aliases == ()  # a modifier, not a second name
    # A Latin name with a generic CJK word after it is also that name alone.
    assert heading_term("ReLU函数").aliases == ("ReLU",)
    assert heading_term("BN 层").aliases == ("BN",)
    # One word beside a phrase is not a translation (was: alias 系列问题 / 激活函数).
    assert heading_term("Dropout 系列问题").aliases == ()
    assert heading_term("ReLu 激活函数").aliases == ()


def test_one_concept_for_every_spelling_across_notes():
    notes = [
        note("a.md", sec("ReLU", line=3)),
        note("b.md", sec("relu", line=5), sec("Relu", line=7)),
        note("c.md", root("c", "people say ReLu"), sec("1×1 conv", line=2)),
        note("d.md", sec("1x1 conv", line=4)),
    ]
    kg = graph.build(notes)
    concepts = sorted(n for n in kg.graph if n.startswith("concept:"))
    assert concepts == ["concept:1x1 conv", "concept:relu"]
    assert kg.graph.nodes["concept:relu"]["label"] == "ReLU"  # first definition, by path
    assert kg.graph.has_edge("note:c.md", "concept:relu")  # a mention with another spelling


def test_note_names_win_and_aliases_join_their_note():
    notes = [
        note("topics/Bottleneck.md", aliases=["BottNeck", "瓶颈结构"]),
        note("topics/1x1 卷积.md", aliases=["1x1 conv", "1×1 convolution"]),
        note(
            "log.md",
            sec("bottleneck", line=3),
            sec("BottNeck", line=5),
            sec("1x1 conv", line=7, text="在ResNet的BottNeck结构中，用 1 x 1 卷积 降维"),
        ),
    ]
    kg = graph.build(notes)
    assert not [n for n in kg.graph if n.startswith("concept:")]
    assert kg.find("bottleneck") == kg.find("BottNeck") == "note:topics/Bottleneck.md"
    assert kg.find("瓶颈结构") == "note:topics/Bottleneck.md"
    assert kg.find("1x1 conv") == kg.find("1×1 Conv") == "note:topics/1x1 卷积.md"
    assert kg.find("1 x 1 convolution") == "note:topics/1x1 卷积.md"
    # Sections titled by a note's name are about that note...
    assert kg.about("section:log.md#3") == "note:topics/Bottleneck.md"
    assert kg.graph.has_edge("section:log.md#7", "note:topics/1x1 卷积.md")
    # ...and the 1x1 conv passage mentions the bottleneck by its alias.
    ev = kg.graph.get_edge_data("section:log.md#7", "note:topics/Bottleneck.md")["mentions"]
    assert "BottNeck" in ev["text"] and ev["path"] == "log.md" and ev["line"] == 7


def test_a_title_part_that_names_a_note_joins_the_note():
    notes = [
        note("知识蒸馏.md", aliases=["Knowledge Distillation"]),
        note("log.md", sec("知识蒸馏 knowledge distillation", line=9)),
    ]
    kg = graph.build(notes)
    assert kg.about("section:log.md#9") == "note:知识蒸馏.md"
    assert "concept:知识蒸馏knowledge distillation" not in kg.graph


def test_title_parts_are_weak_aliases_of_a_concept():
    notes = [
        # Text above the heading: the H1 is a section of the note, not the note's own name.
        note(
            "chapter.md",
            root("chapter", "前言"),
            sec("残差网络（ResNet）", kind="heading", level=1, line=3),
        ),
        note("other.md", root("other", "ResNet 和 残差网络 都很有名")),
    ]
    kg = graph.build(notes)
    node = kg.find("resnet")
    # The topic is the term; the bracket is its other name (was labelled 残差网络（ResNet）).
    assert kg.graph.nodes[node]["label"] == "残差网络"
    assert kg.find("残差网络（ResNet）") == node
    assert kg.find("残差网络") == node
    assert kg.graph.has_edge("note:other.md", node)


def test_nested_concepts_contain_each_other():
    notes = [
        note(
            "log.md",
            sec("2019.5.3", kind="heading", level=3, line=1),
            sec("激活函数", level=11, line=2, parent=1),
            sec("relu", level=12, line=3, parent=2),
            sec("dead relu", level=13, line=4, parent=3),
            sec("缺点", level=13, line=5, parent=3, text="可能出现 dead relu 现象"),
        )
    ]
    kg = graph.build(notes)
    G = kg.graph
    assert G.has_edge("concept:激活函数", "concept:relu")
    assert G.has_edge("concept:relu", "concept:dead relu")
    assert "concept:2019 5 3" not in G and "concept:缺点" not in G
    assert not G.has_edge("note:log.md", "concept:激活函数")  # under a date, not the note
    assert G.has_edge("section:log.md#5", "concept:dead relu")  # generic lead still mentions
    card = kg.card("concept:relu")
    assert [p["label"] for p in card["parents"]] == ["激活函数"]
    assert [c["label"] for c in card["children"]] == ["dead relu"]


def test_headings_that_only_hold_dated_entries_are_not_concepts():
    notes = [
        note(
            "log.md",
            sec("Daily Report", kind="heading", level=2, line=1),
            sec("2019.4.26", kind="heading", level=3, line=2, parent=1),
            sec("GAP", line=3, parent=2),
            sec("Normalization", kind="heading", level=2, line=10),
            sec("BatchNorm", kind="heading", level=3, line=11, parent=4),
        )
    ]
    G = graph.build(notes).graph
    assert "concept:daily report" not in G
    assert "section:log.md#1" in G  # still a section of the outline
    assert "concept:normalization" in G  # holds concepts, not dates: a concept
    assert G.has_edge("concept:normalization", "concept:batchnorm")


# -- mentions ------------------------------------------------------------------------


def test_latin_names_match_whole_words_only():
    m = Matcher([concept_key(n) for n in ("elu", "relu", "GAP", "resnet", "leaky relu")])
    assert list(m.find("we use ReLU here")) == ["relu"]
    assert list(m.find("GAPS between layers")) == []
    assert list(m.find("GAP层代替FC")) == ["gap"]  # CJK next to a Latin name is a boundary
    assert list(m.find("ResNet的BottNeck结构")) == ["resnet"]
    # A name inside a longer name is part of it (Leaky ReLU is not a mention of ReLU).
    assert sorted(m.find("Leaky ReLU = max(λx, x)")) == ["leaky relu"]
    assert sorted(m.find("Leaky ReLU or ReLU")) == ["leaky relu", "relu"]
    assert sorted(m.find("elu, relu")) == ["elu", "relu"]


def test_cjk_names_match_inside_words_and_x_is_unified():
    m = Matcher([concept_key(n) for n in ("1x1 卷积", "卷积", "1x1 conv")])
    assert sorted(m.find("用1×1卷积核降维")) == ["1x1卷积"]  # (卷积 is inside it)
    assert sorted(m.find("1×1卷积不是普通卷积")) == ["1x1卷积", "卷积"]
    assert list(m.find("a 1 x 1 conv layer")) == ["1x1 conv"]


def test_short_and_generic_names_are_never_mentions():
    m = Matcher([concept_key(n) for n in ("a", "x", "bn", "the", "index", "思路", "图")])
    assert m.size == 0


def test_no_mentions_inside_code_or_math():
    # kb.parse keeps inline code and math in Section.text (so sentences read whole) and
    # lists them again in Section.code / Section.math; fenced blocks are only in code.
    text = "call relu here, and elu there"
    log = Section("log", "root", 0, ("log",), 1, 9, None, text, "relu\nresnet = 1", "elu")
    notes = [note("relu.md"), note("elu.md"), note("resnet.md"), note("log.md", log)]
    G = graph.build(notes).graph
    assert not G.has_edge("note:log.md", "note:relu.md")
    assert not G.has_edge("note:log.md", "note:elu.md")
    assert not G.has_edge("note:log.md", "note:resnet.md")


def test_blanked_math_never_cuts_a_word():
    """``$n$`` blanks the lone n, not the n of "NVLink" written before it (d2l-zh's
    parameterserver.md gave the topic "NVLi k" and evidence "net ork")."""
    n = parse_note("# Ring\n\nEach NVLink link, for $n$ GPUs and a network.\n", "ring.md")
    (sec,) = [s for s in n.sections if "NVLink" in s.text]
    text = prose(sec)
    assert "NVLink link" in text and "network" in text
    assert "for   GPUs" in text


def test_mention_evidence_shows_inline_math_and_code_as_written():
    """Evidence reads as the note: ``$T$`` (as text: kb.display) and `` `relu` `` kept (they
    are only left out of matching), a Sphinx reference as one a reader can follow."""
    kd = parse_note("# 知识蒸馏\n\n蒸馏用到温度。\n", "kd.md")
    log = parse_note(
        "# Log\n\n见 :numref:`fig_x`，加入温度 $T$ 做知识蒸馏，再用 `relu`。\n", "log.md"
    )
    G = graph.build([kd, log]).graph
    (text,) = [d["text"] for d in G.get_edge_data("note:log.md", "note:kd.md").values()]
    assert text == "见 图 x，加入温度 T 做知识蒸馏，再用 `relu`。"


def test_mentions_skip_self_and_linked_targets():
    notes = [
        note("ResNet.md", root("ResNet", "ResNet is deep; see Bottleneck.")),
        note(
            "Bottleneck.md",
            root("Bottleneck", "Part of ResNet. ResNet again."),
            links=[link("ResNet", line=1, context="Part of ResNet.")],
        ),
    ]
    kg = graph.build(notes)
    G = kg.graph
    assert not G.has_edge("note:ResNet.md", "note:ResNet.md")  # no self-mention
    assert G.has_edge("note:ResNet.md", "note:Bottleneck.md", "mentions")
    kinds = {d["kind"] for d in G.get_edge_data("note:Bottleneck.md", "note:ResNet.md").values()}
    assert kinds == {"links_to"}  # linked: the plain mention beside it is not repeated


def _mention(G, src, dst):
    (data,) = [d for d in G.get_edge_data(src, dst).values() if d["kind"] == "mentions"]
    return data["path"], data["line"], data["text"]


def test_mention_evidence_is_the_line_of_its_sentence():
    """A mention's line is where its sentence is written: not the front matter's ``---`` for
    a root section, not the item's first line for a sentence further down the item."""
    resnet = parse_note(
        "---\naliases: [残差网络]\ntags: [cnn]\n---\n# ResNet\n\n"
        "Residual Network 很深。\n每个残差块用一个 Bottleneck 降维。\n",
        "topics/ResNet.md",
    )
    plan = parse_note(
        "# 计划\n"  # 1
        "\n"
        "## 激活函数\n"  # 3
        "\n"
        "- relu\n"  # 5
        "\n"
        "    优点：求导简单，配合SGD下降快\n"  # 7
        "\n"
        "    缺点：导数不连续，可能出现 dead relu 现象\n"  # 9
        "\n"
        "    - dead relu\n"  # 11
        "\n"
        "        dead relu，指当输入小于零时，输出为零。\n",  # 13
        "面试准备计划.md",
    )
    kg = graph.build([resnet, plan, note("topics/Bottleneck.md")])
    G = kg.graph
    assert _mention(G, "note:topics/ResNet.md", "note:topics/Bottleneck.md") == (
        "topics/ResNet.md",
        8,
        "每个残差块用一个 Bottleneck 降维。",
    )
    dead = kg.find("dead relu")
    assert _mention(G, "section:面试准备计划.md#5", dead) == (
        "面试准备计划.md",
        9,
        "缺点：导数不连续，可能出现 dead relu 现象",
    )


# -- the golden mini vault ------------------------------------------------------------


def _mini_graph(tmp_path: Path):
    vault = find_vault(str(MINI), str(tmp_path / "idx"))
    store = Store(vault)
    store.refresh()
    return graph.sync(vault, store).graph


def test_mini_vault_edges_match_the_golden_file(tmp_path):
    got = edges(_mini_graph(tmp_path))
    if os.environ.get("KB_UPDATE_GOLDEN"):
        GOLDEN.write_text("\n".join(got) + "\n", encoding="utf-8")
    want = GOLDEN.read_text(encoding="utf-8").splitlines()
    assert got == want


def _topic_lines(kg) -> list[str]:
    H = kg.topic_graph()
    out = []
    for u, v, d in H.edges(data=True):
        if H.nodes[v]["kind"] == "section":
            out.append(f"{u} -[{d['kind']}]-> {v}  (section, hidden)")
            continue
        w = kg.hop_weight(Hop(u, v, d["kind"], None, None, "", True))
        out.append(f"{u} -[{d['kind']} ×{d['count']} w{w:g}]-> {v}  {d['path']}:{d['line']}")
    return sorted(out)


def test_mini_vault_topic_graph_matches_the_golden_file(tmp_path):
    # Checked by hand: one edge per pair of topics and kind, no section as an end (a
    # section's edges are its subject's, or its note's: Alpha.md#9 is about widget, so its
    # sub-section's mention of sprocket… is widget's contains), a written link is its note's.
    got = _topic_lines(_mini_graph(tmp_path))
    if os.environ.get("KB_UPDATE_GOLDEN"):
        GOLDEN_TOPICS.write_text("\n".join(got) + "\n", encoding="utf-8")
    want = GOLDEN_TOPICS.read_text(encoding="utf-8").splitlines()
    assert got == want


def test_mini_vault_has_every_kind(tmp_path):
    G = _mini_graph(tmp_path).graph
    assert {d["kind"] for _, d in G.nodes(data=True)} == set(NODE_KINDS)
    assert {d["kind"] for _, _, d in G.edges(data=True)} == set(EDGE_KINDS)
    for _, d in G.nodes(data=True):
        assert set(d) == {"kind", "label", "path", "line", "heading", "snippet", "tags"}
        assert len(d["snippet"]) <= 200
    for _, _, d in G.edges(data=True):
        assert set(d) == {"kind", "path", "line", "text"}


# -- incremental == full -----------------------------------------------------------------


def _snapshot(G):
    nodes = {n: repr(sorted(d.items())) for n, d in G.nodes(data=True)}
    es = sorted((u, v, k, repr(sorted(d.items()))) for u, v, k, d in G.edges(keys=True, data=True))
    return nodes, es


def _sync(root: Path, idx: Path, full=False):
    vault = find_vault(str(root), str(idx))
    store = Store(vault)
    store.refresh()
    return graph.sync(vault, store, full=full)


def _touch(path: Path, text: str):
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))


def test_incremental_update_equals_full_rebuild(tmp_path):
    root = tmp_path / "v"
    shutil.copytree(MINI, root)
    _sync(root, tmp_path / "inc")
    steps = [
        # edit: a link removed, and a new concept that Beta (unchanged) already names
        ("Alpha.md", "# Alpha\n\nAlpha now embeds ![[Gamma]] only.\n\n## Second Definition\n"),
        # add: a note named like an existing concept takes it over; it mentions Beta
        ("Widget.md", "---\naliases: [Contraption]\n---\n# Widget\n\nBuilt by Beta. #greek\n"),
        ("Delta.md", "# Delta\n\nDelta has a gear and a contraption, and [[Widget]].\n"),
        ("Gamma.md", None),  # delete: Alpha's embed becomes a missing node
        ("Widget.md", None),  # delete again: the concept widget comes back
    ]
    for name, text in steps:
        if text is None:
            (root / name).unlink()
        else:
            _touch(root / name, text)
        inc = _sync(root, tmp_path / "inc")
        assert not inc.full
        if name == "Alpha.md":
            assert inc.rescanned == 1  # Beta, searched again for "second definition" only
            assert inc.graph.graph.has_edge("section:Beta.md#7", "concept:second definition")
        full = _sync(root, tmp_path / f"full-{name}", full=True)
        assert _snapshot(inc.graph.graph) == _snapshot(full.graph.graph), name


def test_a_longer_name_added_or_removed_changes_mentions_inside_it(tmp_path):
    """Log says "Leaky ReLU": a mention of ReLU until a note names Leaky ReLU, then of it
    alone, and of ReLU again when that note goes; each step as a full rebuild gives."""
    root = tmp_path / "v"
    root.mkdir()
    (root / "ReLU.md").write_text("# ReLU\n\nmax(0, x).\n", encoding="utf-8")
    (root / "Log.md").write_text("# Log\n\nTried Leaky ReLU today.\n", encoding="utf-8")
    first = _sync(root, tmp_path / "inc").graph.graph
    assert first.has_edge("note:Log.md", "note:ReLU.md")
    for step, text in enumerate(["# Leaky ReLU\n\nA small slope.\n", None]):
        if text is None:
            (root / "Leaky ReLU.md").unlink()
        else:
            _touch(root / "Leaky ReLU.md", text)
        inc = _sync(root, tmp_path / "inc")
        assert not inc.full
        G = inc.graph.graph
        assert G.has_edge("note:Log.md", "note:ReLU.md") == (text is None)
        assert G.has_edge("note:Log.md", "note:Leaky ReLU.md") == (text is not None)
        full = _sync(root, tmp_path / f"full-{step}", full=True)
        assert _snapshot(G) == _snapshot(full.graph.graph), step


def test_an_edit_touches_only_its_own_note(tmp_path):
    root = tmp_path / "v"
    shutil.copytree(MINI, root)
    first = _sync(root, tmp_path / "idx")
    before = _snapshot(first.graph.graph)
    _touch(root / "Delta.md", "# Delta\n\nDelta quotes alpha twice: alpha.\n")
    result = _sync(root, tmp_path / "idx")
    assert result.changed == ["Delta.md"] and not result.added and not result.removed
    assert result.rescanned == 0  # no new names: no other note was searched again
    after = _snapshot(result.graph.graph)
    changed_nodes = {
        n for n in set(before[0]) | set(after[0]) if before[0].get(n) != after[0].get(n)
    }
    assert changed_nodes <= {"note:Delta.md"}
    diff = set(before[1]) ^ set(after[1])
    assert all(e[0] == "note:Delta.md" for e in diff)


def test_queries_read_the_saved_graph_without_parsing(tmp_path, monkeypatch):
    root = tmp_path / "v"
    shutil.copytree(MINI, root)
    _sync(root, tmp_path / "idx")
    assert (tmp_path / "idx" / graph.DB_FILE).exists()
    import kb.parse

    def boom(*a, **k):
        raise AssertionError("parsed again")

    monkeypatch.setattr(kb.parse, "parse_note", boom)
    vault = find_vault(str(root), str(tmp_path / "idx"))
    store = Store(vault)
    store.refresh()
    kg = graph.load(vault, store)
    assert kg.find("widget") == "concept:widget"


def test_a_damaged_graph_file_is_rebuilt(tmp_path):
    root = tmp_path / "v"
    shutil.copytree(MINI, root)
    # (closed now: left to the garbage collector, the connection could write its log back
    # into the file after it is damaged below, and mend it)
    _sync(root, tmp_path / "idx").graph.db.close()
    (tmp_path / "idx" / graph.DB_FILE).write_bytes(b"not a database" * 100)
    for suffix in ("-wal", "-shm"):  # a damaged file with nothing to recover it from
        (tmp_path / "idx" / (graph.DB_FILE + suffix)).unlink(missing_ok=True)
    result = _sync(root, tmp_path / "idx")
    assert result.full and result.nodes > 0


# -- queries -------------------------------------------------------------------------------


def test_find_tags_paths_and_suggestions(tmp_path):
    kg = _mini_graph(tmp_path)
    assert kg.find("#greek") == kg.find("tag:Greek") == "tag:greek"
    assert kg.find("Alpha.md") == kg.find("alpha") == kg.find("first letter") == "note:Alpha.md"
    assert kg.find("nowhere") == "missing:nowhere"
    with pytest.raises(TopicNotFound) as e:
        kg.find("widgte")
    assert "Widget" in e.value.suggestions


def test_a_name_several_notes_share_picks_the_one_a_person_means():
    """d2l-zh: weight-decay.md (titled 权重衰减) and weight-decay_origin.md (titled Weight
    Decay) are both named "weight decay", and a chapter's index.md shares its title with the
    chapter's main note: the file name that says it, then the note that says things, wins;
    the card says which others the name names."""
    from kb import api

    body = "权重衰减是最广泛使用的正则化技术之一，也称 L2 正则化，它限制模型的容量。"
    notes = [
        parse_note(f"# 权重衰减\n\n{body}\n", "mlp/weight-decay.md"),
        parse_note("# Weight Decay\n\nWeight decay regularizes.\n", "mlp/weight-decay_origin.md"),
        parse_note("# 多层感知机\n\n多层感知机有隐藏层，隐藏层之间用激活函数。\n", "mlp/mlp.md"),
        parse_note(
            "# 多层感知机\n\n本章介绍多层感知机。\n\n"
            "```toc\n:maxdepth: 2\n\nmlp\nweight-decay\n```\n",
            "mlp/index.md",
        ),
    ]
    kg = graph.build(notes)
    assert kg.find_named("weight decay") == (
        "note:mlp/weight-decay.md",
        ["mlp/weight-decay_origin.md"],
    )
    assert kg.find("Weight Decay") == "note:mlp/weight-decay.md"
    assert kg.find("weight-decay_origin") == "note:mlp/weight-decay_origin.md"
    node, others = kg.find_named("多层感知机")
    assert node == "note:mlp/mlp.md" and others == ["mlp/index.md"]
    card = api.show(kg, "weight decay", lambda name: [])
    assert card["id"] == "note:mlp/weight-decay.md"
    assert card["also_named"] == ["mlp/weight-decay_origin.md"]
    assert "also_named" not in api.show(kg, "weight-decay_origin", lambda name: [])


def test_a_note_titled_by_a_term_is_that_topic_whatever_its_file_name():
    """A note renamed from 残差块.md to res-block.md stays the topic 残差块, with its title's
    gloss: the concept a heading of another note defines joins it. A title that says more
    than its term (``Convolutional Neural Networks (LeNet)``) or an aspect of it does not."""
    notes = [
        parse_note(
            "# 残差块（residual block）\n\n残差块让输入跨层直接相加。\n", "mynotes/res-block.md"
        ),
        parse_note("# 残差网络\n\n## 残差块\n\n残差块是 ResNet 的基本单元。\n", "resnet.md"),
        parse_note("# Convolutional Neural Networks (LeNet)\n\nLeNet is early.\n", "lenet.md"),
        parse_note("# 线性回归的从零开始实现\n\n我们从零开始实现。\n", "lr-scratch.md"),
        parse_note("# 线性回归\n\n线性回归是回归。\n", "regression.md"),
    ]
    kg = graph.build(notes)
    assert kg.find("残差块") == kg.find("residual block") == "note:mynotes/res-block.md"
    card = kg.card("note:mynotes/res-block.md")
    assert {"残差块", "residual block"} <= set(card["aliases"])
    assert ("resnet.md", 3) in {(d["path"], d["line"]) for d in card["defined_in"]}
    assert kg.find("Convolutional Neural Networks") != "note:lenet.md"
    assert kg.find("线性回归") == "note:regression.md"


def test_the_lead_that_glosses_a_title_gives_the_note_that_name():
    """``# 批量规范化`` opening with ``本节将介绍*批量规范化*（batch normalization）``: the
    note is the topic under both names, so a Chinese gloss elsewhere (批量规范化层（batch
    normalization）) joins it, not the note titled Batch Normalization, which that name asks
    for first (the other is named so too)."""
    notes = [
        parse_note(
            "# 批量规范化\n\n本节将介绍*批量规范化*（batch normalization），它加速收敛。\n\n"
            "## 批量规范化层\n\n批量规范化层放在激活函数之前。\n",
            "batch-norm.md",
        ),
        parse_note("# Batch Normalization\n\nBatch normalization is popular.\n", "bn_en.md"),
        parse_note("# GoogLeNet\n\n后来添加批量规范化层（batch normalization）。\n", "g.md"),
    ]
    kg = graph.build(notes)
    assert kg.find("批量规范化") == kg.find("批量规范化层") == "note:batch-norm.md"
    assert kg.find_named("batch normalization") == ("note:bn_en.md", ["batch-norm.md"])
    assert "batch normalization" in kg.card("note:batch-norm.md")["aliases"]


def test_evidence_keeps_the_reference_a_sentence_opens_with():
    """d2l-zh's transformer.md:154 opens a paragraph with ``:numref:`sec_batch_norm`中解释了…``:
    the evidence reads ``§batch_norm中解释了…``, not ``中解释了…`` (prose blanks the role and
    its label; the sentence it cut began after them)."""
    notes = [
        parse_note("# 批量规范化\n\n批量规范化加速收敛。\n", "bn.md"),
        parse_note(
            "# 层规范化\n\n现在看组件。\n\n :numref:`sec_batch_norm`中解释了批量规范化的调整。\n",
            "ln.md",
        ),
    ]
    kg = graph.build(notes)
    (ev,) = [d for _, _, d in kg.graph.in_edges("note:bn.md", data=True) if d["kind"] == "mentions"]
    assert ev["text"] == "§batch_norm中解释了批量规范化的调整。"


def test_a_slug_file_name_its_title_does_not_say_is_looked_up_not_matched():
    """d2l-zh's sequence.md titled 序列模型 and contributing.md titled 为本书做贡献: their file
    names are web slugs, English words; "Contributing tokens" is no mention of the note, but
    ``kb show contributing`` still opens it. A file name its title says (resnet.md
    titled 残差网络（ResNet）) is matched."""
    notes = [
        parse_note("# 为本书做贡献\n\n提交修改。\n", "contributing.md"),
        parse_note("# 残差网络（ResNet）\n\n残差网络很深。\n", "resnet.md"),
        parse_note("# Tokens\n\nContributing tokens to a ResNet.\n", "tokens.md"),
    ]
    kg = graph.build(notes)
    mentioned = {v for _, v, d in kg.graph.edges(data=True) if d.get("path") == "tokens.md"}
    assert "note:resnet.md" in mentioned and "note:contributing.md" not in mentioned
    assert kg.find("contributing") == "note:contributing.md"


def test_a_concept_named_as_an_identifier_is_not_matched_in_words():
    """foam-docs' ``- `links_to`: notes that link to…`` makes a topic links_to; "a note that
    links to it" is not it (in prose the identifier is code). A note's file name with
    underscores (machine_learning.md) is still its name in text."""
    notes = [
        parse_note("# Queries\n\n## links_to\n\nNotes that link to a note.\n", "queries.md"),
        parse_note("# machine_learning\n\nAbout it.\n", "machine_learning.md"),
        parse_note("# Backlinks\n\nA note that links to it; machine learning too.\n", "b.md"),
    ]
    kg = graph.build(notes)
    said = {v for _, v, d in kg.graph.edges(data=True) if d.get("path") == "b.md"}
    assert kg.find("links_to").startswith("concept:")
    assert kg.find("links_to") not in said and "note:machine_learning.md" in said


def test_ambiguous_topic_lists_the_notes():
    kg = graph.build([note("a/Index.md"), note("b/Index.md")])
    with pytest.raises(TopicNotFound) as e:
        kg.find("index")
    assert e.value.ambiguous and set(e.value.suggestions) == {"a/Index.md", "b/Index.md"}
    assert kg.find("b/Index") == "note:b/Index.md"


def test_path_reports_real_direction_and_avoids_tag_hubs():
    notes = [
        note("A.md", tags=["hub"], links=[link("Beta", context="A cites Beta")]),
        note("C.md", root("C", "C talks about Beta."), tags=["hub"]),
        note("Beta.md"),
    ]
    kg = graph.build(notes)
    hops = kg.shortest_path("note:A.md", "note:C.md")
    assert [(h.kind, h.forward) for h in hops] == [("links_to", True), ("mentions", False)]
    assert hops[1].source == "note:C.md" and hops[1].text == "C talks about Beta."
    assert kg.shortest_path("note:A.md", "note:A.md") == []


def test_path_goes_through_a_tag_when_nothing_else_joins():
    kg = graph.build([note("A.md", tags=["x"]), note("B.md", tags=["x"]), note("Z.md")])
    hops = kg.shortest_path("note:A.md", "note:B.md")
    assert [h.kind for h in hops] == ["tagged", "tagged"]
    assert kg.shortest_path("note:A.md", "note:Z.md") is None


def test_tags_count_nested_notes_and_orphans():
    notes = [
        note("a.md", tags=["ml/cnn"], links=[link("b")]),
        note("b.md", tags=["ml"]),
        note("c.md", tags=["ML/rnn"], links=[link("nothing")]),
    ]
    kg = graph.build(notes)
    got = [(t.name, t.notes, t.depth) for t in kg.tags()]
    assert got == [("ml", 3, 0), ("ml/cnn", 1, 1), ("ml/rnn", 1, 1)]
    assert kg.orphans() == ["c.md"]  # a link to a missing note connects nothing


# -- link checks ------------------------------------------------------------------------------


def test_check_links(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"")
    notes = [
        note(
            "n/one.md",
            links=[
                link("two", line=2),
                link("gone", line=3),
                link("Same", line=4),
                link("img/a.png", line=5, embed=True),
                link("../img/a.png", line=6, embed=True, kind="markdown"),
                link("a.png", line=7, embed=True),
                link("img/b.png", line=8, embed=True),
                link("ghost", line=9, embed=True),
                link("", line=10),
            ],
        ),
        note("n/two.md"),
        note("x/Same.md"),
        note("y/Same.md"),
        note("lonely.md", warnings=["front matter did not parse: bad indent"]),
    ]
    report = check_links(notes, Resolver(notes), AttachmentIndex(tmp_path))
    assert report.notes == 5 and report.links == 9
    assert [(p.target, p.line) for p in report.broken] == [("gone", 3)]
    assert [(p.target, p.candidates) for p in report.ambiguous] == [
        ("Same", ("x/Same.md", "y/Same.md"))
    ]
    assert [(p.target, p.line) for p in report.missing_embeds] == [("img/b.png", 8), ("ghost", 9)]
    assert report.orphans == ["lonely.md", "y/Same.md"]  # [[Same]] went to x/Same.md
    assert [w.path for w in report.bad_frontmatter] == ["lonely.md"]
    # The graph counts orphans the same way.
    assert graph.build(notes).orphans() == report.orphans


def test_a_note_named_for_a_glossed_concept_takes_its_other_names():
    """残差块.md added to notes that gloss *残差块*（residual blocks） beside ## Residual Blocks
    heading elsewhere: the English names become the note's aliases, not a second topic."""
    resnet = parse_note("# 残差网络\n\n于是，*残差块*（residual blocks）便诞生了。\n", "resnet.md")
    origin = parse_note("# ResNet\n\n## Residual Blocks\n\nAdd the input.\n", "resnet_origin.md")
    before = graph.build([resnet, origin])
    assert before.find("residual blocks") == before.find("残差块")
    assert before.find("残差块").startswith("concept:")
    mine = parse_note("# 残差块\n\n我的笔记。\n", "mynotes/残差块.md")
    after = graph.build([resnet, origin, mine])
    assert after.find("residual blocks") == after.find("残差块") == "note:mynotes/残差块.md"
    assert not [n for n in after.graph if n.startswith("concept:residual")]
    # Glossed with the names of two notes, the English name is neither's: it stays a topic.
    unit = parse_note("# 单元\n\n也叫*残差单元*（residual blocks）。\n", "unit.md")
    both = graph.build(
        [resnet, origin, mine, unit, parse_note("# 残差单元\n\n笔记。\n", "残差单元.md")]
    )
    assert both.find("residual blocks").startswith("concept:")


def test_a_lone_top_h1_is_a_name_of_its_note():
    """Foam-style `backlinking.md` titled `# Backlinks`: the H1 names the note, not a concept."""
    backlinking = parse_note("# Backlinks\n\nBacklinks show who links here.\n", "backlinking.md")
    other = parse_note("# Shortcuts\n\nOpen the backlinks panel.\n\n# More\n\ntext\n", "panels.md")
    kg = graph.build([backlinking, other])
    assert kg.find("Backlinks") == "note:backlinking.md"
    assert "concept:backlinks" not in kg.graph
    # A mention of the H1 elsewhere is a mention of the note…
    assert "section:panels.md#1 -[mentions]-> note:backlinking.md" in edges(kg)
    # …and a note with two H1s keeps them as sections and concepts of their own.
    assert kg.find("Shortcuts") == "concept:shortcuts"


# -- an edit costs the change, not the vault (issue 13) --------------------------------------


def _linked_vault(root: Path, n: int) -> None:
    """``n`` notes, each linking the next and naming the one before in plain text."""
    root.mkdir()
    for i in range(n):
        text = f"# Topic {i}\n\nSee [[Topic {(i + 1) % n}]]; it builds on topic {(i - 1) % n}.\n"
        (root / f"Topic {i}.md").write_text(text, encoding="utf-8")


def _rows_written(result) -> int:
    """Rows the sync inserted, changed or deleted (its connection's own count)."""
    return result.graph.db.db.total_changes


def test_an_edit_writes_the_rows_of_its_note_only(tmp_path):
    root = tmp_path / "v"
    _linked_vault(root, 40)
    _sync(root, tmp_path / "idx")
    _touch(root / "Topic 5.md", "# Topic 5\n\nSee [[Topic 6]]; still about topic 4.\n")
    one = _sync(root, tmp_path / "idx")
    assert one.changed == ["Topic 5.md"] and one.rederived == 1 and one.rescanned == 0
    # Its rows: the note, its text, facts and link keys, a few nodes and edges, each deleted
    # and inserted again, and nothing of the 39 other notes.
    assert _rows_written(one) < 40


def test_adding_a_note_rederives_only_the_notes_that_name_or_link_it(tmp_path):
    root = tmp_path / "v"
    _linked_vault(root, 40)
    (root / "Topic 3.md").write_text(
        "# Topic 3\n\nSee [[Topic 4]] and [[Gizmo]]; it builds on topic 2.\n", encoding="utf-8"
    )
    (root / "Topic 7.md").write_text(
        "# Topic 7\n\nSee [[Topic 8]]; a gizmo helps; it builds on topic 6.\n", encoding="utf-8"
    )
    _sync(root, tmp_path / "idx")
    (root / "Gizmo.md").write_text("# Gizmo\n\nA small thing.\n", encoding="utf-8")
    added = _sync(root, tmp_path / "idx")
    assert added.added == ["Gizmo.md"]
    # Gizmo itself, Topic 3 (its link now resolves) and Topic 7 (says "gizmo"); not the
    # 37 other notes with links (each link's target is looked up by name, not re-resolved).
    assert added.rederived == 3
    kg = added.graph
    assert kg.graph.has_edge("note:Topic 3.md", "note:Gizmo.md")
    assert "missing:gizmo" not in kg.graph
    assert kg.graph.has_edge("note:Topic 7.md", "note:Gizmo.md")
    full = _sync(root, tmp_path / "full", full=True)
    assert _snapshot(kg.graph) == _snapshot(full.graph.graph)
    (root / "Gizmo.md").unlink()
    gone = _sync(root, tmp_path / "idx")
    assert gone.removed == ["Gizmo.md"] and gone.rederived == 2  # Topic 3 and Topic 7
    assert "missing:gizmo" in gone.graph.graph
    full = _sync(root, tmp_path / "full2", full=True)
    assert _snapshot(gone.graph.graph) == _snapshot(full.graph.graph)


def _tables(idx: Path) -> dict[str, list[tuple]]:
    """Every row of every table of a saved graph but its bookkeeping (``meta``), sorted."""
    import sqlite3

    db = sqlite3.connect(idx / "graph.sqlite")
    try:
        names = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(db.execute(f"SELECT * FROM {t}"), key=repr) for t in names if t != "meta"}
    finally:
        db.close()


def _add_delete_rename(root: Path, idx: Path, tmp_path: Path, steps: int, seed: int) -> int:
    """Seeded adds (some taking another note's title, headings and aliases), deletes, renames
    and edits; after each, every table of the graph equals a full rebuild's. Returns how many
    of the adds and deletes recomputed only part of the name table."""
    import random

    import kb.graph.update as gupdate

    scopes: list[object] = []
    real = gupdate._joined_scope

    def spy(*args):
        scopes.append(real(*args))
        return scopes[-1]

    rng = random.Random(seed)
    removed: list[tuple[Path, bytes]] = []
    local = 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gupdate, "_joined_scope", spy)
        _sync(root, idx)
        for step in range(steps):
            files = sorted(root.rglob("*.md"))
            other = rng.choice(files)
            heads = [
                line.lstrip("#").strip()
                for line in other.read_text(encoding="utf-8").splitlines()
                if line.startswith("#")
            ] or [other.stem]
            kind = ("add", "delete", "rename", "readd", "edit")[step % 5]
            if kind == "add":
                h, h2 = rng.choice(heads), rng.choice(heads)
                where = root / "extra" / (f"{other.stem}.md" if step % 2 else f"added {step}.md")
                where.parent.mkdir(exist_ok=True)
                _touch(
                    where,
                    f"---\naliases: [{other.stem[:10]}]\n---\n# {h}\n\n{h2} 与 *{h}* 有关，"
                    f"批归一化（Batch Normalization）and [[{other.stem}]].\n\n## {h2}\n\n"
                    "## 小结\n\nok\n",
                )
            elif kind == "delete" or (kind == "readd" and not removed):
                removed.append((other, other.read_bytes()))
                other.unlink()
            elif kind == "readd":
                back, data = removed.pop(rng.randrange(len(removed)))
                back.parent.mkdir(parents=True, exist_ok=True)
                back.write_bytes(data)
            elif kind == "rename":
                other.rename(other.with_name(f"renamed {step} {other.name}"))
            else:
                with other.open("a", encoding="utf-8") as fh:
                    fh.write(f"\nMore about {rng.choice(heads)}.\n")
                _touch(other, other.read_text(encoding="utf-8"))
            before = len(scopes)
            _sync(root, idx)
            local += any(s is not None for s in scopes[before:])
            full = tmp_path / f"full-{step}"
            _sync(root, full, full=True)
            assert _tables(idx) == _tables(full), (step, kind, other.name)
            shutil.rmtree(full)
    return local


def test_adding_and_deleting_notes_equals_a_full_rebuild(tmp_path):
    """Notes added with another note's title, headings, aliases and glosses, deleted, added
    back, renamed and edited: the name table, cards, mentions and links of each step are a
    full rebuild's, row for row, most of them recomputed for the names joined to the change."""
    root = tmp_path / "v"
    shutil.copytree(REPO / "vault", root, ignore=shutil.ignore_patterns(".kb"))
    local = _add_delete_rename(root, tmp_path / "inc", tmp_path, steps=20, seed=5)
    assert local >= 10


def test_adds_and_deletes_equal_a_full_rebuild_on_real_notes(tmp_path):
    from tests.conftest import shared_vault

    root = tmp_path / "v"
    root.mkdir()
    for note in sorted(shared_vault("ml-notes-zh").rglob("*.md"))[:6]:  # (a rebuild a step)
        shutil.copy(note, root / note.name)
    local = _add_delete_rename(root, tmp_path / "inc", tmp_path, steps=8, seed=8)
    assert local >= 4


def test_adding_or_deleting_a_note_reads_only_the_notes_its_names_join(tmp_path, monkeypatch):
    """A new note whose names no other note holds decodes no other note's facts and builds
    the name table of its own names only; deleting it likewise."""
    import kb.graph.update as gupdate

    root = tmp_path / "v"
    _linked_vault(root, 40)
    (root / "Topic 7.md").write_text(
        "# Topic 7\n\n## Gizmo\n\nA gizmo helps; see [[Topic 8]].\n", encoding="utf-8"
    )
    _sync(root, tmp_path / "idx")
    built: list[list[str]] = []
    real = gupdate.Names.build

    def build(facts, total=None):
        facts = list(facts)
        built.append([f.path for f in facts])
        return real(facts, total)

    monkeypatch.setattr(gupdate.Names, "build", staticmethod(build))
    for step, text in enumerate(["# Gizmo Two\n\n## Gizmo\n\nAnother gizmo.\n", None]):
        if text is None:
            (root / "Gizmo Two.md").unlink()
        else:
            _touch(root / "Gizmo Two.md", text)
        reads = _Reads(monkeypatch, forbid_build=False)
        result = _sync(root, tmp_path / "idx")
        # Its own names and the one note whose heading it shares: not the 39 others.
        assert built[-1] == (["Gizmo Two.md", "Topic 7.md"] if text else ["Topic 7.md"])
        assert set(reads.decoded) <= {"Gizmo Two.md", "Topic 7.md"}
        assert _rows_written(result) < 60
        with pytest.MonkeyPatch.context() as undo:
            undo.setattr(gupdate.Names, "build", staticmethod(real))
            full = _sync(root, tmp_path / f"full-{step}", full=True)
        assert _snapshot(result.graph.graph) == _snapshot(full.graph.graph)
        assert _tables(tmp_path / "idx") == _tables(tmp_path / f"full-{step}")


def test_a_big_update_reads_the_store_a_batch_at_a_time(tmp_path, monkeypatch):
    """A full build holds a batch of parsed notes at a time, not the vault, and writes what
    a build holding them all writes."""
    import kb.graph.update as gupdate

    root = tmp_path / "v"
    _linked_vault(root, 30)
    _sync(root, tmp_path / "whole", full=True)
    asked: list[int] = []
    real = Store.notes

    def notes(self, paths=None):
        paths = None if paths is None else list(paths)
        asked.append(10**9 if paths is None else len(paths))
        return real(self, paths)

    monkeypatch.setattr(Store, "notes", notes)
    monkeypatch.setattr(gupdate._Stored, "BATCH", 4)
    monkeypatch.setattr(gupdate, "IN_PLACE_MAX", 2)
    vault = find_vault(str(root), str(tmp_path / "batched"))
    store = Store(vault)
    store.refresh()
    asked.clear()
    graph.sync(vault, store, full=True)
    assert asked and max(asked) <= 4
    assert sum(asked) == 2 * 30  # each note read twice: its outline, then what it says
    assert _tables(tmp_path / "batched") == _tables(tmp_path / "whole")


def test_a_renamed_note_moves_its_links_and_mentions(tmp_path):
    root = tmp_path / "v"
    _linked_vault(root, 12)
    _sync(root, tmp_path / "idx")
    (root / "Topic 4.md").rename(root / "Topic Four.md")
    moved = _sync(root, tmp_path / "idx")
    assert moved.added == ["Topic Four.md"] and moved.removed == ["Topic 4.md"]
    assert moved.rederived < 12
    full = _sync(root, tmp_path / "full", full=True)
    assert _snapshot(moved.graph.graph) == _snapshot(full.graph.graph)


def test_an_alias_dropped_takes_its_mentions_away(tmp_path):
    root = tmp_path / "v"
    _linked_vault(root, 8)
    (root / "Thing.md").write_text("---\naliases: [gizmo]\n---\n# Thing\n", encoding="utf-8")
    (root / "Topic 2.md").write_text("# Topic 2\n\nA gizmo is used here.\n", encoding="utf-8")
    first = _sync(root, tmp_path / "idx")
    assert first.graph.graph.has_edge("note:Topic 2.md", "note:Thing.md")
    _touch(root / "Thing.md", "# Thing\n\nNo other name now.\n")
    after = _sync(root, tmp_path / "idx")
    assert not after.graph.graph.has_edge("note:Topic 2.md", "note:Thing.md")
    full = _sync(root, tmp_path / "full", full=True)
    assert _snapshot(after.graph.graph) == _snapshot(full.graph.graph)


def test_card_snippets_leave_out_sphinx_labels_and_read_references() -> None:
    # d2l-zh: ":label:`sec_dropout`" opens the section, ":numref:`sec_x`" points elsewhere
    from kb.graph.facts import _snippet

    text = ":label:`sec_dropout`\n在 :numref:`sec_weight_decay` 中，我们介绍了 L2 正则化。"
    text = text.replace("`", "")  # (kb.parse keeps inline code's text without its backticks)
    assert _snippet(text) == "在 §weight_decay 中，我们介绍了 L2 正则化。"
    assert _snippet("时间 10:30，见 http://x.org/a:b") == "时间 10:30，见 http://x.org/a:b"


class _Reads:
    """Counts the notes whose stored facts a sync decodes, and fails on a name-table build."""

    def __init__(self, monkeypatch, forbid_build: bool):
        import kb.graph.db as gdb
        import kb.graph.update as gupdate

        self.decoded: list[str] = []
        real = gdb.decode

        def decode(path, *rest):
            self.decoded.append(path)
            return real(path, *rest)

        monkeypatch.setattr(gdb, "decode", decode)
        if forbid_build:

            def build(facts):
                raise AssertionError("the name table was built from every note")

            monkeypatch.setattr(gupdate.Names, "build", staticmethod(build))
            _forbid_whole_tables(monkeypatch)


def _forbid_whole_tables(monkeypatch) -> None:
    """Fail on reading every note's names or the whole name table (O(vault) per call)."""
    import kb.graph.db as gdb

    def signature(self):
        raise AssertionError("every note's path and aliases were read")

    real = gdb.GraphDB.targets

    def targets(self, keys=None):
        assert keys is not None, "the whole name table was read"
        return real(self, keys)

    monkeypatch.setattr(gdb.GraphDB, "signature", signature)
    monkeypatch.setattr(gdb.GraphDB, "targets", targets)


def test_an_edit_that_keeps_its_names_reads_no_other_note(tmp_path, monkeypatch):
    root = tmp_path / "v"
    _linked_vault(root, 40)
    _sync(root, tmp_path / "idx")
    reads = _Reads(monkeypatch, forbid_build=True)
    _touch(root / "Topic 5.md", "# Topic 5\n\nSee [[Topic 6]] and [[Topic 9]]; topic 4 too.\n")
    one = _sync(root, tmp_path / "idx")
    assert one.changed == ["Topic 5.md"] and one.rederived == 1
    assert reads.decoded == ["Topic 5.md"]  # its own old facts, to compare names with
    monkeypatch.undo()
    full = _sync(root, tmp_path / "full", full=True)
    assert _snapshot(one.graph.graph) == _snapshot(full.graph.graph)


def test_an_edit_inside_a_definition_refreshes_the_card(tmp_path, monkeypatch):
    """Lines move, the defining text and its tags change, the names stay: the concept's card
    (its line, snippet, tags) follows without the name table being built again."""
    root = tmp_path / "v"
    shutil.copytree(MINI, root)
    first = _sync(root, tmp_path / "idx")
    card = first.graph.graph.nodes["concept:widget"]
    assert (card["path"], card["line"]) == ("Alpha.md", 9)
    text = (root / "Alpha.md").read_text(encoding="utf-8")
    text = text.replace("Alpha links", "A new first line.\n\nAlpha links").replace(
        "A widget is built from parts. #greek/letters",
        "A widget turns gears. #greek/letters #greek",
    )
    _touch(root / "Alpha.md", text)
    _Reads(monkeypatch, forbid_build=True)
    inc = _sync(root, tmp_path / "idx")
    card = inc.graph.graph.nodes["concept:widget"]
    assert card["line"] == 11 and card["snippet"].startswith("A widget turns gears.")
    assert card["tags"] == ["greek", "greek/letters"]
    monkeypatch.undo()
    full = _sync(root, tmp_path / "full", full=True)
    assert _snapshot(inc.graph.graph) == _snapshot(full.graph.graph)


def test_an_edit_that_changes_names_builds_the_name_table(tmp_path, monkeypatch):
    root = tmp_path / "v"
    shutil.copytree(MINI, root)
    _sync(root, tmp_path / "idx")
    _touch(root / "Delta.md", "# Delta\n\n## Gizmo\n\nDelta's own gizmo, and alpha.\n")
    reads = _Reads(monkeypatch, forbid_build=False)
    inc = _sync(root, tmp_path / "idx")
    # A new heading: the table is built again for the names joined to the note's (here its
    # own alone: no other note says Gizmo or Delta), from its facts in hand.
    assert reads.decoded == ["Delta.md"]  # its old facts, to compare names with
    assert inc.graph.find("gizmo") == "concept:gizmo"
    monkeypatch.undo()
    full = _sync(root, tmp_path / "full", full=True)
    assert _snapshot(inc.graph.graph) == _snapshot(full.graph.graph)


def test_edits_that_keep_names_equal_a_full_rebuild_on_the_sample_vault(tmp_path, monkeypatch):
    """Seeded edits of the user's sample vault (lines moved, text cut, links to other notes
    by name, path and relative Markdown path), each compared with a full rebuild."""
    import random

    import kb.graph.update as gupdate

    root = tmp_path / "v"
    shutil.copytree(REPO / "vault", root, ignore=shutil.ignore_patterns(".kb"))
    files = sorted(root.rglob("*.md"))
    in_place = []
    real = gupdate._update_in_place
    monkeypatch.setattr(gupdate, "_update_in_place", lambda *a: in_place.append(1) or real(*a))
    _sync(root, tmp_path / "inc")
    rng = random.Random(13)
    for step in range(12):
        f, other = rng.choice(files), rng.choice(files)
        lines = f.read_text(encoding="utf-8").split("\n")
        at = rng.randrange(len(lines))
        where = other.relative_to(root).with_suffix("").as_posix()
        kind = step % 6
        if kind == 0:
            lines.insert(0, "A new first line.")
        elif kind == 1:
            lines.insert(at, "")
        elif kind == 2:
            lines.append("More: ReLU, 卷积 and dropout.")
        elif kind == 3:
            lines.insert(at, f"See [[{other.stem}]] and [[{other.stem.lower()}|it]].")
        elif kind == 4:
            lines.insert(at, f"See [[{where}]].")
        else:
            lines.insert(at, f"See [o]({os.path.relpath(other, f.parent)}).")
        _touch(f, "\n".join(lines))
        inc = _sync(root, tmp_path / "inc")
        full = _sync(root, tmp_path / f"full-{step}", full=True)
        assert _snapshot(inc.graph.graph) == _snapshot(full.graph.graph), (step, f.name)
    assert len(in_place) >= 6  # most of these edits keep the name table


def test_one_sentence_naming_two_topics_joins_them_in_one_hop():
    """ml-notes-zh: "LSTM…解决梯度消失的问题" in a section about other things: LSTM and 梯度消失
    are one hop apart, said with each other, not three hops through the headings."""
    tricks = (
        "# Tricks\n\nWays to train deep nets.\n\n## Help techniques\n\n"
        "LSTM avoids the vanishing gradient problem.\n\n"
        "Other words here, and LSTM again with a long way to go before the vanishing gradient"
        " comes up once more, far from where the sentence began, in one sentence.\n"
    )
    notes = [
        parse_note("# LSTM\n\nA gated recurrent cell.\n", "LSTM.md"),
        parse_note("# Vanishing gradient\n\nGradients shrink.\n", "Vanishing gradient.md"),
        parse_note(tricks, "Tricks.md"),
    ]
    kg = graph.build(notes)
    hops = kg.shortest_path("note:LSTM.md", "note:Vanishing gradient.md")
    assert [(h.kind, h.source, h.target) for h in hops] == [
        ("said with", "note:LSTM.md", "note:Vanishing gradient.md")
    ]
    assert hops[0].text == "LSTM avoids the vanishing gradient problem."
    assert (hops[0].path, hops[0].line) == ("Tricks.md", 7)
    assert "note:Vanishing gradient.md" in kg.neighbourhood("note:LSTM.md")


def test_a_term_glossed_in_passing_does_not_take_the_sections_other_mentions():
    """d2l-zh: LeNet's intro glosses 支持向量机（support vector machines） and speaks of ATMs;
    the card of 支持向量机 is defined there but does not mention ATMs."""
    lenet = parse_note(
        "# LeNet\n\nLeNet 被广泛用于 ATM 机中，后来被支持向量机（support vector machines）超越。\n",
        "lenet.md",
    )
    atm = parse_note("# ATM\n\nA cash machine.\n", "ATM.md")
    kg = graph.build([lenet, atm])
    node = kg.find("支持向量机")
    card = kg.card(node)
    assert [d["path"] for d in card["defined_in"]] == ["lenet.md"]
    assert "note:ATM.md" not in {e["id"] for e in card["mentions_out"]}
    assert "note:ATM.md" in {e["id"] for e in kg.card("note:lenet.md")["mentions_out"]}


def test_a_name_finds_its_note_without_reading_every_note(tmp_path, monkeypatch):
    """kb show/path look a typed name up over only the notes named so (kb.resolve.looked_up /
    note_keys), and answer as the whole vault's resolver does: by path, file name, alias, any
    case, a folder suffix, ambiguity included."""
    from kb.nodes import note_id

    root = tmp_path / "v"
    shutil.copytree(REPO / "vault", root, ignore=shutil.ignore_patterns(".kb"))
    (root / "sub").mkdir()
    _touch(root / "sub" / "ResNet.md", "# ResNet again\n\nA second note of that name.\n")
    _touch(root / "Other.md", "---\naliases: [Res Block, 残差]\n---\n# Other\n\nText.\n")
    kg = _sync(root, tmp_path / "idx").graph
    full = kg.resolver().resolver
    typed = ["Res Block", "res block", "残差", "nothing here", "sub/resnet", "/sub/ResNet.md"]
    for p in sorted(root.rglob("*.md")):
        rel = p.relative_to(root).as_posix()
        typed += [rel, rel[:-3], p.stem, p.stem.upper(), "./" + rel, rel.split("/")[-1]]
    _forbid_whole_tables(monkeypatch)
    for t in typed:
        assert kg._resolver_for(t).resolve(t) == full.resolve(t), t
    assert kg.find("res block") == note_id("Other.md")
    with pytest.raises(TopicNotFound):
        kg.find("resnet")  # two notes of that name


def test_suggestions_keep_the_shape_of_what_was_typed(tmp_path):
    """An acronym suggests acronyms with its first letter and names holding it as a word
    (SVM: Linear SVM, never CSV); a typo of a word still finds the word."""
    from click.testing import CliRunner

    from kb.cli import cli

    root = tmp_path / "v"
    root.mkdir()
    (root / "a.md").write_text(
        "# A\n\n## CSV\n\nComma-separated values.\n\n## Linear SVM\n\nA linear model.\n\n"
        "## Bottleneck\n\nA narrow layer.\n",
        encoding="utf-8",
    )
    out = CliRunner().invoke(cli, ["--vault", str(root), "show", "SVM"]).output
    assert "Linear SVM" in out and "CSV" not in out
    out = CliRunner().invoke(cli, ["--vault", str(root), "show", "bottlenek"]).output
    assert "did you mean: Bottleneck" in out


def test_a_name_cut_short_or_a_head_word_alone_is_not_another_topic(tmp_path):
    """``1x1 conv`` suggests 1x1 Convolutional Layer (its last word begun), in ``kb path``'s
    error too; ``1×1卷积`` finds 1×1卷积层 (a head word added), but ``模型`` alone is not
    模型参数: a head word names a kind of thing, not each thing of it."""
    from click.testing import CliRunner

    from kb.cli import cli

    root = tmp_path / "v"
    root.mkdir()
    (root / "a.md").write_text(
        "# ResNet\n\n## 1x1 Convolutional Layer\n\nIt mixes channels.\n\n"
        "## 1×1卷积层\n\n它只混合通道。\n\n## 模型参数\n\n模型参数（model parameters）是权重。\n\n"
        "模型很多。\n",
        encoding="utf-8",
    )
    run = CliRunner().invoke
    out = run(cli, ["--vault", str(root), "path", "ResNet", "1x1 conv"])
    assert out.exit_code != 0 and "did you mean: 1x1 Convolutional Layer" in out.output
    out = run(cli, ["--vault", str(root), "show", "1×1卷积"]).output
    assert out.startswith("1x1卷积层  (concept)")  # (× read as x)
    out = run(cli, ["--vault", str(root), "show", "模型"]).output
    assert out.startswith("模型  (not a topic yet") and "did you mean: 模型参数" in out


def test_a_refresh_after_an_edit_compares_only_what_the_journal_names(tmp_path, monkeypatch):
    """The search index and the graph each learn from the store's journal which notes changed
    since they caught up: no consumer reads every note's hash (O(vault) at 20,000 notes)."""
    import kb.graph.db as gdb
    import kb.store
    from kb.refresh import update

    root = tmp_path / "v"
    _linked_vault(root, 30)
    vault = find_vault(str(root), str(tmp_path / "idx"))
    update(vault, search=True, graph=True)
    _touch(root / "Topic 5.md", "# Topic 5\n\nSee [[Topic 6]]; a new line.\n")
    whole_hashes, whole_held = kb.store.Store.hashes, gdb.GraphDB.held

    def hashes(self, paths=None):
        assert paths is not None, "every note's hash was read"
        return whole_hashes(self, paths)

    def held(self, paths=None):
        assert paths is not None, "every note the graph holds was read"
        return whole_held(self, paths)

    monkeypatch.setattr(kb.store.Store, "hashes", hashes)
    monkeypatch.setattr(gdb.GraphDB, "held", held)
    done = update(vault, search=True, graph=True, load_graph=True)
    assert done.changes.changed == ["Topic 5.md"]
    monkeypatch.undo()
    full = _sync(root, tmp_path / "full", full=True)
    assert _snapshot(done.graph.graph) == _snapshot(full.graph.graph)
    from kb import index

    hits = index.search(vault, "new line")
    assert [h.path for h in hits][:1] == ["Topic 5.md"]
