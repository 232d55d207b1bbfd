"""Apple Photos through an osxphotos export (issue 16 §5) through the real command: a generated
export (tests/osxphotos_export.py: JSON and XMP sidecars, edits, live photos, albums in folders,
the export database, a photo without sidecar and one with a malformed sidecar) checked in the
records a person would read."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import osxphotos_export
from conftest import run_cli
from helpers import commit_count


def _records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]


def _by_hash(lib: Path, service: str = "mac") -> dict[str, list[tuple[dict, dict]]]:
    """sha256 hex -> (record, instance) of every copy of that content on the service."""
    out: dict[str, list[tuple[dict, dict]]] = {}
    for rec in _records(lib):
        for inst in rec["instances"].get(service, []):
            out.setdefault(inst["content_hash"].split(":", 1)[1], []).append((rec, inst))
    return out


def _import(tmp: Path, photos: int = 8, layout: str = "flat", malformed: bool = False):
    man = osxphotos_export.generate(tmp / "export", photos=photos, layout=layout, malformed=malformed)
    lib = tmp / "lib"
    run_cli("init", str(lib), check=0)
    run_cli("-L", str(lib), "service", "add", "mac", "--type", "apple-photos-export", "--path",
            str(tmp / "export"), check=0)
    r = run_cli("-L", str(lib), "discover", "--service", "mac")
    return man, lib, r


def test_every_exported_file_is_imported_once_with_what_photos_says_of_it(tmp_path):
    man, lib, r = _import(tmp_path, malformed=True)
    assert r.code == 1 and "finished with 1 warning" in r.err, r.err   # the malformed sidecar's, below
    by_hash = _by_hash(lib)
    for it in man.items:
        got = by_hash.get(it.sha256)
        assert got and len(got) == 1, (it.path, len(got or []))
        rec, inst = got[0]
        md = inst["metadata"]
        assert inst["id"].startswith(it.uuid + "/"), "the item id is the Photos UUID"
        assert md["filename"] == it.path.rsplit("/", 1)[-1]
        assert md["taken_date"] == it.taken, it.path
        if it.kind == "live":
            continue
        assert set(md.get("tags", [])) == set(it.keywords), it.path
        assert md.get("people", []) == it.persons, it.path
        assert it.description in md.get("caption", ""), it.path
        if it.title:
            assert it.title in md["caption"], it.path
        assert md.get("favorite", False) == it.favorite, it.path
        assert md.get("archived", False) == it.hidden, it.path   # Photos' Hidden album
        if it.location:
            assert md["location"]["lat"] == pytest.approx(it.location[0], abs=1e-6), it.path
        assert md.get("albums", []) == it.albums, it.path       # an edit's albums are its original's
    # an album inside folders keeps its path, as Photos shows it
    assert any("Trips/2021/Alps" in rec["metadata"].get("albums", []) or
               "Trips/2021/Alps" in inst["metadata"].get("albums", [])
               for recs in by_hash.values() for rec, inst in recs)
    # the malformed sidecar is named, and its photo is imported all the same
    bad = next(i for i in man.items if "malformed sidecar" in i.quirks)
    assert f"{bad.path}.json" in r.err and "not valid JSON" in r.err
    assert "and what osxphotos' export database says" in r.err
    (_, inst), = by_hash[bad.sha256]
    assert inst["metadata"]["albums"] == bad.albums, "the export database still says what Photos knows of it"


def test_discover_twice_changes_nothing(tmp_path):
    man, lib, r = _import(tmp_path)
    assert r.code == 0, r.err
    before = commit_count(lib)
    r2 = run_cli("-L", str(lib), "discover", "--service", "mac")
    assert r2.code == 0, r2.err
    assert commit_count(lib) == before, r2.out
    assert len(_records(lib)) == len(man.items)


def test_a_reexport_in_another_layout_adds_nothing(tmp_path):
    man, lib, r = _import(tmp_path)
    assert r.code == 0, r.err
    records, commits = len(_records(lib)), commit_count(lib)
    # the same library exported again into the same folder by date (osxphotos --directory
    # "{created.year}/{created.month}"): the export database now names both copies of each file
    osxphotos_export.generate(tmp_path / "export", photos=8, layout="bydate", malformed=False)
    again = osxphotos_export.generate(tmp_path / "scratch", photos=8, layout="flat", malformed=False)   # the first layout's rows
    osxphotos_export.write_export_db(tmp_path / "export", [(i.path, i.uuid) for i in again.items], {})
    assert len(list((tmp_path / "export").rglob("*.jpeg"))) == 2 * len(man.of_kind("original")) + \
        2 * len(man.of_kind("edited"))
    r2 = run_cli("-L", str(lib), "discover", "--service", "mac")
    assert r2.code == 0, r2.err
    assert len(_records(lib)) == records and commit_count(lib) == commits, r2.out
    # and into another folder, added as a second service: matched by content, no new record
    osxphotos_export.generate(tmp_path / "export2", photos=8, layout="bydate", malformed=False)
    run_cli("-L", str(lib), "service", "add", "mac2", "--type", "apple-photos-export", "--path",
            str(tmp_path / "export2"), check=0)
    r3 = run_cli("-L", str(lib), "discover", "--service", "mac2")
    assert r3.code == 0, r3.err
    assert len(_records(lib)) == records


def test_edits_and_live_videos_are_linked_to_their_originals(tmp_path):
    man, lib, r = _import(tmp_path)
    assert r.code == 0, r.err
    run_cli("-L", str(lib), "resolve", "--auto-resolve", "all")
    by_hash = _by_hash(lib)
    edits, lives = man.of_kind("edited"), man.of_kind("live")
    assert edits and lives
    for e in edits:
        (rec, inst), = by_hash[e.sha256]
        (orig, orig_inst), = by_hash[man.by_path(e.of).sha256]
        assert inst["metadata"]["edit_of"] == orig_inst["id"], e.path
        assert rec["photo_id"] != orig["photo_id"], "an edit is never merged into its original"
        links = {(c["type"], tuple(c.get("related_photos", ()))) for c in rec.get("conflicts", [])}
        assert ("edit_variant", (orig["photo_id"],)) in links, (e.path, rec.get("conflicts"))
        back = {(c["type"], tuple(c.get("related_photos", ()))) for c in orig.get("conflicts", [])}
        assert ("edit_variant", (rec["photo_id"],)) in back, e.path
    for v in lives:
        (rec, inst), = by_hash[v.sha256]
        (still, still_inst), = by_hash[man.by_path(v.of).sha256]
        assert inst["metadata"]["motion_of"] == still_inst["id"], v.path
        assert rec["photo_id"] != still["photo_id"]


def test_service_add_names_the_export_route_where_the_library_cannot_be_read(tmp_path):
    lib = tmp_path / "lib"
    run_cli("init", str(lib), check=0)
    h = run_cli("-L", str(lib), "service", "add", "mac", "--type", "apple-photos-export", "--help", check=0)
    assert "--path" in h.out and "--photos-library" in h.out
    r = run_cli("-L", str(lib), "service", "add", "mac", "--type", "apple-photos-export", "--photos-library",
                str(tmp_path / "Photos Library.photoslibrary"))
    assert r.code != 0
    if sys.platform != "darwin":
        assert "only on macOS" in r.err + r.out
    assert "osxphotos export" in r.err + r.out and "--path" in r.err + r.out
    r = run_cli("-L", str(lib), "service", "add", "mac", "--type", "apple-photos-export", "--path",
                str(tmp_path / "nowhere"))
    assert r.code != 0 and "--path" in r.err + r.out
