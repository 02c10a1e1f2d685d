"""The ``kb`` command line: global options, error handling, lazily loaded commands.

Each command lives in ``kb/commands/`` and is imported only when it runs, so
``kb search`` pays neither for networkx nor for pyvis.
"""

from __future__ import annotations

import importlib
import os
import signal
import sqlite3
import sys

import click

from kb.errors import KbError

# name -> "module:function". Order is the order of `kb --help`.
COMMANDS: dict[str, str] = {
    "index": "kb.commands.core:index",
    "stats": "kb.commands.core:stats",
    "search": "kb.commands.search:search",
    "related": "kb.commands.search:related",
    "show": "kb.commands.graph:show",
    "path": "kb.commands.graph:path",
    "neighbors": "kb.commands.graph:neighbors",
    "tags": "kb.commands.graph:tags",
    "orphans": "kb.commands.graph:orphans",
    "doctor": "kb.commands.graph:doctor",
    "graph": "kb.commands.graph:graph",
    "mcp": "kb.commands.mcp:mcp",
    "serve": "kb.commands.serve:serve",
    "watch": "kb.commands.serve:watch",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (see click's docs on lazy loading)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module, attr = spec.split(":")
        return getattr(importlib.import_module(module), attr)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if name in COMMANDS or name.startswith("-"):
            return super().resolve_command(ctx, args)
        import difflib

        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise click.UsageError(f"No such command '{name}'.{hint}", ctx)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, globals_first(args))

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as e:  # a mistyped global option: `kb --vaul x search`
            raise OneLineUsageError.of(e) from None

    def invoke(self, ctx: click.Context):
        # ctx.obj (the App, which knows --debug) is made by the group callback, inside
        # super().invoke: read it when something has gone wrong, not before.
        def debug() -> bool:
            return isinstance(ctx.obj, App) and ctx.obj.debug

        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # `kb search x | head`: the reader has all it wanted. Not an error (click would
            # exit 1, which kb uses for "nothing found").
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the final flush goes nowhere
            raise click.exceptions.Exit(0) from None
        except KbError as e:
            if debug():
                raise
            raise _as_click(e) from None
        except (OSError, sqlite3.Error) as e:
            # The machine's trouble, not kb's (disk full, permissions, a damaged .kb/ file):
            # one line, as for any other error.
            if debug():
                raise
            raise _as_click(KbError(_describe(e))) from None
        except click.UsageError as e:  # a mistyped option or argument of a command
            raise OneLineUsageError.of(e) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: exit codes, Ctrl-C
        except Exception as e:
            # A bug in kb (or in a library it uses): still one line, and how to learn more.
            if debug():
                raise
            detail = f"{type(e).__name__}: {e}".splitlines()[0][:200]
            raise _as_click(
                KbError(f"kb failed ({detail}); run it again with --debug to see where")
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help without importing every command module: read it from the module docstring
        # table below, kept in step with COMMANDS by tests/test_docs.py.
        rows = [(name, SUMMARIES.get(name, "")) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


GLOBAL_OPTIONS: dict[str, bool] = {"--vault": True, "--index-dir": True, "--debug": False}
"""kb's own options, which may also come after the command name: whether each takes a value."""


def globals_first(args: list[str]) -> list[str]:
    """``args`` with the global options given after the command moved before it.

    ``kb search relu --vault X`` is read as ``kb --vault X search relu``; nothing after
    ``--`` is moved (``kb search -- --debug`` searches for the word).
    """
    i = 0
    while i < len(args) and args[i].startswith("-"):  # the options before the command
        i += 2 if GLOBAL_OPTIONS.get(args[i]) else 1
    if i >= len(args):
        return args
    moved: list[str] = []
    rest: list[str] = []
    tail = args[i + 1 :]
    j = 0
    while j < len(tail):
        arg = tail[j]
        name = arg.split("=", 1)[0]
        if arg == "--":
            rest.extend(tail[j:])
            break
        if name in GLOBAL_OPTIONS and (arg == name or GLOBAL_OPTIONS[name]):
            width = 2 if arg == name and GLOBAL_OPTIONS[name] else 1  # `--vault X`: 2 args
            if j + width > len(tail):
                raise click.UsageError(f"Option '{name}' requires an argument.")
            moved.extend(tail[j : j + width])
            j += width
            continue
        rest.append(arg)
        j += 1
    return [*args[:i], *moved, args[i], *rest]


SUMMARIES: dict[str, str] = {
    "index": "Read the vault and bring kb's index and graph up to date.",
    "stats": "Count notes, sections, links, broken links, tags and orphans.",
    "search": "Full-text search of every section, in Chinese and English.",
    "related": "Notes most like a given note.",
    "show": "A card for a concept, note or tag: links, backlinks, mentions.",
    "path": "The shortest path between two topics, with the evidence for each hop.",
    "neighbors": "Topics within N hops of a topic.",
    "tags": "Every tag with its number of notes.",
    "orphans": "Notes with no links in or out.",
    "doctor": "Broken and ambiguous links, bad front matter, link suggestions.",
    "graph": "Export a topic's neighbourhood as interactive HTML, JSON, GraphML or GEXF.",
    "mcp": "Serve the vault to an AI assistant (an MCP server over stdio).",
    "serve": "A local web page: search, topic cards, paths and the graph, live.",
    "watch": "Keep the index and graph up to date while you edit notes.",
}


def _describe(e: BaseException) -> str:
    """One line for an OS or SQLite error, with what to try."""
    if isinstance(e, OSError):
        where = f" ({e.filename})" if e.filename else ""
        return f"{e.strerror or e}{where}"
    return f"kb's data could not be read or written ({e}); try `kb index --full`"


class OneLineUsageError(click.UsageError):
    """A usage error as one line: what is wrong, and where the help is (exit 2).

    click prints a usage error as four lines (usage, a hint, a blank line, the error); kb keeps
    every error to one line, as the hint already names the help.
    """

    @classmethod
    def of(cls, e: click.UsageError) -> OneLineUsageError:
        if isinstance(e, cls):
            return e
        from kb.output import clean

        err = cls(clean(e.format_message()), e.ctx)
        err.exit_code = e.exit_code
        return err

    def show(self, file=None) -> None:
        command = self.ctx.command_path if self.ctx is not None else "kb"
        help_name = self.ctx.help_option_names[0] if self.ctx is not None else "--help"
        message = self.format_message().rstrip()
        if not message.endswith((".", "?", "!")):
            message += "."
        click.echo(
            f"Error: {message} See '{command} {help_name}'.",
            file=file,
            err=True,
            color=self.ctx.color if self.ctx is not None else None,
        )


def _as_click(e: KbError) -> click.ClickException:
    """A KbError as the click exception that prints `Error: <message>` and exits with its code."""
    from kb.output import clean

    # A message may quote a note's name or a file name: nothing of it acts on the terminal.
    err = click.ClickException(clean(str(e)))
    err.exit_code = e.exit_code
    return err


class App:
    """What every command needs: the chosen vault, found lazily so `--help` never fails."""

    def __init__(self, vault: str | None, index_dir: str | None, debug: bool):
        self._vault_arg = vault
        self._index_dir = index_dir
        self.debug = debug
        self._vault = None

    @property
    def vault(self):
        """The vault (raises KbError with advice when none can be chosen)."""
        if self._vault is None:
            from kb.vault import find_vault

            self._vault = find_vault(self._vault_arg, self._index_dir)
        return self._vault


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--vault",
    metavar="PATH",
    help="The vault folder. Default: $KB_VAULT, else the nearest folder upwards "
    "holding .obsidian/ or .kb/, else ./vault.",
)
@click.option(
    "--index-dir",
    metavar="DIR",
    help="Where kb keeps its data (default <vault>/.kb; also $KB_INDEX_DIR). "
    "Use for read-only vaults.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="kb", prog_name="kb")
@click.pass_context
def cli(ctx: click.Context, vault: str | None, index_dir: str | None, debug: bool) -> None:
    """kb: a knowledge graph and full-text search for a Markdown (Obsidian) vault.

    \b
    Examples:
      kb index                     # read the vault (incremental)
      kb search relu               # full-text search, Chinese and English
      kb show resnet               # a topic's card: links, backlinks, mentions
      kb path resnet "1x1 conv"    # why two topics are connected
      kb graph --topic resnet      # interactive HTML graph in graph/resnet.html
      kb search relu --vault ~/Notes   # the options above go before or after the command
    """
    ctx.obj = App(vault, index_dir, debug)


def main() -> None:
    """Console entry point: run the CLI, turning KbErrors into one line on stderr."""
    # `kill` (SIGTERM) unwinds like Ctrl-C: worker processes are stopped and half-built data
    # cleaned up by the code's finally blocks, instead of being left running.
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    signal.signal(signal.SIGTERM, _terminate)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when ignored (`&`)
        # A terminal's Ctrl-C reaches every process of the group: the forked workers stop
        # without a traceback each, and kb itself unwinds as before.
        signal.signal(signal.SIGINT, _terminate)
    code = _run()
    # Everything kb writes is committed and closed by now. Exiting without tearing down the
    # interpreter skips freeing a large graph object by object (0.35 s on a 6,000-note vault).
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 0
    os._exit(code)


_MAIN_PID: int | None = None


def _terminate(signum: int, frame: object) -> None:
    if os.getpid() != _MAIN_PID:
        os._exit(128 + signum)  # a forked worker (parser, whoosh writer, graph): just stop
    raise KeyboardInterrupt


INTERRUPTED = "kb: interrupted; what it had finished is kept (run it again to go on from there)"


def _run() -> int:
    """Run the CLI and return the exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        code = cli.main(standalone_mode=False)
        return code if isinstance(code, int) else 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except click.exceptions.Abort as e:
        # click turns Ctrl-C into Abort (and so does a prompt's Ctrl-D): say which it was.
        ctrl_c = isinstance(e.__context__, KeyboardInterrupt)
        click.echo(INTERRUPTED if ctrl_c else "Aborted.", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except KbError as e:  # raised outside a command (while choosing the vault, say)
        if debug:
            raise
        _as_click(e).show()
        return e.exit_code
    except KeyboardInterrupt:
        click.echo(INTERRUPTED, err=True)
        return 130
    except BrokenPipeError:
        # `kb search x | head`: the reader went away; not an error worth a traceback.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - so the final flush is quiet
        except OSError:
            pass
        return 0
