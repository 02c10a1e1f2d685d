"""The yardstick of issue 12: gold topics read from real notes, and known answers.

The gold files (tests/fixtures/gold/*.json, format in their README.md) list, for d2l-zh,
ml-notes-zh (../shared/vaults) and the sample vault, the topics a student would name and where
each is defined, and words that must not be topics or hubs. Each graph is built once with kb's
library (the shared vaults with an index folder in tmp: nothing is written into ../shared), and
three figures are measured:

- **resolved**: the share of gold names for which ``kb show NAME`` gives a card defined where the
  gold file says (≥ 90 %);
- **hubs**: which ``not_topics``, and ``not_hubs`` (tables of contents, glossaries), are
  among the 15 best-connected topics (none). A topic's connections are the distinct notes and
  topics joined to it by any edge except the outline (``contains``); a section counts as its
  note, so a note that mentions ``Training`` ten times counts once;
- **questions**: the share of topics whose name is a question or a sentence (≤ 5 %), by
  :func:`question_or_sentence`.

Every figure is printed (``pytest -s``) and repeated in the assertion message, so a failure says
how far off it is. The known answers run the real commands (``kb path/show --json``) and check
the evidence sentence of each.

What a "topic" is: any node that is not a section, a tag or a missing link target. The few
functions that read kb's graph are together under "Reading kb's graph" so that a change of
graph model only has to change them.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.cli import cli
from kb.errors import KbError

from .conftest import REPO, SAMPLE_VAULT, shared_vault

GOLD = Path(__file__).parent / "fixtures" / "gold"
VAULTS = [
    pytest.param("d2l-zh", marks=pytest.mark.shared),
    pytest.param("ml-notes-zh", marks=pytest.mark.shared),
    "sample",
]
RESOLVED_AT_LEAST = 0.90
HUBS_CHECKED = 15
QUESTIONS_AT_MOST = 0.05


# -- Gold files --------------------------------------------------------------------------
def norm(text: str) -> str:
    """A name or heading as compared with the gold: NFKC, case folded, without spaces, brackets,
    emphasis and math markup (``(**残差块**)`` → ``残差块``, ``$1\\times 1$`` → ``1×1``)."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("\\times", "×")
    return re.sub(r"[\s\[\]()（）*$`\\~_{}]", "", text)


def load_gold(name: str) -> dict:
    return json.loads((GOLD / f"{name}.json").read_text(encoding="utf-8"))


def places(topic: dict) -> list[tuple[str, str | None]]:
    """The gold ``defined_in`` of a topic as (path, heading or None)."""
    out = []
    for loc in topic["defined_in"]:
        path, _, heading = loc.partition("#")
        out.append((path, heading or None))
    return out


def _vault_dir(name: str) -> Path:
    return SAMPLE_VAULT if name == "sample" else shared_vault(name)


