"""Time `kb mcp` tool calls as an assistant makes them: one server, many calls.

    python -m bench.mcp_call VAULT [--index-dir DIR] [-n 20]
    python -m bench.mcp_call --notes 6000            # the generated bench vault, cached
    python -m bench.mcp_call --notes 6000 --cpu      # CPU ms of the server's own work

Starts `kb --vault VAULT mcp` with the SDK's stdio client, makes each tool's call once (the
first call reads the vault and loads what the server keeps), then times ``-n`` more calls of
each and prints the first call's time, the median and the 90th percentile, in milliseconds,
as the client sees them (JSON-RPC over pipes included). ``list_tags`` and ``vault_health``
are whole-vault reports the server makes once per state of the vault: their first call is
the one that computes. Every call still checks the vault for changed notes. The
With ``--cpu`` the server is built in this process and each call's CPU time is
timed instead (no pipes, no client): what a call costs the server, whatever else the machine
is doing, as wall times on a busy machine are not. The
topics are :mod:`bench.gen`'s, which every generated vault holds; pass --topic and --to for a
real vault.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import gen


def calls(topic: str, other: str, word: str) -> list[tuple[str, dict]]:
    return [
        ("search", {"query": word, "limit": 10}),
        ("show_topic", {"topic": topic}),
        ("find_path", {"from_topic": other, "to_topic": topic}),
        ("neighbors", {"topic": topic, "depth": 1}),
        ("related_notes", {"note": topic, "limit": 10}),
        ("read_note", {"path": "", "heading": None}),  # the path: the first search hit's
        ("list_tags", {}),
        ("vault_health", {}),
    ]


async def run(
    args: argparse.Namespace, vault: Path
) -> tuple[dict[str, float], dict[str, list[float]]]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    repo = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", "")}
    kb_args = ["-m", "kb", "--vault", str(vault)]
    if args.index_dir:
        kb_args += ["--index-dir", args.index_dir]
    params = StdioServerParameters(command=sys.executable, args=[*kb_args, "mcp"], env=env)
    times: dict[str, list[float]] = {}
    firsts: dict[str, float] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        start = time.perf_counter()
        first = await session.call_tool("search", {"query": args.word, "limit": 1})
        print(f"first call (reads the vault): {(time.perf_counter() - start) * 1000:.0f} ms")
        note = first.structured_content["hits"][0]["path"]
        for name, arguments in calls(args.topic, args.to, args.word):
            if name == "read_note":
                arguments = {"path": note}
            start = time.perf_counter()
            result = await session.call_tool(name, arguments)  # warm: what this tool loads
            firsts[name] = (time.perf_counter() - start) * 1000
            if result.is_error:
                raise SystemExit(f"{name} {arguments}: {result.content[0].text}")
            for _ in range(args.n):
                start = time.perf_counter()
                await session.call_tool(name, arguments)
                times.setdefault(name, []).append((time.perf_counter() - start) * 1000)
    return firsts, times


async def run_in_process(
    args: argparse.Namespace, vault: Path
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """:func:`run`'s calls on the server object in this process, timed in CPU ms."""
    from kb import mcp_server
    from kb.vault import find_vault

    server = mcp_server.build(find_vault(str(vault), args.index_dir, environ={}))
    first = await server.call_tool("search", {"query": args.word, "limit": 1})
    note = first.structured_content["hits"][0]["path"]
    times: dict[str, list[float]] = {}
    firsts: dict[str, float] = {}
    for name, arguments in calls(args.topic, args.to, args.word):
        if name == "read_note":
            arguments = {"path": note}
        start = time.process_time()
        await server.call_tool(name, arguments)
        firsts[name] = (time.process_time() - start) * 1000
        for _ in range(args.n):
            start = time.process_time()
            await server.call_tool(name, arguments)
            times.setdefault(name, []).append((time.process_time() - start) * 1000)
    return firsts, times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.mcp_call", description=__doc__.split("\n")[0])
    p.add_argument("vault", nargs="?", help="the vault (default: the generated one of --notes)")
    p.add_argument("--notes", type=int, default=6000, help="notes of the generated vault")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "kb-bench-cache")
    p.add_argument("--index-dir", help="kb's data folder (for a vault kb must not write in)")
    p.add_argument("-n", type=int, default=20, help="timed calls of each tool (default 20)")
    p.add_argument("--topic", default=gen.GRAPH_TOPIC)
    p.add_argument("--to", default=gen.PATH_TOPICS[0], help="the other end of find_path")
    p.add_argument("--word", default=gen.SEARCH_WORDS[0], help="the search query")
    p.add_argument("--cpu", action="store_true", help="CPU ms of each call, in this process")
    args = p.parse_args(argv)
    if args.vault:
        vault = Path(args.vault)
    else:
        from bench.run import cached_vault

        vault = cached_vault(args.cache, args.notes, 1, lambda s: print(s, file=sys.stderr))
    import anyio

    firsts, times = anyio.run(run_in_process if args.cpu else run, args, vault)
    unit = "CPU ms in process" if args.cpu else "ms"
    head = f"{'tool':<14} {'first':>8} {'median':>8} {'p90':>8}"
    print(f"{head}  ({unit}; {args.n} calls each; {vault})")
    for name, ts in times.items():
        p90 = statistics.quantiles(ts, n=10)[-1] if len(ts) > 1 else ts[0]
        print(f"{name:<14} {firsts[name]:>8.1f} {statistics.median(ts):>8.1f} {p90:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
