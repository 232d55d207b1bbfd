"""Take the location out of a copy of a photo or video, losslessly.

Used for uploads whose location must not be public (a public photo on Flickr:
Flickr's "import EXIF location" account setting would otherwise geotag it from
the file).  Only a temporary copy is changed, never an original in a store, and
only metadata bytes are touched, in place: the image and video data, and every
offset in the file, stay as they were.

* EXIF (JPEG APP1, PNG eXIf, TIFF, HEIC's Exif item, any other "Exif\\0\\0" TIFF
  block such as an MPF secondary image): the GPS IFD's pointer is taken out of
  its IFD (the entries after it move up twelve bytes, inside that IFD's own
  table) and the GPS IFD and the values it points to are zeroed.  Pillow's
  ``Exif.tobytes`` was not used: it rewrites the whole TIFF block, which drops the
  thumbnail IFD and breaks maker notes that hold absolute offsets.
* XMP (any packet in the file): ``…:GPS…`` properties, as attributes or elements,
  are overwritten with spaces (XML whitespace, so the packet stays well formed and
  keeps its length).
* ISO base media (MP4, MOV, 3GP): ``©xyz`` and ``loci`` atoms, and QuickTime
  ``mdta`` items whose key names a location (``com.apple.quicktime.location.*``),
  are zeroed and renamed ``free`` (a box every reader skips).  A GPS track
  (GoPro ``gpmd``, Google ``camm``) cannot be removed without rewriting the file:
  refused.
* PNG: the chunks edited get their CRC recomputed; a compressed text chunk that
  holds GPS is refused.
* GIF: XMP bytes double as sub-block lengths there, so they cannot be blanked:
  a GIF with GPS in its XMP is refused.

Afterwards the copy is scanned again the same way (and read by the prober): any
location left is a refusal (:class:`CannotStrip`), never an upload.
"""

from __future__ import annotations

import io
import mmap
import os
import re
import struct
import zlib

from ..errors import MediaError

GPS_IFD = 0x8825


class CannotStrip(MediaError):
    """The location cannot be removed from this file without re-encoding it."""


# -- TIFF / EXIF ------------------------------------------------------------------------------------

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


def _tiff_gps(buf, base: int, end: int, fix: bool) -> bool:
    """Find (and with ``fix`` remove) the GPS IFD of the TIFF block at ``base``.
    True when one was found.  Offsets in a TIFF block count from its header."""
    if end - base < 8:
        return False
    order = bytes(buf[base:base + 2])
    if order == b"II":
        e = "<"
    elif order == b"MM":
        e = ">"
    else:
        return False
    (magic,) = struct.unpack(e + "H", buf[base + 2:base + 4])
    if magic != 42:
        if magic == 43:
            raise CannotStrip("a BigTIFF block (its location cannot be removed in place)")
        return False
    (ifd,) = struct.unpack(e + "I", buf[base + 4:base + 8])
    found = False
    seen = set()
    for _n in range(2):  # IFD0 and IFD1 (the thumbnail's); GPS belongs in IFD0
        if ifd == 0 or ifd in seen or base + ifd + 2 > end:
            break
        seen.add(ifd)
        at = base + ifd
        (count,) = struct.unpack(e + "H", buf[at:at + 2])
        table_end = at + 2 + 12 * count
        if count > 1000 or table_end + 4 > end:
            break
        for k in range(count):
            entry = at + 2 + 12 * k
            tag, typ, n, value = struct.unpack(e + "HHII", buf[entry:entry + 12])
            if tag != GPS_IFD:
                continue
            found = True
            if not fix:
                break
            _zero_ifd(buf, base, end, value, e)
            # the entries after it move up one place; the count and the next-IFD offset follow
            buf[entry:table_end + 4 - 12] = bytes(buf[entry + 12:table_end + 4])
            buf[table_end + 4 - 12:table_end + 4] = b"\x00" * 12
            buf[at:at + 2] = struct.pack(e + "H", count - 1)
            table_end -= 12
            break
        (ifd,) = struct.unpack(e + "I", buf[table_end:table_end + 4])
    return found


