"""The sidecars ``osxphotos export`` writes beside each file, and the Photos facts they state.

Facts from osxphotos (RhetTbull/osxphotos; ``osxphotos export --help``, ``osxphotos/exifwriter.py``
``exiftool_dict`` / ``exiftool_json_sidecar``, ``osxphotos/templates/xmp_sidecar.mako``):

* ``--sidecar json`` writes ``photoname.ext.json``: exiftool's ``-G -j`` form, a list holding one
  object whose keys carry tag groups (``XMP:Title``, ``EXIF:ImageDescription``, ``XMP:TagsList``,
  ``IPTC:Keywords``, ``XMP:PersonInImage``, ``EXIF:GPSLatitude`` (signed decimal) with its
  ``Ref``, ``EXIF:DateTimeOriginal`` with ``EXIF:OffsetTimeOriginal``, for videos
  ``QuickTime:CreationDate`` with its offset and ``Keys:GPSCoordinates`` "lat lon", and
  ``XMP:Rating`` 5/0 for favourites only with ``--favorite-rating``); ``--sidecar exiftool`` the
  same without the groups.  ``XMP:Subject`` is the keywords (plus persons with
  ``--person-keyword``), so tags are read from ``XMP:TagsList``/``IPTC:Keywords`` first.
* ``--sidecar xmp`` writes ``photoname.ext.xmp``: ``dc:title``, ``dc:description`` (rdf:Alt),
  ``dc:subject`` (keywords + persons), ``digiKam:TagsList`` (keywords), ``Iptc4xmpExt:
  PersonInImage``, ``photoshop:DateCreated`` (ISO 8601 with its offset), ``xmp:CreateDate``,
  ``exif:GPSLatitude``/``GPSLongitude`` as ``DDD,MM.mmmmN``.
* ``--sidecar-drop-ext`` names them ``photoname.json`` / ``photoname.xmp`` instead.
* A sidecar the person wrote with osxphotos' own JSON (``osxphotos query --json``, a
  ``--post-function``): an object with ``uuid``, ``title``, ``description``, ``keywords``,
  ``persons``, ``albums``, ``folders``, ``favorite``, ``hidden``, ``latitude``/``longitude``,
  ``date``, the form of the export database's ``photoinfo`` table (export.py) — read the same way.

None of these names the album of a ``--sidecar json``/``xmp`` photo or its Photos UUID: those come
from the export database (export.py).  What the sidecars say is the service's statement: dates and
places read here are recorded with source "service".
"""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import AbstractSet, Mapping

from ...media.dates import iso, parse_exif_date
from ...media.formats import MEDIA_EXTENSIONS, PHOTO_EXTENSIONS
from ...model import Location, Metadata

#: osxphotos' name for a person it could not name (``_UNKNOWN_PERSON``): not a person's name
UNKNOWN_PERSON = "_UNKNOWN_"
_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
}
#: an XMP GPS coordinate: "41,30.1234N" (degrees, decimal minutes, hemisphere)
_XMP_GPS = re.compile(r"^\s*(\d+),(\d+(?:\.\d+)?)([NSEW])\s*$")


