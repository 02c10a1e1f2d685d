"""What one note contributes to the concept graph, computed from that note alone.

Pure: a parsed :class:`~kb.model.Note` in, :class:`NoteGraph` out (its own nodes and edges,
the names it gives, the concept titles it claims, its links); :func:`find_hits` adds the
names its text says. The JSON codec at the end is how :mod:`kb.graph.db` keeps a note's
facts: every field's type is checked on the way back, nothing read is ever run.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from typing import Any

from kb.concepts import (
    SEPARATOR,
    concept_key,
    excerpt,
    is_common_word,
    is_dated,
    normalise,
    sentence_spans,
)
from kb.display import role_text
from kb.model import Link, Note, Section
from kb.nodes import note_id, section_id, tag_chain, tag_id
from kb.text import has_cjk, placed, tag_key
from kb.topicnames import (
    PROSE_SOURCES,
    HeadingTerm,
    clean_heading,
    compact,
    heading_term,
    is_listing,
    is_textlike_math,
    prose_terms,
)

SECTION_BREAK = "\n"
"""Between sections in a note's matching-form text (normalise() turns newlines to spaces)."""

EdgeKey = tuple[str, str, str]
"""(source, target, key) of an edge. The key is the kind, ``links_to:<line>`` /
``embeds:<line>`` (one edge per linking line), or ``contains@<path>`` for a concept's parent
(one per note that nests them)."""


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
    source: str = "heading"
    """What names the concept: a ``heading``, or prose (:data:`kb.topicnames.PROSE_SOURCES`:
    an emphasised term, a gloss, a label, a Latin phrase in Chinese text)."""


@dataclass(frozen=True, slots=True)
class Definition:
    """One place that defines a concept, as the ``defines`` table keeps it: what the concept's
    card shows (:func:`kb.graph.derive.concept_attrs`) and which of a note's claims it is
    (``section``, ``key``, ``source``), so an edit can refresh the card from its own note."""

    section: str
    key: str
    source: str
    path: str
    line: int
    name: str
    heading: tuple[str, ...]
    snippet: str
    tags: tuple[str, ...]

    @classmethod
    def of(cls, c: Claim) -> Definition:
        """The definition a :class:`~kb.graph.facts.Claim` makes."""
        return cls(
            c.section, c.key, c.source, c.path, c.line, c.name, tuple(c.heading), c.snippet,
            tuple(c.tags),
        )  # fmt: skip


Hit = tuple[str, int, int, str]
"""Where a section names a concept: (section node, line of the sentence, sentence number,
sentence). Sentence 0 is the title; the first sentence gives the evidence."""


@dataclass
class NoteFacts:
    """Everything the graph takes from one note, computed from that note alone (its own
    nodes and edges are in :class:`NoteGraph`; the database keeps them by owner)."""

    path: str
    sha: str
    title: str
    aliases: tuple[str, ...]
    names: tuple[tuple[str, str], ...]
    """(key, name) of the note's title, file name and aliases."""
    tags: tuple[str, ...]
    """Lower-cased tag names used."""
    links: tuple[tuple, ...]
    """(source node, *the Link's fields) of every link."""
    claims: tuple[Claim, ...]
    terms: tuple[Claim, ...] = ()
    """The terms its prose marks (:func:`kb.topicnames.prose_terms`), one per section and
    name: concepts when the vault agrees (see :class:`kb.graph.names.Names`)."""
    listing: bool = False
    """The note lists names rather than says something (a table of contents, a sidebar, a
    glossary): it mentions nothing and its names are not mentions."""
    hits: dict[str, list[Hit]] = field(default_factory=dict)
    """Mentions found, by concept key: what the Aho-Corasick pass saw."""


@dataclass
class NoteGraph:
    """What one note adds to the graph: its facts, its own nodes and edges with attributes,
    and its text in matching form (for later searches of names that appear elsewhere)."""

    facts: NoteFacts
    nodes: dict[str, dict]
    """The note and its sections, with their attributes."""
    edges: dict[EdgeKey, dict]
    """Edges that need no other note: the outline (contains) and tags (tagged)."""


