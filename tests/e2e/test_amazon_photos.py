"""Amazon Photos as a target, end to end: the real photosync command and its own Drive v1
client against the fake Amazon Photos (tests/fakes/amazon) on loopback. Seed 000's frame:
photos from a source go into the album "Echo Show", once; mirror mode takes out what left."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from fakes.amazon import FakeAmazonPhotos
from helpers import git, git_status, kill_repeatedly
from photosync.sample import generate_corpus


@pytest.fixture
def fake():
    with FakeAmazonPhotos() as f:
        yield f
        assert f.errors == []


def config_dir() -> Path:
    return Path(os.environ["PHOTOSYNC_CONFIG_DIR"])


def add_frame(cli, lib: Path, fake, *extra: str, name: str = "frame", album: str = "Echo Show") -> None:
    args = ["-L", str(lib), "service", "add", name, "--type", "amazon-photos", "--album", album,
            "--upload-from", "pics"]
    for k, v in fake.endpoints.items():
        args += ["--endpoint", f"{k}={v}"]
    cli(*args, *extra, check=0)
    path = lib / "config/services.json"
    services = json.loads(path.read_text())
    services[name]["retry"] = {"attempts": 5, "base_seconds": 0.01}  # milliseconds, not seconds
    path.write_text(json.dumps(services, indent=2))


def sign_in(cli, lib: Path, fake, tmp: Path, style: str = "json", underscores: bool = False, name="frame"):
    cookies = tmp / f"cookies-{style}-{underscores}.txt"
    fake.write_cookies(cookies, style=style, underscores=underscores)
    return cli("-L", str(lib), "auth", name, "--cookies", str(cookies))


def frame_library(tmp: Path, cli, fake, n: int, *extra: str, seed: int = 31) -> tuple[Path, Path]:
    pics = tmp / "pics"
    generate_corpus(pics, n, seed=seed, size=(64, 48), noise=6)
    lib = tmp / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    add_frame(cli, lib, fake, *extra)
    assert sign_in(cli, lib, fake, tmp).code == 0
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    return lib, pics


def records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((lib / "photos").rglob("*.json"))]


def frame_ids(lib: Path, present: bool = True) -> dict[str, str]:
    """photo id -> node id of the photos recorded in the album (present, or withdrawn)."""
    out = {}
    for r in records(lib):
        for inst in r["instances"].get("frame", []):
            if (inst.get("missing_since") is None) == present:
                out[r["photo_id"]] = inst["id"]
    return out


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# -- sign-in ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("style,underscores,tld", [
    ("json", False, "com"), ("json-list", True, "com"), ("netscape", False, "co.uk"), ("netscape", True, "de")])
def test_auth_takes_a_cookies_file_in_any_form_and_keeps_it_outside_the_library(tmp_path, cli, style,
                                                                                 underscores, tld):
    with FakeAmazonPhotos(tld=tld) as fake:
        lib = tmp_path / "lib"
        cli("init", str(lib), check=0)
        cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(tmp_path), check=0)
        add_frame(cli, lib, fake)
        run = sign_in(cli, lib, fake, tmp_path, style, underscores)
        assert run.code == 0, run.err
        assert f"amazon.{tld}" in run.out
        saved = config_dir() / "credentials/services/frame.json"
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        data = json.loads(saved.read_text())
        assert data["tld"] == tld
        assert data["cookies"] == {k: v for k, v in fake.cookies().items()}, "names with hyphens, values kept"
        conf = json.loads((lib / "config/services.json").read_text())["frame"]
        assert conf["account"] == fake.node(fake.root_id)["ownerId"]
        # no cookie value anywhere in the library (files or git objects)
        secret = fake.cookies()[f"at-{fake.suffix}"]
        blobs = subprocess.run(["git", "-C", str(lib), "cat-file", "--batch-all-objects", "--batch"],
                               capture_output=True).stdout
        assert secret.encode() not in blobs
        assert not any(secret.encode() in p.read_bytes() for p in lib.rglob("*") if p.is_file())


def test_auth_names_what_is_wrong_with_a_cookies_file(tmp_path, cli, fake):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(tmp_path), check=0)
    add_frame(cli, lib, fake)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({k: v for k, v in fake.cookies().items() if not k.startswith("ubid")}))
    run = cli("-L", str(lib), "auth", "frame", "--cookies", str(partial))
    assert run.code != 0 and str(partial) in run.err + run.out and "ubid-main" in run.err + run.out
    stale = tmp_path / "stale.json"
    fake.write_cookies(stale)
    fake.expire_session()
    run = cli("-L", str(lib), "auth", "frame", "--cookies", str(stale))
    assert run.code != 0 and "photosync auth frame --cookies" in run.err + run.out
    assert not (config_dir() / "credentials/services/frame.json").exists()


# -- uploads ------------------------------------------------------------------------------------------

def test_replicate_puts_each_photo_in_the_album_once(tmp_path, cli, fake):
    pics = tmp_path / "pics"
    generate_corpus(pics, 6, seed=31, size=(64, 48), noise=6)
    first = files_in(pics)[0]
    # already in the account (uploaded from the phone app): Amazon answers 409 with that node
    there = fake.add_file(first.read_bytes(), "from-the-phone.jpg")
    # a file of the same name as a photo, other bytes: 409 for the name, not the content
    fake.add_file(b"\xff\xd8\xff\xe0 other bytes", files_in(pics)[1].name)
    decoy = fake.add_album("Echo")            # what name:Echo Show finds on the real API
    album = fake.add_album("Echo Show", members=[there])
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    add_frame(cli, lib, fake)
    sign_in(cli, lib, fake, tmp_path, "json")
    cli("-q", "-L", str(lib), "discover", check=0)
    plan = cli("-L", str(lib), "replicate", check=0)
    assert "6 to frame as private" in plan.out and fake.uploads == []
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    ids = frame_ids(lib)
    assert len(ids) == 6 and there in ids.values()
    assert sorted(fake.album_members(album)) == sorted(ids.values())
    assert fake.album_members(decoy) == [] and len(fake.albums()) == 2, "the album was found, not created"
    assert len(fake.files()) == 7, "no second copy of the photo that was there (6 photos + the other file)"
    assert fake.requests_to("PATCH /nodes/{id}/children") == 1 + 4, "the member already there is not added again"
    for nid in ids.values():
        assert fake.node(nid)["status"] == "AVAILABLE"
    # every upload is the original's bytes
    for r in records(lib):
        import hashlib

        assert "sha256:" + hashlib.sha256(fake.content(ids[r["photo_id"]])).hexdigest() == r["content_hash"]
        assert r["instances"]["frame"][0]["visibility"] == "private"
    # a cycle with nothing new asks Amazon nothing
    fake.reset_counters()
    again = cli("-L", str(lib), "replicate", "--execute", check=0)
    assert fake.total_requests == 0 and "uploaded" not in again.out
    assert git_status(lib) == ""


def test_the_album_is_created_once_and_a_new_photo_joins_it(tmp_path, cli, fake):
    lib, pics = frame_library(tmp_path, cli, fake, 3)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    [album] = [a for a, n in fake.albums().items() if n == "Echo Show"]
    assert len(fake.album_members(album)) == 3
    generate_corpus(tmp_path / "more", 2, seed=77, size=(64, 48), noise=6)
    for p in files_in(tmp_path / "more"):
        p.rename(pics / p.name)
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    assert list(fake.albums().values()) == ["Echo Show"], "created once"
    assert sorted(fake.album_members(album)) == sorted(frame_ids(lib).values()) and len(frame_ids(lib)) == 5


def test_a_sign_in_for_another_account_is_refused(tmp_path, cli, fake):
    lib, _ = frame_library(tmp_path, cli, fake, 1)
    with FakeAmazonPhotos() as other:  # another library's service of the same name signs in elsewhere
        other_lib = tmp_path / "other"
        cli("init", str(other_lib), check=0)
        cli("-L", str(other_lib), "service", "add", "pics", "--type", "local", "--path", str(tmp_path), check=0)
        add_frame(cli, other_lib, other)
        (tmp_path / "b").mkdir()
        assert sign_in(cli, other_lib, other, tmp_path / "b").code == 0
    run = cli("-L", str(lib), "replicate", "--execute")
    assert run.code != 0 and "is account" in run.out + run.err and fake.uploads == []


def test_503_bursts_are_waited_out_and_a_401_refreshes_the_session(tmp_path, cli, fake):
    lib, _ = frame_library(tmp_path, cli, fake, 4)
    fake.expire_access_token()
    fake.fail_next(3, 503)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    assert fake.refreshes == 1 and len(frame_ids(lib)) == 4
    saved = json.loads((config_dir() / "credentials/services/frame.json").read_text())
    assert saved["cookies"][f"at-{fake.suffix}"] == fake.cookies()[f"at-{fake.suffix}"], "the new cookie is kept"


def test_an_expired_sign_in_or_a_refusing_service_is_said_plainly(tmp_path, cli, fake):
    lib, _ = frame_library(tmp_path, cli, fake, 2)
    fake.expire_session()
    run = cli("-L", str(lib), "replicate", "--execute")
    assert run.code != 0 and "photosync auth frame --cookies FILE" in run.out + run.err
    assert frame_ids(lib) == {}
    fake.refuse_all(503)
    run = cli("-L", str(lib), "replicate", "--execute")
    assert run.code != 0 and "503" in run.out + run.err and "attempts" in run.out + run.err
    assert git_status(lib) == ""


def test_kill_during_uploads_never_makes_a_second_copy(tmp_path, cli, fake):
    lib, _ = frame_library(tmp_path, cli, fake, 24)
    fake.delay = 0.03
    seen = [0]
    kills = kill_repeatedly(["-L", str(lib), "replicate", "--execute"], times=6, pause=(0.0, 0.15), seed=9,
                            kill_when=lambda: len(fake.uploads) > seen[-1],
                            after_kill=lambda: seen.append(len(fake.uploads)))
    assert kills >= 2, "replicate finished before it could be killed: the test proves nothing"
    fake.delay = 0
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    ids = frame_ids(lib)
    assert len(ids) == 24 and len(set(ids.values())) == 24
    assert len(fake.files()) == 24, "a photo was stored twice"
    [album] = fake.albums()
    assert sorted(fake.album_members(album)) == sorted(ids.values())
    assert subprocess.run(["git", "-C", str(lib), "fsck", "--strict"], capture_output=True).returncode == 0
    assert git_status(lib) == ""


# -- mirror mode ---------------------------------------------------------------------------------------

def commit_messages(lib: Path) -> str:
    return git(lib, "log", "--format=%B")


def test_mirror_takes_out_of_the_album_what_left_the_folder_over_several_runs(tmp_path, cli, fake):
    lib, pics = frame_library(tmp_path, cli, fake, 8, "--mirror")
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    [album] = fake.albums()
    ids = frame_ids(lib)
    by_name = {r["metadata"]["filename"]: r["photo_id"] for r in records(lib)}
    assert len(ids) == 8
    # run 2: three files deleted from the folder
    gone = files_in(pics)[:3]
    for p in gone:
        p.unlink()
    cli("-q", "-L", str(lib), "discover", check=0)
    plan = cli("-L", str(lib), "replicate", check=0)
    assert "3 photos gone from every source would be removed" in plan.out and fake.trashed() == []
    run = cli("-L", str(lib), "replicate", "--execute", check=0)
    assert "removed 3 photos" in run.out
    out = {ids[by_name[p.name]] for p in gone}
    assert set(fake.trashed()) == out and fake.purged() == []
    assert sorted(fake.album_members(album)) == sorted(set(ids.values()) - out)
    log = commit_messages(lib)
    assert all(f"{p.name} ({by_name[p.name]})" in log for p in gone), "each removal names its photo"
    assert set(frame_ids(lib, present=False)) == {by_name[p.name] for p in gone}
    # run 3: two more leave, two new arrive
    for p in files_in(pics)[:2]:
        p.unlink()
    generate_corpus(tmp_path / "more", 2, seed=78, size=(64, 48), noise=6)
    for p in files_in(tmp_path / "more"):
        p.rename(pics / p.name)
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    present = frame_ids(lib)
    assert len(present) == 5 and sorted(fake.album_members(album)) == sorted(present.values())
    assert len(fake.trashed()) == 5 and fake.purged() == []
    # run 4: a photo comes back to the folder: back in the album, out of the trash, no second node
    back = gone[0]
    back.write_bytes(fake.content(ids[by_name[back.name]]))
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    present = frame_ids(lib)
    assert present[by_name[back.name]] == ids[by_name[back.name]] and len(present) == 6
    assert sorted(fake.album_members(album)) == sorted(present.values())
    assert len(fake.trashed()) == 4 and len(fake.files(status=None)) == 10
    # and then nothing: no request
    fake.reset_counters()
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    assert fake.total_requests == 0
    assert git_status(lib) == ""


def test_without_mirror_nothing_leaves_the_album(tmp_path, cli, fake):
    lib, pics = frame_library(tmp_path, cli, fake, 3)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    for p in files_in(pics)[:2]:
        p.unlink()
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    [album] = fake.albums()
    assert len(fake.album_members(album)) == 3 and fake.trashed() == []


def test_mirror_refuses_by_name_below_min_copies(tmp_path, cli, fake):
    lib, pics = frame_library(tmp_path, cli, fake, 3, "--mirror")
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["blob_storage"]["min_copies"] = 2  # one store: every photo has one verified copy
    prefs_path.write_text(json.dumps(prefs, indent=2))
    gone = files_in(pics)[0]
    gone.unlink()
    cli("-q", "-L", str(lib), "discover", check=0)
    run = cli("-L", str(lib), "replicate", "--execute")
    assert gone.name in run.out + run.err and "min_copies is 2" in run.out + run.err
    [album] = fake.albums()
    assert len(fake.album_members(album)) == 3 and fake.trashed() == []
    assert len(frame_ids(lib)) == 3


def test_kill_during_mirror_ends_with_the_album_equal_to_the_folder(tmp_path, cli, fake):
    lib, pics = frame_library(tmp_path, cli, fake, 60, "--mirror", seed=5)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    ids = frame_ids(lib)
    for p in files_in(pics)[:55]:  # two batches: 50, then 5
        p.unlink()
    found = cli("-q", "-L", str(lib), "discover")  # exits 1: it warns that so many went at once
    assert "55 gone" in found.out
    fake.delay = 0.2
    kills = kill_repeatedly(["-L", str(lib), "replicate", "--execute"], times=3, pause=(0.0, 0.1), seed=3,
                            kill_when=lambda: fake.requests_to("PATCH /trash") >= 1)
    assert kills >= 1, "replicate finished before it could be killed: the test proves nothing"
    fake.delay = 0
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    [album] = fake.albums()
    present = frame_ids(lib)
    assert len(present) == 5 and sorted(fake.album_members(album)) == sorted(present.values())
    assert set(fake.trashed()) == set(ids.values()) - set(present.values()) and fake.purged() == []
    assert len(fake.files(status=None)) == 60, "no node was made or lost"
    assert subprocess.run(["git", "-C", str(lib), "fsck", "--strict"], capture_output=True).returncode == 0
    assert git_status(lib) == ""


def test_mirror_refuses_a_photo_whose_blob_copy_no_longer_reads_back(tmp_path, cli, fake):
    """The record says verified, but the store's copy was damaged since: mirror must not trash the
    target's copy (it may be the last good one), as prune re-reads before its delete."""
    lib, pics = frame_library(tmp_path, cli, fake, 3, "--mirror")
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    gone = files_in(pics)[0]
    data = gone.read_bytes()
    blobs = [p for p in tmp_path.rglob("*") if p.is_file() and p != gone and ".git" not in p.parts
             and p.stat().st_size == len(data) and p.read_bytes() == data]
    assert blobs, "the blob copy of the photo is found in its store"
    for b in blobs:
        os.chmod(b, 0o644)
        b.write_bytes(b"damaged" + data[7:])
    gone.unlink()
    cli("-q", "-L", str(lib), "discover", check=0)
    run = cli("-L", str(lib), "replicate", "--execute", check=None)
    assert gone.name in run.out + run.err
    [album] = fake.albums()
    assert len(fake.album_members(album)) == 3 and fake.trashed() == []


def test_an_upload_answered_without_a_node_is_named_and_found_by_the_next_run(tmp_path, cli, fake):
    lib, _ = frame_library(tmp_path, cli, fake, 3)
    fake.answer_without_node = 1
    run = cli("-L", str(lib), "replicate", "--execute")
    assert run.code == 1 and "answer names no node" in run.err and "Traceback" not in run.err, run.err
    assert len(frame_ids(lib)) == 2 and git_status(lib) == ""
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    assert len(frame_ids(lib)) == 3 and len(fake.uploads) == 3, "the node already there is taken, not a second copy"
    assert len({n for n in frame_ids(lib).values()}) == 3
