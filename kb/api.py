"""What kb answers, as plain data: one function per question, shaped as ``kb X --json`` prints it.

The click commands (:mod:`kb.commands`) and the MCP server (:mod:`kb.mcp_server`) both call
these, so a script, a person and an AI assistant get the same answer. Nothing here prints,
refreshes or knows about click: the caller brings the vault up to date and opens the graph
(see :func:`kb.refresh.refreshed`), then asks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kb.aliases import compact_key
from kb.concepts import bounded
from kb.display import display_text
from kb.errors import KbError, TopicNotFound
from kb.output import plain

if TYPE_CHECKING:
    from kb.graph.queries import Hop, KnowledgeGraph
    from kb.model import Hit, Note
    from kb.store import Store
    from kb.vault import Vault


# -- search ----------------------------------------------------------------------------------


def breadcrumb(heading: tuple[str, ...] | list[str]) -> list[str]:
    """Note › heading › sub as a reader reads it (math as text), without a heading that only
    repeats the one above it (``第三章_深度学习基础 › 第三章 深度学习基础``: the file's name
    and its H1 differ only in spaces, case and punctuation)."""
    out: list[str] = []
    last = None
    for item in heading:
        key = compact_key(item)
        if not out or key != last or not key:
            out.append(display_text(item))
        last = key
    return out


def hit_json(hit: Hit, heading: bool = True) -> dict:
    """A hit as ``--json`` prints it (``kb related`` finds notes, so it leaves out the heading)."""
    out: dict = {"path": hit.path, "title": hit.title}
    if heading:
        out["heading"] = breadcrumb(hit.heading)
    out.update(line=hit.line, score=hit.score, snippet=plain(hit.snippet), tags=list(hit.tags))
    if hit.also:
        out["also"] = list(hit.also)  # why a hit without the words typed was found
    return out


def search_hits(vault: Vault, query: str, limit: int = 10) -> list[Hit]:
    """The sections matching ``query`` (kb's query syntax), best first."""
    from kb import index

    return index.search(vault, query, limit=limit)


def search(vault: Vault, query: str, limit: int = 10) -> list[dict]:
    """``kb search --json``: the sections matching ``query``, best first."""
    return [hit_json(h) for h in search_hits(vault, query, limit)]


@dataclass(frozen=True, slots=True)
class Related:
    """What ``kb related`` found for a name: the notes most like the note it names."""

    hits: list[Hit]
    """The notes most like that note, best first (never the note itself)."""
    via: dict | None = None
    """When the name is a topic inside a note (a concept, a section) rather than a note: that
    topic's label, kind, path and line; the hits are then the notes most like its note."""


def suggest(vault: Vault, query: str) -> list[str]:
    """Queries to try instead of ``query`` (words of the notes close to its unknown words), as
    ``kb search`` offers them when nothing is found; empty when none is better."""
    from kb import index

    return index.suggest(vault, query)


def related_to(vault: Vault, note: str, limit: int | None = 10) -> Related:
    """The notes most like ``note`` (a title, alias or vault path, or a name the graph knows:
    a concept gives the notes like the note it is in, saying so in ``via``)."""
    from kb import index

    try:
        return Related(index.related(vault, note, limit=limit))
    except TopicNotFound:
        # The graph knows more names than the index (title parts like 残差网络 in
        # 残差网络（ResNet）, concepts): `kb show` and `kb related` should agree on a name.
        topic = _topic_in_graph(vault, note)
        if topic is None:
            raise
    if not topic.get("path"):
        hint = (
            f" (its notes: search tag:{topic['label'].lstrip('#')})"
            if topic["kind"] == "tag"
            else ""
        )
        raise KbError(
            f"{note!r} is a {topic['kind']}, not a note; give a note's title or path{hint}"
        )
    via = None
    if topic["kind"] != "note":
        via = {k: topic[k] for k in ("label", "kind", "path", "line")}
    return Related(index.related(vault, topic["path"], limit=limit), via)


def related_hits(vault: Vault, note: str, limit: int | None = 10) -> list[Hit]:
    """The notes most like ``note`` (see :func:`related_to`)."""
    return related_to(vault, note, limit).hits


def related(vault: Vault, note: str, limit: int = 10) -> list[dict]:
    """``kb related --json``: the notes most like ``note``, best first."""
    return [hit_json(h, heading=False) for h in related_hits(vault, note, limit)]


def via_text(name: str, via: dict) -> str:
    """One line saying that ``name`` gave a topic inside a note, and whose likes are shown."""
    return (
        f"{name!r} is the {via['kind']} {via['label']!r} at {via['path']}:{via['line']}, "
        f"not a note: the notes most like {via['path']}"
    )


def _topic_in_graph(vault: Vault, name: str) -> dict | None:
    """The node the saved concept graph gives for a name, if the graph exists and knows it."""
    from kb import graph

    kg = graph.read(vault)
    if kg is None:
        return None
    try:
        return kg.node(kg.find(name))
    except KbError:
        return None


# -- the graph -------------------------------------------------------------------------------


FOUND_MAX = 1000
"""Sections at most that a card of a name that is no topic counts."""


def show(
    kg: KnowledgeGraph,
    topic: str,
    found_in: Callable[[str], list[Hit]],
    related: int | None = None,
) -> dict:
    """``kb show --json``: the card of a topic, with its ``related`` most related topics (0:
    all; None: the card's usual number); for a name that is no topic but that notes say,
    where they say it (``found_in(topic)`` finds those sections). Raises TopicNotFound."""
    try:
        node, others = kg.find_named(topic)
    except TopicNotFound as missing:
        tag = topic.strip().startswith(("#", "tag:"))  # a tag asked for: no tag is no topic
        found = None if missing.ambiguous or tag else found_in(topic)
        if not found:
            raise
        return not_a_topic(topic, found, missing.suggestions)
    card = kg.card(node) if related is None else kg.card(node, related)
    if others:
        card["also_named"] = others  # (notes the name names too: kb show PATH for those)
    return card


def not_a_topic(topic: str, hits: list[Hit], suggestions: list[str]) -> dict:
    """The card of a name that is no topic but that notes say (``kind`` is ``not a topic``)."""
    return {
        "label": topic,
        "kind": "not a topic",
        "found_in": [hit_json(h) for h in hits],
        "did_you_mean": suggestions,
    }


def found_in(vault: Vault, topic: str) -> list[Hit]:
    """The sections whose text says ``topic`` (a phrase search), for a name that is no topic."""
    from kb.errors import QueryError

    phrase = '"' + " ".join(topic.replace('"', " ").split()) + '"'
    try:
        return search_hits(vault, phrase, FOUND_MAX)
    except QueryError:
        return []


def find_path(kg: KnowledgeGraph, a: str, b: str) -> dict:
    """``kb path --json``: the shortest path between two topics, each hop with its evidence
    (``hops`` is None when they are not connected, [] when they are the same topic)."""
    src, dst = kg.find(a), kg.find(b)
    if src == dst:
        return {"from": src, "to": dst, "hops": []}
    hops = kg.shortest_path(src, dst)
    if hops is None:
        return {"from": src, "to": dst, "hops": None}
    on_path = {h.source for h in hops} | {h.target for h in hops}
    also = kg.common_neighbours(src, dst, exclude=on_path | {f"{h.path}:{h.line}" for h in hops})
    strengths, weak = kg.path_strength(src, hops)
    return {
        "from": src,
        "to": dst,
        "hops": [hop_json(kg, h) | s for h, s in zip(hops, strengths, strict=True)],
        "weak": weak,
        "also": [
            {"via": n, "label": kg.label(n), "evidence": [hop_json(kg, h) for h in ev]}
            for n, ev in also
        ],
    }


def hop_json(kg: KnowledgeGraph, h: Hop) -> dict:
    """One hop of a path: the edge as it points, its kind, and where a note says it."""
    return {
        "source": h.source,
        "target": h.target,
        "source_label": kg.label(h.source),
        "target_label": kg.label(h.target),
        "kind": h.kind,
        "evidence": {
            "path": h.path,
            "line": h.line,
            "text": bounded(h.text, (kg.label(h.source), kg.label(h.target))),
        },
        # the edge itself: the section (or note) holding the sentence, and what it names
        "via": {"source": h.via_source or h.source, "target": h.via_target or h.target},
    }


def neighbors(
    kg: KnowledgeGraph, topic: str, depth: int = 1, kinds: Iterable[str] | None = None
) -> dict:
    """``kb neighbors --json``: the topics within ``depth`` hops, nearest first and, at one
    distance, most closely tied first (``strength``: :meth:`KnowledgeGraph.neighbours_ranked`);
    only nodes of ``kinds``, such as note, section, concept, tag, when given."""
    node = kg.find(topic)
    found = kg.neighbours_ranked(node, depth)
    brief = kg.briefs(found)  # (kind, label, path, line) of each, in one query
    wanted = set(kinds) if kinds else None
    # nearest first; at one distance the most closely tied first, then by name
    rows = sorted(
        (dist, -strength, brief[n][1].casefold(), n, brief[n][0], strength)
        for n, (dist, strength) in found.items()
        if n != node
    )
    return {
        "id": node,
        "label": kg.label(node),
        "depth": depth,
        "neighbors": [
            {
                "id": n,
                "label": brief[n][1],
                "kind": kind,
                "path": brief[n][2],
                "line": brief[n][3],
                "distance": dist,
                "strength": strength,
            }
            for dist, _, _, n, kind, strength in rows
            if wanted is None or kind in wanted
        ],
    }


def tags(kg: KnowledgeGraph) -> list[dict]:
    """``kb tags --json``: every tag with its number of notes, nested tags under their parent."""
    return [{"tag": t.name, "notes": t.notes, "depth": t.depth} for t in kg.tags()]


def doctor(vault: Vault, kg: KnowledgeGraph, store: Store) -> dict:
    """``kb doctor --json``: broken and ambiguous links, missing embeds, notes read around a
    problem, files not read, orphans and unlinked mentions that could be links."""
    from kb.checks import check_links

    report = check_links(store.notes().values(), kg.resolver(), vault.attachments())
    return {
        "notes": report.notes,
        "links": report.links,
        "broken": [_problem(p) for p in report.broken],
        "ambiguous": [_problem(p) for p in report.ambiguous],
        "missing_embeds": [_problem(p) for p in report.missing_embeds],
        "bad_frontmatter": [
            {"path": w.path, "warnings": list(w.warnings)} for w in report.bad_frontmatter
        ],
        "skipped": [{"path": p, "reason": why} for p, why in sorted(store.skipped().items())],
        "orphans": report.orphans,
        "suggestions": kg.link_suggestions(),
    }


def _problem(p) -> dict:
    out = {"path": p.path, "line": p.line, "target": p.target, "context": p.context}
    if p.candidates:
        out["candidates"] = list(p.candidates)
    return out


# -- reading a note --------------------------------------------------------------------------


def note_list(kg: KnowledgeGraph) -> list[dict]:
    """Every note of the vault, by path: its path, title and first words."""
    return [{"path": n["path"], "title": n["label"], "snippet": n["snippet"]} for n in kg.notes()]


READ_MAX_CHARS = 20_000
"""Characters :func:`read_note` returns by default: a long note is cut, saying so."""


class NotInVault(KbError):
    """A path that names no note of the vault (outside it, through a symlink, or absent)."""


def note_path(vault: Vault, store: Store, path: str) -> str:
    """The vault path of the note ``path`` names (``topics/ResNet.md``, ``topics/ResNet``),
    refusing anything that is not a note kb read from inside the vault."""
    p = path.strip().replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    parts = p.split("/")
    if not p or p.startswith("/") or os.path.isabs(path) or ".." in parts or ":" in parts[0]:
        raise NotInVault(f"{path!r} is not a path inside the vault (give one like topics/ReLU.md)")
    known = store.hashes()  # only notes a scan found: never a symlink, never outside the vault
    for candidate in (p, p + ".md"):
        if candidate in known:
            real = os.path.realpath(vault.abspath(candidate))
            if os.path.commonpath([real, os.path.realpath(vault.root)]) != os.path.realpath(
                vault.root
            ):
                raise NotInVault(f"{path!r} leads out of the vault; not read")
            return candidate
    folded = {k.casefold(): k for k in known}
    for candidate in (p, p + ".md"):
        if candidate.casefold() in folded:
            return note_path(vault, store, folded[candidate.casefold()])
    raise NotInVault(f"no note {path!r} in this vault (search for it, or give a path:line's path)")


def read_note(
    vault: Vault,
    store: Store,
    path: str,
    heading: str | None = None,
    max_chars: int = READ_MAX_CHARS,
) -> dict:
    """The Markdown of a note, or of one section of it (``heading``: its title, or the
    breadcrumb ``Heading › Sub``), at most ``max_chars`` characters, with the note's outline."""
    rel = note_path(vault, store, path)
    try:
        file = vault.read_note(rel)
    except FileNotFoundError:
        raise NotInVault(f"no note {path!r} in this vault (it was removed)") from None
    except Exception as e:  # NotANote: binary, unreadable, became a symlink
        raise NotInVault(f"{path!r} is not read by kb ({e})") from None
    note = store.notes([rel]).get(rel)
    lines = file.text.split("\n")
    start, end, crumbs = 1, len(lines), [note.title] if note else []
    if heading is not None and heading.strip():
        if note is None:
            raise NotInVault(f"{path!r} has no sections kb knows yet")
        section = _section(note, heading)
        start, end, crumbs = section.line_start, section.line_end, breadcrumb(section.heading_path)
    text = "\n".join(lines[start - 1 : end])
    cut = len(text) > max_chars
    return {
        "path": rel,
        "title": note.title if note else rel,
        "heading": crumbs,
        "line_start": start,
        "line_end": end,
        "text": text[:max_chars],
        "truncated": cut,
        "chars": len(text),
        "outline": _outline(note) if note else [],
    }


def _section(note: Note, heading: str):
    """The section of ``note`` named by ``heading`` (a title or a › / # breadcrumb)."""
    wanted = [w.strip().casefold() for w in heading.replace("›", "#").replace(">", "#").split("#")]
    wanted = [w for w in wanted if w]
    for s in note.sections[1:]:
        crumbs = [c.casefold() for c in s.heading_path]
        if crumbs[-len(wanted) :] == wanted:
            return s
    for s in note.sections[1:]:  # a heading given in part ("Bottleneck" for "Bottleneck block")
        if wanted and wanted[-1] in s.title.casefold():
            return s
    titles = ", ".join(repr(s.title) for s in note.sections[1:] if s.kind == "heading")[:300]
    raise NotInVault(f"no section {heading!r} in {note.path}; its headings: {titles or 'none'}")


def _outline(note: Note) -> list[dict]:
    """The note's headings with their lines: what to pass as ``heading`` to read one."""
    return [
        {"heading": breadcrumb(s.heading_path), "line": s.line_start}
        for s in note.sections[1:]
        if s.kind == "heading"
    ]


DOCTOR_LISTS = (
    "broken", "ambiguous", "missing_embeds", "bad_frontmatter", "skipped", "orphans",
    "suggestions",
)  # fmt: skip
"""The lists of :func:`doctor`'s report, in the order ``kb doctor`` prints them."""


def cut(data: dict, keys: tuple[str, ...], limit: int) -> dict:
    """``data`` with each list of ``keys`` cut to ``limit`` entries, and ``more`` counting what
    was left out (only when something was): what a server sends of a long answer."""
    out = dict(data)
    more = {k: len(data[k]) - limit for k in keys if len(data.get(k) or []) > limit}
    for k in keys:
        if isinstance(out.get(k), list):
            out[k] = out[k][:limit]
    if more:
        out["more"] = more
    return out
