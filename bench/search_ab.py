"""``kb search WORD`` as a whole process, two versions of kb side by side (interleaved).

    git archive main --prefix=old/ | tar -x -C /tmp/ab
    python -m bench.search_ab /tmp/bench-6k --index-dir /tmp/bench-6k-data \\
        --old /tmp/ab/old --new . --rounds 5

Each round runs every word with each version (the order swapped every other round, so a
busy moment of a shared machine falls on both); prints the median and mean CPU time (user +
system of the process) and the median wall time, then each word's median CPU time. Each kb
runs in its own checkout (``python -m kb`` takes the kb of the current folder before
PYTHONPATH's: run from the repository, both would be that one).

Both versions must read the same index (same ``INDEX_VERSION``): the first run of either
builds it otherwise. With ``--no-refresh`` neither reads the notes first: one way to compare
versions whose note stores differ (another ``kb.store.SCHEMA`` empties the store and reads
every note again, in every run of either); the other, ``--old-index-dir``: the old version
reads its own copy of the data folder (``cp -r``, then one run of the old kb, or better its
``kb index --full``, so that both indexes are built alike).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys

WORDS = ("gradient", "transformer", "卷积", "注意力", "dropout", "norm", "batch normalization")
"""The bench vault's probe words (bench.probe) and two that prefixes and other names expand."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("vault")
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--old", required=True, help="a checkout of the old kb")
    parser.add_argument("--new", required=True, help="a checkout of the new kb")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--old-index-dir", help="the old version's own data folder")
    parser.add_argument(
        "--no-refresh", action="store_true", help="kb search --no-refresh (stores of two schemas)"
    )
    args = parser.parse_args(argv)
    full = os.path.abspath  # each kb runs in its checkout: paths given relative to here
    codes = {"old": full(args.old), "new": full(args.new)}
    data = {"old": full(args.old_index_dir or args.index_dir), "new": full(args.index_dir)}
    wall: dict[str, list[float]] = {k: [] for k in codes}
    cpu: dict[str, list[float]] = {k: [] for k in codes}
    by_word: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for word in WORDS:
            order = list(codes.items()) if r % 2 == 0 else list(codes.items())[::-1]
            for name, path in order:
                cmd = [sys.executable, "-m", "kb", "--vault", full(args.vault)]
                cmd += ["--index-dir", data[name], "search", word]
                cmd += ["--no-refresh"] if args.no_refresh else []
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = os.times().elapsed
                subprocess.run(
                    cmd,
                    # In the checkout: ``python -m`` puts the current folder first on sys.path,
                    # before PYTHONPATH, so run from elsewhere both would run the kb found there.
                    cwd=path,
                    env=dict(os.environ, PYTHONPATH=path),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
                wall[name].append(os.times().elapsed - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                cpu[name].append(used)
                by_word.setdefault((name, word), []).append(used)
    for name in codes:
        print(
            f"{name}: kb search x{len(cpu[name])}: CPU median {statistics.median(cpu[name]):.3f} s,"
            f" mean {statistics.mean(cpu[name]):.3f} s; wall median "
            f"{statistics.median(wall[name]):.3f} s"
        )
    for name in codes:
        medians = (f"{w} {statistics.median(by_word[name, w]):.3f}" for w in WORDS)
        print(f"{name}: CPU median per word: " + ", ".join(medians))
    return 0


if __name__ == "__main__":
    sys.exit(main())
