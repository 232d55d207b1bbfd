"""Google Picker and Google Photos (Library API) end to end: the real photosync command and the
unmodified Google client libraries against the fake Google (tests/fakes/google) on loopback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fakes.google import FakeGoogle
from helpers import git, git_status, kill_repeatedly
from photosync.testing.helpers import photo_bytes

ENDPOINTS = ("oauth_auth", "oauth_token", "picker", "library", "uploads")


@pytest.fixture
def fake(monkeypatch):
    # the fake speaks http; oauthlib refuses that outside tests (SERVICES.md)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with FakeGoogle() as f:
        yield f


def client_file(tmp_path: Path, fake) -> Path:
    path = tmp_path / "client_secret_1234.apps.googleusercontent.com.json"
    path.write_text(json.dumps(fake.client_config()))
    return path


def add_google(cli, lib: Path, fake, name: str, type_: str, *extra: str) -> None:
    args = ["-L", str(lib), "service", "add", name, "--type", type_,
            "--client-secrets", str(client_file(lib.parent, fake))]
    for k in ENDPOINTS:
        args += ["--endpoint", f"{k}={fake.endpoints[k]}"]
    cli(*args, *extra, check=0)
    path = lib / "config/services.json"
    services = json.loads(path.read_text())
    services[name]["retry"] = {"attempts": 4, "base_seconds": 0.01}
    services[name]["rate_limit"] = {"requests_per_hour": 1e7}
    path.write_text(json.dumps(services, indent=2))


def sign_in(lib: Path, name: str, fake=None) -> subprocess.CompletedProcess:
    """photosync auth NAME --no-browser as a person over SSH: open the address it prints, allow,
    paste the loopback address the browser was sent to."""
    import requests

    proc = subprocess.Popen([sys.executable, "-m", "photosync", "-L", str(lib), "auth", name, "--no-browser"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    url = None
    while url is None:
        line = proc.stderr.readline()
        assert line, f"auth printed no address: {lines}"
        lines.append(line)
        if "/o/oauth2/auth?" in line:
            url = line.strip()
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    out, err = proc.communicate(answer.headers["Location"] + "\n", timeout=60)
    assert proc.returncode == 0, out + err
    return subprocess.CompletedProcess(proc.args, 0, out, "".join(lines) + err)


def records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((lib / "photos").rglob("*.json"))]


class Person:
    """Picks ``ids`` in every picking session photosync opens (on their phone)."""

    def __init__(self, fake, ids):
        self.fake, self.ids, self.stop = fake, list(ids), threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.02):
            with self.fake._lock:
                open_ = [s.id for s in self.fake.sessions.values() if s.picked is None and not s.deleted]
            for sid in open_:
                self.fake.pick(sid, self.ids)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def test_client_file_goes_to_the_credentials_folder_and_sign_in_over_ssh(tmp_path, cli, fake):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    bad = tmp_path / "web.json"
    bad.write_text(json.dumps({"web": {"client_id": "x", "client_secret": "y"}}))
    run = cli("-L", str(lib), "service", "add", "gpick", "--type", "google-picker", "--client-secrets", str(bad))
    assert run.code != 0 and "web.json" in run.err and "Desktop app" in run.err
    add_google(cli, lib, fake, "gpick", "google-picker")
    creds = Path(os.environ["PHOTOSYNC_CONFIG_DIR"]) / "credentials/services/gpick.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert json.loads(creds.read_text())["client_secrets"]["installed"]["client_id"] == fake.client_id
    sign_in(lib, "gpick")
    saved = json.loads(creds.read_text())
    assert saved["refresh_token"] and stat.S_IMODE(creds.stat().st_mode) == 0o600
    cli("-q", "-L", str(lib), "status", check=0)
    everything = git(lib, "log", "-p", "--all")
    assert fake.client_secret not in everything and saved["refresh_token"] not in everything

    # the person revokes photosync's access: the next run says to sign in again
    fake.revoke(saved["refresh_token"])
    run = cli("-L", str(lib), "discover", "--service", "gpick")
    assert "photosync auth gpick" in run.err


def test_picked_items_are_recorded_honestly_once_and_join_the_camera_original(tmp_path, cli, fake):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    camera = tmp_path / "camera"
    camera.mkdir()
    (camera / "IMG_0001.jpg").write_bytes(photo_bytes(1))
    cli("-L", str(lib), "service", "add", "cam", "--type", "local", "--path", str(camera), check=0)
    ids = [fake.add_item(photo_bytes(1), "IMG_0001.jpg"), fake.add_item(photo_bytes(2, datetime(2021, 5, 6, 7, 8, 9)), "IMG_0002.jpg")]
    add_google(cli, lib, fake, "gpick", "google-picker")
    sign_in(lib, "gpick")
    run = cli("-L", str(lib), "discover", check=0)  # every service: but a picking session only when named
    assert not fake.sessions and "discover --service gpick" in run.err + run.out
    with Person(fake, ids):
        run = cli("-L", str(lib), "discover", "--service", "gpick", check=0)
    assert fake.sessions and all(s.deleted for s in fake.sessions.values()), "the session is deleted after"
    assert "/picker-ui/" in run.err + run.out, "the picker address is shown"
    picked = {i["id"]: i for r in records(lib) for i in r["instances"].get("gpick", [])}
    assert set(picked) == set(ids)
    for inst in picked.values():
        assert inst["quality"] != "original" and not inst["metadata"].get("location")
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "all", check=0)
    joined = [r for r in records(lib) if "gpick" in r["instances"] and "cam" in r["instances"]]
    assert len(joined) == 1, "the picked copy of the camera photo is an instance of it, not a second photo"
    assert joined[0]["instances"]["cam"][0]["content_hash"] == joined[0]["content_hash"], "the original wins"
    assert len(records(lib)) == 2
    before = git(lib, "rev-parse", "HEAD").strip()
    with Person(fake, ids):  # the same items picked again
        cli("-q", "-L", str(lib), "discover", "--service", "gpick", check=0)
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "all", check=0)
    assert len(records(lib)) == 2 and git(lib, "diff", "--stat", before, "HEAD", "--", "photos") == ""
    assert fake.errors == []


def _uploads_lib(tmp_path, cli, fake, n: int, name="gphotos"):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    camera = tmp_path / "camera"
    camera.mkdir()
    for i in range(n):
        # each taken at its own time: one shot each, nothing for resolve to ask about
        (camera / f"IMG_{i:04d}.jpg").write_bytes(photo_bytes(100 + i, datetime(2020, 1, 1) + timedelta(hours=i)))
    cli("-L", str(lib), "service", "add", "cam", "--type", "local", "--path", str(camera), check=0)
    add_google(cli, lib, fake, name, "google-photos", "--upload-from", "cam")
    sign_in(lib, name)
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "resolve", check=0)
    return lib


def _google_instances(lib: Path, name="gphotos") -> list[dict]:
    return [i for r in records(lib) for i in r["instances"].get(name, [])]


def test_a_kill_between_upload_and_record_never_makes_a_second_copy(tmp_path, cli, fake):
    n = 120
    lib = _uploads_lib(tmp_path, cli, fake, n)
    fake.delay = 0.01  # a little time for each request, so the kills land inside the uploads
    kills = kill_repeatedly(["-q", "-L", str(lib), "replicate", "--execute"], times=3, pause=(0.0, 0.6), seed=14,
                            kill_when=lambda: len(fake.created) > 0)
    assert kills >= 1
    killed_at = len(fake.created)
    assert killed_at < n, "the kills landed before every item was made"
    made_before = {it.sha256 for it in fake.app_items()}
    sent_before = len(fake.uploads)
    fake.delay = 0.0
    run = cli("-L", str(lib), "replicate", "--execute", check=0)
    # Google would hand back the same item for the same bytes anyway (it dedupes by content): what
    # photosync must add is not sending them again at all (found through the names it gave them)
    assert [u for u in fake.uploads[sent_before:] if u["sha256"] in made_before] == []
    made = fake.app_items()
    assert len(made) == n, run.out + run.err
    assert len(made) == n and len({it.sha256 for it in made}) == n, "every photo once on Google, never twice"
    insts = _google_instances(lib)
    assert len(insts) == n and {i["id"] for i in insts} == {it.id for it in made}
    assert {i["visibility"] for i in insts} == {"private"} and {i["quality"] for i in insts} == {"original"}
    creates = fake.calls["library.mediaItems.batchCreate"]
    assert creates >= -(-n // 50)
    assert git_status(lib) == ""
    run = cli("-L", str(lib), "replicate", "--execute", check=0)  # nothing left to send
    assert len(fake.app_items()) == n and fake.errors == []
    assert "0 to gphotos" not in run.out


def test_batches_of_fifty_one_at_a_time(tmp_path, cli, fake):
    n = 60
    lib = _uploads_lib(tmp_path, cli, fake, n)
    fake.reset_counters()
    cli("-q", "-L", str(lib), "replicate", "--execute", "--workers", "4", check=0)
    assert len(fake.app_items()) == n
    assert fake.calls["library.uploads"] == n
    assert fake.calls["library.mediaItems.batchCreate"] == 2, "60 items: one call of 50 and one of 10"
    assert len(_google_instances(lib)) == n and fake.errors == []


def test_a_spent_daily_quota_stops_cleanly_and_says_when_to_go_on(tmp_path, cli, fake):
    n = 55
    lib = _uploads_lib(tmp_path, cli, fake, n)
    with fake._lock:
        # the day's quota runs out after the first batch: the listing, 50 uploads, one batchCreate and a few more
        fake.library_daily_limit = fake.library_requests_today + 1 + 50 + 1 + 2
    run = cli("-L", str(lib), "replicate", "--execute", "--workers", "1")
    assert "daily quota" in run.err and "midnight Pacific Time" in run.err, run.err
    assert run.err.count("daily quota") == 1, "said once, not once per upload in flight"
    done = len(_google_instances(lib))
    assert done == len(fake.app_items()) == 50, "what was made is recorded and committed"
    assert git_status(lib) == ""
    fake.clock.advance(86400)  # the next day
    with fake._lock:
        fake.library_daily_limit = 10_000
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    assert len(_google_instances(lib)) == len(fake.app_items()) == n


# -- in-process: the connectors against the fake ---------------------------------------------------------

def _connector(tmp_path, fake, type_: str, name: str = "g"):
    from fakes.google import APPENDONLY, PICKER, READ_APPCREATED
    from photosync import credentials
    from photosync.connectors.base import ConnectorContext
    from photosync.connectors.registry import create
    from photosync.context import Context
    from photosync.events import Collector, Tally

    ctx = Context(tmp_path / "user-config")
    scopes = [PICKER] if type_ == "google-picker" else [APPENDONLY, READ_APPCREATED]
    info = fake.authorized_user_info(scopes)
    credentials.save(ctx, "services", name, {"client_secrets": fake.client_config(),
                                             "refresh_token": info["refresh_token"], "scopes": scopes})
    config = {"type": type_, "endpoints": {k: fake.endpoints[k] for k in ENDPOINTS},
              "retry": {"attempts": 3, "base_seconds": 0.01}, "rate_limit": {"requests_per_hour": 1e7}}
    reported = Collector()
    conn = create(name, config, ConnectorContext(library_root=tmp_path / "lib", ctx=ctx, report=Tally(reported)))
    return conn, reported


def _photo(seed: int, albums=(), caption=None, name=None):
    import hashlib
    import uuid

    from photosync.model import Metadata, Photo, Visibility

    data = photo_bytes(seed, datetime(2020, 1, 1) + timedelta(days=seed))
    photo = Photo(photo_id=str(uuid.UUID(int=seed)), content_hash="sha256:" + hashlib.sha256(data).hexdigest(),
                  canonical_source="cam:x", created_at="2020-01-01T00:00:00Z", updated_at="2020-01-01T00:00:00Z",
                  metadata=Metadata(filename=name or f"IMG_{seed}.jpg", caption=caption, albums=tuple(albums),
                                    media_type="photo", format="jpeg"),
                  visibility=Visibility("public"))
    return photo, data


def test_albums_are_photosyncs_own_and_filled_and_captions_become_descriptions(tmp_path, fake):
    import io

    conn, _ = _connector(tmp_path, fake, "google-photos")
    mine = fake.add_album("Holiday", [], app_created=False)   # the person's own album of that name
    photos = [_photo(i, albums=("Holiday", "Best") if i % 2 else ("Holiday",), caption=f"caption {i}")
              for i in range(1, 8)]
    sent = [conn.send_upload(p, io.BytesIO(d), len(d), "private") for p, d in photos]
    made = conn.create_uploads(sent)
    assert all(not isinstance(m, Exception) for m in made) and fake.calls["library.mediaItems.batchCreate"] == 1
    assert {m.visibility for m in made} == {"private"} and {m.quality for m in made} == {"original"}
    albums = {a.title: a for a in fake.albums.values() if a.created_by}
    assert set(albums) == {"Holiday", "Best"} and fake.albums[mine].items == []
    assert len(albums["Holiday"].items) == 7 and len(albums["Best"].items) == 4
    assert [fake.items[m.ref.id].description for m in made] == [f"caption {i}" for i in range(1, 8)]
    # what discover then reads back: the bytes photosync sent (by the name's mark), the caption, the albums
    listing = {r.id: r for r in conn.list(cursor=None, since=None, full_scan=False).refs}
    back = conn.describe(listing[made[0].ref.id])
    assert back.content_hash == photos[0][0].content_hash and back.metadata.filename == "IMG_1.jpg"
    assert back.metadata.caption == "caption 1" and set(back.metadata.albums) == {"Holiday", "Best"}
    # redoing what follows an upload (an item found after a kill) adds nothing twice
    assert conn.complete_upload(photos[0][0], made[0].ref.id, "private") == []
    assert len(albums["Holiday"].items) == 7


def test_batch_create_is_never_concurrent(tmp_path, fake):
    import io

    conn, _ = _connector(tmp_path, fake, "google-photos")
    photos = [_photo(20 + i) for i in range(4)]
    sent = [conn.send_upload(p, io.BytesIO(d), len(d), "private") for p, d in photos]
    fake.hold()
    results = []
    threads = [threading.Thread(target=lambda s=s: results.extend(conn.create_uploads([s]))) for s in sent[:2]]
    for t in threads:
        t.start()
    import time

    deadline = time.monotonic() + 10
    while fake.in_flight["library.mediaItems.batchCreate"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the second caller waits on photosync's side, not in Google's
    assert fake.in_flight["library.mediaItems.batchCreate"] == 1
    fake.release()
    for t in threads:
        t.join()
    assert len(results) == 2 and not any(isinstance(r, Exception) for r in results)


def test_files_over_googles_limits_are_policy_conflicts(tmp_path):
    import dataclasses

    from photosync.conflicts.detect import cannot_take
    from photosync.connectors.google.photos import GooglePhotosConnector
    from photosync.model import Instance

    caps = GooglePhotosConnector.capabilities
    photo, _ = _photo(1)

    def sized(size: int, kind: str):
        md = dataclasses.replace(photo.metadata, media_type=kind, format="jpeg" if kind == "photo" else "mp4")
        inst = Instance(service="cam", id="x", content_hash=photo.content_hash, size=size, metadata=md)
        return dataclasses.replace(photo, metadata=md, instances={"cam": [inst]})

    assert cannot_take(sized(199 * 10**6, "photo"), caps) == []
    assert "limit" in " ".join(cannot_take(sized(201 * 10**6, "photo"), caps))
    assert cannot_take(sized(19 * 10**9, "video"), caps) == []
    assert "limit" in " ".join(cannot_take(sized(21 * 10**9, "video"), caps))


def test_picker_refreshes_an_expired_base_url_and_gives_up_cleanly_on_timeout(tmp_path, fake):
    from photosync.connectors.google import picker

    conn, reported = _connector(tmp_path, fake, "google-picker")
    ids = [fake.add_item(photo_bytes(i, datetime(2020, 1, 1) + timedelta(days=i)), f"IMG_{i}.jpg") for i in range(3)]
    with Person(fake, ids):
        listing = conn.list(cursor=None, since=None, full_scan=False)
        refs = list(listing.refs)
    assert [r.id for r in refs] == ids and fake.calls["picker.mediaItems.list"] == 1
    first = conn.describe(refs[0])
    fake.clock.advance(3700)  # past a baseUrl's 60 minutes (and as old on photosync's monotonic clock)
    conn._picked = {k: (e, at - picker.BASE_URL_MAX_AGE - 1) for k, (e, at) in conn._picked.items()}
    again = conn.describe(refs[0])
    # listed again for a fresh baseUrl (once refused: the access token aged too, and was refreshed)
    assert again.content_hash == first.content_hash and fake.calls["picker.mediaItems.list"] == 3, fake.calls
    assert fake.calls["oauth.token"] == 2
    assert again.quality != "original" and again.metadata.location is None
    listing.final_cursor()
    assert all(s.deleted for s in fake.sessions.values())
    # nobody picks: the session times out, nothing is listed, the listing says it is partial
    fake.picking_timeout = 0.3
    empty = conn.list(cursor=None, since=None, full_scan=False)
    assert list(empty.refs) == [] and not empty.complete
    assert any("timed out" in p.reason for p in reported.problems), reported.problems


def test_429_5xx_and_dropped_answers_are_tried_again(tmp_path, fake):
    import io

    conn, _ = _connector(tmp_path, fake, "google-photos")
    fake.retry_after = 0
    photos = [_photo(40 + i) for i in range(3)]
    fake.fail_next(1, 429, path_prefix="/photoslibrary/v1/uploads")
    fake.fail_next(1, "drop", path_prefix="/photoslibrary/v1/uploads")
    sent = [conn.send_upload(p, io.BytesIO(d), len(d), "private") for p, d in photos]
    fake.fail_next(1, 429, path_prefix="/photoslibrary/v1/mediaItems:batchCreate")
    fake.fail_next(1, 503, path_prefix="/photoslibrary/v1/mediaItems:batchCreate")
    made = conn.create_uploads(sent)
    assert not any(isinstance(m, Exception) for m in made)
    assert len(fake.app_items()) == 3 and len(fake.uploads) == 3
    # a fault that stays: the item fails with a clear error, nothing is made twice
    fake.fail_next(100, 503, path_prefix="/photoslibrary/v1/uploads")
    from photosync.errors import SourceError

    p, d = _photo(50)
    with pytest.raises(SourceError, match="upload failed after 3 attempts"):
        conn.send_upload(p, io.BytesIO(d), len(d), "private")


def test_sign_in_through_a_browser_and_a_loopback_redirect(tmp_path, fake, monkeypatch):
    import webbrowser

    from fakes.google import browser
    from photosync import credentials

    conn, _ = _connector(tmp_path, fake, "google-photos")
    headless = browser.register()
    webbrowser.get()  # (fills webbrowser's list of browsers, so the one below stays the only one)
    monkeypatch.setattr(webbrowser, "_tryorder", [browser.NAME])

    def no_paste(prompt):
        raise AssertionError("asked to paste although a browser could be opened")

    conn.login(no_paste)
    assert headless.opened and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in headless.opened[0]
    assert "access_type=offline" in headless.opened[0]
    saved = credentials.load(conn.env.ctx, "services", conn.name)
    assert saved["refresh_token"] and set(saved["scopes"]) == set(conn.scopes)
    # the person unticks a scope on the consent screen: nothing half-granted is saved
    fake.withheld_scopes = {conn.scopes[0]}
    from photosync.errors import AuthError

    with pytest.raises(AuthError, match="photosync auth"):
        conn.login(no_paste)
    assert credentials.load(conn.env.ctx, "services", conn.name)["refresh_token"] == saved["refresh_token"]
