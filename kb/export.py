"""Graph -> node-link JSON, GraphML, GEXF, and one self-contained interactive HTML page.

The graph follows the contract of ``kb/graph.py``: a networkx ``MultiDiGraph`` whose
nodes carry ``kind``, ``label``, ``path``, ``line`` (and maybe ``heading``, ``snippet``,
``tags``) and whose edges carry ``kind``, ``path``, ``line``, ``text``.

The HTML page works offline and is safe with any note content:

- vis-network is inlined from ``kb/assets`` (a copy cleaned of URL strings), no CDN,
  no ``lib/`` folder; a Content-Security-Policy forbids every network request.
- The graph travels as JSON in ``<script type="application/json">`` with ``< > & /``
  and U+2028/U+2029 escaped; the page's code shows note text with ``textContent`` only.
- Only ``obsidian:`` and ``file:`` links are ever made clickable.

networkx and pyvis are imported inside the functions: ``import kb.export`` stays cheap.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import os
import re
from collections import deque
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from kb import datadir
from kb.errors import KbError
from kb.model import strip_note_suffix
from kb.nodes import EDGE_KINDS, EDGES, NODE_KINDS

if TYPE_CHECKING:
    import networkx as nx

DATA_FORMATS = ("json", "graphml", "gexf")

# How each node kind is drawn (vis-network shapes) and named in the legend.
_NODE_STYLE: dict[str, dict[str, str]] = {
    "note": {"label": "Note", "shape": "dot", "color": "#a78bfa"},
    "section": {"label": "Section", "shape": "dot", "color": "#60a5fa"},
    "concept": {"label": "Concept", "shape": "diamond", "color": "#fbbf24"},
    "tag": {"label": "Tag", "shape": "triangle", "color": "#34d399"},
    "missing": {"label": "Missing note", "shape": "dot", "color": "#6b7280"},
}
_OTHER_NODE = {"label": "Other", "shape": "square", "color": "#f472b6"}

# How each edge kind is drawn (kb.nodes.EDGES): arrows for links, dashes for mentions,
# hairlines for structure.
_EDGE_STYLE: dict[str, dict[str, Any]] = {
    k: {
        "label": e.label,
        "color": e.color,
        "width": e.width,
        "dashes": e.dashes,
        "arrows": e.arrows,
    }
    for k, e in EDGES.items()
}
_OTHER_EDGE = {"label": "other", "color": "#6b7280", "width": 1.0, "dashes": False, "arrows": ""}

_BACKGROUND = "#1b1c22"
_MAX_LABEL = 48  # characters drawn on the canvas; the panel shows the whole label
_MAX_TEXT = 600  # characters of snippet / evidence kept per item, so huge notes stay light

# Characters XML 1.0 cannot hold at all (GraphML/GEXF readers reject them).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_MARKER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True, slots=True)
class HtmlExport:
    """What ``write_html`` wrote, for the CLI to report."""

    path: Path
    """The HTML file."""
    nodes_shown: int
    """Nodes drawn on the page."""
    edges_shown: int
    """Edges drawn on the page (those between shown nodes)."""
    nodes_omitted: int
    """Nodes left out to stay under ``max_nodes`` (the least connected, and those the caller
    left out: ``nodes_left_out``); 0 when all fit."""
    edges_omitted: int = 0
    """Edges between shown nodes left out to stay under ``max_edges`` (and those the caller
    left out: ``edges_left_out``)."""


# --------------------------------------------------------------------------- data exports


def to_node_link(G: nx.Graph) -> dict:
    """The graph as ``{"nodes": [...], "links": [...]}``, JSON-ready, sorted for stable diffs."""
    nodes = [
        {
            "id": str(n),
            "label": _str_or_none(d.get("label")) or str(n),
            "kind": _str_or_none(d.get("kind")),
            "path": _str_or_none(d.get("path")),
            "line": _int_or_none(d.get("line")),
        }
        for n, d in sorted(G.nodes(data=True), key=lambda item: str(item[0]))
    ]
    links = [
        {
            "source": str(u),
            "target": str(v),
            "kind": _str_or_none(d.get("kind")),
            "evidence": {
                "path": _str_or_none(d.get("path")),
                "line": _int_or_none(d.get("line")),
                "text": _str_or_none(d.get("text")),
            },
        }
        for u, v, d in _sorted_edges(G)
    ]
    return {"nodes": nodes, "links": links}


GENERATOR = "kb"
"""The ``generator`` kb puts in every JSON file it writes (and HTML's ``<meta>``)."""

_XML_MARK = b"<!-- generator: kb -->"
_MARKS = (b'<meta name="generator" content="kb">', b'"generator": "kb"', _XML_MARK)
"""What the start of each file kb writes holds, by which kb knows it may overwrite it."""


def written_by_kb(path: Path) -> bool:
    """True when ``path`` is a file kb wrote (an export of ``kb graph``): its start holds kb's
    mark. Anything else (a note, a file of the user's) is not kb's to overwrite."""
    try:
        with open(path, "rb") as fh:
            start = fh.read(2048)
    except OSError:
        return False
    return any(mark in start for mark in _MARKS)


def check_out(target: Path, vault_root: Path, data_dir: Path) -> bool:
    """Refuse (:class:`KbError`, one line) an output path inside the vault, resolved through
    symlinks, unless it is in kb's data folder; return True when the path holds a file kb
    did not write (the caller asks before overwriting it)."""
    real = Path(os.path.realpath(target))
    root = Path(os.path.realpath(vault_root))
    data = Path(os.path.realpath(data_dir))
    inside = real == root or root in real.parents
    if inside and not (real == data or data in real.parents):
        raise KbError(
            f"{target} is inside the vault {vault_root}: kb never writes into a vault; "
            "give --out a path outside it (or leave out --out)"
        )
    if os.path.isdir(real):
        raise KbError(f"{target} is a folder: give --out a file name")
    return os.path.lexists(target) and not written_by_kb(target)


def write_data(G: nx.Graph, out: Path | IO, fmt: str) -> None:
    """Write the graph as ``json``, ``graphml`` or ``gexf`` to a path or an open stream."""
    if fmt == "json":
        record = {"generator": GENERATOR, **to_node_link(G)}  # marks the file as kb's
        text = json.dumps(record, ensure_ascii=False, indent=2) + "\n"
        data = _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")
    elif fmt in ("graphml", "gexf"):
        import networkx as nx

        buffer = io.BytesIO()
        writer = nx.write_graphml if fmt == "graphml" else nx.write_gexf
        writer(_xml_safe_copy(G), buffer)
        head, sep, rest = buffer.getvalue().partition(b"?>\n")  # after the XML declaration
        data = head + sep + _XML_MARK + b"\n" + rest if sep else _XML_MARK + b"\n" + head
    else:
        raise KbError(f"unknown graph format {fmt!r}; use one of: {', '.join(DATA_FORMATS)}")
    _write_bytes(out, data)


def _write_bytes(out: Path | IO, data: bytes) -> None:
    """Write UTF-8 bytes to a path (parents created), a binary stream or a text stream."""
    if isinstance(out, (str, os.PathLike)):
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        datadir.write_atomic(path, data)
    elif isinstance(out, io.TextIOBase):
        # Text streams (stdout) may not be UTF-8: write the bytes underneath when we can.
        raw = getattr(out, "buffer", None)
        if raw is None:
            out.write(data.decode("utf-8"))
        else:
            out.flush()
            raw.write(data)
            raw.flush()
    else:
        out.write(data)


def _xml_safe_copy(G: nx.Graph) -> nx.Graph:
    """A copy GraphML/GEXF can hold: no None, lists joined with " › ", no XML-invalid characters."""
    H = G.__class__()
    H.graph.update(_xml_attrs(G.graph))
    for n, d in G.nodes(data=True):
        H.add_node(_xml_text(str(n)), **_xml_attrs(d))
    if G.is_multigraph():
        for u, v, k, d in G.edges(keys=True, data=True):
            H.add_edge(_xml_text(str(u)), _xml_text(str(v)), key=k, **_xml_attrs(d))
    else:
        for u, v, d in G.edges(data=True):
            H.add_edge(_xml_text(str(u)), _xml_text(str(v)), **_xml_attrs(d))
    return H


def _xml_attrs(attrs: dict) -> dict:
    clean: dict[str, Any] = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, (bool, int, float)):
            clean[str(key)] = value
        elif isinstance(value, (list, tuple)):
            clean[str(key)] = _xml_text(" › ".join(str(v) for v in value))
        elif isinstance(value, (set, frozenset)):
            clean[str(key)] = _xml_text(" › ".join(sorted(str(v) for v in value)))
        elif isinstance(value, dict):
            clean[str(key)] = _xml_text(
                json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
            )
        else:
            clean[str(key)] = _xml_text(str(value))
    return clean


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


