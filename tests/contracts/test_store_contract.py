"""What every blob store must do (run against each case in conftest.STORE_CASES)."""

from __future__ import annotations

import hashlib
import io

import pytest

from photosync.errors import StoreError, VerificationError
from photosync.stores.base import BlobKey

PID = "3f1c0a4e-8d1b-5c2e-9f00-000000000001"


def key_for(data: bytes, ext: str = "jpg") -> BlobKey:
    return BlobKey(PID, "sha256:" + hashlib.sha256(data).hexdigest(), "2019-07-04T14:22:33+02:00", ext)


def test_put_then_read_back(store_case):
    store = store_case.store()
    data = b"original bytes" * 1000
    key = key_for(data)
    assert store.has(key) is None
    blob = store.put(key, io.BytesIO(data), len(data))
    store.flush()
    assert blob.locator == f"2019/07/{PID}-{key.digest}.jpg"
    assert blob.size == len(data) and not blob.reused
    assert store.has(key).size == len(data)
    assert store.stat(blob.locator) == len(data)
    with store.open(blob.locator) as f:
        assert f.read() == data
    assert store.verify(blob.locator, key.content_hash).ok
    assert (blob.locator, len(data)) in set(store.list())


def test_wrong_bytes_are_refused_and_nothing_is_stored(store_case):
    store = store_case.store()
    key = key_for(b"the real photo")
    with pytest.raises(VerificationError):
        store.put(key, io.BytesIO(b"something else"), None)
    assert store.has(key) is None
    assert store_case.leftovers() == []


def test_same_blob_twice_is_not_copied_again(store_case):
    store = store_case.store()
    data = b"x" * 5000
    key = key_for(data)
    store.put(key, io.BytesIO(data))
    again = store.put(key, io.BytesIO(data))
    assert again.reused


def test_corruption_and_loss_are_found_and_repaired_without_deleting(store_case):
    store = store_case.store()
    data = bytes(range(256)) * 64
    key = key_for(data)
    blob = store.put(key, io.BytesIO(data))
    store_case.corrupt(blob.locator)
    check = store.verify(blob.locator, key.content_hash)
    assert not check.ok and "corrupt" in check.reason
    repaired = store.put(key, io.BytesIO(data))
    assert not repaired.reused
    assert store.verify(repaired.locator, key.content_hash).ok
    store_case.remove(blob.locator)
    assert store.verify(blob.locator, key.content_hash).reason == "missing"
    with pytest.raises(StoreError):
        store.open(blob.locator)


def test_stores_do_not_delete(store_case):
    """Zero data loss: a store has no delete operation at all (not a flag that says it would not)."""
    store = store_case.store()
    assert not any(hasattr(store, name) for name in ("delete", "remove", "delete_blob"))
