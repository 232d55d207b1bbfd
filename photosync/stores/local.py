"""The reference blob store: a folder (the library's ``blobs/`` or a NAS mount).

Blobs live at ``<root>/YYYY/MM/<photo_id>-<sha256>.<ext>``.  A put writes a temp
file in the destination folder while hashing the bytes, fsyncs it, checks that
hash, reads the written file back and checks it again, then renames it into
place read-only.  The folders' new entries are made durable by :meth:`flush`,
which replicate calls before any photo record names a blob: one fsync per
folder per batch instead of one per file (replicate runs puts in parallel, so
the file fsyncs share the filesystem's journal commits).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import ConfigError, SourceError, StoreError, UnsafeLocator, VerificationError
from ..library.layout import path_problem, user_path
from .base import BlobKey, BlobStore, StoreCapabilities, StoredBlob

CHUNK = 1024 * 1024


def _read_source(stream: BinaryIO) -> bytes:
    try:
        return stream.read(CHUNK)
    except OSError as e:  # the source's disk, not this store
        raise SourceError(f"reading the source failed: {e.strerror or e}") from None


def _hash_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


class LocalStore(BlobStore):
    type_name = "local"
    capabilities = StoreCapabilities(server_side=("size",), deletes=False)

    def __init__(self, name, config, env):
        super().__init__(name, config, env)
        path = config.get("path")
        if not path:
            raise ConfigError(f"store {name}: a local store needs a 'path'")
        self.root = user_path(path, env.library_root)
        self.readback = config.get("verify", "readback") == "readback"
        self._unsynced_dirs: set[Path] = set()
        #: folder of a locator -> whether it resolves inside the store (see _path)
        self._inside: dict[str, bool] = {}

    def _ensure_root(self) -> None:
        if not self.root.is_dir():
            if self.root == self.env.library_root / "blobs":
                self.root.mkdir(parents=True, exist_ok=True)
            else:
                raise StoreError(f"store {self.name}: folder {self.root} does not exist or is not mounted")

    @classmethod
    def config_from_options(cls, options: dict, library_root: Path) -> dict:
        path = options.get("path")
        if not path:
            raise ConfigError("a local store needs --path DIR")
        p = user_path(path, Path.cwd())
        if not p.is_dir():
            raise ConfigError(f"--path {path}: no such folder ({p}); create it (mkdir -p), or mount the drive or "
                              "NAS share first")
        return {"path": str(p.resolve())}

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

    def put(self, key: BlobKey, stream: BinaryIO, size: int | None = None) -> StoredBlob:
        self._ensure_root()
        dest = self._path(key.name)
        if dest.exists():
            digest, n = _hash_file(dest)
            if digest == key.digest:
                self._unsynced_dirs.add(dest.parent)  # its folder entry may predate a crash
                return StoredBlob(key.name, n, key.content_hash, reused=True)
            aside = dest.with_name(f"{dest.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            os.replace(dest, aside)  # never delete: keep the bad bytes next to the good
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=".part")
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            n = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := _read_source(stream):
                    h.update(chunk)
                    out.write(chunk)
                    n += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != key.digest:
                raise VerificationError(
                    f"the bytes read from the source hash to sha256:{h.hexdigest()}, not {key.content_hash}; "
                    "the source changed since discover or is corrupt"
                )
            if size is not None and n != size:
                raise VerificationError(f"read {n} bytes from the source, expected {size}")
            if self.readback:
                digest, n2 = _hash_file(tmp)
                if digest != key.digest or n2 != n:
                    raise VerificationError(f"{dest}: the written file reads back wrong (disk or filesystem fault)")
            os.chmod(tmp, 0o444)
            os.replace(tmp, dest)
            self._unsynced_dirs.add(dest.parent)
        except BaseException:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
            raise
        return StoredBlob(key.name, n, key.content_hash)

    def flush(self) -> None:
        dirs, self._unsynced_dirs = self._unsynced_dirs, set()
        for folder in sorted(dirs):
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

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
            dirnames.sort()
            for fn in sorted(filenames):
                if fn.startswith(".") or ".corrupt-" in fn:
                    continue
                full = Path(dirpath) / fn
                yield str(full.relative_to(self.root)), full.stat().st_size
