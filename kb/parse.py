"""Markdown text -> ``Note``: front matter, outline, links, URLs and tags. Pure: no file I/O.

One module-level MarkdownIt parser (``MD``) does the reading; kb's plugins add
Obsidian syntax (``wikilinks``, ``md_tags``, ``md_comments``), so code, math,
HTML and comments are consumed by their own rules and never yield links or tags.
The token stream is then walked for the outline (``md_outline``: which section
owns each token) and once more for content, each inline token becoming plain
text with the links and tags in it (``md_text``).

Conventions: lines are 1-based lines of the file, front matter included. A
section's ``line_end`` is its last non-blank line (sub-sections included), so
blank lines before the next heading belong to nobody.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from kb.md_comments import comments_plugin
from kb.md_depth import DEEP_LINE, MAX_DEPTH, depth_limit_plugin
from kb.md_frontmatter import FrontMatter, aliases_of, read_front_matter, tags_of, title_of
from kb.md_html import html_heading_plugin
from kb.md_outline import Outline, SectionDraft, build_outline, drop_lead, trim_blank_ends
from kb.md_tags import tags_plugin
from kb.md_text import InlineText, Span, code_lines_plugin, one_line, read_inline
from kb.model import MAX_NAME_CHARS, Link, Note, Section, TagUse, Url, strip_note_suffix
from kb.wikilinks import wikilinks_plugin

# `scheme:` (https:, mailto:, obsidian:) or `//host`: not a file in the vault.
_EXTERNAL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")


def _build_markdown() -> MarkdownIt:
    """The one parser: CommonMark + tables, math, footnotes, front matter and Obsidian syntax."""
    # `tasklists` (markdown-it-py >= 4.1) takes `[ ]`/`[x]` out of an item's text.
    md = MarkdownIt("commonmark", {"html": True, "tasklists": True})
    md.enable(["table", "strikethrough"])
    md.use(front_matter_plugin)
    # Like Obsidian/pandoc: no space just inside `$…$`, no digit right after the
    # closing `$` (so "$5 and $10" is money); `$$…$$` may also sit inside a paragraph.
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)
    md.use(footnote_plugin)
    # Footnote text stays where it is written (so it belongs to that section and
    # keeps its lines); `^[inline notes]` stay ordinary text with their links.
    md.core.ruler.disable("footnote_tail")
    md.inline.ruler.disable("footnote_inline")
    md.use(comments_plugin)
    md.use(html_heading_plugin)
    md.use(wikilinks_plugin)
    md.use(tags_plugin)
    md.use(code_lines_plugin)
    _use_bare_urls(md)
    md.use(depth_limit_plugin)  # last: its rule goes before every other block rule
    return md


def _use_bare_urls(md: MarkdownIt) -> None:
    """Turn bare ``https://…`` / ``www.…`` text into links, when the installed plugins can."""
    try:
        from mdit_py_plugins.gfm_autolink import gfm_autolink_plugin
    except ImportError:  # mdit-py-plugins < 0.5: bare URLs stay text (and are never tags)
        return
    try:
        md.use(gfm_autolink_plugin)
    except RuntimeError:  # markdown-it-py < 4.1
        return


MD = _build_markdown()


def parse_note(text: str, path: str) -> Note:
    """Parse the Markdown ``text`` of the note at vault-relative ``path``; never raises."""
    source = _normalise(text)
    try:
        return _NoteReader(source, path).read()
    except Exception as err:  # noqa: BLE001 - one odd note must not stop a vault scan
        title = _stem(path)
        lines = source.split("\n")
        end = max(len(lines), 1)
        text = source.strip()
        first = source[: len(source) - len(source.lstrip())].count("\n") + 1
        rows = tuple(range(first, first + text.count("\n") + 1)) if text else ()
        root = Section(title, "root", 0, (title,), 1, end, None, text, text_lines=rows)
        warning = f"note could not be parsed ({type(err).__name__}: {err}); read as plain text"
        return Note(path=path, title=title, sections=(root,), warnings=(warning[:300],))


