"""The reference blob store: a folder (the library's ``blobs/`` or a NAS mount).

Blobs live at ``<root>/YYYY/MM/<photo_id>-<sha256>.<ext>``.  A put writes a temp
file while hashing the bytes, checks that hash (the check of the copy: the bytes
written are the bytes hashed) and renames the file into place read-only, without
waiting for the disk.  :meth:`flush`, which replicate calls before any photo
record names a blob, makes every blob put since the last flush durable together:
one ``syncfs`` of the store's filesystem where that call is known to flush it
(Linux ≥ 5.8 on ext4, xfs, btrfs, f2fs), else an fsync of each new file and then
one per folder (restic's and git's order).  With ``verify: readback`` flush then
reads each new blob back from the disk (its cached pages dropped first) and
compares its hash; a blob that reads back wrong is moved aside and the flush fails.

Temp files live in ``<root>/.tmp/`` and are named ``.tmp-<pid>@<machine>-<random>.part``,
so the leftovers of a writer killed mid-put can be found without walking the
store and told from the work of a live writer (one store folder may be shared
by several libraries or machines): see :meth:`LocalStore.clean_temp`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import re
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, TypeVar

from ..errors import ConfigError, SourceError, StoreError, UnsafeLocator, VerificationError
from ..library.packs import fsync_path
from ..library.layout import folder_option, path_problem, user_path
from ..options import Option
from .base import BlobKey, BlobStore, StoreContext, StoredBlob, TempCleanup

CHUNK = 1024 * 1024
TMP_DIR = ".tmp"

T = TypeVar("T")
#: a temp file whose writer cannot be asked (another machine, boot or container; the
#: unnamed files of photosync before 0.x) is a leftover once nothing has written to it
#: for this long.  A live writer changes the file's mtime with every chunk; only its
#: read-back (a 50 GB video at 100 MB/s: 8 minutes) and clock skew between a NAS and
#: this machine pass without a write.  Removing a live writer's file only fails that
#: put (nothing records it; the next run copies again), so the margin is generous but
#: not days: a leftover video is gigabytes.
STALE_AFTER = 2 * 3600
#: a file whose writer's pid is alive on this machine is kept this long (the pid may
#: have been reused by another process since)
ALIVE_STALE_AFTER = 7 * 24 * 3600
_TMP_NAME = re.compile(r"^\.tmp-(?P<pid>[0-9]+)@(?P<machine>[A-Za-z0-9._-]+)-[a-z0-9_]+\.part$")
#: names of the temp files this process is writing now (any store object, any thread)
_writing: set[str] = set()
_writing_lock = threading.Lock()


def _machine() -> str:
    """This machine, boot and pid namespace: where a pid means the same process.
    A container shares the host's kernel but not its pids, and a reboot reuses
    pids; either makes another machine as far as a temp file's pid goes."""
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:64] or "host"
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # not Linux: the host name alone
        return host
    return f"{host}.{hashlib.sha256(f'{boot}:{ns}'.encode()).hexdigest()[:8]}"


_MACHINE = _machine()

#: filesystems whose syncfs writes back every dirty file and commits the journal (their own sync_fs);
#: a FUSE or network mount may answer syncfs without reaching the server, so those get an fsync each
_SYNCFS_FILESYSTEMS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs"}


def _libc_syncfs(fd: int) -> int:
    return ctypes.CDLL(None, use_errno=True).syncfs(fd)


def _syncfs_flushes(root: Path) -> bool:
    """Whether one syncfs(2) on ``root`` makes what was written under it durable, and says so when
    it could not: Linux ≥ 5.8 (before, syncfs did not report write-back errors: man 2 syncfs) and a
    local filesystem listed in _SYNCFS_FILESYSTEMS (from /proc/self/mountinfo, by device number)."""
    try:
        release = tuple(int(x) for x in re.findall(r"[0-9]+", os.uname().release)[:2])
        if os.uname().sysname != "Linux" or release < (5, 8):
            return False
        ctypes.CDLL(None, use_errno=True).syncfs  # noqa: B018  (missing on other libcs: AttributeError)
        dev = os.stat(root).st_dev
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if fields[2] == f"{os.major(dev)}:{os.minor(dev)}":
                    return fields[fields.index("-") + 1] in _SYNCFS_FILESYSTEMS
    except (OSError, AttributeError, ValueError, IndexError):
        pass
    return False


