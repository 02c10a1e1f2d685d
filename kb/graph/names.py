"""The name table: which node every concept name stands for, from all notes' facts at once.

Pure: :class:`Names` is computed from every note's :class:`~kb.graph.facts.NoteFacts` (names,
aliases, claims), so the answer never depends on the order notes were read.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from kb.checks import CachedResolver
from kb.concepts import concept_key, is_common_word
from kb.graph.facts import Claim, NoteFacts
from kb.model import Note
from kb.nodes import concept_id, note_id
from kb.resolve import Resolver
from kb.text import has_cjk
from kb.topicnames import compact, recurring_headings


@dataclass
class Names:
    """Which node every concept name stands for, computed from all notes at once (so the
    answer never depends on the order notes were read)."""

    target: dict[str, str] = field(default_factory=dict)
    """Concept key → node id."""
    notes_named: dict[str, list[str]] = field(default_factory=dict)
    """Concept key → every note with that title, file name or alias (preferred first)."""
    display: dict[str, dict[str, str]] = field(default_factory=dict)
    """Node id → {key: name as written} of all its names."""
    concepts: dict[str, list[Claim]] = field(default_factory=dict)
    """concept node id → the claims defining it, in (path, line) order."""
    about: dict[str, str] = field(default_factory=dict)
    """Section node id → the node its title names (a concept or a note)."""
    signature: frozenset = frozenset()
    """What link resolution depends on: every note's path and aliases."""

    @classmethod
    def build(cls, facts: Iterable[NoteFacts], total: int | None = None) -> Names:
        """The table of these notes' facts, in path order. ``total`` is how many notes the
        vault has when ``facts`` are only some of them (:func:`name_groups` says which notes
        a name's answer depends on: all those that share a group with it)."""
        t = cls()
        notes_named: dict[str, list[str]] = defaultdict(list)
        claims: dict[str, list[Claim]] = defaultdict(list)
        display: dict[str, dict[str, str]] = defaultdict(dict)
        sig = []
        facts = list(facts)
        # Headings that recur under many unrelated parents (小结, Summary) stay sections.
        scoped = recurring_headings(
            ([(c.key, concept_key(c.heading[-2]) if len(c.heading) > 1 else "") for c in f.claims]
             for f in facts),
            len(facts) if total is None else total,
        )  # fmt: skip
        for f in facts:
            sig.append((f.path, f.aliases))
            for key, name in f.names:
                notes_named[key].append(f.path)
                display[note_id(f.path)].setdefault(key, name)
        listing = {f.path for f in facts if f.listing}
        for f in facts:
            for c in f.claims:
                if c.key not in scoped or c.key in notes_named:
                    claims[c.key].append(c)
        # A note its title, file name or alias names before one its lead's gloss names
        # (# Batch Normalization before # 批量规范化 opening with (batch normalization)), then
        # Obsidian's preference.
        own = {
            (f.path, concept_key(n)) for f in facts for n in (f.title, _stem(f.path), *f.aliases)
        }
        for key, paths in notes_named.items():
            paths.sort(key=lambda p: ((p, key) not in own, p.count("/"), len(p), p))
        # A table of contents or a glossary is reached by links, never by its name in text;
        # so is a note by a file name that is only a slug (sequence.md titled 序列模型).
        slugs = {(f.path, k) for f in facts if (k := _slug_key(f))}
        target = {
            key: note_id(named[0])
            for key, paths in notes_named.items()
            if (named := [p for p in paths if p not in listing and (p, key) not in slugs])
        }
        named_note = dict(target)  # (a name only a listing or a slug says names no note)
        for key, cl in claims.items():
            cl.sort(key=lambda c: (c.path, c.line))
            if key not in target:
                owners = sorted(named_note[k] for c in cl for k, _ in c.parts if k in named_note)
                target[key] = owners[0] if owners else concept_id(key)
        weak: dict[str, set[str]] = defaultdict(set)
        same: list[tuple[str, str]] = []
        glued: list[tuple[str, str, str]] = []  # (note, concept, the name joining them)
        for key, cl in claims.items():
            for c in cl:
                node = target[key]
                display[node].setdefault(key, c.name)
                for k, name in c.parts:
                    if k not in target:
                        weak[k].add(node)
                    elif _concepts(node, target[k]):
                        same.append((node, target[k]))  # 激活函数(Activation function)
                    elif _note_and_concept(node, target[k]):
                        glued.append((node, target[k], k))
                    display[node].setdefault(k, name)
        for k, owners in weak.items():
            target[k] = min(owners)
        prose = _prose_terms(facts, target, scoped, display, same, glued)
        same += _spellings(target)
        rep = _merged(same)
        at = {concept_id(k): {c.path for c in cl} for k, cl in claims.items()}
        rep.update(_homes(glued, rep, notes_named, at))
        for k, node in target.items():
            target[k] = rep.get(node, node)
        for node in rep:
            for k, name in display.pop(node, {}).items():
                display[rep[node]].setdefault(k, name)
        concepts: dict[str, list[Claim]] = defaultdict(list)
        for k, cl in sorted(claims.items(), key=lambda kv: target[kv[0]] != concept_id(kv[0])):
            own = concept_id(k)
            if target[k] == rep.get(own, own) and target[k].startswith("concept:"):
                concepts[target[k]] += cl  # its own concept's first: that one names it
        # Of a term a heading defines, prose that glosses it (学习率（learning rate）) defines it
        # too; prose that only marks it (emphasis, a label, a Latin phrase) mentions it.
        headed = {node for node, cl in concepts.items() if cl}
        for node, cl in prose.items():
            node = rep.get(node, node)
            if node.startswith("concept:"):
                concepts[node] += [c for c in cl if node not in headed or _glossed(c)]
        t.target = target
        t.notes_named = dict(notes_named)
        t.display = dict(display)
        t.concepts = dict(concepts)
        t.about = {c.section: target[k] for k, cl in claims.items() for c in cl}
        t.signature = frozenset(sig)
        return t

    def matched_keys(self) -> frozenset[str]:
        """The names looked for in running text: all but those written as a common English
        word (``image``, ``feature``: :func:`kb.concepts.is_common_word`; ``GAP`` is kept),
        which say too little where they stand to be a mention of the topic, and a concept's
        names written as an identifier (``links_to``, ``batch_size``: in prose such a name is
        code, which is not matched; its words, "links to", are not it). A note's file name
        (``machine_learning.md``) is a way of writing its name: matched."""
        return frozenset(
            k
            for k, node in self.target.items()
            if not is_common_word(name := self.display.get(node, {}).get(k, k))
            and not (node.startswith("concept:") and _IDENTIFIER.fullmatch(name))
        )

    def resolver(self) -> CachedResolver:
        """kb.resolve's resolver over the notes' paths and aliases (remembering answers)."""
        return CachedResolver(
            Resolver(Note(path=p, title="", aliases=a) for p, a in self.signature)
        )


