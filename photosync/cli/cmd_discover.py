"""photosync discover."""

from __future__ import annotations

from typing import Optional

import typer

from .app import LibraryOption, QuietOption, app, with_library


@app.command()
def discover(
    service: Optional[str] = typer.Option(None, "--service", "-s", help="Only this service."),
    since: Optional[str] = typer.Option(
        None, "--since", help="Only items changed since: last-week, last-month, yesterday, 10d, or YYYY-MM-DD."
    ),
    full_scan: bool = typer.Option(False, "--full-scan", help="Read every item again, ignoring what is cached."),
    execute: bool = typer.Option(
        False, "--execute",
        help="Also copy each new photo's original into the primary store (a local folder), verified and durable, "
             "and record it in the photo's one write: a new photo with nothing to resolve is discovered, resolved "
             "and replicated in one commit a batch."),
    library: Optional[str] = LibraryOption,
    quiet: bool = QuietOption,
) -> None:
    """Scan services, hash what is new or changed, and record one JSON file per photo (one commit per service)."""
    from ..errors import UsageError
    from ..media.dates import parse_since
    from ..phases.discover import discover as run_discover
    from ..phases.discover import plural
    from . import ui

    try:
        since_dt = parse_since(since) if since else None
    except ValueError as e:
        ui.fail(str(e), 2)
        return

    def body(lib, reporter):
        if since_dt is not None and full_scan:
            raise UsageError("--since and --full-scan do not go together")
        result = run_discover(lib, service=service, since=since_dt, full_scan=full_scan, execute=execute)
        reporter.stop()  # the bars end before the summary is printed
        failed = False
        for s in result.services:
            if s.failed:
                ui.out.print(f"{s.name}: [red]not scanned[/] ({ui.printable(s.failed)})")
                failed = True
                continue
            # the same words as the run's commit message (ServiceSummary.phrases)
            phrases = [ui.escape(p) for p in s.phrases()]
            phrases = [f"[red]{p}[/]" if p.endswith("unreadable") else p for p in phrases]
            line = f"{s.name}: {plural(s.seen, 'item')}, {s.read:,} read ({ui.human_bytes(s.read_bytes)}): "
            line += ", ".join(phrases)
            if s.ignored:
                line += f", {plural(s.ignored, 'other file')} ignored"
            ui.out.print(line)
            if s.crowded:
                from ..conflicts.family import CROWDED

                ui.out.print(f"{s.name}: {plural(s.crowded, 'new photo')} {'looks' if s.crowded == 1 else 'look'} like "
                             f"more than {CROWDED} others (near-flat or generated pictures): compared only where "
                             f"{'its' if s.crowded == 1 else 'their'} look is distinctive or by capture time")
        ui.out.print(
            f"{len(result.commits)} commit{'s' if len(result.commits) != 1 else ''}"
            + ("" if result.commits else " (nothing changed)")
        )
        return failed

    with_library(body, quiet=quiet, library=library)
