"""Flickr end to end: the real photosync command and the real flickrapi client
against the fake Flickr (tests/fakes/flickr) on loopback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from fakes.flickr import FakeFlickr
from helpers import git, git_status, kill_repeatedly
from photosync.sample import generate_corpus

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "fedcba9876543210"


@pytest.fixture
def fake():
    f = FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid="12345678@N00", username="tester",
                   fullname="Test Person", pro=True)
    f.start()
    yield f
    f.stop()


def fast_retries(lib: Path, name: str = "flickr", **extra) -> None:
    """Retries in milliseconds, not seconds, and no budget wait (a hand edit of
    config/, committed by the next command)."""
    path = lib / "config/services.json"
    services = json.loads(path.read_text())
    services[name]["retry"] = {"attempts": 5, "base_seconds": 0.01}
    services[name]["rate_limit"] = {"requests_per_hour": 1e7}  # the fake has no hourly limit
    services[name].update(extra)
    path.write_text(json.dumps(services, indent=2))


def add_flickr(cli, lib: Path, fake, name="flickr", *extra: str) -> None:
    args = ["-L", str(lib), "service", "add", name, "--type", "flickr", "--api-key", KEY, "--api-secret", SECRET]
    for k, v in fake.endpoints.items():
        args += ["--endpoint", f"{k}={v}"]
    cli(*args, *extra, check=0)
    fast_retries(lib, name)


def sign_in(lib: Path, fake, name="flickr", perms="write") -> subprocess.CompletedProcess:
    """photosync auth, as a person would: read the address it prints, approve it
    in the 'browser' (a GET on the fake's authorize page), paste the code."""
    proc = subprocess.Popen([sys.executable, "-m", "photosync", "-L", str(lib), "auth", name, "--perms", perms],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = None
    lines = []
    while url is None:
        line = proc.stderr.readline()
        assert line, f"auth printed no address: {lines}"
        lines.append(line)
        if "oauth_token=" in line:
            url = line.strip()
    import requests
    from urllib.parse import parse_qs, urlsplit

    requests.get(url, timeout=10)  # the person approves
    token = parse_qs(urlsplit(url).query)["oauth_token"][0]
    verifier = fake.authorize(token, perms=perms)
    out, err = proc.communicate(verifier + "\n", timeout=60)
    assert proc.returncode == 0, out + err
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(lines) + err)


@pytest.fixture
def flickr_lib(tmp_path, cli, fake):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    add_flickr(cli, lib, fake)
    sign_in(lib, fake)
    return lib


def records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((lib / "photos").rglob("*.json"))]


def flickr_instances(lib: Path, name="flickr") -> dict[str, dict]:
    out = {}
    for rec in records(lib):
        for inst in rec["instances"].get(name, []):
            out[inst["id"]] = {**inst, "_record": rec}
    return out


def test_sign_in_keeps_secrets_out_of_the_library(tmp_path, cli, fake):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    add_flickr(cli, lib, fake)
    done = sign_in(lib, fake, perms="read")
    assert "tester" in done.stdout
    creds = Path(os.environ["PHOTOSYNC_CONFIG_DIR"]) / "credentials/services/flickr.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    saved = json.loads(creds.read_text())
    assert saved["api_key"] == KEY and saved["oauth_token"] and saved["user_nsid"] == "12345678@N00"
    everything = git(lib, "log", "-p", "--all")
    assert KEY not in everything and SECRET not in everything and saved["oauth_token_secret"] not in everything
    cli("-q", "-L", str(lib), "discover", check=0)  # commits the hand edit of the retry settings
    assert git_status(lib) == ""


