"""Which headings and phrases name a topic, and what the topic is called.

Pure functions over strings and parsed notes (no graph): :mod:`kb.graph` asks them which
section titles become vault-wide topics, which names are one topic (glosses), which
sections only list things, and how much a name weighs.

- :func:`heading_term` takes the term out of a heading: numbering is stripped, question
  and aspect forms give their subject (``什么是批归一化（Batch Normalization）`` → 批归一化,
  alias Batch Normalization; ``Dropout 的优缺点`` → Dropout; ``What is a GAN?`` → GAN), and
  a heading that is a sentence, a step or an instruction (``扫码直达讨论区``, ``读取数据集``,
  ``Reading the Dataset``) names nothing.
- :func:`recurring_headings` finds, from the vault's own statistics, the headings that
  recur under many unrelated parents (``小结``, ``练习``, ``Summary``, ``Training``): they
  are scoped to their note, not vault-wide topics.
- :func:`prose_terms` reads the terms prose marks: emphasised (``*过拟合*（overfitting）``),
  glossed in the other language (``教师网络（teacher network）``, ``Internal Covariate Shift
  (ICS)``), a label opening a line (``tqdm: …``) or a Latin phrase inside Chinese text.
- :func:`lookup_keys` and :func:`best_match` make ``kb show`` as lenient as search.
- :func:`is_listing` and :func:`name_weight` prepare weighted mentions.

The word lists here are short, documented and about the languages, not about one vault.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from kb.concepts import (
    STOPWORDS,
    clean_title,
    concept_key,
    is_common_word,
    is_dated,
    is_generic,
    names_a_concept,
    normalise,
)
from kb.model import MAX_NAME_CHARS
from kb.text import (
    CJK_CHARS,
    TIMES,
    count_cjk,
    has_cjk,
    is_cjk,
    lazy_re,
    listing_name,
    listing_text,
    placed,
)

# -- words of each language -----------------------------------------------------

FUNCTION_WORDS_ZH = frozenset(
    """
    我 我们 你 你们 他 她 它 他们 它们 咱们 自己 这 那 这里 那里 这些 那些 这个 那个 这样 那样
    这种 了 吗 呢 吧 啊 呀 的话 因此 所以 但是 但 而 如果 因为 虽然 然后 于是 应该 可以 可能
    必须 需要 就 都 也 还 又 再 被 把 让 使 使得 对 为 是 不是 有 没有 不 没 要 会 能 怎么
    怎样 怎么样 哪里 哪些 哪个 什么 为何 为什么 如何 其中 一下 一个 一些 很 非常 更 最 太
    请 直达 取决于 知道 做 看 说 想 来 去 到 给 用来 以下 如下 下面 上面
    """.split()
)
"""Chinese words a name does not hold but a sentence does: pronouns, particles, modal and
copula verbs, conjunctions. A heading that jieba cuts into one of these is a sentence."""

INSTRUCTION_VERBS_ZH = frozenset(
    """
    读取 读取数据 定义 初始化 加载 下载 安装 运行 创建 构造 构建 编写 扫码 点击 查看 准备 设置
    获取 导入 保存 选择 整合 绘制 调用 修改 搭建 配置 启动 打开 添加 删除 回顾 整理
    关闭 将 把 复制 输入 登录 注册 上传 提交 连接 停止 更新 检查 切换 处理 针对 对于 关于 回到 访问
    在 考虑
    """.split()
)
"""Verbs that open an instruction or a step (``读取数据集``, ``初始化模型参数``)."""

GOAL_VERBS_ZH = frozenset(
    """
    降低 提高 减少 增加 减小 增大 避免 防止 解决 缓解 替代 代替 取代 加快 加速 提升 改善 保持
    """.split()
)
"""Verbs that open a goal (``降低训练参数``, ``替代全连接层``): what something is for, a
section about a use, not a topic of its own."""


def _starts_with_goal(name: str) -> bool:
    if not has_cjk(name):
        return False
    words = cut(name)
    return len(words) > 1 and words[0] in GOAL_VERBS_ZH


SAYING_VERBS_ZH = frozenset("推荐 建议 认为 指出 提到 强调 提醒 写道 主张".split())
"""Verbs of saying that end a label (``PyTorch官方推荐：…``): what follows is someone's
advice or claim, and the label names who gives it."""


STEP_OBJECTS_ZH = frozenset(
    "模型 数据 数据集 集 参数 模型参数 代码 网络 结果 预训练模型 预训练".split()
)
"""What ambiguous verbs (训练, 实现, 计算, 评估, 使用, 测试) act on in a step (``训练模型``);
with another object they may name a thing (``训练误差``, ``计算图``)."""
AMBIGUOUS_VERBS_ZH = frozenset("训练 实现 计算 评估 使用 测试 预测 生成 应用 微调".split())

STEP_MODIFIERS_ZH = frozenset(
    "简洁 从零开始 简单 基本 基础 进一步 更多 具体 完整 主要 常见".split()
)  # noqa: E501
"""Words that only qualify a generic head (``简洁实现``, ``从零开始实现``): such a heading is
about the note it is in, not a topic."""

FUNCTION_WORDS_EN = frozenset(
    """
    i we you he she it they me us our your my their its is are was were be been am do does did
    can could should would will shall may might must let let's lets how what why where when which
    who whom whose not don't doesn't isn't this these those there here into onto than then so
    because if while about very
    """.split()
)
"""English words a name does not hold but a sentence does."""

ARTICLES_EN = frozenset("the a an our your all some".split())
"""A heading that opens with one of these is a phrase about something (``The Algorithm``)."""

INSTRUCTION_VERBS_EN = frozenset(
    """
    read reading define defining initialize initializing initialise initialising load loading
    download downloading install installing run running create creating build building implement
    implementing use using put putting get getting make making generate generating compute
    computing train training evaluate evaluating plot plotting visualize visualizing prepare
    preparing write writing set setting check checking add adding
    copy copying choose choosing pick picking select selecting click clicking open opening
    close closing launch launching start starting stop stopping save saving find finding
    try trying apply applying call calling break breaking keep keeping take taking
    """.split()
)
"""Verbs that open a step (``Reading the Dataset``, ``Defining the Model``)."""

GENERIC_EN = frozenset(
    [
        "main idea", "key idea", "key ideas", "basic idea", "in practice", "concise implementation",
        "implementation from scratch", "from scratch", "algorithm", "putting it together",
    ]
)  # fmt: skip
"""English headings that organise a note (besides :data:`kb.concepts.GENERIC`)."""

STEP_MODIFIERS_EN = frozenset("concise basic simple further more advanced detailed full".split())

ASPECTS_ZH = """
    优缺点 优点 缺点 优势 劣势 不足 作用 原理 算法流程 流程 步骤 定义 特点 特性 性质 应用
    实现 代码实现 结构 思想 思路 直观理解 理解 意义 缺陷 局限 局限性 推导 公式 由来 动机
    改进 变体 简介 介绍 概述 总结 系列问题 相关问题 面试题 细节 原理介绍 基本原理 工作原理
    核心思想 基本思想 区别 用法 具体过程 理论基础 主要思想 具体实现 实现过程 计算过程 推导过程
    限制 弱点
