"""Other names of what a query asks for, from the concept graph's name table (for search).

The graph (:mod:`kb.graph.names`) has already read every gloss of the vault
(``批归一化（Batch Normalization）``, ``Vanishing Gradient(梯度消失)``, ``X，简称 Y``), front-matter
aliases and heading terms, and merged them into one node per topic: ``names`` maps each
name's key to its node, ``display`` lists every name of a node as written. Search reads those
two tables of ``graph.sqlite`` read-only, with plain SQL: importing :mod:`kb.graph` (networkx,
markdown-it) would cost ``kb search`` more than the whole search.

No graph yet, or one of another version, or a damaged one: no other names (search still
works, it only does not expand). The graph may lag the notes by the edits since the last
``kb index``: an expansion is a way to find more, never the only way a hit is found.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from pathlib import Path

from kb.text import has_cjk

GRAPH_FILE = "graph.sqlite"
"""The graph's file in the data folder (:data:`kb.graph.db.DB_FILE`)."""

MAX_ALIASES = 2
"""At most this many other names stand for one query term: each costs a search about as much
again as the term itself (on a 6,000-note vault, 20-50 ms for a name of common words)."""

MAX_ALIAS_CHARS = 40
"""Longer names are sentences a heading glossed, not names a person would search for."""

_GLOSSED = re.compile(r"^([^()（）]+?)\s*[(（]([^()（）]+)[)）]$")
_NOT_KEY = re.compile(r"[^\w]|_", re.UNICODE)


def compact_key(text: str) -> str:
    """A name as the graph's ``names.compact`` column holds it: NFKC, case-folded, without
    spaces or punctuation (``Batch  Normalization`` → ``batchnormalization``)."""
    text = text.replace("×", "x")
    return _NOT_KEY.sub("", unicodedata.normalize("NFKC", text).casefold())


class Aliases:
    """The other names of query terms, looked up in one vault's graph (opened on first use)."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / GRAPH_FILE
        self.db: sqlite3.Connection | None = None
        self.failed = False
        self.cache: dict[str, tuple[str, ...]] = {}

    def _open(self) -> sqlite3.Connection | None:
        if self.db is None and not self.failed:
            try:
                if not self.path.is_file():
                    raise sqlite3.OperationalError("no graph")
                # Not mode=ro: a read-only connection cannot use the WAL's shared index and
                # reads the whole WAL instead (0.8 s for a 6,000-note graph's). It only reads.
                db = sqlite3.connect(self.path, timeout=1)
                db.execute("PRAGMA trusted_schema = OFF")
                db.execute("SELECT node, compact FROM names LIMIT 1").fetchall()
                db.execute("SELECT node, key, name FROM display LIMIT 1").fetchall()
                self.db = db
            except sqlite3.Error:
                self.failed = True  # no graph, another version, damaged: search without
        return self.db

    def of(self, term: str) -> tuple[str, ...]:
        """Other names of ``term`` (as written in the notes), shortest first; () for none."""
        key = compact_key(term)
        if len(key) < 2:
            return ()
        if key in self.cache:
            return self.cache[key]
        found: tuple[str, ...] = ()
        db = self._open()
        if db is not None:
            try:
                found = self._lookup(db, key)
            except sqlite3.Error:
                found = ()
        self.cache[key] = found
        return found

    @staticmethod
    def _lookup(db: sqlite3.Connection, key: str) -> tuple[str, ...]:
        nodes = [n for (n,) in db.execute("SELECT node FROM names WHERE compact = ?", (key,))]
        if len(nodes) != 1:
            return ()  # unknown, or a name that stands for several things: no expansion
        node = nodes[0]
        stem = ""
        if node.startswith("note:"):
            stem = compact_key(node.rsplit("/", 1)[-1].removesuffix(".md"))
        names: dict[str, str] = {}
        written = [n for (n,) in db.execute("SELECT name FROM display WHERE node = ?", (node,))]
        for whole in written:
            glossed = _GLOSSED.match(whole)
            # 残差网络（ResNet）: two names of the topic, each one searched for on its own
            for name, said in (
                ((glossed.group(1), True), (glossed.group(2), True))
                if glossed
                else ((whole, False),)
            ):
                name = name.strip()
                other = compact_key(name)
                if not other or other == key or len(name) > MAX_ALIAS_CHARS or other in names:
                    continue
                if name.endswith((":", "：", "?", "？")):
                    continue  # Related work: a label or a question a heading asks, not a name
                if any(c in name for c in "_/") or (not has_cjk(name) and "-" in name):
                    continue  # a file name (batch-norm_origin), not a name a note gives
                if other == stem and not said:
                    continue  # gru for 门控循环单元: the file's name, said by no gloss
                if key in other or other in key:
                    continue  # the same name with more words (ResNet模型 for ResNet)
                names[other] = name
        return tuple(sorted(names.values(), key=lambda n: (len(n), n))[:MAX_ALIASES])

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
