"""Generate the benchmark vault: ~6,000 notes / ~15 MB of Chinese and English Markdown.

The notes are cut from the real vaults in ``../shared/vaults`` (d2l-zh, foam-docs):
every file is split at its ``##`` headings into notes of their own, and the set
is repeated with variations (a folder per copy, a changed title, a paragraph
borrowed from another note, front-matter tags and a few wikilinks) until the
wanted number of notes and bytes is reached. Deterministic for a given seed.

    python benchmarks/make_vault.py /tmp/kb-bench-vault
    python benchmarks/make_vault.py /tmp/kb-bench-vault --notes 6000 --megabytes 15

The output folder is outside the repository; it is emptied first.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCES = REPO.parent / "shared" / "vaults"


@dataclass
class Piece:
    """One ``##`` section (or a file's opening) of a source note."""

    source: str
    title: str
    body: str


def _pieces(root: Path) -> list[Piece]:
    pieces: list[Piece] = []
    for path in sorted(root.rglob("*.md")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        chunks: list[tuple[str, list[str]]] = [(path.stem, [])]
        fence = False
        for line in text.splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fence = not fence
            if not fence and line.startswith("## "):
                chunks.append((line[3:].strip(), []))
            elif not fence and line.startswith("# ") and not chunks[-1][1]:
                chunks[-1] = (line[2:].strip() or chunks[-1][0], [])
            else:
                chunks[-1][1].append(line)
        for title, lines in chunks:
            body = "\n".join(lines).strip()
            if len(body) > 80:
                title = re.sub(r"[\[\]()*`#|^:\\/]", "", title).strip() or path.stem
                pieces.append(Piece(rel, title[:60], body))
    return pieces


def _slug(text: str) -> str:
    return re.sub(r"[^\w\u4e00-\u9fff-]+", "-", text).strip("-")[:50] or "note"


def make_vault(out: Path, sources: Path, notes: int, megabytes: float, seed: int = 7) -> None:
    """Write the benchmark vault into ``out`` (emptied first)."""
    pieces = []
    for name in ("d2l-zh", "foam-docs"):
        if (sources / name).is_dir():
            pieces += _pieces(sources / name)
    if not pieces:
        sys.exit(f"no source notes under {sources}")
    rng = random.Random(seed)
    average = sum(len(p.body.encode()) for p in pieces) / len(pieces)
    # Borrow this many bytes from other notes per note, to reach the wanted size.
    extra = max(0.0, megabytes * 1e6 / notes - average - 330)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    titles: list[str] = []
    total = 0
    for i in range(notes):
        copy, k = divmod(i, len(pieces))
        piece = pieces[k]
        title = piece.title if copy == 0 else f"{piece.title} ({copy})"
        titles.append(title)
        folder = out / f"copy{copy:02d}" / Path(piece.source).parent
        folder.mkdir(parents=True, exist_ok=True)
        body = piece.body
        if extra:
            other = pieces[rng.randrange(len(pieces))].body
            start = rng.randrange(max(1, len(other) - int(extra)))
            borrowed = other[start : start + int(extra)]
            borrowed = borrowed.replace("```", "").replace("$$", "")
            body += "\n\n## 补充 Notes\n\n" + borrowed
        links = ", ".join(f"[[{t}]]" for t in rng.sample(titles, min(3, len(titles))))
        chapter = Path(piece.source).parts[0].replace("chapter_", "")
        text = (
            f'---\ntitle: "{title}"\ntags: [{chapter}, bench/copy{copy}]\n---\n'
            f"# {title}\n\n{body}\n\nSee also: {links}\n"
        )
        name = f"{_slug(Path(piece.source).stem)}-{k:04d}.md"
        data = text.encode("utf-8")
        (folder / name).write_bytes(data)
        total += len(data)
    print(f"{notes} notes, {total / 1e6:.1f} MB in {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write (outside the repository)")
    parser.add_argument("--notes", type=int, default=6000)
    parser.add_argument("--megabytes", type=float, default=15.0)
    parser.add_argument("--sources", type=Path, default=DEFAULT_SOURCES)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    out = args.out.resolve()
    if out == REPO or REPO in out.parents:
        sys.exit("write the benchmark vault outside the repository (e.g. /tmp/kb-bench-vault)")
    make_vault(out, args.sources, args.notes, args.megabytes, args.seed)


if __name__ == "__main__":
    main()
