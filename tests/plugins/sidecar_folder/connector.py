"""The sidecar-folder connector: ``<folder>/<any path>/IMG_1.jpg`` with ``IMG_1.jpg.json``
(or ``IMG_1.json``) beside it:

    {"title": "...", "description": "...", "tags": ["..."], "taken": "2020-01-02T03:04:05",
     "location": {"lat": 1.5, "lng": 2.5}, "visibility": "private" | "friends" | "public"}

Every field is optional.  What the sidecar says wins over what the file's bytes say (the
service's statement, as a service's own metadata does); the bytes give the hash, format,
size and signature.  A sidecar that is not valid JSON fails that item only.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterator

from photosync.connectors.base import Capabilities, Connector, ItemRef, Listing, ServiceItem
from photosync.connectors.local import describe_file
from photosync.errors import ConfigError, MediaError, SourceError
from photosync.library.layout import path_problem, user_path
from photosync.model import VISIBILITY_LEVELS, Location
from photosync.options import Option


class SidecarFolderConnector(Connector):
    """A folder of photos, each with a sidecar JSON of its metadata (read-only)."""

    type_name = "sidecar-folder"
    # read-only: it cannot upload or change what it shows; it does state a visibility per item
    capabilities = Capabilities(visibility_levels=VISIBILITY_LEVELS)
    options = (
        Option("path", "The folder of photos and their sidecars.", "path", required=True),
        Option("sidecar", "How a photo's sidecar is named: suffix (IMG_1.jpg.json, as Google Takeout names them) "
                          "or stem (IMG_1.json).", "choice", choices=("suffix", "stem"), default="suffix"),
        Option("require_sidecar", "Leave out photos that have no sidecar.", "bool", default=False),
    )

    def __init__(self, name, config, env):
        super().__init__(name, config, env)
        self.root = user_path(config["path"], env.library_root)
        self.naming = config.get("sidecar", "suffix")
        self.require = bool(config.get("require_sidecar", False))

    @classmethod
    def check_config(cls, config: dict, library_root: Path) -> dict:
        if not Path(config["path"]).is_dir():
            raise ConfigError(f"--path {config['path']}: no such folder")
        return config

    # -- the contract ------------------------------------------------------------------------
    def _sidecar(self, rel: str) -> str:
        return rel + ".json" if self.naming == "suffix" else os.path.splitext(rel)[0] + ".json"

    def list(self, *, cursor=None, since: datetime | None = None, full_scan: bool = False) -> Listing:
        if not self.root.is_dir():
            raise SourceError(f"folder {self.root} does not exist or is not mounted")
        self.partial = False
        return Listing(refs=self._walk(since), complete=since is None)

    def _unlistable(self, error: OSError) -> None:
        # a folder that cannot be read: its photos are not gone, so the listing is partial and
        # discover marks nothing missing (the contract suite's test found os.walk's silence)
        self.env.report.error(str(error.filename), f"cannot read this folder: {error.strerror}; skipped")
        self.partial = True

    def _walk(self, since) -> Iterator[ItemRef]:
        for folder, dirs, files in os.walk(self.root, onerror=self._unlistable):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".json") or name.startswith("."):
                    continue
                rel = os.path.relpath(os.path.join(folder, name), self.root).replace(os.sep, "/")
                side = self.root / self._sidecar(rel)
                if self.require and not side.is_file():
                    continue
                st = os.stat(self.root / rel)
                if since is not None and st.st_mtime < since.timestamp():
                    continue
                side_mtime = side.stat().st_mtime_ns if side.is_file() else 0
                # a change of the file or of its sidecar changes the fingerprint; no content key, since
                # describe reads the file's bytes whatever it is told (a local read is cheap)
                yield ItemRef(rel, f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{side_mtime}", size=st.st_size)

    def describe(self, ref: ItemRef) -> ServiceItem:
        self._check(ref.id)
        item = describe_file(os.fsencode(str(self.root)), ref)
        side = self.root / self._sidecar(ref.id)
        if not side.is_file():
            # the sidecar states who may see a photo; without one, nobody but its owner (fails closed)
            return dataclasses.replace(item, visibility="private")
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            raise MediaError(f"sidecar {side.name} is not readable JSON ({e}); the photo is left for the next run") \
                from None
        md = item.metadata
        caption = "\n\n".join(p for p in (data.get("title"), data.get("description")) if p) or md.caption
        location = md.location
        if isinstance(data.get("location"), dict):
            location = Location(float(data["location"]["lat"]), float(data["location"]["lng"]))
        md = dataclasses.replace(
            md, caption=caption, tags=tuple(data.get("tags") or md.tags), location=location,
            location_source="service" if "location" in data else md.location_source,
            taken_date=data.get("taken") or md.taken_date,
            taken_date_source="service" if data.get("taken") else md.taken_date_source)
        visibility = data.get("visibility", "private")
        if visibility not in VISIBILITY_LEVELS:
            raise MediaError(f"sidecar {side.name}: visibility {visibility!r} is not one of "
                             f"{', '.join(VISIBILITY_LEVELS)}")
        return dataclasses.replace(item, metadata=md, visibility=visibility)

    def _check(self, item_id: str) -> None:
        problem = path_problem(item_id.encode("utf-8"))
        if problem is not None:
            raise SourceError(f"item id {item_id!r} is not a path inside {self.root} ({problem}); refused")

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        self._check(item_id)
        try:
            return open(self.root / item_id, "rb")
        except OSError as e:
            raise SourceError(f"cannot read {self.root / item_id}: {e.strerror}") from None

    def where(self, item_id: str) -> str:
        return str(self.root / item_id)
