"""The outline of a note from markdown-it block tokens: headings and lead list items.

A list item is a section when it opens with a bold lead (``- **resnet** …``), a
``term：explanation`` / ``term: explanation`` lead, or, for bullet items, a short
plain term with prose of its own below it (or with sections among its sub-items).
A list of bare terms (``- 代码能力`` over ``- pandas``, ``- numpy``) is content,
not structure, and numbered steps (``1. 降低训练参数``) stay in their parent's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it.token import Token

from kb.md_text import plain_text
from kb.model import SectionKind

ITEM_LEVEL = 10
"""Item sections sit at 10 + list depth, below every heading level."""
TERM_MAX_CHARS = 40
TERM_MAX_WORDS = 5
BOLD_MAX_CHARS = 100

_LIST_OPEN = frozenset({"bullet_list_open", "ordered_list_open"})
_LIST_CLOSE = frozenset({"bullet_list_close", "ordered_list_close"})
# Children of a lead term: prose only (math, images and raw HTML make it a formula or a picture).
_TERM_TOKENS = frozenset(
    {
        "text",
        "code_inline",
        "strong_open",
        "strong_close",
        "em_open",
        "em_close",
        "s_open",
        "s_close",
        "link_open",
        "link_close",
        "wikilink",
        "tag",
    }
)
# A sentence, not a term: clause or sentence punctuation, or an ASCII stop before a space.
_SENTENCE_MARK = re.compile(r"[，,;；。！？]|[.!?](\s|$)|://")
_BREAKS = frozenset({"softbreak", "hardbreak"})


@dataclass(slots=True)
class SectionDraft:
    """A section while the note is being read; becomes a ``model.Section``."""

    title: str
    kind: SectionKind
    level: int
    parent: int | None
    heading_path: tuple[str, ...]
    line_start: int
    line_end: int
    """Last line of the section's range (1-based), trailing blank lines included until trimmed."""


@dataclass(slots=True)
class Outline:
    """Sections in document order, and the section each token belongs to."""

    sections: list[SectionDraft]
    owner: list[int]
    """``owner[i]`` is the index of the section holding ``tokens[i]``."""
    top_headings: set[int] = field(default_factory=set)
    """Indices of top-level ``heading_open`` tokens: their text is a title, not prose."""
    leads: dict[int, str] = field(default_factory=dict)
    """Index of an item section's first ``inline`` token -> its title (dropped from its text)."""


def is_term(text: str) -> bool:
    """A short label rather than a sentence or a URL."""
    return (
        0 < len(text) <= TERM_MAX_CHARS
        and len(text.split()) <= TERM_MAX_WORDS
        and not _SENTENCE_MARK.search(text)
    )


def _first_line(children: list[Token]) -> list[Token]:
    """Inline children up to the first line break."""
    for index, token in enumerate(children):
        if token.type in _BREAKS:
            return children[:index]
    return children


def bold_lead(children: list[Token]) -> str | None:
    """Title of ``**term** …``: the bold text at the very start of the item."""
    # markdown-it leaves an empty text token where the `**` delimiter was.
    while children and children[0].type == "text" and not children[0].content.strip():
        children = children[1:]
    if not children or children[0].type != "strong_open":
        return None
    depth = 0
    for index, token in enumerate(children):
        depth += token.nesting if token.type in ("strong_open", "strong_close") else 0
        if depth == 0:
            title = plain_text(children[1:index]).rstrip(":：").strip()
            return title if 0 < len(title) <= BOLD_MAX_CHARS else None
    return None


def colon_lead(children: list[Token]) -> str | None:
    """Title of ``term：explanation`` / ``term: explanation`` (colon then space or line end)."""
    line = _first_line(children)
    in_link = 0  # a colon inside link text (`[a: b](x.md)`) does not end a term
    for index, token in enumerate(line):
        if token.type not in _TERM_TOKENS:
            return None
        in_link += token.nesting if token.type in ("link_open", "link_close") else 0
        if token.type != "text" or in_link:
            continue
        at = _colon_at(token.content, last=index == len(line) - 1)
        if at >= 0:
            term = plain_text([*line[:index], _text(token.content[:at])])
            return term if is_term(term) else None
    return None


def _colon_at(text: str, last: bool) -> int:
    """Offset of the lead colon in ``text``, or -1."""
    for at, ch in enumerate(text):
        if ch == "：":
            return at
        if ch == ":":
            rest = text[at + 1 :]
            if rest[:1].isspace() or (not rest and last):
                return at
    return -1


def _text(content: str) -> Token:
    """A bare text token."""
    return Token("text", "", 0, content=content)


def plain_term(children: list[Token]) -> str | None:
    """Title of an item whose first paragraph is one short line of prose."""
    if any(token.type in _BREAKS or token.type not in _TERM_TOKENS for token in children):
        return None
    term = plain_text(children)
    return term if is_term(term) else None


@dataclass(slots=True)
class _Item:
    """An open list item while deciding whether it is a section."""

    open_index: int
    level: int
    depth: int
    bullet: bool
    first: Token | None = None
    """The inline token of its first paragraph, if the item starts with one."""
    first_index: int = -1
    started: bool = False
    prose_below: bool = False
    section_below: bool = False


