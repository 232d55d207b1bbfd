"""What a blob is called in every store: the key of each content a photo holds.

Next to the stores that use it (and not in phases/) so that a connector that
names a file after its blob (Flickr names an upload by its extension) needs
nothing from the phases.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..library.layout import SAFE_EXT, rendition_blob_name
from ..media.formats import FORMATS, extension
from ..model import Instance, Photo, Rendition
from .base import BlobKey


def blob_ext(photo: Photo) -> str:
    return format_ext(photo.metadata.format, photo.metadata.filename)


def format_ext(fmt: str | None, filename: str | None) -> str:
    """A blob's extension: its format's, else its file name's when it is 1-10 letters
    and digits, else "bin"."""
    if fmt and fmt in FORMATS:
        return FORMATS[fmt].ext
    ext = extension(filename or "")
    # a name like ``x.jpg/../..`` must not shape the key: 1-10 letters and digits, else bin
    return ext if SAFE_EXT.fullmatch(ext) else "bin"


def blob_key(photo: Photo, content_hash: str | None = None) -> BlobKey:
    """Where a content of ``photo`` is stored: the photo's id and date, the
    content's hash, and the extension of its own format (a merged PNG copy of a
    JPEG original stays .png)."""
    if content_hash is None or content_hash == photo.content_hash:
        return BlobKey(photo.photo_id, photo.content_hash, photo.metadata.taken_date, blob_ext(photo))
    inst = content_instance(photo, content_hash)
    ext = format_ext(inst.metadata.format, inst.metadata.filename or inst.id.rsplit("/", 1)[-1]) if inst else "bin"
    return BlobKey(photo.photo_id, content_hash, photo.metadata.taken_date, ext)


def content_instance(photo: Photo, content_hash: str) -> Instance | None:
    """The instance that best describes one content: a present one first."""
    insts = [i for i in photo.all_instances() if i.content_hash == content_hash]
    insts.sort(key=lambda i: (i.missing_since is not None, i.service, i.id))
    return insts[0] if insts else None


def content_size(photo: Photo, content_hash: str) -> int | None:
    for inst in photo.all_instances():
        if inst.content_hash == content_hash and inst.size is not None:
            return inst.size
    return None


@dataclass(frozen=True)
class RenditionKey(BlobKey):
    """Where a rendition is stored: ``content_hash`` is the rendition's own (what a store
    verifies the bytes against); the name sits beside the original's key
    (``layout.rendition_blob_name``)."""

    source_hash: str = ""
    rendition: str = ""

    @property
    def name(self) -> str:
        return rendition_blob_name(self.photo_id, self.source_hash, self.taken_date, self.rendition,
                                   self.content_hash, self.ext)


def rendition_ext(fmt: str) -> str:
    return {"jpeg": "jpg"}.get(fmt, fmt)


def rendition_key(photo: Photo, rendition: Rendition) -> RenditionKey:
    """The key of ``rendition`` of ``photo`` in every store."""
    return RenditionKey(photo.photo_id, rendition.content_hash, photo.metadata.taken_date,
                        rendition_ext(rendition.format), source_hash=rendition.source_hash,
                        rendition=rendition.name)
