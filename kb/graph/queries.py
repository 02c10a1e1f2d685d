"""The graph's queries: finding a topic, its card, paths, neighbourhoods and vault-wide lists.

:class:`KnowledgeGraph` reads the rows of :mod:`kb.graph.db` that a question needs (a card
reads one node's edges and those of its sections; a path search the edges of the nodes it
visits); only :attr:`KnowledgeGraph.graph` loads the whole graph into networkx, for a
whole-vault export. Paths weigh each hop by how sure kb is of the connection
(:data:`PATH_WEIGHT`).
"""

from __future__ import annotations

import difflib
import heapq
import math
import re
from bisect import insort
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from kb.concepts import bounded, concept_key
from kb.errors import TopicNotFound
from kb.graph.db import Damaged
from kb.nodes import EDGES, SAID_WITH, missing_id, note_id, tag_chain, tag_id
from kb.text import has_cjk
from kb.topicnames import best_match, compact, lookup_keys, name_weight, specificity

_INF = float("inf")
_NONE: frozenset[str] = frozenset()
_DIGITS = re.compile(r"(\d+)")


@lru_cache(maxsize=1 << 16)
def _natural(node: str) -> tuple:
    """A node id's sort key with its numbers as numbers (``#57`` before ``#249``)."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(node))


if TYPE_CHECKING:
    import networkx as nx

    from kb.checks import CachedResolver
    from kb.graph.db import GraphDB
    from kb.resolve import Resolver

NEAR_TYPO = 0.85
PREFIX_MIN = 3
"""The last word typed is read as the start of a longer one (``conv``, ``regul``) for "did you
mean" when it has this many letters or more."""
"""How alike (difflib's ratio) a name must be to what was typed to be suggested before the
names that hold it: ``bottlenek``/``bottleneck`` 0.95, ``attention``/``generation`` 0.63."""

PATH_WEIGHT = {k: e.cost for k, e in EDGES.items()} | {SAID_WITH: EDGES["mentions"].cost}
"""Cost of a hop between two topics for ``kb path`` (:attr:`kb.nodes.EdgeKind.cost`)."""
HEAD_WORDS_ZH = ("层", "函数", "模型", "网络", "算法", "方法", "法", "参数", "机制", "损失")
"""Words a Chinese name may end with or not (``1×1卷积`` finds ``1×1卷积层``, ``温度参数``
finds ``温度``)."""


HEADED_LATIN_ZH = ("回归", "运算", "函数", "层", "模型", "网络", "算法", "机制")
HEADED_LATIN_EN = ("function", "operation", "regression", "layer", "model", "network")
"""What a Latin name may be followed by as a topic (``softmax`` finds ``softmax回归`` or
``softmax function``): a kind of thing the name stands for."""


def _with_or_without_head(key: str) -> list[str]:
    """``key`` with each head word of :data:`HEAD_WORDS_ZH` added, or without the one it ends
    with (a Chinese name); a Latin name with a head word of :data:`HEADED_LATIN_ZH` or
    :data:`HEADED_LATIN_EN` after it."""
    if not has_cjk(key):
        if not re.fullmatch(r"[a-z][a-z0-9-]*", key):
            return []
        return [key + h for h in HEADED_LATIN_ZH] + [f"{key} {h}" for h in HEADED_LATIN_EN]
    if key in HEAD_WORDS_ZH:
        return []  # (模型 is not 模型参数: a head word names a kind, not each thing of it)
    out = [key + head for head in HEAD_WORDS_ZH]
    out += [key[: -len(h)] for h in HEAD_WORDS_ZH if key.endswith(h) and len(key) > len(h) + 1]
    return out


