"""One photosync process per library.

An advisory POSIX record lock (``lockf``) on ``.git/photosync/lock``: the
kernel drops it when the holder exits, however it exits, so a lock left by a
killed process never blocks; and unlike ``flock`` it is not inherited by the
worker processes discover forks, so a worker that outlives a killed parent
cannot hold the library.  The file holds the holder's pid, host and command, only to make the
message to the second process useful.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from ..errors import LibraryLocked


class LibraryLock:
    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            holder = self._describe_holder(fd)
            os.close(fd)
            raise LibraryLocked(
                f"another photosync is working on this library ({holder}); "
                "wait for it to finish, then run this again"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(["photosync", *sys.argv[1:]])[:200],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    @staticmethod
    def _describe_holder(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            return f"pid {info['pid']} on {info['host']}, since {info['started']}: {info['command']}"
        except (ValueError, KeyError, OSError):
            return "holder unknown"

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.lockf(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