def _headings(text: str) -> list[str]:
    """ATX headings outside fenced code, normalised (only to check the gold against the files)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.*?)\s*#*$", line)):
            out.append(norm(m.group(1)))
    return out


# -- Questions and sentences -------------------------------------------------------------
_QUESTION_START = re.compile(
    r"^(什么|如何|为什么|为何|怎么|怎样|是否|哪些|哪个)"
    r"|^(what|how|why|when|where|which|who|is|are|do|does|can|should)\b",
    re.IGNORECASE,
)
_SENTENCE_MARK = re.compile(r"[，。；！;!]")
_CJK_STEP = re.compile(
    r"^(定义|读取|下载|训练|实现|初始化|生成|加载|构造|创建|安装|运行|提交|获取|整合|计算|回到|考虑"
    r"|把|将|扫码|点击|访问|参见|请)[\u4e00-\u9fff]{1,8}$"
)
_EN_STEP = re.compile(
    r"^(step\s*\d|define|defining|load|loading|read|reading|download|downloading|implement|"
    r"implementing|initialize|initializing)\b\S*\s+\S",
    re.IGNORECASE,
)
_NUMBERING = re.compile(r"^\d+(\.\d+)*[_.、\s]+")
_EN_VERB = re.compile(r"\b(is|are|was|were|will|can|could|do|does|should|must|has|have)\b", re.I)


def question_or_sentence(name: str) -> str | None:
    """Why ``name`` reads as a question, a sentence or a step rather than a topic, or None.

    Deliberately simple, in both languages:
    - a question: ends with ``？``/``?``, or starts with 什么/如何/为什么/为何/怎么/怎样/是否/
      哪些/哪个 or What/How/Why/When/Where/Which/Who/Is/Are/Do/Does/Can/Should;
    - a sentence: holds a sentence mark (``，。；！;!``: not the enumeration comma ``、`` nor a
      title colon), or is English of 5+ words with an auxiliary verb (is, are, will, can…),
      or of 8+ words;
    - a step: CJK that starts with an instruction verb (定义, 读取, 下载, 训练, 实现, 初始化, 生成,
      加载, 构造, 创建, 安装, 运行, 提交, 获取, 整合, 计算, 回到, 考虑, 把, 将, 扫码, 点击, 访问,
      参见, 请) followed by up to 8 CJK characters (``定义模型``, ``读取数据集``), or English that
      starts with ``Step N`` or Define/Load/Read/Download/Implement/Initialize (or their -ing)
      and has a second word (``Defining the Model``); gerunds that also name things
      (Training, Computing, Using) are left alone.
    Leading numbering (``4_``, ``3.6.8 ``) is ignored.
    """
    s = _NUMBERING.sub("", unicodedata.normalize("NFKC", name).strip())
    if s.endswith("?"):
        return "ends with a question mark"
    if _QUESTION_START.search(s):
        return "starts like a question"
    if _SENTENCE_MARK.search(name):  # before NFKC, which turns "，" into ","
        return "has a sentence mark"
    words = s.split()
    if len(words) >= 8 or (len(words) >= 5 and _EN_VERB.search(s)):
        return "is an English sentence"
    if _CJK_STEP.match(s) or _EN_STEP.match(s):
        return "is a step"
    return None


# -- Reading kb's graph ------------------------------------------------------------------
def build(vault: Path, index_dir: Path | None):
    """The vault's graph, built with kb's library (as every graph command gets it)."""
    from kb.refresh import update
    from kb.vault import find_vault

    kv = find_vault(str(vault), str(index_dir) if index_dir else None)
    return update(kv, load_graph=True).graph


def lookup(kg, name: str) -> dict | None:
    """``kb show NAME --json``: the card, or None when kb finds no topic."""
    try:
        return kg.card(kg.find(name))
    except KbError:
        return None


def card_places(card: dict) -> list[tuple[str, list[str]]]:
    """Where a card says its topic is defined: (path, heading path) of each entry, and the note
    itself for a note's card."""
    out = [(e["path"], list(e.get("heading") or [])) for e in card.get("defined_in", [])]
    if card.get("kind") == "note" and card.get("path"):
        out.append((card["path"], list(card.get("heading") or [])))
    return out


def _is_topic(kind: str) -> bool:
    return kind not in ("section", "tag", "missing")


def topics(kg) -> dict[str, str]:
    """Every topic of the graph: node id → its name."""
    G = kg.graph
    return {n: d["label"] for n, d in G.nodes(data=True) if _is_topic(d["kind"])}


def connections(kg) -> dict[str, int]:
    """For each topic, how many distinct notes and topics are joined to it by an edge other than
    the outline (a section stands for its note)."""
    G = kg.graph

    def owner(n: str) -> str:
        d = G.nodes[n]
        if d["kind"] == "section":
            return f"note:{d['path']}"
        return n

    near: dict[str, set[str]] = defaultdict(set)
    for u, v, d in G.edges(data=True):
        if d["kind"] == "contains":
            continue
        a, b = owner(u), owner(v)
        if a != b:
            near[a].add(b)
            near[b].add(a)
    return {n: len(near[n]) for n in topics(kg)}


