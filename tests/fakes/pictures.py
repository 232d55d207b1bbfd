"""Small real media files for the iCloud and Amazon fakes: JPEGs Pillow opens (with
an EXIF capture date when asked) and MP4/MOV files built by tests/mp4build.py.
Pixels and payloads depend on a seed, so two seeds never give the same bytes, and
a derivative of a picture looks like it (same colours, smaller)."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timezone


def _colour(seed: str) -> tuple[int, int, int]:
    d = hashlib.sha256(f"colour:{seed}".encode()).digest()
    return d[0], d[1], d[2]


def picture(seed: str, size: tuple[int, int] = (64, 48)):
    """A Pillow image whose content depends on the seed: a base colour, a darker block
    and a few seed-placed dots (so resized copies keep a visual signature)."""
    from PIL import Image, ImageDraw

    w, h = max(4, size[0]), max(4, size[1])
    im = Image.new("RGB", (w, h), _colour(seed))
    d = hashlib.sha256(f"pixels:{seed}".encode()).digest()
    draw = ImageDraw.Draw(im)
    draw.rectangle([w * d[3] // 512, h * d[4] // 512, w // 2 + w * d[5] // 512, h // 2 + h * d[6] // 512],
                   fill=(d[7] // 2, d[8] // 2, d[9] // 2))
    for i in range(10, 30, 2):
        x, y = d[i] * (w - 1) // 255, d[i + 1] * (h - 1) // 255
        draw.rectangle([x, y, min(w - 1, x + max(1, w // 16)), min(h - 1, y + max(1, h // 16))],
                       fill=(255 - d[i], d[i + 1], (d[i] * 7) % 256))
    return im


def jpeg(seed: str, size: tuple[int, int] = (64, 48), taken: datetime | None = None,
         make: str | None = "Apple", model: str | None = "iPhone 12", quality: int = 90) -> bytes:
    """A real JPEG; with ``taken`` its EXIF DateTimeOriginal (camera-local, no zone)."""
    im = picture(seed, size)
    exif = im.getexif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if taken is not None:
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
        sub[0x9004] = taken.strftime("%Y:%m:%d %H:%M:%S")
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def png(seed: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    picture(seed, size).save(out, "PNG")
    return out.getvalue()


def video(seed: str, size: tuple[int, int] = (1280, 720), created: datetime | None = None,
          quicktime: bool = False) -> bytes:
    """A small valid MP4 (QuickTime with ``quicktime``) whose mdat payload depends on the seed."""
    from mp4build import make_video

    payload = b"\x00\x00\x00\x01" + hashlib.sha256(f"video:{seed}".encode()).digest() * 40
    return make_video(brand=b"qt  " if quicktime else b"isom",
                      created=created or datetime(2021, 5, 6, 7, 8, 9, tzinfo=timezone.utc),
                      size=size, payload=payload)


def sniff_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an image Pillow opens, else None."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:
        return None
