"""What a move does to a record: the instance's key changes everywhere the
record names it, so decisions taken about its values keep their meaning."""

from __future__ import annotations

from photosync.conflicts.detect import detect
from photosync.model import Conflict, Instance, Metadata, Photo, Resolution
from photosync.phases.discover import _rekey


def test_a_moved_copy_keeps_the_decisions_taken_about_it():
    h = "sha256:" + "ab" * 32
    md_a = Metadata(taken_date="2019-07-04T10:00:00", taken_date_source="filename", filename="2019-07-04 10.00.00.png")
    md_b = Metadata(taken_date="2020-01-01T12:00:00", taken_date_source="filename", filename="IMG_20200101_120000.png")
    a = Instance("pics", "2019-07-04 10.00.00.png", h, metadata=md_a)
    b = Instance("pics", "IMG_20200101_120000.png", h, metadata=md_b)
    values = {a.key: "2019-07-04T10:00:00", b.key: "2020-01-01T12:00:00"}
    photo = Photo(photo_id="p1", content_hash=h, canonical_source=a.key, metadata=md_a, created_at="2024-01-01T00:00:00Z",
                  updated_at="2024-01-01T00:00:00Z", instances={"pics": (a, b)},
                  conflicts=(Conflict("other", "metadata_mismatch", "x", values=values),),
                  resolutions=(Resolution("metadata_mismatch:taken_date", "manual", "2024-01-01T00:00:00Z",
                                          choice=f"use:{a.key}", value="2019-07-04T10:00:00", values_seen=values),))
    moved_a = Instance("pics", "holiday/2019-07-04 10.00.00.png", h, metadata=md_a)
    moved = _rekey(photo.replace(instances={"pics": (b, moved_a)}), a.key, moved_a.key)
    assert moved.canonical_source == moved_a.key
    (r,) = moved.resolutions
    assert r.choice == f"use:{moved_a.key}" and set(r.values_seen) == {moved_a.key, b.key}
    assert set(moved.conflicts[0].values) == {moved_a.key, b.key}
    # the decided disagreement is not asked again
    assert not [c for c in detect(moved.replace(conflicts=())) if c.type == "metadata_mismatch"]
