"""The concept graph: notes, sections, concepts and tags, and why they are connected.

This module builds, updates and saves the graph; :mod:`kb.topics` answers questions about
it. The graph is a ``networkx.MultiDiGraph`` with string node ids (:mod:`kb.nodes`):

- ``note:<path>``: a note; its title, file name and aliases are its names;
- ``section:<path>#<line>``: a heading or a lead list item (``- **term**``, ``term：``);
- ``concept:<key>``: a name that section titles give and no note owns;
- ``tag:<name>`` (lower-cased) and ``missing:<folded target>`` (an unresolved link).

A name belongs to exactly one node. Note names win: when a note is called ``Bottleneck``
(or has the alias ``BottNeck``) every section titled so is *about* that note, and
``concept:bottleneck`` never exists. Other concept titles become ``concept:`` nodes, one
per :func:`kb.concepts.concept_key`. A section about a concept has a ``mentions`` edge to
it; nested concept sections add ``contains`` edges between their concepts.

Edges carry their evidence: ``path``, ``line`` and ``text`` (the sentence). Kinds:
``contains`` (note → section → sub-section; parent concept → child concept; tag → nested
tag), ``links_to`` and ``embeds`` (from the section holding the link), ``mentions``
(a section's text names another concept), ``tagged`` (note or section → tag).

The graph is kept in ``<data_dir>/graph.pickle`` with, per note, what that note
contributed, and caught up with :class:`kb.store.Store` incrementally by :func:`sync`.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from kb.checks import CachedResolver, link_target
from kb.concepts import (
    SEPARATOR,
    concept_key,
    excerpt,
    normalise,
    sentence_spans,
)
from kb.errors import notice
from kb.model import Link, Note, Section
from kb.nodes import concept_id, missing_id, note_id, section_id, tag_chain, tag_id
from kb.resolve import Resolver
from kb.store import Progress, gc_paused
from kb.text import tag_key
from kb.topicnames import HeadingTerm, heading_term, is_textlike_math, recurring_headings
from kb.topics import KnowledgeGraph

if TYPE_CHECKING:
    from pathlib import Path

    import networkx as nx

    from kb.store import Store
    from kb.vault import Vault

GRAPH_FILE = "graph.pickle"
"""What queries read: the graph, the name table and the notes' hashes."""
NOTES_FILE = "graph-notes.pickle"
"""What updates read too: what each note contributed."""
HELD_FILE = "graph-held.json"
"""The {path: sha} the saved graph was built from, written last: lets ``kb index`` see that
the graph is up to date without unpickling it."""
TEXT_FILE = "graph-text.sqlite"
SCHEMA = 7
"""Bump when what the graph holds or how names are found changes: saved graphs of another
schema are rebuilt."""

SECTION_BREAK = "\n"
"""Between sections in a note's matching-form text (normalise() turns newlines to spaces)."""

EdgeKey = tuple[str, str, str]
"""(source, target, key) of a MultiDiGraph edge. The key is the kind, ``links_to:<line>`` /
``embeds:<line>`` (one edge per linking line), or ``contains@<path>`` for a concept's parent
(one per note that nests them)."""


# -- what one note contributes ------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A section whose title names a concept."""

    section: str
    """Node id of the section."""
    key: str
    name: str
    """The cleaned title, as the user wrote it."""
    parts: tuple[tuple[str, str], ...]
    """(key, name) of other names spelled out in the title (``A（B）`` → A, B)."""
    parent: str | None
    """Key of the enclosing section's concept, when the enclosing section names one; for a
    top-level section, the note itself (see ``parent_note``)."""
    parent_note: bool
    parent_name: str
    path: str
    line: int
    heading: tuple[str, ...]
    snippet: str
    tags: tuple[str, ...]


Hit = tuple[str, int, int, str]
"""Where a section names a concept: (section node, line of the sentence, sentence number,
sentence). Sentence 0 is the title; the first sentence gives the evidence. A tuple: millions
are pickled."""