# --------------------------------------------------------------------------- HTML export


def write_html(
    G: nx.Graph,
    out: Path,
    *,
    focus: str | None,
    title: str,
    vault_root: Path,
    vault_name: str,
    max_nodes: int = 1500,
    max_edges: int = 6000,
    hidden_kinds: tuple[str, ...] = ("section",),
    nodes_left_out: int = 0,
    edges_left_out: int = 0,
) -> HtmlExport:
    """Write the graph as one offline HTML page (vis-network via pyvis); return what was drawn.

    Nodes of ``hidden_kinds`` (sections: the places of a topic, not topics) are on the page
    but hidden until their box in the legend is ticked; the node budget goes to the others
    first. Of the edges between the nodes shown, each node keeps its strongest, at most
    ``max_edges`` in all (:func:`kb.graph.queries.strongest_edges`). ``nodes_left_out`` and
    ``edges_left_out`` are those the caller left out of ``G`` already (the page says so)."""
    if max_nodes < 1:
        raise KbError(f"max_nodes must be at least 1, not {max_nodes}")
    if max_edges < 0:
        raise KbError(f"max_edges must be at least 0, not {max_edges}")
    from pyvis.network import Network

    from kb.graph.queries import strongest_edges

    degree = {n: d for n, d in G.degree()}
    focus = focus if focus is not None and focus in G else None
    shown = keep_best_connected(G, degree, focus, max_nodes, hidden_kinds)
    H = G if len(shown) == G.number_of_nodes() else G.subgraph(shown).copy()
    edges_cut = 0
    if H.number_of_edges() > max_edges:
        H = G.copy() if H is G else H
        multi = H.is_multigraph()
        items = H.edges(keys=True, data=True) if multi else H.edges(data=True)
        counted = {
            (str(e[0]), str(e[1]), str(e[2]) if multi else ""): (
                e[:3] if multi else e[:2],
                {"kind": e[-1].get("kind"), "count": _int_or_none(e[-1].get("count")) or 1},
            )
            for e in items
        }
        kept = set(strongest_edges({k: d for k, (_, d) in counted.items()}, focus, max_edges))
        H.remove_edges_from([edge for k, (edge, _) in counted.items() if k not in kept])
        edges_cut = len(counted) - len(kept)
    positions = _seed_layout(
        H, focus or (max(shown, key=lambda n: (degree[n], str(n))) if shown else None)
    )

    # pyvis builds the vis-network node/edge records and options; the page itself is ours.
    net = Network(directed=True)
    files: dict[str, dict[str, str]] = {}
    vault_uri = _dir_uri(vault_root)
    for n in sorted(H.nodes, key=lambda n: (n == focus, degree[n], str(n))):
        record = _node_record(n, H.nodes[n], degree[n], n == focus, positions[n])
        if record["group"] in hidden_kinds and n != focus:
            record["hidden"] = True
        path = record["path"]
        if path is not None and path not in files:
            files[path] = _note_links(path, vault_name, vault_uri)
        net.add_node(
            record.pop("id"), label=record.pop("label"), shape=record.pop("shape"), **record
        )
    edges = list(_sorted_edges(H))
    for i, (u, v, d) in enumerate(edges):
        group = _group(d.get("kind"), EDGE_KINDS)
        # pyvis' Network.add_edge checks both ends against a fresh list of every node, per
        # edge (quadratic: seconds for a 1,500-node page); H's edges join H's nodes, so its
        # Edge record is made directly, as add_edge would for a directed network.
        _add_edge(
            net,
            str(u),
            str(v),
            id=f"e{i}",
            kind=_str_or_none(d.get("kind")) or "",
            group=group,
            arrows=_EDGE_STYLE.get(group, _OTHER_EDGE)["arrows"],
            path=_str_or_none(d.get("path")),
            line=_int_or_none(d.get("line")),
            text=_clip(_str_or_none(d.get("text")), _MAX_TEXT),
            count=_int_or_none(d.get("count")),
        )
    net.options = _vis_options(H.number_of_nodes(), H.number_of_edges())
    vis_nodes, vis_edges, _heading, _height, _width, options_json = net.get_network_data()

    node_groups = [_group(d.get("kind"), NODE_KINDS) for _, d in H.nodes(data=True)]
    edge_groups = [_group(d.get("kind"), EDGE_KINDS) for _, _, d in edges]
    payload = {
        "meta": {
            "title": title,
            "vault": vault_name,
            "focus": str(focus) if focus is not None else None,
            "hiddenKinds": [k for k in hidden_kinds if k in NODE_KINDS],
            "nodesTotal": G.number_of_nodes() + nodes_left_out,
            "nodesShown": H.number_of_nodes(),
            "nodesOmitted": G.number_of_nodes() - H.number_of_nodes() + nodes_left_out,
            "edgesTotal": G.number_of_edges() + edges_left_out,
            "edgesShown": len(edges),
            "edgesOmitted": edges_cut + edges_left_out,
            "background": _BACKGROUND,
            # Faint lines in a crowd, as Obsidian draws them; clearer in a small graph.
            "edgeOpacity": 0.8 if len(edges) <= 300 else 0.45 if len(edges) <= 2000 else 0.3,
        },
        "nodeKinds": [
            {"kind": k, **_NODE_STYLE.get(k, _OTHER_NODE), "count": node_groups.count(k)}
            for k in (*NODE_KINDS, "other")
            if k in node_groups
        ],
        "edgeKinds": [
            {"kind": k, **_EDGE_STYLE.get(k, _OTHER_EDGE), "count": edge_groups.count(k)}
            for k in (*EDGE_KINDS, "other")
            if k in edge_groups
        ],
        "files": files,
        "options": json.loads(options_json),
        "nodes": vis_nodes,
        "edges": vis_edges,
    }

    page = _render_page(title=title, vault_name=vault_name, payload=payload)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    datadir.write_atomic(out, page.encode("utf-8"))  # replaces a symlink, never writes through
    return HtmlExport(
        path=out,
        nodes_shown=H.number_of_nodes(),
        edges_shown=len(edges),
        nodes_omitted=G.number_of_nodes() - H.number_of_nodes() + nodes_left_out,
        edges_omitted=edges_cut + edges_left_out,
    )


