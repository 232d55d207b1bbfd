"""The derive seam (issue 16): renditions, the derived copies every later output reuses.

A rendition is made from a photo's original by a *recipe* (a thumbnail at a long edge, the
photo's age tier), stored content-addressed beside the original in the blob stores (key:
``YYYY/MM/<photo_id>-<original sha256>.<name>.<rendition sha256>.<ext>``, see
``stores.naming.rendition_key``), verified like an original, and recorded in the photo's record
under ``renditions`` (``model.Rendition``: kind, recipe, source content, its own hash, size,
format, pixel size, copies by store).  It is derived data: rebuilt from the original at any time,
never an original, never deleted from a store (a new recipe's bytes get a new key).

What a reader needs (the gallery, export, status) is here, with no image library imported:

* ``renditions(photo, kind=None)``: a photo's current renditions (made from its original as it
  is now, with a good copy), smallest first;
* ``thumbnail(photo, edge)``: the thumbnail to show at ``edge`` pixels;
* ``read_rendition(rendition, stores)`` / ``open_rendition``: its bytes from the first store
  that gives them whole (hash checked), or SourceError naming each store tried.

``stores`` is a mapping of store name to ``BlobStore`` (``phases.common.make_stores(lib)``), in
the order to try (primary first).  The producer is ``phases/derive.py``.
"""

from __future__ import annotations

import hashlib
import tempfile
from typing import BinaryIO, Mapping

from .errors import PhotosyncError, SourceError
from .model import Photo, Rendition
from .stores.base import BlobStore
from .stores.naming import RenditionKey, rendition_key  # noqa: F401  (part of the seam)

#: the kinds (model.RENDITION_KINDS)
THUMBNAIL = "thumbnail"
TIER = "tier"
#: the name of a photo's age-tier copy (one a photo, re-made when its tier changes)
TIER_NAME = "tier"


def thumbnail_name(edge: int) -> str:
    """The rendition name of the thumbnail at long edge ``edge``: ``thumb-200``."""
    return f"thumb-{int(edge)}"


def is_current(photo: Photo, rendition: Rendition, recipe: str | None = None) -> bool:
    """Made from the photo's original as it is now (and by ``recipe`` when given), with at least
    one good copy in a store."""
    return (rendition.source_hash == photo.content_hash and bool(rendition.good_copies())
            and (recipe is None or rendition.recipe == recipe))


def renditions(photo: Photo, kind: str | None = None, *, current: bool = True) -> list[Rendition]:
    """The photo's renditions (of ``kind``), smallest long edge first; ``current`` (the default)
    keeps only those made from its original as it is now with a good copy."""
    out = [r for r in photo.renditions.values()
           if (kind is None or r.kind == kind) and (not current or is_current(photo, r))]
    out.sort(key=lambda r: (r.kind, r.long_edge, r.name))
    return out


def thumbnail(photo: Photo, edge: int) -> Rendition | None:
    """The smallest current thumbnail whose long edge is at least ``edge``, else the largest
    there is (a photo smaller than ``edge`` has thumbnails no larger than itself); None when
    it has none."""
    thumbs = renditions(photo, THUMBNAIL)
    for r in thumbs:
        if r.long_edge >= edge:
            return r
    return thumbs[-1] if thumbs else None


def with_rendition(photo: Photo, rendition: Rendition) -> Photo:
    """``photo`` with ``rendition`` recorded under its name (replacing an older one of that name)."""
    rends = dict(photo.renditions)
    rends[rendition.name] = rendition
    return photo.replace(renditions=dict(sorted(rends.items())))


#: renditions up to this size are read into memory; larger ones (a tier's video) spill to a file
_IN_MEMORY = 16 << 20


def open_rendition(rendition: Rendition, stores: Mapping[str, BlobStore]) -> BinaryIO:
    """The rendition's bytes, from the first store in ``stores`` holding a good copy that reads
    back whole with the rendition's hash (rewound; a temporary file for large ones).  Raises
    SourceError naming every store tried when none does."""
    tried = []
    for name, store in stores.items():
        copy = rendition.copies.get(name)
        if copy is None or not copy.good:
            continue
        spool: BinaryIO = tempfile.SpooledTemporaryFile(_IN_MEMORY)  # type: ignore[assignment]
        h = hashlib.sha256()
        try:
            with store.open(copy.locator) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                    spool.write(chunk)
        except (PhotosyncError, OSError) as e:
            spool.close()
            tried.append(f"store {name}: {e}")
            continue
        if "sha256:" + h.hexdigest() != rendition.content_hash:
            spool.close()
            tried.append(f"store {name}: its bytes do not match the rendition's SHA-256")
            continue
        spool.seek(0)
        return spool
    detail = "; ".join(tried) if tried else "no good copy in " + (", ".join(stores) or "any store")
    raise SourceError(f"rendition {rendition.name} ({rendition.content_hash[7:19]}) cannot be read ({detail})")


def read_rendition(rendition: Rendition, stores: Mapping[str, BlobStore]) -> bytes:
    """``open_rendition``'s bytes, whole."""
    with open_rendition(rendition, stores) as f:
        return f.read()
