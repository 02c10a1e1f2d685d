"""Graph commands: show, path, neighbors, tags, orphans, doctor, graph.

Each one refreshes the store, brings the graph up to date (incrementally) and asks it one
question; the work is in :mod:`kb.graph` (its queries) and :mod:`kb.checks`.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kb.errors import notice
from kb.output import (
    echo,
    emit_json,
    json_option,
    limit_option,
    more_line,
    progress,
    style,
    use_color,
)

if TYPE_CHECKING:
    from kb.graph.queries import Hop, KnowledgeGraph
    from kb.store import Store


def _open(ctx: click.Context) -> tuple[KnowledgeGraph, Store]:
    """The vault's graph, after reading whatever changed in the vault."""
    from kb.refresh import refreshed

    done = refreshed(ctx.obj.vault, as_is=True, load_graph=True, progress=progress)
    assert done.graph is not None
    return done.graph, done.store


def repairing(command):
    """Run a graph command; when it meets a damaged or planted row of the graph file, say so,
    rebuild the graph from kb's record of the notes and run the command again (once)."""

    @functools.wraps(command)
    def run(ctx: click.Context, *args, **kwargs):
        from kb.graph.db import Damaged

        try:
            return command(ctx, *args, **kwargs)
        except Damaged as e:
            from kb.refresh import update

            notice(f"the concept graph in {ctx.obj.vault.data_dir} {e.problem}; rebuilding it")
            update(ctx.obj.vault, graph=True, full_graph=True, progress=progress)
        return command(ctx, *args, **kwargs)

    return run


def _where(path: str | None, line: int | None) -> str:
    if not path:
        return ""
    return f"{path}:{line}" if line else path


def _quote(text: str) -> str:
    return f"«{text}»" if text else ""


