"""Google Photos from Takeout (issue 14 §1) through the real command: generated exports
(tests/takeout.py) with every SERVICES.md quirk, as zip parts, tgz parts, parts unpacked into
folders and one unpacked tree, in English, German, French and Italian; each quirk checked in the
records a person would read (and `git log` shows)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import takeout
from conftest import run_cli
from helpers import git

PHOTOS = 40   # >= 24: every planned quirk appears at least once


def _env(base: Path) -> dict:
    """What conftest's isolated_env sets, for module-scoped imports (run once, checked by many tests)."""
    return {"PHOTOSYNC_CONFIG_DIR": str(base / "config"), "PHOTOSYNC_CACHE_DIR": str(base / "cache"),
            "GIT_AUTHOR_NAME": "Test Person", "GIT_AUTHOR_EMAIL": "test@example.org",
            "GIT_COMMITTER_NAME": "Test Person", "GIT_COMMITTER_EMAIL": "test@example.org"}


def _import(base: Path, form: str, locale: str, *extra: str, parts: int = 3):
    man = takeout.generate(base / "export", photos=PHOTOS, parts=parts, form=form, locale=locale)
    lib = base / "lib"
    env = _env(base)
    run_cli("init", str(lib), env=env, check=0)
    run_cli("-L", str(lib), "service", "add", "google", "--type", "google-takeout", "--path",
            str(base / "export"), *extra, env=env, check=0)
    r = run_cli("-L", str(lib), "discover", "--service", "google", env=env)
    return man, lib, r, env


def _records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]


def _by_hash(lib: Path, service: str = "google") -> dict[str, list[dict]]:
    """sha256 hex -> every record holding that content (as an instance of the service)."""
    out: dict[str, list[dict]] = {}
    for rec in _records(lib):
        for inst in rec["instances"].get(service, []):
            out.setdefault(inst["content_hash"].split(":", 1)[1], []).append(rec)
    return out


def _instance(rec: dict, service: str = "google") -> dict:
    return rec["instances"][service][0]


@pytest.fixture(scope="module")
def zip_en(tmp_path_factory):
    return _import(tmp_path_factory.mktemp("takeout-zip-en"), "zip", "en")


def _photos_with(man, quirk: str):
    found = [p for p in man.expected if quirk in p.quirks]
    assert found, f"the generated export has no photo with the quirk {quirk}"
    return found


# -- one import, checked in every form ---------------------------------------------------------------

@pytest.mark.parametrize("form,locale", [("zip", "en"), ("tgz", "de"), ("folders", "fr"), ("tree", "it")])
def test_every_form_imports_every_item_once_with_its_metadata(tmp_path, form, locale):
    man, lib, r, _ = _import(tmp_path, form, locale)
    assert r.code == 0, r.err
    by_hash = _by_hash(lib)
    for p in man.expected:
        recs = by_hash.get(p.sha256)
        assert recs and len(recs) == 1, f"{p.key} {p.quirks}: {len(recs or [])} records"
        md = _instance(recs[0])["metadata"]
        assert md.get("taken_date") == p.taken, (p.key, p.quirks)
        assert md.get("filename") == (p.filename if p.kind in ("edit", "motion") else p.title), p.key
        loc = md.get("location")
        assert ([loc["lat"], loc["lng"], loc.get("alt")] if loc else None) == p.place, (p.key, p.quirks)
        assert md.get("caption") == (p.caption or None), p.key
        assert md.get("people", []) == p.people, p.key
        assert sorted(md.get("albums", [])) == sorted(p.albums), (p.key, p.quirks)
        for link, of in (("edit_of", p.edit_of), ("motion_of", p.motion_of)):   # localized -edited names too
            want = _instance(by_hash[man.photo(of).sha256][0])["id"] if of else None
            assert md.get(link) == want, (p.key, p.quirks, link)
    assert set(by_hash) == {p.sha256 for p in man.expected}, "no trashed item, nothing else"
    assert "left out 1 trashed item" in r.out + r.err
    assert git(lib, "status", "--porcelain") == ""


# -- each quirk ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("quirk", ["cut_metad", "cut_supple", "cut_s", "cut_dotdot", "cut_title"])
def test_a_cut_sidecar_name_still_finds_its_photo(zip_en, quirk):
    man, lib, _, _ = zip_en
    for p in _photos_with(man, quirk):
        md = _instance(_by_hash(lib)[p.sha256][0])["metadata"]
        assert md["taken_date"] == p.taken and md["taken_date_source"] == "service" and md["filename"] == p.title


