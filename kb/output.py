"""Terminal output shared by the commands: colour only on a terminal, JSON, progress."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

HL_START, HL_END = "\x02", "\x03"
"""Markers around matched words in snippets (see kb.model.Hit.snippet)."""


# What a note or a file name could use to take over a terminal: escape sequences (CSI such as
# \e[2J, OSC such as \e]0;title\a or OSC 8 links, DCS/SOS/PM/APC strings, two-byte ESC x), in
# their 7-bit and 8-bit (C1) forms, then any C0 or C1 control left (tab and newline aside) and
# the bidi embeddings, overrides and isolates that make a line read other than it is.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI: parameters, intermediates, a final byte
    r"|(?:\x1b[]PX^_]|[\x90\x98\x9d-\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # strings
    r"|\x1b[ -/]*[0-~]?"  # any other ESC sequence, or a lone ESC
)
# ESC itself is left to _SEQUENCE, which takes every ESC but those of kb's own colours.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_KB_STYLE = frozenset({"", "0", "1", "2", "22", "31", "32", "33", "35", "36", "39"})
"""SGR parameters kb's own colours use (click.style, :func:`highlight`): kept on a terminal."""


def clean(text: str, keep_style: bool = False) -> str:
    """``text`` safe to print on a terminal: no escape sequence, control or bidi override.

    Every string from a note or a file name that kb prints goes through here (by way of
    :func:`echo`); tab and newline are kept. ``keep_style`` keeps the colour sequences kb
    itself writes (bold, dim, a few colours), and only those.
    """

    def sequence(m: re.Match[str]) -> str:
        seq = m.group()
        if keep_style and seq.startswith("\x1b[") and seq.endswith("m"):
            if all(p in _KB_STYLE for p in seq[2:-1].split(";")):
                return seq
        return ""

    if text.isprintable() and "\x1b" not in text:
        return text  # the common case: nothing to strip (isprintable is false for any control)
    return _CONTROL.sub("", _SEQUENCE.sub(sequence, text))


def echo(text: str = "", err: bool = False) -> None:
    """Print one line of a command's output (stderr with ``err``), cleaned by :func:`clean`,
    with a newline or carriage return in it shown as ``\\n``/``\\r`` and cut at
    :data:`MAX_LINE` characters.

    The one way commands print text, so that nothing from a note reaches the terminal raw;
    kb's own colours survive only when the stream is a terminal that gets colour.
    """
    stream = sys.stderr if err else sys.stdout
    if "\n" in text or "\r" in text:
        # one line stays one line: a file name with a newline must not forge a second result
        text = text.replace("\r", "\\r").replace("\n", "\\n")
    if len(text) > MAX_LINE:
        text = text[:MAX_LINE] + f"… ({len(text) - MAX_LINE:,} more characters)"
    click.echo(clean(text, keep_style=use_color(stream)), err=err)


MAX_LINE = 2000
"""Characters of one output line; a longer one (a megabyte-long heading) is cut, saying so."""


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
    """Print JSON for scripts: UTF-8, not ASCII-escaped, indented.

    json.dumps escapes C0 controls (ESC is ``\\u001b``) but with ensure_ascii=False writes DEL,
    C1 controls and bidi overrides raw: those are escaped too, so the data is all there for a
    script and nothing of it acts on a terminal that shows the JSON.
    """
    text = json.dumps(obj, ensure_ascii=False, indent=2, default=_default)
    click.echo(_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def _default(o: Any) -> Any:
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


SHOW_AFTER = 1.0
"""Seconds after which a phase shows on a terminal whatever its size (a short one stays quiet)."""


def _terminal(stream: Any) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress(label: str, min_items: int = 200) -> Iterator[Callable[[int, int], None]]:
    """A callback (done, total) drawing a progress bar on stderr when it is a terminal.

    The bar shows at once for ``min_items`` or more, else once the phase has taken
    :data:`SHOW_AFTER` seconds. A call with ``total`` 0 is a step with no count (writing
    what was read, waiting for another process): the label and the seconds so far, kept
    on the terminal when the step took :data:`SHOW_AFTER` seconds or more. Never on stdout.
    """
    started = time.monotonic()
    bar = None
    last = 0
    finished = False
    step: float | None = None  # when the step with no count began

    def update(done: int, total: int) -> None:
        nonlocal bar, last, finished, step
        if not _terminal(sys.stderr):
            return
        now = time.monotonic()
        if total <= 0:
            close_bar()
            step = now if step is None else step
            seconds = f" {now - step:.0f} s" if now - step >= SHOW_AFTER else ""
            sys.stderr.write(f"\r{label}…{seconds}\x1b[K")
            sys.stderr.flush()
            return
        if finished:
            return
        if bar is None:
            if total < min_items and now - started < SHOW_AFTER:
                return
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - last)
        last = done
        if done >= total:
            close_bar()

    def close_bar() -> None:
        nonlocal bar, finished
        if bar is not None:
            bar.__exit__(None, None, None)
            bar = None
            finished = True

    try:
        yield update
    finally:
        close_bar()
        if step is not None:
            seconds = time.monotonic() - step
            if seconds >= SHOW_AFTER:
                sys.stderr.write(f"\r{label}… {seconds:.1f} s\x1b[K\n")
            else:
                sys.stderr.write("\r\x1b[K")  # short: the line goes again
            sys.stderr.flush()


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--json``: print JSON for scripts. An error then also prints JSON on stdout (``error``,
    and ``did_you_mean`` for a name that is no topic) besides its line on stderr, so a script
    reading stdout gets an answer it can parse."""
    from kb.errors import KbError, TopicNotFound

    @functools.wraps(f)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except KbError as e:
            if kwargs.get("as_json"):
                answer: dict[str, Any] = {"error": str(e)}
                if isinstance(e, TopicNotFound):
                    answer["did_you_mean"] = e.suggestions
                emit_json(answer)
            raise

    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(run)


def limit_option(what: str, default: int = 10, json_lists_all: bool = False):
    """``-n/--limit N``: show at most N of ``what``, 0 for all (the same on every command).

    ``json_lists_all``: ``--json`` lists everything whatever N (a card's or a report's lists).
    """
    more = " --json always lists all." if json_lists_all else ""
    return click.option(
        "-n",
        "--limit",
        default=default,
        show_default=True,
        type=click.IntRange(min=0),
        metavar="N",
        help=f"Show at most N {what} (0: all).{more}",
    )


def more_line(left_out: int | None) -> str:
    """The line that ends a list cut by ``-n``; ``None`` when how many is not known."""
    if left_out is None:
        return "… more (-n 0 for all)"
    return f"… {left_out} more (-n 0 for all)"


def warn(warnings: dict[str, tuple[str, ...]]) -> None:
    """One line on stderr per problem of a file kb read (``warning: PATH: REASON``)."""
    for path, reasons in warnings.items():
        for reason in reasons:
            echo(f"warning: {path}: {reason}", err=True)
