"""The s3 and b2 stores run the store contract suite against moto (through a
fault-injecting proxy); beyond it: verification against damage on the way,
retries, multipart in constant memory, B2's headers, credentials, unfinished
uploads."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
from pathlib import Path

import pytest

from photosync import credentials
from photosync.errors import ConfigError, StoreError, VerificationError
from photosync.stores.base import BlobKey
from photosync.stores.s3 import STALE_UPLOAD_HOURS
from photosync.testing.store import StoreCase, StoreContract

MiB = 1024 * 1024


class S3StoreCase(StoreCase):
    """An s3 store on moto, through the fault proxy (so damage can be injected and requests counted)."""

    type_name = "s3"

    def __init__(self, tmp: Path, bucket: str, proxy, endpoint: str, prefix: str = "library-a"):
        import boto3

        super().__init__(tmp)
        self.bucket = bucket
        self.proxy = proxy
        self.prefix = prefix
        self.direct = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")
        # through the proxy, which keeps when each multipart upload was started (moto does not)
        self.client = boto3.client("s3", endpoint_url=proxy.url, region_name="us-east-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")

    def config(self, **extra) -> dict:
        # parts of 5 MiB (S3's smallest): the suite's 11 MiB blobs go multipart
        return {"type": self.type_name, "bucket": self.bucket, "prefix": self.prefix, "endpoint_url": self.proxy.url,
                "region": "us-east-1", "multipart_threshold": 5 * MiB, "part_size": 5 * MiB, **extra}

    def _key(self, locator: str) -> str:
        return f"{self.prefix}/{locator}"

    def corrupt(self, locator: str) -> None:
        """Bit rot inside the store: same key, same metadata, one byte changed."""
        obj = self.direct.get_object(Bucket=self.bucket, Key=self._key(locator))
        data = bytearray(obj["Body"].read())
        data[len(data) // 2] ^= 0xFF
        self.direct.put_object(Bucket=self.bucket, Key=self._key(locator), Body=bytes(data),
                               Metadata=obj["Metadata"])

    def remove(self, locator: str) -> None:
        self.direct.delete_object(Bucket=self.bucket, Key=self._key(locator))

    def leftovers(self) -> list[str]:
        """Multipart uploads left open (an unfinished upload must be aborted)."""
        uploads = self.direct.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        return [u["Key"] for u in uploads]

    def leave_leftover(self, stale: bool) -> None:
        digest = ("cd" if stale else "ef") * 32
        key = self._key(f"2020/02/{PID}-{digest}.jpg")
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"p" * 5000)
        if stale:  # a client killed mid-upload more than a day ago
            self.proxy.age_uploads(STALE_UPLOAD_HOURS * 3600 + 60, upload_id)

    def unreachable(self) -> dict:
        return {"bucket": f"{self.bucket}-does-not-exist"}

    def requests(self) -> int:
        return sum(self.proxy.requests.values())


class B2StoreCase(S3StoreCase):
    """A b2 store: the same S3 protocol with B2's settings, on moto."""

    type_name = "b2"


class TestS3Store(StoreContract):
    @pytest.fixture
    def case(self, tmp_path, bucket, fault_proxy, moto_endpoint):
        return S3StoreCase(tmp_path, bucket, fault_proxy, moto_endpoint)


class TestB2Store(StoreContract):
    @pytest.fixture
    def case(self, tmp_path, bucket, fault_proxy, moto_endpoint):
        return B2StoreCase(tmp_path, bucket, fault_proxy, moto_endpoint)


class TestS3StoreOnAKmsBucket(StoreContract):
    """The whole contract on a bucket whose default encryption is SSE-KMS: opaque ETags, and S3's
    own check of every body against its Content-MD5 (the proxy's ``kms`` switch)."""

    @pytest.fixture
    def case(self, tmp_path, bucket, fault_proxy, moto_endpoint):
        fault_proxy.kms = True
        return S3StoreCase(tmp_path, bucket, fault_proxy, moto_endpoint)


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


def test_an_upload_is_verified_by_the_answer_to_its_put_with_no_request_more(s3, b2):
    """A single PUT answered with the MD5 of the bytes sent needs no HEAD: after the one listing
    that tells the store nothing is there, N photos cost N requests; damage on the way still
    costs a HEAD and a second PUT, and a multipart upload is still checked with a HEAD."""
    from photosync.stores.s3 import PRELOAD_AT

    for case in (s3, b2):
        store = case.store()
        photos = [os.urandom(20_000) for _ in range(PRELOAD_AT)]
        store.preload(len(photos))
        case.proxy.reset_counts()
        for p in photos:
            assert store.put(key_for(p), io.BytesIO(p)).size == len(p)
        assert dict(case.proxy.requests) == {"PUT": PRELOAD_AT}
        damaged = os.urandom(20_000)
        store.preload(PRELOAD_AT)
        case.proxy.reset_counts()
        case.proxy.corrupt_puts = 1
        blob = store.put(key_for(damaged), io.BytesIO(damaged))
        assert dict(case.proxy.requests) == {"PUT": 2, "HEAD": 1}
        assert store.verify(blob.locator, key_for(damaged).content_hash).ok
    big = os.urandom(6 * MiB)
    store = s3.store()
    s3.proxy.reset_counts()
    store.put(key_for(big), io.BytesIO(big))
    assert s3.proxy.requests["HEAD"] == 2, "asked whether it is there, then checked after the upload"


