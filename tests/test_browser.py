"""The HTML graph page in a real headless Chromium, offline (every non-file:// request aborted)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from kb.export import write_html
from tests.browser_util import (
    HOSTILE,
    chromium_missing_reason,
    offline_browser,
    offline_page,
    sample_graph,
    synthetic_graph,
    wait_ready,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        chromium_missing_reason() is not None, reason=chromium_missing_reason() or ""
    ),
]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
FOCUS = "note:topics/ResNet.md"


@pytest.fixture(scope="module")
def browser():
    with offline_browser() as b:
        yield b


def open_page(browser, path: Path):
    page, log = offline_page(browser)
    page.goto(path.as_uri())
    wait_ready(page)
    return page, log


def assert_clean(log) -> None:
    assert log.blocked == [], f"the page asked for the network: {log.blocked}"
    assert log.dialogs == [], f"note text ran as code: {log.dialogs}"
    assert log.errors == [], f"console errors: {log.errors}"


def screen_position(page, node_id: str) -> tuple[float, float]:
    """Where a node is drawn, in page coordinates."""
    xy = page.evaluate(
        """(id) => {
            const net = window.kbGraph.network;
            return net.canvasToDOM(net.getPositions([id])[id]);
        }""",
        node_id,
    )
    box = page.locator("#kb-graph").bounding_box()
    return box["x"] + xy["x"], box["y"] + xy["y"]


def edge_midpoint(page, source: str, target: str) -> tuple[float, float]:
    """The middle of the straight edge between two nodes, in page coordinates."""
    xy = page.evaluate(
        """([a, b]) => {
            const net = window.kbGraph.network;
            const p = net.getPositions([a, b]);
            return net.canvasToDOM({x: (p[a].x + p[b].x) / 2, y: (p[a].y + p[b].y) / 2});
        }""",
        [source, target],
    )
    box = page.locator("#kb-graph").bounding_box()
    return box["x"] + xy["x"], box["y"] + xy["y"]


def panel_text(page) -> str:
    return page.locator("#kb-panel-body").inner_text()


def export_sample(tmp_path: Path) -> Path:
    out = tmp_path / "out" / "resnet.html"
    write_html(
        sample_graph(),
        out,
        focus=FOCUS,
        title="ResNet",
        vault_root=tmp_path / "vault",
        vault_name="面试 vault",
    )
    return out


def test_sample_graph_page(browser, tmp_path):
    page, log = open_page(browser, export_sample(tmp_path))

    labels = page.evaluate("() => window.kbGraph.nodes.get().map((n) => n.name)")
    assert {"ResNet", "Bottleneck 结构", "1x1 conv", "#深度学习", "VGG"} <= set(labels)
    # Physics is off once settled; the topic is selected and in the middle of the view.
    assert page.evaluate("() => window.kbGraph.network.physics.physicsEnabled") is False
    x, y = screen_position(page, FOCUS)
    box = page.locator("#kb-graph").bounding_box()
    assert abs(x - box["width"] / 2) < 5 and abs(y - box["height"] / 2) < 5
    assert page.evaluate("() => window.kbGraph.network.getSelectedNodes()") == [FOCUS]

    # Topics by default: sections (the places of a topic) start hidden, behind their box.
    sections = page.evaluate(
        "() => window.kbGraph.nodes.get({filter: (n) => n.group === 'section'}).map((n) => n.id)"
    )
    hidden = page.evaluate(
        "() => window.kbGraph.nodes.get({filter: (n) => n.hidden}).map((n) => n.id)"
    )
    assert sections and sorted(hidden) == sorted(sections)
    assert not page.is_checked("#kb-kind-section") and page.is_checked("#kb-kind-note")
    page.check("#kb-kind-section")
    assert page.evaluate("() => window.kbGraph.nodes.get({filter: (n) => n.hidden}).length") == 0

    # A real mouse click on a node opens the side panel.
    page.mouse.click(*screen_position(page, "section:topics/ResNet.md#12"))
    panel = page.locator("#kb-panel")
    panel.wait_for(state="visible")
    text = panel_text(page)
    assert "Bottleneck 结构" in text and "topics/ResNet.md:12" in text
    assert page.locator("#kb-panel .kb-crumbs").inner_text() == "ResNet › 结构 › Bottleneck 结构"
    assert "先用 1x1 conv 降维" in text
    obsidian = page.locator("#kb-panel a.kb-open-obsidian").get_attribute("href")
    assert obsidian == "obsidian://open?vault=%E9%9D%A2%E8%AF%95%20vault&file=topics%2FResNet"
    file_url = page.locator("#kb-panel a.kb-open-file").get_attribute("href")
    assert file_url == (tmp_path / "vault" / "topics" / "ResNet.md").as_uri()

    # Search: case-insensitive on the label, Enter focuses the first match.
    page.fill("#kb-search", "1X1")
    assert page.locator("#kb-results li").first.inner_text().startswith("1x1 conv")
    page.keyboard.press("Enter")
    assert page.evaluate("() => window.kbGraph.network.getSelectedNodes()") == ["concept:1x1 conv"]
    assert panel_text(page).startswith("1x1 conv")

    # Hiding a kind hides its nodes (and their edges); showing it again brings them back.
    page.uncheck("#kb-kind-tag")
    hidden = page.evaluate(
        "() => window.kbGraph.nodes.get({filter: (n) => n.hidden}).map((n) => n.id)"
    )
    assert sorted(hidden) == ["tag:ml/cnn", "tag:深度学习"]
    page.check("#kb-kind-tag")
    assert page.evaluate("() => window.kbGraph.nodes.get({filter: (n) => n.hidden}).length") == 0

    # Edge tooltips carry the evidence sentence as plain text.
    titles = page.evaluate("() => window.kbGraph.edges.get().map((e) => e.title)")
    assert all(isinstance(t, str) for t in titles)
    assert any("先用 1x1 conv 降维，再 3x3 conv。" in t for t in titles)

    page.evaluate("(id) => window.kbGraph.focusNode(id)", "section:topics/ResNet.md#12")
    page.mouse.move(1, 1)  # no tooltip in the picture
    page.wait_for_timeout(600)  # the focus animation
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "graph-sample.png"))
    page.close()
    assert_clean(log)


def test_hostile_note_text_stays_text(browser, tmp_path):
    out = tmp_path / "hostile.html"
    write_html(
        sample_graph(),
        out,
        focus="note:hostile/evil <b>.md",
        title="<img src=x onerror=alert('title')>",
        vault_root=tmp_path,
        vault_name="<script>alert('vault')</script>",
    )
    page, log = open_page(browser, out)

    def injected() -> dict:
        return page.evaluate(
            """() => ({
                imgs: document.querySelectorAll("img, svg, iframe, object, embed").length,
                scripts: document.scripts.length,
                jsLinks: [...document.querySelectorAll("a")].filter(
                    (a) => !/^(obsidian|file):/.test(a.href)).length,
                onAttrs: [...document.querySelectorAll("*")].filter(
                    (e) => [...e.attributes].some((a) => a.name.startsWith("on"))).length,
            })"""
        )

    clean = {"imgs": 0, "scripts": 3, "jsLinks": 0, "onAttrs": 0}
    assert injected() == clean
    assert page.title() == "<img src=x onerror=alert('title')>"

    # Open every node's panel and hover every edge: all of it must stay text.
    ids = page.evaluate("() => window.kbGraph.nodes.getIds()")
    for node_id in ids:
        page.evaluate("(id) => window.kbGraph.showPanel(id)", node_id)
        assert injected() == clean, node_id
    page.evaluate("() => window.kbGraph.showPanel('note:hostile/evil <b>.md')")
    text = panel_text(page)
    assert HOSTILE[0] in text and HOSTILE[1] in text and "#javascript:alert(1)" in text
    page.mouse.click(*screen_position(page, "concept:evil"))
    assert panel_text(page).startswith(HOSTILE[1])
    page.fill("#kb-search", "<script")
    assert HOSTILE[0] in page.locator("#kb-results").inner_text()
    assert injected() == clean

    # Hovering the hostile edge shows its evidence in vis' tooltip, as text.
    page.fill("#kb-search", "")
    page.evaluate("() => window.kbGraph.hidePanel()")
    x, y = edge_midpoint(page, "note:hostile/evil <b>.md", FOCUS)
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y)
    tooltip = page.locator("div.vis-tooltip")
    tooltip.wait_for(state="visible")
    assert HOSTILE[0] in tooltip.inner_text() and HOSTILE[2] in tooltip.inner_text()
    # innerText turns the newlines into <br>: those are the only elements allowed in there.
    tags = page.evaluate(
        "() => [...document.querySelector('div.vis-tooltip').querySelectorAll('*')]"
        ".map((e) => e.tagName)"
    )
    assert set(tags) <= {"BR"}
    assert injected() == clean

    page.close()
    assert_clean(log)


def test_only_obsidian_and_file_links_are_clickable(browser, tmp_path):
    out = export_sample(tmp_path)
    html = out.read_text(encoding="utf-8")
    # Tamper with the page's data as a hostile generator could: the page must refuse the URL.
    tampered, count = re.subn(
        r'"obsidian":"obsidian:[^"]*"', '"obsidian":"javascript:alert(1)"', html
    )
    assert count > 0
    tampered = tampered.replace('"file":"file:', '"file":"data:text/html,x')
    out.write_text(tampered, encoding="utf-8")
    page, log = offline_page(browser)
    page.goto(out.as_uri())
    # Only the data island changed: the script hashes in the CSP still match, the page runs.
    wait_ready(page)
    page.evaluate("(id) => window.kbGraph.showPanel(id)", FOCUS)
    assert page.locator("#kb-panel a").count() == 0
    page.close()
    assert_clean(log)


def test_large_graph_settles_within_seconds(browser, tmp_path):
    G = synthetic_graph(150)  # ~1,300 nodes, ~4,600 edges
    out = tmp_path / "big.html"
    result = write_html(
        G,
        out,
        focus="note:n0.md",
        title="Big",
        vault_root=tmp_path,
        vault_name="big",
        max_nodes=1000,
    )
    assert result.nodes_omitted == G.number_of_nodes() - 1000
    page, log = offline_page(browser)
    page.goto(out.as_uri())
    timings = wait_ready(page, timeout_ms=30_000)
    assert timings["settledMs"] < 15_000
    assert page.evaluate("() => window.kbGraph.nodes.length") == 1000
    notice = page.locator("#kb-notice")
    assert notice.is_visible() and f"{result.nodes_omitted:,}" in notice.inner_text()
    page.close()
    assert_clean(log)


def _graph_command_missing() -> str | None:
    try:
        import kb.commands.graph  # noqa: F401
    except ImportError:
        return "the `kb graph` command does not exist yet"
    return None


@pytest.mark.skipif(_graph_command_missing() is not None, reason=_graph_command_missing() or "")
def test_real_vault_graph(browser, tmp_path):
    from click.testing import CliRunner

    from kb.cli import cli

    vault = tmp_path / "vault"
    shutil.copytree(REPO / "vault", vault, ignore=shutil.ignore_patterns(".kb"))
    out = tmp_path / "resnet.html"
    result = CliRunner().invoke(
        cli, ["--vault", str(vault), "graph", "--topic", "resnet", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(str(out))
    page, log = open_page(browser, out)

    nodes = page.evaluate(
        "() => window.kbGraph.nodes.get().map((n) => [n.id, n.name.toLowerCase(), n.kind])"
    )
    ids = {node_id for node_id, _, _ in nodes}
    assert page.evaluate("() => window.kbGraph.data.meta.focus") == FOCUS
    assert {FOCUS, "note:topics/Bottleneck.md", "note:topics/1x1 卷积.md"} <= ids
    for wanted in ("resnet", "bottleneck", "1x1"):
        assert any(wanted in name for _, name, _ in nodes), (wanted, nodes)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "graph.png"))

    page.mouse.click(*screen_position(page, "note:topics/Bottleneck.md"))
    page.locator("#kb-panel").wait_for(state="visible")
    assert panel_text(page).startswith("Bottleneck\nNote\ntopics/Bottleneck.md:1")
    href = page.locator("#kb-panel a.kb-open-obsidian").get_attribute("href")
    assert href == "obsidian://open?vault=vault&file=topics%2FBottleneck"
    page.mouse.move(1, 1)  # no tooltip in the picture
    page.screenshot(path=str(ARTIFACTS / "graph-panel.png"))
    page.close()
    assert_clean(log)


HOSTILE_NOTE = """---
aliases: ["<img src=x onerror=alert('alias')>"]
tags: [cnn]
---
# <script>alert('h1')</script>

