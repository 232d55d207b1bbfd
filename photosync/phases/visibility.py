"""The explicit changes of a photo's canonical visibility: ``visibility set`` and
``visibility adopt``, the only paths that may widen it (privacy fails closed everywhere
else).  Each is one commit whose message the library recognises as an explicit change
(library.library.visibility_message): a widening committed any other way is narrowed back.

The CLI parses the arguments, calls these and renders the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import privacy as vis
from ..errors import UsageError
from ..library.library import Library, visibility_message
from ..model import VISIBILITY_LEVELS, Photo, Resolution, visibility_rank


@dataclass
class Change:
    photo_id: str
    label: str
    #: the canonical level before and after, as a person reads it ("friends (family)")
    old: str
    new: str
    widened: bool


@dataclass
class VisibilityResult:
    changes: list[Change] = field(default_factory=list)
    #: (label, photo id) of photos already at the level asked for (``set``)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    commit: str | None = None

    @property
    def widened(self) -> int:
        return sum(1 for c in self.changes if c.widened)


def describe(level: str, friends_audience: str | None) -> str:
    """A canonical level as a person reads it: friends (family) when a finer audience is set."""
    return f"{level} ({friends_audience})" if level == "friends" and friends_audience else level


def set_level(lib: Library, names: list[str], level: str, reason: str | None = None) -> VisibilityResult:
    """Set the canonical visibility of the photos ``names`` (ids, unique id prefixes, file
    names) to ``level``, in one commit.  Widening needs a ``reason`` (UsageError without
    one, and nothing is changed); narrowing does not.  Services are not changed."""
    if level not in VISIBILITY_LEVELS:
        raise UsageError(f"level {level!r}: use private, friends or public (the last argument)")
    why = (reason or "").strip()
    settings = vis.audience_settings(lib.services)
    result = VisibilityResult()
    staged: list[Photo] = []
    for pid in dict.fromkeys(lib.find_photo(name) for name in names):
        photo = lib.get_photo(pid)
        old = photo.visibility.canonical
        if old == level:
            result.unchanged.append((photo.label, photo.photo_id))
            continue
        widened = visibility_rank(level) > visibility_rank(old)
        if widened and not why:
            raise UsageError(f"{photo.label}: widening {old} -> {level} needs --reason \"...\" (it is recorded)")
        staged.append(vis.set_canonical(photo, level, settings=settings))
        result.changes.append(Change(photo.photo_id, photo.label, old, level, widened))
    if not result.changes:
        return result
    for photo in staged:
        lib.stage(photo)
    first = result.changes[0]
    subject = (f"visibility: {first.label} {first.old} -> {level}" if len(result.changes) == 1
               else f"visibility: {len(result.changes)} photos -> {level}")
    result.commit = lib.commit(visibility_message(subject, why or None,
                                                  [(c.label, c.photo_id, c.old, c.new) for c in result.changes]))
    return result


def adopt(lib: Library, service: str, names: list[str] | None, reason: str) -> VisibilityResult:
    """Take how ``service`` shows photos now (the narrowest of each photo's present copies
    there, a finer friends audience kept) as their canonical visibility and friends
    audience: the photos ``names``, or every photo with a present copy there.  It may
    widen (that is its point): the ``reason`` is required, and kept in the commit and in
    a ``resolutions`` entry of each record (``choice: adopt:SERVICE``).  Nothing is
    changed on any service.  One commit."""
    from ..conflicts.detect import visibility_discrepancies
    from ..conflicts.variants import ordered
    from ..library.layout import utc_now

    why = (reason or "").strip()
    if not why:
        raise UsageError("adopting a service's levels needs --reason \"...\" (it is recorded)")
    if service not in lib.services:
        raise UsageError(f"no service named {service!r} (have: {', '.join(sorted(lib.services)) or 'none'})")
    assert lib.index is not None
    if names:
        ids = list(dict.fromkeys(lib.find_photo(name) for name in names))
    else:
        ids = sorted({pid for _item, pid, _hash in lib.index.present_items(service)})
    settings = vis.audience_settings(lib.services)
    now = utc_now()
    result = VisibilityResult()
    for pid in ids:
        photo = lib.get_photo(pid)
        taken = vis.adopted(photo, service)
        if taken is None:
            if names:
                lib.report.warning(f"{photo.label} ({pid[:8]})", f"{service} shows no level for it; left as it is")
            continue
        level, fa = taken
        old = describe(photo.visibility.canonical, photo.visibility.friends_audience)
        new = describe(level, fa)
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
        result.changes.append(Change(pid, photo.label, old, new,
                                     visibility_rank(level) > visibility_rank(photo.visibility.canonical)))
    if not result.changes:
        return result
    subject = (f"visibility: adopted {service}'s level for {result.changes[0].label}" if len(result.changes) == 1
               else f"visibility: adopted {service}'s levels for {len(result.changes)} photos")
    result.commit = lib.commit(visibility_message(subject, why,
                                                  [(c.label, c.photo_id, c.old, c.new) for c in result.changes]))
    return result
