"""Link resolution as Obsidian does it: path, then file name (shortest path wins), then alias."""

from __future__ import annotations

from kb.model import Link, Note
from kb.resolve import Resolver


def note(path: str, *aliases: str) -> Note:
    return Note(path=path, title=path.rsplit("/", 1)[-1][:-3], aliases=aliases)


NOTES = [
    note("topics/ResNet.md", "残差网络"),
    note("archive/old/ResNet.md"),
    note("1x1 卷积.md", "1x1 conv", "1×1 convolution"),
    note("a/b/Deep.md"),
    note("README.md"),
]
R = Resolver(NOTES)


def wikilink(target: str) -> Link:
    return Link(target, None, None, None, "wikilink", False, 1, "")


def test_exact_vault_path_with_or_without_extension() -> None:
    assert R.resolve("archive/old/ResNet").path == "archive/old/ResNet.md"
    assert R.resolve("archive/old/ResNet.md").path == "archive/old/ResNet.md"


def test_file_name_case_insensitive_shortest_path_wins() -> None:
    r = R.resolve("resnet")
    assert r.path == "topics/ResNet.md"
    assert r.ambiguous and set(r.candidates) == {"topics/ResNet.md", "archive/old/ResNet.md"}
    assert r.via == "name"


def test_path_suffix() -> None:
    assert R.resolve("b/Deep").path == "a/b/Deep.md"


def test_alias_after_names() -> None:
    assert R.resolve("1x1 conv").path == "1x1 卷积.md"
    assert R.resolve("1X1 CONV").via == "alias"
    assert R.resolve("残差网络").path == "topics/ResNet.md"


def test_full_width_and_case_fold() -> None:
    assert R.resolve("ＲｅｓＮｅｔ").path == "topics/ResNet.md"


def test_missing_and_empty() -> None:
    assert R.resolve("Nowhere").path is None
    assert R.resolve("   ").path is None


def test_same_note_heading_link_resolves_to_source() -> None:
    r = R.resolve_link(wikilink(""), "a/b/Deep.md")
    assert r.path == "a/b/Deep.md" and r.via == "self"


def test_markdown_link_relative_to_source_folder() -> None:
    link = Link("../README.md", None, None, None, "markdown", False, 1, "")
    assert R.resolve_link(link, "topics/ResNet.md").path == "README.md"
    link = Link("Deep.md", None, None, None, "markdown", False, 1, "")
    assert R.resolve_link(link, "a/b/x.md").path == "a/b/Deep.md"


def test_markdown_suffix_is_not_part_of_the_name() -> None:
    notes = [Note(path="docs/Ext.markdown", title="Ext"), Note(path="Up.MD", title="Up")]
    r = Resolver(notes)
    assert notes[0].stem == "Ext" and notes[1].stem == "Up"
    for name in ("ext", "Ext.markdown", "docs/ext", "docs/Ext.MARKDOWN"):
        assert r.resolve(name).path == "docs/Ext.markdown", name
    assert r.resolve("up").path == "Up.MD"
