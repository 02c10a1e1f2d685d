"""A :class:`~kb.model.Note` as JSON and back, every field's type checked on the way back.

The store (``notes.sqlite``) keeps each parsed note this way rather than as a pickle: what
kb reads from its data folder may come from anyone (a vault shared with its ``.kb/``), and
decoding JSON builds only strings, numbers, lists and dicts, never runs code. Each record is
a list of its fields in declaration order, which keeps the text short and decoding close to
unpickling in speed. No I/O here.
"""

from __future__ import annotations

import json
from typing import Any

from kb.model import Link, Note, Section, TagUse, Url


class BadNote(ValueError):
    """A stored note that does not decode to a well-formed Note (damaged, or foreign)."""


def encode(note: Note) -> str:
    """The JSON text of a note."""
    record = [
        note.path,
        note.title,
        note.aliases,
        note.tags,
        [[t.name, t.line, t.section, t.frontmatter] for t in note.tag_uses],
        [
            [k.target, k.heading, k.block, k.alias, k.kind, k.embed, k.line, k.context, k.section]
            for k in note.links
        ],
        [[u.url, u.text, u.line, u.section] for u in note.urls],
        [
            [
                s.title,
                s.kind,
                s.level,
                s.heading_path,
                s.line_start,
                s.line_end,
                s.parent,
                s.text,
                s.code,
                s.math,
                s.emphasis,
                s.text_lines,
                s.text_breaks,
            ]
            for s in note.sections
        ],
        note.frontmatter,
        note.warnings,
    ]
    if not _small(note.frontmatter):
        # YAML anchors shared many times (an alias bomb) are one object each in memory but
        # would be written out in full: such front matter is kept out of the store.
        record[8] = {}
        record[9] = [*note.warnings, "front matter expands to too much data; ignored"]
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):
        # Front matter whose YAML anchors make it refer to itself: kept without it.
        record[8] = {}
        record[9] = [*note.warnings, "front matter refers to itself; ignored"]
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


MAX_FRONTMATTER_VALUES = 100_000
"""Values (counting a shared YAML anchor each time it is used) that stored front matter may hold."""


def _small(value: Any) -> bool:
    """True when ``value`` written out as JSON holds at most MAX_FRONTMATTER_VALUES values and
    nests at most 100 deep (stops counting at the budget, so a bomb costs no more than that)."""
    budget = MAX_FRONTMATTER_VALUES
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > 100:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def decode(text: str | bytes) -> Note:
    """The Note of a JSON text made by :func:`encode`; :class:`BadNote` for anything else."""
    try:
        r = json.loads(text)
        if type(r) is not list or len(r) != 10:
            raise BadNote("not a note record")
        path, title, aliases, tags, uses, links, urls, sections, matter, warnings = r
        if type(matter) is not dict:
            raise BadNote("front matter is not a mapping")
        return Note(
            path=_str(path),
            title=_str(title),
            aliases=_strs(aliases),
            tags=_strs(tags),
            tag_uses=tuple(_tag_use(t) for t in _list(uses)),
            links=tuple(_link(k) for k in _list(links)),
            urls=tuple(_url(u) for u in _list(urls)),
            sections=tuple(_section(s) for s in _list(sections)),
            frontmatter=matter,
            warnings=_strs(warnings),
        )
    except (ValueError, TypeError, RecursionError) as e:  # json's errors, unpacking
        raise BadNote(str(e)[:200]) from None


def _str(v: Any) -> str:
    if type(v) is not str:
        raise BadNote(f"expected text, got {type(v).__name__}")
    return v


def _opt_str(v: Any) -> str | None:
    return None if v is None else _str(v)


def _int(v: Any) -> int:
    if type(v) is not int:
        raise BadNote(f"expected a whole number, got {type(v).__name__}")
    return v


def _bool(v: Any) -> bool:
    if type(v) is not bool:
        raise BadNote(f"expected true or false, got {type(v).__name__}")
    return v


def _list(v: Any) -> list:
    if type(v) is not list:
        raise BadNote(f"expected a list, got {type(v).__name__}")
    return v


def _strs(v: Any) -> tuple[str, ...]:
    items = tuple(_list(v))
    if not all(type(x) is str for x in items):
        raise BadNote("expected a list of text")
    return items


def _ints(v: Any) -> tuple[int, ...]:
    items = tuple(_list(v))
    if not all(type(x) is int for x in items):
        raise BadNote("expected a list of whole numbers")
    return items


def _fields(v: Any, n: int) -> list:
    if type(v) is not list or len(v) != n:
        raise BadNote(f"expected a record of {n} fields")
    return v


def _tag_use(v: Any) -> TagUse:
    name, line, section, frontmatter = _fields(v, 4)
    return TagUse(_str(name), _int(line), _int(section), _bool(frontmatter))


_LINK_KINDS = frozenset({"wikilink", "markdown"})
_SECTION_KINDS = frozenset({"root", "heading", "item"})


def _link(v: Any) -> Link:
    target, heading, block, alias, kind, embed, line, context, section = _fields(v, 9)
    if kind not in _LINK_KINDS:
        raise BadNote(f"unknown link kind {kind!r}"[:80])
    return Link(
        _str(target),
        _opt_str(heading),
        _opt_str(block),
        _opt_str(alias),
        kind,
        _bool(embed),
        _int(line),
        _str(context),
        _int(section),
    )


def _url(v: Any) -> Url:
    url, text, line, section = _fields(v, 4)
    return Url(_str(url), _str(text), _int(line), _int(section))


def _section(v: Any) -> Section:
    (title, kind, level, heading_path, start, end, parent, text, code, math, emphasis, lines,
     breaks) = _fields(v, 13)  # fmt: skip
    if kind not in _SECTION_KINDS:
        raise BadNote(f"unknown section kind {kind!r}"[:80])
    return Section(
        title=_str(title),
        kind=kind,
        level=_int(level),
        heading_path=_strs(heading_path),
        line_start=_int(start),
        line_end=_int(end),
        parent=None if parent is None else _int(parent),
        text=_str(text),
        code=_str(code),
        math=_str(math),
        emphasis=_str(emphasis),
        text_lines=_ints(lines),
        text_breaks=tuple(_pair(b) for b in _list(breaks)),
    )


def _pair(v: Any) -> tuple[int, int]:
    a, b = _fields(v, 2)
    return _int(a), _int(b)
