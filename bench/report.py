"""The benchmark's outputs: the Markdown table with the issue's targets, the JSON, the plot."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

GROWTH_TOLERANCE = 1.2
"""Full index "no worse than linear": time per note at 20,000 <= this x time per note at 5,000."""


@dataclass(frozen=True, slots=True)
class Row:
    """A row of the table: a figure measured at each size."""

    key: str
    label: str
    unit: str  # "s", "ms", "x" (a ratio), "MB"
    field: str = "seconds"


ROWS: list[Row] = [
    Row("full_index", "`kb index --full` from nothing (search index + graph)", "s"),
    Row("full_index", "  peak memory: whole process tree (largest process)", "MB", "tree_mb"),
    Row("refresh_unchanged", "`kb index`, nothing changed", "s"),
    Row("refresh_edit", "`kb index`, one note edited", "s"),
    Row("refresh_add_delete", "`kb index`, one note added and one deleted", "s"),
    Row("search_p50", "search in-process, p50 / p95 (`kb.index.search`)", "ms"),
    Row("kb_search", "`kb search WORD`, whole process", "s"),
    Row("rg", "`rg -i WORD`, whole process", "s"),
    Row("kb_rg_ratio", "  `kb search` ÷ `rg`", "x", "ratio"),
    Row("kb_search_after_edit", "`kb search WORD` right after editing one note", "s"),
    Row("kb_show", "`kb show TOPIC`", "s"),
    Row("kb_path", "`kb path A B`", "s"),
    Row("kb_graph", "`kb graph --topic T` (HTML page)", "s"),
    Row("stage_scan", "  stage in one process: scan (stat every note)", "s"),
    Row("stage_parse", "  stage: parse + store (markdown-it-py, 2 workers)", "s"),
    Row("stage_analyse", "  stage: analyse (documents to whoosh, one writer)", "s"),
    Row("stage_write", "  stage: write (whoosh commit: sort + write postings)", "s"),
    Row("stage_graph", "  stage: graph (concepts, mentions, edges)", "s"),
    Row("obsidiantools", "obsidiantools `Vault(path).connect().gather()`", "s"),
    Row("kb_obsidiantools_ratio", "  `kb index --full` ÷ obsidiantools", "x", "ratio"),
]


@dataclass(slots=True)
class Target:
    """One target of the issue, checked against the measured figures."""

    name: str
    measured: str
    passed: bool | None
    """None when the sizes it needs were not measured."""

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("pass" if self.passed else "**MISS**")


def _size(results: dict, notes: int) -> dict | None:
    for s in results["sizes"]:
        if s["generated"] and s["notes"] == notes:
            return s
    return None


def _value(size: dict | None, key: str, field: str = "seconds") -> float | None:
    if size is None:
        return None
    v = size["figures"].get(key, {}).get(field)
    return v if isinstance(v, (int, float)) and not math.isnan(v) else None


def _seconds(v: float) -> str:
    return f"{v:.2f} s" if v >= 1 else f"{v:.3f} s"


def evaluate(results: dict) -> list[Target]:
    """The issue's targets, each with what was measured and pass / MISS (or n/a)."""
    out: list[Target] = []
    six, five, twenty, one = (_size(results, n) for n in (6000, 5000, 20000, 1000))

    def limit(name: str, size: dict | None, key: str, bound: float, field="seconds", fmt=_seconds):
        v = _value(size, key, field)
        if v is None:
            why = (
                "size not measured"
                if size is None
                else size["figures"].get(key, {}).get("status", "not measured")
            )
            out.append(Target(name, why, None))
        else:
            out.append(Target(name, fmt(v), v <= bound))

    limit("6,000 notes: `kb index --full` ≤ 20 s", six, "full_index", 20.0)
    scaled = next((s for s in results["sizes"] if s["label"].startswith("real ×")), None)
    limit(
        "~6,500-note real-text vault (issue 14): `kb index --full` ≤ 20 s",
        scaled,
        "full_index",
        20.0,
    )
    limit(
        "6,000 notes (issue 14): `kb search` within 5× of `rg -i`",
        six,
        "kb_rg_ratio",
        5.0,
        "ratio",
        lambda v: f"{v:.1f}×",
    )
    limit(
        "6,000 notes (issue 14): `kb index` nothing changed ≤ 0.3 s", six, "refresh_unchanged", 0.3
    )
    limit("6,000 notes: `kb index` nothing changed ≤ 1 s", six, "refresh_unchanged", 1.0)
    limit("6,000 notes: `kb index` after editing one note ≤ 1 s", six, "refresh_edit", 1.0)
    limit(
        "6,000 notes: `kb index` after adding + deleting a note ≤ 1 s",
        six,
        "refresh_add_delete",
        1.0,
    )
    limit("6,000 notes: `kb search WORD` whole process ≤ 0.35 s", six, "kb_search", 0.35)
    limit(
        "6,000 notes: `kb search` within 8× of `rg -i`",
        six,
        "kb_rg_ratio",
        8.0,
        "ratio",
        lambda v: f"{v:.1f}×",
    )
    t5, t20 = _value(five, "full_index"), _value(twenty, "full_index")
    name = (
        f"20,000 notes: full index grows no worse than linearly "
        f"(time per note ≤ {GROWTH_TOLERANCE}× that at 5,000)"
    )
    if t5 and t20:
        growth = (t20 / 20000) / (t5 / 5000)
        out.append(
            Target(
                name,
                f"{growth:.2f}× ({_seconds(t20)} vs {_seconds(t5)})",
                growth <= GROWTH_TOLERANCE,
            )
        )
    else:
        out.append(Target(name, "sizes not measured", None))
    for key, what in (("kb_search", "`kb search WORD` process"), ("search_p50", "in-process p50")):
        a, b = _value(one, key), _value(twenty, key)
        name = f"20,000 notes: search latency ≤ 1.5× that at 1,000 ({what})"
        if a and b:
            out.append(
                Target(name, f"{b / a:.2f}× ({b * 1000:.1f} vs {a * 1000:.1f} ms)", b / a <= 1.5)
            )
        else:
            out.append(Target(name, "sizes not measured", None))
    limit(
        "20,000 notes: peak memory of `kb index --full` ≤ 1 GB (all its processes together)",
        twenty,
        "full_index",
        1024.0,
        "tree_mb",
        lambda v: f"{v:.0f} MB",
    )
    return out


