"""The query language: a query string -> a small tree -> whoosh queries against an open index.

Words are ANDed; ``OR``, ``NOT``/``-word``, ``"phrases"``, ``prefix*``, ``term~``
and the filters ``tag:`` ``path:``/``file:`` ``title:`` ``section:`` are read by
:func:`parse_query`, which needs no index and raises a one-line QueryError saying
what to fix. :class:`Compiler` turns the tree into whoosh queries: Chinese in the
query is cut with the index's own vocabulary (:func:`kb.analysis.cut_by_vocabulary`),
so a search never loads jieba. Only :mod:`kb.index` uses this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from whoosh import query as wq
from whoosh.matching import UnionMatcher

from kb import analysis
from kb.errors import QueryError, notice
from kb.text import tag_key

FIELD_BOOSTS: dict[str, float] = {
    "title": 4.0,
    "aliases": 3.5,
    "heading": 3.0,
    "tagtext": 1.5,
    "body": 1.0,
}
"""Fields a bare word is looked for in, and what a match in each is worth."""

FILTER_FIELDS = {
    "tag": "tags",
    "path": "pathkey",
    "file": "pathkey",
    "title": "title",
    "section": "crumbs",
}
"""``name:`` in a query -> the field it filters on (``file:`` is another name for ``path:``).

