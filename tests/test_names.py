"""The name table on small vaults written for each rule: which places define a topic, which
spellings are one topic, which prose marks make a topic (kb.graph.names, kb.topicnames)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli
from kb.concepts import is_common_word
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


def test_a_concept_is_at_home_near_the_top_of_a_note_not_deep_in_a_map(tmp_path: Path) -> None:
    """ml-notes-zh: SVM is a bullet six headings down 1_Introduction's learning map (first by
    path) and the gloss that opens 25_Support Vector Machine.md: the card lives there."""
    deep = "# Intro\n\n## Map\n\n### Supervised\n\n#### Models\n\n##### Non-linear\n\n"
    root = _vault(
        tmp_path,
        {
            "1_Intro.md": deep + "###### SVM\n\nOne of the models.\n",
            "25_SVM.md": "# Support Vector Machine\n\n支持向量机(SVM)有两个特点：核技巧。\n",
        },
    )
    card = _card(root, "SVM")
    assert card["path"] == "25_SVM.md" and card["snippet"].startswith("支持向量机(SVM)")
    assert sorted(_defined(card)) == ["1_Intro.md#SVM", "25_SVM.md#Support Vector Machine"]


@pytest.mark.parametrize(
    ("a", "b", "typed"),
    [
        ("Auto-encoder", "Autoencoder", ["autoencoder", "auto-encoder"]),  # a hyphen
        ("Vanishing Gradients", "vanishing gradient", ["vanishing gradient"]),  # a plural s
    ],
)
def test_one_topic_spelled_two_ways(tmp_path: Path, a: str, b: str, typed: list[str]) -> None:
    root = _vault(
        tmp_path,
        {"a.md": f"# A\n\n## {a}\n\nFirst.\n", "b.md": f"# B\n\n## {b}\n\nSecond.\n"},
    )
    cards = [_card(root, name) for name in typed]
    assert _defined(cards[0]) == [f"a.md#{a}", f"b.md#{b}"]
    assert {c["id"] for c in cards} == {cards[0]["id"]}


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
        ("有200万个锚框（anchor boxes）", "", [("anchor boxes", ())]),  # not 万个锚框
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
        assert "(not a topic yet: found in 2 sections)" in result.output, result.output


def test_a_name_notes_say_but_no_topic_gets_a_card_of_where_it_is_said(tmp_path: Path) -> None:
    root = _vault(tmp_path, {"a.md": "# A\n\n## 日志\n\n今天又调了 widget 的参数。\n"})
    result = CliRunner().invoke(cli, ["--vault", str(root), "show", "widget"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "widget  (not a topic yet: found in 1 section)"
    assert "a.md:3  a › 日志" in result.output  # (as kb search shows the section)
    card = json.loads(
        CliRunner().invoke(cli, ["--vault", str(root), "show", "--json", "widget"]).stdout
    )
    assert card["kind"] == "not a topic"
    assert [(h["path"], h["line"]) for h in card["found_in"]] == [("a.md", 3)]
    result = CliRunner().invoke(cli, ["--vault", str(root), "show", "gizmo"])
    assert result.exit_code == 1 and "no topic 'gizmo'" in result.output


def test_a_topic_named_by_a_common_word_is_not_looked_for_in_text(tmp_path: Path) -> None:
    """A heading "Image" is a topic, but "image" in a sentence says too little to be a
    mention of it; an acronym written in capitals (GAP) is looked for."""
    root = _vault(
        tmp_path,
        {
            # (a heading of one common word names a topic when its text says it again)
            "a.md": "# A\n\n## Image\n\nAn image is pixels.\n\n"
            "## GAP\n\nGlobal average pooling.\n\n"
            "## 数字\n\n数字是 0 到 9。\n\n## 矩阵\n\n二维数组。\n",
            "b.md": "# B\n\nEach image goes through GAP at the end.\n\n"
            "识别手写数字要用矩阵运算。\n",
        },
    )
    assert _card(root, "image")["unlinked_mentions"] == []
    assert _card(root, "数字")["unlinked_mentions"] == []  # a common Chinese word
    assert [e["path"] for e in _card(root, "矩阵")["unlinked_mentions"]] == ["b.md"]
    assert [e["path"] for e in _card(root, "GAP")["unlinked_mentions"]] == ["b.md"]


@pytest.mark.parametrize(
    ("heading", "topic"),
    [
        ("线性回归的简洁实现", "线性回归"),  # an aspect of linear regression
        ("Gradient Descent的理论基础", "Gradient Descent"),
        ("Organizing the Dataset", None),  # a step
        ("copy Link address", None),
        ("关闭未使用的实例", None),
        ("处理缺失值", None),
        ("针对testing data上的performance", None),
        ("x.detach_()用于切断计算图", None),  # code and a sentence
        ("Logistic Regression + Square error？", None),  # a comparison
        ("用样本均值\\overline{x}估测总体期望u", None),  # math
        ("Weakness of PCA", "PCA"),  # an aspect
        ("Gradient Descent的限制", "Gradient Descent"),
        ("Storage on the GPU", None),  # a phrase
        ("regularization解决overfitting", None),  # a claim
        ("两个架构", None),  # a count
        ("缺少的成分：数据", None),
        ("Step 3：pick the best function", None),  # a numbered step
        ("Stepwise Regression", "Stepwise Regression"),
        ("Good Results on Training Data？", None),  # a question about no one thing
        ("Dropout？", "Dropout"),
        ("Why Deep?", None),  # about a common word
        ("Property 2", None),  # a numbered label
        ("From ResNet to DenseNet", None),
        ("在import torchverison的时候报错", None),
        ("本章节", None),
        ("微调模型", None),
        ("知识储备", None),  # how a plan is organised
        ("训练要点", None),
        ("损失函数", "损失函数"),
        ("Appendix：CNN in Keras2.0", None),
        ("4 GPUs", None),
        ("Learning Rate", "Learning Rate"),
        ("处理器", "处理器"),
        ("C++", "C++"),
    ],
)
def test_heading_topics(heading: str, topic: str | None) -> None:
    from kb.topicnames import heading_term

    term = heading_term(heading)
    assert (term.name if term else None) == topic


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("用1-of-N编码表示", []),  # not the tail of 1-of-N
        ("加上bias b得到", []),  # bias, and the letter of the example: one common word
        ("用 soft target 辅助", [("soft target", ())]),
        ("所以cite Hinton的论文", []),  # a verb before a name
        ("这就是 L1 L2 正规化出现的原因", []),  # symbols listed
        ("正式介绍长度（length）的概念", [("长度", ("length",))]),  # not 正式介绍长度
        ("宽度决定（即$2 \\times 2$）", []),  # math is no alias
        ("使用 Bottleneck（1x1 降维 → 3x3 → 1x1 升维）", [("Bottleneck", ())]),  # steps
        ("用16位浮点训练（FP16 training）可以", [("FP16 training", ())]),  # not 位浮点训练
        ("有许多缩放比（scale）可选", [("缩放比", ("scale",))]),
    ],
)
def test_prose_terms_in_chinese_text(text: str, names: list) -> None:
    assert [(t.name, t.aliases) for t in prose_terms(text, "")] == names


def test_numbered_sibling_headings_are_placeholders(tmp_path: Path) -> None:
    root = _vault(
        tmp_path,
        {
            "a.md": "# A\n\n## Example\n\n### Classifier1\n\nLong hair.\n\n### Classifier2\n\n"
            "Short hair.\n\n## ResNet50\n\nFifty layers.\n"
        },
    )
    assert _defined(_card(root, "ResNet50")) == ["a.md#ResNet50"]
    result = CliRunner().invoke(cli, ["--vault", str(root), "show", "--json", "Classifier1"])
    assert json.loads(result.stdout)["kind"] == "not a topic"


def test_a_chinese_term_and_its_gloss_marked_elsewhere_are_one_topic(tmp_path: Path) -> None:
    """过拟合（overfitting） in a Chinese note, *overfitting* marked in two English ones (a
    book and its translation): one topic, either name finds it."""
    en = "# Fit\n\nA model may suffer *overfitting* on small data.\n"
    root = _vault(
        tmp_path,
        {
            "zh.md": "# 拟合\n\n这会导致过拟合（overfitting）。\n",
            "en1.md": en,
            "en2.md": en.replace("Fit", "Fitting"),
        },
    )
    assert _card(root, "overfitting")["id"] == _card(root, "过拟合")["id"]


@pytest.mark.parametrize(
    ("word", "common"),
    [
        ("input", True), ("Network", True), ("each", True), ("paper", True),
        ("momentum", False), ("dropout", False), ("softmax", False), ("ReLU", False),
        ("数字", True), ("颜色", True), ("注意力", False), ("样本", False), ("矩阵", False),
        ("feature map", False),  # one word only
    ],
)  # fmt: skip
def test_common_words_come_from_the_shipped_lists(word: str, common: bool) -> None:
    # kb/assets/common-*.txt hold wordfreq's words at Zipf 4.3 or more (COMMON_ZIPF's
    # examples): kb reads them without importing wordfreq.
    assert is_common_word(word) is common


# -- issue 12, second pass: rules found by reading real graphs ----------------------------------


@pytest.mark.parametrize(
    ("heading", "topic"),
    [
        ("从零实现", None),  # from scratch: a manner, not a thing
        ("简明实现", None),  # concise
        ("残差块的实现", "残差块"),  # a thing's implementation stays about the thing
        ("model description", None),  # an aspect of "model", a generic word
        ("PyTorch官方推荐", None),  # a label saying who recommends what follows
        ("推荐系统", "推荐系统"),
        ("Unsupervised Learning: PCA(Ⅰ)", "PCA"),  # a series' part on an acronym
        ("Step 1: SVM", None),  # still a step
    ],
)
def test_heading_terms_second_pass(heading: str, topic: str | None) -> None:
    from kb.topicnames import heading_term

    term = heading_term(heading)
    assert (term.name if term else None) == topic


def test_prose_terms_second_pass() -> None:
    """A glued gloss in emphasis, an acronym before its words (and a 即 after), and words
    said of something between 是 and 的."""
    glued = prose_terms("通常被称为overfitting过拟合\n", "overfitting过拟合")
    assert [(t.name, t.aliases) for t in glued] == [("过拟合", ("overfitting",))]
    assert [t.name for t in prose_terms("用softmax回归\n", "softmax回归")] == ["softmax回归"]
    assert [t.aliases for t in prose_terms("用分层softmax\n", "分层softmax")] == [()]
    cnn = prose_terms("接法就是CNN(Convolutional Neural Network)，即卷积神经网络，下一章介绍")
    assert [(t.name, t.aliases) for t in cnn] == [
        ("CNN", ("Convolutional Neural Network", "卷积神经网络"))
    ]
    assert prose_terms("它是linear的，对于下图", "linear") == []
    assert prose_terms("得到的结果是approximate(近似)的\n") == []
    assert [t.name for t in prose_terms("它是Dropout的一种", "Dropout")] == ["Dropout"]


def test_a_common_word_heading_is_a_topic_when_its_text_says_it(tmp_path: Path) -> None:
    root = _vault(
        tmp_path,
        {
            "bn.md": "# 批量规范化\n\n## 争议\n\n内部协变量偏移的解释并不可靠。\n",
            "intro.md": "# 引言\n\n## 回归\n\n回归问题预测一个数值。\n",
        },
    )
    assert _card(root, "争议")["kind"] == "not a topic"  # (found by search)
    assert _card(root, "回归")["kind"] == "concept"


def test_a_title_gloss_the_note_heads_apart_is_not_an_alias(tmp_path: Path) -> None:
    """``# 卷积神经网络（LeNet）`` over ``## LeNet``: LeNet is one convolutional network, so
    CNN (glossed elsewhere) is not LeNet's name; ``# 残差网络（ResNet）`` stays a gloss."""
    root = _vault(
        tmp_path,
        {
            "cnn/index.md": "# 卷积神经网络\n\n本章介绍使用卷积层的网络。\n",
            "attention.md": "# 注意力\n\n在深度学习中，经常使用卷积神经网络（CNN）处理图像。\n",
            "cnn/lenet.md": "# 卷积神经网络（LeNet）\n\n本节介绍LeNet，它是最早的卷积网络之一。\n\n"
            "## LeNet\n\nLeNet由两个部分组成。\n",
            "cnn/resnet.md": "# 残差网络（ResNet）\n\n残差块让网络更深。\n\n## ResNet模型\n\n"
            "ResNet的前两层跟GoogLeNet一样。\n",
        },
    )
    cnn = _card(root, "CNN")
    assert cnn["path"] == "cnn/index.md" and cnn["kind"] == "concept"
    assert _card(root, "LeNet")["path"] == "cnn/lenet.md"
    assert _card(root, "残差网络")["path"] == "cnn/resnet.md"


