"""The full-text index: one whoosh document per section of every note (whoosh: here and kb.query).

The index is kept in ``<data_dir>/search/`` with ``held.json`` beside it: the
``{path: sha}`` of the notes it holds, so :func:`sync` learns what changed from
:meth:`kb.store.Store.diff` without reading the index; and ``generation.json``, the store's
:meth:`~kb.store.Store.generation` that list was taken at: when the store still has it,
nothing changed and a search reads neither held.json nor every note's hash.

Ranking is BM25F over the fields below, with a hit in a note's title, alias or a
section's heading worth more than one in body text (:data:`kb.query.FIELD_BOOSTS`).
The query language (parsing a query, compiling it to whoosh queries) is
:mod:`kb.query`; this module opens the index and runs what it builds.
"""

from __future__ import annotations

import difflib
import functools
import heapq
import json
import os
import re
import struct
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path

from whoosh import fields, formats
from whoosh import query as wq
from whoosh.analysis import LowercaseFilter, RegexTokenizer
from whoosh.scoring import BM25F
from whoosh.writing import NO_MERGE, LockError

from kb import analysis, datadir, whoosh_safe
from kb.display import display_text
from kb.errors import IndexDamaged, IndexMissing, KbError, QueryError, TopicNotFound, notice
from kb.model import Hit, Note, Section, strip_note_suffix
from kb.query import FIELD_BOOSTS, Compiler, Text, has_words, name_key, parse_query, words_of
from kb.text import listing_name, listing_text, same_sound, tag_key
from kb.vault import Vault

INDEX_VERSION = 9
"""Bump when the schema, the text analysis or the file format changes: an index of another
version is rebuilt. 8: no pickles (kb.whoosh_safe); an index of 7 or before holds them."""


REBUILD_SHARE = 0.5
"""When more than this share of the notes held changed (a new store schema changes every
note's hash), the index is built anew rather than updated: an update deletes and adds
every note, and leaves its old segments full of deleted documents that every search reads
(a 6,000-note index updated whole: 4 segments, 66 MB, 45,000 deleted documents in the TOC)."""

PARALLEL_MIN_NOTES = 1000
"""From this many notes to index on, whoosh writes with one process per core."""

INDEX_BATCH_NOTES = 2000
"""A first index of more notes than this is committed this many notes at a time, with a
held.json marked ``partial`` after each batch: one interrupted or killed is kept (the next kb
puts it in place, :func:`_clean_up_after_a_killed_kb`) and resumed by :func:`sync`, which
indexes only the notes it lacks. Each batch leaves its own segments, and they are not merged
(a merge of 6,000 notes' segments costs half as much CPU as writing them): at 6,000 notes a query
costs 138 ms of CPU in 6 segments, 134 ms in the 2 of an index written at once, and
:data:`INDEX_BATCHES_MAX` bounds their number on a bigger vault."""

INDEX_BATCHES_MAX = 4
"""A batched first index has at most this many batches (their size grows with the vault)."""

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

    # whoosh's Positions pickles the list of positions; kb's index holds no pickles.
    def encode(self, poslist):
        return whoosh_safe.encode_positions(poslist)

    def decode_positions(self, valuestring):
        return whoosh_safe.decode_positions(valuestring)


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
        prose=fields.STORED,  # how many characters of body are its prose (snippets prefer it)
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
    out: dict[str, None] = {}
    for tag in tags:
        parts = tag_key(tag).split("/")
        for i in range(1, len(parts) + 1):
            term = "/".join(parts[:i])
            if term:
                out.setdefault(term)
    return list(out)


def _name_keys(name: str) -> list[str]:
    """How a note name is looked up: folded, and folded without spaces (1x1 卷积 = 1x1卷积)."""
    folded = analysis.fold(name).strip()
    return [folded, re.sub(r"\s+", "", folded)]


def _body(section: Section) -> str:
    """What a section's text search looks at: its prose, math (once) and code."""
    return "\n".join(c for c in _body_parts(section) if c)


