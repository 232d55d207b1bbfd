"""Replicate reads each photo's record once: its plan comes from the index, and the record
read when the photo's first copy is prepared serves its other copies and the commit that
records them (issue 13: 20,063 reads for 10,000 photos before, two for each)."""

from __future__ import annotations

import json

from helpers import git_status

from photosync.library.library import Library
from photosync.phases import replicate
from photosync.sample import generate_corpus


def make_library(tmp_path, cli, n: int, batch: int, second_store: bool):
    pics = tmp_path / "pics"
    generate_corpus(pics, n, seed=5, size=(160, 120), noise=8)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    if second_store:
        (tmp_path / "nas").mkdir()
        cli("-L", str(lib), "store", "add", "nas", "--type", "local", "--path", str(tmp_path / "nas"), check=0)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["sync_preferences"]["commit_batch_size"] = batch
    prefs_path.write_text(json.dumps(prefs, indent=2))
    cli("-L", str(lib), "discover", check=0)
    cli("-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    return lib


def records(lib):
    return [json.loads(p.read_text()) for p in sorted((lib / "photos").rglob("*.json"))]


def test_each_record_is_read_once_by_a_replicate_over_two_stores(tmp_path, cli):
    # a batch of 4 copies: a photo's two copies (one a store) often land in different commits
    lib = make_library(tmp_path, cli, 30, batch=4, second_store=True)
    with Library.open(lib) as library:
        plan = replicate.make_plan(library)
        assert library.record_reads == 0  # planned from the index alone
        photos = library.index.count_photos()
        assert len(plan.actions) == 2 * photos and plan.photos == photos
        result = replicate.execute(library, plan, workers=2)
        assert result.copied == 2 * photos and result.failed == 0
        assert result.photos_replicated == photos
        assert library.record_reads == photos
    recs = records(lib)
    assert len(recs) == photos
    for rec in recs:
        assert set(rec["blobs"]) == {"local", "nas"}, rec["photo_id"]
        assert rec["processing_state"] == "replicated"
    assert git_status(lib) == ""
    # nothing left to do: the plan (from the index) is empty, and no record is read for it
    with Library.open(lib) as library:
        plan = replicate.make_plan(library)
        assert plan.actions == [] and plan.complete == [] and library.record_reads == 0


def test_the_plan_from_the_index_names_what_the_records_lack(tmp_path, cli):
    """The plan, made from the index, is what each record says it lacks (missing_copies),
    with the size content_size gives."""
    from photosync.stores.naming import content_size

    lib = make_library(tmp_path, cli, 12, batch=500, second_store=True)
    with Library.open(lib) as library:
        # some photos already have their copy in local: only nas is planned for them
        first = replicate.make_plan(library)
        some = {a.photo_id for a in first.actions[:10] if a.store == "local"}
        partial = replicate.Plan(stores=first.stores, actions=[a for a in first.actions
                                                                if a.photo_id in some and a.store == "local"])
        replicate.execute(library, partial, workers=1)
    with Library.open(lib) as library:
        plan = replicate.make_plan(library)
        expected = []
        for pid in library.index.photo_ids():
            photo = library.get_photo(pid)
            for h, store, repair in replicate.missing_copies(photo, plan.stores):
                expected.append((pid, photo.label, store, content_size(photo, h), repair,
                                 "" if h == photo.content_hash else h))
        got = [(a.photo_id, a.label, a.store, a.size, a.repair, a.content_hash) for a in plan.actions]
        assert sorted(got) == sorted(expected)
        assert {a[0] for a in got if a[2] == "local"}.isdisjoint(some)
        assert {a[0] for a in got if a[2] == "nas"} >= some
