"""Google Takeout exports of Google Photos, generated for tests and bench/ (issue 14 §1).

``generate(dest, photos=60, parts=3, form="zip", seed=0, locale="en")`` writes one export into
the folder ``dest`` (what ``service add --type google-takeout --path`` is given) and returns a
``Manifest``: the ground truth a connector test compares its import with.

Forms: ``zip`` (``takeout-20250102T030405Z-001.zip``, ``-002.zip``, …), ``tgz`` (the same as
``.tgz``), ``folders`` (each part unpacked into its own folder ``takeout-…-001/Takeout/…``) and
``tree`` (all parts unpacked into one ``Takeout/`` tree).

Every quirk of SERVICES.md "Google Photos" and issue 14 §1 appears, each in at least one photo
once ``photos`` >= 24 (the first photos get them in turn, the rest are drawn at random):

* ``Takeout/<Google Photos|Google Fotos|Google Foto>/Photos from YYYY/`` plus one folder per album;
  album folders repeat year-folder files (same bytes, same sidecar); some photos are only in an
  album folder (shared albums); album ``metadata.json`` (``Metadaten.json``, ``métadonnées.json``,
  ``metadati.json``) holds the title, which differs from the folder name (characters Takeout
  replaces, two albums of one name become ``Name(1)``); the trash folder (``Trash``,
  ``Papierkorb``, ``Corbeille``, ``Cestino``) holds trashed items.
* Sidecars: ``title`` (the original name), ``description``, ``photoTakenTime`` and
  ``creationTime`` (epoch seconds as strings, UTC; ``formatted`` in the export's language),
  ``geoData`` and ``geoDataExif`` (the same; only geoData; user-corrected geoData; 0,0 in one or
  both), ``people``, ``favorited``, ``archived``, ``trashed``, ``url``, ``googlePhotosOrigin``.
  Names: ``NAME.json`` (older exports) and ``NAME.supplemental-metadata.json`` (since late 2024),
  the part before ``.json`` cut to 46 characters (``.supplemental-metad.json``, ``.supple.json``,
  ``.s.json``, ``..json``, or into the title itself), and ``IMG_1(1).JPG`` paired with
  ``IMG_1.JPG(1).json`` / ``IMG_1.JPG.supplemental-metadata(1).json`` (both titled ``IMG_1.JPG``).
* ``-edited`` copies in the export's language (``-edited``, ``-bearbeitet``, ``-modifié``,
  ``-modificato``) without sidecars, one stacked with a duplicate index (``IMG_1-edited(1).JPG``);
  motion-photo companions without sidecars (Pixel ``PXL_….MP.jpg`` + ``PXL_….MP``, iPhone
  ``IMG_….JPG`` + ``IMG_….MP4``); files without an extension; videos with sidecars; PNG
  screenshots and messenger pictures without EXIF; cameras whose clock was wrong (EXIF date
  differs from ``photoTakenTime``, which is the truth).
* Parts: with ``parts`` >= 2 a photo and its sidecar, an edit and its original, and an album's
  metadata and its photos sit in different parts.

Sources: SERVICES.md "Google Photos"; immich-go docs/misc/google-takeout.md (localized names,
``(1)`` pairing, stacked edit and duplicate suffixes, files split across parts);
papa-vova/gphotos-321sync Google_Takeout_Structure.md (sidecar fields and truncations, album
``metadata.json``); GooglePhotosTakeoutHelper (the 46/51-character cut).

Deterministic: the same arguments give byte-identical files. Run as a script for bench/:
``python tests/takeout.py DEST --photos 10000 --parts 5 --form zip [--manifest FILE]``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import sys
import tarfile
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from photosync.sample import draw_picture, exif_bytes  # noqa: E402

FORMS = ("zip", "tgz", "folders", "tree")
EXPORT_STAMP = "20250102T030405Z"
#: the zip/tar member time of every file (deterministic output)
MEMBER_TIME = (2025, 1, 2, 3, 4, 6)

#: per export language: the Google Photos folder, the album metadata name, the edited suffix,
#: the trash folder, and how "formatted" times are written (immich-go google-takeout.md)
LOCALES = {
    "en": {"root": "Google Photos", "album_meta": "metadata.json", "edited": "-edited", "trash": "Trash",
           "formatted": "%b %d, %Y, %I:%M:%S %p UTC"},
    "de": {"root": "Google Fotos", "album_meta": "Metadaten.json", "edited": "-bearbeitet", "trash": "Papierkorb",
           "formatted": "%d.%m.%Y, %H:%M:%S UTC"},
    "fr": {"root": "Google Photos", "album_meta": "métadonnées.json", "edited": "-modifié", "trash": "Corbeille",
           "formatted": "%d %b %Y, %H:%M:%S UTC"},
    "it": {"root": "Google Foto", "album_meta": "metadati.json", "edited": "-modificato", "trash": "Cestino",
           "formatted": "%d %b %Y, %H:%M:%S UTC"},
}

#: Google cuts a sidecar's name before ".json" to 46 characters (51 with ".json")
SIDECAR_STEM_MAX = 46
SUPPLEMENTAL = ".supplemental-metadata"

PEOPLE = ("Anna", "Ben", "Chloé", "Dmitri", "Émile", "Fatima", "Grandma", "Дочь")
CAPTIONS = ("Sunset at Ocean Beach", "Birthday cake 🎂", "Erster Schultag", "Le pique-nique", "Snow day",
            "Family dinner", "Vacanze al mare", "Hike to the lake")
PLACES = ((37.7694, -122.5107, 12.0), (48.8584, 2.2945, 35.0), (46.5197, 6.6323, 372.0),
          (35.6586, 139.7454, 40.0), (-33.8568, 151.2153, 5.0), (52.5163, 13.3777, 34.0))
CAMERAS = (("Google", "Pixel 5"), ("Apple", "iPhone 12"), ("samsung", "SM-G991B"), ("Canon", "Canon EOS 80D"))

#: quirks the first photos get in turn, so a small export has them all
PLANNED = ("plain", "cut_metad", "cut_supple", "cut_s", "cut_dotdot", "cut_title", "dup_index", "edited",
           "edited_dup", "motion_pixel", "motion_iphone", "no_extension", "video", "screenshot", "messenger",
           "wrong_clock", "geo_only_geodata", "geo_corrected", "geo_exif_zero", "geo_both_zero", "album_only",
           "two_albums", "trashed", "archived_favorite")


@dataclass
class Member:
    part: int                 # 1-based
    path: str                 # inside the archive: "Takeout/Google Photos/…"
    kind: str                 # media | sidecar | album_metadata | other
    key: str | None           # the manifest photo it belongs to (media, sidecar)
    data: bytes = field(repr=False, default=b"")


@dataclass
class Photo:
    """One item of the export as an importer should see it (the ground truth)."""

    key: str
    kind: str                             # photo | video | edit | motion
    title: str                            # the original file name (the sidecar's title)
    filename: str                         # its name in the archive
    sha256: str
    size: int
    taken: str | None                     # expected date taken, UTC "…Z" (photoTakenTime; edits and
                                          # motion companions: their original's)
    taken_source: str | None              # "photoTakenTime" | "original" (edits, motion companions)
    exif_taken: str | None                # what the file's own metadata says, local time, or None
    place: list | None                    # expected [lat, lon, alt]: geoDataExif, else geoData, 0,0 = none
    caption: str | None
    people: list = field(default_factory=list)
    favorited: bool = False
    archived: bool = False
    trashed: bool = False
    albums: list = field(default_factory=list)     # album titles (from album metadata)
    edit_of: str | None = None            # key of the original this is an edited copy of
    motion_of: str | None = None          # key of the still this motion video belongs to
    upload_time: str | None = None        # creationTime (when it reached Google Photos)
    url: str | None = None
    paths: list = field(default_factory=list)      # [part, path] of every copy of the bytes
    sidecar: list | None = None                    # [part, path] of its sidecar (None: has none)
    sidecars: list = field(default_factory=list)   # every copy of its sidecar (album folders repeat it)
    quirks: list = field(default_factory=list)


@dataclass
class Album:
    title: str
    folder: str                            # the folder name Takeout gave it
    description: str
    metadata: list                          # [part, path] of its metadata file
    photos: list = field(default_factory=list)   # keys, in folder order


@dataclass
class Manifest:
    seed: int
    form: str
    locale: str
    root: str                               # "Takeout/Google Photos" (localized)
    parts: list                             # what is in dest: archive or folder names, in order
    photos: list
    albums: list
    members: list                           # [part, path, kind, key] of every file

    def photo(self, key: str) -> Photo:
        return next(p for p in self.photos if p.key == key)

    @property
    def expected(self) -> list:
        """What an import without --include-trashed keeps: every photo that is not trashed."""
        return [p for p in self.photos if not p.trashed]

    @property
    def trashed(self) -> list:
        return [p for p in self.photos if p.trashed]

    def to_json(self) -> str:
        d = asdict(self)
        return json.dumps(d, indent=1, ensure_ascii=False)


# -- names ----------------------------------------------------------------------------------------------

def sidecar_name(title: str, style: str, dup: int = 0) -> str:
    """`title`'s sidecar name: NAME.json or NAME.supplemental-metadata.json, cut to 46 characters
    before .json, with a duplicate index before .json (IMG_1.JPG(1).json)."""
    stem = (title + (SUPPLEMENTAL if style == "supplemental" else ""))[:SIDECAR_STEM_MAX]
    return stem + (f"({dup})" if dup else "") + ".json"


def dup_name(filename: str, dup: int) -> str:
    """IMG_1.JPG -> IMG_1(1).JPG: the index goes before the extension of the file itself."""
    if not dup:
        return filename
    base, dot, ext = filename.rpartition(".")
    return f"{base}({dup}).{ext}" if dot else f"{filename}({dup})"


def edited_name(filename: str, suffix: str, dup: int = 0) -> str:
    """IMG_1.JPG -> IMG_1-edited.JPG; with a duplicate index the suffix goes first:
    IMG_1-edited(1).JPG (immich-go google-takeout.md)."""
    base, dot, ext = filename.rpartition(".")
    idx = f"({dup})" if dup else ""
    return f"{base}{suffix}{idx}.{ext}" if dot else f"{filename}{suffix}{idx}"


def folder_for_album(title: str) -> str:
    """The folder name Takeout gives an album: characters a file system refuses become "_"."""
    return "".join("_" if c in '/\\:*?"<>|' else c for c in title).strip() or "Untitled"


def _title_of_length(n: int, rnd: random.Random, ext: str = "jpg") -> str:
    """A plausible long camera name of exactly n characters, ending .ext."""
    stem_len = n - len(ext) - 1
    head = f"PXL_{rnd.randrange(2018, 2025)}{rnd.randrange(1, 13):02d}{rnd.randrange(1, 29):02d}_"
    body = "".join(rnd.choice("0123456789abcdef") for _ in range(max(0, stem_len - len(head))))
    return (head + body)[:stem_len] + "." + ext


# -- bytes ------------------------------------------------------------------------------------------------

_GRAIN: dict = {}


def _picture(seed: int, size):
    """draw_picture, with camera-like grain on pictures of 0.1 MP or more (a few layers made once
    per size and blended in), so bench/'s 800x600 JPEGs weigh about what a photo does."""
    from PIL import Image

    pic = draw_picture(seed, size)
    if size[0] * size[1] < 100_000:
        return pic
    layers = _GRAIN.get(tuple(size))
    if layers is None:
        layers = _GRAIN[tuple(size)] = [Image.merge("RGB", [Image.effect_noise(size, 40) for _ in range(3)])
                                        for _ in range(4)]
    return Image.blend(pic, layers[seed % len(layers)], 0.3)


