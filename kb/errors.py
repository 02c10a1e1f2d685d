"""Errors a person can act on. Library code raises these; ``kb/cli.py`` prints one line."""

from __future__ import annotations

import sys


class KbError(Exception):
    """Base error: the message says what is wrong and how to fix it.

    Exit codes follow grep: 0 found, 1 nothing found (no hits, unknown topic, not connected),
    2 an error (no vault, no index, a bad query, another kb holding the lock).
    """

    exit_code = 2


class VaultNotFound(KbError):
    """No vault could be chosen."""


class TopicNotFound(KbError):
    """A topic given on the command line matches nothing (or several things)."""

    exit_code = 1

    def __init__(self, topic: str, suggestions: list[str] | None = None, ambiguous: bool = False):
        self.topic = topic
        self.suggestions = suggestions or []
        self.ambiguous = ambiguous
        if len(topic) > 80:  # a pasted paragraph: the message stays one readable line
            topic = topic[:79] + "…"
        if ambiguous:
            msg = f"{topic!r} is ambiguous; did you mean one of: " + ", ".join(self.suggestions)
        elif self.suggestions:
            msg = f"no topic {topic!r}; did you mean: " + ", ".join(self.suggestions)
        else:
            msg = f"no topic {topic!r} in this vault; try `kb search {topic}`"
        super().__init__(msg)


class QueryError(KbError):
    """A search query that cannot be understood."""

    exit_code = 2


class IndexMissing(KbError):
    """The .kb/ data is absent or from another version."""


class IndexDamaged(IndexMissing):
    """A file of the search index does not decode as kb writes it (damaged, or planted)."""

    def __init__(self, folder, problem: str):
        self.folder = folder
        self.problem = problem
        super().__init__(
            f"the search index in {folder} is damaged ({problem}); run `kb index --full`"
        )


def notice(message: str) -> None:
    """Tell the user about something kb found wrong with its own data and is repairing on its
    own (an index from another version of kb, a graph left half-written by a killed kb).

    Not an error: the command goes on. One line on stderr, so that ``--json`` output stays
    pure; every such message goes through here.
    """
    from kb.output import clean  # a message may name a file: nothing of it acts on a terminal

    print(f"kb: {clean(message)}", file=sys.stderr, flush=True)
