"""Probe one file's bytes: its format (by content), a structural check that
catches truncation and corruption, and its metadata and visual signature.

EXIF, XMP and pixel dimensions come from Pillow (pillow-heif for HEIC/HEIF,
exifread for camera RAW files); MP4/MOV from :mod:`.video`.  Reading a file or
a stream (hashing it as it comes, keeping what the probe needs) is
:mod:`.ingest`; ``read_media`` here is its name for a path.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from .. import __version__
from ..errors import MediaError, NotMedia, UnreadableMetadata  # noqa: F401  (NotMedia re-exported)
from .dates import parse_exif_date
from .formats import READER_VERSION as FORMATS_READER
from .formats import (
    BMFF_VIDEOS,
    RAW_FORMATS,
    Format,
    check_bmff_sizes,
    check_jpeg,
    check_png,
    check_tiff,
    iter_boxes,
    sniff,
)

#: which reader gave a verdict: "not a photo" and "unreadable" are cached with
#: it, and looked at again by a photosync whose reader differs (it moves with
#: photosync's version and with formats.READER_VERSION, bumped when formats are learnt)
READER_VERSION = f"{__version__}+reader.3.{FORMATS_READER}"

#: a file up to this size is kept in memory while it is hashed and probed from
#: there (one read); a larger one is hashed in chunks and probed from the file
#: (seeking), so memory does not grow with the file (issue 10: a 2 GB file read
#: whole took 2.1 GB).  16 MiB holds any phone photo; bench/bigfiles.py measures it.
IN_MEMORY_LIMIT = 16 * 1024 * 1024
CHUNK = 1024 * 1024
#: of a larger file, this much of its start is kept (the headers the checks walk)
HEAD_KEPT = 1024 * 1024
#: the most memory a still image may take decoded (at 4 bytes a pixel, after a
#: JPEG's 1/8 draft scale) for its visual signature; a larger one has none
DECODE_LIMIT = 96 * 1024 * 1024
#: the most a reader that needs the whole file in memory (pillow-heif) is given
WHOLE_FILE_LIMIT = 64 * 1024 * 1024

_JUNK_CAPTIONS = {
    "", "olympus digital camera", "sony dsc", "digital camera", "default", "image", "picture",
    "minolta digital camera", "kodak digital still camera", "samsung", "lg electronics",
}


@dataclass(frozen=True)
class MediaInfo:
    format: Format
    width: int | None = None
    height: int | None = None
    taken: datetime | None = None
    taken_source: str | None = None
    lat: float | None = None
    lng: float | None = None
    alt: float | None = None
    make: str | None = None
    model: str | None = None
    caption: str | None = None
    tags: tuple[str, ...] = ()
    #: the visual signature (media/visual.py) of a still image, None for videos and RAW
    look: str | None = None
    #: set when the pixels could not be decoded although the file's structure is intact
    problem: str | None = None


@dataclass(frozen=True)
class MediaFile:
    content_hash: str
    size: int
    info: MediaInfo
    #: the bytes hashed, when the file was read whole into memory (IN_MEMORY_LIMIT); else None
    data: bytes | None = field(default=None, repr=False, compare=False)


_heif_registered = False
_pillow_quiet = False


def _quiet_pillow() -> None:
    """Pillow warns (on standard error) about pictures over 89 MP; photosync
    decides by its own DECODE_LIMIT what it decodes, so the warning only confuses."""
    global _pillow_quiet
    if not _pillow_quiet:
        import warnings

        from PIL import Image

        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
        _pillow_quiet = True


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def hash_stream(f: BinaryIO) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            break
        h.update(chunk)
        size += len(chunk)
    return "sha256:" + h.hexdigest(), size


def read_media(path: str | bytes | os.PathLike, name: str) -> MediaFile:
    """Hash and probe the file at ``path`` (``name``: its file name, for the extension);
    a torn read is never returned.  The same as ``media.ingest.ingest(path, name)``."""
    from .ingest import ingest

    return ingest(path, name)


def probe(data: "bytes | FileView", fmt: Format) -> MediaInfo:
    """The metadata of a file recognised as ``fmt`` by its content: from its
    bytes, or from a :class:`FileView` of a file too large to hold.  Structural
    damage (truncation, corruption) raises MediaError; metadata that cannot be
    parsed (a variant of the format photosync's readers do not know) gives only
    the format, and a problem that says so: the file's bytes are still kept."""
    try:
        if isinstance(data, FileView):
            return probe_large(data.file, len(data), fmt, data.head)
        return probe_image(data, fmt)
    except UnreadableMetadata as e:
        return MediaInfo(fmt, problem=f"recorded as it is, but its metadata could not be read ({e})")
    except (MediaError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - a parser's bug must not cost the file its backup
        return MediaInfo(fmt, problem=f"recorded as it is, but its metadata could not be read "
                                      f"({type(e).__name__}: {e})")


class FileView:
    """A read-only, bytes-like view of an open file, for the structural checks
    of :mod:`.formats` on a file that is not held in memory: indexing and
    slicing read from the file (its first bytes are kept), and ``find`` and
    ``rfind`` search it in chunks.  Memory stays bounded by the chunk size."""

    def __init__(self, f: BinaryIO, size: int, head: bytes = b""):
        self.file = f
        self.size = size
        self.head = head

    def __len__(self) -> int:
        return self.size

    def _read(self, pos: int, n: int) -> bytes:
        n = max(0, min(n, self.size - pos))
        if pos + n <= len(self.head):
            return self.head[pos : pos + n]
        self.file.seek(pos)
        return self.file.read(n)

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.size)
            if step != 1:
                raise ValueError("FileView slices have no step")
            return self._read(start, stop - start)
        if key < 0:
            key += self.size
        if not 0 <= key < self.size:
            raise IndexError(key)
        return self._read(key, 1)[0]

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        end = self.size if end is None else min(end, self.size)
        pos = max(start, 0)
        while pos < end:
            block = self._read(pos, min(CHUNK, end - pos) + len(sub) - 1)
            i = block.find(sub)
            if i >= 0 and pos + i + len(sub) <= end:
                return pos + i
            pos += CHUNK
        return -1

    def rfind(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """From the end back: an end marker is found where it usually is, last."""
        end = self.size if end is None else min(end, self.size)
        start = max(start, 0)
        stop = end
        while stop - start >= len(sub):
            lo = max(start, stop - CHUNK)
            i = _rfind(self._read(lo, stop - lo), sub)
            if i >= 0:
                return lo + i
            stop = lo + len(sub) - 1
        return -1


def _rfind(block: bytes, sub: bytes) -> int:
    """block.rfind(sub), found by its last byte: a one-byte search is memrchr,
    about ten times faster than bytes.rfind over data with no match (measured:
    2 GB of a motion photo's trailer, 5.5 s with bytes.rfind)."""
    last, n = sub[-1:], len(sub)
    i = len(block)
    while True:
        i = block.rfind(last, n - 1, i)
        if i < 0:
            return -1
        if block[i - n + 1 : i + 1] == sub:
            return i - n + 1


def _as_file(data: "bytes | FileView") -> BinaryIO:
    if isinstance(data, FileView):
        data.file.seek(0)
        return data.file
    return io.BytesIO(data)


def probe_large(f: BinaryIO, size: int, fmt: Format, head: bytes = b"") -> MediaInfo:
    if fmt.kind == "video" and fmt.name not in BMFF_VIDEOS:
        f.seek(0)
        return _other_video(f.read(4096), size, fmt)
    if fmt.kind == "video":
        from .video import read_video_info

        v = read_video_info(f, size)
        return MediaInfo(fmt, v.width, v.height, v.created, v.created_source, v.lat, v.lng, v.alt, v.make, v.model)
    return probe_image(FileView(f, size, head), fmt)  # read where needed, never whole


def probe_bytes(data: bytes, fmt: Format, seen: dict | None = None) -> MediaInfo:
    """The metadata of a file recognised as ``fmt``; ``seen``, when given, is filled
    with what the visual signature reuses from a JPEG's EXIF (its orientation and a
    trustworthy embedded thumbnail), parsed once."""
    name = fmt.name
    if name == "jpeg":
        return _probe_jpeg(data, fmt, check_jpeg(data), seen)
    if name == "png":
        check_png(data)
    elif name in ("tiff", "cr2", "dng", "nef", "nrw", "arw", "srf", "sr2", "pef", "srw", "3fr", "erf", "kdc", "mos", "iiq"):
        check_tiff(data, fmt.name.upper())
    elif name in ("heic", "avif", "cr3") or name in BMFF_VIDEOS:
        check_bmff_sizes(list(iter_boxes(data, 0, len(data))), len(data), fmt.name.upper())
    if fmt.kind == "video" and name not in BMFF_VIDEOS:
        return _other_video(data[:4096], len(data), fmt)
    if fmt.kind == "video":
        from .video import read_video_info

        v = read_video_info(io.BytesIO(data), len(data))
        return MediaInfo(fmt, v.width, v.height, v.created, v.created_source, v.lat, v.lng, v.alt, v.make, v.model)
    if name in RAW_FORMATS:
        return _probe_raw(data, fmt)
    return _probe_pillow(data, fmt)


def _other_video(head: bytes, size: int, fmt: Format) -> MediaInfo:
    """AVI, MPEG, MPEG-TS/M2TS, WMV, Matroska/WebM: recognised and kept, read no further (no
    parser for their metadata; an AVI's frame size comes from its main header)."""
    from .formats import avi_size

    width = height = None
    problem = None
    if fmt.name == "avi":
        width, height = avi_size(head)
        declared = int.from_bytes(head[4:8], "little") + 8
        if declared > size:
            # the first RIFF chunk runs past the end (OpenDML files over 1 GB add RIFF "AVIX" chunks
            # after it, so only a first chunk longer than the file says it was cut short)
            problem = f"the AVI looks cut short: its header says {declared} bytes, the file has {size}"
    return MediaInfo(fmt, width, height, problem=problem)


def probe_image(data: "bytes | FileView", fmt: Format, thumbnails: bool | None = None) -> MediaInfo:
    """probe_bytes plus, for still images, the visual signature (when decoding
    the picture fits in DECODE_LIMIT: a larger one is said to have none): from a
    trusted embedded thumbnail (approximate) unless ``thumbnails`` is False (by
    default: THUMBNAIL_SIGNATURES)."""
    import dataclasses

    from .visual import read_signature

    seen: dict = {}
    info = probe_bytes(data, fmt, seen)  # type: ignore[arg-type]  # a FileView is bytes-like by duck typing
    if fmt.kind != "photo" or fmt.name in RAW_FORMATS or info.problem:
        return info
    if THUMBNAIL_SIGNATURES if thumbnails is None else thumbnails:
        look = None
        if seen.get("thumbnail"):
            look = _thumbnail_look(seen["thumbnail"], info, seen.get("orientation"))
        elif fmt.name == "heic" and not (isinstance(data, FileView) and len(data) > WHOLE_FILE_LIMIT):
            look = _heif_thumbnail_look(data, info)
        if look is not None:
            return dataclasses.replace(info, look=look)
    too_big = _too_big_to_decode(info, fmt, len(data), isinstance(data, FileView))
    if too_big:
        return dataclasses.replace(info, problem=f"{too_big}: it has no visual signature, so its resized or "
                                                 "edited copies are not looked for")
    if fmt.name in ("heic", "avif"):
        _register_heif()
    _quiet_pillow()
    # a JPEG's orientation comes from the EXIF probe_bytes parsed (0: it has none), not a second parse
    look, problem = read_signature(_as_file(data) if isinstance(data, FileView) else data,
                                   (seen.get("orientation") or 0) if fmt.name == "jpeg" else None)
    return dataclasses.replace(info, look=look, problem=problem)


def picture_signature(f: BinaryIO, name: str = "") -> tuple[str | None, str | None]:
    """(the visual signature of the picture itself, decoded: never from an embedded thumbnail;
    or None and why) of an open photo file, read from its start.  What replaces an approximate
    signature (visual.APPROXIMATE) when its photo meets a look-alike: the same signature
    discover computes with PHOTOSYNC_THUMBNAIL_SIGNATURES=0."""
    size = f.seek(0, io.SEEK_END)
    f.seek(0)
    head = f.read(HEAD_KEPT)
    fmt = sniff(head[:4096], name)
    if fmt is None or fmt.kind != "photo":
        return None, "it is not a still picture photosync decodes"
    if size <= IN_MEMORY_LIMIT:
        data: "bytes | FileView" = head + f.read()
    else:
        data = FileView(f, size, head)
    info = probe_image(data, fmt, thumbnails=False)
    return info.look, None if info.look else (info.problem or "its picture could not be decoded")


#: an embedded thumbnail smaller than this (its longer, its shorter side) says too little
THUMBNAIL_MIN = (64, 32)

#: take a camera JPEG's signature from its embedded thumbnail (0.4 ms instead of 1.5 ms for
#: 100 kB and 28 ms for 12 megapixels), marked approximate (media/visual.py): near the picture's,
#: not the same (its 4:2:0 chroma reads up to 4 levels less colourful; gradients up to ~0.06
#: apart where copies measure 0.000), so it only finds candidates, and resolve decodes the picture
#: of a photo that meets one before judging the pair.  PHOTOSYNC_THUMBNAIL_SIGNATURES=0 turns it
#: off (every picture decoded while it is read, as before issue 13).
THUMBNAIL_SIGNATURES = os.environ.get("PHOTOSYNC_THUMBNAIL_SIGNATURES", "1") != "0"


def _trusted_thumbnail(data: "bytes | FileView", parts, exif, sub: dict) -> bytes | None:
    """The JPEG thumbnail a camera embedded in the EXIF (IFD1), when the file says
    it is the camera's own, unedited: a stale thumbnail (an edit that kept the old
    EXIF) would give the edit the original's signature, so it is used only when

    * the EXIF segment comes first, right after the start of image, as the Exif
      standard has cameras and phones write it: libjpeg-based tools (Pillow,
      ImageMagick, GIMP) that re-encode a picture and keep its EXIF block write a
      JFIF segment first;
    * PixelXDimension and PixelYDimension (written by cameras) are the picture's
      size: a tool that resized or cropped it and kept the old EXIF left them stale;
    * IFD1 has no orientation of its own, or IFD0's;
    * and (checked where it is decoded) the thumbnail has the picture's aspect ratio.

    Anything else: None, and the picture itself is decoded (its DCT-scaled draft)."""
    if bytes(data[2:4]) != b"\xff\xe1" or bytes(data[6:12]) != b"Exif\x00\x00":
        return None
    if sub.get(0xA002) != parts.width or sub.get(0xA003) != parts.height:
        return None
    ifd1 = exif.get_ifd(-1)  # ExifTags.IFD.IFD1
    start, length = ifd1.get(0x0201), ifd1.get(0x0202)
    if not isinstance(start, int) or not isinstance(length, int) or length < 4:
        return None
    if 0x0112 in ifd1 and ifd1[0x0112] != exif.get(0x0112):
        return None
    thumb = parts.exif[start:start + length]
    return thumb if len(thumb) == length and thumb[:2] == b"\xff\xd8" else None


def _thumbnail_look(thumb: bytes, info: MediaInfo, orientation) -> str | None:
    """The visual signature from a trusted embedded thumbnail, or None (it cannot
    be decoded, is too small, or its aspect ratio is not the picture's: a
    letterboxed or stale one): then the picture itself is decoded.  Turned by the
    picture's EXIF orientation, as the picture is (the two share it)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(thumb)) as im:
            if im.format != "JPEG":
                return None
            return _look_of_thumbnail(im, info, orientation)
    except Exception:  # noqa: BLE001 - an undecodable thumbnail: the picture is decoded instead
        return None


def _heif_thumbnail_look(data: "bytes | FileView", info: MediaInfo) -> str | None:
    """The visual signature from a thumbnail image a HEIC file (a phone's) holds for its primary
    picture, or None (it has none that will do): then the picture itself is decoded, which for a
    phone's 12-megapixel HEIC is ~100 times dearer (0.5 s against ~5 ms here: HEVC has no scaled
    decode like a JPEG's draft).  A HEIF thumbnail is an image of its own that the file links to
    its primary picture; tools that re-encode a picture write their own, or none.  pillow-heif's
    ``draft`` chooses it: the smallest of at least THUMBNAIL_MIN pixels that is a scaled copy of
    the picture (the same aspect ratio within the rounding of its sides to even numbers, crop,
    rotation, mirroring and colour profile), so a thumbnail left as it was when only its picture
    was turned or mirrored is not used.  (An AVIF's would need an AV1 decoder the bundled libheif
    lacks.)"""
    from PIL import Image

    _register_heif()
    w, h = info.width or 0, info.height or 0
    try:
        with Image.open(_as_file(data)) as im:
            if im.format != "HEIF" or im.draft("RGB", THUMBNAIL_MIN if w >= h else THUMBNAIL_MIN[::-1]) is None:
                return None
            return _look_of_thumbnail(im, info, None, slack=2)
    except Exception:  # noqa: BLE001 - an unreadable thumbnail: the picture is decoded instead
        return None


def _look_of_thumbnail(im, info: MediaInfo, orientation, slack: int = 1) -> str | None:
    """The approximate signature of a thumbnail image ``im`` of the picture ``info`` describes
    (turned by ``orientation``, an EXIF one, as the picture is), or None when it is too small
    or its aspect ratio is not the picture's, the same way up (a letterboxed or stale one), within
    ``slack`` thumbnail pixels (a JPEG's rounds its sides to whole pixels, a HEIF's to even ones)."""
    from .visual import signature_of_image

    tw, th = im.size
    w, h = info.width or 0, info.height or 0
    if max(tw, th) < THUMBNAIL_MIN[0] or min(tw, th) < THUMBNAIL_MIN[1] or not w or not h:
        return None
    # the aspect ratio within a thumbnail pixel or two (160x107 of 6000x4000 rounds), same way up
    if abs(tw * h - th * w) > slack * max(w, h) or (tw > th) != (w > h) or (tw < th) != (w < h):
        return None
    im.load()
    return signature_of_image(im, orientation, approximate=True)


def _too_big_to_decode(info: MediaInfo, fmt: Format, size: int, from_file: bool) -> str | None:
    """Why decoding this picture would take too much memory, or None."""
    from PIL import Image

    if fmt.name in ("heic", "avif") and from_file and size > WHOLE_FILE_LIMIT:
        return f"too large to decode ({size // (1 << 20)} MB of HEIF is read whole to be decoded)"
    if not info.width or not info.height:
        return "too large to decode (its size in pixels is not known)" if from_file else None
    pixels = info.width * info.height
    decoded = pixels // 64 if fmt.name == "jpeg" else pixels  # a JPEG is decoded at 1/8 scale (draft)
    limit = Image.MAX_IMAGE_PIXELS
    if decoded * 4 > DECODE_LIMIT or (limit and pixels > 2 * limit):
        return f"too large to decode in bounded memory ({info.width}x{info.height} pixels)"
    return None


# -- Pillow (JPEG, PNG, GIF, WebP, TIFF, HEIC, AVIF) ------------------------------------

def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = str(value).strip("\x00 \t\r\n")
    return value or None


def _rational(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError, ZeroDivisionError):
        num, den = v
        return float(num) / float(den) if den else 0.0


def _gps(gps: dict) -> tuple[float, float, float | None] | None:
    try:
        lat = gps.get(2)
        lng = gps.get(4)
        if not lat or not lng:
            return None
        la = _rational(lat[0]) + _rational(lat[1]) / 60 + _rational(lat[2]) / 3600
        lo = _rational(lng[0]) + _rational(lng[1]) / 60 + _rational(lng[2]) / 3600
        if _text(gps.get(1)) in ("S", "s"):
            la = -la
        if _text(gps.get(3)) in ("W", "w"):
            lo = -lo
        alt = None
        if gps.get(6) is not None:
            alt = _rational(gps[6])
            ref = gps.get(5)
            if ref in (1, b"\x01"):
                alt = -alt
            alt = round(alt, 2)
    except (TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    if not (-90 <= la <= 90 and -180 <= lo <= 180) or (la == 0 and lo == 0):
        return None
    return round(la, 7), round(lo, 7), alt


def _xp_text(value) -> str | None:
    """Windows XP* tags: UTF-16LE bytes (or a tuple of ints)."""
    if value is None:
        return None
    if isinstance(value, tuple):
        value = bytes(value)
    if isinstance(value, bytes):
        return _text(value.decode("utf-16-le", "replace"))
    return _text(value)


_NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def _xmp(xmp: bytes | str | None) -> tuple[str | None, tuple[str, ...]]:
    """dc:description and dc:subject from an XMP packet."""
    if not xmp:
        return None, ()
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    if len(xmp) > 1024 * 1024 or b"<!ENTITY" in xmp:
        return None, ()
    import xml.etree.ElementTree as ET  # only for files with XMP: not at every command's start
    start = xmp.find(b"<x:xmpmeta")
    if start < 0:
        start = xmp.find(b"<rdf:RDF")
    end = xmp.rfind(b">")
    if start < 0 or end < 0:
        return None, ()
    try:
        root = ET.fromstring(xmp[start : end + 1])
    except ET.ParseError:
        return None, ()
    caption = None
    for li in root.iterfind(".//dc:description//rdf:li", _NS):
        caption = _text(li.text)
        if caption:
            break
    if caption is None:
        for desc in root.iterfind(".//rdf:Description", _NS):
            attr = desc.get(f"{{{_NS['dc']}}}description")
            if attr:
                caption = _text(attr)
    tags = tuple(t for li in root.iterfind(".//dc:subject//rdf:li", _NS) if (t := _text(li.text)))
    return caption, tags


def _clean_caption(text: str | None) -> str | None:
    if text is None:
        return None
    return None if text.strip().lower() in _JUNK_CAPTIONS else text.strip()


def _unique(seq) -> tuple[str, ...]:
    out: list[str] = []
    for s in seq:
        if s and s not in out:
            out.append(s)
    return tuple(out)


def _probe_jpeg(data: bytes, fmt: Format, parts, seen: dict | None = None) -> MediaInfo:
    """JPEG without Image.open: the frame size comes from the marker walk and
    Pillow parses only the EXIF segment (once: ``seen`` gets the orientation and
    a trustworthy thumbnail for the visual signature)."""
    if not parts.width or not parts.height:
        raise MediaError("corrupt JPEG: no frame header (image size unknown)")
    ifd0, sub, gps = {}, {}, {}
    if parts.exif:
        from PIL import Image

        try:
            exif = Image.Exif()
            exif.load(parts.exif)
            ifd0 = dict(exif)
            sub = dict(exif.get_ifd(0x8769))
            gps = dict(exif.get_ifd(0x8825))
        except Exception:  # a broken EXIF block does not make a broken photo
            ifd0, sub, gps = {}, {}, {}
        if seen is not None and ifd0:
            seen["orientation"] = ifd0.get(0x0112)
            try:
                seen["thumbnail"] = _trusted_thumbnail(data, parts, exif, sub)
            except Exception:  # noqa: BLE001 - a broken IFD1: the picture is decoded instead
                seen["thumbnail"] = None
    return _from_tags(fmt, parts.width, parts.height, ifd0, sub, gps, parts.xmp)


def _from_tags(fmt: Format, width, height, ifd0: dict, sub: dict, gps: dict, xmp) -> MediaInfo:
    taken = parse_exif_date(sub.get(0x9003), sub.get(0x9011), sub.get(0x9291))
    source = "exif" if taken else None
    if taken is None:
        taken = parse_exif_date(sub.get(0x9004), sub.get(0x9012), sub.get(0x9292))
        source = "exif_digitized" if taken else None
    loc = _gps(gps)
    x_caption, x_tags = _xmp(xmp)
    caption = _clean_caption(x_caption or _text(ifd0.get(0x010E)) or _xp_text(ifd0.get(0x9C9C)))
    xp_keywords = _xp_text(ifd0.get(0x9C9E))
    tags = _unique([*x_tags, *((k.strip() for k in xp_keywords.split(";")) if xp_keywords else ())])
    return _info(fmt, width, height, taken, source, loc, _text(ifd0.get(0x010F)), _text(ifd0.get(0x0110)),
                 caption, tags)


def _info(fmt, width, height, taken, source, loc, make, model, caption, tags) -> MediaInfo:
    return MediaInfo(
        format=fmt,
        width=width or None,
        height=height or None,
        taken=taken,
        taken_source=source,
        lat=loc[0] if loc else None,
        lng=loc[1] if loc else None,
        alt=loc[2] if loc and len(loc) > 2 else None,
        make=make,
        model=model,
        caption=caption,
        tags=tuple(tags),
    )


def _probe_pillow(data: "bytes | FileView", fmt: Format) -> MediaInfo:
    from PIL import Image, UnidentifiedImageError

    _quiet_pillow()
    if fmt.name in ("heic", "avif"):
        if isinstance(data, FileView) and len(data) > WHOLE_FILE_LIMIT:
            return _probe_raw(data, fmt)  # pillow-heif reads the whole file: exifread seeks to the EXIF
        _register_heif()
    # Pillow is the only check GIF and WebP get: failing to open one is damage.  The
    # others passed a structural check: a failure is a kind of file Pillow cannot
    # decode (a JPEG 2000 TIFF, a HEIF codec libheif lacks), whose bytes are kept
    damage = fmt.name in ("gif", "webp")
    try:
        im = Image.open(_as_file(data))
    except Image.DecompressionBombError:
        return _undecodable(data, fmt, "too many pixels to decode in bounded memory")
    except UnidentifiedImageError:
        if damage:
            raise MediaError(f"corrupt {fmt.name.upper()}: the image cannot be read") from None
        return _undecodable(data, fmt, f"a kind of {fmt.name.upper()} Pillow cannot read")
    except (OSError, SyntaxError, ValueError, RuntimeError) as e:
        if damage:
            raise MediaError(f"corrupt {fmt.name.upper()}: {e}") from None
        return _undecodable(data, fmt, str(e))
    with im:
        width, height = im.size
        try:
            if fmt.name == "png" and width * height * 4 > DECODE_LIMIT:
                # a PNG's getexif() decodes the whole image when no eXIf chunk came before its pixels
                exif = Image.Exif()
                if im.info.get("exif"):
                    exif.load(im.info["exif"])
            else:
                exif = im.getexif()
            ifd0 = dict(exif)
            sub = dict(exif.get_ifd(0x8769))
            gps = dict(exif.get_ifd(0x8825))
        except Exception:  # a broken EXIF block does not make a broken photo
            ifd0, sub, gps = {}, {}, {}
        xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    return _from_tags(fmt, width, height, ifd0, sub, gps, xmp)


def _undecodable(data: "bytes | FileView", fmt: Format, why: str) -> MediaInfo:
    """A file with an intact structure whose picture Pillow cannot open: the
    metadata exifread finds in it, and a problem that says what is missing."""
    import dataclasses

    info = _probe_raw(data, fmt)  # UnreadableMetadata when exifread cannot read it either
    return dataclasses.replace(info, problem=f"its picture cannot be decoded ({why}): recorded as it is, "
                                             "with the metadata exifread reads and no visual signature")


# -- camera RAW (exifread) -----------------------------------------------------------

def _probe_raw(data: "bytes | FileView", fmt: Format) -> MediaInfo:
    import logging

    import exifread

    logging.getLogger("exifread").setLevel(logging.ERROR)
    try:
        tags = exifread.process_file(_as_file(data), details=False, extract_thumbnail=False)
    except Exception as e:  # exifread raises many kinds on odd files; the bytes may well be fine
        raise UnreadableMetadata(f"{fmt.name.upper()}: exifread: {e}") from None

    def get(*names):
        for n in names:
            if n in tags:
                return tags[n]
        return None

    def printable(tag):
        return _text(tag.printable) if tag is not None else None

    taken = parse_exif_date(printable(get("EXIF DateTimeOriginal")), printable(get("EXIF OffsetTimeOriginal")))
    source = "exif" if taken else None
    if taken is None:
        taken = parse_exif_date(printable(get("EXIF DateTimeDigitized")), printable(get("EXIF OffsetTimeDigitized")))
        source = "exif_digitized" if taken else None
    gps = {}
    for key, num in (("GPS GPSLatitudeRef", 1), ("GPS GPSLatitude", 2), ("GPS GPSLongitudeRef", 3),
                     ("GPS GPSLongitude", 4)):
        t = tags.get(key)
        if t is not None:
            gps[num] = printable(t) if num in (1, 3) else [(r.num, r.den) for r in t.values]
    loc = _gps(gps) if gps else None

    def dim(*names):
        t = get(*names)
        try:
            return int(t.values[0]) if t is not None else None
        except (TypeError, ValueError, IndexError):
            return None

    return _info(fmt, dim("EXIF ExifImageWidth", "Image ImageWidth"), dim("EXIF ExifImageLength", "Image ImageLength"),
                 taken, source, loc, printable(get("Image Make")), printable(get("Image Model")),
                 _clean_caption(printable(get("Image ImageDescription"))), ())
