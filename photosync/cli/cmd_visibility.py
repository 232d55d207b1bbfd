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
            lib.stage(vis.set_canonical(photo, level, settings=vis.audience_settings(lib.services)))
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
    from ..conflicts import visibility as vis
    from ..conflicts.detect import visibility_discrepancies
    from ..conflicts.variants import ordered
    from ..errors import UsageError
    from ..library.layout import utc_now
    from ..model import Resolution, visibility_rank
    from . import ui

    def body(lib, reporter):
        why = (reason or "").strip()
        if not why:
            raise UsageError("adopting a service's levels needs --reason \"...\" (it is recorded)")
        if service not in lib.services:
            raise UsageError(f"no service named {service!r} (have: {', '.join(sorted(lib.services)) or 'none'})")
        assert lib.index is not None
        if photos:
            ids = list(dict.fromkeys(lib.find_photo(name) for name in photos))
        else:
            ids = sorted({row[1] for row in lib.index.present_items(service)})
        settings = vis.audience_settings(lib.services)
        now = utc_now()
        changes = []
        for pid in ids:
            photo = lib.get_photo(pid)
            taken = vis.adopted(photo, service)
            if taken is None:
                if photos:
                    lib.report.warning(f"{photo.label} ({pid[:8]})", f"{service} shows no level for it; left as it is")
                continue
            level, fa = taken
            old = _describe(photo.visibility.canonical, photo.visibility.friends_audience)
            new = _describe(level, fa)
            if old == new:
                continue
            changed = vis.set_canonical(photo, level, fa, settings)
            others = [c for c in changed.conflicts if c.type != "visibility_discrepancy"]
            changed = changed.replace(
                conflicts=ordered(others + visibility_discrepancies(changed)),
                resolutions=(*changed.resolutions, Resolution(
                    conflict_id=f"visibility_discrepancy:{service}", how="manual", at=now, choice=f"adopt:{service}",
                    value={"from": old, "to": new, "reason": why})))
            lib.stage(changed)
            changes.append((photo, old, new, visibility_rank(level) > visibility_rank(photo.visibility.canonical)))
        if not changes:
            ui.out.print(f"nothing to change: the canonical visibility of these photos is already what {service} "
                         "shows")
            return False
        widened = sum(1 for c in changes if c[3])
        head = (f"visibility: adopted {service}'s level for {changes[0][0].label}" if len(changes) == 1
                else f"visibility: adopted {service}'s levels for {len(changes)} photos")
        lines = [f"reason: {why}"] + [f"{p.label} ({p.photo_id}): {o} -> {n}" for p, o, n, _w in changes]
        lib.commit(head + "\n\n" + "\n".join(lines))
        for p, o, n, _w in changes:
            ui.out.print(f"{ui.printable(p.label)} ({p.photo_id[:8]}): {o} -> {n}")
        ui.out.print(f"{ui.count(len(changes), 'photo')} now take{'s' if len(changes) == 1 else ''} {service}'s "
                     f"levels as canonical ({widened} widened); "
                     "nothing was changed on any service")
        return False

    with_library(body, library=library)


def _describe(level: str, friends_audience: str | None) -> str:
    """A canonical level as a person reads it: friends (family) when a finer audience is set."""
    return f"{level} ({friends_audience})" if level == "friends" and friends_audience else level
