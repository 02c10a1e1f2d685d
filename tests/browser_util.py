"""Graphs built by hand to the kb/graph.py contract, and an offline headless Chromium.

Shared by tests/test_export.py, tests/test_browser.py and bench/html.py (which times the
page of a real vault: `python -m bench.html VAULT`).
"""

from __future__ import annotations

import itertools
import random
import shutil
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    "javascript:alert(1)",
    "\u2028line\u2029sep",
    "{{data}} ${x} `y`",
    "<!-- <svg onload=alert(3)>",
]


def sample_graph():
    """A small vault graph: Chinese labels, every node and edge kind, hostile text."""
    import networkx as nx

    G = nx.MultiDiGraph()
    resnet = "note:topics/ResNet.md"
    G.add_node(
        resnet,
        kind="note",
        label="ResNet",
        path="topics/ResNet.md",
        line=1,
        tags=["ml/cnn", "深度学习"],
        snippet="ResNet（残差网络）用 shortcut 连接解决深层网络的退化问题。",
    )
    G.add_node(
        "section:topics/ResNet.md#12",
        kind="section",
        label="Bottleneck 结构",
        path="topics/ResNet.md",
        line=12,
        heading=["ResNet", "结构", "Bottleneck 结构"],
        snippet="先用 1x1 conv 降维，再 3x3 conv，最后 1x1 conv 升维。",
    )
    G.add_node(
        "section:topics/ResNet.md#30",
        kind="section",
        label="面试题",
        path="topics/ResNet.md",
        line=30,
        heading=["ResNet", "面试题"],
    )
    G.add_node(
        "concept:1x1 conv",
        kind="concept",
        label="1x1 conv",
        path="topics/1x1 conv.md",
        line=1,
        snippet="逐点卷积：改变通道数而不改变空间尺寸。",
    )
    G.add_node("concept:bottleneck", kind="concept", label="bottleneck", path=None, line=None)
    G.add_node(
        "note:面试准备计划.md",
        kind="note",
        label="面试准备计划",
        path="面试准备计划.md",
        line=1,
        tags=["面试"],
    )
    G.add_node("tag:ml/cnn", kind="tag", label="#ml/cnn", path=None, line=None)
    G.add_node("tag:深度学习", kind="tag", label="#深度学习", path=None, line=None)
    G.add_node("missing:VGG", kind="missing", label="VGG", path=None, line=None)
    hostile = "note:hostile/evil <b>.md"
    G.add_node(
        hostile,
        kind="note",
        label=HOSTILE[0],
        path="hostile/evil <b>.md",
        line=3,
        heading=[HOSTILE[1], HOSTILE[2]],
        snippet=" ".join(HOSTILE),
        tags=[HOSTILE[1], "javascript:alert(1)"],
    )
    G.add_node(
        "concept:evil",
        kind="concept",
        label=HOSTILE[1],
        path="hostile/evil <b>.md",
        line=7,
        snippet=HOSTILE[2],
    )
    G.add_node("missing:js", kind="missing", label=HOSTILE[3], path=None, line=None)

    def edge(u, v, kind, path=None, line=None, text=None):
        G.add_edge(u, v, kind=kind, path=path, line=line, text=text)

    edge(resnet, "section:topics/ResNet.md#12", "contains", "topics/ResNet.md", 12)
    edge(resnet, "section:topics/ResNet.md#30", "contains", "topics/ResNet.md", 30)
    edge(
        "section:topics/ResNet.md#12",
        "concept:1x1 conv",
        "mentions",
        "topics/ResNet.md",
        13,
        "先用 1x1 conv 降维，再 3x3 conv。",
    )
    edge(
        "section:topics/ResNet.md#12",
        "concept:bottleneck",
        "mentions",
        "topics/ResNet.md",
        12,
        "Bottleneck 结构减少计算量。",
    )
    edge(resnet, "concept:1x1 conv", "links_to", "topics/ResNet.md", 14, "详见 [[1x1 conv]]。")
    edge(
        "note:面试准备计划.md",
        resnet,
        "links_to",
        "面试准备计划.md",
        8,
        "复习 [[ResNet]] 的 bottleneck。",
    )
    edge(
        "note:面试准备计划.md", "concept:1x1 conv", "embeds", "面试准备计划.md", 9, "![[1x1 conv]]"
    )
    edge(resnet, "tag:ml/cnn", "tagged", "topics/ResNet.md", 2)
    edge(resnet, "tag:深度学习", "tagged", "topics/ResNet.md", 2)
    edge(
        resnet,
        "missing:VGG",
        "links_to",
        "topics/ResNet.md",
        20,
        "比 [[VGG]] 更深 (see https://arxiv.org/abs/1512.03385).",
    )
    edge(hostile, resnet, "links_to", "hostile/evil <b>.md", 4, " ".join(HOSTILE))
    edge(hostile, "concept:evil", "mentions", "hostile/evil <b>.md", 7, HOSTILE[2])
    edge(hostile, "missing:js", "links_to", "hostile/evil <b>.md", 9, "[x](javascript:alert(1))")
    edge("concept:evil", "concept:1x1 conv", "mentions", None, None, None)
    return G


