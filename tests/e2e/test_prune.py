"""photosync prune on a local service: only photos old enough with min_copies verified blob
copies (read back right before) are moved to the service's trash folder, each refusal named;
the trash is never discovered again; kill -9 in the middle leaves a consistent library."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from fakes.pictures import jpeg

from photosync.library.library import Library


def setup(cli, tmp_path, old: int = 3, new: int = 1, stores: int = 1) -> tuple[Path, Path, list[Path]]:
    lib = tmp_path / "library"
    pics = tmp_path / "pictures"
    pics.mkdir()
    cli("init", str(lib), check=0)
    for i in range(stores):
        (tmp_path / f"nas{i}").mkdir()
        cli("-L", str(lib), "store", "add", f"nas{i}", "--type", "local", "--path", str(tmp_path / f"nas{i}"), check=0)
    cli("-L", str(lib), "service", "add", "phone", "--type", "local", "--path", str(pics), check=0)
    files = []
    for i in range(old):
        p = pics / "2020" / f"OLD_{i:03d}.jpg"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(jpeg(f"old{i}", taken=datetime(2020, 1, 2, 3, 4, i)))
        files.append(p)
    for i in range(new):
        p = pics / f"NEW_{i:03d}.jpg"
        p.write_bytes(jpeg(f"new{i}", taken=datetime.now() - timedelta(days=3)))
        files.append(p)
    cli("-L", str(lib), "discover", check=0)
    return lib, pics, files


def photo_of(lib: Path, name: str):
    with Library.open(lib, write=False) as L:
        return L.get_photo(L.find_photo(name))


def test_prune_deletes_only_what_is_safe_and_refuses_the_rest_by_name(cli, tmp_path):
    lib, pics, files = setup(cli, tmp_path)
    # before any blob copy: every photo is refused, by name, with the reason
    r = cli("-L", str(lib), "prune", "--service", "phone", "--older-than", "90d", "--dry-run", check=0)
    for i in range(3):
        assert f"refused OLD_{i:03d}.jpg" in r.out and "only 0 verified blob copies" in r.out
    cli("-L", str(lib), "replicate", "--execute", check=0)
    r = cli("-L", str(lib), "prune", "--service", "phone", "--older-than", "90d", "--dry-run", check=0)
    assert r.out.count("  would delete") == 3 and "refused NEW_000.jpg" in r.out and "less than 90 days ago" in r.out
    assert all(f.exists() for f in files), "a dry run deletes nothing"
    # a blob copy damaged since replicate: read back right before the delete, it does not count
    damaged = photo_of(lib, "OLD_001.jpg")
    target = next(p for p in (tmp_path / "nas0").rglob("*.jpg") if damaged.content_hash[7:] in p.name)
    os.chmod(target, 0o644)
    target.write_bytes(b"not the photo any more")
    r = cli("-L", str(lib), "prune", "--service", "phone", "--older-than", "90d", "--execute")
    assert "refused OLD_001.jpg" in r.out and "read back right" in r.out
    assert "deleted OLD_000.jpg" in r.out and "deleted OLD_002.jpg" in r.out
    trash = pics / ".photosync-trash"
    assert (trash / "2020" / "OLD_000.jpg").exists() and not (pics / "2020" / "OLD_000.jpg").exists()
    assert (pics / "2020" / "OLD_001.jpg").exists() and (pics / "NEW_000.jpg").exists()
    # the commit names each photo
    log = subprocess.run(["git", "-C", str(lib), "log", "-1", "--format=%B"], capture_output=True, text=True).stdout
    assert "prune: deleted 2 photos from phone" in log and "OLD_000.jpg" in log and "OLD_002.jpg" in log
    gone = photo_of(lib, "OLD_000.jpg")
    assert gone.find_instance("phone", "2020/OLD_000.jpg").missing_since and gone.blobs
    # the trash folder is not discovered again: no new photo, nothing read from it
    r = cli("-L", str(lib), "discover", check=0)
    with Library.open(lib, write=False) as L:
        assert len(L.photo_ids()) == 4
        assert not any(".photosync-trash" in i.id for pid in L.photo_ids() for i in L.get_photo(pid).all_instances())


def test_a_file_saved_over_since_discover_is_not_deleted(cli, tmp_path):
    lib, pics, files = setup(cli, tmp_path, old=2, new=0)
    cli("-L", str(lib), "replicate", "--execute", check=0)
    files[0].write_bytes(jpeg("saved over", taken=datetime(2020, 1, 2, 3, 4, 0)))  # new bytes, not backed up
    r = cli("-L", str(lib), "prune", "--service", "phone", "--older-than", "90d", "--execute")
    assert r.code == 1 and "OLD_000.jpg changed since photosync read it" in r.out + r.err
    assert files[0].exists() and not files[1].exists(), "the file saved over stays; the other goes"


def test_prune_refuses_photos_below_min_copies(cli, tmp_path):
    # the library's own store and two more: min_copies is 2
    lib, pics, files = setup(cli, tmp_path, old=2, new=0, stores=2)
    cli("-L", str(lib), "replicate", "--execute", check=0)
    # two stores' copies lost since (the records still name them): one copy left of each photo
    for p in [*(tmp_path / "nas0").rglob("*.jpg"), *(tmp_path / "nas1").rglob("*.jpg")]:
        os.chmod(p, 0o644)
        p.unlink()
    r = cli("-L", str(lib), "prune", "--service", "phone", "--older-than", "90d", "--execute", check=0)
    assert "refused OLD_000.jpg" in r.out and "refused OLD_001.jpg" in r.out and "min_copies is 2" in r.out
    assert all(f.exists() for f in files) and not (pics / ".photosync-trash").exists()


def test_prune_is_refused_on_a_service_that_cannot_delete(cli, tmp_path):
    lib, _pics, _files = setup(cli, tmp_path, old=1, new=0)
    r = cli("-L", str(lib), "prune", "--service", "nope", "--older-than", "90d", "--execute")
    assert r.code == 2 and "nope" in (r.out + r.err)
    r = cli("-L", str(lib), "prune", "--service", "phone", "--older-than", "ninety", "--execute")
    assert r.code == 2 and "--older-than" in (r.out + r.err)


def test_a_delete_killed_before_its_commit_is_finished_by_the_next_prune(cli, tmp_path):
    from photosync.connectors.registry import create
    from photosync.phases.common import connector_env

    lib, pics, files = setup(cli, tmp_path, old=2, new=0)
    cli("-L", str(lib), "replicate", "--execute", check=0)
    with Library.open(lib, write=False) as L:   # what a prune killed after its first delete leaves
        create("phone", L.services["phone"], connector_env(L)).delete("2020/OLD_000.jpg")
    r = cli("-L", str(lib), "prune", "--service", "phone", "--older-than", "90d", "--execute", check=0)
    assert "deleted OLD_000.jpg" in r.out and "deleted OLD_001.jpg" in r.out
    assert not (pics / ".photosync-trash" / "2020" / "OLD_000.jpg.1").exists()
    assert photo_of(lib, "OLD_000.jpg").find_instance("phone", "2020/OLD_000.jpg").missing_since


def test_kill_during_prune_leaves_a_consistent_library(cli, tmp_path):
    lib, pics, files = setup(cli, tmp_path, old=40, new=0)
    cli("-L", str(lib), "replicate", "--execute", check=0)
    trash = pics / ".photosync-trash"
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "photosync", "-L", str(lib), "prune", "--service", "phone",
                             "--older-than", "90d", "--execute"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and not (trash.exists() and any(trash.rglob("*.jpg"))):
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL) if proc.poll() is None else None
    proc.wait()
    # every photo is in exactly one place, and its record and blob copies are whole
    for f in files:
        rel = f.relative_to(pics)
        assert f.exists() != (trash / rel).exists(), rel
    r = cli("-L", str(lib), "status")
    assert r.code in (0, 1), r.err
    # the next discover sees what was moved; prune again finishes the job
    cli("-L", str(lib), "discover", check=0)
    cli("-L", str(lib), "prune", "--service", "phone", "--older-than", "90d", "--execute", check=0)
    assert not any((pics / "2020").glob("*.jpg"))
    with Library.open(lib, write=False) as L:
        assert len(L.photo_ids()) == 40
        for pid in L.photo_ids():
            p = L.get_photo(pid)
            assert p.blobs and all(i.missing_since for i in p.instances["phone"])
    assert subprocess.run(["git", "-C", str(lib), "status", "--porcelain"], capture_output=True,
                          text=True).stdout.strip() == ""