Links to [[ResNet]] and [[Bottleneck|<img src=x onerror=alert('link')>]].
Raw HTML in a paragraph: <img src=x onerror=alert('html')> and </script><script>alert(2)</script>.
A [bad link](javascript:alert('js')) and <a href="javascript:alert('a')">an anchor</a>.

- **<svg onload=alert('lead')>**：ResNet 的 bottleneck
"""


def test_hostile_vault_note_through_kb_graph(browser, tmp_path):
    """A real note full of injections, through parse → graph → HTML, runs nothing."""
    from click.testing import CliRunner

    from kb.cli import cli

    vault = tmp_path / "vault"
    shutil.copytree(REPO / "vault", vault, ignore=shutil.ignore_patterns(".kb"))
    (vault / "evil <b>.md").write_text(HOSTILE_NOTE, encoding="utf-8")
    out = tmp_path / "resnet.html"
    args = ["--vault", str(vault), "graph", "--topic", "resnet", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    page, log = open_page(browser, out)
    names = page.evaluate("() => window.kbGraph.nodes.get().map((n) => n.name)")
    # The hostile note links to ResNet (from its H1 section): it is in the picture.
    assert "evil <b>" in names and "<svg onload=alert('lead')>" in names
    for node_id in page.evaluate("() => window.kbGraph.nodes.getIds()"):
        page.evaluate("(id) => window.kbGraph.showPanel(id)", node_id)
    page.evaluate("() => window.kbGraph.showPanel('note:evil <b>.md')")
    assert "evil <b>" in panel_text(page)
    counts = page.evaluate(
        """() => ({
            imgs: document.querySelectorAll("img, svg, iframe, object, embed").length,
            scripts: document.scripts.length,
        })"""
    )
    assert counts == {"imgs": 0, "scripts": 3}
    page.close()
    assert_clean(log)
