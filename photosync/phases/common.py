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
from ..words import counted  # noqa: F401  (re-exported for the phases)


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
    return format_ext(photo.metadata.format, photo.metadata.filename)


def format_ext(fmt: str | None, filename: str | None) -> str:
    """A blob's extension: its format's, else its file name's when it is 1-10 letters
    and digits, else "bin"."""
    if fmt and fmt in FORMATS:
        return FORMATS[fmt].ext
    ext = extension(filename or "")
    # a name like ``x.jpg/../..`` must not shape the key: 1-10 letters and digits, else bin
    return ext if SAFE_EXT.fullmatch(ext) else "bin"


def blob_key(photo: Photo, content_hash: str | None = None) -> BlobKey:
    """Where a content of ``photo`` is stored: the photo's id and date, the
    content's hash, and the extension of its own format (a merged PNG copy of a
    JPEG original stays .png)."""
    if content_hash is None or content_hash == photo.content_hash:
        return BlobKey(photo.photo_id, photo.content_hash, photo.metadata.taken_date, blob_ext(photo))
    inst = content_instance(photo, content_hash)
    ext = format_ext(inst.metadata.format, inst.metadata.filename or inst.id.rsplit("/", 1)[-1]) if inst else "bin"
    return BlobKey(photo.photo_id, content_hash, photo.metadata.taken_date, ext)


def content_instance(photo: Photo, content_hash: str):
    """The instance that best describes one content: a present one first."""
    insts = [i for i in photo.all_instances() if i.content_hash == content_hash]
    insts.sort(key=lambda i: (i.missing_since is not None, i.service, i.id))
    return insts[0] if insts else None


def content_size(photo: Photo, content_hash: str) -> int | None:
    for inst in photo.all_instances():
        if inst.content_hash == content_hash and inst.size is not None:
            return inst.size
    return None
