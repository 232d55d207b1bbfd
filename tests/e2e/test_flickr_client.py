"""Flickr as the real Flickr behaves (issue 11): transient errors and Retry-After, every
video format, uploads that are never doubled when search lags, the dimensions of the bytes
kept, raw tags and machine tags, where a location came from, an offline sign-in.  The real
photosync command or connector and the real flickrapi client against tests/fakes/flickr."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from fakes.flickr import FakeFlickr
from test_flickr import KEY, SECRET, add_flickr, fast_retries, flickr_instances, folder_library, records, sign_in


@pytest.fixture
def fake():
    f = FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid="12345678@N00", username="tester",
                   fullname="Test Person", pro=True)
    f.start()
    yield f
    f.stop()
    assert f.errors == [], "the fake failed internally"


@pytest.fixture
def flickr_lib(tmp_path, cli, fake):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    add_flickr(cli, lib, fake)
    sign_in(lib, fake)
    return lib


def connector(tmp_path: Path, fake, perms: str = "write", **config):
    """A FlickrConnector on the fake, signed in, with a Collector for what it reports."""
    from photosync import credentials
    from photosync.connectors.base import ConnectorContext
    from photosync.connectors.flickr import FlickrConnector
    from photosync.context import Context
    from photosync.events import Collector, Tally

    ctx = Context(tmp_path / "cfg")
    token, secret = fake.issue_token(perms=perms)
    credentials.save(ctx, "services", "f", {"api_key": KEY, "api_secret": SECRET, "oauth_token": token,
                                            "oauth_token_secret": secret, "perms": perms,
                                            "user_nsid": fake.user_nsid})
    collector = Collector()
    conf = {"type": "flickr", "enabled": True, "endpoints": fake.endpoints,
            "rate_limit": {"requests_per_hour": 1e7}, "retry": {"attempts": 5, "base_seconds": 0.01}, **config}
    conn = FlickrConnector("f", conf, ConnectorContext(tmp_path, ctx, Tally(collector)))
    return conn, collector


# -- 1. transient errors -------------------------------------------------------------------------

@pytest.mark.parametrize("code", [0, 201])
def test_flickr_unavailable_codes_are_tried_again(tmp_path, fake, code):
    """Error 0 and 201, "Sorry, the Flickr API service is not currently available.", come
    under load and go away: the call is made again instead of failing the run."""
    fake.populate(5, seed=1)
    conn, _ = connector(tmp_path, fake)
    fake.fail_method("flickr.photos.search", times=2, code=code,
                     message="Sorry, the Flickr API service is not currently available.")
    refs = list(conn.list(cursor=None, since=None, full_scan=True).refs)
    assert len(refs) == 5
    assert fake.calls["flickr.photos.search"] == 3


def test_http_400_saying_unavailable_is_tried_again_and_retry_after_is_honoured(tmp_path, fake):
    fake.populate(3, seed=1)
    conn, said = connector(tmp_path, fake)
    # Flickr's "down" answer can be HTTP 400 with "Sorry, the Flickr API service is not currently available"
    fake.fail_next(2, status=400, path_prefix="/services/rest")
    # and a 429 with Retry-After: 1 makes the next attempt wait 1 s, not the 0.01 s backoff
    fake.fail_next(1, status=429, path_prefix="/services/rest")
    assert len(list(conn.list(cursor=None, since=None, full_scan=True).refs)) == 3
    waits = [m for m in said.messages if "trying again in" in m]
    assert waits and "trying again in 1.0 s" in waits[0], said.messages


def test_flickr_down_for_good_says_so(tmp_path, fake):
    from photosync.errors import SourceError

    conn, _ = connector(tmp_path, fake)
    fake.fail_method("flickr.photosets.getList", times=100, code=0,
                     message="Sorry, the Flickr API service is not currently available.")
    with pytest.raises(SourceError) as e:
        list(conn.list(cursor=None, since=None, full_scan=True).refs)
    assert "not available" in str(e.value) and "try again later" in str(e.value)
    assert fake.calls["flickr.photosets.getList"] == 5  # every attempt was made


def test_upload_general_failure_is_tried_again(tmp_path, cli, fake):
    """Upload error 3 "General upload failure" (upload.api.html) is tried again: the photos
    are uploaded, each once."""
    lib, _ = folder_library(tmp_path, cli, fake, 3)
    fake.fail_uploads(2)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    assert len(fake.uploads) == 3 and len(fake.photos) == 3


def test_an_album_whose_creation_failed_under_load_is_made_once(tmp_path, fake):
    import hashlib
    import io

    from photosync.model import Metadata, Photo, Visibility

    data = jpeg_with_gps(1.0, 2.0)
    photo = Photo(photo_id="0f0e0d0c-0b0a-4909-8807-060504030201",
                  content_hash="sha256:" + hashlib.sha256(data).hexdigest(), canonical_source="x:y",
                  metadata=Metadata(taken_date="2020-01-02T03:04:05", filename="trip.jpg", albums=("Trip",),
                                    media_type="photo", format="jpeg"),
                  created_at="2020-01-01T00:00:00Z", updated_at="2020-01-01T00:00:00Z", visibility=Visibility("private"))
    conn, _ = connector(tmp_path, fake)
    fake.fail_method("flickr.photosets.create", times=2, code=201,
                     message="Sorry, the Flickr API service is not currently available.")
    item = conn.upload(photo, io.BytesIO(data), len(data), "private")
    assert item.warnings == ()
    [(sid, album)] = fake.photosets.items()
    assert album["title"] == "Trip" and album["photos"] == [item.ref.id]


def test_discover_finishes_under_a_twenty_percent_fault_mix(flickr_lib, cli, fake):
    """A fifth of all requests fail the ways Flickr fails under load (codes 0, 201, 105,
    HTTP 400/500/502/503, 429 with Retry-After): discover still reads every photo."""
    ids = fake.populate(240, seed=11)
    fast_retries(flickr_lib, retry={"attempts": 8, "base_seconds": 0.01})
    fake.fault_mix(0.2, seed=7, retry_after=1)
    run = cli("-q", "-L", str(flickr_lib), "discover")
    fake.fault_mix(0)
    assert run.code == 0, run.err
    assert set(flickr_instances(flickr_lib)) == set(ids)
    assert fake.faults_injected > 40  # the mix really happened


# -- 5. every video format ------------------------------------------------------------------------

def test_avi_mts_and_wmv_originals_are_downloaded_hashed_and_recorded(flickr_lib, cli, fake):
    import hashlib

    vids = {fmt: fake.add_photo(media="video", original_format=fmt, width=720, height=480, title=f"old {fmt}")
            for fmt in ("avi", "mts", "wmv")}
    run = cli("-q", "-L", str(flickr_lib), "discover")
    assert run.code == 0, run.err
    got = flickr_instances(flickr_lib)
    for fmt, pid in vids.items():
        inst = got[pid]
        assert inst["content_hash"] == "sha256:" + hashlib.sha256(fake.file_bytes(pid)).hexdigest()
        assert inst["quality"] == "original" and inst["size"] == len(fake.file_bytes(pid))
        assert inst["metadata"]["media_type"] == "video"
        assert inst["metadata"]["format"] == {"avi": "avi", "mts": "m2ts", "wmv": "wmv"}[fmt]
    assert got[vids["avi"]]["metadata"]["width"] == 720  # from the AVI's own header
    # nothing was cached as unreadable: a full scan reads them again without an error
    assert cli("-q", "-L", str(flickr_lib), "discover", "--full-scan").code == 0


def test_a_flickr_video_whose_metadata_cannot_be_parsed_is_recorded_with_a_warning(flickr_lib, cli, fake):
    """A video whose boxes are intact but whose movie header photosync cannot parse is kept, as a
    local file would be (the same reading for every connector: media.ingest): recorded, backed up,
    one warning; not an error that leaves it out of every run."""
    import hashlib
    import struct

    from mp4build import box, full_box

    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 0) + b"isom" + b"mp41")
    odd = ftyp + box(b"moov", full_box(b"mvhd", 0, b"\x00\x00")) + box(b"mdat", b"\x00" * 5000)
    pid = fake.add_photo(data=odd, media="video", original_format="mp4", title="odd header")
    run = cli("-L", str(flickr_lib), "discover")
    assert run.code == 1, "a warning was given"
    assert "its metadata could not be read" in run.err and f"flickr:{pid}" in run.err
    inst = flickr_instances(flickr_lib)[pid]
    assert inst["content_hash"] == "sha256:" + hashlib.sha256(odd).hexdigest()
    assert inst["metadata"]["media_type"] == "video" and inst["metadata"]["format"] == "mp4"
    assert inst["metadata"]["caption"] == "odd header"


def test_old_camera_videos_in_a_folder_are_kept_and_uploaded(tmp_path, cli, fake):
    from videobuild import make_asf, make_avi, make_ts

    pics = tmp_path / "cam"
    pics.mkdir()
    (pics / "MVI_0001.AVI").write_bytes(make_avi((640, 480), b"\x01" * 300))
    (pics / "00001.MTS").write_bytes(make_ts(packets=10, payload=b"\x02" * 900, timecode=True))
    (pics / "party.wmv").write_bytes(make_asf(True, b"\x03" * 300))
    (pics / "song.wma").write_bytes(make_asf(False, b"\x04" * 300))  # audio: not a photo, not an error
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "cam", "--type", "local", "--path", str(pics), check=0)
    add_flickr(cli, lib, fake, "flickr", "--upload-from", "cam")
    sign_in(lib, fake)
    cli("-q", "-L", str(lib), "discover", "--service", "cam", check=0)
    recs = records(lib)
    assert sorted(r["metadata"]["filename"] for r in recs) == ["00001.MTS", "MVI_0001.AVI", "party.wmv"]
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    assert sorted(u["filename"] for u in fake.uploads) == ["00001.MTS", "MVI_0001.AVI", "party.wmv"]
    assert all(fake.photos[u["photo_id"]].media == "video" for u in fake.uploads)


# -- 6. no duplicate uploads when search lags -------------------------------------------------------------

def uploaded_hashes(fake) -> list[str]:
    return [t for up in fake.uploads for t in up["tags"].split() if t.startswith("photosync:sha256=")]


def test_lost_upload_answers_with_a_lagging_search_store_each_photo_once(tmp_path, cli, fake):
    """Every upload is stored and its answer lost, and the search shows new photos only an hour
    later: the retry finds each photo among the recent uploads instead of sending it again."""
    lib, _ = folder_library(tmp_path, cli, fake, 6)
    fake.lag_search(seconds=3600)
    fake.drop_upload_responses(6)
    run = cli("-q", "-L", str(lib), "replicate", "--execute")
    assert run.code == 0, run.err
    hashes = uploaded_hashes(fake)
    assert len(hashes) == len(set(hashes)) == 6 and len(fake.photos) == 6, "a photo was stored twice"
    insts = flickr_instances(lib)
    assert sorted(insts) == sorted(fake.photos)
    assert not list((lib / ".git/photosync/upload-intents/flickr").glob("*.json")), "intents left behind"


def test_lost_answers_are_found_when_our_clock_is_hours_ahead_of_flickrs(tmp_path, cli, fake):
    """The intent's time is this machine's; Flickr's upload dates are Flickr's: the lookup goes by
    Flickr's clock (the Date of its answers), not ours."""
    lib, _ = folder_library(tmp_path, cli, fake, 3)
    fake.clock_skew = -3 * 3600  # Flickr is three hours behind this machine
    fake.lag_search(seconds=3600)
    fake.drop_upload_responses(3)
    run = cli("-q", "-L", str(lib), "replicate", "--execute")
    assert run.code == 0, run.err
    hashes = uploaded_hashes(fake)
    assert len(hashes) == len(set(hashes)) == 3 and len(fake.photos) == 3, "a photo was stored twice"


