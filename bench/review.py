"""Draw a seeded sample of the concept graph's mention edges and topics, for a person to judge.

Issue 12 asks whether the graph is one a student would agree with: of 60 mention edges and 40
topics drawn at random from each vault's graph, how many are meaningful when you read the
sentence? This script draws the sample and scores the judgements.

    python -m bench.review draw  ../shared/vaults/d2l-zh  > tests/fixtures/review/d2l-zh.json
    python -m bench.review score tests/fixtures/review/*.json
    python -m bench.review draw  ../shared/vaults/d2l-zh --keep old.json > new.json  # redraw

``draw`` builds the vault's graph with its index in a temporary folder (nothing is written
into the vault) and prints JSON: each edge with the section's place, its heading path, the
topic it mentions and the evidence sentence; each topic with its name, kind, first
definition and snippet. A reviewer adds ``"meaningful": true/false`` (and a ``"why"``) to
each item. ``score`` prints, per file, the share judged meaningful, and exits 1 when an item
is not judged.

An edge is meaningful when a reader of the sentence agrees that the place talks about the
topic named (not a word inside another word, not markup, not a generic word). A topic is
meaningful when a student would call it a topic: a thing you could look up, not a sentence,
a step or a generic word.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

EDGES = 60
TOPICS = 40
SEED = 12
NEED = 0.85


def build(vault: Path, index_dir: Path):
    from kb.refresh import update
    from kb.vault import find_vault

    return update(find_vault(str(vault), str(index_dir)), load_graph=True).graph


def draw(vault: Path, seed: int = SEED, edges: int = EDGES, topics: int = TOPICS) -> dict:
    with tempfile.TemporaryDirectory(prefix="kb-review-") as tmp:
        kg = build(vault, Path(tmp))
        G = kg.graph
        mentions = sorted(
            (u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if d["kind"] == "mentions"
        )
        nodes = sorted(n for n, d in G.nodes(data=True) if d["kind"] in ("concept", "note"))
        out_edges = []
        for u, v, k in _drawn(mentions, edges, seed):
            d = G.edges[u, v, k]
            src = G.nodes[u]
            out_edges.append(
                {
                    "place": f"{d['path']}:{d['line']}",
                    "in": " › ".join(src.get("heading") or [src["label"]]),
                    "mentions": G.nodes[v]["label"],
                    "sentence": d["text"],
                }
            )
        out_topics = []
        for n in _drawn(nodes, topics, seed):
            a = G.nodes[n]
            out_topics.append(
                {
                    "topic": a["label"],
                    "kind": a["kind"],
                    "place": f"{a['path']}:{a['line']}",
                    "heading": " › ".join(a.get("heading") or []),
                    "snippet": a["snippet"],
                }
            )
    return {
        "vault": vault.name,
        "seed": seed,
        "drawn_from": {"mention_edges": len(mentions), "topics": len(nodes)},
        "edges": out_edges,
        "topics": out_topics,
    }


def _drawn(items: list, n: int, seed: int) -> list:
    """``n`` items drawn at random, seeded, and stable as the graph changes: each item's place
    in the draw is a hash of the seed and the item, so an item drawn before stays drawn
    unless new items hash lower (its judgement carries over with ``--keep``)."""

    def rank(item) -> str:
        return hashlib.sha256(f"{seed}:{item!r}".encode()).hexdigest()

    return sorted(items, key=rank)[:n]


def keep_judgements(sample: dict, judged: dict) -> int:
    """Copy ``meaningful``/``why`` from ``judged`` onto the items of ``sample`` that are the
    same (every field equal); returns how many were carried over."""
    carried = 0
    for part in ("edges", "topics"):
        seen = {_item_key(i): i for i in judged.get(part, []) if "meaningful" in i}
        for item in sample[part]:
            old = seen.get(_item_key(item))
            if old is not None and "meaningful" not in item:
                item["meaningful"] = old["meaningful"]
                if "why" in old:
                    item["why"] = old["why"]
                carried += 1
    return carried


def _item_key(item: dict) -> str:
    fields = {k: v for k, v in item.items() if k not in ("meaningful", "why")}
    return json.dumps(fields, sort_keys=True)


def score(path: Path) -> tuple[float, float, list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    missing = [
        f"{path.name}: {part} #{i}"
        for part in ("edges", "topics")
        for i, item in enumerate(data[part])
        if not isinstance(item.get("meaningful"), bool)
    ]

    def share(part: str) -> float:
        items = data[part]
        return sum(bool(i.get("meaningful")) for i in items) / len(items) if items else 1.0

    return share("edges"), share("topics"), missing


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.review", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("draw", help="print a sample of a vault's graph as JSON")
    d.add_argument("vault", type=Path)
    d.add_argument("--seed", type=int, default=SEED)
    d.add_argument(
        "--keep",
        type=Path,
        action="append",
        help="a judged sample (repeatable): its judgements of items drawn again carry over",
    )
    s = sub.add_parser("score", help="the share judged meaningful in judged sample files")
    s.add_argument("files", type=Path, nargs="+")
    args = p.parse_args(argv)
    if args.cmd == "draw":
        sample = draw(args.vault, args.seed)
        for kept in args.keep or []:
            carried = keep_judgements(sample, json.loads(kept.read_text(encoding="utf-8")))
            print(f"{carried} judgements carried over from {kept}", file=sys.stderr)
        json.dump(sample, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    bad = False
    for f in args.files:
        edges, topics, missing = score(f)
        ok = edges >= NEED and topics >= NEED and not missing
        bad |= not ok
        print(
            f"{f.name}: {edges:.0%} of edges and {topics:.0%} of topics meaningful "
            f"(need {NEED:.0%}){'' if not missing else f'; {len(missing)} not judged'}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
