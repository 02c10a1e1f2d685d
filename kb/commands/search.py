"""`kb search` and `kb related`: full-text search of every section, and notes alike."""

from __future__ import annotations

import difflib
import re
import sys
from typing import TYPE_CHECKING

import click

from kb import api
from kb.api import breadcrumb
from kb.errors import IndexDamaged, notice
from kb.output import (
    echo,
    emit_json,
    highlight,
    json_option,
    limit_option,
    more_line,
    progress,
    style,
    use_color,
    warn,
)

if TYPE_CHECKING:
    from kb.refresh import Updated


def _refresh(vault) -> Updated:
    """Pick up changed notes (a stat scan; unchanged files are not read), then the index.

    While another kb process is updating the index, search the index as it is rather than
    wait; wait (at most ``KB_LOCK_TIMEOUT`` seconds) only when there is no index yet.
    """
    from kb.refresh import refreshed

    done = refreshed(vault, as_is=True, search=True, progress=progress)
    warn(done.changes.warnings())
    return done


def _rebuilding(vault, no_refresh: bool, read):
    """``read()``; when it finds the index damaged (or planted), rebuild it and read again.

    With --no-refresh the index is not touched: the one-line error says what to run.
    """
    try:
        return read()
    except IndexDamaged as e:
        if no_refresh:
            raise
        from kb.refresh import update

        notice(f"the search index in {e.folder} is damaged ({e.problem}); rebuilding it")
        update(vault, search=True, full_index=True, progress=progress)
    return read()


def no_refresh_option(action: str):
    """``--no-refresh``: skip reading changed notes; ``action`` says what is done instead."""
    return click.option(
        "--no-refresh",
        is_flag=True,
        help=f"{action}, without looking for changed notes first.",
    )


class _QueryCommand(click.Command):
    """A command whose unknown ``-word`` arguments are query words (``kb search relu -dead``).

    click's ``ignore_unknown_options`` would pass a mistyped ``--jsno`` on as a word too and
    search for it; a ``--long`` word before ``--`` is refused as an option instead.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        known = {o for p in self.get_params(ctx) for o in (*p.opts, *p.secondary_opts)}
        for arg in args:
            if arg == "--":
                break  # everything after it is a word
            name = arg.split("=", 1)[0]
            if _LONG_OPTION.fullmatch(name) and name not in known:
                longs = sorted(o for o in known if o.startswith("--"))
                raise click.NoSuchOption(
                    name, possibilities=difflib.get_close_matches(name, longs), ctx=ctx
                )
        return super().parse_args(ctx, args)


_LONG_OPTION = re.compile(r"--[^\W_][\w-]*")


# ignore_unknown_options: `kb search relu -dead` passes "-dead" on as a query word.
@click.command(cls=_QueryCommand, context_settings={"ignore_unknown_options": True})
@click.argument("query", nargs=-1, required=True)
@limit_option("hits")
@no_refresh_option("Search the index as it is")
@json_option
@click.pass_obj
def search(app, query: tuple[str, ...], limit: int, no_refresh: bool, as_json: bool) -> None:
    """Full-text search of every section, in Chinese and English.

    Words are ANDed. Also: OR, NOT or -word, "a phrase", prefix*, fuzzy~,
    (groups), and the filters tag:NAME, path:PREFIX (or file:), title:WORD
    (a title or alias) and section:WORD (in the note › heading breadcrumb).
    English words match in any case and form (ReLU = relu, losses = loss);
    Chinese is cut into words, so 知识蒸馏 finds it inside a sentence;
    1x1 = 1×1 = $1\\times1$.

    Before searching, notes changed since the last run are read again
    (--no-refresh skips that). Exit status: 0 with hits, 1 with none
    (like grep), 2 for an error (a query that cannot be understood, no vault). Quote a query
    whose -word could pass for an option (kb search 'relu -network'), or put
    it after -- (kb search -- -relu dead).

    \b
    Examples:
      kb search relu
      kb search 知识蒸馏
      kb search "soft target" -n 5
      kb search bottleneck OR 1x1卷积 tag:cnn
      kb search 'conv* -resnet path:topics/'
      kb search relu -dead --json
    """
    from kb import index

    vault = app.vault
    text = " ".join(query)
    done = None if no_refresh else _refresh(vault)
    # One hit more than shown tells whether the list was cut (-n 0: every hit).
    wanted = limit + 1 if limit else None
    hits = _rebuilding(vault, no_refresh, lambda: api.search_hits(vault, text, wanted))
    cut, hits = len(hits) > limit > 0, hits[: limit or None]
    if as_json:
        emit_json([api.hit_json(h) for h in hits])
    else:
        color = use_color()
        for h in hits:
            location = style(h.path, color, fg="magenta") + style(f":{h.line}", color, fg="green")
            crumbs = style(" › ".join(breadcrumb(h.heading)), color, bold=True)
            echo(f"{location}  {crumbs}")
            if h.snippet:
                echo("    " + highlight(h.snippet, color))
            if h.also:
                echo("    " + style("also as: " + "; ".join(h.also), color, dim=True))
        if cut:
            echo(more_line(None))
    if not hits:
        # On stderr, so that --json output stays a plain [] for scripts.
        empty = done is not None and done.store.totals().notes == 0
        why = f": {vault.root} holds no Markdown notes" if empty else ""
        echo(f"no hits for {text!r}{why}", err=True)
        for alternative in index.suggest(vault, text):
            echo(f"did you mean: kb search {alternative}", err=True)
        # SystemExit rather than click's Exit: kb.cli.main runs click with
        # standalone_mode=False, which turns Exit into a return value.
        sys.exit(1)


@click.command()
@click.argument("note")
@limit_option("notes")
@no_refresh_option("Use the index as it is")
@json_option
@click.pass_obj
def related(app, note: str, limit: int, no_refresh: bool, as_json: bool) -> None:
    """Notes most like a given note.

    NOTE is a title, an alias or a vault-relative path. Likeness is the
    words the notes share, weighted by how rare they are in the vault
    (more-like-this over the text of every section).

    \b
    Examples:
      kb related ReLU
      kb related topics/ResNet.md -n 5
      kb related 残差网络 --json
    """
    vault = app.vault
    wanted = limit + 1 if limit else None  # one more than shown: was the list cut?
    if not no_refresh:
        _refresh(vault)
    found = _rebuilding(vault, no_refresh, lambda: api.related_to(vault, note, wanted))
    if found.via:
        echo(api.via_text(note, found.via), err=True)
    hits = found.hits
    cut, hits = len(hits) > limit > 0, hits[: limit or None]
    if as_json:
        emit_json([api.hit_json(h, heading=False) for h in hits])
        return
    color = use_color()
    for h in hits:
        location = style(h.path, color, fg="magenta")
        line = f"{location}  {style(h.title, color, bold=True)}  ({h.score:.2f})"
        if h.snippet:
            line += "  " + highlight(h.snippet, color)
        echo(line)
    if cut:
        echo(more_line(None))
    if not hits:
        echo("no related notes found", err=True)