def _item_title(item: _Item) -> str | None:
    """The section title of a finished list item, or None when it is plain content."""
    if item.first is None:
        return None
    children = item.first.children or []
    title = bold_lead(children) or colon_lead(children)
    if title is None and item.bullet and (item.prose_below or item.section_below):
        title = plain_term(children)
    return title


def _note_child(item: _Item, tokens: list[Token], index: int) -> None:
    """Record a block that sits directly in ``item``."""
    token = tokens[index]
    if not item.started:
        item.started = True
        if token.type == "paragraph_open" and index + 1 < len(tokens):
            item.first, item.first_index = tokens[index + 1], index + 1
    elif token.type not in _LIST_OPEN and token.type != "obsidian_comment":
        item.prose_below = True


def find_item_sections(tokens: list[Token]) -> dict[int, tuple[str, int, int]]:
    """``list_item_open`` index -> (title, list depth, lead inline index) for item sections."""
    found: dict[int, tuple[str, int, int]] = {}
    lists: list[bool] = []  # True for bullet lists, innermost last
    items: list[_Item] = []
    for index, token in enumerate(tokens):
        kind = token.type
        if kind in _LIST_OPEN:
            lists.append(kind == "bullet_list_open")
        elif kind in _LIST_CLOSE:
            if lists:
                lists.pop()
        elif kind == "list_item_open":
            items.append(_Item(index, token.level, len(lists), bool(lists and lists[-1])))
        elif kind == "list_item_close":
            if not items:
                continue
            item = items.pop()
            title = _item_title(item)
            if title is not None:
                found[item.open_index] = (title, item.depth, item.first_index)
                if items:
                    items[-1].section_below = True
            continue
        if items and token.nesting >= 0 and token.level == items[-1].level + 1 and token.block:
            _note_child(items[-1], tokens, index)
    return found


def build_outline(tokens: list[Token], title: str, line_count: int) -> Outline:
    """Sections (root, headings, lead items) with parents, paths and line ranges."""
    root = SectionDraft(title, "root", 0, None, (title,), 1, max(line_count, 1))
    outline = Outline([root], [0] * len(tokens))
    sections = outline.sections
    item_titles = find_item_sections(tokens)
    headings = [0]  # open heading sections, innermost last
    open_items: list[int | None] = []  # section index per open list item (None: plain item)
    for index, token in enumerate(tokens):
        kind = token.type
        if kind == "heading_open" and token.level == 0 and token.map:
            level = int(token.tag[1:]) if token.tag[1:].isdigit() else 1
            while len(headings) > 1 and sections[headings[-1]].level >= level:
                headings.pop()
            inline = tokens[index + 1] if index + 1 < len(tokens) else None
            name = plain_text(inline.children or []) if inline else ""
            first = not outline.top_headings
            outline.top_headings.add(index)
            if first and level == 1 and _same_title(name, title):
                continue  # `# <note title>` heads the note: it is the root, not a child of it
            headings.append(_add(sections, name, "heading", level, headings[-1], token.map))
        elif kind == "list_item_open":
            opened = None
            if index in item_titles and token.map:
                name, depth, lead = item_titles[index]
                outline.leads[lead] = name
                parent = _innermost(open_items, headings[-1])
                opened = _add(sections, name, "item", ITEM_LEVEL + depth, parent, token.map)
            open_items.append(opened)
        elif kind == "list_item_close" and open_items:
            outline.owner[index] = _innermost(open_items, headings[-1])
            open_items.pop()
            continue
        outline.owner[index] = _innermost(open_items, headings[-1])
    _close_headings(sections, line_count)
    return outline


def _same_title(heading: str, title: str) -> bool:
    """Whether a heading just repeats the note title (Obsidian notes often start so)."""
    return heading.casefold().split() == title.casefold().split()


def _innermost(open_items: list[int | None], heading: int) -> int:
    """The innermost open item section, else the current heading section."""
    for section in reversed(open_items):
        if section is not None:
            return section
    return heading


def _add(
    sections: list[SectionDraft],
    title: str,
    kind: SectionKind,
    level: int,
    parent: int,
    line_map: list[int],
) -> int:
    """Append a section under ``parent``; return its index."""
    path = (*sections[parent].heading_path, title)
    start, end = line_map[0] + 1, max(line_map[1], line_map[0] + 1)
    sections.append(SectionDraft(title, kind, level, parent, path, start, end))
    return len(sections) - 1


def _close_headings(sections: list[SectionDraft], line_count: int) -> None:
    """A heading runs to the line before the next heading of the same or a higher level."""
    open_: list[SectionDraft] = []
    for section in sections:
        if section.kind != "heading":
            continue
        while open_ and open_[-1].level >= section.level:
            open_.pop().line_end = section.line_start - 1
        open_.append(section)
    for section in open_:
        section.line_end = max(line_count, section.line_start)


def trim_blank_ends(sections: list[SectionDraft], lines: list[str]) -> None:
    """Move each ``line_end`` back over trailing blank lines (ranges end on content)."""
    for section in sections:
        end = min(section.line_end, len(lines))
        while end > section.line_start and not lines[end - 1].strip():
            end -= 1
        section.line_end = max(end, section.line_start)


def drop_lead(text: str, title: str) -> str:
    """An item's first line without its lead term: ``**T**: x`` and ``T：x`` give ``x``."""
    if not text.startswith(title):
        return text
    rest = text[len(title) :].lstrip()
    return rest[1:].lstrip() if rest[:1] in (":", "：") else rest
