"""The blob store contract suite: what every store does, run by subclassing.

A store's test module gives :class:`StoreContract` a ``case`` fixture that
returns a :class:`StoreCase`: the store's config entry and how to reach behind
the store (damage a blob, remove one, see what unfinished writes left)::

    class TestFolderStore(StoreContract):
        @pytest.fixture
        def case(self, tmp_path):
            return FolderStoreCase(tmp_path)

Hooks a case cannot provide raise ``NotImplementedError``; the tests that need
them are skipped, naming the hook.  See ``photosync.testing.connector`` for the
connector suite and the models (rclone ``fstests``, dvc ``dvc/testing``).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..context import Context
from ..errors import SourceError, StoreError, UnsafeLocator, VerificationError
from ..stores import registry
from ..stores.base import BlobKey, BlobStore, StoreContext

__all__ = ["FolderStoreCase", "StoreCase", "StoreContract", "UNSAFE_LOCATORS", "dead_pid", "key_for"]

PID = "3f1c0a4e-8d1b-5c2e-9f00-000000000001"
MiB = 1024 * 1024
#: a blob of several read chunks (1 MiB), and of two parts where a store sends parts of 5 MiB (S3's smallest)
LARGE = 6 * MiB + 123
#: locators from a record a person can edit that would lead outside a store
UNSAFE_LOCATORS = ["../../../victim.jpg", "../victim.jpg", "/etc/hostname", "2020/../../x.jpg", "2020/./x.jpg",
                   "2020//x.jpg", "a\\..\\b.jpg", "2020/01/\x00.jpg"]


def key_for(data: bytes, ext: str = "jpg", taken: str | None = "2019-07-04T14:22:33+02:00") -> BlobKey:
    return BlobKey(PID, "sha256:" + hashlib.sha256(data).hexdigest(), taken, ext)


def dead_pid() -> int:
    """The pid of a process that has ended (a writer killed mid-put)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


class StoreCase:
    """One store under test and a way behind it.  Required: :meth:`config`,
    :meth:`corrupt`, :meth:`remove`; the rest is optional."""

    name = "case"

    def __init__(self, tmp: Path):
        self.tmp = Path(tmp)
        self.ctx = Context(self.tmp / "user-config")

    def config(self) -> dict:
        """The store's config entry, with its ``type`` (as config/user-preferences.json holds it)."""
        raise NotImplementedError("config() must give the store's config entry")

    def store(self, **extra) -> BlobStore:
        """A new store object (as a new run would make it), the config overridden by ``extra``."""
        return registry.create(self.name, {**self.config(), **extra}, StoreContext(self.tmp / "library", self.ctx))

    def close(self) -> None:
        """Stop what the case started."""

    # -- behind the store ---------------------------------------------------------------------
    def corrupt(self, locator: str) -> None:
        """Bit rot: one byte of the stored blob changed, its size and anything stored beside it kept."""
        raise NotImplementedError("damage a stored blob")

    def remove(self, locator: str) -> None:
        """The blob is lost (deleted behind the store's back)."""
        raise NotImplementedError("remove a stored blob")

    def leftovers(self) -> list[str]:
        """What unfinished writes left in the store (temp files, open multipart uploads)."""
        raise NotImplementedError("see what unfinished writes left")

    def leave_leftover(self, stale: bool) -> None:
        """Leave what a writer killed mid-put leaves: ``stale``, one whose writer is provably
        gone (or that is old enough); else one a live writer may still be working on."""
        raise NotImplementedError("leave what a killed writer leaves")

    def unreachable(self) -> dict:
        """Config overrides that point the store somewhere it cannot be reached (a folder
        not mounted, a bucket that does not exist)."""
        raise NotImplementedError("point the store somewhere unreachable")

    def requests(self) -> int | None:
        """Requests the store has made to its service so far (None: it has no service to ask)."""
        return None


class _Pipe(io.RawIOBase):
    """A stream that cannot seek (a pipe, a download): a put reads it once."""

    def __init__(self, data: bytes, fail_at: int | None = None):
        self._data = io.BytesIO(data)
        self._fail_at = fail_at

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._fail_at is not None and self._data.tell() >= self._fail_at:
            raise OSError(5, "Input/output error")
        n = len(b) if self._fail_at is None else min(len(b), self._fail_at - self._data.tell())
        chunk = self._data.read(max(n, 0))
        b[: len(chunk)] = chunk
        return len(chunk)


def _leftovers(case: StoreCase) -> list[str] | None:
    try:
        return case.leftovers()
    except NotImplementedError:
        return None


