"""The concept graph as rows of one SQLite file, ``<data_dir>/graph.sqlite``.

Every node and edge is a row with its *owner*: the note whose facts gave it (``NULL`` for
the nodes no note owns: concepts, tags, missing link targets, and the nested-tag edges).
An edit deletes its note's rows and inserts the new ones; a query reads only the rows it
needs, through the indexes on source, target, owner and kind.

Beside the graph the file keeps what updates need: each note's facts (JSON, checked on the
way back), the names each note's text says (``hits``), the names its links look up
(``link_keys``), the names links find it by (``note_keys``), its text in matching form
(``texts``), what of it the name table reads together (``name_groups``: see
:func:`kb.graph.names.name_groups`), its tags (``note_tags``), and the name table
(``names``, ``display``, ``about``, ``defines``).

Nothing read here is ever run: values are SQLite text and numbers, JSON is decoded into
plain values and type-checked, and a file whose schema is not exactly the one below (a
trigger, a view, another version) is not used: :class:`GraphDB` reports it and the caller
rebuilds the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kb.errors import KbError
from kb.graph.facts import BadFacts, Definition, EdgeKey, NoteFacts, decode
from kb.graph.names import name_groups
from kb.resolve import note_keys

DB_FILE = "graph.sqlite"
SCHEMA = 21
"""Bump when what the graph holds or how names are found changes: a saved graph of another
schema is rebuilt. 12: evidence and snippets in display text (kb.display). 14: note_keys.
15: name_groups and note_tags (an added or deleted note recomputes only the names joined to
its own). 16: hits indexed by (key, path), so counting the notes that say a name reads the
index alone; edges by (dst, kind), so the ends and kinds of a node's incoming edges do too.
17: a Sphinx reference in evidence reads as one (``见 图 x``), no longer a hole; a note's
title heading names it with its glosses (res-block.md titled 残差块（residual block）).
18: and with the glosses its own section gives the title's term (``本节将介绍*批量规范化*（batch
normalization）`` under ``# 批量规范化``). 19: evidence keeps the reference or code a sentence
opens with (``§batch_norm中解释了…``). 20: a file name that is a slug its title does not say
(sequence.md titled 序列模型) is looked up, not matched in text (it compared with the file name).
21: an emphasised sentence (``**Deprecated.**``) is no term; a concept named as an identifier
(``links_to``) is not matched in text."""

_TABLES = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
    "CREATE TABLE notes (path TEXT PRIMARY KEY, sha TEXT NOT NULL, aliases TEXT NOT NULL,"
    " light TEXT NOT NULL, links TEXT NOT NULL) STRICT",
    "CREATE TABLE texts (path TEXT PRIMARY KEY, text TEXT NOT NULL) STRICT",
    "CREATE TABLE hits (path TEXT NOT NULL, key TEXT NOT NULL, src TEXT NOT NULL,"
    " line INTEGER NOT NULL, ord INTEGER NOT NULL, text TEXT NOT NULL) STRICT",
    "CREATE INDEX hits_path ON hits (path)",
    "CREATE INDEX hits_key ON hits (key, path)",
    "CREATE TABLE link_keys (key TEXT NOT NULL, path TEXT NOT NULL) STRICT",
    "CREATE TABLE note_keys (key TEXT NOT NULL, path TEXT NOT NULL) STRICT",
    "CREATE INDEX note_keys_key ON note_keys (key)",
    "CREATE INDEX note_keys_path ON note_keys (path)",
    "CREATE INDEX link_keys_key ON link_keys (key)",
    "CREATE TABLE name_groups (token TEXT NOT NULL, kind INTEGER NOT NULL, path TEXT NOT NULL,"
    " grp INTEGER NOT NULL) STRICT",
    "CREATE INDEX name_groups_token ON name_groups (token)",
    "CREATE INDEX name_groups_path ON name_groups (path)",
    "CREATE TABLE note_tags (tag TEXT NOT NULL, path TEXT NOT NULL) STRICT",
    "CREATE INDEX note_tags_path ON note_tags (path)",
    "CREATE INDEX link_keys_path ON link_keys (path)",
    "CREATE TABLE nodes (id TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL,"
    " path TEXT, line INTEGER, heading TEXT NOT NULL, snippet TEXT NOT NULL,"
    " tags TEXT NOT NULL, owner TEXT) STRICT",
    "CREATE INDEX nodes_owner ON nodes (owner)",
    "CREATE INDEX nodes_kind ON nodes (kind)",
    "CREATE TABLE edges (src TEXT NOT NULL, dst TEXT NOT NULL, key TEXT NOT NULL,"
    " kind TEXT NOT NULL, path TEXT, line INTEGER, text TEXT NOT NULL, owner TEXT,"
    " derived INTEGER NOT NULL, PRIMARY KEY (src, dst, key)) STRICT, WITHOUT ROWID",
    "CREATE INDEX edges_dst ON edges (dst, kind)",
    "CREATE INDEX edges_owner ON edges (owner, derived)",
    "CREATE INDEX edges_kind ON edges (kind)",
    "CREATE TABLE names (key TEXT PRIMARY KEY, node TEXT NOT NULL, compact TEXT NOT NULL,"
    " named TEXT NOT NULL, said INTEGER NOT NULL) STRICT",
    "CREATE INDEX names_compact ON names (compact)",
    "CREATE TABLE display (node TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL,"
    " PRIMARY KEY (node, key)) STRICT, WITHOUT ROWID",
    "CREATE INDEX display_key ON display (key)",
    "CREATE TABLE about (section TEXT PRIMARY KEY, node TEXT NOT NULL) STRICT",
    "CREATE INDEX about_node ON about (node)",
    "CREATE TABLE defines (concept TEXT NOT NULL, ord INTEGER NOT NULL,"
    " section TEXT NOT NULL, key TEXT NOT NULL, source TEXT NOT NULL, path TEXT NOT NULL,"
    " line INTEGER NOT NULL, name TEXT NOT NULL, heading TEXT NOT NULL, snippet TEXT NOT NULL,"
    " tags TEXT NOT NULL, PRIMARY KEY (concept, ord)) STRICT, WITHOUT ROWID",
    "CREATE INDEX defines_path ON defines (path)",
)
_NODE_COLS = "id, kind, label, path, line, heading, snippet, tags"
_EDGE_COLS = "src, dst, key, kind, path, line, text"
_DEF_COLS = "section, key, source, path, line, name, heading, snippet, tags"


class Damaged(KbError):
    """The graph file is not one this kb wrote (damaged, foreign or another version).

    ``problem`` ends a sentence ("the concept graph in <dir> <problem>"): an update rebuilds
    the file and says so; a graph command that meets a damaged row rebuilds the graph and
    answers again (:func:`kb.commands.graph.repairing`).
    """

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(f"the concept graph {problem}; run `kb index --full` to rebuild it")


def _expected() -> set[tuple[str, str]]:
    out = set()
    for sql in _TABLES:
        words = sql.split()
        name = words[2]
        out.add((name, " ".join(sql.split())))
    return out


def node_attrs(row: tuple) -> dict:
    """A nodes row (without its id) as the attribute dict kb's readers use."""
    kind, label, path, line, heading, snippet, tags = row
    return {
        "kind": kind,
        "label": label,
        "path": path,
        "line": line,
        "heading": _strs(heading),
        "snippet": snippet,
        "tags": _strs(tags),
    }


