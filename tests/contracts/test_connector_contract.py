"""What every connector must do (run against each case in conftest.CONNECTOR_CASES)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest

from photosync.errors import Unsupported


def listed(conn, **kw):
    kw.setdefault("cursor", None)
    kw.setdefault("since", None)
    kw.setdefault("full_scan", False)
    listing = conn.list(**kw)
    return {ref.id: ref for ref in listing.refs}, listing


def test_lists_every_item_with_stable_ids(connector_case, jpeg_bytes):
    ids = {connector_case.add(f"a/{i}.jpg", jpeg_bytes(i)) for i in range(3)}
    conn = connector_case.connector()
    first, listing = listed(conn)
    assert set(first) == ids
    assert listing.complete
    second, _ = listed(conn)
    assert {i: r.fingerprint for i, r in first.items()} == {i: r.fingerprint for i, r in second.items()}


def test_describe_hashes_what_open_returns(connector_case, jpeg_bytes):
    data = jpeg_bytes(1)
    item_id = connector_case.add("x/photo.jpg", data)
    conn = connector_case.connector()
    refs, _ = listed(conn)
    item = conn.describe(refs[item_id])
    assert item.content_hash == "sha256:" + hashlib.sha256(data).hexdigest()
    assert item.size == len(data)
    assert item.metadata.filename == ("photo.jpg" if connector_case.keeps_filenames else None)
    assert item.metadata.media_type == "photo"
    assert item.metadata.taken_date.startswith("2020-01-02T03:04:05")
    assert item.quality in ("original", "high", "medium", "low")
    with conn.open(item_id) as f:
        assert f.read() == data


def test_a_change_changes_the_fingerprint(connector_case, jpeg_bytes):
    item_id = connector_case.add("c.jpg", jpeg_bytes(1))
    conn = connector_case.connector()
    before, _ = listed(conn)
    connector_case.change(item_id, jpeg_bytes(2))
    after, _ = listed(conn)
    assert before[item_id].fingerprint != after[item_id].fingerprint


def test_removed_items_are_not_listed(connector_case, jpeg_bytes):
    keep = connector_case.add("keep.jpg", jpeg_bytes(1))
    gone = connector_case.add("gone.jpg", jpeg_bytes(2))
    connector_case.remove(gone)
    refs, listing = listed(connector_case.connector())
    assert set(refs) == {keep}


def test_since_limits_the_listing(connector_case, jpeg_bytes):
    if not connector_case.supports_since:
        pytest.skip("this service cannot filter by date")  # pragma: no cover
    old = connector_case.add("old.jpg", jpeg_bytes(1))
    new = connector_case.add("new.jpg", jpeg_bytes(2))
    connector_case.age(old, 30)
    refs, listing = listed(connector_case.connector(), since=datetime.now().astimezone() - timedelta(days=7))
    assert set(refs) == {new}
    assert not listing.complete  # a partial listing must not make other items look gone


def test_unsupported_operations_raise(connector_case):
    conn = connector_case.connector()
    caps = conn.capabilities
    import io

    if not caps.set_visibility:
        with pytest.raises(Unsupported):
            conn.set_visibility("x", "private")
    if not caps.upload:
        data = b"\xff\xd8 not uploaded"
        with pytest.raises(Unsupported):
            conn.upload(_photo_for(data), io.BytesIO(data), len(data), "private")


def _photo_for(data: bytes, caption: str = "A caption\n\nand a description"):
    from photosync.model import Metadata, Photo, Visibility

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return Photo(photo_id="0f0e0d0c-0b0a-4909-8807-060504030201", content_hash=digest, canonical_source="x:y",
                 metadata=Metadata(taken_date="2020-01-02T03:04:05", filename="upload.jpg", caption=caption,
                                   tags=("beach", "two words"), media_type="photo", format="jpeg"),
                 created_at="2020-01-01T00:00:00Z", updated_at="2020-01-01T00:00:00Z",
                 visibility=Visibility("friends"))


def test_an_upload_is_listed_with_the_same_bytes_and_found_again(connector_case, jpeg_bytes):
    conn = connector_case.connector()
    if not conn.capabilities.upload:
        return  # nothing to check: upload() raising Unsupported is covered above
    import io

    data = jpeg_bytes(7)
    photo = _photo_for(data)
    item = conn.upload(photo, io.BytesIO(data), len(data), "friends")
    assert item.visibility == "friends"
    refs, _ = listed(conn)
    assert item.ref.id in refs
    again = conn.describe(refs[item.ref.id])
    assert again.content_hash == photo.content_hash
    assert again.visibility == "friends"
    assert again.metadata.caption == photo.metadata.caption
    def clean(tags):  # services may keep tags in a cleaned form (Flickr: lower case, no spaces)
        return {t.lower().replace(" ", "") for t in tags}

    assert clean(photo.metadata.tags) == clean(again.metadata.tags)
    assert conn.find_uploaded({photo.content_hash, "sha256:" + "0" * 64}) == {
        photo.content_hash: (item.ref.id, "friends")}
    if conn.capabilities.set_visibility:
        assert conn.set_visibility(item.ref.id, "private") == "private"
        refs, _ = listed(conn)
        assert conn.describe(refs[item.ref.id]).visibility == "private"
        # set_visibility only ever narrows: asked to show it wider, it leaves it as it is
        assert conn.set_visibility(item.ref.id, "public") == "private"
        refs, _ = listed(conn)
        assert conn.describe(refs[item.ref.id]).visibility == "private"
