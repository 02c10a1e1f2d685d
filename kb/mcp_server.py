"""``kb mcp``: the vault as tools and resources for an AI assistant (an MCP server over stdio).

Each tool asks :mod:`kb.api` what the matching command asks it, and returns that command's
``--json`` shape (as structured content) with a short text rendering that cites ``path:line``.
The server keeps the graph and the store open between calls; before each call it stats the
vault's files and, only when one changed, reads them again as ``kb search`` would.

stdout is the protocol channel: kb prints nothing there (notices and logs go to stderr).
Only this module imports the MCP SDK, and only ``kb mcp`` imports this module.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    ListResourcesResult,
    Resource,
    TextContent,
    ToolAnnotations,
)
from pydantic import Field, ValidationError

from kb import api
from kb.errors import KbError, TopicNotFound
from kb.output import clean
from kb.session import Session

if TYPE_CHECKING:
    from kb.vault import Vault

MAX_LIMIT = 200
"""The most results of one kind a tool returns: more would flood the assistant's context."""
MAX_DEPTH = 3
"""The most hops ``neighbors`` walks: at 4 a well-linked vault is all neighbours."""
NODE_KINDS = frozenset({"note", "section", "concept", "tag", "missing"})
"""The kinds of node a ``neighbors`` call can keep (see :mod:`kb.graph`)."""
MAX_READ_CHARS = 100_000
"""The most characters ``read_note`` returns in one call."""
RESOURCES_PER_PAGE = 500
"""Notes per page of ``resources/list`` (the client asks for the next page by its cursor)."""


def _check(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise KbError(f"{name} must be between {low} and {high} (got {value})")
    return value


def _first(items: list, limit: int) -> list:
    return items[:limit]


def _where(path: str | None, line: int | None) -> str:
    if not path:
        return ""
    return f"{path}:{line}" if line else path


def _result(text: str, data: Any, key: str | None = None) -> CallToolResult:
    """A tool's answer: the text rendering for the model, the JSON shape as structured
    content (a list under ``key``, as structured content is an object)."""
    structured = {key: data} if key else data
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured
    )


# -- text renderings (short: the JSON has the rest) ------------------------------------------


def _hits_text(hits: list[dict], empty: str) -> str:
    if not hits:
        return empty
    lines = []
    for h in hits:
        crumbs = " › ".join(h.get("heading") or [h["title"]])
        lines.append(f"{_where(h['path'], h['line'])}  {crumbs}")
        if h["snippet"]:
            lines.append(f"    {h['snippet']}")
    return "\n".join(lines)


def _card_text(card: dict) -> str:
    if card["kind"] == "not a topic":
        head = f"{card['label']!r} is not a topic, but notes say it:"
        if card["did_you_mean"]:
            head += f" (did you mean: {', '.join(card['did_you_mean'])})"
        return head + "\n" + _hits_text(card["found_in"], "")
    lines = [f"{card['label']} ({card['kind']}) {_where(card['path'], card['line'])}".rstrip()]
    if card.get("snippet"):
        lines.append(f"  {card['snippet']}")
    for name, values in (
        ("aliases", card.get("aliases", [])),
        ("tags", ["#" + t for t in card.get("tags", [])]),
        ("parents", [p["label"] for p in card.get("parents", [])]),
        ("children", [c["label"] for c in card.get("children", [])]),
        ("also named so", card.get("also_named", [])),
    ):
        if values:
            lines.append(f"  {name}: {', '.join(values)}")
    sections = (
        ("defined in", "defined_in", lambda e: (e["path"], e["line"], " › ".join(e["heading"]))),
        (
            "related",
            "related",
            lambda e: (
                *(
                    (e["evidence"][0]["path"], e["evidence"][0]["line"])
                    if e["evidence"]
                    else ("", 0)
                ),
                f"{e['label']} ({e['kind']})",
            ),
        ),
        ("links out", "links_out", lambda e: (e["source"], e["line"], f"→ {e['target']}")),
        ("backlinks", "backlinks", lambda e: (e["path"], e["line"], e["context"])),
        ("mentioned in", "unlinked_mentions", lambda e: (e["path"], e["line"], e["context"])),
        ("mentions", "mentions_out", lambda e: (e["source"], e["line"], f"→ {e['target']}")),
    )
    more = card.get("more", {})
    for title, key, row in sections:
        items = card.get(key) or []
        if not items:
            continue
        lines.append(f"  {title} ({len(items) + more.get(key, 0)}):")
        for e in items:
            path, line, what = row(e)
            lines.append(f"    {_where(path, line)}  {what}".rstrip())
    return "\n".join(lines)


