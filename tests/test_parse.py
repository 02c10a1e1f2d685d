"""kb.parse: golden files in tests/fixtures/parse, the user's note, and robustness.

Each ``<case>.md`` is parsed (as the vault path ``<case>.md``) and compared with
``<case>.expected.json``. ``KB_UPDATE_GOLDEN=1 pytest tests/test_parse.py``
rewrites the goldens; read the diff before keeping it.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from kb.md_tags import valid_tag
from kb.model import Note, strip_note_suffix
from kb.parse import parse_note
from kb.wikilinks import split_wikilink
from tests.conftest import SHARED_VAULTS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "parse"
CASES = sorted(FIXTURES.glob("*.md"))
USER_NOTE = FIXTURES / "面试准备计划.md"


def summarise(note: Note) -> dict:
    """The parts of a Note a golden file pins down, as JSON-ready rows."""
    return {
        "title": note.title,
        "aliases": list(note.aliases),
        "tags": list(note.tags),
        "tag_uses": [[t.name, t.line, t.section, t.frontmatter] for t in note.tag_uses],
        "links": [
            [x.target, x.heading, x.block, x.alias, x.kind, x.embed, x.line, x.context, x.section]
            for x in note.links
        ],
        "urls": [[u.url, u.text, u.line, u.section] for u in note.urls],
        "outline": [
            [s.title, s.kind, s.level, list(s.heading_path), s.line_start, s.line_end, s.parent]
            for s in note.sections
        ],
        "content": [
            [index, s.text, s.code, s.math, list(s.text_lines), [list(b) for b in s.text_breaks]]
            for index, s in enumerate(note.sections)
            if s.text or s.code or s.math
        ],
        "frontmatter": note.frontmatter,
        "warnings": list(note.warnings),
    }


def dump_golden(data: dict) -> str:
    """JSON with one row per line, so a golden reads (and diffs) like a table."""
    lines = ["{"]
    for number, (key, value) in enumerate(data.items()):
        comma = "," if number < len(data) - 1 else ""
        if isinstance(value, list) and value and isinstance(value[0], list):
            rows = [f"    {json.dumps(row, ensure_ascii=False)}" for row in value]
            lines.append(f'  "{key}": [\n' + ",\n".join(rows) + f"\n  ]{comma}")
        else:
            lines.append(f'  "{key}": {json.dumps(value, ensure_ascii=False)}{comma}')
    lines.append("}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_golden(case: Path) -> None:
    """Parsing the fixture gives exactly the reviewed golden file."""
    note = parse_note(case.read_text(encoding="utf-8"), case.name)
    golden = case.with_name(case.stem + ".expected.json")
    actual = summarise(note)
    if os.environ.get("KB_UPDATE_GOLDEN"):
        golden.write_text(dump_golden(actual), encoding="utf-8")
    assert golden.exists(), f"no golden for {case.name}; run with KB_UPDATE_GOLDEN=1 and review"
    assert actual == json.loads(golden.read_text(encoding="utf-8"))


def _paths(note: Note) -> list[str]:
    """Outline as breadcrumbs without the note title."""
    return [" › ".join(s.heading_path[1:]) for s in note.sections[1:]]


def test_user_note_outline() -> None:
    """The user's own note: the sections they navigate by, nested as written."""
    note = parse_note(USER_NOTE.read_text(encoding="utf-8"), "面试准备计划.md")
    paths = _paths(note)
    for expected in [
        "复习内容",
        "Daily Report › 2019.3.7 › tensorflow › linear regression",
        "Daily Report › 2019.4.22 › torchsummary",
        "Daily Report › 2019.4.22 › resnet",
        "Daily Report › 2019.4.26 › 1x1 conv",
        "Daily Report › 2019.4.26 › GAP",
        "Daily Report › 2019.4.27 › 知识蒸馏 knowledge distillation",
        "Daily Report › 2019.4.29 › Pytorch Styleguide",
        "Daily Report › 2019.4.29 › Smooth L1",
        "Daily Report › 2019.4.30 › Yolo V3",
        "Daily Report › 2019.5.3 › pytorch loss function",
        "Daily Report › 2019.5.3 › pytorch loss function › nn.L1loss",
        "Daily Report › 2019.5.3 › 激活函数 › relu › dead relu",
        "Daily Report › 2019.5.3 › 激活函数 › relu › Leaky ReLU",
    ]:
        assert expected in paths
    by_title = {s.title: s for s in note.sections}
    assert "ResNet的BottNeck结构" in by_title["1x1 conv"].text
    assert "缺陷：可能导致收敛速度变慢" in by_title["GAP"].text
    assert "代码能力" not in by_title  # a list of bare terms is content, not structure
    assert by_title["relu"].level == 12 and by_title["dead relu"].level == 13


