"""What every phase needs: connectors and stores built from the library's config."""

from __future__ import annotations

from ..connectors import registry as connectors
from ..connectors.base import Connector, ConnectorContext
from ..library import config as cfg
from ..library.layout import user_path
from ..library.library import Library
from ..stores import registry as stores
from ..stores.base import BlobStore, StoreContext
# blob naming lives next to the stores; re-exported for the phases
from ..stores.naming import blob_ext, blob_key, content_instance, content_size, format_ext  # noqa: F401
from ..words import counted  # noqa: F401  (re-exported for the phases)


#: a commit carries at least this share of the library (1/BATCH_SHARE), up to MAX_BATCH records (each
#: held in memory until the commit, ~7 kB): :func:`commit_batch`
BATCH_SHARE = 100
MAX_BATCH = 2000


def commit_batch(lib: Library, photos: int) -> int:
    """How many records a commit carries in a library of ``photos``: ``commit_batch_size``
    (sync_preferences), or 1/BATCH_SHARE of the library when that is more, up to MAX_BATCH.  A
    commit rewrites git's index file (an entry for every record) and the trees of the month
    folders it touches, so its cost grows with the library: a pass over a whole library with
    fixed batches costs the square of its size; batches that grow with the library keep it
    linear, and MAX_BATCH bounds what a batch holds in memory until its commit.  Discover's first
    import uses it; replicate, resolve and derive still commit fixed batches (their records weigh
    more in memory: bench/README.md, issue 13's tenth session)."""
    size = int(lib.preferences["sync_preferences"].get("commit_batch_size", 500))
    return max(size, min(MAX_BATCH, photos // BATCH_SHARE))


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
