"""markdown-it plugin for inline Obsidian tags: ``#tag``, ``#nested/tag``, ``#深度学习``.

A tag becomes one ``tag`` token (``meta["name"]`` without ``#``; ``content`` is
``#name`` so plain text keeps it). Code, math, HTML and comments never reach this
rule because their own rules consume them first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

# Obsidian only starts a tag at the start of text or after a space; we also allow
# opening brackets/quotes and emphasis markers (`(#tag)`, `**#tag**`), but not
# letters or `/`, which keeps `C#`, `a#b` and `https://x.com/#frag` out.
_OPENERS = frozenset("([{<\"'“‘«（【「『《〈〔［｛*_~")
_HEX = re.compile(r"[0-9a-fA-F]+")


def _is_tag_char(ch: str) -> bool:
    """Letters and digits of any script, combining marks, and ``_ - /``."""
    return ch.isalnum() or ch in "_-/" or unicodedata.category(ch)[0] == "M"


def valid_tag(name: str) -> bool:
    """Whether ``name`` (without ``#``) is a tag and not a number or a CSS colour."""
    if not name or name[0] == "/":
        return False
    # Obsidian wants a non-digit; we want a letter or `_`, so that `#2024`,
    # `#12-3` and `#2024/01` (issue numbers, dates) are not tags either.
    if not any(ch.isalpha() or ch == "_" for ch in name):
        return False
    return not _is_colour(name)


def _is_colour(name: str) -> bool:
    """Whether ``name`` reads as a CSS colour: 6 or 8 hex digits, or a short ``#f0f``/``#abc4``.

    Three or four hex *letters* are mostly words (``#bad``, ``#cafe``, ``#dead``), so a short
    form counts as a colour only with a digit in it or as one letter repeated (``#fff``).
    """
    if not _HEX.fullmatch(name):
        return False
    if len(name) in (6, 8):
        return True
    if len(name) in (3, 4):
        return any(ch.isdigit() for ch in name) or len(set(name.casefold())) == 1
    return False


def _tag_rule(state: StateInline, silent: bool) -> bool:
    """Inline rule: consume ``#name`` when it starts a tag."""
    src, pos = state.src, state.pos
    if src[pos] != "#" or state.linkLevel > 0:
        return False
    if pos > 0 and not (src[pos - 1].isspace() or src[pos - 1] in _OPENERS):
        return False
    end = pos + 1
    while end < state.posMax and _is_tag_char(src[end]):
        end += 1
    name = src[pos + 1 : end].rstrip("/")
    if not valid_tag(name):
        return False
    if not silent:
        token = state.push("tag", "", 0)
        token.markup = "#"
        token.content = "#" + name
        token.meta = {"name": name}
    state.pos = pos + 1 + len(name)
    return True


def _render_tag(
    self: object, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Render a tag as a span, so HTML output shows it as written."""
    return f'<span class="tag">{escapeHtml(tokens[idx].content)}</span>'


def tags_plugin(md: MarkdownIt) -> None:
    """Add the ``tag`` inline rule (``#`` already stops the text rule)."""
    md.inline.ruler.before("link", "tag", _tag_rule)
    md.add_render_rule("tag", _render_tag)
