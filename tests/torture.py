"""A vault of odd files, built by code (no binary fixtures in the repository).

``build_torture_vault(root)`` writes a vault of good notes and, beside them, every kind of
file a real vault collects over years: invalid UTF-8, a binary file named ``.md``, NUL
bytes, deep nesting, unterminated fences and front matter, odd names, symlink loops and
symlinks out of the vault. ``EXPECTED_WARNINGS`` says which files ``kb index`` must warn
about (once each) and why; everything else must be indexed without a word.
"""

from __future__ import annotations

import os
from pathlib import Path

SECRET_MARKER = "KB-SECRET-7f3a9c-DO-NOT-LEAK"
"""Written in files outside the vault: must never appear in anything kb prints or stores."""

BIG_NOTE_BYTES = 20 * 1024 * 1024
NESTING = 5000

GOOD_NOTES: dict[str, str] = {
    "Hub.md": (
        "# Hub\n\nThe hub links [[Alpha]], [[folder a/Dup]], [[Emoji 🚀 note]] and [[中文笔记]].\n"
        "Also [[Note]] and [[note]] (case collision), [[with spaces in name]].\n"
        "#torture\n"
    ),
    "Alpha.md": "# Alpha\n\nAlpha talks about the Hub and about Beta. #torture/alpha\n",
    "folder a/Dup.md": "# Dup\n\nThe first Dup note, in folder a. Links to [[Alpha]].\n",
    "folder b/Dup.md": "# Dup\n\nThe second Dup note, in folder b. Links to [[Hub]].\n",
    "Emoji 🚀 note.md": "# Emoji 🚀 note\n\nA rocket 🚀 in the name. Back to [[Hub]].\n",
    "中文笔记.md": "# 中文笔记\n\n卷积神经网络的笔记，链接到 [[Alpha]]。\n",
    "Note.md": "# Note\n\nUpper-case Note.\n",
    "note.md": "# note\n\nlower-case note.\n",
    "with spaces in name.md": "# With spaces\n\nSpaces in the file name.\n",
    "empty.md": "",
    "unterminated fence.md": "# Fence\n\nBefore the fence.\n\n```python\ndef f():\n    return 1\n",
    "unterminated front matter.md": "---\ntitle: Never closed\ntags: [a]\n\n# Body\n\ntext\n",
    "front matter list.md": "---\n- a\n- b\n---\n# List front matter\n\nbody text\n",
    "front matter scalar.md": "---\njust a string\n---\n# Scalar front matter\n\nbody text\n",
    "sub/links out.md": (
        "# Links out\n\n"
        "[passwd](../../etc/passwd) and [abs](/etc/passwd) and [file](file:///etc/passwd)\n"
        "![[../../secret.md]] and ![](../../secret.md) and [[../outside/secret]]\n"
        "![img](../../outside/secret.png) and [[escape/secret]]\n"
    ),
}


def deep_list(depth: int = NESTING) -> str:
    """A list nested ``depth`` levels deep on one line (``- - - …``), then more text."""
    return "# Deep list\n\n" + "- " * depth + "deepest item\n\n## After\n\nText after [[Hub]].\n"


def deep_quote(depth: int = NESTING) -> str:
    """A blockquote nested ``depth`` levels deep."""
    return "# Deep quote\n\n" + ">" * depth + " deepest words\n\n## After\n\nText after [[Hub]].\n"


def big_note(size: int = BIG_NOTE_BYTES) -> str:
    """A note of about ``size`` bytes, like years of a daily log pasted into one file: a
    heading per day, a short list and paragraphs of prose with links, tags, code and math."""
    words = (
        "the model of a residual network trains faster when the gradient flows through "
        "identity shortcuts and batch norm keeps activations in range while relu cuts "
        "negative values 卷积神经网络 残差网络 通过1x1卷积降低通道数 注意力机制"
    ).split()
    parts = ["# Big log\n\n"]
    total = 0
    day = 0
    while total < size:
        prose = " ".join(words[(day + k) % len(words)] for k in range(160))
        piece = (
            f"## Day {day}\n\n"
            f"- **item {day}**: worked on [[Alpha]] and the Hub #torture\n"
            f"- read about Beta, `code {day}` and $x^{{{day % 9}}}$\n\n" + f"{prose}.\n\n" * 4
        )
        parts.append(piece)
        total += len(piece.encode("utf-8"))
        day += 1
    return "".join(parts)


