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


def looked_up(target: str) -> set[str]:
    """The folded names by which a link target (or a name a person types) looks notes up:
    only a note with one of them among its :func:`note_keys` can be what it resolves to
    (its file name or an alias), so a :class:`Resolver` over just those notes answers it
    as one over the whole vault would."""
    written = strip_note_suffix(target.strip().lstrip("/"))
    out = {
        fold(written),
        fold(posixpath.basename(written)),
        fold(posixpath.basename(posixpath.normpath(written or "."))),
    }
    out.discard("")
    return out


def note_keys(path: str, aliases: Iterable[str]) -> set[str]:
    """The folded names by which links find the note at ``path``: its file name and aliases."""
    return {fold(strip_note_suffix(posixpath.basename(path))), *(fold(a) for a in aliases)}


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
        self._by_path: dict[str, list[str]] = {}
        self._files: dict[str, str] = {}
        """Paths exactly as on disk: ``Note.md`` and ``note.md`` may both exist (Linux allows
        it), and [[Note.md]] then means the first."""
        self._exact: dict[str, list[str]] = {}
        """Paths without their note ending, exactly as on disk: [[Note]] means ``Note.md``
        (or ``Note.markdown``) before ``note.md``."""
        self._by_name: dict[str, list[str]] = {}
        self._by_alias: dict[str, list[str]] = {}
        self._by_suffix: dict[str, list[str]] = {}
        for note in notes:
            key = fold(strip_note_suffix(note.path))
            self._by_path.setdefault(key, []).append(note.path)
            self._files[note.path] = note.path
            self._exact.setdefault(strip_note_suffix(note.path), []).append(note.path)
            # "b/c" and "c" for "a/b/c": [[folder/note]] may give any trailing part of the path.
            parts = key.split("/")
            for i in range(1, len(parts) - 1):
                self._by_suffix.setdefault("/".join(parts[i:]), []).append(note.path)
            self._by_name.setdefault(fold(note.stem), []).append(note.path)
            for alias in note.aliases:
                self._by_alias.setdefault(fold(alias), []).append(note.path)
        # Obsidian prefers the note with the shortest path among same-named notes.
        for table in (self._exact, self._by_path, self._by_name, self._by_alias, self._by_suffix):
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
            hit = self._path(joined)
            if hit.path:
                return hit
        return self.resolve(link.target)

    def _path(self, written: str) -> Resolution:
        """A vault path as written, with or without its note ending: the file of exactly that
        path, else those of exactly that name, else those equal once case-folded."""
        exact = self._files.get(written)
        if exact:
            return Resolution(exact, (exact,), "path")
        bare = strip_note_suffix(written)
        for paths in (self._exact.get(bare), self._by_path.get(fold(bare))):
            if paths:
                return Resolution(paths[0], tuple(paths), "path")
        return Resolution(None)

    def resolve(self, name: str) -> Resolution:
        """Resolve a name as typed in ``[[name]]``: vault path, then file name, then alias."""
        written = name.strip().lstrip("/")
        key = fold(strip_note_suffix(written))
        if not key:
            return Resolution(None)
        hit = self._path(written)
        if hit.path:
            return hit
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