@dataclass
class NoteFacts:
    """Everything the graph takes from one note, computed from that note alone, and the
    edges derived from it with the global name table (kept to update them in place)."""

    path: str
    sha: str
    title: str
    aliases: tuple[str, ...]
    names: tuple[tuple[str, str], ...]
    """(key, name) of the note's title, file name and aliases."""
    nodes: list[str]
    """The note's own nodes: the note and its sections (attributes live in the graph)."""
    edges: list[EdgeKey]
    """Edges that need no other note: the outline (contains) and tags (tagged)."""
    tags: tuple[str, ...]
    """Lower-cased tag names used."""
    links: tuple[tuple, ...]
    """(source node, *the Link's fields) of every link: tuples unpickle fast."""
    claims: tuple[Claim, ...]
    hits: dict[str, list[Hit]] = field(default_factory=dict)
    """Mentions found, by concept key: what the Aho-Corasick pass saw."""
    derived: list[EdgeKey] = field(default_factory=list)
    """Edges that depend on other notes too (links, mentions, concept contains)."""


@dataclass
class NoteGraph:
    """What one note adds to the graph: its facts, its own nodes and edges with attributes,
    and its text in matching form (for later searches of names that appear elsewhere)."""

    facts: NoteFacts
    nodes: dict[str, dict]
    edges: dict[EdgeKey, dict]


def _evidence(kind: str, path: str | None, line: int | None, text: str) -> dict:
    return {"kind": kind, "path": path, "line": line, "text": excerpt(text)}


def _section_node(note: Note, index: int) -> str:
    """Node id of ``note.sections[index]``: the note itself for the root."""
    if index == 0:
        return note_id(note.path)
    return section_id(note.path, note.sections[index].line_start)


def _snippet(text: str) -> str:
    return excerpt(" ".join(text.split()))


def note_facts(note: Note, sha: str) -> NoteGraph:
    """What ``note`` alone contributes to the graph (mentions are found later)."""
    path = note.path
    me = note_id(path)
    section_tags: dict[int, list[str]] = defaultdict(list)
    for use in note.tag_uses:
        if use.name not in section_tags[use.section]:
            section_tags[use.section].append(use.name)
    root_text = next((s.text for s in note.sections if s.text.strip()), "")
    nodes: dict[str, dict] = {
        me: {
            "kind": "note",
            "label": note.title,
            "path": path,
            "line": 1,
            "heading": [note.title],
            "snippet": _snippet(root_text),
            "tags": list(note.tags),
        }
    }
    edges: dict[EdgeKey, dict] = {}
    claims: list[Claim] = []
    claim_of: dict[int, Claim] = {}
    for i, sec in enumerate(note.sections):
        if i == 0:
            continue
        sid = _section_node(note, i)
        nodes[sid] = {
            "kind": "section",
            "label": sec.title,
            "path": path,
            "line": sec.line_start,
            "heading": list(sec.heading_path),
            "snippet": _snippet(sec.text),
            "tags": section_tags.get(i, []),
        }
        parent = sec.parent or 0
        edges[(_section_node(note, parent), sid, "contains")] = _evidence(
            "contains", path, sec.line_start, sec.title
        )
        term = _names_concept(note, i)
        if term is not None:
            up = claim_of.get(sec.parent) if sec.parent else None
            top = not sec.parent
            claim = Claim(
                section=sid,
                key=concept_key(term.name),
                name=term.name,
                parts=tuple((concept_key(p), p) for p in term.aliases),
                parent=up.key if up else None,
                parent_note=top,
                parent_name=up.name if up else note.title,
                path=path,
                line=sec.line_start,
                heading=tuple(sec.heading_path),
                snippet=_snippet(sec.text),
                tags=tuple(section_tags.get(i, [])),
            )
            claims.append(claim)
            claim_of[i] = claim
    for use in note.tag_uses:
        src = _section_node(note, use.section)
        chain = tag_chain(use.name)
        if chain:
            edge = (src, tag_id(chain[-1]), "tagged")
            edges.setdefault(edge, _evidence("tagged", path, use.line, f"#{use.name}"))
    own_names = (note.title, note.stem, *note.aliases, note.display_title or "")
    names = [(concept_key(n), n) for n in own_names]
    facts = NoteFacts(
        path=path,
        sha=sha,
        title=note.title,
        aliases=note.aliases,
        names=tuple(dict((k, n) for k, n in names if k).items()),
        nodes=list(nodes),
        edges=list(edges),
        tags=tuple(dict.fromkeys(tag_key(t) for t in note.tags)),
        links=tuple((_section_node(note, lk.section), *_link_row(lk)) for lk in note.links),
        claims=tuple(claims),
    )
    return NoteGraph(facts, nodes, edges)


_LINK_FIELDS = tuple(f.name for f in fields(Link))


