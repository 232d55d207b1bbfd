"""Where an uploaded file says it was taken, as Flickr's "Import EXIF location data" account
setting reads it (flickr.com/account/geo/exif; flickr.prefs.getGeoPerms "importgeoexif").

Read independently of photosync's own code (so a copy photosync strips is judged by another
reader): EXIF GPS through Pillow, XMP ``exif:GPSLatitude``/``exif:GPSLongitude`` (XMP's
"DDD,MM.mmk" / "DDD,MM,SSk" form, the XMP specification part 2, "GPSCoordinate"), and a
video's ISO 6709 string (QuickTime ``©xyz``, ``com.apple.quicktime.location.ISO6709``).
The reading is generous on purpose: a fake that geotags from anything location-like catches
a copy that still carries one.
"""

from __future__ import annotations

import io
import re

_ISO6709 = re.compile(rb"([+-]\d{1,2}(?:\.\d+)?)([+-]\d{1,3}(?:\.\d+)?)(?:[+-]\d+(?:\.\d+)?)?/")
_XMP_COORD = re.compile(rb"""exif:GPS(Latitude|Longitude)\s*(?:=\s*["']|>)\s*([0-9.,]+)([NSEW])""", re.I)


def file_location(data: bytes) -> tuple[float, float] | None:
    return _exif(data) or _xmp(data) or _video(data)


def _exif(data: bytes) -> tuple[float, float] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            g = im.getexif().get_ifd(0x8825)
        if g.get(2) and g.get(4):
            lat = sum(float(v) / d for v, d in zip(g[2], (1, 60, 3600))) * (-1 if g.get(1) == "S" else 1)
            lon = sum(float(v) / d for v, d in zip(g[4], (1, 60, 3600))) * (-1 if g.get(3) == "W" else 1)
            return lat, lon
    except Exception:
        return None
    return None


def _xmp(data: bytes) -> tuple[float, float] | None:
    found = {}
    for m in _XMP_COORD.finditer(data):
        parts = [float(x) for x in m.group(2).split(b",") if x]
        value = sum(p / d for p, d in zip(parts, (1, 60, 3600)))
        if m.group(3).upper() in (b"S", b"W"):
            value = -value
        found.setdefault(m.group(1).lower(), value)
    if b"latitude" in found and b"longitude" in found:
        return found[b"latitude"], found[b"longitude"]
    return None


def _video(data: bytes) -> tuple[float, float] | None:
    if data[4:8] != b"ftyp" or (b"\xa9xyz" not in data and b"location.ISO6709" not in data):
        return None
    for m in _ISO6709.finditer(data):
        lat, lon = float(m.group(1)), float(m.group(2))
        if (lat, lon) != (0.0, 0.0) and abs(lat) <= 90 and abs(lon) <= 180:
            return lat, lon
    return None
