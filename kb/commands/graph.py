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

from kb import api
from kb.errors import notice
from kb.nodes import SAID_WITH
from kb.output import (
    echo,
    emit_json,
    json_option,
    limit_option,
    more_line,
    progress,
    style,
    use_color,
    warn,
)

if TYPE_CHECKING:
    from kb.graph.queries import KnowledgeGraph
    from kb.store import Store


def _open(ctx: click.Context) -> tuple[KnowledgeGraph, Store]:
    """The vault's graph, after reading whatever changed in the vault."""
    from kb.refresh import refreshed

    done = refreshed(ctx.obj.vault, as_is=True, load_graph=True, progress=progress)
    warn(done.changes.warnings())
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


def depth_option(default: int, help: str, least: int = 0):
    """``-d/--depth N``: hops around a topic (at least ``least``)."""
    return click.option(
        "--depth",
        "-d",
        default=default,
        show_default=True,
        type=click.IntRange(min=least),
        help=help,
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
    kg, _ = _open(ctx)
    found: list = []  # the sections saying a name that is no topic, as hits
    # The related topics are ranked on the way (a busy topic has thousands of candidates):
    # as many as shown, one more to know whether some were left out; all with -n 0.
    from kb.graph.queries import RELATED_SHOWN

    related = 0 if limit == 0 else max(limit, RELATED_SHOWN) + 1
    card = api.show(
        kg, topic, lambda name: found.extend(_found_in(ctx, name)) or found, related=related
    )
    related_cut = bool(related) and len(card.get("related", ())) >= related
    if related_cut:
        card["related"] = card["related"][: related - 1]
    if as_json:
        emit_json(card)
        return
    if card["kind"] == "not a topic":
        _not_a_topic(topic, found, card["did_you_mean"], limit)
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
    if card.get("also_named"):
        echo(f"  {'also':<9} " + ", ".join(card["also_named"]) + f" (named {topic!r} too)")

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
        _listing(title, card[key], limit, color, lines, cut=key == "related" and related_cut)


def _found_in(ctx: click.Context, topic: str) -> list:
    """The sections whose text says ``topic``, for a name that is no topic."""
    from kb.commands.search import _rebuilding, _refresh

    _refresh(ctx.obj.vault)
    return _rebuilding(ctx.obj.vault, False, lambda: api.found_in(ctx.obj.vault, topic))


def _not_a_topic(topic: str, hits: list, suggestions: list[str], limit: int) -> None:
    """The card of a name that is no topic but that notes say: where they say it."""
    from kb.api import FOUND_MAX, breadcrumb
    from kb.output import highlight

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


def _listing(title: str, items: list, limit: int, color: bool, lines, cut: bool = False) -> None:
    """A titled list of a card: its count, its first ``limit`` entries, how many were left out
    (``cut``: the card itself holds only some, so that count is not known)."""
    _section(title, items, color, cut)
    for e in _first(items, limit):
        for line in lines(e):
            echo(f"    {line}")
    if cut:
        echo("    " + more_line(None))
    else:
        _more(items, limit)


def _section(title: str, items: list, color: bool, cut: bool = False) -> None:
    if items:
        echo(style(f"  {title} ({len(items)}{'+' * cut})", color, bold=True))


@click.command()
@click.argument("a", callback=_non_empty)
@click.argument("b", callback=_non_empty)
@limit_option("places and topics that also join the two", 10, json_lists_all=True)
@json_option
@click.pass_context
@repairing
def path(ctx: click.Context, a: str, b: str, limit: int, as_json: bool) -> None:
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
    found = api.find_path(kg, a, b)
    src, dst, hops = found["from"], found["to"], found["hops"]
    if as_json:
        emit_json(found)
    if hops == []:
        if not as_json:
            echo(f"{kg.label(src)} and {kg.label(dst)} are the same topic.")
        return
    if hops is None:
        echo(f"{kg.label(src)} and {kg.label(dst)} are not connected.", err=True)
        ctx.exit(1)
    if as_json:
        return
    color = use_color()
    n = len(hops)
    echo(
        f"{style(kg.label(src), color, bold=True)} → {style(kg.label(dst), color, bold=True)}: "
        f"{n} hop{'s' if n != 1 else ''}"
    )
    at = src  # the hops are walked from src: each one forward or against its edge
    for i, h in enumerate(hops, 1):
        echo(f"  {i}. {_hop_text(h, at, color)}  ({h['strength']}, cost {h['cost']:g})")
        ev = h["evidence"]
        echo(f"     {_where(ev['path'], ev['line'])}  {_quote(ev['text'])}")
        at = h["target"] if h["source"] == at else h["source"]
    for reason in found["weak"]:
        echo(style(f"  weak: {reason}", color, fg="yellow"))
    if found["also"]:
        echo(style("  also joined by:", color, bold=True))
        for via in found["also"][: limit or None]:
            echo(f"    {via['label']}")
            for where, text in _distinct_evidence(via["evidence"]):
                echo(f"      {where}  {_quote(text)}")
        _more(found["also"], limit)


def _distinct_evidence(hops: list[dict]) -> list[tuple[str, str]]:
    """Evidence lines once each; on one line, a sentence wins over the bare title it contains."""
    out: dict[str, str] = {}
    for h in hops:
        where = _where(h["evidence"]["path"], h["evidence"]["line"])
        text = h["evidence"]["text"] or ""
        if where not in out or len(text) > len(out[where]):
            out[where] = text
    return list(out.items())


def _hop_text(h: dict, at: str, color: bool) -> str:
    """A hop walked from ``at``: the arrow as the edge points."""
    kind = style(h["kind"], color, fg="cyan")
    if h["kind"] == SAID_WITH:  # one sentence names both: no direction
        first, then = (
            (h["source"], h["target"]) if h["source"] == at else (h["target"], h["source"])
        )
        label = {h["source"]: h["source_label"], h["target"]: h["target_label"]}
        return f"{label[first]} –{kind}– {label[then]}"
    if h["source"] == at:
        return f"{h['source_label']} –{kind}→ {h['target_label']}"
    return f"{h['target_label']} ←{kind}– {h['source_label']}"


@click.command()
@click.argument("topic", callback=_non_empty)
@depth_option(1, "How many hops out.", least=1)
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
    found = api.neighbors(kg, topic, depth)
    if as_json:
        emit_json(found)
        return
    color = use_color()
    rows = found["neighbors"]
    echo(f"{style(found['label'], color, bold=True)}: {len(rows)} within {depth} hop(s)")
    for n in _first(rows, limit):
        where = _where(n["path"], n["line"])
        line = f"  {n['distance']}  {n['kind']:<8} {n['label']}  {style(where, color, dim=True)}"
        echo(line.rstrip())
    _more(rows, limit, "  ")


@click.command()
@limit_option("tags", 0)
@json_option
@click.pass_context
@repairing
def tags(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Every tag with its number of notes; nested tags under their parent.

    A parent tag counts the notes carrying it or any tag nested under it.

    \b
    Example:
      kb tags
    """
    kg, _ = _open(ctx)
    counts = api.tags(kg)
    if as_json:
        emit_json(_first(counts, limit))
        return
    if not counts:
        echo("No tags.")
    width = len(str(max(t["notes"] for t in counts))) if counts else 1
    for t in _first(counts, limit):
        echo(f"{t['notes']:>{width}}  {'  ' * t['depth']}#{t['tag']}")
    _more(counts, limit, indent="")


@click.command()
@limit_option("notes", 0)
@json_option
@click.pass_context
@repairing
def orphans(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Notes with no links in or out (links to missing notes do not count).

    \b
    Example:
      kb orphans
    """
    kg, _ = _open(ctx)
    found = kg.orphans()
    if as_json:
        emit_json(_first(found, limit))
        return
    for p in _first(found, limit):
        echo(p)
    _more(found, limit, indent="")
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
    kg, store = _open(ctx)
    problems = api.doctor(ctx.obj.vault, kg, store)
    if as_json:
        emit_json(problems)
        return
    color = use_color()
    echo(f"{problems['notes']} notes, {problems['links']} links")
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
@depth_option(1, "Hops around the topic.")
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
    help="Most nodes an HTML graph shows (the nearest the topic).",
)
@click.option(
    "--max-edges",
    default=6000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Most edges an HTML graph shows (each node keeps its strongest).",
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
    max_edges: int,
) -> None:
    """Export a topic's neighbourhood (or the whole vault) as interactive HTML, JSON, GraphML
    or GEXF. HTML goes to graph/<topic>.html under the current folder unless --out says
    otherwise (inside a vault it goes to kb's data folder: kb never writes into a vault).

    \b
    Examples:
      kb graph --topic resnet               # graph/resnet.html
      kb graph --topic relu --depth 2 --open
      kb graph --all --format graphml --out vault.graphml
      kb graph --topic resnet --format json --out - | jq '.nodes | length'
    """
    from kb.export import check_out, write_data, write_html

    if topic is None and not all_:
        raise click.UsageError("give --topic TOPIC, or --all for the whole vault")
    vault = ctx.obj.vault
    kg, _ = _open(ctx)
    nodes_out = edges_out = 0
    if all_:
        G, focus, name = kg.topic_graph(), None, vault.name
    elif fmt == "html":  # the page draws the nearest topics and their strongest edges alone
        focus = kg.find(topic or "")
        G, nodes_out, edges_out = kg.topic_page(focus, depth, max_nodes, max_edges)
        name = topic or ""
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
            max_edges=max_edges,
            nodes_left_out=nodes_out,
            edges_left_out=edges_out,
        )
        echo(_shown(result.path))
        if result.nodes_omitted:
            echo(
                f"{result.nodes_shown} nodes shown, {result.nodes_omitted} omitted "
                + (
                    "(raise --max-nodes, or draw one --topic)"
                    if all_
                    else "(raise --max-nodes or lower --depth)"
                ),
                err=True,
            )
        if result.edges_omitted:
            echo(
                f"{result.edges_shown} edges shown, {result.edges_omitted} omitted "
                f"(raise --max-edges)",
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