def _add_edge(net: Any, source: str, to: str, **options: Any) -> None:
    """``net.add_edge`` for a directed pyvis Network whose nodes are known to exist."""
    from pyvis.edge import Edge

    net.edges.append(Edge(source, to, net.directed, **options).options)


def keep_best_connected(
    G: nx.Graph, degree: dict, focus: Any, max_nodes: int, hidden_kinds: tuple[str, ...] = ()
) -> list:
    """All nodes if they fit, else the ``max_nodes`` highest-degree ones (nodes of the
    hidden kinds last), focus always kept."""
    if G.number_of_nodes() <= max_nodes:
        return list(G.nodes)
    ranked = sorted(
        G.nodes, key=lambda n: (G.nodes[n].get("kind") in hidden_kinds, -degree[n], str(n))
    )
    keep = ranked[:max_nodes]
    if focus is not None and focus not in keep:
        keep = [focus, *keep[: max_nodes - 1]]
    return keep


def _seed_layout(H: nx.Graph, root: Any) -> dict[Any, tuple[float, float]]:
    """Rings around ``root`` by hop distance, children near their parent.

    A cheap, deterministic start (networkx' force layouts need numpy) so the
    browser's physics only has to refine, and the page settles in few iterations.
    Other components continue outwards on further rings.
    """
    neighbours: dict[Any, list] = {n: [] for n in H.nodes}
    for u, v in H.edges():
        if u != v:
            neighbours[u].append(v)
            neighbours[v].append(u)
    for n in neighbours:
        neighbours[n] = sorted(set(neighbours[n]), key=str)

    depth: dict[Any, int] = {}
    angle: dict[Any, float] = {}
    parent: dict[Any, Any] = {}
    rings: list[list] = []
    starts = [root] if root is not None else []
    starts += sorted(H.nodes, key=lambda n: (-len(neighbours[n]), str(n)))
    base = 0
    for start in starts:
        if start in depth:
            continue
        depth[start] = base
        queue = deque([start])
        while queue:
            n = queue.popleft()
            for m in neighbours[n]:
                if m not in depth:
                    depth[m] = depth[n] + 1
                    parent[m] = n
                    queue.append(m)
        base = max(depth.values()) + 1

    for n in sorted(depth, key=lambda n: depth[n]):
        d = depth[n]
        while len(rings) <= d:
            rings.append([])
        rings[d].append(n)

    positions: dict[Any, tuple[float, float]] = {}
    radius = 0.0
    for d, ring in enumerate(rings):
        # Order a ring by the angle of each node's parent so subtrees stay together.
        ring.sort(key=lambda n: (angle.get(parent.get(n), 0.0), str(n)))
        if d == 0 and len(ring) == 1:
            positions[ring[0]] = (0.0, 0.0)
            angle[ring[0]] = 0.0
            continue
        radius = max(radius + 110.0, len(ring) * 28.0 / (2 * math.pi))
        for i, n in enumerate(ring):
            a = 2 * math.pi * (i + 0.5) / len(ring)
            angle[n] = a
            positions[n] = (round(radius * math.cos(a), 1), round(radius * math.sin(a), 1))
    return positions