SOURCE_RANK = {"emphasis": 0, "gloss": 1, "label": 2, "latin": 3}
"""Which prose terms are read first: a name's first claim gives its node's label."""
SPREAD = 2
"""A prose term that is not surely a name (a single lower-case word, a Latin phrase in
Chinese text, a label) becomes a topic when this many sections of the vault mark it."""


def _prose_terms(
    facts: list[NoteFacts],
    target: dict[str, str],
    scoped: frozenset[str],
    display: dict[str, dict[str, str]],
    same: list[tuple[str, str]],
    glued: list[tuple[str, str, str]],
) -> dict[str, list[Claim]]:
    """Read the terms notes' prose marks into the name table (``target`` and ``display`` are
    extended in place). A term whose name or gloss is already a topic gives it more names; a
    new one becomes a concept when it is surely a term or the vault marks it in
    :data:`SPREAD` sections or more. A gloss joining two concepts (``残差块（residual
    blocks）`` where both are headings) is added to ``same``. Returns node → the prose claims
    naming it."""
    terms = sorted(
        (c for f in facts if not f.listing for c in f.terms),
        key=lambda c: (SOURCE_RANK.get(c.source, 9), c.path, c.line, c.section),
    )
    spread: dict[str, set[str]] = defaultdict(set)
    for c in terms:
        spread[c.key].add(c.section)
    out: dict[str, list[Claim]] = defaultdict(list)
    loose: dict[str, str] = {}  # a loose alias's key → the node it names (not matched)
    for c in terms:
        if c.key in scoped:
            continue
        node = target.get(c.key) or next((target[k] for k, _ in c.parts if k in target), None)
        if node is None and c.key in loose:
            # *overfitting* marked where 过拟合（overfitting） glossed it: a claim of that
            # topic, its name still not looked for in text (a common word in English)
            out[loose[c.key]].append(c)
            continue
        if node is None:
            if not _surely_a_term(c) and len(spread[c.key]) < SPREAD:
                continue
            if is_common_word(c.name) and all(is_common_word(n) for _, n in c.parts):
                continue  # *each*, input, 长度（length）: stressed or common words, not terms
            node = target[c.key] = concept_id(c.key)
        names = display[node]
        names.setdefault(c.key, c.name)
        target.setdefault(c.key, node)
        for k, name in c.parts:
            if k in scoped:
                continue
            if _loose_alias(c.name, name):
                names.setdefault(k, name)  # shown on the card, never matched in text
                loose.setdefault(k, node)
                if _concepts(node, target.get(k, node)):
                    same.append((node, target[k]))  # 过拟合（overfitting） = ## Overfitting
                elif _note_and_concept(node, target.get(k, node)):
                    glued.append((node, target[k], k))
                continue
            other = target.setdefault(k, node)
            if other == node:
                names.setdefault(k, name)
            elif _concepts(node, other):
                same.append((node, other))
            elif _note_and_concept(node, other):
                glued.append((node, other, k))
        out[node].append(c)
    return dict(out)


