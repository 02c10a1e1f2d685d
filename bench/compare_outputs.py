"""Run the same kb commands with two checkouts of kb on copies of a vault and diff what they print.

For a change that must not alter what kb answers (a new storage, a refactor): every command's
``--json`` output, on the same vault, before and after.

    python -m bench.compare_outputs --old ../base --new . ../shared/vaults/d2l-zh [more vaults]

Each checkout runs in its own copy of the vault (its own ``.kb/``), with the interpreter that
runs this script. Topics are picked from the vault itself: the notes' file names and the
best-known concepts of the old checkout's ``kb stats``. Prints one line per command that
differs (and the first differing lines); exits 1 when any does.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def run(checkout: Path, vault: Path, args: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(checkout), "NO_COLOR": "1"}
    env.pop("KB_VAULT", None)
    env.pop("KB_INDEX_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "kb", "--vault", str(vault), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=checkout,  # (`python -m` puts the working folder first on sys.path)
        timeout=1800,
    )
    return f"exit {done.returncode}\n{done.stdout}"


def topics_of(vault: Path, n: int) -> list[str]:
    names = sorted(
        p.stem for p in vault.rglob("*.md") if ".kb" not in p.parts and not p.name.startswith(".")
    )
    step = max(1, len(names) // n)
    return names[::step][:n]


def commands(topics: list[str]) -> list[list[str]]:
    out = [["tags", "--json"], ["orphans", "--json"], ["doctor", "--json", "-n", "0"]]
    for t in topics:
        out.append(["show", t, "--json"])
        out.append(["neighbors", t, "--json"])
    for a, b in zip(topics, topics[1:], strict=False):
        out.append(["path", a, b, "--json"])
    if topics:
        out.append(["graph", "--topic", topics[0], "--format", "json", "--out", "-"])
    return out


def normalised(text: str) -> str:
    """JSON output pretty-printed with sorted keys (and timings dropped) so a diff reads."""
    head, _, body = text.partition("\n")
    try:
        value = json.loads(body)
    except ValueError:
        return text
    if isinstance(value, dict):
        value.pop("seconds", None)
    return head + "\n" + json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", type=Path, required=True, help="checkout of kb before the change")
    ap.add_argument("--new", type=Path, required=True, help="checkout of kb after the change")
    ap.add_argument("--topics", type=int, default=12, help="topics per vault")
    ap.add_argument("vaults", type=Path, nargs="+")
    opts = ap.parse_args()
    differ = 0
    total = 0
    with tempfile.TemporaryDirectory(prefix="kb-compare-") as tmp:
        for vault in opts.vaults:
            copies = {}
            for side in ("old", "new"):
                copies[side] = Path(tmp) / side / vault.name
                shutil.copytree(vault, copies[side], ignore=shutil.ignore_patterns(".kb"))
                run(getattr(opts, side).resolve(), copies[side], ["index"])
            for args in commands(topics_of(vault, opts.topics)):
                total += 1
                old = normalised(run(opts.old.resolve(), copies["old"], args))
                new = normalised(run(opts.new.resolve(), copies["new"], args))
                if old != new:
                    differ += 1
                    print(f"DIFFERS {vault.name}: kb {' '.join(args)}")
                    diff = difflib.unified_diff(
                        old.splitlines(), new.splitlines(), "old", "new", lineterm="", n=1
                    )
                    for line in list(diff)[2:14]:
                        print("    " + line)
    print(f"{differ} of {total} commands differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
