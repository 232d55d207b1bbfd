"""Small but well-formed files of the video containers that are not ISO-BMFF (AVI, MPEG
program stream, MPEG-TS, BDAV/AVCHD M2TS, ASF/WMV, Matroska/WebM), for the format tests and
the fake Flickr's originals.  Each takes a payload so that every file's bytes differ."""

from __future__ import annotations

import struct

ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
ASF_STREAM_PROPERTIES = bytes.fromhex("9107dcb7b7a9cf118ee600c00c205365")
ASF_VIDEO_MEDIA = bytes.fromhex("c0ef19bc4d5bcf11a8fd00805f5c442b")
ASF_AUDIO_MEDIA = bytes.fromhex("409e69f84d5bcf11a8fd00805f5c442b")
ASF_DATA = bytes.fromhex("3626b2758e66cf11a6d900aa0062ce6c")


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    pad = b"\x00" if len(data) % 2 else b""
    return fourcc + struct.pack("<I", len(data)) + data + pad


def make_avi(size: tuple[int, int] = (640, 480), payload: bytes = b"\x00" * 64) -> bytes:
    """RIFF 'AVI ' with LIST hdrl / avih (Microsoft's AVI RIFF layout) and a LIST movi of one frame."""
    width, height = size
    # dwMicroSecPerFrame, dwMaxBytesPerSec, dwPaddingGranularity, dwFlags, dwTotalFrames,
    # dwInitialFrames, dwStreams, dwSuggestedBufferSize, dwWidth, dwHeight, dwReserved[4]
    avih = struct.pack("<10I16x", 33333, 0, 0, 0x10, 1, 0, 1, 0, width, height)
    hdrl = b"LIST" + struct.pack("<I", 4 + 8 + len(avih)) + b"hdrl" + _chunk(b"avih", avih)
    movi_data = b"movi" + _chunk(b"00dc", payload)
    movi = b"LIST" + struct.pack("<I", len(movi_data)) + movi_data
    body = b"AVI " + hdrl + movi
    return b"RIFF" + struct.pack("<I", len(body)) + body


def make_mpeg_ps(payload: bytes = b"\x00" * 64) -> bytes:
    """An MPEG-2 program stream: a pack header, then a video PES packet, then the end code."""
    pack = b"\x00\x00\x01\xba" + bytes([0x44, 0, 4, 0, 4, 1, 0x01, 0x89, 0xc3, 0xf8])
    pes = b"\x00\x00\x01\xe0" + struct.pack(">H", len(payload) + 3) + b"\x80\x00\x00" + payload
    return pack + pes + b"\x00\x00\x01\xb9"


def make_ts(packets: int = 8, payload: bytes = b"", timecode: bool = False) -> bytes:
    """MPEG-TS: 188-byte packets starting with the 0x47 sync byte; with ``timecode`` the BDAV form
    of AVCHD cameras (.MTS/.M2TS): each packet preceded by a 4-byte arrival time stamp."""
    out = bytearray()
    data = payload or b"\xff" * 184
    for i in range(packets):
        chunk = (data[i * 184:(i + 1) * 184] or data[:184]).ljust(184, b"\xff")
        packet = bytes([0x47, 0x40 if i == 0 else 0x00, 0x00, 0x10 | (i & 0x0F)]) + chunk
        out += (struct.pack(">I", i * 1000) if timecode else b"") + packet
    return bytes(out)


def make_asf(video: bool = True, payload: bytes = b"\x00" * 64) -> bytes:
    """An ASF file (WMV, or WMA when not ``video``): the Header Object holding one Stream Properties
    Object of the video or audio media type, then a Data Object."""
    kind = ASF_VIDEO_MEDIA if video else ASF_AUDIO_MEDIA
    sp_body = kind + b"\x00" * 16 + struct.pack("<QIIH4x", 0, 0, 0, 1)
    stream_props = ASF_STREAM_PROPERTIES + struct.pack("<Q", 24 + len(sp_body)) + sp_body
    header = ASF_HEADER + struct.pack("<QIBB", 30 + len(stream_props), 1, 1, 2) + stream_props
    data = ASF_DATA + struct.pack("<Q", 24 + 26 + len(payload)) + b"\x00" * 26 + payload
    return header + data


def _ebml(element_id: bytes, data: bytes) -> bytes:
    return element_id + bytes([0x80 | len(data)]) + data  # one-byte size (< 127 bytes here)


def make_mkv(doctype: str = "matroska", payload: bytes = b"\x00" * 32) -> bytes:
    """An EBML header naming its DocType ("matroska" or "webm"), then a Segment with a payload."""
    header = _ebml(b"\x42\x86", b"\x01") + _ebml(b"\x42\xf7", b"\x01") + _ebml(b"\x42\x82", doctype.encode())
    segment = b"\x18\x53\x80\x67" + bytes([0x80 | min(len(payload), 126)]) + payload[:126]
    return _ebml(b"\x1a\x45\xdf\xa3", header) + segment
