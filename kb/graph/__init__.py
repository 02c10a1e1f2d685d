"""The concept graph: notes, sections, concepts and tags, and why they are connected.

Node ids are strings (:mod:`kb.nodes`):

- ``note:<path>``: a note; its title, file name and aliases are its names;
- ``section:<path>#<line>``: a heading or a lead list item (``- **term**``, ``term：``);
- ``concept:<key>``: a name that section titles give and no note owns;
- ``tag:<name>`` (lower-cased) and ``missing:<folded target>`` (an unresolved link).

A name belongs to exactly one node. Note names win: when a note is called ``Bottleneck``
(or has the alias ``BottNeck``) every section titled so is *about* that note, and
``concept:bottleneck`` never exists. Other concept titles become ``concept:`` nodes, one
per :func:`kb.concepts.concept_key`. A section about a concept has a ``mentions`` edge to
it; nested concept sections add ``contains`` edges between their concepts.

Edges carry their evidence: ``path``, ``line`` and ``text`` (the sentence). Kinds:
``contains`` (note → section → sub-section; parent concept → child concept; tag → nested
tag), ``links_to`` and ``embeds`` (from the section holding the link), ``mentions``
(a section's text names another concept), ``tagged`` (note or section → tag).

The pipeline, one module per stage:

- :mod:`kb.graph.facts`: what one note contributes, from that note alone (pure);
- :mod:`kb.graph.names`: the name table, from every note's facts (pure);
- :mod:`kb.graph.derive`: the edges that depend on other notes (pure);
- :mod:`kb.graph.db`: the rows in ``<data_dir>/graph.sqlite``;
- :mod:`kb.graph.update`: keeping those rows caught up with :class:`kb.store.Store`;
- :mod:`kb.graph.queries`: :class:`KnowledgeGraph`, the questions kb asks of them.
"""

from kb.graph.db import DB_FILE, SCHEMA
from kb.graph.queries import Hop, KnowledgeGraph, TagCount
from kb.graph.update import SyncResult, build, is_current, load, read, sync

__all__ = [
    "DB_FILE",
    "SCHEMA",
    "Hop",
    "KnowledgeGraph",
    "SyncResult",
    "TagCount",
    "build",
    "is_current",
    "load",
    "read",
    "sync",
]