def _evidence(kind: str, path: str | None, line: int | None, text: str) -> dict:
    return {"kind": kind, "path": path, "line": line, "text": excerpt(text)}


def _section_node(note: Note, index: int) -> str:
    """Node id of ``note.sections[index]``: the note itself for the root."""
    if index == 0:
        return note_id(note.path)
    return section_id(note.path, note.sections[index].line_start)


def _snippet(text: str) -> str:
    """The start of a section's text as a card shows it, without Sphinx or MyST roles and
    their targets (d2l's ``:label:`sec_dropout```, ``:numref:`sec_weight_decay```)."""
    return excerpt(text)  # (kb.display.display_text leaves the roles out)


def note_facts(note: Note, sha: str) -> NoteGraph:
    """What ``note`` alone contributes to the graph (mentions are found later)."""
    path = note.path
    me = note_id(path)
    by_section: dict[int, dict[str, None]] = defaultdict(dict)
    for use in note.tag_uses:
        by_section[use.section].setdefault(use.name)
    section_tags = {i: list(names) for i, names in by_section.items()}
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
        if term is not None and term.aliases and not sec.parent:
            term = _own_parts_apart(note, i, term)
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
    listing = _is_listing_note(note)
    terms: list[Claim] = []
    lead: list[tuple[str, str]] = []  # the other names the title's section glosses it with
    if not listing:
        links = Counter(lk.section for lk in note.links)
        for i in range(len(note.sections)):
            terms += _prose_claims(note, i, claim_of.get(i), links[i], lead if i == 1 else None)
    own_names = (note.title, note.stem, *note.aliases, note.display_title or "")
    names = [(concept_key(n), n) for n in own_names]
    if _titled_by_its_term(note, claim_of.get(1)):
        title = claim_of[1]
        names += [(title.key, title.name), *title.parts, *lead]
    facts = NoteFacts(
        path=path,
        sha=sha,
        title=note.title,
        aliases=note.aliases,
        names=tuple(dict((k, n) for k, n in names if k).items()),
        tags=tuple(dict.fromkeys(tag_key(t) for t in note.tags)),
        links=tuple((_section_node(note, lk.section), *_link_row(lk)) for lk in note.links),
        claims=tuple(claims),
        terms=tuple(terms),
        listing=listing,
    )
    return NoteGraph(facts, nodes, edges)


def _titled_by_its_term(note: Note, title: Claim | None) -> bool:
    """True when the term a note's title heading names (``title``, the claim of its one H1) is
    what the note is about, so that it names the note as its file name does: res-block.md
    titled 残差块（residual block）, or 什么是批归一化（Batch Normalization）？. Not where the
    title says more than the term and its glosses (``Convolutional Neural Networks (LeNet)``,
    an aspect: ``线性回归的从零开始实现``), nor where a gloss is a part apart
    (卷积神经网络（LeNet） over ``## LeNet``: the note is about LeNet, one such network)."""
    shown = note.display_title
    if title is None or not shown:
        return False
    written = heading_term(shown)
    if written is None or len(written.aliases) != len(title.parts):
        return False
    if written.form == "question":
        return True
    said = " ".join((written.name, *written.aliases))
    return written.form == "name" and compact(concept_key(clean_heading(shown))) == compact(
        concept_key(said)
    )


def _is_listing_note(note: Note) -> bool:
    text = "\n".join(s.text for s in note.sections)
    return is_listing(text, len(note.links), note.stem, note.title)


