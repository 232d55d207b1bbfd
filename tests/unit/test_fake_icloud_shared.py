"""The fake iCloud shared album (tests/fakes/icloud_shared) driven with requests over
HTTPS, as a connector will: the partition from the token, the 330 to the album's home
host, both date forms, numbers as strings, 25-guid batches, expiring asset URLs,
videos, the ctag and the request counts the benchmark relies on."""

from __future__ import annotations

import hashlib
import io
import struct
from datetime import datetime, timedelta, timezone

import pytest
import requests
from PIL import Image

from fakes.icloud_shared import APPLE_EPOCH, FakeICloudShared, host_of, partition_of
from fakes.pictures import jpeg
from fakes.tls import ca_bundle


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle())
    with FakeICloudShared() as f:
        yield f
    assert f.errors == [], "the fake failed internally"


def post(fake, host, token, call, body):
    # the connector's routing with --endpoint sharedstreams=URL: the real host is the first path segment
    return requests.post(f"{fake.endpoint}/{host}/{token}/sharedstreams/{call}", json=body, timeout=10)


def stream(fake, album, ctag=None):
    """webstream the way a client does it: the computed host first, then the 330's host."""
    r = post(fake, host_of(partition_of(album.token)), album.token, "webstream", {"streamCtag": ctag})
    if r.status_code == 330:
        r = post(fake, r.json()["X-Apple-MMe-Host"], album.token, "webstream", {"streamCtag": ctag})
    assert r.status_code == 200
    return r.json()


def parse_date(value: str) -> datetime:
    """What the connector must do: ISO-8601 or Apple-epoch seconds (seed 000)."""
    if value.replace(".", "", 1).isdigit():
        return APPLE_EPOCH + timedelta(seconds=float(value))
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_partition_comes_from_the_token():
    # llun.me: token B12GfnH8tC0ZuK lives on p64; an 'A' token names its partition in one digit
    assert partition_of("B12GfnH8tC0ZuK") == 64
    assert host_of(partition_of("B12GfnH8tC0ZuK")) == "p64-sharedstreams.icloud.com"
    assert partition_of("A7abcdefghijkl") == 7
    assert host_of(7) == "p07-sharedstreams.icloud.com"
    assert partition_of("B0z5qAGN1JIFd3y") == 61        # "0z" in base62


def test_first_call_answers_330_with_the_home_host_and_the_home_host_answers(fake):
    album = fake.create_album("Family")
    album.add_photo(size=(120, 90))
    computed = host_of(partition_of(album.token))
    r = post(fake, computed, album.token, "webstream", {"streamCtag": None})
    assert r.status_code == 330
    home = r.json()["X-Apple-MMe-Host"]
    assert home != computed and home.endswith("-sharedstreams.icloud.com")
    r = post(fake, home, album.token, "webstream", {"streamCtag": None})
    assert r.status_code == 200 and r.json()["streamName"] == "Family"
    # webasseturls on the wrong host is redirected the same way
    r = post(fake, computed, album.token, "webasseturls", {"photoGuids": []})
    assert r.status_code == 330 and r.json()["X-Apple-MMe-Host"] == home
    assert fake.redirects == 2


def test_the_host_can_also_come_from_the_host_header(fake):
    album = fake.create_album("Family", home_partition=12)
    r = requests.post(f"{fake.endpoint}/{album.token}/sharedstreams/webstream", json={"streamCtag": None},
                      headers={"Host": "p12-sharedstreams.icloud.com"}, timeout=10)
    assert r.status_code == 200
    # no host at all: the fake cannot tell which partition was meant and says so
    r = requests.post(f"{fake.endpoint}/{album.token}/sharedstreams/webstream", json={"streamCtag": None}, timeout=10)
    assert r.status_code == 421 and "host first in the path" in r.text


def test_an_album_on_its_computed_partition_answers_at_once(fake):
    album = fake.create_album("Home", partition=5, home_partition=5)
    r = post(fake, "p05-sharedstreams.icloud.com", album.token, "webstream", {"streamCtag": None})
    assert r.status_code == 200 and fake.redirects == 0
    assert post(fake, "p05-sharedstreams.icloud.com", "Bzz0000000000", "webstream", {}).status_code == 404


