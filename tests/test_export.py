"""kb/export.py: node-link JSON, GraphML/GEXF round trips, and the HTML page's source."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import networkx as nx
import pytest

from kb.errors import KbError
from kb.export import NODE_KINDS, HtmlExport, to_node_link, write_data, write_html
from tests.browser_util import HOSTILE, sample_graph, synthetic_graph

FOCUS = "note:topics/ResNet.md"


def export(G, out: Path, **kw) -> HtmlExport:
    kw.setdefault("focus", FOCUS)
    kw.setdefault("title", "ResNet")
    kw.setdefault("vault_root", out.parent / "vault")
    kw.setdefault("vault_name", "My Vault")
    return write_html(G, out, **kw)


def page_data(html: str) -> dict:
    """The JSON data island of a page."""
    m = re.search(r'<script type="application/json" id="kb-data">(.*?)</script>', html, re.S)
    assert m, "no data island"
    return json.loads(m.group(1))


class Tags(HTMLParser):
    """Every start tag of a document, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    tags.close()
    return tags


# --------------------------------------------------------------------------- import cost


def test_import_does_not_load_networkx_or_pyvis():
    code = "import sys, kb.export; print(sorted({'networkx', 'pyvis'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --------------------------------------------------------------------------- node-link JSON


def test_node_link_shape():
    data = to_node_link(sample_graph())
    assert set(data) == {"nodes", "links"}
    assert all(set(n) == {"id", "label", "kind", "path", "line"} for n in data["nodes"])
    assert all(set(e) == {"source", "target", "kind", "evidence"} for e in data["links"])
    assert all(set(e["evidence"]) == {"path", "line", "text"} for e in data["links"])
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes[FOCUS] == {
        "id": FOCUS,
        "label": "ResNet",
        "kind": "note",
        "path": "topics/ResNet.md",
        "line": 1,
    }
    assert nodes["tag:深度学习"]["path"] is None and nodes["tag:深度学习"]["line"] is None
    mention = next(
        e
        for e in data["links"]
        if e["target"] == "concept:1x1 conv" and e["source"] == "section:topics/ResNet.md#12"
    )
    assert mention["evidence"] == {
        "path": "topics/ResNet.md",
        "line": 13,
        "text": "先用 1x1 conv 降维，再 3x3 conv。",
    }
    # JSON-ready as is, and every edge of the multigraph is there.
    assert json.loads(json.dumps(data)) == data
    assert len(data["links"]) == sample_graph().number_of_edges()


def test_node_link_is_sorted_whatever_the_insertion_order():
    G = sample_graph()
    H = nx.MultiDiGraph()
    H.add_nodes_from(reversed(list(G.nodes(data=True))))
    H.add_edges_from(reversed(list(G.edges(keys=True, data=True))))
    assert json.dumps(to_node_link(G)) == json.dumps(to_node_link(H))
    ids = [n["id"] for n in to_node_link(G)["nodes"]]
    assert ids == sorted(ids)


# --------------------------------------------------------------------------- write_data


def test_write_json_to_path_creates_parents(tmp_path):
    out = tmp_path / "a" / "b" / "graph.json"
    write_data(sample_graph(), out, "json")
    text = out.read_text(encoding="utf-8")
    assert json.loads(text) == {"generator": "kb", **to_node_link(sample_graph())}
    assert "面试准备计划" in text  # UTF-8, not \u escapes


def test_write_json_to_binary_and_text_streams(tmp_path):
    G = sample_graph()
    binary = io.BytesIO()
    write_data(G, binary, "json")
    # A text stream over bytes (what stdout is) gets the same UTF-8 bytes …
    raw = io.BytesIO()
    wrapper = io.TextIOWrapper(raw, encoding="ascii")  # even when its encoding could not hold them
    write_data(G, wrapper, "json")
    wrapper.flush()
    assert raw.getvalue() == binary.getvalue()
    # … and a text stream without bytes underneath gets the text.
    text = io.StringIO()
    write_data(G, text, "json")
    assert text.getvalue().encode("utf-8") == binary.getvalue()


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_xml_formats_round_trip(tmp_path, fmt):
    G = sample_graph()
    # Things XML cannot hold as they are: None, lists, sets, dicts, control characters.
    G.nodes[FOCUS]["aliases"] = {"残差网络", "Residual Network"}
    G.nodes[FOCUS]["extra"] = {"k": [1, 2]}
    G.nodes["concept:evil"]["snippet"] = "bell\x07 form\x0c feed\x00"
    out = tmp_path / "deep" / f"graph.{fmt}"
    write_data(G, out, fmt)
    H = nx.read_graphml(out) if fmt == "graphml" else nx.read_gexf(out)

    assert set(H.nodes) == set(G.nodes)
    assert H.number_of_edges() == G.number_of_edges()
    for n, d in G.nodes(data=True):
        assert H.nodes[n]["label"] == d["label"]
        assert H.nodes[n]["kind"] == d["kind"]
        assert "path" not in H.nodes[n] or H.nodes[n]["path"] == d["path"]
    section = H.nodes["section:topics/ResNet.md#12"]
    assert section["heading"] == "ResNet › 结构 › Bottleneck 结构"
    assert int(section["line"]) == 12
    assert H.nodes[FOCUS]["tags"] == "ml/cnn › 深度学习"
    assert H.nodes[FOCUS]["aliases"] == "Residual Network › 残差网络"
    assert json.loads(H.nodes[FOCUS]["extra"]) == {"k": [1, 2]}
    assert H.nodes["concept:evil"]["snippet"] == "bell\ufffd form\ufffd feed\ufffd"
    assert "path" not in H.nodes["tag:ml/cnn"]  # None is left out, not written as "None"
    kinds = sorted(d["kind"] for _, _, d in H.edges(data=True))
    assert kinds == sorted(d["kind"] for _, _, d in G.edges(data=True))
    texts = {d.get("text") for _, _, d in H.edges(data=True)}
    assert "先用 1x1 conv 降维，再 3x3 conv。" in texts and " ".join(HOSTILE) in texts


