"""Read one file: its SHA-256, its format (by content), a structural check that
catches truncation and corruption, and its metadata.

EXIF, XMP and pixel dimensions come from Pillow (pillow-heif for HEIC/HEIF,
exifread for camera RAW files); MP4/MOV from :mod:`.video`.
"""

from __future__ import annotations

import hashlib
import io
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from ..errors import MediaError, NotMedia  # noqa: F401  (NotMedia re-exported)
from .dates import parse_exif_date
from .formats import (
    BMFF_VIDEOS,
    RAW_FORMATS,
    Format,
    check_bmff_sizes,
    check_jpeg,
    check_png,
    check_tiff,
    extension,
    is_media_name,
    iter_boxes,
    sniff,
)

#: files up to this size are read into memory once (hash, check and metadata from the same bytes)
IN_MEMORY_LIMIT = 256 * 1024 * 1024
CHUNK = 1024 * 1024

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


_heif_registered = False


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
    """Hash and probe the file at ``path``.  ``name`` is its file name (for the
    extension).  Raises NotMedia for files that are not photos or videos, and
    MediaError for photos and videos that are broken."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        size = st.st_size
        if size == 0:
            if is_media_name(name):
                raise MediaError("empty file (0 bytes)")
            raise NotMedia(name)
        head = f.read(4096)
        fmt = sniff(head, name)
        if fmt is None:
            if is_media_name(name):
                raise MediaError(
                    f"not a readable {extension(name).upper()} file: its content is not any photo or video format "
                    "photosync knows (corrupt, or misnamed)"
                )
            raise NotMedia(name)
        if size <= IN_MEMORY_LIMIT:
            data = head + f.read()
            if len(data) != size:
                raise MediaError("the file changed size while it was being read")
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            info = probe_image(data, fmt)
        else:
            f.seek(0)
            digest, read = hash_stream(f)
            if read != size:
                raise MediaError("the file changed size while it was being read")
            info = probe_large(f, size, fmt)
    return MediaFile(digest, size, info)


def probe_large(f: BinaryIO, size: int, fmt: Format) -> MediaInfo:
    if fmt.kind == "video" and fmt.name not in BMFF_VIDEOS:
        f.seek(0)
        return _other_video(f.read(4096), size, fmt)
    if fmt.kind == "video":
        from .video import read_video_info

        v = read_video_info(f, size)
        return MediaInfo(fmt, v.width, v.height, v.created, v.created_source, v.lat, v.lng, v.alt, v.make, v.model)
    f.seek(0)
    return probe_bytes(f.read(), fmt)


def probe_bytes(data: bytes, fmt: Format) -> MediaInfo:
    name = fmt.name
    if name == "jpeg":
        return _probe_jpeg(data, fmt, check_jpeg(data))
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


def probe_image(data: bytes, fmt: Format) -> MediaInfo:
    """probe_bytes plus, for still images, the visual signature."""
    import dataclasses

    from .visual import read_signature

    info = probe_bytes(data, fmt)
    if fmt.kind != "photo" or fmt.name in RAW_FORMATS:
        return info
    if fmt.name in ("heic", "avif"):
        _register_heif()
    look, problem = read_signature(data)
    return dataclasses.replace(info, look=look, problem=problem)


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


def _probe_jpeg(data: bytes, fmt: Format, parts) -> MediaInfo:
    """JPEG without Image.open: the frame size comes from the marker walk and
    Pillow parses only the EXIF segment."""
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


def _probe_pillow(data: bytes, fmt: Format) -> MediaInfo:
    from PIL import Image, UnidentifiedImageError

    if fmt.name in ("heic", "avif"):
        _register_heif()
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise MediaError(f"corrupt {fmt.name.upper()}: the image cannot be read") from None
    except (OSError, SyntaxError, ValueError, RuntimeError) as e:
        raise MediaError(f"corrupt {fmt.name.upper()}: {e}") from None
    with im:
        width, height = im.size
        try:
            exif = im.getexif()
            ifd0 = dict(exif)
            sub = dict(exif.get_ifd(0x8769))
            gps = dict(exif.get_ifd(0x8825))
        except Exception:  # a broken EXIF block does not make a broken photo
            ifd0, sub, gps = {}, {}, {}
        xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    return _from_tags(fmt, width, height, ifd0, sub, gps, xmp)


# -- camera RAW (exifread) -----------------------------------------------------------

def _probe_raw(data: bytes, fmt: Format) -> MediaInfo:
    import logging

    import exifread

    logging.getLogger("exifread").setLevel(logging.ERROR)
    try:
        tags = exifread.process_file(io.BytesIO(data), details=False)
    except Exception as e:  # exifread raises many kinds on odd files
        raise MediaError(f"corrupt {fmt.name.upper()}: cannot read its metadata ({e})") from None

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
