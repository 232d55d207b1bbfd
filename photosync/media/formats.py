"""Recognising photo and video files by their content, and cheap structural
checks that catch truncated and corrupt files without decoding pixels.

A file is judged by its bytes, not its name; the name only decides whether a
file that is *not* recognised is an error (``IMG_1.jpg`` full of garbage) or
just something else in the folder (``notes.txt``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import MediaError

PHOTO_EXTENSIONS = frozenset(
    "jpg jpeg jpe jfif png gif webp heic heif hif avif tif tiff dng cr2 cr3 crw nef nrw arw srf sr2 "
    "orf rw2 raf pef srw x3f 3fr erf kdc mos mrw iiq".split()
)
# not "ts": TypeScript sources share it (an MPEG-TS file named .ts is still recognised by its content)
VIDEO_EXTENSIONS = frozenset("mp4 m4v mov qt 3gp 3g2 avi mpg mpeg mpe m1v m2v vob mts m2ts m2t wmv asf mkv webm".split())
MEDIA_EXTENSIONS = PHOTO_EXTENSIONS | VIDEO_EXTENSIONS

_TIFF_RAW = {
    "dng": "dng", "nef": "nef", "nrw": "nrw", "arw": "arw", "srf": "srf", "sr2": "sr2", "pef": "pef",
    "srw": "srw", "3fr": "3fr", "erf": "erf", "kdc": "kdc", "mos": "mos", "iiq": "iiq", "cr2": "cr2",
}
_BMFF_PHOTO_BRANDS = {
    b"heic": "heic", b"heix": "heic", b"heim": "heic", b"heis": "heic", b"hevc": "heic", b"hevx": "heic",
    b"mif1": "heic", b"msf1": "heic", b"avif": "avif", b"avis": "avif", b"crx ": "cr3",
}
_BMFF_VIDEO_BRANDS = {b"qt  ": "mov"}
# 3GPP major brands: 3gp4..3gp9, 3gr*, 3gs*, 3ge*, 3gg* (3GPP TS 26.244 releases); 3GPP2: 3g2a, 3g2b, 3g2c
# (3GPP2 C.S0050): "3g2" first, then any other "3g"
_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")  # ASF Header Object GUID (ASF spec 3.1)
_ASF_VIDEO_MEDIA = bytes.fromhex("c0ef19bc4d5bcf11a8fd00805f5c442b")  # ASF_Video_Media stream type (ASF spec 10.4)
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska and WebM: an EBML header (RFC 8794)
#: audio-only relatives of the video containers: recognised, then left alone (not photos or videos)
_AUDIO_EXTENSIONS = frozenset("wma mka weba".split())
#: ISO-BMFF videos: the box tree (media/video.py) gives date, size and place; the others are format only
BMFF_VIDEOS = frozenset({"mp4", "mov", "3gp", "3g2"})
_QT_TOP_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


@dataclass(frozen=True)
class Format:
    name: str  # jpeg, png, heic, tiff, dng, mp4, mov, ...
    kind: str  # photo | video
    ext: str  # the extension a blob of this format gets
    mime: str


FORMATS = {
    "jpeg": Format("jpeg", "photo", "jpg", "image/jpeg"),
    "png": Format("png", "photo", "png", "image/png"),
    "gif": Format("gif", "photo", "gif", "image/gif"),
    "webp": Format("webp", "photo", "webp", "image/webp"),
    "heic": Format("heic", "photo", "heic", "image/heic"),
    "avif": Format("avif", "photo", "avif", "image/avif"),
    "tiff": Format("tiff", "photo", "tif", "image/tiff"),
    "cr3": Format("cr3", "photo", "cr3", "image/x-canon-cr3"),
    "raf": Format("raf", "photo", "raf", "image/x-fuji-raf"),
    "orf": Format("orf", "photo", "orf", "image/x-olympus-orf"),
    "rw2": Format("rw2", "photo", "rw2", "image/x-panasonic-rw2"),
    "crw": Format("crw", "photo", "crw", "image/x-canon-crw"),
    "x3f": Format("x3f", "photo", "x3f", "image/x-sigma-x3f"),
    "mrw": Format("mrw", "photo", "mrw", "image/x-minolta-mrw"),
    "mp4": Format("mp4", "video", "mp4", "video/mp4"),
    "mov": Format("mov", "video", "mov", "video/quicktime"),
    "3gp": Format("3gp", "video", "3gp", "video/3gpp"),
    "3g2": Format("3g2", "video", "3g2", "video/3gpp2"),
    "avi": Format("avi", "video", "avi", "video/x-msvideo"),
    "mpeg": Format("mpeg", "video", "mpg", "video/mpeg"),
    "mpeg-ts": Format("mpeg-ts", "video", "ts", "video/mp2t"),
    "m2ts": Format("m2ts", "video", "mts", "video/mp2t"),
    "wmv": Format("wmv", "video", "wmv", "video/x-ms-wmv"),
    "mkv": Format("mkv", "video", "mkv", "video/x-matroska"),
    "webm": Format("webm", "video", "webm", "video/webm"),
}
for _raw in _TIFF_RAW.values():
    FORMATS.setdefault(_raw, Format(_raw, "photo", _raw, f"image/x-{_raw}"))

#: what photosync can read; raised when a format is added, so files an older version found unreadable
#: or ignored are read again (the index forgets those scan-cache verdicts, not the good ones)
READER_VERSION = "2"  # 2: AVI, MPEG-PS, MPEG-TS, M2TS, WMV, 3G2, MKV/WebM

RAW_FORMATS = frozenset(set(_TIFF_RAW.values()) | {"cr3", "raf", "orf", "rw2", "crw", "x3f", "mrw"})


def extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot + 1 :].lower() if dot > 0 else ""


def is_media_name(name: str) -> bool:
    return extension(name) in MEDIA_EXTENSIONS


def sniff(head: bytes, name: str) -> Format | None:
    """The format of a file from its first bytes (at least 64), or None."""
    ext = extension(name)
    if head[:3] == b"\xff\xd8\xff":
        return FORMATS["jpeg"]
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return FORMATS["png"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FORMATS["gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FORMATS["webp"]
    if head[:15] == b"FUJIFILMCCD-RAW":
        return FORMATS["raf"]
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return FORMATS["orf"]
    if head[:4] == b"IIU\x00":
        return FORMATS["rw2"]
    if head[:4] == b"FOVb":
        return FORMATS["x3f"]
    if head[:4] == b"\x00MRM":
        return FORMATS["mrw"]
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        if head[8:10] == b"CR":
            return FORMATS["cr2"]
        return FORMATS[_TIFF_RAW[ext]] if ext in _TIFF_RAW else FORMATS["tiff"]
    if head[:2] == b"II" and head[6:14] == b"HEAPCCDR":
        return FORMATS["crw"]
    if head[4:8] == b"ftyp":
        major = head[8:12]
        if major in _BMFF_PHOTO_BRANDS:
            return FORMATS[_BMFF_PHOTO_BRANDS[major]]
        if major in _BMFF_VIDEO_BRANDS:
            return FORMATS["mov"]
        if major.startswith(b"3g2"):
            return FORMATS["3g2"]
        if major.startswith(b"3g"):
            return FORMATS["3gp"]
        # compatible brands: some HEIF files use a generic major brand
        size = struct.unpack(">I", head[:4])[0]
        compat = head[16 : min(size, len(head))]
        for i in range(0, len(compat) - 3, 4):
            brand = compat[i : i + 4]
            if brand in _BMFF_PHOTO_BRANDS and brand not in (b"mif1", b"msf1"):
                return FORMATS[_BMFF_PHOTO_BRANDS[brand]]
        if ext in ("mov", "qt"):
            return FORMATS["mov"]
        if ext in ("heic", "heif", "hif") and b"mif1" in compat:
            return FORMATS["heic"]
        return FORMATS["mp4"]
    if head[4:8] in _QT_TOP_BOXES and ext in ("mov", "qt", "mp4", "m4v"):
        return FORMATS["mov"]
    return _sniff_video(head, ext)


def _sniff_video(head: bytes, ext: str) -> Format | None:
    """Video containers other than ISO-BMFF, by their signatures."""
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":  # RIFF form type "AVI " (Microsoft AVI RIFF reference)
        return FORMATS["avi"]
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        # an MPEG program stream's pack header (ISO/IEC 13818-1 2.5.3), or an MPEG-1/2 video sequence header
        return FORMATS["mpeg"]
    if _packets(head, 188, 0):  # MPEG transport stream: a 0x47 sync byte every 188 bytes (ISO/IEC 13818-1 2.4.3)
        return FORMATS["mpeg-ts"]
    if _packets(head, 192, 4):  # BDAV / AVCHD (.m2ts, .mts): a 4-byte time code before each 188-byte packet
        return FORMATS["m2ts"]
    if head[:16] == _ASF_HEADER:  # ASF (WMV, WMA)
        if ext in _AUDIO_EXTENSIONS:
            return None
        if _ASF_VIDEO_MEDIA in head or ext in ("wmv", "asf"):
            return FORMATS["wmv"]
        return None  # audio only, as far as the header shows
    if head[:4] == _EBML:
        if ext in _AUDIO_EXTENSIONS:
            return None
        # the DocType element (0x4282) says which: "webm" or "matroska"
        return FORMATS["webm"] if b"\x42\x82\x84webm" in head[:64] else FORMATS["mkv"]
    return None


def _packets(head: bytes, size: int, offset: int) -> bool:
    """A sync byte 0x47 at ``offset`` of every ``size``-byte packet in ``head`` (at least two packets;
    up to five are checked, so a text file that starts with a "G" is not taken for one)."""
    count = min(5, (len(head) - offset - 1) // size + 1) if len(head) > offset else 0
    return count >= 2 and all(head[offset + i * size] == 0x47 for i in range(count))


def avi_size(head: bytes) -> tuple[int | None, int | None]:
    """Width and height from an AVI's main header (the "avih" chunk in "LIST hdrl": dwWidth and
    dwHeight at bytes 32 and 36 of its data), or (None, None)."""
    at = head.find(b"avih", 12, 256)
    if at < 0 or at + 8 + 40 > len(head):
        return None, None
    width, height = struct.unpack("<II", head[at + 8 + 32 : at + 8 + 40])
    return (width or None, height or None) if width < 65536 and height < 65536 else (None, None)


# -- structural checks (truncation and corruption) ---------------------------------------

@dataclass
class JpegParts:
    width: int | None = None
    height: int | None = None
    exif: bytes | None = None
    xmp: bytes | None = None


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"


def check_jpeg(data: bytes) -> JpegParts:
    """Walk the marker segments to the first scan, then require an end-of-image
    marker after it.  Embedded thumbnails (inside APP segments) are skipped by
    length, so their own end markers do not count.  Returns the frame size and
    the EXIF and XMP segments met on the way."""
    parts = JpegParts()
    n = len(data)
    pos = 2
    while True:
        if pos + 4 > n:
            raise MediaError("truncated JPEG: the file ends inside its headers")
        if data[pos] != 0xFF:
            raise MediaError(f"corrupt JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            pos += 2
            continue
        if marker == 0xD9:
            raise MediaError("corrupt JPEG: end of image before any image data")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            raise MediaError(f"corrupt JPEG: bad segment length at byte {pos}")
        end = pos + 2 + length
        if end > n:
            raise MediaError("truncated JPEG: the file ends inside a header segment")
        if marker == 0xE1:
            body = data[pos + 4 : end]
            if body.startswith(b"Exif\x00\x00") and parts.exif is None:
                parts.exif = body[6:]
            elif body.startswith(_XMP_ID) and parts.xmp is None:
                parts.xmp = body[len(_XMP_ID) :]
        elif marker in _SOF and length >= 7 and parts.width is None:
            parts.height, parts.width = struct.unpack(">HH", data[pos + 5 : pos + 9])
        elif marker == 0xDA:  # start of scan: entropy-coded data follows
            if data.rfind(b"\xff\xd9", end) < 0:  # from the end: where the marker is (a FileView reads little)
                raise MediaError("truncated JPEG: no end-of-image marker (the file was cut short)")
            return parts
        pos = end


def check_png(data: bytes) -> None:
    pos, n = 8, len(data)
    while pos + 8 <= n:
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        pos += 12 + length
        if pos > n:
            raise MediaError(f"truncated PNG: chunk {ctype.decode('latin-1')!r} runs past the end of the file")
        if ctype == b"IEND":
            return
    raise MediaError("truncated PNG: no IEND chunk (the file was cut short)")


def iter_boxes(data: bytes, start: int, end: int):
    """(type, payload start, box end) of each ISO-BMFF box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, btype = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise MediaError("truncated file: a box header runs past the end")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise MediaError(f"corrupt file: box {btype!r} at byte {pos} has an impossible size")
        yield btype, pos + header, pos + size
        pos += size