def _node_record(n: Any, d: dict, degree: int, is_focus: bool, xy: tuple[float, float]) -> dict:
    """The vis-network node: drawing options plus the data the side panel shows."""
    kind = _str_or_none(d.get("kind")) or ""
    group = _group(kind, NODE_KINDS)
    style = _NODE_STYLE.get(group, _OTHER_NODE)
    name = _str_or_none(d.get("label")) or str(n)
    size = min(40.0, 7.0 + 3.2 * math.sqrt(degree))
    font = min(30, 13 + int(2 * math.sqrt(degree)))
    record: dict[str, Any] = {
        "id": str(n),
        "label": _clip(name, _MAX_LABEL),
        "shape": style["shape"],
        "group": group,
        "size": round(size * (0.75 if group == "section" else 1.0), 1),
        "font": {"size": font},
        "x": xy[0],
        "y": xy[1],
        # Panel data (vis ignores unknown fields).
        "name": name,
        "kind": kind,
        "path": _str_or_none(d.get("path")),
        "line": _int_or_none(d.get("line")),
        "heading": _str_list(d.get("heading")),
        "snippet": _clip(_str_or_none(d.get("snippet")), _MAX_TEXT),
        "tags": _str_list(d.get("tags")),
        "degree": degree,
    }
    if is_focus:
        record.update(
            focus=True,
            size=max(26.0, size * 1.3),
            font={"size": max(font, 26), "bold": True},
            borderWidth=4,
            color={
                "border": "#ffffff",
                "background": style["color"],
                "highlight": {"border": "#ffffff", "background": style["color"]},
            },
            shadow={"enabled": True, "color": style["color"], "size": 28, "x": 0, "y": 0},
            fixed={"x": True, "y": True},  # pinned at the centre while the layout settles
            x=0.0,
            y=0.0,
        )
    return record