def _cell(size: dict, row: Row) -> str:
    fig = size["figures"].get(row.key)
    if fig is None:
        return "–"
    v = fig.get(row.field)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return fig.get("status") or "–"
    if row.unit == "s":
        return _seconds(v)
    if row.unit == "ms":
        p95 = fig.get("p95")
        return f"{v * 1000:.1f} / {p95 * 1000:.1f} ms" if p95 is not None else f"{v * 1000:.1f} ms"
    if row.unit == "x":
        return f"{v:.2f}×" if v < 1 else f"{v:.1f}×"
    if row.unit == "MB":
        largest = fig.get("peak_mb")
        return f"{v:.0f} MB ({largest:.0f})" if largest else f"{v:.0f} MB"
    return str(v)


_TARGET_OF = {
    "full_index": "≤ 20 s at 6,000",
    "tree_mb": "≤ 1 GB at 20,000",
    "refresh_unchanged": "≤ 1 s at 6,000",
    "refresh_edit": "≤ 1 s at 6,000",
    "refresh_add_delete": "≤ 1 s at 6,000",
    "kb_search": "≤ 0.35 s at 6,000; 20,000 ≤ 1.5× 1,000",
    "search_p50": "20,000 ≤ 1.5× 1,000",
    "kb_rg_ratio": "≤ 8× at 6,000",
}


def table(results: dict) -> str:
    """Rows = figures, columns = vaults, and the target each row is held to."""
    sizes = results["sizes"]
    head = ["figure"]
    for s in sizes:
        head.append(f"{s['notes']:,} notes" if s["generated"] else f"{s['label']} ({s['notes']:,})")
    head.append("target")
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * len(sizes) + "|---|"]
    vault_row = ["vault: MB, sections, links (broken)"]
    for s in sizes:
        c = s.get("counts") or {}
        vault_row.append(
            f"{s['megabytes']:.1f} MB, {c.get('sections', 0):,}, "
            f"{c.get('links', 0):,} ({c.get('broken_links', 0):,})"
        )
    lines.append("| " + " | ".join([*vault_row, ""]) + " |")
    for row in ROWS:
        target = _TARGET_OF.get(row.field if row.field == "tree_mb" else row.key, "")
        cells = [
            row.label.replace("  ", "&nbsp;&nbsp;", 1) if row.label.startswith("  ") else row.label
        ]
        cells += [_cell(s, row) for s in sizes]
        lines.append("| " + " | ".join([*cells, target]) + " |")
    return "\n".join(lines)


