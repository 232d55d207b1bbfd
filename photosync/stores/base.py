"""The blob store contract: content-addressed, verified storage of originals.

A store never trusts a write it has not verified, never deletes (a blob that
turns out corrupt is moved aside, not removed), and says which checks it can
make without downloading.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar, Iterator

from ..context import Context
from ..library.layout import blob_name
from ..options import Declares, secret_options


@dataclass(frozen=True)
class BlobKey:
    """What a blob is stored under: the design's YYYY/MM/<photo_id>-<sha256>.<ext>."""

    photo_id: str
    content_hash: str
    taken_date: str | None
    ext: str

    @property
    def name(self) -> str:
        return blob_name(self.photo_id, self.content_hash, self.taken_date, self.ext)

    @property
    def digest(self) -> str:
        return self.content_hash.split(":", 1)[1]


@dataclass(frozen=True)
class StoredBlob:
    locator: str
    size: int
    content_hash: str
    #: True when the blob was already in the store (checked, not copied again)
    reused: bool = False


@dataclass(frozen=True)
class Check:
    """The outcome of re-reading a stored blob."""

    ok: bool
    reason: str | None = None  # "missing", "size 10 != 12", "sha256 mismatch"
    size: int | None = None


@dataclass(frozen=True)
class TempCleanup:
    """What :meth:`BlobStore.clean_temp` found: leftovers of writers that died
    (removed), and those it left because their writer may still be at work."""

    removed: int = 0
    removed_bytes: int = 0
    kept: int = 0


@dataclass
class StoreContext:
    library_root: Path
    ctx: Context


class BlobStore(Declares, ABC):
    """Content-addressed, verified storage of originals; it has no delete at all.

    (``StoreCapabilities`` are gone, issue 12: no phase read ``server_side`` — audit
    downloads and re-hashes every copy, and a store's own ``has``/``put`` make the checks
    it can — nor ``deletes``: a store has no delete operation.)"""

    kind = "store"
    type_name: ClassVar[str]

    def __init__(self, name: str, config: dict, env: StoreContext):
        self.name = name
        self.config = config
        self.env = env

    @abstractmethod
    def has(self, key: BlobKey) -> StoredBlob | None:
        """The blob stored under ``key`` if it is present with the right size
        (and, where the store can tell without a download, the right hash)."""

    @abstractmethod
    def put(self, key: BlobKey, stream: BinaryIO, size: int | None = None) -> StoredBlob:
        """Store the bytes of ``stream`` under ``key`` and verify them against
        ``key.content_hash``.  Raises VerificationError when they do not match
        (nothing is then stored under the key)."""

    @abstractmethod
    def open(self, locator: str) -> BinaryIO:
        """The stored bytes (raises StoreError when missing)."""

    @abstractmethod
    def stat(self, locator: str) -> int | None:
        """Size of the stored blob, None when missing."""

    @abstractmethod
    def list(self) -> Iterator[tuple[str, int]]:
        """(locator, size) of every blob in the store."""

    @classmethod
    def keys_hint(cls, name: str, config: dict) -> str | None:
        """What to tell a person who added a store of this type without its keys."""
        return f"Keys: photosync store login {name}" if secret_options(cls.declared_options()) else None

    def unavailable(self) -> str | None:
        """Why the store cannot be reached right now (None when it can)."""
        return None

    def uri(self, locator: str) -> str:
        """Where a person (or another tool) finds the blob."""
        return f"{self.name}:{locator}"

    def flush(self) -> None:
        """Make every blob put so far durable before anything records it."""

    def clean_temp(self, thorough: bool = False) -> TempCleanup:
        """Remove what writers that died left behind (a local store's temp files,
        an S3 bucket's unfinished multipart uploads), never the work of a writer
        that may still be running; ``thorough`` also looks where older versions
        of photosync left them (a longer search: audit --blobs)."""
        return TempCleanup()

    def preload(self, count: int) -> None:
        """A hint before ``count`` puts: a store may learn in a few requests which blobs
        exist (and then skip asking one by one)."""

    def verify(self, locator: str, content_hash: str) -> Check:
        """Read the blob back (streaming) and compare its SHA-256."""
        from ..errors import StoreError, UnsafeLocator

        try:
            f = self.open(locator)
        except UnsafeLocator as e:
            return Check(False, f"not checked: {e}")
        except StoreError:
            return Check(False, "missing")
        h = hashlib.sha256()
        size = 0
        try:
            with f:
                while chunk := f.read(1024 * 1024):
                    h.update(chunk)
                    size += len(chunk)
        except OSError as e:
            return Check(False, f"unreadable ({e.strerror or e})", size)
        except StoreError as e:
            return Check(False, f"unreadable ({e})", size)
        if "sha256:" + h.hexdigest() != content_hash:
            return Check(False, "corrupt: its SHA-256 does not match", size)
        return Check(True, None, size)

    def describe(self) -> str:
        return f"{self.name} ({self.type_name})"
