"""The Takeout generator (tests/takeout.py): each form's shape, every quirk present, parts split
where they must be, and a manifest that agrees with the files."""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

import takeout


def read_parts(dest: Path, m: takeout.Manifest) -> dict[int, dict[str, bytes]]:
    """part -> {path inside the export: bytes}, read back from what generate() wrote."""
    out: dict[int, dict[str, bytes]] = {}
    for k, name in enumerate(m.parts, start=1):
        files: dict[str, bytes] = {}
        if m.form == "zip":
            with zipfile.ZipFile(dest / name) as zf:
                files = {i.filename: zf.read(i) for i in zf.infolist()}
        elif m.form == "tgz":
            with tarfile.open(dest / name, "r:gz") as tf:
                files = {t.name: tf.extractfile(t).read() for t in tf.getmembers() if t.isfile()}
        elif m.form == "folders":
            root = dest / name
            files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        out[k] = files
    if m.form == "tree":
        out = {0: {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}}
    return out


def everything(parts: dict[int, dict[str, bytes]]) -> dict[str, bytes]:
    merged: dict[str, bytes] = {}
    for files in parts.values():
        for path, data in files.items():
            assert path not in merged, f"{path} in two parts"
            merged[path] = data
    return merged


def by_quirk(m: takeout.Manifest, quirk: str) -> takeout.Photo:
    return next(p for p in m.photos if quirk in p.quirks)


@pytest.mark.parametrize("form", takeout.FORMS)
def test_each_form_holds_what_the_manifest_says(tmp_path, form):
    m = takeout.generate(tmp_path, photos=30, parts=3, form=form, seed=1)
    parts = read_parts(tmp_path, m)
    files = everything(parts)
    if form == "tree":
        assert m.parts == ["Takeout"] and sorted(p.name for p in tmp_path.iterdir()) == ["Takeout"]
    else:
        suffix = {"zip": ".zip", "tgz": ".tgz", "folders": ""}[form]
        assert m.parts == [f"takeout-20250102T030405Z-{k:03d}{suffix}" for k in (1, 2, 3)]
        for part, path, _kind, _key in m.members:                   # each file in the part the manifest names
            assert path in parts[part]
    assert sorted(files) == sorted(path for _p, path, _k, _key in m.members)
    for p in m.photos:
        assert p.paths, p.key
        for _part, path in p.paths:
            assert hashlib.sha256(files[path]).hexdigest() == p.sha256, path
        if p.sidecar:
            sc = json.loads(files[p.sidecar[1]])
            assert sc["title"] == p.title
            assert datetime.fromtimestamp(int(sc["photoTakenTime"]["timestamp"]), timezone.utc) \
                .strftime("%Y-%m-%dT%H:%M:%SZ") == p.taken
            assert bool(sc.get("trashed")) == p.trashed
            assert sc.get("description", "") == (p.caption or "")
            assert [x["name"] for x in sc.get("people", [])] == p.people
        else:
            assert p.kind in ("edit", "motion")                      # only companions lack a sidecar
    for a in m.albums:
        meta = json.loads(files[a.metadata[1]])
        assert meta["title"] == a.title and a.metadata[1].startswith(f"{m.root}/{a.folder}/")
        for key in a.photos:
            assert any(path.startswith(f"{m.root}/{a.folder}/") for _p, path in m.photo(key).paths)


