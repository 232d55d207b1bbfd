"""osxphotos exports of an Apple Photos library, generated for tests (issue 16 §5).

``generate(dest, photos=8, layout="flat", seed=0)`` writes what ``osxphotos export DEST
--sidecar json --sidecar xmp [--directory "{created.year}/{created.month}"]`` writes and returns
a ``Manifest`` (the ground truth).  The forms follow osxphotos (RhetTbull/osxphotos: ``export
--help``, ``exifwriter.exiftool_dict``, ``templates/xmp_sidecar.mako``, ``export_db.py``):

* originals under their original names; an edited version ``NAME_edited.jpeg`` beside it;
  a live photo's video ``NAME.mov`` beside its still;
* ``NAME.ext.json`` (exiftool ``-G -j``: a list of one object, tag groups in the keys; one photo
  has ``--sidecar exiftool``'s form without groups) and ``NAME.ext.xmp`` for originals and edits;
  one photo's sidecars named ``NAME.json`` (``--sidecar-drop-ext``);
* ``.osxphotos_export.db``: ``export_data(filepath, filepath_normalized, uuid)`` for every file,
  ``photoinfo(uuid, photoinfo)`` with osxphotos' JSON of the photo (albums, folders, persons,
  keywords, favourite, hidden, place, date);
* layouts: ``flat`` (all in DEST) or ``bydate`` (``DEST/2021/March/…``, ``{created.year}/{created.month}``).

Quirks: the last photo has no sidecar (its metadata comes from the database only), the one before
it (with ``malformed``) a malformed JSON sidecar (its XMP is fine).  Deterministic for the same arguments.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from photosync.sample import draw_picture, exif_bytes

TZ = timezone(timedelta(hours=2))


@dataclass
class Item:
    """One exported file as an importer should see it."""

    path: str                  # below DEST
    sha256: str
    uuid: str
    kind: str                  # original | edited | live
    of: str | None = None      # the original's / still's path (edited, live)
    title: str | None = None
    description: str | None = None
    keywords: list[str] = field(default_factory=list)
    persons: list[str] = field(default_factory=list)
    albums: list[str] = field(default_factory=list)
    favorite: bool = False
    hidden: bool = False
    location: tuple[float, float] | None = None
    taken: str = ""
    quirks: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    dest: Path
    items: list[Item]

    def of_kind(self, kind: str) -> list[Item]:
        return [i for i in self.items if i.kind == kind]

    def by_path(self, path: str) -> Item:
        return next(i for i in self.items if i.path == path)


def _jpeg(seed: int, taken: datetime, edited: bool = False) -> bytes:
    from PIL import ImageEnhance

    pic = draw_picture(seed, (320, 240))
    if edited:   # cropped and warmer: what an edit in Photos makes
        pic = ImageEnhance.Color(pic.crop((40, 30, 280, 210))).enhance(1.6)
    buf = io.BytesIO()
    exif = exif_bytes(taken.replace(tzinfo=None), "+02:00", None, "Apple", "iPhone 12", None)
    pic.save(buf, "JPEG", quality=85, exif=exif)
    return buf.getvalue()


def _mov(seed: int, taken: datetime) -> bytes:
    from mp4build import make_video

    payload = b"\x00\x00\x00\x01" + hashlib.sha256(f"live{seed}".encode()).digest() * 40
    return make_video(brand=b"qt  ", created=taken.astimezone(timezone.utc), size=(320, 240), payload=payload)


def _exiftool_json(it: Item, filename: str, groups: bool = True) -> bytes:
    """exifwriter.exiftool_dict's keys for a photo (with --favorite-rating)."""
    taken = datetime.fromisoformat(it.taken)
    d: dict = {"SourceFile": filename, "ExifTool:ExifToolVersion": "12.00", "File:FileName": filename}
    if it.description:
        d["EXIF:ImageDescription"] = d["XMP:Description"] = d["IPTC:Caption-Abstract"] = it.description
    if it.title:
        d["XMP:Title"] = d["IPTC:ObjectName"] = it.title
    if it.keywords:
        d["IPTC:Keywords"] = d["XMP:Subject"] = d["XMP:TagsList"] = sorted(it.keywords)
    if it.persons:
        d["XMP:PersonInImage"] = sorted(it.persons)
    d["XMP:Rating"] = 5 if it.favorite else 0
    if it.location:
        lat, lon = it.location
        d.update({"EXIF:GPSLatitude": lat, "EXIF:GPSLongitude": lon, "EXIF:GPSLatitudeRef": "N" if lat >= 0 else "S",
                  "EXIF:GPSLongitudeRef": "E" if lon >= 0 else "W"})
    d["EXIF:DateTimeOriginal"] = d["EXIF:CreateDate"] = taken.strftime("%Y:%m:%d %H:%M:%S")
    d["EXIF:OffsetTimeOriginal"] = "+02:00"
    if not groups:
        d = {k.rsplit(":", 1)[-1]: v for k, v in d.items()}
    return json.dumps([d]).encode()


