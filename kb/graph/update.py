"""Keeping the concept graph caught up with the store, one note's rows at a time.

An update is one SQLite transaction: the changed notes' rows are deleted and inserted anew
(read from the store a batch at a time, each note's rows written as soon as they are known);
the name table is recomputed for the names joined to the changed notes' own (their name
groups, :func:`kb.graph.names.name_groups`: from those notes' facts alone, unless they are
a large part of the vault) and written where it differs; and only the notes whose edges can
have changed are derived again: the changed notes, those whose text says a name that
appeared (found through the text kept for each note), those that say or nest a name whose
node changed, and those with a link that looks up a name a note gained or lost (not every
note with links). An edit that keeps its note's names skips the name table altogether
(:func:`_update_in_place`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kb.errors import notice
from kb.graph.db import DB_FILE, Damaged, GraphDB, remove_file
from kb.graph.derive import concept_attrs, derive, missing_attrs, tag_attrs
from kb.graph.facts import (
    Claim,
    Definition,
    NoteFacts,
    NoteGraph,
    _evidence,
    encode_light,
    encode_links,
    find_hits,
    note_facts,
)
from kb.graph.names import KEY, Names, name_groups
from kb.graph.queries import KnowledgeGraph
from kb.model import Note
from kb.nodes import tag_chain, tag_id
from kb.resolve import looked_up, note_keys
from kb.store import Progress, gc_paused
from kb.topicnames import compact, recurring_need

if TYPE_CHECKING:
    from kb.store import Store
    from kb.vault import Vault

Others = Callable[[frozenset, set], dict]
"""others(names, skip) → the notes, other than ``skip``, whose text may hold one of ``names``."""
Reader = Callable[[Iterable[str]], dict]
"""read(paths) → path → Note, for notes held unchanged whose names are found again."""


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
    rederived: int = 0
    """Notes whose links and mentions were derived again (the changed ones included)."""
    seconds: float = 0.0

    @property
    def nodes(self) -> int:
        return self.graph.number_of_nodes()

    @property
    def edges(self) -> int:
        return self.graph.number_of_edges()


def open_db(vault: Vault, fresh: bool = False) -> tuple[GraphDB, bool]:
    """The vault's graph file, and True when it is new: made anew when asked, missing,
    damaged or of another version (saying so once on stderr when it was damaged or old)."""
    path = vault.ensure_data_dir() / DB_FILE
    if fresh:
        remove_file(path)
    existed = path.exists()
    try:
        return GraphDB(path), not existed
    except Damaged as e:
        notice(f"the concept graph in {vault.data_dir} {e.problem}; rebuilding it")
    remove_file(path)
    return GraphDB(path), True


def read(vault: Vault) -> KnowledgeGraph | None:
    """The saved graph as it is, without syncing (None when there is none that kb can use)."""
    try:
        return KnowledgeGraph(GraphDB(vault.data_dir / DB_FILE, create=False))
    except (FileNotFoundError, Damaged):
        return None


def is_current(vault: Vault, store: Store) -> bool:
    """True when the saved graph was built from the notes the store holds now (cheap)."""
    try:
        db = GraphDB(vault.data_dir / DB_FILE, create=False)
    except (FileNotFoundError, Damaged):
        return False
    try:
        generation = store.generation()
        if generation and db.store_generation() == generation:
            return db.whole()  # nothing changed in the store since: no hash compared
        paths = store.changed_since(db.store_generation())
        return store.diff(db.held(paths), paths) == ([], []) and db.whole()
    finally:
        db.close()


def sync(
    vault: Vault, store: Store, full: bool = False, progress: Progress | None = None
) -> SyncResult:
    """Bring the saved graph up to date with the store (call ``store.refresh()`` first)."""
    start = time.perf_counter()
    db, new = open_db(vault, fresh=full)
    try:
        return _sync(db, store, full or new, start, progress)
    except Damaged as e:
        db.close()
        notice(f"the concept graph in {vault.data_dir} {e.problem}; rebuilding it")
        db, _ = open_db(vault, fresh=True)
        return _sync(db, store, True, start, progress)


def _sync(
    db: GraphDB, store: Store, full: bool, start: float, progress: Progress | None
) -> SyncResult:
    if not full and not db.whole():
        raise Damaged("is damaged (some notes have lost their nodes)")
    generation = store.generation()  # before the comparison: a change after it is seen next time
    # What changed since the generation the graph caught up with (None: compare every note).
    paths = None if full else store.changed_since(db.store_generation())
    held = db.held(paths)
    stale, gone = store.diff(held, paths)
    result = SyncResult(KnowledgeGraph(db), full=full)
    if stale or gone:
        notes = _Stored(store, stale)
        gone = sorted(gone)

        def others(keys: frozenset[str], skip: set[str]) -> dict[str, Note]:
            return store.notes(p for p in db.paths_holding(keys) if p not in skip)

        with gc_paused():
            stats = update(db, notes, gone, others, progress, read=store.notes)
        # (a note the store could not give back is gone: its row is forgotten, and the next
        # refresh reads its file again)
        gone = sorted(set(gone) | notes.missing)
        result.added = sorted(p for p in notes.found if p not in held)
        result.changed = sorted(p for p in notes.found if p in held)
        result.removed = gone
        result.rescanned, result.rederived = stats
    if db.store_generation() != generation:
        db.set_store_generation(generation)  # after the update's own transaction, not before
    result.seconds = time.perf_counter() - start
    return result


class _Stored(Mapping):
    """path → (note, sha) of the store's notes at ``paths``, read a batch at a time each time
    the items are walked (a full build holds no more than a batch of parsed notes)."""

    BATCH = 256

    def __init__(self, store: Store, paths: Iterable[str]):
        self.store = store
        self.paths = sorted(paths)
        self.shas = store.hashes(self.paths)
        self.found: set[str] = set()
        self.missing: set[str] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __contains__(self, path: object) -> bool:
        return path in self.shas

    def __getitem__(self, path: str) -> tuple[Note, str]:
        note = self.store.notes([path]).get(path)
        if note is None:
            raise KeyError(path)
        return note, self.shas[path]

    def items(self) -> Iterator[tuple[str, tuple[Note, str]]]:  # type: ignore[override]
        for i in range(0, len(self.paths), self.BATCH):
            batch = self.paths[i : i + self.BATCH]
            notes = self.store.notes(batch)
            for path in batch:
                note = notes.get(path)
                if note is None:
                    self.missing.add(path)
                else:
                    self.found.add(path)
                    yield path, (note, self.shas[path])


def load(vault: Vault, store: Store) -> KnowledgeGraph:
    """The graph, caught up with the store when notes changed since it was saved."""
    return sync(vault, store).graph


def build(notes: Iterable[Note]) -> KnowledgeGraph:
    """A graph of ``notes`` in memory (no store, no file): for tests and one-off use."""
    db = GraphDB(None)
    update(db, {n.path: (n, "") for n in notes}, [], lambda keys, skip: {})
    return KnowledgeGraph(db)


def link_keys(f: NoteFacts) -> set[str]:
    """The folded names a note's links look up (a note with one of these as its file name or
    alias can change where they go)."""
    return set().union(*(looked_up(row[1]) for row in f.links))


def _signature_keys(entries: Iterable[tuple[str, tuple[str, ...]]]) -> set[str]:
    """The folded names by which links find the notes of these (path, aliases) entries."""
    return set().union(*(note_keys(path, aliases) for path, aliases in entries))


IN_PLACE_MAX = 64
"""Up to this many changed notes (none removed), an update first checks whether they keep
their names (:func:`_names_kept`); more are read one batch at a time (bounded memory)."""


def update(
    db: GraphDB,
    notes: Mapping[str, tuple[Note, str]],
    gone: Iterable[str],
    others: Others,
    progress: Progress | None = None,
    read: Reader = lambda paths: {},
) -> tuple[int, int]:
    """Apply changed, added (``notes``: path → (note, sha)) and removed notes to the graph,
    in one transaction. Returns (notes searched again for new names, notes derived again).

    ``notes`` is read twice, in its order (its outline first, then the names its text says),
    and a note's rows are written as soon as they are known: a mapping that reads notes a
    batch at a time keeps a full build's memory to the notes' facts."""
    from kb.concepts import mentionable
    from kb.mentions import Matcher

    gone = list(gone)
    steps = 2 * len(notes)  # reading each note's outline, then finding the names it says
    parts: dict[str, NoteGraph] | None = None
    if len(notes) <= IN_PLACE_MAX:
        parts = dict(_facts(notes.items(), progress, steps))
    with db.transaction():
        if parts and not gone:
            moved = _names_kept(db, parts)
            if moved is not None:
                return _update_in_place(db, notes, parts, moved, progress)
        touched = set(notes) | set(gone)
        # Read before the rows go: the name groups the changed notes had (what they joined)
        # and their entries in link resolution (every note's path and aliases).
        old_tokens = db.tokens(touched)
        signature_moved = set(db.entries(touched))
        held_before = db.count()
        removed_nodes = db.drop_notes(db.held(touched))
        own: dict[str, NoteFacts] = {}
        written: set[str] = set()  # the nodes the changed notes own now
        source = parts.items() if parts is not None else _facts(notes.items(), progress, steps)
        for path, part in source:
            own[path] = part.facts
            _put_own(db, part)
            written.update(part.nodes)
        parts = None  # (their nodes and edges are written: only the facts are kept)
        removed_nodes -= written
        signature_moved ^= {(p, f.aliases) for p, f in own.items()}
        scope = _joined_scope(db, own, old_tokens, held_before)
        if scope is None:  # the whole table is built again
            facts = db.facts(skip=own)
            old_names = db.targets()
            said_before: set[str] = set()
        else:
            paths, within = scope
            facts = db.facts(p for p in paths if p not in own)
            old_names = db.targets(within)
            said_before = set(db.said_keys()) - within
        facts.update(own)
        total = None if scope is None else db.count()
        names = Names.build((facts[p] for p in sorted(facts)), total)
        if scope is not None:
            names = _restricted(names, within, facts)
        keys = names.matched_keys()
        # (the names of other groups were checked when they were written)
        matcher = Matcher([*said_before, *(k for k in keys if mentionable(k))], checked=True)
        old_keys = frozenset(old_names)
        changed_keys = {k for k in keys | old_keys if old_names.get(k) != names.target.get(k)}
        sayers = db.paths_saying(changed_keys)  # before the hits of names now gone go
        # A name inside a longer one is no mention of its own (kb.mentions): a note that
        # says a name gone or added has all its names found again.
        rescan = db.paths_saying(old_keys - keys) - touched
        db.drop_hits(old_keys - keys)
        added_keys = keys - old_keys
        if added_keys:
            small = Matcher(added_keys)
            if small.size:
                for path, note in others(frozenset(small.keys), touched | rescan).items():
                    if find_hits(note, small)[0]:
                        rescan.add(path)
        for path, note in read(sorted(rescan)).items():
            db.replace_hits(path, find_hits(note, matcher)[0])

        relink = db.paths_linking(_signature_keys(signature_moved)) if signature_moved else set()
        again = set(own) | rescan | relink | sayers
        if changed_keys:
            again.update(
                p
                for p, f in facts.items()
                if any(c.key in changed_keys or c.parent in changed_keys for c in f.claims)
            )
        facts = {}
        others_facts = db.facts((p for p in again if p not in own), links=True)
        again &= own.keys() | others_facts.keys()
        if scope is None:
            view, resolver = names, names.resolver()
        else:
            # Names outside the scope are as saved; links resolve among the notes named the
            # way they look them up (kb.resolve.looked_up).
            asked = set().union(*(link_keys(f) for f in (*own.values(), *others_facts.values())))
            view = Names(
                target=_Targets(db, names.target, within),
                signature=frozenset(db.notes_named(asked)),
            )
            resolver = view.resolver()

        def rederive(f: NoteFacts) -> None:
            if isinstance(view.target, _Targets):
                view.target.fetch(
                    {k for c in f.claims for k in (c.key, c.parent) if k} | f.hits.keys()
                )
            _put_derived(db, f.path, derive(f, view, resolver))

        for done, (path, (note, _)) in enumerate(notes.items(), len(notes) + 1):
            f = own.get(path)
            if f is None:
                continue  # (a note the store could not give back: it is gone)
            f.hits, text = find_hits(note, matcher)
            db.put_found(path, f.hits, text)
            rederive(f)
            f.hits = {}  # (written: a full build keeps no note's mentions)
            if progress:
                progress(done, steps)
        if progress and notes:
            progress(0, 0)  # deriving edges and writing rows: seconds with no count to show
        if scope is None:
            removed_nodes |= _sync_shared_nodes(db, names, db.shared_nodes("concept"))
        else:
            nodes = set(old_names.values()) | set(names.target.values())
            stored = {n: a for n, a in db.nodes(nodes).items() if a["kind"] == "concept"}
            removed_nodes |= _sync_shared_nodes(db, names, stored)
        defines = {c: [Definition.of(cl) for cl in claims] for c, claims in names.concepts.items()}
        db.write_names(
            names.target, names.notes_named, compact, matcher.keys, names.display, names.about,
            defines, scope=None if scope is None else (within, set(old_names.values())),
        )  # fmt: skip
        for path in sorted(again - own.keys()):
            f = others_facts[path]
            f.hits = db.hits(path)
            db.drop_derived(path)
            rederive(f)
        db.drop_nodes(removed_nodes)
        db.drop_unlinked()
    return len(rescan), len(again)


def _facts(
    notes: Iterable[tuple[str, tuple[Note, str]]], progress: Progress | None, steps: int
) -> Iterator[tuple[str, NoteGraph]]:
    for done, (path, (note, sha)) in enumerate(notes, 1):
        yield path, note_facts(note, sha)
        if progress:
            progress(done, steps)


class _Targets(dict):
    """The name table as an update sees it: the names of its scope as just built, the others
    as saved, :meth:`fetch`-ed before a note is derived (a note's names at a time)."""

    def __init__(self, db: GraphDB, mine: dict[str, str], within: set[str]):
        super().__init__((k, mine[k]) for k in within if k in mine)
        self.db, self.within = db, within

    def fetch(self, keys: Iterable[str]) -> None:
        missing = {k for k in keys if k not in self.within and k not in self}
        if missing:
            self.update(self.db.targets(missing))
            self.update((k, None) for k in missing if k not in self)  # (asked: no name)


def _put_own(db: GraphDB, part: NoteGraph) -> None:
    """A note's own rows (facts, names, outline and tag edges), with the tag nodes they need."""
    f = part.facts
    for node in {v for _, v, _ in part.edges if v.startswith("tag:")}:
        db.ensure_node(node, tag_attrs(node))
    db.put_note(f, encode_light(f), encode_links(f), part.nodes, part.edges, link_keys(f))


def _put_derived(db: GraphDB, path: str, edges: dict) -> None:
    """A note's derived edges, with the missing-link nodes they point at."""
    for node in {v for _, v, _ in edges if v.startswith("missing:")}:
        db.ensure_node(node, missing_attrs(node))
    db.put_edges(edges, path, derived=True)


def _name_facts(f: NoteFacts) -> tuple[tuple, list[str]]:
    """What the name table (:meth:`Names.build`) and the shared nodes read of a note, with
    its claims' lines, snippets and tags aside, and the sections its claims are in (by line).
    An edit that keeps the first keeps the name table, up to those sections' ids (a section
    is named by its line). Lines and sections are kept as ranks, since claims are ordered by
    (path, line) wherever several define one concept."""
    claimed = (*f.claims, *f.terms)
    lines = {line: i for i, line in enumerate(sorted({c.line for c in claimed}))}
    sections = sorted({c.section for c in claimed}, key=_section_line)
    at = {s: i for i, s in enumerate(sections)}

    def claims(cs: Iterable[Claim]) -> tuple:
        return tuple(
            (lines[c.line], at[c.section], c.key, c.name, c.parts, c.parent, c.parent_note,
             c.parent_name, c.heading, c.source)
            for c in cs
        )  # fmt: skip

    kept = (
        f.title, f.aliases, f.names, f.listing, frozenset(f.tags), claims(f.claims),
        claims(f.terms),
    )  # fmt: skip
    return kept, sections


def _section_line(section: str) -> int:
    """The line a section starts on (0 for a note's text above its first heading)."""
    head, _, line = section.rpartition("#")
    return int(line) if head.startswith("section:") and line.isdigit() else 0


def _names_kept(db: GraphDB, own: dict[str, NoteGraph]) -> dict[str, str] | None:
    """When every one of these notes is held already and says the same names as its stored
    facts (so the name table stands, and no other note's edges can change): the new id of
    each of their claimed sections that moved (old → new). None otherwise."""
    old = db.facts(own)
    if old.keys() != own.keys():
        return None
    moved: dict[str, str] = {}
    for path, part in own.items():
        (was, before), (now, after) = _name_facts(old[path]), _name_facts(part.facts)
        if was != now:
            return None
        moved.update((a, b) for a, b in zip(before, after, strict=True) if a != b)
    return moved


def _update_in_place(
    db: GraphDB,
    notes: dict[str, tuple[Note, str]],
    own: dict[str, NoteGraph],
    moved: dict[str, str],
    progress: Progress | None,
) -> tuple[int, int]:
    """:func:`update` for edits that keep the name table (:func:`_names_kept`): the notes'
    rows are written again, their names found with the saved matcher keys, the sections
    that moved renamed in the name table, the cards of the concepts they define refreshed;
    no other note is read."""
    from kb.mentions import Matcher

    matcher = Matcher(db.said_keys(), checked=True)
    # Links find notes by path, file name or alias: a resolver over the notes named like
    # what these notes' links look up answers as one over the whole vault would.
    asked = set().union(*(link_keys(part.facts) for part in own.values()))
    signature = frozenset(db.notes_named(asked))
    removed_nodes = db.drop_notes(own)
    steps = 2 * len(notes)
    for done, (path, (note, _)) in enumerate(notes.items(), len(notes) + 1):
        part = own[path]
        f = part.facts
        f.hits, text = find_hits(note, matcher)
        _put_own(db, part)
        db.put_found(path, f.hits, text)
        if progress:
            progress(done, steps)
    removed_nodes -= {n for part in own.values() for n in part.nodes}
    db.move_abouts(moved)
    # The cards of the concepts these notes define: a definition's line, snippet or tags
    # may have changed (which definition comes first cannot: the lines kept their order).
    mine = {
        (c.section, c.key, c.source): c
        for part in own.values()
        for c in (*part.facts.claims, *part.facts.terms)
    }
    for concept in sorted(db.concepts_defined_in(own)):
        old = db.definitions(concept)
        new = [
            Definition.of(mine[moved.get(d.section, d.section), d.key, d.source])
            if d.path in own
            else d
            for d in old
        ]
        if new != old:
            db.put_definitions(concept, new)
            attrs = concept_attrs(new)
            if db.node(concept) != attrs:
                db.put_node(concept, attrs)
    # Deriving reads the name table only for the names these notes' headings and text say.
    said = {k for part in own.values() for c in part.facts.claims for k in (c.key, c.parent)}
    said.update(k for part in own.values() for k in part.facts.hits)
    names = Names(target=db.targets(said), signature=signature)
    resolver = names.resolver()
    for path in sorted(own):
        _put_derived(db, path, derive(own[path].facts, names, resolver))
    db.drop_nodes(removed_nodes)
    db.drop_unlinked()
    return 0, len(own)


def _sync_shared_nodes(db: GraphDB, names: Names, stored: dict[str, dict]) -> set[str]:
    """Concept nodes from the name table (``stored``: those saved that it may change); tag
    nodes and the nested-tag hierarchy. Returns the shared nodes that are gone (their edges
    go with them)."""
    gone: set[str] = set()
    for node in stored.keys() - names.concepts.keys():
        gone.add(node)
    for node, claims in names.concepts.items():
        attrs = concept_attrs(claims)
        if stored.get(node) != attrs:
            db.put_node(node, attrs)
    wanted: set[str] = set()
    hierarchy: set[tuple[str, str]] = set()
    for t in db.used_tags():
        chain = tag_chain(t)
        wanted.update(tag_id(c) for c in chain)
        hierarchy.update((tag_id(a), tag_id(b)) for a, b in zip(chain, chain[1:], strict=False))
    tags = db.shared_nodes("tag")
    gone.update(tags.keys() - wanted)
    for node in wanted - tags.keys():
        db.put_node(node, tag_attrs(node))
    have = db.unowned_edges()
    for u, v, k in have:
        if (u, v) not in hierarchy or k != "contains":
            db.drop_edge(u, v, k)
    want = {
        (u, v, "contains"): _evidence("contains", None, None, f"#{v[4:]}")
        for u, v in hierarchy
        if (u, v, "contains") not in have
    }
    db.put_edges(want, None, derived=False)
    return gone


JOINED_SHARE = 0.3
"""An added or deleted note recomputes the names joined to its own (:func:`_joined_scope`)
unless they are in more than this share of the notes: then the whole table is built."""
JOINED_MIN = 200


def _joined_scope(
    db: GraphDB, own: dict[str, NoteFacts], old: set[tuple[int, str]], held_before: int
) -> tuple[set[str], set[str]] | None:
    """What an update must build the name table of, when not all of it: the notes holding a
    name group joined to those the changed notes had (``old``) or have now (their rows are
    written: kb.graph.names.name_groups), and the keys of those groups. None for the whole
    table: a new graph, many notes joined, or a note count that moves
    :func:`kb.topicnames.recurring_need`."""
    after = db.count()
    if not held_before or recurring_need(held_before) != recurring_need(after):
        return None
    limit = max(JOINED_MIN, int(JOINED_SHARE * after))
    seeds = set(old).union(*(g for f in own.values() for g in name_groups(f)))
    found = db.joined(seeds, own, limit)
    if found is None:
        return None
    paths, tokens = found
    return paths, {t for kind, t in tokens if kind == KEY}


def _restricted(names: Names, within: set[str], facts: dict[str, NoteFacts]) -> Names:
    """The part of a table built from some notes' facts that is right: the names of
    ``within`` (the groups joined to the changed notes) and what they name."""
    target = {k: n for k, n in names.target.items() if k in within}
    nodes = set(target.values())
    sections = {c.section for f in facts.values() for c in f.claims if c.key in within}
    display = {}
    for node, by in names.display.items():
        kept = {k: name for k, name in by.items() if k in within}
        if kept:
            display[node] = kept
    return Names(
        target=target,
        notes_named={k: paths for k, paths in names.notes_named.items() if k in within},
        display=display,
        concepts={n: cl for n, cl in names.concepts.items() if n in nodes},
        about={s: n for s, n in names.about.items() if s in sections},
        signature=names.signature,
    )
