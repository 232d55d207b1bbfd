"""photosync replicate."""

from __future__ import annotations

from typing import Optional

import typer

from .app import LibraryOption, QuietOption, app, with_library


@app.command()
def replicate(
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (the default)."),
    execute: bool = typer.Option(False, "--execute", help="Copy the originals, verify them, record them."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=64, help="Parallel copies."),
    library: Optional[str] = LibraryOption,
    quiet: bool = QuietOption,
) -> None:
    """Copy resolved photos' originals into every blob store, verified, and upload them to the services that
    take uploads (upload_from); print the plan unless --execute."""
    from ..errors import UsageError
    from ..phases import publish
    from ..phases.replicate import execute as run_execute
    from ..phases.replicate import make_plan
    from . import ui

    def body(lib, reporter):
        if dry_run and execute:
            raise UsageError("choose --dry-run or --execute, not both")
        plan = make_plan(lib)
        uploads = publish.make_plan(lib)
        reporter.stop()  # the bars end before the summary is printed
        if not execute:
            ui.out.print(
                f"[bold]plan[/] (dry run): copy {plan.photos} photos ({ui.human_bytes(plan.total_bytes)}) "
                f"into {', '.join(plan.stores)}; {len(plan.actions)} copies in all"
            )
            for a in plan.actions[:100]:
                tag = " (repair)" if a.repair else ""
                ui.out.print(f"  {ui.printable(a.label)} ({a.photo_id[:8]}) -> {a.store}{tag}  {ui.human_bytes(a.size)}")
            if len(plan.actions) > 100:
                ui.out.print(f"  ... and {len(plan.actions) - 100} more")
            if plan.complete:
                ui.out.print(f"{len(plan.complete)} photos already have every copy and will be marked replicated")
            _print_uploads(uploads)
            if plan.waiting:
                ui.out.print(f"{plan.waiting} photos wait for resolve first (photosync resolve --auto-resolve simple)")
            ui.out.print("Run with --execute to do it.")
            return False
        result = run_execute(lib, plan, workers=workers)
        sent = publish.execute(lib, uploads, workers=workers)
        reporter.stop()  # the bars end before the summary is printed
        ui.out.print(
            f"copied {result.copied} originals ({ui.human_bytes(result.copied_bytes)}), "
            f"{result.already_there} already in place and verified, {result.photos_replicated} photos now replicated"
            + (f", [red]{result.failed} failed[/]" if result.failed else "")
        )
        if uploads.actions or uploads.refused:
            ui.out.print(
                f"uploaded {sent.uploaded} photos to services, {sent.found} found there already (recorded)"
                + (f", {sent.refused} refused (a service policy conflict)" if sent.refused else "")
                + (f", [red]{sent.failed} failed[/]" if sent.failed else "")
            )
        if plan.waiting:
            ui.out.print(f"{plan.waiting} photos wait for resolve first")
        return result.failed > 0 or sent.failed > 0

    with_library(body, quiet=quiet, library=library)


def _print_uploads(uploads) -> None:
    from . import ui

    if not uploads.actions and not uploads.refused:
        return
    counts: dict[tuple[str, str], int] = {}
    for a in uploads.actions:
        counts[(a.service, a.visibility)] = counts.get((a.service, a.visibility), 0) + 1
    ui.out.print(f"[bold]uploads[/] (dry run): {len(uploads.actions)} photos "
                 f"({ui.human_bytes(uploads.total_bytes)})")
    for (service, level), n in sorted(counts.items()):
        ui.out.print(f"  {n} to {service} as {level}")
    for label, service, reason in uploads.refused[:20]:
        ui.out.print(f"  [red]not uploadable[/] {ui.printable(label)} -> {service}: {reason}")