def _link_row(link: Link) -> tuple:
    """A Link's fields in order (``dataclasses.astuple`` deep-copies, ten times slower)."""
    return tuple(getattr(link, name) for name in _LINK_FIELDS)


def _names_concept(note: Note, index: int) -> HeadingTerm | None:
    """The term a section's title names (:func:`kb.topicnames.heading_term`: not a date, a
    generic title, a sentence or a step), unless it is a heading that only holds dated
    entries (``## Daily Report``)."""
    sec = note.sections[index]
    term = heading_term(sec.title)
    if term is None:
        return None
    if sec.kind == "heading" and not sec.text.strip():
        children = [s for s in note.sections if s.parent == index]
        if children and all(heading_term(c.title) is None for c in children):
            return None
    return term


def find_hits(note: Note, matcher: Any) -> tuple[dict[str, list[Hit]], str]:
    """The concept names each section of ``note`` says (first sentence per section and name),
    and the note's text in matching form, sections apart."""
    hits: dict[str, list[Hit]] = defaultdict(list)
    norms = []
    for i, sec in enumerate(note.sections):
        src = _section_node(note, i)
        # The title is sentence 0 (the root's title is the note's own name: left out).
        spans = sentence_spans(prose(sec))
        texts = [sec.title if i else ""] + [sentence for _, sentence in spans]
        norm = normalise(SEPARATOR.join(texts))
        norms.append(norm)
        seen: set[str] = set()
        for order, key in matcher.find_normalised(norm):
            if key not in seen:
                seen.add(key)
                # The title is on the section's first line; a sentence on its own line.
                line = sec.line_of(spans[order - 1][0]) if order else sec.line_start
                hits[key].append((src, line, order, excerpt(texts[order], key)))
    return dict(hits), SECTION_BREAK.join(norms)


def prose(sec: Section) -> str:
    """A section's text with its inline code and math blanked out (math that reads as text,
    a size like ``1\\times 1``, is kept).

    kb.parse keeps inline ``code`` and ``$math$`` in ``Section.text`` so that sentences
    read whole, and lists them again in ``code``/``math``; a name inside them is not a
    mention. Each piece is blanked at its first place after the previous one.
    """
    text = sec.text
    for pieces in (sec.code, sec.math):
        at = 0
        for piece in pieces.split("\n"):
            piece = piece.strip()
            if not piece:
                continue
            found = text.find(piece, at)
            if found < 0:
                continue  # a fenced block: not in the text at all
            if pieces is sec.math and is_textlike_math(piece):
                at = found + len(piece)
                continue  # $1\times 1$卷积 reads as "1x1卷积": matched as text
            text = text[:found] + " " * len(piece) + text[found + len(piece) :]
            at = found + len(piece)
    return text


# -- the name table ------------------------------------------------------------


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
        for f in facts:
            for c in f.claims:
                if c.key not in scoped or c.key in notes_named:
                    claims[c.key].append(c)
        for paths in notes_named.values():
            paths.sort(key=lambda p: (p.count("/"), len(p), p))  # Obsidian's preference
        target = {key: note_id(paths[0]) for key, paths in notes_named.items()}
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
        t.target = target
        t.notes_named = dict(notes_named)
        t.display = dict(display)
        t.concepts = {concept_id(k): cl for k, cl in claims.items() if target[k] == concept_id(k)}
        t.about = {c.section: target[k] for k, cl in claims.items() for c in cl}
        t.signature = frozenset(sig)
        return t

    def resolver(self) -> CachedResolver:
        """kb.resolve's resolver over the notes' paths and aliases (remembering answers)."""
        return CachedResolver(
            Resolver(Note(path=p, title="", aliases=a) for p, a in self.signature)
        )


def _concept_attrs(claims: list[Claim]) -> dict:
    first = claims[0]
    return {
        "kind": "concept",
        "label": first.name,
        "path": first.path,
        "line": first.line,
        "heading": list(first.heading),
        "snippet": next((c.snippet for c in claims if c.snippet), ""),
        "tags": sorted({t for c in claims for t in c.tags}),
    }


