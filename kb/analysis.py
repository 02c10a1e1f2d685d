"""Text analysis for search: Chinese and English words, numbers, sizes like 1x1.

The same rules cut the notes at index time and the query at search time, so a
word found in a note is the word the query asks for:

- English and other alphabetic words are lowercased (NFKC first, so full-width
  ``ＲｅＬＵ`` is ``relu``) and stemmed with Porter (``losses`` -> ``loss``).
- Runs of Chinese characters are cut into words by jieba (rjieba). A phrase
  query needs word positions, so every word takes one position; the shorter
  dictionary words inside a long word (``神经`` and ``网络`` in ``神经网络``)
  are indexed at the long word's position, so ``网络`` finds ``神经网络``.
  rjieba loads its dictionary when imported (about 0.1 s), so it is imported
  only when a note's Chinese has to be cut. A query's Chinese is cut with the
  index's own words instead (:func:`cut_by_vocabulary`, jieba's method on the
  index's word counts), so ``kb search 知识蒸馏`` starts as fast as ``kb search relu``.
- Sizes are one word: ``1x1``, ``1×1``, ``1 * 1`` and ``1\\times1`` all give ``1x1``.
- A word with inner structure (``YOLOv3``, ``LeakyReLU``, ``ResNet-50``,
  ``smooth_l1``) is indexed as its parts at consecutive positions (``yolo``,
  ``v3``) and as a whole (``yolov3``) at the first part's position, so the query
  ``YOLOv3`` can ask for "the whole word, or its parts as a phrase" and find
  ``Yolo V3`` as well as ``yolov3.py``.
- LaTeX commands (``\\frac``, ``\\mathbf``) are dropped: they are markup, not words.

:func:`snippet` finds the same terms in a section's text again to show where
a hit matched (Chinese by substring, so without jieba either).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from whoosh.analysis import Token, Tokenizer

from kb.text import CJK_CHARS, TIMES, has_cjk

# A letter or digit that is not Chinese, Japanese or Korean (those go to jieba, kana too).
_ALNUM = f"[^\\W_{CJK_CHARS}]"
_SCAN = re.compile(
    # Sizes: 1x1, 3 × 3, 1\times1, 256x1x1x64, 3*3.
    rf"(?P<size>\d+(?:[ \t]*{TIMES}[ \t]*\d+)+)"
    r"|(?P<latex>\\[A-Za-z]+)"
    f"|(?P<cjk>[{CJK_CHARS}]+)"
    # A word, or a compound joined by single hyphens or underscores (R-CNN, smooth_l1).
    f"|(?P<word>{_ALNUM}+(?:[-_]{_ALNUM}+)*)"
)
_SIZE_SEP = re.compile(rf"[ \t]*{TIMES}[ \t]*")
# Inside one word: a size, a number, or a run of letters.
_RUNS = re.compile(r"\d+(?:[xX]\d+)+|\d+|[^\W\d_]+")
_SIMPLE = re.compile(r"[a-z]+|[A-Z][a-z]*|\d+")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Porter stem of an English word; other words (Chinese, with digits, short) unchanged."""
    if len(word) < 3 or not word.isascii() or not word.isalpha():
        return word
    from whoosh.lang.porter import stem as porter

    return porter(word)