def test_a_concepts_home_skips_aspects_and_outline_entries(tmp_path: Path) -> None:
    """PCA's home is the note named for it, not ``Weakness of PCA``; 激活函数's home is the
    heading that explains it, not a tutorial's heading over one line of code."""
    root = _vault(
        tmp_path,
        {
            "17_Learning PCA part1.md": "# Unsupervised Learning: PCA(Ⅰ)\n\n"
            "本文介绍PCA算法的数学推导过程。\n",
            "18_Learning part2.md": "# Part 2\n\n## Weakness of PCA\n\n"
            "PCA有很明显的弱点：它是无监督的，而且只能做线性的投影。\n",
            "pytorch.md": "# pytorch\n\n## 层\n\n## 激活函数(Activation function)\n\n"
            "使用`nn.激活函数名()`即可\n",
            "tips/tips.md": "# Tips\n\n## Training\n\n### New activation function\n\n"
            "#### 激活函数\n\n如果训练结果不好，可能是激活函数选得不好。"
            "sigmoid 会让梯度在深层网络里越来越小。\n",
        },
    )
    assert _card(root, "PCA")["path"] == "17_Learning PCA part1.md"
    act = _card(root, "activation function")
    assert (act["path"], act["heading"][-1]) == ("tips/tips.md", "激活函数")


