"""What every phase needs: connectors and stores built from the library's config."""

from __future__ import annotations

from ..connectors import registry as connectors
from ..connectors.base import Connector, ConnectorContext
from ..library import config as cfg
from ..library.layout import SAFE_EXT, user_path
from ..library.library import Library
from ..stores import registry as stores
from ..stores.base import BlobKey, BlobStore, StoreContext
from ..media.formats import FORMATS, extension
from ..model import Photo


def store_env(lib: Library) -> StoreContext:
    return StoreContext(library_root=lib.root, ctx=lib.ctx)


def make_stores(lib: Library) -> dict[str, BlobStore]:
    """The active stores (primary first, then replicas), by name."""
    defs = lib.preferences["blob_storage"]["stores"]
    env = store_env(lib)
    return {name: stores.create(name, defs[name], env) for name in cfg.active_stores(lib.preferences)}


def store_folders(lib: Library) -> tuple:
    """Folders of local stores: a folder connector must not scan them."""
    return tuple(
        user_path(d["path"], lib.root)
        for d in lib.preferences["blob_storage"]["stores"].values()
        if d.get("type") == "local" and d.get("path")
    )


def connector_env(lib: Library) -> ConnectorContext:
    return ConnectorContext(library_root=lib.root, ctx=lib.ctx, report=lib.report, exclude=store_folders(lib))


class Connectors:
    """Connectors built on demand, one per configured service, errors remembered."""

    def __init__(self, lib: Library):
        self.lib = lib
        self._made: dict[str, Connector | Exception] = {}

    def get(self, name: str) -> Connector:
        if name not in self._made:
            try:
                config = cfg.require_service(self.lib.services, name)
                self._made[name] = connectors.create(name, config, connector_env(self.lib))
            except Exception as e:  # reported by the caller, once per service
                self._made[name] = e
        made = self._made[name]
        if isinstance(made, Exception):
            raise made
        return made


def blob_ext(photo: Photo) -> str:
    """The blob's extension: the format's, else the file name's when it is 1-10
    letters and digits (a name like ``x.jpg/../..`` must not shape the key), else bin."""
    fmt = photo.metadata.format
    if fmt and fmt in FORMATS:
        return FORMATS[fmt].ext
    ext = extension(photo.metadata.filename or "")
    return ext if SAFE_EXT.fullmatch(ext) else "bin"


def blob_key(photo: Photo) -> BlobKey:
    return BlobKey(photo.photo_id, photo.content_hash, photo.metadata.taken_date, blob_ext(photo))
