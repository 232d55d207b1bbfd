"""Where a photo's bytes can be read from: the one lookup replicate (a copy into a store),
publish (an upload), and the steps that render or export a photo's original use.

The order: the canonical instance first, then the other present instances with the same
bytes, then verified copies in the active blob stores.  A source is opened only when it is
tried; a failure to open or read one is that source's (the caller tries the next), never
the destination's.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, BinaryIO, Callable, Iterator, NamedTuple

from ..errors import PhotosyncError, SourceError, StoreError, VerificationError
from ..library.library import Library
from ..model import Photo
from ..stores.base import BlobStore
from .common import Connectors


class Source(NamedTuple):
    """One place a content of a photo can be read from."""

    #: for messages: "<service>:<item id>" or "store <name>"
    where: str
    #: opens a binary stream of the bytes (raises PhotosyncError or OSError when it cannot)
    open: Callable[[], IO[bytes]]
    #: the service of an instance, or None
    service: str | None = None
    #: the store of a blob copy, or None
    store: str | None = None


class SourceStream:
    """A source's stream: a failure to read it raises SourceError (the source's fault: the
    caller tries the next source), never a StoreError that would blame the destination."""

    def __init__(self, f, where: str):
        self._f = f
        self._where = where

    def read(self, n: int = -1) -> bytes:
        try:
            return self._f.read(n)
        except (OSError, StoreError) as e:
            raise SourceError(f"reading {self._where} failed: {e}") from None

    def __getattr__(self, name):  # seek, seekable, fileno, tell: the file's own
        return getattr(self._f, name)

    def close(self) -> None:
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._f.close()


class Sources:
    """The sources of photos' contents in a library, with its active ``stores`` (a store
    in ``disabled`` is not read: it failed during this run)."""

    def __init__(self, lib: Library, stores: dict[str, BlobStore], connectors: Connectors | None = None):
        self.lib = lib
        self.stores = stores
        self.connectors = connectors or Connectors(lib)
        #: stores not to read from (failed during this run)
        self.disabled: set[str] = set()

    def of(self, photo: Photo, content_hash: str | None = None) -> Iterator[Source]:
        """Each place a content of ``photo`` (the original by default) might be read from:
        the canonical source first, then the other present copies with the same bytes,
        then verified copies in blob stores."""
        h = content_hash or photo.content_hash
        insts = [i for i in photo.all_instances() if i.content_hash == h and i.missing_since is None]
        insts.sort(key=lambda i: (i.key != photo.canonical_source, i.service, i.id))
        for inst in insts:
            def opener(inst=inst):
                conn = self.connectors.get(inst.service)
                raw = base64.b64decode(inst.raw_name_b64) if inst.raw_name_b64 else None
                return conn.open(inst.id, raw)

            yield Source(inst.key, opener, service=inst.service)
        if h == photo.content_hash:
            copies = [(name, c.locator) for name, c in photo.good_copies().items()]
        else:
            copies = [(b.store, b.locator) for b in photo.superseded_blobs if b.content_hash == h and b.problem is None]
        for name, locator in copies:
            if name in self.stores and name not in self.disabled:
                yield Source(f"store {name}", functools.partial(self.stores[name].open, locator), store=name)

    def spool(self, photo: Photo, *, skip_service: str | None = None, purpose: str = "") -> BinaryIO:
        """The original, from the first source that gives the photo's bytes, in a temporary
        file (rewound; closing removes it); a source on ``skip_service`` is not read.
        SourceError names every source tried when none does (``purpose`` completes the
        sentence: "no readable copy of the original{purpose} (...)")."""
        tried = []
        for source in self.of(photo):
            if skip_service is not None and source.service == skip_service:
                continue
            try:
                return verified_spool(source.open, photo.content_hash)
            except (PhotosyncError, OSError) as e:
                tried.append(f"{source.where}: {e}")
        raise SourceError(f"no readable copy of the original{purpose} (" + ("; ".join(tried) or "none known") + ")")


def verified_spool(opener: Callable[[], IO[bytes]], content_hash: str) -> BinaryIO:
    """The bytes ``opener`` gives, copied into a temporary file while they are hashed
    (rewound), or VerificationError when they are not ``content_hash``'s: a file changed
    since discover is never used under the photo's name."""
    spool = tempfile.TemporaryFile()
    try:
        h = hashlib.sha256()
        with opener() as src:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                spool.write(chunk)
        if "sha256:" + h.hexdigest() != content_hash:
            raise VerificationError(f"its bytes hash to sha256:{h.hexdigest()[:16]}..., not the photo's "
                                    f"{content_hash[:23]}...; changed since discover?")
        spool.seek(0)
        return spool
    except BaseException:
        spool.close()
        raise


def local_file(lib: Library) -> Callable[[Photo], Path | None]:
    """A function giving a readable local file that holds a photo's original, without
    copying anything (a local store's blob, else a folder service's file), or None: for
    a preview.  A path from a record is followed only inside a local store's folder
    (records can be edited by hand), a folder item only by a safe id."""
    from ..library.layout import path_problem, user_path

    folders = {name: user_path(conf["path"], lib.root) for name, conf in lib.services.items()
               if conf.get("type") == "local" and conf.get("path")}
    stores = [os.path.realpath(user_path(d["path"], lib.root))
              for d in lib.preferences["blob_storage"]["stores"].values() if d.get("type") == "local" and d.get("path")]

    def locate(photo: Photo) -> Path | None:
        if photo.source_of_truth_path:
            p = Path(photo.source_of_truth_path)
            p = p if p.is_absolute() else lib.root / p
            real = os.path.realpath(p)
            if any(os.path.commonpath([real, root]) == root for root in stores) and p.is_file():
                return p
        # the original's own copy first, then any copy with its bytes
        insts = sorted(photo.all_instances(), key=lambda i: (i.key != photo.canonical_source,
                                                             i.content_hash != photo.content_hash))
        for inst in insts:
            if (inst.service in folders and inst.missing_since is None and inst.raw_name_b64 is None
                    and path_problem(inst.id) is None):
                p = folders[inst.service] / inst.id
                if p.is_file():
                    return p
        return None

    return locate
