"""A listing that names an item twice (a service's pages that overlap, a connector's bug) records
it once: its second sight is the same item again, not a duplicate copy of it, even when the first
sight was committed in an earlier batch.  A first import asks the index nothing about each item
(none of the service's items is recorded yet) only when the listing names each item once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from helpers import open_lib
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


@pytest.mark.parametrize("kind", ["local", Overlapping.type_name])
def test_an_item_listed_twice_in_a_first_import_is_recorded_once(library, tmp_path, overlapping, kind):
    from photosync.phases.discover import discover

    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(5):
        make_photo(pics / f"p{i}.jpg", seed=60 + i, taken=datetime(2021, 4, i + 1, 9, 0, 0))
    _service(library, kind, pics, batch=2)  # the second sights come batches after the first
    lib, c = open_lib(library)
    try:
        (summary,) = discover(lib).services
        photos = [lib.get_photo(pid) for pid in lib.photo_ids()]
    finally:
        lib.close()
    assert not c.problems
    assert (summary.new, summary.duplicates) == (5, 0)
    assert sorted(len(p.instances["pics"]) for p in photos) == [1] * 5