""".split()
"""What a Chinese heading says *about* X (``X 的优缺点``, ``X原理``): the topic is X."""

_ASPECTS_EN = (
    r"advantages|disadvantages|pros and cons|pros|cons|benefits|drawbacks|limitations|problems"
    r"|issues|intuition|introduction|overview|basics|definition|properties|applications"
    r"|implementation|derivation|motivation|history|variants|details|summary"
    r"|weakness|weaknesses|strengths|limitation|limits|description"
)


# -- numbering ------------------------------------------------------------------------

_CIRCLED = lazy_re(r"^\s*[\u2460-\u2473\u2474-\u249b\u3251-\u325f\u32b1-\u32bf\u2776-\u2793]\s*")
_PART = lazy_re(
    r"\s*[(（]\s*(?:[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩⅪⅫ]+|[IVX]+|\d+|[一二三四五六七八九十]+|上|中|下|续|完|part\s*\d+)\s*[)）]\s*$",
    re.IGNORECASE,
)
_QUESTION_MARK = lazy_re(r"[?？]+\s*$")


def clean_heading(title: str) -> str:
    """A heading without numbering (``3.6.8``, ``①``, ``（1）``, ``1.``, ``第三章``), part
    markers (``PCA(Ⅰ)``, ``（上）``) or a trailing question mark."""
    t = title
    for _ in range(3):
        before = t
        t = _CIRCLED.sub("", clean_title(t))
        t = _PART.sub("", t)
        t = _QUESTION_MARK.sub("", t).strip()
        if t == before:
            break
    return t


# -- question and aspect forms ------------------------------------------------------------

_X = r"(?P<x>.+?)"
_FORMS_ZH = [
    lazy_re(rf"^(?:什么是|何为|何谓|啥是){_X}$"),
    lazy_re(rf"^{_X}\s*(?:是什么|是啥|指什么|是指什么)(?:意思)?$"),
    lazy_re(rf"^(?:如何|怎么|怎样|怎么样)(?:理解|看待|解释){_X}$"),
    lazy_re(rf"^(?:理解|浅谈|浅析|详解|图解|解读){_X}$"),
    lazy_re(rf"^(?:为什么|为何)(?:要|需要|使用|用|要用|引入|会有|提出){_X}$"),
    lazy_re(
        rf"^{_X}\s*(?:的|之)?\s*(?:{'|'.join(sorted(ASPECTS_ZH, key=len, reverse=True))})"
        r"(?:[与和及、](?:" + "|".join(ASPECTS_ZH) + r"))*$"
    ),
]
_EN_ASPECT_FORMS = 5
"""_FORMS_EN from this index on are aspect forms, the ones before are questions."""
_FORMS_EN = [
    lazy_re(rf"^what\s+(?:is|are)\s+(?:an?\s+|the\s+)?{_X}$", re.IGNORECASE),
    lazy_re(rf"^why\s+(?:use\s+|do\s+we\s+need\s+)?{_X}$", re.IGNORECASE),
    lazy_re(rf"^how\s+(?:does|do)\s+(?:an?\s+|the\s+)?{_X}\s+work$", re.IGNORECASE),
    lazy_re(rf"^how\s+(?:an?\s+|the\s+)?{_X}\s+works$", re.IGNORECASE),
    lazy_re(rf"^(?:understanding|about|intro\s+to)\s+(?:an?\s+|the\s+)?{_X}$", re.IGNORECASE),
    lazy_re(
        rf"^(?:{_ASPECTS_EN})\s+(?:of|to|for|behind|in)\s+(?:an?\s+|the\s+)?{_X}$", re.IGNORECASE
    ),
    lazy_re(rf"^{_X}\s*[:：-]\s*(?:{_ASPECTS_EN})$", re.IGNORECASE),
    lazy_re(
        rf"^{_X}\s+(?:overview|introduction|basics|explained|in a nutshell|pros and cons"
        r"|problem|problems|description)$",
        re.IGNORECASE,
    ),
]


def subject(title: str) -> tuple[str, str]:
    """The term a question or aspect heading is about, and the form: ``("X", "question")``,
    ``("X", "aspect")``, or ``(title, "name")`` when it is neither."""
    zh = has_cjk(title)
    forms = _FORMS_ZH if zh else _FORMS_EN
    for i, form in enumerate(forms):
        m = form.match(title)
        if m and m.group("x").strip():
            aspect = i == len(forms) - 1 if zh else i >= _EN_ASPECT_FORMS
            return m.group("x").strip(), "aspect" if aspect else "question"
    return title, "name"


# -- sentences and steps --------------------------------------------------------------------

_SENTENCE_PUNCT = lazy_re(r"[，。；！!;]|,\s|[:：]\s*\S.*[，。,]|\.\s+\S|…")
_PAIR_ZH = frozenset("和 与 及 以及 或 或者 还是 跟 同".split())
_PAIR_EN = lazy_re(r"\b(?:and|or|vs\.?|versus)\b", re.IGNORECASE)
_LATIN_WORD = lazy_re(r"[A-Za-z][A-Za-z'’]*")


@lru_cache(maxsize=65536)
def _cut(run: str) -> tuple[str, ...]:
    import rjieba  # loads jieba's dictionary: only for text with Chinese in it

    return tuple(rjieba.cut(run))


def cut_all(text: str) -> tuple[str, ...]:
    """jieba's words of a text, spaces included: they add up to the text."""
    return _cut(text)


