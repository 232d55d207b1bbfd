"""Secrets, kept outside every library: one JSON file per store or service under
the user's config folder (``$PHOTOSYNC_CONFIG_DIR/credentials/``), the folder
mode 0700 and each file mode 0600.  A file that others can read is refused,
not used, so a secret never silently sits world-readable."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from .context import Context
from .errors import ConfigError


def _path(ctx: Context, kind: str, name: str) -> Path:
    return ctx.credentials_dir / kind / f"{name}.json"


def location(ctx: Context, kind: str, name: str) -> Path:
    """Where the secrets of store/service ``name`` are kept (the file may not exist)."""
    return _path(ctx, kind, name)


#: the names kept for one store or service: its file, a half-written one, pyicloud's cookie folder
_BESIDE = (".json", ".tmp", ".icloud")


def saved(ctx: Context, kind: str, name: str) -> list[Path]:
    """Everything kept for store/service ``name``: its file and what a client library keeps beside
    it under the same name (pyicloud's session cookies in ``<name>.icloud/``)."""
    folder = _path(ctx, kind, name).parent
    try:
        return sorted(p for p in folder.iterdir() if p.name in {f"{name}{suffix}" for suffix in _BESIDE})
    except FileNotFoundError:
        return []


def forget(ctx: Context, kind: str, name: str) -> bool:
    """Delete the saved secrets of ``name``, sessions beside them included (True when there were some)."""
    import shutil

    found = saved(ctx, kind, name)
    for p in found:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
    return bool(found)


def load(ctx: Context, kind: str, name: str) -> dict | None:
    """The secrets saved for store/service ``name`` (None when there are none)."""
    path = _path(ctx, kind, name)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} can be read by other users; run: chmod 600 {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not a readable credentials file ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a readable credentials file")
    return data


def save(ctx: Context, kind: str, name: str, secrets: dict) -> Path:
    """Write the secrets (0600, in a 0700 folder), replacing what was there."""
    path = _path(ctx, kind, name)
    for folder in (ctx.config_dir, ctx.credentials_dir, path.parent):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(secrets, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
