"""Node ids and kinds of the concept graph: what kb.graph builds and its queries and kb.export read.

A node id is ``<kind>:<key>``; see :mod:`kb.graph` for what each kind stands for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kb.resolve import fold
from kb.text import tag_key

NODE_KINDS = ("note", "section", "concept", "tag", "missing")


@dataclass(frozen=True, slots=True)
class EdgeKind:
    """One kind of edge: what ``kb path`` pays for it, how the page draws it. Adding a kind is
    one entry in :data:`EDGES` plus the code that derives it (kb.graph.facts for what one
    note gives, kb.graph.derive for what needs other notes)."""

    name: str
    label: str
    """As the page's legend says it."""
    cost: float
    """What a hop of this kind costs a path between two topics (``kb path``): a link the user
    wrote, or a heading under another, is cheapest; a mention kb found is dearer than two
    written links (it is inferred: ResNet → Bottleneck → 1x1 conv by the user's links beats a
    sentence that names ResNet and 1x1 conv); a tag hub dearer still."""
    rank: int
    """Of two hops of one cost, the one shown first (a written link before a mention)."""
    link: bool
    """A link the user wrote (its source is the note, wherever in it the link is)."""
    color: str
    width: float
    dashes: Any
    """False, or vis.js's dash pattern."""
    arrows: str


EDGES: dict[str, EdgeKind] = {
    e.name: e
    for e in (
        EdgeKind("contains", "contains", 1.0, 4, False, "#4b5563", 0.6, False, ""),
        EdgeKind("links_to", "links to", 1.0, 0, True, "#8b8fa3", 1.4, False, "to"),
        EdgeKind("embeds", "embeds", 1.0, 1, True, "#c084fc", 2.2, False, "to"),
        EdgeKind("about", "is about", 1.0, 2, False, "#d4b86a", 1.2, False, "to"),
        EdgeKind("mentions", "mentions", 2.1, 3, False, "#b59f5b", 1.0, [5, 5], "to"),
        EdgeKind("tagged", "tagged", 4.0, 5, False, "#2f8f6f", 0.8, [2, 4], ""),
    )
}
"""Every edge kind (the page's legend lists them in this order)."""
EDGE_KINDS = tuple(EDGES)

SAID_WITH = "said with"
"""A hop of ``kb path`` and ``kb neighbors`` that is no stored edge: one sentence mentions
both topics (``LSTM就是…解决梯度消失的问题``), wherever it stands. It costs what a mention
does, and comes after one of the same cost."""


def note_id(path: str) -> str:
    return f"note:{path}"


def section_id(path: str, line: int) -> str:
    return f"section:{path}#{line}"


def concept_id(key: str) -> str:
    return f"concept:{key}"


def tag_id(name: str) -> str:
    return f"tag:{tag_key(name)}"


def missing_id(target: str) -> str:
    return f"missing:{fold(target)}"


def tag_chain(name: str) -> list[str]:
    """``ml/cnn/resnet`` → ``[ml, ml/cnn, ml/cnn/resnet]`` (as tag keys)."""
    parts = [p for p in tag_key(name).split("/") if p]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]
