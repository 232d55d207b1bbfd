"""Finding the library a command works on: --library, else $PHOTOSYNC_LIBRARY,
else the nearest parent of the current directory that is one (like git)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import LibraryNotFound
from .layout import PREFERENCES_FILE, SERVICES_FILE

ENV_VAR = "PHOTOSYNC_LIBRARY"


def is_library(path: Path) -> bool:
    return (path / ".git").exists() and (path / SERVICES_FILE).is_file() and (path / PREFERENCES_FILE).is_file()


def find_library(explicit: str | os.PathLike | None = None, cwd: Path | None = None) -> Path:
    if explicit:
        root = Path(explicit).expanduser().resolve()
        if not is_library(root):
            raise LibraryNotFound(
                f"{root} is not a photosync library (no .git with config/services.json and "
                f"config/user-preferences.json). Create one with: photosync init {explicit}"
            )
        return root
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env).expanduser().resolve()
        if not is_library(root):
            raise LibraryNotFound(
                f"${ENV_VAR} points at {root}, which is not a photosync library. "
                f"Create one with: photosync init {root}"
            )
        return root
    here = (cwd or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if is_library(candidate):
            return candidate
    raise LibraryNotFound(
        f"no photosync library here ({here}) or in any parent folder. "
        "Create one with 'photosync init PATH', then run commands inside it, "
        f"or point at it with --library PATH or ${ENV_VAR}."
    )
