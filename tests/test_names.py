"""The name table on small vaults written for each rule: which places define a topic, which
spellings are one topic, which prose marks make a topic (kb.graph.names, kb.topicnames)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli
from kb.topicnames import prose_terms


def _vault(tmp_path: Path, notes: dict[str, str]) -> Path:
    root = tmp_path / "v"
    for name, text in notes.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _card(root: Path, topic: str) -> dict:
    result = CliRunner().invoke(cli, ["--vault", str(root), "show", "--json", topic])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _defined(card: dict) -> list[str]:
    """Where the card says its topic is defined: path#heading."""
    return [f"{e['path']}#{e['heading'][-1]}" for e in card["defined_in"]]


def test_prose_that_only_marks_a_heading_topic_does_not_define_it(tmp_path: Path) -> None:
    """A heading defines 过拟合; a note that emphasises it in passing mentions it (its card's
    summary and "defined in" stay the heading's), while a gloss in prose defines it too."""
    root = _vault(
        tmp_path,
        {
            "theory.md": "# 理论\n\n## 过拟合\n\n模型在训练集上好而在测试集上差。\n",
            "log.md": "# 日志\n\n今天又看到 **过拟合** 了，明天再试。\n",
            "book.md": "# 书\n\n模型会出现过拟合（overfitting），需要正则化。\n",
        },
    )
    card = _card(root, "过拟合")
    assert _defined(card) == ["book.md#书", "theory.md#过拟合"]
    assert card["snippet"].startswith("模型在训练集上好")
    assert "log.md" in {e["path"] for e in card["unlinked_mentions"]}


def test_spellings_apart_by_a_hyphen_or_space_are_one_topic(tmp_path: Path) -> None:
    root = _vault(
        tmp_path,
        {
            "a.md": "# A\n\n## Auto-encoder\n\nAn encoder and a decoder.\n",
            "b.md": "# B\n\n## Autoencoder\n\nIt learns a code.\n",
        },
    )
    card = _card(root, "autoencoder")
    assert _defined(card) == ["a.md#Auto-encoder", "b.md#Autoencoder"]
    assert _card(root, "auto-encoder")["id"] == card["id"]


def test_short_names_run_together_stay_apart(tmp_path: Path) -> None:
    root = _vault(
        tmp_path,
        {
            "a.md": "# A\n\n## Case 1\n\nThe first case.\n",
            "b.md": "# B\n\n## Care\n\nOther.\n\n## Ca se\n\nA name of four letters.\n",
        },
    )
    assert _defined(_card(root, "ca se")) == ["b.md#Ca se"]


@pytest.mark.parametrize(
    ("text", "emphasis", "names"),
    [
        ("聚合的NVLink带宽很高", "", [("NVLink", ())]),
        ("这会导致过拟合（overfitting）。", "", [("过拟合", ("overfitting",))]),
        ("称为教师网络（teacher network）", "", [("教师网络", ("teacher network",))]),
        ("*Kernel PCA* is used", "Kernel PCA", [("Kernel PCA", ())]),
        ("有200万个锚框（anchor boxes）", "", []),
        ("就是learning rate，即学习率，它决定", "learning rate", [("learning rate", ("学习率",))]),
        ("模型会出现过拟合（overfitting）", "", [("过拟合", ("overfitting",))]),
    ],
)
def test_prose_terms(text: str, emphasis: str, names: list) -> None:
    got = [(t.name, t.aliases) for t in prose_terms(text, emphasis)]
    assert got == names


def test_common_words_stressed_in_prose_are_not_topics(tmp_path: Path) -> None:
    """*each* and *same* emphasised in two notes are stress; *dropout* is a term."""
    text = "We use the *same* rate for *each* layer, and *dropout* after it.\n"
    root = _vault(tmp_path, {"a.md": "# A\n\n" + text, "b.md": "# B\n\n" + text})
    assert _defined(_card(root, "dropout")) == ["a.md#a", "b.md#b"]  # (a root: its file name)
    for word in ("each", "same"):
        result = CliRunner().invoke(cli, ["--vault", str(root), "show", word])
        assert result.exit_code != 0 and "no topic" in result.output.casefold(), result.output
