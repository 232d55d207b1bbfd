"""The Amazon Photos connector runs the connector contract suite against the fake Amazon
Photos (its own Drive v1 client, HTTP on loopback). A target only (``reads_back`` False):
the suite's tests that read items back are skipped, naming the hook the case lacks (``add``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from photosync.testing.connector import ConnectorCase, ConnectorContract


class AmazonCase(ConnectorCase):
    reads_back = False

    def __init__(self, tmp: Path):
        from fakes.amazon import FakeAmazonPhotos

        super().__init__(tmp)
        self.fake = FakeAmazonPhotos()
        self.fake.start()
        self.cookies = self.tmp / "cookies.txt"
        self.fake.write_cookies(self.cookies, style="netscape")

    def config(self) -> dict:
        return {"type": "amazon-photos", "album": "Echo Show", "endpoints": self.fake.endpoints,
                "retry": {"attempts": 3, "base_seconds": 0.01}}

    def connector(self):
        conn = super().connector()
        from photosync import credentials

        if credentials.load(self.ctx, "services", self.name) is None:
            conn.login(self.approve)
        return conn

    def close(self) -> None:
        self.fake.stop()

    def stored(self, item_id: str) -> bytes:
        [album] = self.fake.albums()
        assert item_id in self.fake.album_members(album), "an upload goes into the album"
        return self.fake.content(item_id)

    def approve(self, prompt: str) -> str:
        assert "cookies" in prompt
        return str(self.cookies)  # the person types where they saved the file

    def secrets(self) -> set[str]:
        return {v for v in self.fake.cookies().values() if len(v) >= 6}


class TestAmazonPhotosConnector(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path):
        return AmazonCase(tmp_path)