# -- Figures -----------------------------------------------------------------------------
def defined_where_gold_says(card: dict | None, topic: dict) -> bool:
    if card is None:
        return False
    have = card_places(card)
    for path, heading in places(topic):
        for p, hs in have:
            if p == path and (heading is None or norm(heading) in {norm(h) for h in hs}):
                return True
    return False


def resolution(kg, gold: dict) -> tuple[float, list[str], float]:
    """Share of gold names that resolve to the right card, the misses (with what kb answered),
    and the share of gold aliases that reach the same card as their name."""
    misses, alias_total, alias_ok = [], 0, 0
    for t in gold["topics"]:
        card = lookup(kg, t["name"])
        if not defined_where_gold_says(card, t):
            got = "no topic" if card is None else f"{card['label']!r} {card_places(card)[:2]}"
            misses.append(f"{t['name']} -> {got}")
        for alias in t.get("aliases", []):
            alias_total += 1
            other = lookup(kg, alias)
            alias_ok += bool(card and other and other["id"] == card["id"])
    share = 1 - len(misses) / len(gold["topics"])
    return share, misses, (alias_ok / alias_total if alias_total else 1.0)


def best_connected(kg, n: int = HUBS_CHECKED) -> list[tuple[str, int]]:
    names = topics(kg)
    ranked = sorted(connections(kg).items(), key=lambda kv: (-kv[1], names[kv[0]]))
    return [(names[node], count) for node, count in ranked[:n]]


def questions(kg) -> list[tuple[str, str]]:
    return [
        (name, why) for name in sorted(topics(kg).values()) if (why := question_or_sentence(name))
    ]


# -- Fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def gold_vault(tmp_path_factory):
    """name -> (vault folder, index folder or None, graph); each built once per session. The
    sample vault is copied; the shared vaults are read in place with their index in tmp."""
    built: dict[str, tuple[Path, Path | None, object]] = {}

    def get(name: str):
        if name not in built:
            source = _vault_dir(name)
            if name == "sample":
                vault = tmp_path_factory.mktemp("gold") / "vault"
                shutil.copytree(source, vault, ignore=shutil.ignore_patterns(".kb"))
                index_dir = None
            else:
                vault, index_dir = source, tmp_path_factory.mktemp(f"gold-{name}")
            built[name] = (vault, index_dir, build(vault, index_dir))
        return built[name]

    return get