def _body_parts(section: Section) -> tuple[str, str]:
    """A section's prose with its display math, and its code: the body is the two, in that
    order (a snippet prefers the first). The target of a Sphinx role
    (``:cite:`Ioffe.Szegedy.2015```) is in the prose already, after its role: not code, and
    not again (d2l-zh's snippets were ``sec_batch_norm Ioffe.Szegedy.2015 sec_resnet``, the
    one place the words stood whole)."""
    code = section.code
    if code and ":" in section.text:
        code = "\n".join(c for c in code.split("\n") if not _role_target(c, section.text))
    chunks = [section.text]
    if section.math:
        # Inline math is already in the prose; display math is not.
        chunks += [m for m in section.math.splitlines() if m.strip() and m not in section.text]
    return "\n".join(c for c in chunks if c), code


def _role_target(code: str, text: str) -> bool:
    """True when ``code`` stands in ``text`` as a role's target (``:numref:code``)."""
    role = rf"(?<![\w:]):[a-z][a-z_-]*:{re.escape(code)}"
    return bool(code) and re.search(role, text) is not None


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
    names = [note.title, *note.aliases, note.stem, note.display_title or ""]
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
        prose, code = _body_parts(section)
        body = "\n".join(c for c in (prose, code) if c)
        doc = dict(common)
        doc["body"] = body
        doc["prose"] = len(prose)
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


def _held_path(vault: Vault, folder: Path | None = None) -> Path:
    return (folder or index_dir(vault)) / "held.json"


def _read_held(vault: Vault) -> dict[str, str] | None:
    """The {path: sha} the index holds, or None when there is no usable index."""
    return _held_or_problem(vault)[0]


def _held_or_problem(vault: Vault) -> tuple[dict[str, str] | None, str]:
    """The {path: sha} the index holds; else None and what is wrong with the index, as the end
    of a sentence ("" when there is no index yet: nothing is wrong)."""
    path = _held_path(vault)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        live = index_dir(vault)
        if live.is_dir() and any(live.iterdir()):
            return None, f"is damaged ({path.name} is missing)"
        return None, ""
    except OSError as e:
        return None, f"is damaged ({path.name}: {e.strerror or e})"
    except ValueError:
        return None, f"is damaged ({path.name} is not valid JSON)"
    notes = data.get("notes") if isinstance(data, dict) else None
    if not isinstance(notes, dict):
        return None, f"is damaged ({path.name} holds no list of notes)"
    if data.get("version") != INDEX_VERSION:
        return None, "is from another version of kb"
    return notes, ""


def _is_partial(vault: Vault) -> bool:
    """True when the index is a first index stopped between its batches (held.json says so)."""
    try:
        data = json.loads(_held_path(vault).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("partial") is True


def _write_held(
    vault: Vault,
    held: dict[str, str],
    folder: Path | None = None,
    generation: str = "",
    partial: bool = False,
) -> None:
    """Write held.json, then generation.json (the store's generation ``held`` was taken at).

    In that order: a kb killed between the two leaves an older generation beside the new list,
    which costs the next sync a full comparison, never a missed change. A ``partial`` index
    (a first index between its batches) has no generation: the next sync compares and adds
    the notes it lacks."""
    data: dict = {"version": INDEX_VERSION, "notes": held}
    if partial:
        data["partial"] = True
    _write_json(_held_path(vault, folder), data)
    _write_generation(vault, "" if partial else generation, folder)


def _write_generation(vault: Vault, generation: str, folder: Path | None = None) -> None:
    path = _generation_path(vault, folder)
    if generation:
        _write_json(path, {"version": INDEX_VERSION, "generation": generation})
    else:
        datadir.remove_file(path)


def _write_json(path: Path, data: dict) -> None:
    # atomic, never through a symlink: a reader sees the old or the new file, never half
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
    datadir.remove_file(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data))
    os.replace(tmp, path)


def _generation_path(vault: Vault, folder: Path | None = None) -> Path:
    return (folder or index_dir(vault)) / "generation.json"


def _held_generation(vault: Vault) -> str:
    """The store generation the index is known to hold ("" when unknown: compare in full)."""
    try:
        with open(_generation_path(vault), "rb") as fh:
            data = json.loads(fh.read(4096))
    except (OSError, ValueError):
        return ""
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
        return ""
    generation = data.get("generation")
    return generation if isinstance(generation, str) else ""