def cut(text: str) -> tuple[str, ...]:
    """jieba's words of a text (Latin words and numbers come out whole)."""
    return tuple(w for w in _cut(text) if w.strip())


_LEAD_PREPOSITIONS_EN = frozenset("from towards toward beyond into without".split())
"""A heading opening with one of these is a phrase (``From ResNet to DenseNet``)."""
_NUMBERED = lazy_re(r"^([A-Za-z]+)\s*\d+$")


def _numbered_label(t: str) -> bool:
    """``Property 2``, ``Case1``: a common word and a number, a label in a list."""
    m = _NUMBERED.match(t)
    return bool(m) and is_common_word(m.group(1))


def is_sentence(name: str) -> bool:
    """True when a heading is a sentence, a question, a step or an instruction, or joins two
    things (``A 和 B``, ``A vs B``): a section, never a topic."""
    t = name.strip()
    if not t:
        return True
    if _SENTENCE_PUNCT.search(t) or t.endswith(("?", "？", "。")) or _STEP_LABEL.match(t):
        return True
    if _numbered_label(t):
        return True
    if has_cjk(t):
        words = cut(t)
        if any(w in FUNCTION_WORDS_ZH or w in _PAIR_ZH for w in words):
            return True
        first = words[0] if words else ""
        if first in INSTRUCTION_VERBS_ZH and len(words) > 1:
            return True
        if len(words) > 1 and words[-1] in SAYING_VERBS_ZH:
            return True  # PyTorch官方推荐：…, 个人建议: who says what follows, not a name
        if any(w in GOAL_VERBS_ZH for w in words[1:-1]):
            return True  # regularization解决overfitting: a claim
        if any(w in ORGANISING_ZH for w in words) and all(
            w in ORGANISING_ZH or is_generic(normalise(w)) for w in words
        ):
            return True  # 复习内容, 知识储备, 训练要点: how a plan is organised
        if _POINTER_ZH.match(t) or "的" in re.split("[:：]", t)[0] and re.search("[:：]", t):
            return True  # 两个架构, 这些方法 (a count or pointer); 缺少的成分：数据 (a phrase)
        if first in AMBIGUOUS_VERBS_ZH and len(words) > 1 and set(words[1:]) <= STEP_OBJECTS_ZH:
            return True
        if len(words) >= 2 and words[-1] in _GENERIC_HEADS_ZH:
            if all(w in STEP_MODIFIERS_ZH for w in words[:-1]):
                return True
        latin = [w.casefold() for w in _LATIN_WORD.findall(t)]
        return any(w in FUNCTION_WORDS_EN for w in latin)
    words = [w.casefold() for w in _LATIN_WORD.findall(t)]
    if not words:
        return False
    if t.casefold() in GENERIC_EN:
        return True
    if any(w in FUNCTION_WORDS_EN for w in words) or _PAIR_EN.search(t):
        return True
    if words[0] in ARTICLES_EN or (words[0] in _LEAD_PREPOSITIONS_EN and len(words) > 1):
        return True
    if words[0] in INSTRUCTION_VERBS_EN and len(words) > 1:
        return True
    if len(words) > 2 and words[0].endswith("ing") and words[1] in ARTICLES_EN:
        return True  # Organizing the Dataset, Breaking the Symmetry: a step
    if any(w in ("the", "a", "an", "without") for w in words[1:]):
        return True  # Storage on the GPU, Layers without Parameters: a phrase
    return len(words) > 6


_STEP_LABEL = lazy_re(
    r"^(?:step|stage|phase|part|case|lesson|lecture|chapter)\s*\d+\b|^第\s*\S{1,3}\s*[步章节课部]"
    r"|^(?:appendix|附录|附)\s*[:：]|^\d+\s+[A-Za-z]+s$",
    re.IGNORECASE,
)
"""``Step 1：Model``, ``Case 2``, ``第三步``, ``附：…``, ``4 GPUs``: a numbered step or part, an
appendix, a count; never a topic."""
ORGANISING_ZH = frozenset(
    "复习 内容 复习内容 要点 储备 知识 基础 书籍 经典 资料 笔记 实习 计划 安排 准备".split()
)
"""Words of a heading that organises a plan or a course (``复习内容``, ``经典书籍``)."""
_POINTER_ZH = lazy_re("^(?:[两几每各该此这那其另某][个种些类]|本(?:章节|章|节|文|篇))")

