"""photosync derive thumbnails | tiers."""

from __future__ import annotations

from typing import Optional

import typer

from .app import LibraryOption, QuietOption, app, with_library

derive_app = typer.Typer(help="Derived copies of the originals (renditions): thumbnails, and the age-tier copies. "
                              "Originals are never changed.", no_args_is_help=True)
app.add_typer(derive_app, name="derive")

DryRun = typer.Option(False, "--dry-run", help="Print what would be made, make nothing.")
Workers = typer.Option(None, "--workers", min=1, max=64, help="Photos rendered at once (default: one per core).")


def _run(kinds: tuple[str, ...], dry_run: bool, workers: Optional[int], library: Optional[str], quiet: bool) -> None:
    from ..phases import derive
    from ..phases.common import counted
    from . import ui

    def body(lib, reporter):
        plan = derive.make_plan(lib, kinds)
        reporter.stop()
        what = " and ".join("thumbnails" if k == "thumbnail" else "tier copies" for k in kinds)
        where = ", ".join(plan.stores)
        if dry_run:
            if plan.jobs:
                ui.out.print(f"[bold]plan[/] (dry run): {counted(plan.renditions, 'rendition')} of "
                             f"{counted(len(plan.jobs), 'photo')} into {where}")
                for job in plan.jobs[:50]:
                    names = ", ".join(r.name + (f" ({r.tier})" if r.tier else "") for r, _ in job.todo)
                    ui.out.print(f"  {ui.printable(job.label)} ({job.photo_id[:8]}): {names}")
                if len(plan.jobs) > 50:
                    ui.out.print(f"  ... and {len(plan.jobs) - 50} more")
            else:
                ui.out.print(f"[bold]plan[/] (dry run): every photo has its {what} in {where}")
            return False
        if not plan.jobs:
            ui.out.print(f"every photo has its {what} in {where} ({counted(plan.in_place, 'photo')})")
            return False
        result = derive.execute(lib, plan, workers=workers)
        reporter.stop()
        per_store = ", ".join(f"{n} in {name}" for name, n in sorted(result.stored.items()))
        ui.out.print(f"made {counted(result.made, 'rendition')} of {counted(result.photos, 'photo')} "
                     f"({ui.human_bytes(result.made_bytes)})" + (f": {per_store}" if per_store else ""))
        if result.undecodable:
            ui.out.print(f"[yellow]{counted(result.undecodable, 'photo')} could not be decoded[/] (named above; skipped)")
        if result.gaps:
            ui.out.print(f"[red]{counted(result.gaps, 'photo')} without a readable original[/] (named above): "
                         "no renditions for them")
        for name, why in result.skipped_stores.items():
            ui.out.print(f"[red]store {name} skipped[/]: {why}")
        return result.failed > 0 or bool(result.skipped_stores)

    with_library(body, quiet=quiet, library=library)


@derive_app.command("thumbnails")
def thumbnails(
    dry_run: bool = DryRun,
    workers: Optional[int] = Workers,
    library: Optional[str] = LibraryOption,
    quiet: bool = QuietOption,
) -> None:
    """Thumbnails of every photo and video (long edges 200, 600, 1200 by default; derived.thumbnails in the
    preferences): upright, sRGB, no metadata, into the derive stores beside the originals. Only what is missing or
    made by another recipe is made."""
    _run(("thumbnail",), dry_run, workers, library, quiet)


@derive_app.command("tiers")
def tiers(
    dry_run: bool = DryRun,
    workers: Optional[int] = Workers,
    library: Optional[str] = LibraryOption,
    quiet: bool = QuietOption,
) -> None:
    """A space-saving copy of every photo, compressed more the older it is (derived_tiers in the preferences:
    light under 1 year, medium 1-3 years, heavy over 3 by default); photos moving to another tier are made again."""
    _run(("tier",), dry_run, workers, library, quiet)
