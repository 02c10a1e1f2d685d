"""Search quality on judged queries: MRR and hits@3 of ``kb search`` on the real vaults.

    python -m bench.judged                          # ../shared/vaults, data in /tmp/kb-judged
    python -m bench.judged --vaults DIR --data DIR  # elsewhere
    python -m bench.judged -v                       # and every query with its rank

The queries and the sections a person would want for each are in
``tests/fixtures/search/judged.tsv`` (written before the search was tuned). A query's rank is
that of its first wanted hit among the first :data:`DEPTH` hits (no rank when none is there);
MRR is the mean of 1/rank (0 without one), hits@3 the share of queries ranked 1 to 3. Each
vault is indexed (search index and graph: aliases come from the graph) into its own folder
under ``--data``, never inside the vault.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JUDGED = REPO / "tests" / "fixtures" / "search" / "judged.tsv"
DEPTH = 10
"""Hits looked at per query."""


@dataclass(frozen=True, slots=True)
class Judged:
    """One judged query."""

    vault: str
    """The name of a folder of ``--vaults``."""
    query: str
    wanted: tuple[tuple[str, int | None], ...]
    """(path, line of the section, or None for any section of the note)."""


@dataclass(frozen=True, slots=True)
class Ranked:
    judged: Judged
    rank: int | None
    """1-based rank of the first wanted hit, None when none is in the first :data:`DEPTH`."""
    top: tuple[str, ...]
    """``path:line`` of the first three hits, to see what came first instead."""


def read_judged(path: Path = JUDGED) -> list[Judged]:
    """The judged queries of a TSV file (``vault<TAB>query<TAB>path[:line] | …``)."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            vault, query, wanted = line.split("\t")
        except ValueError:
            raise SystemExit(f"{path}:{n}: want vault<TAB>query<TAB>sections") from None
        sections = []
        for item in wanted.split(" | "):
            head, sep, tail = item.strip().rpartition(":")
            if sep and tail.isdigit():
                sections.append((head, int(tail)))
            else:
                sections.append((item.strip(), None))
        out.append(Judged(vault, query, tuple(sections)))
    return out


def rank_of(judged: Judged, hits) -> int | None:
    """The rank of the first hit a person wanted, or None."""
    for i, hit in enumerate(hits[:DEPTH], 1):
        for path, line in judged.wanted:
            if hit.path == path and (line is None or hit.line == line):
                return i
    return None


def run(vaults: Path, data: Path, judged: list[Judged]) -> list[Ranked]:
    """Index each vault named in ``judged`` (into ``data/<name>``) and rank every query."""
    from kb import index
    from kb.refresh import update
    from kb.vault import find_vault

    out = []
    opened = {}
    for j in judged:
        if j.vault not in opened:
            vault = find_vault(str(vaults / j.vault), index_dir=str(data / j.vault))
            update(vault, search=True, graph=True)
            opened[j.vault] = vault
        hits = index.search(opened[j.vault], j.query, limit=DEPTH)
        out.append(Ranked(j, rank_of(j, hits), tuple(f"{h.path}:{h.line}" for h in hits[:3])))
    return out


def figures(ranked: list[Ranked]) -> tuple[float, float]:
    """(MRR, hits@3) of ranked queries."""
    if not ranked:
        return 0.0, 0.0
    mrr = sum(1 / r.rank for r in ranked if r.rank) / len(ranked)
    at3 = sum(1 for r in ranked if r.rank and r.rank <= 3) / len(ranked)
    return mrr, at3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vaults", type=Path, default=REPO.parent / "shared" / "vaults")
    parser.add_argument("--data", type=Path, default=Path("/tmp/kb-judged"))
    parser.add_argument("--judged", type=Path, default=JUDGED)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    judged = [j for j in read_judged(args.judged) if (args.vaults / j.vault).is_dir()]
    if not judged:
        print(f"no judged vault under {args.vaults}", file=sys.stderr)
        return 1
    ranked = run(args.vaults, args.data, judged)
    if args.verbose:
        for r in ranked:
            mark = f"{r.rank:>2}" if r.rank else " -"
            print(f"{mark}  {r.judged.vault:<12} {r.judged.query:<24} {' '.join(r.top[:1])}")
    for name in dict.fromkeys(r.judged.vault for r in ranked):
        mine = [r for r in ranked if r.judged.vault == name]
        mrr, at3 = figures(mine)
        print(f"{name:<12} {len(mine):>3} queries  MRR {mrr:.3f}  hits@3 {at3:.3f}")
    mrr, at3 = figures(ranked)
    print(f"{'all':<12} {len(ranked):>3} queries  MRR {mrr:.3f}  hits@3 {at3:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
