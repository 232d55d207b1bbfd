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
#: how a conflict's description names each field
_PLURAL = {"caption": "captions", "tags": "tags", "taken_date": "taken dates", "location": "locations"}
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
        # services keep tags in other forms (Flickr's clean form: lower case, no spaces, no
        # punctuation, so "Black & White" is "blackwhite"): those agree
        return sorted({_clean_tag(t) for t in a}) == sorted({_clean_tag(t) for t in b})
    if field == "caption":
        return a.strip() == b.strip()
    return a == b


def _clean_tag(tag: str) -> str:
    # Flickr's cleaning rule (flickr.com/services/api/misc.tags.html; letters of any script stay)
    return "".join(ch for ch in tag.lower() if ch.isalnum())


def jsonable(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field == "location":
        return {"lat": value.lat, "lng": value.lng}
    if field == "tags":
        return list(value)
    if field == "camera_info":  # a sync conflict's value (library/merge.py)
        return {"make": value.make, "model": value.model}
    if isinstance(value, tuple):
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
    if len(present_instances(photo)) < 2:
        return []  # one copy has nothing to disagree with (most new photos: 10 lookups a photo saved)
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
                description=f"different {_PLURAL.get(field, field)} across copies",
                services=tuple(sorted({i.service for i, _ in cands})),
                resolution_required=True,
                field=field,
                values=values,
            )
        )
    return out


def visibility_discrepancies(photo: Photo) -> list[Conflict]:
    """A service showing the photo at another level than its canonical one.  Not
    a question for resolve: a wider service is narrowed by ``audit
    --visibility-check --fix``; a narrower one is safe (widening is ``visibility set``)."""
    out = []
    for d in photo.visibility.discrepancies:
        shown = d.audience or d.current
        may = f" ({d.allowed} there)" if d.allowed else ""
        if d.wider:
            desc = (f"{d.service} shows it to {shown}, wider than its canonical {d.canonical}{may}: "
                    "narrow it with photosync audit --visibility-check --fix")
        else:
            desc = f"{d.service} shows it to {shown}, narrower than its canonical {d.canonical}{may} (safe)"
        out.append(Conflict(id=f"visibility_discrepancy:{d.service}", type="visibility_discrepancy",
                            description=desc, services=(d.service,), resolution_required=False))
    return out


def canonical_instance(photo: Photo) -> Instance | None:
    same = [i for i in photo.all_instances() if i.content_hash == photo.content_hash]
    return next((i for i in same if i.key == photo.canonical_source), same[0] if same else None)


def cannot_take(photo: Photo, caps) -> list[str]:
    """Why a service with these capabilities cannot take the photo as it is
    (empty: it can).  photosync never shrinks, converts or widens to fit."""
    from ..media.formats import FORMATS
    from ..privacy import upload_level

    inst = canonical_instance(photo)
    size = inst.size if inst is not None else None
    fmt = (inst.metadata.format if inst is not None else None) or photo.metadata.format
    kind = (inst.metadata.media_type if inst is not None else None) or photo.metadata.media_type
    if kind is None and fmt in FORMATS:
        kind = FORMATS[fmt].kind
    out = []
    if caps.upload_formats and fmt and fmt not in caps.upload_formats:
        out.append(f"it does not accept {fmt.upper()} files")
    limit = caps.max_video_bytes if kind == "video" else caps.max_photo_bytes
    if limit and size and size > limit:
        out.append(f"the file is {size / 2**20:.0f} MiB, over its {limit / 2**20:.0f} MiB limit for a {kind or 'photo'}")
    if caps.visibility_levels and upload_level(photo.visibility.canonical, caps.visibility_levels) is None:
        out.append(f"it cannot show a photo as narrowly as '{photo.visibility.canonical}'")
    return out


def policy_violations(photo: Photo, targets: dict[str, tuple[Any, list[str]]]) -> list[Conflict]:
    """Target services (``upload_from``) that should receive this photo but cannot
    take it as it is.  ``targets``: service -> (its capabilities, its sources)."""
    out = []
    present = {i.service for i in present_instances(photo)}
    for service, (caps, sources) in sorted(targets.items()):
        if service in present or not present & set(sources):
            continue
        problems = cannot_take(photo, caps)
        if problems:
            out.append(Conflict(
                id=f"service_policy_violation:{service}", type="service_policy_violation",
                description=f"{service} cannot take it as it is: {'; '.join(problems)}; "
                            "it is not uploaded there (photosync never alters a photo to fit)",
                services=(service,), resolution_required=False))
    return out


#: detectors of one record, run in order (variants across records: conflicts/variants.py;
#: service policies need the targets: policy_violations)
DETECTORS: list[Callable[[Photo], list[Conflict]]] = [exact_duplicates, metadata_mismatches, visibility_discrepancies]


def detect(photo: Photo, targets: dict | None = None) -> list[Conflict]:
    found: list[Conflict] = []
    for detector in DETECTORS:
        found.extend(detector(photo))
    if targets:
        found.extend(policy_violations(photo, targets))
    return found
