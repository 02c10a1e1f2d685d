"""The ``.kb/`` folder: which note files were read when, and their parsed Notes.

One SQLite file (``notes.sqlite``) holds, per note file, its size, mtime, ctime, inode and
content hash (the manifest) and the parsed :class:`~kb.model.Note` as checked JSON. A refresh
is a stat scan: files whose stat is unchanged are not read; changed
ones are hashed, and only those whose content changed are parsed again.

Consumers (the search index, the graph) keep their own ``{path: sha1}`` of what
they hold and catch up with :meth:`Store.diff`, so each can be brought up to
date on its own schedule (``kb search`` never loads the graph).
"""

from __future__ import annotations

import errno
import gc
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial

from kb import datadir, note_codec
from kb.errors import KbError, notice
from kb.model import Note
from kb.text import tag_key
from kb.vault import FileStat, NotANote, Vault

SCHEMA = 12
"""Bump when Note or the table changes, or what the parser reads: a store of another schema
is rebuilt. 10: the ``generation`` the search index and the graph trust (GENERATION_KEY); a
kb of 9 writes notes without changing it, so a store of 9 is read again, never trusted.
11: an HTML block ends after a line of whole elements (kb.md_html). 12: brackets that only
mark bold text for slides (d2lbook's ``[**…**]``) are not text (kb.md_text)."""

GENERATION_KEY = "generation"
"""The ``meta`` row naming the store's content: a new random token in every transaction that
changes a note's row, so a consumer that wrote down the token it caught up with knows, from one
small read, that nothing changed since (random, not a count: a store deleted and made again
must not repeat a number a consumer holds)."""

PARALLEL_MIN_FILES = 64
"""Below this many files to parse, a process pool costs more than it saves."""

STORE_BATCH_NOTES = 200
"""A run that adds this many notes or more (a first index) commits them this many at a time:
one interrupted or killed resumes from its last batch instead of parsing every note again."""

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
    skipped: dict[str, str] = field(default_factory=dict)
    """Every file with a note's name that kb does not read (binary, unreadable, a symlink out
    of the vault…), with the reason; remembered, so an unchanged one is not read again."""
    newly_skipped: list[str] = field(default_factory=list)
    """Those of ``skipped`` not skipped (for that reason) by the refresh before."""
    seconds: float = 0.0

    @property
    def any(self) -> bool:
        """True when the vault's notes differ from the last refresh."""
        return bool(self.added or self.changed or self.removed)

    def warnings(self) -> dict[str, tuple[str, ...]]:
        """Path → what is wrong with it, of the files this refresh read or newly skipped (an
        unchanged file's warning was said when it was read)."""
        out = {path: note.warnings for path, note in self.parsed.items() if note.warnings}
        out.update((path, (self.skipped[path],)) for path in self.newly_skipped)
        return dict(sorted(out.items()))


JOURNAL_KEPT = 50_000
"""Rows of the ``journal`` kept: a consumer further behind compares every note's hash."""

_EVERYTHING = "*"
"""A journal path meaning "any note may have changed" (no note's path is ``*``)."""


def _journal(db: sqlite3.Connection) -> bool:
    """Make the ``journal`` table unless it exists; True when it did."""
    had = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'journal'"
    ).fetchone()
    db.execute(
        "CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " generation TEXT NOT NULL, path TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS journal_generation ON journal (generation)")
    return had is not None


def _new_generation(db: sqlite3.Connection, paths: Iterable[str] | None) -> None:
    """Mark the store's content as changed (inside the transaction that changes it): a new
    generation token, and in the ``journal`` the paths whose rows it wrote or deleted (None:
    any), so a consumer that holds an older token learns what changed since from those rows
    alone (:meth:`Store.changed_since`)."""
    token = os.urandom(8).hex()
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (GENERATION_KEY, token))
    rows = [(token, "")] + [(token, p) for p in ([_EVERYTHING] if paths is None else paths)]
    db.executemany("INSERT INTO journal (generation, path) VALUES (?, ?)", rows)
    db.execute(
        "DELETE FROM journal WHERE seq <= (SELECT max(seq) FROM journal) - ?", (JOURNAL_KEPT,)
    )


