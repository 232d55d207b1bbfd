"""Conflict detection within one photo record.

Each detector looks at a photo and returns the conflicts it finds, each with a
stable id (``metadata_mismatch:caption``) so a decision can name it and is not
asked again while the disagreeing values stay the same.  Detection never
changes metadata; policies (:mod:`.policies`) and resolvers do.
"""

from __future__ import annotations

from typing import Any, Callable

from ..model import Conflict, Instance, Photo

#: how much a source of taken_date is trusted: lower is better
DATE_SOURCE_RANK = {
    "manual": 0,
    "exif": 1,
    "quicktime": 1,
    "exif_digitized": 2,
    "service": 3,
    "filename": 4,
    "file_mtime": 5,
    None: 6,
}
#: metadata fields whose disagreement between copies needs a decision
COMPARED_FIELDS = ("caption", "tags", "taken_date", "location")
#: two locations closer than this (degrees, about 50 m) agree
LOCATION_TOLERANCE = 0.0005


def present_instances(photo: Photo) -> list[Instance]:
    return [i for i in photo.all_instances() if i.missing_since is None]


def _same(field: str, a: Any, b: Any) -> bool:
    if field == "taken_date":
        # the same wall-clock time with and without a known zone agree
        return str(a)[:19] == str(b)[:19]
    if field == "location":
        return abs(a.lat - b.lat) <= LOCATION_TOLERANCE and abs(a.lng - b.lng) <= LOCATION_TOLERANCE
    if field == "tags":
        # services keep tags in other forms (Flickr: lower case, no spaces): those agree
        return sorted({_clean_tag(t) for t in a}) == sorted({_clean_tag(t) for t in b})
    if field == "caption":
        return a.strip() == b.strip()
    return a == b


def _clean_tag(tag: str) -> str:
    return "".join(tag.lower().split())


def jsonable(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field == "location":
        return {"lat": value.lat, "lng": value.lng}
    if field == "tags":
        return list(value)
    return value


def field_candidates(photo: Photo, field: str) -> list[tuple[Instance, Any]]:
    """(instance, value) for each present instance that has the field; for
    taken_date only the best-trusted source counts."""
    out = [(i, getattr(i.metadata, field)) for i in present_instances(photo) if not i.metadata.is_missing(field)]
    out.sort(key=lambda iv: iv[0].key != photo.canonical_source)  # the canonical copy first
    if field == "taken_date" and out:
        best = min(DATE_SOURCE_RANK.get(i.metadata.taken_date_source, 6) for i, _ in out)
        out = [(i, v) for i, v in out if DATE_SOURCE_RANK.get(i.metadata.taken_date_source, 6) == best]
    return out


def distinct_values(field: str, values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(_same(field, v, o) for o in out):
            out.append(v)
    return out


def exact_duplicates(photo: Photo) -> list[Conflict]:
    same = [i for i in present_instances(photo) if i.content_hash == photo.content_hash]
    if len(same) < 2:
        return []
    places = [i.key for i in same]
    return [
        Conflict(
            id="exact_duplicate:" + photo.content_hash[7:23],
            type="exact_duplicate",
            description=f"the same bytes are in {len(same)} places: " + ", ".join(places[:5])
            + (" ..." if len(places) > 5 else ""),
            services=tuple(sorted({i.service for i in same})),
            resolution_required=False,
        )
    ]


def metadata_mismatches(photo: Photo) -> list[Conflict]:
    out = []
    for field in COMPARED_FIELDS:
        cands = field_candidates(photo, field)
        distinct = distinct_values(field, [v for _, v in cands])
        if len(distinct) < 2:
            continue
        values = {i.key: jsonable(field, v) for i, v in cands}
        cid = f"metadata_mismatch:{field}"
        previous = photo.resolution_for(cid)
        if previous is not None and previous.values_seen == values:
            continue  # already decided for exactly these values
        out.append(
            Conflict(
                id=cid,
                type="metadata_mismatch",
                description=f"different {field.replace('_', ' ')}s across copies",
                services=tuple(sorted({i.service for i, _ in cands})),
                resolution_required=True,
                field=field,
                values=values,
            )
        )
    return out


#: every detector, run in order; issue 3 adds quality and edit variants, visibility and policy checks
DETECTORS: list[Callable[[Photo], list[Conflict]]] = [exact_duplicates, metadata_mismatches]


def detect(photo: Photo) -> list[Conflict]:
    found: list[Conflict] = []
    for detector in DETECTORS:
        found.extend(detector(photo))
    return found