# Control characters would reach the terminal through `kb search` and `kb show` (ESC opens
# an escape sequence that can clear the screen or retitle the window), and \x02/\x03 mark
# search hits: drop C0 and C1 controls but tab and newline. Form feed and vertical tab
# become spaces so the words around them stay apart; NUL becomes U+FFFD, as CommonMark says.
_CONTROLS: dict[int, str | None] = {
    code: None for code in (*range(0x20), *range(0x7F, 0xA0)) if chr(code) not in "\t\n"
}
_CONTROLS.update({0x00: "\ufffd", 0x0B: " ", 0x0C: " "})


def _normalise(text: str) -> str:
    """Line endings to ``\\n``, no BOM and no control characters (tab aside), so our line
    numbers match markdown-it's and no escape sequence reaches a terminal."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)


def _stem(path: str) -> str:
    """File name without folder and note ending (``.md``, ``.markdown``)."""
    return strip_note_suffix(path.replace("\\", "/").rsplit("/", 1)[-1])


@dataclass(slots=True)
class _Content:
    """What a section owns while the note is read."""

    text: list[str] = field(default_factory=list)
    """Its blocks of text, one line each."""
    lines: list[int] = field(default_factory=list)
    """The file line where each block of ``text`` starts."""
    breaks: list[list[tuple[int, int]]] = field(default_factory=list)
    """Per block of ``text``: (offset in the block, file line) where it goes on to a later line."""
    code: list[str] = field(default_factory=list)
    math: list[str] = field(default_factory=list)
    emphasis: list[str] = field(default_factory=list)

    def add_text(self, text: str, line: int, breaks: list[tuple[int, int]]) -> None:
        """File a block of text (one line, starting on file line ``line``)."""
        if not text:
            return
        for at, later in breaks:
            if at <= 0:
                line = later  # nothing visible before the break
        self.text.append(text)
        self.lines.append(line)
        self.breaks.append([(at, later) for at, later in breaks if at > 0])

    def joined(self) -> tuple[str, tuple[int, ...], tuple[tuple[int, int], ...]]:
        """``Section.text``, ``text_lines`` and ``text_breaks``."""
        breaks: list[tuple[int, int]] = []
        offset = 0
        for text, block_breaks in zip(self.text, self.breaks, strict=True):
            breaks.extend((offset + at, line) for at, line in block_breaks)
            offset += len(text) + 1
        return "\n".join(self.text), tuple(self.lines), tuple(breaks)


class _NoteReader:
    """Reads one note: front matter, then outline, then content, then assembles the ``Note``."""

    def __init__(self, source: str, path: str) -> None:
        self.path = path
        self.lines = source.split("\n")
        env: dict = {}
        self.tokens: list[Token] = MD.parse(source, env)
        self.matter = FrontMatter()
        self.warnings: list[str] = []
        if DEEP_LINE in env:
            self.warnings.append(
                f"lists or quotes nested more than {MAX_DEPTH} levels deep from line "
                f"{env[DEEP_LINE] + 1}; the deeper lines are read as plain text"
            )
        self.links: list[Link] = []
        self.urls: list[Url] = []
        self.tag_uses: list[TagUse] = []
        self.content: list[_Content] = []
        self.row: list[str] | None = None
        """Cell texts of the table row being read; None outside tables."""
        self.row_line = 0
        """File line of the table row being read."""
        self.starts: list[int] = []
        """``line_start`` of each section: where text with no line of its own is put."""

    def read(self) -> Note:
        """Build the ``Note``."""
        title = self._read_front_matter()
        outline = build_outline(self.tokens, title, len(self.lines))
        self._warn_long_headings(outline)
        self.content = [_Content() for _ in outline.sections]
        self.starts = [draft.line_start for draft in outline.sections]
        self._read_content(outline)
        trim_blank_ends(outline.sections, self.lines)
        sections = tuple(
            _section(draft, content)
            for draft, content in zip(outline.sections, self.content, strict=True)
        )
        return Note(
            path=self.path,
            title=title,
            aliases=self._aliases(),
            tags=_distinct(use.name for use in self.tag_uses),
            tag_uses=tuple(self.tag_uses),
            links=tuple(self.links),
            urls=tuple(self.urls),
            sections=sections,
            frontmatter=self.matter.data,
            warnings=tuple(self.warnings),
        )

    def _read_front_matter(self) -> str:
        """Read the front matter (if any) and return the note title."""
        first = self.tokens[0] if self.tokens else None
        if first is not None and first.type == "front_matter":
            self.matter = read_front_matter(first.content, first_line=2)
            if self.matter.warning:
                self.warnings.append(self.matter.warning)
                self.tokens[:1] = _as_markdown(first.content, first_line=2)
            for name, line in tags_of(self.matter, default_line=1):
                self.tag_uses.append(TagUse(name, line, 0, frontmatter=True))
        elif unclosed_front_matter(self.lines):
            self.warnings.append(
                "front matter on line 1 is never closed by a `---` line; read as text"
            )
        title = title_of(self.matter)
        if title is not None and len(title) > MAX_NAME_CHARS:
            self.warnings.append(
                f"front-matter title is {len(title):,} characters long (names stop at "
                f"{MAX_NAME_CHARS}); the file name is the note's title"
            )
            title = None
        return title or _stem(self.path)

    def _aliases(self) -> tuple[str, ...]:
        """Front-matter aliases, but those too long to be a name (one warning for them all)."""
        aliases = aliases_of(self.matter)
        kept = tuple(a for a in aliases if len(a) <= MAX_NAME_CHARS)
        if len(kept) < len(aliases):
            self.warnings.append(
                f"{len(aliases) - len(kept)} alias(es) longer than {MAX_NAME_CHARS} characters "
                "are not names; ignored"
            )
        return kept

    def _warn_long_headings(self, outline: Outline) -> None:
        """One warning when headings are too long to name a topic (they stay section titles)."""
        long = [
            d for d in outline.sections if d.kind == "heading" and len(d.title) > MAX_NAME_CHARS
        ]
        if long:
            self.warnings.append(
                f"{len(long)} heading(s) longer than {MAX_NAME_CHARS} characters, the first on "
                f"line {long[0].line_start}, are not names of topics; read as section titles"
            )

    def _read_content(self, outline: Outline) -> None:
        """File every block's text, code, math, links and tags under its section."""
        for index, token in enumerate(self.tokens):
            section = outline.owner[index]
            kind = token.type
            if kind == "inline":
                # A heading that opened a section is its title, not its text; so is an item's lead.
                keep = index - 1 not in outline.top_headings
                self._read_inline(token, section, keep, lead=outline.leads.get(index))
            elif kind in ("fence", "code_block"):
                self.content[section].code.append(token.content.rstrip("\n"))
                if kind == "fence" and self._unclosed(token):
                    self.warnings.append(
                        f"code fence on line {token.map[0] + 1} is never closed; "
                        "the rest of the note is read as code"
                    )
            elif kind in ("math_block", "math_block_label"):
                self.content[section].math.append(token.content.strip())
            elif kind == "tr_open":
                self.row = []
                self.row_line = token.map[0] + 1 if token.map else self.starts[section]
            elif kind == "tr_close" and self.row is not None:
                row = " | ".join(cell for cell in self.row if cell)
                self.content[section].add_text(row, self.row_line, [])
                self.row = None

    def _unclosed(self, token: Token) -> bool:
        """True for a fence that runs to the end of the note, with text in it, and no closing
        fence: the writer forgot it (CommonMark then makes the rest of the note code)."""
        if not token.map or token.level or not token.content.strip():
            return False
        last = self.lines[token.map[1] - 1].strip() if token.map[1] > token.map[0] + 1 else ""
        closed = len(last) >= len(token.markup) and last == last[0] * len(last)
        closed = closed and last[0] == token.markup[0]
        rest = self.lines[token.map[1] :]
        return not closed and not any(line.strip() for line in rest)

    def _read_inline(self, token: Token, section: int, keep_text: bool, lead: str | None) -> None:
        """Plain text, links, URLs and tags of one paragraph, heading or table cell."""
        inline = read_inline(token)
        content = self.content[section]
        content.code.extend(inline.code)
        content.math.extend(inline.math)
        if keep_text:
            content.emphasis.extend(inline.emphasis)
            text, breaks = one_line(inline)  # one block, one line
            if lead is not None:
                whole = text
                text = drop_lead(text, lead)
                cut = len(whole) - len(text)  # drop_lead only takes from the front
                breaks = [(at - cut, line) for at, line in breaks]
            if self.row is not None:
                self.row.append(text)  # a table cell: one line per row
            else:
                line = token.map[0] + 1 if token.map else self.starts[section]
                content.add_text(text, line, breaks)
        for span in inline.spans:
            self._add_span(inline, span, section)

    def _add_span(self, inline: InlineText, span: Span, section: int) -> None:
        """Turn a span into a Link, Url or TagUse."""
        token = span.token
        if token.type == "tag":
            self.tag_uses.append(TagUse(token.meta["name"], span.line, section))
        elif token.type == "wikilink":
            meta = token.meta
            link = Link(
                target=meta["target"],
                heading=meta["heading"],
                block=meta["block"],
                alias=meta["alias"],
                kind="wikilink",
                embed=meta["embed"],
                line=span.line,
                context=inline.context(span),
                section=section,
            )
            self.links.append(link)
        else:
            href = str(token.attrGet("src" if token.type == "image" else "href") or "")
            self._add_href(href, inline, span, section, embed=token.type == "image")

    def _add_href(
        self, href: str, inline: InlineText, span: Span, section: int, embed: bool
    ) -> None:
        """A Markdown link or image: external ones are URLs, the rest note links."""
        display = inline.display(span)
        if _EXTERNAL.match(href):
            self.urls.append(Url(href, display, span.line, section))
            return
        target, _, anchor = unquote(href).partition("#")
        heading = block = None
        if anchor.startswith("^"):
            block = anchor[1:] or None
        else:
            heading = anchor or None
        if not (target or heading or block):
            return
        link = Link(
            target=target,
            heading=heading,
            block=block,
            alias=display or None,
            kind="markdown",
            embed=embed,
            line=span.line,
            context=inline.context(span),
            section=section,
        )
        self.links.append(link)