_GENERIC_HEADS_ZH = frozenset("实现 代码 方法 训练 模型 代码实现 示例 例子".split())


# -- glosses ---------------------------------------------------------------------------------

_ACRONYM = lazy_re(r"^[a-z]?[A-Z][A-Za-z0-9\-]*$")
_GLOSS_LEAD = lazy_re(
    r"^(?:简称|简写|缩写|即|也称|也称为|又称|又称为|或称|亦称|或|aka|i\.e\.|also called)\s*"
)
_SPLIT_INSIDE = lazy_re(r"\s*[，,、;；/]\s*")


def is_acronym(name: str) -> bool:
    """True for a short name of capitals (``BN``, ``GAP``, ``mAP``, ``ICS``, ``ReLU``): two or
    more capitals, at most one lower-case letter, no spaces. Matched case-sensitively."""
    n = name.strip()
    if not _ACRONYM.match(n) or len(n) > 8:
        return False
    upper = sum(ch.isupper() for ch in n)
    lower = sum(ch.islower() for ch in n)
    return upper >= 2 and lower <= 1


def acronym_of(acronym: str, words: str) -> bool:
    """True when ``acronym`` spells the initials of ``words`` (``ICS``, ``Internal Covariate
    Shift``; ``mAP``, ``mean Average Precision``; hyphens split words)."""
    letters = [ch.casefold() for ch in acronym if ch.isalpha()]
    initials = [w[0].casefold() for w in re.split(r"[\s\-]+", words.strip()) if w]
    return len(letters) >= 2 and letters == initials[-len(letters) :] and len(initials) >= 2


def _cross(a: str, b: str) -> bool:
    """True when one of two names is Chinese and the other is not."""
    return has_cjk(a) != has_cjk(b) and not (has_cjk(a) and has_cjk(b))


def gloss_aliases(name: str, inside: str) -> list[str]:
    """The names that ``inside`` in ``name（inside）`` gives for ``name``: only across
    languages or as an acronym (``批归一化（Batch Normalization，BN）`` → both; ``（贡献者：…）``,
    ``（选读）`` and same-language explanations give nothing)."""
    out = []
    if re.search(r"[:：]", inside):
        return out
    for piece in _SPLIT_INSIDE.split(inside.strip()):
        piece = _GLOSS_LEAD.sub("", piece.strip()).strip()
        if not piece or len(piece) > 40 or piece.endswith(("的", "地", "得")) or "\\" in piece:
            continue  # (特别的) explains with an adjective; (即$2 \times 2$) is math
        if "→" in piece or "->" in piece:
            continue  # (1x1 降维 → 3x3 → 1x1 升维) describes steps
        if is_acronym(piece) and (has_cjk(name) or acronym_of(piece, name) or is_acronym(name)):
            out.append(piece)
        elif is_acronym(name) and acronym_of(name, piece) and not is_sentence(piece):
            out.append(piece)  # CNN(Convolutional Neural Network): the words it stands for
        elif _cross(name, piece) and not is_sentence(piece) and names_a_concept(piece):
            if has_cjk(piece) and _describes(piece):
                continue
            if has_cjk(piece) or not _stop_ended(piece):
                out.append(piece)
    return out


_DESCRIBING_LEAD_ZH = lazy_re(
    "^(?:从|甚至|比如|例如|譬如|包括|其中|约|大约|通常|一般|主要|只有|仅|可以|能够|适合|用于|用来|"
    "相当于|类似于?|每个|多个|一个|某个)"
)
_DESCRIBING_ZH = lazy_re("表示|指的是|是指|代表|第.{1,3}[个块层次]")
_QUANTITY = lazy_re(r"\d\s*[-–~]\s*\d")


def _describes(piece: str) -> bool:
    """True when the Chinese in ``English（…）`` explains rather than names: ``（$i$从0开始）``,
    ``（甚至多个GPU）``, ``（下标j表示该样本点的第j个特征）``, ``（功耗150-200W）``, a long phrase
    with 的 (``适合深度学习的廉价游戏GPU``)."""
    if _DESCRIBING_LEAD_ZH.match(piece) or _DESCRIBING_ZH.search(piece) or _QUANTITY.search(piece):
        return True
    return "的" in piece and sum(is_cjk(ch) for ch in piece) >= 8


def _stop_ended(latin: str) -> bool:
    """True for English words that open or close with a function word (``in place``,
    ``each``): a phrase cut from a sentence, not a name."""
    words = [w.casefold() for w in latin.split()]
    return not words or words[0] in STOPWORDS or words[-1] in STOPWORDS or words[0] in _STOP_EN


_HEAD_GLOSS = lazy_re(r"^(.*?)\s*[(（]([^()（）]+)[)）]\s*$")


@dataclass(frozen=True, slots=True)
class HeadingTerm:
    """What a heading calls its topic."""

    name: str
    """The term, as written (``批归一化``)."""
    aliases: tuple[str, ...]
    """Other names the heading glosses it with (``Batch Normalization``, ``BN``)."""
    form: str
    """``name`` (the heading is the term), ``question`` (``什么是 X``) or ``aspect``
    (``X 的优缺点``): either way the section is one of the term's definitions."""


