"""What the contract suites need besides the cases: sample photo bytes, a scan
for secrets in a library, and a way to make a folder unreadable even to root."""

from __future__ import annotations

import ctypes
import functools
import io
import os
import zlib
from datetime import datetime
from pathlib import Path

TAKEN = datetime(2020, 1, 2, 3, 4, 5)


@functools.lru_cache(maxsize=64)
def photo_bytes(seed: int, taken: datetime = TAKEN) -> bytes:
    """A small JPEG with EXIF (camera, date taken ``taken``): a different picture for each seed."""
    from ..sample import draw_picture, exif_bytes

    buf = io.BytesIO()
    draw_picture(seed, (320, 240)).save(buf, format="JPEG", exif=exif_bytes(taken, None, None, "Testcam", "T1", None),
                                       quality=85)
    return buf.getvalue()


def secrets_in_library(root: Path, secrets: set[str]) -> list[str]:
    """Where under ``root`` (work tree, git objects loose or packed, the derived index,
    anything else) one of ``secrets`` appears: "path: secret…" lines, empty when none.
    Git's loose objects are zlib-compressed and packed ones are read through pygit2,
    so a secret committed once and removed since is found too."""
    needles = {s.encode(): s for s in secrets if s}
    found: list[str] = []

    def look(where: str, data: bytes) -> None:
        for needle, text in needles.items():
            if needle in data:
                found.append(f"{where}: {text[:4]}…")

    for dirpath, _dirs, files in os.walk(root):
        for fn in files:
            path = Path(dirpath) / fn
            try:
                data = path.read_bytes()
            except OSError:
                continue
            rel = str(path.relative_to(root))
            look(rel, data)
            if "/objects/" in f"/{rel}" and len(fn) == 38:  # a loose object: zlib
                try:
                    look(rel + " (inflated)", zlib.decompress(data))
                except zlib.error:
                    pass
    if (root / ".git").is_dir():
        import pygit2

        repo = pygit2.Repository(str(root))
        for oid in repo.odb:
            look(f"git object {oid}", repo.odb.read(oid)[1])
    return found


# -- a folder root cannot read ---------------------------------------------------------------------
# Root reads any file whatever its mode (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a folder
# made unreadable with chmod stays readable to a test run as root (as in CI containers).  The
# capabilities are dropped from the calling thread's effective set while the folder must be
# unreadable and raised again afterwards (they stay in the permitted set): capget/capset(2),
# _LINUX_CAPABILITY_VERSION_3 (linux/capability.h).
_CAP_VERSION_3 = 0x20080522
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _capabilities(effective: int | None = None) -> int:
    """The calling thread's first 32 effective capabilities; with ``effective``, set them first."""
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    if effective is not None:
        data[0].effective = effective
        if libc.capset(ctypes.byref(header), data) != 0:
            raise OSError(ctypes.get_errno(), "capset")
    return data[0].effective


def without_read_override():
    """Make this thread obey file modes even as root; returns a function that undoes
    it.  Raises NotImplementedError where that cannot be done (not Linux)."""
    if os.geteuid() != 0:
        return lambda: None
    try:
        saved = _capabilities()
        _capabilities(saved & ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH)))
    except (OSError, AttributeError) as e:
        raise NotImplementedError(f"running as root, and the read-anything capabilities cannot be dropped ({e})") \
            from None
    return lambda: _capabilities(saved)