def derive(f: NoteFacts, names: Names, resolver: CachedResolver) -> dict[EdgeKey, dict]:
    """The edges of a note that depend on other notes: links, mentions, concept contains."""
    own = note_id(f.path)
    out: dict[EdgeKey, dict] = {}
    linked: set[tuple[str, str]] = set()
    for src, *row in f.links:
        link = Link(*row)
        target = link_target(link, f.path, resolver)
        if target.kind == "note":
            dst = note_id(target.path or "")
        elif target.kind == "missing":
            dst = missing_id(link.target)
        else:
            continue  # links to the note itself and to attachment files are not graph edges
        kind = "embeds" if link.embed else "links_to"
        linked.add((src, dst))
        # One edge per place, as Obsidian's backlinks pane lists every linking line.
        key = f"{kind}:{link.line}"
        out.setdefault((src, dst, key), _evidence(kind, f.path, link.line, link.context))
    about: dict[str, str | None] = {}
    for c in f.claims:
        dst = names.target.get(c.key)
        about[c.section] = dst
        if dst and dst != own and (c.section, dst) not in linked:
            out.setdefault(
                (c.section, dst, "mentions"), _evidence("mentions", f.path, c.line, c.name)
            )
        up = own if c.parent_note else names.target.get(c.parent) if c.parent else None
        if up and dst and up != dst:
            out.setdefault(
                (up, dst, f"contains@{f.path}"),
                _evidence("contains", f.path, c.line, f"{c.parent_name} › {c.name}"),
            )
    best: dict[tuple[str, str], Hit] = {}
    for key, hits in f.hits.items():
        dst = names.target.get(key)
        if dst is None or dst == own:
            continue
        for h in hits:
            src = h[0]
            if about.get(src) == dst or (src, dst) in linked:
                continue  # the section is about it, or already links it
            old = best.get((src, dst))
            if old is None or h[1:] < old[1:]:
                best[(src, dst)] = h
    for (src, dst), h in sorted(best.items()):
        out.setdefault((src, dst, "mentions"), _evidence("mentions", f.path, h[1], h[3]))
    return out


# -- the whole graph, kept up to date -------------------------------------------


@dataclass
class GraphState:
    """The graph and the per-note bookkeeping that keeps it up to date."""

    graph: nx.MultiDiGraph
    facts: dict[str, NoteFacts] = field(default_factory=dict)
    names: Names = field(default_factory=Names)
    mention_keys: frozenset[str] = frozenset()
    """The names the last mention pass looked for."""
    held: dict[str, str] = field(default_factory=dict)
    """{path: sha} of the notes the graph holds (what Store.diff compares)."""
    texts: dict[str, str | None] = field(default_factory=dict)
    """Matching-form text of the notes changed by the last update (None: removed)."""


@dataclass(slots=True)
class SyncResult:
    """What :func:`sync` did."""

    graph: KnowledgeGraph
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    full: bool = False
    rescanned: int = 0
    """Unchanged notes searched again because names were added elsewhere."""
    seconds: float = 0.0

    @property
    def nodes(self) -> int:
        return self.graph.graph.number_of_nodes()

    @property
    def edges(self) -> int:
        return self.graph.graph.number_of_edges()


def sync(
    vault: Vault, store: Store, full: bool = False, progress: Progress | None = None
) -> SyncResult:
    """Bring the saved graph up to date with the store (call ``store.refresh()`` first).

    A query whose notes did not change reads only ``graph.pickle``; the bookkeeping
    (``graph-notes.pickle``) and the text kept for name searches (``graph-text.sqlite``)
    are read only when something changed.
    """
    start = time.perf_counter()
    return _sync(vault, store, full, start, progress)


def read(vault: Vault) -> KnowledgeGraph | None:
    """The saved graph as it is, without syncing (for reading outside the write lock)."""
    saved, _ = _read(vault, GRAPH_FILE)
    if saved is None:
        return None
    return KnowledgeGraph(GraphState(saved["graph"], names=saved["names"], held=saved["held"]))