def fold(text: str) -> str:
    """The case- and width-folded form of a word (NFKC, lowercase)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", text).lower()


# -- cutting words ---------------------------------------------------------------------------


def _camel_cuts(letters: str) -> list[int]:
    """Where a run of letters changes case like a new word starts (LeakyReLU -> Leaky|ReLU).

    A cut falls before an upper-case letter that follows a lower-case one and is
    not followed by another upper-case letter (so ``ReLU`` stays whole), and
    before the last capital of a capital run followed by two or more lower-case
    letters (HTML|Parser, but YOLOv, CNNs and IDs stay whole).
    """
    cuts = []
    n = len(letters)
    for i in range(1, n):
        a, b = letters[i - 1], letters[i]
        if not b.isupper():
            continue
        nxt = letters[i + 1] if i + 1 < n else ""
        if a.islower() and not nxt.isupper():
            cuts.append(i)
        elif a.isupper() and nxt.islower() and letters[i + 2 : i + 3].islower():
            cuts.append(i)
    return cuts


def split_word(word: str) -> tuple[list[tuple[str, int, int]], list[tuple[str, int]]]:
    """A word's parts as (text, start, end), and alternative parts as (text, part index).

    ``YOLOv3`` -> parts ``YOLO`` ``v3``, alternatives ``YOLOv`` (at part 0) and
    ``3`` (at part 1): a trailing ``v`` + digits is usually a version (YOLOv3,
    ResNetV2) but sometimes part of the word (conv3), so both readings are indexed.
    """
    pieces: list[list] = []  # [text, start, end, kind] with kind "L" letters, "D" digits
    for m in _RUNS.finditer(word):
        text, start = m.group(), m.start()
        if text[0].isdigit():
            pieces.append([text, start, m.end(), "D"])
            continue
        last = 0
        for cut in [*_camel_cuts(text), len(text)]:
            pieces.append([text[last:cut], start + last, start + cut, "L"])
            last = cut
    parts: list[tuple[str, int, int]] = []
    alternatives: list[tuple[str, int]] = []
    i = 0
    while i < len(pieces):
        text, start, end, kind = pieces[i]
        nxt = pieces[i + 1] if i + 1 < len(pieces) else None
        if kind == "L" and nxt is not None and nxt[3] == "D" and "x" not in nxt[0].lower():
            if len(text) == 1:  # L1, v3, V100: a letter and its number are one word
                parts.append((text + nxt[0], start, nxt[2]))
                i += 2
                continue
            if len(text) >= 3 and text[-1] in "vV":  # YOLOv3 -> YOLO v3 (or YOLOv 3)
                alternatives.append((text, len(parts)))
                alternatives.append((nxt[0], len(parts) + 1))
                parts.append((text[:-1], start, end - 1))
                parts.append((text[-1] + nxt[0], end - 1, nxt[2]))
                i += 2
                continue
        parts.append((text, start, end))
        i += 1
    return parts, alternatives


@dataclass(slots=True)
class Word:
    """One word of the text as index terms: what a query word is matched against."""

    parts: list[str]
    """Terms in order, one position each (``yolo``, ``v3``; ``知识``, ``蒸馏``)."""
    whole: str | None = None
    """The joined form of a word with several parts (``yolov3``), else None."""
    cjk: bool = False
    """True for a run of Chinese: cut by a dictionary, so a query should allow other cuts."""


def _fold_word(text: str) -> str:
    return stem(fold(text))


def _latin_terms(
    compound: str,
) -> tuple[tuple[tuple[str, int, int], ...], tuple[tuple[str, int, int, int], ...], str | None]:
    """Parts (term, start, end), extras (term, part index, start, end) and whole of a compound.

    Offsets are relative to the compound.
    """
    norm = compound if compound.isascii() else unicodedata.normalize("NFKC", compound)
    # Offsets are only exact when NFKC kept the length (it does for full-width letters).
    exact = len(norm) == len(compound)
    parts: list[tuple[str, int, int]] = []
    extras: list[tuple[str, int, int, int]] = []
    offset = 0
    subwords = re.split(r"([-_])", norm)
    for j, sub in enumerate(subwords):
        if j % 2:  # a separator
            offset += 1
            continue
        if sub.isascii() and _SIMPLE.fullmatch(sub):
            sub_parts, alts = [(sub, 0, len(sub))], []
        else:
            sub_parts, alts = split_word(sub)
        first = len(parts)
        for text, a, b in sub_parts:
            if exact:
                a, b = offset + a, offset + b
            else:
                a, b = 0, len(compound)
            parts.append((_fold_word(text), a, b))
        for text, k in alts:
            a, b = parts[first + k][1], parts[first + k][2]
            extras.append((_fold_word(text), first + k, a, b))
        if len(sub_parts) > 1 and len(subwords) > 1:
            # ResNetV2-50: "resnetv2" is a word of its own inside the compound.
            extras.append((_fold_word(sub), first, parts[first][1], parts[-1][2]))
        offset += len(sub)
    whole = _fold_word(re.sub(r"[-_]", "", norm)) if len(parts) > 1 else None
    extras.sort(key=lambda e: e[1])  # emitted in position order
    return tuple(parts), tuple(extras), whole


def _segment(run: str) -> list[tuple[str, int, int, list[tuple[str, int, int]]]]:
    """Cut a run of Chinese into (word, start, end, [(sub-word, start, end)…])."""
    import rjieba  # loads the dictionary: only when there is Chinese to cut

    found = rjieba.tokenize(run, mode="search")
    # Search mode lists a long word's dictionary sub-words just before the word itself.
    words: list[tuple[str, int, int, list]] = []
    for text, start, end in reversed(found):
        if words and words[-1][1] <= start and end <= words[-1][2]:
            words[-1][3].append((text, start, end))
        else:
            words.append((text, start, end, []))
    words.reverse()
    return words


def _cjk_term(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFKC", text).lower()


@lru_cache(maxsize=1 << 17)
def _word_terms(compound: str) -> tuple[tuple[tuple[str, int, int, int], ...], int]:
    """Terms of one word as (term, position offset, start, end), and how many positions it takes.

    Cached: a vault repeats its words (and code its identifiers) over and over.
    """
    if compound.isascii() and (
        compound.isdigit()
        or (
            compound.isalpha()
            and (compound.islower() or compound.isupper() or compound[1:].islower())
        )
    ):
        return ((stem(compound.lower()), 0, 0, len(compound)),), 1  # relu, Relu, GPU, 2015
    parts, extras, whole = _latin_terms(compound)
    out = []
    if whole is not None:
        out.append((whole, 0, 0, len(compound)))
    k = 0
    for i, (term, a, b) in enumerate(parts):
        out.append((term, i, a, b))
        while k < len(extras) and extras[k][1] == i:
            out.append((extras[k][0], i, extras[k][2], extras[k][3]))
            k += 1
    return tuple(out), len(parts)


def scan(text: str, cjk: bool = True) -> Iterator[tuple[str, int, int, int]]:
    """Index terms of a text as (term, position, start char, end char), in position order.

    With ``cjk=False`` runs of Chinese are skipped (jieba is not loaded): enough
    to find English and number terms in a snippet.
    """
    pos = 0
    for m in _SCAN.finditer(text):
        kind = m.lastgroup
        start = m.start()
        if kind == "word":
            terms, width = _word_terms(m.group())
            for term, at, a, b in terms:
                yield term, pos + at, start + a, start + b
            pos += width
        elif kind == "size":
            size = _SIZE_SEP.sub("x", unicodedata.normalize("NFKC", m.group()))
            yield size, pos, start, m.end()
            pos += 1
        elif kind == "cjk":
            if not cjk:
                continue
            run = m.group()
            # Chinese characters are their own NFKC form; fold only runs that need it.
            fold_run = _cjk_term if not unicodedata.is_normalized("NFKC", run) else str
            for word, a, b, subs in _segment(run):
                yield fold_run(word), pos, start + a, start + b
                for sub, c, d in subs:
                    yield fold_run(sub), pos, start + c, start + d
                pos += 1
        # latex: dropped


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The words an index holds: enough to cut a query's Chinese the way the notes were cut."""

    frequency: Callable[[str], int]
    """How often a word occurs in the index (0 when it is not one of its words)."""
    total: int
    """How many words the index holds in all (the denominator of a word's probability)."""