def exists(vault: Vault) -> bool:
    """True when the vault has a search index of this version."""
    if _held_generation(vault):  # of this version; held.json is then not read (672 KB at 6,500)
        usable = _held_path(vault).is_file()
    else:
        usable = _read_held(vault) is not None
    return usable and whoosh_safe.exists_in(str(index_dir(vault)))


def sync(vault: Vault, store, full: bool = False, progress: Progress | None = None) -> SyncResult:
    """Bring the search index up to date with the store (rebuilt when ``full`` or unusable)."""
    start = time.perf_counter()
    result = SyncResult()
    _clean_up_after_a_killed_kb(vault)
    generation = store.generation()  # before the comparison: a change after it is seen next time
    if not full and generation and _held_generation(vault) == generation:
        result.seconds = time.perf_counter() - start
        return result
    held, problem = (None, "") if full else _held_or_problem(vault)
    ix = None
    partial = held is not None and _is_partial(vault)
    if held is not None:
        stale, gone = store.diff(held, store.changed_since(_held_generation(vault)))
        if not stale and not gone and not partial:
            _write_generation(vault, generation)  # so the next search can tell from it alone
            result.seconds = time.perf_counter() - start
            return result
        many = len(held) >= PARALLEL_MIN_NOTES and len(stale) + len(gone) > REBUILD_SHARE * len(
            held
        )
        if many and not partial:
            return _rebuild(vault, store, result, start, progress, generation)
        try:
            ix = whoosh_safe.open_dir(str(index_dir(vault)), _schema())
        except Exception as e:  # noqa: BLE001 - a damaged or foreign index is rebuilt, not fatal
            problem = f"is damaged ({type(e).__name__}: {e})"[:200]
            held = None
    if ix is None:
        if problem:
            notice(f"the search index in {index_dir(vault)} {problem}; rebuilding it")
        return _rebuild(vault, store, result, start, progress, generation)
    # Another process may have synced while this one waited for the lock.
    held = _read_held(vault) or {}
    stale, gone = store.diff(held, store.changed_since(_held_generation(vault)) if held else None)
    if partial:
        notice(
            f"resuming the first search index where it stopped: {len(held)} of "
            f"{len(held) + len(stale) - len(gone)} notes were indexed"
        )
    try:
        _write_batches(vault, ix, store, held, stale, gone, result, progress, partial=partial)
    except LockError:
        raise KbError(
            f"the search index in {index_dir(vault)} is being updated by another kb process; "
            "try again in a moment, or search with --no-refresh"
        ) from None
    except _DAMAGE as e:  # a file the update reads does not decode (damaged, or planted)
        notice(f"the search index in {index_dir(vault)} is damaged ({_problem(e)}); rebuilding it")
        return _rebuild(vault, store, SyncResult(), start, progress, generation)
    _write_held(vault, held, generation=generation)
    result.seconds = time.perf_counter() - start
    return result


def _clean_up_after_a_killed_kb(vault: Vault) -> None:
    """Finish or undo what a kb killed while writing the index left behind.

    The caller holds kb's write lock, so no other kb is writing. A kb killed between the two
    renames of :func:`_rebuild` left no live index but a complete new one (its held.json is
    written last) and the old one: the new one is put in place, else the old one.
    """
    live = index_dir(vault)
    if not datadir.is_real_dir(live.parent):
        return
    datadir.check_no_links(live.parent)
    # A complete new index is preferred to the old one: it is closer to the store. Only real
    # folders of kb's names are touched, and in them only the files whoosh and kb write.
    leftovers = [
        p
        for pattern in ("search.new.*", "search.old.*")
        for p in sorted(live.parent.glob(pattern))
        if datadir.is_own_name(p.name) and datadir.is_real_dir(p)
    ]
    if not os.path.lexists(live):
        for folder in leftovers:
            if _held_path(vault, folder).is_file():
                os.replace(folder, live)
                break
    for folder in leftovers:
        datadir.remove_index_folder(folder)
    # Temporary files a killed kb leaves: held.<pid>.tmp (held.json before its rename), and
    # whoosh's MAIN.tmp/ (a writer's sorting runs, removed by the next writer only) and
    # _MAIN_<gen>.toc.<time> (a commit's table of contents before its rename, never removed).
    if not datadir.is_real_dir(live):
        return
    for tmp in [*live.glob("held.*.tmp"), *live.glob("generation.*.tmp")]:
        datadir.remove_file(tmp)
    from whoosh.filedb.filestore import FileStorage

    lock = FileStorage(str(live)).lock("MAIN_WRITELOCK")  # what every whoosh writer holds
    if not lock.acquire(blocking=False):
        return  # a whoosh writer is at work (not a kb: kb's lock is ours): its files stay
    try:
        datadir.remove_index_temp(live)
    finally:
        lock.release()