def test_kill_during_uploads_with_a_lagging_search_never_uploads_twice(tmp_path, cli, fake):
    from helpers import git_status, kill_repeatedly

    lib, _ = folder_library(tmp_path, cli, fake, 24)
    fake.lag_search(seconds=3600)  # nothing uploaded in this test ever shows in the search
    fake.delay = 0.1
    stored_at_kill = [0]
    # each run is killed a moment after Flickr stored one more photo: mid-upload, whatever the machine's speed
    kills = kill_repeatedly(["-L", str(lib), "replicate", "--execute"], times=6, pause=(0.0, 0.3), seed=11,
                            kill_when=lambda: len(fake.photos) > stored_at_kill[-1],
                            after_kill=lambda: stored_at_kill.append(len(fake.photos)))
    assert kills >= 2, "replicate finished before it could be killed: the test proves nothing"
    assert max(stored_at_kill) > 0, f"no kill came after an upload: {stored_at_kill}"
    fake.delay = 0
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    hashes = uploaded_hashes(fake)
    assert len(hashes) == len(set(hashes)) == 24, "a photo was uploaded twice"
    assert len(fake.photos) == 24
    insts = flickr_instances(lib)
    assert len(insts) == 24 and set(insts) == set(fake.photos)
    assert git_status(lib) == ""
    assert not list((lib / ".git/photosync/upload-intents/flickr").glob("*.json")), "intents left behind"


