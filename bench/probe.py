"""What the benchmark asks a vault: search words, queries, topics, which notes it edits.

For a generated vault these are fixed by :mod:`bench.gen` (it guarantees they exist). For
any other vault (``--vault PATH``) they are picked from kb's own record of the vault after
its first full index: frequent words, the most linked note, a note two links away from it.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from bench import gen


@dataclass(slots=True)
class Probes:
    """The words and topics one vault is benchmarked with."""

    words: tuple[str, ...]
    """For `kb search WORD` and `rg -i WORD` (whole processes)."""
    queries: tuple[str, ...]
    """For the in-process search latency (p50/p95)."""
    show: str
    path: tuple[str, str]
    graph: str
    edit: str
    """Vault-relative path of the note the refresh figures edit."""
    delete: str
    """Vault-relative path of the note the add-and-delete figure deletes (and puts back)."""


def note_files(root: Path) -> list[str]:
    """Vault-relative POSIX paths of the Markdown files, sorted, dot-folders skipped."""
    out = []
    for path in root.rglob("*.md"):
        rel = path.relative_to(root)
        if not any(part.startswith(".") for part in rel.parts):
            out.append(rel.as_posix())
    return sorted(out)


def _edit_and_delete(root: Path, files: list[str]) -> tuple[str, str]:
    """A note to edit (mid-vault, with Chinese if any: indexing it loads the segmenter) and
    another one to delete; neither one of the topics the graph commands ask for."""
    from kb.text import has_cjk

    middle = files[len(files) // 2 :] + files[: len(files) // 2]
    edit = next(
        (f for f in middle if has_cjk((root / f).read_text(encoding="utf-8", errors="replace"))),
        middle[0],
    )
    rest = [f for f in files[len(files) // 3 :] + files if f != edit]
    return edit, rest[0] if rest else edit


def generated(root: Path) -> Probes:
    """The probes :mod:`bench.gen` guarantees."""
    files = [f for f in note_files(root) if not f.startswith("topics/")] or note_files(root)
    edit, delete = _edit_and_delete(root, files)
    return Probes(
        gen.SEARCH_WORDS,
        gen.QUERIES,
        gen.SHOW_TOPIC,
        gen.PATH_TOPICS,
        gen.GRAPH_TOPIC,
        edit,
        delete,
    )


_EN_WORD = re.compile(r"[A-Za-z][a-z]{4,}")
_MARKUP = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$|\\[A-Za-z]+|`[^`\n]*`", re.S)
"""Math, LaTeX commands and inline code (Sphinx roles go by :func:`kb.display.strip_roles`):
their words are markup, not prose a person searches (d2l-zh's most frequent word was
``mathbf``, which kb rightly does not index as a word)."""
_STOP = frozenset(
    "about above after again against being below between could doesn during first found "
    "from have having here into itself just more most other only over same should since some "
    "such than that their them then there these they this those through under until using "
    "very what when where which while with would your https false true return".split()
)


def derived(root: Path, data_dir: Path) -> Probes:
    """Probes picked from kb's store of an indexed vault (``kb index`` has run)."""
    from kb.display import strip_roles
    from kb.resolve import Resolver
    from kb.store import Store
    from kb.vault import Vault

    notes = Store(Vault(root=root, data_dir=data_dir)).notes()
    if not notes:
        raise SystemExit(f"bench: kb found no notes in {root}")
    english: Counter[str] = Counter()
    chinese: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    import rjieba

    for i, note in enumerate(notes.values()):
        tags.update(note.tags)
        if i % max(1, len(notes) // 400):  # a sample of ~400 notes is enough for frequencies
            continue
        for sec in note.sections:
            text = _MARKUP.sub(" ", strip_roles(sec.text))
            english.update(w.lower() for w in _EN_WORD.findall(text))
            cjk = "".join(ch if "\u4e00" <= ch <= "\u9fff" else " " for ch in text)
            chinese.update(w for w in rjieba.cut(cjk) if len(w.strip()) >= 2)
    en = [w for w, _ in english.most_common(60) if w not in _STOP][:3]
    zh = [w for w, _ in chinese.most_common(60) if len(w) >= 2][:2]
    chosen = tuple(en + zh) or ("the",)
    queries = list(chosen)
    if len(en) >= 2:
        queries.append(f'"{en[0]} {en[1]}"')
        queries.append(f"{en[0]} OR {en[-1]}")
        queries.append(f"{en[0][:4]}*")
    if tags:
        queries.append(f"tag:{tags.most_common(1)[0][0]} {chosen[0]}")

    # The most linked note, and a note as far as possible from it (two hops at most).
    resolver = Resolver(notes.values())
    backlinks: Counter[str] = Counter()
    neighbours: dict[str, set[str]] = {p: set() for p in notes}
    for path, note in notes.items():
        for link in note.links:
            target = resolver.resolve_link(link, path).path
            if target in notes and target != path:
                backlinks[target] += 1
                neighbours[path].add(target)
                neighbours[target].add(path)
    hub = backlinks.most_common(1)[0][0] if backlinks else next(iter(notes))
    far, seen, todo = hub, {hub: 0}, deque([hub])
    while todo:
        p = todo.popleft()
        if seen[p] >= 2:
            continue
        for q in sorted(neighbours[p]):
            if q not in seen:
                seen[q] = seen[p] + 1
                todo.append(q)
                if seen[q] > seen[far]:
                    far = q
    files = note_files(root)
    edit, delete = _edit_and_delete(root, [f for f in files if f not in (hub, far)] or files)
    return Probes(chosen, tuple(queries), hub, (far, hub), hub, edit, delete)
