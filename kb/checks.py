"""Link checks shared by ``kb doctor`` and ``kb stats``: cheap, pure, no networkx.

Also the one place that decides what a link points at (a note, an attachment file, the
note itself, or nothing), so the graph and the checks always agree.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from kb.model import Link, Note
from kb.resolve import Resolution, Resolver

ATTACHMENT_SUFFIXES = frozenset(
    """
    png jpg jpeg gif bmp svg webp avif ico tif tiff heic mp3 wav m4a ogg flac 3gp webm mp4 ogv mov
    mkv avi pdf canvas base excalidraw csv tsv txt json yaml yml xml zip gz tar html htm py ipynb
    doc docx xls xlsx ppt pptx key odt drawio
    """.split()
)
"""File types Obsidian embeds or links as attachments rather than as notes."""

TargetKind = Literal["note", "self", "attachment", "missing"]


@dataclass(frozen=True, slots=True)
class Target:
    """What a link points at."""

    kind: TargetKind
    path: str | None
    """The note's path (``note``/``self``) or the attachment as written, vault-relative."""
    resolution: Resolution


class CachedResolver:
    """A Resolver that remembers: a vault links to the same few names again and again."""

    def __init__(self, resolver: Resolver):
        self.resolver = resolver
        self._seen: dict[tuple[str, str, str], Resolution] = {}

    def resolve_link(self, link: Link, source: str) -> Resolution:
        """Like Resolver.resolve_link; markdown links depend on the note's folder too."""
        if not link.target:
            return self.resolver.resolve_link(link, source)  # [[#heading]]: the note itself
        here = posixpath.dirname(source) if link.kind == "markdown" else ""
        key = (link.kind, link.target, here)
        res = self._seen.get(key)
        if res is None:
            res = self._seen[key] = self.resolver.resolve_link(link, source)
        return res


def link_target(link: Link, source: str, resolver: Resolver | CachedResolver) -> Target:
    """Classify and resolve a link written in note ``source``."""
    res = resolver.resolve_link(link, source)
    if res.path is not None:
        return Target("self" if res.path == source else "note", res.path, res)
    if is_attachment(link.target):
        return Target("attachment", attachment_path(link, source), res)
    return Target("missing", None, res)


def is_attachment(target: str) -> bool:
    """True when a link target names a file by an attachment extension (``img/a.png``)."""
    name = target.rsplit("/", 1)[-1]
    return "." in name and name.rsplit(".", 1)[1].lower() in ATTACHMENT_SUFFIXES


def attachment_path(link: Link, source: str) -> str:
    """Vault-relative path of an attachment as Markdown links mean it (relative to the note)."""
    if link.kind == "markdown" and not link.target.startswith("/"):
        return posixpath.normpath(posixpath.join(posixpath.dirname(source), link.target))
    return link.target.lstrip("/")


@dataclass(frozen=True, slots=True)
class LinkProblem:
    """One link that needs the user's attention."""

    path: str
    """The note holding the link."""
    line: int
    target: str
    """The target as written."""
    context: str
    candidates: tuple[str, ...] = ()
    """For an ambiguous link: every note the name matches (the first is the one chosen)."""


@dataclass(frozen=True, slots=True)
class NoteWarning:
    """A note whose front matter (or anything else) did not parse cleanly."""

    path: str
    warnings: tuple[str, ...]


@dataclass(slots=True)
class LinkReport:
    """What :func:`check_links` found."""

    notes: int = 0
    links: int = 0
    """Links to notes and files checked (embeds included; external URLs are not links)."""
    resolved: int = 0
    """Links that reach another note."""
    broken: list[LinkProblem] = field(default_factory=list)
    """Links to a note that does not exist."""
    ambiguous: list[LinkProblem] = field(default_factory=list)
    """Links whose name matches several notes."""
    missing_embeds: list[LinkProblem] = field(default_factory=list)
    """Embeds and links of attachment files that are not in the vault."""
    orphans: list[str] = field(default_factory=list)
    """Notes with no link to or from another note."""
    bad_frontmatter: list[NoteWarning] = field(default_factory=list)


def check_links(
    notes: Iterable[Note],
    resolver: Resolver | CachedResolver,
    attachment_exists: Callable[[str], bool],
) -> LinkReport:
    """Broken, ambiguous and missing-file links, orphans and notes with parse warnings."""
    resolver = CachedResolver(resolver) if isinstance(resolver, Resolver) else resolver
    report = LinkReport()
    connected: set[str] = set()
    paths: list[str] = []
    for note in notes:
        paths.append(note.path)
        if note.warnings:
            report.bad_frontmatter.append(NoteWarning(note.path, note.warnings))
        for link in note.links:
            report.links += 1
            target = link_target(link, note.path, resolver)
            problem = LinkProblem(note.path, link.line, _written(link), link.context)
            if target.kind == "note":
                report.resolved += 1
                connected.update((note.path, target.path or ""))
                if target.resolution.ambiguous:
                    report.ambiguous.append(
                        LinkProblem(
                            note.path,
                            link.line,
                            problem.target,
                            link.context,
                            target.resolution.candidates,
                        )
                    )
            elif target.kind == "attachment":
                if not (attachment_exists(target.path or "") or attachment_exists(link.target)):
                    report.missing_embeds.append(problem)
            elif target.kind == "missing":
                (report.missing_embeds if link.embed else report.broken).append(problem)
    report.notes = len(paths)
    report.orphans = sorted(p for p in paths if p not in connected)
    return report


def _written(link: Link) -> str:
    """The link target as the user wrote it, heading included."""
    if link.heading:
        return f"{link.target}#{link.heading}"
    if link.block:
        return f"{link.target}#^{link.block}"
    return link.target
