"""``kb search WORD`` as a whole process, two versions of kb side by side (interleaved).

    git archive main --prefix=old/ | tar -x -C /tmp/ab
    python -m bench.search_ab /tmp/bench-6k --index-dir /tmp/bench-6k-data \\
        --old /tmp/ab/old --new . --rounds 5

Each round runs every word with each version (the order swapped every other round, so a
busy moment of a shared machine falls on both); prints the median and mean CPU time (user +
system of the process) and the median wall time. Both versions must read the same index
(same ``INDEX_VERSION``): the first run of either builds it otherwise.
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
    args = parser.parse_args(argv)
    codes = {"old": args.old, "new": args.new}
    wall: dict[str, list[float]] = {k: [] for k in codes}
    cpu: dict[str, list[float]] = {k: [] for k in codes}
    for r in range(args.rounds):
        for word in WORDS:
            order = list(codes.items()) if r % 2 == 0 else list(codes.items())[::-1]
            for name, path in order:
                cmd = [sys.executable, "-m", "kb", "--vault", args.vault]
                cmd += ["--index-dir", args.index_dir, "search", word]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = os.times().elapsed
                subprocess.run(
                    cmd,
                    env=dict(os.environ, PYTHONPATH=path),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
                wall[name].append(os.times().elapsed - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                cpu[name].append(used)
    for name in codes:
        print(
            f"{name}: kb search x{len(cpu[name])}: CPU median {statistics.median(cpu[name]):.3f} s,"
            f" mean {statistics.mean(cpu[name]):.3f} s; wall median "
            f"{statistics.median(wall[name]):.3f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
