"""Several blob stores: every copy filled, min_copies counted, and a lost copy
rebuilt from another store when the original folder is gone."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime

from helpers import git, git_status

from photosync.sample import make_photo


def test_a_replica_store_gets_every_copy_and_can_rebuild_the_primary(tmp_path, cli):
    pics = tmp_path / "pics"
    for i in range(5):
        make_photo(pics / f"IMG_2020010{i + 1}_101010.jpg", seed=i, taken=datetime(2020, 1, i + 1, 10, 10, 10))
    nas = tmp_path / "nas"
    nas.mkdir()
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    r = cli("-L", str(lib), "store", "add", "nas", "--type", "local", "--path", str(nas), check=0)
    assert "min_copies is 2" in r.out
    prefs = json.loads((lib / "config/user-preferences.json").read_text())
    assert prefs["blob_storage"]["replicas"] == ["nas"] and prefs["blob_storage"]["min_copies"] == 2
    r = cli("-L", str(lib), "store", "list", check=0)
    assert "nas" in r.out and "replica" in r.out and "primary" in r.out

    cli("-L", str(lib), "discover", check=0)
    cli("-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    status = cli("-L", str(lib), "status", "--json", check=0).json
    assert status["below_min_copies"] == 5
    r = cli("-L", str(lib), "replicate", check=0)
    assert "10 copies in all" in r.out
    r = cli("-L", str(lib), "replicate", "--execute", check=0)
    assert "copied 10 files" in r.out and "5 photos now replicated" in r.out
    status = cli("-L", str(lib), "status", "--json", check=0).json
    assert status["stores"]["local"]["copies"] == 5 and status["stores"]["nas"]["copies"] == 5
    assert status["stores"]["nas"]["role"] == "replica"
    assert status["below_min_copies"] == 0
    for blob in nas.rglob("*.jpg"):
        digest = blob.name.rsplit("-", 1)[1].split(".")[0]
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest

    # the original folder is gone and a primary copy is lost: the replica has it
    shutil.rmtree(pics)
    lost = sorted((lib / "blobs").rglob("*.jpg"))[0]
    lost.unlink()
    r = cli("-L", str(lib), "audit", "--blobs")
    assert r.code == 1 and "missing" in r.out
    assert cli("-L", str(lib), "status", "--json", check=0).json["below_min_copies"] == 1
    r = cli("-L", str(lib), "audit", "--copies", "2")
    assert r.code == 1 and "1 photo with fewer than 2 verified copies" in r.out
    r = cli("-L", str(lib), "replicate", "--execute", check=0)
    assert "copied 1 file " in r.out
    assert lost.exists()
    cli("-L", str(lib), "audit", "--blobs", check=0)
    assert git_status(lib) == ""


def test_store_folder_that_is_not_mounted_is_reported(tmp_path, cli):
    pics = tmp_path / "pics"
    make_photo(pics / "a.jpg", seed=1, taken=datetime(2020, 1, 1))
    nas = tmp_path / "nas"
    nas.mkdir()
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "store", "add", "nas", "--type", "local", "--path", str(nas), check=0)
    cli("-L", str(lib), "discover", check=0)
    cli("-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    nas.rmdir()
    r = cli("-L", str(lib), "replicate", "--execute")
    assert r.code == 1
    assert "store nas" in r.err and "not mounted" in r.err
    assert "copied 1 file " in r.out  # the primary still got its copy
    # the commit names only the store that got a copy, in the singular
    assert git(lib, "log", "-1", "--format=%s").strip() == "replicate: 1 photo copy stored in local"
    status = cli("-L", str(lib), "status", "--json", check=0).json
    assert status["states"]["resolved"] == 1 and status["stores"]["local"]["copies"] == 1
    assert "photos with a verified copy of everything they hold in local, nas: 0 of 1" in r.out

    nas.mkdir()  # mounted again
    r = cli("-L", str(lib), "replicate", "--execute", check=0)
    assert "copied 1 file (" in r.out and "1 photo now replicated" in r.out
    assert "every photo has a verified copy of everything it holds in local, nas (1 photo)" in r.out
    assert git(lib, "log", "-1", "--format=%s").strip() == \
        "replicate: 1 photo copy stored in nas; 1 photo now replicated"
    # nothing left to do: the counts say so, and agree with each other
    r = cli("-L", str(lib), "replicate", "--execute", check=0)
    assert r.out.splitlines()[:2] == [
        "nothing to copy", "every photo has a verified copy of everything it holds in local, nas (1 photo)"]
    r = cli("-L", str(lib), "replicate", check=0)
    assert "nothing to copy" in r.out and "(1 photo)" in r.out
    assert "1 photo in" in cli("-L", str(lib), "status", check=0).out
    r = cli("-L", str(lib), "audit", check=0)
    assert "blobs: 2 copies of 1 photo checked" in r.out and "2 good, 0 bad" in r.out
    assert "visibility: 0 discrepancies" in r.out
    assert "copies: 0 photos with fewer than 2 verified copies" in r.out


def _copies_claimed(lib, store: str) -> int:
    """Copies the replicate commits say a store got ('… stored in local, 12 in nas')."""
    import re

    total = 0
    for subject in git(lib, "log", "--format=%s").splitlines():
        if not subject.startswith("replicate: "):
            continue
        m = re.search(rf"(\d+) (?:photo cop(?:y|ies) stored )?in {store}\b", subject)
        total += int(m.group(1)) if m else 0
    return total


def test_a_store_folder_that_disappears_mid_run_is_skipped_and_the_others_copies_are_committed(tmp_path, cli):
    import os
    import subprocess
    import sys
    import time

    from photosync.sample import generate_corpus

    n = 150
    pics, nas = tmp_path / "pics", tmp_path / "nas"
    generate_corpus(pics, n, seed=4, size=(160, 120), noise=8)
    nas.mkdir()
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "store", "add", "nas", "--type", "local", "--path", str(nas), check=0)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["sync_preferences"]["commit_batch_size"] = 6
    prefs_path.write_text(json.dumps(prefs, indent=2))
    cli("-L", str(lib), "discover", check=0)
    cli("-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    start = int(git(lib, "rev-list", "--count", "HEAD"))

    proc = subprocess.Popen([sys.executable, "-m", "photosync", "-L", str(lib), "replicate", "--execute"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while int(git(lib, "rev-list", "--count", "HEAD")) == start:  # the first batch is committed
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before the folder could go: the test proves nothing"
    os.rename(nas, tmp_path / "nas-unmounted")  # the drive goes away mid-run
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    mentions = [line for line in err.splitlines() if "nas" in line]
    assert len(mentions) == 1 and "store nas" in mentions[0] and "skipped for the rest of this run" in mentions[0], err
    assert "store nas skipped" in out

    status = cli("-L", str(lib), "status", "--json", check=0).json
    assert status["stores"]["local"]["copies"] == n, "the healthy store's copies are all recorded"
    in_nas = status["stores"]["nas"]["copies"]
    assert 0 < in_nas < n
    # every commit names each store with its own count: the claims add up to what is recorded
    assert _copies_claimed(lib, "local") == n and _copies_claimed(lib, "nas") == in_nas
    assert git_status(lib) == ""

    os.rename(tmp_path / "nas-unmounted", nas)  # mounted again: the next run fills the rest
    r = cli("-L", str(lib), "replicate", "--execute", check=0)
    # copies written into the folder just before it went, never recorded, are found in place and verified
    assert f"(recorded: nas {n - in_nas})" in r.out and f"{n - in_nas} photos now replicated" in r.out
    assert _copies_claimed(lib, "local") == n and _copies_claimed(lib, "nas") == n
    cli("-L", str(lib), "audit", "--blobs", check=0)


def test_audit_removes_and_counts_what_killed_writers_left(tmp_path, cli):
    import os
    import subprocess
    import sys
    import time

    from photosync.stores.local import STALE_AFTER, temp_prefix

    pics = tmp_path / "pics"
    make_photo(pics / "a.jpg", seed=1, taken=datetime(2020, 1, 1))
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "discover", check=0)
    cli("-L", str(lib), "replicate", "--execute", check=0)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = {
        "killed": lib / "blobs/.tmp" / f"{temp_prefix(dead.pid)}abcd1234.part",  # its writer is gone
        "old": lib / "blobs/2020/01/.tmp-k2j3h4g5.part",  # an older photosync's, hours old
        "elsewhere": lib / "blobs/.tmp/.tmp-77@other-host.12345678-zxcv0987.part",  # maybe at work
    }
    for path in left.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o755)
        path.write_bytes(b"\0" * 1_500_000)
    t = time.time() - STALE_AFTER - 60
    os.utime(left["old"], (t, t))
    cli("-L", str(lib), "replicate", check=0)  # a dry run changes nothing
    assert all(p.exists() for p in left.values())
    r = cli("-L", str(lib), "audit", "--blobs", check=0)
    assert "leftovers of interrupted copies: 2 removed (3.0 MB), 1 left (a writer may still be at work)" in r.out
    assert not left["killed"].exists() and not left["old"].exists() and left["elsewhere"].exists()
    assert "blobs: 1 copy of 1 photo checked" in r.out