TEXT_LINES_NOTE = """\
---
title: Lines
tags: [a]
---
# Lines

First paragraph, one line.

Second paragraph wrapped
over two lines. Then `code
that wraps` and more.

| cell | other |
|------|-------|
| row  | two   |

## Sub

- **Term**: explained here
  and continued below.
- plain item
"""


def test_text_lines_map_text_to_file_lines() -> None:
    """Each line of ``Section.text`` knows its file line; wrapped paragraphs know where
    they go on to the next line, so a sentence is found on the line it is written."""
    note = parse_note(TEXT_LINES_NOTE, "Lines.md")
    root, sub, term = note.sections
    assert root.text.split("\n") == [
        "First paragraph, one line.",
        "Second paragraph wrapped over two lines. Then code that wraps and more.",
        "cell | other",
        "row | two",
    ]
    assert root.text_lines == (7, 9, 13, 15)  # below the front matter and the title
    assert root.line_of(root.text.find("First")) == 7
    assert root.line_of(root.text.find("Second")) == 9
    assert root.line_of(root.text.find("over two")) == 10
    assert root.line_of(root.text.find("Then")) == 10  # `code` starts on line 10…
    assert root.line_of(root.text.find("and more")) == 11  # …and what follows it is on 11
    assert root.line_of(root.text.find("row")) == 15
    assert (sub.text, sub.text_lines) == ("plain item", (21,))
    assert term.text.split("\n") == ["explained here and continued below."]
    assert term.text_lines == (19,)
    assert term.line_of(term.text.find("continued")) == 20


def test_text_lines_of_a_note_read_as_plain_text(monkeypatch) -> None:
    """A note that could not be parsed keeps its text with the lines it is on."""
    import kb.parse

    def broken(*_args):
        raise ValueError("boom")

    monkeypatch.setattr(kb.parse._NoteReader, "read", broken)
    note = parse_note("\n\nfirst\nsecond\n", "x.md")
    (root,) = note.sections
    assert (root.text, root.text_lines) == ("first\nsecond", (3, 4))
    assert root.line_of(root.text.find("second")) == 4


def test_line_endings_and_bom_do_not_matter() -> None:
    """CRLF, CR and a BOM give the same note as plain LF."""
    text = USER_NOTE.read_text(encoding="utf-8")
    plain = summarise(parse_note(text, "n.md"))
    assert summarise(parse_note("\ufeff" + text.replace("\n", "\r\n"), "n.md")) == plain
    assert summarise(parse_note(text.replace("\n", "\r"), "n.md")) == plain


