"""Property-based tests (hypothesis) of the parser and the link resolver (issue 7, point 7).

The Markdown strategies mix arbitrary Unicode text with fragments of the syntax kb reads
(headings, lists, fences, math, comments, front matter, wikilinks, tags, tables, HTML…), so
that the odd combinations a real vault holds come up. Text never holds lone surrogates: kb
reads files as UTF-8 with replacement (kb.vault.decode), so a parsed str never has one.

Runs are derandomized (the same examples every time, no example database), so CI is
reproducible; ``KB_HYPOTHESIS_EXAMPLES=2000 pytest tests/test_properties.py`` explores more.
"""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.model import Note, strip_note_suffix
from kb.parse import parse_note
from kb.resolve import Resolver, fold

EXAMPLES = int(os.environ.get("KB_HYPOTHESIS_EXAMPLES", "150"))

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MARKER = "ⓛ"
"""Marks planted links; the random text never holds it, so a planted link is known by it."""

FRAGMENTS = [
    # block starts
    "# ",
    "## ",
    "###### ",
    "####### ",
    "#",
    "- ",
    "* ",
    "+ ",
    "1. ",
    "2) ",
    "  ",
    "    ",
    "\t",
    "> ",
    ">> ",
    "- [ ] ",
    "- [x] ",
    "===",
    "---",
    "***",
    "___",
    # fences, math, comments, HTML
    "```",
    "~~~",
    "```python",
    "````",
    "$$",
    "$",
    "%%",
    "<!--",
    "-->",
    "<div>",
    "</div>",
    "<span\nclass=x>",
    "<br/>",
    # front matter pieces
    "---\n",
    "tags: [a, b]",
    "aliases: x",
    "title: T",
    "tags:\n  - y",
    ": ",
    "{",
    "}",
    # links and embeds
    "[[",
    "]]",
    "[[a]]",
    "[[a|b]]",
    "[[a#h|b]]",
    "![[img.png|300]]",
    "[[#h]]",
    "[[x#^blk]]",
    "[[a\\|b]]",
    "[x](y.md)",
    "[x](<a b.md>)",
    "![a](i.png)",
    "[x][r]",
    "[r]: z.md",
    "<https://x.y>",
    "https://x.y/#a",
    "www.x.y",
    "[",
    "]",
    "(",
    ")",
    "](",
    "![",
    # tags, emphasis, code, tables, footnotes, leads
    "#tag",
    "#a/b",
    "#1",
    "#深度学习",
    "#fff",
    "C#",
    "**",
    "__",
    "*",
    "_",
    "~~",
    "`",
    "``",
    "\\",
    "|",
    "| a | b |",
    "|---|---|",
    "[^1]",
    "[^1]: n",
    "^blk",
    "term：",
    "**term**: ",
    "&amp;",
    "&#0;",
    "&nbsp;",
    # scripts, odd characters, line breaks
    "卷积",
    "残差网络",
    "😀",
    "é",
    "\u0301",
    "ß",
    "İ",
    "\x00",
    "\x1b[2J",
    "\u2028",
    "\ufeff",
    "\r\n",
    "\r",
    "\n",
    "\n\n",
    "  \n",
]

text_chunk = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters=MARKER),
    max_size=12,
)
line = st.lists(st.one_of(st.sampled_from(FRAGMENTS), text_chunk), max_size=8).map("".join)
markdown = st.lists(line, max_size=25).map("\n".join)
front_matter = st.lists(line, max_size=4).map(lambda rows: "---\n" + "\n".join(rows) + "\n---\n")
documents = st.one_of(markdown, st.tuples(front_matter, markdown).map("".join))


