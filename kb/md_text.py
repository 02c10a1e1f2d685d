"""Plain text of markdown-it inline tokens, with the places of links and tags in it.

An ``inline`` token (a paragraph, heading or table cell) is read once: its
children give the text a reader sees (markup dropped, link text kept) and every
link, image, wikilink and tag with its line and its offsets in that text, so
the sentence around a link can be cut out afterwards.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline, backtick, image, link
from markdown_it.token import Token

# Sentence ends: CJK marks end a sentence at once; `.!?` only before a space,
# so `nn.L1Loss` and `3.14` stay whole. A line break also ends a context.
_SENTENCE_END = re.compile(r"[。！？]+[”’」』）)]*|[.!?]+[\"')\]]*(?=\s|$)|\n")
# Obsidian block ids (`… ^block-1`) close a paragraph; they are not prose.
_BLOCK_ID = re.compile(r"\s\^[A-Za-z0-9-]+\s*$")
_CONTEXT_MAX = 300


@dataclass(slots=True)
class Span:
    """A link, image, wikilink or tag found in inline text."""

    token: Token
    """``link_open``, ``image``, ``wikilink`` or ``tag``."""
    line: int
    start: int
    """Offset of its text in ``InlineText.text``."""
    end: int = -1


@dataclass(slots=True)
class InlineText:
    """What one inline token holds, ready to be filed under a section."""

    text: str
    """Plain text; line breaks inside the paragraph are ``\\n``."""
    spans: list[Span] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    math: list[str] = field(default_factory=list)
    emphasis: list[str] = field(default_factory=list)
    """The text of each ``**bold**`` and ``*italic*`` span, as read (terms a writer marks)."""
    marks: tuple[list[int], list[int]] | None = None
    """Starts and ends of the sentence-end marks in ``text``, found on first use."""
    breaks: list[tuple[int, int]] = field(default_factory=list)
    """(offset in ``text``, file line) where the text goes on to a later line of the file:
    after a soft or hard line break, or after code or math written over several lines."""

    def display(self, span: Span) -> str:
        """The text a reader sees for a span (link label, alt text, …)."""
        return self.text[span.start : span.end].replace("\n", " ").strip()

    def context(self, span: Span) -> str:
        """The sentence (or line) holding ``span``, as one line of plain text."""
        if self.marks is None:  # found once per paragraph, however many links it has
            found = list(_SENTENCE_END.finditer(self.text))
            self.marks = [m.start() for m in found], [m.end() for m in found]
        start, end = _sentence_bounds(*self.marks, len(self.text), span.start, span.end)
        if end - start > _CONTEXT_MAX:  # no sentence end nearby: keep a window
            half = _CONTEXT_MAX // 2
            start, end = max(start, span.start - half), min(end, span.end + half)
        return " ".join(self.text[start:end].split())


_WORD = re.compile(r"\S+")


def one_line(inline: InlineText) -> tuple[str, list[tuple[int, int]]]:
    """The text on one line, whitespace runs as single spaces, and its ``breaks`` moved to
    offsets in that line (a break in a run of spaces goes to the next word)."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(inline.text)]
    ends = [end for _, end in words]
    starts: list[int] = []  # offset of each word in the one-line text
    size = 0
    for start, end in words:
        starts.append(size)
        size += end - start + 1
    breaks: list[tuple[int, int]] = []
    for at, line in inline.breaks:
        k = bisect_right(ends, at)
        if k == len(words):
            continue  # nothing visible after the break
        flat = starts[k] + max(0, at - words[k][0])
        if breaks and breaks[-1][0] == flat:
            breaks.pop()  # the later line wins: the text there starts on it
        breaks.append((flat, line))
    return " ".join(inline.text[start:end] for start, end in words), breaks


def _sentence_bounds(
    mark_starts: list[int], mark_ends: list[int], size: int, start: int, end: int
) -> tuple[int, int]:
    """Offsets of the sentence holding ``[start, end)``, given the sentence-end marks."""
    # The last mark ending at or before `start` opens the sentence; the first mark
    # starting at or after `end` closes it (marks inside a link's text are skipped).
    before = bisect_right(mark_ends, start)
    left = mark_ends[before - 1] if before else 0
    after = bisect_left(mark_starts, end)
    right = mark_ends[after] if after < len(mark_ends) else size
    return left, right


