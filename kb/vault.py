"""Finding the vault and its note files: the only place that reads notes from disk.

kb never writes into the vault; its own data lives in ``<vault>/.kb/`` or in
``--index-dir`` / ``KB_INDEX_DIR`` (which folder exactly: :func:`kb.datadir.choose`).
"""

from __future__ import annotations

import errno
import json
import operator
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR
from typing import NamedTuple

from kb import datadir
from kb.errors import VaultNotFound
from kb.model import NOTE_SUFFIXES
from kb.resolve import fold

DATA_DIR_NAME = datadir.DEFAULT_NAME


class FileStat(NamedTuple):
    """What a stat scan knows of a note file, enough to tell whether it changed.

    A named tuple, not a dataclass: a scan makes one per note and compares it with the
    manifest's row, and a tuple is made and compared in C (a sixth of a 6,000-note scan)."""

    size: int
    mtime_ns: int
    ctime_ns: int = 0
    """Inode change time: an edit that keeps size and mtime (``touch -d``, ``cp -p``, rsync)
    still changes it."""
    inode: int = 0
    """A file replaced by another (``mv`` over it, rsync's rename) has a new inode."""

    @classmethod
    def of(cls, st: os.stat_result) -> FileStat:
        """The FileStat of an ``os.stat`` result."""
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(frozen=True, slots=True)
class Vault:
    """A folder of Markdown notes and the folder where kb keeps its data about it."""

    root: Path
    data_dir: Path

    @property
    def name(self) -> str:
        """The vault's name as Obsidian shows it: its folder name."""
        return self.root.name

    def scan(
        self,
        skipped: dict[str, str] | None = None,
        folders: dict[str, FileStat] | None = None,
    ) -> dict[str, FileStat]:
        """Every note file in the vault by vault-relative POSIX path (a stat scan, no reads).

        Symlinks are not followed: one leading out of the vault, broken or looping is put in
        ``skipped`` with the reason; one to a note or folder inside the vault is passed over
        in silence (what it points at is read at its own path, so nothing is read twice).
        ``folders``, when given, gets the stat of every folder listed (by absolute path, taken
        before it is listed).
        """
        ignore = _ignore_filters(self.root)
        bad: dict[str, str] = {}
        found = _walk(self.root, os.path.realpath(self.root), bad, folders)
        if ignore:  # (checked once, not once per file: a scan is kb search's biggest cost)
            found = {rel: st for rel, st in found.items() if not _ignored(rel, ignore)}
        if skipped is not None:
            skipped.update((rel, why) for rel, why in bad.items() if not _ignored(rel, ignore))
            if ignore.warnings:  # reported like a file kb does not read, once per change
                skipped[".obsidian/app.json"] = "; ".join(ignore.warnings)
        return found

    def snapshot(self) -> Snapshot:
        """A stat scan kept to tell cheaply whether the notes changed since (see
        :class:`Snapshot`)."""
        start = time.time_ns()
        folders: dict[str, FileStat] = {}
        files = self.scan({}, folders)
        checks: list[tuple[str, FileStat | None]] = []
        for extra in (self.root / ".obsidian", self.root / ".obsidian" / "app.json"):
            # Obsidian's Excluded files (app.json) decide which files are notes.
            try:
                checks.append((str(extra), FileStat.of(os.lstat(extra))))
            except OSError:
                checks.append((str(extra), None))
        checks += folders.items()
        root = os.path.join(self.root, "")
        if os.sep == "/":
            checks += ((root + rel, st) for rel, st in files.items())
        else:
            checks += ((root + rel.replace("/", os.sep), st) for rel, st in files.items())
        recent = start - RACY_NS
        settled = all(st.mtime_ns < recent for st in folders.values())
        return Snapshot(files, checks, settled, time.monotonic())

    def read_note(self, rel: str) -> NoteFile:
        """Read a note file found by :meth:`scan`, never through a symlink.

        Raises FileNotFoundError when it is gone, :class:`NotANote` (saying why) when kb does
        not read it: no permission, or binary data rather than text. Invalid UTF-8 and NUL
        bytes are read around (as U+FFFD) and reported in ``NoteFile.warning``.
        """
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(self.abspath(rel), flags)
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFoundError(rel) from None
        except OSError as e:
            if e.errno == errno.ELOOP:  # became a symlink since the scan
                raise NotANote("a symlink; not followed") from None
            raise NotANote(f"cannot be read ({e.strerror}); skipped") from None
        try:
            with open(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                raw = fh.read()
        except IsADirectoryError:
            raise FileNotFoundError(rel) from None
        except OSError as e:
            raise NotANote(f"cannot be read ({e.strerror}); skipped") from None
        text, warning = decode_note(raw)
        return NoteFile(text, raw, FileStat.of(st), warning)

    def attachments(self) -> AttachmentIndex:
        """Which non-note files (images, PDFs…) the vault holds, for checking embeds."""
        return AttachmentIndex(self.root)

    def abspath(self, rel: str) -> Path:
        """Absolute path of a vault-relative path."""
        return self.root.joinpath(*rel.split("/"))

    def ensure_data_dir(self) -> Path:
        """Create the data folder (marked as kb's, see :mod:`kb.datadir`) and return it."""
        return datadir.ensure(self.data_dir, default=self.data_dir == self.root / DATA_DIR_NAME)


RACY_NS = 2_000_000_000
"""A folder whose mtime was this recent (2 s, a FAT timestamp's step) when it was listed may
change again within the same tick of the file system's clock, which leaves its mtime as it
was: until its mtime is older, a :class:`Snapshot` does not trust it and lists the vault
again. (A folder whose mtime is older cannot change without its mtime changing.)"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The notes' stats from one scan, with what tells cheaply that they are still true: an
    ``lstat`` of each note and of each folder. A note edited, replaced or made unreadable
    changes its own stat; one added, removed or renamed changes its folder's mtime; so when
    none of those changed, no folder needs listing again (a sixth of a scan's cost, and
    the sort and the Python around it)."""

    files: dict[str, FileStat]
    """The note files by vault path, as :meth:`Vault.scan` gives them."""
    checks: list[tuple[str, FileStat | None]]
    """(absolute path, its stat then, None when it did not exist) of every folder listed, the
    note files, and ``.obsidian/app.json``."""
    settled: bool
    """No folder had changed just before the scan (see :data:`RACY_NS`)."""
    taken: float
    """``time.monotonic()`` when the scan was made."""

    def unchanged(self) -> bool:
        """True when nothing this snapshot saw has changed since (False: scan again; also
        while a folder was too recently changed to be trusted)."""
        if not self.settled:
            return False
        lstat = os.lstat
        for path, was in self.checks:
            try:
                st = lstat(path)
            except OSError:
                if was is None:
                    continue
                return False
            # (inline, not FileStat.of: a named tuple equals the plain tuple of its fields)
            if (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) != was:
                return False
        return True


@dataclass(frozen=True, slots=True)
class NoteFile:
    """A note file as read from disk."""

    text: str
    raw: bytes
    stat: FileStat
    warning: str | None = None
    """What was wrong with the bytes and read around (invalid UTF-8, NUL bytes), or None."""


class NotANote(Exception):  # noqa: N818 - not an error: a file kb passes over, saying why
    """A file with a note's name that kb does not read; ``str()`` is the reason."""


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


_BINARY_SHARE = 0.3
"""Above this share of NUL/control bytes and undecodable characters, a file is not text."""

_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\r\f\v\x1b")


def decode_note(raw: bytes) -> tuple[str, str | None]:
    """Text of a note file and a warning about bytes read around (None when clean).

    Raises :class:`NotANote` for binary data (a PNG named ``.md``) or text in another encoding
    (mostly undecodable as UTF-8): indexing it would only fill the index with garbage.
    """
    text, _ = decode(raw)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) and "\ufffd" not in text:
        return text, None  # UTF-16 with a BOM: its NUL bytes are part of the encoding
    replaced = text.count("\ufffd") - raw.count("\ufffd".encode())
    controls = len(raw) - len(raw.translate(None, _CONTROL_BYTES))
    if raw and replaced + controls > _BINARY_SHARE * max(len(text), 1):
        raise NotANote(
            "not text (binary data, or an encoding other than UTF-8); skipped: "
            "save it as UTF-8 to have it indexed"
        )
    problems: list[str] = []
    if replaced > 0:
        try:
            raw.decode("utf-8-sig")
            line = 1
        except UnicodeDecodeError as e:
            line = raw.count(b"\n", 0, e.start) + 1
        problems.append(
            f"not valid UTF-8 from line {line} ({replaced} character(s) read as \ufffd); "
            "save it as UTF-8"
        )
    nuls = raw.count(b"\0")
    if nuls:
        line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
        problems.append(f"{nuls} NUL byte(s), the first on line {line}, read as \ufffd")
    return text, "; ".join(problems) or None