def _hash(raw: bytes) -> str:
    """Content hash of a note file, tagged with SCHEMA: when the parser changes (and SCHEMA with
    it), every note's hash changes too, so the index and the graph take the new Notes."""
    return f"{SCHEMA}-" + hashlib.blake2b(raw, digest_size=16).hexdigest()


Parsed = tuple[str, str, Note, FileStat]
"""(path, content hash, note, stat) of one parsed file."""


@dataclass(frozen=True, slots=True)
class Unread:
    """A file found by the scan and not parsed."""

    path: str
    reason: str | None
    """Why kb does not read it; None when it was deleted since the scan (it is forgotten)."""


def _parse_chunk(vault: Vault, chunk: list[str]) -> list[Parsed | Unread]:
    """Read, hash and parse files (in a worker process when there are many)."""
    from kb.parse import parse_note

    out: list[Parsed | Unread] = []
    for rel in chunk:
        try:
            file = vault.read_note(rel)
        except FileNotFoundError:
            out.append(Unread(rel, None))
            continue
        except NotANote as e:
            out.append(Unread(rel, str(e)))
            continue
        note = parse_note(file.text, rel)
        if file.warning:
            note = replace(note, warnings=(file.warning, *note.warnings))
        out.append((rel, _hash(file.raw), note, file.stat))
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
    """Warnings of the last refresh: of notes read (bad front matter, invalid UTF-8…) and one
    per file not read (binary, unreadable, a symlink out of the vault…)."""


LOCK_TIMEOUT = 30.0
"""Seconds a kb waits for another kb process holding the lock before it gives up
(``$KB_LOCK_TIMEOUT`` changes it)."""

LOCK_POLL = 0.05
"""Seconds between two tries to take a held lock."""


class Busy(KbError):
    """Another kb process is updating this vault's data."""

    def __init__(self, message: str, pid: int | None = None):
        super().__init__(message)
        self.pid = pid
        """The process holding the lock, when it could be learned."""


def die_with(parent: int) -> None:
    """Have this worker process killed when kb (its parent, pid ``parent``) dies.

    A kb killed with SIGKILL must not leave workers behind: idle ones would wait for work
    forever, and a busy one (the graph process) would go on writing kb's files while the next
    kb, holding the lock (which workers never hold), writes them too. Linux only (prctl).
    """
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # kb died before prctl took effect
        os._exit(1)


def lock_timeout() -> float:
    """How long to wait for the lock: ``$KB_LOCK_TIMEOUT`` seconds, else :data:`LOCK_TIMEOUT`."""
    raw = os.environ.get("KB_LOCK_TIMEOUT", "").strip()
    try:
        value = float(raw) if raw else LOCK_TIMEOUT
    except ValueError:
        raise KbError(
            f"KB_LOCK_TIMEOUT={raw!r} is not a number of seconds; set it to e.g. 30"
        ) from None
    if not value >= 0:  # also refuses nan
        raise KbError(f"KB_LOCK_TIMEOUT={raw!r} is negative; set it to e.g. 30")
    return value