def edge_attrs(row: tuple) -> dict:
    """An edges row's (kind, path, line, text) as the attribute dict kb's readers use."""
    kind, path, line, text = row
    return {"kind": kind, "path": path, "line": line, "text": text}


def _edges(rows: Iterable[tuple]) -> list[tuple[str, str, str, dict]]:
    """Rows of :data:`_EDGE_COLS` as (src, dst, key, :func:`edge_attrs`), a busy topic's
    thousands without a call each."""
    return [
        (u, v, k, {"kind": kind, "path": path, "line": line, "text": text})
        for u, v, k, kind, path, line, text in rows
    ]


def _strs(text: str) -> list[str]:
    if text == "[]":  # (most nodes have no tags and most headings one part: no decoding)
        return []
    if len(text) > 3 and text.startswith('["') and text.endswith('"]'):
        # A list of plain strings as kb writes it (no quote, backslash or control character
        # inside): its parts, without a JSON decoder (a card reads thousands).
        inner = text[2:-2]
        if "\\" not in inner and inner.isprintable():
            if '"' not in inner.replace('","', ""):
                return inner.split('","')
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        raise Damaged("is damaged (a list of names is not JSON)") from None
    if type(value) is not list or any(type(v) is not str for v in value):
        raise Damaged("is damaged (a list of names is not one)")
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class GraphDB:
    """One connection to ``graph.sqlite`` (or an in-memory graph for :func:`kb.graph.build`)."""

    def __init__(self, path: Path | None, create: bool = True):
        self.path = path
        where = ":memory:" if path is None else str(path)
        if path is not None and not create and not path.exists():
            raise FileNotFoundError(path)
        self.db = sqlite3.connect(where, timeout=30, isolation_level=None)
        try:
            self.db.execute("PRAGMA trusted_schema = OFF")
            self._check(create)
            # SQLite's default page cache is 2 MB: a full build's inserts into the edges and
            # hits indexes (random keys) then read and write the same pages again and again.
            # The cache grows only as pages are used, so a small query pays nothing for it.
            self.db.execute("PRAGMA cache_size = -65536")
        except sqlite3.DatabaseError as e:
            self.db.close()
            if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                raise
            raise Damaged(f"is damaged ({DB_FILE}: {e})") from None
        except Damaged:
            self.db.close()
            raise

    def _check(self, create: bool) -> None:
        db = self.db
        found = {
            (name, " ".join((sql or "").split()))
            for name, sql in db.execute(
                "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            )
        }
        if not found and create:
            if self.path is not None:
                db.execute("PRAGMA journal_mode = WAL")
            db.execute("BEGIN IMMEDIATE")
            for sql in _TABLES:
                db.execute(sql)
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
            db.execute("COMMIT")
            return
        if found != _expected():
            extra = {name for name, _ in found - _expected()}
            if any(sql.startswith(("CREATE TRIGGER", "CREATE VIEW")) for _, sql in found):
                raise Damaged("is not one kb wrote (it holds triggers or views)")
            if extra and not found & _expected():
                raise Damaged("is not one kb wrote")
            raise Damaged("is from another version of kb")
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or row[0] != str(SCHEMA):
            raise Damaged("is from another version of kb")
        db.execute("PRAGMA synchronous = NORMAL")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: everything an update does lands together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- what the graph was built from --------------------------------------------
    def held(self, paths: Iterable[str] | None = None) -> dict[str, str]:
        """{path: sha} of the notes the graph holds (of those of ``paths``): what Store.diff
        compares."""
        if paths is None:
            return dict(self.db.execute("SELECT path, sha FROM notes"))
        return dict(self._in("SELECT path, sha FROM notes WHERE path IN ({})", sorted(paths)))

    def store_generation(self) -> str:
        """The store generation (kb.store.Store.generation) the graph was last brought up to
        date with; "" when unknown (then is_current compares every note's hash)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'store_generation'").fetchone()
        return str(row[0]) if row else ""

    def set_store_generation(self, generation: str) -> None:
        """Write down that the graph holds the store's notes of ``generation`` (only once it
        does: a kb killed before this leaves the old one, which costs a full comparison)."""
        if generation:
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('store_generation', ?)", (generation,)
            )
        else:
            self.db.execute("DELETE FROM meta WHERE key = 'store_generation'")

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM notes").fetchone()[0]

    def whole(self) -> bool:
        """True when every note kb holds has its node (a cheap check for rows deleted by hand)."""
        nodes = self.db.execute("SELECT COUNT(*) FROM nodes WHERE kind = 'note'").fetchone()[0]
        return nodes == self.count()

    def facts(
        self,
        paths: Iterable[str] | None = None,
        links: bool = False,
        skip: Iterable[str] = (),
    ) -> dict[str, NoteFacts]:
        """Stored facts of ``paths`` (all notes but ``skip`` when None), with their links when
        asked."""
        cols = "path, sha, light, links" if links else "path, sha, light, NULL"
        try:
            if paths is None:
                skip = set(skip)
                rows = self.db.execute(f"SELECT {cols} FROM notes")
                return {p: decode(p, sha, light, lk) for p, sha, light, lk in rows if p not in skip}
            out = {}
            for p in paths:
                row = self.db.execute(f"SELECT {cols} FROM notes WHERE path = ?", (p,)).fetchone()
                if row is not None:
                    out[p] = decode(*row)
            return out
        except BadFacts as e:
            raise Damaged(f"is damaged ({e})") from None

    def signature(self) -> list[tuple[str, tuple[str, ...]]]:
        """(path, aliases) of every note: what link resolution needs."""
        out = []
        for path, aliases in self.db.execute("SELECT path, aliases FROM notes"):
            out.append((path, tuple(_strs(aliases))))
        return out

    def entries(self, paths: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
        """(path, aliases) of those of ``paths`` the graph holds: their part of what link
        resolution depends on."""
        q = "SELECT path, aliases FROM notes WHERE path IN ({})"
        return [(p, tuple(_strs(aliases))) for p, aliases in self._in(q, sorted(set(paths)))]

    def tokens(self, paths: Iterable[str]) -> set[tuple[int, str]]:
        """(kind, token) of the name groups of those of ``paths`` the graph holds."""
        q = "SELECT kind, token FROM name_groups WHERE path IN ({})"
        return set(self._in(q, sorted(set(paths))))

    def notes_named(self, keys: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
        """(path, aliases) of the notes links find by one of ``keys`` (folded file names and
        aliases, :func:`kb.resolve.note_keys`): a resolver over them answers every name whose
        :func:`kb.resolve.looked_up` keys are among ``keys`` as one over all notes would."""
        q = (
            "SELECT DISTINCT n.path, n.aliases FROM note_keys AS k JOIN notes AS n"
            " ON n.path = k.path WHERE k.key IN ({})"
        )
        return [(path, tuple(_strs(aliases))) for path, aliases in self._in(q, sorted(set(keys)))]

    def hits(self, path: str) -> dict[str, list[tuple[str, int, int, str]]]:
        out: dict[str, list] = {}
        rows = self.db.execute(
            "SELECT key, src, line, ord, text FROM hits WHERE path = ? ORDER BY rowid", (path,)
        )
        for key, src, line, order, text in rows:
            out.setdefault(key, []).append((src, line, order, text))
        return out

    def paths_saying(self, keys: Iterable[str]) -> set[str]:
        """Notes whose text says one of ``keys``."""
        return self._paths_by("hits", keys)

    def notes_saying(self, keys: Iterable[str]) -> int:
        """How many notes' text says one of ``keys``."""
        return self.notes_saying_each([keys])[0]

    def notes_saying_each(self, key_sets: list[Iterable[str]]) -> list[int]:
        """:meth:`notes_saying` of each set of keys, in one query (the sets travel as one JSON
        list; each count reads only the ``hits_key`` index)."""
        if not key_sets:
            return []
        q = (
            "SELECT (SELECT COUNT(DISTINCT path) FROM hits WHERE key IN"
            " (SELECT value FROM json_each(s.value))) FROM json_each(?) AS s ORDER BY s.key"
        )
        sets = _dumps([sorted(set(keys)) for keys in key_sets])
        return [n for (n,) in self.db.execute(q, (sets,))]

    def paths_linking(self, keys: Iterable[str]) -> set[str]:
        """Notes with a link that looks up one of ``keys`` (folded names)."""
        return self._paths_by("link_keys", keys)

    def _paths_by(self, table: str, keys: Iterable[str]) -> set[str]:
        out: set[str] = set()
        q = f"SELECT DISTINCT path FROM {table} WHERE key = ?"
        for key in set(keys):
            out.update(p for (p,) in self.db.execute(q, (key,)))
        return out

    def paths_holding(self, keys: Iterable[str]) -> list[str]:
        """Notes whose text (in matching form) holds one of ``keys`` anywhere, word bounds
        aside: a first look before the notes are searched properly."""
        keys = sorted(set(keys))
        if len(keys) > 16:  # (one automaton pass over each text beats many substring scans)
            from kb.mentions import Matcher

            first_look = Matcher(keys, checked=True)
            rows = self.db.execute("SELECT path, text FROM texts").fetchall()
            return [p for p, text in rows if first_look.any_in(text)]
        if not keys:
            return []
        where = " OR ".join(["instr(text, ?)"] * len(keys))
        return [p for (p,) in self.db.execute(f"SELECT path FROM texts WHERE {where}", keys)]

    def joined(
        self, seeds: Iterable[tuple[int, str]], paths: Iterable[str], limit: int
    ) -> tuple[set[str], set[tuple[int, str]]] | None:
        """The notes holding a name group (:func:`kb.graph.names.name_groups`) joined through
        shared tokens to ``seeds`` or to a group of ``paths`` (those included), and the tokens
        of those groups; None when the notes are more than ``limit`` (then building the whole
        table costs about as much)."""
        groups: dict[tuple[str, int], list[tuple[int, str]]] = {}  # (path, grp) → its tokens
        loaded: set[str] = set()
        seen: set[tuple[int, str]] = set()
        frontier, pending = set(seeds), set(paths)
        while frontier or pending:
            new: set[tuple[str, int]] = set()
            seen |= frontier
            q = "SELECT token, kind, path, grp FROM name_groups WHERE token IN ({})"
            for t, kind, p, g in self._in(q, sorted({t for _, t in frontier})):
                if (kind, t) in frontier:
                    new.add((p, g))
            need = sorted(({p for p, _ in new} | pending) - loaded)
            if len(loaded) + len(need) > limit:
                return None
            loaded.update(need)
            q = "SELECT path, grp, kind, token FROM name_groups WHERE path IN ({})"
            rows: dict[tuple[str, int], list[tuple[int, str]]] = {}
            for p, g, kind, t in self._in(q, need):
                rows.setdefault((p, g), []).append((kind, t))
            for (p, g), ts in rows.items():
                groups.setdefault((p, g), ts)
                if p in pending:
                    new.add((p, g))
            pending = set()
            frontier = {tok for pg in new for tok in groups.get(pg, ())} - seen
        return loaded, seen

    def used_tags(self) -> set[str]:
        """Every tag some note uses."""
        return {t for (t,) in self.db.execute("SELECT DISTINCT tag FROM note_tags")}

    # -- writing a note's rows -------------------------------------------------------
    def drop_notes(self, paths: Iterable[str]) -> set[str]:
        """Delete everything the notes own; the ids of the nodes deleted."""
        gone: set[str] = set()
        db = self.db
        for p in paths:
            gone.update(n for (n,) in db.execute("SELECT id FROM nodes WHERE owner = ?", (p,)))
            for table in ("nodes", "edges"):
                db.execute(f"DELETE FROM {table} WHERE owner = ?", (p,))
            for table in (
                "notes", "texts", "hits", "link_keys", "note_keys", "name_groups", "note_tags",
            ):  # fmt: skip
                db.execute(f"DELETE FROM {table} WHERE path = ?", (p,))
        return gone

    def put_note(
        self,
        f: NoteFacts,
        light: str,
        links: str,
        nodes: dict[str, dict],
        edges: dict[EdgeKey, dict],
        link_keys: Iterable[str],
    ) -> None:
        """A note's own rows: its facts, names, nodes and the edges it needs no other note for
        (what its text says is :meth:`put_found`, once the name table is known)."""
        db = self.db
        p = f.path
        db.execute(
            "INSERT INTO notes VALUES (?, ?, ?, ?, ?)", (p, f.sha, _dumps(f.aliases), light, links)
        )
        db.executemany(
            "INSERT INTO link_keys VALUES (?, ?)", [(k, p) for k in sorted(set(link_keys))]
        )
        db.executemany(
            "INSERT INTO note_keys VALUES (?, ?)", [(k, p) for k in sorted(note_keys(p, f.aliases))]
        )
        db.executemany(
            "INSERT INTO name_groups VALUES (?, ?, ?, ?)",
            [(t, kind, p, i) for i, g in enumerate(name_groups(f)) for kind, t in sorted(g)],
        )
        db.executemany("INSERT INTO note_tags VALUES (?, ?)", [(t, p) for t in set(f.tags)])
        db.executemany(
            "INSERT OR REPLACE INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(n, *_node_row(a), p) for n, a in nodes.items()],
        )
        self.put_edges(edges, p, derived=False)

    def put_found(self, path: str, hits: dict[str, list[tuple[str, int, int, str]]], text: str):
        """The names a note's text says, and that text in matching form."""
        self.db.execute("INSERT INTO texts VALUES (?, ?)", (path, text))
        self.put_hits(path, hits)

    def put_hits(self, path: str, hits: dict[str, list[tuple[str, int, int, str]]]) -> None:
        self.db.executemany(
            "INSERT INTO hits VALUES (?, ?, ?, ?, ?, ?)",
            [(path, key, *h) for key, hs in hits.items() for h in hs],
        )

    def replace_hits(self, path: str, hits: dict[str, list[tuple[str, int, int, str]]]) -> None:
        """The note's hits, all found again."""
        self.db.execute("DELETE FROM hits WHERE path = ?", (path,))
        self.put_hits(path, hits)

    def drop_hits(self, keys: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM hits WHERE key = ?", [(k,) for k in keys])

    def put_edges(self, edges: dict[EdgeKey, dict], owner: str | None, derived: bool) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO edges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (u, v, k, d["kind"], d["path"], d["line"], d["text"], owner, int(derived))
                for (u, v, k), d in edges.items()
            ],
        )

    def drop_derived(self, path: str) -> None:
        self.db.execute("DELETE FROM edges WHERE owner = ? AND derived = 1", (path,))

    def put_node(self, node: str, attrs: dict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (node, *_node_row(attrs)),
        )

    def ensure_node(self, node: str, attrs: dict) -> None:
        """Add a shared node unless it is there."""
        self.db.execute(
            "INSERT OR IGNORE INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (node, *_node_row(attrs)),
        )

    def drop_nodes(self, nodes: Iterable[str]) -> None:
        """Delete shared nodes and every edge at either end of them."""
        db = self.db
        for n in nodes:
            db.execute("DELETE FROM nodes WHERE id = ?", (n,))
            db.execute("DELETE FROM edges WHERE src = ?", (n,))
            db.execute("DELETE FROM edges WHERE dst = ?", (n,))

    def drop_unlinked(self) -> None:
        """Missing-link and tag nodes that no edge touches any more."""
        self.db.execute(
            "DELETE FROM nodes WHERE kind IN ('missing', 'tag')"
            " AND NOT EXISTS (SELECT 1 FROM edges WHERE dst = nodes.id)"
            " AND NOT EXISTS (SELECT 1 FROM edges WHERE src = nodes.id)"
        )

    def shared_nodes(self, kind: str) -> dict[str, dict]:
        rows = self.db.execute(
            f"SELECT {_NODE_COLS} FROM nodes WHERE kind = ? AND owner IS NULL", (kind,)
        )
        return {row[0]: node_attrs(row[1:]) for row in rows}

    def unowned_edges(self) -> set[tuple[str, str, str]]:
        return set(self.db.execute("SELECT src, dst, key FROM edges WHERE owner IS NULL"))

    def drop_edge(self, u: str, v: str, k: str) -> None:
        self.db.execute("DELETE FROM edges WHERE src = ? AND dst = ? AND key = ?", (u, v, k))

    # -- the name table ------------------------------------------------------------------
    def targets(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """{concept key: node} of the name table (of only ``keys`` when given)."""
        if keys is None:
            return dict(self.db.execute("SELECT key, node FROM names"))
        return dict(
            self._in("SELECT key, node FROM names WHERE key IN ({})", {k for k in keys if k})
        )

    def said_keys(self) -> list[str]:
        """The names looked for in running text (what :class:`kb.mentions.Matcher` holds)."""
        return [k for (k,) in self.db.execute("SELECT key FROM names WHERE said = 1")]

    def write_names(
        self,
        target: dict[str, str],
        named: dict[str, list[str]],
        compact: Any,
        said: Iterable[str],
        display: dict[str, dict[str, str]],
        about: dict[str, str],
        defines: dict[str, list[Definition]],
        scope: tuple[set[str], set[str]] | None = None,
    ) -> None:
        """Bring the name tables to these values, writing only the rows that differ. With a
        ``scope`` (keys, nodes), the values are those of these keys and the nodes they named
        (:func:`kb.graph.update._joined_scope`), and the rows of other names are kept."""
        db = self.db
        said = set(said)

        def rows(sql: str, where: str, among: Iterable[str] | None, order: str = "") -> Iterable:
            if among is None:
                return db.execute(sql + order)
            return self._in(f"{sql} WHERE {where} IN ({{}}){order}", sorted(among))

        keys, nodes = scope if scope is not None else (None, None)
        old = {k: (n, c, m, s) for k, n, c, m, s in rows("SELECT * FROM names", "key", keys)}
        new = {
            k: (node, compact(k), _dumps(named.get(k, [])), int(k in said))
            for k, node in target.items()
        }
        _apply(db, "names", "key", old, new)
        old_d = {(n, k): name for n, k, name in rows("SELECT * FROM display", "key", keys)}
        new_d = {(n, k): name for n, by in display.items() for k, name in by.items()}
        for nk in old_d.keys() - new_d.keys():
            db.execute("DELETE FROM display WHERE node = ? AND key = ?", nk)
        db.executemany(
            "INSERT OR REPLACE INTO display VALUES (?, ?, ?)",
            [(*nk, name) for nk, name in new_d.items() if old_d.get(nk) != name],
        )
        old_a = dict(rows("SELECT section, node FROM about", "node", nodes))
        for s in old_a.keys() - about.keys():
            db.execute("DELETE FROM about WHERE section = ?", (s,))
        db.executemany(
            "INSERT OR REPLACE INTO about VALUES (?, ?)",
            [(s, n) for s, n in about.items() if old_a.get(s) != n],
        )
        old_def: dict[str, list[tuple]] = {}
        concepts = None if nodes is None else nodes | defines.keys()
        for c, *row in rows(
            f"SELECT concept, {_DEF_COLS} FROM defines", "concept", concepts, " ORDER BY ord"
        ):
            old_def.setdefault(c, []).append(tuple(row))
        for c in old_def.keys() | defines.keys():
            new_rows = [_def_row(d) for d in defines.get(c, [])]
            if old_def.get(c) != new_rows:
                self.put_definitions(c, defines.get(c, []))

    def move_abouts(self, moved: dict[str, str]) -> None:
        """Sections renamed (old id → new id: their heading moved to another line)."""
        rows = self.abouts(moved)
        self.db.executemany("DELETE FROM about WHERE section = ?", [(s,) for s in rows])
        self.db.executemany(
            "INSERT INTO about VALUES (?, ?)", [(moved[s], n) for s, n in rows.items()]
        )

    def put_definitions(self, concept: str, defs: list[Definition]) -> None:
        """The places that define ``concept``, in their order (its first one names it)."""
        self.db.execute("DELETE FROM defines WHERE concept = ?", (concept,))
        self.db.executemany(
            "INSERT INTO defines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(concept, i, *_def_row(d)) for i, d in enumerate(defs)],
        )

    def definitions(self, concept: str) -> list[Definition]:
        """The places that define ``concept``, in order."""
        rows = self.db.execute(
            f"SELECT {_DEF_COLS} FROM defines WHERE concept = ? ORDER BY ord", (concept,)
        )
        out = []
        for *head, heading, snippet, tags in rows:
            out.append(Definition(*head, tuple(_strs(heading)), snippet, tuple(_strs(tags))))
        return out

    def concepts_defined_in(self, paths: Iterable[str]) -> set[str]:
        """The concepts that a section of one of these notes defines."""
        out: set[str] = set()
        q = "SELECT DISTINCT concept FROM defines WHERE path = ?"
        for p in set(paths):
            out.update(c for (c,) in self.db.execute(q, (p,)))
        return out

    # -- queries ----------------------------------------------------------------------------
    def node(self, node: str) -> dict | None:
        row = self.db.execute(f"SELECT {_NODE_COLS} FROM nodes WHERE id = ?", (node,)).fetchone()
        return None if row is None else node_attrs(row[1:])

    def nodes(self, nodes: Iterable[str]) -> dict[str, dict]:
        """{id: attributes} of those of ``nodes`` the graph holds (one query per 500)."""
        q = f"SELECT {_NODE_COLS} FROM nodes WHERE id IN ({{}})"
        return {row[0]: node_attrs(row[1:]) for row in self._in(q, set(nodes))}

    def briefs(self, nodes: Iterable[str]) -> dict[str, tuple[str, str, str | None, int | None]]:
        """{id: (kind, label, path, line)} of those of ``nodes`` the graph holds, in one query:
        what a list of thousands of topics sorts and shows (:meth:`nodes` without the
        headings, snippets and tags to decode)."""
        q = (
            "SELECT n.id, n.kind, n.label, n.path, n.line FROM json_each(?) AS j"
            " JOIN nodes AS n ON n.id = j.value"
        )
        rows = self.db.execute(q, (_dumps(list(dict.fromkeys(nodes))),))
        return {n: (kind, label, path, line) for n, kind, label, path, line in rows}

    def has(self, node: str) -> bool:
        return self.db.execute("SELECT 1 FROM nodes WHERE id = ?", (node,)).fetchone() is not None

    def out_edges(self, node: str) -> list[tuple[str, str, str, dict]]:
        rows = self.db.execute(f"SELECT {_EDGE_COLS} FROM edges WHERE src = ?", (node,))
        return _edges(rows)

    def out_edges_of(self, nodes: Iterable[str]) -> dict[str, list[tuple[str, str, str, dict]]]:
        """{node: :meth:`out_edges`} of each of ``nodes`` (one query per 500)."""
        nodes = list(dict.fromkeys(nodes))
        out: dict[str, list[tuple[str, str, str, dict]]] = {n: [] for n in nodes}
        q = f"SELECT {_EDGE_COLS} FROM edges WHERE src IN ({{}}) ORDER BY src, dst, key"
        for u, v, k, *rest in self._in(q, nodes):
            out[u].append((u, v, k, edge_attrs(rest)))
        return out

    def in_edges(self, node: str) -> list[tuple[str, str, str, dict]]:
        rows = self.db.execute(f"SELECT {_EDGE_COLS} FROM edges WHERE dst = ?", (node,))
        return _edges(rows)

    def degree(self, node: str) -> int:
        db = self.db
        return (
            db.execute("SELECT COUNT(*) FROM edges WHERE src = ?", (node,)).fetchone()[0]
            + db.execute("SELECT COUNT(*) FROM edges WHERE dst = ?", (node,)).fetchone()[0]
        )

    def target(self, key: str) -> tuple[str, list[str]] | None:
        """(node, notes with that name) of a concept key."""
        row = self.db.execute("SELECT node, named FROM names WHERE key = ?", (key,)).fetchone()
        return None if row is None else (row[0], _strs(row[1]))

    def by_compact(self, key: str) -> list[str]:
        return [n for (n,) in self.db.execute("SELECT node FROM names WHERE compact = ?", (key,))]

    def by_display(self, key: str) -> list[str]:
        """Nodes that show a name of this key (names for lookup only, not in the name table)."""
        return [n for (n,) in self.db.execute("SELECT node FROM display WHERE key = ?", (key,))]

    def display(self, node: str) -> dict[str, str]:
        rows = self.db.execute("SELECT key, name FROM display WHERE node = ?", (node,))
        return dict(rows)

    def displays(self, nodes: Iterable[str]) -> dict[str, dict[str, str]]:
        """{node: :meth:`display`} of those of ``nodes`` that show a name, in one query."""
        out: dict[str, dict[str, str]] = {}
        q = (
            "SELECT d.node, d.key, d.name FROM json_each(?) AS j"
            " JOIN display AS d ON d.node = j.value ORDER BY d.node, d.key"
        )
        for node, key, name in self.db.execute(q, (_dumps(list(dict.fromkeys(nodes))),)):
            out.setdefault(node, {})[key] = name
        return out

    def all_display(self) -> Iterator[tuple[str, str]]:
        rows = self.db.execute(
            "SELECT d.node, d.name FROM display AS d JOIN nodes AS n ON n.id = d.node"
        )
        return iter(rows.fetchall())

    def about(self, section: str) -> str | None:
        row = self.db.execute("SELECT node FROM about WHERE section = ?", (section,)).fetchone()
        return None if row is None else row[0]

    def sections_about_each(self, nodes: Iterable[str]) -> list[tuple[str, str]]:
        """(node, section) of the sections whose title names one of ``nodes``."""
        return self._in("SELECT node, section FROM about WHERE node IN ({})", nodes)

    def sections_about(self, node: str) -> list[str]:
        """The sections whose title names ``node`` (its places of definition)."""
        rows = self.db.execute("SELECT section FROM about WHERE node = ?", (node,))
        return [s for (s,) in rows]

    def _in(self, sql: str, keys: Iterable[str]) -> list[tuple]:
        """The rows of ``sql`` for all ``keys``, whose ``{}`` is the list of an ``IN``: asked
        500 keys at a time (SQLite's limit on ``?`` marks is 999 on old builds). A list, not
        a generator: a busy topic's rows are tens of thousands, each a step of a generator."""
        out: list[tuple] = []
        for chunk in _chunks(keys):
            out += self.db.execute(sql.format(", ".join("?" * len(chunk))), chunk).fetchall()
        return out

    def sections_of(self, path: str) -> list[str]:
        """The sections of one note."""
        # (by the owner's index: SQLite would otherwise take the kind's, every section)
        rows = self.db.execute(
            "SELECT id FROM nodes INDEXED BY nodes_owner WHERE owner = ? AND kind = 'section'",
            (path,),
        )
        return [s for (s,) in rows]

    def abouts(self, sections: Iterable[str]) -> dict[str, str]:
        """{section: the node its title names} for those of ``sections`` that name one."""
        return dict(self._in("SELECT section, node FROM about WHERE section IN ({})", sections))

    def parents(self, sections: Iterable[str]) -> dict[str, str]:
        """{section: the section or note it sits under} (its outline's ``contains`` edge).

        (``+kind``: by the ends' indexes; SQLite would otherwise read every ``contains``.)"""
        q = "SELECT dst, src FROM edges WHERE dst IN ({}) AND +kind = 'contains'"
        return dict(self._in(q, sections))

    def children(self, nodes: Iterable[str]) -> list[tuple[str, str]]:
        """(parent, section) of the sections right under ``nodes`` in their outline."""
        q = (
            "SELECT src, dst FROM edges WHERE src IN ({}) AND +kind = 'contains'"
            " AND dst LIKE 'section:%'"
        )
        return list(self._in(q, nodes))

    def outline_parents(self) -> dict[str, str]:
        """{section: what it sits under} for every section of the vault."""
        q = "SELECT dst, src FROM edges WHERE kind = 'contains' AND dst LIKE 'section:%'"
        return dict(self.db.execute(q))

    def all_about(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT section, node FROM about"))

    def ends_touching(self, nodes: Iterable[str]) -> set[tuple[str, str, str]]:
        """(src, dst, kind) of every edge with either end in ``nodes`` (for path search)."""
        nodes = list(dict.fromkeys(nodes))
        out: set[tuple[str, str, str]] = set()
        for end in ("src", "dst"):
            out.update(self._in(f"SELECT src, dst, kind FROM edges WHERE {end} IN ({{}})", nodes))
        return out

    def edges_among(self, nodes: Iterable[str]) -> list[tuple[str, str, str]]:
        """(src, dst, kind) of the edges with both ends in ``nodes``, once per key (one query:
        the nodes travel as a JSON list, which SQLite reads into an index of its own)."""
        q = (
            "SELECT src, dst, kind FROM edges"
            " WHERE src IN (SELECT value FROM json_each(?1))"
            " AND +dst IN (SELECT value FROM json_each(?1))"
        )
        return self.db.execute(q, (_dumps(list(dict.fromkeys(nodes))),)).fetchall()

    def places(
        self, edges: Iterable[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], list[tuple[str, str | None, int | None]]]:
        """{(src, dst, kind): [(key, path, line)…] in key order} of the edges of each kind
        between those ends (:meth:`evidence` without the sentences), many edges a query."""
        q = (
            "SELECT e.src, e.dst, e.kind, e.key, e.path, e.line FROM json_each(?) AS j"
            " JOIN edges AS e ON e.src = json_extract(j.value, '$[0]')"
            " AND e.dst = json_extract(j.value, '$[1]')"
            " WHERE e.kind = json_extract(j.value, '$[2]')"
        )
        out: dict[tuple[str, str, str], list] = {}
        for chunk in _chunks(edges, EDGES_A_QUERY):
            for u, v, kind, key, path, line in self.db.execute(q, (_dumps(chunk),)):
                out.setdefault((u, v, kind), []).append((key, path, line))
        for rows in out.values():
            rows.sort(key=lambda r: r[0])
        return out

    def edge_texts(self, edges: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        """{(src, dst, key): the edge's sentence} of those ``edges`` the graph holds."""
        q = (
            "SELECT e.src, e.dst, e.key, e.text FROM json_each(?) AS j"
            " JOIN edges AS e ON e.src = json_extract(j.value, '$[0]')"
            " AND e.dst = json_extract(j.value, '$[1]') AND e.key = json_extract(j.value, '$[2]')"
        )
        out: dict[tuple[str, str, str], str] = {}
        for chunk in _chunks(edges, EDGES_A_QUERY):
            for u, v, key, text in self.db.execute(q, (_dumps(chunk),)):
                out[(u, v, key)] = text
        return out

    def sections_of_notes(self, paths: Iterable[str]) -> dict[str, list[str]]:
        """{path: :meth:`sections_of` it} of each of ``paths`` that has sections."""
        q = (
            "SELECT owner, id FROM nodes INDEXED BY nodes_owner WHERE owner IN ({})"
            " AND kind = 'section' ORDER BY owner, rowid"
        )
        out: dict[str, list[str]] = {}
        for owner, s in self._in(q, list(dict.fromkeys(paths))):
            out.setdefault(owner, []).append(s)
        return out

    def said_with(self, node: str) -> list[tuple[str, str, str | None, int | None, str]]:
        """(place, other node, path, line, sentence) of every other node that a place's
        mention of ``node`` names in the same sentence (the two mentions' evidence)."""
        q = (
            # The mentions of ``node`` first, then each one's place's other mentions (left to
            # itself, SQLite walks every mention in the graph and looks each one up).
            "SELECT a.src, b.dst, a.path, a.line, a.text FROM edges AS a INDEXED BY edges_dst"
            " CROSS JOIN edges AS b ON b.src = a.src AND b.kind = 'mentions'"
            " AND b.line = a.line AND b.text = a.text AND b.dst != a.dst"
            " WHERE a.dst = ? AND a.kind = 'mentions'"
        )
        return self.db.execute(q, (node,)).fetchall()

    def edges_touching(self, nodes: Iterable[str]) -> list[tuple]:
        """(src, dst, key, kind, path, line) of every edge with either end in ``nodes``, once
        each, those from ``nodes`` first; without the sentences (:meth:`edge_texts` reads the
        few a path shows: a busy topic has tens of thousands)."""
        seen: set[tuple[str, str, str]] = set()
        out = []
        nodes = list(dict.fromkeys(nodes))
        for end in ("src", "dst"):
            q = f"SELECT src, dst, key, kind, path, line FROM edges WHERE {end} IN ({{}})"
            for row in self._in(q, nodes):
                if row[:3] not in seen:
                    seen.add(row[:3])
                    out.append(row)
        return out

    def defines(self, concept: str, headings: bool = False) -> list[str]:
        """The sections that define ``concept``, in order (only those it heads: ``headings``)."""
        also = " AND source = 'heading'" if headings else ""
        rows = self.db.execute(
            f"SELECT section FROM defines WHERE concept = ?{also} ORDER BY ord", (concept,)
        )
        return list(dict.fromkeys(s for (s,) in rows))

    def nodes_of_kind(self, kind: str) -> list[str]:
        return [n for (n,) in self.db.execute("SELECT id FROM nodes WHERE kind = ?", (kind,))]

    def nodes_with_attrs(self, kind: str) -> dict[str, dict]:
        """Every node of ``kind`` with its attributes, in one query."""
        rows = self.db.execute(f"SELECT {_NODE_COLS} FROM nodes WHERE kind = ?", (kind,))
        return {row[0]: node_attrs(row[1:]) for row in rows}

    def edges_of_kind(self, *kinds: str) -> list[tuple[str, str, str, dict]]:
        marks = ", ".join("?" * len(kinds))
        rows = self.db.execute(f"SELECT {_EDGE_COLS} FROM edges WHERE kind IN ({marks})", kinds)
        return [(u, v, k, edge_attrs(rest)) for u, v, k, *rest in rows]

    def number_of_nodes(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM nodes").fetchone()[0]

    def number_of_edges(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM edges").fetchone()[0]

    def all_nodes(self) -> Iterator[tuple[str, dict]]:
        for row in self.db.execute(f"SELECT {_NODE_COLS} FROM nodes ORDER BY rowid"):
            yield row[0], node_attrs(row[1:])

    def all_edges(self) -> Iterator[tuple[str, str, str, dict]]:
        for u, v, k, *rest in self.db.execute(f"SELECT {_EDGE_COLS} FROM edges"):
            yield u, v, k, edge_attrs(rest)


EDGES_A_QUERY = 5000
"""Edges looked up by one query (as a JSON list of their ends)."""


def _chunks(items: Iterable[Any], size: int = 500) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size`` (SQLite's limit on ``?`` marks is 999 on old
    builds)."""
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _node_row(a: dict) -> tuple:
    return (
        a["kind"], a["label"], a["path"], a["line"], _dumps(a["heading"]), a["snippet"],
        _dumps(a["tags"]),
    )  # fmt: skip


def _def_row(d: Definition) -> tuple:
    return (
        d.section, d.key, d.source, d.path, d.line, d.name, _dumps(list(d.heading)), d.snippet,
        _dumps(list(d.tags)),
    )  # fmt: skip


def _apply(db: sqlite3.Connection, table: str, key: str, old: dict, new: dict) -> None:
    for k in old.keys() - new.keys():
        db.execute(f"DELETE FROM {table} WHERE {key} = ?", (k,))
    rows = [(k, *v) for k, v in new.items() if old.get(k) != v]
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        db.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", rows)


def remove_file(path: Path) -> None:
    """Delete a graph file and its WAL companions (to rebuild it)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(path.with_name(path.name + suffix))
        except FileNotFoundError:
            pass
