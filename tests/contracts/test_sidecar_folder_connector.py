"""The exercise of docs/adding-a-service.md (tests/plugins/sidecar_folder, a service type from
outside photosync, registered as a plugin would be) runs the connector contract suite in the
few lines the page promises, and its sidecars' statements are checked beyond it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from photosync.connectors import registry
from photosync.testing.connector import ConnectorContract, FolderCase, listed
from photosync.testing.helpers import photo_bytes

# the plugin is a package of its own, found as an installed one would be
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))


class SidecarCase(FolderCase):
    """A folder whose photos carry a sidecar JSON (written by ``touch`` and ``show``)."""

    def config(self) -> dict:
        return {"type": "sidecar-folder", "path": str(self.folder)}

    def _sidecar(self, item_id: str) -> dict:
        side = self.folder / (item_id + ".json")
        return json.loads(side.read_text()) if side.is_file() else {}

    def _write_sidecar(self, item_id: str, data: dict) -> None:
        (self.folder / (item_id + ".json")).write_text(json.dumps(data))

    def touch(self, item_id: str) -> None:
        data = self._sidecar(item_id)
        data["title"] = (data.get("title") or "") + " again"
        self._write_sidecar(item_id, data)

    def show(self, item_id: str, level: str) -> None:
        self._write_sidecar(item_id, {**self._sidecar(item_id), "visibility": level})


@pytest.fixture(autouse=True, scope="module")
def _registered():
    from sidecar_folder import SidecarFolderConnector

    registry.register("sidecar-folder", SidecarFolderConnector)
    yield
    registry.unregister("sidecar-folder")


class TestSidecarFolderConnector(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path):
        return SidecarCase(tmp_path)

    def test_what_the_sidecar_says_wins_over_the_bytes(self, case):
        item_id = case.add("a/IMG_1.jpg", photo_bytes(1))
        case._write_sidecar(item_id, {"title": "Harbour", "tags": ["sea"], "taken": "2019-05-04T10:00:00",
                                      "visibility": "friends"})
        conn = case.connector()
        refs, _ = listed(conn)
        item = conn.describe(refs[item_id])
        assert item.metadata.caption == "Harbour" and item.metadata.tags == ("sea",)
        assert item.metadata.taken_date.startswith("2019-05-04") and item.visibility == "friends"

    def test_a_sidecar_that_is_not_json_fails_that_photo_only(self, case):
        from photosync.errors import MediaError

        bad = case.add("bad.jpg", photo_bytes(1))
        good = case.add("good.jpg", photo_bytes(2))
        (case.folder / "bad.jpg.json").write_text("{not json")
        conn = case.connector()
        refs, _ = listed(conn)
        with pytest.raises(MediaError, match="bad.jpg.json"):
            conn.describe(refs[bad])
        assert conn.describe(refs[good]).content_hash