def _zero_ifd(buf, base: int, end: int, offset: int, e: str) -> None:
    """Zero the IFD at ``offset`` and the values its entries point to (bounds checked)."""
    at = base + offset
    if offset < 8 or at + 2 > end:
        return
    (count,) = struct.unpack(e + "H", buf[at:at + 2])
    table_end = at + 2 + 12 * count
    if count > 1000 or table_end + 4 > end:
        return
    for k in range(count):
        entry = at + 2 + 12 * k
        _tag, typ, n, value = struct.unpack(e + "HHII", buf[entry:entry + 12])
        size = _TYPE_SIZES.get(typ, 1) * n
        if size > 4 and 8 <= value and base + value + size <= end:
            buf[base + value:base + value + size] = b"\x00" * size
    buf[at:table_end + 4] = b"\x00" * (table_end + 4 - at)


def _exif_blocks(buf, start: int = 0, end: int | None = None):
    """(TIFF base, end) of every "Exif\\0\\0" block followed by a TIFF header."""
    end = len(buf) if end is None else end
    pos = start
    while True:
        pos = buf.find(b"Exif\x00\x00", pos, end)
        if pos < 0:
            return
        base = pos + 6
        if bytes(buf[base:base + 4]) in (b"II*\x00", b"MM\x00*"):
            yield base, _block_end(buf, pos, end)
        pos = base


def _block_end(buf, exif_at: int, end: int) -> int:
    """Where the TIFF block after "Exif\\0\\0" at ``exif_at`` ends: its JPEG segment's
    end when it is an APP1 segment, else the end of the file (HEIC items, PNG chunks
    are handled with their own bounds)."""
    if exif_at >= 4 and bytes(buf[exif_at - 4:exif_at - 2]) == b"\xff\xe1":
        (length,) = struct.unpack(">H", buf[exif_at - 2:exif_at])
        return min(end, exif_at - 2 + length)
    return end


# -- XMP --------------------------------------------------------------------------------------------

_XMP_STARTS = (b"<x:xmpmeta", b"<x:xapmeta", b"<rdf:RDF")
_XMP_ENDS = {b"<x:xmpmeta": b"</x:xmpmeta>", b"<x:xapmeta": b"</x:xapmeta>", b"<rdf:RDF": b"</rdf:RDF>"}
# exif:GPSLatitude="..." (or any prefix: exifEX:, drone-dji:GpsLatitude, ...), as an attribute ...
_GPS_ATTR = re.compile(rb"""[A-Za-z_][\w.-]*:gps[\w-]*\s*=\s*(?:"[^"]*"|'[^']*')""", re.I)
# ... or as an element, with or without content
_GPS_ELEM = re.compile(rb"<([A-Za-z_][\w.-]*:gps[\w-]*)\b[^>]*?(?:/>|>.*?</\1\s*>)", re.I | re.S)


def _xmp_packets(buf, start: int = 0, end: int | None = None):
    end = len(buf) if end is None else end
    for opener in _XMP_STARTS:
        pos = start
        while True:
            pos = buf.find(opener, pos, end)
            if pos < 0:
                break
            close = buf.find(_XMP_ENDS[opener], pos, end)
            if close < 0:
                stop = end
            else:
                stop = close + len(_XMP_ENDS[opener])
            yield pos, stop
            pos = stop


def _xmp_gps(buf, start: int, end: int, fix: bool) -> bool:
    found = False
    for s, e in list(_xmp_packets(buf, start, end)):
        packet = bytes(buf[s:e])
        spans = [m.span() for m in _GPS_ELEM.finditer(packet)] + [m.span() for m in _GPS_ATTR.finditer(packet)]
        if not spans:
            continue
        found = True
        if fix:
            for a, b in spans:
                buf[s + a:s + b] = b" " * (b - a)
    return found


# -- ISO base media (MP4, MOV, 3GP, HEIF) -------------------------------------------------------------

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf", b"moof", b"traf",
               b"mvex", b"ilst"}
_LOCATION_ATOMS = {b"\xa9xyz", b"loci"}
#: sample entries of timed GPS tracks (GoPro GPMF, Google Camera Motion Metadata)
_GPS_TRACKS = {b"gpmd", b"camm"}


