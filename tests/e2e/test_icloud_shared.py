"""iCloud shared albums end to end: the real command (service add, discover, resolve) and the
connector against the fake shared-album web API (tests/fakes/icloud_shared) on loopback: the 330,
both date forms, string numbers, 25 guids a call, expiring addresses, videos."""

from __future__ import annotations

import io
import json
import math
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fakes.icloud_shared import FakeICloudShared
from fakes.tls import ca_bundle
from helpers import add_local_service, git_status, open_lib

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle())
    f = FakeICloudShared()
    f.start()
    yield f
    f.stop()


def add_album(cli, lib: Path, fake, album, name: str = "family", url: str | None = None) -> None:
    cli("-L", str(lib), "service", "add", name, "--type", "icloud-shared", "--url", url or fake.url_for(album),
        "--endpoint", f"sharedstreams={fake.endpoint}", "--retry-attempts", "3", "--retry-base-seconds", "0.01",
        check=0)


def records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((lib / "photos").rglob("*.json"))]


def instances(lib: Path, service: str = "family") -> dict[str, tuple[dict, dict]]:
    """item id -> (instance, its record)."""
    out = {}
    for rec in records(lib):
        for inst in rec["instances"].get(service, []):
            out[inst["id"]] = (inst, rec)
    return out


def discover(lib: Path):
    from photosync.phases.discover import discover as run

    handle, got = open_lib(lib)
    try:
        return run(handle).services[0], got
    finally:
        handle.close()


def test_add_and_discover_a_shared_album(cli, library, fake, tmp_path):
    album = fake.create_album("Family 2024", owner=("Kim", "Lee"))
    iso = album.add_photo(size=(640, 480), taken=datetime(2019, 7, 4, 10, 0, 0, tzinfo=timezone.utc),
                          date_form="iso", caption="beach day", contributor=("Ana", "Silva"))
    apple = album.add_photo(size=(480, 640), taken=datetime(2021, 3, 5, 6, 7, 8, tzinfo=timezone.utc),
                            date_form="apple", contributor=("Ben", "Okafor"))
    clip = album.add_video(size=(1920, 1080), taken=datetime(2020, 8, 1, 12, 0, 0, tzinfo=timezone.utc),
                           date_form="apple", caption="first steps")
    # the token alone is accepted too; the address is kept outside the library
    token = album.token
    add_album(cli, library, fake, album, url=token)
    services = json.loads((library / "config/services.json").read_text())
    assert services["family"]["type"] == "icloud-shared" and token not in json.dumps(services)
    from photosync import credentials
    from photosync.context import Context

    ctx = Context.from_env()
    saved = credentials.location(ctx, "services", "family")
    assert json.loads(saved.read_text())["url"] == f"https://www.icloud.com/sharedalbum/#{token}"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    r = cli("-L", str(library), "discover", check=0)
    assert "3 new" in r.out, r.out
    assert fake.redirects == 1, "the first call answered 330 and the album's host was used from then on"
    assert fake.calls["webasseturls"] == 1, "three photos' addresses in one call"
    got = instances(library)
    assert set(got) == {iso, apple, clip}
    for inst, _rec in got.values():
        assert inst["quality"] != "original", "a shared album holds derivatives, never originals"
    inst, rec = got[iso]
    assert inst["metadata"]["taken_date"] == "2019-07-04T10:00:00Z"
    assert inst["metadata"]["caption"] == "beach day" and rec["metadata"]["caption"] == "beach day"
    assert inst["metadata"]["contributor"] == "Ana Silva"
    assert inst["metadata"]["albums"] == ["Family 2024"]
    assert got[apple][0]["metadata"]["taken_date"] == "2021-03-05T06:07:08Z"  # Apple-epoch seconds
    assert got[apple][0]["metadata"]["contributor"] == "Ben Okafor"
    vinst, vrec = got[clip]
    assert vinst["metadata"]["media_type"] == "video" and vinst["metadata"]["taken_date"] == "2020-08-01T12:00:00Z"
    assert (vinst["metadata"]["width"], vinst["metadata"]["height"]) == (1280, 720), "the 720p rendition, not 360p"
    assert (clip, "720p") in fake.downloads and (clip, "PosterFrame") not in fake.downloads
    assert (iso, "640") in fake.downloads and (iso, "342") not in fake.downloads, "the largest derivative"
    assert token not in json.dumps(records(library)), "the album's address stays out of the records"
    assert git_status(library) == ""
    fake.reset_counters()
    r = cli("-L", str(library), "discover", check=0)
    assert "nothing changed" in r.out
    assert fake.total_requests == 1 and fake.redirects == 1, "a later run: one call, to the host the 330 named"


