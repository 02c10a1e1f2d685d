"""Terminal output shared by the commands: colour only on a terminal, JSON, progress."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

HL_START, HL_END = "\x02", "\x03"
"""Markers around matched words in snippets (see kb.model.Hit.snippet)."""


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def style(text: str, color: bool, **kw: Any) -> str:
    """click.style when colour is on, else the text unchanged."""
    return click.style(text, **kw) if color else text


def highlight(snippet: str, color: bool) -> str:
    """Render snippet markers: bold red on a terminal, plain text otherwise."""
    if color:
        return snippet.replace(HL_START, "\x1b[1;31m").replace(HL_END, "\x1b[0m")
    return snippet.replace(HL_START, "").replace(HL_END, "")


def plain(snippet: str) -> str:
    """A snippet without highlight markers."""
    return highlight(snippet, False)


def emit_json(obj: Any) -> None:
    """Print JSON for scripts: UTF-8, not ASCII-escaped, indented."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=_default))


def _default(o: Any) -> Any:
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


@contextmanager
def progress(label: str, min_items: int = 200) -> Iterator[Callable[[int, int], None]]:
    """A callback (done, total) drawing a progress bar on stderr when it is a terminal."""
    bar = None
    last = 0

    def update(done: int, total: int) -> None:
        nonlocal bar, last
        if bar is None:
            if total < min_items or not sys.stderr.isatty():
                return
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - last)
        last = done

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def limit_option(what: str, default: int = 10, zero_means_all: bool = False):
    """``-n/--limit N``: show at most N of ``what``; with ``zero_means_all``, 0 shows all."""
    more = " (0: all). --json always lists all." if zero_means_all else "."
    return click.option(
        "-n",
        "--limit",
        default=default,
        show_default=True,
        type=click.IntRange(min=0 if zero_means_all else 1),
        metavar="N",
        help=f"Show at most N {what}{more}",
    )
