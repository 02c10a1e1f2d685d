"""The query language: each form parses and finds what it should; malformed ones say why."""

from __future__ import annotations

import pytest

from kb import index
from kb.errors import QueryError
from kb.model import Note, Section
from kb.query import And, Filter, Not, Or, Text, parse_query
from kb.vault import Vault


def section(title, kind, level, path, line, text, parent=0, code="", math=""):
    return Section(title, kind, level, path, line, line + 3, parent, text, code, math)


def note(path, title, sections, aliases=(), tags=()):
    root = section(title, "root", 0, (title,), 1, sections[0] if sections else "", None)
    rest = []
    for i, (heading, text) in enumerate(sections[1:] if sections else [], 1):
        rest.append(section(heading, "heading", 2, (title, heading), 1 + 4 * i, text))
    return Note(
        path=path, title=title, aliases=tuple(aliases), tags=tuple(tags), sections=(root, *rest)
    )


NOTES = [
    note(
        "topics/ReLU.md",
        "ReLU",
        ["最常用的激活函数：max(0, x)。", ("Dead ReLU", "输入恒为负时梯度为 0，改用 Leaky ReLU。")],
        aliases=["线性整流函数"],
        tags=["激活函数", "ml/activation"],
    ),
    note(
        "topics/Bottleneck.md",
        "Bottleneck",
        ["ResNet 深层版本的残差块。", ("结构", "1x1 降维，3x3 卷积，1x1 升维。")],
        aliases=["BottNeck"],
        tags=["cnn"],
    ),
    note(
        "topics/知识蒸馏.md",
        "知识蒸馏",
        ["用 soft target 辅助 hard target 训练学生网络。", ("温度", "softmax 中加入温度 T。")],
        aliases=["Knowledge Distillation"],
        tags=["模型压缩"],
    ),
    note(
        "daily/2019-05-03.md",
        "2019-05-03",
        [
            "sigmoid 容易梯度消失，relu 不会。",
            ("Yolo V3", "Yolo 检测速度快。"),
            ("activation", "activations such as softmax"),
        ],
        tags=["daily"],
    ),
]


class FakeStore:
    """The part of kb.store.Store that kb.index uses: hashes, notes, diff, generation,
    changed_since."""

    def __init__(self, notes: list[Note]):
        self._notes = {n.path: n for n in notes}

    def hashes(self, paths=None) -> dict[str, str]:
        keep = self._notes if paths is None else set(paths)
        return {p: str(hash(repr(n))) for p, n in self._notes.items() if p in keep}

    def notes(self, paths=None) -> dict[str, Note]:
        return {p: self._notes[p] for p in (paths or self._notes) if p in self._notes}

    def generation(self) -> str:
        return ""  # no generation: kb.index compares every hash

    def changed_since(self, generation: str) -> None:
        return None  # no journal either

    def diff(self, held, paths=None):
        assert paths is None
        current = self.hashes()
        stale = sorted(p for p, sha in current.items() if held.get(p) != sha)
        return stale, sorted(p for p in held if p not in current)


@pytest.fixture(scope="module")
def vault(tmp_path_factory) -> Vault:
    root = tmp_path_factory.mktemp("vault")
    v = Vault(root=root, data_dir=root / ".kb")
    index.sync(v, FakeStore(NOTES))
    return v


def paths(vault: Vault, query: str, limit: int = 10) -> list[str]:
    return [h.path for h in index.search(vault, query, limit)]


def hits(vault: Vault, query: str) -> list[tuple[str, str]]:
    return [(h.path, h.heading[-1]) for h in index.search(vault, query, 20)]