def _surely_a_term(c: Claim) -> bool:
    """A prose term that is a topic on its own: emphasised or glossed with another name; an
    emphasised name of several words or capitals (``Kernel PCA``, ``LLE``); a Latin label in
    a list of definitions (``tqdm: …``); a proper name of several words in Chinese text
    (``Fast R-CNN``, ``Extreme Inception module``)."""
    if _glossed(c):
        return True
    if has_cjk(c.name):
        return False
    words = c.name.split()
    capital = any(ch.isupper() for ch in c.name)
    if c.source == "emphasis":
        return len(words) >= 2 or capital
    if c.source == "label":
        return True
    return c.source == "latin" and len(words) >= 2 and capital


def _spellings(target: dict[str, str]) -> list[tuple[str, str]]:
    """Pairs of concepts whose Latin names differ only by spaces, hyphens or a plural ``s``
    (``auto-encoder`` and ``autoencoder``, ``YOLO v3`` and ``YOLOv3``, ``Vanishing
    Gradients``): one concept spelled two ways."""
    by_form: dict[str, set[str]] = defaultdict(set)
    for key, node in target.items():
        form = spelling_form(key)
        if node.startswith("concept:") and form:
            by_form[form].add(node)
    pairs = []
    for nodes in by_form.values():
        first, *others = sorted(nodes)
        pairs += [(first, other) for other in others]
    return pairs


SPELLING_MIN = 5
"""Names shorter than this, without spaces, stay apart: two short words run together are too
often another word."""


def spelling_form(key: str) -> str | None:
    """What :func:`_spellings` compares of a Latin name (no spaces, hyphens kept, no plural
    ``s``); None for a name it leaves apart (not Latin, or too short)."""
    form = compact(key)
    if form.endswith("s") and not form.endswith("ss"):
        form = form[:-1]  # Vanishing Gradients = vanishing gradient
    return form if key.isascii() and len(form) >= SPELLING_MIN else None


KEY, FORM, SECTION = 0, 1, 2
"""The kinds of token of :func:`name_groups`: a concept key, a :func:`spelling_form`, a section."""