@lru_cache(maxsize=1 << 16)
def heading_term(title: str) -> HeadingTerm | None:
    """The topic a heading names, or None for a sentence, step, instruction, date or
    generic title (see the module docstring)."""
    if len(title) > MAX_NAME_CHARS:
        return None  # a paragraph, not a name (and too long to run the patterns below on)
    t = clean_heading(title)
    if not t or is_dated(t):
        return None
    asked = bool(_QUESTION_MARK.search(title))
    series = _SERIES.match(t)
    if series and is_acronym(series.group(2).strip()) and not _STEP_LABEL.match(t):
        t = series.group(2).strip()  # Unsupervised Learning: PCA(Ⅰ): a part on PCA
    aliases: list[str] = []
    form = "name"
    for _ in range(2):
        m = _HEAD_GLOSS.match(t)
        if m and m.group(1).strip():
            base, inside = m.group(1).strip(), m.group(2)
            aliases += gloss_aliases(clean_heading(base), inside)
            t = base  # the bracket holds other names of the term, or words about it
        x, kind = subject(t)
        if kind == "name":
            t = clean_heading(t)
            if asked and len(t.split()) >= 3:
                return None  # Good Results on Training Data？: a question, about no one thing
            break
        if is_common_word(x):
            return None  # Why Deep?: about a common word, not a topic
        if _only_modifiers(x) or _how_not_what(x):
            return None  # 简洁实现, 从零实现, 简明实现: about the note, not a topic
        form = kind
        t = clean_heading(x)
    t = _MODIFIER_TAIL.sub("", t.strip()).strip()
    if not t or is_sentence(t) or not names_a_concept(t) or _starts_with_goal(t):
        return None
    if _NOT_A_NAME.search(t):
        return None  # A + B？ (a comparison), Maxout -> RELU (a relation), x_{hp} (math)
    aliases += _script_names(t)
    key = concept_key(t)
    kept = tuple(dict.fromkeys(a for a in aliases if concept_key(a) != key))
    return HeadingTerm(t, kept, form)


_SERIES = lazy_re(r"^([^:：]{3,})[:：]\s*([^:：]+)$")
"""``Series: Part`` (``Unsupervised Learning: PCA``): when the part is an acronym, the heading
names it, the series being where it belongs."""

_NOT_A_NAME = lazy_re(r"\s\+\s|\\[A-Za-z]|_\{|\^\{|\w\(\)|用于|->|→|=>|⇒")


_MODIFIER_TAIL = lazy_re("的(?:" + "|".join(sorted(STEP_MODIFIERS_ZH, key=len)[::-1]) + ")$")
"""``线性回归的简洁`` (from ``线性回归的简洁实现``): a modifier left after the aspect."""


def _only_modifiers(x: str) -> bool:
    words = cut(x) if has_cjk(x) else [w.casefold() for w in x.split()]
    return bool(words) and all(w in STEP_MODIFIERS_ZH or w in STEP_MODIFIERS_EN for w in words)


_HOW_TAGS = frozenset("a ad an d p m q".split())
"""jieba's parts of speech of words that say how, not what: adjectives, adverbs, a
preposition and a number (``简明``, ``从零``), when they are all an aspect's subject holds."""


def _how_not_what(x: str) -> bool:
    """True when what an aspect heading is about is no thing but a manner: ``简明实现``
    (concise), ``从零实现`` (from zero). jieba tags the words; a noun anywhere keeps it."""
    if not has_cjk(x) or not all(is_cjk(ch) for ch in x.replace(" ", "")):
        return False
    import rjieba

    tags = [tag for word, tag in rjieba.tag(x) if word.strip()]
    if tags and tags[0] == "p":
        return True  # 从零, 从头: a prepositional phrase
    return bool(tags) and all(tag in _HOW_TAGS for tag in tags)


_SCRIPT_SPLIT = lazy_re(f"^([{CJK_CHARS}][^a-zA-Z]*?)\\s+([a-zA-Z][^{CJK_CHARS}]*)$")
_SCRIPT_SPLIT_REV = lazy_re(f"^([a-zA-Z][^{CJK_CHARS}]*?)\\s+([{CJK_CHARS}][^a-zA-Z]*)$")
_GENERIC_SUFFIX = lazy_re(f"^([a-zA-Z][^{CJK_CHARS}]*?)\\s*([{CJK_CHARS}]+)$")


def _script_names(name: str) -> list[str]:
    """Names a heading spells in two scripts: ``知识蒸馏 knowledge distillation`` (a Chinese
    name and an English one of two words or more) gives both; ``ReLU函数``/``ResNet 模型`` (a
    Latin name and a generic Chinese word) gives the Latin name. ``Dropout 系列问题`` or
    ``ReLu 激活函数`` give nothing: one word beside a phrase is not a translation."""
    m = _SCRIPT_SPLIT.match(name) or _SCRIPT_SPLIT_REV.match(name)
    if m:
        a, b = m.group(1).strip(), m.group(2).strip()
        latin, cjk = (b, a) if has_cjk(a) else (a, b)
        words = re.findall(r"[A-Za-z]{3,}", latin)  # (L1 L2正规化: symbols, not a translation)
        if len(words) >= 2 and len(concept_key(cjk)) >= 2 and not is_sentence(latin):
            return [a, b]
    m = _GENERIC_SUFFIX.match(name)
    if m and is_generic(normalise(m.group(2))) and names_a_concept(m.group(1)):
        return [m.group(1).strip()]
    return []


# -- terms in prose ---------------------------------------------------------------------------