def _lines(text: str) -> list[str]:
    """The lines of a note as kb counts them: \\r\\n, \\r and \\n end a line, nothing else."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _check_note(note: Note, text: str) -> None:
    lines = _lines(text)
    assert not any(w.startswith("note could not be parsed") for w in note.warnings), note.warnings
    assert note.sections and note.sections[0].kind == "root" and note.sections[0].parent is None
    # Every section's line range lies inside the note, and inside its parent's.
    for index, section in enumerate(note.sections):
        assert 1 <= section.line_start <= section.line_end <= len(lines), (index, section)
        if index == 0:
            continue
        parent = note.sections[section.parent]
        assert section.parent < index and parent.level < section.level
        assert parent.line_start <= section.line_start <= section.line_end <= parent.line_end
        assert section.heading_path == (*parent.heading_path, section.title)
        assert all(line >= section.line_start for line in section.text_lines)
    for item in (*note.links, *note.urls, *note.tag_uses):
        assert 0 <= item.section < len(note.sections)
        section = note.sections[item.section]
        assert 1 <= item.line <= len(lines)
        assert section.line_start <= item.line <= max(section.line_end, section.line_start)
    # A wikilink never spans lines: its line holds [[ and each part as written (a `\|` in a
    # table cell is read as `|`).
    for link in note.links:
        if link.kind != "wikilink":
            continue
        here = _visible(lines[link.line - 1]).replace("\\|", "|")
        assert ("![[" if link.embed else "[[") in here, (link, here)
        for part in (link.target, link.heading, link.block, link.alias):
            assert part is None or part in here, (part, link, here)
    # An inline tag's line holds it as written.
    for use in note.tag_uses:
        if not use.frontmatter:
            assert "#" + use.name in _visible(lines[use.line - 1]), use


def _visible(line: str) -> str:
    """A line as the parser sees it: control characters gone, NUL as U+FFFD (kb.parse)."""
    from kb.parse import _normalise

    return _normalise(line)


@SETTINGS
@given(documents)
def test_any_markdown_parses_into_a_consistent_note(text: str) -> None:
    _check_note(parse_note(text, "notes/any.md"), text)


@SETTINGS
@given(documents, documents)
def test_parsing_is_deterministic(text: str, other: str) -> None:
    """The same text gives the same Note, whatever was parsed before it."""
    first = parse_note(text, "a.md")
    parse_note(other, "b.md")
    assert parse_note(text, "a.md") == first


# -- planted links: their lines are known ----------------------------------------------------

# Link forms ({t} is the target), each opening on its first line. Those written over several
# lines push the later links down.
PLANTS = [
    "[[{t}]]",
    "![[{t}|300]]",
    "[[{t}#Heading|shown text]]",
    "[label]({t}.md)",
    "[label](<{t} x.md>)",
    "![alt]({t}.png)",
    "[two\nlines]({t}.md)",
    "[label](\n{t}.md)",
    '[label]({t}.md "a\ntitle")',
    "![alt\ntext]({t}.png)",
    "[**bold** `code`]({t}.md)",
    "![alt [inner](x.md)\nmore]({t}.png)",
    "[label]({t}.md\n'title')",
    "[label][{t}]\n\n[{t}]: <{t}.md>",
]
# What may stand between planted links: anything, and the inline forms that span lines.
BETWEEN = [
    "`code\nspan`",
    "$a\nb$",
    "<span\nx=1>",
    "%%a\nb%%",
    "**strong\ntext**",
    "[a](b.md 'x\ny')",
    "![i\nj](k.png\n)",
    "text  \nhard break",
    "text\\\nhard break",
    "\n",
    " ",
]


@st.composite
def planted(draw) -> tuple[str, dict[str, int]]:
    """Markdown with links whose `[` is on a known line: (text, {marker: line})."""
    parts: list[str] = []
    where: dict[str, int] = {}
    for k in range(draw(st.integers(1, 8))):
        parts.append(draw(st.one_of(line, st.sampled_from(BETWEEN))))
        parts.append(draw(st.sampled_from(["", " ", "\n", "\n\n", "- ", "\n# ", "\n> "])))
        mark = f"{MARKER}{k}{MARKER}"
        where[mark] = len(_lines("".join(parts)))
        parts.append(draw(st.sampled_from(PLANTS)).format(t=mark))
        parts.append(draw(st.sampled_from(["", " ", "\n", " tail", "\n\n"])))
    return "".join(parts), where


@SETTINGS
@given(planted())
def test_every_link_is_on_the_line_where_it_is_written(case: tuple[str, dict[str, int]]) -> None:
    text, where = case
    note = parse_note(text, "planted.md")
    _check_note(note, text)
    for link in note.links:
        marks = [m for m in where if m in link.target]
        if marks:  # a planted link (random text around it may have swallowed others)
            assert link.line == where[marks[0]], (marks[0], link, text)


# -- the link resolver -------------------------------------------------------------------------

# Names a note file can have. Left out: a name that itself ends in a note ending (the note
# `a.md.md`): [[a.md]] names the file a.md, in kb as in Obsidian.
name_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="/\\#|[]^"),
    min_size=1,
    max_size=6,
).filter(lambda s: s.strip(" .") != "" and strip_note_suffix(s) == s)
FOLDERS = ["", "a/", "A/", "b/c/", "卷积/"]


@st.composite
def vaults(draw) -> list[Note]:
    """Notes whose names clash: one name in several folders, names differing only in case or
    suffix, aliases that are other notes' names."""
    stems = draw(st.lists(name_text, min_size=1, max_size=5))
    stems += [s.swapcase() for s in draw(st.lists(st.sampled_from(stems), max_size=2))]
    notes: dict[str, Note] = {}
    for stem in stems:
        for folder in draw(st.lists(st.sampled_from(FOLDERS), min_size=1, max_size=2)):
            path = folder + stem + draw(st.sampled_from([".md", ".MD", ".markdown"]))
            aliases = draw(st.lists(st.one_of(name_text, st.sampled_from(stems)), max_size=2))
            notes.setdefault(path, Note(path=path, title=stem, aliases=tuple(aliases)))
    return list(notes.values())