def _walk(
    root: Path,
    real_root: str,
    skipped: dict[str, str],
    folders: dict[str, FileStat] | None = None,
) -> dict[str, FileStat]:
    """The note files under ``root`` in path order, each with its stat, skipping dot-folders
    (.obsidian, .git, .trash, .kb), dot-files and symlinks (those that need saying so go into
    ``skipped``).

    Iterative, so folders nested thousands deep cannot overflow the stack. A file or folder
    whose name is not valid UTF-8 is skipped with a reason: its path could not be stored,
    printed or linked to. One loop with the stat inline, no generator or call per file: every
    command that reads the vault pays it once per note (20 ms of 140 at 20,000 notes).
    ``folders`` gets each folder's stat, taken before it is listed (so that a change made
    while it is listed shows in its stat next time).
    """
    found: dict[str, FileStat] = {}
    stack: list[tuple[str, str]] = [(str(root), "")]
    suffixes = NOTE_SUFFIXES
    while stack:
        folder, prefix = stack.pop()
        try:
            if folders is not None:
                folders[folder] = FileStat.of(os.lstat(folder))
            entries = sorted(os.scandir(folder), key=_NAME)
        except OSError:
            continue
        subfolders: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue
            try:
                if not name.isascii() and not _is_utf8(name):
                    if entry.is_dir(follow_symlinks=False) or _is_note_name(entry.name):
                        skipped[_printable(prefix + name)] = (
                            "name is not valid UTF-8; skipped: rename it to have it indexed"
                        )
                elif entry.is_symlink():
                    why = _symlink_problem(entry, real_root)
                    if why:
                        skipped[prefix + name] = why
                elif entry.is_dir(follow_symlinks=False):
                    subfolders.append((entry.path, prefix + name + "/"))
                elif name.lower().endswith(suffixes) and entry.is_file(follow_symlinks=False):
                    # (the test of _is_note_name, inline: once per file)
                    st = entry.stat(follow_symlinks=False)
                    found[prefix + name] = FileStat(
                        st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino
                    )
            except OSError:
                continue  # vanished or unreadable between listing and stat
        stack.extend(reversed(subfolders))
    return found