def test_photos_carry_both_date_forms_and_numbers_as_strings(fake):
    album = fake.create_album("Family")
    taken_a = datetime(2016, 11, 3, 12, 49, 49, tzinfo=timezone.utc)
    taken_b = datetime(2023, 2, 1, 8, 30, 0, tzinfo=timezone.utc)
    ga = album.add_photo(size=(800, 600), taken=taken_a, date_form="iso", caption="beach",
                         contributor=("Maythee", "Anegboonlap"))
    gb = album.add_photo(size=(300, 200), taken=taken_b, date_form="apple")
    doc = stream(fake, album)
    assert doc["itemsReturned"] == "2" and doc["userFirstName"] == "Alex"
    by = {p["photoGuid"]: p for p in doc["photos"]}
    a, b = by[ga], by[gb]
    assert a["dateCreated"] == "2016-11-03T12:49:49Z"
    assert b["dateCreated"].isdigit() and b["batchDateCreated"].isdigit()
    assert parse_date(a["dateCreated"]) == taken_a and parse_date(b["dateCreated"]) == taken_b
    assert a["caption"] == "beach" and a["contributorFullName"] == "Maythee Anegboonlap"
    assert (a["width"], a["height"]) == ("800", "600")
    # derivatives keyed by long edge, every number a string; the small one only when the photo is bigger
    assert set(a["derivatives"]) == {"342", "800"} and set(b["derivatives"]) == {"300"}
    d = a["derivatives"]["800"]
    assert all(isinstance(d[k], str) for k in ("fileSize", "width", "height", "checksum"))
    assert "mediaAssetType" not in a


def test_asset_urls_in_batches_of_25_and_downloads(fake):
    album = fake.create_album("Big")
    data = jpeg("given", (400, 300))
    given = album.add_photo(data)
    guids = [given] + album.populate(29)
    doc = stream(fake, album)
    home = fake.albums[album.token].home_host
    too_many = post(fake, home, album.token, "webasseturls", {"photoGuids": guids[:26]})
    assert too_many.status_code == 400
    r = post(fake, home, album.token, "webasseturls", {"photoGuids": guids[:25]})
    assert r.status_code == 200
    body = r.json()
    loc = fake.address
    assert body["locations"] == {loc: {"scheme": "https", "hosts": [loc]}}
    photo = next(p for p in doc["photos"] if p["photoGuid"] == given)
    big = photo["derivatives"]["400"]
    item = body["items"][big["checksum"]]
    assert item["url_location"] == loc and item["url_path"].startswith("/S/")
    got = requests.get("https://" + item["url_location"] + item["url_path"], timeout=10)
    assert got.status_code == 200 and got.content == data          # the largest derivative, byte for byte
    assert int(big["fileSize"]) == len(data)
    small = requests.get("https://" + loc + body["items"][photo["derivatives"]["342"]["checksum"]]["url_path"],
                         timeout=10)
    assert Image.open(io.BytesIO(small.content)).size == (342, 256)
    # the checksum is an opaque id: not the MD5 or SHA-1 of the bytes
    assert big["checksum"] not in (hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest())
    assert ("%s" % given, "400") in fake.downloads


