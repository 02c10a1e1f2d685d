"""The ``.kb/`` folder: which note files were read when, and their parsed Notes.

One SQLite file (``notes.sqlite``) holds, per note file, its size, mtime and
content hash (the manifest) and the pickled :class:`~kb.model.Note`. A refresh
is a stat scan: files whose size and mtime are unchanged are not read; changed
ones are hashed, and only those whose content changed are parsed again.

Consumers (the search index, the graph) keep their own ``{path: sha1}`` of what
they hold and catch up with :meth:`Store.diff`, so each can be brought up to
date on its own schedule (``kb search`` never loads the graph).
"""

from __future__ import annotations

import errno
import gc
import hashlib
import os
import pickle
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from kb.errors import KbError
from kb.model import Note
from kb.text import tag_key
from kb.vault import Vault

SCHEMA = 5
"""Bump when Note or the table changes: a store of another schema is rebuilt."""

PARALLEL_MIN_FILES = 64
"""Below this many files to parse, a process pool costs more than it saves."""

Progress = Callable[[int, int], None]
"""Called with (done, total) while parsing."""


@dataclass(slots=True)
class Changes:
    """What a refresh found and did."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    parsed: dict[str, Note] = field(default_factory=dict)
    """The notes parsed in this refresh, by path."""
    seconds: float = 0.0

    @property
    def any(self) -> bool:
        """True when the vault's notes differ from the last refresh."""
        return bool(self.added or self.changed or self.removed)


def _hash(raw: bytes) -> str:
    """Content hash of a note file, tagged with SCHEMA: when the parser changes (and SCHEMA with
    it), every note's hash changes too, so the index and the graph take the new Notes."""
    return f"{SCHEMA}-" + hashlib.blake2b(raw, digest_size=16).hexdigest()


Parsed = tuple[str, str, Note, int, int]
"""(path, content hash, note, size, mtime_ns) of one parsed file."""


def _parse_chunk(vault: Vault, chunk: list[str]) -> list[Parsed | None]:
    """Read, hash and parse files (in a worker process when there are many)."""
    from kb.parse import parse_note

    out: list[Parsed | None] = []
    for rel in chunk:
        try:
            text, raw, st = vault.read(rel)
        except OSError:
            out.append(None)  # deleted or unreadable since the scan: treated as gone
            continue
        out.append((rel, _hash(raw), parse_note(text, rel), st.size, st.mtime_ns))
    return out


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects that all stay alive.

    Unpickling a large graph or thousands of notes triggers collection after collection that
    frees nothing: loading the 32 MB graph of a 6,000-note vault takes 0.67 s with the collector
    and 0.23 s without.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True, slots=True)
class Totals:
    """Vault-wide counts kept in the manifest."""

    notes: int = 0
    sections: int = 0
    links: int = 0
    tags: int = 0
    """Distinct tags, case-insensitive (Obsidian treats #ML and #ml as one tag)."""
    warnings: int = 0


class Busy(KbError):
    """Another kb process is updating this vault's data."""