def _path_text(found: dict, a: str, b: str) -> str:
    hops = found["hops"]
    if hops is None:
        return f"{a} and {b} are not connected."
    if not hops:
        return f"{a} and {b} are the same topic ({found['from']})."
    first, last = hops[0], hops[-1]
    start = first["source_label"] if first["source"] == found["from"] else first["target_label"]
    end = last["target_label"] if last["target"] == found["to"] else last["source_label"]
    lines = [f"{start} → {end}: {len(hops)} hop(s)"]
    at = found["from"]
    for i, h in enumerate(hops, 1):
        if h["source"] == at:
            step = f"{h['source_label']} –{h['kind']}→ {h['target_label']}"
            at = h["target"]
        else:
            step = f"{h['target_label']} ←{h['kind']}– {h['source_label']}"
            at = h["source"]
        ev = h["evidence"]
        lines.append(f"  {i}. {step}  ({h['strength']}, cost {h['cost']:g})")
        lines.append(f"     {_where(ev['path'], ev['line'])}  «{ev['text']}»")
    lines += [f"  weak: {reason}" for reason in found.get("weak", [])]
    if found.get("also"):
        lines.append("  also joined by:")
        for via in found["also"]:
            lines.append(f"    {via['label']}")
            said: dict[str, str] = {}  # each place once, with its sentence
            for e in via["evidence"]:
                ev = e["evidence"]
                where = _where(ev["path"], ev["line"])
                if len(ev["text"] or "") > len(said.get(where, "")):
                    said[where] = ev["text"]
                said.setdefault(where, "")
            for where, text in said.items():
                lines.append(f"      {where}  «{text}»" if text else f"      {where}")
    return "\n".join(lines)


def _neighbors_text(found: dict) -> str:
    n = len(found["neighbors"]) + found.get("more", {}).get("neighbors", 0)
    lines = [f"{found['label']}: {n} within {found['depth']} hop(s)"]
    for e in found["neighbors"]:
        where = _where(e["path"], e["line"])
        lines.append(f"  {e['distance']}  {e['kind']:<8} {e['label']}  {where}".rstrip())
    return "\n".join(lines)


def _doctor_text(report: dict) -> str:
    lines = [f"{report['notes']} notes, {report['links']} links"]
    more = report.get("more", {})
    for key in api.DOCTOR_LISTS:
        items = report[key]
        lines.append(f"{key}: {len(items) + more.get(key, 0)}")
        for e in items:
            if isinstance(e, str):
                lines.append(f"    {e}")
            elif "warnings" in e:
                lines.append(f"    {e['path']}: {'; '.join(e['warnings'])}")
            elif "reason" in e:
                lines.append(f"    {e['path']}: {e['reason']}")
            else:
                lines.append(
                    f"    {_where(e['path'], e['line'])}  [[{e['target']}]]  {e['context']}"
                )
    return "\n".join(lines)


# -- the server ------------------------------------------------------------------------------


INSTRUCTIONS = """\
kb answers questions about one Markdown (Obsidian) vault of notes, in Chinese and English.
Start with `search` to find where the notes say something, `show_topic` for what the vault
knows about a concept, `find_path` for why two topics are connected, and `read_note` to read
the Markdown of a note or one section. Results carry `path:line`: cite them. The server reads
notes edited meanwhile before each call, and never writes the vault."""

QUERY_HELP = """\
Query syntax: words are ANDed; also OR, NOT or -word, "a phrase", prefix*, fuzzy~,
(groups), and filters tag:NAME, path:PREFIX, title:WORD, section:WORD. English words match
in any case and form (ReLU = relu, losses = loss); Chinese is cut into words, so 知识蒸馏
finds it inside a sentence; 1x1 = 1×1."""

Limit = Annotated[int, Field(description=f"Most results (1 to {MAX_LIMIT}).")]
Topic = Annotated[
    str,
    Field(
        description="A note title, alias or vault path, a concept name (a heading or bold term "
        "in the notes), or a tag as #tag."
    ),
]