def test_the_duplicate_index_pairs_img_1_1_jpg_with_img_1_jpg_1_json(zip_en):
    man, lib, _, _ = zip_en
    by_hash = _by_hash(lib)
    dups = [p for p in man.expected if "dup_index" in p.quirks]
    namesakes = [p for p in man.expected if "namesake" in p.quirks]
    assert dups and namesakes
    for p in dups + namesakes:   # two photos of one title, each with its own date
        assert _instance(by_hash[p.sha256][0])["metadata"]["taken_date"] == p.taken, p.key


def test_photo_taken_time_wins_over_a_wrong_camera_clock(zip_en):
    man, lib, _, _ = zip_en
    for p in _photos_with(man, "wrong_clock"):
        rec = _by_hash(lib)[p.sha256][0]
        assert _instance(rec)["metadata"]["taken_date"] == p.taken != p.exif_taken
        assert rec["metadata"]["taken_date"] == p.taken, "the photo's date is Google's"


@pytest.mark.parametrize("quirk", ["geo_only_geodata", "geo_corrected", "geo_exif_zero", "geo_both_zero"])
def test_location_is_geodataexif_else_geodata_and_0_0_is_none(zip_en, quirk):
    man, lib, _, _ = zip_en
    for p in _photos_with(man, quirk):
        loc = _instance(_by_hash(lib)[p.sha256][0])["metadata"].get("location")
        assert ([loc["lat"], loc["lng"], loc.get("alt")] if loc else None) == p.place


def test_a_file_without_extension_is_read_by_its_content(zip_en):
    man, lib, _, _ = zip_en
    for p in _photos_with(man, "no_extension"):
        assert "." not in p.title.rsplit(" ", 1)[-1]
        md = _instance(_by_hash(lib)[p.sha256][0])["metadata"]
        assert md["format"] == "jpeg" and md["taken_date"] == p.taken


def test_edited_copies_are_linked_to_their_original_by_name(zip_en):
    man, lib, _, _ = zip_en
    by_hash = _by_hash(lib)
    edits = [p for p in man.expected if p.kind == "edit"]
    assert any("edited_stacked_dup" in p.quirks for p in edits)
    for e in edits:
        inst = _instance(by_hash[e.sha256][0])
        original = man.photo(e.edit_of)
        orig_inst = _instance(by_hash[original.sha256][0])
        assert inst["metadata"]["edit_of"] == orig_inst["id"], e.key
        assert inst["metadata"]["taken_date"] == original.taken


def test_motion_photo_videos_are_linked_to_their_still(zip_en):
    man, lib, _, _ = zip_en
    by_hash = _by_hash(lib)
    motions = [p for p in man.expected if p.kind == "motion"]
    assert {q for p in motions for q in p.quirks} >= {"motion_pixel", "motion_iphone"}
    for m in motions:
        inst = _instance(by_hash[m.sha256][0])
        still = _instance(by_hash[man.photo(m.motion_of).sha256][0])
        assert inst["metadata"]["motion_of"] == still["id"], m.key


def test_album_copies_are_one_photo_with_its_albums_titled_from_metadata(zip_en):
    man, lib, _, _ = zip_en
    by_hash = _by_hash(lib)
    two = _photos_with(man, "two_albums")[0]
    recs = by_hash[two.sha256]
    assert len(recs) == 1 and len(recs[0]["instances"]["google"]) == 1, "year and album folders: one item"
    assert sorted(_instance(recs[0])["metadata"]["albums"]) == sorted(two.albums)
    assert "Paris: Eiffel & Louvre" in two.albums, "a title the folder name could not keep"
    only = _photos_with(man, "album_only")[0]
    assert _instance(by_hash[only.sha256][0])["metadata"]["albums"] == ["Shared with us"]


def test_people_favourite_archived_and_caption_are_recorded(zip_en):
    man, lib, _, _ = zip_en
    by_hash = _by_hash(lib)
    p = _photos_with(man, "archived_favorite")[0]
    md = _instance(by_hash[p.sha256][0])["metadata"]
    assert md["favorite"] is True and md["archived"] is True
    with_people = [q for q in man.expected if q.people and q.kind == "photo"]
    with_caption = [q for q in man.expected if q.caption and q.kind == "photo"]
    assert with_people and with_caption
    for q in with_people:
        assert _instance(by_hash[q.sha256][0])["metadata"]["people"] == q.people
    for q in with_caption:
        assert _instance(by_hash[q.sha256][0])["metadata"]["caption"] == q.caption
    assert "people" in git(lib, "log", "-p", "-1", "--", "photos") or "people" in git(lib, "log", "-p", "--", "photos")