def _rebuild(
    vault: Vault, store, result: SyncResult, start: float, progress, generation: str = ""
) -> SyncResult:
    """Build a new index beside the live one and swap it in: searches go on meanwhile."""
    vault.ensure_data_dir()
    live = index_dir(vault)
    fresh = live.with_name(f"search.new.{os.getpid()}")
    datadir.remove_index_folder(fresh)  # a kb killed with this pid's number left it
    for n in range(1, 100):  # what is left of it holds files kb did not write: kept
        if not os.path.lexists(fresh):
            break
        fresh = live.with_name(f"search.new.{os.getpid()}{n}")
    fresh.mkdir()
    first = not os.path.lexists(live)  # nothing to search meanwhile: worth resuming
    keep = False
    try:
        ix = whoosh_safe.create_in(str(fresh), _schema())
        held: dict[str, str] = {}
        stale, _ = store.diff(held)
        _write_batches(
            vault, ix, store, held, stale, [], result, progress, folder=fresh, batched=first
        )
        _write_held(vault, held, fresh, generation)
        old = live.with_name(f"search.old.{os.getpid()}")
        datadir.check_no_links(vault.data_dir)
        if os.path.lexists(live):
            os.replace(live, old)
        os.replace(fresh, live)
        datadir.remove_index_folder(old)
    except BaseException:
        keep = first and _held_path(vault, fresh).is_file()  # Ctrl-C: the next kb resumes
        raise
    finally:
        if not keep:
            datadir.remove_index_folder(fresh)
    result.rebuilt = True
    result.seconds = time.perf_counter() - start
    return result


