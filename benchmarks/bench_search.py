"""Benchmark kb's search on a big vault: full index, refreshes, and `kb search` as a process.

    python benchmarks/make_vault.py /tmp/kb-bench-vault      # ~6,000 notes / ~15 MB
    python benchmarks/bench_search.py /tmp/kb-bench-vault     # prints a Markdown table

kb's data goes to a temporary folder (or --data DIR), never into the vault.
Each timing is the median of --runs runs; wall-clock time and CPU time (user +
system, the process and its children) are both shown, as other work on the
machine inflates the first but hardly the second.

Targets (2-core machine): full index <= 20 s; refresh with nothing changed <= 1 s;
refresh after editing one note <= 1 s; `kb search WORD` as a whole process <= 0.35 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUERIES = ["relu", "convolution", "残差网络", "批量规范化", '"soft target"', "yolov3"]
HEAVY = ("networkx", "pyvis", "markdown_it", "rjieba")


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), _cpu()
    result = fn()
    return time.perf_counter() - wall, _cpu() - cpu, result


def median_of(runs: int, fn) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu, _ = timed(fn)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def kb_command(vault: Path, data: Path, *args: str) -> list[str]:
    script = Path(sys.executable).with_name("kb")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "kb"]
    return [*base, "--vault", str(vault), "--index-dir", str(data), *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("vault", type=Path)
    parser.add_argument("--data", type=Path, help="kb's data folder (default: a temporary one)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from kb import index
    from kb.store import Store
    from kb.vault import Vault

    vault_root = args.vault.resolve()
    data = args.data or Path(tempfile.mkdtemp(prefix="kb-bench-data-"))
    if data.exists() and any(data.iterdir()):
        if not ((data / "notes.sqlite").exists() or (data / "search").exists()):
            sys.exit(f"{data} is not empty and not kb's data folder: give another --data")
        shutil.rmtree(data)  # a previous run's data: start from nothing
    vault = Vault(root=vault_root, data_dir=data)
    files = list(vault_root.rglob("*.md"))
    size = sum(f.stat().st_size for f in files)
    rows: list[tuple[str, float, float, str]] = []

    # 1. Full index: what `kb index --full` does for search (the graph is not timed here).
    store = Store(vault)
    wall_r, cpu_r, changes = timed(lambda: store.refresh(full=True))
    wall_i, cpu_i, result = timed(lambda: index.sync(vault, store, full=True))
    store.close()
    rows.append(
        ("store.refresh(full=True): read and parse", wall_r, cpu_r, f"{len(changes.added)} notes")
    )
    rows.append(
        ("index.sync(full=True): whoosh index", wall_i, cpu_i, f"{result.sections} sections")
    )
    rows.append(("**full index (sum)**", wall_r + wall_i, cpu_r + cpu_i, "target <= 20 s"))

    # 2. Refresh with nothing changed (a new Store each time, as a new process would have).
    def unchanged():
        s = Store(vault)
        s.refresh()
        index.sync(vault, s)
        s.close()

    wall, cpu = median_of(args.runs, unchanged)
    rows.append(("refresh + sync, nothing changed", wall, cpu, "target <= 1 s"))

    # 3. Refresh after editing one note.
    # A note with Chinese in it, so that indexing it pays for loading jieba.
    from kb.analysis import has_cjk

    middle = sorted(files)[len(files) // 2 :]
    note = next(f for f in middle if has_cjk(f.read_text(encoding="utf-8", errors="replace")))
    original = note.read_bytes()

    def edit_one():
        note.write_bytes(original + f"\n\nedited {time.time_ns()}\n".encode())
        s = Store(vault)
        s.refresh()
        index.sync(vault, s)
        s.close()

    try:
        wall, cpu = median_of(args.runs, edit_one)
    finally:
        note.write_bytes(original)
        unchanged()
    rows.append(("refresh + sync, one note edited", wall, cpu, "target <= 1 s"))

    # 4. `kb search WORD` as a whole process (Python start-up, refresh, search, print).
    for query in QUERIES:
        command = kb_command(vault_root, data, "search", query)
        wall, cpu = median_of(
            args.runs, lambda c=command: subprocess.run(c, capture_output=True, check=False)
        )
        rows.append((f"`kb search {query}` (process)", wall, cpu, "target <= 0.35 s"))

    # 5. `kb search` as a process right after a note was edited: it parses the note
    # (markdown-it) and indexes it (jieba) before searching.
    command = kb_command(vault_root, data, "search", "relu")

    def edit_then_search():
        note.write_bytes(original + f"\n\nedited {time.time_ns()}\n".encode())
        subprocess.run(command, capture_output=True, check=False)

    try:
        wall, cpu = median_of(args.runs, edit_then_search)
    finally:
        note.write_bytes(original)
        unchanged()
    rows.append(("`kb search relu` (process) after editing one note", wall, cpu, "target <= 1 s"))

    # 6. What `kb search` imports.
    probe = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "kb",
            "--vault",
            str(vault_root),
            "--index-dir",
            str(data),
            "search",
            "relu",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    modules = {line.rsplit("|", 1)[-1].strip() for line in probe.stderr.splitlines()}
    imported = sorted({m.split(".")[0] for m in modules} & set(HEAVY))

    print(f"Vault: {len(files)} notes, {size / 1e6:.1f} MB ({vault_root})  ")
    print(
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f} at the end  "
    )
    print(f"Median of {args.runs} runs (full index: one run)\n")
    print("| step | wall s | CPU s | notes |")
    print("|---|---:|---:|---|")
    for name, wall, cpu, note_ in rows:
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {note_} |")
    print(f"\nHeavy modules imported by `kb search relu`: {', '.join(imported) or 'none'}")
    if not args.data:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
