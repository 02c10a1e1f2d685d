"""Typed records shared by every stage of kb. No I/O here.

Lines are 1-based, as an editor shows them. Paths are vault-relative POSIX
paths (``folder/note.md``), whatever the operating system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

LinkKind = Literal["wikilink", "markdown"]
SectionKind = Literal["root", "heading", "item"]

NOTE_SUFFIXES = (".md", ".markdown")

MAX_NAME_CHARS = 200
"""The longest title, alias or heading kb takes as a name (of a note, a topic, a pattern to
find in text). Real titles stay well under it; a longer one, a paragraph pasted into a
heading or a megabyte-long alias, stays text: as a name it would only slow every search
(pyahocorasick even crashes freeing a million-character key)."""
"""File endings of a note, lower case (``Note.MD`` is a note too)."""


def strip_note_suffix(path: str) -> str:
    """``path`` without its note ending (``.md``/``.markdown``, any case): the name of the note."""
    for suffix in NOTE_SUFFIXES:
        if path[-len(suffix) :].lower() == suffix:
            return path[: -len(suffix)]
    return path


@dataclass(frozen=True, slots=True)
class Link:
    """A link from a note to another note, a heading, a block or a file."""

    target: str
    """The note or file part as written (``ResNet``, ``img/a.png``); ``""`` for ``[[#Heading]]``."""
    heading: str | None
    """The ``#Heading`` part without the ``#``, or None."""
    block: str | None
    """The ``#^block-id`` part without ``#^``, or None."""
    alias: str | None
    """Display text: ``[[T|text]]``, ``[text](file.md)``; an embed's ``|300`` size is kept here."""
    kind: LinkKind
    """``wikilink`` for ``[[…]]``/``![[…]]``, ``markdown`` for ``[text](local/file.md)``."""
    embed: bool
    """True for ``![[…]]`` and ``![alt](local.png)``."""
    line: int
    """Line of the link in the note file."""
    context: str
    """The sentence (or list item / table cell text) around the link, as plain text."""
    section: int = 0
    """Index into ``Note.sections`` of the section holding the link."""


@dataclass(frozen=True, slots=True)
class Url:
    """An external link (``https://…``, ``mailto:…``), kept apart from note links."""

    url: str
    text: str
    line: int
    section: int = 0


@dataclass(frozen=True, slots=True)
class TagUse:
    """One place a tag is given: inline ``#tag`` or front-matter ``tags``."""

    name: str
    """Without ``#``, case kept as written (``ml/cnn``, ``深度学习``)."""
    line: int
    """Line of the inline tag; the front-matter line for front-matter tags."""
    section: int = 0
    """Index into ``Note.sections``; 0 (the note root) for front-matter tags."""
    frontmatter: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    """One node of a note's outline: the note root, a heading, or a lead list item.

    A lead list item is one that opens with a bold term (``- **resnet** …``) or a
    ``term：explanation`` / ``term: explanation`` lead; its title is that term.
    """

    title: str
    """Heading text / lead term as plain text; the note title for the root."""
    kind: SectionKind
    level: int
    """0 for the root, 1–6 for headings; items are 10 + their list depth (they nest in headings)."""
    heading_path: tuple[str, ...]
    """Titles from the note title down to this section (note › heading › sub)."""
    line_start: int
    line_end: int
    """Last line that belongs to this section, sub-sections included."""
    parent: int | None
    """Index into ``Note.sections`` of the enclosing section; None for the root."""
    text: str
    """The section's own prose (sub-sections excluded) as plain text, one block per line."""
    code: str = ""
    """Its own fenced/indented code blocks and inline code, joined by newlines."""
    math: str = ""
    """Its own ``$…$`` / ``$$…$$`` math, joined by newlines."""
    emphasis: str = ""
    """The ``**bold**`` and ``*italic*`` spans of its own text, joined by newlines."""
    text_lines: tuple[int, ...] = ()
    """File line of each line of ``text``: ``text.split("\\n")[i]`` starts on line
    ``text_lines[i]``. Empty when unknown (sections built by hand): use ``line_start``."""
    text_breaks: tuple[tuple[int, int], ...] = ()
    """(offset in ``text``, file line) where a line of ``text`` goes on to a later line of
    the file (a paragraph wrapped over several lines), in order."""

    def line_of(self, offset: int) -> int:
        """The file line of the character at ``offset`` in ``text``."""
        row = self.text.count("\n", 0, offset)
        if row >= len(self.text_lines):
            return self.text_lines[-1] if self.text_lines else self.line_start
        line = self.text_lines[row]
        row_start = self.text.rfind("\n", 0, offset) + 1
        for at, later in self.text_breaks:
            if at > offset:
                break
            if at >= row_start:  # the line of text goes on to a later file line before offset
                line = later
        return line


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed Markdown note."""

    path: str
    """Vault-relative POSIX path with extension (``topics/ResNet.md``)."""
    title: str
    """Front-matter ``title``, else the file name without ``.md`` (or ``.markdown``)."""
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    """Distinct tag names (front matter and inline), in order of first use."""
    tag_uses: tuple[TagUse, ...] = ()
    links: tuple[Link, ...] = ()
    urls: tuple[Url, ...] = ()
    sections: tuple[Section, ...] = ()
    """The outline in document order; ``sections[0]`` is always the root."""
    frontmatter: dict = field(default_factory=dict)
    """Parsed front matter ({} when absent or broken)."""
    warnings: tuple[str, ...] = ()
    """Problems found while parsing (front matter that did not parse, …), one line each."""

    @property
    def display_title(self) -> str | None:
        """The note's one ``# H1`` at its very top, as people read its name, or None.

        Foam and many Obsidian users write ``backlinking.md`` as ``# Backlinks``; d2l writes
        ``resnet.md`` as ``# 残差网络（ResNet）``. A note with text above it or several H1s has
        none: those headings are sections of their own.
        """
        secs = self.sections
        if len(secs) < 2 or secs[0].text.strip():
            return None
        first = secs[1]
        if first.kind != "heading" or first.level != 1:
            return None
        if any(s.kind == "heading" and s.level == 1 for s in secs[2:]):
            return None
        return first.title if len(first.title) <= MAX_NAME_CHARS else None

    @property
    def stem(self) -> str:
        """File name without folder and note ending: what ``[[name]]`` matches in Obsidian."""
        return strip_note_suffix(self.path.rsplit("/", 1)[-1])


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a section of a note."""

    path: str
    title: str
    heading: tuple[str, ...]
    """Breadcrumb: note title › heading › sub."""
    line: int
    score: float
    snippet: str
    """Plain text; matched words are wrapped in ``\\x02`` … ``\\x03`` for the CLI to highlight."""
    tags: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    """Why a section without the words typed was found: ``term = other name`` for each other
    name of a query term (a gloss of the vault) that it holds."""