def build(vault: Vault) -> MCPServer:
    """The MCP server of ``vault``, its tools and its note resources."""
    session = Session(vault)
    server = _Server(
        "kb",
        instructions=INSTRUCTIONS,
        version=_version(),
        log_level="WARNING",
    )
    server.session = session
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)

    def tool(fn: Callable[..., CallToolResult]) -> None:
        """Register ``fn`` as a read-only tool whose KbErrors are one-line tool errors."""

        @functools.wraps(fn)
        async def run(**kwargs: Any) -> CallToolResult:
            # async and without awaits: the call runs on the event loop's thread, one at a
            # time, as the SQLite connections kept in the session want.
            return _answer(session, lambda: fn(**kwargs))

        doc = inspect.cleandoc(fn.__doc__ or "").replace("QUERY_HELP", QUERY_HELP)
        server.add_tool(run, name=fn.__name__, description=doc, annotations=read_only)

    @tool
    def search(
        query: Annotated[str, Field(description="The query, in kb's query syntax (see above).")],
        limit: Limit = 10,
    ) -> CallToolResult:
        """Full-text search of every section of every note, best first.

        Use it to find where the notes say something. Each hit is a section: `path:line`
        (cite it), the note › heading breadcrumb and a snippet; `read_note` reads it whole.

        QUERY_HELP
        """
        _check("limit", limit, 1, MAX_LIMIT)
        hits = _rebuilding(session, lambda: api.search(vault, query, limit))
        # (the suggestions only for no hits: they cost a second search)
        empty = "" if hits else _rebuilding(session, lambda: _no_hits(vault, query))
        return _result(_hits_text(hits, empty), hits, "hits")

    @tool
    def show_topic(topic: Topic, limit: Limit = 10) -> CallToolResult:
        """What the vault knows about one topic: its card.

        Names, where it is defined, parents and children, the notes it links to and that link
        to it, the sections that mention it without a link (with their sentences), and
        related topics with evidence; each entry with `path:line`. Lists are cut to `limit`
        entries (`more` counts the rest). For a name that is no topic but that notes say,
        the sections saying it (kind "not a topic"). An unknown name gives an error with
        suggestions.
        """
        _check("limit", limit, 1, MAX_LIMIT)
        kg, _ = session.fresh()
        card = api.show(
            kg, topic, lambda name: _rebuilding(session, lambda: api.found_in(vault, name))
        )
        lists = (
            "defined_in",
            "links_out",
            "backlinks",
            "unlinked_mentions",
            "mentions_out",
            "related",
            "found_in",
        )
        card = api.cut(card, lists, limit)
        return _result(_card_text(card), card)

    @tool
    def find_path(
        from_topic: Annotated[str, Field(description="The first topic (as for show_topic).")],
        to_topic: Annotated[str, Field(description="The second topic.")],
    ) -> CallToolResult:
        """Why two topics are connected: the shortest path between them in the vault's graph.

        Each hop names the edge (links_to, mentions, contains, tagged…), which way it points,
        and its evidence: the note, line and sentence that makes it (`path:line`, cite it).
        `also` lists what else joins the two: a place saying both, or a topic one hop from
        each. `hops` is null when they are not connected.
        """
        kg, _ = session.fresh()
        found = api.find_path(kg, from_topic, to_topic)
        return _result(_path_text(found, from_topic, to_topic), found)

    @tool
    def neighbors(
        topic: Topic,
        depth: Annotated[int, Field(description=f"Hops out (1 to {MAX_DEPTH}).")] = 1,
        kinds: Annotated[
            list[str] | None,
            Field(
                description="Only neighbours of these kinds: note, section, concept, tag, missing."
            ),
        ] = None,
        limit: Annotated[int, Field(description=f"Most neighbours (1 to {MAX_LIMIT}).")] = 50,
    ) -> CallToolResult:
        """The topics within `depth` hops of a topic (links, mentions, nesting and tags, taken
        both ways), nearest first, each with its kind and `path:line`."""
        _check("depth", depth, 1, MAX_DEPTH)
        unknown = sorted(set(kinds or ()) - NODE_KINDS)
        if unknown:
            raise KbError(f"no node kind {unknown[0]!r}; kinds are {', '.join(sorted(NODE_KINDS))}")
        _check("limit", limit, 1, MAX_LIMIT)
        kg, _ = session.fresh()
        found = api.cut(api.neighbors(kg, topic, depth, kinds), ("neighbors",), limit)
        return _result(_neighbors_text(found), found)

    @tool
    def related_notes(
        note: Annotated[str, Field(description="A note's title, alias or vault path.")],
        limit: Limit = 10,
    ) -> CallToolResult:
        """The notes most like a given note (the words they share, weighted by how rare they
        are in the vault), best first, each with its path and a snippet.

        Given a concept or a section instead of a note, it answers the notes most like the
        note that holds it, and says so (`via`: that topic's label, kind, path and line)."""
        _check("limit", limit, 1, MAX_LIMIT)
        found = _rebuilding(session, lambda: api.related_to(vault, note, limit))
        hits = [api.hit_json(h, heading=False) for h in found.hits]
        text = _hits_text(hits, "No related notes found.")
        if found.via:  # a concept or a section: say whose likes these are
            return _result(
                f"{api.via_text(note, found.via)}:\n{text}", {"notes": hits, "via": found.via}
            )
        return _result(text, hits, "notes")

    @tool
    def read_note(
        path: Annotated[
            str, Field(description="The note's vault path, as hits give it (topics/ReLU.md).")
        ],
        heading: Annotated[
            str | None,
            Field(description="Only this section: its heading, or a breadcrumb 'Heading › Sub'."),
        ] = None,
        max_chars: Annotated[
            int, Field(description=f"Most characters (1 to {MAX_READ_CHARS}).")
        ] = api.READ_MAX_CHARS,
    ) -> CallToolResult:
        """The Markdown of a note, or of one section of it, as written in the file.

        Returns its lines (`line_start`-`line_end`, to cite as `path:line`), `truncated` when it
        was cut at `max_chars`, and the note's outline (its headings with their lines) to read
        one section next. Only notes inside the vault are read.
        """
        _check("max_chars", max_chars, 1, MAX_READ_CHARS)
        _, store = session.fresh()
        found = api.read_note(vault, store, path, heading, max_chars)
        where = f"{found['path']}:{found['line_start']}-{found['line_end']}"
        head = f"{where}  {' › '.join(found['heading'])}"
        if found["truncated"]:
            head += f"  (first {max_chars} of {found['chars']} characters)"
        return _result(head + "\n\n" + found["text"], found)

    @tool
    def list_tags(
        limit: Annotated[int, Field(description="Most tags (1 to 1000).")] = 200,
    ) -> CallToolResult:
        """Every tag of the vault with its number of notes, nested tags (#a/b) under their
        parent. Use a tag as `tag:NAME` in `search` or `#NAME` in `show_topic`."""
        _check("limit", limit, 1, 1000)
        found = api.cut(
            {"tags": session.report("tags", lambda kg, _: api.tags(kg))}, ("tags",), limit
        )
        lines = [f"{t['notes']:>5}  {'  ' * t['depth']}#{t['tag']}" for t in found["tags"]]
        if found.get("more"):
            lines.append(f"… and {found['more']['tags']} more")
        return _result("\n".join(lines) or "No tags.", found)

    @tool
    def vault_health(
        limit: Annotated[
            int, Field(description=f"Most items of each kind (1 to {MAX_LIMIT}).")
        ] = 20,
    ) -> CallToolResult:
        """The vault's problems, as `kb doctor` reports them: broken and ambiguous links,
        embeds of missing files, notes whose front matter did not parse, files not read,
        orphan notes and plain-text mentions of notes that could be links, with `path:line`."""
        _check("limit", limit, 1, MAX_LIMIT)
        report = session.report("doctor", functools.partial(api.doctor, vault))
        report = api.cut(report, api.DOCTOR_LISTS, limit)
        return _result(_doctor_text(report), report)

    @server.resource(
        "kb://note/{+path}",
        name="note",
        description="A note of the vault as Markdown, by its vault path, percent-encoded as in "
        "a URL (kb://note/topics/ReLU.md, kb://note/topics/1x1%20卷积.md).",
        mime_type="text/markdown",
    )
    async def note(path: str) -> str:
        """The Markdown of the note at ``path`` (a vault path, percent-decoded)."""
        try:
            _, store = session.fresh()
            return api.read_note(vault, store, path, None, MAX_READ_CHARS * 10)["text"]
        except KbError as e:
            raise ResourceError(clean(str(e))) from None

    return server


