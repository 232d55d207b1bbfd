"""The sidecar hook of folder connectors (connectors/sidecars.py), with a trivial sidecar format:
``NAME.json`` next to a photo, holding {"caption", "tags", "taken"}."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import time
from datetime import datetime, timedelta

import pytest

from photosync.connectors.base import ConnectorContext
from photosync.connectors.local import LocalConnector
from photosync.connectors.sidecars import SidecarReader
from photosync.context import Context
from photosync.events import Collector, Tally
from photosync.sample import make_photo


class CaptionJson:
    """``IMG_1.jpg.json``: {"caption": ..., "tags": [...], "taken": "YYYY-MM-DDTHH:MM:SS"}."""

    label = "caption JSON"

    def sidecars(self, name, names):
        return (name + ".json",) if name + ".json" in names else ()

    def apply(self, metadata, sidecars):
        (data,) = sidecars.values()
        d = json.loads(data)  # a broken one raises: the photo keeps its file's metadata
        out = dataclasses.replace(metadata, caption=d.get("caption", metadata.caption),
                                  tags=tuple(d.get("tags", metadata.tags)))
        if d.get("taken") and metadata.taken_date_source in (None, "filename", "file_mtime"):
            out = dataclasses.replace(out, taken_date=d["taken"], taken_date_source="service")
        return out


class CaptionFolder(LocalConnector):
    type_name = "caption-folder"
    sidecar_reader = CaptionJson()


def connector(tmp_path, folder, cls=CaptionFolder):
    collector = Collector()
    env = ConnectorContext(library_root=tmp_path, ctx=Context(tmp_path / "cfg"), report=Tally(collector))
    return cls("sc", {"type": cls.type_name, "path": str(folder)}, env)


def refs(conn):
    return {r.id: r for r in conn.list(cursor=None, since=None, full_scan=False).refs}


@pytest.fixture
def folder(tmp_path):
    f = tmp_path / "export"
    make_photo(f / "trip" / "IMG_1.jpg", seed=1, taken=datetime(2019, 5, 1, 10, 0, 0))
    make_photo(f / "trip" / "IMG_2.jpg", seed=2, taken=None)  # no EXIF date: the sidecar's counts
    make_photo(f / "trip" / "IMG_3.jpg", seed=3, taken=datetime(2019, 5, 3))  # no sidecar at all
    (f / "trip" / "IMG_1.jpg.json").write_text(json.dumps({"caption": "At the lake", "tags": ["lake", "Anna"]}))
    (f / "trip" / "IMG_2.jpg.json").write_text(json.dumps({"caption": "Dinner", "taken": "2019-05-02T20:00:00"}))
    (f / "trip" / "orphan.json").write_text("{}")  # nobody's sidecar: ignored, as any other file
    return f


def test_the_reader_protocol_is_checkable():
    assert isinstance(CaptionJson(), SidecarReader)


def test_sidecars_are_read_with_their_photo_and_are_not_items(tmp_path, folder):
    conn = connector(tmp_path, folder)
    listed = refs(conn)
    assert sorted(listed) == ["trip/IMG_1.jpg", "trip/IMG_2.jpg", "trip/IMG_3.jpg"]
    assert conn.ignored == 1  # orphan.json only: the two sidecars are read, not ignored
    one = conn.describe(listed["trip/IMG_1.jpg"])
    assert one.metadata.caption == "At the lake" and one.metadata.tags == ("lake", "Anna")
    assert one.metadata.taken_date.startswith("2019-05-01T10:00:00") and one.metadata.taken_date_source == "exif"
    assert one.metadata.filename == "IMG_1.jpg" and one.metadata.format == "jpeg" and one.warnings == ()
    two = conn.describe(listed["trip/IMG_2.jpg"])
    assert (two.metadata.caption, two.metadata.taken_date, two.metadata.taken_date_source) == (
        "Dinner", "2019-05-02T20:00:00", "service")
    three = conn.describe(listed["trip/IMG_3.jpg"])
    assert three.metadata.caption is None and three.metadata.taken_date_source == "exif"


def test_without_a_reader_the_folder_connector_is_unchanged(tmp_path, folder):
    plain = connector(tmp_path, folder, LocalConnector)
    listed = refs(plain)
    assert plain.ignored == 3  # every .json is something else in the folder
    assert all(r.fingerprint.count(":") == 2 and r.extra is None for r in listed.values())
    assert plain.describe(listed["trip/IMG_1.jpg"]).metadata.caption is None


def test_an_edited_added_or_removed_sidecar_changes_its_photos_fingerprint(tmp_path, folder):
    conn = connector(tmp_path, folder)
    before = {i: r.fingerprint for i, r in refs(conn).items()}
    side = folder / "trip" / "IMG_1.jpg.json"
    st = side.stat()
    side.write_text(json.dumps({"caption": "At the lake, at dusk"}))
    os.utime(side, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    (folder / "trip" / "IMG_3.jpg.json").write_text(json.dumps({"caption": "Later"}))
    (folder / "trip" / "IMG_2.jpg.json").unlink()
    after = refs(conn)
    assert {i for i in before if before[i] != after[i].fingerprint} == {
        "trip/IMG_1.jpg", "trip/IMG_2.jpg", "trip/IMG_3.jpg"}
    assert conn.describe(after["trip/IMG_1.jpg"]).metadata.caption == "At the lake, at dusk"
    assert conn.describe(after["trip/IMG_2.jpg"]).metadata.caption is None
    # a photo whose sidecar alone changed is listed by --since
    old = time.time() - 30 * 86400
    for p in (folder / "trip").iterdir():
        os.utime(p, (old, old))
    (folder / "trip" / "IMG_1.jpg.json").touch()
    recent = conn.list(cursor=None, since=datetime.now().astimezone() - timedelta(days=1), full_scan=False)
    assert [r.id for r in recent.refs] == ["trip/IMG_1.jpg"]


def test_a_broken_sidecar_costs_the_photo_only_a_warning_naming_it(tmp_path, folder):
    (folder / "trip" / "IMG_1.jpg.json").write_text("{not json")
    conn = connector(tmp_path, folder)
    item = conn.describe(refs(conn)["trip/IMG_1.jpg"])
    assert item.metadata.caption is None and item.metadata.taken_date_source == "exif"  # the file's own
    (warning,) = item.warnings
    assert "caption JSON sidecar IMG_1.jpg.json could not be read" in warning and "file's own metadata" in warning


def test_sidecars_are_read_in_worker_processes(tmp_path, folder):
    """Discover describes folder items in other processes: the describer, reader included,
    survives pickling, and gives what describe gives."""
    conn = connector(tmp_path, folder)
    ref = refs(conn)["trip/IMG_2.jpg"]
    describer = pickle.loads(pickle.dumps(conn.describer()))
    assert describer(ref).metadata == conn.describe(ref).metadata
    assert describer(ref).metadata.caption == "Dinner"


def test_a_sidecar_that_links_outside_the_folder_is_not_read(tmp_path, folder):
    """Sidecars follow the folder's rule for links: one leading outside is not followed (a link
    to any file on the machine must not become a photo's caption)."""
    outside = tmp_path / "elsewhere.json"
    outside.write_text(json.dumps({"caption": "not from this folder"}))
    (folder / "trip" / "IMG_3.jpg.json").symlink_to(outside)
    (folder / "trip" / "inner.json").write_text(json.dumps({"caption": "From inside"}))
    (folder / "trip" / "IMG_1.jpg.json").unlink()
    (folder / "trip" / "IMG_1.jpg.json").symlink_to(folder / "trip" / "inner.json")
    conn = connector(tmp_path, folder)
    listed = refs(conn)
    assert conn.describe(listed["trip/IMG_3.jpg"]).metadata.caption is None
    assert conn.describe(listed["trip/IMG_1.jpg"]).metadata.caption == "From inside"  # a link inside is read
