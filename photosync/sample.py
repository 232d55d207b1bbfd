"""Real-looking sample photos: the demo's embedded default, and the test and
benchmark data generators' building block.

Images are drawn with Pillow (a gradient sky, a sun, some hills: different for
every seed) and carry the EXIF a phone or camera writes: DateTimeOriginal with
OffsetTimeOriginal, GPS, make and model, an image description.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


def _rational(value: float):
    from PIL.TiffImagePlugin import IFDRational

    return IFDRational(round(value * 10000), 10000)


def _dms(deg: float):
    deg = abs(deg)
    d = int(deg)
    m = int((deg - d) * 60)
    s = (deg - d - m / 60) * 3600
    return (_rational(d), _rational(m), _rational(round(s, 4)))


def exif_bytes(
    taken: datetime | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
    make: str | None = None,
    model: str | None = None,
    caption: str | None = None,
) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if caption:
        exif[0x010E] = caption
    if taken is not None:
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
        sub[0x9004] = taken.strftime("%Y:%m:%d %H:%M:%S")
        if offset:
            sub[0x9011] = offset
    if gps is not None:
        g = exif.get_ifd(0x8825)
        g[0] = b"\x02\x03\x00\x00"
        g[1] = "N" if gps[0] >= 0 else "S"
        g[2] = _dms(gps[0])
        g[3] = "E" if gps[1] >= 0 else "W"
        g[4] = _dms(gps[1])
    return exif.tobytes()


def camera_jpeg(im, quality: int = 92, exif: bytes | None = None, *, thumbnail: tuple[int, int] | None = (160, 120),
                orientation: int | None = None, thumbnail_of=None, pixel_size: tuple[int, int] | None = None) -> bytes:
    """The JPEG a camera or phone writes of ``im``: its EXIF segment first (no JFIF
    segment: the Exif standard's layout), the picture's size in PixelXDimension and
    PixelYDimension, and a small JPEG of the picture (``thumbnail``: the box it fits
    in, its aspect kept) in IFD1, as cameras embed one.  ``thumbnail_of`` and
    ``pixel_size`` make the file an edit's that kept stale EXIF (tests)."""
    from PIL import Image

    ex = Image.Exif()
    if exif:
        ex.load(exif)
    sub = ex.get_ifd(0x8769)
    sub[0xA002], sub[0xA003] = pixel_size or im.size
    if orientation:
        ex[0x0112] = orientation
    tiff = ex.tobytes()[6:]
    if thumbnail:
        small = (thumbnail_of or im).convert("RGB")
        small.thumbnail(thumbnail)
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=80)
        tiff = _with_ifd1(tiff, buf.getvalue())
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, exif=b"Exif\x00\x00" + tiff)
    data = buf.getvalue()
    if data[2:4] == b"\xff\xe0":  # drop libjpeg's JFIF segment: a camera's file starts with its EXIF
        data = data[:2] + data[4 + int.from_bytes(data[4:6], "big"):]
    return data


def _with_ifd1(tiff: bytes, thumb: bytes) -> bytes:
    """A TIFF (EXIF) block with an IFD1 after IFD0 that holds ``thumb`` (a JPEG)."""
    e = "<" if tiff[:2] == b"II" else ">"
    first = struct.unpack(e + "I", tiff[4:8])[0]
    count = struct.unpack(e + "H", tiff[first:first + 2])[0]
    link = first + 2 + 12 * count  # IFD0's "next IFD" offset (0: none yet)
    at = len(tiff) + (len(tiff) & 1)
    entries = [struct.pack(e + "HHIH2x", 0x0103, 3, 1, 6),  # compression: JPEG
               struct.pack(e + "HHII", 0x0201, 4, 1, at + 2 + 12 * 3 + 4),  # where the JPEG starts
               struct.pack(e + "HHII", 0x0202, 4, 1, len(thumb))]
    ifd1 = struct.pack(e + "H", len(entries)) + b"".join(entries) + struct.pack(e + "I", 0)
    out = bytearray(tiff) + b"\x00" * (at - len(tiff)) + ifd1 + thumb
    out[link:link + 4] = struct.pack(e + "I", at)
    return bytes(out)