MAX_WORD = 8
"""The longest Chinese word :func:`cut_by_vocabulary` considers, in characters."""


def cut_by_vocabulary(run: str, vocabulary: Vocabulary) -> list[str]:
    """Cut a run of Chinese into the index's own words, as jieba would (its DAG method).

    Of all ways to cut the run into words the index holds (or single characters),
    take the most probable one, scoring a word by how often the index has it.
    The index's words are jieba's words for the same characters elsewhere, so
    this agrees with jieba at index time without loading jieba's dictionary.
    """
    n = len(run)
    frequency = vocabulary.frequency
    total = math.log(max(vocabulary.total, 1))
    # best[i] = (log-probability of the best cut of run[i:], end of its first word)
    best: list[tuple[float, int]] = [(0.0, n)] * (n + 1)
    for i in range(n - 1, -1, -1):
        options = []
        for j in range(i + 1, min(n, i + MAX_WORD) + 1):
            freq = frequency(run[i:j])
            if freq or j == i + 1:
                options.append((math.log(freq or 0.5) - total + best[j][0], j))
        best[i] = max(options)
    out, i = [], 0
    while i < n:
        j = best[i][1]
        out.append(run[i:j])
        i = j
    return out


def query_words(text: str, vocabulary: Vocabulary | None = None) -> list[Word]:
    """The words of a query string as index terms (see :class:`Word`).

    Chinese is cut by jieba, or with a ``vocabulary`` by the index's own words
    (:func:`cut_by_vocabulary`: no dictionary to load, so a search starts fast).
    """
    words: list[Word] = []
    for m in _SCAN.finditer(text):
        kind = m.lastgroup
        if kind == "word":
            parts, _, whole = _latin_terms(m.group())
            words.append(Word([p[0] for p in parts], whole))
        elif kind == "size":
            words.append(Word([_SIZE_SEP.sub("x", unicodedata.normalize("NFKC", m.group()))]))
        elif kind == "cjk":
            run = _cjk_term(m.group())
            if vocabulary is not None:
                cut = cut_by_vocabulary(run, vocabulary)
            else:
                import rjieba

                cut = [_cjk_term(w) for w in rjieba.cut(m.group())]
            # No sub-words: each is indexed at its long word's position, so the long
            # word stands for all of them.
            words.append(Word(cut, cjk=True))
    return words


