"""The pictures a gallery shows, from the derive seam (``photosync.renditions``): the one
place the site meets the renditions.  ``Images.url(photo, kind)`` gives the URL, relative to
the site's root, of a photo's grid picture ("thumb": its thumbnail of at least 200 px) or
lightbox picture ("large": at least 1200 px), and puts that rendition's bytes into the site;
None when the photo has no current thumbnail (the page then shows a tile with its date, and
the lightbox its facts).

A picture's file is named by the rendition's own hash (``img/ab/<sha256>.webp``): it says
nothing of the photo (no id, no name), a picture shared by two pages is written once, and the
next build takes it from the previous one (checked against the hash) instead of reading the
store again, which is what keeps a rebuild of a large library fast on S3."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .. import renditions
from ..errors import PhotosyncError
from ..model import Photo, Rendition
from .collect import as_photo

#: the long edge each picture of the gallery needs at least
SIZES = {"thumb": 200, "large": 1200}
_EXT = re.compile(r"[a-z0-9]{1,10}")


class Images:
    def __init__(self, lib, out: Path, previous: Path | None = None) -> None:
        self.lib = lib
        self.out = out
        #: an earlier build of this site (its pictures are reused when their hash matches)
        self.previous = previous
        self._stores: dict | None = None
        #: rendition hash -> URL (None: it could not be read)
        self._done: dict[str, str | None] = {}
        self.written = 0
        self.reused = 0
        #: photos shown without a picture: no current thumbnail (or it could not be read)
        self.missing = 0
        self._last: tuple[str, Photo] | None = None

    def _path(self, r: Rendition) -> str:
        fmt = (r.format or "").lower()
        ext = {"jpeg": "jpg"}.get(fmt, fmt)
        return f"img/{r.content_hash[7:9]}/{r.content_hash[7:]}.{ext if _EXT.fullmatch(ext) else 'bin'}"

    def _bytes(self, r: Rendition, rel: str) -> bytes:
        if self.previous is not None:
            try:
                data = (self.previous / rel).read_bytes()
            except OSError:
                pass
            else:
                if "sha256:" + hashlib.sha256(data).hexdigest() == r.content_hash:
                    self.reused += 1
                    return data
        if self._stores is None:
            from ..phases.common import make_stores

            self._stores = make_stores(self.lib)
        data = renditions.read_rendition(r, self._stores)
        self.written += 1
        return data

    def url(self, record: dict, kind: str) -> str | None:
        """``record``: a shown photo's parsed record."""
        if not record.get("renditions"):
            if kind == "thumb":
                self.missing += 1
            return None
        if self._last is None or self._last[0] != record["photo_id"]:
            self._last = (record["photo_id"], as_photo(record))  # one Photo for its two pictures
        photo = self._last[1]
        r = renditions.thumbnail(photo, SIZES[kind])
        if r is None:
            if kind == "thumb":
                self.missing += 1
            return None
        if r.content_hash in self._done:
            return self._done[r.content_hash]
        rel = self._path(r)
        try:
            data = self._bytes(r, rel)
        except (PhotosyncError, OSError) as e:
            where = photo.metadata.filename or photo.photo_id
            self.lib.report.warning(f"photo {where} ({photo.photo_id[:8]})",
                                    f"its {r.name} could not be read for the gallery: {e}")
            self._done[r.content_hash] = None
            if kind == "thumb":
                self.missing += 1
            return None
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self._done[r.content_hash] = rel
        return rel

    def close(self) -> None:
        for store in (self._stores or {}).values():
            close = getattr(store, "close", None)
            if close is not None:
                close()


