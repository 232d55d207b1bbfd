"""File bytes for the fake: generated originals (small real JPEGs with EXIF, small
valid MP4s), re-encoded sizes, and what an upload's bytes are.

Nothing big is kept: every generated file is made again, deterministically from
the photo id, on each download.
"""

from __future__ import annotations

import hashlib
import io
import struct
from datetime import datetime, timezone

from .photo import FakePhoto

#: what Pillow calls a format -> Flickr's ``originalformat``
PIL_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "TIFF": "tif"}
SAVE_AS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "tif": "TIFF", "tiff": "TIFF"}
CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                 "tif": "image/tiff", "tiff": "image/tiff", "mp4": "video/mp4", "mov": "video/quicktime",
                 "m4v": "video/mp4"}
#: video file name extensions (Flickr tells a video by its name: flickrapi#104)
VIDEO_EXTS = {"mp4", "mov", "m4v", "avi", "wmv", "mpg", "mpeg", "3gp", "3g2", "mts", "m2ts", "ogv"}

GEN_SIZE = (32, 24)  # generated pixels (o_width/o_height may say much more)


def _colour(pid: str, salt: str = "") -> tuple[int, int, int]:
    d = hashlib.sha256(f"{pid}{salt}".encode()).digest()
    return d[0], d[1], d[2]


def _pixels(pid: str, size: tuple[int, int]):
    """A small image whose pixels depend on the id: a base colour and an id-derived pattern."""
    from PIL import Image

    w, h = size
    im = Image.new("RGB", (w, h), _colour(pid))
    seed = hashlib.sha256(f"pixels:{pid}".encode()).digest()
    px = im.load()
    for i, b in enumerate(seed):
        x, y = (i * 7) % w, (i * 5 + b) % h
        px[x, y] = (b, 255 - b, (b * 3) % 256)
    return im


def _rational(value: float):
    from PIL.TiffImagePlugin import IFDRational

    return IFDRational(round(value * 10000), 10000)


def _dms(value: float):
    value = abs(value)
    deg = int(value)
    minutes_f = (value - deg) * 60
    minutes = int(minutes_f)
    seconds = (minutes_f - minutes) * 60
    return (_rational(deg), _rational(minutes), _rational(round(seconds, 4)))


def generated_original(p: FakePhoto) -> bytes:
    """The original of a photo that was not uploaded: a small real image; for JPEG with
    EXIF Make "FakeCam", a Model from the id, DateTimeOriginal = datetaken and GPS when
    the photo has a location."""
    im = _pixels(p.id, GEN_SIZE)
    fmt = SAVE_AS.get(p.originalformat.lower(), "JPEG")
    out = io.BytesIO()
    if fmt == "JPEG":
        from PIL import Image

        exif = Image.Exif()
        exif[0x010F] = "FakeCam"                      # Make
        exif[0x0110] = f"FC-{int(p.id) % 100:02d}" if p.id.isdigit() else "FC-00"  # Model
        exif[0x0131] = "photosync fake flickr"        # Software
        sub = exif.get_ifd(0x8769)                    # Exif IFD
        sub[0x9003] = p.datetaken.replace("-", ":", 2)  # DateTimeOriginal "YYYY:MM:DD HH:MM:SS"
        sub[0x9004] = p.datetaken.replace("-", ":", 2)  # DateTimeDigitized
        if p.has_geo:
            gps = exif.get_ifd(0x8825)
            gps[1] = "N" if p.lat >= 0 else "S"
            gps[2] = _dms(p.lat)
            gps[3] = "E" if p.lon >= 0 else "W"
            gps[4] = _dms(p.lon)
        im.save(out, "JPEG", exif=exif, quality=90)
    elif fmt == "GIF":
        im.convert("P").save(out, "GIF")
    else:
        im.save(out, fmt)
    return out.getvalue()


def _video_payload(pid: str, kind: str) -> bytes:
    d = hashlib.sha256(f"video:{pid}:{kind}".encode()).digest()
    return b"\x00\x00\x00\x01" + d * 48