def test_every_quirk_is_there(tmp_path):
    m = takeout.generate(tmp_path, photos=30, parts=3, form="zip", seed=2)
    names = [path.rsplit("/", 1)[1] for _p, path, _k, _key in m.members]
    sidecars = [n for (_p, path, kind, _key), n in zip(m.members, names) if kind == "sidecar"]
    # sidecar names: both styles, cut at 46 characters before .json, in every cut form
    for ending in (".supplemental-metadata.json", ".supplemental-metad.json", ".supple.json", ".s.json", "..json"):
        assert any(n.endswith(ending) for n in sidecars), ending
    assert any(n.endswith(".jpg.json") or n.endswith(".JPG.json") for n in sidecars)          # older style
    assert all(len(n) <= 51 + len("(1)") for n in sidecars)
    cut = by_quirk(m, "cut_title")
    assert cut.sidecar[1].rsplit("/", 1)[1] == cut.title[:46] + ".json"
    # IMG_1(1).JPG pairs with IMG_1.JPG(1).json (or .supplemental-metadata(1).json), titled IMG_1.JPG
    dup = by_quirk(m, "dup_index")
    stem, ext = dup.title.rsplit(".", 1)
    assert dup.filename == f"{stem}(1).{ext}"
    assert dup.sidecar[1].endswith(f"{dup.title}(1).json") or dup.sidecar[1].endswith(
        f"{dup.title}.supplemental-metadata(1).json")
    namesake = next(p for p in m.photos if p.quirks == ["namesake"] and p.title == dup.title)
    assert namesake.filename == dup.title
    # edits without sidecars, linked to their originals; one stacked with the duplicate index
    edits = [p for p in m.photos if p.kind == "edit"]
    assert edits and all(p.sidecar is None and p.edit_of for p in edits)
    assert any(p.filename.endswith("-edited(1).JPG") for p in edits)
    plain_edit = next(p for p in edits if p.quirks == ["edited"])
    original = m.photo(plain_edit.edit_of)
    assert plain_edit.filename == original.title.rsplit(".", 1)[0] + "-edited." + original.title.rsplit(".", 1)[1]
    assert plain_edit.sha256 != original.sha256 and plain_edit.taken == original.taken
    # motion companions without sidecars
    motions = {p.quirks[0]: p for p in m.photos if p.kind == "motion"}
    assert motions["motion_pixel"].filename.endswith(".MP") and motions["motion_iphone"].filename.endswith(".MP4")
    assert all(p.sidecar is None and m.photo(p.motion_of).kind == "photo" for p in motions.values())
    assert m.photo(motions["motion_pixel"].motion_of).filename.endswith(".MP.jpg")
    # a file without an extension, a video with a sidecar
    bare = by_quirk(m, "no_extension").filename                # like "03.03.13 - 1": no extension
    assert not re.search(r"\.[A-Za-z0-9]{2,4}$", bare)
    assert (tmp_path / m.parts[0]).is_file()
    assert by_quirk(m, "video").kind == "video" and by_quirk(m, "video").sidecar
    # trash, an album-only photo, a photo in two albums, album titles unlike their folders
    trashed = by_quirk(m, "trashed")
    assert trashed.trashed and trashed.paths[0][1].startswith(f"{m.root}/Trash/") and trashed not in m.expected
    only = by_quirk(m, "album_only")
    assert len(only.paths) == 1 and "/Photos from " not in only.paths[0][1] and only.albums == ["Shared with us"]
    two = by_quirk(m, "two_albums")
    assert len(two.albums) == 2 and len(two.paths) == 3
    paris = next(a for a in m.albums if a.title == "Paris: Eiffel & Louvre")
    assert paris.folder == "Paris_ Eiffel & Louvre"


def test_metadata_ground_truth(tmp_path):
    m = takeout.generate(tmp_path, photos=30, parts=2, form="tree", seed=3)

    def exif_of(p):
        with Image.open(tmp_path / p.paths[0][1]) as im:
            return im.getexif()

    # geoDataExif wins, else geoData; 0,0 is no place
    assert by_quirk(m, "geo_corrected").place == [48.8584, 2.2945, 35.0]
    assert by_quirk(m, "geo_exif_zero").place == [35.6586, 139.7454, 40.0]
    assert by_quirk(m, "geo_only_geodata").place == [37.7694, -122.5107, 12.0]
    assert by_quirk(m, "geo_both_zero").place is None
    sc = json.loads((tmp_path / by_quirk(m, "geo_both_zero").sidecar[1]).read_text())
    assert sc["geoData"]["latitude"] == 0.0 and sc["geoDataExif"]["longitude"] == 0.0
    # a wrong camera clock: EXIF says another day than photoTakenTime (the truth)
    wrong = by_quirk(m, "wrong_clock")
    exif_day = exif_of(wrong).get_ifd(0x8769)[0x9003][:10].replace(":", "-")
    assert exif_day != wrong.taken[:10] and wrong.exif_taken[:10] == exif_day
    # camera photos carry EXIF; screenshots and messenger pictures do not
    assert exif_of(by_quirk(m, "plain")).get_ifd(0x8769).get(0x9003)
    assert by_quirk(m, "screenshot").exif_taken is None and not exif_of(by_quirk(m, "messenger"))
    # flags
    fav = by_quirk(m, "archived_favorite")
    sc = json.loads((tmp_path / fav.sidecar[1]).read_text())
    assert sc["archived"] is True and sc["favorited"] is True and fav.archived and fav.favorited
    assert sc["url"].startswith("https://photos.google.com/photo/") and "googlePhotosOrigin" in sc
    assert isinstance(sc["creationTime"]["timestamp"], str) and sc["creationTime"]["timestamp"].isdigit()