def temp_prefix(pid: int | None = None) -> str:
    """How a temp file written by process ``pid`` (this one by default) of this machine starts."""
    return f".tmp-{os.getpid() if pid is None else pid}@{_MACHINE}-"


def write_temp(tmp_dir: str, data: bytes) -> str | None:
    """Write ``data`` to a new temp file in a local store's temp folder, read-only, named as a put
    names its own (the leftovers of a killed writer are found by :meth:`LocalStore.clean_temp`);
    its name, or None when it could not be written (the caller then copies the usual way).  It
    runs in discover's reader processes, which hash and probe the same bytes: the copy is what
    was hashed, read once, and its file is made off the main process (see LocalStore.adopt)."""
    name = f"{temp_prefix()}{os.urandom(8).hex()}.part"
    path = os.path.join(tmp_dir, name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except OSError:
        return None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)  # a network share reports a failed write-back here
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        return None
    return name


def _read_source(stream: BinaryIO) -> bytes:
    try:
        return stream.read(CHUNK)
    except OSError as e:  # the source's disk, not this store
        raise SourceError(f"reading the source failed: {e.strerror or e}") from None


def _hash_file(path: Path, uncached: bool = False) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        if uncached and hasattr(os, "posix_fadvise"):  # read from the disk: drop the (clean) cached pages
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        while chunk := f.read(CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


class LocalStore(BlobStore):
    """A folder: the library's blobs/, a NAS mount, an external disk."""

    type_name = "local"
    options = (
        Option("path", "The folder (it must exist: create it, or mount the drive or NAS share first).", "path",
               required=True),
        Option("verify", "stream: trust the hash taken while writing (the bytes written are the bytes hashed); "
                         "readback: also read each blob back from the disk once it is durable (slower).", "choice",
               choices=("readback", "stream"), default="stream", advanced=True),
    )

    def __init__(self, name: str, config: dict, env: StoreContext) -> None:
        super().__init__(name, config, env)
        path = config.get("path")
        if not path:
            raise ConfigError(f"store {name}: a local store needs a 'path'")
        self.root = user_path(path, env.library_root)
        self.readback = config.get("verify", "stream") == "readback"
        #: blobs put (or found in place) since the last flush: path -> sha256 hex, and their folders
        self._unsynced_files: dict[Path, str] = {}
        self._unsynced_dirs: set[Path] = set()
        self._unsynced_lock = threading.Lock()  # puts run in threads while flush runs in the main one
        #: whether one syncfs makes this store durable (None: not asked yet), and the folder's fd it is
        #: called on (opened before the first write: syncfs reports write-back errors since the open)
        self._syncfs: bool | None = None
        self._root_fd: int | None = None
        #: folder of a locator -> whether it resolves inside the store (see _path)
        self._inside: dict[str, bool] = {}
        #: folders this run made or found (a put into one of them skips the checks that made it:
        #: ~6 system calls a photo, which replicate's threads made while holding the GIL the main
        #: thread needs; a folder removed since fails the write, which then checks them again)
        self._made: set[Path] = set()
        #: whether the store's filesystem makes hard links (adopt)
        self._links = True

    def _ensure_root(self) -> None:
        if not self.root.is_dir():
            if self.root == self.env.library_root / "blobs":
                self.root.mkdir(parents=True, exist_ok=True)
            else:
                raise StoreError(f"store {self.name}: folder {self.root} does not exist or is not mounted")

    @classmethod
    def check_config(cls, config: dict, library_root: Path) -> dict:
        return folder_option(config, "create it (mkdir -p), or mount the drive or NAS share first")

    def unavailable(self) -> str | None:
        if not self.root.is_dir():
            return f"folder {self.root} does not exist or is not mounted"
        return None

    def uri(self, locator: str) -> str:
        path = self.root / locator
        try:
            return str(path.relative_to(self.env.library_root))
        except ValueError:
            return str(path)

    def describe(self) -> str:
        return f"{self.name} (local folder {self.root})"

    def _path(self, locator: str, *, whole: bool = False) -> Path:
        """The file of ``locator``, which must stay inside the store's folder: a locator
        from a record is never joined as it is (``../../victim.jpg``, ``/etc/hostname``),
        and a folder that resolves outside it (a symbolic link) is refused.  Resolving
        costs ~100 us a path here, so folders are resolved once a run (a few hundred
        YYYY/MM folders); ``whole`` resolves the file too (before bytes are read)."""
        problem = path_problem(locator, backslash=True)
        if problem is None:
            path = self.root / locator
            folder = locator.rpartition("/")[0]
            inside = self._inside.get(folder)
            if inside is None:
                inside = self._inside[folder] = self._resolves_inside(path.parent)
            if inside and (not whole or self._resolves_inside(path)):
                return path
            problem = "it resolves outside the store's folder (a symbolic link?)"
        raise UnsafeLocator(f"store {self.name}: locator {locator!r} is not a path inside {self.root} "
                            f"({problem}); refused")

    def _resolves_inside(self, path: Path) -> bool:
        root = os.path.realpath(self.root)
        return os.path.commonpath([root, os.path.realpath(path)]) == root

    def has(self, key: BlobKey) -> StoredBlob | None:
        try:
            st = os.stat(self._path(key.name))
        except FileNotFoundError:
            return None
        return StoredBlob(key.name, st.st_size, key.content_hash)

    def _folders(self, dest: Path) -> None:
        """Make the folders of ``dest`` and the temp folder (never the store's own folder, unless
        it is the library's default one: a folder that vanished is an unmounted drive)."""
        self._ensure_root()
        folder = self.root
        for part in dest.parent.relative_to(self.root).parts:  # never re-creates a root that vanished
            folder = folder / part
            folder.mkdir(exist_ok=True)
        (self.root / TMP_DIR).mkdir(exist_ok=True)
        self._made.add(dest.parent)

    def _again(self, dest: Path, step: Callable[[], T]) -> T:
        """``step()``, and once more after making the folders again when one this run made is gone
        (a hand clean-up; an unmounted drive fails in _ensure_root, in words)."""
        try:
            return step()
        except FileNotFoundError:
            self._made.clear()
            self._folders(dest)
            return step()

    def put(self, key: BlobKey, stream: BinaryIO, size: int | None = None) -> StoredBlob:
        dest = self._path(key.name)
        if dest.parent not in self._made:
            self._folders(dest)
        self._open_root()
        if dest.exists():
            digest, n = _hash_file(dest)
            if digest == key.digest:
                self._unsynced(dest, key.digest)  # written by a run killed before its flush: maybe not durable
                return StoredBlob(key.name, n, key.content_hash, reused=True)
            aside = dest.with_name(f"{dest.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            os.replace(dest, aside)  # never delete: keep the bad bytes next to the good
        tmp_dir = self.root / TMP_DIR
        with _writing_lock:
            fd, tmp_name = self._again(dest, lambda: tempfile.mkstemp(dir=tmp_dir, prefix=temp_prefix(), suffix=".part"))
            _writing.add(os.path.basename(tmp_name))
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            n = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := _read_source(stream):
                    h.update(chunk)
                    out.write(chunk)
                    n += len(chunk)
            # no fsync here: flush makes the batch durable together, before anything records it
            if h.hexdigest() != key.digest:
                raise VerificationError(
                    f"the bytes read from the source hash to sha256:{h.hexdigest()}, not {key.content_hash}; "
                    "the source changed since discover or is corrupt"
                )
            if size is not None and n != size:
                raise VerificationError(f"read {n} bytes from the source, expected {size}")
            os.chmod(tmp, 0o444)
            self._again(dest, lambda: os.replace(tmp, dest))
            self._unsynced(dest, key.digest)
        except BaseException:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
            raise
        finally:
            with _writing_lock:
                _writing.discard(os.path.basename(tmp_name))
        return StoredBlob(key.name, n, key.content_hash)

    def keeper(self) -> Callable[[bytes], str | None] | None:
        """A picklable ``write_temp`` into this store's temp folder, for a reader that holds a
        photo's bytes (Connector.describer's ``keep``); None when the folder cannot be made."""
        try:
            self._ensure_root()
            (self.root / TMP_DIR).mkdir(exist_ok=True)
            self._open_root()  # before the first write: syncfs reports write-back errors since the open
        except (StoreError, OSError):
            return None
        return functools.partial(write_temp, str(self.root / TMP_DIR))

    def adopt(self, key: BlobKey, name: str, size: int) -> StoredBlob | None:
        """Put the temp file ``name`` that :meth:`keeper` wrote, holding exactly the bytes whose
        hash is ``key``'s, in place as that blob (a hard link, then the temp name removed: a blob
        already there is never replaced).  None, with the temp file gone, when the blob is there
        already (:meth:`put` then checks it, and keeps a bad one aside) or cannot be linked."""
        tmp = self.root / TMP_DIR / name
        dest = self._path(key.name)
        try:
            if dest.parent not in self._made:
                self._folders(dest)
            self._again(dest, lambda: self._place(tmp, dest))
        except (StoreError, OSError):
            return None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self._unsynced(dest, key.digest)
        return StoredBlob(key.name, size, key.content_hash)

    def _place(self, tmp: Path, dest: Path) -> None:
        """``tmp`` becomes ``dest``, which must not exist: a hard link (refused when it does), or
        on a filesystem without them (exFAT, some network shares) a rename after a check."""
        if self._links:
            try:
                os.link(tmp, dest)
                return
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                self._links = False
        if dest.exists():
            raise FileExistsError(errno.EEXIST, "blob already there", str(dest))
        os.replace(tmp, dest)

    def discard(self, name: str) -> None:
        """Remove a temp file :meth:`keeper` wrote that is not needed (the photo was known)."""
        with contextlib.suppress(OSError):
            os.unlink(self.root / TMP_DIR / name)

    def _unsynced(self, path: Path, digest: str) -> None:
        with self._unsynced_lock:
            self._unsynced_files[path] = digest
            self._unsynced_dirs.add(path.parent)

    def _open_root(self) -> int:
        """The store folder's descriptor, opened once."""
        if self._root_fd is None:
            with self._unsynced_lock:
                if self._root_fd is None:
                    self._root_fd = os.open(self.root, os.O_RDONLY)
        return self._root_fd

    def __del__(self):
        if getattr(self, "_root_fd", None) is not None:
            os.close(self._root_fd)

    def flush(self) -> None:
        """Make every blob put since the last flush durable (its bytes and its folder entry),
        then, with ``verify: readback``, read each back from the disk."""
        with self._unsynced_lock:
            files, self._unsynced_files = self._unsynced_files, {}
            dirs, self._unsynced_dirs = self._unsynced_dirs, set()
        if not files and not dirs:
            return
        try:
            if not self._sync_filesystem(dirs):
                # an fsync of each file, then of each folder; in threads, as on a NAS each is a round trip
                with ThreadPoolExecutor(min(8, len(files) or 1)) as pool:
                    list(pool.map(fsync_path, files))
                for folder in sorted(dirs):
                    fsync_path(folder)
        except OSError as e:
            where = e.filename or self.root
            raise StoreError(f"store {self.name}: the new copies in {where} could not be made durable "
                             f"({e.strerror or e}): was the folder removed or its drive unmounted?") from None
        if self.readback:
            self._read_back(files)

    def _sync_filesystem(self, dirs: set[Path]) -> bool:
        """One syncfs of the store's filesystem, where it makes every new file and folder entry durable."""
        if self._syncfs is None:
            self._syncfs = _syncfs_flushes(self.root)
        if not self._syncfs:
            return False
        root_fd = self._open_root()
        dev = os.fstat(root_fd).st_dev
        if any(os.stat(folder).st_dev != dev for folder in dirs):  # a folder mounted inside the store
            return False
        if _libc_syncfs(root_fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(self.root))
        return True

    def _read_back(self, files: dict[Path, str]) -> None:
        """Read each new blob back from the disk, not from the page cache (its pages are clean
        after the sync and dropped first), and set aside any that reads back wrong."""
        bad = []
        for path, digest in sorted(files.items()):
            try:
                got, _n = _hash_file(path, uncached=True)
            except OSError as e:
                bad.append(f"{path} ({e.strerror or e})")
                continue
            if got != digest:
                aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
                os.replace(path, aside)  # never delete: the next run writes it again
                bad.append(str(path))
        if bad:
            raise StoreError(f"store {self.name}: {len(bad)} new cop{'y' if len(bad) == 1 else 'ies'} read back "
                             f"wrong from the disk after writing ({bad[0]}{', ...' if len(bad) > 1 else ''}): "
                             "a disk or filesystem fault; set aside as .corrupt-*, not recorded")

    def clean_temp(self, thorough: bool = False) -> TempCleanup:
        """Remove temp files of writers that died mid-put.  A file named by a
        process of this machine (same boot, same pid namespace) goes when that
        process is gone (``kill(pid, 0)``; this process's own when it is not
        writing it); one named by another machine, or by an older photosync that
        did not name its writer, goes when nothing has written to it for
        ``STALE_AFTER``.  ``thorough`` also walks every folder of the store (older
        versions wrote temp files next to the blob); otherwise only ``.tmp/``."""
        if not self.root.is_dir():
            return TempCleanup()
        if thorough:
            found: list[str] = []
            for dirpath, _dirnames, filenames in os.walk(self.root):
                found.extend(os.path.join(dirpath, fn) for fn in filenames
                             if fn.startswith(".tmp-") and fn.endswith(".part"))
        else:
            try:
                with os.scandir(self.root / TMP_DIR) as it:
                    found = [e.path for e in it if e.name.startswith(".tmp-") and e.name.endswith(".part")]
            except (FileNotFoundError, NotADirectoryError):
                return TempCleanup()
        removed = removed_bytes = kept = 0
        now = time.time()
        for path in sorted(found):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            if not _stale(path, now - st.st_mtime):
                kept += 1
                continue
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            except OSError:  # a read-only folder: left, and counted
                kept += 1
                continue
            removed += 1
            removed_bytes += st.st_size
        return TempCleanup(removed, removed_bytes, kept)

    def open(self, locator: str) -> BinaryIO:
        path = self._path(locator, whole=True)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise StoreError(f"{path} is missing") from None
        except OSError as e:
            raise StoreError(f"cannot read {path}: {e.strerror}") from None

    def stat(self, locator: str) -> int | None:
        try:
            return os.stat(self._path(locator)).st_size
        except FileNotFoundError:
            return None

    def list(self) -> Iterator[tuple[str, int]]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))  # .tmp/: writes under way
            for fn in sorted(filenames):
                if fn.startswith(".") or ".corrupt-" in fn:
                    continue
                full = Path(dirpath) / fn
                yield str(full.relative_to(self.root)), full.stat().st_size


def _stale(path: str, age: float) -> bool:
    """Whether a temp file is a dead writer's leftover (see LocalStore.clean_temp)."""
    m = _TMP_NAME.match(os.path.basename(path))
    if m is None or m["machine"] != _MACHINE:
        return age > STALE_AFTER
    pid = int(m["pid"])
    if pid == os.getpid():
        with _writing_lock:
            return os.path.basename(path) not in _writing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    if _zombie(pid):
        return True
    return age > ALIVE_STALE_AFTER


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has ended but is not yet reaped (kill(pid, 0) still succeeds): a killed run's
    reader processes stay so until their new parent reaps them, which a container's first process
    may do late (a run right after a kill -9 found their temp files "alive")."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    state = stat.rpartition(b")")[2].split()[:1]
    return state in ([b"Z"], [b"X"])