def name_groups(f: NoteFacts) -> list[frozenset[tuple[int, str]]]:
    """What of a note :meth:`Names.build` reads together, as groups of tokens: its names
    (title, file name, aliases: one node), each heading claim (its key, the names spelled out
    in it, its section: the section's ``about``), each prose term (key and other names). Every
    token stands for its spelling form too (two spellings of a name are one concept).

    Build reads nothing else across notes: a name's answer depends only on the groups joined
    to it through shared tokens, so an update that recomputes every group joined to the
    groups of the notes it changes, from those groups' notes alone, gets what a build of the
    whole vault gets for them (the vault's note count aside: see ``total`` of
    :meth:`Names.build`)."""

    def tokens(keys: Iterable[str]) -> set[tuple[int, str]]:
        out = set()
        for k in keys:
            out.add((KEY, k))
            form = spelling_form(k)
            if form:
                out.add((FORM, form))
        return out

    groups = [frozenset(tokens(k for k, _ in f.names))]
    for c in f.claims:
        groups.append(frozenset({*tokens([c.key, *(k for k, _ in c.parts)]), (SECTION, c.section)}))
    for c in f.terms:
        groups.append(frozenset(tokens([c.key, *(k for k, _ in c.parts)])))
    return [g for g in groups if g]


def _glossed(c: Claim) -> bool:
    """A prose term written with its other name beside it: where a text defines a term."""
    return c.source == "gloss" or (c.source == "emphasis" and bool(c.parts))


def _concepts(a: str, b: str) -> bool:
    """True for two different concept nodes (a gloss between them makes them one)."""
    return a != b and a.startswith("concept:") and b.startswith("concept:")


def _note_and_concept(a: str, b: str) -> bool:
    """True for a note and a concept (a gloss between them makes the concept the note's)."""
    return {a.partition(":")[0], b.partition(":")[0]} == {"note", "concept"}


def _homes(
    glued: list[tuple[str, str, str]],
    rep: dict[str, str],
    notes_named: dict[str, list[str]],
    at: dict[str, set[str]],
) -> dict[str, str]:
    """Concept node → the note it is one with: a group of concepts (``rep``: each one's
    first) that glosses join to one note's name (``残差块（residual blocks）`` where
    残差块.md is a note and Residual Blocks a heading elsewhere) is that note's, its names
    the note's aliases; a group joined to several notes stays a concept. Of the notes the
    joining name names (``notes_named``), the one holding a heading of the concept (``at``:
    its headings' paths) is its home: ``## 批量规范化层`` in the note 批量规范化 glossed
    (batch normalization), not the note titled Batch Normalization."""
    notes: dict[str, set[str]] = defaultdict(set)
    for a, b, key in glued:
        note, concept = (a, b) if a.startswith("note:") else (b, a)
        inside = [p for p in notes_named.get(key, ()) if p in at.get(concept, ())]
        notes[rep.get(concept, concept)].add(note_id(inside[0]) if inside else note)
    members: dict[str, list[str]] = defaultdict(list)
    for concept, first in rep.items():
        members[first].append(concept)
    out: dict[str, str] = {}
    for first, homes in notes.items():
        if len(homes) == 1:
            (home,) = homes
            out.update((c, home) for c in (first, *members[first]))
    return out


def _merged(same: list[tuple[str, str]]) -> dict[str, str]:
    """Concept node → the node it is one with (the first of each group said to be the same),
    for the nodes that are not their group's first."""
    parent: dict[str, str] = {}

    def find(n: str) -> str:
        while parent.get(n, n) != n:
            n = parent[n]
        return n

    for a, b in same:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    return {n: find(n) for n in parent if find(n) != n}


_SLUG = re.compile(r"[a-z0-9]+")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+")


def _stem(path: str) -> str:
    return posixpath.basename(path).rsplit(".", 1)[0]


def _slug_key(f: NoteFacts) -> str | None:
    """The key of a note's file name when it is one lower-case word that its title does not
    say (``sequence`` for 序列模型): a web slug, too common a word to be the note's name in
    text. None otherwise."""
    stem = _stem(f.path)
    if not _SLUG.fullmatch(stem) or stem.isdigit():
        return None
    key = concept_key(stem)
    titles = [k for k, _ in f.names if k != key]  # (its title heading, front matter, aliases)
    return key if titles and not any(key in t for t in titles) else None


def _loose_alias(name: str, alias: str) -> bool:
    """True when a gloss gives a Chinese name one lower-case English word (``比特（bit）``,
    ``智能体（agent）``): a name for lookup and the card, but a common word in English text."""
    return has_cjk(name) and not has_cjk(alias) and " " not in alias.strip() and alias.islower()
