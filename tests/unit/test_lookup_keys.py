"""The index's lookup keys are the keys resolve looks candidates up by: a photo whose keys
differ between the two is never found as a look-alike.  One definition (photosync/media/lookup.py,
below the library and conflicts/ alike) serves both; these tests hold the index's rows to it."""

from __future__ import annotations

import dataclasses
import random

import pytest

from photosync.conflicts import variants
from photosync.library.index import INDEX_VERSION, Index
from photosync.media import lookup
from photosync.media.visual import Look, quarters, signature_of_image
from photosync.model import CameraInfo, Instance, Metadata, Photo, Visibility

NOW = "2024-01-01T00:00:00+00:00"


def _look(seed: int, flat: bool = False) -> str:
    from variant_corpus import scene

    from PIL import Image

    if flat:
        return signature_of_image(Image.new("RGB", (64, 48), (40, 40, 40)))
    return signature_of_image(scene(random.Random(seed), (96, 72))[0])


def _inst(service, item, h, look, taken=None, source=None, missing=False):
    return Instance(service=service, id=item, content_hash=h, last_sync=NOW, look=look,
                    metadata=Metadata(taken_date=taken, taken_date_source=source, filename=item),
                    missing_since=NOW if missing else None)


def _photo(*insts, canonical=0):
    first = insts[canonical]
    by_service: dict[str, list[Instance]] = {}
    for i in insts:
        by_service.setdefault(i.service, []).append(i)
    return Photo(photo_id="00000000-0000-5000-8000-000000000001", content_hash=first.content_hash,
                 canonical_source=first.key, metadata=first.metadata, created_at=NOW, updated_at=NOW,
                 instances={k: tuple(v) for k, v in by_service.items()}, visibility=Visibility("private"))


H1, H2, H3 = ("sha256:" + c * 64 for c in "123")