# -- 4. the dimensions of the bytes kept ----------------------------------------------------------------

def test_a_free_accounts_record_states_the_size_of_the_file_it_got(tmp_path, cli):
    """A free account gives a 1024-px copy while Flickr still says the original is 4000 x 3000:
    the record states the copy's pixels, so it cannot win a merge by the original's."""
    import io

    import requests
    from PIL import Image

    free = FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid="12345678@N00", pro=False)
    free.start()
    try:
        lib = tmp_path / "lib"
        cli("init", str(lib), check=0)
        add_flickr(cli, lib, free)
        sign_in(lib, free, perms="read")
        pid = free.add_photo(title="big", width=4000, height=3000)
        cli("-q", "-L", str(lib), "discover", check=0)
        inst = flickr_instances(lib)[pid]
        url = f"{free.url}/{free.photos[pid].server}/{pid}_{free.photos[pid].secret}_b.jpg"  # Large 1024
        got = Image.open(io.BytesIO(requests.get(url, timeout=10).content)).size
        assert (inst["metadata"]["width"], inst["metadata"]["height"]) == got
        assert inst["quality"] != "original" and max(got) < 4000
        # a later change of the caption downloads nothing and keeps those dimensions
        free.set_meta(pid, title="bigger")
        cli("-q", "-L", str(lib), "discover", check=0)
        again = flickr_instances(lib)[pid]
        assert again["metadata"]["caption"] == "bigger"
        assert (again["metadata"]["width"], again["metadata"]["height"]) == got
    finally:
        free.stop()