``title:`` looks at titles and aliases (on each note's lead section), then keeps
every section of the notes found.
"""

FILTER_BOOST = 1e-4
"""A filter says where to look, not what ranks first: it adds next to nothing to a score."""

MAX_EXPANSIONS = 64
"""At most this many index words stand for one ``prefix*`` or ``term~``."""

MAX_PREFIX_WORDS = 128
"""At most this many index words are searched for one ``prefix*`` (those in the most sections):
the cost of a query grows with the words it is a union of."""

MAX_PREFIX_SCAN = 20_000
"""Index words of one field looked at for a ``prefix*``, at most, to find the most common."""

WORD_PREFIX_BOOST = 0.3
"""A query word also finds the index words it begins (``norm`` → normalization, ``归一`` →
归一化), worth this much of a whole-word match: those rank below the word itself."""

MAX_WORD_PREFIXES = 4
"""At most this many index words a plain query word stands for as a prefix (those in the most
sections): enough for a word's forms, few enough to keep a search as fast."""

MAX_WORD_PREFIX_SCAN = 400
"""Index words of one field looked at for one query word's prefixes, at most: whoosh lists a
prefix's words in order, so on a big vocabulary ``con`` alone would list thousands."""

PREFIX_FIELDS = ("title", "aliases", "heading")
"""Where a query word is also looked for as a prefix: names and headings, short and few."""

MIN_WORD_PREFIX = 3
"""A Latin query word shorter than this finds only itself (``a``, ``nn`` begin too much)."""

ALIAS_BOOST = 0.25
"""A match of another name of a query term (``梯度消失`` for ``vanishing gradient``, from the
vault's glosses: :mod:`kb.aliases`) is worth this much of a match of the term as typed."""

ALIAS_COMMON_SHARE = 0.01
"""An other name of several words, each in more than this share of the sections, is not
searched for (see :meth:`Compiler._common`): it would cost more than the search."""

MAX_ALIAS_SPAN = 4
"""Longest run of query words looked up as one name (``batch normalization``)."""

MAX_QUERY_CHARS = 1000
"""Longer queries are refused: whoosh nests one matcher per word (thousands of words overflow
Python's stack) and "did you mean" compares every word with the vocabulary."""

MAX_NESTING = 32
"""Deepest ``( )`` / ``NOT`` nesting a query may have (the parser and whoosh recurse on it)."""


# -- parsing a query -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    """A word or phrase of the query."""

    text: str
    kind: str = "word"
    """``word``, ``phrase`` (quoted), ``prefix`` (``conv*``) or ``fuzzy`` (``relo~``)."""
    maxdist: int = 1
    """Edits allowed for ``fuzzy``."""


@dataclass(frozen=True, slots=True)
class Filter:
    """``name:value``: restrict to notes with a tag, a path prefix, a title or a heading."""

    name: str
    """``tag``, ``path``, ``title`` or ``section`` (``file`` is read as ``path``)."""
    value: Node


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Text | Filter | Not | And | Or

_OPEN_QUOTES = {'"': '"', "“": "”", "「": "」", "„": "“"}
_FUZZY = re.compile(r"^(.+)~([12]?)$")


@dataclass(slots=True)
class _Lexeme:
    kind: str  # word, phrase, field, (, ), OR, AND, NOT, -
    text: str = ""


def _lex(query: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(_Lexeme(c))
            i += 1
        elif c in _OPEN_QUOTES:
            close = query.find(_OPEN_QUOTES[c], i + 1)
            if close < 0:
                raise QueryError(
                    f"unclosed quote in {query!r}: add the closing {_OPEN_QUOTES[c]} "
                    "or search without quotes"
                )
            out.append(_Lexeme("phrase", query[i + 1 : close]))
            i = close + 1
        elif (
            c in "-+"
            and i + 1 < n
            and not query[i + 1].isspace()
            and (i == 0 or query[i - 1].isspace() or query[i - 1] == "(")
        ):
            if c == "-":
                out.append(_Lexeme("-"))
            i += 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '()"“「':
                j += 1
            word = query[i:j]
            i = j
            name, sep, value = word.partition(":")
            if sep and name.lower() in FILTER_FIELDS:
                out.append(_Lexeme("field", name.lower()))
                if value:
                    out.append(_Lexeme("word", value))
                elif i >= n or query[i].isspace():
                    raise QueryError(
                        f"{name}: needs a value right after the colon, e.g. {name.lower()}:"
                        + {"tag": "cnn", "path": "topics/", "file": "topics/"}.get(
                            name.lower(), "relu"
                        )
                    )
            elif word in ("OR", "AND", "NOT"):
                out.append(_Lexeme(word))
            elif word in ("|", "||"):
                out.append(_Lexeme("OR"))
            elif word in ("&", "&&"):
                out.append(_Lexeme("AND"))
            else:
                out.append(_Lexeme("word", word))
    return out


class _Parser:
    """Recursive descent: or := and (OR and)*; and := unary+; unary := (NOT|-) unary | primary."""

    def __init__(self, query: str):
        self.query = query
        self.lexemes = _lex(query)
        self.i = 0
        self.depth = 0
        """Parentheses and NOTs open at this point."""

    def peek(self) -> _Lexeme | None:
        return self.lexemes[self.i] if self.i < len(self.lexemes) else None

    def error(self, message: str) -> QueryError:
        return QueryError(f"{message} in {self.query!r}")

    def parse(self) -> Node:
        if not self.lexemes:
            raise QueryError("empty query: give a word to search for")
        node = self.parse_or()
        if self.peek() is not None:  # only a stray ")" stops parse_or early
            raise self.error("unbalanced ')'")
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (lx := self.peek()) is not None and lx.kind == "OR":
            self.i += 1
            if self.peek() is None or self.peek().kind in ("OR", "AND", ")"):
                raise self.error("OR needs a search term on each side")
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children: list[Node] = []
        while (lx := self.peek()) is not None and lx.kind not in ("OR", ")"):
            if lx.kind == "AND":
                self.i += 1
                nxt = self.peek()
                if not children or nxt is None or nxt.kind in ("OR", "AND", ")"):
                    raise self.error("AND needs a search term on each side")
                continue
            children.append(self.parse_unary())
        if not children:
            lx = self.peek()
            if lx is None:
                raise self.error("nothing to search for")
            if lx.kind == "OR":
                raise self.error("OR needs a search term on each side")
            raise self.error(
                "empty ( )" if self.i and self.lexemes[self.i - 1].kind == "(" else "unbalanced ')'"
            )
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        lx = self.peek()
        assert lx is not None
        if lx.kind in ("NOT", "-"):
            self.i += 1
            nxt = self.peek()
            if nxt is None or nxt.kind in ("OR", "AND", ")"):
                raise self.error(f"{'NOT' if lx.kind == 'NOT' else '-'} needs a term after it")
            with self.nested():
                return Not(self.parse_unary())
        return self.parse_primary()

    @contextmanager
    def nested(self) -> Iterator[None]:
        """One level deeper in ( ) or NOT; refuse queries nested absurdly deep."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise QueryError(
                f"the query nests ( ) or NOT more than {MAX_NESTING} deep: simplify it"
            )
        try:
            yield
        finally:
            self.depth -= 1

    def parse_primary(self) -> Node:
        lx = self.peek()
        assert lx is not None
        self.i += 1
        if lx.kind == "(":
            with self.nested():
                node = self.parse_or()
            if self.peek() is None:
                raise self.error("unclosed '('")
            self.i += 1  # the ")"
            return node
        if lx.kind == "field":
            nxt = self.peek()
            if nxt is None or nxt.kind not in ("word", "phrase", "("):
                raise self.error(f"{lx.text}: needs a value")
            name = "path" if lx.text == "file" else lx.text
            return Filter(name, self.parse_primary())
        if lx.kind == "phrase":
            return Text(lx.text, "phrase")
        return _word(lx.text)


def _word(text: str) -> Text:
    if len(text) > 1 and text.endswith("*") and text[:-1].strip("*"):
        return Text(text.rstrip("*"), "prefix")
    m = _FUZZY.match(text)
    if m and m.group(1).strip("~"):
        return Text(m.group(1), "fuzzy", int(m.group(2) or 1))
    return Text(text)


def parse_query(query: str) -> Node:
    """The query as a tree; QueryError (one line, saying what to fix) when it is malformed."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(query):,} characters long; kb searches at most "
            f"{MAX_QUERY_CHARS:,}: search for a few distinctive words"
        )
    return _Parser(query).parse()


# -- reading a query tree -------------------------------------------------------------------


def has_words(node: Node) -> bool:
    """True when the query looks for words, not only filters or exclusions."""
    if isinstance(node, Text):
        return True
    if isinstance(node, (And, Or)):
        return any(has_words(c) for c in node.children)
    return False


def name_key(tree: Node) -> str | None:
    """The query as a note name, when it is only words (``relu``, ``1x1 卷积``)."""
    nodes = tree.children if isinstance(tree, And) else (tree,)
    if not all(isinstance(n, Text) and n.kind in ("word", "phrase") for n in nodes):
        return None
    return re.sub(r"\s+", "", analysis.fold(" ".join(n.text for n in nodes)))  # type: ignore[union-attr]


def words_of(node: Node) -> Iterable[Text]:
    """The plain words of a query: those a spelling suggestion may replace."""
    if isinstance(node, Text):
        if node.kind == "word":
            yield node
    elif isinstance(node, (And, Or)):
        for child in node.children:
            yield from words_of(child)
    # NOT and filters are left alone: a typo there does not hide hits.


# -- from the query tree to whoosh ----------------------------------------------------------


def vocabulary(reader) -> analysis.Vocabulary:
    """The index's words, to cut a query's Chinese as the notes were cut (without jieba)."""
    fields = tuple(FIELD_BOOSTS)

    def frequency(word: str) -> int:
        return sum(reader.frequency(f, word) for f in fields)

    return analysis.Vocabulary(frequency, sum(reader.field_length(f) for f in fields))


def prefix_counts(reader, fieldname: str, prefix: str, scan: int) -> dict[str, int]:
    """The index words of a field that start with ``prefix`` → the sections holding them,
    read off each segment's sorted term list with their statistics (whoosh's expand_prefix
    merges the segments' lists and then needs one lookup per word in every segment); at most
    ``scan`` words of each segment."""
    counts: dict[str, int] = {}
    for leaf, _offset in reader.leaf_readers():
        for n, (t, info) in enumerate(leaf.iter_prefix(fieldname, prefix)):
            if n >= scan:
                break
            word = t.decode("utf-8") if isinstance(t, bytes) else t
            counts[word] = counts.get(word, 0) + info.doc_frequency()
    return counts


def _or_else(q: wq.Query, others: list[wq.Query]) -> wq.Query:
    """``q``, or where it does not match, any of ``others`` (the words a query word begins,
    weighted down): a section saying the word as typed is scored by that alone, so it ranks
    above one saying only a longer word. (whoosh's DisjunctionMax would say this in one
    query, but its matcher scores by block quality: equal scores for unequal sections.)"""
    if not others:
        return q
    return OrElse(q, wq.Or(others))


class OrElse(wq.compound.BinaryQuery):
    """Sections matching ``a`` scored by ``a`` alone, then those matching only ``b`` scored by
    ``b``. (It was ``a OR (b ANDNOT a)``, which crashed in whoosh's AndNotMatcher.skip_to when
    ``b`` ended inside a skipped block: ``kb search norm -n 30`` on the 6,000-note vault, an
    IndexError reported as a damaged index.)"""

    JOINT = " ORELSE "

    def matcher(self, searcher, context=None):
        a = self.a.matcher(searcher, context)
        b = self.b.matcher(searcher, context)
        if not b.is_active():
            return a
        # A second matcher of a, made once a has skipped a block: moved only to the sections b
        # finds that a has passed, to say whether a holds them and score them as a would.
        return _OrElseMatcher(a, b, lambda: self.a.matcher(searcher, context))


class _OrElseMatcher(UnionMatcher):
    """The union of two matchers, a posting scored by ``a`` when ``a`` has it, else by ``b``.

    Each side skips its own blocks too poor to rank (whoosh's block quality): a section of a
    skipped block of ``a`` that ``b`` finds is looked up in ``check`` (``a`` again, never
    skipped) and scored by ``a``, so skipping never lets ``b`` score a section of ``a``. Until
    ``a`` skips, a section ``a`` has passed is not in ``a``: no check is made."""

    def __init__(self, a, b, again: Callable, check=None):
        super().__init__(a, b)
        self.again = again
        """Makes a new matcher of ``a`` (the check)."""
        self.check = check
        """``a`` again, once ``a`` has skipped; None before."""

    def copy(self):
        check = self.check.copy() if self.check is not None else None
        return self.__class__(self.a.copy(), self.b.copy(), self.again, check)

    def _skipping(self) -> None:
        if self.check is None:
            self.check = self.again()

    def replace(self, minquality=0):
        a, b = self.a, self.b
        if not b.is_active() or (minquality and b.max_quality() < minquality):
            return a.replace(minquality)  # b can bring no section good enough any more
        a2 = a.replace(minquality) if a.is_active() else a
        b2 = b.replace(minquality)
        if a2 is not a:
            self._skipping()  # a narrower a may leave out sections of a
        if a2 is not a or b2 is not b:
            return self.__class__(a2, b2, self.again, self.check)
        self._id = None
        return self

    def max_quality(self):
        return max(m.max_quality() for m in (self.a, self.b) if m.is_active())

    def block_quality(self):
        return max(m.block_quality() for m in (self.a, self.b) if m.is_active())

    def skip_to_quality(self, minquality):
        self._id = None
        skipped = 0
        a, b = self.a, self.b
        if a.is_active() and a.block_quality() < minquality:
            self._skipping()
            skipped += a.skip_to_quality(minquality)
        if b.is_active() and b.block_quality() < minquality:
            skipped += b.skip_to_quality(minquality)
        return skipped

    def _scorer(self):
        """The matcher that scores the current posting: a, the check, or b."""
        a, here = self.a, self.id()
        if a.is_active() and a.id() == here:
            return a
        check = self.check
        if check is None:
            return self.b  # a never skipped: what it has passed it does not hold
        if check.is_active() and check.id() < here:
            check.skip_to(here)
        if check.is_active() and check.id() == here:
            return check
        return self.b

    def score(self):
        return self._scorer().score()

    def weight(self):
        return self._scorer().weight()

    def spans(self):
        return self._scorer().spans()


class Compiler:
    """Turns a query tree into a whoosh query against one open index.

    Also collects the terms to highlight in snippets (those outside NOT).
    """

    def __init__(self, searcher, aliases: Callable[[str], tuple[str, ...]] | None = None):
        self.searcher = searcher
        self.reader = reader = searcher.reader()
        self.terms: set[str] = set()
        self.loose: set[str] = set()
        """Terms to highlight only when none of :attr:`terms` is in a snippet: the longer words
        a query word begins (normalization for norm)."""
        self.vocabulary = vocabulary(reader)
        self.aliases = aliases or (lambda _text: ())
        self.expanded: dict[str, tuple[str, ...]] = {}
        """Query term → the other names it was also searched as (shown with a hit)."""

    def compile(self, node: Node) -> wq.Query:
        q = self.compile_part(node)
        if q is None:
            raise QueryError("nothing to search for: the query has no words kb indexes")
        if isinstance(q, wq.Not):
            q = wq.And([wq.Every(), q])
        return q

    def compile_part(self, node: Node):
        """The whoosh query for a node, or None when it holds no word kb indexes."""
        return self._node(node, negated=False)

    def _node(self, node: Node, negated: bool, fields: dict[str, float] | None = None):
        fields = fields or FIELD_BOOSTS
        if isinstance(node, Text):
            return self._text(node, fields, negated)
        if isinstance(node, Not):
            child = self._node(node.child, True, fields)
            return None if child is None else wq.Not(child)
        if isinstance(node, Filter):
            return self._filter(node, negated)
        if isinstance(node, And) and fields is FIELD_BOOSTS and not negated:
            children = self._and_children(node.children)
        else:
            children = [
                c
                for c in (self._node(ch, negated, fields) for ch in node.children)
                if c is not None
            ]
        if not children:
            return None
        if len(children) == 1 and not isinstance(node, And):
            return children[0]
        if isinstance(node, Or):
            return wq.Or(children)
        if all(isinstance(c, wq.Not) for c in children):
            children.insert(0, wq.Every())
        # (one child: a run of words that is a name, found by its other names too)
        q = children[0] if len(children) == 1 else wq.And(children)
        plain = [c.text for c in node.children if isinstance(c, Text) and c.kind == "word"]
        if len(plain) > 1 and fields is FIELD_BOOSTS and not negated:
            # Words side by side rank above the same words far apart.
            near = self._phrase(analysis.words(" ".join(plain), self.vocabulary), fields, boost=0.5)
            if near is not None:
                q = wq.AndMaybe(q, near)
        return q

    def _and_children(self, nodes: tuple[Node, ...]) -> list:
        """The queries of ANDed nodes, a run of plain words that is a name the vault glosses
        (``batch normalization`` = 批归一化) also found by its other names."""
        out = []
        i = 0
        while i < len(nodes):
            for size in range(min(MAX_ALIAS_SPAN, len(nodes) - i), 1, -1):
                span = nodes[i : i + size]
                if not all(isinstance(n, Text) and n.kind == "word" for n in span):
                    continue
                text = " ".join(n.text for n in span)  # type: ignore[union-attr]
                names = self.aliases(text)
                if not names:
                    continue
                words = [self._node(n, False) for n in span]
                same = wq.And([w for w in words if w is not None])
                others = self._alias_queries(text, names, FIELD_BOOSTS)
                out.append(wq.Or([same, *others]))
                i += size
                break
            else:
                q = self._node(nodes[i], False)
                if q is not None:
                    out.append(q)
                i += 1
        return out

    def _alias_queries(self, text: str, names: tuple[str, ...], fields: dict[str, float]):
        """A query for each other name of ``text`` (all its words, weighted down), their words
        kept to highlight. Not a phrase: a phrase over common words (机器 学习 梯度) walks their
        positions in every section holding them, too slow for an extra."""
        out = []
        for name in names:
            words = analysis.query_words(name, self.vocabulary)
            parts = [p for w in words for p in w.parts]
            if not parts:
                continue
            whole = "".join(parts) if all(w.cjk for w in words) else ""
            if whole and any((f, whole) in self.reader for f in fields):
                parts = [whole]  # 学习率 is a word of the index: one term, not 学习 + 率
            # Only the fields holding every word of the name: a field without one cannot
            # match, and its matcher would still read the other words' postings (数学 of
            # 数学变换器 in every section saying 数学).
            held = {f: b for f, b in fields.items() if all((f, p) in self.reader for p in parts)}
            if not held or (len(parts) > 1 and self._common(parts)):
                continue
            if len(parts) == 1:
                q = wq.Or([wq.Term(f, parts[0], boost=b * ALIAS_BOOST) for f, b in held.items()])
            else:
                q = wq.Or(
                    [
                        wq.And([wq.Term(f, p) for p in parts], boost=b * ALIAS_BOOST)
                        for f, b in held.items()
                    ]
                )
            self._keep_words(words, False)
            out.append(q)
        if out:
            self.expanded[text] = names
        return out

    def _common(self, parts: list[str]) -> bool:
        """True when even the rarest word of an other name is in more than
        :data:`ALIAS_COMMON_SHARE` of the sections: matching it would score a good part of the
        vault (机器 学习 梯度), so that name is not searched for."""
        reader = self.reader
        rarest = min(reader.doc_frequency("body", p) for p in parts)
        return rarest > ALIAS_COMMON_SHARE * max(reader.doc_count(), 1)

    def _keep(self, terms: Iterable[str], negated: bool) -> None:
        if not negated:
            self.terms.update(terms)

    def _keep_words(self, words: list[analysis.Word], negated: bool) -> None:
        """Keep query words to highlight: a Chinese word whole, never its parts alone (函数 of
        激活函数 would light up unrelated text)."""
        if negated:
            return
        for w in words:
            if w.cjk and len(w.parts) > 1:
                self.terms.add("".join(w.parts))
            else:
                self.terms.update(w.parts)

    def _word_prefixes(self, raw: str, fields: dict[str, float]) -> dict[str, tuple[str, ...]]:
        """Index words that ``raw`` (a folded query word) begins, but ``raw`` itself, each with
        the fields to look for it in: at most :data:`MAX_WORD_PREFIXES`, those in the most
        sections. Names and headings for every word; body text too for a Chinese word, where
        the body word is in more sections than ``raw`` (归一 → 归一化: jieba cut the notes into
        longer words than the query's). A body word in fewer is mostly found already: the
        notes' long words are indexed with the dictionary words inside them (卷积 of 卷积层)."""
        cjk = analysis.has_cjk(raw)
        if cjk:
            if len(raw) < 2:
                return {}
        elif len(raw) < MIN_WORD_PREFIX or not raw.isalpha():
            return {}
        else:
            stemmed = analysis.stem(raw)
            raw = stemmed if len(stemmed) < len(raw) else raw
        reader = self.reader
        sections: dict[str, int] = {}
        for f in PREFIX_FIELDS:
            if f in fields:
                for word, n in prefix_counts(reader, f, raw, MAX_WORD_PREFIX_SCAN).items():
                    if word != raw:
                        sections[word] = sections.get(word, 0) + n
        body: set[str] = set()
        if cjk and "body" in fields:
            itself = reader.doc_frequency("body", raw)
            for word, n in prefix_counts(reader, "body", raw, MAX_WORD_PREFIX_SCAN).items():
                if word != raw and n > itself:
                    sections[word] = sections.get(word, 0) + n
                    body.add(word)
        found = sorted(sections, key=lambda w: (-sections[w], w))[:MAX_WORD_PREFIXES]
        return {w: (*PREFIX_FIELDS, "body") if w in body else PREFIX_FIELDS for w in found}

    def _prefix_alternatives(self, words: list[analysis.Word], fields: dict[str, float]):
        """Term queries for the index words a one-word query begins (weighted down)."""
        if len(words) != 1:
            return []
        w = words[0]
        raw = "".join(w.parts) if w.cjk else (w.whole or (w.parts[0] if len(w.parts) == 1 else ""))
        if not raw:
            return []
        found = self._word_prefixes(raw, fields)
        # Names and headings, and body text only for the Chinese words above: in body text a
        # common prefix would match most of the vault (normal*), every match scored, for hits
        # the word itself mostly finds already.
        out = [
            wq.Term(f, t, boost=fields[f] * WORD_PREFIX_BOOST)
            for f in fields
            for t, where in found.items()
            if f in where and (f, t) in self.reader
        ]
        if out:
            self.loose.update(found)
        return out

    def _phrase(self, parts: list[str], fields: dict[str, float], boost: float = 1.0):
        if not parts:
            return None
        if len(parts) == 1:
            return wq.Or([wq.Term(f, parts[0], boost=b * boost) for f, b in fields.items()])
        return wq.Or([wq.Phrase(f, parts, boost=b * boost) for f, b in fields.items()])

    def _text(self, node: Text, fields: dict[str, float], negated: bool):
        if node.kind == "prefix":
            return self._prefix(node.text, fields, negated)
        if node.kind == "fuzzy":
            return self._fuzzy(node.text, node.maxdist, fields, negated)
        words = analysis.query_words(node.text, self.vocabulary)
        parts = [p for w in words for p in w.parts]
        if not parts:
            return None
        self._keep_words(words, negated)
        extra: list = []  # the words it begins: only where the word itself is not said
        also: list = []  # its other names: added to the word's score, weighted down
        if fields is FIELD_BOOSTS and not negated:
            if node.kind == "word":
                extra += self._prefix_alternatives(words, fields)
            names = self.aliases(node.text)
            if names:
                also += self._alias_queries(node.text, names, fields)
        if node.kind == "phrase" or len(parts) == 1:
            q = _or_else(self._phrase(parts, fields), extra)
            return wq.Or([q, *also]) if also else q
        alternatives = []
        for f, b in fields.items():
            alternatives.append(wq.Phrase(f, parts, boost=b))
            if len(words) == 1 and words[0].whole:
                # YOLOv3 written as one word in the note, and Yolo V3 as two.
                alternatives.append(wq.Term(f, words[0].whole, boost=b))
            if any(w.cjk for w in words):
                # jieba may cut the same characters differently in another sentence.
                alternatives.append(wq.And([wq.Term(f, p) for p in parts], boost=b * 0.5))
        if len(words) == 1 and words[0].whole:
            self._keep([words[0].whole], negated)
        q = _or_else(wq.Or(alternatives), extra)
        return wq.Or([q, *also]) if also else q

    def _prefix(self, text: str, fields: dict[str, float], negated: bool):
        raw = re.sub(r"[-_\s]", "", analysis.fold(text))
        if not raw:
            return None
        # The index holds stems: "activat*" must also find "activ" (activation), a stem
        # shorter than the prefix. Porter cuts a few letters at most, so look that far back.
        stems = [
            raw[:n]
            for n in range(max(3, len(raw) - 3), len(raw))
            if raw.isascii() and any((f, raw[:n]) in self.reader for f in fields)
        ]
        words = self._prefix_words(text, raw, fields)
        self._keep(stems, negated)
        self._keep(words[:MAX_EXPANSIONS], negated)
        alternatives = []
        for f, b in fields.items():
            alternatives.extend(wq.Term(f, t, boost=b) for t in words if (f, t) in self.reader)
            alternatives.extend(wq.Term(f, t, boost=b) for t in stems)
        return wq.Or(alternatives)

    def _prefix_words(self, text: str, raw: str, fields: dict[str, float]) -> list[str]:
        """The index words ``raw*`` stands for, at most :data:`MAX_PREFIX_WORDS` of them.

        whoosh's own Prefix takes every word that starts so, in every field: ``a*`` on a big
        vault is a union of thousands of words that ran for minutes. The words found in the
        most sections are kept, and one line says so.
        """
        sections: dict[str, int] = {}
        scanned = False  # stopped counting: so many that counting them would itself take long
        for f in fields:
            counts = prefix_counts(self.reader, f, raw, MAX_PREFIX_SCAN)
            scanned = scanned or len(counts) >= MAX_PREFIX_SCAN
            for word, n in counts.items():
                sections[word] = sections.get(word, 0) + n
        words = sorted(sections, key=lambda w: (-sections[w], w))
        if len(words) > MAX_PREFIX_WORDS:
            many = f"more than {MAX_PREFIX_SCAN}" if scanned else len(words)
            notice(
                f"`{text.rstrip('*')}*` matches {many} words; searched the "
                f"{MAX_PREFIX_WORDS} most common (make the prefix longer to narrow it)"
            )
        return words[:MAX_PREFIX_WORDS]

    @staticmethod
    def _expand(found: Iterable) -> list[str]:
        out = []
        for t in found:
            out.append(t.decode("utf-8") if isinstance(t, bytes) else t)
            if len(out) >= MAX_EXPANSIONS:
                break
        return out

    def _fuzzy(self, text: str, maxdist: int, fields: dict[str, float], negated: bool):
        raw = analysis.fold(text)
        if analysis.has_cjk(raw) or not raw.isalnum():
            return self._text(Text(text), fields, negated)  # edit distance means little there
        targets = sorted({raw, analysis.stem(raw)})
        for t in targets:
            self._keep(
                self._expand(self.reader.terms_within("body", t, maxdist, prefix=1)), negated
            )
        return wq.Or(
            [
                wq.FuzzyTerm(f, t, boost=b, maxdist=maxdist, prefixlength=1)
                for f, b in fields.items()
                for t in targets
            ]
        )

    def _filter(self, node: Filter, negated: bool):
        fieldname = FILTER_FIELDS[node.name]
        if node.name == "section":
            # Scored like words, but weakly: a filter says where, not what.
            return self._node(node.value, True, {fieldname: FILTER_BOOST})
        if node.name == "title":
            titled = self._node(node.value, True, {"title": 1.0, "aliases": 1.0})
            if titled is None:
                return None
            stored = self.reader.stored_fields
            paths = sorted({stored(d)["path"] for d in titled.docs(self.searcher)})
            if not paths:
                return wq.NullQuery
            return wq.Or([wq.Term("path", p, boost=FILTER_BOOST) for p in paths])
        return self._keyword(fieldname, node.value, node.name)

    def _keyword(self, fieldname: str, value: Node, name: str):
        if isinstance(value, Not):
            inner = self._keyword(fieldname, value.child, name)
            return None if inner is None else wq.Not(inner)
        if isinstance(value, (And, Or)):
            children = [
                c
                for c in (self._keyword(fieldname, ch, name) for ch in value.children)
                if c is not None
            ]
            if not children:
                return None
            return (wq.And if isinstance(value, And) else wq.Or)(children)
        if isinstance(value, Filter):
            raise QueryError(f"{name}:{value.name}: … — one filter cannot hold another")
        assert isinstance(value, Text)
        text = analysis.fold(value.text).strip()
        if name == "tag":
            text = tag_key(value.text.strip())
        else:
            text = text.lstrip("/")
            text = text[2:] if text.startswith("./") else text
        if not text:
            raise QueryError(f"{name}: needs a value, e.g. {name}:cnn")
        if name == "path" or value.kind == "prefix":
            return wq.Prefix(fieldname, text, boost=FILTER_BOOST)
        return wq.Term(fieldname, text, boost=FILTER_BOOST)
