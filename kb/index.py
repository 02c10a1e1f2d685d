"""The full-text index: one whoosh document per section of every note. Whoosh lives only here.

The index is kept in ``<data_dir>/search/`` with ``held.json`` beside it: the
``{path: sha}`` of the notes it holds, so :func:`sync` learns what changed from
:meth:`kb.store.Store.diff` without reading the index.

Ranking is BM25F over the fields below, with a hit in a note's title, alias or a
section's heading worth more than one in body text (:data:`FIELD_BOOSTS`).
The query language (words ANDed, ``OR``, ``NOT``/``-word``, ``"phrases"``,
``prefix*``, ``term~``, ``tag:`` ``path:``/``file:`` ``title:`` ``section:``)
is parsed by :func:`parse_query` into a small tree, then compiled to whoosh
queries against the open index: Chinese in the query is cut with the index's own
vocabulary (:func:`kb.analysis.cut_by_vocabulary`), so a search never loads jieba.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from whoosh import fields, formats
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.analysis import LowercaseFilter, RegexTokenizer
from whoosh.scoring import BM25F
from whoosh.writing import LockError

from kb import analysis
from kb.errors import IndexMissing, KbError, QueryError, TopicNotFound
from kb.model import Hit, Note, Section
from kb.vault import Vault

INDEX_VERSION = 4
"""Bump when the schema or the text analysis changes: an index of another version is rebuilt."""

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

PARALLEL_MIN_NOTES = 1000
"""From this many notes to index on, whoosh writes with one process per core."""

LOCK_TIMEOUT = 60.0
"""Seconds to wait for another kb process to finish writing the index."""

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class SyncResult:
    """What :func:`sync` did."""

    added: int = 0
    """Notes indexed for the first time."""
    updated: int = 0
    """Notes indexed again because their content changed."""
    removed: int = 0
    """Notes dropped from the index."""
    sections: int = 0
    """Section documents written."""
    rebuilt: bool = False
    """True when the index was built from scratch (first run, --full, new version)."""
    seconds: float = 0.0


# -- schema and documents -------------------------------------------------------------------


def _lines_analyzer():
    """One term per line of the value, lowercased (paths, names: may hold spaces and commas)."""
    return RegexTokenizer(r"[^\n]+") | LowercaseFilter()


class _Positions(formats.Positions):
    """whoosh's Positions format, fed by :func:`kb.analysis.scan` directly.

    Same postings as ``Positions`` with the kb analyzer, without a whoosh Token
    per word: indexing spends most of its time here, so this saves about a tenth.
    """

    def word_values(self, value, analyzer, **kwargs):
        positions: dict[str, list[int]] = {}
        for term, pos, _start, _end in analysis.scan(value):
            positions.setdefault(term, []).append(pos)
        boost = self.field_boost
        for term, found in positions.items():
            yield term, len(found), len(found) * boost, self.encode(found)


def _text(stored: bool = False) -> fields.TEXT:
    """A text field analysed by kb.analysis, with word positions (for phrases)."""
    field = fields.TEXT(analyzer=analysis.analyzer(), stored=stored)
    field.format = _Positions(field_boost=1.0)
    return field


def _schema() -> fields.Schema:
    return fields.Schema(
        path=fields.ID(stored=True),  # the note's vault-relative path: the key to delete by
        pathkey=fields.KEYWORD(analyzer=_lines_analyzer()),  # path and file name (path:)
        title=_text(),  # note title, on the note's lead section only (also title:)
        aliases=_text(),  # lead section only (also title:)
        tagtext=_text(),  # tag words (ml/cnn -> ml cnn), lead section only
        heading=_text(),  # the section's own heading or item term
        body=_text(stored=True),  # section text + code + math
        crumbs=_text(),  # the breadcrumb: note title and headings down to here (section:)
        tags=fields.KEYWORD(analyzer=_lines_analyzer()),  # tags and their parents (tag:)
        name=fields.KEYWORD(analyzer=_lines_analyzer()),  # folded title/aliases/file name
        lead=fields.ID(),  # "1" on the lead section: one hit per note for filter-only queries
        line=fields.STORED,
        heading_path=fields.STORED,
        note_title=fields.STORED,
        note_tags=fields.STORED,
        note_aliases=fields.STORED,
    )


def _tag_terms(tags: Iterable[str]) -> list[str]:
    """Tags with their parents (``ml/cnn`` -> ``ml``, ``ml/cnn``), folded, no ``#``."""
    out: list[str] = []
    for tag in tags:
        parts = analysis.fold(tag.lstrip("#")).strip("/").split("/")
        for i in range(1, len(parts) + 1):
            term = "/".join(parts[:i])
            if term and term not in out:
                out.append(term)
    return out