@pytest.mark.parametrize(
    "name, inside, aliases",
    [
        ("GPU", "图形处理器", ["图形处理器"]),
        ("Batch Normalization", "批归一化", ["批归一化"]),
        ("Rectified Linear Unit", "修正线性单元", ["修正线性单元"]),
        # d2l-zh / ml-notes-zh: brackets that explain, not name (a trial found them as aliases)
        ("GPU", "i从0开始", []),
        ("GPU", "甚至多个GPU", []),
        ("GPU", "适合深度学习的廉价游戏GPU，功耗150-200W", []),
        ("feature", "下标j表示该样本点的第j个特征", []),
    ],
)
def test_a_gloss_names_and_does_not_explain(name: str, inside: str, aliases: list[str]) -> None:
    from kb.topicnames import gloss_aliases

    assert gloss_aliases(name, inside) == aliases


def test_emphasis_that_ends_a_sentence_is_no_term() -> None:
    """``> **Deprecated.** Configure the graph…`` (foam-docs) and ``**这很重要！**`` are labels
    or sentences; an emphasised abbreviation (``**U.S.**``) and a name stay terms."""
    assert prose_terms("Deprecated. Use X.", "Deprecated.") == []
    assert prose_terms("这很重要！我们继续。", "这很重要！") == []
    assert [t.name for t in prose_terms("The U.S. and Kernel PCA.", "U.S.\nKernel PCA")] == [
        "U.S.",
        "Kernel PCA",
    ]