def _kb(runner, vault: Path, index_dir: Path | None, *args: str) -> dict:
    opts = ["--vault", str(vault)] + (["--index-dir", str(index_dir)] if index_dir else [])
    result = runner.invoke(cli, [*opts, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- The gold files themselves -----------------------------------------------------------
@pytest.mark.parametrize("name", VAULTS)
def test_gold_file_points_at_real_places(name: str) -> None:
    """Every defined_in path exists and every heading is in that file: a renamed note fails
    here rather than silently lowering the figure."""
    gold = load_gold(name)
    root = _vault_dir(name)
    assert len(gold["topics"]) >= 40 and gold["not_topics"]
    assert len({norm(t["name"]) for t in gold["topics"]}) == len(gold["topics"])
    wrong = []
    for t in gold["topics"]:
        for path, heading in places(t):
            file = root / path
            if not file.is_file():
                wrong.append(f"{t['name']}: no file {path}")
            elif heading and norm(heading) not in _headings(file.read_text(encoding="utf-8")):
                wrong.append(f"{t['name']}: no heading {heading!r} in {path}")
    assert not wrong, wrong
    assert (REPO / gold["location"]).resolve() == root.resolve()


def test_question_detector() -> None:
    for q in (
        "什么是批归一化（Batch Normalization）",
        "如何理解 Dropout？",
        "欠拟合还是过拟合？",
        "Why Dropout？",
        "What does CNN learn？",
        "横轴为训练样本数量，纵轴为误差",
        "batch size太小会导致不稳定，速度上也没有优势",
        "Some patterns are much smaller than the whole image",
        "定义模型",
        "读取数据集",
        "扫码直达讨论区",
        "Defining the Model",
        "Step 3：pick the best function",
        "4_Where does the error come from",
    ):
        assert question_or_sentence(q), q
    for t in (
        "残差块",
        "批量规范化",
        "Batch Normalization",
        "1×1 卷积层",
        "K 折交叉验证",
        "注意力汇聚：Nadaraya-Watson 核回归",
        "前向传播、反向传播和计算图",
        "Naive Bayes Classifier(朴素贝叶斯分类法)",
        "Model Selection, Underfitting, and Overfitting",
        "Training",
        "使用块的网络（VGG）",
        "Dead ReLU",
        "Computing Devices",
        "Training data for Classification",
    ):
        assert question_or_sentence(t) is None, t


# -- The three figures -------------------------------------------------------------------
@pytest.mark.parametrize("name", VAULTS)
def test_gold_topics_resolve(name: str, gold_vault) -> None:
    gold = load_gold(name)
    *_, kg = gold_vault(name)
    share, misses, aliases = resolution(kg, gold)
    figure = (
        f"{name}: {share:.0%} of {len(gold['topics'])} gold topics resolve to a card defined "
        f"where the gold says (need {RESOLVED_AT_LEAST:.0%}); aliases reaching the same card: "
        f"{aliases:.0%}"
    )
    print("\n" + figure + "\n  misses: " + "\n          ".join(misses))
    assert share >= RESOLVED_AT_LEAST, figure + f"; {len(misses)} misses: {misses}"


@pytest.mark.parametrize("name", VAULTS)
def test_no_generic_word_is_a_hub(name: str, gold_vault) -> None:
    gold = load_gold(name)
    *_, kg = gold_vault(name)
    top = best_connected(kg)
    banned = {norm(w) for w in gold["not_topics"] + gold.get("not_hubs", [])}
    hubs = [(label, n) for label, n in top if norm(label) in banned]
    named = {norm(label) for label in topics(kg).values()}
    still_topics = [w for w in gold["not_topics"] if norm(w) in named]
    figure = (
        f"{name}: {len(hubs)} not_topics among the {HUBS_CHECKED} best-connected topics {hubs}; "
        f"{len(still_topics)}/{len(gold['not_topics'])} not_topics are topics at all"
    )
    print(f"\n{figure}\n  best connected: {top}\n  still topics: {still_topics}")
    assert not hubs, figure


@pytest.mark.parametrize("name", VAULTS)
def test_few_topics_are_questions_or_sentences(name: str, gold_vault) -> None:
    *_, kg = gold_vault(name)
    found = questions(kg)
    total = len(topics(kg))
    share = len(found) / total
    figure = (
        f"{name}: {share:.1%} of {total} topics are questions or sentences ({len(found)}; "
        f"at most {QUESTIONS_AT_MOST:.0%})"
    )
    print(f"\n{figure}\n  e.g. {found[:20]}")
    assert share <= QUESTIONS_AT_MOST, figure + f"; first ones: {found[:15]}"


# -- Known answers -----------------------------------------------------------------------
def _path_evidence(data: dict) -> Iterator[dict]:
    """The evidence of a ``kb path --json`` answer: each hop's, then the "also joined by"."""
    for hop in data["hops"] or []:
        yield hop["evidence"]
    for also in data.get("also", []):
        for hop in also["evidence"]:
            yield hop["evidence"]


def _topic_hops(data: dict) -> list[dict]:
    """The hops of a path: each one joins two topics (no section is a stop on the way)."""
    hops = data["hops"] or []
    assert not any(h["source"].startswith("section:") for h in hops), hops
    assert not any(h["target"].startswith("section:") for h in hops), hops
    return hops


@pytest.mark.shared
def test_d2l_path_resnet_to_1x1_conv_goes_through_resnet_md_57(runner, gold_vault) -> None:
    vault, index_dir, _ = gold_vault("d2l-zh")
    line = (vault / "chapter_convolutional-modern/resnet.md").read_text(encoding="utf-8")
    assert "引入一个额外的$1\\times 1$卷积层" in line.splitlines()[56]
    data = _kb(runner, vault, index_dir, "path", "ResNet", "1×1卷积", "--json")
    assert data["hops"] is not None, "ResNet and 1×1卷积 are not connected"
    hits = [
        e
        for e in _path_evidence(data)
        if e["path"] == "chapter_convolutional-modern/resnet.md" and e["line"] == 57
    ]
    assert len(_topic_hops(data)) <= 2, data["hops"]
    assert hits, [(e["path"], e["line"], e["text"][:40]) for e in _path_evidence(data)]
    assert "额外的" in hits[0]["text"] and "卷积层" in hits[0]["text"]


def _related(card: dict) -> list[dict]:
    """The card's "related topics", most related first (``related`` or ``related_topics``)."""
    return card.get("related") or card.get("related_topics") or []


def _entry_evidence(entry: dict) -> list[dict]:
    """Evidence of a related-topic entry: an ``evidence`` dict or list, or the entry itself."""
    ev = entry.get("evidence")
    if isinstance(ev, dict):
        return [ev]
    if isinstance(ev, list):
        return [e.get("evidence", e) for e in ev]
    return [entry] if "path" in entry else []


@pytest.mark.shared
def test_d2l_show_resnet_relates_residual_block_first(runner, gold_vault) -> None:
    vault, index_dir, kg = gold_vault("d2l-zh")
    card = _kb(runner, vault, index_dir, "show", "resnet", "--json")
    assert card["path"] == "chapter_convolutional-modern/resnet.md", card["path"]
    first = _related(card)[:3]
    found = [e for e in first if norm(e.get("label", "")) == norm("残差块")]
    assert found, f"first related topics of resnet: {[e.get('label') for e in first]}"
    texts = [
        e.get("text") or e.get("context") or ""
        for e in _entry_evidence(found[0])
        if (e.get("path") or "").startswith("chapter_convolutional-modern/resnet")
    ]
    assert any("残差块" in t or "residual block" in t.casefold() for t in texts), found[0]


@pytest.mark.shared
def test_ml_notes_path_relu_to_vanishing_gradient(runner, gold_vault) -> None:
    vault, index_dir, _ = gold_vault("ml-notes-zh")
    path = "ML-notes-md/13_Tips for Deep Learning.md"
    assert (
        "ReLU可以处理Vanishing gradient的问题"
        in (vault / path).read_text(encoding="utf-8").splitlines()[129]
    )
    data = _kb(runner, vault, index_dir, "path", "ReLU", "vanishing gradient", "--json")
    assert data["hops"] is not None, "ReLU and vanishing gradient are not connected"
    hits = [e for e in _path_evidence(data) if e["path"] == path and e["line"] == 130]
    assert hits, [(e["path"], e["line"], e["text"][:40]) for e in _path_evidence(data)]
    assert "Vanishing gradient" in hits[0]["text"] and "ReLU" in hits[0]["text"]


def test_sample_resnet_bottleneck_1x1_conv(runner, gold_vault) -> None:
    vault, index_dir, _ = gold_vault("sample")
    data = _kb(runner, vault, index_dir, "path", "ResNet", "1x1 卷积", "--json")
    hops = _topic_hops(data)
    assert len(hops) <= 2, data["hops"]
    ends = {h["source_label"] for h in hops} | {h["target_label"] for h in hops}
    assert "Bottleneck" in ends, ends
    lines = {(h["evidence"]["path"], h["evidence"]["line"]): h["evidence"]["text"] for h in hops}
    linked = {
        ("topics/ResNet.md", 16),
        ("topics/Bottleneck.md", 9),
        ("topics/Bottleneck.md", 15),
        ("topics/1x1 卷积.md", 11),
    }
    assert linked & set(lines), lines
    assert all("Bottleneck" in lines[k] or "1x1 卷积" in lines[k] for k in linked & set(lines))

    card = _kb(runner, vault, index_dir, "show", "bottleneck", "--json")
    back = {(b["path"], b["line"]) for b in card["backlinks"]}
    assert {("topics/ResNet.md", 16), ("topics/1x1 卷积.md", 11)} <= back, back
    mention = [
        m for m in card["unlinked_mentions"] if (m["path"], m["line"]) == ("面试准备计划.md", 73)
    ]
    assert mention and "ResNet的BottNeck结构" in mention[0]["context"], card["unlinked_mentions"]


@pytest.mark.shared
def test_d2l_a_name_typed_without_its_head_word_finds_the_topic(runner, gold_vault) -> None:
    # d2l-zh has no topic "softmax" nor "交叉熵": it has softmax回归 (a chapter), softmax运算,
    # "softmax function"…, and 交叉熵损失. A student types the bare name.
    vault, index_dir, _ = gold_vault("d2l-zh")
    card = _kb(runner, vault, index_dir, "show", "softmax", "--json")
    assert card["path"] == "chapter_linear-networks/softmax-regression.md", card["path"]
    card = _kb(runner, vault, index_dir, "show", "交叉熵", "--json")
    assert norm(card["label"]).startswith(norm("交叉熵")), card["label"]
    assert card["kind"] != "not a topic"


# -- Noise found by reading the graphs (issue 12, second pass) ---------------------------------


@pytest.mark.shared
def test_ml_notes_overfitting_is_defined_after_a_figure(runner, gold_vault) -> None:
    """`<center><img …></center>` then, on the next line, "通常被称为**overfitting过拟合**":
    Typora shows a figure and a paragraph; the paragraph's glued gloss defines 过拟合."""
    vault, index_dir, _ = gold_vault("ml-notes-zh")
    note = "ML-notes-md/2_Regression Case Study.md"
    lines = (vault / note).read_text(encoding="utf-8").splitlines()
    assert lines[257].startswith("<center><img") and "**overfitting过拟合**" in lines[258]
    card = _kb(runner, vault, index_dir, "show", "过拟合", "--json")
    assert card["kind"] == "concept" and "overfitting" in card["aliases"]
    places = {(d["path"], d["heading"][-1]) for d in card["defined_in"]}
    assert (note, "5个model的对比") in places, places  # the section holding line 259
    assert _kb(runner, vault, index_dir, "show", "overfitting", "--json")["id"] == card["id"]


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "vault_name"),
    [
        ("从零", "d2l-zh"),  # ## (**从零实现**): how, not what
        ("简明", "d2l-zh"),  # ## [**简明实现**]
        ("争议", "d2l-zh"),  # ## 争议 over a debate on internal covariate shift
        ("linear", "ml-notes-zh"),  # 它是**linear**的
        ("approximate", "ml-notes-zh"),  # 得到的结果是approximate(近似)的
        ("model description", "ml-notes-zh"),  # ##### model description
        ("PyTorch官方推荐", "ml-notes-zh"),  # - PyTorch官方推荐：…
    ],
)
def test_generic_words_are_not_topics(runner, gold_vault, name: str, vault_name: str) -> None:
    vault, index_dir, kg = gold_vault(vault_name)
    assert norm(name) not in {norm(label) for label in topics(kg).values()}, name


