"""A raw HTML block ends before an ATX heading, and after a line of whole elements, as
Obsidian and Typora show it.

CommonMark ends an HTML block of kinds 6 and 7 (``<center>``, ``<div>``, ``<img …>``) only
at a blank line, so in notes written for Obsidian or Typora, where

    <center><img src="fig.png"></center>
    #### Mini-batch

shows a heading, a CommonMark parser swallows the heading (and its section's first lines)
as HTML. Likewise

    <center><img src="fig.png"></center>
    在该例中……通常被称为**overfitting过拟合**

shows a figure and then a paragraph (with its emphasis) in Typora, but a CommonMark parser
keeps the paragraph as raw HTML, which kb never reads. This plugin wraps markdown-it's
``html_block`` rule: such a block stops at the first line that opens an ATX heading, and,
when its lines so far each hold whole elements (every tag opened on the line is closed on
it: ``<center>…</center>``, ``<img …/>``), at the first line that is not HTML; parsing goes
on from there. A block whose first line leaves an element open (``<div>`` alone) is left as
CommonMark says: its inner lines are HTML.
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
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)\b[^<>]*?(/?)>")
_VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())


def _whole_elements(line: str) -> bool:
    """True for a line of HTML whose every element opened on it is closed on it."""
    text = line.strip()
    if not text.startswith("<") or not text.endswith(">"):
        return False
    open_tags: list[str] = []
    rest = _TAG.sub(" ", text)
    if rest.strip():
        # text between the tags is fine (``<center>图 1</center>``); stray ``<`` is not
        if "<" in rest or ">" in rest:
            return False
    for closing, name, self_closing in _TAG.findall(text):
        name = name.lower()
        if self_closing or name in _VOID:
            continue
        if not closing:
            open_tags.append(name)
        elif open_tags and open_tags[-1] == name:
            open_tags.pop()
        else:
            return False
    return not open_tags


def _html_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    if not html_block(state, start, end, silent):
        return False
    if silent:
        return True
    token = state.tokens[-1]
    if _ENDS_BY_ITSELF.match(token.content):
        return True
    whole = _whole_elements(state.src[state.bMarks[start] : state.eMarks[start]])
    for line in range(start + 1, state.line):
        text = state.src[state.bMarks[line] : state.eMarks[line]]
        if _HEADING.match(text) or (whole and text.strip() and not text.lstrip().startswith("<")):
            state.line = line
            token.map = [start, line]
            token.content = state.getLines(start, line, state.blkIndent, True)
            break
        whole = whole and _whole_elements(text)
    return True


def html_heading_plugin(md: MarkdownIt) -> None:
    md.block.ruler.at("html_block", _html_block, {"alt": ["paragraph", "reference", "blockquote"]})
