"""The derive seam: a rendition in the photo record, its store key beside the original's, and
reading its bytes back from the stores (photosync/renditions.py)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from photosync import records
from photosync.errors import SourceError
from photosync.events import Collector
from photosync.library.layout import rendition_blob_name
from photosync.library.library import Library
from photosync.model import BlobCopy, Photo, Rendition
from photosync.renditions import (
    THUMBNAIL,
    is_current,
    open_rendition,
    read_rendition,
    rendition_key,
    renditions,
    thumbnail,
    thumbnail_name,
    with_rendition,
)
from photosync.stores.base import StoreContext
from photosync.stores.local import LocalStore
from photosync.stores.naming import blob_key

from test_records import H, PID, WHERE, full_photo

NOW = "2026-12-06T11:00:00Z"


def _rendition(name: str, data: bytes, *, edge: int, source: str = H, stores=("local",), kind=THUMBNAIL,
               recipe: str = "thumbnail/1 webp q80", tier: str | None = None, locator: str = "x") -> Rendition:
    h = "sha256:" + hashlib.sha256(data).hexdigest()
    copies = {s: BlobCopy(s, locator, len(data), NOW) for s in stores}
    return Rendition(name=name, kind=kind, recipe=recipe, source_hash=source, content_hash=h, size=len(data),
                     format="webp", width=edge, height=edge * 3 // 4, made_at=NOW, copies=copies, tier=tier)


def test_a_rendition_round_trips_through_the_record_and_the_schema():
    p = with_rendition(full_photo(), _rendition("thumb-200", b"small", edge=200))
    p = with_rendition(p, _rendition("tier", b"tiered", edge=2048, kind="tier", recipe="tier/1 heavy q60",
                                     tier="heavy"))
    data = records.photo_to_bytes(p, WHERE)
    back = records.photo_from_bytes(data, WHERE)
    assert back == p
    saved = json.loads(data)["renditions"]
    assert list(saved) == ["thumb-200", "tier"]
    assert saved["tier"]["tier"] == "heavy" and "tier" not in saved["thumb-200"]
    assert list(json.loads(data))[-2:] == ["created_at", "updated_at"]


def test_a_record_without_renditions_is_written_as_before():
    data = records.photo_to_bytes(full_photo(), WHERE)
    assert "renditions" not in json.loads(data)
    assert records.photo_from_bytes(data, WHERE).renditions == {}


@pytest.mark.parametrize("field,value", [("kind", "poster"), ("format", "gif"), ("content_hash", "sha256:abc"),
                                         ("width", 0), ("copies", {"local": {"locator": "../x", "size": 1,
                                                                             "verified_at": NOW}})])
def test_a_bad_rendition_is_refused_naming_its_field(field, value):
    d = records.photo_to_dict(with_rendition(full_photo(), _rendition("thumb-200", b"x", edge=200)))
    d["renditions"]["thumb-200"][field] = value
    with pytest.raises(records.InvalidRecord) as e:
        records.validate("photo", d, WHERE)
    assert e.value.field.startswith(f"renditions.thumb-200.{field}")


def test_the_key_sits_beside_the_original_and_names_its_own_bytes():
    photo = full_photo()
    r = _rendition("thumb-600", b"picture", edge=600)
    key = rendition_key(photo, r)
    original = blob_key(photo).name
    assert key.name.startswith(original.rsplit(".", 1)[0] + ".thumb-600.")
    assert key.name.endswith(r.content_hash[7:] + ".webp")
    assert key.content_hash == r.content_hash and key.digest == r.content_hash[7:]
    # a new recipe's bytes get their own key: nothing is ever overwritten
    assert rendition_key(photo, _rendition("thumb-600", b"other", edge=600)).name != key.name
    with pytest.raises(ValueError):
        rendition_blob_name(PID, H, None, "../x", r.content_hash, "webp")


def test_current_renditions_and_the_thumbnail_for_a_size():
    p = full_photo()
    for edge in (200, 600, 1200):
        p = with_rendition(p, _rendition(thumbnail_name(edge), f"t{edge}".encode(), edge=edge))
    p = with_rendition(p, _rendition("thumb-2400", b"stale", edge=2400, source="sha256:" + "11" * 32))
    assert [r.name for r in renditions(p)] == ["thumb-200", "thumb-600", "thumb-1200"]
    assert [r.name for r in renditions(p, current=False, kind=THUMBNAIL)][-1] == "thumb-2400"
    assert thumbnail(p, 300).name == "thumb-600"
    assert thumbnail(p, 1200).name == "thumb-1200"
    assert thumbnail(p, 5000).name == "thumb-1200"  # the largest current one
    assert not is_current(p, p.renditions["thumb-2400"])
    assert is_current(p, p.renditions["thumb-200"], "thumbnail/1 webp q80")
    assert not is_current(p, p.renditions["thumb-200"], "thumbnail/2 webp q80")
    bad = _rendition("thumb-200", b"t200", edge=200)
    bad = Rendition(**{**bad.__dict__, "copies": {"local": BlobCopy("local", "x", 4, NOW, "missing")}})
    assert thumbnail(with_rendition(p, bad), 100).name == "thumb-600"
    assert thumbnail(full_photo(), 100) is None


def _stores(tmp_path, *names):
    env = StoreContext(tmp_path, None)  # type: ignore[arg-type]
    for n in names:
        (tmp_path / n).mkdir()
    return {n: LocalStore(n, {"type": "local", "path": str(tmp_path / n)}, env) for n in names}


def test_bytes_come_from_the_first_store_that_gives_them_whole(tmp_path):
    import io

    stores = _stores(tmp_path, "nas", "cloud")
    photo = full_photo()
    data = os.urandom(3000)
    r = _rendition("thumb-200", data, edge=200, stores=())
    key = rendition_key(photo, r)
    copies = {}
    for name, store in stores.items():
        blob = store.put(key, io.BytesIO(data), len(data))
        copies[name] = BlobCopy(name, blob.locator, blob.size, NOW)
    store.flush()
    r = Rendition(**{**r.__dict__, "copies": copies})
    assert read_rendition(r, stores) == data
    # the first store's copy damaged: read from the next, and the damage is not passed on
    path = tmp_path / "nas" / key.name
    os.chmod(path, 0o644)
    path.write_bytes(b"damaged" + data[7:])
    with open_rendition(r, stores) as f:
        assert f.read() == data
    (tmp_path / "cloud" / key.name).unlink()
    with pytest.raises(SourceError) as e:
        read_rendition(r, stores)
    assert "store nas" in str(e.value) and "store cloud" in str(e.value)
    with pytest.raises(SourceError, match="no good copy"):
        read_rendition(r, {})


def test_the_index_knows_each_copy_of_a_rendition(tmp_path):
    root, _ = Library.init(tmp_path / "lib")
    p = full_photo()
    p = Photo(**{**p.__dict__, "conflicts": (), "resolutions": ()})
    r = _rendition("thumb-200", b"t", edge=200, stores=("local", "nas"), locator="2019/07/a.thumb-200.b.webp")
    stale = _rendition("tier", b"old", edge=900, kind="tier", tier="light", source="sha256:" + "22" * 32)
    p = with_rendition(with_rendition(p, r), stale)
    with Library.open(root, write=True, reporter=Collector()) as lib:
        lib.stage(p)
        lib.commit("test: a photo with renditions")
        index = lib.index
        assert index is not None
        # what audit --blobs checks in "local": the original's copy and each rendition's
        rows = index.audit_rows(["local"], [PID])
        original = [(b.store, b.locator, p.content_hash) for b in p.blobs.values() if b.store == "local"]
        assert sorted((row[1], row[2], row[3]) for row in rows) == sorted([
            *original, ("local", "2019/07/a.thumb-200.b.webp", r.content_hash), ("local", "x", stale.content_hash)])
        state = index.rendition_state()[PID]
        assert state["thumb-200"] == (r.recipe, True, frozenset({"local", "nas"}))
        assert state["tier"][1] is False
        counts = index.rendition_counts()
        assert counts["thumb-200"] == (1, 1, 0) and counts["tier"] == (0, 0, 1)


def test_a_plans_jobs_keep_each_photo_id_and_todo_in_order():
    """derive's plan keeps 100,000 jobs in ~20 bytes each: UUID photo ids as 16 bytes, any other id
    as it is, and an index into the few todos photos need; nothing is lost or reordered."""
    import uuid

    from photosync.phases.derive import Jobs, Recipe

    a = ((Recipe("thumb-200", "thumbnail", 200, "webp", 80), ("local",)),)
    b = (*a, (Recipe("thumb-600", "thumbnail", 600, "webp", 80), ("local", "nas")))
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, str(n))) for n in range(5)]
    ids[2] = "not-a-uuid"
    ids[3] = ids[3].upper()  # a UUID written otherwise is kept as written
    jobs = Jobs(names=lambda pid: f"name of {pid}")
    for n, pid in enumerate(ids):
        jobs.append(pid, a if n % 2 else b)
    assert len(jobs) == 5 and jobs.renditions() == 8
    assert [j.photo_id for j in jobs] == ids and [j.photo_id for j in jobs[1:3]] == ids[1:3]
    assert jobs[-1].photo_id == ids[4] and jobs[2].label == "name of not-a-uuid"
    assert [j.todo for j in jobs] == [b, a, b, a, b] and jobs[0].todo is jobs[2].todo
