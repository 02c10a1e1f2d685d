"""What graph queries cost: statements a card issues however busy its topic, and a topic's page
cut to its nodes and edges, saying how many it left out."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from kb.cli import cli
from kb.export import write_html
from kb.graph import read
from kb.graph.queries import strongest_edges
from kb.vault import find_vault


def _hub_vault(root: Path, spokes: int) -> Path:
    """A note ``Hub`` that links to ``spokes`` notes and names each in a sentence of its own;
    each spoke names the hub and the spoke before it."""
    (root / "topics").mkdir(parents=True)
    lines = ["# Hub", ""]
    for i in range(spokes):
        lines.append(f"- See [[Spoke {i}]]: the hub works with spoke {i} and with spoke {i + 1}.")
        (root / "topics" / f"Spoke {i}.md").write_text(
            f"# Spoke {i}\n\nSpoke {i} is a part of the hub, beside spoke {max(0, i - 1)}.\n",
            encoding="utf-8",
        )
    (root / "Hub.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--vault", str(root), "index"])
    assert result.exit_code == 0, result.output
    return root


def _statements_of_card(root: Path) -> tuple[int, dict]:
    kg = read(find_vault(root))
    assert kg is not None
    node = kg.find("Hub")
    said: list[str] = []
    kg.db.db.set_trace_callback(said.append)
    try:
        card = kg.card(node, related=16)
    finally:
        kg.db.db.set_trace_callback(None)
        kg.db.close()
    return len(said), card


def test_a_card_issues_as_many_statements_however_many_topics_it_meets(tmp_path):
    few, few_card = _statements_of_card(_hub_vault(tmp_path / "few", 8))
    many, many_card = _statements_of_card(_hub_vault(tmp_path / "many", 150))
    assert len(few_card["related"]) == 8 and len(many_card["related"]) == 16
    assert len(many_card["links_out"]) >= 150
    # Each candidate of the related list used to cost a few statements of its own (its node,
    # its names, the notes saying them): now they are read together, in batches that double.
    assert many <= few + 4, (few, many)
    assert many < 60, many


def _page(path: Path) -> dict:
    html = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="kb-data">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


def test_a_topic_page_keeps_the_nearest_topics_and_strongest_edges(tmp_path, monkeypatch):
    root = _hub_vault(tmp_path / "vault", 40)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "hub.html"
    args = ["graph", "--topic", "Hub", "--max-nodes", "10", "--max-edges", "12", "--out", str(out)]
    result = CliRunner().invoke(cli, ["--vault", str(root), *args])
    assert result.exit_code == 0, result.output
    data = _page(out)
    meta = data["meta"]
    assert meta["nodesShown"] == 10 == len(data["nodes"])
    assert meta["focus"] == "note:Hub.md" and "note:Hub.md" in {n["id"] for n in data["nodes"]}
    assert meta["nodesOmitted"] == meta["nodesTotal"] - 10 >= 30  # 40 spokes and more
    assert meta["edgesShown"] == len(data["edges"]) <= 12
    assert meta["edgesOmitted"] > 0
    assert f"{meta['nodesOmitted']} omitted" in result.stderr
    assert f"{meta['edgesOmitted']} omitted" in result.stderr
    # Every node drawn keeps an edge (its strongest): none floats alone.
    ends = {e[k] for e in data["edges"] for k in ("from", "to")}
    assert {n["id"] for n in data["nodes"]} <= ends

    # --format json is the whole neighbourhood, uncut.
    result = CliRunner().invoke(
        cli, ["--vault", str(root), "graph", "--topic", "Hub", "--format", "json", "--out", "-"]
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["nodes"]) >= 41


def test_strongest_edges_keep_each_nodes_best_then_the_strongest(tmp_path):
    edges = {
        ("a", "b", "mentions"): {"kind": "mentions", "count": 1},
        ("a", "c", "mentions"): {"kind": "mentions", "count": 5},
        ("c", "d", "mentions"): {"kind": "mentions", "count": 9},
        ("d", "e", "links_to"): {"kind": "links_to", "count": 1},
        ("b", "c", "mentions"): {"kind": "mentions", "count": 2},
    }
    # The focus's first (a–c, a–b), then each node's strongest (c–d, d–e): b–c is left out.
    chosen = strongest_edges(edges, "a", 4)
    assert chosen == [
        ("a", "b", "mentions"),
        ("a", "c", "mentions"),
        ("c", "d", "mentions"),
        ("d", "e", "links_to"),
    ]
    assert strongest_edges(edges, "a", 10) == list(edges)
    assert strongest_edges(edges, None, 1) == [("c", "d", "mentions")]


def test_write_html_cuts_edges_and_counts_what_the_caller_left_out(tmp_path):
    import networkx

    G = networkx.MultiDiGraph()
    for i in range(6):
        G.add_node(f"note:{i}.md", kind="note", label=str(i), path=f"{i}.md", line=1)
    for i in range(6):
        for j in range(6):
            if i != j:
                G.add_edge(
                    f"note:{i}.md", f"note:{j}.md", key="mentions", kind="mentions",
                    path=f"{i}.md", line=j + 1, text="x", count=1 + (i + j) % 3,
                )  # fmt: skip
    result = write_html(
        G, tmp_path / "g.html", focus="note:0.md", title="0", vault_root=tmp_path,
        vault_name="v", max_edges=10, nodes_left_out=7, edges_left_out=100,
    )  # fmt: skip
    meta = _page(result.path)["meta"]
    assert result.edges_shown == meta["edgesShown"] == 10
    assert result.edges_omitted == meta["edgesOmitted"] == 30 - 10 + 100
    assert meta["edgesTotal"] == 30 + 100
    assert result.nodes_omitted == meta["nodesOmitted"] == 7
    assert meta["nodesTotal"] == 6 + 7
