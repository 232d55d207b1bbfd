"""Blob store types by name (see photosync.plugins)."""

from __future__ import annotations

from ..plugins import Registry
from .base import BlobStore, StoreContext

REGISTRY: Registry[BlobStore] = Registry("store", "photosync.stores", {
    "local": "photosync.stores.local:LocalStore",
    "s3": "photosync.stores.s3:S3Store",
    "b2": "photosync.stores.s3:B2Store",
})

register = REGISTRY.register
unregister = REGISTRY.unregister
known_types = REGISTRY.known_types
store_class = REGISTRY.get


def create(name: str, config: dict, env: StoreContext) -> BlobStore:
    return store_class(config.get("type", ""))(name, config, env)
