"""The search analyzer: the same words at index time and at query time, for each rule."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kb import analysis
from kb.analysis import query_words, scan, snippet, words
from kb.concepts import concept_key, is_cjk


def terms(text: str) -> list[str]:
    """Every index term of a text (parts, wholes and sub-words alike)."""
    return [t for t, _pos, _a, _b in scan(text)]


def positions(text: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for term, pos, _a, _b in scan(text):
        out.setdefault(term, []).append(pos)
    return out


def occurs_as_phrase(query: str, text: str) -> bool:
    """True when the query's words sit at consecutive positions of the text (a phrase match)."""
    wanted = words(query)
    where = positions(text)
    if not all(w in where for w in wanted):
        return False
    return any(
        all(start + i in where[w] for i, w in enumerate(wanted)) for start in where[wanted[0]]
    )


# -- English ------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["ReLU", "relu", "Relu", "ReLu", "RELU", "ＲｅＬＵ"])
def test_case_and_width_are_folded(spelling: str) -> None:
    assert "relu" in terms(spelling)
    q = query_words(spelling)[0]
    assert "relu" in (q.parts + [q.whole])


@pytest.mark.parametrize(
    ("text", "stem"),
    [("losses", "loss"), ("networks", "network"), ("ReLUs", "relu"), ("targets", "target")],
)
def test_english_is_stemmed(text: str, stem: str) -> None:
    assert terms(text) == [stem]
    assert words(text) == [stem]


def test_leaky_relu_written_as_one_word_has_both_words() -> None:
    assert {"leakyrelu", "leaki", "relu"} <= set(terms("nn.LeakyReLU"))
    assert occurs_as_phrase("leaky relu", "act = nn.LeakyReLU(0.01)")


# -- Chinese ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("卷积", "通过256x1x1x64的卷积层，将特征图减少到64层"),
        ("激活函数", "最常用的激活函数：f(x) = max(0, x)"),
        ("知识蒸馏", "首次提出了知识蒸馏（暗知识提取）的概念"),
        ("卷积神经网络", "现代卷积神经网络的设计"),
        ("网络", "现代卷积神经网络的设计"),
    ],
)
def test_a_chinese_word_is_found_inside_a_sentence(query: str, text: str) -> None:
    assert occurs_as_phrase(query, text)


def test_chinese_positions_count_words_not_characters() -> None:
    found = list(scan("通过256x1x1x64的卷积层"))
    main = [(t, p) for t, p, _a, _b in found]
    assert main == [("通过", 0), ("256x1x1x64", 1), ("的", 2), ("卷积", 3), ("层", 4)]


def test_sub_words_share_the_long_words_position() -> None:
    where = positions("卷积神经网络")
    assert where["卷积"] == [0]
    assert where["神经网络"] == where["神经"] == where["网络"] == [1]


def test_chinese_term_offsets_point_at_the_word() -> None:
    text = "Hinton的文章首次提出了知识蒸馏的概念"
    for term, _pos, a, b in scan(text):
        assert analysis.fold(text[a:b]) in (term, analysis.stem(analysis.fold(text[a:b])))
    assert any(text[a:b] == "蒸馏" for t, _p, a, b in scan(text) if t == "蒸馏")


def test_query_cut_by_the_index_vocabulary_agrees_with_jieba() -> None:
    import rjieba

    notes = ["首次提出了知识蒸馏的概念", "批量规范化层", "现代卷积神经网络", "使用暂退法"]
    counts: dict[str, int] = {}
    for note in notes:
        for term in terms(note):
            counts[term] = counts.get(term, 0) + 1
    vocab = analysis.Vocabulary(lambda w: counts.get(w, 0), sum(counts.values()))
    for query in ["知识蒸馏", "批量规范化", "卷积神经网络", "暂退法", "神经网络"]:
        assert analysis.cut_by_vocabulary(query, vocab) == rjieba.cut(query)


def test_unknown_chinese_falls_back_to_characters() -> None:
    vocab = analysis.Vocabulary(lambda w: 0, 100)
    assert analysis.cut_by_vocabulary("量子", vocab) == ["量", "子"]


# -- letters, digits and symbols ------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("YOLOv3", "Yolo V3"),
        ("Yolo V3", "YOLOv3"),
        ("yolov3", "Yolo V3"),
        ("ResNet-50", "resnet50"),
    ],
)
def test_mixed_letters_and_digits_match_either_way(a: str, b: str) -> None:
    q = query_words(a)
    assert len(q) >= 1
    index = positions(b)
    if len(q) == 1 and q[0].whole and q[0].whole in index:
        return  # found as one word
    assert occurs_as_phrase(a, b)