_NAME = operator.attrgetter("name")


def _is_utf8(name: str) -> bool:
    """False for a name with bytes that are not UTF-8 (Python keeps them as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(rel: str) -> str:
    """A path with undecodable bytes shown as U+FFFD, so it can be stored and printed."""
    return os.fsencode(rel).decode("utf-8", "replace")


def _is_note_name(name: str) -> bool:
    return name.lower().endswith(NOTE_SUFFIXES)


def _symlink_problem(entry: os.DirEntry, root: str) -> str | None:
    """Why a symlink in the vault deserves a word, or None (one to inside the vault, or to
    something that is not a note): kb follows no symlink."""
    try:
        st = os.stat(entry.path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symlink loop; not followed"
        if _is_note_name(entry.name):
            return "broken symlink (what it points to does not exist); skipped"
        return None
    target = os.path.realpath(entry.path)
    if target == root or target.startswith(root.rstrip(os.sep) + os.sep):
        return None  # read at its own path (unless it is in a folder kb skips)
    if S_ISDIR(st.st_mode):
        return "symlink to a folder outside the vault; not followed"
    if _is_note_name(entry.name):
        return "symlink to a file outside the vault; not read"
    return None


MAX_FILTERS = 1000
"""More Excluded-files filters than this in app.json are not read (Obsidian's dialog adds one
at a time)."""

REGEX_SECONDS = 0.05
"""Time a ``/regex/`` filter may take on one path; one that takes longer is dropped."""


@dataclass(frozen=True, slots=True)
class IgnoreFilters:
    """Obsidian's ``userIgnoreFilters``, checked: path prefixes and regular expressions."""

    prefixes: tuple[str, ...] = ()
    patterns: list = field(default_factory=list)
    """Compiled ``regex`` patterns; one that runs out of time is removed (a list, so it can be)."""
    warnings: list[str] = field(default_factory=list)
    """What was wrong with app.json and ignored, one line each."""

    def __bool__(self) -> bool:
        return bool(self.prefixes or self.patterns)


