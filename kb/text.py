"""Text rules shared by search (:mod:`kb.analysis`) and the graph's names (:mod:`kb.concepts`).

Both must agree on what a CJK character is and on how a size like ``1x1`` may be
written, or ``kb search`` and ``kb show`` would split the same name differently.
Pure and stdlib-only, so importing it costs nothing (pypinyin is imported by
:func:`same_sound` alone, on the way to a "did you mean").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

CJK_CHARS = (
    "\u2e80-\u2fdf"  # CJK radicals supplement, Kangxi radicals
    "\u3005-\u3007"  # 々 〆 〇
    "\u3021-\u3029"  # Hangzhou numerals
    "\u3040-\u30ff"  # Japanese kana
    "\u3100-\u312f"  # Bopomofo
    "\u3190-\u31ff"  # kanbun, Bopomofo extended, CJK strokes, katakana extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0002ffff"  # CJK extensions B and later
)
"""Chinese, Japanese and Korean characters, as the inside of a regex ``[...]``."""

TIMES = r"(?:[xX×✕✖*]|\\times)"
"""A multiplication sign in a size, as people type it (1x1, 1×1, 1✕1, 1*1, 1\\times1): a regex
group; each module adds the spacing it allows around it."""

_CJK = re.compile(f"[{CJK_CHARS}]")


class LazyPattern:
    """A regex compiled when first used, then as fast as :func:`re.compile`'s (its methods are
    kept on the object). kb's name rules hold dozens of patterns, large CJK classes in many:
    compiled at import they cost every command 0.1 s, and a query uses a few."""

    def __init__(self, pattern: str, flags: int = 0):
        self._args = (pattern, flags)

    def __getattr__(self, name: str):
        compiled = re.compile(*self._args)
        for attr in ("match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer"):
            setattr(self, attr, getattr(compiled, attr))
        self.pattern = compiled.pattern
        self.flags = compiled.flags
        return getattr(compiled, name)


def lazy_re(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """:class:`LazyPattern`, typed as the pattern it stands for."""
    return LazyPattern(pattern, flags)  # type: ignore[return-value]


def is_cjk(ch: str) -> bool:
    """True for a Chinese, Japanese or Korean character."""
    return _CJK.match(ch) is not None


def count_cjk(text: str) -> int:
    """How many Chinese, Japanese or Korean characters the text holds (one scan)."""
    return len(_CJK.findall(text))


def has_cjk(text: str) -> bool:
    """True when the text holds a Chinese, Japanese or Korean character."""
    return _CJK.search(text) is not None


def same_sound(typed: str, names: Iterable[str]) -> list[str]:
    """The Chinese names of ``names`` read exactly as ``typed`` is (pinyin, tones aside) and
    written otherwise: what a pinyin input method gives for a wrong pick of a character
    (卷机 for 卷积, 知识蒸溜 for 知识蒸馏). Only names as long as ``typed`` are read aloud."""
    if not has_cjk(typed):
        return []
    from pypinyin import lazy_pinyin

    sound = lazy_pinyin(typed)
    return [
        n
        for n in names
        if len(n) == len(typed) and n != typed and has_cjk(n) and lazy_pinyin(n) == sound
    ]


def tag_key(name: str) -> str:
    """The one form a tag is compared in (Obsidian treats #ML and #ml as one tag): NFKC,
    case-folded, without ``#`` and outer slashes; used by the store, the graph and the index."""
    return unicodedata.normalize("NFKC", name).casefold().lstrip("#").strip("/")


def placed(pieces: str, text: str) -> Iterator[tuple[int, str]]:
    """(offset in ``text``, piece) of each non-empty line of ``pieces`` (emphasised spans,
    inline code or math that kb.parse lists apart), found in order: each at its first place
    after the previous one; a piece not in ``text`` is skipped."""
    at = 0
    for piece in pieces.split("\n"):
        piece = piece.strip()
        if not piece:
            continue
        found = _find_whole(text, piece, at)
        if found >= 0:
            at = found + len(piece)
            yield found, piece


def _find_whole(text: str, piece: str, at: int) -> int:
    """The first place of ``piece`` in ``text`` from ``at`` that does not cut a word: ``$n$``
    is the lone n, not the one in "NVLink" before it. Without such a place, the first place."""
    first = found = text.find(piece, at)
    head, tail = _is_alnum(piece[0]), _is_alnum(piece[-1])
    if not (head or tail):
        return found
    while found >= 0:
        end = found + len(piece)
        if not (head and found and _is_alnum(text[found - 1])) and not (
            tail and end < len(text) and _is_alnum(text[end])
        ):
            return found
        found = text.find(piece, found + 1)
    return first


def _is_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


# -- pages that list rather than say ---------------------------------------------------------

LISTING_STEMS = frozenset(
    """
    _sidebar sidebar summary index readme toc contents glossary terminology 目录 索引 术语 术语表
    """.split()
)
"""File names of pages that list the vault rather than say something (Docsify's
``_sidebar.md``, GitBook's ``SUMMARY.md``, README indexes, glossaries)."""


def listing_name(stem: str) -> bool:
    """True when a note's file name says it is a listing (``index``, ``README-en``,
    ``_sidebar``, ``目录``): see :data:`LISTING_STEMS`."""
    name = stem.casefold()
    base = re.split(r"[_\-.]", name, maxsplit=1)[0]
    if base in ("index", "readme") and len(name) <= len(base) + 9:
        name = base  # index_origin, README-en, readme.zh: the same page in another form
    return name in LISTING_STEMS


def listing_text(text: str, links: int = 0) -> bool:
    """True when text (one block per line) lists names rather than says something: many
    short lines (median 30 characters or less) few of which end a sentence, or mostly links
    (five or more, one per 40 characters or more)."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if not lines:
        return False
    size = sum(len(ln) for ln in lines)
    if links >= 5 and size <= 40 * links:
        return True  # (a short topic note with three links, 激活函数 → ReLU, is no listing)
    if len(lines) >= 8:
        lengths = sorted(len(ln) for ln in lines)
        median = lengths[len(lengths) // 2]
        ends = sum(ln.endswith(("。", ".", "！", "!", "？", "?")) for ln in lines)
        if median <= 30 and ends <= 0.2 * len(lines):
            return True
    return False
