"""A markdown-it plugin that keeps deeply nested lists and blockquotes as text.

markdown-it parses nested blocks recursively and, past ``maxNesting`` levels, silently drops
the rest of the enclosing block: a list nested 20 levels deep swallowed every line after it,
headings and links included. Past :data:`MAX_DEPTH` levels this rule takes over instead: each
deeper line becomes a plain paragraph (``- - - deepest`` is kept as that text), so nothing is
lost, the recursion stays shallow, and the note says where it happened.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock

MAX_DEPTH = 40
"""Block nesting levels parsed as Markdown: 40 blockquotes, or 20 lists (a list and its item
are two levels). Real notes stay far below; Python's stack stays far from its limit."""

DEEP_LINE = "kb_too_deep_line"
"""``env`` key: the first (0-based) line read as plain text because it was nested too deep."""


def depth_limit_plugin(md: MarkdownIt) -> None:
    """Read lines nested deeper than MAX_DEPTH as plain paragraphs instead of dropping them."""
    # Leave markdown-it's own limit (which drops text) above ours, so it is never reached.
    md.options["maxNesting"] = max(md.options.get("maxNesting", 0), MAX_DEPTH + 10)
    # First of all block rules (use it after the other plugins), so no rule nests deeper.
    md.block.ruler.before(md.block.ruler.get_all_rules()[0], "kb_too_deep", _flat_when_deep)


def _flat_when_deep(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """At MAX_DEPTH, one line becomes one paragraph: no further list or quote opens."""
    if state.level < MAX_DEPTH:
        return False
    if silent:
        return True
    state.env.setdefault(DEEP_LINE, start)
    begin = state.bMarks[start] + state.tShift[start]
    token = state.push("paragraph_open", "p", 1)
    token.map = [start, start + 1]
    token = state.push("inline", "", 0)
    token.content = state.src[begin : state.eMarks[start]].strip()
    token.map = [start, start + 1]
    token.children = []
    state.push("paragraph_close", "p", -1)
    state.line = start + 1
    return True