def test_asset_urls_expire(fake):
    album = fake.create_album("Family")
    guid = album.add_photo(size=(100, 80))
    doc = stream(fake, album)
    home = album.home_host
    items = post(fake, home, album.token, "webasseturls", {"photoGuids": [guid]}).json()["items"]
    item = items[doc["photos"][0]["derivatives"]["100"]["checksum"]]
    expiry = datetime.fromisoformat(item["url_expiry"].replace("Z", "+00:00"))
    assert timedelta(minutes=50) < expiry - fake.now() <= timedelta(hours=1)
    url = "https://" + item["url_location"] + item["url_path"]
    assert requests.get(url, timeout=10).status_code == 200
    fake.advance(3601)
    assert requests.get(url, timeout=10).status_code == 403
    fresh = post(fake, home, album.token, "webasseturls", {"photoGuids": [guid]}).json()["items"]
    again = next(iter(fresh.values()))
    assert requests.get("https://" + again["url_location"] + again["url_path"], timeout=10).status_code == 200
    tampered = url.replace("&s=", "&s=0")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_videos_have_a_poster_frame_and_720p(fake):
    album = fake.create_album("Clips")
    guid = album.add_video(size=(1920, 1080), caption="birthday!", date_form="apple")
    doc = stream(fake, album)
    v = doc["photos"][0]
    assert v["mediaAssetType"] == "video" and v["caption"] == "birthday!"
    assert set(v["derivatives"]) == {"PosterFrame", "360p", "720p"}
    d720 = v["derivatives"]["720p"]
    assert (d720["width"], d720["height"]) == ("1280", "720")
    items = post(fake, album.home_host, album.token, "webasseturls", {"photoGuids": [guid]}).json()["items"]
    mp4 = requests.get("https://" + fake.address + items[d720["checksum"]]["url_path"], timeout=10)
    assert mp4.headers["Content-Type"] == "video/mp4" and mp4.content[4:8] == b"ftyp"
    at = mp4.content.find(b"tkhd")
    w, h = struct.unpack(">II", mp4.content[at + 80: at + 88])
    assert (w >> 16, h >> 16) == (1280, 720)
    poster = requests.get("https://" + fake.address + items[v["derivatives"]["PosterFrame"]["checksum"]]["url_path"],
                          timeout=10)
    assert poster.headers["Content-Type"] == "image/jpeg" and poster.content[:2] == b"\xff\xd8"


def test_the_ctag_moves_only_when_the_album_changes(fake):
    album = fake.create_album("Family")
    g1 = album.add_photo(size=(50, 40))
    first = stream(fake, album)["streamCtag"]
    assert stream(fake, album)["streamCtag"] == first               # nothing changed
    album.set_caption(g1, "new caption")
    second = stream(fake, album)["streamCtag"]
    assert second != first
    g2 = album.add_photo(size=(50, 40))
    third = stream(fake, album)["streamCtag"]
    album.remove_photo(g1)
    doc = stream(fake, album)
    assert len({first, second, third, doc["streamCtag"]}) == 4
    assert [p["photoGuid"] for p in doc["photos"]] == [g2]
    # a removed photo's assets are no longer handed out
    items = post(fake, album.home_host, album.token, "webasseturls", {"photoGuids": [g1, g2]}).json()["items"]
    assert len(items) == 1


def test_a_matching_ctag_gets_no_photos_unless_asked_for_the_full_stream(fake):
    album = fake.create_album("Family")
    album.add_photo(size=(50, 40))
    ctag = stream(fake, album)["streamCtag"]
    same = stream(fake, album, ctag)
    assert same["streamCtag"] == ctag and same["photos"] == []     # the fake's default: "nothing new"
    album.add_photo(size=(50, 40))
    changed = stream(fake, album, ctag)
    assert changed["streamCtag"] != ctag and len(changed["photos"]) == 2   # an old ctag gets everything
    fake.ctag_match = "full"
    assert len(stream(fake, album, changed["streamCtag"])["photos"]) == 2


def test_a_no_change_cycle_costs_one_request_when_the_host_is_known(fake):
    album = fake.create_album("Family")
    album.populate(60, videos_every=10)
    ctag = stream(fake, album)["streamCtag"]
    fake.reset_counters()
    r = post(fake, album.home_host, album.token, "webstream", {"streamCtag": None})
    assert r.json()["streamCtag"] == ctag
    assert fake.total_requests == 1 and fake.requests_to("webstream") == 1


def test_faults_and_relocation(fake):
    album = fake.create_album("Family")
    album.add_photo(size=(50, 40))
    fake.fail_next(2, 503, endpoint="webstream")
    assert post(fake, album.home_host, album.token, "webstream", {"streamCtag": None}).status_code == 503
    assert post(fake, album.home_host, album.token, "webstream", {"streamCtag": None}).status_code == 503
    assert post(fake, album.home_host, album.token, "webstream", {"streamCtag": None}).status_code == 200
    old = album.home_host
    album.relocate(partition_of(album.token) + 5)
    r = post(fake, old, album.token, "webstream", {"streamCtag": None})
    assert r.status_code == 330 and r.json()["X-Apple-MMe-Host"] == album.home_host != old