def test_front_matter_after_bom_and_crlf() -> None:
    """Front matter is found behind a BOM and with Windows line endings."""
    note = parse_note("\ufeff---\r\ntitle: T\r\ntags: [a]\r\n---\r\nx [[L]]\r\n", "n.md")
    assert (note.title, note.tags, note.links[0].line, note.warnings) == ("T", ("a",), 5, ())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n\n",
        "---",
        "---\n---",
        "---\ntitle: only front matter\n---",
        "---\n: : :\n---\n",
        "---\n" + "[" * 5000 + "\n---\n",
        "---\na: &a [*a, *a]\nb: !!binary aGk=\nc: !!set {x}\nd: 2024-13-45\n---\n",
        "```\nunclosed fence [[x]]",
        "".join(
            "  " * depth + "- item **b**\n\n" + "  " * depth + "  text\n" for depth in range(12)
        ),
        "> " * 200 + "deep quote [[x]] #t",
        "[" * 3000 + "]" * 3000,
        "x" * 200_000 + " [[far]] #far",
        "%%" * 1000,
        "$" * 999 + "#t",
        "\x00\x01\x02\ufffe\ud7ff binary \x7f junk",
        "# \n## \n- \n1. \n|a|\n|-|\n",
        "[^1]\n\n[^1]: [[fn]]\n[^1]: twice",
        "[a]: <>\n[a]\n![[]]\n[[|]]\n[[#]]\n[[#^]]",
    ],
)
def test_never_raises_on_odd_input(text: str) -> None:
    """Odd or hostile input still gives a Note with a root section and no parser error."""
    note = parse_note(text, "odd.md")
    _check_consistent(note, text)


def test_random_garbage() -> None:
    """Random strings over Markdown's special characters parse without errors."""
    alphabet = "#[]()!|^%$`*_-:：>\\<\n\n  \tab1深度/.-~=\"'{}@&;"
    rng = random.Random(20240501)
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        _check_consistent(parse_note(text, "fuzz.md"), text)


def _check_consistent(note: Note, text: str) -> None:
    """Invariants every parsed note keeps."""
    lines = max(text.replace("\r\n", "\n").count("\n") + 1, 1)
    assert not any(w.startswith("note could not be parsed") for w in note.warnings)
    assert note.sections and note.sections[0].kind == "root"
    for index, section in enumerate(note.sections[1:], start=1):
        parent = note.sections[section.parent]
        assert section.parent < index and parent.level < section.level
        assert parent.line_start <= section.line_start <= section.line_end <= parent.line_end
        assert section.heading_path == (*parent.heading_path, section.title)
    for item in (*note.links, *note.urls, *note.tag_uses):
        assert 1 <= item.line <= lines
        assert 0 <= item.section < len(note.sections)
    json.dumps(note.frontmatter)


def _real_vault_files() -> list[Path]:
    """Every note of the real vaults, when this checkout has them."""
    return sorted(SHARED_VAULTS.rglob("*.md")) if SHARED_VAULTS.is_dir() else []


@pytest.mark.shared
@pytest.mark.skipif(not _real_vault_files(), reason="../shared/vaults is absent")
def test_real_vaults_parse_cleanly() -> None:
    """Every note of the real vaults parses, with consistent lines and sections."""
    for path in _real_vault_files():
        text = path.read_text(encoding="utf-8")
        note = parse_note(text, path.name)
        _check_consistent(note, text)
        lines = text.split("\n")
        for link in note.links:  # each link is reported on the line that writes it
            if link.kind == "wikilink":
                assert "[[" in lines[link.line - 1] and link.target in lines[link.line - 1]
            else:
                assert "[" in lines[link.line - 1]


@pytest.mark.parametrize(
    ("inner", "parts"),
    [
        ("T", ("T", None, None, None)),
        (" T | shown ", ("T", None, None, "shown")),
        ("T#H#Sub", ("T", "H#Sub", None, None)),
        ("T#^b-1|x", ("T", None, "b-1", "x")),
        ("#^b", ("", None, "b", None)),
        ("T\\|alias", ("T", None, None, "alias")),
        ("img.png|300", ("img.png", None, None, "300")),
    ],
)
def test_split_wikilink(inner: str, parts: tuple) -> None:
    """The text between ``[[`` and ``]]`` splits into target, heading, block and alias."""
    found = split_wikilink(inner)
    assert found is not None
    assert (found.target, found.heading, found.block, found.alias) == parts


@pytest.mark.parametrize("inner", ["", " ", "|x", "#", "#^"])
def test_split_wikilink_empty(inner: str) -> None:
    """Nothing to link to: not a wikilink."""
    assert split_wikilink(inner) is None


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("tag", True),
        ("ml/cnn", True),
        ("深度学习", True),
        ("v2", True),
        ("_draft", True),
        ("2024", False),
        ("2024-01", False),
        ("fff", False),
        ("FF00AA80", False),
        ("ffffff", False),
        ("fffff", True),
        ("/x", False),
        ("--", False),
    ],
)
def test_valid_tag(name: str, ok: bool) -> None:
    """Tag names need a letter (or `_`) and must not be CSS colours."""
    assert valid_tag(name) is ok


