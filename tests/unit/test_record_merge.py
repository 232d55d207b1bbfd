"""The three-way record merge (library/merge.py, issue 17): one test per rule, then properties."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from photosync import records
from photosync.conflicts.resolver import Decision, apply_decision, options_for
from photosync.library.merge import fold_into, merge_records
from photosync.model import (
    BlobCopy,
    Instance,
    Metadata,
    Photo,
    Resolution,
    SupersededBlob,
    Visibility,
    with_instance,
)

PID = "0b9c7a52-6d0e-5e8a-9a1e-3c2d1f0e9a77"
H1 = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64
H3 = "sha256:" + "3" * 64


def base_photo(**kw) -> Photo:
    inst = Instance("pics", "a/IMG_1.jpg", H1, last_sync="2026-01-01T00:00:00Z", size=10,
                    metadata=Metadata(filename="IMG_1.jpg"))
    p = Photo(photo_id=PID, content_hash=H1, canonical_source="pics:a/IMG_1.jpg",
              metadata=Metadata(taken_date="2019-07-01T10:00:00", taken_date_source="exif", filename="IMG_1.jpg",
                                caption="old", tags=("a",)),
              created_at="2026-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z",
              instances={"pics": (inst,)}, processing_state="resolved")
    return p.replace(**kw)


def md(p: Photo, **kw) -> Photo:
    return p.replace(metadata=dataclasses.replace(p.metadata, **kw))


def inst(service: str, item: str, h: str = H1, when: str = "2026-02-01T00:00:00Z", **kw) -> Instance:
    return Instance(service, item, h, last_sync=when, size=10, metadata=Metadata(filename=item), **kw)


def copy(store: str, h: str = H1, when: str = "2026-02-01T00:00:00Z", problem: str | None = None) -> BlobCopy:
    return BlobCopy(store, f"2019/07/{PID}-{h[7:]}.jpg", 10, when, problem)


def valid(p: Photo) -> Photo:
    """The merged record passes the schema and reads back the same."""
    where = f"photos/2019/07/{PID}.json"
    return records.photo_from_bytes(records.photo_to_bytes(p, where), where)


def test_one_sided_change_takes_that_side():
    o = base_photo()
    a = md(o, caption="new")
    m = merge_records(o, a, o)
    assert m.photo.metadata.caption == "new" and not m.conflicts
    assert merge_records(o, o, a).photo == m.photo


def test_two_different_changes_are_a_conflict_for_resolve():
    o = base_photo()
    a, b = md(o, caption="beach"), md(o, caption="sea")
    m = merge_records(o, a, b)
    assert m.photo.metadata.caption == "old", "nothing picked silently: the common version stays"
    (c,) = m.conflicts
    assert c.type == "sync_conflict" and c.field == "caption" and c.resolution_required
    assert sorted(c.values.values()) == ["beach", "sea"]
    assert m.photo.processing_state == "discovered"
    valid(m.photo)
    # resolve asks, and the answer closes it
    opts = options_for(m.photo, c)
    assert {o.value for o in opts if o.key.startswith("use:")} == {"beach", "sea"}
    chosen = next(o for o in opts if o.value == "sea")
    done = apply_decision(m.photo, c, Decision(chosen.key))
    assert done.metadata.caption == "sea" and not done.conflicts
    valid(done)


def test_the_same_change_on_both_sides_agrees():
    o = base_photo()
    a = md(o, caption="beach")
    assert merge_records(o, a, a).photo == a


def test_tags_are_sets_both_sides_changes_applied():
    o = md(base_photo(), tags=("a", "b"))
    a = md(o, tags=("a", "b", "x"))
    b = md(o, tags=("b", "y"))
    m = merge_records(o, a, b)
    assert set(m.photo.metadata.tags) == {"b", "x", "y"} and not m.conflicts


def test_instances_are_a_union():
    o = base_photo()
    a = with_instance(o, inst("pics", "b/copy.jpg")).replace(processing_state="discovered")
    b = with_instance(o, inst("phone", "DCIM/1.jpg")).replace(processing_state="discovered")
    m = merge_records(o, a, b).photo
    assert {i.key for i in m.all_instances()} == {"pics:a/IMG_1.jpg", "pics:b/copy.jpg", "phone:DCIM/1.jpg"}
    assert m.processing_state == "discovered"
    valid(m)


def test_one_instance_seen_on_both_keeps_the_later_observation():
    o = base_photo()
    seen = o.instances["pics"][0]
    a = o.replace(instances={"pics": (dataclasses.replace(seen, last_sync="2026-03-01T00:00:00Z",
                                                          missing_since="2026-03-01T00:00:00Z"),)})
    b = o.replace(instances={"pics": (dataclasses.replace(seen, last_sync="2026-04-01T00:00:00Z"),)})
    m = merge_records(o, a, b).photo
    assert m.instances["pics"][0].last_sync == "2026-04-01T00:00:00Z"
    assert m.instances["pics"][0].missing_since is None


def test_blob_copies_are_a_union_and_no_copy_is_dropped():
    o = base_photo()
    a = o.replace(blobs={"local": copy("local")}, processing_state="replicated")
    b = o.replace(blobs={"b2": copy("b2")}, processing_state="replicated")
    m = merge_records(o, a, b).photo
    assert set(m.blobs) == {"local", "b2"}
    assert m.processing_state == "replicated"
    # one store's copy re-verified on one side, found damaged on the other: the later check stands
    a2 = o.replace(blobs={"local": copy("local", when="2026-05-01T00:00:00Z", problem="hash mismatch")})
    b2 = o.replace(blobs={"local": copy("local", when="2026-04-01T00:00:00Z")})
    assert merge_records(o, a2, b2).photo.blobs["local"].problem == "hash mismatch"


def test_superseded_blobs_and_resolutions_are_unions():
    o = base_photo()
    s1 = SupersededBlob("local", f"2019/07/{PID}-{'2' * 64}.png", 5, "2026-02-01T00:00:00Z", H2)
    s2 = SupersededBlob("local", f"2019/07/{PID}-{'3' * 64}.png", 5, "2026-02-01T00:00:00Z", H3)
    r1 = Resolution("metadata_mismatch:caption", "manual", "2026-02-01T00:00:00Z", choice="use:pics:a")
    r2 = Resolution("edit_variant:x", "manual", "2026-02-02T00:00:00Z", choice="linked")
    a = o.replace(superseded_blobs=(s1,), resolutions=(r1,))
    b = o.replace(superseded_blobs=(s2,), resolutions=(r2,))
    m = merge_records(o, a, b).photo
    assert set(m.superseded_blobs) == {s1, s2}
    assert m.resolutions == (r1, r2)


def test_canonical_visibility_narrower_of_two_changes():
    o = base_photo(visibility=Visibility(canonical="friends"))
    a = o.replace(visibility=Visibility(canonical="private"))
    b = o.replace(visibility=Visibility(canonical="public"))
    assert merge_records(o, a, b, explicit_b="public").photo.visibility.canonical == "private"


def test_explicit_widening_on_one_side_stands_when_the_other_left_it_alone():
    o = base_photo()
    a = o.replace(visibility=Visibility(canonical="public"))
    b = md(o, caption="edited elsewhere")
    assert merge_records(o, a, b, explicit_a="public").photo.visibility.canonical == "public"
    assert merge_records(o, b, a, explicit_b="public").photo.visibility.canonical == "public"


def test_a_widening_without_visibility_set_is_not_taken():
    o = base_photo()
    a = o.replace(visibility=Visibility(canonical="public"))
    assert merge_records(o, a, md(o, caption="x")).photo.visibility.canonical == "private"


def test_a_narrowing_on_one_side_stands():
    o = base_photo(visibility=Visibility(canonical="public"))
    a = o.replace(visibility=Visibility(canonical="private"))
    assert merge_records(o, a, o).photo.visibility.canonical == "private"


def test_state_follows_the_merged_content():
    o = base_photo(processing_state="discovered")
    a = o.replace(processing_state="resolved")
    assert merge_records(o, a, md(o, tags=("a", "z"))).photo.processing_state == "resolved"
    # a copy found on one side that nobody resolved: discovered again
    r = base_photo(processing_state="replicated", blobs={"local": copy("local")})
    b = with_instance(r, inst("pics", "new.jpg", H2)).replace(processing_state="discovered")
    assert merge_records(r, r.replace(updated_at="2026-09-01T00:00:00Z"), b).photo.processing_state == "discovered"


def test_the_same_photo_recorded_on_both_machines_is_one_record():
    a = base_photo(processing_state="resolved")
    other = inst("laptop", "x/IMG_1.jpg")
    b = Photo(photo_id=PID, content_hash=H1, canonical_source="laptop:x/IMG_1.jpg", metadata=a.metadata,
              created_at="2026-01-05T00:00:00Z", updated_at="2026-01-05T00:00:00Z",
              instances={"laptop": (other,)}, processing_state="resolved")
    m = merge_records(None, a, b).photo
    assert {i.key for i in m.all_instances()} == {"pics:a/IMG_1.jpg", "laptop:x/IMG_1.jpg"}
    assert m.canonical_source == "laptop:x/IMG_1.jpg" and m.created_at == a.created_at
    assert m == merge_records(None, b, a).photo
    valid(m)


def test_two_originals_chosen_differently_is_a_question_that_keeps_every_copy():
    o = with_instance(base_photo(blobs={"local": copy("local")}), inst("pics", "big.jpg", H2))
    a = o.replace(canonical_source="pics:big.jpg", content_hash=H2, blobs={},
                  superseded_blobs=(SupersededBlob("local", copy("local").locator, 10, "2026-02-01T00:00:00Z", H1),))
    b = with_instance(o, inst("pics", "bigger.jpg", H3)).replace(canonical_source="pics:bigger.jpg",
                                                                  content_hash=H3, blobs={})
    m = merge_records(o, a, b)
    (c,) = m.conflicts
    assert c.field == "canonical_source" and m.photo.content_hash == H1
    assert m.photo.blobs["local"].locator == copy("local").locator
    valid(m.photo)
    done = apply_decision(m.photo, c, Decision("use:second" if c.values["second"] == "pics:bigger.jpg" else "use:first"))
    assert done.content_hash == H3 and done.canonical_source == "pics:bigger.jpg"
    assert any(s.content_hash == H1 for s in done.superseded_blobs), "the old original's copy stays on record"
    valid(done)


def test_edit_of_a_record_merged_away_lands_on_the_survivor():
    survivor = base_photo(blobs={"local": copy("local")})
    gone = Photo(photo_id="1b9c7a52-6d0e-5e8a-9a1e-3c2d1f0e9a77", content_hash=H2, canonical_source="pics:small.jpg",
                 metadata=Metadata(caption="from the other side"), created_at="2026-01-01T00:00:00Z",
                 updated_at="2026-01-01T00:00:00Z",
                 instances={"pics": (inst("pics", "small.jpg", H2), inst("phone", "s.jpg", H2))},
                 visibility=Visibility(canonical="private"))
    out = fold_into(survivor, gone)
    assert {i.key for i in out.all_instances()} >= {"pics:small.jpg", "phone:s.jpg", "pics:a/IMG_1.jpg"}
    assert out.processing_state == "discovered"


# -- properties ------------------------------------------------------------------------------------

LEVELS = st.sampled_from(["private", "friends", "public"])


@st.composite
def sides(draw):
    base = base_photo(processing_state=draw(st.sampled_from(["discovered", "resolved", "replicated"])),
                      blobs={"local": copy("local")})

    def edit(p: Photo, side: str) -> tuple[Photo, str | None]:
        explicit = None
        for i in range(draw(st.integers(0, 3))):
            op = draw(st.sampled_from(["inst", "copy", "caption", "tags", "vis", "state", "old", "res"]))
            if op == "inst":
                p = with_instance(p, inst(draw(st.sampled_from(["pics", "phone"])),
                                          draw(st.sampled_from(["1.jpg", "2.jpg", f"{side}.jpg"])),
                                          draw(st.sampled_from([H1, H2])),
                                          when=draw(st.sampled_from(["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]))))
            elif op == "copy":
                store = draw(st.sampled_from(["local", "b2", "nas"]))
                p = p.replace(blobs={**p.blobs, store: copy(store, when=draw(st.sampled_from(["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"])),
                                                            problem=draw(st.sampled_from([None, "bad"])))})
            elif op == "caption":
                p = md(p, caption=draw(st.sampled_from(["old", "x", "y"])))
            elif op == "tags":
                p = md(p, tags=tuple(draw(st.sets(st.sampled_from("abc")))))
            elif op == "vis":
                level = draw(LEVELS)
                p = p.replace(visibility=Visibility(canonical=level))
                explicit = level if draw(st.booleans()) else None
            elif op == "state":
                p = p.replace(processing_state=draw(st.sampled_from(["discovered", "resolved", "replicated"])))
            elif op == "old":
                p = p.replace(superseded_blobs=(*p.superseded_blobs, SupersededBlob(
                    draw(st.sampled_from(["local", "b2"])), f"2019/07/{PID}-{'2' * 64}.jpg", 3, "2026-02-01T00:00:00Z", H2)))
            else:
                p = p.replace(resolutions=(*p.resolutions, Resolution(f"x:{side}{i}", "manual", "2026-02-01T00:00:00Z")))
        return p, explicit

    a, ea = edit(base, "a")
    b, eb = edit(base, "b")
    # sometimes as two machines that recorded the photo independently (no common version)
    return (None if draw(st.booleans()) else base), a, ea, b, eb


def _copies_of(p: Photo) -> set[tuple]:
    return {(c.store, c.locator, h) for h, cs in ((p.content_hash, p.blobs.values()),) for c in cs} | \
           {(s.store, s.locator, s.content_hash) for s in p.superseded_blobs}


@settings(max_examples=150, deadline=None)
@given(sides())
def test_merge_is_symmetric_loses_nothing_and_never_widens_beyond_an_explicit_set(case):
    base, a, ea, b, eb = case
    m1 = merge_records(base, a, b, explicit_a=ea, explicit_b=eb)
    m2 = merge_records(base, b, a, explicit_a=eb, explicit_b=ea)
    assert m1 == m2
    p = m1.photo
    keys = {i.key for i in p.all_instances()}
    assert keys >= {i.key for i in a.all_instances()} | {i.key for i in b.all_instances()}
    assert _copies_of(p) >= _copies_of(a) | _copies_of(b)
    rank = ["private", "friends", "public"].index
    start = rank(base.visibility.canonical) if base else min(rank(a.visibility.canonical), rank(b.visibility.canonical))
    allowed = max([start] +
                  [rank(s.visibility.canonical) for s, e in ((a, ea), (b, eb)) if e == s.visibility.canonical])
    assert rank(p.visibility.canonical) <= allowed
    assert set(p.resolutions) == set(a.resolutions) | set(b.resolutions)
    valid(p)
    # merging the result with either side again changes nothing (a sync repeated)
    if base is not None:
        assert merge_records(a, p, a).photo.all_instances() == p.all_instances()