def _write_batches(
    vault: Vault,
    ix,
    store,
    held: dict[str, str],
    stale: list[str],
    gone: list[str],
    result: SyncResult,
    progress: Progress | None,
    folder: Path | None = None,
    batched: bool = False,
    partial: bool = False,
) -> None:
    """Index ``stale`` and drop ``gone``: at once, or (a first index, ``batched``, or one
    resumed, ``partial``) :data:`INDEX_BATCH_NOTES` notes a commit (fewer than
    :data:`INDEX_BATCHES_MAX` commits), held.json written ``partial`` after each but the last.

    A resumed index deletes each note's sections before adding them (``fresh`` False): a kb
    killed between a batch's commit and its held.json left them in the index."""
    fresh = folder is not None
    step = max(len(stale), 1)
    if batched or partial:
        step = max(INDEX_BATCH_NOTES, -(-(len(held) + len(stale)) // INDEX_BATCHES_MAX))
    for at in range(0, max(len(stale), 1), step):
        batch = stale[at : at + step]
        last = at + step >= len(stale)
        writer = _writer(ix, len(batch))
        merge = None if last else NO_MERGE  # (whoosh's policy: the last commit's only)
        shifted = _shifted(progress, at, len(stale), last)
        _write_notes(
            writer, store, held, batch, gone if not at else [], result, shifted, fresh, merge
        )
        if not last:
            _write_held(vault, held, folder, partial=True)  # a kb stopped from here on resumes


def _shifted(progress: Progress | None, before: int, total: int, last: bool) -> Progress | None:
    """``progress`` for one batch: counted from ``before`` of ``total``, and the uncounted
    step (whoosh's commit) shown for the last batch only."""
    if progress is None:
        return None

    def update(done: int, of: int) -> None:
        if of:
            progress(before + done, total)
        elif last:
            progress(0, 0)

    return update


def _write_notes(
    writer, store, held, stale, gone, result: SyncResult, progress, fresh: bool, mergetype=None
) -> None:
    """Apply removed and changed notes through one whoosh writer, updating ``held``.

    In an index that is not ``fresh``, a note's old sections are deleted even when ``held``
    does not list it: a kb killed after whoosh's commit and before held.json was written
    left them in the index.
    """
    try:
        for path in gone:
            writer.delete_by_term("path", path)
            held.pop(path, None)
            result.removed += 1
        hashes = store.hashes(None if fresh else stale)
        if progress and stale:
            progress(0, len(stale))
        for done, (path, note) in enumerate(_notes_in_batches(store, stale), 1):
            if not fresh:
                writer.delete_by_term("path", path)
            if path in held:
                result.updated += 1
            else:
                result.added += 1
            for doc in documents(note):
                writer.add_document(**doc)
                result.sections += 1
            held[path] = hashes[path]
            if progress:
                progress(done, len(stale))
        if progress and stale:
            progress(0, 0)  # whoosh writing its segments: seconds with no count to show
        writer.commit(mergetype=mergetype)
    except BaseException:
        writer.cancel()
        raise


def _writer(ix, notes: int):
    """A whoosh writer; for many notes one process per core (each writes its own segment)."""
    import multiprocessing

    procs = min(os.cpu_count() or 1, 4)
    # whoosh's sub-writers rely on fork (they are not picklable for spawn/forkserver).
    if notes >= PARALLEL_MIN_NOTES and procs > 1 and multiprocessing.get_start_method() == "fork":
        return _parallel_writer(
            ix, procs=procs, multisegment=True, limitmb=256, timeout=LOCK_TIMEOUT, compound=False
        )
    return ix.writer(limitmb=512, timeout=LOCK_TIMEOUT, compound=False)


def _parallel_writer(ix, **kwargs):
    """whoosh's multi-process writer (``ix.writer(procs=…)``), its sub-writers dying with kb.

    They are forked after whoosh took its write lock (an flock, which forked processes
    share): sub-writers that outlived a kb killed with SIGKILL would wait for work forever,
    holding the lock, and every later update of the index would time out.
    """
    from whoosh.multiproc import MpWriter, SubWriterTask

    from kb.store import die_with

    parent = os.getpid()

    schema = ix._schema

    class SubWriter(SubWriterTask):
        def run(self):
            die_with(parent)
            # SubWriterTask.run opens the index with storage.open_index, which unpickles
            # whoosh's TOC: this (forked) process opens kb's instead.
            storage = self.storage
            storage.open_index = lambda *_a, **_k: whoosh_safe.SafeIndex(storage, schema)
            super().run()

    class Writer(whoosh_safe.SafeCommit, MpWriter):
        def _new_task(self):  # MpWriter._new_task, with the sub-writer above
            task = SubWriter(
                self.storage,
                self.indexname,
                self.jobqueue,
                self.resultqueue,
                self.subargs,
                self.multisegment,
            )
            self.tasks.append(task)
            task.start()
            return task

    return Writer(ix, codec=whoosh_safe.SafeCodec(), **kwargs)


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
        _wait_for_swap(vault)
    if not exists(vault):
        what = (
            "is from another version of kb" if _held_path(vault).exists() else "does not exist yet"
        )
        raise IndexMissing(
            f"the search index of {vault.root} {what}: run `kb index` "
            "(or `kb search` without --no-refresh)"
        )
    try:
        return whoosh_safe.open_dir(str(index_dir(vault)), _schema())
    except Exception as e:  # noqa: BLE001 - report, do not crash with whoosh's traceback
        raise IndexDamaged(index_dir(vault), str(e)) from None


def _wait_for_swap(vault: Vault, seconds: float = 2.0) -> None:
    """Give a rebuild the instant between its two renames (see :func:`_rebuild`), during which
    there is no live index but the old and the new one beside it."""
    live = index_dir(vault)
    deadline = time.monotonic() + seconds
    while not live.exists() and time.monotonic() < deadline:
        if not any(live.parent.glob("search.new.*")):
            return
        time.sleep(0.01)


def _searcher(ix):
    # Short fields (title, heading) should not be penalised much for being long.
    return ix.searcher(
        weighting=BM25F(B=0.75, K1=1.2, title_B=0.3, aliases_B=0.3, heading_B=0.4, tagtext_B=0.3)
    )


# -- searching -------------------------------------------------------------------------------


def _retry_after_swap(fn: Callable) -> Callable:
    """Run a reading function again once if it failed: whoosh opens segment files lazily, so a
    search that began just before ``kb index --full`` swapped in a new index (kb/index.py
    ``_rebuild``) can find the old files gone. The second try opens the new index; a real
    bug fails the same way twice and is raised."""

    @functools.wraps(fn)
    def wrapper(vault, *args, **kwargs):
        try:
            return fn(vault, *args, **kwargs)
        except (OSError, TypeError, KeyError, AttributeError, ValueError, *_DAMAGE):
            pass
        try:
            return fn(vault, *args, **kwargs)
        except _DAMAGE as e:
            # Files that do not decode as kb writes them: damaged, or planted by someone.
            raise IndexDamaged(index_dir(vault), _problem(e)) from None

    return wrapper


def _problem(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:200]


_DAMAGE = (whoosh_safe.IndexDamaged, struct.error, zlib.error, EOFError, IndexError)
"""What reading a damaged index raises, besides the errors a swap can cause."""


LISTING_FACTOR = 0.4
"""A section of a page that lists rather than says (a table of contents, a sidebar, an index,
a glossary: :func:`kb.text.listing_name`, :func:`kb.text.listing_text`) scores this share:
such a page holds every heading's words, and ranks below the sections it lists."""

HEADING_FACTOR = 1.5
"""A section whose own heading is the query (``##### ReLU`` for ``relu``) scores this much
more: it is the section about the thing, even when a longer one says the word more often."""

RERANK_EXTRA = 10
"""Hits whoosh ranks beyond those asked for, before listings are demoted: a listing demoted
from first place needs the sections that pass it to be among them. (Each costs the decoding
of its stored text.)"""

RERANK_MIN = 30
"""Notes :func:`related` looks at for listings, at least (times four)."""


@_retry_after_swap
def search(vault: Vault, query: str, limit: int | None = 10) -> list[Hit]:
    """Sections matching the query, best first (every one when ``limit`` is None)."""
    from kb.aliases import Aliases

    tree = parse_query(query)
    ix = _open(vault)
    aliases = Aliases(vault.data_dir)
    with _searcher(ix) as searcher:
        reader = searcher.reader()
        compiler = Compiler(searcher, aliases.of)
        q = compiler.compile(tree)
        aliases.close()
        if not has_words(tree):
            q = wq.And([q, wq.Term("lead", "1")])  # tag:cnn lists notes, not every section
        wide = None if limit is None else limit + RERANK_EXTRA
        results = searcher.search(q, limit=wide)
        key = name_key(tree)
        ranked = []
        for r in results:
            stored = r.fields()  # decoded once: a section's stored text can be long
            ranked.append((r.score * _factor(stored, key), r.docnum, stored))
        ranked.sort(key=lambda r: -r[0])
        if ranked and key and ("name", key) in reader:
            # The note whose title or alias is the query comes first (ReLU for "relu").
            top = ranked[0][0]
            # Require: q's scores, only where the name term is too; it skips along the name's
            # postings (a filter= walked every match of q: half of a search at 20,000 notes).
            # optimize=False: whoosh's block-quality skipping trips an assertion in Require.
            named = searcher.search(wq.Require(q, wq.Term("name", key)), limit=3, optimize=False)
            first = [(top + r.score, r.docnum, r.fields()) for r in named]
            seen = {d for _s, d, _f in first}
            ranked = first + [r for r in ranked if r[1] not in seen]
        ranked = ranked[:limit]
        return [
            _hit(stored, score, compiler.terms, compiler.loose, compiler.expanded)
            for score, _d, stored in ranked
        ]


def _factor(stored: dict, key: str | None) -> float:
    """What a hit's score is multiplied by: :data:`LISTING_FACTOR` for a section of a listing
    page, :data:`HEADING_FACTOR` for a section headed by the query (``key``), else 1."""
    path = stored.get("path", "")
    stem = strip_note_suffix(path.rsplit("/", 1)[-1])
    if listing_name(stem) or listing_text(stored.get("body", "")):
        return LISTING_FACTOR
    heading = stored.get("heading_path", ())
    if key and heading and re.sub(r"\s+", "", analysis.fold(heading[-1])) == key:
        return HEADING_FACTOR
    return 1.0


def _hit(
    stored: dict,
    score: float,
    terms: set[str],
    loose: set[str] = frozenset(),  # type: ignore[assignment]
    expanded: dict[str, tuple[str, ...]] | None = None,
) -> Hit:
    raw = stored.get("body", "")
    cut = stored.get("prose")
    # The section's prose first, if it says a word: its code and math come after it in the
    # body, and a window into code (`nn.Dropout(p) nn.Dropout`) says less than a sentence.
    texts = [raw[:cut]] if type(cut) is int and 0 < cut < len(raw) else []
    snip = ""
    for text in [*texts, raw]:
        for words in (terms, terms | loose) if loose else (terms,):
            snip = analysis.snippet(display_text(text), words)
            if "\x02" in snip:  # (a word lit; else its parts, else the next text)
                break
        if "\x02" in snip:
            break
    return Hit(
        path=stored["path"],
        title=stored.get("note_title", ""),
        heading=tuple(stored.get("heading_path", ())),
        line=int(stored.get("line", 1)),
        score=round(float(score), 4),
        snippet=snip,
        tags=tuple(stored.get("note_tags", ())),
        also=_also(stored, expanded or {}),
    )


def _also(stored: dict, expanded: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """``term = other name`` for each other name of a query term this section holds and the
    term itself does not: why a hit without the words typed was found."""
    if not expanded:
        return ()
    text = analysis.fold(" ".join([*stored.get("heading_path", ()), stored.get("body", "")]))
    out = []
    for term, names in expanded.items():
        if analysis.fold(term) in text:
            continue
        said = [n for n in names if analysis.fold(n) in text]
        if said:
            out.append(f"{term} = {said[0]}")
    return tuple(out)


# -- did you mean ----------------------------------------------------------------------------


@_retry_after_swap
def suggest(vault: Vault, query: str) -> list[str]:
    """Queries to try instead, from the index's own vocabulary (empty when none is better)."""
    try:
        tree = parse_query(query)
    except QueryError:
        return []
    ix = _open(vault)
    with ix.searcher() as searcher:
        replacements: dict[str, str] = {}
        for node in words_of(tree):
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


def _found(searcher, word: Text) -> bool:
    """True when the word alone has hits: then it is not the word to correct."""
    q = Compiler(searcher).compile_part(word)
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
        sounds = same_sound(word, _cjk_words(reader, len(word)))  # 卷机 → 卷积: a wrong pick
        if sounds:
            return max(sounds, key=lambda w: (reader.doc_frequency("body", w), w))
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


def _cjk_words(reader, length: int) -> list[str]:
    """The Chinese words of ``length`` characters that the index holds, in any field."""
    out: set[str] = set()
    for field in FIELD_BOOSTS:
        for term in reader.lexicon(field):
            word = term.decode("utf-8", "replace")
            if len(word) == length and analysis.has_cjk(word):
                out.add(word)
    return sorted(out)


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


@_retry_after_swap
def related(vault: Vault, note: str, limit: int | None = 10) -> list[Hit]:
    """The notes most like a given note (title, alias or vault-relative path), best first
    (every one with a word in common when ``limit`` is None)."""
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
        scores = _or_scores(searcher, keys, (("body", 1.0), ("heading", 2.0), ("title", 2.0)))
        # A table of contents or a sidebar shares every note's words: demoted, as in search.
        head = RERANK_MIN * 4 if limit is None else max(limit * 8, RERANK_MIN * 4)
        ranked = _best_first(scores, head)
        top = [(d, sc * _factor(reader.stored_fields(d), None)) for d, sc in islice(ranked, head)]
        terms = {t for t, _w in keys}
        best: dict[str, Hit] = {}
        for docnum, score in chain(sorted(top, key=lambda ds: (-ds[1], ds[0])), ranked):
            fields_ = reader.stored_fields(docnum)
            if fields_["path"] == path or fields_["path"] in best:
                continue
            hit = _hit(fields_, score, terms)
            best[hit.path] = Hit(
                hit.path,
                hit.title,
                (hit.title,),
                hit.line,
                hit.score,
                _first_line(hit.snippet),
                hit.tags,
            )
            if limit is not None and len(best) >= limit:
                break
        return list(best.values())


def _best_first(scores: dict[int, float], first: int) -> Iterator[tuple[int, float]]:
    """(document, score) by score, best first (ties by document), the ``first`` best picked
    from the rest before the rest is sorted, only if it is asked for: a note shares a word
    with most of the vault, and sorting tens of thousands of sections cost a third of
    ``related``, which mostly needs no more than the first few dozen."""
    keyed = [(-sc, d) for d, sc in scores.items()]
    best = heapq.nsmallest(first, keyed)
    for sc, d in best:
        yield d, -sc
    if len(keyed) > len(best):
        last = best[-1]
        for sc, d in sorted(k for k in keyed if k > last):  # (keys are unique: d is)
            yield d, -sc


def _or_scores(searcher, keys, boosts) -> dict[int, float]:
    """{document: score} of an OR of every (term, weight) of ``keys`` in every (field,
    boost) of ``boosts``, as whoosh scores such a query (the sum of each term's BM25F score
    times its boost), one pass over each term's postings: whoosh's own matcher tree over
    dozens of terms costs ~25 s of CPU for one note of a 6,000-note vault, and its scoring of
    each posting through its matcher most of a second (:func:`whoosh_safe.bm25_postings`)."""
    reader = searcher.reader()
    scores: dict[int, float] = defaultdict(float)
    for term, weight in keys:
        for field, boost in boosts:
            if (field, term) not in reader:
                continue
            factor = weight * boost
            for ids, values in whoosh_safe.bm25_postings(searcher, field, term):
                for docnum, score in zip(ids, values, strict=True):
                    scores[docnum] += score * factor
    return scores


def _first_line(snip: str, columns: int = 80) -> str:
    return analysis.clip(snip, columns)


_LOWERED: dict[tuple, dict[str, str]] = {}
"""The last index's note paths by their lower case, by the segments they were read from (a
segment's files never change; a server asks again and again)."""


def _lowered_paths(reader) -> dict[str, str]:
    """{path.lower(): path} of every note of the index (its lexicon: 30 ms at 6,000 notes)."""
    try:
        key = tuple(sorted(r.segment().segment_id() for r, _ in reader.leaf_readers()))
    except AttributeError:  # (not a reader of segments: no key to remember it by)
        key = None
    if key is not None and key in _LOWERED:
        return _LOWERED[key]
    paths = {p.decode("utf-8") if isinstance(p, bytes) else p for p in reader.lexicon("path")}
    lowered = {p.lower(): p for p in paths}
    if key is not None:
        _LOWERED.clear()
        _LOWERED[key] = lowered
    return lowered


def _resolve(reader, searcher, name: str) -> str:
    """The path of the note a user names: vault path (with or without .md), title or alias."""
    wanted = name.strip().lstrip("/")
    folded = analysis.fold(wanted)
    for candidate in (wanted, wanted + ".md"):
        if ("path", candidate) in reader:  # (a look-up; the lexicon is every note's path)
            return candidate
    lowered = _lowered_paths(reader)
    for candidate in (folded, folded + ".md"):
        if candidate in lowered:
            return lowered[candidate]
    stem = strip_note_suffix(folded)
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