# -- 8. tags keep their information -----------------------------------------------------------------

def test_tags_are_recorded_as_typed_with_machine_tags(flickr_lib, cli, fake):
    own = "photosync:sha256=" + "ab" * 32
    a = fake.add_photo(title="a", tags=("St. Louis", "Black & White", "cat"),
                       machine_tags=("camera:make=FakeCam", own))
    # one clean form, two raw forms in the account: each photo keeps its own
    b = fake.add_photo(title="b", tags=("New York",))
    c = fake.add_photo(title="c", tags=("new york", "cat"))
    fake.reset_counters()
    cli("-q", "-L", str(flickr_lib), "discover", check=0)
    got = flickr_instances(flickr_lib)
    assert got[a]["metadata"]["tags"] == ["St. Louis", "Black & White", "cat", "camera:make=FakeCam"]
    assert got[b]["metadata"]["tags"] == ["New York"]
    assert got[c]["metadata"]["tags"] == ["new york", "cat"]
    # one account-wide list of raw forms; only the two ambiguous photos are asked about alone
    assert fake.calls["flickr.tags.getListUserRaw"] == 1 and fake.calls["flickr.tags.getListPhoto"] == 2


def jpeg_with_keywords(path: Path, keywords: list[str], colour=(90, 120, 150)) -> None:
    from PIL import Image

    im = Image.new("RGB", (64, 48), colour)
    for x in range(0, 64, 4):
        im.putpixel((x, (x * 7) % 48), (255 - colour[0], x * 4 % 256, 30))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2021:05:06 07:08:09"
    exif[0x9C9E] = ";".join(keywords).encode("utf-16-le") + b"\x00\x00"  # XPKeywords
    im.save(path, "JPEG", exif=exif, quality=90)


def test_rediscovering_an_upload_raises_no_tag_conflict(tmp_path, cli, fake):
    pics = tmp_path / "pics"
    pics.mkdir()
    jpeg_with_keywords(pics / "one.jpg", ["Black & White", "St. Louis", "Dad's 60th"])
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    add_flickr(cli, lib, fake, "flickr", "--upload-from", "pics")
    sign_in(lib, fake)
    cli("-q", "-L", str(lib), "discover", "--service", "pics", check=0)
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    cli("-q", "-L", str(lib), "discover", "--service", "flickr", check=0)
    run = cli("-L", str(lib), "resolve")
    assert "tag" not in run.out.lower(), run.out
    (rec,) = records(lib)
    assert rec["processing_state"] != "discovered"
    assert not [c for c in rec["conflicts"] if c["type"] == "metadata_mismatch"], rec["conflicts"]
    (inst,) = rec["instances"]["flickr"]
    assert inst["metadata"]["tags"] == ["Black & White", "St. Louis", "Dad's 60th"]


