"""Blob store types by name (built-ins registered like plug-ins would be)."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..errors import ConfigError
from .base import BlobStore, StoreContext

_BUILTIN: dict[str, str] = {
    "local": "photosync.stores.local:LocalStore",
}
_extra: dict[str, type[BlobStore]] = {}


def register(type_name: str, cls: type[BlobStore]) -> None:
    _extra[type_name] = cls


def known_types() -> list[str]:
    names = set(_BUILTIN) | set(_extra)
    try:
        names |= {ep.name for ep in entry_points(group="photosync.stores")}
    except Exception:
        pass
    return sorted(names)


def store_class(type_name: str) -> type[BlobStore]:
    if type_name in _extra:
        return _extra[type_name]
    if type_name in _BUILTIN:
        module, _, attr = _BUILTIN[type_name].partition(":")
        return getattr(importlib.import_module(module), attr)
    for ep in entry_points(group="photosync.stores"):
        if ep.name == type_name:
            return ep.load()
    raise ConfigError(f"unknown store type '{type_name}' (known: {', '.join(known_types())})")


def create(name: str, config: dict, env: StoreContext) -> BlobStore:
    return store_class(config.get("type", ""))(name, config, env)
