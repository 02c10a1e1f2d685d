"""markdown-it plugin for Obsidian comments: ``%%hidden%%`` inline and ``%%`` … ``%%`` blocks.

Both become ``obsidian_comment`` tokens (block or inline) that render to nothing,
so tags and links written inside a comment are never seen. A ``%%`` without a
closing ``%%`` is left as text: unlike Obsidian we do not hide the rest of the
note, because one stray ``%%`` should not empty a note of its links.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.utils import is_code_block

MARK = "%%"


def _closing_line(state: StateBlock, start_line: int, end_line: int) -> int | None:
    """Line whose ``%%`` closes a comment opened at ``start_line``; None if unclosed."""
    src = state.src
    for line in range(start_line, end_line):
        begin = state.bMarks[line] + state.tShift[line]
        end = state.eMarks[line]
        if line > start_line and begin < end and state.sCount[line] < state.blkIndent:
            return None  # a less indented line leaves the list item / quote we are in
        at = src.find(MARK, begin + 2 if line == start_line else begin, end)
        if at >= 0:
            # Text after the closing mark belongs to a paragraph: let the inline rule
            # handle such a comment instead of swallowing that text.
            return line if not src[at + 2 : end].strip() else None
    return None


def _comment_block_rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """Block rule: a line starting with ``%%`` up to the line that ends with ``%%``."""
    if is_code_block(state, start_line):
        return False
    begin = state.bMarks[start_line] + state.tShift[start_line]
    if not state.src.startswith(MARK, begin, state.eMarks[start_line]):
        return False
    last = _closing_line(state, start_line, end_line)
    if last is None:
        return False
    if silent:
        return True
    token = state.push("obsidian_comment", "", 0)
    token.block = True
    token.hidden = True
    token.markup = MARK
    token.content = state.getLines(start_line, last + 1, state.blkIndent, False)
    token.map = [start_line, last + 1]
    state.line = last + 1
    return True


def _comment_inline_rule(state: StateInline, silent: bool) -> bool:
    """Inline rule: ``%%…%%`` inside a paragraph (may span its lines)."""
    src, pos = state.src, state.pos
    if not src.startswith(MARK, pos):
        return False
    end = src.find(MARK, pos + 2, state.posMax)
    if end < 0:
        return False
    if not silent:
        token = state.push("obsidian_comment", "", 0)
        token.markup = MARK
        token.content = src[pos : end + 2]
    state.pos = end + 2
    return True


def comments_plugin(md: MarkdownIt) -> None:
    """Add the block and inline ``%%`` comment rules; comments render to nothing."""
    md.block.ruler.before(
        "fence",
        "obsidian_comment",
        _comment_block_rule,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )
    md.inline.ruler.before("link", "obsidian_comment", _comment_inline_rule)
    md.add_render_rule("obsidian_comment", lambda *args: "")
