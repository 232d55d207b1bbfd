"""The apple-photos-export connector runs the connector contract suite: over an osxphotos export
folder without its database (ids are paths, as the folder connector's), and with osxphotos' export
database naming each file's Photos UUID (ids are ``UUID/original.EXT``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from photosync.testing.connector import ConnectorContract, FolderCase

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from osxphotos_export import write_export_db  # noqa: E402


class ExportCase(FolderCase):
    """An osxphotos export folder: each file with its exiftool JSON sidecar (``NAME.ext.json``)."""

    def config(self) -> dict:
        return {"type": "apple-photos-export", "path": str(self.folder)}

    def add(self, rel: str, data: bytes) -> str:
        rel = super().add(rel, data)
        name = rel.rsplit("/", 1)[-1]
        (self.folder / f"{rel}.json").write_text(json.dumps([{"SourceFile": name, "XMP:Title": f"About {name}"}]))
        return rel

    def touch(self, item_id: str) -> None:
        side = self.folder / f"{self._path(item_id)}.json"
        side.write_text(json.dumps([{"XMP:Title": "Changed in Photos"}]))

    def _path(self, item_id: str) -> str:
        return item_id

    def change(self, item_id, data):
        super().change(self._path(item_id), data)

    def remove(self, item_id):
        super().remove(self._path(item_id))

    def age(self, item_id, days):
        super().age(self._path(item_id), days)          # the photo and its sidecar: both written then
        super().age(f"{self._path(item_id)}.json", days)

    def hide(self, item_id):
        super().hide(self._path(item_id))

    def unhide(self, item_id):
        super().unhide(self._path(item_id))

    def fail_reads(self, item_id):
        super().fail_reads(self._path(item_id))

    def mend_reads(self, item_id):
        super().mend_reads(self._path(item_id))


class ExportWithDatabaseCase(ExportCase):
    """The same, with ``.osxphotos_export.db`` naming each file's Photos UUID."""

    def __init__(self, tmp: Path):
        super().__init__(tmp)
        self.paths: dict[str, str] = {}   # item id -> path

    def add(self, rel: str, data: bytes) -> str:
        super().add(rel, data)
        uuid = f"{len(self.paths) + 1:08X}-0000-4000-8000-000000000000"
        write_export_db(self.folder, [(rel, uuid)], {uuid: {"uuid": uuid}})
        item_id = f"{uuid}/original.{rel.rsplit('.', 1)[-1].lower()}"
        self.paths[item_id] = rel
        return item_id

    def _path(self, item_id: str) -> str:
        return self.paths[item_id]

    def add_to_album(self, item_id: str, title: str) -> None:
        """Photos' albums reach the export through the database's photoinfo (osxphotos' JSON)."""
        uuid = item_id.split("/", 1)[0]
        write_export_db(self.folder, [], {uuid: {"uuid": uuid, "albums": [title]}})


class TestApplePhotosExportConnector(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path):
        return ExportCase(tmp_path)


class TestApplePhotosExportWithDatabase(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path):
        return ExportWithDatabaseCase(tmp_path)

    # beyond the suite: a damaged export database is named, and the files are still listed (by path)
    def test_a_damaged_export_database_is_named_and_the_files_still_listed(self, case):
        from photosync.testing.connector import photo_bytes

        item_id = case.add("a.jpg", photo_bytes(1))
        (case.folder / ".osxphotos_export.db").write_bytes(b"not a database at all" * 100)
        conn = case.connector()
        ids = [r.id for r in conn.list().refs]
        assert ids == ["a.jpg"] and item_id != "a.jpg"
        assert any(".osxphotos_export.db" in p.where and "export database" in p.reason
                   for p in case.reported.problems), case.reported.problems

    # beyond the suite: the database where osxphotos' --exportdb put it (outside the export folder)
    def test_the_export_database_can_live_elsewhere(self, case, tmp_path):
        from photosync.connectors import registry
        from photosync.testing.connector import photo_bytes

        item_id = case.add("b.jpg", photo_bytes(2))
        elsewhere = tmp_path / "state" / "photos.db"
        elsewhere.parent.mkdir()
        (case.folder / ".osxphotos_export.db").rename(elsewhere)
        assert [r.id for r in case.connector().list().refs] == ["b.jpg"]
        conn = registry.create(case.name, {**case.config(), "export_db": str(elsewhere)}, case.env())
        assert [r.id for r in conn.list().refs] == [item_id]