def _video_created(p: FakePhoto) -> datetime:
    try:
        return datetime.strptime(p.datetaken, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime(2020, 1, 1, tzinfo=timezone.utc)


def generated_video(p: FakePhoto, kind: str = "orig", size: tuple[int, int] | None = None) -> bytes:
    """A small valid MP4 (or QuickTime, for originalformat mov) built by tests/mp4build.py,
    with an id-derived payload so every video's bytes differ; renditions differ from the original."""
    from mp4build import make_video

    brand = b"qt  " if (kind == "orig" and p.originalformat.lower() == "mov") else b"isom"
    return make_video(brand=brand, created=_video_created(p), size=size or (p.o_width, p.o_height),
                      payload=_video_payload(p.id, kind))


def original_bytes(p: FakePhoto) -> bytes:
    if p.data is not None:
        return p.data
    if p.media == "video":
        return generated_video(p)
    return generated_original(p)


def still_frame(p: FakePhoto, edge: int, square: bool = False) -> bytes:
    """A size of a photo (or a video's still): a smaller re-encoded JPEG without EXIF,
    never the original's bytes."""
    from PIL import Image

    small = max(4, min(64, edge // 8))
    if p.data is not None and p.media != "video":
        try:
            im = Image.open(io.BytesIO(p.data))
            im = im.convert("RGB")
            im.thumbnail((small, small))
        except Exception:
            im = _pixels(p.id, (small, small))
    else:
        w, h = GEN_SIZE
        if square:
            im = _pixels(p.id, (min(w, h), min(w, h)))
        else:
            im = _pixels(p.id, GEN_SIZE)
        im.thumbnail((small, small))
    if square:
        side = min(im.size)
        im = im.crop((0, 0, side, side))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=75)
    return out.getvalue()


# -- uploads ---------------------------------------------------------------------------------

def sniff(data: bytes) -> dict | None:
    """What an uploaded file is: {"media", "format", "width", "height", "taken"} or None
    when Flickr would not recognise it (upload.api.html error 5)."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        w, h = _mp4_dims(data)
        return {"media": "video", "format": "mov" if brand == b"qt  " else "mp4", "width": w, "height": h,
                "taken": None}
    try:
        from PIL import Image

        im = Image.open(io.BytesIO(data))
        fmt = PIL_FORMATS.get(im.format or "")
        if fmt is None:
            return None
        width, height = im.size
        taken = None
        try:
            raw = im.getexif().get_ifd(0x8769).get(0x9003)
            if raw:
                taken = datetime.strptime(str(raw).strip()[:19], "%Y:%m:%d %H:%M:%S").strftime("%Y-%m-%d %H:%M:%S")
        except Exception:
            taken = None
        gps = None
        try:
            g = im.getexif().get_ifd(0x8825)
            if g.get(2) and g.get(4):
                lat = sum(float(v) / d for v, d in zip(g[2], (1, 60, 3600))) * (-1 if g.get(1) == "S" else 1)
                lon = sum(float(v) / d for v, d in zip(g[4], (1, 60, 3600))) * (-1 if g.get(3) == "W" else 1)
                gps = (lat, lon)
        except Exception:
            gps = None
        return {"media": "photo", "format": fmt, "width": width, "height": height, "taken": taken, "gps": gps}
    except Exception:
        return None


def _mp4_dims(data: bytes) -> tuple[int, int]:
    """Width and height from the first track header (moov/trak/tkhd), 0 when none."""

    def boxes(buf: bytes, start: int, end: int):
        i = start
        while i + 8 <= end:
            size, kind = struct.unpack(">I4s", buf[i:i + 8])
            header = 8
            if size == 1 and i + 16 <= end:
                size = struct.unpack(">Q", buf[i + 8:i + 16])[0]
                header = 16
            elif size == 0:
                size = end - i
            if size < header:
                return
            yield kind, i + header, min(i + size, end)
            i += size

    for kind, s, e in boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for k2, s2, e2 in boxes(data, s, e):
            if k2 != b"trak":
                continue
            for k3, s3, e3 in boxes(data, s2, e2):
                if k3 == b"tkhd" and e3 - s3 >= 84:
                    # full box: version/flags, times, track id, duration, reserved, layer..volume, matrix
                    version = data[s3]
                    off = s3 + (88 if version == 1 else 76)
                    if off + 8 <= e3:
                        w, h = struct.unpack(">II", data[off:off + 8])
                        return w >> 16, h >> 16
    return 0, 0
