"""The benchmark harness (bench/): the vault it generates, and that `python -m bench.run
--quick` measures every figure it reports. Correctness of the harness, never timing."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench import gen, probe, report, run
from bench.run import QUICK_SIZES, cached_vault
from kb.parse import parse_note
from kb.resolve import Resolver

from .conftest import REPO

pytestmark = pytest.mark.bench


def _tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root``: content hash and modification time."""
    return {
        p.relative_to(root).as_posix(): (
            hashlib.sha1(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


# -- the generator ---------------------------------------------------------------------------


def test_generator_is_deterministic(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    gen.generate(a, 150, seed=7)
    gen.generate(b, 150, seed=7)
    gen.generate(c, 150, seed=8)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*.md"))
    assert len(files_a) == 150
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*.md"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)
    files_c = sorted(p.relative_to(c) for p in c.rglob("*.md"))
    differ = files_c != files_a or any(
        (a / f).read_bytes() != (c / f).read_bytes() for f in files_a
    )
    assert differ, "another seed gave the same vault"


def test_generator_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "mine.md").write_text("my note")
    done = subprocess.run(
        [sys.executable, "-m", "bench.gen", "--notes", "5", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "not empty" in done.stderr and "Traceback" not in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["mine.md"]


@pytest.fixture(scope="module")
def vault_1000(tmp_path_factory) -> tuple[Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("gen") / "vault"
    gen.generate(root, 1000, seed=1)
    notes = {
        p.relative_to(root).as_posix(): parse_note(
            p.read_text(encoding="utf-8"), p.relative_to(root).as_posix()
        )
        for p in root.rglob("*.md")
    }
    return root, notes


def test_generated_notes_look_like_a_real_vault(vault_1000) -> None:
    root, notes = vault_1000
    texts = {path: (root / path).read_text(encoding="utf-8") for path in notes}
    sizes = sorted(len(t.encode()) for t in texts.values())
    # 6,000 notes come to about 15 MB; sizes from a few lines to tens of KB.
    assert 2000 <= sum(sizes) / len(sizes) <= 3200
    assert sizes[0] < 400 and sizes[-1] > 20_000
    frontmatter = [n for n in notes.values() if n.frontmatter]
    assert 0.4 < len(frontmatter) / len(notes) < 0.8
    assert any(n.aliases for n in frontmatter)
    assert any(n.tags for n in frontmatter)
    cjk = re.compile(r"[\u4e00-\u9fff]")
    mixed = [t for t in texts.values() if re.search(r"[\u4e00-\u9fff][^\n]*\b[a-z]{4,}\b", t)]
    assert len(mixed) > 0.8 * len(notes), "English and Chinese mixed in one line"
    assert any(cjk.search(p) for p in notes) and any(" " in p for p in notes)
    assert any(s.level >= 3 for n in notes.values() for s in n.sections if s.kind == "heading")
    assert any(s.kind == "item" for n in notes.values() for s in n.sections)  # - **Term**: …
    assert any("- **" in t for t in texts.values())
    assert any(s.code for n in notes.values() for s in n.sections)
    assert any("$$" in t for t in texts.values())
    assert any("/" in tag for n in notes.values() for tag in n.tags)  # nested tags
    daily = [p for p in notes if p.startswith("daily/")]
    assert daily and all(re.fullmatch(r"daily/\d{4}/\d{4}-\d\d-\d\d\.md", p) for p in daily)
    assert any(re.search(r"^### \d{4}\.\d+\.\d+$", texts[p], re.M) for p in daily)


def test_generated_links_follow_a_power_law(vault_1000) -> None:
    _root, notes = vault_1000
    resolver = Resolver(notes.values())
    indegree: Counter[str] = Counter()
    links = missing = aliased = headed = 0
    for path, note in notes.items():
        for link in note.links:
            links += 1
            aliased += link.alias is not None
            headed += link.heading is not None
            target = resolver.resolve_link(link, path).path
            if target is None:
                missing += 1
            else:
                indegree[target] += 1
    assert links > 3 * len(notes)
    assert 0.01 < missing / links < 0.15
    assert aliased and headed
    counts = sorted((indegree[p] for p in notes), reverse=True)
    top_tenth = sum(counts[: len(counts) // 10])
    assert top_tenth > 0.5 * sum(counts), "a tenth of the notes get most links"
    assert counts[0] > 20 * max(1, counts[len(counts) // 2]), (
        "the biggest hub towers over the median"
    )
    assert counts[0] == indegree["topics/Transformer.md"]  # note 0 is the biggest hub


def test_generated_vault_has_what_the_benchmark_asks_for(vault_1000) -> None:
    root, notes = vault_1000
    titles = {n.title for n in notes.values()} | {Path(p).stem for p in notes}
    assert gen.SHOW_TOPIC in titles and gen.GRAPH_TOPIC in titles
    assert set(gen.PATH_TOPICS) <= titles
    anchors = " ".join((root / "topics" / f"{t}.md").read_text() for t, _ in gen.ANCHORS)
    for word in gen.SEARCH_WORDS:
        assert word.casefold() in anchors.casefold()


# -- the quick run ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """``python -m bench.run --quick`` with its vaults made (and fingerprinted) beforehand."""
    out = tmp_path_factory.mktemp("bench-out")
    cache = tmp_path_factory.mktemp("bench-cache")
    vaults = [cached_vault(cache, n, 1, lambda _t: None) for n in QUICK_SIZES]
    before = [_tree(v) for v in vaults]
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out), "--cache", str(cache)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {
        "out": out,
        "results": results,
        "stderr": done.stderr,
        "vaults": vaults,
        "before": before,
    }


PROCESS_FIGURES = [
    "full_index",
    "refresh_unchanged",
    "refresh_edit",
    "refresh_add_delete",
    "kb_search",
    "kb_search_after_edit",
    "kb_show",
    "kb_path",
    "kb_graph",
]


def test_quick_run_measures_every_figure(quick) -> None:
    results = quick["results"]
    assert [s["notes"] for s in results["sizes"]] == list(QUICK_SIZES)
    assert results["errors"] == []
    for size in results["sizes"]:
        figures = size["figures"]
        assert {row.key for row in report.ROWS} <= figures.keys()
        for key in PROCESS_FIGURES:
            fig = figures[key]
            assert fig["seconds"] > 0 and fig["peak_mb"] > 0, key
            runs = fig["runs"]
            assert runs and all(r["returncode"] == 0 for r in runs), key
            assert fig["seconds"] == sorted(r["seconds"] for r in runs)[len(runs) // 2]
        assert figures["full_index"]["tree_mb"] >= figures["full_index"]["peak_mb"] * 0.9
        # kb search ran once per word (and per repeat), each finding something
        assert len(figures["kb_search"]["runs"]) == len(gen.SEARCH_WORDS)
        assert all(r["output_bytes"] > 0 for r in figures["kb_search"]["runs"])
        search = figures["search_p50"]
        assert 0 < search["seconds"] <= search["p95"]
        assert search["samples"] == 2 * len(gen.QUERIES)
        assert all(n > 0 for n in search["hits"].values()), search["hits"]
        assert size["counts"]["notes"] == size["notes"]
        # the stages of a full index, one by one (bench.stages)
        for stage in ("scan", "parse", "analyse", "write", "graph"):
            fig = figures[f"stage_{stage}"]
            assert fig["seconds"] >= 0 and fig["cpu"] >= 0, stage
        assert figures["stage_parse"]["cpu"] > 0 and figures["stage_write"]["cpu"] > 0


def test_quick_run_compares_with_rg_and_obsidiantools(quick) -> None:
    for size in quick["results"]["sizes"]:
        figures = size["figures"]
        if shutil.which("rg"):
            assert figures["rg"]["seconds"] > 0
            assert all(r["output_bytes"] > 0 for r in figures["rg"]["runs"])  # it found the word
            ratio = figures["kb_search"]["seconds"] / figures["rg"]["seconds"]
            assert figures["kb_rg_ratio"]["ratio"] == pytest.approx(ratio)
        else:
            assert figures["rg"]["status"] == "not installed"
        if _importable("obsidiantools"):
            assert figures["obsidiantools"]["seconds"] > 0
            ratio = figures["full_index"]["seconds"] / figures["obsidiantools"]["seconds"]
            assert figures["kb_obsidiantools_ratio"]["ratio"] == pytest.approx(ratio)
        else:
            assert figures["obsidiantools"]["status"] == "not installed"


def test_quick_run_table_agrees_with_json(quick) -> None:
    results = quick["results"]
    table = (quick["out"] / "RESULTS.md").read_text(encoding="utf-8")
    rows = {
        cells[0].replace("&nbsp;", " "): cells[1:]
        for line in table.splitlines()
        if line.startswith("| ")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    for row in report.ROWS:
        cells = rows[row.label]
        for size, cell in zip(results["sizes"], cells, strict=False):
            assert cell == report._cell(size, row), row.label
    # and the numbers themselves, read back from the table
    for size, cell in zip(results["sizes"], rows[report.ROWS[0].label], strict=False):
        assert float(cell.split()[0]) == pytest.approx(
            size["figures"]["full_index"]["seconds"], abs=0.006
        )
    # every target of the issue is listed; none applies to the quick run's tiny vaults
    assert len(results["targets"]) == 13
    assert all(t["passed"] is None for t in results["targets"])
    for t in results["targets"]:
        assert t["name"] in table
    machine = results["machine"]
    assert machine["cores"] and machine["memory_gb"] > 0 and machine["python"]
    assert f"{machine['cores']} cores" in table and "load average" in table


def test_quick_run_draws_the_plot(quick) -> None:
    png = quick["out"] / "speed.png"
    if not _importable("matplotlib"):
        assert not png.exists() and "no plot" in quick["stderr"]
        return
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    assert "](speed.png)" in (quick["out"] / "RESULTS.md").read_text(encoding="utf-8")


def test_quick_run_leaves_the_vaults_as_they_were(quick) -> None:
    assert [_tree(v) for v in quick["vaults"]] == quick["before"]
    assert all(s["vault_unchanged"] for s in quick["results"]["sizes"])
    for vault in quick["vaults"]:
        assert not (vault / ".kb").exists()  # kb's data went to a temporary --index-dir


def test_harness_works_without_rg_obsidiantools_and_matplotlib(tmp_path: Path) -> None:
    """Users run it without the bench extra: those figures say "not installed"."""
    blocked = tmp_path / "blocked"
    for name in ("obsidiantools", "matplotlib"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text("raise ImportError('blocked by the test')\n")
    env = dict(os.environ, PYTHONPATH=f"{blocked}{os.pathsep}{REPO}")
    env["PATH"] = str(Path(sys.executable).parent)  # no rg there
    env.pop("PYTEST_CURRENT_TEST", None)  # as a user runs it: --quick alone keeps bench/results
    env["TMPDIR"] = str(tmp_path)
    committed = _tree(REPO / "bench" / "results")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--sizes",
            "40",
            "--cache",
            str(tmp_path / "cache"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = Path(re.search(r"^bench: (.*)/RESULTS\.md ", done.stderr, re.M).group(1))
    assert out.parent == tmp_path and out.name.startswith("kb-bench-")
    assert _tree(REPO / "bench" / "results") == committed
    figures = json.loads((out / "results.json").read_text())["sizes"][0]["figures"]
    assert figures["rg"]["status"] == "not installed"
    assert figures["obsidiantools"]["status"] == "not installed"
    assert figures["full_index"]["seconds"] > 0
    assert not (out / "speed.png").exists() and "no plot" in done.stderr
    table = (out / "RESULTS.md").read_text(encoding="utf-8")
    assert "not installed" in table


def test_real_vaults_are_repeated_to_the_size_asked_for(tmp_path: Path) -> None:
    sources = []
    for name, count in (("a", 3), ("b", 2)):
        folder = tmp_path / "vaults" / name
        folder.mkdir(parents=True)
        for i in range(count):
            (folder / f"note {i}.md").write_text(f"# {name} {i}\n", encoding="utf-8")
        sources.append(folder)
    root = run.scaled_real_vault(tmp_path / "cache", sources, 12)
    files = probe.note_files(root)
    assert len(files) == 15  # three rounds of five notes: the first count >= 12
    assert "copy-03/b/note 1.md" in files
    assert run.scaled_real_vault(tmp_path / "cache", sources, 12) == root  # made once