def draw_picture(seed: int, size: tuple[int, int] = (640, 480)):
    """A landscape-like picture that differs for every seed."""
    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    w, h = size
    top = (rnd.randrange(40, 120), rnd.randrange(80, 180), rnd.randrange(160, 255))
    bottom = (rnd.randrange(180, 255), rnd.randrange(120, 220), rnd.randrange(60, 160))
    im = Image.new("RGB", size)
    draw = ImageDraw.Draw(im)
    for y in range(h):
        t = y / max(1, h - 1)
        draw.line([(0, y), (w, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    r = rnd.randrange(h // 12, h // 5)
    cx, cy = rnd.randrange(r, w - r), rnd.randrange(r, h // 2)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, rnd.randrange(200, 250), rnd.randrange(80, 160)))
    for _ in range(rnd.randrange(2, 5)):
        base = rnd.randrange(h // 2, h)
        pts = [(0, h)] + [(x, base - rnd.randrange(0, h // 4)) for x in range(0, w + 1, max(1, w // 8))] + [(w, h)]
        draw.polygon(pts, fill=(rnd.randrange(20, 90), rnd.randrange(80, 160), rnd.randrange(20, 90)))
    return im


def make_photo(
    path: Path,
    *,
    seed: int,
    fmt: str = "JPEG",
    size: tuple[int, int] = (640, 480),
    taken: datetime | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
    make: str | None = None,
    model: str | None = None,
    caption: str | None = None,
    quality: int = 85,
) -> Path:
    """Write one photo with EXIF; ``fmt`` is a Pillow format (JPEG, PNG, TIFF, HEIF)."""
    im = draw_picture(seed, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = exif_bytes(taken, offset, gps, make, model, caption)
    buf = io.BytesIO()
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
        im.save(buf, format="HEIF", exif=exif, quality=60)
    elif fmt == "JPEG":
        im.save(buf, format="JPEG", exif=exif, quality=quality)
    elif fmt == "PNG":
        im.save(buf, format="PNG", exif=exif if taken or gps or make else None)
    else:
        im.save(buf, format=fmt, exif=exif)
    path.write_bytes(buf.getvalue())
    return path


@dataclass(frozen=True)
class SampleSpec:
    rel: str
    seed: int
    fmt: str = "JPEG"
    taken: datetime | None = None
    offset: str | None = None
    gps: tuple[float, float] | None = None
    make: str | None = None
    model: str | None = None
    caption: str | None = None
    mtime: datetime | None = None


SAMPLE: tuple[SampleSpec, ...] = (
    SampleSpec("2019/IMG_20190704_142233.jpg", 1, taken=datetime(2019, 7, 4, 14, 22, 33), offset="-07:00",
               gps=(37.7694, -122.5107), make="Apple", model="iPhone XS", caption="Sunset at Ocean Beach"),
    SampleSpec("2019/IMG_20190705_091500.jpg", 2, taken=datetime(2019, 7, 5, 9, 15), offset="-07:00",
               gps=(37.8199, -122.4783), make="Apple", model="iPhone XS"),
    SampleSpec("2019/beach-party.jpg", 3, taken=datetime(2019, 8, 17, 19, 2, 11), offset="+02:00",
               gps=(43.6959, 7.2716), make="FUJIFILM", model="X-T30", caption="Beach party in Nice"),
    SampleSpec("2020/IMG_20200215_093000.heic", 4, fmt="HEIF", taken=datetime(2020, 2, 15, 9, 30),
               offset="+01:00", gps=(48.8584, 2.2945), make="Apple", model="iPhone 11"),
    SampleSpec("2020/DSC_0042.jpg", 5, taken=datetime(2020, 12, 24, 18, 45, 3), make="NIKON CORPORATION",
               model="NIKON D750"),
    SampleSpec("2021/PXL_20210612_101530123.jpg", 6, taken=datetime(2021, 6, 12, 12, 15, 30), offset="+02:00",
               gps=(46.5197, 6.6323), make="Google", model="Pixel 5"),
    SampleSpec("screenshots/Screenshot_2021-03-05-10-11-12.png", 7, fmt="PNG"),
    SampleSpec("scans/grandma-1987.tif", 8, fmt="TIFF", mtime=datetime(2003, 5, 1, 12, 0)),
    SampleSpec("2022/IMG_20220101_000501.jpg", 9, taken=datetime(2022, 1, 1, 0, 5, 1), offset="+00:00",
               make="samsung", model="SM-G991B", caption="New year"),
)
#: the same bytes as the first photo of the beach, under another name in another folder
DUPLICATES = (("2019/beach-party.jpg", "from-phone/copy of beach-party.jpg"),)
#: a half-size copy without EXIF, as a messaging app sends it (a quality variant)
RESIZED = (("2019/IMG_20190704_142233.jpg", "from-phone/IMG-20190704-WA0003.jpg"),)


_CAMERAS = (
    ("Apple", "iPhone 8"), ("Apple", "iPhone XS"), ("Apple", "iPhone 14"), ("Google", "Pixel 5"),
    ("samsung", "SM-G991B"), ("Canon", "Canon EOS 5D Mark III"), ("NIKON CORPORATION", "NIKON D750"),
    ("FUJIFILM", "X-T30"), ("SONY", "ILCE-7M3"),
)
_PLACES = ((37.7694, -122.5107), (48.8584, 2.2945), (46.5197, 6.6323), (35.6586, 139.7454),
           (-33.8568, 151.2153), (40.6892, -74.0445), (51.5007, -0.1246), (52.5163, 13.3777))
_EVENTS = ("birthday", "holiday", "hike", "garden", "wedding", "beach", "city", "school", "snow", "family")


def generate_corpus(
    folder: Path,
    n: int,
    *,
    seed: int = 0,
    size: tuple[int, int] = (800, 600),
    noise: int = 24,
    first_year: int = 2004,
    last_year: int = 2024,
    camera: bool = False,
) -> list[Path]:
    """``n`` distinct photos with EXIF dates spread over many years, in many
    folders (YYYY/YYYY-MM-event/IMG_YYYYMMDD_HHMMSS_i.jpg), some with GPS.
    With the default size and noise each JPEG is about 100 kB.  ``camera``:
    written as cameras write them (:func:`camera_jpeg`: EXIF first, a thumbnail)."""
    from PIL import Image

    from PIL import ImageDraw

    rnd = random.Random(seed)
    out = []
    start = datetime(first_year, 1, 1)
    span = datetime(last_year, 12, 31) - start
    # a few grainy backgrounds drawn once; every photo then gets its own shapes on one
    bases = []
    for b in range(8):
        im = draw_picture(seed * 1_000_003 + b, size)
        if noise:
            grain = Image.merge("RGB", [Image.effect_noise(size, noise) for _ in range(3)])
            im = Image.blend(im, grain, 0.25)
        bases.append(im)
    w, h = size
    for i in range(n):
        taken = (start + span * rnd.random()).replace(microsecond=0)
        event = _EVENTS[rnd.randrange(len(_EVENTS))]
        rel = f"{taken.year}/{taken.year}-{taken.month:02d}-{event}/IMG_{taken:%Y%m%d_%H%M%S}_{i}.jpg"
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        im = bases[i % len(bases)].copy()
        draw = ImageDraw.Draw(im)
        for _ in range(6):
            x, y = rnd.randrange(w), rnd.randrange(h)
            r = rnd.randrange(max(2, w // 40), max(3, w // 8))
            color = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
            if rnd.random() < 0.5:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=color)
            else:
                draw.rectangle([x - r, y - r // 2, x + r, y + r // 2], fill=color)
        make, model = _CAMERAS[rnd.randrange(len(_CAMERAS))]
        gps = _PLACES[rnd.randrange(len(_PLACES))] if rnd.random() < 0.6 else None
        offset = rnd.choice(("+01:00", "+02:00", "-07:00", "+09:00", None))
        exif = exif_bytes(taken, offset, gps, make, model)
        if camera:
            path.write_bytes(camera_jpeg(im, 92, exif))
        else:
            im.save(path, format="JPEG", exif=exif, quality=92)
        out.append(path)
    return out


def make_sample_folder(folder: Path) -> int:
    """Create (or complete) the demo's folder of sample photos; returns the number of files."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for spec in SAMPLE:
        path = folder / spec.rel
        if not path.exists():
            make_photo(path, seed=spec.seed, fmt=spec.fmt, taken=spec.taken, offset=spec.offset, gps=spec.gps,
                       make=spec.make, model=spec.model, caption=spec.caption)
            if spec.mtime:
                ts = spec.mtime.timestamp()
                os.utime(path, (ts, ts))
        count += 1
    for src, dst in DUPLICATES:
        target = folder / dst
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / src, target)
        count += 1
    for src, dst in RESIZED:
        target = folder / dst
        if not target.exists():
            from PIL import Image

            target.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(folder / src) as im:
                im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS).save(target, "JPEG", quality=70)
        count += 1
    return count
