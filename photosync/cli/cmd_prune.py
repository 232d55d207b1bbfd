"""photosync prune."""

from __future__ import annotations

from typing import Optional

import typer

from .app import LibraryOption, QuietOption, app, with_library


@app.command()
def prune(
    service: str = typer.Option(..., "--service", metavar="NAME", help="The service to free space on."),
    older_than: str = typer.Option(..., "--older-than", metavar="AGE",
                                   help="Only photos taken at least this long ago: 90d, 12w, 2160h."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be deleted and what is refused (the default)."),
    execute: bool = typer.Option(False, "--execute", help="Delete (to the service's trash) what is safe."),
    library: Optional[str] = LibraryOption,
    quiet: bool = QuietOption,
) -> None:
    """Delete from a service the photos that have at least min_copies verified blob copies (each read back
    from its store right before) and were taken at least --older-than ago; every other photo is refused,
    by name, with the reason. iCloud: to Recently Deleted; a local folder: to its .photosync-trash folder.
    Nothing else in photosync deletes from a service."""
    import re
    from datetime import timedelta

    from ..errors import UsageError
    from ..phases.prune import prune as run_prune
    from ..words import counted
    from . import ui

    def body(lib, reporter):
        if dry_run and execute:
            raise UsageError("choose --dry-run or --execute, not both")
        m = re.fullmatch(r"\s*([0-9]+)\s*([dwh])\s*", older_than.lower())
        if not m:
            raise UsageError(f"--older-than {older_than!r}: use a count of days, weeks or hours: 90d, 12w, 2160h")
        n, unit = int(m.group(1)), m.group(2)
        age = {"d": timedelta(days=n), "w": timedelta(weeks=n), "h": timedelta(hours=n)}[unit]
        result = run_prune(lib, service, age, execute=execute)
        reporter.stop()
        verb = "deleted" if execute else "would delete"
        for label, pid, item_id, where in result.deleted:
            ui.out.print(f"  {verb} {ui.printable(label)} ({pid[:8]}) {service}:{ui.printable(item_id)}"
                         + (f" -> {ui.printable(where)}" if execute else ""))
        for label, item_id, why in result.refused:
            ui.out.print(f"  refused {ui.printable(label)} {service}:{ui.printable(item_id)}: {why}")
        for label, item_id, why in result.failed:
            ui.out.print(f"  failed {ui.printable(label)} {service}:{ui.printable(item_id)}: {why}")
        ui.out.print(f"{'prune' if execute else 'prune (dry run)'}: {verb} {counted(len(result.deleted), 'copy', 'copies')}"
                     f" from {service}, refused {len(result.refused)}"
                     + (f", {len(result.failed)} failed" if result.failed else ""))
        if not execute and result.deleted:
            ui.out.print("Run with --execute to do it.")
        return bool(result.failed)

    with_library(body, library=library)
