"""The s3 and b2 stores beyond the shared contract: verification against
damage on the way, retries, multipart in constant memory, B2's headers,
credentials."""

from __future__ import annotations

import hashlib
import io
import os
import stat

import pytest
from conftest import B2StoreCase, S3StoreCase

from photosync import credentials
from photosync.context import Context
from photosync.errors import ConfigError, StoreError, VerificationError
from photosync.stores.base import BlobKey

PID = "3f1c0a4e-8d1b-5c2e-9f00-000000000002"


def key_for(data: bytes) -> BlobKey:
    return BlobKey(PID, "sha256:" + hashlib.sha256(data).hexdigest(), "2020-02-02T10:00:00", "mp4")


@pytest.fixture
def s3(tmp_path, bucket, fault_proxy, moto_endpoint):
    return S3StoreCase(tmp_path, bucket, fault_proxy, moto_endpoint)


@pytest.fixture
def b2(tmp_path, bucket, fault_proxy, moto_endpoint):
    return B2StoreCase(tmp_path, bucket, fault_proxy, moto_endpoint)


def test_damage_on_the_way_is_caught_and_sent_again(s3):
    store = s3.store()
    data = os.urandom(300_000)
    key = key_for(data)
    s3.proxy.corrupt_puts = 1
    blob = store.put(key, io.BytesIO(data))
    assert store.verify(blob.locator, key.content_hash).ok
    assert s3.proxy.stored[f"/{s3.bucket}/{s3.prefix}/{key.name}"] == 2, "the damaged upload was replaced"
    s3.proxy.truncate_puts = 1
    other = os.urandom(200_000)
    blob = store.put(key_for(other), io.BytesIO(other))
    assert store.verify(blob.locator, key_for(other).content_hash).ok


def test_damage_every_time_is_an_error_and_never_counts(s3):
    store = s3.store()
    data = os.urandom(100_000)
    s3.proxy.corrupt_puts = 10
    with pytest.raises(VerificationError, match="differs from what was sent"):
        store.put(key_for(data), io.BytesIO(data))


def test_throttling_is_retried(s3):
    store = s3.store()
    data = os.urandom(50_000)
    s3.proxy.fail_next = 3
    blob = store.put(key_for(data), io.BytesIO(data))
    assert blob.size == len(data)
    assert s3.proxy.fail_next == 0


def test_an_object_already_there_is_not_uploaded_again(s3):
    store = s3.store()
    data = os.urandom(80_000)
    key = key_for(data)
    store.put(key, io.BytesIO(data))
    again = store.put(key, io.BytesIO(data))
    assert again.reused
    assert s3.proxy.stored[f"/{s3.bucket}/{s3.prefix}/{key.name}"] == 1


UPLOAD_ONE = """
import json, sys
from pathlib import Path
from photosync.context import Context
from photosync.stores import registry
from photosync.stores.base import BlobKey, StoreContext
config, path, digest = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
store = registry.create("case", config, StoreContext(Path("."), Context(Path("cfg"))))
with open(path, "rb") as f:
    blob = store.put(BlobKey("3f1c0a4e-8d1b-5c2e-9f00-000000000002", "sha256:" + digest, None, "mp4"), f)
# VmHWM, not ru_maxrss: the latter keeps the peak of the forked parent across exec
print(int(dict(l.split(":", 1) for l in open("/proc/self/status"))["VmHWM"].split()[0]) // 1024)
"""