def _name_keys(name: str) -> list[str]:
    """How a note name is looked up: folded, and folded without spaces (1x1 卷积 = 1x1卷积)."""
    folded = analysis.fold(name).strip()
    return [folded, re.sub(r"\s+", "", folded)]


def _body(section: Section) -> str:
    """What a section's text search looks at: its prose, code and math (math once)."""
    chunks = [section.text, section.code]
    if section.math:
        # Inline math is already in the prose; display math is not.
        chunks += [m for m in section.math.splitlines() if m.strip() and m not in section.text]
    return "\n".join(c for c in chunks if c)


def documents(note: Note) -> list[dict]:
    """The whoosh documents of a note: one per section; note-level fields on the lead one.

    The lead section is the root, or the first heading when the root is empty and
    that heading is a level-1 one (``# Title`` under front matter).
    """
    sections = list(note.sections)
    if not sections:
        return []
    root = sections[0]
    lead = 0
    if not (root.text or root.code or root.math) and len(sections) > 1:
        if sections[1].kind == "heading" and sections[1].level == 1:
            lead = 1
    names = [note.title, *note.aliases, note.stem]
    path_lines = [note.path]
    if "/" in note.path:
        path_lines.append(note.path.rsplit("/", 1)[1])
    tags = _tag_terms(note.tags)
    common = {
        "path": note.path,
        "pathkey": "\n".join(path_lines),
        "tags": "\n".join(tags),
        "note_title": note.title,
        "note_tags": tuple(note.tags),
    }
    docs: list[dict] = []
    for i, section in enumerate(sections):
        if i < lead:
            continue
        body = _body(section)
        doc = dict(common)
        doc["body"] = body
        doc["line"] = section.line_start
        doc["heading_path"] = tuple(section.heading_path) or (note.title,)
        doc["crumbs"] = "\n".join(doc["heading_path"])
        heading = section.title if section.kind != "root" else ""
        if heading:
            doc["heading"] = heading
        if i == lead:
            doc["lead"] = "1"
            doc["note_aliases"] = tuple(note.aliases)
            doc["title"] = note.title
            if note.aliases:
                doc["aliases"] = "\n".join(note.aliases)
            if note.tags:
                doc["tagtext"] = " ".join(t.replace("/", " ") for t in note.tags)
            doc["name"] = "\n".join(dict.fromkeys(k for n in names if n for k in _name_keys(n)))
        docs.append(doc)
    return docs


# -- keeping the index up to date -----------------------------------------------------------


def index_dir(vault: Vault) -> Path:
    """Where the search index of a vault lives."""
    return vault.data_dir / "search"


def _held_path(vault: Vault) -> Path:
    return index_dir(vault) / "held.json"


