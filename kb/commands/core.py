"""`kb index` and `kb stats`."""

from __future__ import annotations

import time

import click

from kb.output import echo, emit_json, json_option, progress, warn


@click.command()
@click.option("--full", is_flag=True, help="Forget what was indexed and read every note again.")
@click.option(
    "--strict",
    is_flag=True,
    help="Print every warning, old ones too, and exit 1 if there is any (for CI).",
)
@json_option
@click.pass_obj
def index(app, full: bool, strict: bool, as_json: bool) -> None:
    """Read the vault and bring kb's index and graph up to date.

    Incremental: only notes whose size, time or content changed are read
    again, and deleted notes are forgotten. kb writes only to <vault>/.kb/
    (or --index-dir), never to your notes.

    Files kb cannot use get one line each on stderr, `warning: PATH: REASON`:
    notes it read around a problem (front matter that does not parse, invalid
    UTF-8, an unclosed code fence) and files it skipped (binary data, no read
    permission, symlinks out of the vault, which kb never follows). A warning
    is printed when it first appears; the summary line counts all of them, and
    --strict prints them all again. Exit status: 0, or with --strict 1 when
    there is any warning (2 is kept for kb's own errors).

    \b
    Examples:
      kb index
      kb index --full
      kb index --strict            # in CI: fail on any bad file
      kb --vault ~/Notes index --json
    """
    from kb.refresh import refreshed

    start = time.perf_counter()
    vault = app.vault
    done = refreshed(vault, search=True, graph=True, full=full, progress=progress)
    store, changes = done.store, done.changes
    warn(dict(sorted(store.warnings().items())) if strict else changes.warnings())
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
                "skipped": dict(sorted(changes.skipped.items())),
                "seconds": round(seconds, 3),
            }
        )
    else:
        count = len(changes.skipped)
        skipped = f" ({count} file{'' if count == 1 else 's'} skipped)" if count else ""
        echo(
            f"{totals.notes} notes ({len(changes.added)} new, {len(changes.changed)} changed, "
            f"{len(changes.removed)} removed), {totals.sections} sections, {totals.links} "
            f"links, {totals.tags} tags, {totals.warnings} warnings{skipped} in {seconds:.2f} s"
        )
    if strict and totals.warnings:
        raise click.exceptions.Exit(1)


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
    from kb.refresh import refreshed
    from kb.resolve import Resolver

    vault = app.vault
    store = refreshed(vault, as_is=True).store
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
        echo(f"{key.replace('_', ' '):<{width}}  {value}")