def upload_in_a_process(s3, tmp_path, size_mib: int, part: int) -> tuple[int, str, str]:
    """Upload a file of ``size_mib`` from another process: (its peak RSS in MB, key name, sha256)."""
    import json
    import subprocess
    import sys

    path = tmp_path / f"video-{size_mib}.mp4"
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(size_mib):
            chunk = os.urandom(1024 * 1024)
            h.update(chunk)
            f.write(chunk)
    config = s3.config(multipart_threshold=part, part_size=part)
    p = subprocess.run([sys.executable, "-c", UPLOAD_ONE, json.dumps(config), str(path), h.hexdigest()],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    key = BlobKey(PID, "sha256:" + h.hexdigest(), None, "mp4")
    return int(p.stdout.strip()), key.name, h.hexdigest()


def test_large_files_go_multipart_in_constant_memory(s3, tmp_path):
    part = 5 * 1024 * 1024
    small_rss, _, _ = upload_in_a_process(s3, tmp_path, 12, part)
    s3.proxy.corrupt_puts = 1  # one damaged part: the whole upload is checked and sent again
    big_rss, name, digest = upload_in_a_process(s3, tmp_path, 60, part)
    assert big_rss - small_rss < 8, f"memory grew with the file: {small_rss} MB for 12 MiB, {big_rss} MB for 60 MiB"
    head = s3.direct.head_object(Bucket=s3.bucket, Key=f"{s3.prefix}/{name}")
    assert head["ETag"].strip('"').endswith("-12")
    assert head["Metadata"]["sha256"] == digest
    store = s3.store(multipart_threshold=part, part_size=part)
    assert store.verify(name, "sha256:" + digest).ok
    with open(tmp_path / "video-60.mp4", "rb") as f:
        assert store.put(BlobKey(PID, "sha256:" + digest, None, "mp4"), f).reused
    assert s3.leftovers() == []


def test_b2_sends_only_headers_b2_accepts(b2, s3):
    data = os.urandom(40_000)
    b2.store().put(key_for(data), io.BytesIO(data))
    sent = set().union(*b2.proxy.headers)
    refused = {h for h in sent if h.startswith("x-amz-checksum-") or h in (
        "x-amz-sdk-checksum-algorithm", "x-amz-acl", "x-amz-storage-class", "x-amz-trailer")}
    assert refused == set(), f"B2 would refuse: {refused}"
    # the same call from the s3 store does send boto3's checksum headers: the check above can fail
    b2.proxy.reset_counts()
    other = os.urandom(40_000)
    s3.store().put(key_for(other), io.BytesIO(other))
    assert any(h.startswith("x-amz-checksum-") or h == "x-amz-sdk-checksum-algorithm"
               for h in set().union(*b2.proxy.headers))


def test_b2_refuses_storage_classes_and_needs_an_endpoint(tmp_path):
    from photosync.stores import registry
    from photosync.stores.base import StoreContext

    env = StoreContext(tmp_path, Context(tmp_path / "c"))
    with pytest.raises(ConfigError, match="storage classes"):
        registry.create("b", {"type": "b2", "bucket": "bkt", "region": "us-west-004", "storage_class": "GLACIER"}, env)
    with pytest.raises(ConfigError, match="--region"):
        registry.create("b", {"type": "b2", "bucket": "bkt"}, env)
    store = registry.create("b", {"type": "b2", "bucket": "bkt", "region": "us-west-004"}, env)
    assert store.config["endpoint_url"] == "https://s3.us-west-004.backblazeb2.com"


def test_missing_and_refused_credentials_say_what_to_set(s3, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    data = b"x" * 1000
    with pytest.raises(StoreError, match="no credentials.*photosync store login case.*AWS_ACCESS_KEY_ID"):
        s3.store().put(key_for(data), io.BytesIO(data))
    s3.proxy.refuse_credentials = True
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "wrong")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(StoreError, match="credentials were refused.*store login case"):
        s3.store().put(key_for(data), io.BytesIO(data))
    s3.proxy.refuse_credentials = False


def test_keys_from_the_credentials_file_which_must_be_private(s3, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    ctx = Context(s3.tmp / "c")
    path = credentials.save(ctx, "stores", "case", {"access_key_id": "testing", "secret_access_key": "testing"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = b"y" * 1000
    assert s3.store().put(key_for(data), io.BytesIO(data)).size == 1000
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        s3.store().put(key_for(b"z" * 10), io.BytesIO(b"z" * 10))
