"""The pictures a photo record holds and their lookup keys: what the derived index keeps so that
resolve finds a record's look-alikes (variant candidates) without comparing every pair, and what
conflicts/variants.py judges a pair on.

A *face* is one distinct picture of a record (one per content hash, its canonical copy first)
with what the judgement needs; its *lookup key* is the four 16-bit quarters of its 64-bit dHash,
its trusted capture time to the second, the whole dHash and its signature.

This sits below both the library (library/index.py fills the ``looks`` table with
:func:`lookup_keys`) and conflicts/ (variants.py searches and judges with the same functions),
so the two agree by construction and the library imports nothing from conflicts/.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..model import Instance, Photo
from .visual import Look, quarters

#: capture-time sources that are evidence (a file time or a name is a guess)
TRUSTED_TIME = {"exif", "exif_digitized", "quicktime", "service", "manual"}
#: date sources that are guesses: a date in a file name, a file's modification time
GUESSED_TIME = {"filename", "file_mtime"}


@dataclass(frozen=True)
class Face:
    """One distinct picture a photo record holds (its canonical copy, or a
    merged variant), with what the judgement needs."""

    key: str
    content_hash: str
    look: Look
    width: int | None
    height: int | None
    size: int | None
    taken: str | None  # trusted capture time, as recorded
    camera: tuple[str, str] | None
    quality: str
    #: a date guessed from the file name or the file time (when there is no trusted one)
    guess: str | None = None
    guess_source: str | None = None

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)

    @property
    def aspect(self) -> float | None:
        return self.width / self.height if self.width and self.height else None


def _face(inst: Instance) -> Face | None:
    look = Look.parse(inst.look)
    if look is None:
        return None
    md = inst.metadata
    taken = md.taken_date if md.taken_date and md.taken_date_source in TRUSTED_TIME else None
    guessed = md.taken_date if md.taken_date and md.taken_date_source in GUESSED_TIME else None
    if guessed and md.taken_date_source == "file_mtime" and _copied_in(guessed, inst.last_sync):
        guessed = None
    cam = md.camera_info
    camera = (cam.make or "", cam.model or "") if cam is not None and (cam.make or cam.model) else None
    return Face(inst.key, inst.content_hash, look, md.width, md.height, inst.size, taken, camera, inst.quality,
                guessed, md.taken_date_source if guessed else None)


#: a file time less than this before photosync first read the file is when the file was copied
#: or downloaded there, not a guess at when the picture was taken: it counts as no date
COPIED_IN = 2 * 86400


def _copied_in(file_time: str, read_at: str) -> bool:
    """The file time is the moment the file was put where photosync found it
    (a download, a copy that did not keep its time): written shortly before
    photosync first read it."""
    from datetime import datetime

    try:
        written, read = datetime.fromisoformat(file_time), datetime.fromisoformat(read_at)
        if written.tzinfo is None or read.tzinfo is None:
            return False
        return -3600 <= (read - written).total_seconds() <= COPIED_IN
    except ValueError:
        return False


#: faces of the photo records judged lately, by identity (records are immutable): resolve
#: judges one record against many, and each of those against its own candidates
_FACES: "OrderedDict[int, tuple[Photo, list[Face]]]" = OrderedDict()
_FACES_KEPT = 256


def faces(photo: Photo) -> list[Face]:
    """Distinct pictures of a photo (one per content hash), the canonical first."""
    hit = _FACES.get(id(photo))
    if hit is not None and hit[0] is photo:
        _FACES.move_to_end(id(photo))
        return list(hit[1])
    found = _faces(photo)
    _FACES[id(photo)] = (photo, found)  # the photo is held, so its id is not reused meanwhile
    if len(_FACES) > _FACES_KEPT:
        _FACES.popitem(last=False)
    return list(found)


def _faces(photo: Photo) -> list[Face]:
    out: dict[str, Face] = {}
    insts = sorted((i for i in photo.all_instances() if i.missing_since is None),
                   key=lambda i: (i.content_hash != photo.content_hash, i.key != photo.canonical_source))
    for inst in insts:
        if inst.content_hash in out:
            continue
        f = _face(inst)
        if f is not None:
            out[inst.content_hash] = f
    return list(out.values())


def canonical_face(photo: Photo) -> Face | None:
    fs = faces(photo)
    return fs[0] if fs and fs[0].content_hash == photo.content_hash else None


@dataclass(frozen=True)
class LookKey:
    """What the index keeps of one picture of a record to find its variants:
    the four 16-bit quarters of its dHash (None for a quarter that is all zeros
    or all ones, which flat areas share, and for every quarter of a picture too
    flat to match), its trusted capture time to the second, the whole dHash
    (to drop candidates by Hamming distance before any record is read),
    whether it says enough to be matched at all, its camera, and its content
    hash."""

    quarters: tuple[int | None, ...]
    taken: str | None
    dhash: int
    informative: bool = True
    camera: str | None = None
    content_hash: str = ""
    #: the signature's bytes (Look.stored), to judge a candidate before reading its record
    look: bytes = b""
    #: its gradients (Look.gradient_bytes), kept so a candidate's are not computed again each search
    grad: bytes = b""


#: (dHash, informative) per (content hash, approximate), as the index has them: a picture's
#: signature is a function of its bytes and of whether it came from the camera's embedded
#: thumbnail (visual.APPROXIMATE), so what was computed when it was indexed need not be again
_KNOWN: "OrderedDict[tuple[str, bool], tuple[int, bool]]" = OrderedDict()
_KNOWN_KEPT = 16384


def remember(content_hash: str, dhash: int, informative: bool, approximate: bool = False) -> None:
    _KNOWN[(content_hash, approximate)] = (dhash, informative)
    if len(_KNOWN) > _KNOWN_KEPT:
        _KNOWN.popitem(last=False)


def camera_key(face: Face) -> str | None:
    return "\x1f".join(face.camera) if face.camera else None


def lookup_keys(photo: Photo, every_picture: bool = False) -> list[LookKey]:
    """The lookup keys of this photo's pictures: the informative ones (those
    that can be matched), or with ``every_picture`` all of them (the index
    keeps a row for each)."""
    out = []
    for f in faces(photo):
        known = _KNOWN.get((f.content_hash, f.look.approximate))
        h, informative = known if known is not None else (f.look.dhash64(), f.look.informative)
        if not informative and not every_picture:
            continue
        qs = tuple(None if not informative or q in (0, 0xFFFF) else q for q in quarters(h))
        out.append(LookKey(qs, f.taken[:19] if f.taken and informative else None, h, informative,
                           camera_key(f), f.content_hash, f.look.stored() if every_picture else b"",
                           f.look.gradient_bytes() if every_picture else b""))
    return out