def _non_empty(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse an empty topic: it names nothing, and "did you mean" would offer everything."""
    if value is not None and not value.strip():
        name = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
        raise click.UsageError(f"{name} is empty", ctx=ctx)
    return value


def depth_option(default: int, help: str):
    """``-d/--depth N``: hops around a topic."""
    return click.option(
        "--depth", "-d", default=default, show_default=True, type=click.IntRange(min=0), help=help
    )


def _first(items: list, limit: int) -> list:
    """The first ``limit`` items (all when 0)."""
    return items if not limit else items[:limit]


def _more(items: list, limit: int, indent: str = "    ") -> None:
    """Say how many items were left out."""
    if limit and len(items) > limit:
        echo(indent + more_line(len(items) - limit))


@click.command()
@click.argument("topic", callback=_non_empty)
@limit_option("entries of each list", 10, json_lists_all=True)
@json_option
@click.pass_context
@repairing
def show(ctx: click.Context, topic: str, limit: int, as_json: bool) -> None:
    """A card for a concept, note or tag: names, where it is defined, parents and children,
    links, backlinks, and plain-text mentions with their sentences.

    TOPIC is a note title, alias or vault path, a concept name, or a tag (#tag or tag:x).

    \b
    Examples:
      kb show bottleneck
      kb show "1x1 conv"
      kb show '#cnn' --json
    """
    from kb.errors import TopicNotFound

    kg, _ = _open(ctx)
    try:
        node = kg.find(topic)
    except TopicNotFound as missing:
        found = None if missing.ambiguous else _found_in(ctx, topic, limit)
        if not found:
            raise
        _not_a_topic(topic, found, missing.suggestions, limit, as_json)
        return
    card = kg.card(node)
    if as_json:
        emit_json(card)
        return
    color = use_color()
    head = style(card["label"], color, bold=True)
    echo(f"{head}  ({card['kind']})  {_where(card['path'], None)}".rstrip())
    if card["snippet"]:
        echo(f"  {card['snippet']}")
    rows = [
        ("aliases", ", ".join(card["aliases"])),
        ("tags", " ".join(f"#{t}" for t in card["tags"])),
        ("parents", ", ".join(p["label"] for p in card["parents"])),
        ("children", ", ".join(c["label"] for c in card["children"])),
    ]
    for name, value in rows:
        if value:
            echo(f"  {name:<9} {value}")
    if card.get("notes"):
        echo(f"  {'notes':<9} " + ", ".join(card["notes"]))

    def links_out(e: dict) -> list[str]:
        arrow = "⇒" if e["kind"] == "embeds" else "→"
        missing = "" if e["path"] else style(" (missing)", color, fg="red")
        return [f"{arrow} {e['target']}{missing}  {_where(e['source'], e['line'])}"]

    lists = [
        (
            "related",
            "related",
            lambda e: [
                f"{e['label']}  ({e['kind']})  "
                + (f"{_where(ev['path'], ev['line'])}  {_quote(ev['text'])}" if ev else "")
                for ev in [e["evidence"][0] if e["evidence"] else None]
            ],
        ),
        (
            "defined in",
            "defined_in",
            lambda e: [f"{_where(e['path'], e['line'])}  {' › '.join(e['heading'])}"],
        ),
        ("links out", "links_out", links_out),
        (
            "backlinks",
            "backlinks",
            lambda e: [f"← {_where(e['path'], e['line'])}  {_quote(e['context'])}"],
        ),
        (
            "mentioned in",
            "unlinked_mentions",
            lambda e: [
                f"← {_where(e['path'], e['line'])}  {e['label']}",
                f"    {_quote(e['context'])}",
            ],
        ),
        (
            "mentions",
            "mentions_out",
            lambda e: [
                f"→ {e['target']}  {_where(e['source'], e['line'])}  {_quote(e['context'])}"
            ],
        ),
    ]
    for title, key, lines in lists:
        _listing(title, card[key], limit, color, lines)


FOUND_MAX = 1000
"""Sections at most that a card of a name that is no topic counts."""


def _found_in(ctx: click.Context, topic: str, limit: int) -> list:
    """The sections whose text says ``topic`` (a phrase search), for a name that is no topic."""
    from kb import index
    from kb.commands.search import _rebuilding, _refresh
    from kb.errors import QueryError

    _refresh(ctx.obj.vault)
    phrase = '"' + " ".join(topic.replace('"', " ").split()) + '"'
    try:
        return _rebuilding(
            ctx.obj.vault, False, lambda: index.search(ctx.obj.vault, phrase, limit=FOUND_MAX)
        )
    except QueryError:
        return []


def _not_a_topic(topic: str, hits: list, suggestions: list[str], limit: int, as_json: bool) -> None:
    """The card of a name that is no topic but that notes say: where they say it."""
    from kb.commands.search import _hit_json, breadcrumb
    from kb.output import highlight

    if as_json:
        emit_json(
            {
                "label": topic,
                "kind": "not a topic",
                "found_in": [_hit_json(h) for h in hits],
                "did_you_mean": suggestions,
            }
        )
        return
    color = use_color()
    places = f"{'at least ' * (len(hits) >= FOUND_MAX)}{len(hits)} section{'s' * (len(hits) != 1)}"
    echo(f"{style(topic, color, bold=True)}  (not a topic yet: found in {places})")
    if suggestions:
        echo(f"  did you mean: {', '.join(suggestions)}")
    _section("found in", hits, color)
    for h in _first(hits, limit):
        echo(f"    {_where(h.path, h.line)}  {' › '.join(breadcrumb(h.heading))}")
        if h.snippet:
            echo("        " + highlight(h.snippet, color))
    _more(hits, limit)


def _listing(title: str, items: list, limit: int, color: bool, lines) -> None:
    """A titled list of a card: its count, its first ``limit`` entries, how many were left out."""
    _section(title, items, color)
    for e in _first(items, limit):
        for line in lines(e):
            echo(f"    {line}")
    _more(items, limit)


def _section(title: str, items: list, color: bool) -> None:
    if items:
        echo(style(f"  {title} ({len(items)})", color, bold=True))


@click.command()
@click.argument("a", callback=_non_empty)
@click.argument("b", callback=_non_empty)
@json_option
@click.pass_context
@repairing
def path(ctx: click.Context, a: str, b: str, as_json: bool) -> None:
    """The shortest path between two topics, with the evidence for each hop.

    Edges are walked both ways; each hop says which way it really points and why it
    exists (the note, line and sentence). Links and mentions are preferred to tags.
    Exits 1 when the topics are not connected.

    \b
    Examples:
      kb path resnet "1x1 conv"
      kb path relu 知识蒸馏 --json
    """
    kg, _ = _open(ctx)
    src, dst = kg.find(a), kg.find(b)
    if src == dst:
        if as_json:
            emit_json({"from": src, "to": dst, "hops": []})
        else:
            echo(f"{kg.label(src)} and {kg.label(dst)} are the same topic.")
        return
    hops = kg.shortest_path(src, dst)
    if hops is None:
        if as_json:
            emit_json({"from": src, "to": dst, "hops": None})
        echo(f"{kg.label(src)} and {kg.label(dst)} are not connected.", err=True)
        ctx.exit(1)
    assert hops is not None
    also = kg.common_neighbours(
        src, dst, exclude={h.source for h in hops} | {h.target for h in hops}
    )
    if as_json:
        emit_json(
            {
                "from": src,
                "to": dst,
                "hops": [_hop_json(kg, h) for h in hops],
                "also": [
                    {"via": n, "label": kg.label(n), "evidence": [_hop_json(kg, h) for h in ev]}
                    for n, ev in also
                ],
            }
        )
        return
    color = use_color()
    n = len(hops)
    echo(
        f"{style(kg.label(src), color, bold=True)} → {style(kg.label(dst), color, bold=True)}: "
        f"{n} hop{'s' if n != 1 else ''}"
    )
    for i, h in enumerate(hops, 1):
        echo(f"  {i}. {_hop_text(kg, h, color)}")
        echo(f"     {_where(h.path, h.line)}  {_quote(h.text)}")
    if also:
        echo(style("  also said together in:", color, bold=True))
        for n, ev in also:
            echo(f"    {kg.label(n)}")
            for where, text in _distinct_evidence(ev):
                echo(f"      {where}  {_quote(text)}")


def _distinct_evidence(hops: list[Hop]) -> list[tuple[str, str]]:
    """Evidence lines once each; on one line, a sentence wins over the bare title it contains."""
    out: dict[str, str] = {}
    for h in hops:
        where = _where(h.path, h.line)
        text = h.text or ""
        if where not in out or len(text) > len(out[where]):
            out[where] = text
    return list(out.items())


def _hop_json(kg: KnowledgeGraph, h: Hop) -> dict:
    return {
        "source": h.source,
        "target": h.target,
        "source_label": kg.label(h.source),
        "target_label": kg.label(h.target),
        "kind": h.kind,
        "evidence": {"path": h.path, "line": h.line, "text": h.text},
    }


def _hop_text(kg: KnowledgeGraph, h: Hop, color: bool) -> str:
    kind = style(h.kind, color, fg="cyan")
    if h.forward:
        return f"{kg.label(h.source)} –{kind}→ {kg.label(h.target)}"
    return f"{kg.label(h.target)} ←{kind}– {kg.label(h.source)}"


@click.command()
@click.argument("topic", callback=_non_empty)
@depth_option(1, "How many hops out.")
@limit_option("topics", 20, json_lists_all=True)
@json_option
@click.pass_context
@repairing
def neighbors(ctx: click.Context, topic: str, depth: int, limit: int, as_json: bool) -> None:
    """Topics within N hops of a topic (edges taken both ways), nearest first.

    \b
    Examples:
      kb neighbors resnet
      kb neighbors resnet -n 0     # all of them, not the first 20
      kb neighbors relu --depth 2 --json
    """
    kg, _ = _open(ctx)
    node = kg.find(topic)
    found = kg.neighbourhood(node, depth)
    rows = sorted(
        (dist, kg.node(n)["kind"], kg.label(n).casefold(), n)
        for n, dist in found.items()
        if n != node
    )
    if as_json:
        emit_json(
            {
                "id": node,
                "label": kg.label(node),
                "depth": depth,
                "neighbors": [
                    {
                        "id": n,
                        "label": kg.label(n),
                        "kind": kind,
                        "path": kg.node(n)["path"],
                        "line": kg.node(n)["line"],
                        "distance": dist,
                    }
                    for dist, kind, _, n in rows
                ],
            }
        )
        return
    color = use_color()
    echo(f"{style(kg.label(node), color, bold=True)}: {len(rows)} within {depth} hop(s)")
    for dist, kind, _, n in _first(rows, limit):
        where = _where(kg.node(n)["path"], kg.node(n)["line"])
        echo(f"  {dist}  {kind:<8} {kg.label(n)}  {style(where, color, dim=True)}".rstrip())
    _more(rows, limit, "  ")


@click.command()
@json_option
@click.pass_context
@repairing
def tags(ctx: click.Context, as_json: bool) -> None:
    """Every tag with its number of notes; nested tags under their parent.

    A parent tag counts the notes carrying it or any tag nested under it.

    \b
    Example:
      kb tags
    """
    kg, _ = _open(ctx)
    counts = kg.tags()
    if as_json:
        emit_json([{"tag": t.name, "notes": t.notes, "depth": t.depth} for t in counts])
        return
    if not counts:
        echo("No tags.")
    width = len(str(max(t.notes for t in counts))) if counts else 1
    for t in counts:
        echo(f"{t.notes:>{width}}  {'  ' * t.depth}#{t.name}")


@click.command()
@json_option
@click.pass_context
@repairing
def orphans(ctx: click.Context, as_json: bool) -> None:
    """Notes with no links in or out (links to missing notes do not count).

    \b
    Example:
      kb orphans
    """
    kg, _ = _open(ctx)
    found = kg.orphans()
    if as_json:
        emit_json(found)
        return
    for p in found:
        echo(p)
    if not found:
        echo("No orphans.", err=True)


@click.command()
@limit_option("items of each kind", 20, json_lists_all=True)
@json_option
@click.pass_context
@repairing
def doctor(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Broken and ambiguous links, embeds of missing files, front matter that did not
    parse (and other notes read around a problem), files kb did not read, and plain-text
    mentions of notes that could be links. Always exits 0.

    \b
    Examples:
      kb doctor
      kb doctor -n 0              # every item, not the first 20 of each kind
      kb doctor --json | jq '.broken'
    """
    from kb.checks import check_links

    kg, store = _open(ctx)
    notes = store.notes()
    report = check_links(notes.values(), kg.resolver(), ctx.obj.vault.attachments())
    suggestions = kg.link_suggestions()
    problems = {
        "broken": [_problem(p) for p in report.broken],
        "ambiguous": [_problem(p) for p in report.ambiguous],
        "missing_embeds": [_problem(p) for p in report.missing_embeds],
        "bad_frontmatter": [
            {"path": w.path, "warnings": list(w.warnings)} for w in report.bad_frontmatter
        ],
        "skipped": [{"path": p, "reason": why} for p, why in sorted(store.skipped().items())],
        "orphans": report.orphans,
        "suggestions": suggestions,
    }
    if as_json:
        emit_json({"notes": report.notes, "links": report.links, **problems})
        return
    color = use_color()
    echo(f"{report.notes} notes, {report.links} links")
    titles = {
        "broken": "broken links",
        "ambiguous": "ambiguous links (several notes share the name)",
        "missing_embeds": "embeds and links of missing files",
        "bad_frontmatter": "notes read around a problem (front matter, encoding, nesting…)",
        "skipped": "files not read (binary, unreadable, symlinks out of the vault…)",
        "orphans": "orphans (no links in or out)",
        "suggestions": "unlinked mentions of notes (could be links)",
    }
    for key, title in titles.items():
        items = problems[key]
        mark = style("✓", color, fg="green") if not items else style("!", color, fg="yellow")
        echo(f"{mark} {title}: {len(items)}")
        for item in _first(items, limit):
            echo("    " + _problem_text(key, item))
        _more(items, limit)


def _problem(p) -> dict:
    out = {"path": p.path, "line": p.line, "target": p.target, "context": p.context}
    if p.candidates:
        out["candidates"] = list(p.candidates)
    return out


def _problem_text(key: str, item) -> str:
    if key == "orphans":
        return item
    if key == "bad_frontmatter":
        return f"{item['path']}: " + "; ".join(item["warnings"])
    if key == "skipped":
        return f"{item['path']}: {item['reason']}"
    if key == "suggestions":
        return (
            f"{_where(item['path'], item['line'])}  [[{item['target']}]]  {_quote(item['context'])}"
        )
    extra = f"  → {', '.join(item['candidates'])}" if item.get("candidates") else ""
    return f"{_where(item['path'], item['line'])}  {item['target']}{extra}"


FORMATS = ("html", "json", "graphml", "gexf")


def slug(text: str) -> str:
    """A file name for a topic: lower case, letters (CJK included) and digits, dashes between."""
    s = re.sub(r"[^\w]+", "-", text.casefold(), flags=re.UNICODE).strip("-_")
    return s[:80] or "graph"


@click.command()
@click.option(
    "--topic", "-t", metavar="TOPIC", callback=_non_empty, help="Centre the graph on this topic."
)
@depth_option(2, "Hops around the topic.")
@click.option("--all", "all_", is_flag=True, help="The whole vault instead of one topic.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option("--out", "-o", metavar="FILE", help="Where to write ('-' for stdout).")
@click.option("--open", "open_", is_flag=True, help="Open the HTML file in a browser.")
@click.option("--force", is_flag=True, help="Overwrite the --out file even if kb did not write it.")
@click.option(
    "--max-nodes",
    default=1500,
    show_default=True,
    type=click.IntRange(min=1),
    help="Most nodes an HTML graph shows.",
)
@click.pass_context
@repairing
def graph(
    ctx: click.Context,
    topic: str | None,
    depth: int,
    all_: bool,
    fmt: str,
    out: str | None,
    open_: bool,
    force: bool,
    max_nodes: int,
) -> None:
    """Export a topic's neighbourhood (or the whole vault) as interactive HTML, JSON, GraphML
    or GEXF. HTML goes to graph/<topic>.html under the current folder unless --out says
    otherwise (inside a vault it goes to kb's data folder: kb never writes into a vault).

    \b
    Examples:
      kb graph --topic resnet               # graph/resnet.html
      kb graph --topic relu --depth 1 --open
      kb graph --all --format graphml --out vault.graphml
      kb graph --topic resnet --format json --out - | jq '.nodes | length'
    """
    from kb.export import check_out, write_data, write_html

    if topic is None and not all_:
        raise click.UsageError("give --topic TOPIC, or --all for the whole vault")
    vault = ctx.obj.vault
    kg, _ = _open(ctx)
    if all_:
        G, focus, name = kg.graph, None, vault.name
    else:
        focus = kg.find(topic or "")
        G, name = kg.subgraph(kg.neighbourhood(focus, depth)), topic or ""
    if out == "-":
        if fmt == "html":
            raise click.UsageError("HTML needs a file: pass --out FILE.html")
        write_data(G, sys.stdout, fmt)
        return
    target = Path(out) if out else _default_out(vault, slug(name), fmt)
    if check_out(target, vault.root, vault.data_dir) and not force:
        question = f"{target} exists and kb did not write it; overwrite it?"
        if not (sys.stdin.isatty() and click.confirm(question, err=True)):
            raise click.ClickException(
                f"{target} exists and kb did not write it; not overwritten "
                "(pass --force to overwrite it, or choose another --out)"
            )
    if vault.data_dir in target.absolute().parents:
        vault.ensure_data_dir()  # kb's own folder: marked, and no symlink in it
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        result = write_html(
            G,
            target,
            focus=focus,
            title=kg.label(focus) if focus else vault.name,
            vault_root=vault.root,
            vault_name=vault.name,
            max_nodes=max_nodes,
        )
        echo(_shown(result.path))
        if result.nodes_omitted:
            echo(
                f"{result.nodes_shown} nodes shown, {result.nodes_omitted} omitted "
                f"(raise --max-nodes or lower --depth)",
                err=True,
            )
        if open_:
            click.launch(str(result.path))
    else:
        write_data(G, target, fmt)
        echo(_shown(target))


def _shown(path: Path) -> str:
    """A written file's path as the user would type it: relative when under the current folder."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _default_out(vault, name: str, fmt: str) -> Path:
    """graph/<name>.<fmt> under the current folder; under kb's data folder inside a vault."""
    here = Path.cwd().resolve()
    inside = here == vault.root or vault.root in here.parents
    return (vault.data_dir if inside else here) / "graph" / f"{name}.{fmt}"