@pytest.mark.parametrize("path", ["ext.markdown", "dir/ext.MARKDOWN", "dir\\ext.Md", "ext"])
def test_title_drops_either_note_suffix(path: str) -> None:
    """`.markdown` notes (kb.vault reads them) are named like `.md` ones."""
    assert parse_note("body\n", path).title == "ext"
    assert strip_note_suffix("a/ext.markdown") == "a/ext" and strip_note_suffix("x.txt") == "x.txt"


def test_control_characters_are_dropped_and_lines_kept() -> None:
    """ESC, BEL and C1 controls never reach a terminal; tab stays and no line moves."""
    text = "zzesc \x1b[2J\x1b]0;pwned\x07 a\tb\n\x9b31m\x02hit\x03 #tag\n\nx\x0cy\x0bz [[Link]]\n"
    note = parse_note(text, "esc.md")
    root = note.sections[0]
    assert root.text == "zzesc [2J]0;pwned a b 31mhit #tag\nx y z Link"
    assert root.text_lines == (1, 4) and root.text_breaks == ((22, 2),)
    assert [(t.name, t.line) for t in note.tag_uses] == [("tag", 2)]
    assert [(x.target, x.line) for x in note.links] == [("Link", 4)]
    controls = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))} - {"\t", "\n"}
    assert not controls & set(root.text + note.title + "".join(x.context for x in note.links))


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("bad", True),
        ("cafe", True),
        ("add", True),
        ("face", True),
        ("dead", True),
        ("beef", True),
        ("Dead", True),
        ("abc", True),
        ("eee", False),
        ("EEE", False),
        ("ffff", False),
        ("f0f", False),
        ("abc4", False),
        ("decade", False),
        ("deadbeef", False),
    ],
)
def test_hex_words_are_tags_and_colours_are_not(name: str, ok: bool) -> None:
    """Three or four hex letters are a word unless one letter repeats (`#fff`) or a digit joins."""
    assert valid_tag(name) is ok


def test_prose_after_a_one_line_html_figure_is_read() -> None:
    """``<center><img …></center>`` then text on the next line: Typora shows a figure and a
    paragraph (with its emphasis); a block whose first line leaves an element open stays HTML."""
    from kb.parse import parse_note

    text = (
        '# N\n\n<center><img src="a.png" style="width:60%;" /></center>\n'
        "通常被称为**overfitting过拟合**\n\n<div>\n*raw* inside\n</div>\n\n"
        '<img src="b.png">\n<img src="c.png">\nafter the figures\n'
    )
    root = parse_note(text, "n.md").sections[-1]
    assert "通常被称为overfitting过拟合" in root.text and "after the figures" in root.text
    assert "overfitting过拟合" in root.emphasis and "raw" not in root.text
    assert 4 in root.text_lines and 12 in root.text_lines


def test_brackets_that_mark_bold_text_for_slides_are_not_text() -> None:
    """d2lbook marks what its slides show as ``[**…**]`` anywhere and ``(**…**)`` opening a
    line: a reader of the page sees neither bracket. A link, a bracket after words and a
    bracket that is not around the bold text stay."""
    from kb.parse import parse_note

    text = (
        "# N\n\n## (**定义优化算法**)\n\n[**ReLU提供了一种非常简单的非线性变换**]。\n"
        "(**我们使用**)数据。见 [**x**](http://a.org)，the rate (**important**) and [a **b**].\n"
    )
    sections = parse_note(text, "n.md").sections
    assert sections[-1].title == "定义优化算法"
    body = sections[-1].text
    assert body.startswith("ReLU提供了一种非常简单的非线性变换。 我们使用数据。见 x，")
    assert "(important)" in body and "[a b]" in body
