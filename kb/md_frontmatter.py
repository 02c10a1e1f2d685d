"""YAML front matter: read it safely and pick out title, aliases and tags.

The YAML is loaded once with the C loader when PyYAML has it. We keep the
node tree as well as the data, because a front-matter tag must carry the line
it is written on.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(slots=True)
class FrontMatter:
    """Front matter as data, plus where each top-level value is written."""

    data: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)
    """Key -> file line of each list item, or of the value itself."""
    warning: str | None = None


def read_front_matter(content: str, first_line: int) -> FrontMatter:
    """Parse YAML ``content`` whose first line is file line ``first_line``; never raises."""
    try:
        node, data = _load(content)
    except FrontMatterBomb as err:
        return FrontMatter(warning=f"front matter is not read: {err}; read as text")
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + first_line}: " if mark else ""
        problem = err.problem or err.context or "syntax error"
        return FrontMatter(
            warning=f"front matter is not valid YAML ({where}{problem}); read as text"
        )
    except Exception as err:  # noqa: BLE001 - PyYAML raises ValueError, RecursionError, … too
        detail = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        return FrontMatter(warning=f"front matter is not valid YAML ({detail}); read as text")
    if data is None:
        return FrontMatter()
    if _depth(node) > MAX_DEPTH:
        return FrontMatter(
            warning=f"front matter is nested more than {MAX_DEPTH} levels deep; read as text"
        )
    if not isinstance(data, dict):
        kind = _describe(data)
        return FrontMatter(warning=f"front matter is {kind}, not a YAML mapping; read as text")
    return FrontMatter(_plain(data, {}), _value_lines(node, first_line))


MAX_NODES = 10_000
"""Front matter whose values, aliases expanded, hold more than this many YAML nodes is not
read: a few hundred bytes of nested anchors (``b: &b [*a, *a, …]``) expand to billions of
values, and every use of them (a string of the aliases, a copy for the store) would take
minutes and gigabytes. Real front matter holds tens of values."""


class FrontMatterBomb(ValueError):
    """Front matter that expands past MAX_NODES; ``str()`` says so."""


def _load(content: str) -> tuple[yaml.Node | None, Any]:
    """Compose and construct one YAML document, keeping the node tree.

    Composing is cheap whatever the aliases (an alias is the anchored node again); the
    expanded size is counted before anything is constructed.
    """
    loader = _Loader(content)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        if _expanded_size(node) > MAX_NODES:
            raise FrontMatterBomb(
                f"it holds more than {MAX_NODES:,} values (anchors and aliases expanded)"
            )
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in the tree with every alias expanded, counted without expanding (each node's
    size once, memoised; iterative, as the tree may be deep), stopping past MAX_NODES. A
    recursive anchor (``&a [*a]``) counts once: it is copied once (see :func:`_plain`)."""
    size: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in size:
            continue
        kids: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        if children_done:
            open_.discard(key)
            total = 1 + sum(size.get(id(k), 1) for k in kids)
            size[key] = total
            if total > MAX_NODES:
                return total
            continue
        if key in open_:
            continue  # a cycle: counted once
        open_.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size and id(k) not in open_)
    return size[id(root)]


MAX_DEPTH = 50
"""Front matter nested deeper than this is not read (copying it would overflow the stack)."""


def _depth(root: yaml.Node | None) -> int:
    """How deeply lists and mappings nest in a YAML node tree (without recursion: it may be
    thousands of levels deep, and anchors can make it cyclic)."""
    deepest = 0
    seen: set[int] = set()
    stack = [(root, 1)] if root is not None else []
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend(((key, depth + 1), (value, depth + 1)))
    return deepest


def _describe(data: object) -> str:
    """A few words for what the YAML held instead of a mapping."""
    if isinstance(data, list):
        return "a list"
    if isinstance(data, str):
        return "a plain string"
    return f"a single {type(data).__name__} value"


def _plain(value: Any, seen: dict[int, Any]) -> Any:
    """JSON-friendly copy: str keys, dates as ISO strings; shared YAML anchors copied once."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if id(value) in seen:  # an alias: reuse, so `&a [*a, *a, …]` bombs stay small
        return seen[id(value)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        seen[id(value)] = out
        for key, item in value.items():
            out[str(_plain(key, seen))] = _plain(item, seen)
        return out
    if isinstance(value, (list, tuple, set)):
        items: list[Any] = []
        seen[id(value)] = items
        items.extend(_plain(item, seen) for item in value)
        return items
    if isinstance(value, dt.date):  # also datetimes: str() keeps the space as written
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _value_lines(root: yaml.Node | None, first_line: int) -> dict[str, list[int]]:
    """File lines of each top-level value (of each item, for a list)."""
    lines: dict[str, list[int]] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        nodes = value.value if isinstance(value, yaml.SequenceNode) else [value]
        lines[str(key.value)] = [n.start_mark.line + first_line for n in nodes]
    return lines


def _first_present(data: dict[str, Any], *keys: str) -> tuple[str, Any]:
    """The first of ``keys`` that has a value."""
    for key in keys:
        if data.get(key) not in (None, "", []):
            return key, data[key]
    return "", None


def title_of(matter: FrontMatter) -> str | None:
    """Front-matter ``title`` as a string, or None."""
    value = matter.data.get("title")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value).strip() or None


def aliases_of(matter: FrontMatter) -> tuple[str, ...]:
    """``aliases``/``alias``: a list, or one string taken whole (commas included)."""
    _, value = _first_present(matter.data, "aliases", "alias")
    items = value if isinstance(value, list) else [value]
    found: list[str] = []
    for item in items:
        text = "" if item is None else str(item).strip()
        if text and text not in found:
            found.append(text)
    return tuple(found)


def tags_of(matter: FrontMatter, default_line: int) -> list[tuple[str, int]]:
    """``tags``/``tag`` as (name, line): list or string, split at spaces/commas, ``#`` dropped."""
    key, value = _first_present(matter.data, "tags", "tag")
    items = value if isinstance(value, list) else [value]
    lines = matter.lines.get(key, [])
    found: list[tuple[str, int]] = []
    for index, item in enumerate(items):
        if item is None or isinstance(item, (dict, list)):
            continue
        line = lines[index] if index < len(lines) else default_line
        for part in _TAG_SEPARATORS.split(str(item)):
            name = part.lstrip("#")
            if name:
                found.append((name, line))
    return found
