"""Approximate signatures replaced by the picture's own, when it matters.

Discover takes a camera JPEG's visual signature from the small JPEG the camera embedded in
its EXIF (media/probe.py: 0.4 ms instead of 1.5 ms for 100 kB and 28 ms for 12 megapixels).
Such a signature is *approximate* (media/visual.py ``APPROXIMATE``): near the picture's, not
the same, so it only finds candidates, with a wider net.  Most photos have no look-alike and
keep it.  Before resolve judges a pair, :class:`Pictures` reads the original of each record
of the pair whose signature is approximate (phases/sources.py: copies on this machine first, a
folder or a local store, then services and remote stores), decodes it, and puts the picture's signature in the record (every instance
with those bytes), so every verdict is the one the decoded pictures give.

A picture no source can give (a folder that is offline, a service signed out, no store)
keeps its approximate signature: its pairs are judged with the room it needs and never
merged by a policy (conflicts/variants.py ``classify``): a person is asked.
"""

from __future__ import annotations

import dataclasses

from ..errors import PhotosyncError
from ..library.library import Library
from ..media import lookup
from ..media.visual import Look
from ..model import Instance, Photo, with_instance
from .sources import Sources, verified_spool


def _approximate(sig: str | None) -> bool:
    look = Look.parse(sig) if sig else None
    return look is not None and look.approximate


def approximate_contents(photo: Photo) -> list[str]:
    """Content hashes of the photo's present copies whose signature is approximate."""
    return list(dict.fromkeys(inst.content_hash for inst in photo.all_instances()
                              if inst.missing_since is None and _approximate(inst.look)))


def decoded_look(photo: Photo, inst: Instance) -> Instance:
    """``inst`` (its bytes read again, or another copy of them) with the picture's signature the
    record already holds for its bytes, when its own is approximate: a re-read gives the
    thumbnail's again, and the record keeps what resolve decoded (else every re-read would
    reopen the photo, and every resolve decode it again)."""
    if not _approximate(inst.look):
        return inst
    for other in photo.all_instances():
        if other.content_hash == inst.content_hash and other.look and not _approximate(other.look):
            return dataclasses.replace(inst, look=other.look)
    return inst


class Pictures:
    """Decodes the pictures of records whose signature is approximate (see module doc), for
    one run of resolve; each content is read at most once a run."""

    def __init__(self, lib: Library):
        self.lib = lib
        self._sources: Sources | None = None
        #: contents looked at this run: content hash -> (the picture's signature, None) or
        #: (None, why no source gave it)
        self._done: dict[str, tuple[str | None, str | None]] = {}
        #: records whose signatures this run replaced
        self.refined: set[str] = set()
        #: contents none of whose sources could be read
        self.unreadable: int = 0

    def exact(self, photo: Photo) -> Photo:
        """The photo with the decoded picture's signature in place of each approximate one it
        can read (the same photo when it has none)."""
        contents = approximate_contents(photo)
        if not contents:
            return photo
        found: dict[str, str] = {}
        for h in contents:
            if h not in self._done:
                self._done[h] = self._decode(photo, h)
            sig, _problem = self._done[h]
            if sig is not None:
                found[h] = sig
        if not found:
            return photo
        out = photo
        for inst in photo.all_instances():
            if inst.content_hash in found and _approximate(inst.look):
                out = with_instance(out, dataclasses.replace(inst, look=found[inst.content_hash]))
        for h, sig in found.items():
            look = Look.parse(sig)
            if look is not None:  # what lookup_keys computes for it from now on
                lookup.remember(h, look.dhash64(), look.informative, look.approximate)
        if out != photo:
            self.refined.add(photo.photo_id)
        return out

    def _decode(self, photo: Photo, content_hash: str) -> tuple[str | None, str | None]:
        from ..media.probe import picture_signature
        from .common import make_stores

        if self._sources is None:  # made when a first picture is decoded: resolve rarely reads one
            try:
                stores = make_stores(self.lib)
            except PhotosyncError:
                stores = {}  # no store can be made: the photo's own copies are all there is
            self._sources = Sources(self.lib, stores)
        tried = []
        for source in sorted(self._sources.of(photo, content_hash), key=self._remote):
            try:
                with verified_spool(source.open, content_hash) as f:
                    sig, problem = picture_signature(f, photo.metadata.filename or "")
            except (PhotosyncError, OSError) as e:
                tried.append(f"{source.where}: {e}")
                continue
            if sig is not None:
                return sig, None
            tried.append(f"{source.where}: {problem}")
            break  # the same bytes anywhere else decode no better
        self.unreadable += 1
        problem = "; ".join(tried) or "no copy of it is known"
        self.lib.report.warning(
            f"photo {photo.photo_id[:8]} ({photo.metadata.filename or content_hash[7:19]})",
            f"its look-alikes are judged on its embedded thumbnail, as its picture could not be read "
            f"({problem}): a person is asked about them, none is merged by a policy")
        return None, problem

    def _remote(self, source) -> bool:
        """Sources on this machine first (a folder, a local store): resolve reads a service or a
        remote store only when no local copy gives the bytes."""
        if source.service is not None:
            return (self.lib.services.get(source.service) or {}).get("type") != "local"
        stores = self.lib.preferences["blob_storage"]["stores"]
        return (stores.get(source.store) or {}).get("type") != "local"
