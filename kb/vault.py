"""Finding the vault and its note files: the only place that reads notes from disk.

kb never writes into the vault; its own data lives in ``<vault>/.kb/`` or in
``--index-dir`` / ``KB_INDEX_DIR``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kb.errors import KbError, VaultNotFound
from kb.model import NOTE_SUFFIXES
from kb.resolve import fold

DATA_DIR_NAME = ".kb"


@dataclass(frozen=True, slots=True)
class FileStat:
    """What a stat scan knows of a note file, enough to tell whether it changed."""

    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Vault:
    """A folder of Markdown notes and the folder where kb keeps its data about it."""

    root: Path
    data_dir: Path

    @property
    def name(self) -> str:
        """The vault's name as Obsidian shows it: its folder name."""
        return self.root.name

    def scan(self) -> dict[str, FileStat]:
        """Every note file in the vault by vault-relative POSIX path (a stat scan, no reads)."""
        ignore = _ignore_filters(self.root)
        found: dict[str, FileStat] = {}
        for rel, entry in _walk(self.root, ""):
            if ignore and _ignored(rel, ignore):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue  # vanished or unreadable between listing and stat
            found[rel] = FileStat(st.st_size, st.st_mtime_ns)
        return found

    def read(self, rel: str) -> tuple[str, bytes, FileStat]:
        """Text, raw bytes and stat of a note; undecodable bytes become U+FFFD, not an error."""
        with open(self.abspath(rel), "rb") as fh:
            st = os.fstat(fh.fileno())
            raw = fh.read()
        text, _ = decode(raw)
        return text, raw, FileStat(st.st_size, st.st_mtime_ns)

    def attachments(self) -> AttachmentIndex:
        """Which non-note files (images, PDFs…) the vault holds, for checking embeds."""
        return AttachmentIndex(self.root)

    def abspath(self, rel: str) -> Path:
        """Absolute path of a vault-relative path."""
        return self.root.joinpath(*rel.split("/"))

    def ensure_data_dir(self) -> Path:
        """Create the data folder (only ever ``.kb/`` inside the vault) and return it."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise KbError(
                f"cannot create kb's data folder {self.data_dir} ({e.strerror}); "
                "for a read-only vault pass --index-dir DIR or set KB_INDEX_DIR"
            ) from None
        if not os.access(self.data_dir, os.W_OK):
            raise KbError(
                f"kb's data folder {self.data_dir} is not writable; "
                "pass --index-dir DIR or set KB_INDEX_DIR"
            )
        return self.data_dir


class AttachmentIndex:
    """Which non-note files a vault holds: by path, and by file name as Obsidian finds them."""

    def __init__(self, root: Path):
        self.paths: set[str] = set()
        self.names: set[str] = set()
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = Path(folder).relative_to(root).as_posix()
            for f in files:
                self.paths.add(fold(f if rel == "." else f"{rel}/{f}"))
                self.names.add(fold(f))

    def __call__(self, target: str) -> bool:
        """True when ``target`` (vault-relative path, or bare file name) exists."""
        key = fold(target)
        return key in self.paths or ("/" not in key and key in self.names)


def decode(raw: bytes) -> tuple[str, bytes]:
    """Decode note bytes: UTF-8 (BOM dropped), else UTF-16 with BOM, else UTF-8 with replacement."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), raw
        except UnicodeDecodeError:
            pass
    return raw.decode("utf-8-sig", errors="replace"), raw


def _walk(root: Path, prefix: str) -> Iterator[tuple[str, os.DirEntry]]:
    """Note files under root, skipping dot-folders (.obsidian, .git, .trash, .kb) and dot-files."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        rel = prefix + entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path), rel + "/")
            elif entry.is_file() and entry.name.lower().endswith(NOTE_SUFFIXES):
                yield rel, entry
        except OSError:
            continue


def _ignore_filters(root: Path) -> list[str | re.Pattern[str]]:
    """Obsidian's ``userIgnoreFilters`` (Settings › Files and links › Excluded files)."""
    app = root / ".obsidian" / "app.json"
    try:
        filters = json.loads(app.read_text(encoding="utf-8")).get("userIgnoreFilters") or []
    except (OSError, ValueError, AttributeError):
        return []
    out: list[str | re.Pattern[str]] = []
    for f in filters:
        if not isinstance(f, str) or not f.strip():
            continue
        # Obsidian treats "/…/" as a regular expression and anything else as a path prefix.
        if len(f) > 2 and f.startswith("/") and f.endswith("/"):
            try:
                out.append(re.compile(f[1:-1]))
            except re.error:
                continue
        else:
            out.append(f.strip())
    return out


def _ignored(rel: str, filters: list[str | re.Pattern[str]]) -> bool:
    """True when a vault-relative path matches an Obsidian exclusion filter."""
    for f in filters:
        if isinstance(f, str):
            if rel.startswith(f):
                return True
        elif f.search(rel):
            return True
    return False


def find_vault(
    explicit: str | None = None,
    index_dir: str | None = None,
    cwd: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Vault:
    """Choose the vault: --vault, KB_VAULT, nearest folder up with .obsidian/ or .kb/, ./vault."""
    env = os.environ if environ is None else environ
    cwd = (cwd or Path.cwd()).resolve()
    chosen = explicit or env.get("KB_VAULT") or None
    if chosen:
        root = Path(chosen).expanduser()
        if not root.is_absolute():
            root = cwd / root
        if not root.is_dir():
            source = "--vault" if explicit else "KB_VAULT"
            raise VaultNotFound(f"vault folder {chosen!r} (from {source}) does not exist")
        root = root.resolve()
    else:
        root = _discover(cwd)
    data = index_dir or env.get("KB_INDEX_DIR") or None
    data_dir = Path(data).expanduser().resolve() if data else root / DATA_DIR_NAME
    return Vault(root=root, data_dir=data_dir)


def _discover(cwd: Path) -> Path:
    """Nearest folder upwards holding .obsidian/ or .kb/, else ./vault."""
    for folder in (cwd, *cwd.parents):
        if (folder / ".obsidian").is_dir() or (folder / DATA_DIR_NAME).is_dir():
            return folder
    if (cwd / "vault").is_dir():
        return (cwd / "vault").resolve()
    raise VaultNotFound(
        "no vault found: run kb inside an Obsidian vault, pass --vault PATH, or set KB_VAULT"
    )