def test_auth_replaces_the_saved_address(cli, library, fake):
    old = fake.create_album("Old")
    old.add_photo(size=(64, 48))
    new = fake.create_album("New")
    new.add_photo(size=(48, 64))
    add_album(cli, library, fake, old)
    r = cli("-L", str(library), "auth", "family", "--url", fake.url_for(new), check=0)
    assert "Saved the keys of family" in r.out
    cli("-L", str(library), "discover", check=0)
    assert [i["metadata"]["albums"] for i, _ in instances(library).values()] == [["New"]]
    r = cli("-L", str(library), "auth", "family")
    assert r.code == 2 and "--url" in r.err


def test_a_bad_address_is_refused_by_name(cli, library, fake):
    r = cli("-L", str(library), "service", "add", "family", "--type", "icloud-shared", "--url",
            "https://www.example.com/photos/#B0zGWZuqDGhkJ0F")
    assert r.code == 2 and "--url" in r.err and "shared album" in r.err
    r = cli("-L", str(library), "service", "add", "family", "--type", "icloud-shared")
    assert r.code == 2 and "--url" in r.err
    r = cli("-L", str(library), "service", "add", "--type", "icloud-shared", "--help", check=0)
    assert "--url" in r.out and "sharedstreams" in r.out


def test_batches_of_25_and_an_unchanged_album_costs_one_call(cli, library, fake):
    album = fake.create_album("Many")
    album.populate(40, videos_every=10)
    add_album(cli, library, fake, album)
    summary, _ = discover(library)
    assert summary.new == 40 and summary.failed is None
    assert fake.calls["webasseturls"] == math.ceil(40 / 25), "addresses 25 photos a call (the fake refuses more)"
    fake.reset_counters()
    fake.redirects = 0
    from helpers import commit_count

    before = commit_count(library)
    summary, _ = discover(library)
    assert fake.total_requests == 1 and fake.calls["webstream"] == 1, "one call: the ctag said nothing changed"
    assert fake.redirects == 0, "the album's host was remembered"
    assert commit_count(library) == before and summary.new == summary.missing == 0


def test_a_photo_removed_from_the_album_is_kept_and_marked_missing(cli, library, fake):
    album = fake.create_album("Family")
    keep = album.add_photo(size=(200, 150))
    gone = album.add_photo(size=(150, 200), date_form="apple")
    add_album(cli, library, fake, album)
    discover(library)
    album.remove_photo(gone)
    r = cli("-L", str(library), "discover", check=0)
    assert "1 gone (kept, marked missing)" in r.out, r.out
    got = instances(library)
    assert got[gone][0].get("missing_since") and not got[keep][0].get("missing_since")
    assert len(records(library)) == 2, "nothing is deleted from the library"


def test_faults_are_retried_and_a_refusing_album_marks_nothing_missing(cli, library, fake):
    album = fake.create_album("Family")
    ids = [album.add_photo(size=(120, 90)) for _ in range(3)]
    add_album(cli, library, fake, album)
    fake.fail_next(2, 503, endpoint="webstream")
    fake.fail_next(2, 503, endpoint="download")
    summary, _ = discover(library)
    assert summary.failed is None and summary.new == 3, "503s were retried"
    album.add_photo(size=(90, 120))
    fake.fail_next(10**6, 503, endpoint="webstream")
    r = cli("-L", str(library), "discover")
    assert r.code == 1 and "family: not scanned" in r.out and "503" in r.out + r.err
    assert not any(i.get("missing_since") for i, _ in instances(library).values())
    assert set(ids) <= set(instances(library))


