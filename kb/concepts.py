"""Concept names: normalisation, which section titles name a concept, sentences to scan.

Pure string functions, no networkx: :mod:`kb.graph` builds the graph from them and
:mod:`kb.mentions` matches the same normalised names in section text.

One normalised *key* stands for every spelling of a name: ``ReLU``/``relu``/``ReLu``,
``1x1 conv``/``1×1 conv``/``1 \\times 1 conv``, ``1x1 卷积``/``1x1卷积``.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate

from kb.display import display_text
from kb.text import CJK_CHARS, TIMES, is_cjk, lazy_re

# Multiplication between numbers, in any of the ways people type it: 1x1, 1×1, 1 * 1, 1\times1.
_TIMES = lazy_re(rf"(?<=\d)\s*{TIMES}\s*(?=\d)")
_SPACE = lazy_re(r"\s+")
# Spaces next to a CJK character carry no meaning ("1x1 卷积" is "1x1卷积").
_CJK_SPACE = lazy_re(f"(?<=[{CJK_CHARS}]) | (?=[{CJK_CHARS}])")
_KEEP = frozenset("+#")  # c++, c#: part of the name, not punctuation
SEPARATOR = "\ue000"
"""A private-use character that :func:`normalise` keeps: joins sentences normalised together."""


class _Punctuation(dict):
    """str.translate table turning every punctuation and symbol character into a space, filled
    as characters are met (the whole table, 66,000 code points, took 50 ms to build in every
    process that normalised one name)."""

    def __missing__(self, cp: int) -> str:
        ch = chr(cp)
        # The Basic Multilingual Plane and the emoji blocks: enough for notes.
        plane = cp < 0xD800 or 0xE000 <= cp < 0x10000 or 0x1F000 <= cp < 0x1FB00
        punct = plane and unicodedata.category(ch)[0] in "PSZC"
        value = " " if punct and ch not in _KEEP and ch != SEPARATOR else ch
        self[cp] = value
        return value


_PUNCTUATION = _Punctuation()


def normalise(text: str) -> str:
    """The matching form of a name or a sentence: NFKC, case-folded, × unified, punctuation as
    single spaces, no spaces next to CJK characters."""
    text = _TIMES.sub("x", text)
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _SPACE.sub(" ", text.translate(_PUNCTUATION)).strip()
    return _CJK_SPACE.sub("", text)


def concept_key(name: str) -> str:
    """The key under which every spelling of a concept name merges."""
    if len(name) > _KEYS_KEPT_CHARS:
        return normalise(clean_title(name))
    return _concept_key(name)


_KEYS_KEPT_CHARS = 200
"""Names up to this long have their keys remembered (a vault says the same names often)."""


@lru_cache(maxsize=1 << 17)
def _concept_key(name: str) -> str:
    return normalise(clean_title(name))


def is_word_char(ch: str) -> bool:
    """A character that continues a Latin word (so ``elu`` does not match inside ``relu``)."""
    if ch.isascii():
        return ch.isalnum()
    return ch.isalnum() and not is_cjk(ch)


# -- which titles name a concept -------------------------------------------

_DATE = lazy_re(
    r"^\s*(?:"
    r"\d{4}\s*[./\-_]\s*\d{1,2}(?:\s*[./\-_]\s*\d{1,2})?"  # 2019.4.26, 2019-04-26, 2019/4
    r"|\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?"  # 2019年4月26日
    r"|\d{1,2}\s*月\s*\d{1,2}\s*[日号]"  # 4月26日
    r"|\d{8}"  # 20190426
    r")"
    r"(?:\s*(?:[(（]?(?:周|星期|礼拜)[一二三四五六日天][)）]?"
    r"|[(（]?(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?[)）]?))?\s*$",
    re.IGNORECASE,
)

GENERIC = frozenset(
    normalise(w)
    for w in """
    思路 缺陷 优点 缺点 优势 劣势 不足 定义 原理 参考 参考资料 参考文献 资料 总结 小结
    示例 例子 例如 解决方法 解决方案 方法 应用 简介 介绍 概述 背景 问题 作用 实现 代码
    注意 注意事项 备注 讨论 结论 目录 附录 相关 链接 延伸阅读 练习 习题 摘要 前言 引言
    说明 特点 用法 使用 使用方法 步骤 目的 动机 结果 实验 分析 公式 推导 证明 代码实现
    其他 其它 补充 待办 笔记 复习 心得 疑问 答案 思考 图 表 结构 参数 参数量 优缺点 要点
    原因 区别 对比 比较 变体 改进 计算 流程 特征 效果 性能 复杂度 损失 模型 网络 数据 函数
    训练 测试 输入 输出 层 算法 理论 概念 基础 目标 任务 场景 局限 局限性 影响 意义 评价
    预测 大小 速度 效率 没有 数据集 过程 性质 属性 方式 情况 部分 内容 时间 结构图 图示 形状
    overview introduction intro summary references reference see also notes note examples example
    usage definition pros cons advantages disadvantages problem problems solution solutions method
    methods implementation code exercises exercise discussion conclusion conclusions todo to do
    related links background motivation details contents table of contents appendix setup
    installation install getting started faq questions answer answers results result idea ideas
    tips misc miscellaneous other others further reading readme index inbox draft drafts
    data model models training testing task tasks process property properties concept concepts
    review senario scenario speech text toy example
    input inputs output outputs function functions network networks paper papers value values
    step steps case cases parameter parameters number numbers
    出现 由于 乘上 得到 得到的结果 因为 所以 然后 首先 其次 最后 此时 这时
    价格 范围 研究 文件 文件中
    """.split()
    + ["see also", "to do", "table of contents", "getting started", "further reading"]
)
"""Titles that organise a note rather than name a thing (思路, 缺点, Summary, References…)."""

STOPWORDS = frozenset(
    """
    the a an and or of to in on at by for from with without as is are was were be been it its this
    that these those not no but if then else can could will would should may might must do does
    did has have had use used using via per vs etc all any some one two three new old more most
    less very also just only here there what when where which who why how get set put run make
    """.split()
)
"""Latin words too common to be taken as a mention even when a note is named so."""

MAX_NAME = 60
"""Longer titles are sentences, not names."""

_NUMBERING = lazy_re(
    r"^\s*(?:(?:第\s*[\d一二三四五六七八九十百]+\s*[章节部分篇讲课]\s*)"
    r"|(?:\d+(?:\.\d+)+\.?\s+)|(?:\d+[.、)）](?!\d)\s*)|(?:[(（]\d+[)）]\s*)|(?:[一二三四五六七八九十]+\s*[、.]\s*))"
)
_WRAPPED = lazy_re(r"^\s*[(\[（【「『](.*)[)\]）】」』]\s*$")
_BRACKETS = lazy_re(r"[()\[\]（）【】「」『』]")
_TRAILING = lazy_re(r"[\s:：,，;；。.]+$")


def clean_title(title: str) -> str:
    """A title without list numbering, wrapping brackets or a trailing colon: what a person
    would call the thing (``## 1.2 (**残差块**):`` → ``残差块``)."""
    t = _TIMES.sub("x", title.strip())
    for _ in range(3):
        before = t
        t = _NUMBERING.sub("", t, count=1)
        t = _TRAILING.sub("", t)
        m = _WRAPPED.match(t)
        if m and not _BRACKETS.search(m.group(1)):
            t = m.group(1).strip()
        if t == before:
            break
    return t


def is_dated(title: str) -> bool:
    """True for a date heading (``2019.4.26``, ``2019-04-26``, ``2019年4月26日``)."""
    return bool(_DATE.match(title))


def is_generic(key: str) -> bool:
    """True for a normalised name that organises notes rather than names a thing."""
    return key in GENERIC or key in STOPWORDS


def names_a_concept(title: str) -> bool:
    """True when a section title is worth a global concept (not a date, not generic, a name)."""
    if is_dated(title):
        return False
    key = concept_key(title)
    if not key or len(key) > MAX_NAME or is_generic(key):
        return False
    if not any(ch.isalpha() for ch in key):
        return False  # "1-2", "3.5": numbers are not concepts
    return len(key) > 1


COMMON_ZIPF = 4.3
"""A word used more often than this in English (Zipf scale: 4.3 is about once in 20,000
words: ``input``, ``network``, ``paper``, ``each``) is a common word, not a term, when prose
alone marks it; rarer words (``momentum`` 4.1, ``dropout`` 3.1, ``softmax`` 1.3) may be."""


COMMON_ZIPF_ZH = 4.3
"""The same for a Chinese word (``数字``, ``颜色``, ``类别``, ``价格``; ``注意力`` 4.2, ``样本`` 4.2
and ``矩阵`` 3.7 are not)."""


@lru_cache(maxsize=1 << 16)
def is_common_word(name: str) -> bool:
    """True for one English word (lower-case or capitalised) or one short Chinese word that
    is common in the language at large (wordfreq's frequencies, kept in ``kb/assets``)."""
    t = name.strip()
    if 2 <= len(t) <= 4 and all(is_cjk(ch) for ch in t):
        return t in _common_words("zh")
    if not re.fullmatch(r"[A-Za-z][a-z]+", t):
        return False
    return t.casefold() in _common_words("en")


@lru_cache(maxsize=2)
def _common_words(lang: str) -> frozenset[str]:
    """The words of ``kb/assets/common-<lang>.txt``: wordfreq's words at or above
    :data:`COMMON_ZIPF` (``python -m bench.common_words`` writes the lists)."""
    from importlib import resources

    text = resources.files("kb").joinpath("assets", f"common-{lang}.txt").read_text("utf-8")
    return frozenset(text.split())


def mentionable(key: str) -> bool:
    """True when a name may be matched in running text: not generic, not too short
    (Latin names need 3 characters, CJK names 2), not a number."""
    if not key or is_generic(key) or not any(ch.isalpha() for ch in key):
        return False
    if any(is_cjk(ch) for ch in key):
        return len(key) >= 2
    return len(key) >= 3


# -- sentences ----------------------------------------------------------------

_SENTENCE_END = lazy_re(r"(?<=[。！？；!?;])|(?<=[.])\s+|\n")
EVIDENCE_MAX = 200


def sentences(text: str) -> list[str]:
    """The sentences of a section's text (one block per line), stripped, empty ones dropped."""
    return [sentence for _, sentence in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, str]]:
    """:func:`sentences` with the offset in ``text`` where each one starts."""
    out: list[tuple[int, str]] = []
    start = 0
    for match in (*_SENTENCE_END.finditer(text), None):
        end = match.start() if match else len(text)
        piece = text[start:end]
        sentence = piece.strip()
        if sentence:
            out.append((start + len(piece) - len(piece.lstrip()), sentence))
        if match:
            start = match.end()
    return out


