"""Bringing kb's data up to date: the store, then the search index and the graph, under one lock.

Every command that reads the vault goes through :func:`update`, so two kb processes never
write ``.kb/`` at the same time, and the order (store first, consumers after) is kept in one
place.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kb.errors import notice
from kb.store import Busy, Changes, Progress, Store, die_with, write_lock
from kb.vault import Vault

if TYPE_CHECKING:
    from kb.graph.queries import KnowledgeGraph

ProgressFactory = Callable[[str], AbstractContextManager[Progress | None]]
"""Given a label, a context giving a (done, total) callback, or None for no progress."""


@dataclass(slots=True)
class Updated:
    """What :func:`update` did, and the graph when it was asked for."""

    store: Store
    changes: Changes
    graph: KnowledgeGraph | None = None


def _quiet(label: str) -> AbstractContextManager[Any]:
    return nullcontext(None)


def update(
    vault: Vault,
    *,
    search: bool = False,
    graph: bool = False,
    load_graph: bool = False,
    full: bool = False,
    full_index: bool = False,
    full_graph: bool = False,
    wait: bool = True,
    progress: ProgressFactory = _quiet,
) -> Updated:
    """Refresh the store, then sync the search index (``search``) and the graph (``graph``).

    ``load_graph`` also returns the graph (loading it even when nothing changed); without it a
    current graph is left on disk unread. ``wait=False`` raises :class:`kb.store.Busy` when
    another kb process holds the lock. ``full_index`` rebuilds the search index alone (one
    found damaged while searching), ``full_graph`` the graph alone (one found damaged by a
    query).
    """
    store = Store(vault)
    with write_lock(vault, wait=wait):
        with progress("Reading notes") as cb:
            changes = store.refresh(full=full, progress=cb)
        pool = job = None
        if graph and search and not load_graph and _worth_a_process(changes, full):
            # Building the graph is serial Python: on a big change it runs in a second process
            # beside the search indexing, so both cores stay busy.
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            store.close()  # an SQLite connection must not cross a fork; it reopens on use
            pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("fork"),
                initializer=die_with,  # a killed kb leaves no graph process writing .kb/
                initargs=(os.getpid(),),
            )
            job = pool.submit(_sync_graph, vault, full)
        try:
            if search:
                from kb import index

                with progress("Indexing sections") as cb:
                    index.sync(vault, store, full=full or full_index, progress=cb)
            if job is not None:
                _wait_for(job, progress)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)  # the graph process finishes before the lock is let go
        kg = None
        if job is not None:
            job.result()  # re-raises what went wrong in the graph process
        elif graph or load_graph:
            from kb import graph as kb_graph

            if full or full_graph or not kb_graph.is_current(vault, store):
                with progress("Linking concepts") as cb:
                    kg = kb_graph.sync(vault, store, full=full or full_graph, progress=cb).graph
    if kg is not None and not load_graph:
        # Closed now: left to the garbage collector, the connection would
        # write its WAL back into graph.sqlite whenever it went, whatever is there by then.
        kg.db.close()
        kg = None
    if load_graph and kg is None:
        # Current on disk: read it after letting go of the lock, so a query does not keep
        # other kb processes waiting while a large graph loads.
        from kb import graph as kb_graph

        kg = kb_graph.read(vault)
        if kg is None:  # removed or damaged meanwhile: rebuild it under the lock
            with write_lock(vault), progress("Linking concepts") as cb:
                kg = kb_graph.sync(vault, store, progress=cb).graph
    return Updated(store, changes, kg if load_graph else None)


def refreshed(
    vault: Vault,
    *,
    as_is: bool = False,
    search: bool = False,
    graph: bool = False,
    load_graph: bool = False,
    full: bool = False,
    progress: ProgressFactory = _quiet,
) -> Updated:
    """:func:`update` for a command, when another kb process may hold the lock.

    A read-only command (``as_is``) then answers from kb's data as it is, with one line on
    stderr, when that data is there: the store is SQLite and the search index and the graph
    are replaced whole, so what it reads is complete, only perhaps behind the vault. Otherwise
    (a command that writes, or no data yet) kb waits, saying so at once and for whom, at most
    :func:`kb.store.lock_timeout` seconds.
    """
    options = dict(search=search, graph=graph, load_graph=load_graph, full=full)
    try:
        return update(vault, wait=False, progress=progress, **options)
    except Busy as busy:
        done = _as_it_is(vault, search=search, load_graph=load_graph) if as_is else None
        if done is not None:
            notice(f"{busy}; answering from the data as it is")
            return done
    return update(vault, progress=progress, **options)


def _as_it_is(vault: Vault, *, search: bool, load_graph: bool) -> Updated | None:
    """What :func:`update` would return, from kb's data as it is; None when it is not there."""
    store = Store(vault)
    if not store.exists:
        return None
    if search:
        from kb import index

        if not index.exists(vault):
            return None
    kg = None
    if load_graph:
        from kb import graph as kb_graph

        kg = kb_graph.read(vault)
        if kg is None:
            return None
    return Updated(store, Changes(), kg)


PARALLEL_GRAPH_NOTES = 500
"""Below this many changed notes, a second process costs more than it saves."""


def _worth_a_process(changes: Changes, full: bool) -> bool:
    import multiprocessing

    many = full or len(changes.added) + len(changes.changed) >= PARALLEL_GRAPH_NOTES
    # fork: the child inherits the loaded modules; spawn would pay the imports again.
    return many and (os.cpu_count() or 1) > 1 and multiprocessing.get_start_method() == "fork"


def _wait_for(job: Any, progress: ProgressFactory) -> None:
    """Wait for the graph process, showing the seconds it takes (it has no count to show)."""
    from concurrent.futures import wait

    with progress("Linking concepts") as cb:
        while not job.done():
            if cb:
                cb(0, 0)
            wait([job], timeout=0.5)


def _sync_graph(vault: Vault, full: bool) -> None:
    """Bring the graph up to date (in the child process); the caller holds the lock."""
    from kb import graph as kb_graph

    store = Store(vault)
    done = kb_graph.sync(vault, store, full=full)
    # Closed here: a forked worker leaves by os._exit, and a connection left open keeps its
    # write-ahead log (hundreds of MB after a full build) for the next kb to fold in.
    done.graph.db.close()
    store.close()