def test_parts_split_what_belongs_together(tmp_path):
    m = takeout.generate(tmp_path, photos=30, parts=3, form="zip", seed=4)
    # a photo and its sidecar in different parts
    assert any(p.sidecar and p.sidecar[0] != p.paths[0][0] for p in m.photos)
    # an edit and its original
    assert any(p.kind == "edit" and p.paths[0][0] != m.photo(p.edit_of).paths[0][0] for p in m.photos)
    # an album's metadata and its photos
    assert any(all(a.metadata[0] != path_part for k in a.photos[:1] for path_part, path in m.photo(k).paths
                   if path.startswith(f"{m.root}/{a.folder}/")) for a in m.albums)
    assert {part for part, *_ in m.members} == {1, 2, 3}


@pytest.mark.parametrize("locale,root,meta,edited,trash", [
    ("de", "Google Fotos", "Metadaten.json", "-bearbeitet", "Papierkorb"),
    ("fr", "Google Photos", "métadonnées.json", "-modifié", "Corbeille"),
    ("it", "Google Foto", "metadati.json", "-modificato", "Cestino"),
])
def test_localized_names(tmp_path, locale, root, meta, edited, trash):
    m = takeout.generate(tmp_path, photos=26, parts=2, form="folders", seed=5, locale=locale)
    paths = [path for _p, path, _k, _key in m.members]
    assert m.root == f"Takeout/{root}" and all(p.startswith(m.root) or p == "Takeout/archive_browser.html"
                                               for p in paths)
    assert all(a.metadata[1].endswith("/" + meta) for a in m.albums)
    assert any(p.kind == "edit" and edited in p.filename for p in m.photos)
    assert any(f"/{trash}/" in path for path in paths)
    # the unpacked files are there, names in NFC as written
    assert all((tmp_path / m.parts[part - 1] / path).is_file() for part, path, _k, _key in m.members)


def test_deterministic_by_seed(tmp_path):
    a = takeout.generate(tmp_path / "a", photos=25, parts=2, form="tgz", seed=7)
    b = takeout.generate(tmp_path / "b", photos=25, parts=2, form="tgz", seed=7)
    c = takeout.generate(tmp_path / "c", photos=25, parts=2, form="tgz", seed=8)
    for name in a.parts:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a.to_json() == b.to_json()
    assert {p.sha256 for p in a.photos} != {p.sha256 for p in c.photos}


def test_command_line_writes_export_and_manifest(tmp_path, capsys):
    assert takeout.main([str(tmp_path / "out"), "--photos", "24", "--parts", "2", "--form", "zip",
                         "--manifest", str(tmp_path / "manifest.json")]) == 0
    data = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert data["form"] == "zip" and len(data["parts"]) == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == data["parts"]
    assert "items" in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "out" / data["parts"][0]) as zf:
        assert zf.testzip() is None
    with pytest.raises(ValueError):
        takeout.generate(tmp_path / "x", form="rar")


def test_few_hundred_photos(tmp_path):
    m = takeout.generate(tmp_path, photos=300, parts=4, form="zip", seed=9)
    assert len([p for p in m.photos if p.kind in ("photo", "video") and "namesake" not in p.quirks]) == 300
    assert len(m.parts) == 4 and len(m.albums) >= 5
    keys = [p.key for p in m.photos]
    assert len(keys) == len(set(keys))
    assert len({p.sha256 for p in m.photos}) == len(m.photos)     # every item its own bytes
    with zipfile.ZipFile(tmp_path / m.parts[0]) as zf:
        first = zf.infolist()[0]
        assert first.filename == "Takeout/archive_browser.html"
