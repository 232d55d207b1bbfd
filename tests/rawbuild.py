"""A small real DNG that LibRaw (rawpy) decodes: Adobe DNG 1.4, one uncompressed 16-bit RGGB
CFA image in IFD0 (TIFF 6.0 layout, the DNG tags a reader needs), its left half red and its
right half blue."""

from __future__ import annotations

import struct

# TIFF field types: BYTE, ASCII, SHORT, LONG, RATIONAL, SRATIONAL
_PACK = {1: "B", 3: "H", 4: "I", 5: "II", 10: "ii"}


def _field(tag: int, kind: int, values) -> tuple[int, int, int, bytes]:
    if kind == 2:
        data = values.encode() + b"\0"
        return tag, kind, len(data), data
    if kind in (5, 10):
        return tag, kind, len(values), b"".join(struct.pack("<" + _PACK[kind], *v) for v in values)
    return tag, kind, len(values), struct.pack(f"<{len(values)}{_PACK[kind]}", *values)


def make_dng(width: int = 256, height: int = 192, seed: int = 1) -> bytes:
    import numpy as np

    x = np.mgrid[0:height, 0:width][1]
    left = x < width // 2
    red = np.where(left, 3000, 400)
    blue = np.where(left, 400, 3000)
    cfa = np.full((height, width), 900, dtype=np.uint16)  # green sites
    cfa[0::2, 0::2] = red[0::2, 0::2]
    cfa[1::2, 1::2] = blue[1::2, 1::2]
    cfa += np.random.default_rng(seed).integers(0, 20, size=cfa.shape, dtype=np.uint16)
    pixels = cfa.astype("<u2").tobytes()
    identity = [(10000, 10000), (0, 10000), (0, 10000), (0, 10000), (10000, 10000), (0, 10000), (0, 10000),
                (0, 10000), (10000, 10000)]
    fields = sorted([
        _field(254, 4, [0]), _field(256, 4, [width]), _field(257, 4, [height]), _field(258, 3, [16]),
        _field(259, 3, [1]), _field(262, 3, [32803]), _field(271, 2, "Test"), _field(272, 2, "Test DNG"),
        _field(273, 4, [0]), _field(274, 3, [1]), _field(277, 3, [1]), _field(278, 4, [height]),
        _field(279, 4, [len(pixels)]), _field(284, 3, [1]), _field(33421, 3, [2, 2]), _field(33422, 1, [0, 1, 1, 2]),
        _field(50706, 1, [1, 4, 0, 0]), _field(50708, 2, "Test DNG"), _field(50717, 4, [4095]),
        _field(50721, 10, identity), _field(50728, 5, [(1, 1), (1, 1), (1, 1)]), _field(50778, 3, [21]),
    ])
    data_at = 8 + 2 + len(fields) * 12 + 4
    extra = b""
    table = b""
    for tag, kind, count, data in fields:
        if len(data) <= 4:
            value = data.ljust(4, b"\0")
        else:
            value = struct.pack("<I", data_at + len(extra))
            extra += data + (b"\0" if len(data) % 2 else b"")
        table += struct.pack("<HHI", tag, kind, count) + value
    out = bytearray(b"II*\0" + struct.pack("<IH", 8, len(fields)) + table + b"\0\0\0\0" + extra + pixels)
    strip = [i for i, f in enumerate(fields) if f[0] == 273][0]
    pos = 8 + 2 + strip * 12 + 8
    out[pos:pos + 4] = struct.pack("<I", data_at + len(extra))
    return bytes(out)
