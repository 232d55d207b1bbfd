"""photosync visibility set|adopt: the explicit ways to change a photo's canonical visibility
(phases/visibility.py holds the rules; this module parses and renders)."""

from __future__ import annotations

from typing import Optional

import typer

from .app import LibraryOption, app, with_library

visibility_app = typer.Typer(help="A photo's canonical visibility (private, friends, public).", no_args_is_help=True)
app.add_typer(visibility_app, name="visibility")


@visibility_app.command("set")
def visibility_set(
    photos: list[str] = typer.Argument(..., metavar="PHOTO... LEVEL",
                                       help="Photo ids (or unique id prefixes, or file names), then the level."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (required to widen); kept in the commit."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Set the canonical visibility of photos.  Widening (e.g. private -> friends) happens only here, with a
    reason, and each change is a commit, so `git log -- photos/` is the audit trail.  Services are not
    changed by this command: `audit --visibility-check --fix` narrows them, uploads use the new level."""
    from ..errors import UsageError
    from ..phases.visibility import set_level
    from . import ui

    def body(lib, reporter):
        if len(photos) < 2:
            raise UsageError("give one or more photos, then the level (private, friends or public)")
        *names, level = photos
        result = set_level(lib, names, level, reason)
        for label, pid in result.unchanged:
            ui.out.print(f"{ui.printable(label)} ({pid[:8]}) is already {level}")
        for c in result.changes:
            ui.out.print(f"{ui.printable(c.label)} ({c.photo_id[:8]}): {c.old} -> {c.new}")
        return False

    with_library(body, library=library)


@visibility_app.command("adopt")
def visibility_adopt(
    service: str = typer.Argument(..., help="The service whose levels become canonical (e.g. flickr)."),
    photos: Optional[list[str]] = typer.Argument(
        None, metavar="[PHOTO]...", help="Photo ids, unique id prefixes or file names (default: every photo on SERVICE)."),
    reason: str = typer.Option(..., "--reason", help="Why (required); kept in the commit and in each record."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Take how SERVICE shows photos now as their canonical visibility: after importing an account whose
    photos were already shared, so that `audit --visibility-check --fix` does not make them private.  It may
    widen canonical levels (that is its point, with the reason recorded); it changes nothing on any service
    by itself (uploads then use the new levels; other services showing a photo more widely are narrowed by
    `audit --fix`).  One commit."""
    from ..phases.visibility import adopt
    from . import ui

    def body(lib, reporter):
        result = adopt(lib, service, photos or None, reason)
        if not result.changes:
            ui.out.print(f"nothing to change: the canonical visibility of these photos is already what {service} "
                         "shows")
            return False
        for c in result.changes:
            ui.out.print(f"{ui.printable(c.label)} ({c.photo_id[:8]}): {c.old} -> {c.new}")
        n = len(result.changes)
        ui.out.print(f"{ui.count(n, 'photo')} now take{'s' if n == 1 else ''} {service}'s "
                     f"levels as canonical ({result.widened} widened); "
                     "nothing was changed on any service")
        return False

    with_library(body, library=library)