# -- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("relu", Text("relu")),
        ("dead relu", And((Text("dead"), Text("relu")))),
        ("dead AND relu", And((Text("dead"), Text("relu")))),
        ("sigmoid OR softmax", Or((Text("sigmoid"), Text("softmax")))),
        ("a b OR c", Or((And((Text("a"), Text("b"))), Text("c")))),
        ("relu NOT leaky", And((Text("relu"), Not(Text("leaky"))))),
        ("relu -leaky", And((Text("relu"), Not(Text("leaky"))))),
        ('"soft target"', Text("soft target", "phrase")),
        ("“知识 蒸馏”", Text("知识 蒸馏", "phrase")),
        ("conv*", Text("conv", "prefix")),
        ("relo~", Text("relo", "fuzzy", 1)),
        ("convolutoin~2", Text("convolutoin", "fuzzy", 2)),
        ("tag:cnn", Filter("tag", Text("cnn"))),
        ("TAG:cnn", Filter("tag", Text("cnn"))),
        ("path:topics/", Filter("path", Text("topics/"))),
        ("file:relu", Filter("path", Text("relu"))),
        ("title:relu", Filter("title", Text("relu"))),
        ('section:"Daily Report"', Filter("section", Text("Daily Report", "phrase"))),
        ("title:(relu OR resnet)", Filter("title", Or((Text("relu"), Text("resnet"))))),
        ("-tag:daily", Not(Filter("tag", Text("daily")))),
        ("(a OR b) c", And((Or((Text("a"), Text("b"))), Text("c")))),
        ("http://x.org", Text("http://x.org")),  # not a filter name: just words
        ("a-b", Text("a-b")),  # a hyphen inside a word is not NOT
    ],
)
def test_parse(query: str, tree) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"unclosed', "unclosed quote"),
        ("(a OR", "OR needs"),
        ("(a b", "unclosed '('"),
        ("a)", "unbalanced ')'"),
        ("AND", "AND needs"),
        ("a AND", "AND needs"),
        ("OR b", "OR needs"),
        ("NOT", "NOT needs"),
        ("a -", None),  # a lone "-" is a word character, not an operator: no error
        ("tag:", "tag: needs a value"),
        ("path: topics", "path: needs a value"),
        ("()", "empty"),
        ("", "empty query"),
        ("   ", "empty query"),
    ],
)
def test_malformed_queries_say_what_to_fix(query: str, message: str | None) -> None:
    if message is None:
        parse_query(query)
        return
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        parse_query(query)
    assert "\n" not in str(e.value)


def test_a_query_without_indexable_words_is_an_error(vault: Vault) -> None:
    with pytest.raises(QueryError, match="nothing to search for"):
        index.search(vault, "+++ ***")


# -- what each form finds ------------------------------------------------------------------


def test_words_are_anded(vault: Vault) -> None:
    assert paths(vault, "relu 梯度") == ["topics/ReLU.md", "daily/2019-05-03.md"]
    assert paths(vault, "relu bottleneck") == []


def test_or(vault: Vault) -> None:
    assert set(paths(vault, "bottleneck OR 蒸馏")) == {"topics/Bottleneck.md", "topics/知识蒸馏.md"}


@pytest.mark.parametrize("query", ["relu NOT leaky", "relu -leaky"])
def test_not(vault: Vault, query: str) -> None:
    found = hits(vault, query)
    assert ("topics/ReLU.md", "Dead ReLU") not in found
    assert ("topics/ReLU.md", "ReLU") in found


def test_only_not_lists_everything_else(vault: Vault) -> None:
    assert "topics/ReLU.md" not in paths(vault, "-relu")
    assert "topics/Bottleneck.md" in paths(vault, "-relu")


def test_phrase(vault: Vault) -> None:
    assert paths(vault, '"soft target"') == ["topics/知识蒸馏.md"]
    assert paths(vault, '"target soft"') == []
    assert paths(vault, '"知识蒸馏"') == ["topics/知识蒸馏.md"]


def test_prefix(vault: Vault) -> None:
    assert "topics/Bottleneck.md" in paths(vault, "bottl*")
    # "activat" is longer than the stem "activ" of "activation": still found
    # (in the daily note's heading, and in the ReLU note's tag ml/activation).
    assert set(paths(vault, "activat*")) == {"daily/2019-05-03.md", "topics/ReLU.md"}


def test_fuzzy(vault: Vault) -> None:
    assert "topics/ReLU.md" in paths(vault, "relo~")
    assert paths(vault, "relo") == []


def test_tag_filter_with_parents(vault: Vault) -> None:
    assert paths(vault, "tag:ml") == ["topics/ReLU.md"]
    assert paths(vault, "tag:ml/activation") == ["topics/ReLU.md"]
    assert paths(vault, "tag:#CNN") == ["topics/Bottleneck.md"]
    assert paths(vault, "relu -tag:daily") == ["topics/ReLU.md", "topics/ReLU.md"]


def test_filter_alone_lists_notes_once(vault: Vault) -> None:
    assert paths(vault, "tag:激活函数") == ["topics/ReLU.md"]


@pytest.mark.parametrize("query", ["path:topics/ relu", "file:topics/ relu", "path:TOPICS relu"])
def test_path_filter_is_a_prefix(vault: Vault, query: str) -> None:
    assert set(paths(vault, query)) == {"topics/ReLU.md"}


def test_file_filter_matches_the_file_name(vault: Vault) -> None:
    assert paths(vault, "file:bottle") == ["topics/Bottleneck.md"]


def test_title_filter(vault: Vault) -> None:
    assert hits(vault, "title:relu 梯度") == [("topics/ReLU.md", "Dead ReLU")]
    assert set(paths(vault, "title:整流")) == {"topics/ReLU.md"}  # aliases count as titles


