"""Where the time of ``kb index --full`` goes: each stage run on its own, in one process.

    python -m bench.stages VAULT [--json]

With kb's data in a new temporary folder, runs one after the other what ``kb index --full``
runs (partly side by side) and prints each stage's wall time and CPU time (this process and
the workers it waited for):

- ``scan``: :meth:`kb.vault.Vault.scan`, a stat of every note file;
- ``parse``: :meth:`kb.store.Store.refresh` less its scan: read, parse (markdown-it-py, in
  worker processes), write notes.sqlite;
- ``analyse``: the search index's documents handed to whoosh (``kb.index.documents`` and
  ``add_document``: kb.analysis's words, and whoosh's in-memory postings), one writer;
- ``write``: whoosh's commit of that writer (sorting and writing the postings);
- ``graph``: :func:`kb.graph.sync` from nothing.

A stage that grows shows which part of kb a regression is in. The sum is more than
``kb index --full``'s wall time: there the search index and the graph are built at once.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

STAGES = ("scan", "parse", "analyse", "write", "graph")


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    out = fn()
    return out, time.perf_counter() - wall, _cpu() - cpu


def measure(root: Path) -> dict[str, dict[str, float]]:
    """{stage: {"seconds": wall, "cpu": CPU seconds}} for a vault (its files are only read)."""
    from kb import graph, index
    from kb.store import Store
    from kb.vault import Vault

    out: dict[str, dict[str, float]] = {}
    data = Path(tempfile.mkdtemp(prefix="kb-bench-stages-"))
    try:
        vault = Vault(root=root, data_dir=data)
        _, wall, cpu = _timed(vault.scan)
        out["scan"] = {"seconds": wall, "cpu": cpu}
        store = Store(vault)
        _, wall, cpu = _timed(store.refresh)
        out["parse"] = {
            "seconds": max(0.0, wall - out["scan"]["seconds"]),
            "cpu": max(0.0, cpu - out["scan"]["cpu"]),
        }
        vault.ensure_data_dir()
        folder = data / "stages-index"
        folder.mkdir()
        from kb import whoosh_safe

        ix = whoosh_safe.create_in(str(folder), index._schema())
        writer = ix.writer(limitmb=512, compound=False)
        paths = sorted(store.hashes())

        def analyse() -> None:
            for _path, note in index._notes_in_batches(store, paths):
                for doc in index.documents(note):
                    writer.add_document(**doc)

        _, wall, cpu = _timed(analyse)
        out["analyse"] = {"seconds": wall, "cpu": cpu}
        _, wall, cpu = _timed(writer.commit)
        out["write"] = {"seconds": wall, "cpu": cpu}
        _, wall, cpu = _timed(lambda: graph.sync(vault, store, full=True))
        out["graph"] = {"seconds": wall, "cpu": cpu}
        store.close()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return {k: {f: round(v, 3) for f, v in fig.items()} for k, fig in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.splitlines()[0])
    ap.add_argument("vault", type=Path)
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args(argv)
    stages = measure(args.vault.resolve())
    if args.json:
        print(json.dumps(stages))
    else:
        for name, fig in stages.items():
            print(f"{name:8} {fig['seconds']:8.2f} s wall {fig['cpu']:8.2f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