RELATED_SHOWN = 15
"""How many related topics a card lists."""
RELATED_EVIDENCE = 3
"""Places quoted for each related topic."""
LINK_FACTOR = 2.0
"""A link the user wrote counts this many times a mention kb found."""
INCOMING_FACTOR = 0.5
"""What another topic says of this one counts this much of what this one says of it."""
RELATED_PLACES = 5
"""Places beyond this many add nothing more (a long note is not more related for length)."""
RELATED_BATCH = 32
"""Candidates of the related list weighed by the first query (each next query twice as many)."""
RELATED_CUT = 0.2
"""Related topics weighing less than this share of the first are not listed."""
GENERIC_RARITY = 0.3
"""A topic whose name's rarity (inverse document frequency over the notes that say it, 0–1)
is below this is generic: a path through it is weak (d2l-zh: 向量 0.15, 矩阵 0.29; 卷积层
0.31 and 过拟合 0.46 are not)."""
GENERIC_NOTES = 10
"""…and only when at least this many notes say it: in a small vault every name is common."""
RELATED_FILL = 5
"""A weak relation (one place of another topic's that names this one in passing) is listed
only while fewer than this many others are."""
"""Places beyond this many add nothing more (a long note is not more related for length)."""


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a path, with the edge as it really points (``source`` → ``target``)."""

    source: str
    """The topic the edge starts from."""
    target: str
    """The topic it points to."""
    kind: str
    path: str | None
    line: int | None
    text: str
    forward: bool
    """True when the walk goes from ``source`` to ``target``; False when it goes against
    the edge (``A ←mentions– B``)."""
    via_source: str = ""
    via_target: str = ""
    """The nodes of the edge itself (a section holding the sentence, say)."""


@dataclass(frozen=True, slots=True)
class TagCount:
    """A tag and how many notes carry it or one of its nested tags."""

    name: str
    notes: int
    depth: int
    """0 for ``ml``, 1 for ``ml/cnn``…"""


LINK_KINDS = tuple(k for k, e in EDGES.items() if e.link)

_HopRow = tuple[str, str, str, "str | None", "int | None", bool, str, str, "str | None", str]
"""A :class:`Hop` without its sentence: (source, target, kind, path, line, forward,
via_source, via_target, key, raw kind); a said-with hop has no key and its sentence in the
last place."""

_KIND_ORDER = {k: e.rank for k, e in EDGES.items()} | {SAID_WITH: len(EDGES)}


def _as_vault_path(topic: str) -> str:
    """A path as a shell gives it (``./topics/ReLU.md``, ``topics\\ReLU``) as a vault path."""
    path = topic.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:].lstrip("/")
    return path


class KnowledgeGraph:
    """The concept graph of a vault and the questions kb asks of it."""

    def __init__(self, db: GraphDB):
        self.db = db
        self._attrs: dict[str, dict | None] = {}
        self._about: dict[str, str | None] = {}
        self._resolver: CachedResolver | None = None
        self._whole: nx.MultiDiGraph | None = None
        self._hops: dict[str, list[_HopRow]] = {}
        self._best: dict[str, dict[str, tuple[float, _HopRow]]] = {}
        self._said: dict[str, list[tuple[str, str, str | None, int | None, str]]] = {}
        self._cost_cache: dict[str, dict[str, float]] = {}
        self._topic_cache: dict[str, str] = {}
        self._ties: dict[str, dict[str, int]] = {}

    # -- nodes ------------------------------------------------------------------
    def node(self, node: str) -> dict:
        """A node's attributes (kind, label, path, line, heading, snippet, tags)."""
        attrs = self._attrs.get(node)
        if attrs is None:
            attrs = self._attrs[node] = self.db.node(node)
            if attrs is None:
                # every node a query reaches comes from a row that names it
                raise Damaged(f"is damaged (it names {node[:80]!r} but does not hold it)")
        return attrs

    def prefetch(self, nodes: Iterable[str]) -> None:
        """Read the attributes of many nodes at once (a card reaches thousands)."""
        missing = {n for n in nodes if n not in self._attrs}
        if missing:
            found = self.db.nodes(missing)
            for n in missing:
                self._attrs[n] = found.get(n)

    def briefs(self, nodes: Iterable[str]) -> dict[str, tuple[str, str, str | None, int | None]]:
        """{node: (kind, label as :meth:`label` shows it, path, line)} of ``nodes`` (each one
        the graph must hold, as for :meth:`node`): a light read for lists of thousands of
        topics (a section's label needs its heading: its attributes are read whole)."""
        nodes = list(dict.fromkeys(nodes))
        known = {n: a for n in nodes if (a := self._attrs.get(n)) is not None}
        out = {n: (a["kind"], a["label"], a["path"], a["line"]) for n, a in known.items()}
        out.update(self.db.briefs(n for n in nodes if n not in known))
        for n in nodes:
            if n not in out:  # (as :meth:`node` says it)
                raise Damaged(f"is damaged (it names {n[:80]!r} but does not hold it)")
        sections = [n for n, b in out.items() if b[0] == "section"]
        if sections:
            self.prefetch(sections)
            for n in sections:
                out[n] = (out[n][0], self.label(n), out[n][2], out[n][3])
        return out

    def has(self, node: str) -> bool:
        if node in self._attrs:
            return self._attrs[node] is not None
        return self.db.has(node)

    def number_of_nodes(self) -> int:
        return self.db.number_of_nodes()

    def number_of_edges(self) -> int:
        return self.db.number_of_edges()

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The whole graph as a networkx MultiDiGraph (read-only): for a whole-vault export
        and for tests. Queries never need it."""
        if self._whole is None:
            import networkx

            G = networkx.MultiDiGraph()
            G.add_nodes_from(self.db.all_nodes())
            G.add_edges_from(self.db.all_edges())
            self._whole = G
        return self._whole

    # -- finding things ------------------------------------------------------
    def find(self, topic: str) -> str:
        """Node id of a topic: a node id, ``#tag``/``tag:x``, a note path, title or alias, or a
        concept name. Raises TopicNotFound (with suggestions) when unknown or ambiguous."""
        return self.find_named(topic)[0]

    def find_named(self, topic: str) -> tuple[str, list[str]]:
        """:meth:`find`, with the other notes the name also names (a note of the same title
        elsewhere), for the card to say: of several, the one a person means is picked
        (:meth:`_one_named`); only a tie is ambiguous."""
        t = topic.strip()
        if t and self.has(t):
            return t, []
        if t.startswith(("#", "tag:")):
            name = t[1:] if t.startswith("#") else t[4:]
            node = tag_id(name.strip("/"))
            if self.has(node):
                return node, []
            raise TopicNotFound(topic, self.suggestions(topic))
        as_path = _as_vault_path(t)
        resolver = self._resolver_for(t, as_path)
        res = resolver.resolve(t)
        if res.path is None and as_path != t:
            res = resolver.resolve(as_path)
        if res.path is not None:
            if res.ambiguous and res.via in ("name", "alias"):
                return self._one_named(topic, list(res.candidates))
            return note_id(res.path), []
        for key in lookup_keys(t):
            found = self.db.target(key)
            if found is not None and self.has(found[0]):
                node, named = found
                if len(named) > 1 and node.startswith("note:"):
                    return self._one_named(topic, named)
                return node, []
        keys = lookup_keys(t)
        for key in keys:
            found = sorted({n for n in self.db.by_compact(compact(key)) if self.has(n)})
            if found:
                return best_match(found, {n: self.db.degree(n) for n in found}) or found[0], []
        # then the same name with a head word (1×1卷积 → 1×1卷积层, softmax → softmax回归):
        # of all such topics, the best connected
        headed = {
            n
            for key in _with_or_without_head(keys[0] if keys else "")
            for n in self.db.by_compact(compact(key))
            if self.has(n)
        }
        if headed:
            found = sorted(headed)
            return best_match(found, {n: self.db.degree(n) for n in found}) or found[0], []
        for key in keys:  # a name shown on a card but not matched in text (比特（bit）)
            found = sorted({n for n in self.db.by_display(key) if self.has(n)})
            if found:
                return best_match(found, {n: self.db.degree(n) for n in found}) or found[0], []
        for node in (missing_id(t), tag_id(t)):
            if self.has(node):
                return node, []
        raise TopicNotFound(topic, self.suggestions(topic))

    def _one_named(self, topic: str, paths: list[str]) -> tuple[str, list[str]]:
        """Of the notes one name names (``paths``, in Obsidian's order: shallowest, shortest),
        the one a person means, with the others: the note whose file name says it (not only
        its title or an alias: ``weight-decay.md`` before ``weight-decay_origin.md`` titled
        Weight Decay), then one that says things before a table of contents or a chapter
        index titled alike, then the better connected. A tie is ambiguous (TopicNotFound)."""
        keys = set(lookup_keys(topic))
        listing = {p for p, f in self.db.facts(paths).items() if f.listing}

        def rank(path: str) -> tuple:
            stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            said = bool(keys & set(lookup_keys(stem)))
            return (path in listing, not said, -self.db.degree(note_id(path)))

        ranked = sorted(paths, key=rank)  # (stable: Obsidian's order within a rank)
        if rank(ranked[0]) == rank(ranked[1]):
            raise TopicNotFound(topic, paths, ambiguous=True)
        return note_id(ranked[0]), ranked[1:]

    def suggestions(self, topic: str, n: int = 5) -> list[str]:
        """Names close to ``topic``, for "did you mean": names spelled nearly alike in the same
        script and shape, then names holding it whole (a Latin query as a word). An acronym
        suggests acronyms with its first letter (``SVM``: ``Linear SVM``, never ``CSV``, two
        capitals in common being another name, not a typo)."""
        from kb.text import same_sound
        from kb.topicnames import is_acronym

        names: dict[str, str] = {}
        for _, name in self.db.all_display():
            names.setdefault(name.casefold(), name)
        for node in self.db.nodes_of_kind("tag"):
            names.setdefault(node[3:].replace(":", "#", 1).casefold(), "#" + node[4:])
        typed = topic.strip().lstrip("#")
        query = typed.casefold()
        if not query:
            return []
        acronym = is_acronym(typed)

        def alike(key: str) -> bool:
            name = names[key].lstrip("#")
            if has_cjk(key) != has_cjk(query):
                return False  # 知识蒸溜 → 知识蒸馏; a Latin typo is not a Chinese name
            if acronym:  # (typed in lower case, an acronym may be meant: relus → ReLU)
                return is_acronym(name) and key[0] == query[0]
            return True

        close = difflib.get_close_matches(query, list(names), n=4 * n, cutoff=0.6)
        close = [k for k in close if alike(k)][:n]
        # A name holding what was typed (attention: Attention-based Model) tells more than one
        # spelled a little alike (Generation); a near spelling (bottlenek) comes first.
        near = [k for k in close if difflib.SequenceMatcher(None, query, k).ratio() >= NEAR_TYPO]
        if has_cjk(query):
            holds = sorted((k for k in names if query in k), key=len)
        else:
            # A name holding it as words first, then one whose word it begins, cut short
            # (``1x1 conv``: 1x1 Convolutional Layer).
            at = rf"(?<![a-z0-9]){re.escape(query)}"
            whole, begun = re.compile(at + "(?![a-z0-9])"), re.compile(at)
            short = len(query.split()[-1]) < PREFIX_MIN
            holds = sorted(
                (k for k in names if (whole if short else begun).search(k)),
                key=lambda k: (not whole.search(k), len(k)),
            )
        inside = holds[:n]
        # A Chinese name read as typed is the likeliest meaning: an input method's wrong pick.
        sounds = sorted(same_sound(query, names))[:n] if has_cjk(query) else []
        out = list(dict.fromkeys(names[k] for k in sounds + near + inside + close))
        return out[:n]

    def resolver(self) -> CachedResolver:
        """Link resolution over the graph's notes (what kb.checks needs)."""
        if self._resolver is None:
            from kb.checks import CachedResolver
            from kb.model import Note
            from kb.resolve import Resolver

            self._resolver = CachedResolver(
                Resolver(Note(path=p, title="", aliases=a) for p, a in self.db.signature())
            )
        return self._resolver

    def _resolver_for(self, *names: str) -> Resolver:
        """Link resolution of ``names`` over only the notes they can find (by file name or
        alias): the whole vault's resolver is not built for one lookup."""
        from kb.model import Note
        from kb.resolve import Resolver, looked_up

        keys = set().union(*(looked_up(n) for n in names))
        return Resolver(Note(path=p, title="", aliases=a) for p, a in self.db.notes_named(keys))

    def label(self, node: str) -> str:
        """How a node is shown: its label; a section with its note's title in front."""
        attrs = self.node(node)
        if attrs["kind"] == "section":
            return " › ".join(attrs["heading"])
        return attrs["label"]

    def about(self, section: str) -> str | None:
        """The node a section's title names (its concept or note), if any."""
        if section not in self._about:
            self._about[section] = self.db.about(section)
        return self._about[section]

    def _prefetch_about(self, nodes: Iterable[str]) -> None:
        """What the sections (and any other nodes) among ``nodes`` are about, in one query per
        500 (a card asks it of each end of thousands of edges)."""
        missing = {s for s in nodes if s not in self._about}
        if missing:
            found = self.db.abouts(missing)
            for s in missing:
                self._about[s] = found.get(s)

    # -- cards ------------------------------------------------------------------
    def outline(self, node: str) -> list[str]:
        """A note and all its sections, in outline order."""
        out = [node]
        level = [node]
        while level:  # (a level at a time: a long note has hundreds of sections)
            edges = self.db.out_edges_of(level)
            below = [
                [
                    v
                    for _, v, _, d in edges[n]
                    if d["kind"] == "contains" and v.startswith("section:")
                ]
                for n in level
            ]
            self.prefetch(v for children in below for v in children)
            level = [
                v
                for children in below
                for v in sorted(children, key=lambda v: self.node(v)["line"] or 0)
            ]
            out.extend(level)
        return out

    def own_nodes(self, node: str) -> list[str]:
        """The nodes that speak for ``node``: a note and its sections; the sections a
        concept's name heads (a section that glosses a term in passing says other things:
        d2l's LeNet intro glosses 支持向量机 and speaks of ATMs); otherwise the node itself."""
        attrs = self.node(node)
        if attrs["kind"] == "note":
            return self.outline(node)
        if attrs["kind"] == "concept":
            return [node] + self.db.defines(node, headings=True)
        return [node]

    def card(self, node: str, related: int = RELATED_SHOWN) -> dict:
        """Everything kb knows about a node, JSON-ready (see ``kb show --json``), with its
        ``related`` most related topics (0: all of them)."""
        attrs = self.node(node)
        label_key = concept_key(attrs["label"])
        aliases = [name for key, name in self.db.display(node).items() if key != label_key]
        scope = self.own_nodes(node)
        self._prefetch_about(scope)
        concept = attrs["kind"] == "concept"
        defined = [
            {
                "path": self.node(s)["path"],
                "line": self.node(s)["line"],
                "heading": self.node(s)["heading"],
            }
            for s in ([node, *self.db.defines(node)] if concept else scope)
            if (s == node and attrs["kind"] == "note")
            or (s != node and (concept or self.about(s) == node))
        ]  # (a concept is defined where its name heads a section or a marked term says it)
        incoming = self.db.in_edges(node)
        outgoing = self.db.out_edges(node)
        scope_out = self.db.out_edges_of(s for s in scope if s != node)
        scope_out[node] = outgoing
        ends = [u for u, *_ in incoming] + [v for edges in scope_out.values() for _, v, *_ in edges]
        self.prefetch(ends)
        self._prefetch_about([*scope, *ends])
        for u, _, _, d in incoming:
            if d["kind"] in ("about", "mentions") and self.about(u) == node and u not in scope:
                n = self.node(u)
                defined.append({"path": n["path"], "line": n["line"], "heading": n["heading"]})
        links_out, mentions_out = [], []
        for s in scope:
            for _, v, _, d in scope_out[s]:
                entry = {
                    "target": self.label(v),
                    "id": v,
                    "kind": d["kind"],
                    "path": self.node(v)["path"],
                    "line": d["line"],
                    "source": d["path"],
                    "context": d["text"],
                }
                if d["kind"] in ("links_to", "embeds"):
                    links_out.append(entry)
                elif d["kind"] == "mentions" and v != node and v not in scope:
                    if self.about(s) != v:  # a section's own subject is not a mention of it
                        mentions_out.append(entry)
        backlinks, mentions_in = [], []
        for u, _, _, d in incoming:
            entry = {
                "source": u,
                "label": self.label(u),
                "path": d["path"],
                "line": d["line"],
                "context": d["text"],
            }
            if d["kind"] in ("links_to", "embeds"):
                backlinks.append({**entry, "kind": d["kind"]})
            elif d["kind"] == "mentions" and self.about(u) != node:
                mentions_in.append(entry)  # (a section about this topic is in defined_in)
        at_home = self._home_paths(node) if concept else None
        parents = self._relatives(node, incoming, 0, at_home)
        children = self._relatives(node, outgoing, 1, at_home)
        by_place = lambda e: (e["path"] or "", e["line"] or 0, e.get("target", ""))  # noqa: E731
        card = {
            "id": node,
            "label": attrs["label"],
            "kind": attrs["kind"],
            "path": attrs["path"],
            "line": attrs["line"],
            "heading": attrs["heading"],
            "snippet": attrs["snippet"],
            "aliases": aliases,
            "tags": attrs["tags"],
            "defined_in": _distinct(sorted(defined, key=lambda e: (e["path"], e["line"]))),
            "parents": parents,
            "children": children,
            "links_out": sorted(links_out, key=lambda e: (e["source"] or "", e["line"] or 0)),
            "backlinks": sorted(backlinks, key=by_place),
            "unlinked_mentions": sorted(mentions_in, key=by_place),
            "mentions_out": _distinct(
                sorted(mentions_out, key=lambda e: (e["source"] or "", e["line"] or 0, e["id"])),
                lambda e: (e["id"], e["source"], e["line"]),
            ),
        }
        card["related"], rank = self._related(node, card, related)
        # Most related first (then by place): the lists a person reads top down.
        last = len(rank)

        def by_rank(key: str, other) -> None:
            card[key].sort(key=lambda e: rank.get(other(e), last))  # (stable: places kept)

        by_rank("mentions_out", lambda e: e["id"])
        by_rank("links_out", lambda e: e["id"])
        by_rank("unlinked_mentions", lambda e: self._topic_of(e["source"]))
        by_rank("backlinks", lambda e: self._topic_of(e["source"]))
        if attrs["kind"] == "tag":
            card["notes"] = sorted({d["path"] for _, _, _, d in incoming if d["kind"] == "tagged"})
        # Evidence as one sentence, or the clauses of a long one around a name it says.
        own = (attrs["label"], *aliases)
        for key, other in (("mentions_out", "target"), ("links_out", "target")):
            for e in card[key]:
                e["context"] = bounded(e["context"], (e[other], *own))
        for key in ("backlinks", "unlinked_mentions"):
            for e in card[key]:
                e["context"] = bounded(e["context"], own)
        for r in card["related"]:
            for e in r["evidence"]:
                e["text"] = bounded(e["text"], (r["label"], *own))
        return card

    def _related(
        self, node: str, card: dict, limit: int = RELATED_SHOWN
    ) -> tuple[list[dict], dict[str, int]]:
        """The topics most related to ``node``, most related first, each weighed by what says
        them together, per distinct place (at most :data:`RELATED_PLACES` count):

        - where a sentence *names* both (``node``'s places mention it; a sentence that
          mentions ``node`` names it too), the place weighs the other name's weight
          (:func:`kb.topicnames.name_weight`: a rare, specific name says more than 向量);
        - where the other is the *place* (a section about it, or its note, mentions ``node``;
          a child heading), the place weighs the other's specificity alone: its name is not
          in the sentence, so how often the vault says it tells nothing of the relation.

        A link the user wrote counts :data:`LINK_FACTOR` times; what another topic's place
        says of ``node`` counts :data:`INCOMING_FACTOR`. Topics weighing less than
        :data:`RELATED_CUT` of the first are cut: one passing mention in another topic's
        section is not a relation a reader would name.

        Also returns every candidate's rank: those weighed by weight, then the rest by the
        bound of their weight (each below the weights shown)."""
        # other → {place: [text, factor, named]}
        places: dict[str, dict[tuple, list]] = defaultdict(dict)
        said: list[tuple[str | None, dict, str, float, bool]] = []
        for e in card["mentions_out"]:
            said.append(
                (e["id"], {"path": e["source"], "line": e["line"]}, e["context"], 1.0, True)
            )
        for e in card["links_out"]:
            where = {"path": e["source"], "line": e["line"]}
            said.append((e["id"], where, e["context"], LINK_FACTOR, False))
        # What others say of it tells less than what it says; the place's topic and its note
        # both are the other (a section of dropout.md about 扰动的稳健性 speaks for both).
        for e in card["unlinked_mentions"]:
            for other in self._place_topics(e["source"]):
                said.append((other, e, e["context"], INCOMING_FACTOR, False))
        for e in card["backlinks"]:
            for other in self._place_topics(e["source"]):
                said.append((other, e, e["context"], LINK_FACTOR * INCOMING_FACTOR, False))
        for c in card["children"]:
            n = self.node(c["id"])
            # (a heading that says nothing under it: its place in the outline is the evidence)
            text = n["snippet"] or f"{card['label']} › {c['label']}"
            said.append((c["id"], {"path": n["path"], "line": n["line"]}, text, 1.0, False))
        # A sentence that mentions this topic and another names both: ``Dropout可以用来减少
        # 过拟合`` relates Dropout, whatever the section is about; said so once, it counts as
        # what another topic says of it.
        together = self._said_with(node)
        pairs = Counter(other for _, other, *_ in together)
        for _, other, path, line, text in together:
            factor = 1.0 if pairs[other] > 1 else INCOMING_FACTOR  # (a pairing that recurs)
            said.append((other, {"path": path, "line": line}, text, factor, True))
        # The topics met, read at once (a busy topic meets thousands); [[relu]] where no note
        # is so named, but a topic is: that topic is related.
        # (kind, label) of each, in one light query: a busy topic's candidates are notes by
        # the thousand, whose snippets and headings the list never shows
        brief = self.db.briefs(other for other, *_ in said if other)
        missing = {o for o in brief if o.startswith("missing:")}
        named = self.db.targets(concept_key(brief[o][1]) for o in missing)
        brief.update(self.db.briefs(n for n in named.values() if n not in brief))
        instead = {}
        for o in missing:
            found = named.get(concept_key(brief[o][1]))
            instead[o] = found if found is not None and found in brief else o
        for other, e, text, weight, says in said:
            other = instead.get(other, other) if other else other
            if not other or other == node or other not in brief:
                continue
            if brief[other][0] in ("section", "tag", "missing"):
                continue  # (a link to no note that no topic is named for: under links out)
            where = (e.get("path") or e.get("source") or "", e.get("line") or 0)
            at = places[other].setdefault(where, [text, 0.0, False])
            at[1] = max(at[1], weight)
            at[2] = at[2] or says
        if not places:
            return [], {}
        notes = max(1, self.db.count())
        # A name's rarity is at most 1, so specificity × the places' factors bounds its
        # weight: candidates are weighed, best bound first, until the ``limit``-th weight
        # found beats every bound left (a busy topic has thousands). They are read in
        # batches, each twice the one before: a few queries however many candidates there are.
        bounds = []
        for other, where in places.items():
            label = brief[other][1]  # (never a section's: those are no candidates)
            scale = sum(sorted((f for _, f, _ in where.values()), reverse=True)[:RELATED_PLACES])
            bounds.append((specificity(label) * scale + 1e-3, other, label))  # (rounding)
        bounds.sort(key=lambda b: (-b[0], b[1]))
        out: list[dict] = []
        order = lambda e: (-e["weight"], e["label"].casefold(), e["id"])  # noqa: E731
        batch = max(limit, RELATED_BATCH)
        start = 0
        while start < len(bounds):
            if limit and len(out) >= limit and out[limit - 1]["weight"] > bounds[start][0]:
                break
            chunk = bounds[start : start + batch]
            shown = self.db.displays(b[1] for b in chunk)
            df = self.db.notes_saying_each(
                [shown.get(other, {}).keys() | {concept_key(label)} for _, other, label in chunk]
            )
            for (bound, other, label), said_in in zip(chunk, df, strict=True):
                if limit and len(out) >= limit and out[limit - 1]["weight"] > bound:
                    break
                spec = specificity(label)
                rare = name_weight(said_in, notes, label) / spec
                each = sorted(
                    (f * (rare if says else 1.0) for _, f, says in places[other].values()),
                    reverse=True,
                )
                evidence = sorted(
                    (
                        {"path": w[0], "line": w[1], "text": t}
                        for w, (t, *_) in places[other].items()
                    ),
                    key=lambda e: (e["path"], e["line"]),
                )
                item = {
                    "id": other,
                    "label": label,
                    "kind": brief[other][0],
                    "weight": round(spec * sum(each[:RELATED_PLACES]), 4),
                    "evidence": evidence[:RELATED_EVIDENCE],
                }
                # one place of another topic's that says this one in passing: weak
                item["weak"] = len(each) == 1 and max(f for _, f, _ in places[other].values()) < 1
                insort(out, item, key=order)
            start += len(chunk)
            batch *= 2
        if out:
            # Cut by weight; a weak relation is listed only while there are few others.
            floor = out[0]["weight"] * RELATED_CUT
            strong = [e for e in out if e["weight"] >= floor and not e["weak"]]
            room = max(0, RELATED_FILL - len(strong))
            weak = [e for e in out if e["weight"] >= floor and e["weak"]][:room]
            out = sorted(strong + weak, key=order)
            for e in out:
                del e["weak"]
        weighed = {e["id"] for e in out}
        ranked = [e["id"] for e in out] + [b[1] for b in bounds if b[1] not in weighed]
        return (out[:limit] if limit else out), {n: i for i, n in enumerate(ranked)}

    def _place_topics(self, section: str) -> list[str]:
        """The topics a place speaks for: its section's subject and its note."""
        out = [t for t in (self._topic_of(section),) if t]
        path = self.node(section)["path"] if self.has(section) else None
        if path and note_id(path) not in out:
            out.append(note_id(path))
        return out

    def _topic_of(self, node: str) -> str | None:
        """The topic a node stands for: a section's subject, else its note."""
        if not node.startswith("section:"):
            return node
        about = self.about(node)
        if about:
            return about
        path = self.node(node)["path"]
        return note_id(path) if path else None

    def _home_paths(self, concept: str) -> set[str] | None:
        """The notes where a concept's heading is at home: those where it heads a section
        nearest the top of its note (conv-layer.md's ``图像卷积 › 卷积层`` and its English
        twin), not where the same heading text is a part of another topic, deeper down
        (batch-norm.md's ``批量规范化 › 批量规范化层 › 卷积层``: batch norm *for* conv layers).
        None when no heading names it (its parents are its notes')."""
        depths: dict[str, int] = {}
        for s in self.db.defines(concept, headings=True):
            n = self.node(s)
            if n["path"]:
                depths[n["path"]] = min(depths.get(n["path"], 99), len(n["heading"] or ()))
        if not depths:
            return None
        top = min(depths.values())
        return {p for p, d in depths.items() if d == top}

    def _relatives(
        self, node: str, edges: Iterable, end: int, at_home: set[str] | None = None
    ) -> list[dict]:
        """Parents (end=0) or children (end=1) along contains edges. Between notes and
        concepts the outline (note → its sections) is left out: it is the note's own content.
        A concept's nesting counts only in the notes ``at_home`` (:meth:`_home_paths`): one
        heading text in notes about unrelated things gives no parents from everywhere."""
        kind = self.node(node)["kind"]
        out = {}
        for edge in edges:
            d = edge[3]
            other = edge[end]
            if d["kind"] != "contains":
                continue
            if at_home is not None and d["path"] and d["path"] not in at_home:
                continue
            other_kind = self.node(other)["kind"]
            if kind != "section" and other_kind == "section":
                continue
            out[other] = {"id": other, "label": self.label(other), "kind": other_kind}
        return sorted(out.values(), key=lambda e: e["label"].casefold())

    # -- the topic level: paths and neighbourhoods -----------------------------------
    # Paths and neighbourhoods go from topic to topic (notes, concepts, tags, missing link
    # targets). A section is not a stop on the way: it is a place of its topic (the concept
    # or note its title names; else its parent section's topic; else its note's), and its
    # edges are the evidence of its topic's.
    def topic_of(self, node: str) -> str:
        """The topic a node stands for: a section's subject (inherited from the sections
        above it when its title names none), else its note; else the node itself."""
        if not node.startswith("section:"):
            return node
        return self._topics_of({node})[node]

    def _topics_of(self, sections: Iterable[str]) -> dict[str, str]:
        """:meth:`topic_of` of many sections at once (a few queries per outline level)."""
        sections = set(sections)
        cache = self._topic_cache
        want = {s for s in sections if s not in cache}
        about = self.db.abouts(want)
        # for each section still open, the ancestor whose title is asked next
        at = {s: s for s in want if s not in about}
        for s in want:
            if s in about:
                cache[s] = about[s]
        while at:
            up = self.db.parents(set(at.values()))
            higher = {p for p in up.values() if p.startswith("section:") and p not in cache}
            named = self.db.abouts(higher)
            for s, a in list(at.items()):
                p = up.get(a)
                if p is None or not p.startswith("section:"):
                    cache[s] = note_id(_section_path(s))
                elif p in cache or p in named:
                    cache[s] = cache.get(p) or named[p]
                else:
                    at[s] = p
                    continue
                del at[s]
        return {s: cache[s] for s in sections}

    def members(self, topic: str) -> list[str]:
        """The nodes whose edges may be ``topic``'s: the topic; the sections that name it and
        those under them that name nothing; a note's own sections. A section given as the
        topic speaks for itself alone."""
        if topic.startswith("section:"):
            return [topic]
        named = self.db.sections_about(topic)
        out = [topic, *named]
        level = named
        while level:  # the untitled sections under those that name it are its places too
            below = [c for _, c in self.db.children(level)]
            titled = self.db.abouts(below)
            level = [c for c in below if c not in titled]
            out += level
        attrs = self.node(topic)
        if attrs["kind"] == "note" and attrs["path"]:
            out += self.db.sections_of(attrs["path"])
        return list(dict.fromkeys(out))

    def topic_hops(self, topic: str) -> list[Hop]:
        """Every edge between ``topic`` and another topic, as a hop walking from ``topic``.

        An edge's ends are the topics of its nodes (:meth:`topic_of`), except that a written
        link is the note's, whichever of its sections holds it."""
        return self._hops_of(self._hop_rows(topic))

    def _hop_rows(self, topic: str) -> list[_HopRow]:
        """:meth:`topic_hops` as rows without their sentences (read once per topic; a path
        or a neighbourhood ranks them all and shows a few: :meth:`_hops_of`)."""
        cache = self._hops.get(topic)
        if cache is not None:
            return cache
        rows = self.db.edges_touching(self.members(topic))
        end = self._ends(topic, {n for u, v, *_ in rows for n in (u, v)})
        out: list[_HopRow] = []
        for u, v, k, raw, path, line in rows:
            tu, tv = end(u, raw, True), end(v, raw, False)
            if tu == tv or topic not in (tu, tv):
                continue
            kind = _topic_kind(raw, tu, tv, v)
            out.append((tu, tv, kind, path, line, tu == topic, u, v, k, raw))
        for place, other, path, line, text in self._said_with(topic):
            out.append((topic, other, SAID_WITH, path, line, True, place, place, None, text))
        self._hops[topic] = out
        return out

    def _hops_of(self, rows: Iterable[_HopRow]) -> list[Hop]:
        """The hops of :meth:`_hop_rows` rows, with their sentences (read in one query)."""
        rows = list(rows)
        texts = self.db.edge_texts([(r[6], r[7], r[8]) for r in rows if r[8] is not None])
        return [
            Hop(a, b, kind, path, line, texts[(u, v, k)] if k is not None else raw, fwd, u, v)
            for a, b, kind, path, line, fwd, u, v, k, raw in rows
        ]

    def _said_with(self, topic: str) -> list[tuple[str, str, str | None, int | None, str]]:
        """(place, other topic, path, line, sentence) of each sentence that mentions ``topic``
        and another topic, where the place is neither's (a place of either has its own edge)."""
        if topic.startswith("section:"):
            return []
        if topic in self._said:
            return self._said[topic]
        rows = self.db.said_with(topic)
        places = self._topics_of({place for place, *_ in rows if place.startswith("section:")})
        out = []
        for place, other, path, line, text in rows:
            at = places.get(place, place)
            if other != topic and at not in (topic, other) and not other.startswith("section:"):
                out.append((place, other, path, line, text))
        self._said[topic] = out
        return out

    def _ends(self, topic: str | None, nodes: set[str]):
        """The function giving the topic at an end of an edge met from ``topic``."""
        topics = self._topics_of(n for n in nodes if n.startswith("section:"))

        def end(node: str, kind: str, source: bool) -> str:
            if node == topic:
                return topic
            if not node.startswith("section:"):
                return node
            if source and kind in LINK_KINDS:
                return note_id(_section_path(node))
            return topics[node]

        return end

    def _costs(self, topic: str) -> dict[str, float]:
        """The cost of the cheapest hop to each neighbouring topic (what :meth:`_steps` ranks
        first, without reading the evidence of every edge: a busy topic has thousands)."""
        cache = self._cost_cache.get(topic)
        if cache is not None:
            return cache
        best: dict[str, float] = {}
        ties: dict[str, int] = defaultdict(int)
        seen: set[tuple[str, str, str]] = set()  # (the edges of one kind between two nodes once)
        for tu, tv, kind, _, _, _, u, v, k, raw in self._hop_rows(topic):
            if k is None or (u, v, raw) in seen:
                continue  # (a said-with hop: counted below)
            seen.add((u, v, raw))
            other = tv if tu == topic else tu
            ties[other] += 1
            w = _hop_cost(kind, tu)
            if w < best.get(other, _INF):
                best[other] = w
        for _, other, *_ in self._said_with(topic):
            ties[other] += 1
            best[other] = min(best.get(other, _INF), PATH_WEIGHT[SAID_WITH])
        self._cost_cache[topic] = best
        self._ties[topic] = dict(ties)
        return best

    def ties(self, topic: str) -> dict[str, int]:
        """How many edges join ``topic`` to each neighbouring topic (the places that say
        them together, links and headings included)."""
        self._costs(topic)
        return self._ties[topic]

    @staticmethod
    def hop_weight(hop: Hop) -> float:
        """What a hop costs a path (:data:`PATH_WEIGHT`; nested tags cost what a tag does)."""
        return _hop_cost(hop.kind, hop.source)

    def _steps(self, topic: str) -> dict[str, tuple[float, _HopRow]]:
        """The best hop to each neighbouring topic (as a row: :meth:`_hops_of` reads the
        sentences of those shown): cheapest, then by kind, direction and place (the first line
        of the first note)."""
        cache = self._best.get(topic)
        if cache is not None:
            return cache
        best: dict[str, tuple[tuple, _HopRow]] = {}
        for row in self._hop_rows(topic):
            source, target, kind, path, line, forward, u, v = row[:8]
            other = target if forward else source
            rank = (
                _hop_cost(kind, source), _KIND_ORDER.get(kind, len(_KIND_ORDER)), not forward,
                _natural(path or ""), line or 0, u, v,
            )  # fmt: skip
            if other not in best or rank < best[other][0]:
                best[other] = (rank, row)
        out = {other: (rank[0], row) for other, (rank, row) in best.items()}
        self._best[topic] = out
        return out

    def shortest_path(self, a: str, b: str) -> list[Hop] | None:
        """The cheapest path from topic ``a`` to topic ``b``, edges taken both ways (None when
        there is none); each hop joins two topics and carries one place as its evidence.

        A search from both ends at once (each topic it reaches costs a read of its edges, and
        a busy topic has hundreds of neighbours); between paths of one cost found together, the
        one whose topics come first in natural order wins."""
        if a == b:
            return []
        dist = ({a: 0.0}, {b: 0.0})
        prev: tuple[dict[str, str], dict[str, str]] = ({}, {})
        heaps = ([(0.0, _natural(a), a)], [(0.0, _natural(b), b)])
        done: tuple[set[str], set[str]] = (set(), set())
        best = _INF
        best_key: tuple = ()
        meet: tuple[str, str] | None = None  # (forward side's node, backward side's node)

        def chain(side: int, n: str) -> list[str]:
            out = [n]
            while out[-1] in prev[side]:
                out.append(prev[side][out[-1]])
            return out

        while heaps[0] and heaps[1]:
            if heaps[0][0][0] + heaps[1][0][0] >= best - 1e-9:
                break  # (no path left to find is cheaper)
            side = 0 if heaps[0][0][0] <= heaps[1][0][0] else 1
            d, _, n = heapq.heappop(heaps[side])
            if n in done[side]:
                continue
            done[side].add(n)
            other = 1 - side
            for m, w in sorted(self._costs(n).items(), key=lambda mw: _natural(mw[0])):
                if d + w < dist[side].get(m, _INF) - 1e-9 and m not in done[side]:
                    dist[side][m] = d + w
                    prev[side][m] = n
                    heapq.heappush(heaps[side], (d + w, _natural(m), m))
                if m in dist[other]:
                    total = d + w + dist[other][m]
                    if total <= best + 1e-9:
                        ends = (n, m) if side == 0 else (m, n)
                        nodes = chain(0, ends[0])[::-1] + chain(1, ends[1])
                        key = tuple(_natural(x) for x in nodes)
                        if total < best - 1e-9 or key < best_key:
                            best, best_key, meet = total, key, ends
        if meet is None:
            return None
        nodes = chain(0, meet[0])[::-1] + chain(1, meet[1])
        # Each hop as seen walking from a: the best edge from the nearer topic to the next.
        return self._hops_of(self._steps(n)[m][1] for n, m in zip(nodes, nodes[1:], strict=False))

    def path_strength(self, start: str, hops: list[Hop]) -> tuple[list[dict], list[str]]:
        """How much a path found by :meth:`shortest_path` from ``start`` says: per hop its
        cost (what the search paid for it) and strength, and the reasons the path is weak.

        A hop is ``strong`` when the user wrote it (a link, a heading under another: the
        cheapest kinds), ``medium`` when kb found the name in a sentence (a mention, dearer),
        ``weak`` when one sentence only names both topics (said with) or a tag joins them.
        A path is weak where it goes through a generic topic on the way (a name said in many
        notes, :data:`GENERIC_RARITY`: 向量, 矩阵), or where a hop is weak."""
        out: list[dict] = []
        weak: list[str] = []
        at = start
        inner: list[str] = []
        for i, h in enumerate(hops):
            cost = self.hop_weight(h)
            if h.kind == SAID_WITH:
                strength = "weak"
                said = sum(o == h.target for _, o, *_ in self._said_with(h.source)) or 1
                where = (
                    f"{h.path}:{h.line}" if said == 1 else f"{said} places, as {h.path}:{h.line}"
                )
                weak.append(
                    f"{self.label(h.source)} and {self.label(h.target)} are only said together "
                    f"in passing ({where}), never where either is the subject"
                )
            elif cost > PATH_WEIGHT["mentions"]:
                strength = "weak"
                weak.append(f"{self.label(h.source)} and {self.label(h.target)} share a tag")
            elif EDGES.get(h.kind) is not None and cost <= PATH_WEIGHT["links_to"]:
                strength = "strong"
            else:
                strength = "medium"
            out.append({"cost": round(cost, 2), "strength": strength})
            at = h.target if h.source == at else h.source
            if i < len(hops) - 1:
                inner.append(at)
        for topic in self._generic(inner):
            weak.append(f"goes through {self.label(topic)}, a generic topic")
            for hop, e in zip(hops, out, strict=True):
                if topic in (hop.source, hop.target):
                    e["strength"] = "weak"
        return out, weak

    def _generic(self, topics: list[str]) -> list[str]:
        """Those of ``topics`` whose names the vault says in so many notes that a path
        through them says little (:data:`GENERIC_RARITY`, :data:`GENERIC_NOTES`)."""
        topics = [t for t in topics if self.node(t)["kind"] in ("concept", "note")]
        if not topics:
            return []
        notes = max(1, self.db.count())
        shown = self.db.displays(topics)
        df = self.db.notes_saying_each(
            [shown.get(t, {}).keys() | {concept_key(self.label(t))} for t in topics]
        )
        out = []
        for t, n in zip(topics, df, strict=True):
            rarity = math.log((notes + 1) / max(1, n)) / math.log(notes + 1)
            if n >= GENERIC_NOTES and rarity < GENERIC_RARITY:
                out.append(t)
        return out

    def common_neighbours(
        self, a: str, b: str, exclude: Iterable[str] = (), limit: int = 5
    ) -> list[tuple[str, list[Hop]]]:
        """Other places ``a`` and ``b`` are said together: the sections (or notes) whose edge
        joins the two directly, then topics joined to both by one hop (a note that names both,
        say; tags are not places), each with its hops. ``exclude`` holds the path's topics and
        places (``path:line``), which are not repeated."""
        skip = set(exclude) | {a, b}
        out: list[tuple[str, list[_HopRow]]] = []
        direct: dict[str, list[_HopRow]] = {}
        for row in self._hop_rows(a):
            source, target, _, path, line, forward, u, v = row[:8]
            other = target if forward else source
            if other != b or f"{path}:{line}" in skip:
                continue
            place = u if u.startswith("section:") else v
            direct.setdefault(place, []).append(row)
        out += sorted(direct.items(), key=lambda ph: _natural(ph[0]))
        near_a = {m: row for m, (_, row) in self._steps(a).items() if m not in skip}
        for m, (_, row) in sorted(self._steps(b).items(), key=lambda mh: _natural(mh[0])):
            if m in near_a and not m.startswith("tag:"):
                rows = [near_a[m], row]
                if any(f"{r[3]}:{r[4]}" in skip for r in rows):
                    continue  # the path's own sentence again, through a topic it names
                out.append((m, rows))
        out = out[:limit]
        hops = iter(self._hops_of(r for _, rows in out for r in rows))
        return [(m, [next(hops) for _ in rows]) for m, rows in out]

    def neighbourhood(self, node: str, depth: int = 1) -> dict[str, int]:
        """Topics within ``depth`` hops of ``node`` (edges taken both ways), with their
        distance."""
        return {n: d for n, (d, _) in self.neighbours_ranked(node, depth).items()}

    def neighbours_ranked(self, node: str, depth: int = 1) -> dict[str, tuple[int, float]]:
        """Topics within ``depth`` hops of ``node``, each with (distance, strength): how
        closely the topic it was reached from is tied to it (edges between them over the
        cheapest hop's cost: a written link or a heading counts more than a mention)."""
        seen: dict[str, tuple[int, float]] = {node: (0, 0.0)}
        frontier = [node]
        for level in range(1, depth + 1):
            reached: dict[str, float] = {}
            for n in frontier:
                costs, ties = self._costs(n), self.ties(n)
                for m, w in costs.items():
                    if m not in seen:
                        reached[m] = max(reached.get(m, 0.0), ties.get(m, 1) / w)
            for m in sorted(reached, key=_natural):
                seen[m] = (level, round(reached[m], 3))
            frontier = sorted(reached, key=_natural)
        return seen

    def subgraph(self, nodes: Iterable[str]) -> nx.MultiDiGraph:
        """The topic graph among ``nodes`` (for export; treat it as read-only): one edge per
        pair of topics and kind, with its first place as evidence and ``count`` places; each
        note's sections that name no topic of their own hang off it by ``contains``."""
        import networkx

        keep = self._kept(nodes)
        H = networkx.MultiDiGraph()
        H.add_nodes_from(keep.items())
        edges = self._topic_edges(keep)
        self._read_texts(edges.values())
        for (tu, tv, kind), d in edges.items():
            H.add_edge(tu, tv, key=kind, **d)
        self._add_all_sections(H, keep)
        return H

    def nearest(self, node: str, depth: int, most: int) -> tuple[list[str], int]:
        """The ``most`` topics nearest ``node`` within ``depth`` hops (``node`` first, then by
        distance, the most closely tied first: :meth:`neighbours_ranked`), and how many more
        there are."""
        found = self.neighbours_ranked(node, depth)
        ranked = sorted(
            (n for n in found if n != node), key=lambda n: (found[n][0], -found[n][1], _natural(n))
        )
        kept = [node, *ranked[: max(0, most - 1)]] if node in found else ranked[:most]
        return kept, len(found) - len(kept)

    def topic_page(
        self, node: str, depth: int, max_nodes: int, max_edges: int
    ) -> tuple[nx.MultiDiGraph, int, int]:
        """What a topic's HTML page draws: the graph of :meth:`subgraph` among the
        ``max_nodes`` topics nearest ``node`` (:meth:`nearest`), each node keeping its
        strongest edges (those joining the most of the two topics' nodes), at most
        ``max_edges`` in all (:func:`strongest_edges`); with how many
        topics and edges were left out. Sections hang off their notes while nodes are left
        to show (the page hides them until asked)."""
        import networkx

        kept, nodes_out = self.nearest(node, depth, max_nodes)
        keep = self._kept(kept)
        pairs = self._topic_pairs(keep)
        # (ranked by the edges between their nodes, each a place or more: only the edges
        # drawn have their places counted and their sentence read)
        tied = {k: {"kind": k[2], "count": len(edges)} for k, edges in pairs.items()}
        edges = self._aggregate({k: pairs[k] for k in strongest_edges(tied, node, max_edges)})
        self._read_texts(edges.values())
        H = networkx.MultiDiGraph()
        H.add_nodes_from(keep.items())
        for k, d in edges.items():
            H.add_edge(k[0], k[1], key=k[2], **d)
        if len(keep) < max_nodes:
            self._add_all_sections(H, keep)
        if H.number_of_nodes() > max_nodes:  # the sections the page has no room for
            from kb.export import keep_best_connected

            shown = set(keep_best_connected(H, dict(H.degree()), node, max_nodes, ("section",)))
            cut = [n for n in H if n not in shown]
            H.remove_nodes_from(cut)
            nodes_out += len(cut)
        return H, nodes_out, len(pairs) - len(edges)

    def _kept(self, nodes: Iterable[str]) -> dict[str, dict]:
        nodes = list(nodes)
        self.prefetch(nodes)
        return {n: self.node(n) for n in nodes if self.has(n)}

    def _topic_edges(self, keep: dict[str, dict]) -> dict[tuple[str, str, str], dict]:
        """The edges among the topics of ``keep`` (:meth:`_topic_pairs`), each as
        :meth:`_aggregate` gives it."""
        return self._aggregate(self._topic_pairs(keep))

    def _topic_pairs(
        self, keep: dict[str, dict]
    ) -> dict[tuple[str, str, str], set[tuple[str, str, str]]]:
        """{(topic, topic, kind): the (src, dst, kind) of the edges that join them} among the
        topics of ``keep``. An edge joins the topics of its ends (:meth:`_ends`) and is met
        from a topic whose nodes (:meth:`members`) it touches."""
        pairs: dict[tuple[str, str, str], set[tuple[str, str, str]]] = defaultdict(set)
        member_of = self._members_of([n for n in keep if not n.startswith("section:")])
        # An edge between two of these topics joins two of their nodes (a node's topic has it
        # among its members): only those edges are read.
        rows = self.db.edges_among(member_of.keys() | keep.keys())
        ends = {x for u, v, _ in rows for x in (u, v)}
        topic_at = {x: x for x in ends if not x.startswith("section:")}
        topic_at.update(self._topics_of(x for x in ends if x not in topic_at))
        note_at = {x: note_id(_section_path(x)) for x in ends if x.startswith("section:")}
        links = frozenset(LINK_KINDS)
        for u, v, kind in rows:
            tu = note_at[u] if kind in links and u in note_at else topic_at[u]
            tv = topic_at[v]
            if tu == tv or tu not in keep or tv not in keep:
                continue
            met = member_of.get(u, _NONE) | member_of.get(v, _NONE)
            if tu in met or tv in met:
                pairs[(tu, tv, _topic_kind(kind, tu, tv, v))].add((u, v, kind))
        for n in keep:  # a section asked for speaks for itself alone
            if n.startswith("section:"):
                rows = self.db.ends_touching([n])
                end = self._ends(n, {x for u, v, _ in rows for x in (u, v)})
                for u, v, kind in rows:
                    tu, tv = end(u, kind, True), end(v, kind, False)
                    if tu != tv and n in (tu, tv) and tu in keep and tv in keep:
                        pairs[(tu, tv, _topic_kind(kind, tu, tv, v))].add((u, v, kind))
        return pairs

    def _members_of(self, topics: list[str]) -> dict[str, set[str]]:
        """{node: the topics of ``topics`` it is a member of} (:meth:`members` of each, read
        together: a few queries per outline level, not a few per topic)."""
        member_of: dict[str, set[str]] = defaultdict(set)
        for t in topics:
            member_of[t].add(t)
        level: dict[str, set[str]] = defaultdict(set)
        for t, s in self.db.sections_about_each(topics):
            level[s].add(t)
        while level:  # the untitled sections under those that name it are its places too
            for s, ts in level.items():
                member_of[s] |= ts
            below = self.db.children(level)
            titled = self.db.abouts(c for _, c in below)
            deeper: dict[str, set[str]] = defaultdict(set)
            for parent, c in below:
                if c not in titled:
                    deeper[c] |= level[parent]
            level = deeper
        self.prefetch(topics)
        notes = {
            a["path"]: t for t in topics if (a := self.node(t))["kind"] == "note" and a["path"]
        }
        for path, sections in self.db.sections_of_notes(notes).items():
            for s in sections:
                member_of[s].add(notes[path])
        return member_of

    def _aggregate(
        self, pairs: dict[tuple[str, str, str], set[tuple[str, str, str]]]
    ) -> dict[tuple[str, str, str], dict]:
        """One edge per (topic, topic, kind) of ``pairs``, in that order: kind, the first place
        (path, line) that says it and ``count`` places, and in ``text`` the edge row whose
        sentence is the evidence (:meth:`_read_texts` reads it)."""
        places = self.db.places(sorted({e for edges in pairs.values() for e in edges}))
        out: dict[tuple[str, str, str], dict] = {}
        for (tu, tv, kind), edges in sorted(pairs.items()):
            d: dict | None = None
            seen: set[tuple] = set()
            for u, v, raw in sorted(edges):
                for key, path, line in places.get((u, v, raw), ()):
                    place = (path, line)
                    if d is None:
                        d = {"kind": kind, "path": path, "line": line, "text": (u, v, key)}
                        d["count"] = 1
                        seen.add(place)
                        continue
                    if place not in seen:
                        seen.add(place)
                        d["count"] += 1
                    if (_natural(path or ""), line or 0) < (
                        _natural(d["path"] or ""),
                        d["line"] or 0,
                    ):
                        d.update(path=path, line=line, text=(u, v, key))
            if d is not None:
                out[(tu, tv, kind)] = d
        return out

    def _read_texts(self, edges: Iterable[dict]) -> None:
        """Put in each of :meth:`_topic_edges`'s edges the sentence of its edge row."""
        edges = list(edges)
        texts = self.db.edge_texts([d["text"] for d in edges])
        for d in edges:
            d["text"] = texts[d["text"]]

    def _add_all_sections(self, H: nx.MultiDiGraph, keep: dict[str, dict]) -> None:
        notes = [
            (n, a["path"])
            for n, a in keep.items()
            if a["kind"] == "note" and a["path"] and not n.startswith("section:")
        ]
        sections = self.db.sections_of_notes(p for _, p in notes)
        self.prefetch(s for ss in sections.values() for s in ss)
        self._prefetch_about(s for ss in sections.values() for s in ss)
        for n, path in notes:
            self._add_sections(H, n, path, sections.get(path, []))

    def topic_graph(self) -> nx.MultiDiGraph:
        """The whole vault's topic graph (as :meth:`subgraph` draws it), in one pass."""
        import networkx

        about = self.db.all_about()
        parent = self.db.outline_parents()

        def topic(section: str) -> str:
            chain = []
            s: str | None = section
            while s is not None and s.startswith("section:") and s not in about:
                chain.append(s)
                s = parent.get(s)
            found = about[s] if s is not None and s in about else note_id(_section_path(section))
            for c in chain:
                about[c] = found  # (remembered for the sections below)
            return found

        H = networkx.MultiDiGraph()
        H.add_nodes_from((n, d) for n, d in self.db.all_nodes() if d["kind"] != "section")
        for u, v, _, d in self.db.all_edges():
            kind = d["kind"]
            if u.startswith("section:"):
                tu = note_id(_section_path(u)) if kind in LINK_KINDS else topic(u)
            else:
                tu = u
            tv = topic(v) if v.startswith("section:") else v
            if tu != tv and tu in H and tv in H:
                kind = _topic_kind(kind, tu, tv, v)
                _add_topic_edge(H, Hop(tu, tv, kind, d["path"], d["line"], d["text"], True, u, v))
        for n, d in list(H.nodes(data=True)):
            if d["kind"] == "note" and d["path"]:
                self._add_sections(H, n, d["path"])
        return _finish(H)

    def _add_sections(
        self, H: nx.MultiDiGraph, note: str, path: str, sections: list[str] | None = None
    ) -> None:
        """A note's sections that name no topic, each under the note (shown on demand)."""
        if sections is None:
            sections = self.db.sections_of(path)
            about = self.db.abouts(sections)
        else:  # (read beforehand)
            about = {s: a for s in sections if (a := self.about(s)) is not None}
        for s in sections:
            if s not in about:
                attrs = self.node(s)
                H.add_node(s, **attrs)
                H.add_edge(
                    note,
                    s,
                    key="contains",
                    kind="contains",
                    path=attrs["path"],
                    line=attrs["line"],
                    text=" › ".join(attrs["heading"]),
                    count=1,
                )

    # -- vault-wide lists -------------------------------------------------------------
    def tags(self) -> list[TagCount]:
        """Every tag with the number of notes carrying it or a nested tag, parents first."""
        notes: dict[str, set[str]] = defaultdict(set)
        for _, v, _, d in self.db.edges_of_kind("tagged"):
            if v.startswith("tag:"):
                for t in tag_chain(v[4:]):
                    notes[t].add(d["path"])
        return [
            TagCount(name, len(paths), name.count("/"))
            for name, paths in sorted(notes.items(), key=lambda kv: kv[0].split("/"))
        ]

    def notes(self) -> list[dict]:
        """Every note's attributes (label, path, snippet…), by path."""
        return sorted(self.db.nodes_with_attrs("note").values(), key=lambda a: a["path"])

    def orphans(self) -> list[str]:
        """Paths of notes with no link to or from another note (same rule as kb.checks)."""
        linked: set[str] = set()
        for _, v, _, d in self.db.edges_of_kind("links_to", "embeds"):
            if v.startswith("note:"):
                linked.add(d["path"])
                linked.add(v[5:])
        return sorted(n[5:] for n in self.db.nodes_of_kind("note") if n[5:] not in linked)

    def link_suggestions(self) -> list[dict]:
        """Plain-text mentions of existing notes: places a ``[[link]]`` could go."""
        out = []
        for _, v, _, d in self.db.edges_of_kind("about", "mentions"):
            if v.startswith("note:"):
                target = self.node(v)
                out.append(
                    {
                        "path": d["path"],
                        "line": d["line"],
                        "target": target["label"],
                        "target_path": target["path"],
                        "context": d["text"],
                    }
                )
        return sorted(out, key=lambda e: (e["path"], e["line"], e["target"]))


def _distinct(entries: list[dict], key=lambda e: (e["path"], e["line"])) -> list[dict]:
    """The entries without repeats of one place (a note's line 1 is the note and its title
    heading; a sentence under two sections of one line)."""
    seen: set = set()
    out = []
    for e in entries:
        k = key(e)
        if k not in seen:
            seen.add(k)
            out.append(e)
    return out


def strongest_edges(
    edges: dict[tuple[str, str, str], dict], focus: str | None, most: int
) -> list[tuple[str, str, str]]:
    """Of ``edges`` ((topic, topic, kind) → kind, count…), the at most ``most`` a page draws,
    in their order: every node's strongest edge, then the others strongest first, those of
    ``focus`` before all. An edge is stronger for the places that say it (``count``), then for
    its kind (a written link before a mention: :attr:`kb.nodes.EdgeKind.cost`)."""
    if len(edges) <= most:
        return list(edges)

    def strength(k: tuple[str, str, str]) -> tuple:
        d = edges[k]
        return (focus not in k[:2], -d["count"], _hop_cost(d["kind"], k[0]), _natural(k[0]),
                _natural(k[1]), k[2])  # fmt: skip

    ranked = sorted(edges, key=strength)
    chosen: dict[tuple[str, str, str], None] = {}
    has_one: set[str] = set()
    for k in ranked:  # each node's strongest edge: no node drawn alone
        if len(chosen) >= most:
            break
        if k[0] not in has_one or k[1] not in has_one:
            chosen[k] = None
            has_one.update(k[:2])
    for k in ranked:
        if len(chosen) >= most:
            break
        chosen.setdefault(k, None)
    order = {k: i for i, k in enumerate(edges)}
    return sorted(chosen, key=order.__getitem__)


def _topic_kind(kind: str, tu: str, tv: str, v: str) -> str:
    """The kind of an edge between topics: a note's own heading naming another note is
    ``about`` it (a review or a version of it: "Backpropagation › Gradient Descent"), not a
    part of the note; everything else keeps its kind."""
    if kind == "contains" and tv.startswith("note:") and v.startswith("section:"):
        if tu == note_id(_section_path(v)):
            return "about"
    return kind


def _hop_cost(kind: str, source: str) -> float:
    if kind == "contains" and source.startswith("tag:"):
        return PATH_WEIGHT["tagged"]  # a nested tag costs what a tag does
    return PATH_WEIGHT.get(kind, PATH_WEIGHT["mentions"])


def _section_path(section: str) -> str:
    """The note path of a section id (``section:<path>#<line>``)."""
    return section[len("section:") :].rpartition("#")[0]


def _add_topic_edge(H: nx.MultiDiGraph, hop: Hop) -> None:
    """One edge per (topic, topic, kind): its first place is the evidence, and ``count`` is
    how many places (note and line) say it."""
    key = hop.kind
    place = (hop.path, hop.line)
    if H.has_edge(hop.source, hop.target, key):
        d = H.edges[hop.source, hop.target, key]
        if place not in d["_places"]:
            d["_places"].add(place)
            d["count"] += 1
        if (_natural(hop.path or ""), hop.line or 0) < (_natural(d["path"] or ""), d["line"] or 0):
            d.update(path=hop.path, line=hop.line, text=hop.text)
        return
    H.add_edge(
        hop.source, hop.target, key=key, kind=hop.kind, path=hop.path, line=hop.line,
        text=hop.text, count=1, _places={place},
    )  # fmt: skip


def _finish(H: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Drop the bookkeeping :func:`_add_topic_edge` kept on the edges."""
    for _, _, d in H.edges(data=True):
        d.pop("_places", None)
    return H
