"""Every store keeps to its own folder or key space: a locator (from a record a person can edit)
that would lead outside it is refused before anything is read or asked for; blob keys are built
from checked parts only; a folder connector reads nothing outside its folder."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from photosync.errors import SourceError, UnsafeLocator
from photosync.library.layout import blob_name
from photosync.stores.base import BlobKey

PID = "3f1c0a4e-8d1b-5c2e-9f00-000000000003"
UNSAFE = ["../../../victim.jpg", "/etc/hostname", "2020/../../x.jpg", "2020/./x.jpg", "2020//x.jpg", "a\\..\\b.jpg"]


@pytest.mark.parametrize("locator", UNSAFE)
def test_a_locator_outside_the_store_is_refused_unread(store_case, tmp_path, locator):
    store = store_case.store()
    victim = tmp_path / "victim.jpg"
    victim.write_bytes(b"not yours")
    proxy = getattr(store_case, "proxy", None)
    if proxy is not None:
        proxy.reset_counts()
    with pytest.raises(UnsafeLocator, match="refused"):
        store.open(locator)
    with pytest.raises(UnsafeLocator):
        store.stat(locator)
    check = store.verify(locator, "sha256:" + hashlib.sha256(b"not yours").hexdigest())
    assert not check.ok and "not checked" in check.reason and "refused" in check.reason
    if proxy is not None:
        assert sum(proxy.requests.values()) == 0, "nothing was asked of the service"


def test_a_link_inside_a_local_store_that_leads_out_of_it_is_refused(tmp_path):
    from photosync.context import Context
    from photosync.stores.base import StoreContext
    from photosync.stores.local import LocalStore

    root = tmp_path / "store"
    (root / "2020").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.jpg").write_bytes(b"secret")
    os.symlink(outside, root / "2020" / "01")
    store = LocalStore("nas", {"type": "local", "path": str(root)}, StoreContext(tmp_path, Context(tmp_path / "c")))
    with pytest.raises(UnsafeLocator, match="outside"):
        store.open("2020/01/x.jpg")
    data = b"photo bytes"
    key = BlobKey(PID, "sha256:" + hashlib.sha256(data).hexdigest(), "2020-01-05T10:00:00", "jpg")
    with pytest.raises(UnsafeLocator):
        store.put(key, io.BytesIO(data))
    assert sorted(p.name for p in outside.iterdir()) == ["x.jpg"], "nothing written outside the store"


@pytest.mark.parametrize("ext", ["jpg/../../x", "../jpg", "j.pg", "", "averylongextension", "JPG\x00"])
def test_blob_keys_are_built_from_checked_parts_only(ext):
    digest = "sha256:" + "ab" * 32
    if ext == "":
        assert blob_name(PID, digest, None, ext) == f"undated/{PID}-{'ab' * 32}.bin"
        return
    with pytest.raises(ValueError, match="extension"):
        blob_name(PID, digest, "2020-01-01T00:00:00", ext)
    with pytest.raises(ValueError):
        blob_name("../../x", digest, "2020-01-01T00:00:00", "jpg")
    assert blob_name(PID, digest, "2020-01-01T00:00:00", "JPG") == f"2020/01/{PID}-{'ab' * 32}.jpg"


@pytest.mark.parametrize("item_id", ["../victim.jpg", "../../etc/passwd", "/etc/passwd", "a/../../victim.jpg"])
def test_a_folder_connector_reads_nothing_outside_its_folder(tmp_path, item_id):
    from photosync.connectors.base import ConnectorContext
    from photosync.connectors.local import LocalConnector
    from photosync.context import Context
    from photosync.events import Collector, Tally

    folder = tmp_path / "pics"
    folder.mkdir()
    (tmp_path / "victim.jpg").write_bytes(b"not yours")
    env = ConnectorContext(library_root=tmp_path, ctx=Context(tmp_path / "c"), report=Tally(Collector()))
    conn = LocalConnector("pics", {"type": "local", "enabled": True, "path": str(folder)}, env)
    with pytest.raises(SourceError, match=r"instances\.pics\[\]\.id.*refused"):
        conn.open(item_id)
    with pytest.raises(SourceError, match="refused"):
        conn.open("ok.jpg", raw_name=item_id.encode())
