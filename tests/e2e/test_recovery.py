"""Recovery and failure paths: half-written config, git's index, fixed files,
unlistable and unmounted folders and stores."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime

from helpers import git, git_status

from photosync.sample import make_photo


def setup_library(tmp_path, cli, n=3):
    pics = tmp_path / "pics"
    for i in range(n):
        make_photo(pics / f"sub{i % 2}/IMG_2021010{i + 1}_080000.jpg", seed=i, taken=datetime(2021, 1, i + 1, 8))
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "discover", check=0)
    return lib, pics


def test_a_config_file_torn_by_a_killed_run_is_put_back_before_it_is_read(tmp_path, cli):
    lib, _ = setup_library(tmp_path, cli)
    services = lib / "config/services.json"
    good = services.read_bytes()
    # what a kill between write and truncate leaves: new bytes, then the old tail
    services.write_bytes(b'{"pics": {"type": "local"}}' + good[20:])
    journal = lib / ".git/photosync/writing"
    journal.write_text("config/services.json")
    r = cli("-L", str(lib), "discover")
    assert r.code == 0, r.err
    assert services.read_bytes() == good
    assert not journal.exists()


def test_changes_staged_by_hand_are_never_committed_by_photosync(tmp_path, cli):
    lib, _ = setup_library(tmp_path, cli)
    (lib / "notes.txt").write_text("my notes")
    git(lib, "add", "notes.txt")
    r = cli("-L", str(lib), "resolve", "--auto-resolve", "simple")
    assert r.code == 2 and "notes.txt" in r.err and "git restore --staged" in r.err
    git(lib, "restore", "--staged", "notes.txt")
    # an invalid photo record staged with git add is unstaged, reported and left as it is
    victim = sorted((lib / "photos").rglob("*.json"))[0]
    victim.write_text("{ broken")
    rel = str(victim.relative_to(lib))
    git(lib, "add", rel)
    before = git(lib, "rev-parse", "HEAD").strip()
    r = cli("-L", str(lib), "resolve", "--auto-resolve", "simple")
    assert r.code == 1 and rel in r.err
    assert rel not in git(lib, "log", "--name-only", "--format=", f"{before}..HEAD")
    assert victim.read_text() == "{ broken"
    # fixed the way the message says: the error is gone
    git(lib, "checkout", "--", rel)
    r = cli("-L", str(lib), "status")
    assert r.code == 0 and "invalid" not in r.out
    r = cli("-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)


def test_an_unreadable_folder_or_an_empty_mount_point_marks_nothing_missing(tmp_path, cli):
    lib, pics = setup_library(tmp_path, cli, n=4)
    blocked = pics / "sub1"
    prefix = []
    if os.geteuid() == 0:
        prefix = [shutil.which("setpriv"), "--bounding-set=-dac_override,-dac_read_search"]
    os.chmod(blocked, 0o000)
    try:
        p = subprocess.run([*prefix, *cli_command(), "-L", str(lib), "discover"], capture_output=True, text=True)
        assert p.returncode == 1 and "sub1" in p.stderr and "no item was marked missing" in p.stderr
    finally:
        os.chmod(blocked, 0o755)
    status = cli("-L", str(lib), "status", "--json", check=0).json
    assert status["services"]["pics"]["missing_items"] == 0
    # the drive is not mounted: the mount point is there, empty
    shutil.rmtree(pics)
    pics.mkdir()
    r = cli("-L", str(lib), "discover")
    assert r.code == 1 and "is it mounted" in r.err
    assert cli("-L", str(lib), "status", "--json", check=0).json["services"]["pics"]["missing_items"] == 0
    assert git_status(lib) == ""


def test_an_unmounted_store_is_reported_not_marked_bad(tmp_path, cli):
    lib, _ = setup_library(tmp_path, cli)
    nas = tmp_path / "nas"
    nas.mkdir()
    cli("-L", str(lib), "store", "add", "nas", "--type", "local", "--path", str(nas), check=0)
    cli("-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    cli("-L", str(lib), "replicate", "--execute", check=0)
    shutil.rmtree(nas)
    r = cli("-L", str(lib), "audit", "--blobs")
    assert r.code == 1 and "store nas" in r.err and "not mounted" in r.err
    status = cli("-L", str(lib), "status", "--json", check=0).json
    assert status["stores"]["nas"]["bad_copies"] == 0 and status["stores"]["nas"]["copies"] == 3


def cli_command():
    import sys

    return [sys.executable, "-m", "photosync"]