def _stem(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    return (stem, ext) if dot and stem else (name, "")


class OsxphotosSidecars:
    """The SidecarReader (connectors/sidecars.py) of an osxphotos export: JSON and XMP sidecars,
    named ``photo.ext.json`` (the default) or ``photo.json`` (``--sidecar-drop-ext``)."""

    label = "osxphotos"

    def sidecars(self, name: str, names: AbstractSet[str]) -> tuple[str, ...]:
        stem, _ = _stem(name)
        out = [f"{name}.{ext}" for ext in ("xmp", "json") if f"{name}.{ext}" in names]
        # photo.json (--sidecar-drop-ext) is this file's when no other file here with its stem could
        # claim it: a still shares its stem with its live video (osxphotos warns of such collisions),
        # and the sidecar is the still's (osxphotos writes sidecars for the photo, not its live video)
        rivals = PHOTO_EXTENSIONS if _stem(name)[1].lower() in PHOTO_EXTENSIONS else MEDIA_EXTENSIONS
        if not any(_stem(n)[0] == stem and _stem(n)[1].lower() in rivals for n in names):
            out += [f"{stem}.{ext}" for ext in ("xmp", "json") if f"{stem}.{ext}" in names and f"{stem}.{ext}" != name]
        # XMP first, JSON last: a later sidecar's statement wins (the JSON is the fuller one)
        return tuple(sorted(set(out), key=lambda n: (n.endswith(".json"), n)))

    def apply(self, metadata: Metadata, sidecars: Mapping[str, bytes]) -> Metadata:
        facts: dict = {}
        for name, data in sidecars.items():
            if name.lower().endswith(".xmp"):
                facts.update(xmp_facts(data, name))
            else:
                facts.update(json_facts(data, name))
        return apply_facts(metadata, facts)


# -- reading ------------------------------------------------------------------------------------

def json_facts(data: bytes, name: str = "sidecar") -> dict:
    """The facts of a JSON sidecar: exiftool's form (a list of one object) or osxphotos' own."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{name} is not valid JSON: {e}") from None
    if isinstance(doc, list):
        if len(doc) != 1 or not isinstance(doc[0], dict):
            raise ValueError(f"{name} is a list but not exiftool's one-object sidecar")
        return exiftool_facts(doc[0])
    if isinstance(doc, dict):
        return photoinfo_facts(doc)
    raise ValueError(f"{name} holds a {type(doc).__name__}, not an osxphotos sidecar")


def _text(v) -> str | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = str(v)
    return v.strip() if isinstance(v, str) and v.strip() else None


def _strings(v) -> list[str]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list):
        return []
    out: list[str] = []
    for x in v:
        t = _text(x)
        if t and t not in out:
            out.append(t)
    return out


def _num(v) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        return float(v) if v is not None and v != "" else None
    except (TypeError, ValueError):
        return None


def _place(lat, lon) -> tuple[float, float] | None:
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return (lat, lon)


def exiftool_facts(d: dict) -> dict:
    """exiftool's JSON (``-G``: ``XMP:Title``; without groups: ``Title``)."""
    g: dict = {}
    for k, v in d.items():
        g.setdefault(k.rsplit(":", 1)[-1], v)   # the group names where two groups give one tag
    facts: dict = {}
    if t := _text(d.get("XMP:Title") or d.get("IPTC:ObjectName") or g.get("Title") or g.get("ObjectName")):
        facts["title"] = t
    desc = (d.get("XMP:Description") or d.get("EXIF:ImageDescription") or d.get("IPTC:Caption-Abstract")
            or g.get("Description") or g.get("ImageDescription") or g.get("Caption-Abstract"))
    if t := _text(desc):
        facts["description"] = t
    tags = _strings(g.get("TagsList")) or _strings(g.get("Keywords"))
    persons = [p for p in _strings(g.get("PersonInImage")) if p != UNKNOWN_PERSON]
    if not tags:   # XMP:Subject is keywords + persons (with --person-keyword): the persons are not tags
        tags = [s for s in _strings(g.get("Subject")) if s not in persons]
    if tags:
        facts["keywords"] = tags
    if persons:
        facts["persons"] = persons
    rating = _num(g.get("Rating"))
    if rating is not None:   # only with --favorite-rating: 5 favourite, 0 not
        facts["favorite"] = rating >= 5
    lat, lon = _num(g.get("GPSLatitude")), _num(g.get("GPSLongitude"))
    if lat is not None and str(g.get("GPSLatitudeRef", "")).upper().startswith("S"):
        lat = -abs(lat)
    if lon is not None and str(g.get("GPSLongitudeRef", "")).upper().startswith("W"):
        lon = -abs(lon)
    if lat is None and isinstance(g.get("GPSCoordinates"), str):   # a video: "lat lon"
        bits = g["GPSCoordinates"].replace(",", " ").split()
        if len(bits) >= 2:
            lat, lon = _num(bits[0]), _num(bits[1])
    if (p := _place(lat, lon)) is not None:
        facts["location"] = p
    when = None
    if g.get("DateTimeOriginal"):
        when = parse_exif_date(g.get("DateTimeOriginal"), g.get("OffsetTimeOriginal"))
    if when is None and g.get("CreationDate"):   # a video's QuickTime:CreationDate "…+02:00"
        v = str(g["CreationDate"])
        when = parse_exif_date(v[:19], v[19:] or None)
    if when is not None:
        facts["date"] = iso(when)
    return facts


def photoinfo_facts(d: dict) -> dict:
    """osxphotos' own JSON of a photo (``PhotoInfo.json()``: the export database's ``photoinfo``)."""
    facts: dict = {}
    if isinstance(d.get("uuid"), str) and d["uuid"]:
        facts["uuid"] = d["uuid"]
    for src, dst in (("title", "title"), ("description", "description"), ("original_filename", "original_filename")):
        if t := _text(d.get(src)):
            facts[dst] = t
    if kw := _strings(d.get("keywords")):
        facts["keywords"] = kw
    if persons := [p for p in _strings(d.get("persons")) if p != UNKNOWN_PERSON]:
        facts["persons"] = persons
    albums = _strings(d.get("albums"))
    folders = d.get("folders")
    if albums and isinstance(folders, dict):
        # an album inside folders is named by its path ("Trips/2024/Alps"), as Photos shows it
        albums = ["/".join([*_strings(folders.get(a)), a]) for a in albums]
    if albums:
        facts["albums"] = albums
    for k in ("favorite", "hidden"):
        if isinstance(d.get(k), bool):
            facts[k] = d[k]
    if (p := _place(_num(d.get("latitude")), _num(d.get("longitude")))) is not None:
        facts["location"] = p
    if isinstance(d.get("date"), str):
        try:
            facts["date"] = iso(datetime.fromisoformat(d["date"]))
        except ValueError:
            pass
    place = d.get("place")
    if isinstance(place, dict) and (t := _text(place.get("name"))):
        facts["place"] = t
    return facts


def _xmp_gps(v: str | None) -> float | None:
    if not v:
        return None
    m = _XMP_GPS.match(v)
    if m:
        value = int(m.group(1)) + float(m.group(2)) / 60
        return -value if m.group(3) in "SW" else value
    return _num(v)


def xmp_facts(data: bytes, name: str = "sidecar") -> dict:
    """The facts of an osxphotos XMP sidecar (the template's elements; attributes too)."""
    try:
        # a leading comment before <x:xmpmeta> (osxphotos writes one) is fine for the parser; the
        # standard library's expat refuses external entities and nests of entity expansion
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise ValueError(f"{name} is not valid XML: {e}") from None

    def all_of(tag: str) -> list:
        prefix, local = tag.split(":")
        return root.findall(f".//{{{_NS[prefix]}}}{local}")

    def items(tag: str) -> list[str]:
        out: list[str] = []
        for el in all_of(tag):
            lis = el.findall(f".//{{{_NS['rdf']}}}li")
            out += [li.text for li in lis if li.text] if lis else ([el.text] if el.text else [])
        return _strings(out)

    def attr(tag: str) -> str | None:
        prefix, local = tag.split(":")
        for el in root.iter(f"{{{_NS['rdf']}}}Description"):
            v = el.get(f"{{{_NS[prefix]}}}{local}")
            if v:
                return v
        return None

    def one(tag: str) -> str | None:
        got = items(tag)
        return got[0] if got else _text(attr(tag))

    facts: dict = {}
    if t := one("dc:title"):
        facts["title"] = t
    if t := one("dc:description"):
        facts["description"] = t
    persons = [p for p in items("Iptc4xmpExt:PersonInImage") if p != UNKNOWN_PERSON]
    tags = items("digiKam:TagsList") or [s for s in items("dc:subject") if s not in persons]
    if tags:
        facts["keywords"] = tags
    if persons:
        facts["persons"] = persons
    rating = _num(one("xmp:Rating"))
    if rating is not None:
        facts["favorite"] = rating >= 5
    if (p := _place(_xmp_gps(one("exif:GPSLatitude")), _xmp_gps(one("exif:GPSLongitude")))) is not None:
        facts["location"] = p
    for tag in ("photoshop:DateCreated", "xmp:CreateDate"):
        if v := one(tag):
            try:
                facts["date"] = iso(datetime.fromisoformat(v.replace("Z", "+00:00")))
                break
            except ValueError:
                continue
    return facts


# -- applying -----------------------------------------------------------------------------------

def apply_facts(metadata: Metadata, facts: dict) -> Metadata:
    """``metadata`` with what Photos states (the facts of sidecars or the export database)."""
    changes: dict = {}
    title, desc = facts.get("title"), facts.get("description")
    # the record has one caption: Photos' description, else its title; both kept when both are set
    # (no field of a photo's metadata holds a title apart from its file name)
    if title and desc and title != desc:
        changes["caption"] = f"{title}\n\n{desc}"
    elif desc or title:
        changes["caption"] = desc or title
    if facts.get("keywords"):
        changes["tags"] = tuple(facts["keywords"])
    if facts.get("persons"):
        changes["people"] = tuple(facts["persons"])
    if facts.get("albums"):
        changes["albums"] = tuple(facts["albums"])
    if facts.get("favorite") is not None:
        changes["favorite"] = facts["favorite"]
    if facts.get("hidden") is not None:
        # Photos' Hidden album: kept out of the library's views, the nearest of the record's flags
        changes["archived"] = facts["hidden"]
    if facts.get("location"):
        lat, lon = facts["location"]
        changes["location"], changes["location_source"] = Location(lat, lon, None), "service"
    if facts.get("date"):
        changes["taken_date"], changes["taken_date_source"] = facts["date"], "service"
    return dataclasses.replace(metadata, **changes) if changes else metadata