def _ignore_filters(root: Path) -> IgnoreFilters:
    """Obsidian's ``userIgnoreFilters`` (Settings › Files and links › Excluded files).

    Whatever is wrong with them (not a list, not strings, deep JSON, a regular expression that
    does not compile or takes too long) is ignored with a warning, never raised.
    """
    app = root / ".obsidian" / "app.json"
    try:
        raw = app.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return IgnoreFilters()
    try:
        settings = json.loads(raw)
    except (ValueError, RecursionError):
        return IgnoreFilters(warnings=["not valid JSON; its Excluded files are not applied"])
    if not isinstance(settings, dict) or settings.get("userIgnoreFilters") in (None, []):
        return IgnoreFilters()
    filters = settings["userIgnoreFilters"]
    if not isinstance(filters, list):
        return IgnoreFilters(
            warnings=[
                f"userIgnoreFilters is {type(filters).__name__}, not a list of "
                "strings; no file is excluded"
            ]
        )
    warnings: list[str] = []
    if len(filters) > MAX_FILTERS:
        warnings.append(f"more than {MAX_FILTERS} userIgnoreFilters; the rest ignored")
        filters = filters[:MAX_FILTERS]
    prefixes: list[str] = []
    patterns: list = []
    odd = 0
    for f in filters:
        if not isinstance(f, str):
            odd += 1
            continue
        if not f.strip():
            continue
        # Obsidian treats "/…/" as a regular expression and anything else as a path prefix.
        if len(f) > 2 and f.startswith("/") and f.endswith("/"):
            import regex

            try:
                patterns.append(regex.compile(f[1:-1]))
            except (regex.error, RecursionError, OverflowError, ValueError):
                warnings.append(f"filter {f[:80]!r} is not a valid regular expression; ignored")
        else:
            prefixes.append(f.strip())
    if odd:
        warnings.append(f"{odd} userIgnoreFilters entr(y/ies) not a string; ignored")
    return IgnoreFilters(tuple(prefixes), patterns, warnings)


def _ignored(rel: str, filters: IgnoreFilters) -> bool:
    """True when a vault-relative path matches an Obsidian exclusion filter."""
    if rel.startswith(filters.prefixes):
        return True
    for pattern in list(filters.patterns):
        try:
            if pattern.search(rel, timeout=REGEX_SECONDS):
                return True
        except TimeoutError:
            # Catastrophic backtracking (`/^(a+)+$/`): a filter that can hang every scan is
            # dropped, with one warning.
            filters.patterns.remove(pattern)
            filters.warnings.append(
                f"filter /{pattern.pattern[:80]}/ takes too long to match {rel[:80]!r}; ignored"
            )
    return False