@pytest.mark.shared
def test_homes_of_cnn_pca_and_activation_function(runner, gold_vault) -> None:
    """d2l-zh: CNN is the convolutional network chapter's topic, not LeNet's note (the title
    `卷积神经网络（LeNet）` over `## LeNet` is no gloss); ml-notes-zh: CNN is at home in the CNN
    note (``CNN(Convolutional Neural Network)，即卷积神经网络`` joins it to that note's title),
    PCA in the PCA note, 激活函数 where Tips for Deep Learning explains it."""
    vault, index_dir, _ = gold_vault("d2l-zh")
    cnn = _kb(runner, vault, index_dir, "show", "CNN", "--json")
    assert cnn["kind"] == "concept" and cnn["label"] == "卷积神经网络", cnn["label"]
    assert cnn["path"] == "chapter_convolutional-neural-networks/index.md"
    lenet = _kb(runner, vault, index_dir, "show", "LeNet", "--json")
    assert lenet["path"] == "chapter_convolutional-neural-networks/lenet.md"
    assert lenet["id"] != cnn["id"] and "CNN" not in lenet["aliases"]

    vault, index_dir, _ = gold_vault("ml-notes-zh")
    cnn = _kb(runner, vault, index_dir, "show", "CNN", "--json")
    assert cnn["path"] == "ML-notes-md/11_Convolutional Neural Network part1.md", cnn["path"]
    assert _kb(runner, vault, index_dir, "show", "卷积神经网络", "--json")["id"] == cnn["id"]
    pca = _kb(runner, vault, index_dir, "show", "PCA", "--json")
    assert pca["path"] == "ML-notes-md/17_Unsupervised Learning PCA part1.md", pca["path"]
    act = _kb(runner, vault, index_dir, "show", "激活函数", "--json")
    assert (act["path"], act["heading"][-1]) == (
        "ML-notes-md/13_Tips for Deep Learning.md",
        "activation function",
    ), (act["path"], act["heading"])