def cases():
    a, b, c = _look(1), _look(2), _look(3)
    flat = _look(0, flat=True)
    return {
        "one picture, trusted time": _photo(_inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00.250+02:00", "exif")),
        "a guessed time is no key": _photo(_inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00", "file_mtime")),
        "a merged variant, canonical first": _photo(_inst("pics", "b.jpg", H2, b, "2020-01-01T00:00:00", "service"),
                                                    _inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00", "exif"),
                                                    canonical=1),
        "a copy without a signature, then one with": _photo(_inst("alpha", "a.jpg", H1, None),
                                                            _inst("beta", "a.jpg", H1, a)),
        "two copies of one content count once": _photo(_inst("pics", "a.jpg", H1, a), _inst("phone", "a.jpg", H1, c)),
        "a missing copy is not looked up": _photo(_inst("pics", "a.jpg", H1, a),
                                                  _inst("pics", "c.jpg", H3, c, missing=True)),
        "a flat picture has no key": _photo(_inst("pics", "a.jpg", H1, flat), _inst("pics", "b.jpg", H2, b)),
        "no signature at all": _photo(_inst("pics", "a.mov", H1, None)),
    }


def test_variants_judges_with_the_one_definition():
    """conflicts/variants.py searches with the functions the index fills its looks table with
    (a second copy of them would drift, and look-alikes would silently not be found)."""
    assert variants.lookup_keys is lookup.lookup_keys
    assert variants.faces is lookup.faces
    assert variants.TRUSTED_TIME is lookup.TRUSTED_TIME


@pytest.mark.parametrize("name", list(cases()))
def test_the_index_keeps_the_keys_resolve_looks_up(name, tmp_path):
    photo = cases()[name]
    index = Index(tmp_path / "index.db")
    index.put_photos([(photo, "photos/p.json", None)])
    keys = variants.lookup_keys(photo, every_picture=True)
    assert sorted(index.own_looks(photo.photo_id)) == sorted(
        (k.content_hash, k.dhash, k.informative, len(k.look) > 260) for k in keys)
    index.close()


def test_a_look_alike_is_found_by_the_keys_of_the_other(tmp_path):
    a = _look(1)
    mine = _photo(_inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00.250+02:00", "exif"))
    other = dataclasses.replace(_photo(_inst("web", "a-small.jpg", H2, a)),
                                photo_id="00000000-0000-5000-8000-000000000002")
    index = Index(tmp_path / "index.db")
    index.put_photos([(mine, "photos/a.json", None), (other, "photos/b.json", None)])
    (key,) = variants.lookup_keys(mine)
    found = index.look_alikes(mine.photo_id, key, key.quarters, key.taken, variants.MAX_HAMMING)
    assert [(pid, h) for pid, h, *_ in found] == [(other.photo_id, H2)]
    index.close()


def test_the_keys_are_quarters_and_the_trusted_second():
    a = _look(1)
    photo = _photo(_inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00.250+02:00", "exif"))
    qs = tuple(None if q in (0, 0xFFFF) else q for q in quarters(Look.parse(a).dhash64()))
    assert [(k.quarters, k.taken) for k in lookup.lookup_keys(photo)] == [(qs, "2019-07-04T10:00:00")]


def _near(base_seed: int, rng: random.Random) -> str:
    """A picture like the scene of ``base_seed`` with a small patch painted over (its dHash differs
    in a few bits, so pictures of one scene share some quarters and not others)."""
    from variant_corpus import scene

    from PIL import ImageDraw

    im = scene(random.Random(base_seed), (96, 72))[0]
    for _ in range(rng.randrange(4)):
        x, y = rng.randrange(90), rng.randrange(66)
        ImageDraw.Draw(im).rectangle((x, y, x + rng.randrange(4, 24), y + rng.randrange(4, 18)),
                                     fill=tuple(rng.randrange(256) for _ in range(3)))
    return signature_of_image(im)


def test_the_quarters_kept_in_memory_answer_as_the_index_does_through_every_change(tmp_path, monkeypatch):
    """discover's first import keeps busy quarters in memory (reading their rows from SQLite for
    each photo was most of its search); that copy must answer exactly as a fresh read of the index
    after each kind of change: photos added, a record whose picture changed, a record removed, a
    transaction rolled back and the newest rows replaced (SQLite then gives their rowids to other
    rows), records put with their pictures unchanged, another connection's writes, a rebuild."""
    import photosync.library.index as index_module

    monkeypatch.setattr(index_module, "_KEEP_FROM", 0)  # every quarter read is kept
    cap = 6
    rng = random.Random(7)
    cameras = [None, ("Canon", "EOS 80D"), ("Apple", "iPhone 12")]

    def photo(n: int, look: str) -> Photo:
        taken = f"2019-07-04T10:00:0{n % 3}" if n % 2 else None
        inst = _inst("pics", f"{n}.jpg", f"sha256:{n:064x}", look, taken, "exif" if taken else None)
        if cameras[n % 3] is not None:
            make, model = cameras[n % 3]
            inst = dataclasses.replace(inst, metadata=dataclasses.replace(inst.metadata,
                                                                          camera_info=CameraInfo(make, model)))
        return dataclasses.replace(_photo(inst), photo_id=f"00000000-0000-5000-8000-{n:012d}")

    pictures = [_near(seed, rng) for seed in range(1, 7) for _ in range(10)]  # six scenes
    photos = {n: photo(n, pictures[n]) for n in range(len(pictures))}
    path = tmp_path / "index.db"
    index = Index(path)

    def search(ix: Index, p: Photo) -> list:
        out = []
        for key in variants.lookup_keys(p):
            rows, crowded, busy = ix.look_alikes_capped(p.photo_id, key, key.quarters, key.taken,
                                                        variants.MAX_HAMMING, cap)
            out.append((sorted(rows), sorted(crowded), busy))
        return out

    def same_as_a_fresh_read() -> int:
        fresh = Index(path)
        try:
            answers = [search(index, p) for p in photos.values()]
            assert answers == [search(fresh, p) for p in photos.values()]
        finally:
            fresh.close()
        return sum(len(rows) for a in answers for rows, _c, _b in a)

    def put(ns) -> None:
        index.put_photos([(photos[n], f"photos/{n}.json", None) for n in ns])

    put(range(0, 20))
    assert same_as_a_fresh_read() > 0  # the quarters are read, and kept
    put(range(20, 40))  # added: they join the quarters kept
    same_as_a_fresh_read()
    for n in (3, 22, 31):  # a record whose picture changed (to another scene): its old rows leave
        photos[n] = photo(n, _near(7, rng))
    put((3, 22, 31))
    same_as_a_fresh_read()
    index.remove_photo(photos[5].photo_id)  # removed
    same_as_a_fresh_read()
    index.begin()  # rolled back: SQLite gives those rowids to the next rows
    put(range(40, 50))
    search(index, photos[45])
    index.rollback()
    put(range(50, 60))
    assert same_as_a_fresh_read() > 0
    for n in range(54, 60):  # the newest rows leave: SQLite gives their rowids to the rows that replace them
        photos[n] = photo(n, _near(8, rng))
    put(range(54, 60))
    same_as_a_fresh_read()
    index.put_photos([(photos[n], f"photos/{n}.json", None) for n in range(10, 20)],  # pictures unchanged:
                     same_looks={photos[n].photo_id for n in range(10, 20)})     # their rows stay
    same_as_a_fresh_read()
    # another connection (a read-only command bringing the index up to date with this run's commit)
    # removes rows and writes others, which SQLite numbers with rowids this one had read
    other = Index(path)
    for n in range(50, 60):
        other.remove_photo(photos[n].photo_id)
    photos[57] = photo(57, _near(1, rng))
    other.put_photos([(photos[n], f"photos/{n}.json", None) for n in (57, 58, 59, 5)])
    other.close()
    assert same_as_a_fresh_read() > 0
    index.clear_derived()  # a rebuild
    put(range(0, 30))
    same_as_a_fresh_read()
    crowded = {c for p in photos.values() for _r, cs, _b in search(index, p) for c in cs}
    assert crowded, "some of the test's quarters are shared by more than the cap"
    index.close()


def _two_alike(tmp_path) -> tuple[Index, Photo, Photo]:
    a = _look(1)
    mine = _photo(_inst("pics", "a.jpg", H1, a, "2019-07-04T10:00:00.250+02:00", "exif"))
    other = dataclasses.replace(_photo(_inst("web", "a-small.jpg", H2, _look(1))),
                                photo_id="00000000-0000-5000-8000-000000000002")
    index = Index(tmp_path / "index.db")
    index.put_photos([(mine, "photos/a.json", None), (other, "photos/b.json", None)])
    return index, mine, other


def _candidates(index: Index, photo: Photo) -> list[tuple]:
    (key,) = variants.lookup_keys(photo)
    return index.look_alikes(photo.photo_id, key, key.quarters, key.taken, variants.MAX_HAMMING)


def test_a_candidate_comes_with_the_gradients_of_its_picture(tmp_path):
    """A candidate's gradients come from the index, not computed again for each search: they must
    be the picture's own, or could_match would judge the pair on another picture."""
    index, mine, other = _two_alike(tmp_path)
    ((pid, _h, _d, _t, look, grad),) = _candidates(index, mine)
    assert pid == other.photo_id
    picture = Look.parse(other.instances["web"][0].look)
    assert picture is not None and grad == picture.gradient_bytes()
    from_index = Look.indexed(look, grad)
    assert from_index.gradients() == picture.gradients() == Look(picture.pixels, picture.colour).gradients()
    assert from_index == picture
    index.close()


def test_an_index_of_the_layout_before_gains_the_gradients_in_place(tmp_path):
    """A layout-13 index (no gradients, an index fewer) is not rebuilt from git (minutes at 100,000
    photos) when photosync opens it: it is laid out as a new one, its rows are kept and still found
    (their gradients computed as before), and a photo indexed again gets its gradients."""
    import sqlite3

    def layout(path) -> set:
        db = sqlite3.connect(path)
        try:
            return {*db.execute("SELECT type, name, tbl_name FROM sqlite_master"),
                    *(("column", c[1]) for c in db.execute("PRAGMA table_info(looks)"))}
        finally:
            db.close()

    index, mine, other = _two_alike(tmp_path)
    index.set_meta("commit", "c0ffee")
    index.close()
    new_layout = layout(tmp_path / "index.db")
    db = sqlite3.connect(tmp_path / "index.db", isolation_level=None)
    db.execute("ALTER TABLE looks DROP COLUMN grad")  # as layout 13 had it
    db.execute("CREATE INDEX copies_photo ON copies(photo_id)")
    db.execute("UPDATE meta SET value='13' WHERE key='version'")
    db.close()

    index = Index(tmp_path / "index.db")
    assert index.get_meta("version") == INDEX_VERSION
    assert index.commit_oid == "c0ffee"  # not rebuilt: what it knew is kept
    assert layout(tmp_path / "index.db") == new_layout  # and it is laid out as a new one
    ((pid, _h, _d, _t, look, grad),) = _candidates(index, mine)
    assert (pid, grad) == (other.photo_id, None)
    assert variants.could_match(variants.faces(mine)[0], Look.indexed(look, grad), None)
    index.put_photos([(other, "photos/b.json", None)])
    ((pid, _h, _d, _t, look, grad),) = _candidates(index, mine)
    assert grad == Look.indexed(look).gradient_bytes()
    index.close()


def test_an_index_that_has_the_gradients_column_but_the_old_layout_number_opens(tmp_path):
    """An upgrade interrupted after adding the column (a photosync that did it in two steps) is
    finished at the next open, not failed on at every open."""
    index, mine, other = _two_alike(tmp_path)
    index.set_meta("version", "13")
    index.close()
    index = Index(tmp_path / "index.db")
    assert index.get_meta("version") == INDEX_VERSION
    ((pid, *_rest),) = _candidates(index, mine)
    assert pid == other.photo_id
    index.close()


def test_an_index_of_layout_14_is_upgraded_in_place_not_rebuilt(tmp_path):
    """Layout 15 only lets a signature be approximate: a layout-14 index keeps what it knew."""
    index, mine, other = _two_alike(tmp_path)
    index.set_meta("commit", "c0ffee")
    index.set_meta("version", "14")
    index.close()
    index = Index(tmp_path / "index.db")
    assert index.get_meta("version") == INDEX_VERSION
    assert index.commit_oid == "c0ffee"
    ((pid, *_rest),) = _candidates(index, mine)
    assert pid == other.photo_id
    index.close()