def _read_held(vault: Vault) -> dict[str, str] | None:
    """The {path: sha} the index holds, or None when there is no usable index."""
    try:
        data = json.loads(_held_path(vault).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
        return None
    notes = data.get("notes")
    return notes if isinstance(notes, dict) else None


def _write_held(vault: Vault, held: dict[str, str]) -> None:
    path = _held_path(vault)
    tmp = path.with_name(f"held.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"version": INDEX_VERSION, "notes": held}), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a reader sees the old or the new list, never half


def exists(vault: Vault) -> bool:
    """True when the vault has a search index of this version."""
    return _read_held(vault) is not None and whoosh_index.exists_in(str(index_dir(vault)))


def sync(vault: Vault, store, full: bool = False, progress: Progress | None = None) -> SyncResult:
    """Bring the search index up to date with the store (rebuilt when ``full`` or unusable)."""
    start = time.perf_counter()
    result = SyncResult()
    held = None if full else _read_held(vault)
    ix = None
    if held is not None:
        stale, gone = store.diff(held)
        if not stale and not gone:
            result.seconds = time.perf_counter() - start
            return result
        try:
            ix = whoosh_index.open_dir(str(index_dir(vault)))
        except Exception:  # noqa: BLE001 - a damaged or foreign index is rebuilt, not fatal
            held = None
    if ix is None:
        ix = _create(vault)
        result.rebuilt = True
        held = {}
        stale, gone = store.diff(held)
    try:
        writer = _writer(ix, len(stale))
    except LockError:
        raise KbError(
            f"the search index in {index_dir(vault)} is being updated by another kb process; "
            "try again in a moment, or search with --no-refresh"
        ) from None
    try:
        if not result.rebuilt:
            # Another process may have synced while this one waited for the lock.
            held = _read_held(vault) or {}
            stale, gone = store.diff(held)
        for path in gone:
            writer.delete_by_term("path", path)
            held.pop(path, None)
            result.removed += 1
        hashes = store.hashes()
        for done, (path, note) in enumerate(_notes_in_batches(store, stale), 1):
            if path in held:
                writer.delete_by_term("path", path)
                result.updated += 1
            else:
                result.added += 1
            for doc in documents(note):
                writer.add_document(**doc)
                result.sections += 1
            held[path] = hashes[path]
            if progress:
                progress(done, len(stale))
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    _write_held(vault, held)
    result.seconds = time.perf_counter() - start
    return result


def _create(vault: Vault):
    """A new, empty index (what was there is dropped)."""
    folder = index_dir(vault)
    vault.ensure_data_dir()
    folder.mkdir(exist_ok=True)
    _held_path(vault).unlink(missing_ok=True)
    return whoosh_index.create_in(str(folder), _schema())


def _writer(ix, notes: int):
    """A whoosh writer; for many notes one process per core (each writes its own segment)."""
    import multiprocessing

    procs = min(os.cpu_count() or 1, 4)
    # whoosh's sub-writers rely on fork (they are not picklable for spawn/forkserver).
    if notes >= PARALLEL_MIN_NOTES and procs > 1 and multiprocessing.get_start_method() == "fork":
        return ix.writer(
            procs=procs, multisegment=True, limitmb=256, timeout=LOCK_TIMEOUT, compound=False
        )
    return ix.writer(limitmb=512, timeout=LOCK_TIMEOUT, compound=False)


def _notes_in_batches(store, paths: list[str], size: int = 256):
    """(path, Note) for the paths, read from the store a batch at a time (bounded memory)."""
    for i in range(0, len(paths), size):
        batch = paths[i : i + size]
        notes = store.notes(batch)
        for path in batch:
            if path in notes:
                yield path, notes[path]


def _open(vault: Vault):
    """The index, or IndexMissing with what to run."""
    if not exists(vault):
        what = (
            "is from another version of kb" if _held_path(vault).exists() else "does not exist yet"
        )
        raise IndexMissing(
            f"the search index of {vault.root} {what}: run `kb index` "
            "(or `kb search` without --no-refresh)"
        )
    try:
        return whoosh_index.open_dir(str(index_dir(vault)))
    except Exception as e:  # noqa: BLE001 - report, do not crash with whoosh's traceback
        raise IndexMissing(f"the search index is unreadable ({e}); run `kb index --full`") from None


def _searcher(ix):
    # Short fields (title, heading) should not be penalised much for being long.
    return ix.searcher(
        weighting=BM25F(B=0.75, K1=1.2, title_B=0.3, aliases_B=0.3, heading_B=0.4, tagtext_B=0.3)
    )


# -- the query language ---------------------------------------------------------------------


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
            return Not(self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        lx = self.peek()
        assert lx is not None
        self.i += 1
        if lx.kind == "(":
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
    return _Parser(query).parse()


# -- from the query tree to whoosh ----------------------------------------------------------


def vocabulary(reader) -> analysis.Vocabulary:
    """The index's words, to cut a query's Chinese as the notes were cut (without jieba)."""
    fields = tuple(FIELD_BOOSTS)

    def frequency(word: str) -> int:
        return sum(reader.frequency(f, word) for f in fields)

    return analysis.Vocabulary(frequency, sum(reader.field_length(f) for f in fields))


class _Compiler:
    """Turns a query tree into a whoosh query against one open index.

    Also collects the terms to highlight in snippets (those outside NOT).
    """

    def __init__(self, searcher):
        self.searcher = searcher
        self.reader = reader = searcher.reader()
        self.terms: set[str] = set()
        self.vocabulary = vocabulary(reader)

    def compile(self, node: Node) -> wq.Query:
        q = self._node(node, negated=False)
        if q is None:
            raise QueryError("nothing to search for: the query has no words kb indexes")
        if isinstance(q, wq.Not):
            q = wq.And([wq.Every(), q])
        return q

    def _node(self, node: Node, negated: bool, fields: dict[str, float] | None = None):
        fields = fields or FIELD_BOOSTS
        if isinstance(node, Text):
            return self._text(node, fields, negated)
        if isinstance(node, Not):
            child = self._node(node.child, True, fields)
            return None if child is None else wq.Not(child)
        if isinstance(node, Filter):
            return self._filter(node, negated)
        children = [
            c for c in (self._node(ch, negated, fields) for ch in node.children) if c is not None
        ]
        if not children:
            return None
        if len(children) == 1:
            return children[0]
        if isinstance(node, Or):
            return wq.Or(children)
        if all(isinstance(c, wq.Not) for c in children):
            children.insert(0, wq.Every())
        q = wq.And(children)
        plain = [c.text for c in node.children if isinstance(c, Text) and c.kind == "word"]
        if len(plain) > 1 and fields is FIELD_BOOSTS and not negated:
            # Words side by side rank above the same words far apart.
            near = self._phrase(analysis.words(" ".join(plain), self.vocabulary), fields, boost=0.5)
            if near is not None:
                q = wq.AndMaybe(q, near)
        return q

    def _keep(self, terms: Iterable[str], negated: bool) -> None:
        if not negated:
            self.terms.update(terms)

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
        self._keep(parts, negated)
        if node.kind == "phrase" or len(parts) == 1:
            return self._phrase(parts, fields)
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
        return wq.Or(alternatives)

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
        self._keep(stems, negated)
        self._keep(self._expand(self.reader.expand_prefix("body", raw)), negated)
        alternatives = []
        for f, b in fields.items():
            alternatives.append(wq.Prefix(f, raw, boost=b))
            alternatives.extend(wq.Term(f, t, boost=b) for t in stems)
        return wq.Or(alternatives)

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
            text = text.lstrip("#").strip("/")
        else:
            text = text.lstrip("/")
            text = text[2:] if text.startswith("./") else text
        if not text:
            raise QueryError(f"{name}: needs a value, e.g. {name}:cnn")
        if name == "path" or value.kind == "prefix":
            return wq.Prefix(fieldname, text, boost=FILTER_BOOST)
        return wq.Term(fieldname, text, boost=FILTER_BOOST)


# -- searching -------------------------------------------------------------------------------


def search(vault: Vault, query: str, limit: int = 10) -> list[Hit]:
    """Sections matching the query, best first."""
    tree = parse_query(query)
    ix = _open(vault)
    with _searcher(ix) as searcher:
        reader = searcher.reader()
        compiler = _Compiler(searcher)
        q = compiler.compile(tree)
        if not _has_words(tree):
            q = wq.And([q, wq.Term("lead", "1")])  # tag:cnn lists notes, not every section
        results = searcher.search(q, limit=limit)
        ranked = [(r.score, r.docnum, r.fields()) for r in results]
        key = _name_key(tree)
        if ranked and key and ("name", key) in reader:
            # The note whose title or alias is the query comes first (ReLU for "relu").
            top = ranked[0][0]
            named = searcher.search(q, filter=wq.Term("name", key), limit=3)
            first = [(top + r.score, r.docnum, r.fields()) for r in named]
            seen = {d for _s, d, _f in first}
            ranked = (first + [r for r in ranked if r[1] not in seen])[:limit]
        return [_hit(stored, score, compiler.terms) for score, _d, stored in ranked]


def _has_words(node: Node) -> bool:
    """True when the query looks for words, not only filters or exclusions."""
    if isinstance(node, Text):
        return True
    if isinstance(node, (And, Or)):
        return any(_has_words(c) for c in node.children)
    return False


def _name_key(tree: Node) -> str | None:
    """The query as a note name, when it is only words (``relu``, ``1x1 卷积``)."""
    nodes = tree.children if isinstance(tree, And) else (tree,)
    if not all(isinstance(n, Text) and n.kind in ("word", "phrase") for n in nodes):
        return None
    return re.sub(r"\s+", "", analysis.fold(" ".join(n.text for n in nodes)))  # type: ignore[union-attr]


def _hit(stored: dict, score: float, terms: set[str]) -> Hit:
    return Hit(
        path=stored["path"],
        title=stored.get("note_title", ""),
        heading=tuple(stored.get("heading_path", ())),
        line=int(stored.get("line", 1)),
        score=round(float(score), 4),
        snippet=analysis.snippet(stored.get("body", ""), terms),
        tags=tuple(stored.get("note_tags", ())),
    )


# -- did you mean ----------------------------------------------------------------------------


def suggest(vault: Vault, query: str) -> list[str]:
    """Queries to try instead, from the index's own vocabulary (empty when none is better)."""
    try:
        tree = parse_query(query)
    except QueryError:
        return []
    ix = _open(vault)
    with ix.searcher() as searcher:
        replacements: dict[str, str] = {}
        for node in _words_of(tree):
            text = node.text
            if _found(searcher, node):
                continue
            better = _closest(searcher, text)
            if better:
                replacements[text] = better
        if not replacements:
            return []
        fixed = query
        for wrong, right in replacements.items():
            fixed = re.sub(rf"(?<![\w]){re.escape(wrong)}(?![\w])", right, fixed)
        return [fixed] if fixed != query else []


def _words_of(node: Node) -> Iterable[Text]:
    if isinstance(node, Text):
        if node.kind == "word":
            yield node
    elif isinstance(node, (And, Or)):
        for child in node.children:
            yield from _words_of(child)
    # NOT and filters are left alone: a typo there does not hide hits.


def _found(searcher, word: Text) -> bool:
    """True when the word alone has hits: then it is not the word to correct."""
    q = _Compiler(searcher)._node(word, negated=False)
    return q is None or not searcher.search(q, limit=1).is_empty()


def _closest(searcher, text: str) -> str | None:
    """The index word nearest to a word not in the index, as written in a note."""
    reader = searcher.reader()
    word = analysis.fold(text)
    if analysis.has_cjk(word):
        # Chinese words are too short for edit distances: compare with note names instead.
        names = [n.decode("utf-8") for n in reader.lexicon("name")]
        if word in names:
            return None
        close = difflib.get_close_matches(word, names, n=1, cutoff=0.5)
        return close[0] if close else None
    if not word.isalnum() or len(word) < 3:
        return None
    target = analysis.stem(word)
    for maxdist in (1, 2):
        found: dict[str, tuple[str, int]] = {}
        for f in FIELD_BOOSTS:
            for term in reader.terms_within(f, target, maxdist, prefix=1):
                if term != target:
                    found[term] = (f, reader.doc_frequency(f, term) + found.get(term, ("", 0))[1])
        if found:
            term = max(found, key=lambda t: (found[t][1], t))
            return _surface(searcher, found[term][0], term) or term
    return None


def _surface(searcher, fieldname: str, term: str) -> str | None:
    """A word of a note that the index holds as ``term`` (a stem): what to suggest to a user."""
    for hit in searcher.search(wq.Term(fieldname, term), limit=1):
        stored = hit.fields()
        text = " ".join(
            [
                stored.get("note_title", ""),
                *stored.get("note_aliases", ()),
                *stored.get("heading_path", ()),
                stored.get("body", ""),
            ]
        )
        for t, _pos, a, b in analysis.scan(text, cjk=False):
            if t == term and text[a:b].isalnum():
                return text[a:b].lower()
    return None


# -- related notes ---------------------------------------------------------------------------


def related(vault: Vault, note: str, limit: int = 10) -> list[Hit]:
    """The notes most like a given note (title, alias or vault-relative path), best first."""
    ix = _open(vault)
    with _searcher(ix) as searcher:
        reader = searcher.reader()
        path = _resolve(reader, searcher, note)
        mine = list(searcher.document_numbers(path=path))
        stored = [reader.stored_fields(d) for d in mine]
        text = "\n".join(
            [stored[0].get("note_title", "")]
            + [" ".join(s.get("heading_path", ())[1:]) + "\n" + s.get("body", "") for s in stored]
        )
        keys = searcher.key_terms_from_text("body", text, numterms=24)
        if not keys:
            return []
        q = wq.Or(
            [
                wq.Term(f, t, boost=w * b)
                for t, w in keys
                for f, b in (("body", 1.0), ("heading", 2.0), ("title", 2.0))
            ]
        )
        results = searcher.search(q, limit=limit * 8, mask=wq.Term("path", path))
        terms = {t for t, _w in keys}
        best: dict[str, Hit] = {}
        for r in results:
            fields_ = r.fields()
            if fields_["path"] in best:
                continue
            hit = _hit(fields_, r.score, terms)
            best[hit.path] = Hit(
                hit.path,
                hit.title,
                (hit.title,),
                hit.line,
                hit.score,
                _first_line(hit.snippet),
                hit.tags,
            )
            if len(best) >= limit:
                break
        return list(best.values())


def _first_line(snip: str, columns: int = 80) -> str:
    return analysis.clip(snip, columns)


def _resolve(reader, searcher, name: str) -> str:
    """The path of the note a user names: vault path (with or without .md), title or alias."""
    wanted = name.strip().lstrip("/")
    folded = analysis.fold(wanted)
    paths = {p.decode("utf-8") if isinstance(p, bytes) else p for p in reader.lexicon("path")}
    for candidate in (wanted, wanted + ".md"):
        if candidate in paths:
            return candidate
    lowered = {p.lower(): p for p in paths}
    for candidate in (folded, folded + ".md"):
        if candidate in lowered:
            return lowered[candidate]
    stem = folded[:-3] if folded.endswith(".md") else folded
    found = sorted(
        {searcher.stored_fields(d)["path"] for d in searcher.document_numbers(name=stem)},
        key=lambda p: (p.count("/"), len(p), p),
    )
    if found:
        return found[0]  # like Obsidian: the shortest path among same-named notes
    names = [n.decode("utf-8") for n in reader.lexicon("name")]
    close = difflib.get_close_matches(stem, names, n=5, cutoff=0.6)
    shown = []
    for n in close:
        for d in searcher.document_numbers(name=n):
            shown.append(searcher.stored_fields(d).get("note_title") or n)
            break
    raise TopicNotFound(name, list(dict.fromkeys(shown)))
