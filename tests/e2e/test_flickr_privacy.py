"""Flickr privacy as a person meets it: friends and family kept apart, an imported public
photostream not made private behind their back, no location published with a public photo.
The real photosync command and flickrapi against the fake Flickr (tests/fakes/flickr)."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from fakes.flickr import FakeFlickr
from fakes.flickr.geo import file_location
from helpers import git, git_status, open_lib
from photosync import credentials
from photosync.library.layout import SERVICES_FILE
from photosync.sample import make_photo

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "fedcba9876543210"


@pytest.fixture
def fakes():
    made = []

    def make(nsid="12345678@N00"):
        f = FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid=nsid, username="t", fullname="T", pro=True)
        made.append(f.start())
        return f

    yield make
    for f in made:
        f.stop()


def connect(lib: Path, fake, name: str = "flickr", **conf) -> None:
    """A Flickr service signed in with write access (its token saved as photosync auth saves it)."""
    token, secret = fake.issue_token(perms="write")
    handle, _ = open_lib(lib)
    try:
        credentials.save(handle.ctx, "services", name, {
            "api_key": KEY, "api_secret": SECRET, "oauth_token": token, "oauth_token_secret": secret,
            "perms": "write", "user_nsid": fake.user_nsid})
        services = handle.raw_services()
        services[name] = {"type": "flickr", "enabled": True, "endpoints": fake.endpoints, "account": fake.user_nsid,
                          "retry": {"attempts": 3, "base_seconds": 0.01}, "rate_limit": {"requests_per_hour": 1e7},
                          **conf}
        handle.stage_config(SERVICES_FILE, services)
        handle.commit(f"test: service {name}")
    finally:
        handle.close()


def new_library(tmp_path, cli) -> Path:
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    return lib


def records(lib: Path) -> dict[str, dict]:
    out = {}
    for p in (lib / "photos").rglob("*.json"):
        rec = json.loads(p.read_text())
        out[rec["photo_id"]] = rec
    return out


def by_flickr_id(lib: Path, name: str = "flickr") -> dict[str, dict]:
    return {i["id"]: rec for rec in records(lib).values() for i in rec["instances"].get(name, [])}


def perms(fake, pid) -> tuple[int, int, int]:
    p = fake.photos[pid]
    return p.ispublic, p.isfriend, p.isfamily


def photo_bytes(tmp_path: Path, seed: int, gps=None) -> bytes:
    path = make_photo(tmp_path / f"p{seed}.jpg", seed=seed, size=(96, 72), taken=datetime(2021, 3, 4, 5, seed, 0),
                      gps=gps, make="Apple", model="iPhone XS")
    data = path.read_bytes()
    path.unlink()
    return data


def add(fake, tmp_path: Path, seed: int, **kw) -> str:
    """A photo on Flickr with its own picture and its own day (photos of one second are
    taken for burst frames or edits of one shot by resolve)."""
    return fake.add_photo(data=photo_bytes(tmp_path, seed), date_taken=f"2021-03-04 05:{seed:02d}:00", **kw)


def test_family_only_stays_family_only_and_its_widening_is_found_and_undone(tmp_path, cli, fakes):
    fake = fakes()
    fam = add(fake, tmp_path, 1, title="family", is_family=1)
    fr = add(fake, tmp_path, 2, title="friends", is_friend=1)
    both = add(fake, tmp_path, 3, title="both", is_friend=1, is_family=1)
    lib = new_library(tmp_path, cli)
    connect(lib, fake)
    cli("-q", "-L", str(lib), "discover", check=0)
    got = by_flickr_id(lib)
    assert [i["audience"] for pid in (fam, fr, both) for i in got[pid]["instances"]["flickr"]] == [
        "family", "friends", "friends+family"]  # Flickr's own state, kept per instance
    assert {got[pid]["visibility"]["canonical"] for pid in (fam, fr, both)} == {"private"}

    fake.reset_counters()
    adopt = cli("-L", str(lib), "visibility", "adopt", "flickr", "--reason", "shared on Flickr before photosync",
                check=0)
    assert "private -> friends (family)" in adopt.out and "nothing was changed on any service" in adopt.out
    assert fake.calls["flickr.photos.setPerms"] == 0
    got = by_flickr_id(lib)
    assert got[fam]["visibility"]["friends_audience"] == "family"
    assert got[both]["visibility"]["friends_audience"] == "friends+family"
    assert cli("-L", str(lib), "audit", "--visibility-check").code == 0  # family-only is what was chosen

    fake.set_perms(fam, 0, 1, 1)  # on Flickr, family-only becomes friends and family: a widening
    cli("-q", "-L", str(lib), "discover", check=0)
    check = cli("-L", str(lib), "audit", "--visibility-check")
    assert check.code == 1 and "wider" in check.out and "friends+family, canonical friends (family there)" in check.out
    fixed = cli("-L", str(lib), "audit", "--visibility-check", "--fix", check=0)
    assert "1 narrowed" in fixed.out
    assert perms(fake, fam) == (0, 0, 1), "narrowed back to family only (never to friends and family)"
    assert perms(fake, both) == (0, 1, 1) and perms(fake, fr) == (0, 1, 0)
    assert by_flickr_id(lib)[fam]["instances"]["flickr"][0]["audience"] == "family"
    assert cli("-L", str(lib), "audit", "--visibility-check").code == 0
    assert git_status(lib) == ""


def test_uploads_send_family_only_as_family_only_and_friends_as_friends_only(tmp_path, cli, fakes):
    source, target = fakes(), fakes("87654321@N00")
    fam = add(source, tmp_path, 1, title="fam", is_family=1)
    add(source, tmp_path, 2, title="fr", is_friend=1)
    add(source, tmp_path, 3, title="both", is_friend=1, is_family=1)
    private = add(source, tmp_path, 4, title="private")
    lib = new_library(tmp_path, cli)
    connect(lib, source)
    connect(lib, target, "flickr-out", upload_from=["flickr"])
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "visibility", "adopt", "flickr", "--reason", "as shared there", check=0)
    chosen = by_flickr_id(lib)[private]["photo_id"]  # private on Flickr; a person makes it "friends"
    cli("-q", "-L", str(lib), "visibility", "set", chosen, "friends", "--reason", "for friends", check=0)
    cli("-q", "-L", str(lib), "resolve", check=0)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    sent = {up["title"]: (up["is_public"], up["is_friend"], up["is_family"]) for up in target.uploads}
    assert sent == {"fam": ("0", "0", "1"), "fr": ("0", "1", "0"), "both": ("0", "1", "1"),
                    "private": ("0", "1", "0")}  # canonical friends with no finer choice: friends only
    recs = by_flickr_id(lib)
    out = {up["title"]: up["photo_id"] for up in target.uploads}
    assert recs[fam]["instances"]["flickr-out"][0]["audience"] == "family"
    assert cli("-L", str(lib), "audit", "--visibility-check").code == 0
    assert {perms(target, out[t]) for t in ("fam", "fr", "both", "private")} == {(0, 0, 1), (0, 1, 0), (0, 1, 1)}


def test_a_service_setting_says_who_friends_means_there(tmp_path, cli, fakes):
    source, target = fakes(), fakes("87654321@N00")
    pid = add(source, tmp_path, 5, title="chosen")
    lib = new_library(tmp_path, cli)
    connect(lib, source)
    connect(lib, target, "flickr-out", upload_from=["flickr"], friends_audience="family")
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "visibility", "set", by_flickr_id(lib)[pid]["photo_id"], "friends", "--reason", "r",
        check=0)
    cli("-q", "-L", str(lib), "resolve", check=0)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    [up] = target.uploads
    assert (up["is_public"], up["is_friend"], up["is_family"]) == ("0", "0", "1")  # "friends" there means family
    assert cli("-L", str(lib), "audit", "--visibility-check").code == 0


def test_importing_a_public_photostream_then_audit_fix_narrows_nothing_without_a_yes(tmp_path, cli, fakes):
    fake = fakes()
    shared = [add(fake, tmp_path, i, title=f"p{i}", is_public=1) for i in range(8)]
    shared += [add(fake, tmp_path, 10 + i, title=f"f{i}", is_friend=1, is_family=1)
               for i in range(2)]
    kept_private = [add(fake, tmp_path, 20 + i, title=f"x{i}") for i in range(2)]
    lib = new_library(tmp_path, cli)
    connect(lib, fake)
    cli("-q", "-L", str(lib), "discover", check=0)
    fake.reset_counters()
    before = {pid: perms(fake, pid) for pid in fake.photos}
    run = cli("-L", str(lib), "audit", "--visibility-check", "--fix")
    assert run.code == 1
    assert "would narrow 10 copies on flickr" in run.out and "public -> private" in run.out
    assert "nothing narrowed" in run.out and "--yes" in run.out and "photosync visibility adopt flickr" in run.out
    assert {pid: perms(fake, pid) for pid in fake.photos} == before and fake.calls["flickr.photos.setPerms"] == 0

    assert cli("-L", str(lib), "visibility", "adopt", "flickr").code == 2  # a reason is required
    head = git(lib, "rev-parse", "HEAD").strip()
    adopt = cli("-L", str(lib), "visibility", "adopt", "flickr", "--reason", "my photostream, shared years ago",
                check=0)
    assert "10 photos now take flickr's levels as canonical (10 widened)" in adopt.out
    assert git(lib, "rev-list", "--count", f"{head}..HEAD").strip() == "1"  # one commit
    message = git(lib, "log", "-1", "--format=%B")
    assert "adopted flickr's levels for 10 photos" in message and "reason: my photostream" in message
    recs = by_flickr_id(lib)
    assert recs[shared[0]]["visibility"]["canonical"] == "public"
    assert recs[shared[0]]["resolutions"][-1]["value"]["reason"] == "my photostream, shared years ago"
    assert recs[kept_private[0]]["visibility"]["canonical"] == "private"
    assert {pid: perms(fake, pid) for pid in fake.photos} == before and fake.calls["flickr.photos.setPerms"] == 0
    assert cli("-L", str(lib), "audit", "--visibility-check").code == 0

    # a handful is narrowed without asking: two kept-private photos made public on Flickr
    for pid in kept_private:
        fake.set_perms(pid, 1, 0, 0)
    cli("-q", "-L", str(lib), "discover", check=0)
    fixed = cli("-L", str(lib), "audit", "--visibility-check", "--fix", check=0)
    assert "2 narrowed" in fixed.out
    assert all(perms(fake, pid) == (0, 0, 0) for pid in kept_private)
    assert all(perms(fake, pid) == before[pid] for pid in shared)
    assert git_status(lib) == ""


def test_audit_fix_asks_at_a_terminal(tmp_path, cli, fakes):
    from test_interactive import Terminal

    fake = fakes()
    ids = [add(fake, tmp_path, i, title=f"p{i}", is_public=1) for i in range(7)]
    lib = new_library(tmp_path, cli)
    connect(lib, fake)
    cli("-q", "-L", str(lib), "discover", check=0)
    term = Terminal("-L", str(lib), "audit", "--visibility-check", "--fix")
    term.read_until(r"Narrow these 7 [\s\S]*\[y/N\]")
    term.type("n\n")
    assert term.wait() == 1
    assert all(perms(fake, pid) == (1, 0, 0) for pid in ids)
    term = Terminal("-L", str(lib), "audit", "--visibility-check", "--fix")
    term.read_until(r"\[y/N\]")
    term.type("y\n")
    assert term.wait() == 0
    assert all(perms(fake, pid) == (0, 0, 0) for pid in ids)
    assert git_status(lib) == ""


def test_audit_fix_yes_narrows_without_asking(tmp_path, cli, fakes):
    fake = fakes()
    ids = [add(fake, tmp_path, i, title=f"p{i}", is_friend=1) for i in range(6)]
    lib = new_library(tmp_path, cli)
    connect(lib, fake)
    cli("-q", "-L", str(lib), "discover", check=0)
    fixed = cli("-L", str(lib), "audit", "--visibility-check", "--fix", "--yes", check=0)
    assert "6 narrowed" in fixed.out
    assert all(perms(fake, pid) == (0, 0, 0) for pid in ids)


def test_narrowing_a_located_photo_narrows_who_sees_its_location(tmp_path, cli, fakes):
    fake = fakes()
    pid = add(fake, tmp_path, 1, title="home", is_public=1, lat=48.85, lon=2.29)
    assert fake.photos[pid].geo_perms == (1, 0, 0, 0)  # the account default: public
    lib = new_library(tmp_path, cli)
    connect(lib, fake)
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "audit", "--visibility-check", "--fix", check=0)
    assert perms(fake, pid) == (0, 0, 0) and fake.photos[pid].geo_perms == (0, 0, 0, 0)


def test_a_public_upload_carries_no_location_and_is_known_when_found_again(tmp_path, cli, fakes):
    fake = fakes()
    fake.import_exif_location = True  # the account geotags uploads from their GPS, for everyone to see
    pics = tmp_path / "pics"
    pics.mkdir()
    for seed in (1, 2):
        (pics / f"IMG_{seed}.jpg").write_bytes(photo_bytes(tmp_path, seed, gps=(48.8584, 2.2945)))
    lib = new_library(tmp_path, cli)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    connect(lib, fake, upload_from=["pics"])
    cli("-q", "-L", str(lib), "discover", "--service", "pics", check=0)
    ids = sorted(records(lib))
    cli("-q", "-L", str(lib), "visibility", "set", *ids, "public", "--reason", "for everyone", check=0)
    cli("-q", "-L", str(lib), "resolve", check=0)

    # a run that uploaded the second photo and died before recording it
    from photosync.connectors.flickr import FlickrConnector  # noqa: F401  (the registry's type)
    from photosync.phases.common import Connectors

    handle, _ = open_lib(lib)
    try:
        photo = handle.get_photo(ids[1])
        with open(pics / photo.metadata.filename, "rb") as f:
            Connectors(handle).get("flickr").upload(photo, f, None, "public")
    finally:
        handle.close()
    assert len(fake.uploads) == 1

    run = cli("-L", str(lib), "replicate", "--execute", check=0)
    assert "1 found there already" in run.out and len(fake.uploads) == 2
    recs = records(lib)
    for pid in ids:
        [inst] = recs[pid]["instances"]["flickr"]
        p = fake.photos[inst["id"]]
        assert not p.has_geo, "Flickr geotagged a public photo from its file"
        data = fake.file_bytes(inst["id"])
        assert file_location(data) is None
        original = (pics / recs[pid]["metadata"]["filename"]).read_bytes()
        with Image.open(io.BytesIO(data)) as a, Image.open(io.BytesIO(original)) as b:
            assert a.tobytes() == b.tobytes() and a.getexif()[0x0110] == "iPhone XS"
        # the record names the bytes Flickr has; the machine tag the original's
        assert inst["content_hash"] == "sha256:" + hashlib.sha256(data).hexdigest() != recs[pid]["content_hash"]
        assert f"photosync:sha256={recs[pid]['content_hash'][7:]}" in p.machine_tags
    found = cli("-q", "-L", str(lib), "discover", "--service", "flickr", check=0)
    assert "0 new" in found.out and len(records(lib)) == 2
    assert cli("-q", "-L", str(lib), "resolve", check=0).code == 0
    assert all(not r["conflicts"] and r["processing_state"] != "discovered" for r in records(lib).values())
    assert git_status(lib) == ""


def test_a_public_video_whose_gps_track_cannot_be_removed_is_not_uploaded(tmp_path, cli, fakes):
    from mp4build import box, full_box, mvhd, tkhd

    fake = fakes()
    gps_track = box(b"trak", box(b"mdia", box(b"minf", box(b"stbl", full_box(
        b"stsd", 0, b"\x00\x00\x00\x01" + box(b"gpmd", b"\x00" * 8))))))
    video = (box(b"ftyp", b"isom\x00\x00\x00\x00isommp41")
             + box(b"moov", mvhd(datetime(2021, 5, 6, 7, 8, 9, tzinfo=timezone.utc)) + box(b"trak", tkhd(640, 480)) + gps_track)
             + box(b"mdat", b"\x00\x00\x00\x01" + b"\x42" * 4000))
    pics = tmp_path / "pics"
    pics.mkdir()
    (pics / "GOPR0001.MP4").write_bytes(video)
    lib = new_library(tmp_path, cli)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    connect(lib, fake, upload_from=["pics"])
    cli("-q", "-L", str(lib), "discover", "--service", "pics", check=0)
    cli("-q", "-L", str(lib), "visibility", "set", *records(lib), "public", "--reason", "a clip", check=0)
    cli("-q", "-L", str(lib), "resolve", check=0)
    run = cli("-L", str(lib), "replicate", "--execute", check=1)  # a warning: it needs a person's attention
    assert fake.uploads == [], "a video with a GPS track went up as public"
    assert "1 refused" in run.out and "GPS track" in run.err and "service policy" in run.err
