"""The one place where records become JSON and back, with schema validation.

Every file photosync reads or writes goes through :func:`load_json` /
:func:`dump_json` and is checked against its schema in ``schemas/``.  Errors
name the file and the field (``instances.pictures[0].quality``) so a person can
find what to fix.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from .errors import InvalidRecord
from .model import (
    SCHEMA_VERSION,
    BlobCopy,
    CameraInfo,
    Conflict,
    Discrepancy,
    Instance,
    Location,
    Metadata,
    Photo,
    Resolution,
    Visibility,
)

SCHEMA_FILES = {
    "photo": "photo-metadata.schema.json",
    "services": "service-config.schema.json",
    "preferences": "user-preferences.schema.json",
    "sync_state": "sync-state.schema.json",
}


def schema_files() -> dict[str, bytes]:
    """The packaged schema files, by file name (``photosync init`` copies them)."""
    root = resources.files("photosync") / "schemas"
    return {name: (root / name).read_bytes() for name in sorted(SCHEMA_FILES.values())}


@lru_cache(maxsize=None)
def _validator(kind: str):
    import jsonschema  # slow to import: only when something is validated

    text = (resources.files("photosync") / "schemas" / SCHEMA_FILES[kind]).read_text("utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _field_path(parts) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def validate(kind: str, data: Any, where: str) -> None:
    """Raise :class:`InvalidRecord` naming ``where`` and the first bad field."""
    from jsonschema.exceptions import best_match

    validator = _validator(kind)
    error = best_match(validator.iter_errors(data))
    if error is None:
        return
    # descend to the most specific error for oneOf/anyOf
    while error.context:
        deeper = best_match(error.context)
        if deeper is None:
            break
        error = deeper
    field = _field_path(error.absolute_path) or None
    reason = error.message
    if error.validator == "not" and error.absolute_path and "propertyNames" in error.schema_path:
        reason = "secrets do not belong in config files in git; keep them in the credentials store"
    if error.validator == "additionalProperties":
        reason = f"unknown field ({error.message})"
    raise InvalidRecord(where, reason, field)


def parse_json(text: bytes | str, where: str) -> Any:
    try:
        return json.loads(text)
    except UnicodeDecodeError as e:
        raise InvalidRecord(where, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise InvalidRecord(where, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


def load_json(kind: str, text: bytes | str, where: str) -> Any:
    data = parse_json(text, where)
    validate(kind, data, where)
    return data


def dump_json(data: Any) -> bytes:
    """Stable, diff-friendly JSON: two-space indent, UTF-8, trailing newline."""
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# -- photo <-> dict ------------------------------------------------------------------

def _location_to(loc: Location | None):
    if loc is None:
        return None
    out = {"lat": loc.lat, "lng": loc.lng}
    if loc.alt is not None:
        out["alt"] = loc.alt
    return out


def _location_from(d) -> Location | None:
    return None if d is None else Location(float(d["lat"]), float(d["lng"]), d.get("alt"))


def _camera_to(cam: CameraInfo | None):
    return None if cam is None else {"make": cam.make, "model": cam.model}


def _camera_from(d) -> CameraInfo | None:
    return None if d is None else CameraInfo(d.get("make"), d.get("model"))


_EXTRA_FIELDS = ("taken_date_source", "media_type", "format", "width", "height")


def metadata_to_dict(md: Metadata, canonical: bool) -> dict:
    """Canonical metadata lists every core field (null when unknown); an
    instance's metadata lists only what the service said."""
    full = {
        "taken_date": md.taken_date,
        "taken_date_source": md.taken_date_source,
        "filename": md.filename,
        "location": _location_to(md.location),
        "tags": list(md.tags),
        "caption": md.caption,
        "camera_info": _camera_to(md.camera_info),
        "media_type": md.media_type,
        "format": md.format,
        "width": md.width,
        "height": md.height,
        "albums": list(md.albums),
    }
    core = ("taken_date", "filename", "location", "tags", "caption", "camera_info")
    out = {}
    for k, v in full.items():
        if canonical and k in core:
            out[k] = v
        elif v is not None and v != []:
            out[k] = v
    return out


def metadata_from_dict(d: dict) -> Metadata:
    return Metadata(
        taken_date=d.get("taken_date"),
        taken_date_source=d.get("taken_date_source"),
        filename=d.get("filename"),
        location=_location_from(d.get("location")),
        tags=tuple(d.get("tags") or ()),
        caption=d.get("caption"),
        camera_info=_camera_from(d.get("camera_info")),
        media_type=d.get("media_type"),
        format=d.get("format"),
        width=d.get("width"),
        height=d.get("height"),
        albums=tuple(d.get("albums") or ()),
    )


def _instance_to(inst: Instance) -> dict:
    out: dict[str, Any] = {
        "id": inst.id,
        "quality": inst.quality,
        "last_sync": inst.last_sync,
        "url": inst.url,
        "content_hash": inst.content_hash,
    }
    if inst.size is not None:
        out["size"] = inst.size
    md = metadata_to_dict(inst.metadata, canonical=False)
    if md:
        out["metadata"] = md
    if inst.visibility is not None:
        out["visibility"] = inst.visibility
    if inst.missing_since is not None:
        out["missing_since"] = inst.missing_since
    if inst.raw_name_b64 is not None:
        out["raw_name_b64"] = inst.raw_name_b64
    return out


