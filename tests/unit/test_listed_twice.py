"""What a first import of a service may skip asking the index, and when it must ask all the same.

A listing that names an item twice (a service's pages that overlap, a connector's bug) records it
once: its second sight is the same item again, not a duplicate copy of it, even when the first
sight was committed in an earlier batch.  A first import asks the index nothing about each item
(none of the service's items is recorded yet) only when the listing names each item once; and it
reads no record for bytes no record holds, unless some record cannot be read."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from helpers import add_local_service, git, open_lib
from photosync.connectors import registry
from photosync.connectors.base import Listing
from photosync.connectors.local import LocalConnector
from photosync.library.layout import PREFERENCES_FILE, SERVICES_FILE
from photosync.sample import make_photo


class Overlapping(LocalConnector):
    """A folder listed as a service with overlapping pages lists it: the first items come again
    at the end."""

    type_name = "overlapping-test"

    def list(self, *, cursor=None, since=None, full_scan=False) -> Listing:
        listing = super().list(cursor=cursor, since=since, full_scan=full_scan)
        refs = list(listing.refs)
        listing.refs = [*refs, *refs[:2]]
        return listing


@pytest.fixture
def overlapping():
    registry.register(Overlapping.type_name, Overlapping)
    yield
    registry.unregister(Overlapping.type_name)


def _service(root: Path, kind: str, folder: Path, batch: int) -> None:
    lib, _ = open_lib(root)
    try:
        services = lib.raw_services()
        services["pics"] = {"type": kind, "enabled": True, "path": str(folder)}
        lib.stage_config(SERVICES_FILE, services)
        prefs = dict(lib.preferences)
        prefs["sync_preferences"] = {**prefs["sync_preferences"], "commit_batch_size": batch}
        lib.stage_config(PREFERENCES_FILE, prefs)
        lib.commit("service: add pics")
    finally:
        lib.close()


def _discover(root: Path):
    """discover over the library: (its result, the problems reported)."""
    from photosync.phases.discover import discover

    lib, c = open_lib(root)
    try:
        return discover(lib), c
    finally:
        lib.close()


@pytest.mark.parametrize("kind", ["local", Overlapping.type_name])
def test_an_item_listed_twice_in_a_first_import_is_recorded_once(library, tmp_path, overlapping, kind):
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(5):
        make_photo(pics / f"p{i}.jpg", seed=60 + i, taken=datetime(2021, 4, i + 1, 9, 0, 0))
    _service(library, kind, pics, batch=2)  # the second sights come batches after the first
    result, c = _discover(library)
    (summary,) = result.services
    lib, _ = open_lib(library)
    try:
        photos = [lib.get_photo(pid) for pid in lib.photo_ids()]
    finally:
        lib.close()
    assert not c.problems
    assert (summary.new, summary.duplicates) == (5, 0)
    assert sorted(len(p.instances["pics"]) for p in photos) == [1] * 5


def test_bytes_whose_record_is_broken_under_another_date_are_not_recorded_a_second_time(library, tmp_path):
    """A first import of a service skips reading a record for bytes no record holds; a record that
    cannot be read (its JSON broken by hand, and moved to another date's folder) holds them all the
    same: discover reports it and writes no second record of that photo."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    make_photo(first / "p.jpg", seed=71, taken=datetime(2021, 4, 1, 9, 0, 0))
    add_local_service(library, "first", first)
    _discover(library)
    (record,) = (library / "photos").rglob("*.json")
    moved = library / "photos/2020/01" / record.name
    moved.parent.mkdir(parents=True)
    git(library, "mv", str(record), str(moved))
    moved.write_text(moved.read_text()[:-20])
    git(library, "commit", "-qam", "a hand edit gone wrong")
    shutil.copy(first / "p.jpg", second / "p.jpg")
    add_local_service(library, "second", second)
    _result, c = _discover(library)
    assert [p.relative_to(library) for p in (library / "photos").rglob("*.json")] == [moved.relative_to(library)]
    assert any(record.name in p.where or record.name in p.reason for p in c.problems)