# -- Issue 12's new-user trial: related topics, parents, evidence, weak paths -----------
@pytest.mark.shared
def test_d2l_overfitting_relates_the_notes_that_fight_it(runner, gold_vault) -> None:
    """``kb show 过拟合``: the notes on dropout and weight decay (whose sections say 过拟合
    three times each) come before a step heading that says it once in passing
    (``[忽略正则化直接训练]``, a section of weight-decay.md), which is not listed at all."""
    vault, index_dir, _ = gold_vault("d2l-zh")
    card = _kb(runner, vault, index_dir, "show", "过拟合", "--json")
    labels = [e["label"] for e in _related(card)]
    assert {"dropout", "weight-decay", "underfit-overfit"} <= set(labels[:5]), labels
    assert "[忽略正则化直接训练]" not in labels and "忽略正则化直接训练" not in labels, labels
    weights = [e["weight"] for e in _related(card)]
    assert weights == sorted(weights, reverse=True) and weights[-1] >= 0.2 * weights[0]
    for e in _related(card):  # each is said with it in two places, or by a sentence naming both
        texts = [x["text"] for x in e["evidence"]]
        assert len(texts) >= 2 or e["kind"] == "note", (e["label"], texts)
        assert all("过拟合" in t or "overfit" in t.casefold() for t in texts), (e["label"], texts)