_PROSE_GLOSS = lazy_re(r"[(（]([^()（）\n]{1,60})[)）]")
_GLOSS_AFTER = lazy_re(r"\s*[(（]([^()（）\n]{1,60})[)）]")
_SAID_AFTER = lazy_re(
    f"\\s*[，,]\\s*(?:即|也就是|也叫|又称|又叫|也称|简称|亦称)\\s*([{CJK_CHARS}]{{2,8}})(?=[，。,.;；：）)\\s])"
)
"""An emphasised term's other name said after it: ``==learning rate==，即学习率，``."""
_LATIN_TAIL = lazy_re(r"((?:[A-Za-z][A-Za-z0-9\-]*\s+){0,5}[A-Za-z][A-Za-z0-9\-]*)\s*$")
_CJK_TAIL = lazy_re(f"([{CJK_CHARS}]+)\\s*$")
_LABEL = lazy_re(r"^\s*([^\s:：，。,;；][^:：，。,;；\n]{0,40}?)\s*[:：]\s*\S")
_LATIN_RUN = lazy_re(
    r"(?<![A-Za-z0-9_\-])[A-Za-z][A-Za-z0-9_\-]*(?:[ ./][A-Za-z0-9][A-Za-z0-9_\-]*)*"
)
"""A run of Latin words in Chinese text (not the tail of ``1-of-N``)."""

LEAD_WORDS_ZH = frozenset(
    """
    称为 称作 叫做 叫 即 就是 也就是 提出 提出了 使用 采用 利用 通过 引入 引入了 用 被 将 把 对 在
    实现 进行 产生 形成 完成 达到 获得 加入 包含 具有 有 称 即为 给出 叫作 也叫 又叫
    希望 想要 能够 用于 用来 表示 代表 描述 处理 选择 需要 要 让 使 使得 导致 超过 约 大约
    和 与 及 以及 或 或者 的 了 而 而是 是 为 作为 如 像 例如 比如 包括 得到 基于 以 由 从 这 那
    这种 一种 一个 种 个 所谓 名为 中 上 下 后 前 里 时 等 又 也 称之为 我们 它 其 该 此 每 各
    出现 发生 造成 引起 遇到 解决 避免 防止 会 可能 可以 能 就 都 还 并 再 才 已经 没有 不是
    介绍 定义 决定 讨论 说明 理解 考虑 正式 严格
    许多 很多 大量 多个 一些 所有 各种 不同 几个 两个 这些 那些
    """.split()
)
"""Words that end a Chinese gloss's term when read backwards from the bracket: what the
sentence says before a name (``称为``, ``使用``, ``的``), never a part of it."""

LABELS_LISTED = 2
"""Lines opening with ``name:`` a section needs before its labels are read as terms."""
MAX_TERM_CJK = 10
MAX_TERM_WORDS = 5


@dataclass(frozen=True, slots=True)
class ProseTerm:
    """A name that prose marks as a term: emphasised (``*过拟合*（overfitting）``), glossed in
    the other language (``教师网络（teacher network）``, ``activation function(激励函数)``),
    a label opening a line (``tqdm: progress bars``) or a Latin phrase inside Chinese text
    (``用 soft target 辅助``)."""

    name: str
    aliases: tuple[str, ...]
    at: int
    """Offset in the text where the term is written."""
    source: str
    """``emphasis``, ``gloss``, ``label`` or ``latin`` (surest first)."""


PROSE_SOURCES = ("emphasis", "gloss", "label", "latin")


@lru_cache(maxsize=1 << 16)
def _term_ok(name: str) -> bool:
    """True for a short name, not a sentence, that names a concept."""
    t = name.strip()
    if not t or len(t) > MAX_NAME_CHARS or re.search(r"[:：=<>|\\{}^$]", t):
        return False
    if has_cjk(t):
        if sum(is_cjk(ch) for ch in t) > MAX_TERM_CJK:
            return False
    elif len(t.split()) > MAX_TERM_WORDS:
        return False
    if is_sentence(t) or not names_a_concept(t) or _starts_with_goal(t):
        return False
    if has_cjk(t):
        words = cut(t)
        if "的" in words or "地" in words or t[0] in _COUNTING_ZH:
            return False  # 深度学习的发展, 200万个锚框: a phrase, not a name
    elif _stop_ended(t):
        return False  # in deep learning, each, in place
    return heading_term(t) is not None


_COUNTING_ZH = frozenset("万亿千百十个几两些每各该此这那其另某")
"""Characters that open a count or a pointer (``万个锚框``, ``每个样本``), never a name."""


def _cjk_term_before(run: str) -> str:
    """The term that ends a Chinese run just before a gloss bracket: jieba's words read back
    from the bracket, at most three, stopping at a word that leads to a name (``称为``)."""
    words = cut(run)
    kept: list[str] = []
    for w in reversed(words):
        if w in FUNCTION_WORDS_ZH or len(kept) == 3 or (kept and w in LEAD_WORDS_ZH):
            break
        kept.insert(0, w)
    return "".join(kept)


def _latin_term_before(run: str) -> str:
    words = run.split()
    kept: list[str] = []
    for w in reversed(words):
        low = w.casefold()
        if low in FUNCTION_WORDS_EN or low in ARTICLES_EN or low in _STOP_EN or len(kept) == 4:
            break
        kept.insert(0, w)
    return " ".join(kept)


_VARIABLE = lazy_re(r"[a-z]|\d+")

_IS_BEFORE = lazy_re(r"是\s*$")
_OF_AFTER = lazy_re(r"\s*的(?:[，。；;,.!！?？）)\n]|$)")


def _predicative(text: str, start: int, end: int) -> bool:
    """True for a word said of something, between 是 and 的 (``它是**linear**的``, ``结果是
    approximate(近似)的``): an adjective in the Chinese sentence, not a term it names."""
    return bool(_IS_BEFORE.search(text, max(0, start - 3), start)) and bool(
        _OF_AFTER.match(text, end)
    )


_STOP_EN = frozenset("of for to in on with by from as at and or use using called named".split())


_GLUED = lazy_re(f"^([a-z][a-z\\- ]*[a-z])\\s*([{CJK_CHARS}]{{2,}})$")