def _prose_claims(
    note: Note, index: int, own: Claim | None, links: int, glosses: list | None = None
) -> list[Claim]:
    """The terms section ``index``'s prose marks, as claims of that section (none in a
    section that lists things). ``own`` is the section's heading claim, if any; ``links``
    how many links the section holds. Where the prose marks the heading's own term, it is no
    claim; its other names (``本节将介绍*批量规范化*（batch normalization）`` under ``#
    批量规范化``) go into ``glosses`` when given, as (key, name)."""
    sec = note.sections[index]
    if not sec.text.strip() or is_listing(sec.text, links):
        return []
    text = prose(sec)
    sid = _section_node(note, index)
    out = []
    spans: list[tuple[int, str]] | None = None
    pieces: list[Piece] | None = None
    for term in prose_terms(text, sec.emphasis):
        key = concept_key(term.name)
        if own is not None and key == own.key:
            if glosses is not None:
                glosses += [(concept_key(a), a) for a in term.aliases]
            continue
        if spans is None:
            spans = sentence_spans(text)
        at = bisect_right(spans, term.at, key=lambda sp: sp[0]) - 1
        if at >= 0:
            pieces = _pieces(sec) if pieces is None else pieces
            sentence = _as_read_span(sec, spans[at], pieces, text)
        else:
            sentence = term.name
        out.append(
            Claim(
                section=sid,
                key=key,
                name=term.name,
                parts=tuple((concept_key(a), a) for a in term.aliases),
                parent=None,
                parent_note=False,
                parent_name="",
                path=note.path,
                line=sec.line_of(term.at),
                heading=tuple(sec.heading_path),
                snippet=excerpt(sentence, key),
                tags=(),
                source=term.source,
            )
        )
    return out


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
    if term is None or _numbered_sibling(note, index):
        return None
    if sec.kind == "heading" and not sec.text.strip():
        children = [s for s in note.sections if s.parent == index]
        if children and all(is_dated(clean_heading(c.title)) for c in children):
            return None  # (children that are questions or steps leave it a topic)
    if not term.aliases and is_common_word(term.name) and not _says_again(note, index, term.name):
        return None  # 争议, 矛盾, Architecture: a label over text about something else
    return term


def _own_parts_apart(note: Note, index: int, term: HeadingTerm) -> HeadingTerm:
    """A top heading's gloss that the same note heads a section with is a part of its topic,
    not its other name: ``# 卷积神经网络（LeNet）`` over ``## LeNet`` introduces LeNet as one
    convolutional network (while ``# 残差网络（ResNet）`` over ``## ResNet模型`` glosses it)."""
    heads = set()
    for j, sec in enumerate(note.sections):
        if j != index and sec.kind == "heading":
            other = heading_term(sec.title)
            if other is not None:
                heads.add(concept_key(other.name))
    kept = tuple(a for a in term.aliases if concept_key(a) not in heads)
    return term if kept == term.aliases else HeadingTerm(term.name, kept, term.form)


def _says_again(note: Note, index: int, name: str) -> bool:
    """True when section ``index`` (or a section under it) says ``name`` in its prose: a
    heading that is one common word (``回归``, ``通道``, ``Adam``) names the topic its text is
    about, one its text never says again (``## 争议`` over a debate on covariate shift) labels
    the text."""
    key = normalise(name)
    inside = {index}
    for j in range(index, len(note.sections)):
        sec = note.sections[j]
        if j != index and sec.parent not in inside:
            continue
        inside.add(j)
        if key in normalise(prose(sec)):
            return True
    return False


_NUMBERED_TITLE = re.compile(r"^(.*?)\s*\d+$")


def _numbered_sibling(note: Note, index: int) -> bool:
    """True for ``Classifier1`` beside ``Classifier2`` under one heading: numbered
    placeholders of an example, not topics (``ResNet50`` alone stays one)."""
    m = _NUMBERED_TITLE.match(note.sections[index].title.strip())
    if not m or not m.group(1):
        return False
    parent = note.sections[index].parent
    stem = m.group(1)
    return any(
        i != index
        and s.parent == parent
        and (o := _NUMBERED_TITLE.match(s.title.strip()))
        and o.group(1) == stem
        for i, s in enumerate(note.sections)
    )


