"""The whole iCloud library through the real command: service add, auth (password and code on
standard input), discover (originals, edits linked to their original, live videos linked to
their still, albums; nothing downloaded twice), resolve (the links, no question), and prune
(to Recently Deleted, never a hard delete), against the fake iCloud with the real pyicloud."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from fakes.pictures import jpeg, video

from photosync.library.library import Library

APPLE_ID = "person@example.com"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _trust_the_fake(monkeypatch):
    from fakes.tls import ca_bundle

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle())


@pytest.fixture
def fake():
    from fakes.icloud import FakeICloud

    f = FakeICloud(APPLE_ID, PASSWORD)
    f.start()
    yield f
    f.stop()


def auth(lib, answers: str, name: str = "icloud"):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "auth", name], input=answers,
                          capture_output=True, text=True, env=env, timeout=120)


def add_service(cli, lib, fake, *extra):
    ends = fake.endpoints_china if "--china-mainland" in extra else fake.endpoints
    args = ["-L", str(lib), "service", "add", "icloud", "--type", "icloud", "--apple-id", APPLE_ID, *extra]
    for k, v in ends.items():
        args += ["--endpoint", f"{k}={v}"]
    cli(*args, check=0)


def seed(fake):
    old = datetime(2020, 5, 1, 10, 0, tzinfo=timezone.utc)
    still = jpeg("still", taken=old.replace(tzinfo=None))
    live = fake.add_asset(still, filename="IMG_0001.HEIC".replace("HEIC", "JPG"), taken=old, albums=["Holiday"],
                          live_video=video("live", (64, 48), created=old, quicktime=True),
                          edited=jpeg("still-edited", taken=old.replace(tzinfo=None)))
    plain = fake.add_asset(jpeg("plain", taken=datetime(2020, 6, 1, 9, 0)), filename="IMG_0002.JPG",
                           taken=datetime(2020, 6, 1, 9, 0, tzinfo=timezone.utc))
    recent_day = datetime.now(timezone.utc) - timedelta(days=2)
    recent = fake.add_asset(jpeg("recent", taken=recent_day.replace(tzinfo=None, microsecond=0)),
                            filename="IMG_0003.JPG", taken=recent_day)
    return live, plain, recent


def records(lib):
    with Library.open(lib, write=False) as L:
        out = {}
        for pid in L.photo_ids():
            p = L.get_photo(pid)
            for inst in p.all_instances():
                out[inst.id] = p
        return out


def test_icloud_backup_then_prune(cli, tmp_path, fake):
    lib = tmp_path / "library"
    cli("init", str(lib), check=0)
    r = cli("-L", str(lib), "service", "add", "--type", "icloud", "--help", check=0)
    assert "--apple-id" in r.out and "--china-mainland" in r.out
    add_service(cli, lib, fake)
    live, plain, recent = seed(fake)
    # discover before auth: says how to sign in
    r = cli("-L", str(lib), "discover")
    assert "photosync auth icloud" in r.out + r.err
    r = auth(lib, f"{PASSWORD}\n{fake.account.two_factor_code}\n")
    assert r.returncode == 0, r.stderr
    assert "Signed in to icloud as Test Person" in r.stdout
    creds = next(p for p in _credential_folders())
    for p in creds.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert PASSWORD not in "".join(p.read_text(errors="replace") for p in creds.iterdir())

    cli("-L", str(lib), "discover", check=0)
    recs = records(lib)
    assert set(recs) == {live, f"{live}/edited", f"{live}/live", plain, recent}
    edit = recs[f"{live}/edited"].find_instance("icloud", f"{live}/edited")
    mov = recs[f"{live}/live"].find_instance("icloud", f"{live}/live")
    orig = recs[live].find_instance("icloud", live)
    assert edit.metadata.edit_of == live and mov.metadata.motion_of == live
    assert orig.quality == "original" and orig.content_hash == "sha256:" + __import__("hashlib").sha256(
        fake.original(live)).hexdigest()
    assert orig.metadata.albums == ("Holiday",) and orig.metadata.filename == "IMG_0001.JPG"
    assert mov.metadata.filename == "IMG_0001.MOV" and mov.metadata.media_type == "video"

    # renamed and put in another album on the service: nothing is downloaded again
    before = len(fake.asset_downloads)
    fake.assets[plain].filename = "Renamed.JPG"
    fake.assets[plain].asset_tag += 1
    fake.add_to_album(plain, "Best")
    cli("-L", str(lib), "discover", check=0)
    assert len(fake.asset_downloads) == before
    p = records(lib)[plain].find_instance("icloud", plain)
    assert p.metadata.filename == "Renamed.JPG" and p.metadata.albums == ("Best",)

    # resolve links the live video to its still (no question) and the edit to its original (an
    # edit variant, as a Takeout's -edited copy), and merges nothing
    r = cli("-L", str(lib), "resolve", "--auto-resolve", "all")
    assert "1 motion video (live or motion photos) linked to its still" in r.out, r.out
    recs = records(lib)
    assert len({p.photo_id for p in recs.values()}) == 5
    still, movie, edited = recs[live], recs[f"{live}/live"], recs[f"{live}/edited"]
    assert f"motion_variant:{still.photo_id}" in {x.conflict_id for x in movie.resolutions}
    assert f"motion_variant:{movie.photo_id}" in {x.conflict_id for x in still.resolutions}
    assert not movie.conflicts and all(movie.photo_id not in c.related_photos for c in still.conflicts)
    assert [c.type for c in edited.open_conflicts] == ["edit_variant"]
    assert edited.open_conflicts[0].related_photos == (still.photo_id,)

    cli("-L", str(lib), "replicate", "--execute", check=0)
    r = cli("-L", str(lib), "prune", "--service", "icloud", "--older-than", "90d", "--dry-run", check=0)
    assert "would delete IMG_0001.JPG" in r.out and "would delete IMG_0002.JPG" not in r.out  # renamed
    assert "would delete Renamed.JPG" in r.out and "refused IMG_0003.JPG" in r.out
    assert not fake.deletions
    # edited on a device after the last discover: the edit is not backed up, so the asset stays
    edit_on_device(fake, plain, jpeg("plain-edited", taken=datetime(2020, 6, 1, 9, 0)))
    r = cli("-L", str(lib), "prune", "--service", "icloud", "--older-than", "90d", "--execute")
    assert r.code == 1 and "changed on iCloud since photosync read it" in r.out + r.err
    assert [d["asset_id"] for d in fake.deletions] == [live]
    # once discovered and copied, it goes too
    cli("-L", str(lib), "discover", "--service", "icloud", "--full-scan", check=0)
    cli("-L", str(lib), "replicate", "--execute", check=0)
    r = cli("-L", str(lib), "prune", "--service", "icloud", "--older-than", "90d", "--execute", check=0)
    assert "deleted Renamed.JPG" in r.out and "deleted Renamed_edited.JPG" in r.out
    assert sorted(d["asset_id"] for d in fake.deletions) == sorted([live, plain])
    assert fake.hard_deletes == [], "prune moves to Recently Deleted, never deletes for good"
    assert set(fake.recently_deleted()) == {live, plain} and fake.in_library() == [recent]
    recs = records(lib)
    assert recs[live].find_instance("icloud", live).missing_since and recs[recent].blobs
    assert not recs[recent].find_instance("icloud", recent).missing_since


def edit_on_device(fake, asset_id: str, data: bytes) -> None:
    """The person edits the photo on a device: a rendering on the asset record (resJPEGFullRes)."""
    from fakes.icloud.cloudkit import UTI, Resource

    with fake.lock:
        a = fake.assets[asset_id]
        r = Resource("resJPEGFull", data, UTI["jpeg"], 64, 48)
        a.asset_res["resJPEGFull"] = r
        fake._res_index[r.id] = (asset_id, "asset", "resJPEGFull")
        a.asset_tag += 1
        a.serial = fake._bump()


def _credential_folders():
    root = os.environ["PHOTOSYNC_CONFIG_DIR"]
    from pathlib import Path

    return sorted(Path(root).rglob("*.icloud"))


def test_prune_refuses_every_photo_without_enough_copies(cli, tmp_path, fake):
    lib = tmp_path / "library"
    cli("init", str(lib), check=0)
    add_service(cli, lib, fake)
    live, plain, _recent = seed(fake)
    assert auth(lib, f"{PASSWORD}\n{fake.account.two_factor_code}\n").returncode == 0
    cli("-L", str(lib), "discover", check=0)
    r = cli("-L", str(lib), "prune", "--service", "icloud", "--older-than", "90d", "--execute", check=0)
    for name in ("IMG_0001.JPG", "IMG_0001_edited.JPG", "IMG_0001.MOV", "IMG_0002.JPG", "IMG_0003.JPG"):
        assert f"refused {name}" in r.out
    assert "only 0 verified blob copies" in r.out and not fake.deletions


def test_advanced_data_protection_and_web_access_are_named(cli, tmp_path, fake):
    lib = tmp_path / "library"
    cli("init", str(lib), check=0)
    add_service(cli, lib, fake)
    fake.set_adp(True, web_access=False)
    r = auth(lib, f"{PASSWORD}\n{fake.account.two_factor_code}\n")
    assert r.returncode != 0 and "Advanced Data Protection" in r.stdout + r.stderr
    fake.set_adp(False, web_access=False)
    r = auth(lib, f"{PASSWORD}\n{fake.account.two_factor_code}\n")
    assert r.returncode != 0 and "Access iCloud Data on the Web" in r.stdout + r.stderr


def test_a_wrong_password_or_code_is_said(cli, tmp_path, fake):
    lib = tmp_path / "library"
    cli("init", str(lib), check=0)
    add_service(cli, lib, fake)
    r = auth(lib, "wrong password\n")
    assert r.returncode != 0 and "Apple refused the sign-in" in r.stdout + r.stderr
    r = auth(lib, f"{PASSWORD}\n000000\n")
    assert r.returncode != 0 and "did not accept the code" in r.stdout + r.stderr


def test_china_mainland_account(cli, tmp_path):
    from fakes.icloud import FakeICloud

    with FakeICloud(APPLE_ID, PASSWORD, country="CHN") as fake:
        lib = tmp_path / "library"
        cli("init", str(lib), check=0)
        add_service(cli, lib, fake, "--china-mainland")
        fake.add_asset(jpeg("cn", taken=datetime(2020, 1, 1)), filename="CN.JPG")
        r = auth(lib, f"{PASSWORD}\n{fake.account.two_factor_code}\n")
        assert r.returncode == 0, r.stdout + r.stderr
        cli("-L", str(lib), "discover", check=0)
        assert any(p.metadata.filename == "CN.JPG" for p in records(lib).values())


def test_removing_the_service_with_its_credentials_removes_the_icloud_session(cli, tmp_path, fake):
    lib = tmp_path / "library"
    cli("init", str(lib), check=0)
    add_service(cli, lib, fake)
    assert auth(lib, f"{PASSWORD}\n{fake.account.two_factor_code}\n").returncode == 0
    [folder] = _credential_folders()  # pyicloud's session cookies: a trusted sign-in for months
    assert any(folder.iterdir())
    for p in folder.iterdir():
        assert p.stat().st_mode & 0o077 == 0, p  # 0600
    r = cli("-L", str(lib), "service", "remove", "icloud", "--delete-credentials", check=0)
    assert "Deleted" in r.out
    assert _credential_folders() == [], "the session stays usable after its service's credentials were deleted"


def test_a_shared_librarys_photos_are_backed_up_and_never_pruned(cli, tmp_path, fake):
    """A photo moved into an iCloud Shared Photo Library leaves the person's own library: discover
    reads the Shared Libraries too, replicate copies them, and prune refuses them by name (deleted
    there, a photo is gone for everyone who shares the library)."""
    lib = tmp_path / "library"
    cli("init", str(lib), check=0)
    add_service(cli, lib, fake, "--retry-attempts", "2", "--retry-base-seconds", "0.01")
    old = datetime(2020, 5, 1, 10, 0, tzinfo=timezone.utc)
    mine = fake.add_asset(jpeg("mine", taken=old.replace(tzinfo=None)), filename="IMG_0001.JPG", taken=old)
    family = fake.add_shared_library(owner=True)
    ours = fake.add_asset(jpeg("ours", taken=old.replace(tzinfo=None)), filename="IMG_0002.JPG", taken=old,
                          library=family)
    assert auth(lib, f"{PASSWORD}\n{fake.account.two_factor_code}\n").returncode == 0
    cli("-L", str(lib), "discover", check=0)
    recs = records(lib)
    assert set(recs) == {mine, f"{family}:{ours}"}
    shared = recs[f"{family}:{ours}"].find_instance("icloud", f"{family}:{ours}")
    assert shared.content_hash == "sha256:" + __import__("hashlib").sha256(fake.original(ours)).hexdigest()
    assert shared.metadata.filename == "IMG_0002.JPG"
    cli("-L", str(lib), "replicate", "--execute", check=0)
    assert records(lib)[f"{family}:{ours}"].blobs
    r = cli("-L", str(lib), "prune", "--service", "icloud", "--older-than", "90d", "--dry-run", check=0)
    assert "would delete IMG_0001.JPG" in r.out
    assert "refused IMG_0002.JPG" in r.out and "Shared Library" in r.out, r.out
    r = cli("-L", str(lib), "prune", "--service", "icloud", "--older-than", "90d", "--execute", check=0)
    assert [d["asset_id"] for d in fake.deletions] == [mine] and ours in fake.in_library()
    # the next discover reads nothing again, and finds the Shared Library's photo still there
    before = len(fake.asset_downloads)
    cli("-L", str(lib), "discover", check=0)
    assert len(fake.asset_downloads) == before
    assert not records(lib)[f"{family}:{ours}"].find_instance("icloud", f"{family}:{ours}").missing_since
    # a Shared Library joined, then its side of iCloud silent during a full scan: nothing marked gone
    joined = fake.add_shared_library(owner=False)
    theirs = fake.add_asset(jpeg("theirs", taken=old.replace(tzinfo=None)), filename="IMG_0003.JPG", taken=old,
                            library=joined)
    cli("-L", str(lib), "discover", check=0)
    assert f"{joined}:{theirs}" in records(lib)
    fake.shared_zone_listing_fails = True
    r = cli("-L", str(lib), "discover", "--full-scan")
    assert r.code == 1 and "none of their photos is taken for gone" in r.out + r.err
    assert not records(lib)[f"{joined}:{theirs}"].find_instance("icloud", f"{joined}:{theirs}").missing_since
