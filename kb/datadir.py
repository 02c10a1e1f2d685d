"""kb's data folder: where it lives, and what kb may create, write and remove there.

The folder is ``<vault>/.kb/`` or the one given with ``--index-dir`` / ``KB_INDEX_DIR``.
What it holds is untrusted (a vault arrives with its ``.kb/`` from a git clone, a zip, a
synced folder; an index dir may be any folder of the user's), so:

- kb marks the folder it uses with :data:`MARKER` when it first writes there, and removes
  only names of its own (:func:`is_own_name`) inside a folder so marked;
- an ``--index-dir`` that is new, empty or marked is used as it is; one holding other files
  is used through its subfolder :data:`SUBFOLDER` (created and marked by kb), so the user's
  files beside it are never touched; an index dir inside the vault, or the vault itself, is
  refused (the default ``.kb/`` is kb's own name there);
- an unmarked ``.kb/`` made by an older kb is adopted (marked) when everything in it is a
  name kb writes, none a symlink; one holding anything else is refused;
- the folder is a real directory, never reached through a symlink, and kb refuses to work
  while any of its names in it (or in a search index folder) is a symlink.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from kb.errors import KbError

DEFAULT_NAME = ".kb"
"""The data folder inside the vault when no ``--index-dir`` is given."""

MARKER = "kb-data.json"
"""Written by kb in the data folder it creates or adopts; nothing else writes this name."""

SUBFOLDER = "kb-data"
"""kb's own folder inside an index dir that holds files of the user's."""

_OWN_NAMES = re.compile(
    r"kb-data\.json|lock|notes\.sqlite(-wal|-shm|-journal)?"
    r"|search|search\.(new|old)\.\d+|graph"
    r"|graph[-\w]*\.(pickle|json|sqlite(-wal|-shm|-journal)?)"
    r"|[-\w.]+\.\d+\.tmp"
)
"""The names kb gives to what it writes in its data folder (anything else is never kb's)."""

_OWN_DIRS = re.compile(r"search|search\.(new|old)\.\d+|graph")
"""Which of those names are folders."""

_INDEX_FILES = re.compile(
    r"held\.json|held\.\d+\.tmp|generation\.json|generation\.\d+\.tmp"
    r"|_MAIN_\d+\.toc(\.[\d.]+)?|MAIN_[0-9a-z]+\.[A-Za-z0-9_.]+|MAIN_WRITELOCK"
)
"""What whoosh and kb write in a search index folder: the table of contents (and its
temporary copy), segment files, whoosh's lock file, held.json and generation.json."""

_INDEX_TEMP_DIR = "MAIN.tmp"
"""whoosh's temporary folder of a writer (its sorting runs)."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class DataDirError(KbError):
    """kb's data folder cannot be used as it is; the message says what to do."""


def is_own_name(name: str) -> bool:
    """True for a name kb gives to a file or folder in its data folder."""
    return _OWN_NAMES.fullmatch(name) is not None


# -- choosing the folder ----------------------------------------------------------------------


def choose(root: Path, requested: Path | None) -> Path:
    """The data folder for the vault ``root`` (resolved): ``<root>/.kb`` or, for an index dir
    asked for (resolved), that folder or its :data:`SUBFOLDER`. Raises :class:`DataDirError`
    (one line saying what to do) for a folder kb must not use."""
    default = root / DEFAULT_NAME
    if requested is None or requested == default:
        _check_default(default)
        return default
    if requested == root or root in requested.parents:
        where = "the vault itself" if requested == root else "inside the vault"
        raise DataDirError(
            f"the index dir {requested} is {where}: kb keeps its data apart from your notes; "
            f"leave out --index-dir (and KB_INDEX_DIR) to use {default}, or give a folder "
            "outside the vault"
        )
    kind = _kind(requested)
    if kind is None:
        return requested  # kb creates (and marks) it when it first writes
    if kind != "dir":
        raise DataDirError(
            f"cannot use {requested} as kb's data folder (it is a file, not a folder); "
            "give --index-dir (or KB_INDEX_DIR) a folder kb may create or write to"
        )
    if is_marked(requested) or not _entries(requested):
        return requested
    sub = requested / SUBFOLDER
    kind = _kind(sub)
    if kind is None or (kind == "dir" and (is_marked(sub) or not _entries(sub))):
        return sub
    raise DataDirError(
        f"the index dir {requested} holds files of yours, and its {SUBFOLDER} is not kb's "
        f"(it has no {MARKER}): give a new or empty folder as --index-dir (kb creates it)"
    )


def _check_default(folder: Path) -> None:
    """``<vault>/.kb`` is absent, or a real folder of kb's (marked, or only kb's names)."""
    kind = _kind(folder)
    if kind is None:
        return
    if kind == "link":
        raise DataDirError(
            f"{folder} is a symlink, and kb does not follow one to its data folder: remove the "
            "link (kb then makes its own folder), or pass --index-dir DIR"
        )
    if kind != "dir":
        raise DataDirError(
            f"{folder} is a file, not kb's data folder: move it away, or pass --index-dir DIR"
        )
    if not is_marked(folder):
        foreign = [n for n in _entries(folder) if not is_own_name(n)]
        if foreign:
            raise DataDirError(
                f"{folder} holds files kb did not write ({', '.join(sorted(foreign)[:3])}) "
                f"and no {MARKER}: move them out (kb then uses the folder), or pass --index-dir DIR"
            )


def _kind(path: Path) -> str | None:
    """ "dir", "link", "file" (anything else) for what is at ``path``, or None when nothing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise DataDirError(f"cannot use {path} as kb's data folder ({e.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        return "link"
    return "dir" if stat.S_ISDIR(st.st_mode) else "file"


def _entries(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries]
    except OSError as e:
        raise DataDirError(f"cannot use {folder} as kb's data folder ({e.strerror})") from None


def is_marked(folder: Path) -> bool:
    """True when kb made (or adopted) ``folder``: it holds kb's marker, a regular file."""
    try:
        return stat.S_ISREG(os.lstat(folder / MARKER).st_mode)
    except OSError:
        return False


# -- creating it ------------------------------------------------------------------------------


def ensure(data_dir: Path, default: bool) -> Path:
    """Create the data folder if need be, mark it as kb's, check it holds no symlink at a name
    of kb's, and return it. ``default`` is True for ``<vault>/.kb``."""
    try:
        data_dir.mkdir(parents=not default, exist_ok=True)
    except OSError as e:
        if not default:
            raise DataDirError(
                f"cannot use {data_dir} as kb's data folder ({e.strerror}); "
                "give --index-dir (or KB_INDEX_DIR) a folder kb may create or write to"
            ) from None
        raise DataDirError(
            f"cannot create kb's data folder {data_dir} ({e.strerror}); "
            "for a read-only vault pass --index-dir DIR or set KB_INDEX_DIR"
        ) from None
    if _kind(data_dir) != "dir":  # replaced by a symlink since the vault was chosen
        raise DataDirError(f"{data_dir} is no longer a folder; kb does not follow a symlink there")
    if not os.access(data_dir, os.W_OK):
        raise DataDirError(
            f"kb's data folder {data_dir} is not writable; pass --index-dir DIR or set KB_INDEX_DIR"
        )
    if not is_marked(data_dir):
        foreign = [n for n in _entries(data_dir) if not is_own_name(n)]
        if foreign:  # changed since it was chosen
            raise DataDirError(
                f"{data_dir} holds files kb did not write ({', '.join(sorted(foreign)[:3])}); "
                "give --index-dir a new or empty folder"
            )
        check_no_links(data_dir)
        write_atomic(data_dir / MARKER, json.dumps({"kb": "data folder"}) + "\n")
    check_no_links(data_dir)
    return data_dir


def check_no_links(data_dir: Path) -> None:
    """Refuse, with one line, a symlink at any name of kb's in its data folder or in one of
    its search index folders: kb would write or remove through it."""
    for name in _entries(data_dir):
        if not is_own_name(name):
            continue
        path = data_dir / name
        kind = _kind(path)
        if kind == "link":
            raise DataDirError(
                f"{path} is a symlink; kb follows no link in its data folder: remove the link "
                f"(or all of {data_dir}: kb rebuilds it)"
            )
        if kind == "dir" and name.startswith("search"):
            for inner in _entries(path):
                if _kind(path / inner) == "link":
                    raise DataDirError(
                        f"{path / inner} is a symlink; kb follows no link in its data folder: "
                        f"remove {path} (kb rebuilds it)"
                    )


# -- writing and removing in it ---------------------------------------------------------------


def open_lock(path: Path):
    """The lock file, opened for reading and writing (created if need be), never through a
    symlink; a binary file object."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o644)
    except OSError as e:
        raise DataDirError(f"cannot open {path} ({e.strerror}); check its permissions") from None
    return open(fd, "r+b")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` whole: write ``<name>.<pid>.tmp`` beside it (never through a symlink)
    and rename it over ``path``, so a reader sees the old or the new content, never half; a
    symlink at ``path`` is replaced, never written through."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    remove_file(tmp)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
    try:
        with open(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
    except BaseException:
        remove_file(tmp)
        raise


def remove_file(path: Path) -> None:
    """Remove a file (or a symlink: the link, never what it points to); a folder stays."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        path.unlink(missing_ok=True)


def is_real_dir(path: Path) -> bool:
    """True for a folder that is not reached through a symlink at its own name."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def remove_index_folder(folder: Path) -> None:
    """Remove a search index folder of kb's: only the files whoosh and kb write there (and
    whoosh's ``MAIN.tmp/`` of sorting runs), then the folder if that emptied it. A symlink is
    never followed; a file someone else put there stays, and so does the folder."""
    if not is_real_dir(folder) or not is_own_name(folder.name):
        return
    remove_index_temp(folder)
    for entry in _entries(folder):
        if _INDEX_FILES.fullmatch(entry):
            remove_file(folder / entry)
    try:
        folder.rmdir()
    except OSError:
        pass


def remove_index_temp(folder: Path) -> None:
    """Remove whoosh's temporary files in a search index folder: a writer's ``MAIN.tmp/``
    (its sorting runs, plain files) and ``_MAIN_<gen>.toc.<time>``."""
    if not is_real_dir(folder):
        return
    temp = folder / _INDEX_TEMP_DIR
    if is_real_dir(temp):
        for entry in _entries(temp):
            remove_file(temp / entry)
        try:
            temp.rmdir()
        except OSError:
            pass
    for entry in _entries(folder):
        if re.fullmatch(r"_MAIN_\d+\.toc\.[\d.]+", entry):
            remove_file(folder / entry)