def _section(draft: SectionDraft, content: _Content) -> Section:
    """The finished section."""
    text, text_lines, text_breaks = content.joined()
    return Section(
        title=draft.title,
        kind=draft.kind,
        level=draft.level,
        heading_path=draft.heading_path,
        line_start=draft.line_start,
        line_end=draft.line_end,
        parent=draft.parent,
        text=text,
        code="\n".join(content.code),
        math="\n".join(content.math),
        emphasis="\n".join(content.emphasis),
        text_lines=text_lines,
        text_breaks=text_breaks,
    )


def _as_markdown(content: str, first_line: int) -> list[Token]:
    """Tokens of broken front matter read as Markdown, mapped to their lines in the file."""
    tokens = MD.parse(content)
    shift = first_line - 1
    for token in tokens:
        if token.map:
            token.map = [token.map[0] + shift, token.map[1] + shift]
    # A second `---` block at its very top would read as front matter again: drop it.
    return [token for token in tokens if token.type != "front_matter"]


def unclosed_front_matter(lines: list[str]) -> bool:
    """True when a note opens with ``---`` and YAML ``key: value`` lines but no line closes the
    front matter (a lone ``---`` followed by prose is just a thematic break)."""
    if not lines or lines[0].rstrip() != "---":
        return False
    head: list[str] = []
    for line in lines[1:]:
        if not line.strip() or line.rstrip() in ("---", "..."):
            break
        head.append(line)
    return bool(head) and bool(read_front_matter("\n".join(head), first_line=2).data)


def _distinct(names: Iterable[str]) -> tuple[str, ...]:
    """Names in order of first use, ``ML`` and ``ml`` counted once (Obsidian ignores case)."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        key = name.casefold()
        if key not in seen:
            seen.add(key)
            out.append(name)
    return tuple(out)
