"""Watching a vault for edits (``kb watch`` and ``kb serve``): which files changed, in batches.

Only this module imports watchfiles, and only the two commands import it. kb's own data
folder is not watched (kb writes there on every refresh), nor is anything watchfiles'
default filter leaves out (``.git``, editor swap files, ``__pycache__``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kb.vault import Vault

DEBOUNCE_MS = 400
"""Longest time a burst of writes is gathered into one batch (an editor saving a file
writes it, renames it, touches its folder): a batch is yielded after 50 ms without news."""


class Event(Protocol):
    def is_set(self) -> bool: ...


def changes(
    vault: Vault, stop: Event, ready: Callable[[], None] | None = None
) -> Iterator[set[str]]:
    """Batches of vault paths (relative, POSIX) that were written, added or removed, until
    ``stop`` is set. ``ready()`` is called once, when the watch is in place (an edit made
    before that is not seen: refresh once then)."""
    from watchfiles import DefaultFilter, watch

    root = os.path.realpath(vault.root)
    ignored = [os.path.realpath(vault.data_dir) + os.sep]
    default = DefaultFilter()

    def wanted(change, path: str) -> bool:
        real = os.path.realpath(path) if os.path.islink(path) else path
        if any((real + os.sep).startswith(p) for p in ignored):
            return False
        return default(change, path)

    for batch in watch(
        root,
        watch_filter=wanted,
        debounce=DEBOUNCE_MS,
        step=50,
        stop_event=stop,
        rust_timeout=200,
        yield_on_timeout=True,  # an empty batch now and then: the first says the watch is on
        raise_interrupt=False,
    ):
        if ready is not None:
            ready()
            ready = None
        paths = set()
        for _, path in batch:
            rel = os.path.relpath(path, root)
            if not rel.startswith(".."):
                paths.add(rel.replace(os.sep, "/"))
        if paths:
            yield paths


def run(
    vault: Vault,
    stop: Event,
    on_change: Callable[[set[str]], None],
    ready: Callable[[], None] | None = None,
) -> None:
    """Call ``on_change(paths)`` for each batch of changes until ``stop`` is set."""
    for paths in changes(vault, stop, ready):
        on_change(paths)