class StoreContract:
    """The tests every blob store passes.  Subclass it as ``Test<Name>Store`` with a
    ``case`` fixture returning a :class:`StoreCase`."""

    @pytest.fixture
    def case(self, tmp_path) -> StoreCase:
        raise NotImplementedError(f"{type(self).__name__} must define a 'case' fixture returning a StoreCase")

    @pytest.fixture(autouse=True)
    def _user_folders(self, tmp_path_factory, monkeypatch):
        # no test of the suite reads or writes the real user's config, credentials or cache
        monkeypatch.setenv("PHOTOSYNC_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
        monkeypatch.setenv("PHOTOSYNC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))

    @pytest.fixture(autouse=True)
    def _closed(self, _user_folders, case):
        yield
        case.close()

    def _nothing_under(self, case: StoreCase, store: BlobStore, key: BlobKey) -> None:
        assert store.has(key) is None
        assert store.stat(key.name) is None
        assert key.name not in {name for name, _ in store.list()}
        assert case.store().has(key) is None, "nor for a new store object (a later run)"
        assert _leftovers(case) in (None, []), "a refused put left unfinished data behind"

    # -- round trips ------------------------------------------------------------------------------
    def test_put_then_read_back(self, case):
        store = case.store()
        data = b"original bytes" * 1000
        key = key_for(data)
        assert store.has(key) is None
        blob = store.put(key, io.BytesIO(data), len(data))
        store.flush()
        assert blob.locator == f"2019/07/{PID}-{key.digest}.jpg" == key.name
        assert blob.size == len(data) and blob.content_hash == key.content_hash and not blob.reused
        assert store.has(key).size == len(data)
        assert store.stat(blob.locator) == len(data)
        with store.open(blob.locator) as f:
            assert f.read() == data
        check = store.verify(blob.locator, key.content_hash)
        assert check.ok and check.size == len(data)
        assert [(blob.locator, len(data))] == list(store.list())
        assert store.uri(blob.locator)

    def test_a_large_blob_round_trips_from_a_file_and_from_a_pipe(self, case, tmp_path):
        store = case.store()
        data = os.urandom(LARGE)
        path = tmp_path / "large.bin"
        path.write_bytes(data)
        key = key_for(data, "mp4")
        with open(path, "rb") as f:
            blob = store.put(key, f, len(data))
        store.flush()
        assert blob.size == len(data) and store.verify(blob.locator, key.content_hash).ok
        other = data[::-1]
        okey = key_for(other, "mp4", taken=None)
        oblob = store.put(okey, _Pipe(other))
        store.flush()
        assert oblob.locator.startswith("undated/")
        with store.open(oblob.locator) as f:
            assert hashlib.sha256(f.read()).hexdigest() == okey.digest
        assert _leftovers(case) in (None, [])

    def test_flush_makes_every_put_visible_to_a_new_store(self, case):
        store = case.store()
        store.flush()  # nothing put yet: nothing to do, no error
        blobs = []
        for i in range(3):
            data = f"photo {i}".encode() * 500
            blobs.append((key_for(data), store.put(key_for(data), io.BytesIO(data))))
        store.flush()
        store.flush()  # twice: harmless
        later = case.store()
        for key, blob in blobs:
            assert later.has(key) is not None
            assert later.verify(blob.locator, key.content_hash).ok
        assert sorted(name for name, _ in later.list()) == sorted(b.locator for _, b in blobs)

    def test_a_missing_blob_is_missing_everywhere(self, case):
        store = case.store()
        key = key_for(b"never stored")
        assert store.has(key) is None and store.stat(key.name) is None
        assert store.verify(key.name, key.content_hash).reason == "missing"
        with pytest.raises(StoreError):
            store.open(key.name).close()

    def test_a_store_that_cannot_be_reached_says_so_and_is_not_made(self, case):
        try:
            elsewhere = case.unreachable()
        except NotImplementedError as e:
            pytest.skip(f"{type(case).__name__} cannot {e}")
        store = case.store(**elsewhere)
        why = store.unavailable()
        assert isinstance(why, str) and why
        data = b"a photo" * 100
        with pytest.raises(StoreError):
            store.put(key_for(data), io.BytesIO(data))
        assert case.store(**elsewhere).unavailable(), "a put must not create what was not there (an unmounted drive)"
        assert case.store().unavailable() is None

    # -- refusals ---------------------------------------------------------------------------------
    def test_wrong_bytes_are_refused_and_nothing_is_stored(self, case):
        store = case.store()
        key = key_for(b"the real photo")
        with pytest.raises(VerificationError):
            store.put(key, io.BytesIO(b"something else"), None)
        self._nothing_under(case, store, key)
        big = os.urandom(LARGE)  # a multipart upload is aborted, never completed
        key = key_for(big + b"!")
        with pytest.raises(VerificationError):
            store.put(key, io.BytesIO(big))
        self._nothing_under(case, store, key)
        with pytest.raises(VerificationError):
            store.put(key, _Pipe(big))
        self._nothing_under(case, store, key)

    def test_wrong_bytes_never_replace_a_good_copy(self, case):
        store = case.store()
        data = b"good bytes" * 700
        key = key_for(data)
        store.put(key, io.BytesIO(data))
        store.flush()
        try:  # a store may refuse the source, or keep its good copy without reading it
            store.put(key, io.BytesIO(b"bad bytes" * 700))
        except VerificationError:
            pass
        store.flush()
        assert store.verify(key.name, key.content_hash).ok
        with case.store().open(key.name) as f:
            assert f.read() == data

    def test_a_failing_source_is_the_sources_fault_and_stores_nothing(self, case):
        store = case.store()
        data = os.urandom(300_000)
        key = key_for(data)
        with pytest.raises(SourceError):
            store.put(key, _Pipe(data, fail_at=100_000))
        self._nothing_under(case, store, key)

    def test_same_blob_twice_is_not_copied_again(self, case):
        store = case.store()
        data = b"x" * 5000
        key = key_for(data)
        first = store.put(key, io.BytesIO(data))
        again = case.store().put(key, io.BytesIO(data))
        assert again.reused and not first.reused
        assert (again.locator, again.size) == (first.locator, first.size)
        assert [name for name, _ in store.list()] == [key.name]

    @pytest.mark.parametrize("locator", UNSAFE_LOCATORS)
    def test_a_locator_outside_the_store_is_refused_unread(self, case, locator):
        store = case.store()
        (case.tmp / "victim.jpg").write_bytes(b"not yours")
        asked = case.requests()
        with pytest.raises(UnsafeLocator, match="refused"):
            store.open(locator)
        with pytest.raises(UnsafeLocator):
            store.stat(locator)
        check = store.verify(locator, "sha256:" + hashlib.sha256(b"not yours").hexdigest())
        assert not check.ok and "not checked" in check.reason and "refused" in check.reason
        assert case.requests() == asked, "nothing was asked of the service"

    # -- damage -----------------------------------------------------------------------------------
    def test_corruption_and_loss_are_found_and_repaired_without_deleting(self, case):
        store = case.store()
        data = bytes(range(256)) * 64
        key = key_for(data)
        blob = store.put(key, io.BytesIO(data))
        store.flush()
        case.corrupt(blob.locator)
        check = case.store().verify(blob.locator, key.content_hash)
        assert not check.ok and "corrupt" in check.reason
        repaired = store.put(key, io.BytesIO(data))
        store.flush()
        assert not repaired.reused, "a damaged blob is never reused"
        assert store.verify(repaired.locator, key.content_hash).ok
        case.corrupt(blob.locator)  # again, and repaired from a source that cannot seek (another store's copy)
        repaired = case.store().put(key, _Pipe(data))
        store.flush()
        assert not repaired.reused and store.verify(repaired.locator, key.content_hash).ok
        assert [name for name, _ in store.list()] == [key.name], "a damaged copy set aside is not a blob"
        case.remove(blob.locator)
        assert store.verify(blob.locator, key.content_hash).reason == "missing"
        with pytest.raises(StoreError):
            store.open(blob.locator)

    def test_stores_do_not_delete(self, case):
        store = case.store()
        assert not hasattr(store, "delete"), "a store that never deletes has no delete operation"

    # -- leftovers --------------------------------------------------------------------------------
    def test_leftovers_of_dead_writers_go_and_live_writers_work_stays(self, case):
        store = case.store()
        data = os.urandom(20_000)
        key = key_for(data)
        store.put(key, io.BytesIO(data))
        store.flush()
        assert store.clean_temp().removed == 0
        try:
            case.leave_leftover(stale=True)
            case.leave_leftover(stale=False)
        except NotImplementedError as e:
            pytest.skip(f"{type(case).__name__} cannot {e}")
        assert len(case.leftovers()) == 2
        assert [name for name, _ in store.list()] == [key.name], "unfinished writes are not blobs"
        cleaned = case.store().clean_temp()
        assert (cleaned.removed, cleaned.kept) == (1, 1) and cleaned.removed_bytes > 0
        assert len(case.leftovers()) == 1
        assert store.verify(key.name, key.content_hash).ok, "a blob is never a leftover"
        assert store.clean_temp().removed == 0


# -- the reference case: a folder ------------------------------------------------------------------
class FolderStoreCase(StoreCase):
    """The local store in a folder."""

    def __init__(self, tmp: Path):
        super().__init__(tmp)
        self.root = self.tmp / "store"
        self.root.mkdir(parents=True, exist_ok=True)

    def config(self) -> dict:
        return {"type": "local", "path": str(self.root)}

    def corrupt(self, locator: str) -> None:
        p = self.root / locator
        os.chmod(p, 0o644)
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0xFF
        p.write_bytes(bytes(data))

    def remove(self, locator: str) -> None:
        (self.root / locator).unlink()

    def leftovers(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob(".tmp-*") if p.is_file())

    def unreachable(self) -> dict:
        return {"path": str(self.tmp / "not-mounted")}

    def leave_leftover(self, stale: bool) -> None:
        from ..stores.local import TMP_DIR, temp_prefix

        folder = self.root / TMP_DIR
        folder.mkdir(exist_ok=True)
        if stale:  # this machine, a writer that is gone
            name = f"{temp_prefix(dead_pid())}k1l2m3n4.part"
        else:  # another machine's writer, still writing (the file is fresh)
            name = ".tmp-4242@another-machine.0badcafe-q1w2e3r4.part"
        (folder / name).write_bytes(b"x" * 1000)
