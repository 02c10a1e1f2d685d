"""Node ids and kinds of the concept graph: what kb.graph builds and its queries and kb.export read.

A node id is ``<kind>:<key>``; see :mod:`kb.graph` for what each kind stands for.
"""

from __future__ import annotations

from kb.resolve import fold
from kb.text import tag_key

NODE_KINDS = ("note", "section", "concept", "tag", "missing")
EDGE_KINDS = ("contains", "links_to", "embeds", "about", "mentions", "tagged")


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
