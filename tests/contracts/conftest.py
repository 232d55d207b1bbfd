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


CONNECTOR_CASES = {"local": LocalFolderCase}
STORE_CASES = {"local": LocalStoreCase}


@pytest.fixture(params=sorted(CONNECTOR_CASES))
def connector_case(request, tmp_path):
    case = CONNECTOR_CASES[request.param](tmp_path)
    yield case
    if hasattr(case, "close"):
        case.close()


@pytest.fixture(params=sorted(STORE_CASES))
def store_case(request, tmp_path):
    case = STORE_CASES[request.param](tmp_path)
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
