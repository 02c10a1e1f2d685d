"""A raw HTML block ends before an ATX heading, as Obsidian shows it.

CommonMark ends an HTML block of kinds 6 and 7 (``<center>``, ``<div>``, ``<img …>``) only
at a blank line, so in notes written for Obsidian or Typora, where

    <center><img src="fig.png"></center>
    #### Mini-batch

shows a heading, a CommonMark parser swallows the heading (and its section's first lines)
as HTML. This plugin wraps markdown-it's ``html_block`` rule: such a block stops at the first
line that opens an ATX heading, and parsing goes on from there.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_block.html_block import html_block
from markdown_it.rules_block.state_block import StateBlock

_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_ENDS_BY_ITSELF = re.compile(
    r"^\s*<(?:script|pre|style|textarea|!--|\?|![A-Za-z]|!\[CDATA\[)", re.I
)
"""HTML blocks of kinds 1–5 end at their own closing sequence: left as CommonMark says."""


def _html_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    if not html_block(state, start, end, silent):
        return False
    if silent:
        return True
    token = state.tokens[-1]
    if _ENDS_BY_ITSELF.match(token.content):
        return True
    for line in range(start + 1, state.line):
        text = state.src[state.bMarks[line] : state.eMarks[line]]
        if _HEADING.match(text):
            state.line = line
            token.map = [start, line]
            token.content = state.getLines(start, line, state.blkIndent, True)
            break
    return True


def html_heading_plugin(md: MarkdownIt) -> None:
    md.block.ruler.at("html_block", _html_block, {"alt": ["paragraph", "reference", "blockquote"]})
