"""The google-takeout connector runs the connector contract suite over a Takeout export in zip
parts that the case rewrites as the world changes (each top folder of an item its own part)."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from photosync.testing.connector import ConnectorCase, ConnectorContract
from photosync.testing.helpers import without_read_override

STAMP = "20250102T030405Z"
ROOT = "Takeout/Google Photos"


class TakeoutCase(ConnectorCase):
    keeps_filenames = True
    #: a Takeout has no notion of "changed since": every export is read whole (unchanged members are
    #: not re-read: their fingerprints are the same)
    supports_since = False
    #: a Takeout is often partial: its listings never prove a photo gone
    whole_listings = False

    def __init__(self, tmp: Path):
        super().__init__(tmp)
        self.folder = self.tmp / "export"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.items: dict[str, bytes] = {}   # rel -> bytes
        self.parts: dict[str, int] = {}     # top folder -> part number
        self._modes: dict[Path, tuple[int, object]] = {}

    def config(self) -> dict:
        return {"type": "google-takeout", "path": str(self.folder)}

    def _part_of(self, rel: str) -> Path:
        top = rel.split("/", 1)[0] if "/" in rel else ""
        n = self.parts.setdefault(top, len(self.parts) + 1)
        return self.folder / f"takeout-{STAMP}-{n:03d}.zip"

    def _write(self, part: Path) -> None:
        with zipfile.ZipFile(part, "w") as zf:
            for rel, data in sorted(self.items.items()):
                if self._part_of(rel) != part:
                    continue
                member = f"{ROOT}/{rel}"
                zf.writestr(member, data)
                title = rel.rsplit("/", 1)[-1]
                zf.writestr(f"{member}.supplemental-metadata.json", json.dumps({
                    "title": title, "description": "", "photoTakenTime": {"timestamp": "1577934245"},
                    "creationTime": {"timestamp": "1577934300"}, "geoData": {"latitude": 0.0, "longitude": 0.0}}))

    def add(self, rel: str, data: bytes) -> str:
        self.items[rel] = data
        part = self._part_of(rel)
        self._write(part)
        return f"{STAMP}/{ROOT}/{rel}"

    def _rel(self, item_id: str) -> str:
        return item_id[len(f"{STAMP}/{ROOT}/"):]

    def change(self, item_id: str, data: bytes) -> None:
        rel = self._rel(item_id)
        self.items[rel] = data
        part = self._part_of(rel)
        st = part.stat()
        self._write(part)
        os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    def remove(self, item_id: str) -> None:
        rel = self._rel(item_id)
        del self.items[rel]
        self._write(self._part_of(rel))

    def hide(self, item_id: str) -> None:
        part = self._part_of(self._rel(item_id))
        mode = stat.S_IMODE(part.stat().st_mode)
        restore = without_read_override()
        os.chmod(part, 0)
        self._modes[part] = (mode, restore)
        try:
            open(part, "rb").close()
        except PermissionError:
            return
        self.unhide(item_id)
        raise NotImplementedError("make an archive part unreadable here")

    def unhide(self, item_id: str) -> None:
        part = self._part_of(self._rel(item_id))
        mode, restore = self._modes.pop(part)
        restore()
        os.chmod(part, mode)


    def fail_reads(self, item_id: str) -> None:
        """The member's bytes damaged in its part (a download cut or flipped): it no longer matches its CRC."""
        data = self.items[self._rel(item_id)]
        part = self._part_of(self._rel(item_id))
        raw = bytearray(part.read_bytes())
        at = raw.index(data) + len(data) // 2
        raw[at] ^= 0xFF
        part.write_bytes(bytes(raw))

    def mend_reads(self, item_id: str) -> None:
        self._write(self._part_of(self._rel(item_id)))   # downloaded again


class TestGoogleTakeoutConnector(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path):
        return TakeoutCase(tmp_path)
