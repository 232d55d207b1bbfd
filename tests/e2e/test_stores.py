"""Several blob stores: every copy filled, min_copies counted, and a lost copy
rebuilt from another store when the original folder is gone."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime

from helpers import git_status

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
    status = cli("-L", str(lib), "status", "--json", check=0).json
    assert status["states"]["resolved"] == 1 and status["stores"]["local"]["copies"] == 1