def targets_table(targets: list[Target]) -> str:
    lines = ["| target (issues 6 and 14) | measured | |", "|---|---|---|"]
    lines += [f"| {t.name} | {t.measured} | {t.verdict} |" for t in targets]
    return "\n".join(lines)


def machine_line(results: dict) -> str:
    m = results["machine"]
    before, after = results.get("load_before"), results.get("load_after")
    load = f"load average {'/'.join(map(str, before))} before"
    if after:
        load += f", {'/'.join(map(str, after))} after"
    return (
        f"{m['date']}: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB memory, "
        f"Python {m['python']}, {m['platform']}, kb {m['kb_commit']}; {load}"
    )


def markdown(results: dict, targets: list[Target], plot: str | None) -> str:
    s = results["settings"]
    tools = results["tools"]
    parts = [
        "# kb benchmark results",
        "",
        f"Produced by `{results['command']}` (from the repository root) on "
        + machine_line(results)
        + ".",
        "",
        f"Whole processes: median of {s['repeat']} run(s), wall time. Search in-process: "
        f"p50 / p95 over {s['search_rounds']} passes of the query set. Vaults: "
        + (
            f"`python -m bench.gen --notes N --seed {s['seed']}`."
            if s["sizes"]
            else "a copy of the vault given with --vault."
        )
        + f" ripgrep: {tools.get('rg') or 'not installed'}; obsidiantools: "
        f"{tools.get('obsidiantools') or 'not installed'} (run up to "
        f"{s['obsidiantools_max']:,} notes, killed after {s['obsidiantools_timeout']:.0f} s).",
        "",
    ]
    if plot:
        parts += [f"![kb's time against the number of notes]({plot})", ""]
    parts += [table(results), "", targets_table(targets), ""]
    if results.get("errors"):
        parts += ["Harness errors:", ""] + [f"- {e}" for e in results["errors"]] + [""]
    return "\n".join(parts)


PLOTTED = [
    ("full_index", "kb index --full", "o-"),
    ("refresh_edit", "kb index, one note edited", "s-"),
    ("kb_search", "kb search WORD (process)", "^-"),
    ("search_p50", "search in-process p50", "v--"),
    ("kb_show", "kb show TOPIC", "D-"),
    ("rg", "rg -i WORD", "x:"),
    ("obsidiantools", "obsidiantools gather()", "*:"),
]


def plot(results: dict, path: Path) -> tuple[str | None, str]:
    """Time against notes, log-log: (the file's name, "") or (None, why there is none)."""
    sizes = [s for s in results["sizes"] if s["generated"]]
    if not sizes:
        return None, ""  # --vault: one vault, nothing to draw against
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None, "matplotlib is not installed: pip install -e '.[bench]'"
    fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    first = _value(sizes[0], "full_index")
    if first and len(sizes) > 1:  # what linear growth from the smallest vault would look like
        ns = [s["notes"] for s in sizes]
        ax.plot(
            ns,
            [first * n / ns[0] for n in ns],
            color="grey",
            lw=0.8,
            ls="--",
            label="linear growth of kb index --full",
        )
    for key, label, style in PLOTTED:
        points = [(s["notes"], _value(s, key)) for s in sizes]
        points = [(n, v) for n, v in points if v]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, style, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    notes = [s["notes"] for s in sizes]
    ax.set_xticks(notes, [f"{n / 1000:g}k" if n >= 1000 else str(n) for n in notes])
    ax.minorticks_off()
    ax.set_xlabel("notes in the vault")
    ax.set_ylabel("seconds (median)")
    m = results["machine"]
    ax.set_title(f"kb: time against vault size ({m['cores']} cores, {m['date'][:10]})", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path.name, ""


def write(out: Path, results: dict) -> None:
    """results.json, speed.png and RESULTS.md in ``out``."""
    targets = evaluate(results)
    results["targets"] = [
        {"name": t.name, "measured": t.measured, "passed": t.passed} for t in targets
    ]
    picture, why = plot(results, out / "speed.png")
    results["plot"] = picture
    (out / "results.json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "RESULTS.md").write_text(markdown(results, targets, picture), encoding="utf-8")
    if why:
        import sys

        print(f"bench: no plot ({why})", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.report DIR``: write RESULTS.md and speed.png again from results.json."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__)
    parser.add_argument("out", type=Path, nargs="?", default=Path(__file__).with_name("results"))
    args = parser.parse_args(argv)
    write(args.out, json.loads((args.out / "results.json").read_text(encoding="utf-8")))


if __name__ == "__main__":
    main()