def test_listing_reaches_every_photo_past_the_search_cap(tmp_path, fake):
    """More than 4,000 photos uploaded in one year: Flickr's search stops at
    4,000 results a query, yet every photo is listed, once, in 500-photo pages."""
    from photosync import credentials
    from photosync.connectors.base import ConnectorContext
    from photosync.connectors.flickr import FlickrConnector
    from photosync.context import Context
    from photosync.events import Collector, Tally

    ids = fake.populate(4300, seed=3, heavy_year=2019, heavy_count=4100)
    ctx = Context(tmp_path / "cfg")
    token, secret = fake.issue_token(perms="read")
    credentials.save(ctx, "services", "f", {"api_key": KEY, "api_secret": SECRET, "oauth_token": token,
                                            "oauth_token_secret": secret, "perms": "read"})
    conn = FlickrConnector("f", {"type": "flickr", "enabled": True, "endpoints": fake.endpoints,
                                 "rate_limit": {"requests_per_hour": 1e7}},
                           ConnectorContext(tmp_path, ctx, Tally(Collector())))
    fake.reset_counters()
    listing = conn.list(cursor=None, since=None, full_scan=False)
    refs = list(listing.refs)
    listed = [ref.id for ref in refs]
    prints = {ref.id: ref.fingerprint for ref in refs}
    assert sorted(listed) == sorted(ids) and len(listed) == len(set(listed))
    assert listing.complete
    assert fake.calls["flickr.photos.search"] <= 10, fake.calls  # 9 pages + the query restarted at the cap
    # every call went through the request budget
    assert conn.bucket.taken == fake.api_calls
    # the cursor lets the next run ask only for what is new
    fake.reset_counters()
    again = conn.list(cursor=listing.final_cursor(), since=None, full_scan=False)
    back = list(again.refs)  # at most what came in the last second seen, unchanged (bounds are inclusive)
    assert len(back) <= 5 and all(prints[r.id] == r.fingerprint for r in back)
    assert not again.complete
    assert fake.api_calls <= 3, fake.calls


def test_discover_then_rerun_costs_three_calls(flickr_lib, cli, fake):
    """Discover an account; a rerun with no change costs at most three calls;
    a changed caption and a changed permission are found by the next run
    without downloading anything."""
    ids = fake.populate(300, seed=3)
    fake.reset_counters()
    run = cli("-q", "-L", str(flickr_lib), "discover", check=0)
    got = flickr_instances(flickr_lib)
    assert set(got) == set(ids), run.err
    assert fake.downloads >= 300

    # visibility, dates and metadata as Flickr says them
    some = next(i for i in ids if fake.photos[i].isfriend and not fake.photos[i].ispublic)
    assert got[some]["visibility"] == "friends"
    pub = next(i for i in ids if fake.photos[i].ispublic)
    assert got[pub]["visibility"] == "public"
    assert got[pub]["_record"]["visibility"]["canonical"] == "private"  # new photos are private: never widened
    geo = next(i for i in ids if fake.photos[i].lat)
    assert got[geo]["metadata"]["location"]["lat"] == pytest.approx(fake.photos[geo].lat)
    assert got[pub]["metadata"]["taken_date"] == fake.photos[pub].datetaken.replace(" ", "T")
    video = next((i for i in ids if fake.photos[i].media == "video"), None)
    if video:
        assert got[video]["metadata"]["media_type"] == "video" and got[video]["quality"] == "original"
    albums = [i for i in ids if fake.photos[i].albums]
    assert albums and all(got[i]["metadata"].get("albums") for i in albums)

    fake.reset_counters()
    again = cli("-q", "-L", str(flickr_lib), "discover", check=0)
    assert fake.api_calls <= 3, fake.calls
    assert fake.downloads == 0
    head = git(flickr_lib, "rev-parse", "HEAD")

    fake.set_meta(some, title="A new caption")
    fake.set_perms(pub, 0, 0, 0)
    fake.reset_counters()
    cli("-q", "-L", str(flickr_lib), "discover", check=0)
    assert fake.downloads == 0, "only metadata changed: no file needs downloading again"
    assert fake.api_calls <= 4, fake.calls
    got = flickr_instances(flickr_lib)
    assert got[some]["metadata"]["caption"].startswith("A new caption")
    assert got[pub]["visibility"] == "private"
    assert git(flickr_lib, "rev-parse", "HEAD") != head
    assert "2 updated from flickr" in git(flickr_lib, "log", "-1", "--format=%s")
    assert git_status(flickr_lib) == "" and again.code == 0


def test_faults_are_retried_and_reported(flickr_lib, cli, fake):
    ids = fake.populate(60, seed=5)
    fake.fail_next(3, status=503)
    fake.fail_method("flickr.photos.search", times=2, code=105, message="Service currently unavailable")
    fake.truncate_downloads(4)
    fake.fail_next(2, status=429, path_prefix="/")
    run = cli("-q", "-L", str(flickr_lib), "discover", check=0)
    assert set(flickr_instances(flickr_lib)) == set(ids), run.err

    # a fault that does not go away: a clear error, exit code 1, nothing recorded lost
    before = len(records(flickr_lib))
    fake.populate(5, seed=6)
    fake.fail_next(1000, status=503)
    run = cli("-q", "-L", str(flickr_lib), "discover")
    assert run.code == 1
    assert "flickr" in run.err and "503" in run.err
    fake.fail_next(0)
    assert len(records(flickr_lib)) == before
    assert git_status(flickr_lib) == ""


