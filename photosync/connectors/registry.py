"""Connector types by name.  Built-ins are registered exactly like plug-ins
would be: one line each, imported only when used.  Other packages can add
types through the ``photosync.connectors`` entry-point group."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..errors import ConfigError
from .base import Connector, ConnectorContext

_BUILTIN: dict[str, str] = {
    "local": "photosync.connectors.local:LocalConnector",
}
_extra: dict[str, type[Connector]] = {}


def register(type_name: str, cls: type[Connector]) -> None:
    _extra[type_name] = cls


def _load(target: str) -> type[Connector]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def known_types() -> list[str]:
    names = set(_BUILTIN) | set(_extra)
    try:
        names |= {ep.name for ep in entry_points(group="photosync.connectors")}
    except Exception:  # broken third-party metadata must not break photosync
        pass
    return sorted(names)


def connector_class(type_name: str) -> type[Connector]:
    if type_name in _extra:
        return _extra[type_name]
    if type_name in _BUILTIN:
        return _load(_BUILTIN[type_name])
    for ep in entry_points(group="photosync.connectors"):
        if ep.name == type_name:
            return ep.load()
    raise ConfigError(f"unknown service type '{type_name}' (known: {', '.join(known_types())})")


def create(name: str, config: dict, env: ConnectorContext) -> Connector:
    cls = connector_class(config.get("type", ""))
    return cls(name, config, env)
