"""photosync audit."""

from __future__ import annotations

from typing import Optional

import typer

from .app import LibraryOption, QuietOption, app, with_library


@app.command()
def audit(
    blobs: bool = typer.Option(False, "--blobs", help="Re-read stored originals and check their SHA-256."),
    sample: Optional[str] = typer.Option(None, "--sample", help="With --blobs: check only a sample, e.g. 10% or 500."),
    store: Optional[str] = typer.Option(None, "--store", help="With --blobs: only this store."),
    incremental: bool = typer.Option(
        False, "--incremental", help="With --blobs: go on with the current pass (stop any time, resume later)."
    ),
    visibility_check: bool = typer.Option(
        False, "--visibility-check", help="List photos a service shows at another level than the canonical one."
    ),
    fix: bool = typer.Option(
        False, "--fix", help="With --visibility-check: narrow services that show photos more widely than canonical "
        "(never widens)."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="With --fix: narrow without asking, however many photos (more than a handful "
        "are otherwise asked about, and not narrowed without a terminal)."
    ),
    copies: Optional[int] = typer.Option(
        None, "--copies", min=1, help="List photos with fewer than N verified copies."
    ),
    library: Optional[str] = LibraryOption,
    quiet: bool = QuietOption,
) -> None:
    """Check the library against reality: blobs, visibility, number of copies (default: all three)."""
    from ..phases import audit as a
    from . import ui

    everything = not (blobs or visibility_check or copies is not None)

    def body(lib, reporter):
        if fix and not visibility_check:
            from ..errors import UsageError

            raise UsageError("--fix goes with --visibility-check")
        failed = False
        if blobs or everything:
            r = a.audit_blobs(lib, sample=sample, store=store, incremental=incremental)
            reporter.stop()  # the bars end before the summary is printed
            ui.out.print(
                f"blobs: {ui.count(r.checked, 'copy', 'copies')} of {ui.count(r.photos, 'photo')} checked "
                f"({ui.human_bytes(r.checked_bytes)}): "
                f"{r.ok} good, " + (f"[red]{len(r.problems)} bad[/]" if r.problems else "0 bad")
            )
            for p in r.problems:
                ui.out.print(f"  {ui.printable(p.label)} ({p.photo_id[:8]}) in {p.store}: {p.reason}: {ui.printable(p.locator)}")
            if r.problems:
                # a rendition's key names it (layout.rendition_blob_name): .thumb-200. / .tier.
                rends = [p for p in r.problems if ".thumb-" in p.locator or ".tier." in p.locator]
                if len(rends) < len(r.problems):
                    ui.out.print("  run 'photosync replicate --execute' to copy them again from a good source")
                if rends:
                    ui.out.print("  run 'photosync derive thumbnails' (or 'derive tiers') to make the renditions again")
            if r.leftovers_removed or r.leftovers_kept:
                ui.out.print(
                    f"  leftovers of interrupted copies: {r.leftovers_removed} removed "
                    f"({ui.human_bytes(r.leftovers_bytes)})"
                    + (f", {r.leftovers_kept} left (a writer may still be at work)" if r.leftovers_kept else "")
                )
            if incremental:
                left = a.left_in_pass(lib, store)
                ui.out.print(f"  this pass: {ui.count(left, 'copy', 'copies')} still to check" if left
                             else "  this pass is complete")
        if visibility_check or everything:
            rows = a.audit_visibility(lib)
            wider = sum(1 for r in rows if r.wider)
            ui.out.print(f"visibility: {ui.count(len(rows), 'discrepancy', 'discrepancies')} "
                         f"({wider} where a service shows more than it should)")
            for r in rows:
                tag = "[red]wider[/]" if r.wider else "narrower"
                may = f" ({r.allowed} there)" if r.allowed else ""
                ui.out.print(f"  {tag}: {ui.printable(r.label)} ({r.photo_id[:8]}) on {r.service}: {r.shown}, "
                             f"canonical {r.canonical}{may}")
            if fix and wider:
                plan, unsupported = a.plan_fix(lib, rows)
                go = _confirmed(plan, yes)
                if go:
                    fixed = a.fix_visibility(lib, rows, plan)
                    reporter.stop()
                    ui.out.print(f"  fixed: {fixed.narrowed} narrowed to canonical"
                                 + (f", [red]{fixed.failed} failed[/]" if fixed.failed else "")
                                 + (f", {unsupported} must be changed by hand" if unsupported else ""))
                    wider -= fixed.narrowed
            failed = failed or wider > 0
            # widenings committed with plain git (found when photosync's index caught up with them)
            if lib.widened:
                ui.out.print(f"visibility: [red]{ui.count(len(lib.widened), 'photo')} widened by a commit not made "
                             "with 'photosync visibility set'[/]")
                for pid, path, old, new, commit, subject, narrowed in lib.widened:
                    ui.out.print(f"  {ui.printable(path)} ({pid[:8]}): {old} -> {new} in commit {commit[:10]} "
                                 f"({ui.printable(subject)}): " + (f"narrowed back to {old}" if narrowed
                                                                  else "not narrowed back yet"))
                failed = True
        if copies is not None or everything:
            n = copies if copies is not None else int(lib.preferences["blob_storage"].get("min_copies", 1))
            rows = a.audit_copies(lib, n)
            ui.out.print(f"copies: {ui.count(len(rows), 'photo')} with fewer than "
                         f"{ui.count(n, 'verified copy', 'verified copies')}")
            for pid, label, count in rows[:200]:
                ui.out.print(f"  {ui.printable(label)} ({pid[:8]}): {count}")
            if len(rows) > 200:
                ui.out.print(f"  ... and {len(rows) - 200} more")
            failed = failed or bool(rows)
        return failed

    with_library(body, quiet=quiet, library=library)


def _confirmed(plan, yes: bool) -> bool:
    """List what --fix would narrow; when the phase says a person must confirm it, narrow
    only with --yes or a yes typed at a terminal."""
    import sys

    from ..phases.audit import HANDFUL, needs_confirmation
    from . import ui

    services = sorted({n.service for n in plan})
    ui.out.print(f"  would narrow {len(plan)} cop{'y' if len(plan) == 1 else 'ies'} on {', '.join(services) or '-'}:")
    for n in plan:
        ui.out.print(f"    {ui.printable(n.label)} ({n.photo_id[:8]}) on {n.service}: {n.shown} -> {n.expected}")
    if not needs_confirmation(plan) or yes:
        return bool(plan)
    adopt = " ".join(f"photosync visibility adopt {s} --reason \"...\"" for s in services)
    if sys.stdin.isatty():
        ui.err.print(f"Narrow these {len(plan)} on the service (it cannot be undone by photosync)? [y/N]", end=" ",
                     markup=False)
        answer = sys.stdin.readline().strip().lower()
        if answer in ("y", "yes"):
            return True
        ui.out.print("  nothing narrowed")
    else:
        ui.out.print(f"  nothing narrowed: more than {HANDFUL} photos, and no terminal to ask; run again with --yes "
                     f"to narrow them, or keep what the service shows as their canonical visibility: {adopt}")
        return False
    ui.out.print(f"  to keep what the service shows as their canonical visibility instead: {adopt}")
    return False
