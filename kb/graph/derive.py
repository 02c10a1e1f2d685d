"""The edges of a note that depend on other notes (links, mentions, concept nesting), and the
attributes of the nodes no note owns (concepts, tags, missing link targets).

Pure: facts and the name table in, edges with their evidence out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kb.checks import CachedResolver, link_target
from kb.concepts import normalise
from kb.graph.facts import Claim, Definition, EdgeKey, Hit, NoteFacts, _evidence
from kb.graph.names import Names
from kb.model import Link
from kb.nodes import missing_id, note_id
from kb.topicnames import heading_term


def concept_attrs(claims: Sequence[Claim | Definition]) -> dict:
    """A concept's card: named by its first claim; at home where a heading names it nearest
    the top of a note, or a gloss that stands two levels higher than any such heading (SVM:
    ``支持向量机(SVM)`` opening 25_Support Vector Machine.md, not a bullet seven headings down
    a learning map that comes first by path); then the first by place. A heading that only
    asks or says something about it (``Why VAE?``, ``Weakness of PCA``) or says little under
    it (``激活函数`` over one line of code in a PyTorch tutorial) comes after those; a note
    named for the topic
    (``17_Unsupervised Learning PCA part1.md``) is its home from its opening section on."""
    first = claims[0]
    # Of a concept a heading names, the prose claims kept are glossed (kb.graph.names): an
    # emphasised term there came with its other name, as a gloss does.
    headed = any(c.source == "heading" for c in claims)
    home = min(claims, key=lambda c: _home_rank(c, headed))
    return {
        "kind": "concept",
        "label": first.name,
        "path": home.path,
        "line": home.line,
        "heading": list(home.heading),
        "snippet": next((c.snippet for c in (home, *claims) if c.snippet), ""),
        "tags": sorted({t for c in claims for t in c.tags}),
    }


def _home_rank(c: Claim | Definition, headed: bool) -> tuple[int, int]:
    glossed = c.source == "gloss" or (headed and c.source == "emphasis")
    depth = len(c.heading) + (GLOSS_DEPTH if glossed else 0)
    if len(c.heading) <= 2 and _note_named_for(c):
        return 0, 0
    if c.source == "heading":
        term = heading_term(c.heading[-1]) if c.heading else None
        if (term is not None and term.form != "name") or _says_little(c.snippet):
            return 1, depth
        return 0, depth
    return (0 if glossed else 2), depth


GLOSS_DEPTH = 2
"""How many heading levels a gloss in prose counts for, choosing a concept's home: a heading
that names the term is where it is defined, unless it sits deep in another topic."""

SAYS_LITTLE = 40
"""A heading section whose text is no sentence, only a fragment shorter than this (``使用
nn.激活函数名()即可`` under a PyTorch tutorial's ``激活函数``), or nothing but sub-headings, is
an outline entry rather than where a term is explained."""
_SENTENCE_END = re.compile(r"[。！？!?]|\.(?:\s|$)")


def _says_little(snippet: str) -> bool:
    return len(snippet) < SAYS_LITTLE and not _SENTENCE_END.search(snippet)


def _note_named_for(c: Claim | Definition) -> bool:
    """True when the claim's note is named for it: its file name holds the name as a word
    (``PCA`` in ``17_Unsupervised Learning PCA part1.md``)."""
    stem = c.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    words = normalise(stem).split()
    name = normalise(c.name).split()
    n = len(name)
    return bool(n) and any(words[i : i + n] == name for i in range(len(words) - n + 1))


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
            # the section's heading names it: the section is about it (not a mention in prose)
            out.setdefault((c.section, dst, "about"), _evidence("about", f.path, c.line, c.name))
        up = own if c.parent_note else names.target.get(c.parent) if c.parent else None
        if up == own and dst and dst.startswith("note:"):
            # A note's top heading naming another note is a version or a review of it
            # (dropout_origin.md's "# Dropout" for dropout.md), not a part of this note.
            up = None
        if up and dst and up != dst:
            out.setdefault(
                (up, dst, f"contains@{f.path}"),
                _evidence("contains", f.path, c.line, f"{c.parent_name} › {c.name}"),
            )
    best: dict[tuple[str, str], Hit] = {}
    for key, hits in () if f.listing else f.hits.items():  # a listing says nothing
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


def tag_attrs(node: str) -> dict:
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


def missing_attrs(node: str) -> dict:
    return {**tag_attrs(node), "kind": "missing", "label": node[len("missing:") :]}