def _glued_gloss(span: str) -> tuple[str, str]:
    """An emphasised English name glued to its Chinese one, the gloss without brackets
    (``**overfitting过拟合**`` → 过拟合, overfitting): the name and its other name, or
    ``(span, "")``. Only lower-case English beside a Chinese term that is neither generic nor
    a common word: ``softmax函数``, ``softmax回归``, ``Bayes定理`` are a name and a head noun;
    Chinese first (``分层softmax``, hierarchical softmax) is a modifier and a name."""
    m = _GLUED.match(span)
    if m:
        latin, cjk = m.group(1), m.group(2)
        if sum(ch.isalpha() for ch in latin) >= 5 and names_a_concept(cjk):
            if not is_common_word(cjk) and not is_common_word(latin):
                return cjk, latin
    return span, ""


_SAYS_A_SENTENCE = re.compile(r"(?<![.\s][A-Za-z])(?<!\b[A-Za-z])(?<!etc)[.!?。！？]$")
"""Emphasis that ends a sentence (``**Deprecated.**``, ``**这很重要！**``), not an initial or an
abbreviation (``U.S.``, ``etc.``)."""


def prose_terms(text: str, emphasis: str = "") -> list[ProseTerm]:
    """The terms a section's prose marks (see :class:`ProseTerm`), in the order written.

    ``text`` is the section's plain text (one block per line), ``emphasis`` its emphasised
    spans, one per line, as :mod:`kb.parse` keeps them.
    """
    out: list[ProseTerm] = []
    seen: set[str] = set()
    taken: list[tuple[int, int]] = []

    def add(name: str, aliases: list[str], at: int, source: str, end: int = -1) -> None:
        key = concept_key(name)
        if end >= 0 and _predicative(text, at, end):
            return
        if key and key not in seen and _term_ok(name):
            seen.add(key)
            kept = tuple(dict.fromkeys(a for a in aliases if concept_key(a) != key))
            out.append(ProseTerm(name.strip(), kept, at, source))

    for found, span in placed(emphasis, text):
        end = found + len(span)
        name, inside = span, ""
        m = _HEAD_GLOSS.match(span)
        if m and m.group(1).strip():
            name, inside = m.group(1).strip(), m.group(2)
        else:
            after = _GLOSS_AFTER.match(text, end) or _SAID_AFTER.match(text, end)
            if after:
                inside, end = after.group(1), after.end()
        name = name.strip(" \t\"'“”‘’「」《》[]")
        taken.append((found, end))
        if _SAYS_A_SENTENCE.search(name):
            continue  # **Deprecated.**, **注意：…。**: a label or a sentence, not a term
        if not inside:
            name, inside = _glued_gloss(name)
        add(name, gloss_aliases(name, inside) if inside else [], found, "emphasis", end)

    for m in _PROSE_GLOSS.finditer(text):
        if any(a <= m.start() < b for a, b in taken):
            continue  # an emphasised term's own gloss
        head = text[max(0, m.start() - 80) : m.start()]
        inside = m.group(1)
        cjk = _CJK_TAIL.search(head)
        latin = _LATIN_TAIL.search(head)
        if cjk:
            name = _cjk_term_before(cjk.group(1))
            if name == cjk.group(1) and cjk.start() and head[cjk.start() - 1].isdigit():
                continue  # 16位浮点训练（…）: cut from a count
        elif latin:
            name = _latin_term_before(latin.group(1))
        else:
            continue
        if len(concept_key(name)) < 2:
            continue
        aliases = gloss_aliases(name, inside)
        if latin and not cjk and aliases and all(is_acronym(a) for a in aliases):
            acr = aliases[0]
            words = name.split()
            if not acronym_of(acr, name):
                continue
            name = " ".join(words[-sum(ch.isalpha() for ch in acr) :])
        if aliases:
            end = m.end()
            said = _SAID_AFTER.match(text, end)  # CNN(Convolutional Neural Network)，即卷积神经网络
            if said and _cross(name, said.group(1)) and names_a_concept(said.group(1)):
                aliases.append(said.group(1))
                end = said.end()
            taken.append((m.start(), end))
            add(name, aliases, m.start() - len(head) + head.rfind(name), "gloss", end)

    # Lines that open with a label (``tqdm: progress bars``): a term when several lines of
    # the section do, a list of definitions.
    labels, line_at = [], 0
    for line in text.split("\n"):
        m = _LABEL.match(line)
        if m:
            labels.append((m.group(1), line_at + m.start(1)))
        line_at += len(line) + 1
    if len(labels) >= LABELS_LISTED:
        for name, offset in labels:
            add(name, [], offset, "label")

    if has_cjk(text):
        for m in _LATIN_RUN.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue  # a gloss's other name, or an emphasised term: read above
            run = m.group(0).strip(" ./")
            # the nearest characters on the same line
            before = text[max(0, m.start() - 4) : m.start()].split("\n")[-1].rstrip()[-1:]
            after = text[m.end() : m.end() + 4].split("\n")[0].lstrip()[:1]
            if not (
                has_cjk(before + after)
                or before
                and after
                and before in "，。：（“"
                and after in "，。）”"
            ):
                continue  # an English sentence, or code
            words = run.split()
            while words and words[0].casefold() in ARTICLES_EN:
                words.pop(0)
            while len(words) > 1 and _VARIABLE.fullmatch(words[-1]):
                words.pop()  # bias b, class 2: a name and the letter or number of an example
            run = " ".join(words)
            if len(words) >= 2 and words[0].islower() and any(w[0].isupper() for w in words[1:]):
                continue  # cite Hinton, input Long, call GPU: a verb or a word before a name
            if len(words) >= 2 and not any(re.fullmatch(r"[A-Za-z]{3,}\w*", w) for w in words):
                continue  # L1 L2: symbols listed, not a name
            said = _SAID_AFTER.match(text, m.end())  # learning rate，即学习率
            if said and gloss_aliases(run, said.group(1)):
                add(run, gloss_aliases(run, said.group(1)), m.start(), "gloss")
            elif len(words) >= 2 or is_acronym(run) or re.search(r"[A-Z]", run):
                add(run, [], m.start(), "latin", m.end())
    out.sort(key=lambda t: t.at)
    return out