# -- 9. location ---------------------------------------------------------------------------------------

def jpeg_with_gps(lat: float, lng: float, colour=(40, 160, 90)) -> bytes:
    import io

    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    def dms(v):
        v = abs(v)
        d, m = int(v), int((v - int(v)) * 60)
        return (IFDRational(d, 1), IFDRational(m, 1), IFDRational(round(((v - d) * 60 - m) * 60 * 100), 100))

    im = Image.new("RGB", (48, 32), colour)
    for x in range(0, 48, 3):
        im.putpixel((x, (x * 5) % 32), (200, x * 5 % 256, 10))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = ("N" if lat >= 0 else "S"), dms(lat), ("E" if lng >= 0 else "W"), dms(lng)
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def test_flickrs_location_wins_for_its_copy_and_the_record_says_where_it_came_from(tmp_path, cli, fake):
    removed = fake.add_photo(data=jpeg_with_gps(48.8584, 2.2945), title="GPS in the file, none on Flickr")
    placed = fake.add_photo(data=jpeg_with_gps(10.0, 20.0, (10, 20, 200)), title="placed on Flickr")
    fake.set_location(placed, 51.5, -0.12)
    pics = tmp_path / "pics"
    pics.mkdir()
    (pics / "eiffel.jpg").write_bytes(fake.file_bytes(removed))  # the same file, kept at home
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    add_flickr(cli, lib, fake)
    sign_in(lib, fake)
    cli("-q", "-L", str(lib), "discover", check=0)
    got = flickr_instances(lib)
    assert got[removed]["metadata"].get("location") is None, "the location removed on Flickr came back"
    assert "location_source" not in got[removed]["metadata"]
    assert got[placed]["metadata"]["location"]["lat"] == pytest.approx(51.5)
    assert got[placed]["metadata"]["location_source"] == "service"
    (home,) = [r["instances"]["pics"][0] for r in records(lib) if "pics" in r["instances"]]
    assert home["metadata"]["location"]["lat"] == pytest.approx(48.8584, abs=1e-4)
    assert home["metadata"]["location_source"] == "exif"


def test_uploads_under_a_twenty_percent_fault_mix_store_each_photo_once(tmp_path, cli, fake):
    lib, _ = folder_library(tmp_path, cli, fake, 12)
    fast_retries(lib, retry={"attempts": 8, "base_seconds": 0.01})
    fake.lag_search(seconds=3600)
    fake.fault_mix(0.2, seed=5, retry_after=0)
    fake.drop_upload_responses(3)
    run = cli("-q", "-L", str(lib), "replicate", "--execute")
    fake.fault_mix(0)
    assert run.code == 0, run.err
    hashes = uploaded_hashes(fake)
    assert len(hashes) == len(set(hashes)) == 12 and len(fake.photos) == 12
    assert fake.faults_injected > 5


# -- 7. offline -----------------------------------------------------------------------------------

def dead_address() -> str:
    with socket.socket() as s:  # a port nobody listens on: what "offline" looks like to a client
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_offline_sign_in_says_flickr_cannot_be_reached_not_the_key(tmp_path, cli, fake):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    dead = dead_address()
    args = ["-L", str(lib), "service", "add", "flickr", "--type", "flickr", "--api-key", KEY, "--api-secret", SECRET]
    for k in fake.endpoints:
        args += ["--endpoint", f"{k}={dead}/x"]
    cli(*args, check=0)
    fast_retries(lib)
    run = cli("-L", str(lib), "auth", "flickr")
    assert run.code != 0
    assert "cannot reach Flickr at 127.0.0.1" in run.err and "API key" not in run.err, run.err


def test_offline_discover_says_flickr_cannot_be_reached(flickr_lib, cli, fake):
    fake.populate(2, seed=1)
    dead = dead_address()
    path = flickr_lib / "config/services.json"
    services = json.loads(path.read_text())
    services["flickr"]["endpoints"] = {k: f"{dead}/x" for k in fake.endpoints}
    path.write_text(json.dumps(services, indent=2))
    run = cli("-L", str(flickr_lib), "discover")
    assert run.code != 0 and f"cannot reach {dead[7:]}" in run.err and "API key" not in run.err, run.err
