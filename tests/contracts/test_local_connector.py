"""The local folder connector (the reference) runs the connector contract suite."""

from __future__ import annotations

import pytest

from photosync.errors import SourceError
from photosync.testing.connector import ConnectorContract, FolderCase


class TestLocalConnector(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path):
        return FolderCase(tmp_path)

    # beyond the suite: an id (or raw name) from a record a person edited never leaves the folder
    @pytest.mark.parametrize("item_id", ["../victim.jpg", "../../etc/passwd", "/etc/passwd", "a/../../victim.jpg"])
    def test_a_folder_connector_reads_nothing_outside_its_folder(self, case, item_id):
        (case.tmp / "victim.jpg").write_bytes(b"not yours")
        conn = case.connector()
        with pytest.raises(SourceError, match=r"instances\.case\[\]\.id.*refused"):
            conn.open(item_id)
        with pytest.raises(SourceError, match="refused"):
            conn.open("ok.jpg", raw_name=item_id.encode())
