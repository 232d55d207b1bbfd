"""MP4 / MOV (ISO base media file format) metadata, read from the box tree.

Only the ``moov`` box is read into memory, however large the video: creation
time (``mvhd``, seconds since 1904 UTC), the first video track's dimensions
(``tkhd``), and the QuickTime keys Apple phones write
(``com.apple.quicktime.creationdate`` with its zone, ``...location.ISO6709``,
``...make``, ``...model``) or the ``©xyz`` location atom.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import BinaryIO

from ..errors import MediaError
from .formats import check_bmff_sizes, iter_boxes

_EPOCH_1904 = datetime(1904, 1, 1, tzinfo=timezone.utc)
_ISO6709 = re.compile(r"^([+-][0-9]+(?:\.[0-9]+)?)([+-][0-9]+(?:\.[0-9]+)?)([+-][0-9]+(?:\.[0-9]+)?)?")
_MAX_MOOV = 256 * 1024 * 1024


@dataclass
class VideoInfo:
    created: datetime | None = None
    created_source: str | None = None
    width: int | None = None
    height: int | None = None
    lat: float | None = None
    lng: float | None = None
    alt: float | None = None
    make: str | None = None
    model: str | None = None


def top_level_boxes(f: BinaryIO, file_size: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, end) of each top-level box, by seeking (no full read)."""
    out = []
    pos = 0
    while pos + 8 <= file_size:
        f.seek(pos)
        header = f.read(16)
        size, btype = struct.unpack(">I4s", header[:8])
        hlen = 8
        if size == 1:
            if len(header) < 16:
                raise MediaError("truncated video: a box header runs past the end")
            (size,) = struct.unpack(">Q", header[8:16])
            hlen = 16
        elif size == 0:
            size = file_size - pos
        if size < hlen:
            raise MediaError(f"corrupt video: box {btype!r} at byte {pos} has an impossible size")
        out.append((btype, pos + hlen, pos + size))
        pos += size
    if 0 < file_size - pos < 8 and out:
        raise MediaError("truncated video: stray bytes after the last box")
    return out


def _parse_iso6709(text: str):
    m = _ISO6709.match(text.strip())
    if not m:
        return None
    lat, lng = float(m.group(1)), float(m.group(2))
    alt = float(m.group(3)) if m.group(3) else None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or (lat == 0 and lng == 0):
        return None
    return lat, lng, alt


def _parse_mvhd(data: bytes, start: int) -> datetime | None:
    version = data[start]
    if version == 1:
        (created,) = struct.unpack(">Q", data[start + 4 : start + 12])
    else:
        (created,) = struct.unpack(">I", data[start + 4 : start + 8])
    if created == 0:
        return None
    try:
        return _EPOCH_1904 + timedelta(seconds=created)
    except OverflowError:
        return None


def _parse_tkhd(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    w, h = struct.unpack(">II", data[end - 8 : end])
    w, h = w >> 16, h >> 16
    return (w, h) if w and h else None


def _parse_meta_keys(data: bytes, start: int, end: int) -> dict[str, bytes]:
    """QuickTime 'mdta' metadata: keys box + ilst box → {key: value bytes}."""
    keys: list[str] = []
    values: dict[int, bytes] = {}
    # QuickTime meta has no version/flags; ISO meta has 4 bytes of them.
    body = start
    if data[start + 4 : start + 8] not in (b"hdlr", b"keys", b"ilst"):
        body = start + 4
    for btype, s, e in iter_boxes(data, body, end):
        if btype == b"keys":
            (count,) = struct.unpack(">I", data[s + 4 : s + 8])
            pos = s + 8
            for _ in range(count):
                (ksize,) = struct.unpack(">I", data[pos : pos + 4])
                keys.append(data[pos + 8 : pos + ksize].decode("utf-8", "replace"))
                pos += ksize
        elif btype == b"ilst":
            for itype, is_, ie in iter_boxes(data, s, e):
                index = struct.unpack(">I", itype)[0]
                for dtype, ds, de in iter_boxes(data, is_, ie):
                    if dtype == b"data":
                        values[index] = data[ds + 8 : de]
    return {keys[i - 1]: v for i, v in values.items() if 0 < i <= len(keys)}


def read_video_info(f: BinaryIO, file_size: int) -> VideoInfo:
    boxes = top_level_boxes(f, file_size)
    check_bmff_sizes(boxes, file_size, "video")
    moov = [b for b in boxes if b[0] == b"moov"]
    if not moov:
        raise MediaError("corrupt video: no 'moov' box (the index of the movie is missing)")
    _t, start, end = moov[0]
    if end - start > _MAX_MOOV:
        raise MediaError("corrupt video: 'moov' box is implausibly large")
    f.seek(start)
    data = f.read(end - start)
    info = VideoInfo()
    apple: dict[str, bytes] = {}

    def walk(s: int, e: int, depth: int) -> None:
        for btype, bs, be in iter_boxes(data, s, e):
            if btype == b"mvhd":
                info.created = _parse_mvhd(data, bs)
                info.created_source = "quicktime" if info.created else None
            elif btype == b"tkhd" and info.width is None:
                dims = _parse_tkhd(data, bs, be)
                if dims:
                    info.width, info.height = dims
            elif btype in (b"trak", b"mdia", b"udta") and depth < 4:
                walk(bs, be, depth + 1)
            elif btype == b"meta" and depth < 4:
                apple.update(_parse_meta_keys(data, bs, be))
            elif btype == b"\xa9xyz":
                # ©xyz: 2-byte length, 2-byte language, then the ISO 6709 text
                (n,) = struct.unpack(">H", data[bs : bs + 2])
                loc = _parse_iso6709(data[bs + 4 : bs + 4 + n].decode("latin-1"))
                if loc and info.lat is None:
                    info.lat, info.lng, info.alt = loc

    walk(0, len(data), 0)
    loc = apple.get("com.apple.quicktime.location.ISO6709")
    if loc:
        parsed = _parse_iso6709(loc.decode("utf-8", "replace"))
        if parsed:
            info.lat, info.lng, info.alt = parsed
    created = apple.get("com.apple.quicktime.creationdate")
    if created:
        text = created.decode("utf-8", "replace").strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=None)
            info.created, info.created_source = dt, "quicktime"
        except ValueError:
            pass
    for key, attr in (("com.apple.quicktime.make", "make"), ("com.apple.quicktime.model", "model")):
        if key in apple:
            setattr(info, attr, apple[key].decode("utf-8", "replace").strip() or None)
    return info
