"""The local store (the reference) runs the store contract suite, on a disk (one
syncfs per flush) and on a tmpfs (an fsync per file and folder); beyond it, how
it tells a dead writer's temp file from a live one's, symbolic links, and
``verify: readback``."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time

import pytest

from photosync.errors import StoreError, UnsafeLocator
from photosync.stores.base import BlobKey
from photosync.stores.local import STALE_AFTER, temp_prefix
from photosync.testing.store import FolderStoreCase, StoreContract, dead_pid, key_for

PID = "3f1c0a4e-8d1b-5c2e-9f00-000000000002"
BLOB = f"2020/02/{PID}-{'ab' * 32}.jpg"


def _touch(path, data: bytes = b"x" * 1000, age: float = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age:
        t = time.time() - age
        os.utime(path, (t, t))


def _on_tmpfs(tmp_path):
    """A store folder on a tmpfs (/dev/shm), where flush fsyncs each file and folder instead of one
    syncfs (the path a NAS or FUSE mount takes); the test's own folder where there is none."""
    import shutil
    import tempfile

    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        yield FolderStoreCase(tmp_path)
        return
    case = FolderStoreCase(tmp_path)
    case.root = __import__("pathlib").Path(tempfile.mkdtemp(dir="/dev/shm", prefix="photosync-store-"))
    yield case
    shutil.rmtree(case.root, ignore_errors=True)


class TestLocalStore(StoreContract):
    @pytest.fixture
    def case(self, tmp_path):
        return FolderStoreCase(tmp_path)

    def test_leftovers_by_writer_machine_and_age(self, case):
        store = case.store()
        tmp = case.root / ".tmp"
        live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            dead = tmp / f"{temp_prefix(dead_pid())}k1l2m3n4.part"
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

    def test_a_link_inside_the_store_that_leads_out_of_it_is_refused(self, case):
        (case.root / "2020").mkdir(parents=True)
        outside = case.tmp / "elsewhere"
        outside.mkdir()
        (outside / "x.jpg").write_bytes(b"secret")
        os.symlink(outside, case.root / "2020" / "01")
        store = case.store()
        with pytest.raises(UnsafeLocator, match="outside"):
            store.open("2020/01/x.jpg")
        data = b"photo bytes"
        key = BlobKey(PID, "sha256:" + hashlib.sha256(data).hexdigest(), "2020-01-05T10:00:00", "jpg")
        with pytest.raises(UnsafeLocator):
            store.put(key, io.BytesIO(data))
        assert sorted(p.name for p in outside.iterdir()) == ["x.jpg"], "nothing written outside the store"


class TestLocalStoreOnTmpfs(StoreContract):
    @pytest.fixture
    def case(self, tmp_path):
        yield from _on_tmpfs(tmp_path)


@pytest.fixture(params=["disk", "tmpfs"])
def any_case(request, tmp_path):
    if request.param == "disk":
        yield FolderStoreCase(tmp_path)
    else:
        yield from _on_tmpfs(tmp_path)


def test_with_readback_a_copy_the_disk_gives_back_wrong_is_set_aside_and_the_flush_fails(any_case):
    """verify: readback reads each new blob back from the disk once it is durable: bytes that
    changed between the write and the flush (a disk or filesystem fault) fail the flush, so
    replicate records none of the batch, and the bad file is set aside, not deleted."""
    case = any_case
    store = case.store(verify="readback")
    good, bad = b"good photo" * 3000, b"damaged photo" * 3000
    store.put(key_for(good), io.BytesIO(good))
    blob = store.put(key_for(bad), io.BytesIO(bad))
    case.corrupt(blob.locator)  # what the disk holds is not what was written
    with pytest.raises(StoreError, match="1 new copy read back wrong from the disk"):
        store.flush()
    assert [name for name, _ in store.list()] == [key_for(good).name]
    assert len(list((case.root / blob.locator).parent.glob("*.corrupt-*"))) == 1
    again = case.store(verify="readback").put(key_for(bad), io.BytesIO(bad))
    assert not again.reused
    store.flush()
    assert store.verify(again.locator, key_for(bad).content_hash).ok



