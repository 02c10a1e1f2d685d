"""The vault as a long-running server keeps it: the store and the graph open between
requests, brought up to date incrementally before a request needs them.

Shared by ``kb mcp`` (:mod:`kb.mcp_server`), which stats the vault's notes and folders
before each call, and ``kb serve`` (:mod:`kb.serve`), whose file watcher says when something
changed (and which stats them as ``kb mcp`` does while its watcher is not running). Neither
the SQLite connections nor this object may be used from two threads at once: each server
asks from one thread only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kb.errors import IndexDamaged, notice

if TYPE_CHECKING:
    from kb.graph.queries import KnowledgeGraph
    from kb.store import Store
    from kb.vault import Snapshot, Vault


SCAN_EVERY = 30.0
"""Seconds after which a call lists the vault's folders again even though nothing said a
note changed: a safety net for a watcher that missed an event and for file systems that
keep a folder's mtime when a file is added to it."""


class Session:
    """The vault as the server keeps it between calls: the store, the graph and what the last
    refresh saw of the files, so that a call on an unchanged vault costs an ``lstat`` of each
    note and folder (:meth:`kb.vault.Snapshot.unchanged`; or, when ``watched``, nothing until
    :meth:`changed` is called)."""

    def __init__(self, vault: Vault, watched: bool = False):
        self.vault = vault
        self.watched = watched
        """A file watcher is running and calls :meth:`changed`: no stat of the notes before
        each call (the server sets it False when its watcher stops)."""
        self._seen: Snapshot | None = None
        """The files' stats when kb's data was last brought up to date (None: not yet)."""
        self._dirty = True
        """Watched: a file changed since the last refresh (or it could not be made)."""
        self._store: Store | None = None
        self._kg: KnowledgeGraph | None = None
        self._reports: dict[str, Any] = {}
        """Whole-vault answers (tags, the doctor's report) for the vault as it is now."""
        self.version = 0
        """Counts the refreshes that found something changed: the page's idea of "now"."""

    def changed(self) -> None:
        """The watcher saw a file change: refresh before the next answer."""
        self._dirty = True

    def fresh(self) -> tuple[KnowledgeGraph, Store]:
        """The graph and the store, caught up with the vault (an incremental refresh, and
        only when a file's stat differs from what the last refresh saw)."""
        from kb.refresh import refreshed, update
        from kb.store import Busy

        loaded = self._kg is not None and self._store is not None
        seen = self._seen
        known = loaded and seen is not None and not self._dirty
        if known and time.monotonic() - seen.taken < SCAN_EVERY:  # type: ignore[union-attr]
            # Watched: the watcher would have said. Else a stat of each note and folder.
            if self.watched or seen.unchanged():  # type: ignore[union-attr]
                return self._kg, self._store  # type: ignore[return-value]
        self._dirty = False  # (before the scan: a change the watcher says of meanwhile counts)
        on_disk = self.vault.snapshot()
        if known and on_disk.files == seen.files:  # type: ignore[union-attr]
            self._seen = on_disk
            return self._kg, self._store  # type: ignore[return-value]
        options = dict(search=True, load_graph=True)
        try:
            done = update(self.vault, wait=False, **options)
            seen = on_disk
            if done.changes.added or done.changes.changed or done.changes.removed or not loaded:
                self.version += 1
        except Busy:
            # Another kb is writing: answer from the data as it is, and look again next call.
            done = refreshed(self.vault, as_is=True, **options)
            seen = None
            self._dirty = True
        except BaseException:
            self._dirty = True
            raise
        self.close()
        assert done.graph is not None
        self._kg, self._store, self._seen = done.graph, done.store, seen
        self.last_changes = done.changes
        return self._kg, self._store

    def report(self, name: str, make: Callable[[KnowledgeGraph, Store], Any]) -> Any:
        """``make(graph, store)``, a whole-vault answer, made once for each state of the vault
        (it reads every note: seconds on a large vault, the same answer until a note changes)."""
        kg, store = self.fresh()
        if name not in self._reports:
            self._reports[name] = make(kg, store)
        return self._reports[name]

    def forget(self) -> None:
        """Refresh on the next call (after kb's data was found damaged and rebuilt)."""
        self.close()
        self._seen = None
        self._dirty = True

    def close(self) -> None:
        if self._kg is not None:
            self._kg.db.close()
        if self._store is not None:
            self._store.close()
        self._kg = self._store = None
        self._reports = {}

    def rebuilding(self, read: Callable[[], Any]) -> Any:
        """``read()`` on a fresh index; when the index is found damaged, rebuild it and read
        again."""
        self.fresh()
        try:
            return read()
        except IndexDamaged as e:
            from kb.refresh import update

            notice(f"the search index in {e.folder} is damaged ({e.problem}); rebuilding it")
            self.forget()
            update(self.vault, search=True, full_index=True)
        return read()

    def repairing(self, call: Callable[[], Any]) -> Any:
        """``call()``; when it meets a damaged graph, rebuild the graph and call again, once."""
        from kb.graph.db import Damaged

        try:
            return call()
        except Damaged as e:
            from kb.refresh import update

            notice(f"the concept graph in {self.vault.data_dir} {e.problem}; rebuilding it")
            self.forget()
            update(self.vault, graph=True, full_graph=True)
            return call()
