"""Photo records written straight into a real library (Library.stage + commit), for the
gallery's tests and bench/gallery.py: a gallery is built from records alone, so no picture
needs to be discovered to test which photos a build shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from photosync.model import BlobCopy, CameraInfo, Instance, Location, Metadata, Photo, Visibility
from photosync.privacy import refresh

NOW = "2026-12-06T10:00:00Z"


@dataclass
class Spec:
    """What a generated photo is: every field the gallery could print, each distinct per photo
    (the property test searches the output for them)."""

    n: int
    level: str = "private"
    friends_audience: str | None = None
    taken: str | None = "2019-07-04T14:22:33"
    caption: str | None = None
    filename: str | None = None
    place: tuple[float, float] | None = None
    camera: str | None = None
    albums: tuple[str, ...] = ()
    #: service -> the level it shows the photo at (None: a folder, no level)
    services: dict[str, str | None] = field(default_factory=lambda: {"pics": None})
    stores: tuple[str, ...] = ("local",)
    #: whether write(thumbnails=True) gives this photo its renditions
    thumbnails: bool = True

    @property
    def content_hash(self) -> str:
        return f"sha256:{self.n:064x}"

    @property
    def photo_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.content_hash))


def record(spec: Spec) -> Photo:
    h = spec.content_hash
    pid = spec.photo_id
    md = Metadata(
        taken_date=spec.taken, taken_date_source="exif" if spec.taken else None,
        filename=spec.filename or f"IMG_{spec.n:05d}.jpg", caption=spec.caption,
        location=Location(*spec.place) if spec.place else None,
        camera_info=CameraInfo(make="Make", model=spec.camera) if spec.camera else None,
        media_type="photo", format="jpeg", width=4000, height=3000, albums=spec.albums,
    )
    instances = {}
    for service, level in spec.services.items():
        url = f"https://photos.example/{service}/{spec.n}" if level else None
        audience = spec.friends_audience if level == "friends" else None
        instances[service] = (Instance(service=service, id=f"{service}-{spec.n}", content_hash=h, last_sync=NOW,
                                       size=1000 + spec.n, metadata=md, visibility=level, url=url,
                                       audience=audience),)
    first = next(iter(instances.values()))[0]
    ext_dir = (spec.taken or "undated")[:7].replace("-", "/") if spec.taken else "undated"
    blobs = {s: BlobCopy(store=s, locator=f"{ext_dir}/{pid}-{h[7:]}.jpg", size=1000 + spec.n,
                         verified_at=NOW) for s in spec.stores}
    photo = Photo(photo_id=pid, content_hash=h, canonical_source=first.key, metadata=md, created_at=NOW,
                  updated_at=NOW, instances=instances, blobs=blobs, processing_state="resolved",
                  visibility=Visibility(canonical=spec.level,
                                        friends_audience=spec.friends_audience if spec.level == "friends" else None))
    return refresh(photo)


def picture(spec: Spec, edge: int) -> bytes:
    """A WebP of ``edge`` px (4:3), a colour of its own per photo, as a thumbnail would be."""
    import io

    from PIL import Image

    img = Image.new("RGB", (edge, edge * 3 // 4), ((spec.n * 67) % 256, (spec.n * 131) % 256, 90))
    buf = io.BytesIO()
    img.save(buf, "WEBP", quality=60)
    return buf.getvalue()


def picture_hash(spec: Spec, edge: int) -> str:
    import hashlib

    return hashlib.sha256(picture(spec, edge)).hexdigest()


def with_thumbnails(lib, photo: Photo, spec: Spec, edges=(200, 1200)) -> Photo:
    """``photo`` with thumbnails at ``edges``, their bytes put into the library's stores through
    the derive seam's keys (what `derive thumbnails` records)."""
    import hashlib
    import io

    from photosync.model import Rendition
    from photosync.phases.common import make_stores
    from photosync.renditions import THUMBNAIL, rendition_key, thumbnail_name, with_rendition

    stores = make_stores(lib)
    for edge in edges:
        data = picture(spec, edge)
        r = Rendition(name=thumbnail_name(edge), kind=THUMBNAIL, recipe="thumbnail/1 webp q80",
                      source_hash=photo.content_hash, content_hash="sha256:" + hashlib.sha256(data).hexdigest(),
                      size=len(data), format="webp", width=edge, height=edge * 3 // 4, made_at=NOW)
        copies = {}
        for name, store in stores.items():
            blob = store.put(rendition_key(photo, r), io.BytesIO(data), len(data))
            copies[name] = BlobCopy(name, blob.locator, blob.size, NOW)
        photo = with_rendition(photo, Rendition(**{**r.__dict__, "copies": copies}))
    return photo


def flush(lib) -> None:
    from photosync.phases.common import make_stores

    for store in make_stores(lib).values():
        store.flush()


def write(root: Path, specs: list[Spec], message: str = "test: photos", thumbnails: tuple[int, ...] = ()) -> None:
    """Commit the records of ``specs`` into the library at ``root`` (``thumbnails``: with
    renditions at these long edges in its stores, e.g. (200, 1200))."""
    from helpers import open_lib

    lib, _ = open_lib(root)
    try:
        for spec in specs:
            photo = record(spec)
            if thumbnails and spec.thumbnails:
                photo = with_thumbnails(lib, photo, spec, thumbnails)
            lib.stage(photo)
        if thumbnails:
            flush(lib)
        lib.commit(message)
    finally:
        lib.close()