# -- headings that recur under unrelated parents ---------------------------------------------

RECURRING_SHARE = 0.02
"""A heading in more than this share of the notes (and at least :data:`RECURRING_MIN`), under
at least :data:`RECURRING_PARENTS` different parents, organises notes: ``小结``, ``Summary``."""
RECURRING_MIN = 3
RECURRING_PARENTS = 3


def recurring_headings(headings: Iterable[Sequence[tuple[str, str]]], notes: int) -> frozenset[str]:
    """The heading keys that recur under many unrelated parents across the vault.

    ``headings`` holds, per note, (heading key, parent key) of each heading; ``notes`` is how
    many notes the vault has. A key is recurring when it heads sections in at least
    ``max(RECURRING_MIN, RECURRING_SHARE × notes)`` notes under at least
    ``RECURRING_PARENTS`` different parents.
    """
    in_notes: dict[str, int] = defaultdict(int)
    parents: dict[str, set[str]] = defaultdict(set)
    for note in headings:
        seen = set()
        for key, parent in note:
            parents[key].add(parent)
            if key not in seen:
                seen.add(key)
                in_notes[key] += 1
    need = recurring_need(notes)
    return frozenset(
        k for k, n in in_notes.items() if n >= need and len(parents[k]) >= RECURRING_PARENTS
    )


def recurring_need(notes: int) -> int:
    """In how many of a vault's ``notes`` a heading must recur to be :func:`recurring_headings`."""
    return max(RECURRING_MIN, math.ceil(RECURRING_SHARE * notes))


# -- lookup --------------------------------------------------------------------------------------

_LETTER_DIGIT = lazy_re(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")


def compact(key: str) -> str:
    """A concept key without spaces: ``yolo v3`` and ``yolov3`` are one lookup."""
    return key.replace(" ", "")


def lookup_keys(typed: str) -> list[str]:
    """The concept keys a person may mean by what they typed, most literal first: any case
    or width, a trailing ``?``/``？`` ignored, spaces or none (``YOLOv3`` = ``YOLO v3``)."""
    t = _QUESTION_MARK.sub("", typed.strip()).strip()
    out = [concept_key(t), normalise(t), concept_key(clean_heading(t))]
    term = heading_term(t)
    if term is not None:
        out.append(concept_key(term.name))
    spaced = _LETTER_DIGIT.sub(" ", out[0])
    out += [spaced, compact(out[0])]
    return [k for k in dict.fromkeys(out) if k]


def best_match(candidates: Iterable[str], degree: dict[str, int] | None = None) -> str | None:
    """Which of several nodes a lookup means: the better connected (``degree``), then the more
    specific (a longer label id), never the alphabetically first; None for no candidate."""
    cands = list(dict.fromkeys(candidates))
    if not cands:
        return None
    deg = degree or {}
    return max(cands, key=lambda n: (deg.get(n, 0), len(n)))


# -- listings and weights ------------------------------------------------------------------------


def is_listing(text: str, links: int = 0, stem: str = "", title: str = "") -> bool:
    """True when a note or section lists names rather than says something: a table of
    contents, a sidebar, an index, a glossary.

    ``text`` is its plain text (one block per line), ``links`` how many note links it holds,
    ``stem``/``title`` the note's file name and title. A listing is a page named so
    (:func:`kb.text.listing_name`), or text of many short lines or mostly links
    (:func:`kb.text.listing_text`; search demotes the same sections).
    """
    if listing_name(stem) or clean_heading(title).casefold() in {"目录", "contents", "index"}:
        return True
    return listing_text(text, links)


@lru_cache(maxsize=1 << 16)
def specificity(name: str) -> float:
    """How specific a name is, from 0.5 to 1: more words, more characters, capitals and digits
    say more (``1x1 卷积`` > ``卷积``; ``ResNet`` > ``model``)."""
    key = normalise(name)
    cjk = count_cjk(key)
    latin_words = len(re.findall(r"[a-z0-9]+", key))
    size = cjk / 2 + latin_words + (0.5 if any(map(str.isdigit, key)) else 0)
    size += 0.5 if is_acronym(name) or re.search(r"[a-z][A-Z]", name) else 0
    return min(1.0, 0.5 + 0.15 * size)


def name_weight(notes_with_name: int, notes: int, name: str) -> float:
    """The weight of a mention of ``name``: its rarity in the vault (inverse document
    frequency over the notes whose text holds it, scaled to 0–1) times its specificity."""
    if notes <= 1:
        return specificity(name)
    df = max(1, min(notes_with_name, notes))
    rarity = math.log((notes + 1) / df) / math.log(notes + 1)
    return round(max(0.05, rarity) * specificity(name), 4)


TEXTLIKE_MATH = lazy_re(rf"^\s*\d+\s*{TIMES}\s*\d+(?:\s*{TIMES}\s*\d+)*\s*$")
"""Math that reads as text: a size (``1\\times 1``, ``3 \\times 3``)."""


def is_textlike_math(piece: str) -> bool:
    """True for inline math that a reader reads as words (``$1\\times 1$卷积``)."""
    return bool(TEXTLIKE_MATH.match(piece))
