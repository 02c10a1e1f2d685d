"""`kb search` and `kb related` on the sample vault (and on d2l-zh when it is there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import index
from kb.cli import cli
from kb.vault import Vault

from .conftest import REPO, shared_vault


def search_json(kb, *args: str) -> list[dict]:
    result = kb("search", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def first(kb, query: str) -> dict:
    found = search_json(kb, query)
    assert found, f"no hits for {query!r}"
    return found[0]


# -- ranking on the sample vault ------------------------------------------------------------


def test_relu_shows_the_relu_note_first_then_the_passages(kb) -> None:
    found = search_json(kb, "relu", "--limit", "10")
    assert found[0]["path"] == "topics/ReLU.md"
    headings = [h["heading"][-1].lower() for h in found]
    for passage in ("relu", "dead relu", "leaky relu"):
        assert passage in headings, headings


@pytest.mark.parametrize(
    ("query", "path", "heading"),
    [
        ("知识蒸馏", "topics/知识蒸馏.md", "知识蒸馏"),
        ("soft target", "面试准备计划.md", "知识蒸馏 knowledge distillation"),
        ("bottleneck", "topics/Bottleneck.md", "Bottleneck"),
        ("1x1卷积", "topics/1x1 卷积.md", "1x1 卷积"),
        ("yolov3", "面试准备计划.md", "Yolo V3"),
        ("残差网络", "topics/ResNet.md", "ResNet"),
        ("smooth l1", "topics/Smooth L1.md", "Smooth L1"),
    ],
)
def test_the_right_passage_comes_first(kb, query: str, path: str, heading: str) -> None:
    hit = first(kb, query)
    assert (hit["path"], hit["heading"][-1]) == (path, heading)


def test_soft_target_passages_are_all_found(kb) -> None:
    found = {(h["path"], h["heading"][-1]) for h in search_json(kb, "soft target")}
    assert ("topics/知识蒸馏.md", "知识蒸馏") in found
    assert ("topics/知识蒸馏.md", "温度") in found


@pytest.mark.parametrize("query", ["1x1卷积", "1×1 卷积", "$1\\times1$"])
def test_size_spellings_find_the_same_notes(kb, query: str) -> None:
    paths = {h["path"] for h in search_json(kb, query)}
    assert {"topics/1x1 卷积.md", "面试准备计划.md", "topics/Bottleneck.md"} <= paths


# -- output ------------------------------------------------------------------------------


def test_text_output_has_location_breadcrumb_and_plain_snippet(kb) -> None:
    result = kb("search", "dead relu", "--limit", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(("topics/ReLU.md:", "面试准备计划.md:"))
    assert " › " in result.stdout
    assert "dead relu" in result.stdout.lower()
    assert "\x02" not in result.stdout and "\x1b[" not in result.stdout  # piped: no colour


def test_json_shape(kb) -> None:
    hit = first(kb, "知识蒸馏")
    assert set(hit) == {"path", "title", "heading", "line", "score", "snippet", "tags"}
    assert hit["path"] == "topics/知识蒸馏.md" and hit["title"] == "知识蒸馏"
    assert hit["heading"] == ["知识蒸馏"]
    assert hit["tags"] == ["模型压缩", "paper"]
    assert isinstance(hit["line"], int) and isinstance(hit["score"], float)
    assert "\x02" not in hit["snippet"] and "蒸馏" in "".join(
        h["snippet"] for h in search_json(kb, "知识蒸馏")
    )


def test_chinese_snippet_is_around_the_match(kb) -> None:
    hit = [h for h in search_json(kb, "暗知识") if h["path"] == "面试准备计划.md"][0]
    assert "暗知识提取" in hit["snippet"]


def test_limit(kb) -> None:
    assert len(search_json(kb, "relu", "--limit", "2")) == 2


def test_no_hits_exit_1_with_did_you_mean(kb) -> None:
    result = kb("search", "bottlenek")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "did you mean: kb search bottleneck" in result.stderr


def test_a_snippet_keeps_to_the_prose_when_the_prose_says_the_word(kb) -> None:
    """Dead ReLU's section ends in a code block (``nn.LeakyReLU(...)``): its snippet is the
    sentence that names Leaky ReLU, not a window running on into the code."""
    hit = [h for h in search_json(kb, "relu") if h["heading"][-1:] == ["Dead ReLU"]][0]
    assert "ResNet" in hit["snippet"]
    assert "import" not in hit["snippet"] and "nn.LeakyReLU" not in hit["snippet"]


def test_a_chinese_word_with_a_wrong_character_suggests_the_right_one(kb) -> None:
    """卷机 for 卷积: a pinyin input method's wrong pick (same sound, other character)."""
    result = kb("search", "卷机")
    assert result.exit_code == 1
    assert "did you mean: kb search 卷积" in result.stderr