@pytest.mark.shared
def test_ml_notes_overfitting_related_are_places_that_say_it_more_than_once(
    runner, gold_vault
) -> None:
    """On ml-notes-zh the sections that say overfitting once in passing (``RBF Kernel``,
    ``Help Techniques``) are cut once enough topics say it in several places."""
    vault, index_dir, _ = gold_vault("ml-notes-zh")
    card = _kb(runner, vault, index_dir, "show", "过拟合", "--json")
    related = _related(card)
    assert related[0]["label"] == "2_Regression Case Study", related[0]
    assert not {"RBF Kernel", "Help Techniques"} & {e["label"] for e in related}
    assert len(related) <= 5 or all(len(e["evidence"]) >= 2 for e in related)


@pytest.mark.shared
def test_d2l_conv_layer_parents_are_its_own_notes_not_batch_norm(runner, gold_vault) -> None:
    """``卷积层`` heads a section of conv-layer.md (``图像卷积 › 卷积层``) and of batch-norm.md
    (``批量规范化 › 批量规范化层 › 卷积层``, batch norm *for* conv layers): one topic, defined
    in both, but its parents are those of the notes it is at home in."""
    vault, index_dir, _ = gold_vault("d2l-zh")
    card = _kb(runner, vault, index_dir, "show", "卷积层", "--json")
    homes = {d["path"] for d in card["defined_in"]}
    assert "chapter_convolutional-modern/batch-norm.md" in homes, homes  # still defined there
    parents = {p["label"] for p in card["parents"]}
    assert parents == {"conv-layer", "conv-layer_origin"}, parents
    # a heading named once in one note keeps its parent
    card = _kb(runner, vault, index_dir, "show", "残差块", "--json")
    assert "resnet" in {p["label"] for p in card["parents"]}, card["parents"]