def _instance_from(service: str, d: dict) -> Instance:
    return Instance(
        service=service,
        id=d["id"],
        content_hash=d["content_hash"],
        quality=d["quality"],
        last_sync=d["last_sync"],
        url=d.get("url"),
        size=d.get("size"),
        metadata=metadata_from_dict(d.get("metadata") or {}),
        visibility=d.get("visibility"),
        missing_since=d.get("missing_since"),
        raw_name_b64=d.get("raw_name_b64"),
    )


def _conflict_to(c: Conflict) -> dict:
    out: dict[str, Any] = {
        "id": c.id,
        "type": c.type,
        "description": c.description,
        "services": list(c.services),
        "resolution_required": c.resolution_required,
    }
    if c.field is not None:
        out["field"] = c.field
    if c.values is not None:
        out["values"] = dict(c.values)
    if c.related_photos:
        out["related_photos"] = list(c.related_photos)
    return out


def _conflict_from(d: dict) -> Conflict:
    return Conflict(
        id=d["id"],
        type=d["type"],
        description=d["description"],
        services=tuple(d.get("services") or ()),
        resolution_required=bool(d["resolution_required"]),
        field=d.get("field"),
        values=d.get("values"),
        related_photos=tuple(d.get("related_photos") or ()),
    )


def _resolution_to(r: Resolution) -> dict:
    out: dict[str, Any] = {"conflict_id": r.conflict_id, "how": r.how}
    if r.policy is not None:
        out["policy"] = r.policy
    if r.choice is not None:
        out["choice"] = r.choice
    if r.value is not None:
        out["value"] = r.value
    if r.values_seen is not None:
        out["values_seen"] = dict(r.values_seen)
    out["at"] = r.at
    return out


def _resolution_from(d: dict) -> Resolution:
    return Resolution(
        conflict_id=d["conflict_id"],
        how=d["how"],
        at=d["at"],
        policy=d.get("policy"),
        choice=d.get("choice"),
        value=d.get("value"),
        values_seen=d.get("values_seen"),
    )


def photo_to_dict(p: Photo) -> dict:
    out = {
        "schema_version": p.schema_version,
        "photo_id": p.photo_id,
        "content_hash": p.content_hash,
        "canonical_source": p.canonical_source,
        "source_of_truth_path": p.source_of_truth_path,
        "instances": {svc: [_instance_to(i) for i in insts] for svc, insts in sorted(p.instances.items())},
        "metadata": metadata_to_dict(p.metadata, canonical=True),
        "visibility": {
            "canonical": p.visibility.canonical,
            "per_service": dict(sorted(p.visibility.per_service.items())),
            "discrepancies": [
                {"service": d.service, "current": d.current, "canonical": d.canonical}
                for d in p.visibility.discrepancies
            ],
        },
        "blobs": {
            name: {
                k: v
                for k, v in (
                    ("locator", c.locator),
                    ("size", c.size),
                    ("verified_at", c.verified_at),
                    ("problem", c.problem),
                )
                if not (k == "problem" and v is None)
            }
            for name, c in sorted(p.blobs.items())
        },
        "processing_state": p.processing_state,
        "conflicts": [_conflict_to(c) for c in p.conflicts],
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }
    if p.resolutions:
        out["resolutions"] = [_resolution_to(r) for r in p.resolutions]
        # keep the design's field order: created_at/updated_at last
        out["created_at"] = out.pop("created_at")
        out["updated_at"] = out.pop("updated_at")
    return out


def photo_from_dict(d: dict) -> Photo:
    vis = d["visibility"]
    return Photo(
        schema_version=d["schema_version"],
        photo_id=d["photo_id"],
        content_hash=d["content_hash"],
        canonical_source=d["canonical_source"],
        source_of_truth_path=d.get("source_of_truth_path"),
        instances={
            svc: tuple(_instance_from(svc, i) for i in insts) for svc, insts in d["instances"].items()
        },
        metadata=metadata_from_dict(d["metadata"]),
        visibility=Visibility(
            canonical=vis["canonical"],
            per_service=dict(vis["per_service"]),
            discrepancies=tuple(Discrepancy(**x) for x in vis["discrepancies"]),
        ),
        blobs={
            name: BlobCopy(store=name, locator=c["locator"], size=c["size"],
                           verified_at=c["verified_at"], problem=c.get("problem"))
            for name, c in d["blobs"].items()
        },
        processing_state=d["processing_state"],
        conflicts=tuple(_conflict_from(c) for c in d["conflicts"]),
        resolutions=tuple(_resolution_from(r) for r in d.get("resolutions") or ()),
        created_at=d["created_at"],
        updated_at=d["updated_at"],
    )


def migrate_photo(data: Any) -> Any:
    """Bring an older photo record up to :data:`SCHEMA_VERSION` (none exist yet)."""
    return data


def photo_from_bytes(text: bytes, where: str) -> Photo:
    data = parse_json(text, where)
    if isinstance(data, dict):
        data = migrate_photo(data)
    validate("photo", data, where)
    photo = photo_from_dict(data)
    expected_name = f"{photo.photo_id}.json"
    if not where.endswith(expected_name):
        raise InvalidRecord(where, f"photo_id {photo.photo_id} does not match the file name", "photo_id")
    return photo


def photo_to_bytes(photo: Photo, where: str) -> bytes:
    data = photo_to_dict(photo)
    validate("photo", data, where)
    return dump_json(data)