class _Server(MCPServer):
    """The SDK's server, with the vault's notes listed as resources and arguments that do
    not fit a tool's schema said in one line."""

    session: Session

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as e:
            if isinstance(e.__cause__, ValidationError):
                raise ToolError(_bad_arguments(name, e.__cause__)) from e.__cause__
            raise

    async def _handle_list_resources(self, ctx: Any, params: Any) -> ListResourcesResult:
        # The SDK lists only resources added one by one, and in one page; a vault's notes
        # are many and change, so they are listed here, a page at a time.
        cursor = getattr(params, "cursor", None) or "0"
        if not cursor.isdigit():
            raise MCPError(code=INVALID_PARAMS, message=f"bad cursor {cursor[:40]!r}")
        start = int(cursor)

        def page() -> tuple[list[dict], int]:
            # made once per state of the vault: a client reads the pages one after the other
            notes = self.session.report("notes", lambda kg, _: api.note_list(kg))
            return notes[start : start + RESOURCES_PER_PAGE], len(notes)

        try:
            notes, total = self.session.repairing(page)
        except KbError as e:
            raise MCPError(code=INVALID_PARAMS, message=clean(str(e))) from None
        end = start + len(notes)
        return ListResourcesResult(
            resources=[
                Resource(
                    uri=note_uri(n["path"]),
                    name=n["path"],
                    title=n["title"],
                    description=n["snippet"] or None,
                    mime_type="text/markdown",
                )
                for n in notes
            ],
            next_cursor=str(end) if end < total else None,
        )