def find_hits(note: Note, matcher: Any) -> tuple[dict[str, list[Hit]], str]:
    """The concept names each section of ``note`` says (first sentence per section and name),
    and the note's text in matching form, sections apart."""
    hits: dict[str, list[Hit]] = defaultdict(list)
    norms = []
    for i, sec in enumerate(note.sections):
        src = _section_node(note, i)
        # The title is sentence 0 (the root's title is the note's own name: left out).
        blanked = prose(sec)
        spans = sentence_spans(blanked)
        texts = [sec.title if i else ""] + [sentence for _, sentence in spans]
        norm = normalise(SEPARATOR.join(texts))
        norms.append(norm)
        seen: set[str] = set()
        pieces = None
        for order, key in matcher.find_normalised(norm):
            if key not in seen:
                seen.add(key)
                # The title is on the section's first line; a sentence on its own line.
                if order:
                    pieces = _pieces(sec) if pieces is None else pieces
                    line = sec.line_of(spans[order - 1][0])
                    said = _as_read_span(sec, spans[order - 1], pieces, blanked)
                else:
                    line, said = sec.line_start, texts[0]
                hits[key].append((src, line, order, excerpt(said, key)))
    return dict(hits), SECTION_BREAK.join(norms)


Piece = tuple[int, int, str, str]
"""Where kb.parse's inline code or math is in a section's text: (start, end, kind, piece)."""


def _pieces(sec: Section) -> list[Piece]:
    out = [
        (found, found + len(piece), kind, piece)
        for kind, pieces in (("code", sec.code), ("math", sec.math))
        for found, piece in placed(pieces, sec.text)
    ]
    return sorted(out)


def as_read(text: str, start: int, end: int, pieces: list[Piece]) -> str:
    """``text[start:end]`` as a reader reads it in the note: inline math in ``$…$``, inline
    code in backticks, a Sphinx or MyST role as its text (:func:`kb.display.role_text`).
    The matching form blanks these (:func:`prose`); evidence shows them."""
    out: list[str] = []
    at = start
    for found, stop, kind, piece in pieces:
        if found < at or stop > end:
            continue  # outside, or cut by the span's ends
        before = text[at:found]
        if kind == "code":
            role = _ROLE_TAIL.search(before)
            if role:  # (a reference reads as one: "见 :numref:`fig_x`" → "见 图 x")
                shown = role_text(role.group()[1:-1], piece, has_cjk(text[start:end]))
                out.append(before[: role.start()] + shown)
            else:
                out.append(f"{before}`{piece}`")
        else:
            out.append(f"{before}${piece}$")
        at = stop
    out.append(text[at:end])
    return "".join(out)


def _as_read_span(sec: Section, span: tuple[int, str], pieces: list[Piece], blanked: str) -> str:
    """A sentence of :func:`prose` (its offset, its text; ``blanked`` that prose) as the note
    shows it, with the code, math or reference it opens with, which prose blanks
    (``:numref:`sec_batch_norm`中解释了…`` reads ``§batch_norm中解释了…``, not ``中解释了…``)."""
    start, sentence = span
    begin = start
    while begin > 0 and blanked[begin - 1] in " \t":
        begin -= 1
    if begin < start:
        return as_read(sec.text, begin, start + len(sentence), pieces).lstrip()
    return as_read(sec.text, start, start + len(sentence), pieces)


_ROLE_TAIL = re.compile(r"(?<![\w:]):[A-Za-z][\w-]*:$")


def prose(sec: Section) -> str:
    """A section's text with its inline code and math blanked out (math that reads as text,
    a size like ``1\\times 1``, is kept).

    kb.parse keeps inline ``code`` and ``$math$`` in ``Section.text`` so that sentences
    read whole, and lists them again in ``code``/``math``; a name inside them is not a
    mention. Each piece is blanked at its first place after the previous one.
    """
    text = sec.text
    for pieces in (sec.code, sec.math):
        # (a fenced block is not in the text at all: placed() skips it)
        for found, piece in placed(pieces, text):
            if pieces is sec.math and is_textlike_math(piece):
                continue  # $1\times 1$卷积 reads as "1x1卷积": matched as text
            text = text[:found] + " " * len(piece) + text[found + len(piece) :]
    return _ROLE.sub(lambda m: " " * len(m.group(0)), text)