def is_current(vault: Vault, store: Store) -> bool:
    """True when the saved graph was built from the notes the store holds now (cheap)."""
    try:
        saved = json.loads((vault.data_dir / HELD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(saved, dict) or saved.get("schema") != SCHEMA:
        return False
    return store.diff(saved.get("held") or {}) == ([], [])


def _sync(
    vault: Vault, store: Store, full: bool, start: float, progress: Progress | None = None
) -> SyncResult:
    saved, problem = (None, "") if full else _read(vault, GRAPH_FILE)
    held = saved["held"] if saved else {}
    stale, gone = store.diff(held)
    if saved and not stale and not gone:
        state = GraphState(saved["graph"], names=saved["names"], held=held)
        if not (vault.data_dir / HELD_FILE).exists():
            _save_held(vault, held)
        return SyncResult(KnowledgeGraph(state), seconds=time.perf_counter() - start)
    books, why = _read(vault, NOTES_FILE) if saved else (None, "")
    if saved and books and books["token"] != saved["token"]:
        why = f"is incomplete ({NOTES_FILE} is not the one saved with {GRAPH_FILE})"
    if saved is None or books is None or why:
        import networkx as nx

        if not (full or problem or saved) and (vault.data_dir / NOTES_FILE).exists():
            problem = f"is incomplete ({GRAPH_FILE} is missing)"
        problem = problem or why or (f"is incomplete ({NOTES_FILE} is missing)" if saved else "")
        if problem:
            notice(f"the concept graph in {vault.data_dir} {problem}; rebuilding it")
        state, full = GraphState(nx.MultiDiGraph()), True
        stale, gone = store.diff({})
        held = {}
    else:
        state = GraphState(
            saved["graph"], books["facts"], saved["names"], books["mention_keys"], held
        )
    texts = _Texts(vault, fresh=full)
    if not full and (texts.damage or texts.count() != len(held)):
        texts.close()  # the text kept for name searches is not the graph's: start again
        why = texts.damage or f"is incomplete ({TEXT_FILE} does not match {GRAPH_FILE})"
        notice(f"the concept graph in {vault.data_dir} {why}; rebuilding it")
        return _sync(vault, store, True, start, progress)
    notes = store.notes(stale)
    shas = store.hashes()
    gone = sorted(set(gone) | (set(stale) - set(notes)))

    def others(keys: frozenset[str], skip: set[str]) -> dict[str, Note]:
        from kb.mentions import Matcher

        first_look = Matcher(keys)
        return store.notes(p for p in texts.matching(first_look) if p not in skip)

    rescanned = update(state, {p: (n, shas[p]) for p, n in notes.items()}, gone, others, progress)
    texts.save(state.texts)
    _save(vault, state)
    return SyncResult(
        KnowledgeGraph(state),
        added=sorted(p for p in notes if p not in held),
        changed=sorted(p for p in notes if p in held),
        removed=gone,
        full=full,
        rescanned=rescanned,
        seconds=time.perf_counter() - start,
    )


def load(vault: Vault, store: Store) -> KnowledgeGraph:
    """The graph, caught up with the store when notes changed since it was saved."""
    return sync(vault, store).graph


def build(notes: Iterable[Note]) -> KnowledgeGraph:
    """A graph of ``notes`` in memory (no store, no file): for tests and one-off use."""
    import networkx as nx

    state = GraphState(nx.MultiDiGraph())
    update(state, {n.path: (n, "") for n in notes}, [], lambda keys, skip: {})
    return KnowledgeGraph(state)


Others = Callable[[frozenset, set], dict]
"""others(names, skip) → the notes, other than ``skip``, whose text may hold one of ``names``."""


def update(
    state: GraphState,
    notes: dict[str, tuple[Note, str]],
    gone: Iterable[str],
    others: Others,
    progress: Progress | None = None,
) -> int:
    """Apply changed, added (``notes``: path → (note, sha)) and removed notes to the graph.

    Only the changed notes are searched in full; other notes are searched again only for
    names that did not exist before, and re-derived only where a name they use changed.
    Returns how many unchanged notes were searched again.
    """
    from kb.mentions import Matcher

    G = state.graph
    facts = state.facts
    gone = list(gone)
    for path in (*notes, *gone):
        old = facts.pop(path, None)
        if old is not None:
            _drop(G, old)
    own: dict[str, NoteGraph] = {}
    steps = 2 * len(notes)  # reading each note's outline, then finding the names it says
    for done, (path, (note, sha)) in enumerate(notes.items(), 1):
        own[path] = note_facts(note, sha)
        facts[path] = own[path].facts
        if progress:
            progress(done, steps)
    old_names = state.names
    names = Names.build(facts[p] for p in sorted(facts))
    resolver = names.resolver()

    keys = frozenset(names.target)
    matcher = Matcher(keys)
    state.texts = dict.fromkeys(gone)
    for done, (path, (note, _)) in enumerate(notes.items(), len(notes) + 1):
        facts[path].hits, state.texts[path] = find_hits(note, matcher)
        if progress:
            progress(done, steps)
    rescan: set[str] = set()
    added_keys = keys - state.mention_keys
    if added_keys:
        small = Matcher(added_keys)
        if small.size:
            for path, note in others(added_keys, set(notes)).items():
                found, _ = find_hits(note, small)
                if found:
                    facts[path].hits.update(found)
                    rescan.add(path)
    removed_keys = state.mention_keys - keys
    if removed_keys:
        for f in facts.values():
            for k in removed_keys & f.hits.keys():
                del f.hits[k]
    changed_keys = {
        k for k in keys | old_names.target.keys() if old_names.target.get(k) != names.target.get(k)
    }
    state.mention_keys = keys

    # Nodes first, so that every edge finds its ends with their attributes.
    for part in own.values():
        for node, attrs in part.nodes.items():
            G.add_node(node, **attrs)
        for (u, v, k), attrs in part.edges.items():
            if v.startswith("tag:") and v not in G:
                G.add_node(v, **_tag_attrs(v))
            G.add_edge(u, v, key=k, **attrs)
    _sync_shared_nodes(G, facts, names, old_names)

    relink = names.signature != old_names.signature
    for path, f in facts.items():
        if not (path in notes or path in rescan or (relink and f.links) or _uses(f, changed_keys)):
            continue
        new = derive(f, names, resolver)
        for u, v, k in set(f.derived) - new.keys():
            if G.has_edge(u, v, k):
                G.remove_edge(u, v, k)
        for (u, v, k), attrs in new.items():
            if not G.has_edge(u, v, k) or G.edges[u, v, k] != attrs:
                if v not in G and v.startswith("missing:"):
                    G.add_node(v, **_missing_attrs(v))
                G.add_edge(u, v, key=k, **attrs)
        f.derived = list(new)
    for path in gone:
        if path not in facts and G.has_node(note_id(path)):
            G.remove_node(note_id(path))
    for node in [n for n in G if n.startswith(("missing:", "tag:")) and G.degree(n) == 0]:
        G.remove_node(node)
    state.names = names
    state.held = {p: f.sha for p, f in facts.items()}
    return len(rescan)


def _uses(f: NoteFacts, keys: set[str]) -> bool:
    """True when a note's derived edges depend on one of ``keys``."""
    if not keys:
        return False
    if not keys.isdisjoint(f.hits):
        return True
    return any(c.key in keys or (c.parent in keys) for c in f.claims)


def _drop(G: nx.MultiDiGraph, f: NoteFacts) -> None:
    """Remove what a note contributed except its note node, which other notes' links and
    mentions point at until they are re-derived (a removed note's goes at the end)."""
    for u, v, k in (*f.edges, *f.derived):
        if G.has_edge(u, v, k):
            G.remove_edge(u, v, k)
    me = note_id(f.path)
    for node in f.nodes:
        if node != me and G.has_node(node):
            G.remove_node(node)


def _tag_attrs(node: str) -> dict:
    name = node[len("tag:") :]
    return {
        "kind": "tag",
        "label": f"#{name}",
        "path": None,
        "line": None,
        "heading": [],
        "snippet": "",
        "tags": [],
    }


def _missing_attrs(node: str) -> dict:
    return {**_tag_attrs(node), "kind": "missing", "label": node[len("missing:") :]}


def _sync_shared_nodes(
    G: nx.MultiDiGraph, facts: dict[str, NoteFacts], names: Names, old: Names
) -> None:
    """Concept nodes from the name table; tag nodes and the nested-tag hierarchy."""
    for node in old.concepts.keys() - names.concepts.keys():
        if G.has_node(node):
            G.remove_node(node)
    for node, claims in names.concepts.items():
        attrs = _concept_attrs(claims)
        if not G.has_node(node) or G.nodes[node] != attrs:
            G.add_node(node, **attrs)
    used = {t for f in facts.values() for t in f.tags}
    wanted: set[str] = set()
    hierarchy: set[tuple[str, str]] = set()
    for t in used:
        chain = tag_chain(t)
        wanted.update(tag_id(c) for c in chain)
        hierarchy.update((tag_id(a), tag_id(b)) for a, b in zip(chain, chain[1:], strict=False))
    for node in [n for n in G if n.startswith("tag:") and n not in wanted]:
        G.remove_node(node)
    for node in wanted:
        if not G.has_node(node):
            G.add_node(node, **_tag_attrs(node))
    tag_edges = [e for n in wanted for e in G.out_edges(n, keys=True)]
    for u, v, k in tag_edges:
        if (u, v) not in hierarchy:
            G.remove_edge(u, v, k)
    for u, v in hierarchy:
        if not G.has_edge(u, v, "contains"):
            G.add_edge(u, v, key="contains", **_evidence("contains", None, None, f"#{v[4:]}"))


def _read(vault: Vault, name: str) -> tuple[dict | None, str]:
    """A saved part of the graph; else None and what is wrong with it, as the end of a
    sentence ("" when it does not exist: nothing is wrong)."""
    try:
        with open(vault.data_dir / name, "rb") as fh:
            with gc_paused():
                saved = pickle.load(fh)
    except FileNotFoundError:
        return None, ""
    except Exception as e:  # noqa: BLE001 - damaged, or from a kb whose classes differ: rebuild
        return None, f"is damaged ({name}: {type(e).__name__})"
    if not isinstance(saved, dict):
        return None, f"is damaged ({name} holds no graph)"
    if saved.get("schema") != SCHEMA:
        return None, "is from another version of kb"
    return saved, ""


def _save(vault: Vault, state: GraphState) -> None:
    """Write the query part and the bookkeeping part, paired by a token."""
    token = os.urandom(8).hex()
    for name in (GRAPH_FILE, NOTES_FILE, HELD_FILE):
        for tmp in vault.data_dir.glob(f"{name}.*.tmp"):  # what a killed kb did not finish
            tmp.unlink(missing_ok=True)
    (vault.data_dir / HELD_FILE).unlink(missing_ok=True)  # rewritten once both parts are saved
    # The bookkeeping goes first: a crash between the two leaves a pair that does not
    # match, which the next sync rebuilds, rather than a graph with stale bookkeeping.
    books = {"facts": state.facts, "mention_keys": state.mention_keys}
    _dump(vault, NOTES_FILE, {"schema": SCHEMA, "token": token, **books})
    query = {"graph": state.graph, "names": state.names, "held": state.held}
    _dump(vault, GRAPH_FILE, {"schema": SCHEMA, "token": token, **query})
    _save_held(vault, state.held)


def _save_held(vault: Vault, held: dict[str, str]) -> None:
    tmp = vault.data_dir / f"{HELD_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"schema": SCHEMA, "held": held}), encoding="utf-8")
    os.replace(tmp, vault.data_dir / HELD_FILE)


def _dump(vault: Vault, name: str, obj: dict) -> None:
    folder = vault.ensure_data_dir()
    tmp = folder / f"{name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, folder / name)


class _Texts:
    """``graph-text.sqlite``: every note's text in matching form, so that a name new to the
    vault is looked for in the other notes without reading them all from the store."""

    def __init__(self, vault: Vault, fresh: bool):
        import sqlite3

        vault.ensure_data_dir()
        path = vault.data_dir / TEXT_FILE
        self.damage = ""
        """What was wrong with the file, when it had to be started afresh ("" when nothing)."""
        try:
            self._open(path, fresh)
        except sqlite3.OperationalError:
            raise  # locked, read-only, disk full: not a reason to throw the file away
        except sqlite3.DatabaseError as e:
            self.db.close()
            self.damage = f"is damaged ({TEXT_FILE}: {e})"
            for suffix in ("", "-wal", "-shm", "-journal"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            self._open(path, fresh=True)

    def _open(self, path: Path, fresh: bool) -> None:
        import sqlite3

        self.db = sqlite3.connect(path, timeout=30)
        self.db.execute("CREATE TABLE IF NOT EXISTS texts (path TEXT PRIMARY KEY, text TEXT)")
        if fresh:
            self.db.execute("DELETE FROM texts")
        self.count()  # reads the file: damage shows now rather than halfway through a sync

    def matching(self, matcher: Any) -> list[str]:
        """Paths of the notes whose text may hold one of the matcher's names."""
        return [
            p for p, text in self.db.execute("SELECT path, text FROM texts") if matcher.any_in(text)
        ]

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM texts").fetchone()[0]

    def close(self) -> None:
        self.db.close()

    def save(self, texts: dict[str, str | None]) -> None:
        with self.db:
            self.db.executemany(
                "DELETE FROM texts WHERE path=?", [(p,) for p, t in texts.items() if t is None]
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO texts VALUES (?, ?)",
                [(p, t) for p, t in texts.items() if t is not None],
            )
        self.db.close()
