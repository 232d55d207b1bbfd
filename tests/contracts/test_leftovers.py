"""What a writer killed mid-put leaves in a store (a local temp file, an
unfinished S3 multipart upload) is removed by the next run, and the work of a
writer that may still be running is never touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import LocalStoreCase, S3StoreCase

from photosync.stores.local import STALE_AFTER, temp_prefix
from photosync.stores.s3 import STALE_UPLOAD_HOURS

PID = "3f1c0a4e-8d1b-5c2e-9f00-000000000002"
BLOB = f"2020/02/{PID}-{'ab' * 32}.jpg"


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _touch(path, data: bytes = b"x" * 1000, age: float = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age:
        t = time.time() - age
        os.utime(path, (t, t))


def test_local_leftovers_of_dead_writers_go_and_live_writers_files_stay(tmp_path):
    case = LocalStoreCase(tmp_path)
    store = case.store()
    tmp = case.root / ".tmp"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = tmp / f"{temp_prefix(_dead_pid())}k1l2m3n4.part"
        mine = tmp / f"{temp_prefix()}a1b2c3d4.part"  # this process, not writing it: a killed run's, pid reused
        alive = tmp / f"{temp_prefix(live.pid)}e5f6g7h8.part"
        elsewhere_new = tmp / ".tmp-4242@nas-box.0badcafe-q1w2e3r4.part"
        elsewhere_old = tmp / ".tmp-4243@nas-box.0badcafe-t5y6u7i8.part"
        old_style_new = case.root / "2020/02/.tmp-x9y8z7w6.part"  # named by photosync before it named writers
        old_style_old = case.root / "2020/03/.tmp-v5u4t3s2.part"
        for p in (dead, mine, alive, elsewhere_new, old_style_new):
            _touch(p)
        for p in (elsewhere_old, old_style_old):
            _touch(p, age=STALE_AFTER + 60)
        blob = case.root / BLOB
        _touch(blob, age=10 * STALE_AFTER)  # a blob, however old, is never a leftover

        quick = store.clean_temp()  # replicate: only .tmp/
        assert (quick.removed, quick.kept) == (3, 2)
        assert quick.removed_bytes == 3000
        assert not dead.exists() and not mine.exists() and not elsewhere_old.exists()
        assert alive.exists() and elsewhere_new.exists()
        assert old_style_new.exists() and old_style_old.exists()

        full = store.clean_temp(thorough=True)  # audit --blobs: every folder
        assert (full.removed, full.kept) == (1, 3)
        assert not old_style_old.exists() and old_style_new.exists() and alive.exists()
        assert blob.exists()
    finally:
        live.kill()
        live.wait()
    assert store.clean_temp().removed == 1  # its writer is gone now
    assert not alive.exists()
    assert [name for name, _ in store.list()] == [BLOB]


def test_a_put_leaves_nothing_behind_and_lists_only_blobs(tmp_path):
    import hashlib
    import io

    from photosync.stores.base import BlobKey

    case = LocalStoreCase(tmp_path)
    store = case.store()
    data = os.urandom(10_000)
    key = BlobKey(PID, "sha256:" + hashlib.sha256(data).hexdigest(), "2020-02-02T10:00:00", "jpg")
    store.put(key, io.BytesIO(data))
    assert case.leftovers() == []
    assert [name for name, _ in store.list()] == [key.name]
    assert store.clean_temp(thorough=True).removed == 0


@pytest.fixture
def s3(tmp_path, bucket, fault_proxy, moto_endpoint):
    return S3StoreCase(tmp_path, bucket, fault_proxy, moto_endpoint)


def test_s3_unfinished_uploads_of_photosync_are_aborted_once_a_day_old(s3):
    import boto3

    client = boto3.client("s3", endpoint_url=s3.proxy.url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")

    def start(key: str) -> str:
        return client.create_multipart_upload(Bucket=s3.bucket, Key=key)["UploadId"]

    upload_id = start(f"{s3.prefix}/{BLOB}")  # what a client killed mid-upload leaves
    client.upload_part(Bucket=s3.bucket, Key=f"{s3.prefix}/{BLOB}", UploadId=upload_id, PartNumber=1,
                       Body=b"p" * 5000)
    start(f"{s3.prefix}/notes/draft.txt")  # another tool's upload under the prefix
    start(f"other-library/{BLOB}")  # another prefix
    store = s3.store()
    fresh = store.clean_temp()  # it may be a live upload: left alone
    assert (fresh.removed, fresh.kept) == (0, 1)
    assert len(s3.leftovers()) == 3
    s3.proxy.age_uploads(STALE_UPLOAD_HOURS * 3600 + 60)
    old = store.clean_temp()
    assert (old.removed, old.removed_bytes, old.kept) == (1, 5000, 0)
    assert sorted(s3.leftovers()) == sorted([f"{s3.prefix}/notes/draft.txt", f"other-library/{BLOB}"])