def build_torture_vault(root: Path, big: bool = True) -> Path:
    """Write the torture vault under ``root/vault`` (plus a secret outside it); return it."""
    vault = root / "vault"
    vault.mkdir(parents=True)
    for rel, text in GOOD_NOTES.items():
        path = vault / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (vault / "deep list.md").write_text(deep_list(), encoding="utf-8")
    (vault / "deep quote.md").write_text(deep_quote(), encoding="utf-8")
    (vault / "deep front matter.md").write_text(
        "---\nkey: " + "[" * NESTING + "]" * NESTING + "\n---\n# Deep front matter\n",
        encoding="utf-8",
    )
    if big:
        (vault / "big.md").write_text(big_note(), encoding="utf-8")
    # Invalid UTF-8 in the middle of good text: read with U+FFFD, warned about.
    (vault / "latin1.md").write_bytes(
        "# Latin-1\n\nCaf\xe9 cr\xe8me, then [[Alpha]].\n".encode("latin-1")
    )
    # NUL bytes inside otherwise good text.
    (vault / "nul bytes.md").write_bytes(b"# NUL\n\nbefore\x00after [[Hub]]\n")
    # A binary file named .md: PNG header and random-looking bytes with many NULs.
    (vault / "image.md").write_bytes(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8 + b"\x00" * 512
    )
    # A file that cannot be read (as root this is readable anyway: see the tests).
    locked = vault / "locked.md"
    locked.write_text("# Locked\n\nnobody may read this\n", encoding="utf-8")
    locked.chmod(0)
    # Outside the vault: secrets that links and symlinks point at.
    outside = root / "outside"
    outside.mkdir()
    secret = f"# Secret\n\n{SECRET_MARKER} [[Hub]]\n"
    (outside / "secret.md").write_text(secret, encoding="utf-8")
    (outside / "secret.png").write_bytes(SECRET_MARKER.encode())
    (root / "secret.md").write_text(secret, encoding="utf-8")
    # Symlinks: a loop to an ancestor, a file and a folder outside, one that stays inside.
    os.symlink("..", vault / "sub" / "loop")
    os.symlink(root / "secret.md", vault / "secret link.md")
    os.symlink(outside, vault / "escape")
    os.symlink("Alpha.md", vault / "alpha link.md")
    os.symlink("nowhere.md", vault / "dangling.md")
    os.symlink("loop b.md", vault / "loop a.md")
    os.symlink("loop a.md", vault / "loop b.md")
    os.mkfifo(vault / "pipe.md")  # opening it would block: kb reads regular files only
    return vault


EXPECTED_WARNINGS: dict[str, str] = {
    "latin1.md": "not valid UTF-8 from line 3",
    "nul bytes.md": "1 NUL byte(s), the first on line 3",
    "image.md": "not text (binary data",
    "deep list.md": "lists or quotes nested more than 40 levels deep from line 3",
    "deep quote.md": "lists or quotes nested more than 40 levels deep from line 3",
    "deep front matter.md": "front matter is not valid YAML (line 2: exceeded maximum nesting",
    "unterminated fence.md": "code fence on line 5 is never closed",
    "unterminated front matter.md": "front matter on line 1 is never closed",
    "front matter list.md": "front matter is a list",
    "front matter scalar.md": "front matter is a plain string",
    "secret link.md": "symlink to a file outside the vault",
    "escape": "symlink to a folder outside the vault",
    "dangling.md": "broken symlink",
    "loop a.md": "symlink loop",
    "loop b.md": "symlink loop",
}
"""Vault-relative path -> the start of the one warning ``kb index`` gives for it. Not here,
because they are fine: the empty note, duplicate names in two folders, names with spaces,
emoji, CJK or differing only in case, ``pipe.md`` (a FIFO: not a file, passed over like a
folder would be), ``alpha link.md`` and ``sub/loop`` (symlinks that stay
in the vault: what they point at is read at its own path), and ``locked.md`` (root reads it
anyway; tests/test_torture.py simulates the permission error)."""