def _jpeg(seed: int, size, taken_local: datetime | None, offset: str | None, gps, camera) -> bytes:
    buf = io.BytesIO()
    exif = exif_bytes(taken_local, offset, gps, camera[0] if camera else None, camera[1] if camera else None, None) \
        if (taken_local or gps or camera) else None
    pic = _picture(seed, size)
    if exif:
        pic.save(buf, "JPEG", quality=80, exif=exif)
    else:
        pic.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _png(seed: int, size) -> bytes:
    buf = io.BytesIO()
    _picture(seed, size).save(buf, "PNG")
    return buf.getvalue()


def _edit(data: bytes) -> bytes:
    """An edited copy: cropped and warmer, EXIF kept (Google's editor writes a new file)."""
    from PIL import Image, ImageEnhance

    with Image.open(io.BytesIO(data)) as im:
        exif = im.getexif()
        w, h = im.size
        pic = ImageEnhance.Color(im.convert("RGB").crop((w // 8, h // 8, w - w // 8, h - h // 8))).enhance(1.6)
    buf = io.BytesIO()
    pic.save(buf, "JPEG", quality=82, exif=exif.tobytes())
    return buf.getvalue()


def _video(seed: int, created: datetime, gps) -> bytes:
    from mp4build import make_video

    loc = None
    if gps:
        loc = f"{gps[0]:+08.4f}{gps[1]:+09.4f}/"
    payload = b"\x00\x00\x00\x01" + hashlib.sha256(f"video{seed}".encode()).digest() * 40
    return make_video(created=created, size=(320, 240), location=loc, payload=payload)


# -- the export ---------------------------------------------------------------------------------------------

def _ts(dt: datetime) -> str:
    return str(int(dt.timestamp()))


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def _geo(lat=0.0, lon=0.0, alt=0.0) -> dict:
    return {"latitude": lat, "longitude": lon, "altitude": alt, "latitudeSpan": 0.0, "longitudeSpan": 0.0}


class _Builder:
    def __init__(self, n: int, parts: int, seed: int, locale: str, sidecar_style: str,
                 image_size: tuple[int, int] = (96, 72)):
        if locale not in LOCALES:
            raise ValueError(f"locale must be one of {', '.join(LOCALES)}, not {locale!r}")
        if sidecar_style not in ("supplemental", "legacy", "mixed"):
            raise ValueError("sidecar_style must be supplemental, legacy or mixed")
        self.n, self.parts, self.seed = n, parts, seed
        self.image_size = tuple(image_size)
        self.rnd = random.Random(seed)
        self.loc = LOCALES[locale]
        self.locale = locale
        self.style = sidecar_style
        self.root = "Takeout/" + self.loc["root"]
        self.photos: list[Photo] = []
        self.files: list[tuple[str, str, str | None, bytes]] = []   # (path, kind, key, data) in order
        self.albums: dict[str, Album] = {}
        self.names_in_folder: dict[str, set] = {}
        self.split_sidecar: set[str] = set()       # keys whose sidecar must sit in another part
        self.split_edit: set[str] = set()          # edit keys that must sit apart from their original
        self.split_album: set[str] = set()         # album titles whose metadata sits apart

    # -- helpers
    def _style(self, i: int) -> str:
        if self.style != "mixed":
            return self.style
        return "supplemental" if i % 3 else "legacy"

    def _formatted(self, dt: datetime) -> str:
        return dt.astimezone(timezone.utc).strftime(self.loc["formatted"])

    def _add(self, path: str, kind: str, key: str | None, data: bytes) -> None:
        self.files.append((path, kind, key, data))

    def _album(self, title: str) -> Album:
        if title not in self.albums:
            folder = folder_for_album(title)
            taken = {a.folder for a in self.albums.values()}
            k = 0
            while (folder if not k else f"{folder}({k})") in taken:
                k += 1
            folder = folder if not k else f"{folder}({k})"
            self.albums[title] = Album(title=title, folder=folder,
                                       description=self.rnd.choice(("", "Our trip", "Les vacances")), metadata=[])
        return self.albums[title]

    def _free_name(self, folder: str, filename: str) -> tuple[str, int]:
        used = self.names_in_folder.setdefault(folder, set())
        dup = 0
        while dup_name(filename, dup).lower() in used:
            dup += 1
        used.add(dup_name(filename, dup).lower())
        return dup_name(filename, dup), dup

    def _sidecar(self, p: Photo, taken: datetime, upload: datetime, geo: dict, geo_exif: dict,
                 origin: dict) -> bytes:
        d = {"title": p.title, "description": p.caption or "", "imageViews": str(self.rnd.randrange(0, 40)),
             "creationTime": {"timestamp": _ts(upload), "formatted": self._formatted(upload)},
             "photoTakenTime": {"timestamp": _ts(taken), "formatted": self._formatted(taken)},
             "geoData": geo, "geoDataExif": geo_exif}
        if p.people:
            d["people"] = [{"name": n} for n in p.people]
        d["url"] = p.url
        d["googlePhotosOrigin"] = origin
        # flags are often left out when false (Google_Takeout_Structure.md "Organization & Status")
        if p.archived or self.rnd.random() < 0.3:
            d["archived"] = p.archived
        if p.favorited or self.rnd.random() < 0.3:
            d["favorited"] = p.favorited
        if p.trashed:
            d["trashed"] = True
        return json.dumps(d, indent=2, ensure_ascii=False).encode()

    # -- one photo with all its files
    def photo(self, i: int, quirk: str) -> None:
        rnd = self.rnd
        key = f"p{i:05d}"
        taken = datetime(2012, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rnd.randrange(0, 13 * 365 * 86400))
        upload = taken + timedelta(seconds=rnd.randrange(60, 30 * 86400))
        year = taken.year
        folder = f"{self.root}/Photos from {year}"
        camera = rnd.choice(CAMERAS)
        tz_hours = rnd.choice((-7, 0, 1, 2, 9))
        offset = f"{'+' if tz_hours >= 0 else '-'}{abs(tz_hours):02d}:00"
        exif_local = (taken + timedelta(hours=tz_hours)).replace(tzinfo=None)
        place = PLACES[rnd.randrange(len(PLACES))] if rnd.random() < 0.6 else None
        geo_exif = _geo(*place) if place else _geo()
        geo = dict(geo_exif)
        expected_place = list(place) if place else None
        caption = rnd.choice(CAPTIONS) if rnd.random() < 0.35 else None
        people = sorted(rnd.sample(PEOPLE, rnd.randrange(0, 3))) if rnd.random() < 0.3 else []
        kind = "photo"
        quirks = [quirk]
        size = self.image_size
        # -- the quirk decides the name, the bytes and the metadata
        if quirk in ("cut_metad", "cut_supple", "cut_s", "cut_dotdot"):
            style = "supplemental"
            title = _title_of_length({"cut_metad": 27, "cut_supple": 39, "cut_s": 44, "cut_dotdot": 45}[quirk], rnd)
        elif quirk == "cut_title":
            style = self._style(i)
            title = _title_of_length(60, rnd, "jpg")
        else:
            style = self._style(i)
            if quirk == "screenshot":
                title = f"Screenshot_{taken:%Y%m%d-%H%M%S}.png"
            elif quirk == "messenger":
                title = f"IMG-{taken:%Y%m%d}-WA{rnd.randrange(10000):04d}.jpg"
            elif quirk == "video":
                title, kind = f"VID_{taken:%Y%m%d_%H%M%S}.mp4", "video"
            elif quirk == "motion_pixel":
                title = f"PXL_{taken:%Y%m%d_%H%M%S}{rnd.randrange(1000):03d}.MP.jpg"
            elif quirk == "no_extension":
                title = f"{taken:%d.%m.%y} - {rnd.randrange(1, 9)}"
            elif quirk in ("dup_index", "edited_dup", "motion_iphone"):
                title = f"IMG_{rnd.randrange(1000, 9999)}.JPG"
            else:
                title = f"IMG_{taken:%Y%m%d_%H%M%S}.jpg" if rnd.random() < 0.7 else f"DSC_{rnd.randrange(10000):04d}.JPG"
        if quirk == "wrong_clock":
            # the camera's clock was a year and some hours off: EXIF disagrees with photoTakenTime
            exif_local = exif_local - timedelta(days=365, hours=5)
        if quirk == "geo_only_geodata":
            place = PLACES[0]
            geo, geo_exif, expected_place = _geo(*place), _geo(), list(place)
        elif quirk == "geo_corrected":
            place = PLACES[1]
            geo_exif, geo, expected_place = _geo(*place), _geo(*PLACES[2]), list(place)
        elif quirk == "geo_exif_zero":
            geo_exif, geo, expected_place, place = _geo(), _geo(*PLACES[3]), list(PLACES[3]), None
        elif quirk == "geo_both_zero":
            geo_exif, geo, expected_place, place = _geo(), _geo(), None, None
        gps_in_file = (geo_exif["latitude"], geo_exif["longitude"]) if geo_exif["latitude"] or geo_exif["longitude"] \
            else None
        # bytes
        if kind == "video":
            data = _video(self.seed * 100_003 + i, exif_local.replace(tzinfo=timezone.utc), gps_in_file)
            exif_taken = exif_local.strftime("%Y-%m-%dT%H:%M:%S")
        elif quirk == "screenshot":
            data, exif_taken = _png(self.seed * 100_003 + i, size), None
        elif quirk == "messenger":
            data, exif_taken = _jpeg(self.seed * 100_003 + i, size, None, None, None, None), None
        else:
            data = _jpeg(self.seed * 100_003 + i, size, exif_local, offset, gps_in_file, camera)
            exif_taken = exif_local.strftime("%Y-%m-%dT%H:%M:%S")
        trashed = quirk == "trashed" or (quirk not in PLANNED and rnd.random() < 0.04)
        archived = quirk == "archived_favorite" or rnd.random() < 0.05
        favorited = quirk == "archived_favorite" or rnd.random() < 0.1
        url = "https://photos.google.com/photo/AF1Qip" + hashlib.sha256(f"{self.seed}{key}".encode()).hexdigest()[:38]
        if quirk == "album_only":
            origin = {"fromSharedAlbum": {}}
        else:
            origin = {"mobileUpload": {"deviceFolder": {"localFolderName": ""},
                                       "deviceType": "ANDROID_PHONE" if camera[0] != "Apple" else "IOS_PHONE"}}
        p = Photo(key=key, kind=kind, title=title, filename="", sha256=hashlib.sha256(data).hexdigest(),
                  size=len(data), taken=_iso(taken), taken_source="photoTakenTime", exif_taken=exif_taken,
                  place=expected_place, caption=caption, people=people, favorited=favorited, archived=archived,
                  trashed=trashed, upload_time=_iso(upload), url=url, quirks=quirks)
        # where it goes
        albums: list[str] = []
        if quirk == "two_albums":
            albums = ["Paris: Eiffel & Louvre", "Best of " + str(year)]
        elif quirk == "album_only":
            albums = ["Shared with us"]
        elif not trashed and rnd.random() < 0.25:
            # "Kids/School" and "Kids_School" both want the folder Kids_School: the second gets Kids_School(1)
            albums = [rnd.choice(("Paris: Eiffel & Louvre", "Holidays", "Kids/School", "Kids_School", "Garden"))]
        p.albums = [self._album(a).title for a in albums]
        home = f"{self.root}/{self.loc['trash']}" if trashed else (None if quirk == "album_only" else folder)
        folders = ([home] if home else []) + [f"{self.root}/{self._album(a).folder}" for a in albums]
        sidecar = self._sidecar(p, taken, upload, geo, geo_exif, origin)
        first_name = None
        for f in folders:
            if quirk in ("dup_index", "edited_dup") and f == folders[0]:
                # a namesake taken the same year comes first, so this one is IMG_…(1).JPG
                self._namesake(i, f, title, style, year)
            name, dup = self._free_name(f, title)
            first_name = first_name or name
            self._add(f"{f}/{name}", "media", key, data)
            p.paths.append(f"{f}/{name}")
            sc = f"{f}/{sidecar_name(title, style, dup)}"
            self._add(sc, "sidecar", key, sidecar)
            p.sidecars.append(sc)
            if dup and "dup_index" not in p.quirks:
                p.quirks.append("dup_index")
        p.filename = first_name
        p.sidecar = p.sidecars[0]
        if len(self.photos) < len(PLANNED) and quirk in ("plain", "cut_metad"):
            self.split_sidecar.add(key)
        self.photos.append(p)
        for a in albums:
            self._album(a).photos.append(key)
        # companions without sidecars: edits and motion videos, next to the first copy
        base_folder = folders[0]
        if quirk in ("edited", "edited_dup") or (quirk not in PLANNED and kind == "photo" and rnd.random() < 0.08):
            dup = 1 if quirk == "edited_dup" else 0
            e_name = edited_name(title, self.loc["edited"], dup)
            e_data = _edit(data)
            e = Photo(key=key + "e", kind="edit", title=e_name, filename=e_name,
                      sha256=hashlib.sha256(e_data).hexdigest(), size=len(e_data), taken=p.taken,
                      taken_source="original", exif_taken=exif_taken, place=p.place, caption=p.caption,
                      people=list(p.people), favorited=p.favorited, archived=p.archived, trashed=p.trashed,
                      albums=[], edit_of=key, upload_time=p.upload_time, url=None,
                      quirks=["edited" + ("_stacked_dup" if dup else "")])
            self.names_in_folder[base_folder].add(e_name.lower())
            self._add(f"{base_folder}/{e_name}", "media", e.key, e_data)
            e.paths.append(f"{base_folder}/{e_name}")
            self.photos.append(e)
            if quirk == "edited":
                self.split_edit.add(e.key)
        if quirk in ("motion_pixel", "motion_iphone"):
            m_name = title[: -len(".jpg")] if quirk == "motion_pixel" else title.rsplit(".", 1)[0] + ".MP4"
            m_data = _video(self.seed * 100_003 + i + 50_000, exif_local.replace(tzinfo=timezone.utc), None)
            m = Photo(key=key + "m", kind="motion", title=m_name, filename=m_name,
                      sha256=hashlib.sha256(m_data).hexdigest(), size=len(m_data), taken=p.taken,
                      taken_source="original", exif_taken=exif_local.strftime("%Y-%m-%dT%H:%M:%S"), place=None,
                      caption=None, trashed=p.trashed, motion_of=key, upload_time=p.upload_time,
                      quirks=[quirk])
            self.names_in_folder[base_folder].add(m_name.lower())
            self._add(f"{base_folder}/{m_name}", "media", m.key, m_data)
            m.paths.append(f"{base_folder}/{m_name}")
            self.photos.append(m)

    def _namesake(self, i: int, folder: str, title: str, style: str, year: int) -> None:
        """Another photo of the same name in the same folder (taken the same year)."""
        if title.lower() in self.names_in_folder.setdefault(folder, set()):
            return
        rnd = self.rnd
        key = f"p{i:05d}n"
        taken = datetime(year, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rnd.randrange(0, 360 * 86400))
        camera = rnd.choice(CAMERAS)
        data = _jpeg(self.seed * 100_003 + i + 70_000, self.image_size, taken.replace(tzinfo=None), "+00:00", None, camera)
        q = Photo(key=key, kind="photo", title=title, filename=title, sha256=hashlib.sha256(data).hexdigest(),
                  size=len(data), taken=_iso(taken), taken_source="photoTakenTime",
                  exif_taken=taken.strftime("%Y-%m-%dT%H:%M:%S"), place=None, caption=None,
                  upload_time=_iso(taken + timedelta(days=1)), quirks=["namesake"],
                  url="https://photos.google.com/photo/AF1Qip" + hashlib.sha256(key.encode()).hexdigest()[:38])
        name, dup = self._free_name(folder, title)
        self._add(f"{folder}/{name}", "media", key, data)
        q.paths.append(f"{folder}/{name}")
        sc = f"{folder}/{sidecar_name(title, style, dup)}"
        self._add(sc, "sidecar", key, self._sidecar(q, taken, taken + timedelta(days=1), _geo(), _geo(),
                                                   {"mobileUpload": {"deviceType": "ANDROID_PHONE"}}))
        q.sidecar, q.sidecars = sc, [sc]
        self.photos.append(q)

    def build(self) -> None:
        for i in range(self.n):
            quirk = PLANNED[i] if i < len(PLANNED) else "random"
            self.photo(i, quirk)
        for title, album in self.albums.items():
            created = datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(days=self.rnd.randrange(0, 1500))
            meta = {"title": title, "description": album.description, "access": "protected",
                    "date": {"timestamp": _ts(created), "formatted": self._formatted(created)}}
            path = f"{self.root}/{album.folder}/{self.loc['album_meta']}"
            album.metadata = path
            self._add(path, "album_metadata", None, json.dumps(meta, indent=2, ensure_ascii=False).encode())
        if self.albums:
            self.split_album.add(next(iter(self.albums)))
        self._add("Takeout/archive_browser.html", "other", None,
                  b"<!DOCTYPE html><html><body><h1>Takeout</h1></body></html>")

    def assign_parts(self) -> list[Member]:
        """Cut the files, in folder order, into parts of about equal size (as Takeout splits at its
        size limit), then move chosen sidecars, edits and album metadata to another part."""
        order = sorted(self.files, key=lambda f: (f[0] != "Takeout/archive_browser.html", f[0].rsplit("/", 1)[0]))
        total = sum(len(f[3]) for f in order) or 1
        members, acc = [], 0
        for path, kind, key, data in order:
            part = 1 + min(self.parts - 1, acc * self.parts // total)
            acc += len(data)
            members.append(Member(part, path, kind, key, data))
        if self.parts > 1:
            part_of_media = {}
            for m in members:
                if m.kind == "media":
                    part_of_media.setdefault(m.key, m.part)
            other = lambda p: p % self.parts + 1  # noqa: E731 - the next part, wrapping
            for m in members:
                if m.kind == "sidecar" and m.key in self.split_sidecar:
                    m.part = other(part_of_media[m.key])
                elif m.kind == "media" and m.key in self.split_edit:
                    m.part = other(part_of_media[m.key[:-1]])
                elif m.kind == "album_metadata":
                    title = next(a.title for a in self.albums.values() if a.metadata == m.path)
                    if title in self.split_album:
                        first = self.albums[title].photos[0]
                        m.part = other(part_of_media[first])
        return members


def _write(dest: Path, form: str, parts: int, members: list[Member]) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    by_part: dict[int, list[Member]] = {k: [] for k in range(1, parts + 1)}
    for m in members:
        by_part[m.part].append(m)
    for k in range(1, parts + 1):
        base = f"takeout-{EXPORT_STAMP}-{k:03d}"
        if form == "zip":
            names.append(base + ".zip")
            with zipfile.ZipFile(dest / names[-1], "w") as zf:
                for m in by_part[k]:
                    info = zipfile.ZipInfo(m.path, MEMBER_TIME)
                    # JSON is deflated, media stored (as it barely shrinks)
                    info.compress_type = zipfile.ZIP_STORED if m.kind == "media" else zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, m.data)
        elif form == "tgz":
            names.append(base + ".tgz")
            with open(dest / names[-1], "wb") as raw, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
                    tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tf:
                for m in by_part[k]:
                    ti = tarfile.TarInfo(m.path)
                    ti.size, ti.mtime, ti.mode = len(m.data), int(datetime(*MEMBER_TIME).timestamp()), 0o644
                    tf.addfile(ti, io.BytesIO(m.data))
        else:
            top = dest / base if form == "folders" else dest
            if form == "folders":
                names.append(base)
            for m in by_part[k]:
                target = top / m.path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(m.data)
    if form == "tree":
        names = ["Takeout"]
    return names


def generate(dest: Path | str, photos: int = 60, parts: int = 3, form: str = "zip", seed: int = 0,
             locale: str = "en", sidecar_style: str = "mixed", image_size: tuple[int, int] = (96, 72)) -> Manifest:
    """Write a Takeout export of `photos` photos (plus the namesakes, edits and motion videos
    their quirks bring) into `dest`, in `parts` parts of the given form. Returns the manifest.
    image_size: pixels of each picture (96x72: ~2 kB JPEGs; 800x600 for bench/'s ~100 kB)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
    if parts < 1 or photos < 1:
        raise ValueError("photos and parts must be at least 1")
    b = _Builder(photos, parts, seed, locale, sidecar_style, image_size)
    b.build()
    members = b.assign_parts()
    names = _write(Path(dest), form, parts, members)
    where: dict[str, int] = {m.path: m.part for m in members}
    for p in b.photos:
        p.paths = [[where[x], x] for x in p.paths]
        p.sidecars = [[where[x], x] for x in p.sidecars]
        p.sidecar = p.sidecars[0] if p.sidecars else None
    albums = [Album(title=a.title, folder=a.folder, description=a.description,
                    metadata=[where[a.metadata], a.metadata], photos=list(a.photos)) for a in b.albums.values()]
    return Manifest(seed=seed, form=form, locale=locale, root=b.root, parts=names, photos=b.photos, albums=albums,
                    members=[[m.part, m.path, m.kind, m.key] for m in members])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write a generated Google Takeout export of Google Photos.")
    ap.add_argument("dest", type=Path)
    ap.add_argument("--photos", type=int, default=60)
    ap.add_argument("--parts", type=int, default=3)
    ap.add_argument("--form", choices=FORMS, default="zip")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--locale", choices=sorted(LOCALES), default="en")
    ap.add_argument("--sidecar-style", choices=("supplemental", "legacy", "mixed"), default="mixed")
    ap.add_argument("--size", default="96x72", help="picture size WxH (800x600 gives ~100 kB files)")
    ap.add_argument("--manifest", type=Path, help="write the manifest (JSON) here, outside dest")
    args = ap.parse_args(argv)
    w, _, h = args.size.partition("x")
    m = generate(args.dest, args.photos, args.parts, args.form, args.seed, args.locale, args.sidecar_style,
                 (int(w), int(h)))
    if args.manifest:
        args.manifest.write_text(m.to_json(), encoding="utf-8")
    print(f"{len(m.photos)} items ({len(m.expected)} not trashed), {len(m.albums)} albums, "
          f"{len(m.members)} files in {len(m.parts)} {args.form} part(s) under {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
