"""What a gallery build may show: the photos its audience may see, each reduced to the
facts the pages print (``Entry``).  Everything the site writes comes from these entries
(and, for the owner's build only, the dashboard), so the privacy gate is this one module.

The gate fails closed: a photo is in a build for ``audience`` only when that audience is
within the widest audience its canonical visibility allows (``privacy.allowed_audience``):
``private`` (the owner) sees everything, ``friends`` sees public photos and "friends"
photos whose friends audience takes in friends (not one shared with family only), ``public``
sees public photos.  A widening the library found committed outside ``visibility set`` counts
at its older, narrower level; a record that cannot be read is left out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ..errors import InvalidRecord
from ..model import Photo, narrowest, within
from ..privacy import allowed_audience

#: the audiences a gallery is built for, narrowest (fewest viewers, most photos) first
AUDIENCES: tuple[str, ...] = ("private", "friends", "public")


def shown(photo: Photo, audience: str, widened_from: str | None = None) -> bool:
    """Whether a build for ``audience`` may show ``photo`` (``widened_from``: the level a
    widening made outside photosync replaced, which is what counts)."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r} (one of {', '.join(AUDIENCES)})")
    level = photo.visibility.canonical
    if widened_from is not None:
        level = narrowest([level, widened_from])
    if audience == "private":
        return True
    fa = photo.visibility.friends_audience if level == photo.visibility.canonical else None
    return within(audience, allowed_audience(level, fa))


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
    width: int | None
    height: int | None


def _camera(photo: Photo) -> str | None:
    cam = photo.metadata.camera_info
    if cam is None:
        return None
    make, model = (cam.make or "").strip(), (cam.model or "").strip()
    if make and model.lower().startswith(make.lower()):
        make = ""  # "Canon" + "Canon EOS R5" reads as "Canon EOS R5"
    return " ".join(p for p in (make, model) if p) or None


def _date_parts(taken: str | None) -> tuple[str | None, str | None]:
    if taken and len(taken) >= 7 and taken[:4].isdigit() and taken[4] == "-" and taken[5:7].isdigit():
        return taken[:4], taken[5:7]
    return None, None


def entry(photo: Photo, audience: str, *, places: bool, stores: dict[str, str | None],
          image: Callable[[Photo, str], str | None]) -> Entry:
    """``stores``: active store name -> a file URL of its folder (local stores) or None;
    ``image(photo, kind)``: the URL of a rendition ("thumb", "large"), or None."""
    md = photo.metadata
    year, month = _date_parts(md.taken_date)
    albums: set[str] = set(md.albums)
    services: list[str] = []
    links: list[tuple[str, str]] = []
    for service, insts in sorted(photo.instances.items()):
        present = [i for i in insts if i.missing_since is None]
        if audience != "private":
            # a copy counts for this viewer only where the service shows it to them
            present = [i for i in present if i.visibility and within(audience, i.audience or i.visibility)]
        if not present:
            continue
        services.append(service)
        for inst in present:
            albums.update(inst.metadata.albums)
            if inst.url and inst.url.startswith(("https://", "http://")):
                links.append((service, inst.url))
    held = tuple(sorted(s for s, b in photo.blobs.items() if b.problem is None and s in stores))
    if audience == "private":
        for s in held:
            base = stores[s]
            if base is not None:
                links.insert(0, (f"original in {s}", base.rstrip("/") + "/" + photo.blobs[s].locator))
    place = None
    if places and md.location is not None:
        place = f"{md.location.lat:.5f}, {md.location.lng:.5f}"
    return Entry(
        photo_id=photo.photo_id, taken=md.taken_date, year=year, month=month, filename=md.filename,
        caption=md.caption, place=place, camera=_camera(photo), albums=tuple(sorted(albums)),
        services=tuple(services), stores=held if audience == "private" else (), links=tuple(links),
        thumb=image(photo, "thumb"), large=image(photo, "large"), media_type=md.media_type,
        width=md.width, height=md.height,
    )


def photos(lib, audience: str, read: Callable[[], None] = lambda: None) -> Iterator[Photo]:
    """The library's photos a build for ``audience`` may show, in id order (``read()`` is
    called for each record read, shown or not: the progress bar)."""
    assert lib.index is not None
    widened = {row[0]: row[2] for row in lib.index.widenings()}
    for pid in lib.photo_ids():
        try:
            photo = lib.get_photo(pid)
        except (InvalidRecord, KeyError):
            continue  # the library reported it when it opened; a record it cannot read is never shown
        finally:
            read()
        if shown(photo, audience, widened.get(pid)):
            yield photo