def words(text: str, vocabulary: Vocabulary | None = None) -> list[str]:
    """Terms of a text in order, one per position (as a query phrase would list them)."""
    return [part for word in query_words(text, vocabulary) for part in word.parts]


# -- whoosh glue ------------------------------------------------------------------------------


class KbTokenizer(Tokenizer):
    """whoosh tokenizer running :func:`scan` (index) or :func:`query_words` (query mode)."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        mode: str = "",
        **kwargs,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if mode == "query":
            stream = ((term, i, 0, 0) for i, term in enumerate(words(value)))
        else:
            stream = scan(value)
        for term, pos, start, end in stream:
            t.text = term
            t.boost = 1.0
            if keeporiginal:
                t.original = value[start:end]
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + start
                t.endchar = start_char + end
            yield t


def analyzer():
    """The analyzer of kb's text fields (stemming and folding happen inside the tokenizer)."""
    return KbTokenizer()


# -- snippets ---------------------------------------------------------------------------------

SNIPPET_COLUMNS = 150
"""Width of a snippet in terminal columns (a Chinese character takes two)."""

MAX_SPANS = 200
"""Stop looking for a term after this many matches (a long section says enough by then)."""


def find_terms(text: str, terms: set[str]) -> list[tuple[int, int, str]]:
    """Where index terms occur in a text, as (start, end, term), in no particular order.

    Chinese terms are found as substrings (no jieba needed); other terms by
    :func:`scan` (with ``cjk=False``) run only around places where the term's
    first letters occur, so a long section costs little.
    """
    spans: list[tuple[int, int, str]] = []
    latin = set()
    for term in terms:
        if not has_cjk(term):
            latin.add(term)
            continue
        i, found = text.find(term), 0
        while i >= 0 and found < MAX_SPANS:
            spans.append((i, i + len(term), term))
            found += 1
            i = text.find(term, i + len(term))
    if latin:
        found = 0
        for a, b in _regions(text, latin):
            for term, _pos, start, end in scan(text[a:b], cjk=False):
                if term in latin:
                    spans.append((a + start, a + end, term))
                    found += 1
            if found >= MAX_SPANS * len(latin):
                break
    return spans


