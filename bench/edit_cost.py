"""What an edit costs: whole `kb index` processes with nothing changed, after one note is
edited, and after one note is added and another deleted, in wall and CPU seconds; or, with
``--session``, how long `kb serve` and `kb mcp` take to catch up with one edit
(kb.session.Session.fresh() in this process).

    python -m bench.edit_cost VAULT --index-dir DIR [--runs 3] [--session]

VAULT must be a copy kb may write into (a note is appended to, one added and removed); its
index must exist (run `kb index` once). CPU is the child's user + system time, which a busy
machine inflates far less than the wall clock. Prints one line per run and the medians.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def run_index(vault: Path, index_dir: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of one `kb index` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kb", "--vault", str(vault), "--index-dir", str(index_dir), "index"],
        check=True,
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vault", type=Path)
    ap.add_argument("--index-dir", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--session", action="store_true", help="time Session.fresh() instead")
    args = ap.parse_args()
    notes = sorted(p for p in args.vault.rglob("*.md") if ".kb" not in p.parts)
    if not notes:
        sys.exit(f"no notes in {args.vault}")
    if args.session:
        session_edit(args.vault, args.index_dir, notes[len(notes) // 2], args.runs)
        return
    edited, added = notes[len(notes) // 2], args.vault / "bench-edit-cost-added.md"
    results: dict[str, list[tuple[float, float]]] = {"nothing": [], "edit": [], "add+delete": []}
    run_index(args.vault, args.index_dir)  # caught up before the first measure
    for i in range(args.runs):
        results["nothing"].append(run_index(args.vault, args.index_dir))
        with edited.open("a", encoding="utf-8") as fh:
            fh.write(f"\nOne more sentence about dropout and ReLU ({i}).\n")
        results["edit"].append(run_index(args.vault, args.index_dir))
        added.write_text(f"# Bench added {i}\n\nA new note about attention.\n", "utf-8")
        if i:
            (args.vault / f"bench-edit-cost-{i - 1}.md").unlink(missing_ok=True)
        added.rename(args.vault / f"bench-edit-cost-{i}.md")
        results["add+delete"].append(run_index(args.vault, args.index_dir))
    (args.vault / f"bench-edit-cost-{args.runs - 1}.md").unlink(missing_ok=True)
    run_index(args.vault, args.index_dir)
    for what, runs in results.items():
        walls = ", ".join(f"{w:.2f}" for w, _ in runs)
        cpus = ", ".join(f"{c:.2f}" for _, c in runs)
        print(
            f"{what:<11} wall {statistics.median(w for w, _ in runs):.2f} s ({walls}); "
            f"CPU {statistics.median(c for _, c in runs):.2f} s ({cpus})"
        )
    print(f"load average after: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


def session_edit(vault: Path, index_dir: Path, note: Path, runs: int) -> None:
    """Session.fresh() with nothing changed and right after ``note`` is appended to."""
    from kb.session import Session
    from kb.vault import find_vault

    session = Session(find_vault(str(vault), str(index_dir)))
    start = time.perf_counter()
    session.fresh()
    print(f"first refresh {time.perf_counter() - start:.2f} s")
    for i in range(runs):
        start = time.perf_counter()
        session.fresh()
        nothing = time.perf_counter() - start
        with note.open("a", encoding="utf-8") as fh:
            fh.write(f"\nA sentence about dropout ({i}).\n")
        cpu, start = time.process_time(), time.perf_counter()
        session.fresh()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"nothing changed {nothing:.3f} s; after an edit {wall:.2f} s wall, {cpu:.2f} s CPU")
    session.close()
    print(f"load average after: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