_ROLE = re.compile(r"(?<![\w:]):[A-Za-z][\w-]*:(?=\s|$)")
"""A Sphinx or MyST role left when its code is blanked (d2l's ``:label:`sec_x```,
``:width:`400px```): markup, not words."""


# -- kept as JSON ------------------------------------------------------------------


class BadFacts(ValueError):
    """Stored facts that do not decode to well-formed ones (damaged, or foreign)."""


def encode_light(f: NoteFacts) -> str:
    """What the name table needs of a note, as JSON text: title, aliases, names, tags, claims."""
    claims = [_claim_row(c) for c in f.claims]
    terms = [[*_claim_row(c), c.source] for c in f.terms]
    return _dumps([f.title, f.aliases, f.names, f.tags, claims, terms, f.listing])


def _claim_row(c: Claim) -> list:
    return [
        c.section, c.key, c.name, c.parts, c.parent, c.parent_note, c.parent_name, c.line,
        c.heading, c.snippet, c.tags,
    ]  # fmt: skip


def encode_links(f: NoteFacts) -> str:
    """The note's links as JSON text: (source node, *the Link's fields) each."""
    return _dumps(f.links)


def decode(path: str, sha: str, light: str, links: str | None = None) -> NoteFacts:
    """The NoteFacts of :func:`encode_light` (and :func:`encode_links`) texts; hits are
    kept apart. :class:`BadFacts` for anything that is not what kb wrote."""
    try:
        title, aliases, names, tags, claims, terms, listing = json.loads(light)
        if type(listing) is not bool:
            raise BadFacts("listing is not true or false")
        return NoteFacts(
            path=path,
            sha=sha,
            title=_str(title),
            aliases=_strs(aliases),
            names=tuple((_str(k), _str(n)) for k, n in _list(names)),
            tags=_strs(tags),
            links=() if links is None else tuple(_link(r) for r in _list(json.loads(links))),
            claims=tuple(_claim(path, c) for c in _list(claims)),
            terms=tuple(_term(path, c) for c in _list(terms)),
            listing=listing,
        )
    except (ValueError, TypeError, RecursionError) as e:
        raise BadFacts(f"{path}: {str(e)[:200]}") from None


def _claim(path: str, c: Any, source: str = "heading") -> Claim:
    section, key, name, parts, parent, parent_note, parent_name, line, heading, snippet, tags = c
    if type(parent_note) is not bool:
        raise BadFacts("parent_note is not true or false")
    return Claim(
        section=_str(section),
        key=_str(key),
        name=_str(name),
        parts=tuple((_str(k), _str(n)) for k, n in _list(parts)),
        parent=None if parent is None else _str(parent),
        parent_note=parent_note,
        parent_name=_str(parent_name),
        path=path,
        line=_int(line),
        heading=_strs(heading),
        snippet=_str(snippet),
        tags=_strs(tags),
        source=source,
    )


def _term(path: str, c: Any) -> Claim:
    *row, source = _list(c)
    if source not in PROSE_SOURCES:
        raise BadFacts("not a kind of term")
    return _claim(path, row, source)


def _link(r: Any) -> tuple:
    src, target, heading, block, alias, kind, embed, line, context, section = r
    if kind not in ("wikilink", "markdown") or type(embed) is not bool:
        raise BadFacts("not a link")
    return (
        _str(src), _str(target), _opt(heading), _opt(block), _opt(alias), kind, embed,
        _int(line), _str(context), _int(section),
    )  # fmt: skip


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _str(v: Any) -> str:
    if type(v) is not str:
        raise BadFacts(f"expected text, got {type(v).__name__}")
    return v


def _opt(v: Any) -> str | None:
    return None if v is None else _str(v)


def _int(v: Any) -> int:
    if type(v) is not int:
        raise BadFacts(f"expected a whole number, got {type(v).__name__}")
    return v


def _list(v: Any) -> list:
    if type(v) is not list:
        raise BadFacts(f"expected a list, got {type(v).__name__}")
    return v


def _strs(v: Any) -> tuple[str, ...]:
    return tuple(_str(x) for x in _list(v))
