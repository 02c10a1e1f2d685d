"""`kb serve` and `kb watch`: kb's data kept up to date as notes are edited; a local page."""

from __future__ import annotations

import click

from kb.output import echo, progress


@click.command()
@click.option(
    "--port",
    "-p",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The port on 127.0.0.1 (0: any free one).",
)
@click.option("--open", "open_", is_flag=True, help="Open the page in a browser.")
@click.pass_obj
def serve(app, port: int, open_: bool) -> None:
    """Serve the vault as a local web page: search as you type, topic cards, the path
    between two topics and the graph around a topic, which grows as you click it. The
    page follows your edits: kb re-reads a changed note within a second and the page
    updates itself. A JSON API (/api/search, /api/topic/NAME, /api/path, /api/neighbors,
    /api/graph, /api/note/PATH) answers as the commands' --json do.

    Listens on 127.0.0.1 only, refuses requests for another Host or from another
    site's page, and never writes the vault. Ctrl-C stops it.

    \b
    Examples:
      kb serve                     # http://127.0.0.1:8765/
      kb serve --port 9000 --open
      kb --vault ~/Notes serve --port 0   # any free port; the URL is printed
    """
    from kb.serve import serve as run

    run(app.vault, port, open_)


@click.command()
@click.pass_obj
def watch(app) -> None:
    """Keep kb's index and graph up to date while you edit notes, so that `kb search`,
    `kb show` and other tools answer at once: kb re-reads each changed note a moment
    after it is saved, and says so on stderr. Ctrl-C stops it.

    \b
    Examples:
      kb watch
      kb --vault ~/Notes watch &   # then query from another terminal or tool
    """
    import signal
    import threading
    import time

    from kb import watch as watching
    from kb.refresh import refreshed

    vault = app.vault
    stop = threading.Event()

    def interrupted(signum, frame) -> None:
        # Ctrl-C lets a refresh under way finish (nothing half written), then the watch
        # ends within its 200 ms poll; a second Ctrl-C stops at once.
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, interrupted)

    def ready() -> None:  # the watch is on: catch up with the vault, once
        refreshed(vault, search=True, graph=True, progress=progress).store.close()
        echo(f"kb watch: watching {vault.root} (Ctrl-C to stop)", err=True)

    try:
        for _paths in watching.changes(vault, stop, ready):
            if stop.is_set():
                break
            start = time.perf_counter()
            done = refreshed(vault, search=True, graph=True)
            ch = done.changes
            done.store.close()
            notes = sorted({*ch.added, *ch.changed, *ch.removed})
            if notes:
                shown = ", ".join(notes[:3]) + (f" and {len(notes) - 3} more" * (len(notes) > 3))
                echo(
                    f"kb watch: {shown}: index and graph refreshed in "
                    f"{time.perf_counter() - start:.2f} s",
                    err=True,
                )
    except KeyboardInterrupt:
        pass
    echo("kb watch: stopped", err=True)