def _holder(fh) -> int | None:
    """The pid of the process holding the lock on ``fh``, or None when it cannot be learned.

    Linux: F_GETLK with a ``struct flock`` (short type, short whence, off_t start, off_t len,
    pid_t pid) asks the kernel, which knows even a holder that is stopped or hung. Elsewhere
    (another layout of the struct) the pid the holder wrote into the lock file is read.
    """
    import fcntl
    import struct
    import sys

    if sys.platform.startswith("linux"):
        layout = "hhqqi"
        request = struct.pack(layout, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        try:
            # Room for the kernel's struct, padding included (32 bytes on 64-bit Linux).
            answer = fcntl.fcntl(fh.fileno(), fcntl.F_GETLK, request + bytes(16))
        except OSError:
            return None
        kind, _whence, _start, _len, pid = struct.unpack_from(layout, answer)
        if kind == fcntl.F_UNLCK:
            return None  # let go meanwhile
        return pid if pid > 0 else None
    try:
        fh.seek(0)
        text = fh.read(32).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cpu_seconds(pid: int | None) -> float | None:
    """CPU time used so far by process ``pid`` (Linux ``/proc``), or None when it is unknown."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        # After "pid (comm)": state is field 3, utime and stime are fields 14 and 15.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _held_by(pid: int | None) -> str:
    """The lock holder, as messages name it."""
    return f"kb (pid {pid})" if pid else "another kb process"


@contextmanager
def write_lock(vault: Vault, wait: bool = True) -> Iterator[None]:
    """Hold ``<data_dir>/lock``: one kb process at a time refreshes the store and its consumers.

    Readers take no lock: the store is SQLite, the search index is swapped in whole, and the
    graph files are replaced atomically. With ``wait=False`` a held lock raises :class:`Busy`;
    otherwise kb says at once on stderr that it waits and for which process, and raises
    :class:`Busy` naming that process once it has used no CPU for :func:`lock_timeout` seconds
    (a holder stopped with Ctrl-Z, or hung, would otherwise keep every kb waiting for ever;
    one that is working, however long, is waited for).
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; concurrent refreshes are rare
        yield
        return
    folder = vault.ensure_data_dir()
    path = folder / "lock"
    fh = datadir.open_lock(path)  # never through a symlink; closed after the unlock
    with fh:
        # lockf (a POSIX record lock) belongs to this process alone: the worker processes it
        # forks do not inherit it, so a killed kb cannot leave orphans holding the lock.
        if not _try_lock(fh):
            pid = _holder(fh)
            if not wait:
                raise Busy(f"{_held_by(pid)} is updating {folder}", pid)
            timeout = lock_timeout()
            notice(f"waiting for {_held_by(pid)} that holds {path}… (at most {timeout:g} s)")
            deadline = time.monotonic() + timeout
            busy = _cpu_seconds(pid)
            while not _try_lock(fh):
                now = _cpu_seconds(pid)
                if now is not None and busy is not None and now > busy:
                    # The holder is at work (a long `kb index --full`): wait on. Only a holder
                    # that is stopped or blocked (no CPU for `timeout` s) is given up on.
                    busy, deadline = now, time.monotonic() + timeout
                left = deadline - time.monotonic()
                if left <= 0:
                    pid = _holder(fh) or pid
                    resume = f"`kill -CONT {pid}` or `fg` in its terminal" if pid else "`fg`"
                    end = f"`kill {pid}`" if pid else "end it"
                    raise Busy(
                        f"gave up after {timeout:g} s waiting for {_held_by(pid)} that holds "
                        f"{path}: if it is stopped, resume it ({resume}); if it is hung, {end}; "
                        "then run this again",
                        pid,
                    )
                time.sleep(min(LOCK_POLL, left))
        try:
            try:  # for the message of a kb that waits, where F_GETLK is not to be had
                fh.truncate(0)
                fh.write(f"{os.getpid()}\n".encode())
                fh.flush()
            except OSError:
                pass
            yield
        finally:
            fcntl.lockf(fh, fcntl.LOCK_UN)


def _try_lock(fh) -> bool:
    """Take the lock on ``fh`` if it is free; False when another process holds it."""
    import fcntl

    try:
        fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EAGAIN):
            raise
        return False
    return True


