"""Paths outside the library (no hidden global state: tests point these at temp dirs)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Context:
    #: per-user settings and credentials (files mode 0600); never inside a library
    config_dir: Path

    @classmethod
    def from_env(cls) -> "Context":
        explicit = os.environ.get("PHOTOSYNC_CONFIG_DIR")
        if explicit:
            return cls(config_dir=Path(explicit).expanduser())
        from platformdirs import user_config_path

        return cls(config_dir=user_config_path("photosync"))

    @property
    def credentials_dir(self) -> Path:
        return self.config_dir / "credentials"


def cache_dir() -> Path:
    """The user's cache folder (``$PHOTOSYNC_CACHE_DIR``, else the platform's):
    only things that can be rebuilt live there."""
    base = os.environ.get("PHOTOSYNC_CACHE_DIR")
    if base:
        return Path(base)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("photosync"))
