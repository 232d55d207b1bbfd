"""A labelled variant corpus, and how well a library's records sort it (used by
tests/e2e/test_variants.py and bench/variants.py).

``generate`` draws N different photos (synthetic scenes: a graded sky, shapes,
texture, noise; EXIF date with sub-seconds, camera, caption) and spreads copies
of them over four folders the way a library collects them:

==============  ===================================================  ==========
kind            what                                                 expected
==============  ===================================================  ==========
original        the camera file                                      -
duplicate       the same bytes under another name                    merged
resized         half size, EXIF kept, JPEG 85                        merged
thumbnail       longest side 320, no EXIF (a service's download)     merged
reencoded       same size, JPEG 60                                   merged
recaptioned     same pixels, other caption and date                  merged (+ asked: caption, date)
cropped         the middle 80 %, EXIF kept                           linked
rotated         turned 90 degrees, EXIF kept                         linked
edited          brighter and less colourful, "-edited" name          linked
burst           another frame: same second, other sub-second,        separate
                things moved
lookalike       another photo of the same scene, another day         separate
==============  ===================================================  ==========

``generate_lookalikes`` draws a harder corpus (issue 10): different photos of
one composition that look alike at 16x16 (the same sky and shapes, moved a
hair, a few small details changed), whose dates are guesses from a file name or
a file time, as scans and messaging copies have them:

==============  ===================================================  ==========
kind            what                                                 expected
==============  ===================================================  ==========
original        the camera file, IMG_0280.JPG, EXIF date             -
whatsapp        the same photo, half size, no EXIF, the date in the  merged
                name is the capture day (IMG-20190705-WA0001.jpg)
download        the same photo, 320 pixels, no EXIF, file time the   merged
                capture day (a copy that kept its file time)
scan            another photo that looks alike, softened, no EXIF,   separate
                file time 4-18 years before or after (scans/scan 2.jpg)
whatsapp_other  another photo that looks alike, the date in its      separate
                name 4-18 years apart
camera_other    another photo that looks alike, EXIF years apart     separate
toned           another photo that looks alike, 4-6 levels lighter   separate
                (a faded print), file time the capture day
==============  ===================================================  ==========

``labels.json`` records, for each file, the photo it shows and its kind.
``evaluate`` reads the library's records and counts, over every pair of files,
what photosync did (one record = merged; records joined by edit_variant or
quality_variant questions or "linked" decisions, directly or through other
records of the family = linked) against what the labels expect, and the share
of conflicts settled without a person.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
from datetime import datetime, timedelta
from pathlib import Path

FOLDERS = ("camera", "phone-backup", "takeout", "downloads")
#: how often each kind of copy appears, per photo (a library's mix: exact and
#: resized copies are common, edits rarer)
MIX = {
    "duplicate": 0.5, "resized": 0.4, "thumbnail": 0.3, "reencoded": 0.3, "recaptioned": 0.1,
    "cropped": 0.08, "rotated": 0.05, "edited": 0.08, "burst": 0.1, "lookalike": 0.05,
}
MERGED = {"original", "duplicate", "resized", "thumbnail", "reencoded", "recaptioned", "whatsapp", "download"}
LINKED = {"cropped", "rotated", "edited"}
CAMERAS = [("Canon", "EOS 80D"), ("NIKON CORPORATION", "NIKON D750"), ("Apple", "iPhone 13"), ("SONY", "ILCE-7M3")]


def scene(rng: random.Random, size: tuple[int, int], shapes=None, sky=None):
    """A synthetic photo, the shapes and the sky that made it (to draw a burst frame)."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = size
    top, bottom = sky or (tuple(rng.randrange(256) for _ in range(3)), tuple(rng.randrange(256) for _ in range(3)))
    im = Image.new("RGB", size)
    draw = ImageDraw.Draw(im)
    for y in range(h):
        t = y / (h - 1)
        draw.line([(0, y), (w, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    if shapes is None:
        shapes = []
        for _ in range(rng.randint(6, 14)):
            x0, y0 = rng.uniform(-0.1, 0.9), rng.uniform(-0.1, 0.9)
            x1, y1 = x0 + rng.uniform(0.05, 0.5), y0 + rng.uniform(0.05, 0.5)
            shapes.append((rng.choice("erp"), x0, y0, x1, y1, tuple(rng.randrange(256) for _ in range(3))))
    for kind, x0, y0, x1, y1, colour in shapes:
        box = [x0 * w, y0 * h, x1 * w, y1 * h]
        if kind == "e":
            draw.ellipse(box, fill=colour)
        elif kind == "r":
            draw.rectangle(box, fill=colour)
        else:
            draw.polygon([(box[0], box[3]), ((box[0] + box[2]) / 2, box[1]), (box[2], box[3])], fill=colour)
    im = im.filter(ImageFilter.GaussianBlur(1.2))
    return Image.blend(im, _noise(size, repr((size, shapes, top, bottom))), 0.06), shapes, (top, bottom)


def _noise(size: tuple[int, int], what: str):
    """Grey Gaussian noise (mean 128, sigma 12, as Pillow's ``effect_noise``), the same for the
    same picture: ``effect_noise`` draws from C's ``rand()``, which no test seeds, so one seed
    gave two slightly different pictures (a dHash bit apart) in two calls."""
    import zlib

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(zlib.crc32(what.encode()))
    grey = rng.normal(128.0, 12.0, (size[1], size[0])).clip(0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def exif_bytes(taken: datetime | None, camera, caption: str | None) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    if camera:
        exif[0x010F], exif[0x0110] = camera
    if caption:
        exif[0x010E] = caption
    if taken is not None:
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
        sub[0x9291] = f"{taken.microsecond // 1000:03d}"
    return exif.tobytes()


def jpeg(im, quality: int, exif: bytes | None) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, **({"exif": exif} if exif else {}))
    return buf.getvalue()


#: when True, the camera folder's files are written as cameras write them (EXIF first, an
#: embedded thumbnail: their signature comes from it), and the copies and edits made of an
#: original keep its EXIF block, thumbnail and all (as tools that keep EXIF do): bench/variants.py --camera
CAMERA = False


def camera_file(im, quality: int, exif: bytes | None) -> bytes:
    from photosync.sample import camera_jpeg

    return camera_jpeg(im, quality, exif) if CAMERA else jpeg(im, quality, exif)


def kept_exif(original: bytes, exif: bytes) -> bytes:
    """The EXIF a copy of ``original`` made by a tool keeps: in CAMERA mode the camera's whole block."""
    if not CAMERA:
        return exif
    from photosync.media.formats import check_jpeg

    return b"Exif\x00\x00" + check_jpeg(original).exif


#: the copies services make of a photo (no edits): what a library spread over services mostly holds
SERVICE_COPIES = ("duplicate", "resized", "thumbnail", "reencoded")


def generate(root: Path, photos: int, seed: int, kinds=None) -> dict:
    """Write the corpus under ``root``; ``kinds`` limits the copies made (default: every kind in MIX)."""
    from PIL import Image, ImageEnhance

    rng = random.Random(seed)
    for f in FOLDERS:
        (root / f).mkdir(parents=True, exist_ok=True)
    labels: dict[str, dict] = {}
    serial = itertools.count(1000)

    def put(folder: str, name: str, data: bytes, photo: str, kind: str, base: str | None = None) -> None:
        rel = f"{folder}/{name}"
        (root / rel).write_bytes(data)
        labels[rel] = {"photo": photo, "kind": kind, **({"base": base} if base else {})}

    for p in range(photos):
        photo = f"p{p:05d}"
        size = rng.choice([(800, 600), (600, 800), (900, 600), (640, 640)])
        taken = datetime(2010, 1, 1) + timedelta(seconds=rng.randrange(400_000_000), microseconds=rng.randrange(1000) * 1000)
        camera = rng.choice(CAMERAS)
        caption = rng.choice([None, None, "Summer at the lake", "Birthday", "Grandma's garden"])
        im, shapes, sky = scene(rng, size)
        exif = exif_bytes(taken, camera, caption)
        n = next(serial)
        name = f"IMG_{n}.JPG"
        original = camera_file(im, 92, exif)
        put("camera", name, original, photo, "original")
        exif = kept_exif(original, exif)
        for kind, chance in MIX.items():
            if rng.random() >= chance or (kinds is not None and kind not in kinds):
                continue
            folder = rng.choice(FOLDERS[1:])
            if kind == "duplicate":
                put(folder, f"copy_of_{name}", original, photo, kind)
            elif kind == "resized":
                put(folder, f"IMG_{n}_small.jpg", jpeg(im.resize((size[0] // 2, size[1] // 2), Image.Resampling.LANCZOS), 85, exif), photo, kind)
            elif kind == "thumbnail":
                scale = 320 / max(size)
                small = im.resize((round(size[0] * scale), round(size[1] * scale)), Image.Resampling.LANCZOS)
                put(folder, f"{n}_download.jpg", jpeg(small, 75, None), photo, kind)
            elif kind == "reencoded":
                put(folder, f"IMG_{n}(1).jpg", jpeg(im, 60, exif), photo, kind)
            elif kind == "recaptioned":
                other = exif_bytes(taken + timedelta(hours=rng.choice([1, -3, 24])), camera, "Scanned album page")
                put(folder, f"IMG_{n}_album.jpg", jpeg(im, 92, other), photo, kind)
            elif kind == "cropped":
                w, h = size
                put(folder, f"IMG_{n}_crop.jpg", jpeg(im.crop((w // 10, h // 10, w - w // 10, h - h // 10)), 90, exif), photo, kind)
            elif kind == "rotated":
                put(folder, f"IMG_{n}_rot.jpg", jpeg(im.transpose(Image.Transpose.ROTATE_90), 90, exif), photo, kind)
            elif kind == "edited":
                edit = ImageEnhance.Color(ImageEnhance.Brightness(im).enhance(1.3)).enhance(0.4)
                put(folder, f"IMG_{n}-edited.jpg", jpeg(edit, 90, exif), photo, kind)
            elif kind == "burst":
                moved = [(k, x0 + d, y0, x1 + d, y1, c) for (k, x0, y0, x1, y1, c), d in
                         zip(shapes, (rng.uniform(-0.04, 0.04) for _ in shapes))]
                frame, _, _ = scene(random.Random(rng.random()), size, moved, sky)
                later = taken + timedelta(milliseconds=rng.choice([120, 250, 330]))
                later = later.replace(second=taken.second, minute=taken.minute, hour=taken.hour) if later.second != taken.second else later
                put("camera", f"IMG_{next(serial)}.JPG", camera_file(frame, 92, exif_bytes(later, camera, caption)),
                    photo + "-burst", "burst", base=photo)
            elif kind == "lookalike":
                kept = shapes[: max(1, len(shapes) * 2 // 3)] + [("e", 0.4, 0.4, 0.6, 0.6, (250, 250, 250))]
                frame, _, _ = scene(random.Random(rng.random()), size, kept, sky)
                put("camera", f"IMG_{next(serial)}.JPG",
                    camera_file(frame, 92, exif_bytes(taken + timedelta(days=rng.randint(1, 30)), camera, None)),
                    photo + "-lookalike", "lookalike", base=photo)
    (root / "labels.json").write_text(json.dumps(labels, indent=1, sort_keys=True))
    return labels


#: the look-alike corpus's mix (per photo)
LOOKALIKE_MIX = {"whatsapp": 0.3, "download": 0.2, "scan": 0.35, "whatsapp_other": 0.3, "camera_other": 0.15,
                 "toned": 0.2}


def lookalike(rng: random.Random, size, shapes, sky):
    """Another photo of the same composition: every shape moved a hair, two small
    things added, other grain.  At 16x16 most of them cannot be told from the
    first (measured: three in four pass the gradient and tone tests of a copy)."""
    move = 0.005
    new = [(k, x0 + rng.uniform(-move, move), y0 + rng.uniform(-move, move), x1 + rng.uniform(-move, move),
            y1 + rng.uniform(-move, move), c) for k, x0, y0, x1, y1, c in shapes]
    for _ in range(2):
        x0, y0 = rng.uniform(0, 0.9), rng.uniform(0, 0.9)
        side = rng.uniform(0.02, 0.05)
        new.append((rng.choice("erp"), x0, y0, x0 + side, y0 + side, tuple(rng.randrange(256) for _ in range(3))))
    im, _, _ = scene(random.Random(rng.random()), size, new, sky)
    return im


def _years_apart(rng: random.Random, when: datetime) -> datetime:
    """A date 4 to 18 years before or after ``when``, between 1995 and last year."""
    for _ in range(20):
        years = rng.randint(4, 18) * rng.choice((-1, 1))
        other = when + timedelta(days=365.25 * years + rng.uniform(-100, 100))
        if datetime(1995, 1, 1) <= other <= datetime.now() - timedelta(days=365):
            return other.replace(microsecond=0)
    return datetime(1996, 6, 1, 12, 0, 0)


def _set_mtime(path: Path, when: datetime) -> None:
    ts = when.timestamp()
    os.utime(path, (ts, ts))


def generate_lookalikes(root: Path, photos: int, seed: int) -> dict:
    """Write the look-alike corpus under ``root`` (see the module's second table)."""
    from PIL import Image, ImageEnhance, ImageFilter

    rng = random.Random(seed)
    for f in FOLDERS:
        (root / f).mkdir(parents=True, exist_ok=True)
    (root / "downloads" / "scans").mkdir(exist_ok=True)
    labels: dict[str, dict] = {}
    serial = itertools.count(1)
    scans = itertools.count(1)
    chats = itertools.count(1)

    def put(rel: str, data: bytes, photo: str, kind: str, base: str | None = None,
            mtime: datetime | None = None) -> None:
        (root / rel).write_bytes(data)
        if mtime is not None:
            _set_mtime(root / rel, mtime)
        labels[rel] = {"photo": photo, "kind": kind, **({"base": base} if base else {})}

    for p in range(photos):
        photo = f"p{p:05d}"
        size = rng.choice([(800, 600), (600, 800), (900, 600), (640, 640)])
        taken = datetime(2005, 1, 1) + timedelta(seconds=rng.randrange(560_000_000),
                                                 microseconds=rng.randrange(1000) * 1000)
        camera = rng.choice(CAMERAS)
        im, shapes, sky = scene(rng, size)
        n = next(serial)
        put(f"camera/IMG_{n:04d}.JPG", camera_file(im, 92, exif_bytes(taken, camera, None)), photo, "original")
        for kind, chance in LOOKALIKE_MIX.items():
            if rng.random() >= chance:
                continue
            if kind == "whatsapp":
                half = im.resize((size[0] // 2, size[1] // 2), Image.Resampling.LANCZOS)
                put(f"phone-backup/IMG-{taken:%Y%m%d}-WA{next(chats):04d}.jpg", jpeg(half, 70, None), photo, kind)
            elif kind == "download":
                scale = 320 / max(size)
                small = im.resize((round(size[0] * scale), round(size[1] * scale)), Image.Resampling.LANCZOS)
                put(f"downloads/{n:04d}_download.jpg", jpeg(small, 75, None), photo, kind,
                    mtime=taken + timedelta(hours=rng.uniform(0, 6)))
            elif kind == "scan":
                other = lookalike(rng, size, shapes, sky).filter(ImageFilter.GaussianBlur(0.8))
                other = ImageEnhance.Brightness(other).enhance(rng.uniform(0.98, 1.02))
                scanned = other.resize((size[0] * 7 // 8, size[1] * 7 // 8), Image.Resampling.LANCZOS)
                put(f"downloads/scans/scan {next(scans)}.jpg", jpeg(scanned, 85, None), f"{photo}-scan", kind,
                    base=photo, mtime=_years_apart(rng, taken))
            elif kind == "whatsapp_other":
                other = lookalike(rng, size, shapes, sky).resize((size[0] // 2, size[1] // 2), Image.Resampling.LANCZOS)
                when = _years_apart(rng, taken)
                put(f"phone-backup/IMG-{when:%Y%m%d}-WA{next(chats):04d}.jpg", jpeg(other, 70, None),
                    f"{photo}-chat", kind, base=photo)
            elif kind == "camera_other":
                other = lookalike(rng, size, shapes, sky)
                put(f"camera/IMG_{next(serial):04d}.JPG", camera_file(other, 92, exif_bytes(_years_apart(rng, taken), camera, None)),
                    f"{photo}-again", kind, base=photo)
            elif kind == "toned":
                lift = rng.randint(4, 6)
                other = lookalike(rng, size, shapes, sky).point(lambda v, lift=lift: min(255, v + lift))
                put(f"downloads/scans/scan {next(scans)}.jpg", jpeg(other, 88, None), f"{photo}-toned", kind,
                    base=photo, mtime=taken + timedelta(hours=rng.uniform(0, 12)))
    (root / "labels.json").write_text(json.dumps(labels, indent=1, sort_keys=True))
    return labels


# -- evaluation ----------------------------------------------------------------------------

def read_library(library: Path) -> tuple[dict[str, str], dict[str, dict]]:
    """(file -> record id, record id -> record) from a library's photo files."""
    where: dict[str, str] = {}
    records: dict[str, dict] = {}
    for path in (library / "photos").rglob("*.json"):
        rec = json.loads(path.read_text())
        records[rec["photo_id"]] = rec
        for service, insts in rec["instances"].items():
            for inst in insts:
                where[f"{service}/{inst['id']}"] = rec["photo_id"]
    return where, records


def evaluate(root: Path, library: Path, folder_service: dict[str, str] | None = None) -> dict:
    labels = json.loads((root / "labels.json").read_text())
    folder_service = folder_service or {f: f for f in FOLDERS}
    where_raw, records = read_library(library)
    where = {}
    for rel in labels:
        folder, name = rel.split("/", 1)
        where[rel] = where_raw.get(f"{folder_service[folder]}/{name}")
    links: set[frozenset] = set()
    for pid, rec in records.items():
        for c in rec["conflicts"]:  # an open question about two records relates them too
            if c["type"] in ("edit_variant", "quality_variant"):
                links.update(frozenset((pid, o)) for o in c.get("related_photos", []))
        for r in rec.get("resolutions", []):
            if r["conflict_id"].startswith("edit_variant:") and r.get("choice") == "linked":
                links.add(frozenset((pid, r["conflict_id"].split(":", 1)[1])))
    # records joined by links form families: an edit is linked to its family's best picture, and
    # two edits of one photo are related through it
    family = {pid: pid for pid in records}

    def root(x: str) -> str:
        while family.setdefault(x, x) != x:
            family[x] = family[family[x]]
            x = family[x]
        return x

    for pair in links:
        if len(pair) == 2:
            a, b = tuple(pair)
            family[root(a)] = root(b)
    counts = {k: 0 for k in ("merge_expected", "merge_found", "merge_correct", "wrong_merges",
                             "link_expected", "link_found", "link_correct", "false_links", "unrecorded",
                             "merge_asked")}
    wrong: list[str] = []
    missed: list[str] = []
    missed_links: list[str] = []
    files = sorted(labels)
    counts["unrecorded"] = sum(1 for f in files if where[f] is None)
    for a, b in itertools.combinations(files, 2):
        la, lb = labels[a], labels[b]
        ra, rb = where[a], where[b]
        if ra is None or rb is None:
            continue
        same_photo = la["photo"] == lb["photo"]
        expect_merge = same_photo and la["kind"] in MERGED and lb["kind"] in MERGED
        expect_link = same_photo and not expect_merge
        merged = ra == rb
        link = ra != rb and root(ra) == root(rb)
        counts["merge_expected"] += expect_merge
        counts["merge_found"] += merged
        counts["merge_correct"] += merged and expect_merge
        if expect_merge and not merged:
            missed.append(f"{a} ({la['kind']}) + {b} ({lb['kind']})")
        if merged and not same_photo:
            counts["wrong_merges"] += 1
            wrong.append(f"{a} + {b}")
        counts["link_expected"] += expect_link
        counts["link_found"] += link and not expect_merge
        counts["merge_asked"] += link and expect_merge  # one photo, left as a question: not wrong
        counts["link_correct"] += link and expect_link
        if expect_link and not link and not merged:
            missed_links.append(f"{a} ({la['kind']}) + {b} ({lb['kind']})")
        counts["false_links"] += link and not same_photo
    # conflicts: settled by a policy vs waiting for a person
    auto = asked = 0
    for rec in records.values():
        insts = [i for insts in rec["instances"].values() for i in insts]
        auto += max(0, sum(1 for i in insts if i["content_hash"] == rec["content_hash"]) - 1)  # exact duplicates
        auto += sum(1 for r in rec.get("resolutions", []) if r["how"] == "auto")
        for c in rec["conflicts"]:
            if not c["resolution_required"]:
                continue
            if c["type"] == "edit_variant":
                asked += 0.5  # the pair's conflict is on both records: one question
            else:
                asked += 1
    asked = round(asked)
    asked_by_type: dict[str, float] = {}
    for rec in records.values():
        for c in rec["conflicts"]:
            if c["resolution_required"]:
                asked_by_type[c["type"]] = asked_by_type.get(c["type"], 0) + (0.5 if c["type"] == "edit_variant" else 1)
    out = {
        "files": len(files),
        "photos": len({v["photo"] for v in labels.values()}),
        "records": len(records),
        **counts,
        "merge_precision": _ratio(counts["merge_correct"], counts["merge_found"]),
        "merge_recall": _ratio(counts["merge_correct"], counts["merge_expected"]),
        "link_precision": _ratio(counts["link_correct"], counts["link_found"]),
        "link_recall": _ratio(counts["link_correct"], counts["link_expected"]),
        "conflicts_auto": auto,
        "conflicts_asked": asked,
        "auto_share": _ratio(auto, auto + asked),
        "asked_by_type": asked_by_type,
        "wrong_merge_pairs": wrong[:20],
        "missed_merges": missed[:10],
        "missed_links": missed_links[:10],
    }
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