# Tokens whose content is raw source: newlines in them are lines of the file.
_RAW_MULTILINE = frozenset({"math_inline", "math_inline_double", "html_inline", "obsidian_comment"})
_SKIPPED = frozenset({"html_inline", "obsidian_comment", "footnote_ref"})


class _Reader:
    """Walks inline children once, keeping text, current line and open links."""

    def __init__(self, line: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.line = line
        self.out = InlineText("")
        self.open_links: list[Span] = []
        self.open_emphasis: list[int] = []

    def add(self, text: str) -> None:
        """Append visible text."""
        if text:
            self.parts.append(text)
            self.size += len(text)

    def walk(self, children: list[Token]) -> None:
        """Read a list of inline tokens."""
        for token in children:
            self.read(token)

    def read(self, token: Token) -> None:
        """Read one inline token."""
        kind = token.type
        if kind in ("text", "text_special"):
            self.add(token.content)
        elif kind in ("softbreak", "hardbreak"):
            self.add("\n")
            self.next_line(1)
        elif kind == "code_inline":
            self.add(token.content)
            self.out.code.append(token.content)
            # markdown-it turns newlines inside `code` into spaces; our backticks
            # wrapper counted them, so later tokens keep the right line.
            self.next_line((token.meta or {}).get("newlines", 0))
        elif kind in ("math_inline", "math_inline_double"):
            if kind == "math_inline":  # `$x$` is part of the sentence; `$$…$$` is display math
                self.add(" ".join(token.content.split()))
            self.out.math.append(token.content.strip())
        elif kind in ("wikilink", "tag"):
            span = Span(token, self.line, self.size)
            self.add(token.content)
            span.end = self.size
            self.out.spans.append(span)
        elif kind == "link_open":
            span = Span(token, self.line, self.size)
            self.out.spans.append(span)
            self.open_links.append(span)
        elif kind == "link_close":
            if self.open_links:
                self.open_links.pop().end = self.size
            self.next_line((token.meta or {}).get("newlines", 0))  # in `](url "title")`
        elif kind in ("strong_open", "em_open"):
            self.open_emphasis.append(self.size)
        elif kind in ("strong_close", "em_close"):
            if self.open_emphasis:
                start = self.open_emphasis.pop()
                said = " ".join("".join(self.parts)[start:].split())
                if said and (not self.out.emphasis or self.out.emphasis[-1] != said):
                    self.out.emphasis.append(said)  # ***x*** is one term, not two
        elif kind == "image":
            span = Span(token, self.line, self.size)
            self.walk(token.children or [])  # the alt text, which may span lines
            span.end = self.size
            self.out.spans.append(span)
            self.next_line((token.meta or {}).get("newlines", 0))  # in `](url "title")`
        elif kind not in _SKIPPED and token.nesting == 0:
            self.add(token.content)  # tokens of plugins we do not know: keep their text
        if kind in _RAW_MULTILINE:
            self.next_line(token.content.count("\n"))

    def next_line(self, count: int) -> None:
        """The text from here on is ``count`` lines further down the file."""
        if count > 0:
            self.line += count
            self.out.breaks.append((self.size, self.line))

    def finish(self) -> InlineText:
        """Close what is still open and return the result."""
        text = "".join(self.parts)
        for span in self.open_links:
            span.end = len(text)
        match = _BLOCK_ID.search(text)
        if match and not any(span.end > match.start() for span in self.out.spans):
            text = text[: match.start()]
        self.out.text = text
        self.out.breaks = [(at, line) for at, line in self.out.breaks if at < len(text)]
        return self.out


def read_inline(token: Token) -> InlineText:
    """Plain text, links, tags, code and math of one ``inline`` token."""
    first_line = token.map[0] + 1 if token.map else 1
    reader = _Reader(first_line)
    reader.walk(_unbracketed(token.children or []))
    return reader.finish()


def plain_text(children: list[Token]) -> str:
    """Plain text of inline tokens on one line (for titles and lead terms)."""
    reader = _Reader(1)
    reader.walk(_unbracketed(children))
    return " ".join(reader.finish().text.split())


def _unbracketed(children: list[Token]) -> list[Token]:
    """``children`` without the brackets that only mark bold text for slides (d2lbook's
    ``[**ReLU提供了…**]`` anywhere, ``(**定义优化算法**)`` opening a line): markup, not
    words. A link (``[**x**](url)``) and a bracket that says something stay."""
    if not any(t.type == "strong_open" for t in children):
        return children
    out = list(children)
    for i, t in enumerate(out):
        if t.type != "strong_open" or i == 0 or out[i - 1].type != "text":
            continue
        before = out[i - 1].content
        opening = before[-1:]
        if opening not in ("[", "(") or (
            opening == "(" and before[:-1].strip(" ") != "" and not before[:-1].endswith("\n")
        ):
            continue
        depth, j = 0, i
        while j < len(out):  # the strong_close of this strong_open
            depth += {"strong_open": 1, "strong_close": -1}.get(out[j].type, 0)
            if depth == 0:
                break
            j += 1
        if j + 1 >= len(out) or out[j + 1].type != "text":
            continue
        after = out[j + 1].content
        closing = "]" if opening == "[" else ")"
        if not after.startswith(closing) or after[1:2] in ("(", "[", ":"):
            continue
        out[i - 1] = _with_content(out[i - 1], before[:-1])
        out[j + 1] = _with_content(out[j + 1], after[1:])
    return out


def _with_content(token: Token, content: str) -> Token:
    copy = token.copy()
    copy.content = content
    return copy


def _backticks_keeping_lines(state: StateInline, silent: bool) -> bool:
    """The stock backticks rule, recording how many newlines the code span covered."""
    start = state.pos
    count = len(state.tokens)
    if not backtick(state, silent):
        return False
    if not silent and len(state.tokens) > count and state.tokens[-1].type == "code_inline":
        state.tokens[-1].meta = {"newlines": state.src.count("\n", start, state.pos)}
    return True


def _keeping_lines_after_the_label(rule, label_at: int, nested: bool):
    """The stock link or image rule, recording how many newlines the part after the label
    covered: ``[text](\nurl "a\ntitle")`` and ``[text][\nref]`` leave no token for them."""

    def wrapped(state: StateInline, silent: bool) -> bool:
        start = state.pos
        count = len(state.tokens)
        if not rule(state, silent):
            return False
        if not silent and len(state.tokens) > count:
            # The label's end, found as the rule found it (its text became tokens).
            label_end = state.md.helpers.parseLinkLabel(state, start + label_at, not nested)
            newlines = state.src.count("\n", max(label_end, start), state.pos)
            if newlines:
                last = state.tokens[-1]  # link_close, or the image token
                last.meta = {**(last.meta or {}), "newlines": newlines}
        return True

    return wrapped


# A task item's first line holding nothing after its checkbox (`- [ ]`, `> 1. [x]`).
_BARE_TASK = re.compile(r"[ \t>]*(?:(?:[-+*]|\d{1,9}[.)])[ \t]+)+\[[ xX]\][ \t]*")


def _task_text_lines(state: StateCore) -> None:
    """Core rule: when a task item's checkbox ends its line and the text starts on the next
    one, markdown-it still maps the paragraph to the checkbox's line; map it to the text's."""
    lines: list[str] | None = None
    tokens = state.tokens
    for i in range(len(tokens) - 2):
        item, para, inline = tokens[i], tokens[i + 1], tokens[i + 2]
        if not (
            item.type == "list_item_open"
            and "checked" in (item.meta or {})
            and para.type == "paragraph_open"
            and inline.type == "inline"
            and item.map
            and para.map
            and para.map[0] == item.map[0]
            and para.map[1] - para.map[0] > 1
        ):
            continue
        lines = lines if lines is not None else state.src.split("\n")
        if _BARE_TASK.fullmatch(lines[para.map[0]]):
            para.map = inline.map = [para.map[0] + 1, para.map[1]]


def code_lines_plugin(md: MarkdownIt) -> None:
    """Rules that keep line counts right: backticks, links and images record the newlines no
    token stands for (links after a code span or a link written over several lines need
    them), and a task item's text starts on its own line."""
    md.inline.ruler.at("backticks", _backticks_keeping_lines)
    md.inline.ruler.at("link", _keeping_lines_after_the_label(link, 0, nested=False))
    md.inline.ruler.at("image", _keeping_lines_after_the_label(image, 1, nested=True))
    md.core.ruler.after("block", "task_text_lines", _task_text_lines)
