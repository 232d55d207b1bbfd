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
    """Copy every photo's originals (and the other copies merged into it) into every blob store, verified, and
    upload resolved photos to the services that take uploads (upload_from); print the plan unless --execute."""
    from ..errors import UsageError
    from ..phases import publish, replicate_all
    from ..phases.common import counted
    from . import ui

    def body(lib, reporter):
        if dry_run and execute:
            raise UsageError("choose --dry-run or --execute, not both")
        plans = replicate_all.make_plans(lib)
        plan, uploads, withdrawals = plans.copies, plans.uploads, plans.withdrawals
        reporter.stop()  # the bars end before the summary is printed
        if not execute:
            if plan.actions:
                ui.out.print(
                    f"[bold]plan[/] (dry run): copy {counted(plan.photos, 'photo')} "
                    f"({ui.human_bytes(plan.total_bytes)}) into {', '.join(plan.stores)}; "
                    f"{counted(len(plan.actions), 'copy', 'copies')} in all"
                )
            else:
                ui.out.print("[bold]plan[/] (dry run): nothing to copy")
            for a in plan.actions[:100]:
                tag = " (repair)" if a.repair else ""
                what = f" (other content {a.content_hash[7:19]})" if a.content_hash else ""
                ui.out.print(f"  {ui.printable(a.label)} ({a.photo_id[:8]}){what} -> {a.store}{tag}  "
                             f"{ui.human_bytes(a.size)}")
            if len(plan.actions) > 100:
                ui.out.print(f"  ... and {len(plan.actions) - 100} more")
            ui.out.print(_in_place(plan.total - plan.photos, plan.total, plan.stores))
            if plan.complete:
                ui.out.print(f"{counted(len(plan.complete), 'resolved photo')} with every copy in place "
                             "will be marked replicated")
            _print_uploads(uploads)
            _print_withdrawals(withdrawals)
            _print_waiting(plan.waiting, bool(publish.targets(lib)))
            ui.out.print("Run with --execute to do it.")
            return False
        done = replicate_all.execute(lib, plans, workers=workers)
        result, sent, withdrawn = done.copies, done.uploads, done.withdrawals
        reporter.stop()  # the bars end before the summary is printed
        if plan.actions or result.photos_replicated:
            per_store = ", ".join(f"{name} {n}" for name, n in result.stored.items() if n)
            ui.out.print(
                f"copied {counted(result.copied, 'file')} ({ui.human_bytes(result.copied_bytes)}), "
                f"{result.already_there} found in place and verified"
                + (f" (recorded: {per_store})" if len(plan.stores) > 1 and per_store else "")
                + f"; {counted(result.photos_replicated, 'photo')} now replicated"
                + (f", [red]{result.failed} failed[/]" if result.failed else "")
            )
        else:
            ui.out.print("nothing to copy")
        for name, why in result.skipped_stores.items():
            ui.out.print(f"[red]store {name} skipped[/]: {why}")
        ui.out.print(_in_place(plan.total - result.lacking, plan.total, plan.stores))
        if uploads.actions or uploads.refused:
            ui.out.print(
                f"uploaded {counted(sent.uploaded, 'photo')} to services, {sent.found} found there already (recorded)"
                + (f", {sent.refused} refused (a service policy conflict)" if sent.refused else "")
                + (f", [red]{sent.failed} failed[/]" if sent.failed else "")
            )
        if withdrawals.actions or withdrawals.refused:
            ui.out.print(f"mirror: removed {counted(withdrawn.withdrawn, 'photo')} gone from every source "
                         "(moved to the service's trash)"
                         + (f", {len(withdrawals.refused)} kept: too few verified copies" if withdrawals.refused else "")
                         + (f", [red]{withdrawn.failed} failed[/]" if withdrawn.failed else ""))
        _print_waiting(plan.waiting, bool(publish.targets(lib)))
        return done.failed

    with_library(body, quiet=quiet, library=library)


def _in_place(n: int, total: int, stores: list[str]) -> str:
    """How many photos have a verified copy of every content in every store: from
    the plan (dry run) or the index after the run, the one source of the figure."""
    from ..phases.common import counted

    where = ", ".join(stores)
    if total and n == total:
        return f"every photo has a verified copy of everything it holds in {where} ({counted(total, 'photo')})"
    return f"photos with a verified copy of everything they hold in {where}: {n} of {total}"


def _print_waiting(waiting: int, uploads: bool) -> None:
    from ..phases.common import counted
    from . import ui

    if waiting:
        ui.out.print(
            f"{counted(waiting, 'photo')} not resolved yet (photosync resolve): their bytes are copied all the same; "
            + ("they are marked replicated, and uploaded to services, once resolved" if uploads
               else "they are marked replicated once resolved")
        )


def _print_uploads(uploads) -> None:
    from . import ui

    if not uploads.actions and not uploads.refused:
        return
    counts: dict[tuple[str, str], int] = {}
    for a in uploads.actions:
        counts[(a.service, a.visibility)] = counts.get((a.service, a.visibility), 0) + 1
    ui.out.print(f"[bold]uploads[/] (dry run): {len(uploads.actions)} photo{'' if len(uploads.actions) == 1 else 's'} "
                 f"({ui.human_bytes(uploads.total_bytes)})")
    for (service, level), n in sorted(counts.items()):
        ui.out.print(f"  {n} to {service} as {level}")
    for label, service, reason in uploads.refused[:20]:
        ui.out.print(f"  [red]not uploadable[/] {ui.printable(label)} -> {service}: {reason}")


def _print_withdrawals(plan) -> None:
    from . import ui

    if plan.actions:
        ui.out.print(f"[bold]mirror[/] (dry run): {len(plan.actions)} photo{'' if len(plan.actions) == 1 else 's'} "
                     "gone from every source would be removed (moved to the service's trash)")
        for a in plan.actions[:100]:
            ui.out.print(f"  {ui.printable(a.label)} ({a.photo_id[:8]}) <- {a.service}")
    for label, service, reason in plan.refused[:100]:
        ui.out.print(f"  [red]kept[/] {ui.printable(label)} in {service}: {reason}")