@pytest.mark.shared
def test_d2l_a_path_through_a_generic_topic_says_it_is_weak(runner, gold_vault) -> None:
    """``kb path 过拟合 注意力机制`` on d2l-zh joins them through 全连接层 (said in 86 of 294
    notes) after a sentence that only names both: the text and --json say it is weak; the
    written chain of the sample vault is strong."""
    vault, index_dir, _ = gold_vault("d2l-zh")
    data = _kb(runner, vault, index_dir, "path", "过拟合", "注意力机制", "--json")
    assert data["weak"], data["hops"]
    assert any("a generic topic" in w for w in data["weak"]), data["weak"]
    assert all(h["strength"] == "weak" for h in data["hops"]), data["hops"]
    result = runner.invoke(
        cli, ["--vault", str(vault), "--index-dir", str(index_dir), "path", "过拟合", "注意力机制"]
    )
    assert "weak: goes through" in result.output, result.output
    assert "(weak, cost 2.1)" in result.output, result.output
    # the mention that joins ResNet to 1×1卷积 is no generic hop
    data = _kb(runner, vault, index_dir, "path", "ResNet", "1×1卷积", "--json")
    assert not data["weak"] and {h["strength"] for h in data["hops"]} == {"medium"}, data


def test_sample_written_chain_is_strong(runner, gold_vault) -> None:
    vault, index_dir, _ = gold_vault("sample")
    data = _kb(runner, vault, index_dir, "path", "ResNet", "1x1 卷积", "--json")
    assert [(h["strength"], h["cost"]) for h in data["hops"]] == [("strong", 1.0)] * 2
    assert data["weak"] == []


@pytest.mark.shared
@pytest.mark.parametrize(
    ("vault_name", "args"),
    [
        ("ml-notes-zh", ("show", "keras")),
        ("ml-notes-zh", ("show", "gradient descent")),
        ("d2l-zh", ("show", "过拟合")),
        ("d2l-zh", ("path", "过拟合", "注意力机制")),
    ],
)
def test_evidence_is_one_sentence_or_the_clauses_around_the_name(
    runner, gold_vault, vault_name: str, args: tuple[str, ...]
) -> None:
    """Evidence in ``kb show``/``kb path`` is one sentence (Chinese ones end with 。！？；), or of
    a run-on sentence of ml-notes-zh's lecture transcripts (10_Keras.md:5 runs 200 characters
    on commas) the clauses around the name, ``…`` where cut."""
    from kb.concepts import EVIDENCE_SHOWN

    vault, index_dir, _ = gold_vault(vault_name)
    data = _kb(runner, vault, index_dir, *args, "--json")
    if args[0] == "show":
        texts = [e["context"] for k in ("mentions_out", "unlinked_mentions") for e in data[k]]
        texts += [e["text"] for r in data["related"] for e in r["evidence"]]
    else:
        texts = [e["text"] for e in _path_evidence(data)]
    assert texts
    for t in texts:
        assert len(t) <= EVIDENCE_SHOWN + 2, t
        assert not re.search(r"[。！？；](?=[^」”’）)…])", t.rstrip("。！？；…")), t
    if args == ("show", "keras"):
        toolkit = [t for t in texts if "toolkit theano" in t]
        assert toolkit and all(t.endswith("…") for t in toolkit), toolkit


def test_bounded_keeps_a_short_sentence_and_cuts_a_long_one_at_commas() -> None:
    from kb.concepts import bounded

    assert bounded("第一句很长很长。第二句说过拟合。第三句。", ("过拟合",)) == "第二句说过拟合。"
    assert bounded("A short one. Another.", ("zzz",)) == "A short one."
    long = "，".join(f"第{i}个分句说了一些话" for i in range(30)) + "，这里说到过拟合，然后结束。"
    cut = bounded(long, ("过拟合",), limit=60)
    assert "过拟合" in cut and cut.startswith("…") and len(cut) <= 62, cut
