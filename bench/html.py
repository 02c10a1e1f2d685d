"""Time `kb graph --all` on a real vault, then the page in headless Chromium, offline.

    python -m bench.html /path/to/vault [--runs 3] [--max-nodes 1500]

Needs Chromium and Playwright (the ``test`` extra; see README.md). Run from the repository
root, like the other bench modules.

Prints the export time (whole `kb graph` process) and, per run, the time from navigation
until the graph has settled (window.kbGraph.ready), with every non-file:// request blocked.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.browser_util import offline_browser, offline_page, wait_ready


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.html", description=__doc__.splitlines()[0]
    )
    parser.add_argument("vault", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-nodes", type=int, default=1500)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index_dir, out = Path(tmp) / "idx", Path(tmp) / "all.html"
        kb = [sys.executable, "-m", "kb", "--vault", str(args.vault), "--index-dir", str(index_dir)]
        subprocess.run([*kb, "index"], check=True, capture_output=True)
        start = time.perf_counter()
        done = subprocess.run(
            [*kb, "graph", "--all", "--max-nodes", str(args.max_nodes), "--out", str(out)],
            check=True,
            capture_output=True,
            text=True,
        )
        print(f"kb graph --all: {time.perf_counter() - start:.2f} s  {done.stdout.strip()}")
        print(f"page size: {out.stat().st_size / 1e6:.1f} MB")
        with offline_browser() as browser:
            for run in range(1, args.runs + 1):
                page, log = offline_page(browser)
                start = time.perf_counter()
                page.goto(out.as_uri())
                wait_ready(page, timeout_ms=120_000)
                settled = time.perf_counter() - start
                shown = page.evaluate("window.kbGraph.nodes.length")
                print(
                    f"run {run}: settled in {settled:.2f} s, {shown} nodes drawn, "
                    f"{len(log.blocked)} requests blocked, {len(log.dialogs)} dialogs"
                )
                if args.screenshot and run == 1:
                    page.screenshot(path=str(args.screenshot))
                page.close()


if __name__ == "__main__":
    main()
