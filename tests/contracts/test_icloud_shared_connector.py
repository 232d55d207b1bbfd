"""The iCloud shared-album connector runs the connector contract suite against the fake shared
album (HTTPS on loopback, the first call of each run answering 330, dates in both forms)."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import pytest

from photosync.testing.connector import ConnectorCase, ConnectorContract


def taken_of(data: bytes) -> datetime:
    from PIL import Image

    taken = Image.open(io.BytesIO(data)).getexif().get_ifd(0x8769).get(0x9003)  # DateTimeOriginal
    if not taken:
        return datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    return datetime.strptime(taken, "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc)


class SharedAlbumCase(ConnectorCase):
    keeps_filenames = False   # a shared album keeps no file names
    supports_since = False    # the stream cannot be listed by date
    versioned_cursor = True   # the cursor keeps the stream's ctag

    def __init__(self, tmp: Path, monkeypatch):
        from fakes.icloud_shared import FakeICloudShared
        from fakes.tls import ca_bundle

        from photosync import credentials

        super().__init__(tmp)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle())
        self.fake = FakeICloudShared()
        self.fake.start()
        self.album = self.fake.create_album("Family")
        self.forms = 0
        credentials.save(self.ctx, "services", self.name, {"url": self.fake.url_for(self.album)})

    def config(self) -> dict:
        return {"type": "icloud-shared", "endpoints": {"sharedstreams": self.fake.endpoint},
                "retry": {"attempts": 3, "base_seconds": 0.01}}

    def close(self) -> None:
        self.fake.stop()

    def add(self, rel: str, data: bytes) -> str:
        self.forms += 1  # both date forms, alternating
        return self.album.add_photo(data, taken=taken_of(data), date_form="iso" if self.forms % 2 else "apple")

    def change(self, item_id: str, data: bytes) -> None:
        self.album.replace_data(item_id, data)

    def remove(self, item_id: str) -> None:
        self.album.remove_photo(item_id)

    def touch(self, item_id: str) -> None:
        self.album.set_caption(item_id, "A new caption")

    def add_to_album(self, item_id: str, title: str) -> None:
        # a shared album's photos are in that one album: it is given the title
        self.album.rename(title)

    def hide(self, item_id: str) -> None:
        # the album cannot be partly hidden: its one listing call keeps failing instead
        self.fake.fail_next(10**6, 503, endpoint="webstream")

    def unhide(self, item_id: str) -> None:
        self.fake.fail_next(0, 503, endpoint="webstream")

    def fail_reads(self, item_id: str) -> None:
        self.fake.fail_next(10**6, 503, endpoint="download")

    def mend_reads(self, item_id: str) -> None:
        self.fake.fail_next(0, 503, endpoint="download")

    def fetches(self) -> int:
        return len(self.fake.downloads)

    def secrets(self) -> set[str]:
        # the album's address is what keeps it private: it must never reach the library
        return {self.album.token}


class TestICloudSharedConnector(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path, monkeypatch):
        return SharedAlbumCase(tmp_path, monkeypatch)


def test_a_window_of_addresses_comes_in_one_call_whichever_photo_is_read_first(tmp_path, monkeypatch):
    """Discover reads a shared album's photos on several threads: the one that reaches the second
    photo first must not leave the first to a call of its own (a flaky count under load before)."""
    from photosync.testing.connector import listed, photo_bytes

    case = SharedAlbumCase(tmp_path, monkeypatch)
    try:
        ids = [case.add(f"p{n}.jpg", photo_bytes(n)) for n in range(30)]
        conn = case.connector()
        refs, _ = listed(conn)
        order = [r for r in refs]           # the listing's order
        before = case.fake.calls["webasseturls"]
        for item_id in (order[1], order[0], order[24]):
            conn.open(item_id).close()
        assert case.fake.calls["webasseturls"] - before == 1, "the first 25 photos' addresses in one call"
        conn.open(order[25]).close()
        assert case.fake.calls["webasseturls"] - before == 2, "the next window in a second"
        assert set(ids) == set(order)
    finally:
        case.close()