def _regions(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """Stretches of text that may hold one of the (stemmed, folded) terms."""
    low = text.lower()
    if len(low) != len(text) or any(len(t) < 2 or not t[0].isalpha() for t in terms):
        return [(0, len(text))]  # numbers and sizes (1×1 = 1x1) need the whole scan
    # Porter only rewrites the end of a word, so a stem's first four letters are in the word.
    hits: list[int] = []
    for key in {t[:4] for t in terms}:
        i, found = low.find(key), 0
        while i >= 0 and found < MAX_SPANS:
            hits.append(i)
            found += 1
            i = low.find(key, i + 1)
    regions: list[list[int]] = []
    for i in sorted(hits):
        a, b = max(0, i - 40), min(len(text), i + 60)
        while a > 0 and text[a - 1].isalnum():
            a -= 1
        while b < len(text) and text[b].isalnum():
            b += 1
        if regions and a <= regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], b)
        else:
            regions.append([a, b])
    return [(a, b) for a, b in regions]


def snippet(text: str, terms: set[str], columns: int = SNIPPET_COLUMNS) -> str:
    """One line of text around its densest cluster of terms, each match in \\x02…\\x03."""
    if not text.strip():
        return ""
    merged: list[list] = []  # [start, end, {terms}], overlapping matches joined
    for a, b, term in sorted(find_terms(text, terms), key=lambda s: (s[0], -s[1])):
        if merged and a < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
            merged[-1][2].add(term)
        else:
            merged.append([a, b, {term}])
    lead = columns // 5
    start = 0
    if merged:
        best = (-1, -1)
        for i, (a, _b, _t) in enumerate(merged):
            seen: set[str] = set()
            count = 0
            for _c, d, t in merged[i:]:
                if _columns(text, a, d) > columns - lead:
                    break
                seen |= t
                count += 1
            if (len(seen), count) > best:  # most distinct terms, then most matches
                best = (len(seen), count)
                start = a
        start = _back(text, start, lead)
    end = _forward(text, start, columns)
    out = []
    pos = start
    for a, b, _t in merged:
        if a < start or b > end:
            continue
        out.append(text[pos:a])
        out.append("\x02" + text[a:b] + "\x03")
        pos = b
    out.append(text[pos:end])
    body = re.sub(r"\s+", " ", "".join(out)).strip()
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")


def clip(text: str, columns: int) -> str:
    """The text cut to a number of terminal columns, with … when cut."""
    if _columns(text, 0, len(text)) <= columns:
        return text
    return text[: _forward(text, 0, columns)] + "…"


def _width(c: str) -> int:
    return 2 if c >= "\u1100" and (has_cjk(c) or "\uff00" <= c <= "\uffef") else 1


def _inside_word(text: str, i: int) -> bool:
    """True when ``i`` falls between two letters of an English word or an identifier
    (``residual_block``)."""
    a, b = text[i - 1], text[i]
    return a.isascii() and b.isascii() and (a.isalnum() or a == "_") and (b.isalnum() or b == "_")


def _columns(text: str, a: int, b: int) -> int:
    return sum(_width(c) for c in text[a:b])


def _forward(text: str, start: int, columns: int) -> int:
    """Where a stretch of ``columns`` starting at ``start`` ends, not inside an English word."""
    used = 0
    i = start
    while i < len(text) and used < columns:
        used += _width(text[i])
        i += 1
    if i < len(text):
        cut = i
        while cut > start and _inside_word(text, cut):
            cut -= 1
        if cut > start + columns // 2:
            i = cut
    return i


def _back(text: str, start: int, columns: int) -> int:
    """Move back up to ``columns`` to show context, stopping after a line or sentence end."""
    used = 0
    i = start
    while i > 0 and used < columns:
        c = text[i - 1]
        if c == "\n" or (c in "。！？；.!?;" and used > 0):
            break
        used += _width(c)
        i -= 1
    while 0 < i < start and _inside_word(text, i):
        i += 1  # do not start inside an English word
    return i
