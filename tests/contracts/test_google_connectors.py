"""The google-picker and google-photos connectors run the connector contract suite against the fake
Google (tests/fakes/google), driven through the unmodified google-api-python-client, google-auth and
google-auth-oauthlib.  For the Picker, a "person" thread picks every item of the case's account in
each session photosync opens, as a person would on their phone."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fakes.google import APPENDONLY, PICKER, READ_APPCREATED, FakeGoogle
from photosync import credentials
from photosync.testing.connector import ConnectorCase, ConnectorContract


@pytest.fixture(autouse=True)
def _plain_http(monkeypatch):
    # the fake speaks http; oauthlib refuses that outside tests (SERVICES.md)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


class GoogleCase(ConnectorCase):
    keeps_tags = False       # Google Photos has no tags
    supports_since = False   # neither API lists "changed since"
    whole_listings = False   # the Picker gives what was picked; the Library API only what the app made
    type_name = ""
    scopes: tuple[str, ...] = ()
    app_created = False

    def __init__(self, tmp: Path):
        super().__init__(tmp)
        self.fake = FakeGoogle().start()
        self.hidden: set[str] = set()
        info = self.fake.authorized_user_info(list(self.scopes))
        credentials.save(self.ctx, "services", self.name, {
            "client_secrets": self.fake.client_config(), "refresh_token": info["refresh_token"],
            "scopes": list(self.scopes)})

    def config(self) -> dict:
        e = self.fake.endpoints
        return {"type": self.type_name,
                "endpoints": {k: e[k] for k in ("oauth_auth", "oauth_token", "picker", "library", "uploads")},
                "retry": {"attempts": 2, "base_seconds": 0.01},
                "rate_limit": {"requests_per_hour": 1_000_000}}

    def close(self) -> None:
        self.fake.stop()

    def add(self, rel: str, data: bytes) -> str:
        return self.fake.add_item(data, rel.rsplit("/", 1)[-1], app_created=self.app_created)

    def change(self, item_id: str, data: bytes) -> None:
        import hashlib

        # an edit saved over the item in Google Photos: same id, new bytes
        with self.fake._lock:
            item = self.fake.items[item_id]
            item.data = data
            item.sha256 = hashlib.sha256(data).hexdigest()
            item.filename = item.filename  # unchanged

    def remove(self, item_id: str) -> None:
        with self.fake._lock:
            del self.fake.items[item_id]

    def fetches(self) -> int:
        return self.fake.calls["media.download"]

    def fail_reads(self, item_id: str) -> None:
        self.fake.fail_next(10_000, 503, path_prefix="/lh3/")   # every download answers 503

    def mend_reads(self, item_id: str) -> None:
        self.fake.fail_next(0)

    def approve(self, prompt: str) -> str:
        """The person opens the address, allows, and pastes the loopback address the browser went to."""
        import re

        import requests

        url = re.search(r"https?://\S+/o/oauth2/auth\S*", prompt).group(0)
        answer = requests.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


class PickerCase(GoogleCase):
    type_name = "google-picker"
    sees_changes = False   # a picked item says nothing that surely moves with an edit
    opens_unlisted = False  # picked items are read within the session that picked them
    scopes = (PICKER,)

    def __init__(self, tmp: Path):
        super().__init__(tmp)
        self._stop = threading.Event()
        self._person = threading.Thread(target=self._pick_everything, daemon=True)
        self._person.start()

    def _pick_everything(self) -> None:
        while not self._stop.wait(0.02):
            with self.fake._lock:
                open_ = [s.id for s in self.fake.sessions.values() if s.picked is None and not s.deleted]
                ids = [i for i in self.fake.items if i not in self.hidden]
            for sid in open_:
                if ids:
                    try:
                        self.fake.pick(sid, ids)
                    except (RuntimeError, KeyError):
                        pass

    def close(self) -> None:
        self._stop.set()
        self._person.join()
        super().close()


class LibraryCase(GoogleCase):
    type_name = "google-photos"
    sees_changes = False   # an item's listing says nothing that surely moves with an edit either
    scopes = (APPENDONLY, READ_APPCREATED)
    app_created = True   # the app sees only what it made

    def add_to_album(self, item_id: str, title: str) -> None:
        with self.fake._lock:
            album = next((a for a in self.fake.albums.values() if a.title == title), None)
            if album is None:
                self.fake.add_album(title, [item_id], app_created=True)
            else:
                album.items.append(item_id)


class TestGooglePickerConnector(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path):
        return PickerCase(tmp_path)


class TestGooglePhotosConnector(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path):
        return LibraryCase(tmp_path)
