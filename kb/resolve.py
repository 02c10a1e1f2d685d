"""Link resolution as Obsidian does it: path, then file name, then alias.

Pure: built from the notes' paths and aliases, no file I/O.
"""

from __future__ import annotations

import posixpath
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from kb.model import Link, Note, strip_note_suffix


def fold(name: str) -> str:
    """Case- and width-folded form used to compare names (NFKC, casefold, trimmed)."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a link goes."""

    path: str | None
    """Vault-relative path of the note it resolves to; None when missing."""
    candidates: tuple[str, ...] = ()
    """When several notes share the name: all of them (``path`` is the shortest)."""
    via: str = ""
    """How it resolved: ``path``, ``name``, ``alias``, ``self`` or ``""`` (missing)."""

    @property
    def ambiguous(self) -> bool:
        """True when the name matched several notes."""
        return len(self.candidates) > 1


class Resolver:
    """Resolves link targets and names to note paths."""

    def __init__(self, notes: Iterable[Note]):
        self._by_path: dict[str, str] = {}
        self._by_name: dict[str, list[str]] = {}
        self._by_alias: dict[str, list[str]] = {}
        self._by_suffix: dict[str, list[str]] = {}
        for note in notes:
            key = fold(strip_note_suffix(note.path))
            self._by_path[key] = note.path
            # "b/c" and "c" for "a/b/c": [[folder/note]] may give any trailing part of the path.
            parts = key.split("/")
            for i in range(1, len(parts) - 1):
                self._by_suffix.setdefault("/".join(parts[i:]), []).append(note.path)
            self._by_name.setdefault(fold(note.stem), []).append(note.path)
            for alias in note.aliases:
                self._by_alias.setdefault(fold(alias), []).append(note.path)
        # Obsidian prefers the note with the shortest path among same-named notes.
        for table in (self._by_name, self._by_alias, self._by_suffix):
            for paths in table.values():
                paths.sort(key=lambda p: (p.count("/"), len(p), p))

    def resolve_link(self, link: Link, source: str) -> Resolution:
        """Resolve a link written in note ``source``."""
        if not link.target:
            return Resolution(source, (source,), "self")  # [[#Heading]]
        if link.kind == "markdown":
            # Markdown links are relative to the linking note's folder, else to the vault root.
            here = posixpath.dirname(source)
            joined = posixpath.normpath(posixpath.join(here, link.target))
            hit = self._by_path.get(fold(strip_note_suffix(joined)))
            if hit:
                return Resolution(hit, (hit,), "path")
        return self.resolve(link.target)

    def resolve(self, name: str) -> Resolution:
        """Resolve a name as typed in ``[[name]]``: vault path, then file name, then alias."""
        key = fold(strip_note_suffix(name.strip().lstrip("/")))
        if not key:
            return Resolution(None)
        hit = self._by_path.get(key)
        if hit:
            return Resolution(hit, (hit,), "path")
        if "/" in key:
            # [[folder/note]]: Obsidian accepts any path suffix.
            tails = self._by_suffix.get(key)
            if tails:
                return Resolution(tails[0], tuple(tails), "path")
        paths = self._by_name.get(key)
        if paths:
            return Resolution(paths[0], tuple(paths), "name")
        paths = self._by_alias.get(key)
        if paths:
            return Resolution(paths[0], tuple(paths), "alias")
        return Resolution(None)