def _xmp(it: Item, ext: str) -> bytes:
    """templates/xmp_sidecar.mako's elements."""
    from xml.sax.saxutils import escape

    taken = datetime.fromisoformat(it.taken)
    subj = "".join(f"<rdf:li>{escape(s)}</rdf:li>" for s in sorted(it.keywords) + sorted(it.persons))
    tags = "".join(f"<rdf:li>{escape(s)}</rdf:li>" for s in sorted(it.keywords))
    people = "".join(f"<rdf:li>{escape(s)}</rdf:li>" for s in sorted(it.persons))
    gps = ""
    if it.location:
        lat, lon = it.location
        gps = (f"<exif:GPSLongitude>{int(abs(lon))},{(abs(lon) % 1) * 60}{'E' if lon >= 0 else 'W'}</exif:GPSLongitude>"
               f"<exif:GPSLatitude>{int(abs(lat))},{(abs(lat) % 1) * 60}{'N' if lat >= 0 else 'S'}</exif:GPSLatitude>")
    title = f"<rdf:li xml:lang='x-default'>{escape(it.title)}</rdf:li>" if it.title else "<rdf:li xml:lang='x-default'/>"
    desc = (f"<rdf:li xml:lang='x-default'>{escape(it.description)}</rdf:li>" if it.description
            else "<rdf:li xml:lang='x-default'/>")
    return f"""<!-- Created with osxphotos https://github.com/RhetTbull/osxphotos -->
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 5.4.0">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
      xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">
   <photoshop:SidecarForExtension>{ext}</photoshop:SidecarForExtension>
   <dc:description><rdf:Alt>{desc}</rdf:Alt></dc:description>
   <dc:title><rdf:Alt>{title}</rdf:Alt></dc:title>
   {f'<dc:subject><rdf:Bag>{subj}</rdf:Bag></dc:subject>' if subj else ''}
   <photoshop:DateCreated>{taken.isoformat()}</photoshop:DateCreated>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:Iptc4xmpExt='http://iptc.org/std/Iptc4xmpExt/2008-02-29/'>
   {f'<Iptc4xmpExt:PersonInImage><rdf:Bag>{people}</rdf:Bag></Iptc4xmpExt:PersonInImage>' if people else ''}
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:digiKam='http://www.digikam.org/ns/1.0/'>
   {f'<digiKam:TagsList><rdf:Seq>{tags}</rdf:Seq></digiKam:TagsList>' if tags else ''}
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:xmp='http://ns.adobe.com/xap/1.0/'>
   <xmp:CreateDate>{taken.strftime("%Y-%m-%dT%H:%M:%S")}</xmp:CreateDate>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:exif='http://ns.adobe.com/exif/1.0/'>{gps}</rdf:Description>
 </rdf:RDF>
</x:xmpmeta>""".encode()


ALBUMS = [("Summer", []), ("Alps", ["Trips", "2021"]), ("Family", [])]
PEOPLE = ["Ana", "Ben", "Chloé"]


