"""The request budget and the retry helper network connectors share."""

from __future__ import annotations

import pytest

from photosync.net import TokenBucket, retrying


class Clock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.slept.append(s)
        self.now += s


def test_bucket_never_passes_the_hourly_limit(tmp_path):
    clock = Clock()
    bucket = TokenBucket(3600, clock=clock, sleep=clock.sleep)  # burst 720, then 0.8 a second
    for _ in range(720):
        assert bucket.take() == 0
    assert bucket.take() == pytest.approx(1 / 0.8)
    # in any hour, however the calls come, no more than the limit go through
    clock2 = Clock()
    b2 = TokenBucket(3600, clock=clock2, sleep=clock2.sleep)
    taken = 0
    while clock2.now < 3600:
        b2.take()
        taken += 1
    assert taken <= 3600


def test_bucket_is_shared_by_runs_one_after_the_other(tmp_path):
    clock = Clock()
    state = str(tmp_path / "budget.json")
    first = TokenBucket(360, state_path=state, clock=clock, sleep=clock.sleep)  # burst 72
    for _ in range(72):
        first.take()
    first.save()
    second = TokenBucket(360, state_path=state, clock=clock, sleep=clock.sleep)
    assert second.take() > 0, "a second run in the same second gets no new burst"


def test_bucket_is_shared_by_runs_at_the_same_time(tmp_path):
    clock = Clock()
    state = str(tmp_path / "budget.json")
    a = TokenBucket(360, state_path=state, clock=clock, sleep=lambda s: None)  # burst 72
    b = TokenBucket(360, state_path=state, clock=clock, sleep=lambda s: None)
    waits = [(a if i % 2 else b).take() for i in range(72)]
    assert waits == [0] * 72
    assert a.take() > 0 and b.take() > 0, "two processes together got more than one burst"


def test_retrying_backs_off_then_gives_the_last_error():
    seen = []

    def flaky():
        seen.append(1)
        if len(seen) < 3:
            raise ConnectionError("transient")
        return "ok"

    delays = []
    assert retrying(flaky, transient=lambda e: isinstance(e, ConnectionError), attempts=5, base=0.001,
                    on_retry=lambda e, d: delays.append(d)) == "ok"
    assert len(seen) == 3 and len(delays) == 2 and delays[1] >= delays[0] * 0.5

    def always():
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        retrying(always, transient=lambda e: True, attempts=3, base=0.001)

    calls = []

    def permanent():
        calls.append(1)
        raise ValueError("bad id")

    with pytest.raises(ValueError):
        retrying(permanent, transient=lambda e: isinstance(e, ConnectionError), attempts=5, base=0.001)
    assert len(calls) == 1


def test_retrying_waits_at_least_what_the_server_asked_for():
    from email.utils import formatdate

    from photosync.net import RETRY_AFTER_CAP, retry_after_seconds

    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(formatdate(1000.0 + 30, usegmt=True), now=1000.0) == pytest.approx(30, abs=1)
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None

    class Busy(Exception):
        def __init__(self, wait):
            super().__init__("429")
            self.wait = wait

    asks = [3.0, 10_000.0]
    delays = []

    def busy():
        if asks:
            raise Busy(asks.pop(0))
        return "ok"

    assert retrying(busy, transient=lambda e: True, attempts=5, base=0.001, retry_after=lambda e: e.wait,
                    on_retry=lambda e, d: delays.append(d), sleep=lambda s: None) == "ok"
    assert delays[0] >= 3.0 and delays[1] == RETRY_AFTER_CAP  # an absurd ask is cut to the cap


# -- the checked download (net.download) against a file host on loopback ----------------------------

@pytest.fixture
def host():
    from fakes.files import FileHost

    with FileHost() as h:
        yield h


def _download(url, **kw):
    import requests

    from photosync.net import download

    kw.setdefault("attempts", 4)
    kw.setdefault("base", 0.001)
    with requests.Session() as s:
        f = download(s, url, **kw)
        with f:
            return f.read()


def test_download_retries_a_body_cut_short_and_checks_its_length(host):
    import os

    data = os.urandom(300_000)
    url = host.put("/a.jpg", data)
    host.cut_next(2)
    retried = []
    assert _download(url, on_retry=lambda e, d: retried.append(str(e))) == data
    assert host.requests_to("/a.jpg") == 3 and len(retried) == 2


def test_download_waits_what_retry_after_asks_and_says_it_failed_after_the_last_attempt(host):
    from photosync.errors import SourceError

    url = host.put("/b.jpg", b"\xff\xd8\xff" + b"x" * 1000)
    slept = []
    host.fail_next_with(1, 503, retry_after="2")
    assert _download(url, sleep=slept.append).startswith(b"\xff\xd8\xff")
    assert slept and slept[0] >= 2.0, slept  # not the 0.001 s backoff
    host.fail_next_with(10, 429)
    with pytest.raises(SourceError) as e:
        _download(url, attempts=3, sleep=slept.append)
    assert "after 3 attempts" in str(e.value) and "HTTP 429" in str(e.value) and host.address in str(e.value)


def test_download_does_not_retry_a_missing_file(host):
    from photosync.errors import SourceError

    with pytest.raises(SourceError, match="HTTP 404"):
        _download(host.url + "/nothing-here.jpg")
    assert host.requests_to("/nothing-here.jpg") == 1


def test_a_content_encoded_body_is_not_taken_for_one_cut_short(host):
    """A CDN may send a body gzip-encoded, its Content-Length then counts the bytes on the
    wire; requests hands back the decoded body, which is longer: not a truncation."""
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200_000  # compresses well
    url = host.put("/c.png", data, encoding="gzip")
    assert _download(url) == data
    assert host.requests_to("/c.png") == 1


def test_a_host_that_cannot_be_reached_is_named(host):
    from photosync.errors import SourceError

    url = host.put("/d.jpg", b"x")
    address = host.address
    host.stop()
    with pytest.raises(SourceError) as e:
        _download(url, attempts=2)
    assert f"cannot reach {address} after 2 attempts" in str(e.value)
