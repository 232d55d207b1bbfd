"""photosync visibility set: the one explicit way to change a photo's canonical visibility."""

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
    from ..conflicts import visibility as vis
    from ..errors import UsageError
    from ..model import VISIBILITY_LEVELS, visibility_rank
    from . import ui

    def body(lib, reporter):
        if len(photos) < 2:
            raise UsageError("give one or more photos, then the level (private, friends or public)")
        *names, level = photos
        if level not in VISIBILITY_LEVELS:
            raise UsageError(f"level {level!r}: use private, friends or public (the last argument)")
        changes = []
        for name in names:
            photo = lib.get_photo(lib.find_photo(name))
            old = photo.visibility.canonical
            if old == level:
                ui.out.print(f"{ui.printable(photo.label)} ({photo.photo_id[:8]}) is already {level}")
                continue
            if visibility_rank(level) > visibility_rank(old) and not (reason or "").strip():
                raise UsageError(f"{photo.label}: widening {old} -> {level} needs --reason \"...\" (it is recorded)")
            lib.stage(vis.set_canonical(photo, level))
            changes.append((photo, old))
        if not changes:
            return False
        first, old = changes[0]
        head = (f"visibility: {first.label} {old} -> {level}" if len(changes) == 1
                else f"visibility: {len(changes)} photos -> {level}")
        body_lines = [f"{p.label} ({p.photo_id}): {o} -> {level}" for p, o in changes]
        if reason:
            body_lines.insert(0, f"reason: {reason.strip()}")
        lib.commit(head + "\n\n" + "\n".join(body_lines))
        for p, o in changes:
            ui.out.print(f"{ui.printable(p.label)} ({p.photo_id[:8]}): {o} -> {level}")
        return False

    with_library(body, library=library)