def test_xml_format_to_stdout_like_stream():
    raw = io.BytesIO()
    wrapper = io.TextIOWrapper(raw, encoding="utf-8")
    write_data(sample_graph(), wrapper, "graphml")
    wrapper.flush()
    assert nx.read_graphml(io.BytesIO(raw.getvalue())).number_of_nodes() == 12


def test_unknown_format_is_a_kb_error(tmp_path):
    with pytest.raises(KbError, match="graphml"):
        write_data(sample_graph(), tmp_path / "x.dot", "dot")


# --------------------------------------------------------------------------- HTML: offline


def test_html_is_one_offline_file_and_no_lib_folder(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "out" / "nested" / "resnet.html"
    result = export(sample_graph(), out)

    assert result == HtmlExport(path=out, nodes_shown=12, edges_shown=14, nodes_omitted=0)
    assert list(cwd.iterdir()) == []  # pyvis' "local" mode would have written lib/ here
    assert [p.name for p in out.parent.iterdir()] == ["resnet.html"]
    html = out.read_text(encoding="utf-8")
    # Strict: no URL with a network scheme anywhere, not even in comments or note text.
    assert not re.search(r"(?i)(https?|ftp|wss?):/", html)
    tags = parse(html)
    for tag, attrs in tags.tags:
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
    css = html[html.index("<style>") : html.index("</style>")]
    assert not re.search(r"(?i)url\((?!data:)", css)
    assert "@import" not in html and "sourceMappingURL" not in html


def test_html_content_security_policy_allows_exactly_our_scripts(tmp_path):
    out = tmp_path / "g.html"
    export(sample_graph(), out)
    html = out.read_text(encoding="utf-8")
    tags = parse(html)
    csp = next(
        a["content"]
        for t, a in tags.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert "unsafe" not in directives["script-src"]
    script_tags = [a for t, a in tags.tags if t == "script"]
    scripts = list(zip(script_tags, tags.scripts, strict=True))
    assert [a.get("type") for a, _ in scripts] == ["application/json", None, None]
    for _, body in scripts[1:]:
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        assert f"'sha256-{digest}'" in csp


# --------------------------------------------------------------------------- HTML: escaping


def test_hostile_text_is_escaped_and_round_trips(tmp_path):
    out = tmp_path / "g.html"
    export(
        sample_graph(),
        out,
        title="</title><script>alert('t')</script>",
        vault_name="<img src=x onerror=alert(9)>",
    )
    html = out.read_text(encoding="utf-8")

    tags = parse(html)
    names = [t for t, _ in tags.tags]
    assert names.count("script") == 3  # data island, vis-network, the page's code
    assert "img" not in names and "svg" not in names and "iframe" not in names
    for raw in ("<script>alert", "<img", "</script><script>", "<svg", "\u2028", "\u2029"):
        assert raw not in html, raw
    assert "&lt;/title&gt;&lt;script&gt;" in html  # the title, escaped in <title> and <h1>

    data = page_data(html)
    by_id = {n["id"]: n for n in data["nodes"]}
    hostile = by_id["note:hostile/evil <b>.md"]
    assert hostile["name"] == HOSTILE[0]
    assert hostile["heading"] == [HOSTILE[1], HOSTILE[2]]
    assert hostile["snippet"] == " ".join(HOSTILE)
    assert data["meta"]["title"] == "</title><script>alert('t')</script>"
    texts = {e["text"] for e in data["edges"]}
    assert " ".join(HOSTILE) in texts and "[x](javascript:alert(1))" in texts


def test_note_links_are_obsidian_and_file_urls(tmp_path):
    out = tmp_path / "g.html"
    vault = tmp_path / "我的 vault"
    export(sample_graph(), out, vault_root=vault, vault_name="我的 vault & co")
    files = page_data(out.read_text(encoding="utf-8"))["files"]

    links = files["面试准备计划.md"]
    url = urlsplit(links["obsidian"])
    assert (url.scheme, url.netloc, url.path) == ("obsidian", "open", "")
    assert parse_qs(url.query) == {"vault": ["我的 vault & co"], "file": ["面试准备计划"]}
    assert links["file"] == (vault / "面试准备计划.md").as_uri()
    evil = files["hostile/evil <b>.md"]
    assert parse_qs(urlsplit(evil["obsidian"]).query)["file"] == ["hostile/evil <b>"]
    assert unquote(evil["file"]).endswith("/hostile/evil <b>.md")
    urls = [u for v in files.values() for u in v.values()]
    assert all(u.startswith(("obsidian://", "file:///")) for u in urls)


# --------------------------------------------------------------------------- HTML: drawing data


def test_drawing_data(tmp_path):
    out = tmp_path / "g.html"
    export(sample_graph(), out)
    data = page_data(out.read_text(encoding="utf-8"))
    by_id = {n["id"]: n for n in data["nodes"]}

    focus = by_id[FOCUS]
    assert focus["focus"] is True and (focus["x"], focus["y"]) == (0.0, 0.0)
    assert data["nodes"][-1]["id"] == FOCUS  # drawn last, on top
    assert data["meta"]["focus"] == FOCUS
    # Size grows with degree; shape and legend follow the kind.
    assert by_id["concept:1x1 conv"]["size"] > by_id["concept:bottleneck"]["size"]
    assert {n["group"] for n in data["nodes"]} == set(NODE_KINDS)
    assert by_id["tag:ml/cnn"]["shape"] == "triangle"
    assert [k["kind"] for k in data["nodeKinds"]] == list(NODE_KINDS)
    assert sum(k["count"] for k in data["nodeKinds"]) == 12
    edge_kinds = {k["kind"]: k for k in data["edgeKinds"]}
    assert edge_kinds["links_to"]["arrows"] == "to" and edge_kinds["contains"]["arrows"] == ""
    assert edge_kinds["mentions"]["dashes"] and not edge_kinds["links_to"]["dashes"]
    assert edge_kinds["contains"]["width"] < edge_kinds["links_to"]["width"]
    # Layout: bounded stabilisation; the page turns physics off once it is done.
    stabilization = data["options"]["physics"]["stabilization"]
    assert stabilization["enabled"] and 0 < stabilization["iterations"] <= 500


def test_unknown_focus_and_empty_graph(tmp_path):
    result = export(sample_graph(), tmp_path / "a.html", focus="note:nope.md")
    assert page_data(result.path.read_text(encoding="utf-8"))["meta"]["focus"] is None
    empty = export(nx.MultiDiGraph(), tmp_path / "b.html", focus=None)
    assert (empty.nodes_shown, empty.edges_shown, empty.nodes_omitted) == (0, 0, 0)


def test_output_is_deterministic(tmp_path):
    a = export(synthetic_graph(20), tmp_path / "a.html", focus="note:n0.md")
    b = export(synthetic_graph(20), tmp_path / "b.html", focus="note:n0.md")
    assert a.path.read_bytes() == b.path.read_bytes()


# --------------------------------------------------------------------------- HTML: large graphs


def test_truncation_keeps_best_connected_and_the_focus(tmp_path):
    G = synthetic_graph(40)
    G.add_node("missing:lonely", kind="missing", label="lonely", path=None, line=None)
    G.add_edge("note:n1.md", "missing:lonely", kind="links_to", path="n1.md", line=9, text="x")
    focus = "missing:lonely"  # degree 1: would be cut without the focus rule
    result = export(G, tmp_path / "g.html", focus=focus, max_nodes=100)

    assert result.nodes_shown == 100
    assert result.nodes_omitted == G.number_of_nodes() - 100
    data = page_data(result.path.read_text(encoding="utf-8"))
    kept = {n["id"] for n in data["nodes"]}
    assert focus in kept and len(kept) == 100
    # Topics first, best connected first; sections (hidden until asked for) after them.
    degree = dict(G.degree())
    rank = {n: (G.nodes[n]["kind"] == "section", -degree[n]) for n in G.nodes}
    worst_kept = max(rank[n] for n in kept - {focus})
    assert all(rank[n] >= worst_kept for n in set(G.nodes) - kept)
    assert any(G.nodes[n]["kind"] == "section" for n in set(G.nodes) - kept)
    assert result.edges_shown == G.subgraph(kept).number_of_edges() == len(data["edges"])
    assert data["meta"]["nodesOmitted"] == result.nodes_omitted
    assert data["meta"]["nodesTotal"] == G.number_of_nodes()


def test_no_truncation_at_the_limit(tmp_path):
    G = sample_graph()
    result = export(G, tmp_path / "g.html", max_nodes=G.number_of_nodes())
    assert result.nodes_omitted == 0
    with pytest.raises(KbError):
        export(G, tmp_path / "h.html", max_nodes=0)


def test_vendored_vis_network_is_clean():
    from importlib import resources

    js = (resources.files("kb") / "assets" / "vis-network.min.js").read_text(encoding="utf-8")
    assert "vis-network" in js[:200] and "@license" in js[:1000]
    assert not re.search(r"(?i)https?://", js)
    assert "</script" not in js.lower() and "sourceMappingURL" not in js