def test_no_hits_json_is_an_empty_list(kb) -> None:
    result = kb("search", "qqqzzz", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize("query", ['"unclosed', "(relu OR", "AND", "tag:"])
def test_malformed_query_is_one_line_exit_2(kb, query: str) -> None:
    result = kb("search", query)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


# -- freshness --------------------------------------------------------------------------


def test_first_search_builds_the_index_and_later_ones_see_edits(kb, vault_copy: Path) -> None:
    assert not (vault_copy / ".kb" / "search").exists()
    assert first(kb, "relu")["path"] == "topics/ReLU.md"
    note = vault_copy / "topics" / "ReLU.md"
    note.write_text(
        note.read_text(encoding="utf-8") + "\n## 新段落\n\nzebrafish 实验。\n", encoding="utf-8"
    )
    assert first(kb, "zebrafish")["heading"][-1] == "新段落"
    note.unlink()
    assert search_json(kb, "zebrafish") == []


def test_no_refresh_does_not_look_at_the_vault(kb, vault_copy: Path) -> None:
    result = kb("search", "relu", "--no-refresh")
    assert result.exit_code == 2 and "kb index" in result.stderr  # no index yet: an error
    first(kb, "relu")
    (vault_copy / "new.md").write_text("# New\n\nzebrafish\n", encoding="utf-8")
    assert search_json(kb, "zebrafish", "--no-refresh") == []
    assert first(kb, "zebrafish")["path"] == "new.md"


def test_index_lives_in_index_dir(runner: CliRunner, vault_copy: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = runner.invoke(
        cli, ["--vault", str(vault_copy), "--index-dir", str(data), "search", "relu"]
    )
    assert result.exit_code == 0, result.output
    assert (data / "search").is_dir() and not (vault_copy / ".kb").exists()


def test_sync_is_incremental(vault_copy: Path) -> None:
    from kb.store import Store

    vault = Vault(root=vault_copy, data_dir=vault_copy / ".kb")
    store = Store(vault)
    store.refresh()
    built = index.sync(vault, store)
    assert built.rebuilt and built.added == 9 and built.sections > 9
    assert index.sync(vault, store).sections == 0  # nothing changed: nothing written
    (vault_copy / "topics" / "ReLU.md").write_text("# ReLU\n\nchanged\n", encoding="utf-8")
    store.refresh()
    again = index.sync(vault, store)
    assert (again.added, again.updated, again.removed, again.rebuilt) == (0, 1, 0, False)
    assert index.sync(vault, store, full=True).rebuilt


def test_nothing_changed_is_known_from_the_generation_alone(vault_copy: Path, monkeypatch) -> None:
    """A search with nothing changed reads neither held.json nor every note's hash; a change,
    or a generation.json that is not the store's, goes back to comparing them."""
    from kb.store import Store

    vault = Vault(root=vault_copy, data_dir=vault_copy / ".kb")
    store = Store(vault)
    store.refresh()
    index.sync(vault, store)
    written = json.loads((vault_copy / ".kb" / "search" / "generation.json").read_text())
    assert written == {"version": index.INDEX_VERSION, "generation": store.generation()}

    def refuse(*_a, **_k):
        raise AssertionError("compared every note")

    with monkeypatch.context() as m:
        m.setattr(Store, "hashes", refuse)
        m.setattr(index, "_read_held", refuse)
        m.setattr(index, "_held_or_problem", refuse)
        assert index.sync(vault, store).sections == 0
        assert index.exists(vault)
    (vault_copy / "topics" / "ReLU.md").write_text("# ReLU\n\nzebra\n", encoding="utf-8")
    store.refresh()
    assert index.sync(vault, store).updated == 1
    assert [h.path for h in index.search(vault, "zebra")] == ["topics/ReLU.md"]
    # A generation.json left behind by a kb killed before writing it: a full comparison.
    (vault_copy / ".kb" / "search" / "generation.json").write_text(
        json.dumps({"version": index.INDEX_VERSION, "generation": "older"})
    )
    compared = []
    real = Store.hashes
    monkeypatch.setattr(Store, "hashes", lambda self: compared.append(1) or real(self))
    result = index.sync(vault, store)
    assert compared and result.sections == 0 and not result.rebuilt
    assert index._held_generation(vault) == store.generation()  # written down again


def test_search_does_not_load_jieba_or_the_graph(kb, vault_copy: Path) -> None:
    first(kb, "relu")  # build the index first: indexing Chinese does need jieba
    # main() ends with os._exit: made to raise here, or the check after it would never run.
    # urllib.request and asyncio: imported by whoosh, kept out by kb.lean_imports.
    code = (
        "import os, sys\n"
        "def _exit(code):\n"
        "    raise SystemExit(code)\n"
        "os._exit = _exit\n"
        "from kb.cli import main\n"
        f"sys.argv = ['kb', '--vault', {str(vault_copy)!r}, 'search', sys.argv[1]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('rjieba', 'networkx', 'pyvis', 'markdown_it', 'urllib.request', 'asyncio')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "print('checked')\n"
    )
    for query in ("relu", "知识蒸馏"):
        done = subprocess.run(
            [sys.executable, "-c", code, query],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert done.returncode == 0, done.stderr
        assert "ReLU" in done.stdout or "蒸馏" in done.stdout
        assert done.stdout.rstrip().endswith("checked")


# -- related ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["ResNet", "resnet", "topics/ResNet.md", "topics/ResNet", "残差网络"]
)
def test_related_resolves_title_path_or_alias(kb, name: str) -> None:
    result = kb("related", name, "--json")
    assert result.exit_code == 0, result.output
    found = [h["path"] for h in json.loads(result.stdout)]
    assert "topics/ResNet.md" not in found
    assert found[0] == "topics/Bottleneck.md"


def test_related_text_output(kb) -> None:
    result = kb("related", "ReLU", "--limit", "3")
    assert result.exit_code == 0, result.output
    *lines, more = result.stdout.splitlines()  # 3 of the 4 related notes, and how to see all
    assert len(lines) == 3 and more == "… more (-n 0 for all)"
    assert all(not line.startswith("topics/ReLU.md") for line in lines)


def test_related_unknown_note_suggests(kb) -> None:
    result = kb("related", "relux")
    assert result.exit_code == 1
    assert "did you mean: ReLU" in result.stderr


# -- the real d2l-zh vault ----------------------------------------------------------------


@pytest.fixture(scope="session")
def d2l(tmp_path_factory) -> Vault:
    """d2l-zh indexed once per session into a temporary data folder (never into ../shared)."""
    from kb.store import Store

    root = shared_vault("d2l-zh")
    vault = Vault(root=root, data_dir=tmp_path_factory.mktemp("d2l-data"))
    store = Store(vault)
    store.refresh()
    index.sync(vault, store)
    store.close()
    return vault


@pytest.mark.shared
@pytest.mark.parametrize(
    ("query", "chapter"),
    [
        ("残差网络", "chapter_convolutional-modern/resnet.md"),
        ("批量规范化", "chapter_convolutional-modern/batch-norm.md"),
        ("暂退法", "chapter_multilayer-perceptrons/dropout.md"),
        ("多头注意力", "chapter_attention-mechanisms/multihead-attention.md"),
        ("锚框", "chapter_computer-vision/anchor.md"),
        ("batch normalization", "chapter_convolutional-modern/batch-norm_origin.md"),
    ],
)
def test_d2l_defining_chapter_in_top_3(d2l: Vault, query: str, chapter: str) -> None:
    top = [h.path for h in index.search(d2l, query, limit=3)]
    assert chapter in top, top


@pytest.mark.shared
def test_d2l_chinese_snippet_highlights_words(d2l: Vault) -> None:
    snippets = [h.snippet for h in index.search(d2l, "残差网络", limit=3)]
    assert any("\x02残差网络\x03" in s for s in snippets), snippets
    # the whole word only: not 网络 alone in 神经网络 (issue 15)
    assert not any("\x02网络\x03" in s for s in snippets), snippets


def test_index_locked_by_another_process_is_one_clear_error(vault_copy: Path, monkeypatch) -> None:
    from kb import whoosh_safe
    from kb.errors import KbError
    from kb.store import Store

    vault = Vault(root=vault_copy, data_dir=vault_copy / ".kb")
    store = Store(vault)
    store.refresh()
    index.sync(vault, store)
    (vault_copy / "new.md").write_text("# New\n\nzebrafish\n", encoding="utf-8")
    store.refresh()
    monkeypatch.setattr(index, "LOCK_TIMEOUT", 0.2)
    folder = str(index.index_dir(vault))
    other = whoosh_safe.open_dir(folder, index._schema()).writer()  # "another process"
    try:
        with pytest.raises(KbError, match="another kb process"):
            index.sync(vault, store)
    finally:
        other.cancel()
    assert index.sync(vault, store).added == 1


def test_minus_word_on_the_command_line_is_not_an_option(kb) -> None:
    plain = {(h["path"], h["line"]) for h in search_json(kb, "relu")}
    without = {(h["path"], h["line"]) for h in search_json(kb, "relu", "-dead")}
    assert without and without < plain
    assert search_json(kb, "relu -dead") == search_json(kb, "relu", "-dead")
    assert len(search_json(kb, "relu", "-n", "2")) == 2


@pytest.mark.parametrize("args", [("--jsno",), ("--limt", "3"), ("--jsno=x",)])
def test_mistyped_long_option_is_a_usage_error_not_a_word(kb, args: tuple[str, ...]) -> None:
    result = kb("search", "relu", *args)
    assert result.exit_code == 2, result.output
    assert f"no such option '{args[0].split('=')[0]}'" in result.output.lower()
    # After `--` a --word is a query word again.
    assert kb("search", "relu", "-n", "1", "--", "--jsno").exit_code in (0, 1)


def test_escape_sequences_in_a_note_never_reach_the_terminal(kb, vault_copy: Path) -> None:
    (vault_copy / "esc.md").write_bytes(b"zzesc \x1b[2J\x1b]0;pwned\x07 tail\n")
    result = kb("search", "zzesc")
    assert result.exit_code == 0, result.output
    assert "zzesc" in result.stdout and "tail" in result.stdout
    assert not any(ch in result.output for ch in "\x1b\x07\x9b")


def test_most_notes_changed_is_a_rebuild_not_an_update(vault_copy: Path, monkeypatch) -> None:
    """An update of every note (a new store schema changes every hash) would leave segments
    full of deleted documents that every search reads: the index is built anew instead."""
    from kb.store import Store

    monkeypatch.setattr(index, "PARALLEL_MIN_NOTES", 1)
    vault = Vault(root=vault_copy, data_dir=vault_copy / ".kb")
    store = Store(vault)
    store.refresh()
    index.sync(vault, store)
    notes = sorted((vault_copy / "topics").glob("*.md"))
    (notes[0]).write_text(notes[0].read_text(encoding="utf-8") + "\nzebra\n", encoding="utf-8")
    store.refresh()
    assert not index.sync(vault, store).rebuilt  # one note: updated in place
    for note in notes[:6]:
        note.write_text(note.read_text(encoding="utf-8") + "\nyak\n", encoding="utf-8")
    store.refresh()
    assert index.sync(vault, store).rebuilt  # most of the nine
    assert len(index.search(vault, "yak")) == 6
