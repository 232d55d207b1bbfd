"""How an alert address is named when it fails: many apprise schemes carry their token where a
host would be (pover://USER@TOKEN, tgram://BOTTOKEN/CHAT, slack://A/B/C), so the name printed in
a failure line (a log of `photosync watch`) must not be that part."""

from __future__ import annotations

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