def _boxes(buf, start: int, end: int):
    """(type, box start, payload start, box end) of the boxes in [start, end)."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[pos:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            (size,) = struct.unpack(">Q", buf[pos + 8:pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos, pos + header, pos + size
        pos += size


def _free(buf, box_start: int, payload: int, box_end: int) -> None:
    buf[payload:box_end] = b"\x00" * (box_end - payload)
    buf[box_start + 4:box_start + 8] = b"free"


def _bmff_gps(buf, start: int, end: int, fix: bool, depth: int = 0) -> bool:
    found = False
    for kind, bs, ps, be in list(_boxes(buf, start, end)):
        if kind in _LOCATION_ATOMS:
            found = True
            if fix:
                _free(buf, bs, ps, be)
        elif kind == b"meta" and depth < 6:
            found |= _meta_gps(buf, ps, be, fix)
        elif kind == b"stsd":
            if be - ps >= 16 and bytes(buf[ps + 12:ps + 16]) in _GPS_TRACKS:
                raise CannotStrip("the video has a GPS track (it cannot be removed without rewriting the file)")
        elif kind in _CONTAINERS and depth < 8:
            found |= _bmff_gps(buf, ps, be, fix, depth + 1)
    return found


def _meta_gps(buf, start: int, end: int, fix: bool) -> bool:
    """QuickTime 'mdta' metadata (keys + ilst; no version/flags) or ISO 'meta' (a full box)."""
    body = start if bytes(buf[start + 4:start + 8]) in (b"hdlr", b"keys", b"ilst") else start + 4
    keys: list[bytes] = []
    found = False
    boxes = list(_boxes(buf, body, end))
    for kind, _bs, ps, be in boxes:
        if kind == b"keys" and be - ps >= 8:
            (count,) = struct.unpack(">I", buf[ps + 4:ps + 8])
            pos = ps + 8
            for _ in range(min(count, 10000)):
                if pos + 8 > be:
                    break
                (ksize,) = struct.unpack(">I", buf[pos:pos + 4])
                if ksize < 8 or pos + ksize > be:
                    break
                keys.append(bytes(buf[pos + 8:pos + ksize]))
                pos += ksize
    located = {i + 1 for i, k in enumerate(keys) if b"location" in k.lower()}
    for kind, _bs, ps, be in boxes:
        if kind != b"ilst":
            continue
        for item, ibs, ips, ibe in list(_boxes(buf, ps, be)):
            if item in _LOCATION_ATOMS or struct.unpack(">I", item)[0] in located:
                found = True
                if fix:
                    _free(buf, ibs, ips, ibe)
    for kind, bs, ps, be in boxes:
        if kind in _LOCATION_ATOMS:
            found = True
            if fix:
                _free(buf, bs, ps, be)
    return found


# -- PNG --------------------------------------------------------------------------------------------

def _png_gps(buf, fix: bool) -> bool:
    found = False
    pos = 8
    end = len(buf)
    while pos + 12 <= end:
        length, kind = struct.unpack(">I4s", buf[pos:pos + 8])
        ds, de = pos + 8, pos + 8 + length
        if de + 4 > end:
            break
        changed = False
        if kind == b"eXIf":
            if _tiff_gps(buf, ds, de, fix=False):
                found = True
                if fix:
                    changed = _tiff_gps(buf, ds, de, fix=True)
        elif kind in (b"iTXt", b"tEXt", b"zTXt"):
            changed, hit = _png_text(buf, kind, ds, de, fix)
            found |= hit
        if changed:
            buf[de:de + 4] = struct.pack(">I", zlib.crc32(bytes(buf[pos + 4:de])) & 0xFFFFFFFF)
        if kind == b"IEND":
            break
        pos = de + 4
    return found


def _png_text(buf, kind: bytes, ds: int, de: int, fix: bool) -> tuple[bool, bool]:
    """(changed, GPS found) for one text chunk."""
    data = bytes(buf[ds:de])
    keyword, _, rest = data.partition(b"\x00")
    if kind == b"iTXt" and keyword == b"XML:com.adobe.xmp" and len(rest) >= 2 and rest[0] == 0:
        # uncompressed: flag, method, language\0, translated keyword\0, then the packet in place
        hit = _xmp_gps(buf, ds, de, fix=False)
        return (hit and fix and _xmp_gps(buf, ds, de, fix=True)), hit
    text = rest
    try:
        if kind == b"zTXt":
            text = zlib.decompress(rest[1:])
        elif kind == b"iTXt" and len(rest) >= 2 and rest[0] == 1:
            parts = rest[2:].split(b"\x00", 2)
            text = zlib.decompress(parts[2]) if len(parts) == 3 else b""
    except zlib.error:
        return False, False
    if keyword.startswith(b"Raw profile type"):  # ImageMagick's hex-encoded EXIF / APP1
        lines = text.strip().split(b"\n", 2)
        try:
            text = bytes.fromhex(lines[2].decode("ascii").replace("\n", "")) if len(lines) == 3 else b""
        except ValueError:
            text = b""
    blob = bytearray(text)
    hit = _xmp_gps(blob, 0, len(blob), fix=False) or any(
        _tiff_gps(blob, b, e, fix=False) for b, e in _exif_blocks(blob))
    if hit:
        raise CannotStrip(f"a compressed or encoded PNG text chunk ({keyword.decode('latin-1')!r}) holds GPS")
    return False, False


# -- the whole file ---------------------------------------------------------------------------------

def _scan(buf, fmt: str, fix: bool) -> list[str]:
    """Where a location was found (and, with ``fix``, removed)."""
    found = []
    if fmt == "png":
        if _png_gps(buf, fix):
            found.append("PNG metadata")
        return found
    if fmt == "gif":
        if _xmp_gps(buf, 0, len(buf), fix=False):
            raise CannotStrip("GIF XMP holds GPS (its bytes are also the GIF's sub-block lengths)")
        return found
    if fmt == "tiff" and _tiff_gps(buf, 0, len(buf), fix):
        found.append("TIFF GPS IFD")
    if fmt == "webp" and _riff_gps(buf, fix):
        found.append("WebP EXIF GPS IFD")
    for base, end in list(_exif_blocks(buf)):
        if _tiff_gps(buf, base, end, fix):
            found.append("EXIF GPS IFD")
    if _xmp_gps(buf, 0, len(buf), fix):
        found.append("XMP GPS")
    for at in _bmff_roots(buf, fmt):
        if _bmff_gps(buf, at, len(buf), fix):
            found.append("video location")
    return found


def _bmff_roots(buf, fmt: str) -> list[int]:
    """Where ISO base media box trees start: the file itself, and a video appended
    after a JPEG (motion photos): an "ftyp" box from which boxes tile the rest of the
    file exactly (image data that merely contains the letters is left alone)."""
    roots = [0] if bytes(buf[4:8]) == b"ftyp" else []
    if fmt == "jpeg":
        pos = 0
        while True:
            pos = buf.find(b"ftyp", pos + 1)
            if pos < 4:
                break
            (size,) = struct.unpack(">I", buf[pos - 4:pos])
            if 8 <= size <= 64 and _tiles(buf, pos - 4, len(buf)):
                roots.append(pos - 4)
    return roots


def _tiles(buf, start: int, end: int) -> bool:
    last = start
    for _kind, _bs, _ps, be in _boxes(buf, start, end):
        last = be
    return last == end


def _riff_gps(buf, fix: bool) -> bool:
    """WebP: the EXIF chunk is a TIFF block, with or without an "Exif\\0\\0" prefix
    (RIFF chunks carry no checksum, so it is edited in place)."""
    found = False
    pos = 12
    while pos + 8 <= len(buf):
        kind, length = struct.unpack("<4sI", buf[pos:pos + 8])
        ds, de = pos + 8, min(len(buf), pos + 8 + length)
        if kind == b"EXIF":
            base = ds + 6 if bytes(buf[ds:ds + 6]) == b"Exif\x00\x00" else ds
            found |= _tiff_gps(buf, base, de, fix)
        pos = de + (length & 1)
    return found


def scan_location(stream, fmt: str) -> bool:
    """Whether the file behind ``stream`` may hold a location (a read-only scan, nothing
    copied; a stream with no file behind it is assumed to)."""
    try:
        fd = stream.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        return True
    size = os.fstat(fd).st_size
    if size == 0:
        return False
    with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as buf:
        try:
            return bool(_scan(buf, fmt, fix=False))
        except CannotStrip:
            return True  # strip_location says why


def strip_location(f, fmt: str) -> list[str]:
    """Remove every location from the file ``f`` (a writable, seekable temporary copy),
    in place.  ``fmt``: photosync's format name (media/formats.py).  Returns what was
    removed (empty: the file held no location and is unchanged).  Raises CannotStrip
    when a location would be left."""
    f.flush()
    f.seek(0, 2)
    size = f.tell()
    if size == 0:
        return []
    with mmap.mmap(f.fileno(), size) as buf:
        removed = _scan(buf, fmt, fix=True)
        left = _scan(buf, fmt, fix=False)
        buf.flush()
    if left:
        raise CannotStrip(f"a location could not be removed ({', '.join(left)})")
    # and photosync's own reader must find none either
    from .formats import FORMATS
    from .probe import probe_large

    if fmt in FORMATS:
        f.seek(0)
        try:
            info = probe_large(f, size, FORMATS[fmt])
        except MediaError as e:
            raise CannotStrip(f"the copy without its location cannot be read back ({e})") from None
        if info.lat is not None:
            raise CannotStrip("a location is still readable in the copy")
    f.seek(0)
    return removed