def generate(dest: Path, photos: int = 8, layout: str = "flat", seed: int = 0, db: bool = True,
             malformed: bool = True) -> Manifest:
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    items: list[Item] = []
    rows: list[tuple[str, str]] = []       # (filepath, uuid)
    infos: dict[str, dict] = {}
    for i in range(photos):
        uid = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"photos/{seed}/{i}")).upper()
        taken = datetime(2021, 1, 3, 10, 15, 0, tzinfo=TZ) + timedelta(days=5 * i + i % 7)
        folder = f"{taken.year}/{taken.strftime('%B')}/" if layout == "bydate" else ""
        name = f"IMG_{1000 + i}"
        album = ALBUMS[i % len(ALBUMS)]
        base = Item(path=f"{folder}{name}.jpeg", sha256="", uuid=uid, kind="original",
                    title=f"Title {i}" if i % 2 == 0 else None, description=f"Day out {i}, été",
                    keywords=["holiday", f"kw{i}"], persons=[PEOPLE[i % 3]] if i % 3 != 2 else [],
                    albums=["/".join([*album[1], album[0]])], favorite=i % 3 == 0, hidden=i == 4,
                    location=(46.5 + i / 100, -7.25 - i / 100) if i % 4 != 3 else None, taken=taken.isoformat())
        files: list[tuple[Item, bytes]] = [(base, _jpeg(seed * 1000 + i, taken))]
        if i % 3 == 1:
            ed = Item(**{**base.__dict__, "path": f"{folder}{name}_edited.jpeg", "kind": "edited",
                         "of": base.path, "albums": [], "quirks": ["edited"]})
            files.append((ed, _jpeg(seed * 1000 + i, taken, edited=True)))
        if i % 3 == 2:
            live = Item(path=f"{folder}{name}.mov", sha256="", uuid=uid, kind="live", of=base.path,
                        taken=taken.isoformat(), quirks=["live"])
            files.append((live, _mov(seed * 1000 + i, taken)))
        for it, data in files:
            p = dest / it.path
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            it.sha256 = hashlib.sha256(data).hexdigest()
            rows.append((it.path, uid))
            items.append(it)
            if it.kind == "live":
                continue
            fname = it.path.rsplit("/", 1)[-1]
            if i == photos - 1:
                it.quirks.append("no sidecar")
                continue
            drop = i == 0   # its XMP named as --sidecar-drop-ext names it (IMG_1000.xmp)
            side = p.with_name(f"{fname}.json")
            if drop:
                it.quirks.append("drop-ext")
                p.with_name(f"{p.stem}.xmp").write_bytes(_xmp(it, "jpeg"))
            else:
                p.with_name(f"{fname}.xmp").write_bytes(_xmp(it, "jpeg"))
            if malformed and i == photos - 2 and it.kind == "original":
                it.quirks.append("malformed sidecar")
                side.write_bytes(b'[{"XMP:Title": "cut sho')
            else:
                side.write_bytes(_exiftool_json(it, fname, groups=i != 3))
        infos[uid] = {"uuid": uid, "original_filename": f"{name}.jpeg", "filename": f"{name}.jpeg",
                      "title": base.title, "description": base.description, "keywords": base.keywords,
                      "persons": base.persons or [], "albums": [album[0]], "folders": {album[0]: album[1]},
                      "favorite": base.favorite, "hidden": base.hidden,
                      "latitude": base.location[0] if base.location else None,
                      "longitude": base.location[1] if base.location else None,
                      "date": taken.isoformat(), "place": {"name": "Somewhere"} if base.location else {},
                      "hasadjustments": i % 3 == 1, "live_photo": i % 3 == 2}
    if db:
        write_export_db(dest, rows, infos)
    return Manifest(dest, items)


def write_export_db(dest: Path, rows: list[tuple[str, str]], infos: dict[str, dict]) -> None:
    """The tables of osxphotos' export database that an importer reads (export_db.py)."""
    path = Path(dest) / ".osxphotos_export.db"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS export_data (id INTEGER PRIMARY KEY, filepath TEXT NOT NULL, "
                     "filepath_normalized TEXT NOT NULL, uuid TEXT, src_sig TEXT, dest_sig TEXT, digest TEXT, "
                     "exifdata JSON, export_options INTEGER, timestamp DATETIME, UNIQUE(filepath_normalized))")
        conn.execute("CREATE TABLE IF NOT EXISTS photoinfo (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, "
                     "photoinfo JSON, UNIQUE(uuid))")
        conn.executemany("INSERT OR REPLACE INTO export_data (filepath, filepath_normalized, uuid) VALUES (?, ?, ?)",
                         [(fp, fp.lower(), u) for fp, u in rows])
        conn.executemany("INSERT OR REPLACE INTO photoinfo (uuid, photoinfo) VALUES (?, ?)",
                         [(u, json.dumps(d)) for u, d in infos.items()])
    conn.close()
