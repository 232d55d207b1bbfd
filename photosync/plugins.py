"""One registry shape for connector types and store types.  Built-ins are
registered exactly like plug-ins would be: one line each, imported only when
used; other packages add types through an entry-point group."""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Types of ``T`` (a connector or a store base class) by name."""

    def __init__(self, kind: str, group: str, builtins: dict[str, str]):
        self.kind = kind  # "service" or "store", for messages
        self.group = group
        self._builtin = dict(builtins)
        self._extra: dict[str, type[T]] = {}
        self._eps: list | None = None

    def register(self, type_name: str, cls: type[T]) -> None:
        """Make ``cls`` the type ``type_name`` in this process (a plug-in loaded by hand, a test);
        an installed package registers through the entry-point group instead."""
        named = getattr(cls, "type_name", type_name)
        if named != type_name:
            raise ValueError(f"{cls.__name__}.type_name is {named!r}, not {type_name!r}")
        self._extra[type_name] = cls

    def unregister(self, type_name: str) -> None:
        self._extra.pop(type_name, None)

    def _entry_points(self):
        # installed packages do not change while photosync runs: looked up once (7 ms a look-up here,
        # and a config check asks once per entry)
        if self._eps is None:
            try:
                from importlib.metadata import entry_points  # slow to import: only when asked

                self._eps = list(entry_points(group=self.group))
            except Exception:  # broken third-party metadata must not break photosync
                self._eps = []
        return self._eps

    def known_types(self) -> list[str]:
        return sorted(set(self._builtin) | set(self._extra) | {ep.name for ep in self._entry_points()})

    def get(self, type_name: str) -> type[T]:
        if type_name in self._extra:
            return self._extra[type_name]
        if type_name in self._builtin:
            module, _, attr = self._builtin[type_name].partition(":")
            return getattr(importlib.import_module(module), attr)
        for ep in self._entry_points():
            if ep.name == type_name:
                try:
                    return ep.load()
                except Exception as e:  # a broken plug-in names itself, and the rest goes on
                    raise ConfigError(f"{self.kind} type '{type_name}' ({ep.value}) cannot be loaded: "
                                      f"{type(e).__name__}: {e}") from None
        raise ConfigError(f"unknown {self.kind} type '{type_name}' (known: {', '.join(self.known_types())})")