def _note_links(path: str, vault_name: str, vault_uri: str) -> dict[str, str]:
    """``obsidian://`` and ``file://`` URLs of a note (built here, checked again in the page)."""
    stem = strip_note_suffix(path)
    query = f"vault={quote(vault_name, safe='')}&file={quote(stem, safe='')}"
    return {
        "obsidian": f"obsidian://open?{query}",
        "file": vault_uri + quote(path.lstrip("/"), safe="/"),
    }


def _dir_uri(root: Path) -> str:
    uri = Path(os.path.abspath(root)).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _vis_options(n_nodes: int, n_edges: int) -> dict:
    """vis-network options: bounded stabilisation (the page then turns physics off)."""
    # Bounded work: a fixed iteration count (so a graph always gets the same layout) that
    # shrinks with size, and a coarser Barnes-Hut (theta) for big graphs. Measured in
    # headless Chromium: ~12 ms per iteration at 1,300 nodes / 4,600 edges with theta 0.9.
    small = n_nodes <= 300
    iterations = 400 if small else max(60, min(400, 120_000 // n_nodes))
    big = n_edges > 2500
    return {
        "autoResize": True,
        "layout": {"improvedLayout": False, "randomSeed": 7},
        "nodes": {
            "borderWidth": 1.5,
            "font": {
                "color": "#e5e7eb",
                "face": "system-ui, -apple-system, 'Segoe UI', "
                "'PingFang SC', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
                "strokeWidth": 3,
                "strokeColor": _BACKGROUND,
            },
            # Labels appear as you zoom in, hubs (bigger fonts) first, as in Obsidian.
            "scaling": {"label": {"enabled": False, "drawThreshold": 9, "maxVisible": 26}},
        },
        "edges": {
            "smooth": False,
            "selectionWidth": 1.5,
            "hoverWidth": 0.8,
            "arrows": {"to": {"scaleFactor": 0.45}},
            "color": {"inherit": False, "opacity": 0.75},
        },
        "groups": {
            kind: {
                "shape": style["shape"],
                "color": {
                    "background": style["color"] if kind != "missing" else _BACKGROUND,
                    "border": style["color"],
                    "highlight": {"background": style["color"], "border": "#ffffff"},
                    "hover": {"background": style["color"], "border": "#ffffff"},
                },
                **({"shapeProperties": {"borderDashes": [3, 3]}} if kind == "missing" else {}),
            }
            for kind, style in [*_NODE_STYLE.items(), ("other", _OTHER_NODE)]
        },
        "physics": {
            "enabled": True,
            "solver": "forceAtlas2Based",
            "forceAtlas2Based": {
                "theta": 0.5 if small else 0.9,
                "gravitationalConstant": -70,
                "centralGravity": 0.012,
                "springLength": 80,
                "springConstant": 0.09,
                "damping": 0.55,
                "avoidOverlap": 0.2,
            },
            "maxVelocity": 60,
            "minVelocity": 1.0,
            "timestep": 0.5,
            "stabilization": {
                "enabled": True,
                "iterations": iterations,
                "updateInterval": 25,
                "fit": False,
            },
        },
        "interaction": {
            "hover": True,
            "tooltipDelay": 120,
            "hideEdgesOnDrag": big,
            "hideEdgesOnZoom": big,
            "keyboard": False,
            "multiselect": False,
        },
    }


# --------------------------------------------------------------------------- page assembly


def _render_page(*, title: str, vault_name: str, payload: dict) -> str:
    """Fill the page skeleton; every value is escaped for where it lands."""
    vis_js = _asset("vis-network.min.js")
    app_js = _asset("graph.js")
    css = _asset("graph.css")
    for name, text in (("vis-network.min.js", vis_js), ("graph.js", app_js)):
        if "</script" in text.lower():  # would end the inline <script> early
            raise KbError(f"kb/assets/{name} contains '</script'; the asset is broken")
    # Only our two scripts may run: their hashes are the whole script-src allowance, so
    # even markup that slipped into the page could not execute. No request may leave.
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_csp_hash(vis_js)} {_csp_hash(app_js)}",
            "style-src 'unsafe-inline'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    values = {
        "csp": html.escape(csp),
        "title": _html_text(title),
        "vault": _html_text(vault_name),
        "css": css,
        "data": _script_json(payload),
        "vis_js": vis_js,
        "app_js": app_js,
    }
    # One pass, so a marker inside a value is never expanded.
    return _MARKER.sub(lambda m: values[m.group(1)], _asset("graph.html"))


