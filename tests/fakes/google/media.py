"""Bytes in and out of the fake: what an upload is, and the renditions a baseUrl serves.

Google never hands back the original through the APIs: `=d` is the image "with Exif metadata
except location" (photos/library/guides/access-media-items "Base URLs"; the Picker's base URLs
take the same parameters, photos/picker/guides/media-items), and the bytes are not the original
file (smaller files, transcoded videos: rclone docs googlephotos.md "Limitations", gphotos-sync
issues #119 and #303). The fake re-encodes: a JPEG at quality 85 keeping EXIF minus the GPS IFD;
a video re-muxed with another payload and no location.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from mp4build import make_video

VIDEO_BRANDS = (b"isom", b"mp41", b"mp42", b"qt  ", b"avc1", b"iso2", b"iso4", b"iso5", b"iso6", b"M4V ", b"3gp4",
                b"3gp5")
MIME_BY_FORMAT = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp",
                  "TIFF": "image/tiff", "BMP": "image/bmp", "HEIF": "image/heif"}


@dataclass
class Sniffed:
    media: str                    # PHOTO | VIDEO
    mime: str
    width: int
    height: int
    taken: float | None = None    # EXIF DateTimeOriginal (+ OffsetTimeOriginal, else read as UTC)
    make: str | None = None
    model: str | None = None
    gps: tuple[float, float] | None = None


def _mp4_dims(data: bytes) -> tuple[int, int]:
    at = data.find(b"tkhd")
    if at < 4 or at + 4 + 84 > len(data):
        return 1920, 1080
    payload = data[at + 4: at + 4 + 84]
    w, h = struct.unpack(">II", payload[76:84])
    return (w >> 16) or 1920, (h >> 16) or 1080


def _mp4_created(data: bytes) -> float | None:
    at = data.find(b"mvhd")
    if at < 4 or at + 12 > len(data):
        return None
    secs = struct.unpack(">I", data[at + 8: at + 12])[0]
    if not secs:
        return None
    return (datetime(1904, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=secs)).timestamp()


def _ratio(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError, ZeroDivisionError):
        return 0.0


def sniff(data: bytes) -> Sniffed | None:
    """What Google would make of these bytes: a photo Pillow opens, or an ISO-BMFF video; None
    for anything else (batchCreate then fails that item)."""
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in VIDEO_BRANDS:
        w, h = _mp4_dims(data)
        mime = "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
        return Sniffed("VIDEO", mime, w, h, taken=_mp4_created(data))
    from PIL import Image, UnidentifiedImageError

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - pillow-heif is a product dependency
        pass
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format or "JPEG"
            w, h = im.size
            exif = im.getexif()
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    out = Sniffed("PHOTO", MIME_BY_FORMAT.get(fmt, "image/" + fmt.lower()), w, h)
    out.make = (exif.get(0x010F) or None)
    out.model = (exif.get(0x0110) or None)
    sub = exif.get_ifd(0x8769)
    taken = sub.get(0x9003)
    if taken:
        try:
            dt = datetime.strptime(str(taken).strip(), "%Y:%m:%d %H:%M:%S")
            offset = str(sub.get(0x9011) or "").strip()
            if len(offset) == 6 and offset[0] in "+-":
                sign = 1 if offset[0] == "+" else -1
                tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
            else:
                tz = timezone.utc
            out.taken = dt.replace(tzinfo=tz).timestamp()
        except ValueError:
            pass
    gps = exif.get_ifd(0x8825)
    if gps.get(2) and gps.get(4):
        lat = sum(_ratio(x) / 60 ** i for i, x in enumerate(gps[2]))
        lon = sum(_ratio(x) / 60 ** i for i, x in enumerate(gps[4]))
        out.gps = (lat * (-1 if gps.get(1) == "S" else 1), lon * (-1 if gps.get(3) == "W" else 1))
    return out


def reencoded_image(data: bytes) -> tuple[bytes, str]:
    """`=d`: the same picture encoded again, EXIF kept except location (the GPS IFD)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        fmt = im.format
        exif = im.getexif()
        exif.pop(0x8825, None)
        # keep the sub-IFD (dates, camera settings): Pillow writes it when it was read
        exif.get_ifd(0x8769)
        pic = im.convert("RGB") if fmt != "PNG" else im.copy()
    buf = io.BytesIO()
    if fmt == "PNG":
        pic.save(buf, "PNG", optimize=True)
        return buf.getvalue(), "image/png"
    pic.save(buf, "JPEG", quality=85, exif=exif.tobytes())
    return buf.getvalue(), "image/jpeg"


def sized_image(data: bytes | None, box: tuple[int, int], seed: str) -> bytes:
    """`=wW-hH` (and a video's still): a JPEG that fits in box."""
    from PIL import Image

    if data is not None:
        with Image.open(io.BytesIO(data)) as im:
            pic = im.convert("RGB")
    else:
        digest = hashlib.sha256(seed.encode()).digest()
        pic = Image.new("RGB", (box[0] or 512, box[1] or 512), tuple(digest[:3]))
    pic.thumbnail((max(1, box[0] or pic.width), max(1, box[1] or pic.height)))
    buf = io.BytesIO()
    pic.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def transcoded_video(data: bytes, created: float, size: tuple[int, int]) -> bytes:
    """`=dv`: another file than the original (Google transcodes), same creation date, no location."""
    digest = hashlib.sha256(data).digest()
    payload = b"\x00\x00\x00\x01" + (digest * (1 + min(len(data), 20_000) // 64))[: max(256, len(data) // 2)]
    return make_video(created=datetime.fromtimestamp(created, timezone.utc), size=size, location=None,
                      payload=payload)