def test_a_revoked_token_says_to_sign_in_again(flickr_lib, cli, fake):
    fake.populate(3, seed=1)
    creds = json.loads((Path(os.environ["PHOTOSYNC_CONFIG_DIR"]) / "credentials/services/flickr.json").read_text())
    fake.revoke(creds["oauth_token"])
    run = cli("-q", "-L", str(flickr_lib), "discover")
    assert run.code != 0
    assert "photosync auth flickr" in run.err


def folder_library(tmp_path, cli, fake, n):
    pics = tmp_path / "pics"
    generate_corpus(pics, n, seed=21, size=(96, 72), noise=6)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    add_flickr(cli, lib, fake, "flickr", "--upload-from", "pics")
    sign_in(lib, fake)
    cli("-q", "-L", str(lib), "discover", "--service", "pics", check=0)
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    return lib, pics


def set_canonical(cli, lib: Path, levels: dict[str, str]) -> None:
    """A person's explicit choice of visibility (the one command that may widen)."""
    for level in ("friends", "public"):
        ids = [pid for pid, lv in levels.items() if lv == level]
        if ids:
            cli("-q", "-L", str(lib), "visibility", "set", *ids, level, "--reason", "test", check=0)


def test_replicate_uploads_with_the_canonical_visibility(tmp_path, cli, fake):
    fake.import_exif_location = True  # the account geotags uploads from their EXIF GPS, publicly by default
    lib, _ = folder_library(tmp_path, cli, fake, 9)
    recs = records(lib)
    levels = {r["photo_id"]: ("private", "friends", "public")[i % 3] for i, r in enumerate(recs)}
    with_location = [r["photo_id"] for r in recs if r["metadata"]["location"]]
    assert {levels[pid] for pid in with_location} == {"private", "friends", "public"}, "a case is missing"
    set_canonical(cli, lib, levels)
    plan = cli("-L", str(lib), "replicate", check=0)
    assert "9 photos" in plan.out and "to flickr as public" in plan.out
    assert fake.uploads == []
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    assert len(fake.uploads) == 9
    by_hash = {}
    for up in fake.uploads:
        tags = up["tags"].split()
        [tag] = [t for t in tags if t.startswith("photosync:sha256=")]
        by_hash["sha256:" + tag.split("=", 1)[1]] = up
    for rec in records(lib):
        up = by_hash[rec["content_hash"]]
        level = levels[rec["photo_id"]]
        # canonical friends is friends only on Flickr (the narrowest state that fits), never friends and family
        assert (up["is_public"], up["is_friend"], up["is_family"]) == {
            "private": ("0", "0", "0"), "friends": ("0", "1", "0"), "public": ("1", "0", "0")}[level]
        assert up["hidden"] == ("1" if level == "public" else "2")
        assert "." in up["filename"] and not up["filename"].startswith("dummy")
        inst = rec["instances"]["flickr"][0]
        assert inst["id"] == up["photo_id"] and inst["visibility"] == level
        photo = fake.photos[up["photo_id"]]
        if rec["photo_id"] in with_location and level != "public":
            assert photo.lat, "the location goes with photos that are not public"
            # seen by the photo's own audience, not by the account's default (public) geo permissions
            assert photo.geo_perms == {"private": (0, 0, 0, 0), "friends": (0, 0, 1, 0)}[level]
        import hashlib

        sent = "sha256:" + hashlib.sha256(fake.file_bytes(up["photo_id"])).hexdigest()
        assert inst["content_hash"] == sent  # the record names the bytes Flickr has
        if level == "public":
            assert not photo.lat, "a public photo's location is not published unless asked"
        if level == "public" and rec["photo_id"] in with_location:
            assert sent != rec["content_hash"] and inst["quality"] == "high"  # a copy without its GPS
        else:
            assert sent == rec["content_hash"]  # the original's bytes arrive unchanged
    fake.reset_counters()
    again = cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    assert fake.uploads == [] and again.code == 0
    # discovering Flickr now finds the same photos: instances of the known records, no new photo
    found = cli("-q", "-L", str(lib), "discover", "--service", "flickr", check=0)
    assert "0 new" in found.out, found.out
    after = records(lib)
    assert len(after) == 9 and all(len(r["instances"]["flickr"]) == 1 for r in after)
    assert all(r["instances"]["flickr"][0]["visibility"] == levels[r["photo_id"]] for r in after)
    assert git_status(lib) == ""


