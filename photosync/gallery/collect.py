"""What a gallery build may show: the photos its audience may see, each reduced to the facts
the pages print (``Entry``).  Everything the site writes comes from these entries (and, for
the owner's build only, the dashboard), so the privacy gate is this one module.

The gate fails closed: a photo is in a build for ``audience`` only when that audience is
within the widest audience its canonical visibility allows (``privacy.allowed_audience``):
``private`` (the owner) sees everything, ``friends`` sees public photos and "friends"
photos whose friends audience takes in friends (not one shared with family only), ``public``
sees public photos.  A widening the library found committed outside ``visibility set`` counts
at its older, narrower level; a record that cannot be read or fails its schema is left out.

Records are read as the library reads them (the work-tree file; its schema checked unless the
index knows these exact bytes as valid) but kept as parsed JSON rather than made into
``Photo``s: the gallery needs a dozen fields of each, and building the whole dataclass tree was
half the time of a build at 100,000 photos (bench/README.md).  Only a photo the build shows and
that has renditions is made a ``Photo``, for the derive seam."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .. import records
from ..errors import PhotosyncError
from ..library.library import git_blob_id
from ..model import Photo, within
from ..privacy import allowed_audience

#: the audiences a gallery is built for, narrowest (fewest viewers, most photos) first
AUDIENCES: tuple[str, ...] = ("private", "friends", "public")


def shown(audience: str, canonical: str, friends_audience: str | None = None,
          widened_from: str | None = None) -> bool:
    """Whether a build for ``audience`` may show a photo of this canonical level and friends
    audience (``widened_from``: the level a widening made outside photosync replaced, which
    is what counts)."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r} (one of {', '.join(AUDIENCES)})")
    if canonical not in AUDIENCES:
        return False  # not a level the schema allows: nobody but the owner, and not even the owner's build
    if audience == "private":
        return True
    fa = friends_audience if canonical == "friends" else None
    if not within(audience, allowed_audience(canonical, fa)):
        return False
    if widened_from is None:
        return True
    # the older level and "friends" audience the index kept ("friends/family"): what counts
    old, _, old_fa = widened_from.partition("/")
    if old not in AUDIENCES:
        return False
    return within(audience, allowed_audience(old, (old_fa or None) if old == "friends" else None))


@dataclass(frozen=True)
class Entry:
    """One photo as the gallery prints it: only what its audience may read."""

    photo_id: str
    taken: str | None  # ISO date and time as recorded
    year: str | None
    month: str | None  # "01".."12"
    filename: str | None
    caption: str | None
    place: str | None  # "lat, lng" (None when the build leaves places out)
    camera: str | None
    albums: tuple[str, ...]
    services: tuple[str, ...]  # services holding a present copy the audience may see there
    stores: tuple[str, ...]  # stores holding a good copy (owner's build only)
    links: tuple[tuple[str, str], ...]  # (label, url) of the original where the viewer may have it
    thumb: str | None  # URL (relative to the site's root) of the grid picture
    large: str | None  # URL of the lightbox picture
    media_type: str | None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _camera(cam: Any) -> str | None:
    if not isinstance(cam, dict):
        return None
    make, model = (_text(cam.get("make")) or "").strip(), (_text(cam.get("model")) or "").strip()
    if make and model.lower().startswith(make.lower()):
        make = ""  # "Canon" + "Canon EOS R5" reads as "Canon EOS R5"
    return " ".join(p for p in (make, model) if p) or None


def _date_parts(taken: str | None) -> tuple[str | None, str | None]:
    if taken and len(taken) >= 7 and taken[:4].isdigit() and taken[4] == "-" and taken[5:7].isdigit() \
            and 1 <= int(taken[5:7]) <= 12:
        return taken[:4], taken[5:7]
    return None, None


def entry(d: dict, audience: str, *, places: bool, stores: dict[str, str | None],
          image: Callable[[dict, str], str | None]) -> Entry:
    """The entry of a shown photo's record ``d`` (parsed, schema-checked JSON).
    ``stores``: active store name -> a file URL of its folder (local stores) or None;
    ``image(d, kind)``: the URL of a rendition ("thumb", "large"), or None."""
    md = d.get("metadata") or {}
    taken = _text(md.get("taken_date"))
    year, month = _date_parts(taken)
    albums: set[str] = {a for a in md.get("albums") or () if isinstance(a, str)}
    services: list[str] = []
    links: list[tuple[str, str]] = []
    for service, insts in sorted((d.get("instances") or {}).items()):
        present = [i for i in insts if not i.get("missing_since")]
        if audience != "private":
            # a copy counts for this viewer only where the service shows it to them
            present = [i for i in present if i.get("visibility") in AUDIENCES
                       and within(audience, i.get("audience") or i["visibility"])]
        if not present:
            continue
        services.append(service)
        for inst in present:
            albums.update(a for a in (inst.get("metadata") or {}).get("albums") or () if isinstance(a, str))
            url = _text(inst.get("url"))
            if url and url.startswith(("https://", "http://")):
                links.append((service, url))
    blobs = d.get("blobs") or {}
    held = tuple(sorted(s for s, b in blobs.items() if not b.get("problem") and s in stores))
    if audience == "private":
        for s in held:
            base = stores[s]
            if base is not None:
                links.insert(0, (f"original in {s}", base.rstrip("/") + "/" + blobs[s]["locator"]))
    place = None
    loc = md.get("location")
    if places and isinstance(loc, dict) and isinstance(loc.get("lat"), (int, float)) \
            and isinstance(loc.get("lng"), (int, float)):
        place = f"{loc['lat']:.5f}, {loc['lng']:.5f}"
    return Entry(
        photo_id=d["photo_id"], taken=taken, year=year, month=month, filename=_text(md.get("filename")),
        caption=_text(md.get("caption")), place=place, camera=_camera(md.get("camera_info")),
        albums=tuple(sorted(albums)), services=tuple(services), stores=held if audience == "private" else (),
        links=tuple(links), thumb=image(d, "thumb"), large=image(d, "large"), media_type=_text(md.get("media_type")),
    )


def as_photo(d: dict) -> Photo:
    """The record as a ``Photo`` (for the derive seam, which reads renditions from one)."""
    return records.photo_from_dict(d)


def shown_records(lib, audience: str, read: Callable[[], None] = lambda: None) -> Iterator[dict]:
    """The records (parsed JSON) of the photos a build for ``audience`` may show, in id order
    (``read()`` is called for each record read, shown or not: the progress bar)."""
    assert lib.index is not None
    widened = {row[0]: row[2] for row in lib.index.widenings()}
    for pid, path, known in lib.index.photo_paths():
        read()
        try:
            data = (lib.root / path).read_bytes()
            d = records.migrate_photo(records.parse_json(data, path))
            if known != git_blob_id(data):  # bytes the index has not seen valid: check them
                records.validate("photo", d, path)
        except (PhotosyncError, OSError):
            continue  # the library reported it when it opened; a record it cannot read is never shown
        if not isinstance(d, dict) or d.get("photo_id") != pid:
            continue
        vis = d.get("visibility") or {}
        if shown(audience, str(vis.get("canonical")), vis.get("friends_audience"), widened.get(pid)):
            yield d