def test_takeout_copies_are_recorded_as_googles_stored_copy_not_original(zip_en):
    man, lib, _, _ = zip_en
    for recs in _by_hash(lib).values():
        assert _instance(recs[0])["quality"] == "high"


def test_trashed_items_are_left_out_and_counted_unless_asked(zip_en, tmp_path):
    man, lib, r, _ = zip_en
    trashed = man.trashed
    assert trashed and not any(p.sha256 in _by_hash(lib) for p in trashed)
    assert "left out 1 trashed item" in r.out + r.err
    man2, lib2, r2, _ = _import(tmp_path, "zip", "de", "--include-trashed")
    assert r2.code == 0, r2.err
    by_hash = _by_hash(lib2)
    for p in man2.trashed:
        assert _instance(by_hash[p.sha256][0])["metadata"]["trashed"] is True


# -- again, later, partial ---------------------------------------------------------------------------

def _read(out: str) -> int:
    """How many items discover read (hashed), from its summary line "google: N items, M read"."""
    import re

    m = re.search(r"google: [\d,]+ items?, ([\d,]+) read", out)
    assert m, out
    return int(m.group(1).replace(",", ""))


def test_the_same_export_again_changes_nothing_and_reads_only_a_changed_part(tmp_path):
    man, lib, r, env = _import(tmp_path, "zip", "en")
    assert _read(r.out) == len(man.expected)
    head = git(lib, "rev-parse", "HEAD")
    r2 = run_cli("-L", str(lib), "discover", "--service", "google", env=env, check=0)
    assert git(lib, "rev-parse", "HEAD") == head, r2.out
    assert _read(r2.out) == 0, "no member of an unchanged archive is read again"
    # one part downloaded again (new mtime): only its members are read, and nothing changes
    (tmp_path / "export" / man.parts[1]).touch()
    r3 = run_cli("-L", str(lib), "discover", "--service", "google", env=env, check=0)
    assert _read(r3.out) == len([p for p in man.expected if p.paths[0][0] == 2])
    assert git(lib, "rev-parse", "HEAD") == head


def test_a_later_takeout_beside_or_instead_is_recognised_by_content_and_nothing_goes_missing(tmp_path):
    man, lib, r, env = _import(tmp_path, "zip", "en")
    export = tmp_path / "export"
    photos_before = len(_records(lib))
    # a newer export of the same account beside the first (other stamp, same content)
    newer = [name.replace(takeout.EXPORT_STAMP, "20260301T101010Z") for name in man.parts]
    for name, new in zip(man.parts, newer):
        shutil.copy(export / name, export / new)
    r2 = run_cli("-L", str(lib), "discover", "--service", "google", env=env, check=0)
    assert len(_records(lib)) == photos_before, "no duplicate photo"
    assert _read(r2.out) == len(man.expected), "the new parts are read, the unchanged old ones are not"
    # the first export removed and the newer one lacks a part: partial, yet nothing is marked missing
    for name in man.parts:
        (export / name).unlink()
    (export / newer[-1]).unlink()
    run_cli("-L", str(lib), "discover", "--service", "google", "--full-scan", env=env, check=0)
    assert len(_records(lib)) == photos_before
    missing = [i for rec in _records(lib) for i in rec["instances"]["google"] if i.get("missing_since")]
    assert missing == []


def test_a_camera_original_from_another_service_is_the_canonical_source(tmp_path):
    man, lib, r, env = _import(tmp_path, "zip", "en")
    p = _photos_with(man, "plain")[0]
    camera = tmp_path / "camera"
    camera.mkdir()
    member = p.paths[0]
    import zipfile
    with zipfile.ZipFile(tmp_path / "export" / man.parts[member[0] - 1]) as zf:
        (camera / p.title).write_bytes(zf.read(member[1]))
    run_cli("-L", str(lib), "service", "add", "phone", "--type", "local", "--path", str(camera), env=env, check=0)
    run_cli("-L", str(lib), "discover", env=env, check=0)
    run_cli("-L", str(lib), "resolve", "--auto-resolve", "simple", env=env)
    rec = _by_hash(lib)[p.sha256][0]
    assert rec["canonical_source"].startswith("phone:"), rec["canonical_source"]


