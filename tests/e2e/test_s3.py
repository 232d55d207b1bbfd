"""S3 and B2 stores through the real command, against moto over HTTP (through
the fault proxy), with keys from 'store login'."""

from __future__ import annotations

import hashlib
import time
import json
import os
import subprocess
import sys
from datetime import datetime

import boto3
from helpers import git_status, kill_repeatedly

from photosync.sample import generate_corpus, make_photo


def objects(endpoint: str, bucket: str, prefix: str) -> dict[str, dict]:
    c = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing")
    out = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            head = c.head_object(Bucket=bucket, Key=o["Key"])
            body = _read(c, bucket, o["Key"])
            out[o["Key"][len(prefix) + 1:]] = {"sha256": hashlib.sha256(body).hexdigest(), "meta": head["Metadata"]}
    return out


def _read(client, bucket: str, key: str) -> bytes:
    """An object's bytes.  moto can answer a read of an object that a killed
    upload is still replacing with an empty body under the old checksum; that
    read is tried again (a stored object that is really damaged stays damaged)."""
    from botocore.exceptions import FlexibleChecksumError

    for attempt in range(5):
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except FlexibleChecksumError:
            if attempt == 4:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def library_with_photos(tmp_path, cli, n):
    pics = tmp_path / "pics"
    generate_corpus(pics, n, seed=11, size=(160, 120), noise=8)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "discover", check=0)
    cli("-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    return lib, pics


def login(lib, name, env=None):
    p = subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "store", "login", name],
                       input="testing\ntesting\n", capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return p


def test_replicate_to_s3_with_keys_from_login_and_audit_downloads(tmp_path, cli, bucket, fault_proxy, moto_endpoint,
                                                                   monkeypatch):
    lib, _ = library_with_photos(tmp_path, cli, 12)
    r = cli("-L", str(lib), "store", "add", "offsite", "--type", "s3", "--bucket", bucket, "--prefix", "family",
            "--endpoint-url", fault_proxy.url, "--region", "us-east-1", check=0)
    assert "store login offsite" in r.out
    prefs = (lib / "config/user-preferences.json").read_text()
    assert "testing" not in prefs and "secret" not in prefs
    # no keys anywhere: a clear message naming what to set
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")}
    p = subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "replicate", "--execute"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 1
    assert "photosync store login offsite" in p.stderr and "AWS_ACCESS_KEY_ID" in p.stderr
    login(lib, "offsite", env)
    cred_file = os.path.join(os.environ["PHOTOSYNC_CONFIG_DIR"], "credentials", "stores", "offsite.json")
    assert oct(os.stat(cred_file).st_mode & 0o777) == "0o600"
    fault_proxy.corrupt_puts = 2  # damage on the way: caught by verification, sent again
    p = subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "replicate", "--execute"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert "12 photos now replicated" in p.stdout
    stored = objects(moto_endpoint, bucket, "family")
    assert len(stored) == 12
    for name, o in stored.items():
        assert name.split("-")[-1].startswith(o["sha256"]) and o["meta"]["sha256"] == o["sha256"]
    status = json.loads(subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "status", "--json"],
                                       capture_output=True, text=True, env=env).stdout)
    assert status["stores"]["offsite"]["copies"] == 12 and status["below_min_copies"] == 0
    rec = json.loads(next((lib / "photos").rglob("*.json")).read_text())
    assert rec["blobs"]["offsite"]["locator"] in stored

    # a no-change replicate makes no S3 request at all
    fault_proxy.reset_counts()
    p = subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "replicate", "--execute"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0 and sum(fault_proxy.requests.values()) == 0

    # audit downloads and re-hashes; incremental passes resume where they stopped
    bad_key = f"family/{sorted(stored)[0]}"
    c = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing")
    obj = c.get_object(Bucket=bucket, Key=bad_key)
    body = bytearray(obj["Body"].read())
    body[10] ^= 0xFF
    c.put_object(Bucket=bucket, Key=bad_key, Body=bytes(body), Metadata=obj["Metadata"])
    fault_proxy.reset_counts()
    first = subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "audit", "--blobs", "--store",
                            "offsite", "--incremental", "--sample", "6"], capture_output=True, text=True, env=env)
    assert "6 copies of 6 photos checked" in first.stdout and "6 copies still to check" in first.stdout
    second = subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "audit", "--blobs", "--store",
                             "offsite", "--incremental"], capture_output=True, text=True, env=env)
    assert "6 copies of 6 photos checked" in second.stdout and "this pass is complete" in second.stdout
    assert fault_proxy.requests["GET"] >= 12, "remote copies are downloaded, not assumed"
    assert sorted([first.returncode, second.returncode]) == [0, 1]
    assert "corrupt" in first.stdout + second.stdout
    p = subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "replicate", "--execute"],
                       capture_output=True, text=True, env=env)
    assert "copied 1 file " in p.stdout
    assert objects(moto_endpoint, bucket, "family")[sorted(stored)[0]]["sha256"] == stored[sorted(stored)[0]]["sha256"]
    assert git_status(lib) == ""


