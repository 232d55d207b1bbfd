"""photosync export."""

from __future__ import annotations

from typing import Optional

import typer

from .app import LibraryOption, QuietOption, app, with_library


@app.command()
def export(
    out: str = typer.Argument(..., metavar="OUT", help="The folder of the export (created when missing)."),
    layout: str = typer.Option("{year}/{month}/{day}/{filename}", "--layout",
                               help="Where each photo goes, from its canonical metadata: {year} {month} {day} {hour} "
                                    "{minute} {date} {filename} {stem} {ext} {id} {camera}."),
    derived: Optional[str] = typer.Option(None, "--derived", metavar="NAME",
                                          help="Export a rendition instead of the originals: 'tier' (each photo's "
                                               "age-tier copy; photosync derive tiers), a tier's name, or thumb-1200."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would change, change nothing."),
    library: Optional[str] = LibraryOption,
    quiet: bool = QuietOption,
) -> None:
    """A tree of the originals named from the canonical metadata (hard links to a local store's blobs on the same
    file system, else verified copies). Rerun it to bring it up to date: new photos are added, photos whose date
    or name changed are moved. The export is a view: deleting it loses nothing."""
    from pathlib import Path

    from ..phases import export as ex
    from ..phases.common import counted
    from . import ui

    def body(lib, reporter):
        result = ex.export(lib, Path(out), layout, derived, dry_run=dry_run)
        reporter.stop()
        if dry_run:
            ui.out.print(f"[bold]plan[/] (dry run): {sum(1 for a, _ in result.planned if a == 'add')} to add, "
                         f"{result.moved} to move, {result.removed} to remove, {result.kept} in place")
            for action, what in result.planned[:50]:
                ui.out.print(f"  {action} {ui.printable(what)}")
            if len(result.planned) > 50:
                ui.out.print(f"  ... and {len(result.planned) - 50} more")
            return False
        ui.out.print(
            f"exported {counted(result.photos, 'photo')} to {out}: {result.linked} linked, {result.copied} copied "
            f"({ui.human_bytes(result.bytes_written)}), {result.moved} moved, {result.removed} removed, "
            f"{result.kept} already in place" + (f", [red]{result.failed} failed[/]" if result.failed else ""))
        if result.without:
            ui.out.print(f"{counted(result.without, 'photo')} without a current {derived} rendition "
                         f"(photosync derive {'tiers' if derived and not derived.startswith('thumb') else 'thumbnails'})")
        return result.failed > 0

    with_library(body, write=False, library=library, quiet=quiet)
