"""How long `kb serve` and `kb mcp` take to catch up with one edit: kb.session.Session.fresh()
in one process, with nothing changed and right after a note is appended to.

    python -m bench.session_edit VAULT --index-dir DIR [--runs 3]

VAULT must be a copy kb may write into; its index should exist (run `kb index` once).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from kb.session import Session
from kb.vault import find_vault


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vault", type=Path)
    ap.add_argument("--index-dir", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    session = Session(find_vault(str(args.vault), str(args.index_dir)))
    start = time.perf_counter()
    session.fresh()
    print(f"first refresh {time.perf_counter() - start:.2f} s")
    notes = sorted(p for p in args.vault.rglob("*.md") if ".kb" not in p.parts)
    note = notes[len(notes) // 2]
    for i in range(args.runs):
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