SKIPPED = {"image.md", "secret link.md", "escape", "dangling.md", "loop a.md", "loop b.md"}
"""Those of EXPECTED_WARNINGS that are not read at all (the others are notes read around a
problem)."""


# -- proving the vault untouched ------------------------------------------------------------


def snapshot(root: Path, with_root_mtime: bool = False) -> dict[str, tuple]:
    """Every entry under ``root`` but kb's own ``.kb/``: files by content hash, mode and mtime,
    symlinks by target, folders by mtime (a created or deleted entry changes it). The root's
    own mtime changes when kb creates ``.kb/`` in it, so it counts only on request."""
    import hashlib

    out: dict[str, tuple] = {}
    if with_root_mtime:
        out["."] = ("dir", root.lstat().st_mtime_ns)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d != ".kb"]
        for name in sorted(dirs + files):
            path = here / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path), st.st_mtime_ns)
            elif path.is_dir():
                out[rel] = ("dir", st.st_mtime_ns, st.st_mode)
            elif not path.is_file():  # a FIFO: reading it would block
                out[rel] = ("other", st.st_mtime_ns, st.st_mode)
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out[rel] = ("file", digest, st.st_size, st.st_mtime_ns, st.st_mode)
    return out


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_WRITE_EVENTS = {
    "os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.symlink", "os.link",
    "os.chmod", "os.chown", "os.utime", "os.truncate", "shutil.rmtree", "shutil.copyfile",
    "shutil.move", "sqlite3.connect",
}  # fmt: skip
_watch: dict[str, object] = {}


def _audit(event: str, args: tuple) -> None:
    roots = _watch.get("roots")
    if not roots:
        return
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None))[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
        )
        paths = [path] if writing or _watch.get("reads") else []
    elif event in _WRITE_EVENTS:
        paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
    else:
        return
    allowed = _watch.get("allowed")
    for p in paths:
        if not isinstance(p, (str, bytes, os.PathLike)):
            continue
        full = os.path.abspath(os.fsdecode(p))
        if allowed and (full == allowed or full.startswith(f"{allowed}{os.sep}")):
            continue
        if any(full == root or full.startswith(f"{root}{os.sep}") for root in roots):  # type: ignore[union-attr]
            _watch["seen"].append((event, full))  # type: ignore[attr-defined]


class WritesInto:
    """While active, records every attempt of this process to write under ``root`` (outside
    ``allowed``): an audit hook sees each open for writing, mkdir, rename, chmod… even where
    the write would succeed (we run as root, so a read-only vault does not stop it). With
    ``reads=True`` every open counts, reads too: for paths kb must never even look at."""

    _installed = False

    def __init__(self, *roots: Path, allowed: Path | None = None, reads: bool = False):
        self.roots = [str(Path(r).resolve()) for r in roots]
        self.allowed = str(allowed.resolve()) if allowed else None
        self.reads = reads
        self.seen: list[tuple[str, str]] = []

    def __enter__(self) -> WritesInto:
        import sys

        if not WritesInto._installed:
            sys.addaudithook(_audit)  # cannot be removed: it stays idle between uses
            WritesInto._installed = True
        _watch.update(roots=self.roots, allowed=self.allowed, reads=self.reads, seen=self.seen)
        return self

    def __exit__(self, *exc: object) -> None:
        _watch.clear()