def test_kill_replicate_to_flickr_never_uploads_twice(tmp_path, cli, fake):
    lib, _ = folder_library(tmp_path, cli, fake, 40)
    fake.delay = 0.05
    seen = [0]
    # each run is killed a moment after Flickr stored one more photo, whatever the machine's speed
    kills = kill_repeatedly(["-L", str(lib), "replicate", "--execute"], times=8, pause=(0.0, 0.3), seed=5,
                            kill_when=lambda: len(fake.photos) > seen[-1],
                            after_kill=lambda: seen.append(len(fake.photos)))
    assert kills >= 2, "replicate finished before it could be killed: the test proves nothing"
    fake.delay = 0
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    hashes = [t for up in fake.uploads for t in up["tags"].split() if t.startswith("photosync:sha256=")]
    assert len(hashes) == len(set(hashes)) == 40, "a photo was uploaded twice"
    insts = flickr_instances(lib)
    assert len(insts) == 40 and set(insts) <= set(fake.photos)
    assert subprocess.run(["git", "-C", str(lib), "fsck", "--strict"], capture_output=True).returncode == 0
    assert git_status(lib) == ""


def test_audit_fix_narrows_flickr_permissions_and_never_widens(flickr_lib, cli, fake):
    pub = fake.add_photo(title="too open", is_public=1)
    fam = fake.add_photo(title="family", is_family=1)
    cli("-q", "-L", str(flickr_lib), "discover", check=0)
    check = cli("-L", str(flickr_lib), "audit", "--visibility-check")
    assert check.code == 1 and "wider" in check.out
    fixed = cli("-L", str(flickr_lib), "audit", "--visibility-check", "--fix", check=0)
    assert "2 narrowed" in fixed.out
    for pid in (pub, fam):
        p = fake.photos[pid]
        assert (p.ispublic, p.isfriend, p.isfamily) == (0, 0, 0)
    assert cli("-L", str(flickr_lib), "audit", "--visibility-check", check=0).code == 0
    assert "narrowed 2 on flickr" in git(flickr_lib, "log", "-1", "--format=%s")
    # a later discover sees the narrowed permissions: no discrepancy comes back
    cli("-q", "-L", str(flickr_lib), "discover", check=0)
    assert cli("-L", str(flickr_lib), "audit", "--visibility-check", check=0).code == 0


def test_a_free_account_gives_no_originals_and_says_so(tmp_path, cli):
    f = FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid="12345678@N00", username="tester",
                   fullname="Test Person", pro=False)
    f.start()
    try:
        lib = tmp_path / "lib"
        cli("init", str(lib), check=0)
        add_flickr(cli, lib, f)
        sign_in(lib, f, perms="read")
        f.populate(6, seed=2)
        video = f.add_photo(media="video", original_format="mp4", title="a clip")
        run = cli("-q", "-L", str(lib), "discover", check=0)
        assert run.err.count("does not give original files") == 1
        insts = flickr_instances(lib)
        assert len(insts) == 7 and all(i["quality"] != "original" for i in insts.values())
        assert insts[video]["metadata"]["media_type"] == "video"
    finally:
        f.stop()


def test_audit_fix_asks_flickr_first_and_never_widens_a_stale_record(flickr_lib, cli, fake):
    """The record says public; the owner has since made it private on Flickr; the
    person had set canonical 'friends'.  --fix must not 'narrow' it to friends."""
    pid = fake.add_photo(title="was public", is_public=1)
    cli("-q", "-L", str(flickr_lib), "discover", check=0)
    [rec] = [i["_record"] for i in flickr_instances(flickr_lib).values()]
    cli("-q", "-L", str(flickr_lib), "visibility", "set", rec["photo_id"], "friends", "--reason", "t", check=0)
    fake.set_perms(pid, 0, 0, 0)  # outside photosync; no discover since
    cli("-L", str(flickr_lib), "audit", "--visibility-check", "--fix")
    p = fake.photos[pid]
    assert (p.ispublic, p.isfriend, p.isfamily) == (0, 0, 0), "a private photo was widened by --fix"
    assert flickr_instances(flickr_lib)[pid]["visibility"] == "private"  # recorded as Flickr shows it
    assert git_status(flickr_lib) == ""