def check_bmff_sizes(sizes: list[tuple[bytes, int, int]], file_size: int, what: str) -> None:
    """Top-level boxes must tile the file exactly; one that runs past the end means truncation."""
    if not sizes:
        raise MediaError(f"corrupt {what}: no boxes")
    for btype, _start, end in sizes:
        if end > file_size:
            raise MediaError(f"truncated {what}: box {btype.decode('latin-1')!r} runs past the end of the file")


def check_tiff(data: bytes, what: str) -> None:
    """IFD0 must be inside the file and its strips or tiles too."""
    if len(data) < 8:
        raise MediaError(f"truncated {what}: no header")
    endian = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(endian + "I", data[4:8])
    if ifd < 8 or ifd + 2 > len(data):
        raise MediaError(f"truncated {what}: the first directory lies past the end of the file")
    (count,) = struct.unpack(endian + "H", data[ifd : ifd + 2])
    if ifd + 2 + count * 12 > len(data):
        raise MediaError(f"truncated {what}: the first directory runs past the end of the file")
    offsets = counts = None
    type_sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8}
    for i in range(count):
        e = ifd + 2 + i * 12
        tag, typ, n = struct.unpack(endian + "HHI", data[e : e + 8])
        if tag not in (273, 279, 324, 325):
            continue
        fmt = {3: "H", 4: "I", 13: "I"}.get(typ)
        if fmt is None:
            continue
        size = type_sizes[typ] * n
        if size <= 4:
            raw = data[e + 8 : e + 8 + size]
        else:
            (off,) = struct.unpack(endian + "I", data[e + 8 : e + 12])
            if off + size > len(data):
                raise MediaError(f"truncated {what}: image directory data lies past the end of the file")
            raw = data[off : off + size]
        values = struct.unpack(endian + fmt * n, raw)
        if tag in (273, 324):
            offsets = values
        else:
            counts = values
    if offsets and counts:
        end = max(o + c for o, c in zip(offsets, counts))
        if end > len(data):
            raise MediaError(f"truncated {what}: image data runs past the end of the file")
