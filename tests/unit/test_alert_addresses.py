"""How an alert address is named when it fails: many apprise schemes carry their token where a
host would be (pover://USER@TOKEN, tgram://BOTTOKEN/CHAT, slack://A/B/C), so the name printed in
a failure line (a log of `photosync watch`) must not be that part."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from photosync.alerts import Alert, Alerts


def test_a_failure_line_does_not_print_a_token_that_sits_where_a_host_would(tmp_path: Path, monkeypatch):
    # nothing leaves the machine: apprise's requests go to a proxy on loopback where nothing listens
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    entries = ["pover://userkeysecret@apptokensecret", "slack://tokenasecret/tokenbsecret/tokencsecret"]
    sent, failures = Alerts(entries, tmp_path).send(Alert("cycle-failed", "photosync: test", "x"))
    assert not sent and len(failures) == 2
    for line in failures:
        assert "secret" not in line.lower(), line
    assert failures[0].startswith("pover://") and failures[1].startswith("slack://")


def test_a_web_address_is_still_named_by_its_host(tmp_path: Path):
    sent, failures = Alerts(["json://127.0.0.1:9/hook-token"], tmp_path).send(Alert("k", "t", "b"))
    assert not sent and failures[0].startswith("json://127.0.0.1") and "hook-token" not in failures[0]



def test_an_apprise_config_file_others_can_read_is_not_used(tmp_path: Path):
    got: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            got.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conf = tmp_path / "apprise.txt"
        conf.write_text(f"json://127.0.0.1:{server.server_address[1]}/hook-secret\n")
        conf.chmod(0o644)
        sent, failures = Alerts([str(conf)], tmp_path / "state").send(Alert("k", "t", "b"))
        assert not sent and not got
        assert str(conf) in failures[0] and "chmod 600" in failures[0]
        conf.chmod(0o600)
        sent, failures = Alerts([str(conf)], tmp_path / "state").send(Alert("k", "t", "b"))
        assert sent and failures == [] and len(got) == 1
    finally:
        server.shutdown()