@contextmanager
def write_lock(vault: Vault, wait: bool = True) -> Iterator[None]:
    """Hold ``<data_dir>/lock``: one kb process at a time refreshes the store and its consumers.

    Readers take no lock: the store is SQLite, the search index is swapped in whole, and the
    graph files are replaced atomically. With ``wait=False`` a held lock raises :class:`Busy`.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; concurrent refreshes are rare
        yield
        return
    folder = vault.ensure_data_dir()
    try:
        fh = open(folder / "lock", "a+b")  # noqa: SIM115 - closed below, after the unlock
    except OSError as e:
        raise KbError(
            f"cannot open {folder / 'lock'} ({e.strerror}); check its permissions"
        ) from None
    with fh:
        # lockf (a POSIX record lock) belongs to this process alone: the worker processes it
        # forks do not inherit it, so a killed kb cannot leave orphans holding the lock.
        try:
            fcntl.lockf(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            raise Busy(f"another kb process is updating {folder}") from None
        try:
            yield
        finally:
            fcntl.lockf(fh, fcntl.LOCK_UN)


class Store:
    """kb's record of a vault's notes, kept in ``<data_dir>/notes.sqlite``."""

    def __init__(self, vault: Vault):
        self.vault = vault
        self.path = vault.data_dir / "notes.sqlite"
        self._db: sqlite3.Connection | None = None

    # -- database ---------------------------------------------------------
    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if not self.path.exists():
            if not create:
                return None
            self.vault.ensure_data_dir()
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None or int(row[0]) != SCHEMA:
            db.execute("DROP TABLE IF EXISTS notes")
            db.execute(
                "CREATE TABLE notes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
                " sha TEXT, note BLOB, sections INTEGER, links INTEGER, tags TEXT,"
                " warnings INTEGER)"
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
            db.commit()
        self._db = db
        return db

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def exists(self) -> bool:
        """True once the vault has been indexed at least once."""
        return self.path.exists()

    # -- reading ----------------------------------------------------------
    def hashes(self) -> dict[str, str]:
        """Content hash of every known note, by path."""
        db = self._connect(create=False)
        if db is None:
            return {}
        return dict(db.execute("SELECT path, sha FROM notes"))

    def notes(self, paths: Iterable[str] | None = None) -> dict[str, Note]:
        """Parsed notes by path: all of them, or those of ``paths``."""
        db = self._connect(create=False)
        if db is None:
            return {}
        if paths is None:
            rows = db.execute("SELECT path, note FROM notes ORDER BY path")
            with gc_paused():
                return {p: pickle.loads(blob) for p, blob in rows}
        out: dict[str, Note] = {}
        for p in paths:
            row = db.execute("SELECT note FROM notes WHERE path=?", (p,)).fetchone()
            if row is not None:
                out[p] = pickle.loads(row[0])
        return out

    def totals(self) -> Totals:
        """Counts over the whole vault, from the manifest alone (no Note is unpickled)."""
        db = self._connect(create=False)
        if db is None:
            return Totals()
        notes, sections, links, warnings = db.execute(
            "SELECT count(*), coalesce(sum(sections),0), coalesce(sum(links),0),"
            " coalesce(sum(warnings),0) FROM notes"
        ).fetchone()
        tags: set[str] = set()
        for (joined,) in db.execute("SELECT tags FROM notes WHERE tags != ''"):
            tags.update(tag_key(t) for t in joined.split("\n"))
        return Totals(notes, sections, links, len(tags), warnings)

    def diff(self, held: dict[str, str]) -> tuple[list[str], list[str]]:
        """For a consumer holding ``{path: sha}``: (paths to (re)load, paths to drop)."""
        current = self.hashes()
        stale = sorted(p for p, sha in current.items() if held.get(p) != sha)
        gone = sorted(p for p in held if p not in current)
        return stale, gone

    # -- refreshing -------------------------------------------------------
    def refresh(self, full: bool = False, progress: Progress | None = None) -> Changes:
        """Bring the store up to date with the vault files (incremental unless ``full``)."""
        start = time.perf_counter()
        db = self._connect(create=True)
        assert db is not None
        known = {
            p: (size, mtime, sha)
            for p, size, mtime, sha in db.execute("SELECT path, size, mtime_ns, sha FROM notes")
        }
        if full:
            known_before, known = known, {}
        on_disk = self.vault.scan()
        changes = Changes()
        changes.removed = sorted(p for p in known if p not in on_disk)
        todo: list[str] = []
        for rel, st in on_disk.items():
            old = known.get(rel)
            if old is not None and (old[0], old[1]) == (st.size, st.mtime_ns):
                changes.unchanged += 1
            else:
                todo.append(rel)
        touched, restat = self._read_and_parse(todo, known, changes, progress)
        try:
            with db:  # one transaction: a reader sees the store before or after, never half
                if full:
                    db.execute("DELETE FROM notes")
                    changes.removed = sorted(p for p in known_before if p not in on_disk)
                db.executemany("DELETE FROM notes WHERE path=?", [(p,) for p in changes.removed])
                db.executemany("UPDATE notes SET size=?, mtime_ns=? WHERE path=?", restat)
                db.executemany("INSERT OR REPLACE INTO notes VALUES (?,?,?,?,?,?,?,?,?)", touched)
        except sqlite3.OperationalError as e:
            raise KbError(
                f"cannot update {self.path} ({e}); is another program using it?"
            ) from None
        changes.seconds = time.perf_counter() - start
        return changes

    def _read_and_parse(
        self,
        todo: list[str],
        known: dict[str, tuple[int, int, str]],
        changes: Changes,
        progress: Progress | None,
    ) -> tuple[list[tuple], list[tuple]]:
        """Parse files whose stat changed; one whose content did not change keeps its Note.

        Returns the rows to write and the (size, mtime, path) of touched-but-unchanged files.
        """
        rows: list[tuple] = []
        restat: list[tuple] = []
        pending: list[str] = []
        for rel in todo:
            old = known.get(rel)
            if old is not None:
                # Stat changed: hash first, so a touched-but-identical file is not re-parsed.
                try:
                    _, raw, st = self.vault.read(rel)
                except OSError:
                    continue
                if _hash(raw) == old[2]:
                    restat.append((st.size, st.mtime_ns, rel))
                    changes.unchanged += 1
                    continue
            pending.append(rel)
        for result in _parse_all(self.vault, pending, progress):
            if result is None:
                continue
            rel, sha, note, size, mtime = result
            (changes.changed if rel in known else changes.added).append(rel)
            changes.parsed[rel] = note
            blob = pickle.dumps(note, protocol=pickle.HIGHEST_PROTOCOL)
            tags = "\n".join(note.tags)
            rows.append(
                (
                    rel,
                    size,
                    mtime,
                    sha,
                    blob,
                    len(note.sections),
                    len(note.links),
                    tags,
                    len(note.warnings),
                )
            )
        changes.added.sort()
        changes.changed.sort()
        return rows, restat


def _parse_all(
    vault: Vault, pending: list[str], progress: Progress | None
) -> Iterable[Parsed | None]:
    """Parse files, in a process pool when there are many and more than one core."""
    total = len(pending)
    workers = min(os.cpu_count() or 1, 8)
    if total < PARALLEL_MIN_FILES or workers < 2:
        for i, rel in enumerate(pending, 1):
            yield from _parse_chunk(vault, [rel])
            if progress:
                progress(i, total)
        return
    size = max(8, min(64, total // (workers * 8) or 8))
    chunks = [pending[i : i + size] for i in range(0, total, size)]
    done = 0
    from concurrent.futures import ProcessPoolExecutor  # only when there is much to parse

    with ProcessPoolExecutor(max_workers=workers) as pool:
        for results in pool.map(partial(_parse_chunk, vault), chunks):
            done += len(results)
            if progress:
                progress(done, total)
            yield from results