def test_b2_store_add_needs_a_region_and_works_through_the_s3_api(tmp_path, cli, bucket, fault_proxy):
    pics = tmp_path / "pics"
    make_photo(pics / "a.jpg", seed=1, taken=datetime(2020, 1, 1))
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    r = cli("-L", str(lib), "store", "add", "bb", "--type", "b2", "--bucket", bucket)
    assert r.code == 2 and "--region" in r.err
    cli("-L", str(lib), "store", "add", "bb", "--type", "b2", "--bucket", bucket, "--endpoint-url",
        fault_proxy.url, "--region", "us-west-004", check=0)
    cli("-L", str(lib), "discover", check=0)
    cli("-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    r = cli("-L", str(lib), "replicate", "--execute", check=0)
    assert "1 photo now replicated" in r.out


def test_kill_replicate_to_s3_at_random_moments(tmp_path, cli, bucket, fault_proxy, moto_endpoint):
    """kill -9 during uploads, many times: every recorded copy is there and
    verified, and no object is ever stored twice."""
    lib, _ = library_with_photos(tmp_path, cli, 300)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["blob_storage"]["stores"]["offsite"] = {"type": "s3", "bucket": bucket, "prefix": "p",
                                                  "endpoint_url": fault_proxy.url, "region": "us-east-1"}
    prefs["blob_storage"]["primary"] = "offsite"  # only the s3 store: every copy is an upload
    prefs["blob_storage"]["min_copies"] = 1
    prefs["sync_preferences"]["commit_batch_size"] = 5
    prefs_path.write_text(json.dumps(prefs, indent=2))
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")

    def every_recorded_copy_is_verified() -> None:
        # only what the library records: an upload cut by the kill may leave moto a damaged object
        # under a key nothing names yet (the rerun replaces it)
        for rec_path in (lib / "photos").rglob("*.json"):
            rec = json.loads(rec_path.read_text())
            copy = rec["blobs"].get("offsite")
            if copy:
                body = _read(client, bucket, "p/" + copy["locator"])
                assert hashlib.sha256(body).hexdigest() == rec["content_hash"][7:], "recorded but not verified"

    kills = kill_repeatedly(["-L", str(lib), "replicate", "--execute"], times=12, pause=(0.45, 1.0), seed=7,
                            after_kill=every_recorded_copy_is_verified)
    assert kills >= 3, "replicate finished before it could be killed: the test proves nothing"
    cli("-L", str(lib), "replicate", "--execute", check=0)
    status = cli("-L", str(lib), "status", "--json", check=0).json
    assert status["states"]["replicated"] == 300
    twice = {k: v for k, v in fault_proxy.stored.items() if v > 1}
    assert twice == {}, f"uploaded twice: {twice}"
    assert len(objects(moto_endpoint, bucket, "p")) == 300
    assert subprocess.run(["git", "-C", str(lib), "fsck", "--strict"], capture_output=True).returncode == 0
    assert git_status(lib) == ""


def test_replicate_to_a_kms_bucket_stores_verifies_and_audits_every_photo(tmp_path, cli, bucket, fault_proxy,
                                                                          moto_endpoint):
    """A bucket whose default encryption is SSE-KMS answers ETags that are not the MD5 of the
    bytes: every photo is still stored and verified (S3 checked each body against its Content-MD5
    on arrival), a body damaged on the way is refused by S3 and sent again, and audit reads the
    copies back and finds a damaged one."""
    fault_proxy.kms = True
    lib, _ = library_with_photos(tmp_path, cli, 8)
    cli("-L", str(lib), "store", "add", "offsite", "--type", "s3", "--bucket", bucket, "--prefix", "family",
        "--endpoint-url", fault_proxy.url, "--region", "us-east-1", check=0)
    fault_proxy.corrupt_puts = 2  # damage on the way: S3 answers BadDigest, nothing is stored
    r = cli("-L", str(lib), "replicate", "--execute")
    assert r.code == 0, r.out + r.err
    assert "8 photos now replicated" in r.out
    assert fault_proxy.corrupt_puts == 0, "the damage was done: the test proves something"
    stored = objects(moto_endpoint, bucket, "family")
    assert len(stored) == 8
    for name, o in stored.items():
        assert name.split("-")[-1].startswith(o["sha256"]) and o["meta"]["sha256"] == o["sha256"]
    assert set(fault_proxy.stored.values()) == {1}, "a damaged body never became an object"
    for rec_path in (lib / "photos").rglob("*.json"):
        rec = json.loads(rec_path.read_text())
        assert rec["blobs"]["offsite"]["locator"] in stored
    # the fake is a KMS bucket: the ETag photosync sees is not the MD5 of the bytes
    c = boto3.client("s3", endpoint_url=fault_proxy.url, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing")
    some = sorted(stored)[0]
    head = c.head_object(Bucket=bucket, Key=f"family/{some}")
    body = _read(c, bucket, f"family/{some}")
    assert head["ServerSideEncryption"] == "aws:kms" and head["ETag"].strip('"') != hashlib.md5(body).hexdigest()

    audit = cli("-L", str(lib), "audit", "--blobs", "--store", "offsite")
    assert audit.code == 0, audit.out + audit.err
    assert "8 copies of 8 photos checked" in audit.out
    direct = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    damaged = bytearray(body)
    damaged[len(damaged) // 2] ^= 0xFF
    direct.put_object(Bucket=bucket, Key=f"family/{some}", Body=bytes(damaged), Metadata=head["Metadata"])
    audit = cli("-L", str(lib), "audit", "--blobs", "--store", "offsite")
    assert audit.code == 1 and "corrupt" in audit.out, audit.out + audit.err
    r = cli("-L", str(lib), "replicate", "--execute", check=0)
    assert "copied 1 file " in r.out
    assert objects(moto_endpoint, bucket, "family")[some]["sha256"] == stored[some]["sha256"]
    cli("-L", str(lib), "audit", "--blobs", "--store", "offsite", check=0)
    assert git_status(lib) == ""


def test_a_body_damaged_on_the_way_to_a_kms_bucket_every_time_is_never_recorded(tmp_path, cli, bucket, fault_proxy,
                                                                               moto_endpoint):
    fault_proxy.kms = True
    pics = tmp_path / "pics"
    make_photo(pics / "a.jpg", seed=3, taken=datetime(2021, 5, 1))
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "store", "add", "offsite", "--type", "s3", "--bucket", bucket, "--prefix", "p",
        "--endpoint-url", fault_proxy.url, "--region", "us-east-1", check=0)
    cli("-L", str(lib), "discover", check=0)
    cli("-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    fault_proxy.corrupt_puts = 1000
    r = cli("-L", str(lib), "replicate", "--execute")
    assert r.code != 0
    assert "BadDigest" in r.out + r.err, r.out + r.err
    rec = json.loads(next((lib / "photos").rglob("*.json")).read_text())
    assert "offsite" not in rec.get("blobs", {})
    assert objects(moto_endpoint, bucket, "p") == {}
    fault_proxy.corrupt_puts = 0
    r = cli("-L", str(lib), "replicate", "--execute", check=0)
    rec = json.loads(next((lib / "photos").rglob("*.json")).read_text())
    assert rec["blobs"]["offsite"]["locator"] in objects(moto_endpoint, bucket, "p")
