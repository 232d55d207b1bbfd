"""Seed 000 end to end: ``photosync watch`` mirrors a fake iCloud shared album
(tests/fakes/icloud_shared) into the album "Echo Show" of a fake Amazon Photos (tests/fakes/amazon)
in mirror mode, over several cycles, killed with -9 in the middle, with the library's local store
giving the verified copies mirror mode asks for before it takes anything away."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from fakes.amazon import FakeAmazonPhotos
from fakes.icloud_shared import FakeICloudShared
from fakes.tls import ca_bundle
from helpers import git_status, kill_repeatedly

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def shared(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle())
    f = FakeICloudShared()
    f.start()
    yield f
    f.stop()


@pytest.fixture
def amazon():
    with FakeAmazonPhotos() as f:
        yield f
        assert f.errors == []


def frame(cli, lib: Path, shared, amazon, album, tmp: Path) -> None:
    """The recipe of README "a family shared album on an Echo Show", against the fakes."""
    cli("-L", str(lib), "service", "add", "family", "--type", "icloud-shared", "--url", shared.url_for(album),
        "--endpoint", f"sharedstreams={shared.endpoint}", "--retry-attempts", "2", "--retry-base-seconds", "0.01",
        check=0)
    args = ["-L", str(lib), "service", "add", "frame", "--type", "amazon-photos", "--album", "Echo Show",
            "--upload-from", "family", "--mirror"]
    for k, v in amazon.endpoints.items():
        args += ["--endpoint", f"{k}={v}"]
    cli(*args, check=0)
    path = lib / "config/services.json"
    services = json.loads(path.read_text())
    services["frame"]["retry"] = {"attempts": 3, "base_seconds": 0.01}
    path.write_text(json.dumps(services, indent=2))
    cookies = tmp / "cookies.json"
    amazon.write_cookies(cookies)
    cli("-L", str(lib), "auth", "frame", "--cookies", str(cookies), check=0)


def frame_nodes(lib: Path) -> dict[str, str]:
    """iCloud guid -> Amazon node id, for the photos recorded present in the frame."""
    out = {}
    for p in (lib / "photos").rglob("*.json"):
        rec = json.loads(p.read_text())
        nodes = [i["id"] for i in rec["instances"].get("frame", []) if not i.get("missing_since")]
        for inst in rec["instances"].get("family", []):
            for n in nodes:
                out[inst["id"]] = n
    return out


def test_watch_mirrors_the_shared_album_into_the_frame_through_kills(cli, library, shared, amazon, tmp_path):
    album = shared.create_album("Family")
    guids = album.populate(6, size=(64, 48))
    frame(cli, library, shared, amazon, album, tmp_path)
    r = cli("-L", str(library), "watch", "--cycles", "1", "--interval", "0.1s", check=0)
    assert "cycle 1 ok" in r.out and "6 uploaded" in r.out, r.out
    [echo] = amazon.albums()
    assert len(amazon.album_members(echo)) == 6
    first = frame_nodes(library)
    # cycle after cycle: two photos leave the shared album, two arrive
    removed = guids[:2]
    for g in removed:
        album.remove_photo(g)
    added = [album.add_photo(size=(48, 64)) for _ in range(2)]
    r = cli("-L", str(library), "watch", "--cycles", "2", "--interval", "0.1s", check=0)
    assert "removed (mirror)" in r.out, r.out
    now = sorted(set(guids[2:]) | set(added))
    nodes = frame_nodes(library)
    assert sorted(nodes) == now
    assert sorted(amazon.album_members(echo)) == sorted(nodes.values()), "the frame shows what the album has"
    assert sorted(amazon.trashed()) == sorted(first[g] for g in removed)
    # and again, killed with -9 in the middle of its uploads and removals
    removed += [guids[2], added[0]]
    for g in removed[2:]:
        album.remove_photo(g)
    added += [album.add_photo(size=(64, 64)) for _ in range(4)]
    amazon.delay = 0.1
    before = amazon.total_requests
    kills = kill_repeatedly(["-L", str(library), "watch", "--interval", "0.1s"], times=3, pause=(0.0, 0.3),
                            seed=40, kill_when=lambda: amazon.total_requests > before)
    assert kills >= 1, "watch was not killed mid-cycle: the test proves nothing"
    amazon.delay = 0
    r = cli("-L", str(library), "watch", "--cycles", "2", "--interval", "0.1s", check=0)
    assert "cycle 2 ok" in r.out, r.out
    present = sorted((set(guids) | set(added)) - set(removed))
    nodes = frame_nodes(library)
    assert sorted(nodes) == present
    members = amazon.album_members(echo)
    assert sorted(members) == sorted(nodes.values()) and len(set(members)) == len(members)
    assert len(amazon.files(status=None)) == len(guids) + len(added), "one node a photo: no duplicate upload"
    assert amazon.purged() == [], "nothing purged: the trash keeps them"
    blobs = [p for p in (library / "blobs").rglob("*") if p.is_file() and p.name != ".gitkeep"]
    assert len(blobs) == len(guids) + len(added), "every photo, removed or not, kept in the local store"
    assert subprocess.run(["git", "-C", str(library), "fsck", "--strict"], capture_output=True).returncode == 0
    assert git_status(library) == ""


def test_an_amazon_sign_in_that_cannot_be_renewed_is_an_alert_to_sign_in_again(cli, library, shared, amazon,
                                                                                tmp_path):
    from test_watch import Receiver, set_alerts

    album = shared.create_album("Family")
    album.populate(2, size=(64, 48))
    frame(cli, library, shared, amazon, album, tmp_path)
    receiver = Receiver()
    try:
        set_alerts(library, [receiver.url])
        cli("-L", str(library), "watch", "--cycles", "1", check=0)
        assert receiver.received == []
        amazon.expire_session()  # every call 401, and the refresh is refused too
        album.add_photo(size=(48, 64))
        r = cli("-L", str(library), "watch", "--cycles", "1")
        assert r.code == 1 and "FAILED" in r.out, r.out
        assert "photosync: sign in to frame again" in receiver.titles(), receiver.received
        assert any("photosync auth frame --cookies FILE" in m.get("message", "") for m in receiver.received)
    finally:
        receiver.stop()


def recipe_lines() -> list[list[str]]:
    """The commands of README's recipe "a family shared album on an Echo Show", as written there."""
    import re
    import shlex

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("##### Recipe: a family shared album on an Echo Show (seed 000)"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    out = []
    for line in block.group(1).splitlines():
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words:
                out.append(words)
    return out


def test_the_readme_recipe_runs_as_written(cli, tmp_path, shared, amazon):
    album = shared.create_album("Family")
    guids = album.populate(3, size=(64, 48))
    home = tmp_path / "home"
    lib = home / "family-photos"
    nas = tmp_path / "nas"
    nas.mkdir()
    cookies = home / "amazon-cookies.json"
    home.mkdir()
    amazon.write_cookies(cookies)
    ran = []
    for words in recipe_lines():
        if words[0] == "cd":
            continue
        assert words[0] == "photosync", words
        args = [w.replace("~/", f"{home}/").replace("/mnt/nas/photosync-blobs", str(nas)) for w in words[1:]]
        args = [shared.url_for(album) if "sharedalbum/#TOKEN" in w else w for w in args]
        if args[0] != "init":
            args = ["-L", str(lib), *args]
        if args[2:4] == ["service", "add"] and "icloud-shared" in args:
            args += ["--endpoint", f"sharedstreams={shared.endpoint}"]
        if args[2:4] == ["service", "add"] and "amazon-photos" in args:
            for k, v in amazon.endpoints.items():
                args += ["--endpoint", f"{k}={v}"]
        if args[2:3] == ["watch"]:
            args += ["--cycles", "1"]  # the recipe's watch runs for ever; one cycle, then another below
        r = cli(*args, check=0)
        ran.append(args[2] if args[0] == "-L" else args[0])
    assert ran == ["init", "service", "store", "service", "auth", "watch"], ran
    assert "cycle 1 ok" in r.out and "3 uploaded" in r.out, r.out
    [echo] = amazon.albums()
    assert amazon.albums()[echo] == "Echo Show" and len(amazon.album_members(echo)) == 3
    assert len([p for p in nas.rglob("*") if p.is_file()]) == 3, "the second store has every photo"
    album.remove_photo(guids[0])
    r = cli("-L", str(lib), "watch", "--cycles", "1", check=0)
    assert "1 removed (mirror)" in r.out, r.out
    assert len(amazon.album_members(echo)) == 2 and len(amazon.trashed()) == 1
