"""`kb index` and `kb stats`."""

from __future__ import annotations

import time

import click

from kb.output import emit_json, json_option, progress


@click.command()
@click.option("--full", is_flag=True, help="Forget what was indexed and read every note again.")
@json_option
@click.pass_obj
def index(app, full: bool, as_json: bool) -> None:
    """Read the vault and bring kb's index and graph up to date.

    Incremental: only notes whose size, time or content changed are read
    again, and deleted notes are forgotten. kb writes only to <vault>/.kb/
    (or --index-dir), never to your notes.

    \b
    Examples:
      kb index
      kb index --full
      kb --vault ~/Notes index --json
    """
    from kb.refresh import update
    from kb.store import Busy

    start = time.perf_counter()
    vault = app.vault
    try:
        done = update(vault, search=True, graph=True, full=full, wait=False, progress=progress)
    except Busy:
        click.echo("waiting for another kb process to finish updating the index…", err=True)
        done = update(vault, search=True, graph=True, full=full, progress=progress)
    store, changes = done.store, done.changes
    for path, note in sorted(changes.parsed.items()):
        for warning in note.warnings:
            click.echo(f"warning: {path}: {warning}", err=True)
    totals = store.totals()
    seconds = time.perf_counter() - start
    if as_json:
        emit_json(
            {
                "vault": str(vault.root),
                "notes": totals.notes,
                "sections": totals.sections,
                "links": totals.links,
                "tags": totals.tags,
                "warnings": totals.warnings,
                "added": changes.added,
                "changed": changes.changed,
                "removed": changes.removed,
                "seconds": round(seconds, 3),
            }
        )
        return
    click.echo(
        f"{totals.notes} notes ({len(changes.added)} new, {len(changes.changed)} changed, "
        f"{len(changes.removed)} removed), {totals.sections} sections, {totals.links} links, "
        f"{totals.tags} tags, {totals.warnings} warnings in {seconds:.2f} s"
    )


@click.command()
@json_option
@click.pass_obj
def stats(app, as_json: bool) -> None:
    """Count notes, sections, links, broken links, tags and orphans.

    \b
    Examples:
      kb stats
      kb stats --json
    """
    from kb.checks import check_links
    from kb.refresh import update
    from kb.resolve import Resolver

    vault = app.vault
    store = update(vault).store
    notes = store.notes()
    totals = store.totals()
    report = check_links(notes.values(), Resolver(notes.values()), vault.attachments())
    counts = {
        "notes": totals.notes,
        "sections": totals.sections,
        "links": totals.links,
        "broken_links": len(report.broken),
        "missing_embeds": len(report.missing_embeds),
        "ambiguous_links": len(report.ambiguous),
        "tags": totals.tags,
        "orphans": len(report.orphans),
        "warnings": totals.warnings,
    }
    if as_json:
        emit_json(counts)
        return
    width = max(len(k) for k in counts)
    for key, value in counts.items():
        click.echo(f"{key.replace('_', ' '):<{width}}  {value}")