class Store:
    """kb's record of a vault's notes, kept in ``<data_dir>/notes.sqlite``."""

    def __init__(self, vault: Vault):
        self.vault = vault
        self.path = vault.data_dir / "notes.sqlite"
        self._db: sqlite3.Connection | None = None
        self._refused = 0
        """Stored records refused as damaged since this Store was opened."""

    # -- database ---------------------------------------------------------
    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if not self.path.exists():
            if not create:
                return None
            self.vault.ensure_data_dir()
        elif not self.path.is_file():
            raise KbError(
                f"{self.path} is not a file kb wrote (it is a folder or a device); "
                "move it out of the way and run kb again"
            )
        try:
            db = self._open()
        except sqlite3.OperationalError:
            raise  # locked, read-only, disk full: not a reason to throw the store away
        except sqlite3.DatabaseError as e:
            if not create:
                raise
            # Only refresh creates, under kb's write lock: no other kb has the file open.
            notice(f"{self.path} is damaged ({e}); reading every note again")
            for suffix in ("", "-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            db = self._open()
        self._db = db
        return db

    def _open(self) -> sqlite3.Connection:
        """Connect, making the tables of this SCHEMA (a store of another schema is emptied)."""
        db = sqlite3.connect(self.path, timeout=30)
        try:
            # kb writes tables only: a trigger or a view would run or stand in for someone
            # else's SQL (a planted trigger fires on every note kb writes).
            planted = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type IN ('trigger', 'view') LIMIT 1"
            ).fetchone()
            if planted:
                raise sqlite3.DatabaseError("it holds triggers or views, which kb never writes")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None or row[0] != str(SCHEMA):
                if row is not None:
                    notice(f"{self.path} is from another version of kb; reading every note again")
                db.execute("DROP TABLE IF EXISTS notes")
                db.execute("DROP TABLE IF EXISTS journal")
                db.execute(
                    "CREATE TABLE notes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
                    " sha TEXT, note BLOB, sections INTEGER, links INTEGER, tags TEXT,"
                    " warnings INTEGER, ctime_ns INTEGER, inode INTEGER)"
                )
                _journal(db)
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
                _new_generation(db, None)
                db.commit()
            elif not _journal(db):  # (dropped by hand: no consumer can trust what it says)
                _new_generation(db, None)
                db.commit()
        except BaseException:
            db.close()
            raise
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
    def hashes(self, paths: Iterable[str] | None = None) -> dict[str, str]:
        """Content hash of every known note (or of those of ``paths``), by path."""
        db = self._connect(create=False)
        if db is None:
            return {}
        if paths is None:
            return dict(db.execute("SELECT path, sha FROM notes"))
        out: dict[str, str] = {}
        paths = sorted(set(paths))
        for i in range(0, len(paths), 500):  # (SQLite's limit on ? marks is 999 on old builds)
            chunk = paths[i : i + 500]
            q = f"SELECT path, sha FROM notes WHERE path IN ({', '.join('?' * len(chunk))})"
            out.update(db.execute(q, chunk))
        return out

    def notes(self, paths: Iterable[str] | None = None) -> dict[str, Note]:
        """Parsed notes by path: all of them, or those of ``paths``."""
        db = self._connect(create=False)
        if db is None:
            return {}
        if paths is None:
            rows = db.execute("SELECT path, note FROM notes ORDER BY path")
            with gc_paused():
                decoded = {p: self._decode(p, blob) for p, blob in rows.fetchall()}
            return {p: n for p, n in decoded.items() if n is not None}
        out: dict[str, Note] = {}
        for p in paths:
            row = db.execute("SELECT note FROM notes WHERE path=?", (p,)).fetchone()
            if row is not None and (note := self._decode(p, row[0])) is not None:
                out[p] = note
        return out

    def _decode(self, path: str, blob: str | bytes) -> Note | None:
        """A stored note; None (and its row forgotten, so the next refresh reads the file again)
        when the record does not decode: a damaged store, or one planted by someone else.

        The record is JSON checked field by field (kb.note_codec): nothing read from the data
        folder is ever unpickled or otherwise run."""
        try:
            return note_codec.decode(blob)
        except note_codec.BadNote as e:
            if not self._refused:  # one line, however many records were planted
                notice(f"{self.path}: the record of {path} is damaged ({e}); reading it again")
            self._refused += 1
            try:
                with self._db:  # type: ignore[union-attr]
                    self._db.execute("DELETE FROM notes WHERE path=?", (path,))  # type: ignore[union-attr]
                    _new_generation(self._db, [path])  # type: ignore[arg-type]
            except sqlite3.Error:
                pass  # read-only or locked: the record stays unused until a refresh replaces it
            return None

    def totals(self) -> Totals:
        """Counts over the whole vault, from the manifest alone (no Note is decoded)."""
        db = self._connect(create=False)
        if db is None:
            return Totals()
        notes, sections, links, warnings = db.execute(
            "SELECT count(*), coalesce(sum(sections),0), coalesce(sum(links),0),"
            " coalesce(sum(warnings),0) FROM notes"
        ).fetchone()
        written: set[str] = set()
        for (joined,) in db.execute("SELECT tags FROM notes WHERE tags != ''"):
            written.update(joined.split("\n"))
        tags = {tag_key(t) for t in written}  # folded once per tag, not once per use
        return Totals(notes, sections, links, len(tags), warnings + len(self._skipped(db)))

    def skipped(self) -> dict[str, str]:
        """Files with a note's name that the last refresh did not read, with the reason."""
        db = self._connect(create=False)
        return {} if db is None else {p: why for p, (_, why) in self._skipped(db).items()}

    def warnings(self) -> dict[str, tuple[str, ...]]:
        """Every warning of the last refresh by path: notes read with warnings, files skipped."""
        db = self._connect(create=False)
        if db is None:
            return {}
        rows = db.execute("SELECT path, note FROM notes WHERE warnings > 0").fetchall()
        out = {p: note.warnings for p, blob in rows if (note := self._decode(p, blob)) is not None}
        for path, why in self.skipped().items():
            out[path] = (why,)
        return dict(sorted(out.items()))

    @staticmethod
    def _skipped(db: sqlite3.Connection) -> dict[str, tuple[FileStat, str]]:
        """What the last refresh skipped: path -> (its stat then, the reason)."""
        row = db.execute("SELECT value FROM meta WHERE key='skipped'").fetchone()
        try:
            saved = json.loads(row[0]) if row else {}
            if saved.get("schema") != SCHEMA:
                return {}  # another kb decided: judge every file again
            return {
                p: (FileStat(*(int(n) for n in stat)), str(why))
                for p, (*stat, why) in saved["files"].items()
            }
        except (ValueError, TypeError, KeyError, AttributeError):
            return {}

    def generation(self) -> str:
        """A token that changes whenever a note's row does ("" before the first refresh)."""
        db = self._connect(create=False)
        if db is None:
            return ""
        row = db.execute("SELECT value FROM meta WHERE key=?", (GENERATION_KEY,)).fetchone()
        return str(row[0]) if row else ""

    def changed_since(self, generation: str) -> set[str] | None:
        """The notes whose rows changed (written or deleted) after the transaction that made
        ``generation``; None when the journal cannot tell (an unknown or too old token, a
        store rebuilt, a --full refresh): then compare every note."""
        db = self._connect(create=False)
        if db is None or not generation:
            return None
        try:
            row = db.execute(
                "SELECT max(seq) FROM journal WHERE generation = ?", (generation,)
            ).fetchone()
            if row is None or type(row[0]) is not int:
                return None
            rows = db.execute("SELECT path FROM journal WHERE seq > ?", (row[0],)).fetchall()
        except sqlite3.DatabaseError:
            return None  # (damaged: compare every note; the next refresh repairs the store)
        paths = {p for (p,) in rows}
        if _EVERYTHING in paths or any(type(p) is not str for p in paths):
            return None
        paths.discard("")
        return paths

    def diff(
        self, held: dict[str, str], paths: Iterable[str] | None = None
    ) -> tuple[list[str], list[str]]:
        """For a consumer holding ``{path: sha}``: (paths to (re)load, paths to drop). Given
        ``paths`` (what :meth:`changed_since` says of the generation the consumer caught up
        with), only those are compared, and ``held`` need hold only those."""
        if paths is None:
            current = self.hashes()
            stale = sorted(p for p, sha in current.items() if held.get(p) != sha)
            return stale, sorted(p for p in held if p not in current)
        paths = set(paths)
        current = self.hashes(paths)
        stale = sorted(p for p, sha in current.items() if held.get(p) != sha)
        return stale, sorted(p for p in paths if p in held and p not in current)

    # -- refreshing -------------------------------------------------------
    def refresh(self, full: bool = False, progress: Progress | None = None) -> Changes:
        """Bring the store up to date with the vault files (incremental unless ``full``)."""
        start = time.perf_counter()
        db = self._connect(create=True)
        assert db is not None
        # The manifest without the notes: read from this index, a scan of 6,000 rows takes
        # 15 ms instead of 65 ms (the table's pages hold the notes' records too); totals()
        # reads it too.
        db.execute(
            "CREATE INDEX IF NOT EXISTS notes_manifest ON notes(path, size, mtime_ns, ctime_ns,"
            " inode, sha, sections, links, warnings, tags)"
        )
        # (size, mtime, ctime, inode) rows compare equal to the scan's FileStat tuples.
        known = {
            row[0]: (row[1:5], row[5])
            for row in db.execute("SELECT path, size, mtime_ns, ctime_ns, inode, sha FROM notes")
        }
        if full:
            known_before, known = known, {}
        changes = Changes()
        on_disk = self.vault.scan(changes.skipped)
        before = {} if full else self._skipped(db)  # --full: judge and report all again
        changes.removed = sorted(p for p in known if p not in on_disk)
        todo: list[str] = []
        for rel, st in on_disk.items():
            old = known.get(rel)
            was = before.get(rel)
            if old is not None and old[0] == st:
                changes.unchanged += 1
            elif was is not None and was[0] == st:
                changes.skipped[rel] = was[1]  # still the same binary or unreadable file
            else:
                todo.append(rel)
        # Many new notes (a first index): commit them in batches as they are parsed, so that
        # Ctrl-C or a kill loses at most one batch. Not with --full, which empties the table
        # at the end; readers may meanwhile see some of the new notes, never a half note.
        batch = None
        if not full and sum(p not in known for p in todo) >= STORE_BATCH_NOTES:
            batch = partial(self._insert, db)
        touched, restat, vanished = self._read_and_parse(todo, known, changes, progress, batch)
        # Out of the store: notes deleted (even while being read), and notes that became
        # unreadable or binary.
        had = known_before if full else known
        if full:  # every note read again: those kb knew are new only if they are
            shas = {row[0]: row[3] for row in touched}
            added = changes.added
            changes.added = [p for p in added if p not in had]
            changes.changed = [p for p in added if p in had and had[p][1] != shas.get(p)]
            changes.unchanged += len(added) - len(changes.added) - len(changes.changed)
        dropped = set(vanished) | set(changes.skipped)
        changes.removed = sorted(p for p in had if p not in on_disk or p in dropped)
        changes.newly_skipped = sorted(
            p for p, why in changes.skipped.items() if p not in before or before[p][1] != why
        )
        remembered = {
            p: [*(_stat_row(on_disk[p]) if p in on_disk else (-1, -1, -1, -1)), why]
            for p, why in changes.skipped.items()
        }
        if progress and touched:
            progress(0, 0)  # writing the parsed notes: no count to show
        skipped = json.dumps({"schema": SCHEMA, "files": remembered})
        if not (full or changes.removed or restat or touched) and self.generation():
            row = db.execute("SELECT value FROM meta WHERE key='skipped'").fetchone()
            if row is not None and row[0] == skipped:
                # Nothing to write: no transaction, whose commit (a disk flush) would cost a
                # query that changed nothing more than finding that out did.
                changes.seconds = time.perf_counter() - start
                return changes
        try:
            with db:  # one transaction: a reader sees the store before or after, never half
                if full:
                    db.execute("DELETE FROM notes")
                db.executemany("DELETE FROM notes WHERE path=?", [(p,) for p in changes.removed])
                db.executemany(
                    "UPDATE notes SET size=?, mtime_ns=?, ctime_ns=?, inode=? WHERE path=?", restat
                )
                db.executemany(
                    "INSERT OR REPLACE INTO notes VALUES (?,?,?,?,?,?,?,?,?,?,?)", touched
                )
                if full or changes.removed or touched or not self.generation():
                    # (a store of an older kb has none yet)
                    written = None if full else [*changes.removed, *(row[0] for row in touched)]
                    _new_generation(db, written)
                db.execute("INSERT OR REPLACE INTO meta VALUES ('skipped', ?)", (skipped,))
        except sqlite3.OperationalError as e:
            raise KbError(
                f"cannot update {self.path} ({e}); is another program using it?"
            ) from None
        changes.seconds = time.perf_counter() - start
        return changes

    def _insert(self, db: sqlite3.Connection, rows: list[tuple]) -> None:
        """Write a batch of parsed notes in a transaction of its own."""
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO notes VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
                _new_generation(db, [row[0] for row in rows])
        except sqlite3.OperationalError as e:
            raise KbError(
                f"cannot update {self.path} ({e}); is another program using it?"
            ) from None

    def _read_and_parse(
        self,
        todo: list[str],
        known: dict[str, tuple[tuple[int, ...], str]],
        changes: Changes,
        progress: Progress | None,
        batch: Callable[[list[tuple]], None] | None = None,
    ) -> tuple[list[tuple], list[tuple], list[str]]:
        """Parse files whose stat changed; one whose content did not change keeps its Note.

        Returns the rows to write, the (size, mtime, ctime, inode, path) of touched-but-unchanged
        files and
        the paths of files deleted since the scan. Files kb does not read go to
        ``changes.skipped``. ``batch``, when given, is handed the rows every
        :data:`STORE_BATCH_NOTES` notes and writes them (those are not returned).
        """
        rows: list[tuple] = []
        restat: list[tuple] = []
        vanished: list[str] = []
        pending: list[str] = []
        for rel in todo:
            old = known.get(rel)
            if old is not None:
                # Stat changed: hash first, so a touched-but-identical file is not re-parsed.
                try:
                    file = self.vault.read_note(rel)
                except (OSError, NotANote):
                    pending.append(rel)  # gone or unreadable: the parse below says which
                    continue
                if _hash(file.raw) == old[1]:
                    restat.append((*_stat_row(file.stat), rel))
                    changes.unchanged += 1
                    continue
            pending.append(rel)
        for result in _parse_all(self.vault, pending, progress):
            if isinstance(result, Unread):
                if result.reason is None:
                    vanished.append(result.path)
                else:
                    changes.skipped[result.path] = result.reason
                continue
            rel, sha, note, stat = result
            (changes.changed if rel in known else changes.added).append(rel)
            changes.parsed[rel] = note
            blob = note_codec.encode(note)
            tags = "\n".join(note.tags)
            rows.append(
                (
                    rel,
                    stat.size,
                    stat.mtime_ns,
                    sha,
                    blob,
                    len(note.sections),
                    len(note.links),
                    tags,
                    len(note.warnings),
                    stat.ctime_ns,
                    stat.inode,
                )
            )
            if batch is not None and len(rows) >= STORE_BATCH_NOTES:
                batch(rows)  # committed: left out of the final transaction
                rows = []
        changes.added.sort()
        changes.changed.sort()
        return rows, restat, vanished


def _stat_row(stat: FileStat) -> tuple[int, int, int, int]:
    """A stat as the manifest stores it."""
    return stat.size, stat.mtime_ns, stat.ctime_ns, stat.inode


def _parser(parent: int) -> None:
    """Start a parser process: it dies with kb, and leaves Ctrl-C and `kill` of the process
    group to kb, which cancels the work not started (a worker that stopped on its own would
    break the pool, and Python 3.11 then prints an InvalidStateError traceback)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with(parent)


def _parse_all(
    vault: Vault, pending: list[str], progress: Progress | None
) -> Iterable[Parsed | Unread]:
    """Parse files, in a process pool when there are many and more than one core."""
    total = len(pending)
    if progress and total:
        progress(0, total)  # a big vault shows its bar before the first note is parsed
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

    with ProcessPoolExecutor(workers, initializer=_parser, initargs=(os.getpid(),)) as pool:
        for results in pool.map(partial(_parse_chunk, vault), chunks):
            done += len(results)
            if progress:
                progress(done, total)
            yield from results