def test_section_filter(vault: Vault) -> None:
    assert hits(vault, "section:温度 softmax") == [("topics/知识蒸馏.md", "温度")]
    assert hits(vault, 'section:"yolo v3" 检测') == [("daily/2019-05-03.md", "Yolo V3")]


def test_title_and_heading_rank_above_body(vault: Vault) -> None:
    # "relu" is the ReLU note's title and a heading there; the daily note has it in its text.
    found = paths(vault, "relu")
    assert found[0] == "topics/ReLU.md"
    assert found[-1] == "daily/2019-05-03.md"


def test_alias_is_searched(vault: Vault) -> None:
    assert paths(vault, "knowledge distillation")[0] == "topics/知识蒸馏.md"
    assert paths(vault, "bottneck")[0] == "topics/Bottleneck.md"


def test_did_you_mean(vault: Vault) -> None:
    assert index.suggest(vault, "bottlenek") == ["bottleneck"]
    assert index.suggest(vault, "relu") == []
    assert index.suggest(vault, "知识整流") == ["知识蒸馏"]


# Python 3.12+ warns when forking a process that runs threads; whoosh's writer forks
# its sub-writers after its job queue has started a feeder thread. Harmless here (the
# children only write their own segment files), and not ours to change.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_parallel_writer_indexes_the_same(vault: Vault, tmp_path, monkeypatch) -> None:
    # Big syncs write with one process per core; the hits must not change.
    monkeypatch.setattr(index, "PARALLEL_MIN_NOTES", 1)
    other = Vault(root=tmp_path, data_dir=tmp_path / ".kb")
    index.sync(other, FakeStore(NOTES))
    for query in ["relu", "知识蒸馏", "tag:cnn", '"soft target"', "yolo v3"]:
        assert hits(other, query) == hits(vault, query)


def test_section_filter_includes_the_note_title(vault: Vault) -> None:
    # The breadcrumb starts with the note: section:ReLU is every section of the ReLU note.
    assert {h for h in hits(vault, "section:relu 梯度")} == {("topics/ReLU.md", "Dead ReLU")}


def test_did_you_mean_leaves_found_words_alone(vault: Vault) -> None:
    # No hits because of the filter, not of a word: nothing to correct.
    assert index.suggest(vault, "tag:cnn 梯度") == []


def test_or_else_scores_by_the_first_query_where_it_matches_even_when_skipping() -> None:
    """kb.query.OrElse (a query word, else the longer words it begins): a section ``a`` finds is
    scored by ``a`` alone, one only ``b`` finds by ``b``; a search cut to its best N (whoosh
    skipping blocks too poor to rank) gives the best N of the whole list."""
    import random

    from whoosh import fields
    from whoosh import query as wq
    from whoosh.filedb.filestore import RamStorage

    from kb.query import OrElse

    schema = fields.Schema(id=fields.ID(stored=True), t=fields.TEXT(), h=fields.TEXT())
    ix = RamStorage().create_index(schema)
    rng = random.Random(3)
    with ix.writer() as w:
        for i in range(4000):
            # a's first sections rank low (one norm in long text), its last ones high: the
            # first blocks of a are skipped while b, strong throughout, still finds them
            low = i < 2000
            t = ["filler"] * (rng.randint(20, 40) if low else rng.randint(1, 5))
            t += ["norm"] * ((1 if low else rng.randint(3, 6)) if rng.random() < 0.4 else 0)
            t += ["normal"] * (rng.randint(1, 5) if rng.random() < 0.2 else 0)
            h = "normal" if rng.random() < 0.1 else "x"
            w.add_document(id=str(i), t=" ".join(t), h=h)
    a = wq.Term("t", "norm")
    # b strong enough to stay to the end, so that a skips blocks while b still runs
    b = wq.Or([wq.Term("t", "normal", boost=0.3), wq.Term("h", "normal", boost=10.0)])
    with ix.searcher() as s:
        scores_a = {h["id"]: h.score for h in s.search(a, limit=None)}
        scores_b = {h["id"]: h.score for h in s.search(b, limit=None)}
        assert set(scores_a) & set(scores_b)  # sections in both, to be scored by a alone
        want = {**scores_b, **scores_a}
        found = {h["id"]: h.score for h in s.search(OrElse(a, b), limit=None)}
        assert found.keys() == want.keys()
        assert all(abs(found[k] - want[k]) < 1e-9 for k in want)
        best = sorted(want.values(), reverse=True)
        for n in (5, 10, 30, 100, 500):
            top = [h.score for h in s.search(OrElse(a, b), limit=n)]
            assert top == pytest.approx(best[:n]), n
