"""photosync resolve."""

from __future__ import annotations

from typing import Optional

import typer

from .app import LibraryOption, QuietOption, app, with_library


@app.command()
def resolve(
    auto_resolve: Optional[str] = typer.Option(
        None, "--auto-resolve", metavar="simple|all",
        help="Apply automatic policies: 'simple' (exact duplicates, missing metadata) or 'all' configured "
             "ones (also quality variants merged, most restrictive visibility).",
    ),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Ask about each open conflict."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; commit nothing."),
    library: Optional[str] = LibraryOption,
    quiet: bool = QuietOption,
) -> None:
    """Find conflicts, settle the simple ones by policy, and mark photos without open conflicts resolved."""
    from ..errors import PhotosyncError, UsageError
    from ..phases.resolve import CROWDED
    from ..phases.resolve import resolve as run_resolve
    from . import ui

    def body(lib, reporter):
        resolver = None
        if interactive:
            if dry_run:
                raise UsageError("--interactive commits each answer; it does not go with --dry-run")
            from ..phases.sources import local_file
            from .prompt import TerminalResolver

            reporter.quiet_progress()  # bars and prompts do not share a screen
            def related(pid: str):
                try:
                    return lib.get_photo(pid)
                except (KeyError, PhotosyncError):
                    return None

            resolver = TerminalResolver(ui.out, locate=local_file(lib), related=related)
        result = run_resolve(lib, auto=auto_resolve, resolver=resolver, dry_run=dry_run)
        reporter.stop()  # the bars end before the summary is printed
        if interactive:
            ui.out.print(f"{_n(result.decisions, 'decision')} saved, each in its own commit"
                         + ("; stopped: run it again to go on (photosync status counts what is open)"
                            if result.stopped else ""))
        if result.skipped_policies:
            ui.out.print("unknown policies in auto_resolve (skipped): " + ", ".join(result.skipped_policies))
        if dry_run:
            merging = f", {result.merged} would merge into another record" if result.merged else ""
            ui.out.print(f"[bold]dry run[/]: {result.changed} of {_n(result.examined, 'photo')} would change{merging}")
            for line in result.changes[:200]:
                ui.out.print("  " + ui.printable(line))
            if len(result.changes) > 200:
                ui.out.print(f"  ... and {len(result.changes) - 200} more")
        else:
            pol = f" using {', '.join(result.policies)}" if result.policies else ""
            merged = f", {result.merged} merged into another record (variants)" if result.merged else ""
            ui.out.print(f"{_n(result.examined, 'photo')} examined{pol}: {result.resolved} resolved, "
                         f"{result.changed} changed{merged}")
        for label, was, now in result.narrowed:
            ui.out.print(f"visibility of {ui.printable(label)} narrowed {was} -> {now} by a merge "
                         "(the narrower level wins; widen it again with photosync visibility set)")
        if result.motion_linked:
            ui.out.print(f"{_n(result.motion_linked, 'motion video')} (live or motion photos) linked to "
                         f"{'its' if result.motion_linked == 1 else 'their'} still")
        if result.crowded:
            ui.out.print(f"{_n(result.crowded, 'photo')} {'looks' if result.crowded == 1 else 'look'} like more "
                         f"than {CROWDED} others (near-flat or generated pictures): compared only where "
                         f"{'its' if result.crowded == 1 else 'their'} look is distinctive or by capture time, "
                         "and never merged automatically (a person can merge them)")
        if result.open and not result.stopped:
            n = len(result.open)
            ui.out.print(f"{_n(n, 'conflict')} {'needs' if n == 1 else 'need'} a decision "
                         "(photosync resolve --interactive):")
            for oc in result.open[:50]:
                c = oc.conflict
                values = "; ".join(f"{k}: {v!r}" for k, v in (c.values or {}).items())
                ui.out.print(f"  {ui.printable(oc.label)} ({oc.photo_id[:8]}): {c.description}" + (f" — {ui.printable(values)}" if values else ""))
            if len(result.open) > 50:
                ui.out.print(f"  ... and {len(result.open) - 50} more")

    with_library(body, quiet=quiet, library=library)


def _n(count: int, word: str) -> str:
    """"1 photo", "2 photos"."""
    return f"{count} {word}" + ("" if count == 1 else "s")
