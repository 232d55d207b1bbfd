"""The cases every connector and every store contract test runs against.

A case knows how to build the thing under test and how to change the world
behind it (add, change, remove an item; damage a stored blob), so the same
tests run against the local folder today and each service's fake tomorrow.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from photosync.connectors.base import ConnectorContext
from photosync.context import Context
from photosync.events import Collector, Tally
from photosync.stores.base import StoreContext


class LocalFolderCase:
    """The local connector over a folder of files."""

    supports_since = True
    keeps_filenames = True

    def __init__(self, tmp: Path):
        self.folder = tmp / "folder"
        self.folder.mkdir()
        self.tmp = tmp

    def connector(self):
        from photosync.connectors.local import LocalConnector

        env = ConnectorContext(library_root=self.tmp, ctx=Context(self.tmp / "cfg"), report=Tally(Collector()))
        return LocalConnector("case", {"type": "local", "enabled": True, "path": str(self.folder)}, env)

    def add(self, rel: str, data: bytes) -> str:
        p = self.folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return rel

    def change(self, item_id: str, data: bytes) -> None:
        p = self.folder / item_id
        st = p.stat()
        p.write_bytes(data)
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    def remove(self, item_id: str) -> None:
        (self.folder / item_id).unlink()

    def age(self, item_id: str, days: int) -> None:
        import time

        t = time.time() - days * 86400
        os.utime(self.folder / item_id, (t, t))


class FlickrCase:
    """The flickr connector against the fake Flickr (real flickrapi, HTTP on loopback)."""

    supports_since = True
    keeps_filenames = False  # Flickr keeps no file names

    KEY = "0123456789abcdef0123456789abcdef"
    SECRET = "fedcba9876543210"

    def __init__(self, tmp: Path):
        from fakes.flickr import FakeFlickr
        from photosync import credentials

        self.tmp = tmp
        self.fake = FakeFlickr(api_key=self.KEY, api_secret=self.SECRET, user_nsid="12345678@N00",
                               username="tester", fullname="Test Person", pro=True)
        self.fake.start()
        self.ctx = Context(tmp / "cfg")
        token, secret = self.fake.issue_token(perms="write")
        credentials.save(self.ctx, "services", "case", {
            "api_key": self.KEY, "api_secret": self.SECRET, "oauth_token": token, "oauth_token_secret": secret,
            "perms": "write", "user_nsid": "12345678@N00", "username": "tester", "fullname": "Test Person"})

    def connector(self):
        from photosync.connectors.flickr import FlickrConnector

        env = ConnectorContext(library_root=self.tmp, ctx=self.ctx, report=Tally(Collector()))
        config = {"type": "flickr", "enabled": True, "endpoints": self.fake.endpoints,
                  "retry": {"attempts": 4, "base_seconds": 0.01}, "rate_limit": {"requests_per_hour": 1e7}}
        return FlickrConnector("case", config, env)

    def add(self, rel: str, data: bytes) -> str:
        import io

        from PIL import Image

        taken = Image.open(io.BytesIO(data)).getexif().get_ifd(0x8769).get(0x9003)  # DateTimeOriginal
        date = taken.replace(":", "-", 2) if taken else "2020-01-02 03:04:05"
        return self.fake.add_photo(data=data, title=Path(rel).stem, date_taken=date)

    def change(self, item_id: str, data: bytes) -> None:
        self.fake.replace_data(item_id, data)

    def remove(self, item_id: str) -> None:
        self.fake.delete_photo(item_id)

    def age(self, item_id: str, days: int) -> None:
        self.fake.age(item_id, days)

    def close(self) -> None:
        self.fake.stop()


class LocalStoreCase:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.root = tmp / "store"
        self.root.mkdir()

    def store(self):
        from photosync.stores.local import LocalStore

        return LocalStore("case", {"type": "local", "path": str(self.root)}, StoreContext(self.tmp, Context(self.tmp / "c")))

    def corrupt(self, locator: str) -> None:
        p = self.root / locator
        os.chmod(p, 0o644)
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0xFF
        p.write_bytes(bytes(data))

    def remove(self, locator: str) -> None:
        (self.root / locator).unlink()

    def leftovers(self) -> list[str]:
        """Files in the store that are neither blobs nor set-aside corrupt copies."""
        return [str(p.relative_to(self.root)) for p in self.root.rglob("*")
                if p.is_file() and p.name.startswith(".tmp-")]


class S3StoreCase:
    """An s3 store on moto, through the fault proxy (so damage can be injected)."""

    type_name = "s3"

    def __init__(self, tmp: Path, bucket: str, proxy, endpoint: str, prefix: str = "library-a"):
        import boto3

        self.tmp = tmp
        self.bucket = bucket
        self.proxy = proxy
        self.prefix = prefix
        self.direct = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")

    def config(self, **extra) -> dict:
        return {"type": self.type_name, "bucket": self.bucket, "prefix": self.prefix,
                "endpoint_url": self.proxy.url, "region": "us-east-1", **extra}

    def store(self, **extra):
        from photosync.stores import registry

        return registry.create("case", self.config(**extra), StoreContext(self.tmp, Context(self.tmp / "c")))

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


class B2StoreCase(S3StoreCase):
    """A b2 store: the same S3 protocol with B2's settings, on moto."""

    type_name = "b2"


CONNECTOR_CASES = {"local": LocalFolderCase, "flickr": FlickrCase}
STORE_CASES = {"local": LocalStoreCase, "s3": S3StoreCase, "b2": B2StoreCase}


@pytest.fixture(params=sorted(CONNECTOR_CASES))
def connector_case(request, tmp_path):
    case = CONNECTOR_CASES[request.param](tmp_path)
    yield case
    if hasattr(case, "close"):
        case.close()


@pytest.fixture(params=sorted(STORE_CASES))
def store_case(request, tmp_path):
    cls = STORE_CASES[request.param]
    if issubclass(cls, S3StoreCase):
        case = cls(tmp_path, request.getfixturevalue("bucket"), request.getfixturevalue("fault_proxy"),
                   request.getfixturevalue("moto_endpoint"))
    else:
        case = cls(tmp_path)
    yield case
    if hasattr(case, "close"):
        case.close()


@pytest.fixture
def jpeg_bytes(tmp_path):
    from datetime import datetime

    from photosync.sample import make_photo

    def make(seed: int) -> bytes:
        p = make_photo(tmp_path / f"src-{seed}.jpg", seed=seed, taken=datetime(2020, 1, 2, 3, 4, 5))
        data = p.read_bytes()
        p.unlink()
        return data

    return make
