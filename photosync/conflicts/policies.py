"""Automatic resolution policies, named as in config/user-preferences.json
``auto_resolve``.  Each takes a photo and returns it changed (or unchanged);
none of them ever widens visibility or drops an instance."""

from __future__ import annotations

import dataclasses
from typing import Callable

from ..model import QUALITIES, Photo, narrowest
from .. import privacy as vis
from .detect import DATE_SOURCE_RANK, distinct_values, field_candidates, present_instances


def exact_duplicates(photo: Photo) -> Photo:
    """Same bytes in several places: one photo, several instances (already merged
    by discover).  Settle it: keep the best canonical source and close the note."""
    photo = photo.replace(conflicts=tuple(c for c in photo.conflicts if c.type != "exact_duplicate"))
    same = [i for i in present_instances(photo) if i.content_hash == photo.content_hash]
    if not same:
        return photo
    current = photo.canonical_source
    best = min(same, key=lambda i: (QUALITIES.index(i.quality), i.service, i.id))
    kept = next((i for i in same if i.key == current), None)
    # the current source stays unless a copy of the same bytes is rated better: a Takeout copy is
    # rated "high" (Google's stored copy, original or not), and a camera's original of it wins
    if kept is not None and QUALITIES.index(kept.quality) <= QUALITIES.index(best.quality):
        return photo
    return photo.replace(canonical_source=best.key)


MERGEABLE = ("taken_date", "filename", "location", "tags", "caption", "camera_info")


def missing_metadata(photo: Photo) -> Photo:
    """Fill canonical fields that are empty from the copies, when they agree;
    a better-trusted date replaces a file-time or file-name guess."""
    md = photo.metadata
    changes = {}
    for field in MERGEABLE:
        cands = field_candidates(photo, field)
        distinct = distinct_values(field, [v for _, v in cands])
        if len(distinct) != 1:
            continue
        value = distinct[0]
        if md.is_missing(field):
            changes[field] = value
            if field == "taken_date":
                source = next(i.metadata.taken_date_source for i, v in cands)
                changes["taken_date_source"] = source
        elif field == "taken_date":
            best_source = next(i.metadata.taken_date_source for i, v in cands)
            if DATE_SOURCE_RANK.get(best_source, 6) < DATE_SOURCE_RANK.get(md.taken_date_source, 6):
                changes["taken_date"] = value
                changes["taken_date_source"] = best_source
    if not changes:
        return photo
    return photo.replace(metadata=dataclasses.replace(md, **changes))


def most_restrictive_visibility(photo: Photo) -> Photo:
    """While a photo is first being resolved, its canonical level is the narrowest
    that any service shows (never wider than it already is)."""
    if photo.processing_state != "discovered":
        return vis.refresh(photo)
    levels = list(vis.observed_levels(photo).values())
    if not levels:
        return vis.refresh(photo)
    return vis.refresh(vis.narrow_to(photo, narrowest(levels)))


POLICIES: dict[str, Callable[[Photo], Photo]] = {
    "exact_duplicates": exact_duplicates,
    "missing_metadata": missing_metadata,
    "most_restrictive_visibility": most_restrictive_visibility,
}