def note_uri(path: str) -> str:
    """The resource URI of a note: ``kb://note/`` and its vault path, percent-encoded (a space,
    ``?`` or ``#`` in a file name would otherwise end or break the URI)."""
    return "kb://note/" + quote(path, safe="/")


def _bad_arguments(tool: str, error: ValidationError) -> str:
    """One line for arguments that do not fit a tool's schema (pydantic says it in many)."""
    said = []
    for e in error.errors():
        field = ".".join(str(part) for part in e["loc"]) or "arguments"
        if e["type"] == "missing":
            said.append(f"{field} is required")
            continue
        message = e["msg"].removeprefix("Input ").removeprefix("Value ")
        got = repr(e.get("input"))
        said.append(f"{field} {message} (got {got[:40] + '…' if len(got) > 40 else got})")
    return clean(f"bad arguments for {tool}: " + "; ".join(said))


def _answer(session: Session, call: Callable[[], CallToolResult]) -> CallToolResult:
    """Run a tool: a KbError (unknown topic, bad query, a path outside the vault) becomes a
    one-line tool error; a damaged graph is rebuilt and the call made again, once."""
    try:
        return session.repairing(call)
    except ToolError:
        raise
    except TopicNotFound as e:
        message = str(e)
        if not e.suggestions:  # not "try `kb search X`": the assistant has a tool for that
            message = f"no topic {e.topic[:80]!r} in this vault; look for it with the search tool"
        raise ToolError(clean(message)) from None
    except KbError as e:
        raise ToolError(clean(str(e))) from None
    except (OSError, sqlite3.Error) as e:
        from kb.cli import _describe

        raise ToolError(clean(_describe(e))) from None
    except Exception as e:  # a bug in kb: one line, and the server goes on
        detail = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        raise ToolError(
            f"kb failed ({clean(detail)}); run the same question with the kb command and --debug"
        ) from None


def _rebuilding(session: Session, read: Callable[[], Any]) -> Any:
    """``read()`` on a fresh index, rebuilt once when found damaged."""
    return session.rebuilding(read)


def _no_hits(vault: Vault, query: str) -> str:
    tries = api.suggest(vault, query)
    return f"No hits for {query!r}." + (f" Did you mean: {', '.join(tries)}?" if tries else "")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kb")
    except PackageNotFoundError:
        return "0"


def serve(vault: Vault) -> None:
    """Serve ``vault`` over stdio until the client closes the connection."""
    build(vault).run("stdio")
