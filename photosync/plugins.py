"""One registry shape for connector types and store types.  Built-ins are
registered exactly like plug-ins would be: one line each, imported only when
used; other packages add types through an entry-point group."""

from __future__ import annotations

import importlib

from .errors import ConfigError


class Registry:
    def __init__(self, kind: str, group: str, builtins: dict[str, str]):
        self.kind = kind  # "service" or "store", for messages
        self.group = group
        self._builtin = dict(builtins)
        self._extra: dict[str, type] = {}

    def register(self, type_name: str, cls: type) -> None:
        self._extra[type_name] = cls

    def _entry_points(self):
        try:
            from importlib.metadata import entry_points  # slow to import: only when asked

            return list(entry_points(group=self.group))
        except Exception:  # broken third-party metadata must not break photosync
            return []

    def known_types(self) -> list[str]:
        return sorted(set(self._builtin) | set(self._extra) | {ep.name for ep in self._entry_points()})

    def get(self, type_name: str) -> type:
        if type_name in self._extra:
            return self._extra[type_name]
        if type_name in self._builtin:
            module, _, attr = self._builtin[type_name].partition(":")
            return getattr(importlib.import_module(module), attr)
        for ep in self._entry_points():
            if ep.name == type_name:
                return ep.load()
        raise ConfigError(f"unknown {self.kind} type '{type_name}' (known: {', '.join(self.known_types())})")
