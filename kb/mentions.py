"""Finding concept names in running text with one Aho-Corasick automaton.

Names and text are compared in their :func:`kb.concepts.normalise` form, so ``ReLU``,
``1×1 conv`` and ``1x1 卷积`` match however they are spelled. A Latin name must stand as
a whole word (``elu`` does not fire inside ``relu``, ``GAP`` not inside ``GAPS``); a CJK
name inside a run of Chinese must begin a word as jieba cuts it (``方差`` is not in
``协方差``; ``卷积`` is in ``卷积层``). A name written inside a longer name is part of it,
not a mention of its own: ``Leaky ReLU`` names ``leaky relu``, not ``relu``; ``转置卷积``
not ``卷积`` (names that only overlap both count). So what a sentence mentions depends on
the longer names that exist: kb.graph.update finds again the names of a note that says a
name added or removed.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator

from kb.concepts import SEPARATOR, is_common_word, is_word_char, mentionable, normalise
from kb.model import MAX_NAME_CHARS
from kb.text import is_cjk


class Matcher:
    """Finds which of a fixed set of normalised names occur in a piece of text."""

    def __init__(self, keys: Iterable[str], checked: bool = False):
        """An automaton over the mentionable ones of ``keys`` (normalised names); all of them
        when ``checked`` (they are the :attr:`keys` of an earlier matcher)."""
        import ahocorasick

        self._automaton = ahocorasick.Automaton()
        self.keys: list[str] = []
        """The names it looks for."""
        for key in keys:
            # Too long a key is never a name, and pyahocorasick frees its trie recursively:
            # a million-character key overflows the C stack (issue 11).
            if len(key) > MAX_NAME_CHARS:
                continue
            if (checked or mentionable(key)) and key not in self._automaton:
                self._automaton.add_word(key, key)
                self.keys.append(key)
        self.size = len(self.keys)
        if self.size:
            self._automaton.make_automaton()

    def any_in(self, norm: str) -> bool:
        """True when some name occurs in normalised text, word boundaries aside (a cheap
        first look before a note is read and searched properly)."""
        if not self.size:
            return False
        return next(self._automaton.iter(norm), None) is not None

    def find(self, text: str) -> list[str]:
        """The names occurring in ``text`` (raw text; normalised here), each once."""
        return list(dict.fromkeys(key for _, key in self.find_in([text])))

    def find_in(self, texts: list[str]) -> Iterator[tuple[int, str]]:
        """(index of the text, name) for every name in a list of texts (sentences), in order.

        The texts are normalised and searched in one pass, joined by a separator that no
        name contains, so a section costs one call whatever its number of sentences.
        """
        if self.size and texts:
            yield from self.find_normalised(normalise(SEPARATOR.join(texts)))

    def find_normalised(self, norm: str) -> Iterator[tuple[int, str]]:
        """Like :meth:`find_in`, for texts already normalised and joined by SEPARATOR."""
        if not self.size:
            return
        found = sorted(self._found(norm))  # by start, the longest name first
        reach = -1
        for start, size, order, key in found:
            end = start - size
            if end <= reach:
                continue  # inside a longer name found at or before its start
            reach = end
            yield order, key

    def _found(self, norm: str) -> Iterator[tuple[int, int, int, str]]:
        """(offset, minus length, text number, name) of every name standing as a word in
        ``norm``."""
        breaks: list[int] | None = None
        starts: dict[int, frozenset[int]] = {}
        for end, key in self._automaton.iter(norm):
            start = end - len(key) + 1
            if is_word_char(key[0]) and start > 0 and is_word_char(norm[start - 1]):
                continue
            if is_word_char(key[-1]) and end + 1 < len(norm) and is_word_char(norm[end + 1]):
                continue
            if breaks is None:
                breaks = [m.start() for m in re.finditer(SEPARATOR, norm)]
            order = bisect_right(breaks, start)
            inside = start > 0 and is_cjk(key[0]) and is_cjk(norm[start - 1])
            runs_on = end + 1 < len(norm) and is_cjk(key[-1]) and is_cjk(norm[end + 1])
            if inside or runs_on:
                if order not in starts:
                    starts[order] = _words(norm, breaks, order)
                words = starts[order]
                # Inside a run of Chinese: the name must begin a word (方差 is not in 协方差)…
                if inside and start not in words:
                    continue
                # …and not end inside a common word begun within it (层组 is not in 卷积层组成,
                # 组成 being a word; jieba's 卷积/层来 for 卷积层来 is no word, so 卷积层 is).
                if runs_on and _ends_inside_a_word(words, start, end + 1):
                    continue
            yield start, -len(key), order, key


def _words(norm: str, breaks: list[int], order: int) -> dict[int, str]:
    """Offset in ``norm`` → the word jieba starts there, in the text number ``order``."""
    from kb.topicnames import cut_all

    begin = breaks[order - 1] + len(SEPARATOR) if order else 0
    end = breaks[order] if order < len(breaks) else len(norm)
    out, at = {}, begin
    for word in cut_all(norm[begin:end]):
        out[at] = word
        at += len(word)
    return out


def _ends_inside_a_word(words: dict[int, str], start: int, end: int) -> bool:
    """True when a common word (:func:`kb.concepts.is_common_word`) begins after ``start``
    and before ``end`` and runs past ``end``: the name [start, end) stops inside it."""
    for at in range(start + 1, end):
        word = words.get(at)
        if word is not None and at + len(word) > end and is_common_word(word):
            return True
    return False