def test_an_item_that_could_not_be_read_is_read_next_run(library, fake, cli):
    album = fake.create_album("Family")
    first = album.add_photo(size=(120, 90))
    add_album(cli, library, fake, album)
    discover(library)
    later = album.add_photo(size=(90, 120))
    fake.fail_next(10**6, 503, endpoint="download")
    summary, _ = discover(library)
    assert summary.errors == 1 and later not in instances(library)
    fake.fail_next(0)
    summary, _ = discover(library)  # the album's ctag is the same as in the failed run
    assert summary.new == 1 and {first, later} <= set(instances(library))


def test_expired_addresses_are_asked_for_again(library, fake, cli):
    from photosync.connectors import registry
    from photosync.connectors.base import ConnectorContext
    from photosync.context import Context
    from photosync.events import Collector, Tally

    album = fake.create_album("Family")
    a = album.add_photo(size=(120, 90))
    b = album.add_photo(size=(90, 120))
    add_album(cli, library, fake, album)
    handle, _ = open_lib(library, write=False)
    config = handle.services["family"]
    handle.close()
    conn = registry.create("family", config, ConnectorContext(library, Context.from_env(), Tally(Collector())))
    refs = {r.id: r for r in conn.list(cursor=None, since=None, full_scan=False).refs}
    conn.describe(refs[a])  # fetched the addresses of both
    assert fake.calls["webasseturls"] == 1
    fake.advance(2 * 3600)  # an hour and more later, b's address has expired
    item = conn.describe(refs[b])
    assert item.size and fake.calls["webasseturls"] == 2, "a 403 on an expired address: asked again, then read"


def test_a_shared_copy_of_a_photo_held_at_full_quality_becomes_a_lower_quality_instance(cli, library, fake, photos):
    from PIL import Image

    from photosync.sample import draw_picture, exif_bytes

    taken = datetime(2018, 5, 6, 7, 8, 9)
    big = draw_picture(77, (1600, 1200))
    original = io.BytesIO()
    big.save(original, "JPEG", quality=92, exif=exif_bytes(taken, None, None, "Canon", "EOS R", None))
    folder = photos("camera")
    (folder / "IMG_0001.JPG").write_bytes(original.getvalue())
    # what iCloud keeps of it once shared: a smaller re-encoded derivative with the camera's EXIF
    small = io.BytesIO()
    big.resize((1024, 768), Image.LANCZOS).save(small, "JPEG", quality=80,
                                                exif=exif_bytes(taken, None, None, "Canon", "EOS R", None))
    album = fake.create_album("Family")
    # iCloud's date is the instant in UTC: taken at 07:08 local time in UTC+2, it says 05:08Z
    guid = album.add_photo(small.getvalue(), taken=datetime(2018, 5, 6, 5, 8, 9, tzinfo=timezone.utc),
                           date_form="apple")
    add_local_service(library, "camera", folder)
    add_album(cli, library, fake, album)
    cli("-L", str(library), "discover", check=0)
    assert len(records(library)) == 2
    cli("-L", str(library), "resolve", "--auto-resolve", "all", check=0)
    recs = records(library)
    assert len(recs) == 1, "one photo, not two"
    rec = recs[0]
    local = rec["instances"]["camera"][0]
    shared = rec["instances"]["family"][0]
    assert local["quality"] == "original" and rec["content_hash"] == local["content_hash"]
    assert shared["id"] == guid and shared["quality"] in ("high", "medium", "low")
    assert shared["content_hash"] != rec["content_hash"]
    assert shared["metadata"]["taken_date"] == "2018-05-06T07:08:09", "the camera's date in the copy's bytes"
    # a caption added later is recorded without a download, and the date stays as it was
    album.set_caption(guid, "at the lake")
    before = len(fake.downloads)
    cli("-L", str(library), "discover", check=0)
    shared = records(library)[0]["instances"]["family"][0]
    assert len(fake.downloads) == before
    assert shared["metadata"]["caption"] == "at the lake" and shared["metadata"]["taken_date"] == "2018-05-06T07:08:09"
