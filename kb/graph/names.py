"""The name table: which node every concept name stands for, from all notes' facts at once.

Pure: :class:`Names` is computed from every note's :class:`~kb.graph.facts.NoteFacts` (names,
aliases, claims), so the answer never depends on the order notes were read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from kb.checks import CachedResolver
from kb.concepts import concept_key
from kb.graph.facts import Claim, NoteFacts
from kb.model import Note
from kb.nodes import concept_id, note_id
from kb.resolve import Resolver
from kb.text import has_cjk
from kb.topicnames import recurring_headings


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
    def build(cls, facts: Iterable[NoteFacts]) -> Names:
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
            len(facts),
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
        for paths in notes_named.values():
            paths.sort(key=lambda p: (p.count("/"), len(p), p))  # Obsidian's preference
        # A table of contents or a glossary is reached by links, never by its name in text.
        target = {
            key: note_id(named[0])
            for key, paths in notes_named.items()
            if (named := [p for p in paths if p not in listing])
        }
        for key, cl in claims.items():
            cl.sort(key=lambda c: (c.path, c.line))
            if key not in target:
                owners = sorted(target[k] for c in cl for k, _ in c.parts if k in notes_named)
                target[key] = owners[0] if owners else concept_id(key)
        weak: dict[str, set[str]] = defaultdict(set)
        for key, cl in claims.items():
            for c in cl:
                display[target[key]].setdefault(key, c.name)
                for k, name in c.parts:
                    if k not in target:
                        weak[k].add(target[key])
                    display[target[key]].setdefault(k, name)
        for k, owners in weak.items():
            target[k] = min(owners)
        prose = _prose_terms(facts, target, scoped, display)
        t.target = target
        t.notes_named = dict(notes_named)
        t.display = dict(display)
        t.concepts = {concept_id(k): cl for k, cl in claims.items() if target[k] == concept_id(k)}
        for node, cl in prose.items():
            if node.startswith("concept:"):
                t.concepts[node] = t.concepts.get(node, []) + cl
        t.about = {c.section: target[k] for k, cl in claims.items() for c in cl}
        t.signature = frozenset(sig)
        return t

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
) -> dict[str, list[Claim]]:
    """Read the terms notes' prose marks into the name table (``target`` and ``display`` are
    extended in place). A term whose name or gloss is already a topic gives it more names; a
    new one becomes a concept when it is surely a term or the vault marks it in
    :data:`SPREAD` sections or more. Returns node → the prose claims naming it."""
    terms = sorted(
        (c for f in facts if not f.listing for c in f.terms),
        key=lambda c: (SOURCE_RANK.get(c.source, 9), c.path, c.line, c.section),
    )
    spread: dict[str, set[str]] = defaultdict(set)
    for c in terms:
        spread[c.key].add(c.section)
    out: dict[str, list[Claim]] = defaultdict(list)
    for c in terms:
        if c.key in scoped:
            continue
        node = target.get(c.key) or next((target[k] for k, _ in c.parts if k in target), None)
        if node is None:
            if not _surely_a_term(c) and len(spread[c.key]) < SPREAD:
                continue
            node = target[c.key] = concept_id(c.key)
        names = display[node]
        names.setdefault(c.key, c.name)
        target.setdefault(c.key, node)
        for k, name in c.parts:
            if k not in scoped and target.setdefault(k, node) == node:
                names.setdefault(k, name)
        out[node].append(c)
    return dict(out)


def _surely_a_term(c: Claim) -> bool:
    """A prose term that is a topic on its own: emphasised or glossed with another name, or
    an emphasised name of several words or capitals (``Kernel PCA``, ``LLE``)."""
    if c.source == "gloss" or (c.source == "emphasis" and c.parts):
        return True
    if c.source != "emphasis" or has_cjk(c.name):
        return False
    return len(c.name.split()) >= 2 or any(ch.isupper() for ch in c.name)
