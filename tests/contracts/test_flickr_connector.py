"""The Flickr connector runs the connector contract suite against the fake Flickr
(the real flickrapi client, HTTP on loopback)."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from photosync.testing.connector import ConnectorCase, ConnectorContract

LEVELS = {"private": (0, 0, 0), "friends": (0, 1, 0), "public": (1, 0, 0)}


class FlickrCase(ConnectorCase):
    keeps_filenames = False  # Flickr keeps no file names

    KEY = "0123456789abcdef0123456789abcdef"
    SECRET = "fedcba9876543210"

    def __init__(self, tmp: Path):
        from fakes.flickr import FakeFlickr

        from photosync import credentials

        super().__init__(tmp)
        self.fake = FakeFlickr(api_key=self.KEY, api_secret=self.SECRET, user_nsid="12345678@N00",
                               username="tester", fullname="Test Person", pro=True)
        self.fake.start()
        token, secret = self.fake.issue_token(perms="write")
        credentials.save(self.ctx, "services", self.name, {
            "api_key": self.KEY, "api_secret": self.SECRET, "oauth_token": token, "oauth_token_secret": secret,
            "perms": "write", "user_nsid": "12345678@N00", "username": "tester", "fullname": "Test Person"})

    def config(self) -> dict:
        return {"type": "flickr", "endpoints": self.fake.endpoints,
                "retry": {"attempts": 4, "base_seconds": 0.01}, "rate_limit": {"requests_per_hour": 1e7}}

    def close(self) -> None:
        self.fake.stop()

    def add(self, rel: str, data: bytes) -> str:
        from PIL import Image

        taken = Image.open(io.BytesIO(data)).getexif().get_ifd(0x8769).get(0x9003)  # DateTimeOriginal
        date = taken.replace(":", "-", 2) if taken else "2020-01-02 03:04:05"
        return self.fake.add_photo(data=data, title=Path(rel).stem, date_taken=date)

    def change(self, item_id: str, data: bytes) -> None:
        self.fake.replace_data(item_id, data)

    def remove(self, item_id: str) -> None:
        self.fake.delete_photo(item_id)

    def age(self, item_id: str, days: int) -> None:
        self.fake.age(item_id, days)

    def touch(self, item_id: str) -> None:
        self.fake.set_meta(item_id, title="A new title")

    def show(self, item_id: str, level: str) -> None:
        self.fake.set_perms(item_id, *LEVELS[level])

    def add_to_album(self, item_id: str, title: str) -> None:
        self.fake.create_album(title, [item_id])

    def hide(self, item_id: str) -> None:
        # Flickr cannot hide part of an account: the search that lists it keeps failing instead
        self.fake.fail_method("flickr.photos.search", times=10**6)

    def unhide(self, item_id: str) -> None:
        self.fake.fail_method("flickr.photos.search", times=0)

    def fail_reads(self, item_id: str) -> None:
        self.fake.truncate_downloads(10**6)  # every download breaks off (the connector retries, then gives up)

    def mend_reads(self, item_id: str) -> None:
        self.fake.truncate_downloads(0)

    def fetches(self) -> int:
        return self.fake.downloads

    def approve(self, prompt: str) -> str:
        import requests

        url = next(word for word in prompt.split() if "oauth_token=" in word)
        requests.get(url, timeout=10)  # the person opens the address and approves
        return self.fake.authorize(parse_qs(urlsplit(url).query)["oauth_token"][0])


class TestFlickrConnector(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path):
        return FlickrCase(tmp_path)
