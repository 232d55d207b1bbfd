"""photosync watch and its alerts, end to end: the real command looping over a fake iCloud shared
album (tests/fakes/icloud_shared) with a local store, and alerts sent by apprise to a webhook
receiver on loopback (apprise's json:// posts the title and body as JSON)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fakes.icloud_shared import FakeICloudShared
from fakes.tls import ca_bundle
from helpers import git_status, open_lib

pytestmark = pytest.mark.timeout(180)


class Receiver:
    """A webhook on loopback that keeps what it is sent (JSON bodies)."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    received.append(json.loads(body))
                except ValueError:
                    received.append({"raw": body.decode("utf-8", "replace")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def titles(self) -> list[str]:
        return [r.get("title", "") for r in self.received]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle())
    f = FakeICloudShared()
    f.start()
    yield f
    f.stop()


def add_album(cli, lib: Path, fake, album, name: str = "family") -> None:
    cli("-L", str(lib), "service", "add", name, "--type", "icloud-shared", "--url", fake.url_for(album),
        "--endpoint", f"sharedstreams={fake.endpoint}", "--retry-attempts", "2", "--retry-base-seconds", "0.01",
        check=0)


def set_alerts(lib: Path, urls: list[str]) -> None:
    path = lib / "config/user-preferences.json"
    prefs = json.loads(path.read_text())
    prefs["alerts"] = urls
    path.write_text(json.dumps(prefs, indent=2))


def blobs(lib: Path) -> list[Path]:
    return [p for p in (lib / "blobs").rglob("*") if p.is_file() and p.name != ".gitkeep"]


def test_watch_runs_cycles_one_plain_line_each(cli, library, fake):
    album = fake.create_album("Family")
    album.populate(3, videos_every=3)
    add_album(cli, library, fake, album)
    r = cli("-L", str(library), "watch", "--cycles", "2", "--interval", "0.1s", check=0)
    lines = r.out.splitlines()
    assert len(lines) == 2, r.out
    assert "cycle 1 ok" in lines[0] and "discover 3 new" in lines[0] and "replicate 3 copies made" in lines[0]
    assert "cycle 2 ok" in lines[1] and "discover 0 new" in lines[1] and "replicate 0 copies made" in lines[1]
    assert "\x1b[" not in r.out + r.err, "plain text when not a terminal"
    assert len(blobs(library)) == 3, "every photo and video copied to the store"
    assert git_status(library) == ""
    # one call a cycle once nothing changes (the 330 only on the very first call)
    assert fake.calls["webstream"] == 3 and fake.redirects == 1


def test_watch_holds_the_lock_and_stops_cleanly_on_sigterm(cli, library, fake):
    album = fake.create_album("Family")
    album.populate(2)
    add_album(cli, library, fake, album)
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-m", "photosync", "-L", str(library), "watch", "--interval", "1h"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        assert "cycle 1 ok" in first, first + proc.stderr.read()
        other = cli("-L", str(library), "discover")
        assert other.code == 3 and "another photosync" in other.err, "no other photosync while watching"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGTERM" in err and "stopped after 1 cycle" in err
    assert git_status(library) == ""
    cli("-L", str(library), "discover", check=0)  # the lock went with it


def test_a_stop_request_ends_the_cycle_between_steps(library, fake, cli):
    from photosync.phases.watch import cycle

    album = fake.create_album("Family")
    album.populate(2)
    add_album(cli, library, fake, album)
    stop = threading.Event()
    stop.set()  # asked to stop while discover runs: discover finishes and commits, nothing more starts
    lib, _ = open_lib(library)
    try:
        result = cycle(lib, 1, stop)
    finally:
        lib.close()
    assert result.stopped_after == "discover" and list(result.steps) == ["discover"]
    assert "stopped after discover" in result.line()
    assert len(list((library / "photos").rglob("*.json"))) == 2, "what discover read is committed"
    assert blobs(library) == [], "replicate did not start"
    assert git_status(library) == ""


def test_alerts_when_a_service_refuses_or_its_address_is_gone_at_most_once_an_hour(cli, library, fake, receiver):
    album = fake.create_album("Family")
    album.populate(1)
    add_album(cli, library, fake, album)
    set_alerts(library, [receiver.url])
    fake.fail_next(10**6, 503, endpoint="webstream")
    r = cli("-L", str(library), "watch", "--cycles", "2", "--interval", "0.1s")
    assert r.code == 1 and r.out.count("FAILED") == 2, r.out
    titles = receiver.titles()
    assert sorted(titles) == ["photosync: a watch cycle failed", "photosync: family refuses"], \
        "each alert once, though both cycles failed"
    assert any("503" in m.get("message", "") for m in receiver.received)
    # the album answers again: its alerts are cleared, so a new failure is told at once
    fake.fail_next(0)
    cli("-L", str(library), "watch", "--cycles", "1", check=0)
    from photosync import credentials
    from photosync.context import Context

    credentials.forget(Context.from_env(), "services", "family")  # as if the address were lost
    r = cli("-L", str(library), "watch", "--cycles", "1")
    assert r.code == 1
    assert "photosync: sign in to family again" in receiver.titles()
    assert receiver.titles().count("photosync: a watch cycle failed") == 2


def test_alert_throttle_and_clear():
    import tempfile

    from photosync.alerts import Alert, Alerts

    r = Receiver()
    try:
        now = [1000.0]
        with tempfile.TemporaryDirectory() as d:
            alerts = Alerts([r.url], Path(d), clock=lambda: now[0])
            a = Alert("refusing:family", "photosync: family refuses", "HTTP 503")
            assert alerts.send(a) == (True, [])
            now[0] += 1800
            assert alerts.send(a) == (False, []), "the same alert within the hour is not sent"
            assert alerts.send(Alert("cycle-failed", "photosync: a watch cycle failed", "x"))[0], \
                "another alert is"
            now[0] += 1801
            assert alerts.send(a)[0], "an hour later it is sent again"
            alerts.clear("refusing:family")
            assert alerts.send(a)[0], "a condition that cleared and came back is told at once"
        assert len(r.received) == 4
    finally:
        r.stop()


def test_alerts_test_command(cli, library, receiver):
    r = cli("-L", str(library), "alerts", "test")
    assert r.code == 2 and '"alerts"' in r.err
    set_alerts(library, [receiver.url, "json://127.0.0.1:9/nothing-listens-here"])
    r = cli("-L", str(library), "alerts", "test")
    assert r.code == 1
    assert "sent: json://127.0.0.1" in r.out and "not sent: json://127.0.0.1" in r.out
    assert receiver.titles() == ["photosync: test alert"]


def test_an_alert_address_with_a_password_is_refused(cli, library):
    set_alerts(library, ["mailto://me:hunter22@example.org"])
    r = cli("-L", str(library), "status")
    assert r.code == 2 and "alerts[0]" in r.err and "password" in r.err
    assert "hunter22" not in subprocess.run(["git", "-C", str(library), "log", "-p"], capture_output=True,
                                            text=True).stdout


@pytest.mark.parametrize("address", ["pover://userkey@apptoken", "tgram://bottoken/chat", "slack://a/b/c",
                                     "json://example.org/hook?token=t0k3n"])
def test_an_alert_address_carrying_a_token_is_refused_in_the_committed_preferences(cli, library, address):
    set_alerts(library, [address])
    r = cli("-L", str(library), "status")
    assert r.code == 2 and "alerts[0]" in r.err and "apprise config file" in r.err
    assert address not in r.err


def test_watch_killed_mid_cycle_again_and_again_ends_with_the_album_recorded_once(cli, library, fake):
    from helpers import kill_repeatedly

    album = fake.create_album("Family")
    guids = album.populate(24, videos_every=8)
    add_album(cli, library, fake, album)
    args = ["-L", str(library), "watch", "--interval", "0.1s"]
    kills = kill_repeatedly(args, times=3, pause=(0.05, 0.6), seed=15,
                            kill_when=lambda: fake.calls["download"] > 3,
                            after_kill=lambda: guids.append(album.add_photo(size=(64, 48), date_form="apple")))
    assert kills >= 1
    cli("-L", str(library), "watch", "--cycles", "1", check=0)
    # photos come and go, and watch is killed in the middle again
    removed = guids[0]
    album.remove_photo(removed)
    guids.extend(album.add_photo(size=(48, 64)) for _ in range(3))
    before = fake.calls["download"]
    kills = kill_repeatedly(args, times=3, pause=(0.05, 0.4), seed=16,
                            kill_when=lambda: fake.calls["download"] > before)
    r = cli("-L", str(library), "watch", "--cycles", "2", "--interval", "0.1s", check=0)
    assert "cycle 2 ok" in r.out, r.out
    recs = [json.loads(p.read_text()) for p in (library / "photos").rglob("*.json")]
    held = [inst["id"] for rec in recs for inst in rec["instances"]["family"]]
    assert sorted(held) == sorted(guids), "each item of the album recorded once, none lost"
    assert len(recs) == len(guids), "no photo recorded twice"
    gone = {inst["id"] for rec in recs for inst in rec["instances"]["family"] if inst.get("missing_since")}
    assert gone == {removed}, "the photo removed from the album is kept and marked missing"
    assert len(blobs(library)) == len(recs), "every photo copied to the store once"
    assert git_status(library) == ""


def test_an_expired_flickr_sign_in_is_an_alert_to_sign_in_again(cli, library, receiver):
    from fakes.flickr import FakeFlickr

    from photosync import credentials
    from photosync.context import Context

    key, secret = "0123456789abcdef0123456789abcdef", "fedcba9876543210"
    flickr = FakeFlickr(api_key=key, api_secret=secret, user_nsid="12345678@N00", username="tester",
                        fullname="Test Person", pro=True)
    flickr.start()
    try:
        args = ["-L", str(library), "service", "add", "flickr", "--type", "flickr", "--api-key", key,
                "--api-secret", secret, "--retry-attempts", "2", "--retry-base-seconds", "0.01"]
        for k, v in flickr.endpoints.items():
            args += ["--endpoint", f"{k}={v}"]
        cli(*args, check=0)
        token, token_secret = flickr.issue_token(perms="read")
        ctx = Context.from_env()
        saved = credentials.load(ctx, "services", "flickr")
        credentials.save(ctx, "services", "flickr", {**saved, "oauth_token": token, "oauth_token_secret": token_secret,
                                                     "perms": "read", "user_nsid": "12345678@N00"})
        set_alerts(library, [receiver.url])
        cli("-L", str(library), "watch", "--cycles", "1", check=0)
        assert receiver.received == []
        flickr.revoke(token)  # the person revoked photosync's access, or the token expired
        r = cli("-L", str(library), "watch", "--cycles", "1")
        assert r.code == 1 and "FAILED" in r.out
        assert "photosync: sign in to flickr again" in receiver.titles()
        assert any("photosync auth flickr" in m.get("message", "") for m in receiver.received)
    finally:
        flickr.stop()


def test_a_fault_of_photosync_itself_is_told_then_raised(library, receiver):
    from photosync.connectors import registry
    from photosync.connectors.base import Connector
    from photosync.library.layout import SERVICES_FILE
    from photosync.phases.watch import watch

    class Broken(Connector):
        """A connector with a bug."""

        type_name = "broken-test"

        def list(self, *, cursor, since, full_scan):
            raise RuntimeError("a bug in a connector")

        def describe(self, ref):
            raise AssertionError("not reached")

        def open(self, item_id, raw_name=None):
            raise AssertionError("not reached")

    registry.register("broken-test", Broken)
    try:
        lib, _ = open_lib(library)
        try:
            services = lib.raw_services()
            services["b"] = {"type": "broken-test", "enabled": True}
            lib.stage_config(SERVICES_FILE, services)
            lib.commit("service: add b")
        finally:
            lib.close()
        set_alerts(library, [receiver.url])
        lines = []
        with pytest.raises(RuntimeError, match="a bug in a connector"):
            watch(str(library), cycles=3, interval=0, on_cycle=lambda r: lines.append(r.line()))
        assert len(lines) == 1 and "FAILED" in lines[0] and "internal error: RuntimeError" in lines[0]
        assert receiver.titles() == ["photosync: a watch cycle failed"]
        lib, _ = open_lib(library)  # the lock went with the crash
        lib.close()
    finally:
        registry.unregister("broken-test")