@pytest.fixture
def kms(tmp_path, bucket, fault_proxy, moto_endpoint):
    """An s3 store case on a bucket whose default encryption is SSE-KMS."""
    fault_proxy.kms = True
    return S3StoreCase(tmp_path, bucket, fault_proxy, moto_endpoint)


def test_an_upload_to_a_kms_bucket_is_checked_by_a_head(kms):
    """Its ETag is not the MD5 of the bytes: S3 checked the body against the Content-MD5 sent with
    it, and a HEAD shows the size, the SHA-256 metadata and the SHA-256 checksum S3 computed."""
    store = kms.store()
    data = os.urandom(30_000)
    key = key_for(data)
    kms.proxy.reset_counts()
    blob = store.put(key, io.BytesIO(data))
    assert dict(kms.proxy.requests) == {"HEAD": 2, "PUT": 1}, "asked whether it is there, sent, checked"
    head = kms.client.head_object(Bucket=kms.bucket, Key=kms._key(blob.locator), ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "aws:kms" and head["ETag"].strip('"') != hashlib.md5(data).hexdigest()
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == key.digest
    assert store.verify(blob.locator, key.content_hash).ok
    assert kms.store().put(key, io.BytesIO(data)).reused
    assert kms.proxy.stored[f"/{kms.bucket}/{kms.prefix}/{key.name}"] == 1
    big = os.urandom(11 * MiB)  # multipart: opaque ETags for its parts and for the whole
    kms.proxy.corrupt_puts = 1
    blob = store.put(key_for(big), io.BytesIO(big))
    assert kms.proxy.corrupt_puts == 0 and store.verify(blob.locator, key_for(big).content_hash).ok
    assert kms.leftovers() == []


def test_damage_on_the_way_to_a_kms_bucket_is_refused_by_s3_and_sent_again(kms):
    store = kms.store()
    for damage in ("corrupt_puts", "truncate_puts"):
        data = os.urandom(200_000)
        key = key_for(data)
        kms.proxy.reset_counts()
        setattr(kms.proxy, damage, 1)
        blob = store.put(key, io.BytesIO(data))
        assert kms.proxy.requests["PUT"] == 2, "refused (BadDigest), then sent again"
        assert kms.proxy.stored[f"/{kms.bucket}/{kms.prefix}/{key.name}"] == 1, "the damaged body never was stored"
        assert store.verify(blob.locator, key.content_hash).ok
    data = os.urandom(100_000)
    key = key_for(data)
    kms.proxy.corrupt_puts = 10
    with pytest.raises(VerificationError, match="BadDigest"):
        store.put(key, io.BytesIO(data))
    kms.proxy.corrupt_puts = 0
    assert store.has(key) is None and store.stat(key.name) is None


def _place(kms, key: BlobKey, body: bytes, sha256: str, checksum: bool) -> None:
    """An object under ``key``'s name, put by another tool: ``body`` with ``sha256`` as its metadata,
    with or without a SHA-256 checksum (which S3 computes from the body it gets)."""
    extra = {"ChecksumAlgorithm": "SHA256"} if checksum else {}
    kms.client.put_object(Bucket=kms.bucket, Key=kms._key(key.name), Body=body, Metadata={"sha256": sha256}, **extra)


@pytest.mark.parametrize("other, checksum", [
    ("other bytes of the same size", True),
    ("other bytes of the same size", False),
    ("fewer bytes", True),
    ("the photo's bytes, another sha256 in the metadata", True),
])
def test_an_object_already_in_a_kms_bucket_is_reused_only_when_it_is_the_photo(kms, other, checksum):
    """Its ETag cannot tell: size and metadata must match, and the SHA-256 checksum S3 computed, or,
    where there is none, the bytes read back."""
    store = kms.store()
    data = os.urandom(50_000)
    key = key_for(data)
    body = bytearray(data)
    sha = key.digest
    if other.startswith("other bytes"):
        body[100] ^= 0xFF
    elif other == "fewer bytes":
        del body[-10:]
    else:
        sha = hashlib.sha256(b"another photo").hexdigest()
    _place(kms, key, bytes(body), sha, checksum)
    blob = store.put(key, io.BytesIO(data))
    assert not blob.reused
    with store.open(blob.locator) as f:
        assert f.read() == data
    assert store.verify(blob.locator, key.content_hash).ok


def test_an_object_in_a_kms_bucket_with_no_checksum_is_read_back_before_it_is_reused(kms):
    store = kms.store()
    data = os.urandom(50_000)
    key = key_for(data)
    _place(kms, key, data, key.digest, checksum=False)
    kms.proxy.reset_counts()
    assert store.put(key, io.BytesIO(data)).reused
    assert dict(kms.proxy.requests) == {"HEAD": 1, "GET": 1}


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
    from photosync.context import Context
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
    path = credentials.save(s3.ctx, "stores", "case", {"access_key_id": "testing", "secret_access_key": "testing"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = b"y" * 1000
    assert s3.store().put(key_for(data), io.BytesIO(data)).size == 1000
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        s3.store().put(key_for(b"z" * 10), io.BytesIO(b"z" * 10))


BLOB = f"2020/02/{PID}-{'ab' * 32}.jpg"


def test_s3_unfinished_uploads_of_photosync_are_aborted_once_a_day_old(s3):
    def start(key: str) -> str:
        return s3.client.create_multipart_upload(Bucket=s3.bucket, Key=key)["UploadId"]

    upload_id = start(f"{s3.prefix}/{BLOB}")  # what a client killed mid-upload leaves
    s3.client.upload_part(Bucket=s3.bucket, Key=f"{s3.prefix}/{BLOB}", UploadId=upload_id, PartNumber=1,
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