def test_version_suffix_keeps_the_other_reading() -> None:
    # conv3 reads as "conv 3"; YOLOv3 as "YOLO v3": both readings are indexed.
    assert {"conv3", "conv", "3"} <= set(terms("conv3"))
    assert {"yolov3", "yolo", "v3", "yolov", "3"} <= set(terms("YOLOv3"))


@pytest.mark.parametrize(
    "size", ["1x1", "1×1", "1X1", "$1\\times1$", "1 \\times 1", "1 * 1", "１×１"]
)
def test_sizes_are_one_word(size: str) -> None:
    assert terms(size) == ["1x1"]
    assert words(size) == ["1x1"]


@pytest.mark.parametrize("text", ["1x1卷积核具有三个作用", "先用 1x1 卷积把 256 通道降到 64"])
def test_size_followed_by_chinese(text: str) -> None:
    assert occurs_as_phrase("1x1卷积", text)


def test_search_and_graph_read_sizes_alike() -> None:
    for size in ["1✖1", "1✕1", "1 \\times 1"]:
        assert terms(size) == ["1x1"]
        assert concept_key(f"{size} 卷积") == concept_key("1x1卷积")


@pytest.mark.parametrize("ch", ["卷", "カ", "한", "々", "ㄅ", "⺀", "𠀀", "a", "1", "。", "é"])
def test_search_and_graph_agree_on_what_is_cjk(ch: str) -> None:
    assert analysis.has_cjk(ch) == is_cjk(ch)


def test_smooth_l1_spellings() -> None:
    for text in ["SmoothL1Loss", "smooth_l1", "Smooth L1 loss"]:
        assert occurs_as_phrase("smooth l1", text)


def test_latex_commands_are_not_words() -> None:
    assert terms("\\frac{1}{N} \\mathcal{F}") == ["1", "n", "f"]


# -- whoosh glue ----------------------------------------------------------------------------


def test_whoosh_tokenizer_gives_positions_and_offsets() -> None:
    analyzer = analysis.analyzer()
    text = "ReLU 激活函数"
    tokens = [
        (t.text, t.pos, t.startchar, t.endchar) for t in analyzer(text, positions=True, chars=True)
    ]
    assert tokens == [("relu", 0, 0, 4), ("激活", 1, 5, 7), ("函数", 2, 7, 9)]
    assert [t.text for t in analyzer("知识蒸馏", mode="query")] == ["知识", "蒸馏"]


def test_english_text_does_not_load_jieba() -> None:
    code = (
        "import sys, kb.analysis as a\n"
        "list(a.scan('ReLU relu 1x1 YOLOv3'))\n"
        "list(a.scan('混合 text', cjk=False))\n"
        "a.snippet('dead relu 指当输入小于零时', {'relu'})\n"
        "assert 'rjieba' not in sys.modules, 'rjieba was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- snippets -------------------------------------------------------------------------------


def test_snippet_marks_matches() -> None:
    text = "dead relu，指当输入小于零时，输出为零。优化的relu，如：Leaky ReLU"
    out = snippet(text, {"relu"})
    assert out.count("\x02") == 3
    assert "\x02relu\x03" in out and "\x02ReLU\x03" in out


def test_snippet_of_chinese_marks_whole_words() -> None:
    text = "Hinton的文章首次提出了知识蒸馏（暗知识提取）的概念。" * 3
    out = snippet(text, {"知识", "蒸馏"})
    assert "\x02知识\x03\x02蒸馏\x03" in out or "\x02知识蒸馏\x03" in out


def test_snippet_centres_on_the_match_in_a_long_text() -> None:
    text = "无关的句子。" * 200 + "这里讲 bottleneck 结构。" + "无关的句子。" * 200
    out = snippet(text, {"bottleneck"})
    assert "\x02bottleneck\x03" in out
    assert out.startswith("…") and out.endswith("…")
    assert analysis._columns(out, 0, len(out)) <= analysis.SNIPPET_COLUMNS + 10


def test_snippet_without_matches_is_the_start() -> None:
    assert snippet("第一行\n第二行", set()) == "第一行 第二行"
    assert snippet("", {"x"}) == ""
