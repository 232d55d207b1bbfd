"""resolve: policies, detection, and the Resolver seam (decisions from an object)."""

from __future__ import annotations

import dataclasses
import uuid

from helpers import commit_count, git, open_lib

from photosync.conflicts.resolver import Decision
from photosync.library.layout import utc_now
from photosync.model import Instance, Location, Metadata, Photo, Visibility
from photosync.phases.resolve import resolve


def photo_with_copies(copies: list[tuple[str, str, Metadata, str | None]], canonical: Metadata,
                      visibility: str = "private") -> Photo:
    h = "sha256:" + "ab" * 32
    pid = str(uuid.uuid5(uuid.NAMESPACE_URL, h + repr(copies)))
    now = utc_now()
    instances: dict[str, list[Instance]] = {}
    for service, item_id, md, vis in copies:
        instances.setdefault(service, []).append(
            Instance(service=service, id=item_id, content_hash=h, last_sync=now, metadata=md, visibility=vis))
    first = copies[0]
    return Photo(photo_id=pid, content_hash=h, canonical_source=f"{first[0]}:{first[1]}", metadata=canonical,
                 created_at=now, updated_at=now,
                 instances={k: tuple(v) for k, v in instances.items()},
                 visibility=Visibility(canonical=visibility))


class Scripted:
    """A resolver that answers from a list, and remembers what it was asked."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.asked = []

    def decide(self, photo, conflict, options):
        self.asked.append((photo.photo_id, conflict.id, [o.key for o in options]))
        return self.answers.pop(0) if self.answers else None


def stage(root, photo):
    lib, _ = open_lib(root)
    lib.stage(photo)
    lib.commit("test: add")
    lib.close()


def test_missing_metadata_is_merged_when_copies_agree(library):
    md_a = Metadata(taken_date="2019-07-04T14:22:33", taken_date_source="file_mtime", filename="a.jpg")
    md_b = Metadata(taken_date="2019-07-04T10:00:00+02:00", taken_date_source="exif", filename="b.jpg",
                    caption="Fireworks", location=Location(37.77, -122.41))
    p = photo_with_copies([("pictures", "a.jpg", md_a, None), ("phone", "b.jpg", md_b, None)], canonical=md_a)
    stage(library, p)
    lib, _ = open_lib(library)
    result = resolve(lib, auto="simple")
    got = lib.get_photo(p.photo_id)
    lib.close()
    assert result.resolved == 1
    assert got.processing_state == "resolved"
    assert got.metadata.caption == "Fireworks"
    assert got.metadata.location == Location(37.77, -122.41)
    # a date from EXIF beats a file-time guess
    assert got.metadata.taken_date == "2019-07-04T10:00:00+02:00"
    assert got.metadata.taken_date_source == "exif"
    assert got.conflicts == ()


def test_disagreeing_captions_wait_for_a_decision_then_are_not_asked_again(library):
    md_a = Metadata(taken_date="2019-07-04T14:22:33", taken_date_source="exif", filename="IMG_1234.jpg",
                    caption="Sunset at the beach")
    md_b = dataclasses.replace(md_a, caption="Ocean Beach sunset with friends")
    p = photo_with_copies([("google-photos", "g1", md_a, None), ("flickr", "f1", md_b, None)], canonical=md_a)
    stage(library, p)

    lib, _ = open_lib(library)
    result = resolve(lib, auto="simple")
    lib.close()
    assert result.resolved == 0
    assert [o.conflict.id for o in result.open] == ["metadata_mismatch:caption"]
    assert result.open[0].conflict.values == {"google-photos:g1": "Sunset at the beach",
                                              "flickr:f1": "Ocean Beach sunset with friends"}

    before = commit_count(library)
    lib, _ = open_lib(library)
    asker = Scripted([Decision("use:flickr:f1")])
    result = resolve(lib, auto="simple", resolver=asker)
    got = lib.get_photo(p.photo_id)
    lib.close()
    assert asker.asked[0][1] == "metadata_mismatch:caption"
    assert asker.asked[0][2] == ["use:google-photos:g1", "use:flickr:f1", "combine", "custom", "skip"]
    assert got.metadata.caption == "Ocean Beach sunset with friends"
    assert got.processing_state == "resolved"
    assert got.resolutions[-1].choice == "use:flickr:f1" and got.resolutions[-1].how == "manual"
    # the decision got a commit of its own, named for the photo and the field
    assert commit_count(library) > before
    assert "resolve: IMG_1234.jpg caption from flickr (manual)" in git(library, "log", "--format=%s")

    # the same disagreement is not raised again
    lib, _ = open_lib(library)
    again = Scripted([])
    result = resolve(lib, auto="simple", resolver=again)
    lib.close()
    assert again.asked == [] and result.open == []


def test_skip_leaves_the_conflict_open(library):
    md_a = Metadata(taken_date="2019-07-04T14:22:33", taken_date_source="exif", filename="x.jpg", tags=("a",))
    md_b = dataclasses.replace(md_a, tags=("b",))
    p = photo_with_copies([("s1", "1", md_a, None), ("s2", "2", md_b, None)], canonical=md_a)
    stage(library, p)
    lib, _ = open_lib(library)
    result = resolve(lib, resolver=Scripted([Decision("skip")]))
    got = lib.get_photo(p.photo_id)
    lib.close()
    assert got.processing_state == "discovered"
    assert [c.id for c in got.open_conflicts] == ["metadata_mismatch:tags"]
    assert result.decisions == 0


def test_dry_run_changes_nothing(library):
    md = Metadata(taken_date="2019-07-04T14:22:33", taken_date_source="exif", filename="x.jpg")
    md_b = dataclasses.replace(md, caption="filled")
    p = photo_with_copies([("s1", "1", md, None), ("s2", "2", md_b, None)], canonical=md)
    stage(library, p)
    before = commit_count(library)
    lib, _ = open_lib(library)
    result = resolve(lib, auto="simple", dry_run=True)
    lib.close()
    assert commit_count(library) == before
    assert result.changed == 1 and "caption filled: 'filled'" in result.changes[0]


def test_most_restrictive_visibility_only_narrows(library):
    md = Metadata(taken_date="2019-07-04T14:22:33", taken_date_source="exif", filename="x.jpg")
    narrow = photo_with_copies([("flickr", "1", md, "friends"), ("google", "2", md, "public")], canonical=md,
                               visibility="public")
    stage(library, narrow)
    lib, _ = open_lib(library)
    resolve(lib, auto="all")
    got = lib.get_photo(narrow.photo_id)
    lib.close()
    assert got.visibility.canonical == "friends"
    assert [(d.service, d.current, d.wider) for d in got.visibility.discrepancies] == [("google", "public", True)]


def test_policy_never_widens(library):
    md = Metadata(taken_date="2019-07-04T14:22:33", taken_date_source="exif", filename="y.jpg")
    p = photo_with_copies([("flickr", "1", md, "public")], canonical=md, visibility="private")
    stage(library, p)
    lib, _ = open_lib(library)
    resolve(lib, auto="all")
    got = lib.get_photo(p.photo_id)
    lib.close()
    assert got.visibility.canonical == "private"
    assert got.visibility.discrepancies[0].wider