def _queries(notes: list[Note]) -> list[str]:
    """What a user may write in [[…]]: paths with and without suffix, in other cases, parts
    of paths, names, aliases, with spaces around, and names of no note."""
    out: list[str] = ["", " ", "nowhere", "a/nowhere", "/"]
    for note in notes:
        bare = strip_note_suffix(note.path)
        out += [note.path, bare, bare.swapcase(), "/" + bare, note.stem, f" {note.stem} "]
        out += [note.stem.swapcase(), note.stem.upper(), *note.aliases]
        if "/" in bare:
            out.append(bare.split("/", 1)[1])
    return out


def _key(name: str) -> str:
    return fold(strip_note_suffix(name.strip().lstrip("/")))


@SETTINGS
@given(vaults(), st.randoms(use_true_random=False))
def test_resolution_is_justified_deterministic_and_independent_of_note_order(
    notes: list[Note], rng: random.Random
) -> None:
    resolver = Resolver(notes)
    shuffled = list(notes)
    rng.shuffle(shuffled)
    other = Resolver(shuffled)
    by_path = {n.path: n for n in notes}
    for query in _queries(notes):
        found = resolver.resolve(query)
        assert found == other.resolve(query) == resolver.resolve(query), query
        key = _key(query)
        if found.path is None:
            assert not found.candidates
            # Nothing of that name: no note's file name folds to it (or the name is blank).
            assert not key or all(fold(n.stem) != key for n in notes), query
            continue
        assert found.path in by_path and found.path in found.candidates, query
        assert set(found.candidates) <= set(by_path)
        # Obsidian's preference among notes of one name: the shortest path first.
        shortest = min(found.candidates, key=lambda p: (p.count("/"), len(p), p))
        assert found.path == shortest or found.candidates == (found.path,), (query, found)
        # Each answer is justified by how it was found.
        note = by_path[found.path]
        bare = fold(strip_note_suffix(note.path))
        if found.via == "path":
            assert bare == key or bare.endswith("/" + key), (query, found)
        elif found.via == "name":
            assert fold(note.stem) == key, (query, found)
        else:
            assert found.via == "alias" and key in {fold(a) for a in note.aliases}, (query, found)
            # A file name wins over an alias.
            assert all(fold(n.stem) != key for n in notes), (query, found)


@SETTINGS
@given(vaults())
def test_a_note_is_reached_by_its_own_path_and_by_its_name_in_any_case(
    notes: list[Note],
) -> None:
    resolver = Resolver(notes)
    for note in notes:
        # Its path, exactly as written (with or without the suffix), is that note, even when
        # another note's path differs only in case or suffix (case-sensitive file systems).
        assert resolver.resolve(note.path).path == note.path, note.path
        # Its name, in another case, reaches a note of that name (Obsidian ignores case).
        for name in (note.stem, note.stem.swapcase(), note.stem.upper()):
            found = resolver.resolve(name)
            if fold(name) == fold(note.stem):
                assert found.path is not None, name
