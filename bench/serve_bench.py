"""Time `kb serve` on a vault: the page in headless Chromium and /api/search at the API.

    python -m bench.serve_bench VAULT [--index-dir DIR] [--runs 5] [--rounds 20]

Starts a real server (``kb --vault VAULT [--index-dir DIR] serve --port 0``), then prints:

- page ready: from navigation until the page has drawn its first view (``kbApp.ready``),
  for the bare page and for ``/#topic=HUB`` (a topic card and the graph around it), in
  headless Chromium (/usr/bin/chromium) with every request to another origin blocked;
- /api/search latency, median and p90, over a fixed set of queries (those bench/run.py
  uses: the generator's for a ``python -m bench.gen`` vault, else words picked from the
  vault), each asked ``--rounds`` times over HTTP, the first round (cold) counted apart.

kb writes its data to DIR (or the vault's .kb/); give a copy of an index you must keep.
Run from the repository root, like the other bench modules.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from tests.browser_util import offline_browser
from tests.serve_util import running


def queries(vault: Path, data_dir: Path) -> tuple[list[str], str]:
    """The bench's queries and a well-linked topic for this vault (as bench/run.py picks them)."""
    from bench import gen, probe

    if any(vault.rglob(f"{gen.GRAPH_TOPIC}.md")):  # made by python -m bench.gen
        p = probe.generated(vault)
    else:
        p = probe.derived(vault, data_dir)
    return list(p.queries), p.graph


def only_from(own: str):
    """A Playwright route handler letting through requests to ``own`` only."""

    def route(r) -> None:
        if r.request.url.startswith(own):
            r.continue_()
        else:
            r.abort()

    return route


def p90(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serve_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("vault", type=Path)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--runs", type=int, default=5, help="page loads of each kind")
    parser.add_argument("--rounds", type=int, default=20, help="times each query is asked")
    args = parser.parse_args()
    extra = ["--index-dir", str(args.index_dir)] if args.index_dir else []
    data_dir = args.index_dir or args.vault / ".kb"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with running(args.vault, Path(tmp) / "serve.err", *extra, timeout=1800) as server:
            print(f"server up in {time.perf_counter() - start:.1f} s: {server.url}")
            qs, hub = queries(args.vault, data_dir)
            status, card = server.get("/api/topic/" + quote(hub, safe=""))
            topic = card["id"] if status == 200 else None
            with offline_browser() as browser:
                for label, path in (("page", "/"), (f"page #topic={hub}", f"/#topic={topic}")):
                    if path != "/" and topic is None:
                        continue
                    times = []
                    for _ in range(args.runs):
                        page = browser.new_page(viewport={"width": 1500, "height": 900})
                        page.route("**/*", only_from(server.url.rstrip("/")))
                        t = time.perf_counter()
                        page.goto(server.url.rstrip("/") + path)
                        page.wait_for_function(
                            "() => window.kbApp && window.kbApp.ready", timeout=60_000
                        )
                        times.append(time.perf_counter() - t)
                        page.close()
                    print(
                        f"{label}: ready in median {statistics.median(times) * 1000:.0f} ms, "
                        f"max {max(times) * 1000:.0f} ms over {len(times)} loads"
                    )
            cold: list[float] = []
            warm: list[float] = []
            per_query: dict[str, list[float]] = {q: [] for q in qs}
            for round_ in range(args.rounds):
                for q in qs:
                    t = time.perf_counter()
                    status, _, _ = server.request("/api/search?limit=20&q=" + quote(q))
                    ms = (time.perf_counter() - t) * 1000
                    assert status == 200, (q, status)
                    (cold if round_ == 0 else warm).append(ms)
                    per_query[q].append(ms)
            print(
                f"/api/search over {len(qs)} queries x {args.rounds}: median "
                f"{statistics.median(warm):.1f} ms, p90 {p90(warm):.1f} ms "
                f"(first round: median {statistics.median(cold):.1f} ms, p90 {p90(cold):.1f} ms)"
            )
            for q, ms in per_query.items():
                print(f"    {statistics.median(ms):7.1f} ms  {q}")


if __name__ == "__main__":
    main()
