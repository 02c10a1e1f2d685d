"""Time the concept graph's full build alone, after the store is read (no search index).

    python -m bench.graph_build VAULT [--index-dir DIR]

Compare two commits by running this from each checkout in turn, alternated, on one vault
(the README's Speed notes quote such runs on the 6,000-note bench vault). The index folder
is removed first and is a temporary one unless given.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.graph_build", description=__doc__.split("\n")[0]
    )
    p.add_argument("vault")
    p.add_argument("--index-dir")
    args = p.parse_args(argv)
    from kb import graph
    from kb.store import Store
    from kb.vault import find_vault

    folder = args.index_dir or tempfile.mkdtemp(prefix="kb-graph-build-")
    shutil.rmtree(folder, ignore_errors=True)
    try:
        vault = find_vault(args.vault, folder)
        store = Store(vault)
        store.refresh(full=True)
        start, cpu = time.perf_counter(), time.process_time()
        graph.sync(vault, store, full=True)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"graph build {wall:.2f} s ({cpu:.2f} s CPU: on a shared machine, compare this);"
            f" peak memory of the process {peak:.0f} MB (the store's parse included)"
        )
    finally:
        if not args.index_dir:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