def synthetic_graph(notes: int = 150, seed: int = 1):
    """A vault-shaped graph: ``notes`` notes give about 10x nodes and 33x edges."""
    import networkx as nx

    rng = random.Random(seed)
    G = nx.MultiDiGraph()
    concepts = [f"concept:c{i}" for i in range(notes * 2)]
    tags = [f"tag:t{i}" for i in range(max(1, notes // 4))]
    missing = [f"missing:m{i}" for i in range(max(1, notes // 3))]
    for c in concepts:
        G.add_node(c, kind="concept", label=f"概念 {c[8:]}", path=None, line=None)
    for t in tags:
        G.add_node(t, kind="tag", label="#" + t[4:], path=None, line=None)
    for m in missing:
        G.add_node(m, kind="missing", label=f"Missing {m[8:]}", path=None, line=None)
    note_ids = [f"note:n{i}.md" for i in range(notes)]
    popularity = list(itertools.accumulate(1 / (rank + 1) ** 0.8 for rank in range(len(concepts))))
    for i, n in enumerate(note_ids):
        path = f"n{i}.md"
        G.add_node(
            n,
            kind="note",
            label=f"Note {i} 笔记",
            path=path,
            line=1,
            tags=[f"t{i % len(tags)}"],
            snippet=f"Note {i} is about things.",
        )
        for s in range(5):
            sid = f"section:{path}#{10 + s}"
            G.add_node(
                sid,
                kind="section",
                label=f"Section {i}.{s}",
                path=path,
                line=10 + s,
                heading=[f"Note {i}", f"Section {i}.{s}"],
                snippet="Some text here.",
            )
            G.add_edge(n, sid, kind="contains", path=path, line=10 + s, text=None)
            # Popular concepts are mentioned much more often (a long tail, like real vaults).
            for c in rng.choices(concepts, cum_weights=popularity, k=3):
                G.add_edge(
                    sid,
                    c,
                    kind="mentions",
                    path=path,
                    line=10 + s,
                    text=f"Section {i}.{s} mentions {c}.",
                )
        for _ in range(8):
            G.add_edge(
                n,
                rng.choice(note_ids),
                kind="links_to",
                path=path,
                line=3,
                text="See the other note.",
            )
        G.add_edge(n, rng.choice(missing), kind="links_to", path=path, line=4, text="Dangling.")
        G.add_edge(n, rng.choice(tags), kind="tagged", path=path, line=2, text=None)
        if i % 2 == 0:
            G.add_edge(n, rng.choice(note_ids), kind="embeds", path=path, line=5, text="![[x]]")
    return G


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"no Chromium at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def offline_browser():
    """A headless Chromium; use ``offline_page`` for pages that may only read file:// URLs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageLog:
    """What a page tried to do that it must not: network requests, dialogs, errors."""

    def __init__(self) -> None:
        self.blocked: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []


def offline_page(browser, width: int = 1400, height: int = 900):
    """A page that aborts (and records) every request that is not file://."""
    page = browser.new_page(viewport={"width": width, "height": height})
    log = PageLog()

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            log.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("dialog", lambda d: (log.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: log.errors.append(str(e)))
    page.on("console", lambda m: m.type in ("error", "warning") and log.errors.append(m.text))
    return page, log


def wait_ready(page, timeout_ms: int = 60_000) -> dict:
    """Wait until the graph has settled; return the page's timings (ms since navigation)."""
    page.wait_for_function(
        "() => window.kbGraph && window.kbGraph.ready === true", timeout=timeout_ms
    )
    return page.evaluate("window.kbGraph.timings")