def test_help_lists_its_options_and_a_missing_folder_is_refused(tmp_path, cli):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    r = cli("-L", str(lib), "service", "add", "--type", "google-takeout", "--help", check=0)
    assert "--path" in r.out and "--include-trashed" in r.out
    r = cli("-L", str(lib), "service", "add", "g", "--type", "google-takeout", "--path", str(tmp_path / "nope"))
    assert r.code == 2 and "--path" in r.err and "no such folder" in r.err, r.err


def test_a_damaged_member_is_named_and_the_rest_imported_and_other_products_left_out(tmp_path):
    import zipfile

    from photosync.sample import make_photo

    export = tmp_path / "export"
    man = takeout.generate(export, photos=PHOTOS, parts=2, form="zip", locale="en")
    make_photo(tmp_path / "a.jpg", seed=7)
    make_photo(tmp_path / "b.jpg", seed=8)
    good, bad = (tmp_path / "a.jpg").read_bytes(), (tmp_path / "b.jpg").read_bytes()
    extra = export / f"takeout-{takeout.EXPORT_STAMP}-003.zip"
    with zipfile.ZipFile(extra, "w") as zf:   # stored: the member's bytes sit in the file as they are
        zf.writestr("Takeout/Drive/Scans/receipt.jpg", good)
        zf.writestr("Takeout/Google Photos/Photos from 2021/damaged.jpg", bad)
        zf.writestr("Takeout/Google Photos/Photos from 2021/damaged.jpg.json", json.dumps(
            {"title": "damaged.jpg", "photoTakenTime": {"timestamp": "1620000000"}}))
    raw = bytearray(extra.read_bytes())
    at = raw.index(bad) + len(bad) // 2
    raw[at] ^= 0xFF   # a download cut or flipped: the member no longer matches its CRC
    extra.write_bytes(bytes(raw))
    lib = tmp_path / "lib"
    env = _env(tmp_path)
    run_cli("init", str(lib), env=env, check=0)
    run_cli("-L", str(lib), "service", "add", "google", "--type", "google-takeout", "--path", str(export),
            env=env, check=0)
    r = run_cli("-L", str(lib), "discover", "--service", "google", env=env)
    assert r.code == 1, r.out + r.err
    assert "damaged.jpg" in r.err and "takeout-20250102T030405Z-003.zip" in r.err, r.err
    by_hash = _by_hash(lib)
    assert {p.sha256 for p in man.expected} <= set(by_hash), "every other photo is imported"
    import hashlib
    assert hashlib.sha256(good).hexdigest() not in by_hash, "a Drive file is not a Google Photos item"
    assert "left out 1 file outside Google Photos" in r.err, r.err


@pytest.mark.parametrize("form", ["zip", "tgz"])
def test_replicate_copies_every_original_out_of_the_archives(tmp_path, form):
    man, lib, r, env = _import(tmp_path, form, "en")
    r2 = run_cli("-L", str(lib), "replicate", "--execute", env=env)
    assert r2.code == 0, r2.out + r2.err
    assert "left out" not in r2.err, "a run that only opens items says nothing about the listing"
    recs = _records(lib)
    assert recs and all(rec.get("blobs") for rec in recs), [rec["metadata"]["filename"] for rec in recs
                                                            if not rec.get("blobs")]


def test_resolve_links_each_edited_copy_to_its_original_as_an_edit_variant(tmp_path):
    man, lib, r, env = _import(tmp_path, "zip", "de")
    run_cli("-L", str(lib), "resolve", "--auto-resolve", "all", env=env)
    by_hash = _by_hash(lib)
    edits = [p for p in man.expected if p.kind == "edit"]
    assert edits
    for e in edits:
        rec, orig = by_hash[e.sha256][0], by_hash[man.photo(e.edit_of).sha256][0]
        assert rec["photo_id"] != orig["photo_id"], "an edit is never merged into its original"
        links = {(c["type"], tuple(c.get("related_photos", ()))) for c in rec.get("conflicts", [])}
        assert ("edit_variant", (orig["photo_id"],)) in links, (e.key, rec.get("conflicts"))
        back = {(c["type"], tuple(c.get("related_photos", ()))) for c in orig.get("conflicts", [])}
        assert ("edit_variant", (rec["photo_id"],)) in back, e.key