def test_a_folder_unmounted_or_removed_during_a_run_is_said_and_never_made_again(tmp_path):
    """A put remembers the folders it made (replicate's threads no longer check them photo after
    photo); the store's folder unmounted after some puts still fails the next put with the words a
    first put would use, without making the store's folder again where the drive should be; a
    month folder removed by hand meanwhile is made again."""
    import shutil

    case = FolderStoreCase(tmp_path)
    store = case.store()
    photos = [f"photo {n}".encode() for n in range(4)]
    store.put(key_for(photos[0]), io.BytesIO(photos[0]))
    shutil.rmtree(case.root)            # unmounted: the mount point is gone with it
    with pytest.raises(StoreError, match="not mounted"):
        store.put(key_for(photos[1]), io.BytesIO(photos[1]))
    assert not case.root.exists(), "the store's folder was made again where the drive should be"
    case.root.mkdir()                   # mounted again, without its folders
    a = store.put(key_for(photos[1]), io.BytesIO(photos[1]))
    shutil.rmtree(case.root / a.locator.rpartition("/")[0])   # the month folder cleaned up by hand
    shutil.rmtree(case.root / ".tmp")
    b = store.put(key_for(photos[2]), io.BytesIO(photos[2]))
    store.flush()
    assert (case.root / b.locator).read_bytes() == photos[2]
    assert not (case.root / a.locator).exists()  # (what the hand removed stays removed)


def test_a_readers_copy_is_put_in_place_and_never_over_a_blob_already_there(any_case):
    """discover --execute's readers write the bytes they hashed into the temp folder (keeper); the
    main process puts such a file in place as its blob (adopt), read-only and durable at the next
    flush.  A blob already at that name is never replaced (a bad one stays for put to set aside),
    and the temp file is gone either way; a copy nobody needs is removed (discard)."""
    import pickle

    case = any_case
    store = case.store(verify="readback")
    keep = pickle.loads(pickle.dumps(store.keeper()))  # as the reader processes get it
    good, other = b"a photo, as read" * 500, b"another photo" * 500

    name = keep(good)
    assert name is not None and name.startswith(temp_prefix()) and (case.root / ".tmp" / name).exists()
    blob = store.adopt(key_for(good), name, len(good))
    assert blob is not None and blob.size == len(good)
    path = case.root / blob.locator
    assert path.read_bytes() == good
    assert oct(path.stat().st_mode & 0o777) == oct(0o444)
    store.flush()  # read back from the disk: the copy is the bytes hashed
    assert store.verify(blob.locator, key_for(good).content_hash).ok

    case.corrupt(blob.locator)
    damaged = path.read_bytes()
    again = keep(good)
    assert store.adopt(key_for(good), again, len(good)) is None
    assert path.read_bytes() == damaged, "a blob already there was replaced"
    assert store.put(key_for(good), io.BytesIO(good)).size == len(good)  # put sets the bad one aside
    assert len(list(path.parent.glob("*.corrupt-*"))) == 1

    unneeded = keep(other)
    store.discard(unneeded)
    assert [p.name for p in (case.root / ".tmp").iterdir()] == []


def test_a_temp_file_of_a_writer_that_ended_but_is_not_yet_reaped_is_a_leftover(tmp_path):
    """A killed run's reader processes end at once but stay zombies until their new parent reaps
    them (a container's first process may be slow to); kill(pid, 0) still succeeds on them, yet
    their temp files are leftovers: the next run removes them."""
    case = FolderStoreCase(tmp_path)
    store = case.store()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        for _ in range(500):  # until it has ended (not reaped: this test is its parent)
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] == "Z":
                    break
            time.sleep(0.01)
        leftover = case.root / ".tmp" / f"{temp_prefix(pid)}z0mb1e.part"
        _touch(leftover)
        cleanup = store.clean_temp()
        assert (cleanup.removed, leftover.exists()) == (1, False)
    finally:
        os.waitpid(pid, 0)
