"""Upload intents: a note, made durable before an upload is sent, that the upload may have
happened.

A service can store a photo and the answer be lost (a dropped connection, a process killed
before its commit), and its search can lag behind the upload, so "look for photosync's tag"
alone can miss the photo and send it a second time.  An intent says which photo, which bytes,
when, and to which service; the next attempt looks the photo up around that time (by a way
that does not depend on the search index) before uploading again.  The intent is removed once
the upload is recorded in a commit.

One small JSON file per intent in the library's private dir
(``.git/photosync/upload-intents/<service>/<sha256 hex>.json``): never committed, written
with fsync (file and folder) before the upload starts, so it survives kill -9 and power loss.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

INTENTS_DIR = "upload-intents"


@dataclass(frozen=True)
class Intent:
    service: str
    photo_id: str
    content_hash: str
    #: unix time the upload was about to be sent
    at: float
    name: str | None = None


class UploadIntents:
    def __init__(self, private_dir: str | os.PathLike):
        self.root = Path(private_dir) / INTENTS_DIR

    def _path(self, service: str, content_hash: str) -> Path:
        digest = content_hash.split(":", 1)[-1]
        if not digest.isalnum() or "/" in service or service.startswith("."):
            raise ValueError(f"bad intent key {service!r} {content_hash!r}")
        return self.root / service / f"{digest}.json"

    def begin(self, service: str, photo_id: str, content_hash: str, name: str | None = None) -> Intent:
        """Record, durably, that ``content_hash`` is about to be uploaded to ``service``."""
        intent = Intent(service, photo_id, content_hash, time.time(), name)
        path = self._path(service, content_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        data = json.dumps({"service": service, "photo_id": photo_id, "content_hash": content_hash,
                           "at": intent.at, "name": name}).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        return intent

    def pending(self, service: str) -> list[Intent]:
        """The intents of ``service`` not cleared yet (uploads that may have happened unrecorded)."""
        folder = self.root / service
        out = []
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return []
        for n in names:
            if n.endswith(".tmp") and not n.endswith(f".{os.getpid()}.tmp"):
                try:
                    (folder / n).unlink()  # a killed run's half-written intent: its upload never started
                except OSError:
                    pass
            if not n.endswith(".json"):
                continue
            try:
                d = json.loads((folder / n).read_text("utf-8"))
                out.append(Intent(str(d["service"]), str(d["photo_id"]), str(d["content_hash"]), float(d["at"]),
                                  d.get("name")))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a torn write of a killed run: its upload had not started
        return out

    def clear(self, service: str, content_hashes) -> None:
        """Forget the intents of these uploads (recorded in a commit, or known not to have happened)."""
        folder = None
        for h in content_hashes:
            path = self._path(service, h)
            try:
                path.unlink()
                folder = path.parent
            except FileNotFoundError:
                pass
        if folder is not None:
            _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