def find_vault(
    explicit: str | None = None,
    index_dir: str | None = None,
    cwd: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Vault:
    """Choose the vault: --vault, KB_VAULT, nearest folder up with .obsidian/ or .kb/, ./vault,
    else the current folder when it holds notes."""
    env = os.environ if environ is None else environ
    cwd = (cwd or Path.cwd()).resolve()
    chosen = explicit or env.get("KB_VAULT") or None
    if chosen:
        root = Path(chosen).expanduser()
        if not root.is_absolute():
            root = cwd / root
        if not root.is_dir():
            source = "--vault" if explicit else "KB_VAULT"
            if root.exists():
                raise VaultNotFound(
                    f"{chosen!r} (from {source}) is a file, not a folder: give the vault's folder"
                )
            raise VaultNotFound(f"vault folder {chosen!r} (from {source}) does not exist")
        root = root.resolve()
    else:
        root = _discover(cwd, Path(env["HOME"]) if env.get("HOME") else None)
    data = index_dir or env.get("KB_INDEX_DIR") or None
    requested = Path(data).expanduser() if data else None
    if requested is not None and not requested.is_absolute():
        requested = cwd / requested
    data_dir = datadir.choose(root, requested.resolve() if requested else None)
    return Vault(root=root, data_dir=data_dir)


def _discover(cwd: Path, home: Path | None = None) -> Path:
    """Nearest folder upwards holding .obsidian/ or .kb/, else ./vault, else the current
    folder when it holds Markdown notes (saying so on stderr)."""
    for folder in (cwd, *cwd.parents):
        if (folder / ".obsidian").is_dir() or (folder / DATA_DIR_NAME).is_dir():
            return folder
    if (cwd / "vault").is_dir():
        return (cwd / "vault").resolve()
    home = (home or Path.home()).resolve()
    if cwd == home or cwd == Path(cwd.anchor):
        where = "your home folder" if cwd == home else "the root folder"
        raise VaultNotFound(
            f"no vault found: {cwd} is {where}, not a notes folder; "
            "pass --vault PATH (or set KB_VAULT), or run kb inside your notes folder"
        )
    notes, files = _count_notes(cwd)
    if not notes:
        raise VaultNotFound(
            f"no vault found: {cwd} holds no Markdown notes and no folder above it is a vault; "
            "run kb inside your notes folder, pass --vault PATH, or set KB_VAULT"
        )
    if files > FOLDER_MAX_FILES:
        raise VaultNotFound(
            f"no vault found: {cwd} holds more than {FOLDER_MAX_FILES:,} files, too many to "
            "read as a vault unasked; pass --vault PATH (or set KB_VAULT)"
        )
    if files > FOLDER_FILES_PER_NOTE * notes:
        raise VaultNotFound(
            f"no vault found: {cwd} holds {files:,} files but only {_notes(notes)}, so it "
            "looks like no notes folder; pass --vault PATH (or set KB_VAULT)"
        )
    from kb.errors import notice

    notice(
        f"no .obsidian/ or .kb/ here or above: using the current folder {cwd} as the vault "
        f"({_notes(notes)}); --vault PATH chooses another"
    )
    return cwd


def _notes(n: int) -> str:
    return f"{n:,} Markdown note{'' if n == 1 else 's'}"


FOLDER_MAX_FILES = 20_000
"""A folder with no vault marker holding more files than this is not taken for a vault."""

FOLDER_FILES_PER_NOTE = 5
"""Nor one with more than this many files per note: a source tree with a README, a
downloads folder (notes with their images and PDFs stay well below)."""


def _count_notes(root: Path) -> tuple[int, int]:
    """Markdown notes and files under ``root`` (dot-folders skipped as :meth:`Vault.scan`
    skips them), counting no further than :data:`FOLDER_MAX_FILES` + 1 files."""
    notes = files = 0
    stack = [str(root)]
    while stack and files <= FOLDER_MAX_FILES:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
            except OSError:
                continue
            files += 1
            notes += _is_note_name(entry.name)
    return notes, files