def test_a_photo_that_failed_to_download_is_listed_again_next_run(flickr_lib, cli, fake):
    fake.populate(5, seed=8)
    cli("-q", "-L", str(flickr_lib), "discover", check=0)
    late = fake.add_photo(title="flaky host")
    other = fake.add_photo(title="fine")
    p = fake.photos[late]
    fake.fail_next(1000, status=503, path_prefix=f"/{p.server}/{late}_")
    run = cli("-q", "-L", str(flickr_lib), "discover")
    assert run.code == 1 and late in run.err
    assert other in flickr_instances(flickr_lib) and late not in flickr_instances(flickr_lib)
    fake.fail_next(0)
    cli("-q", "-L", str(flickr_lib), "discover", check=0)
    assert late in flickr_instances(flickr_lib), "the incremental cursor moved past a photo it could not read"


def test_album_changes_are_seen_by_incremental_runs(flickr_lib, cli, fake):
    a, b = fake.add_photo(title="a"), fake.add_photo(title="b")
    sid = fake.create_album("Trip", [a, b])
    cli("-q", "-L", str(flickr_lib), "discover", check=0)
    assert flickr_instances(flickr_lib)[a]["metadata"]["albums"] == ["Trip"]
    fake.remove_from_album(sid, a)
    fake.reset_counters()
    cli("-q", "-L", str(flickr_lib), "discover", check=0)
    got = flickr_instances(flickr_lib)
    assert "albums" not in got[a]["metadata"] or got[a]["metadata"]["albums"] == []
    assert got[b]["metadata"]["albums"] == ["Trip"]
    assert fake.downloads == 0


def test_a_file_changed_since_discover_is_not_uploaded(tmp_path, cli, fake):
    lib, pics = folder_library(tmp_path, cli, fake, 2)
    victim = sorted(pics.rglob("*.jpg"))[0]
    data = bytearray(victim.read_bytes())
    data[-10] ^= 0xFF
    st = victim.stat()
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and time: discover would not notice
    run = cli("-q", "-L", str(lib), "replicate", "--execute")
    assert run.code == 1 and "not uploaded to flickr" in run.err and "changed since discover" in run.err
    assert len(fake.uploads) == 1  # the other photo went


def test_a_sign_in_for_another_account_is_refused(flickr_lib, cli, fake):
    services = json.loads((flickr_lib / "config/services.json").read_text())
    assert services["flickr"]["account"] == "12345678@N00"  # recorded by photosync auth
    cred = Path(os.environ["PHOTOSYNC_CONFIG_DIR"]) / "credentials/services/flickr.json"
    saved = json.loads(cred.read_text())
    saved["user_nsid"] = "99999999@N00"  # another library's service named flickr signed in elsewhere
    cred.write_text(json.dumps(saved))
    run = cli("-q", "-L", str(flickr_lib), "discover")
    assert run.code == 1 and "99999999@N00" in run.err and "photosync auth flickr" in run.err


def test_a_copy_uploaded_before_a_merge_keeps_the_photo_from_a_second_upload(tmp_path, cli, fake):
    """A run killed after uploading a small copy (on Flickr with photosync's tag, never recorded);
    then the camera original arrives and resolve merges the two: the photo is on Flickr already."""
    import hashlib
    import random

    from PIL import Image

    from variant_corpus import exif_bytes, jpeg, scene

    web, cam = tmp_path / "web", tmp_path / "cam"
    web.mkdir()
    cam.mkdir()
    im, _, _ = scene(random.Random(5), (800, 600))
    exif = exif_bytes(datetime(2020, 1, 2, 3, 4, 5, 600000), ("Canon", "EOS 80D"), None)
    small = jpeg(im.resize((400, 300), Image.Resampling.LANCZOS), 85, exif)
    (web / "P1_small.jpg").write_bytes(small)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "web", "--type", "local", "--path", str(web), check=0)
    add_flickr(cli, lib, fake, "flickr", "--upload-from", "web")
    sign_in(lib, fake)
    fake.add_photo(data=small, title="P1_small",
                   machine_tags=(f"photosync:sha256={hashlib.sha256(small).hexdigest()}",))
    (cam / "P1.jpg").write_bytes(jpeg(im, 92, exif))
    cli("-L", str(lib), "service", "add", "cam", "--type", "local", "--path", str(cam), check=0)
    cli("-q", "-L", str(lib), "discover", "--service", "web", check=0)
    cli("-q", "-L", str(lib), "discover", "--service", "cam", check=0)
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "all", check=0)
    (rec,) = records(lib)
    assert rec["canonical_source"] == "cam:P1.jpg"
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    assert fake.uploads == [] and len(fake.photos) == 1
    (rec,) = records(lib)
    (on_flickr,) = rec["instances"]["flickr"]
    assert on_flickr["content_hash"] == "sha256:" + hashlib.sha256(small).hexdigest()
    assert on_flickr["quality"] == "medium"
