"""Build MP4/MOV files box by box (ISO/IEC 14496-12 layouts of ftyp, moov, mvhd,
trak, tkhd, udta, meta/keys/ilst, mdat) for the video tests."""

from __future__ import annotations

import struct
from datetime import datetime, timezone

EPOCH_1904 = datetime(1904, 1, 1, tzinfo=timezone.utc)


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return box(kind, struct.pack(">B3x", version) + payload)


def mvhd(created: datetime) -> bytes:
    secs = int((created - EPOCH_1904).total_seconds())
    # version 0: creation, modification, timescale, duration, rate, volume, reserved, matrix, pre_defined, next_track
    payload = struct.pack(">IIII", secs, secs, 600, 600 * 3) + struct.pack(">IH10x", 0x00010000, 0x0100)
    payload += b"\x00" * 36 + b"\x00" * 24 + struct.pack(">I", 2)
    return full_box(b"mvhd", 0, payload)


def tkhd(width: int, height: int) -> bytes:
    payload = struct.pack(">IIIII", 0, 0, 1, 0, 1800) + b"\x00" * 8 + struct.pack(">hhh2x", 0, 0, 0)
    payload += b"\x00" * 36 + struct.pack(">II", width << 16, height << 16)
    return full_box(b"tkhd", 0, payload)


def xyz(iso6709: str) -> bytes:
    text = iso6709.encode()
    return box(b"\xa9xyz", struct.pack(">HH", len(text), 0x15C7) + text)


def apple_meta(values: dict[str, str]) -> bytes:
    hdlr = full_box(b"hdlr", 0, b"\x00" * 4 + b"mdta" + b"\x00" * 12 + b"\x00")
    keys = b"".join(struct.pack(">I4s", 8 + len(k.encode()), b"mdta") + k.encode() for k in values)
    keys_box = full_box(b"keys", 0, struct.pack(">I", len(values)) + keys)
    items = b""
    for i, v in enumerate(values.values(), start=1):
        data = box(b"data", struct.pack(">II", 1, 0) + v.encode())
        items += box(struct.pack(">I", i), data)
    return box(b"meta", hdlr + keys_box + box(b"ilst", items))


def make_video(
    *,
    brand: bytes = b"isom",
    created: datetime | None = datetime(2021, 5, 6, 7, 8, 9, tzinfo=timezone.utc),
    size: tuple[int, int] = (1920, 1080),
    location: str | None = None,
    apple: dict[str, str] | None = None,
    payload: bytes = b"\x00\x00\x00\x01" + b"\x42" * 5000,
    moov_first: bool = True,
) -> bytes:
    ftyp = box(b"ftyp", brand + struct.pack(">I", 0) + brand + b"mp41")
    trak = box(b"trak", tkhd(*size))
    udta = box(b"udta", xyz(location)) if location else b""
    meta = apple_meta(apple) if apple else b""
    moov = box(b"moov", (mvhd(created) if created else b"") + trak + udta + meta)
    mdat = box(b"mdat", payload)
    return ftyp + (moov + mdat if moov_first else mdat + moov)