@lru_cache(maxsize=4096)
def _readable(sentence: str) -> str:
    """:func:`kb.display.display_text` with runs of space as one; cached, since a sentence
    that names several topics is excerpted once for each (a full build asks ~120 times per
    note)."""
    return _SPACE.sub(" ", display_text(sentence)).strip()


EVIDENCE_SHOWN = 120
"""How long a piece of evidence ``kb show`` and ``kb path`` quote: one sentence, or the
clauses of a long one around the name (a run-on sentence of a lecture transcript is a
paragraph to read)."""
_CLAUSE_END = lazy_re(r"(?<=[，,；;：:、])")


def bounded(text: str, names: tuple[str, ...] = (), limit: int = EVIDENCE_SHOWN) -> str:
    """``text`` (evidence: a sentence, or a section's opening) as one sentence of at most
    about ``limit`` characters: its first sentence that says one of ``names`` (else its first),
    and of a longer one the clauses around the first name it says, ``…`` where cut."""
    if not text:
        return text
    folded = [n.casefold() for n in names if n]
    spans = sentences(text)
    if len(spans) > 1:
        text = next((t for t in spans if any(n in t.casefold() for n in folded)), spans[0])
    if len(text) <= limit:
        return text
    clauses = [c for c in _CLAUSE_END.split(text) if c]
    low = text.casefold()
    at = min((i for i in (low.find(n) for n in folded) if i >= 0), default=0)
    ends = list(accumulate(len(c) for c in clauses))
    lo = hi = min(bisect_right(ends, at), len(clauses) - 1)  # the clause holding the name
    size = len(clauses[lo])
    if size > limit:
        return excerpt(text, next((n for n in names if n.casefold() in low), ""), limit)
    while True:  # grow a clause at a time, after the name first
        grew = False
        if hi + 1 < len(clauses) and size + len(clauses[hi + 1]) <= limit:
            hi += 1
            size += len(clauses[hi])
            grew = True
        if lo > 0 and size + len(clauses[lo - 1]) <= limit:
            lo -= 1
            size += len(clauses[lo])
            grew = True
        if not grew:
            break
    out = "".join(clauses[lo : hi + 1]).strip()
    if hi + 1 < len(clauses):
        out = out.rstrip("，,；;：:、 ") + "…"
    return ("…" if lo > 0 and not out.startswith("…") else "") + out


def excerpt(sentence: str, name: str = "", limit: int = EVIDENCE_MAX) -> str:
    """The sentence as a reader reads it (:func:`kb.display.display_text`: math as text, no
    zero-width or citation marks), cut to ``limit`` characters around the first place ``name``
    appears."""
    sentence = _readable(sentence)
    if len(sentence) <= limit:
        return sentence
    at = sentence.casefold().find(name.casefold()[:12]) if name else -1
    start = max(0, min(at - limit // 3, len(sentence) - limit)) if at > 0 else 0
    cut = sentence[start : start + limit - 2]
    return ("…" if start else "") + cut + "…"
