"""Where things live in a library (one place for every path)."""

from __future__ import annotations

import re
import time
from pathlib import Path

PHOTOS_DIR = "photos"
CONFIG_DIR = "config"
SCHEMAS_DIR = "schemas"
BLOBS_DIR = "blobs"
SERVICES_FILE = "config/services.json"
PREFERENCES_FILE = "config/user-preferences.json"
SYNC_STATE_FILE = "config/sync-state.json"
CONFIG_FILES = {
    SERVICES_FILE: "services",
    PREFERENCES_FILE: "preferences",
    SYNC_STATE_FILE: "sync_state",
}
#: photosync's private, derived data inside the repository's git dir (never committed)
PRIVATE_DIR = "photosync"
#: this machine's settings (issue 17): where a folder service or a local store is mounted here;
#: laid over the shared config files when they are loaded, never committed (.gitignore)
MACHINE_FILE = "config/machine.json"
MACHINE_IGNORE = "/config/machine.json"

GITIGNORE = """\
# photosync: blob contents never enter git (they live in blob stores)
/blobs/*
!/blobs/.gitkeep
# this machine's own settings (mount points): not shared with other machines
/config/machine.json
# derived, rebuildable data
.photosync-cache/
__pycache__/
*.pyc
"""


def date_parts(taken_date: str | None) -> tuple[str, str] | None:
    """("2019", "07") for a taken_date, None when there is none."""
    if not taken_date or len(taken_date) < 7:
        return None
    year, month = taken_date[0:4], taken_date[5:7]
    if not (year.isdigit() and month.isdigit()):
        return None
    return year, month


def photo_path(photo_id: str, taken_date: str | None) -> str:
    """photos/YYYY/MM/<photo_id>.json (photos/undated/ when the date is unknown)."""
    parts = date_parts(taken_date)
    if parts is None:
        return f"{PHOTOS_DIR}/undated/{photo_id}.json"
    return f"{PHOTOS_DIR}/{parts[0]}/{parts[1]}/{photo_id}.json"


def is_photo_path(path: str) -> bool:
    return path.startswith(PHOTOS_DIR + "/") and path.endswith(".json")


#: a blob's extension: what a record may put into a key (a crafted file name must not add segments)
SAFE_EXT = re.compile(r"[a-z0-9]{1,10}")
_BLOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


def blob_name(photo_id: str, content_hash: str, taken_date: str | None, ext: str) -> str:
    """YYYY/MM/<photo_id>-<sha256>.<ext>, the design's content-addressed blob layout.

    The one place blob keys are built: every part is checked, so a key never has
    a segment a record chose (``..``, ``/``) and stays inside its store."""
    digest = content_hash.split(":", 1)[1] if ":" in content_hash else ""
    ext = (ext or "bin").lower().lstrip(".")
    if not (_BLOB_ID.fullmatch(photo_id) and _DIGEST.fullmatch(digest) and SAFE_EXT.fullmatch(ext)):
        raise ValueError(f"no blob key for photo {photo_id!r}, hash {content_hash!r}, extension {ext!r}: "
                         "a part is not an id, a SHA-256 or an extension of 1-10 letters and digits")
    parts = date_parts(taken_date) or ("undated", "")
    folder = "/".join(p for p in parts if p)
    return f"{folder}/{photo_id}-{digest}.{ext}"


#: a rendition's name (photosync/renditions.py): what it adds to its original's key
RENDITION_NAME = re.compile(r"[a-z][a-z0-9-]{0,23}")


def rendition_blob_name(photo_id: str, source_hash: str, taken_date: str | None, rendition: str,
                        content_hash: str, ext: str) -> str:
    """YYYY/MM/<photo_id>-<source sha256>.<rendition>.<sha256>.<ext>: a rendition's key, beside
    the original's (same folder, same prefix), and content-addressed by its own bytes, so a new
    recipe's output never lands on an older one's key (stores never delete or overwrite)."""
    base = blob_name(photo_id, source_hash, taken_date, "bin")[: -len(".bin")]
    digest = content_hash.split(":", 1)[1] if ":" in content_hash else ""
    ext = (ext or "bin").lower().lstrip(".")
    if not (RENDITION_NAME.fullmatch(rendition) and _DIGEST.fullmatch(digest) and SAFE_EXT.fullmatch(ext)):
        raise ValueError(f"no rendition key for {rendition!r}, hash {content_hash!r}, extension {ext!r}: "
                         "a part is not a rendition name, a SHA-256 or an extension of 1-10 letters and digits")
    return f"{base}.{rendition}.{digest}.{ext}"


def path_problem(rel: str | bytes, *, backslash: bool = False) -> str | None:
    """Why ``rel`` is not a path that stays inside the folder it is joined to
    (None when it is): it must be relative, with no empty, ``.`` or ``..``
    segment and no NUL (and, for store locators, no backslash: some stores and
    tools read it as a separator)."""
    if isinstance(rel, bytes):  # the same rules byte for byte: latin-1 maps each byte to one character
        rel = rel.decode("latin-1")
    sep, nul, back = "/", "\0", "\\"
    if not rel:
        return "it is empty"
    if nul in rel:
        return "it contains a NUL character"
    if backslash and back in rel:
        return "it contains a backslash"
    if rel[:1] == sep:
        return "it is an absolute path"
    for seg in rel.split(sep):
        if seg == "..":
            return "it has a '..' segment"
        if seg in (".", ""):
            return "it has an empty or '.' segment"
    return None


def user_path(path: str, library_root) -> Path:
    """A path from config or a flag: ~ expanded, relative paths taken from the library root."""
    import os

    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() else Path(library_root) / p


def folder_option(config: dict, what_to_do: str) -> dict:
    """A config entry whose ``path`` names a folder that must exist when it is added: the
    entry with the path made absolute, or a ConfigError naming the flag and ``what_to_do``."""
    from ..errors import ConfigError

    path = config["path"]
    resolved = user_path(path, Path.cwd())
    if not resolved.is_dir():
        raise ConfigError(f"--path {path}: no such folder ({resolved}); {what_to_do}")
    return {**config, "path": str(resolved.resolve())}


#: (the second, its text) of the last utc_now: a run stamps every record it stages (3 % of
#: discover's main thread went to formatting the same second again, py-spy at 23,901 photos)
_now: tuple[int, str] = (-1, "")


def utc_now() -> str:
    global _now
    second = int(time.time())
    if _now[0] != second:
        _now = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return _now[1]
