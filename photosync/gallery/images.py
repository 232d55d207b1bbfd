"""The pictures a gallery shows: the one place the derive seam (issue 16, thumbnails)
plugs in.  ``Images.url(photo, kind)`` gives the URL, relative to the site's root, of a
photo's grid picture ("thumb", 200 px) or lightbox picture ("large", 1200 px), copying the
rendition into the site; None when the photo has none (the page then shows a placeholder
tile with its date, and the lightbox its facts)."""

from __future__ import annotations

from pathlib import Path

from ..model import Photo

#: the rendition each picture of the gallery uses: long edge in pixels
SIZES = {"thumb": 200, "large": 1200}


class Images:
    def __init__(self, lib, out: Path) -> None:
        self.lib = lib
        self.out = out
        #: pictures written into the site this build
        self.written = 0
        #: photos that have no rendition of a size the gallery uses
        self.missing = 0

    def url(self, photo: Photo, kind: str) -> str | None:
        # No renditions exist yet: `photosync derive thumbnails` makes them (the derive seam).
        self.missing += 1
        return None

    def close(self) -> None:
        pass