def _asset(name: str) -> str:
    return (resources.files("kb") / "assets" / name).read_text(encoding="utf-8")


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _script_json(payload: Any) -> str:
    """JSON that can sit inside ``<script type="application/json">``.

    ``<``, ``>``, ``&`` can neither close the element nor start a comment; ``/`` is
    escaped too, so no ``</script`` and no ``http://`` appears in the page source;
    U+2028/2029 and lone surrogates are escaped so the file is valid UTF-8 and JS.
    These characters only occur inside JSON strings, where the escapes mean the same.
    """
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("/", "\\/"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _html_text(text: str) -> str:
    return html.escape(_LONE_SURROGATE.sub("\ufffd", text))


# --------------------------------------------------------------------------- small helpers


def _sorted_edges(G: nx.Graph) -> list[tuple[Any, Any, dict]]:
    if G.is_multigraph():
        items = G.edges(keys=True, data=True)
        keyed = sorted(
            items,
            key=lambda e: (
                str(e[0]),
                str(e[1]),
                str(e[3].get("kind")),
                _int_or_none(e[3].get("line")) or 0,
                str(e[2]),
            ),
        )
        return [(u, v, d) for u, v, _k, d in keyed]
    return sorted(G.edges(data=True), key=lambda e: (str(e[0]), str(e[1]), str(e[2].get("kind"))))


def _group(kind: Any, known: tuple[str, ...]) -> str:
    """The style group of a node or edge kind: itself if known, else "other"."""
    return kind if kind in known else "other"


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (set, frozenset)):
        return sorted(str(v) for v in value)
    try:
        return [str(v) for v in value]
    except TypeError:
        return [str(value)]


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"
