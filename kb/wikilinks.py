"""markdown-it plugin for Obsidian wikilinks: ``[[T#heading|alias]]``, ``![[embed|300]]``.

Each link becomes one ``wikilink`` token whose ``meta`` holds the parsed parts
(``target``, ``heading``, ``block``, ``alias``, ``embed``) and whose ``content``
is the text a reader sees, so plain-text extraction needs no special case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

_INNER = re.compile(r"([^\[\]\n]*)\]\]")


@dataclass(frozen=True, slots=True)
class WikiTarget:
    """The parts of the text between ``[[`` and ``]]``."""

    target: str
    """Note or file name as written; ``""`` for ``[[#Heading]]``."""
    heading: str | None
    block: str | None
    alias: str | None
    """Text after ``|``: display text, or the size (``300``, ``100x80``) of an embed."""

    @property
    def display(self) -> str:
        """What Obsidian shows for the link: the alias, else ``target > heading``."""
        if self.alias:
            return self.alias
        anchor = f"^{self.block}" if self.block is not None else self.heading
        if not anchor:
            return self.target
        return f"{self.target} > {anchor}" if self.target else anchor


def split_wikilink(inner: str) -> WikiTarget | None:
    """Split ``target#heading|alias`` into its parts; None when nothing is linked."""
    # `\|` is how a wikilink is written inside a table cell; outside tables the
    # backslash is still there, so accept both spellings of the separator.
    link, bar, alias = inner.replace("\\|", "|").partition("|")
    target, hash_, anchor = link.partition("#")
    target = target.strip()
    heading = block = None
    if hash_:
        anchor = anchor.strip()
        if anchor.startswith("^"):
            block = anchor[1:].strip() or None
        else:
            heading = anchor or None
    if not (target or heading or block):
        return None
    alias = alias.strip() if bar else ""
    return WikiTarget(target, heading, block, alias or None)


def _wikilink_rule(state: StateInline, silent: bool) -> bool:
    """Inline rule: consume ``[[…]]`` or ``![[…]]`` at the current position."""
    src, pos = state.src, state.pos
    embed = src.startswith("![[", pos)
    if not embed and not src.startswith("[[", pos):
        return False
    start = pos + (3 if embed else 2)
    # Obsidian links live on one line and hold no brackets; the pattern stops at the
    # first bracket or newline, so a line full of `[[` is not scanned again and again.
    match = _INNER.match(src, start, state.posMax)
    if match is None:
        return False
    parts = split_wikilink(match.group(1))
    if parts is None:
        return False
    if not silent:
        token = state.push("wikilink", "", 0)
        token.markup = "![[" if embed else "[["
        # An embed's `|300` is a size, not words a reader sees.
        token.content = replace(parts, alias=None).display if embed else parts.display
        token.meta = {
            "target": parts.target,
            "heading": parts.heading,
            "block": parts.block,
            "alias": parts.alias,
            "embed": embed,
        }
    state.pos = match.end()
    return True


def _render_wikilink(
    self: object, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Render as a plain anchor, so HTML output of a note stays readable."""
    token = tokens[idx]
    href = escapeHtml(token.meta["target"])
    return f'<a class="wikilink" href="{href}">{escapeHtml(token.content)}</a>'


def wikilinks_plugin(md: MarkdownIt) -> None:
    """Add the ``wikilink`` inline rule (before ``link``, so ``[[x]]`` is not read as ``[x]``)."""
    md.inline.ruler.before("link", "wikilink", _wikilink_rule)
    md.add_render_rule("wikilink", _render_wikilink)
