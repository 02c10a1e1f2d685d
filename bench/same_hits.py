"""Record, or check, the hits and scores of a fixed list of 50 queries: for a change that must
not alter what ``kb search`` finds (a new index layout, a faster writer).

    python -m bench.same_hits record ../shared/vaults/d2l-zh /tmp/before-d2l.json
    python -m bench.same_hits check  ../shared/vaults/d2l-zh /tmp/before-d2l.json

Each run indexes a temporary copy of the vault from nothing (``kb index --full`` in
process, kb's data in a temporary folder), then runs every query of :data:`QUERIES` with
``kb.index.search(limit=20)`` and keeps each hit's path, line, heading, score and snippet.
``check`` prints the first differences and exits 1 when any query differs (and saves its
own hits beside FILE, as ``<FILE>.after.json``). Hits whose scores tie may come in another
order when the index's segments change, so each query's hits are compared sorted by
(score, path, line); in a full list (20 hits) the hits tied with the last may be others of
the same score (see :func:`_same`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

QUERIES: tuple[str, ...] = (
    # English words, frequent and rare
    "gradient",
    "transformer",
    "dropout",
    "attention",
    "learning",
    "model",
    "network",
    "softmax",
    "convolution",
    "optimizer",
    "batch",
    "embedding",
    "recurrent",
    "kernel",
    "pooling",
    "foam",
    "markdown",
    "wikilinks",
    "template",
    "graph",
    # Chinese words
    "卷积",
    "注意力",
    "梯度",
    "模型",
    "训练",
    "神经网络",
    "残差",
    "学习率",
    "损失函数",
    "批量规范化",
    # phrases, OR, NOT, prefixes, fuzzy
    '"learning rate"',
    '"neural network"',
    '"梯度下降"',
    "dropout OR 残差",
    "attention -transformer",
    "optim*",
    "conv*",
    "relo~",
    "卷积 attention",
    "gradient descent",
    # filters
    "tag:ml/cnn attention",
    "path:topics/ 梯度",
    "path:chapter_convolutional-modern 卷积",
    "title:transformer",
    "section:练习",
    "section:exercises",
    "tag:ml",
    "file:index",
    "title:dropout",
    "path:user/ markdown",
)
assert len(QUERIES) == 50, len(QUERIES)


def hits_of(vault_root: Path) -> dict[str, list[list]]:
    """The hits of every query on a fresh index of a copy of the vault."""
    from kb import index
    from kb.errors import KbError
    from kb.refresh import update
    from kb.vault import Vault

    with tempfile.TemporaryDirectory(prefix="kb-same-hits-") as tmp:
        root = Path(tmp) / "vault"
        shutil.copytree(vault_root, root, ignore=shutil.ignore_patterns(".kb", ".git"))
        vault = Vault(root=root, data_dir=Path(tmp) / "data")
        update(vault, search=True, full=True)
        out: dict[str, list[list]] = {}
        for q in QUERIES:
            try:
                found = index.search(vault, q, limit=20)
            except KbError as e:
                out[q] = [["error", str(e)]]
                continue
            out[q] = [[h.path, h.line, list(h.heading), h.score, h.snippet] for h in found]
        return out


def _ranked(hits: list[list]) -> list:
    """The hits with ties in any order: sorted by (-score, path, line)."""
    return sorted(hits, key=lambda h: (-h[3], h[0], h[1]) if len(h) == 5 else (0, h[0], 0))


def _same(a: list[list], b: list[list], limit: int = 20) -> bool:
    """The same hits and scores; when the list is full (``limit`` hits), the hits that tie with
    the last one may be other hits of that score: which of equal scores whoosh keeps depends on
    the order of documents, and whoosh's writer processes share notes out as they come."""
    if a == b:
        return True
    if [h[3:4] for h in a] != [h[3:4] for h in b]:
        return False  # another score somewhere
    if len(a) < limit or len(a[-1]) != 5:
        return False
    last = a[-1][3]
    return [h for h in a if h[3] != last] == [h for h in b if h[3] != last]


def differences(before: dict, after: dict) -> list[str]:
    out = []
    for q in QUERIES:
        a, b = _ranked(before.get(q, [])), _ranked(after.get(q, []))
        if not _same(a, b):
            out.append(f"{q!r}: {len(a)} hits before, {len(b)} after")
            for x, y in zip(a, b, strict=False):
                if x != y:
                    out.append(f"    before {x}\n    after  {y}")
                    break
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("record", "check"))
    ap.add_argument("vault", type=Path)
    ap.add_argument("file", type=Path, help="the recorded hits (JSON)")
    args = ap.parse_args(argv)
    got = hits_of(args.vault)
    if args.mode == "record":
        args.file.write_text(json.dumps(got, ensure_ascii=False, indent=1), encoding="utf-8")
        total = sum(len(h) for h in got.values())
        print(f"recorded {total} hits of {len(got)} queries in {args.file}")
        return 0
    saved = args.file.with_name(args.file.stem + ".after.json")
    saved.write_text(json.dumps(got, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"(this run's hits are in {saved})")
    before = json.loads(args.file.read_text(encoding="utf-8"))
    diff = differences(before, got)
    for line in diff[:40]:
        print(line)
    same = len(QUERIES) - sum(1 for d in diff if not d.startswith("    "))
    print(f"{same}/{len(QUERIES)} queries give the same hits and scores")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
