"""discover --execute: a new photo with nothing to resolve is discovered, resolved and
replicated into the local primary store in one record write and one commit a batch;
kill -9 at any moment leaves no record naming a blob that is not there and verified."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from helpers import git, git_status, kill_repeatedly

from photosync.sample import generate_corpus


def _library(tmp_path: Path, cli, n: int, batch: int, seed: int) -> tuple[Path, Path]:
    pictures = tmp_path / "pics"
    generate_corpus(pictures, n, seed=seed, size=(160, 120), noise=8)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pictures), check=0)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["sync_preferences"]["commit_batch_size"] = batch
    prefs_path.write_text(json.dumps(prefs, indent=2) + "\n")
    git(lib, "commit", "-qam", "smaller batches")
    return lib, pictures


def recorded_copies(lib: Path) -> dict[str, str]:
    """locator -> content digest, for every copy any work-tree JSON records."""
    out = {}
    for p in (lib / "photos").rglob("*.json"):
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError as e:  # a torn write would show up here
            raise AssertionError(f"{p} is not valid JSON after a kill: {e}") from None
        for copy in data["blobs"].values():
            out[copy["locator"]] = data["content_hash"].split(":")[1]
    return out


def _check_recorded(lib: Path) -> dict[str, str]:
    recorded = recorded_copies(lib)
    for locator, digest in recorded.items():
        blob = lib / "blobs" / locator
        assert blob.exists(), f"a record names a blob that is not there: {locator}"
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest, f"a record names a bad blob: {locator}"
    return recorded


def _blob_inodes(store: Path) -> dict[str, int]:
    return {str(p.relative_to(store)): p.stat().st_ino for p in store.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(store).parts)}


def test_discover_execute_writes_each_new_photo_once_discovered_resolved_and_replicated(tmp_path, cli):
    n, batch = 15, 6
    lib, _pictures = _library(tmp_path, cli, n, batch, seed=5)
    before = int(git(lib, "rev-list", "--count", "HEAD"))

    r = cli("--library", str(lib), "discover", "--execute", check=0)
    assert "stored in local" in r.out

    status = cli("--library", str(lib), "status", "--json", check=0).json
    assert status["states"] == {"discovered": 0, "resolved": 0, "replicated": n}
    # one commit a batch, each saying what happened to its photos
    subjects_list = git(lib, "log", "--format=%s", f"HEAD~{int(git(lib, 'rev-list', '--count', 'HEAD')) - before}"
                                                   "..HEAD").splitlines()
    assert len(subjects_list) == -(-n // batch)
    for s in subjects_list:
        assert s.startswith("discover: ") and "nothing to resolve: resolved" in s and "stored in local" in s, s
    # each record was written once: one commit touched it
    records = [p for p in git(lib, "ls-files", "photos").split() if p.endswith(".json")]
    assert len(records) == n
    for rel in records:
        assert len(git(lib, "log", "--format=%H", "--", rel).split()) == 1, rel
        data = json.loads((lib / rel).read_text())
        assert data["processing_state"] == "replicated"
        assert data["source_of_truth_path"] == "blobs/" + data["blobs"]["local"]["locator"]
    assert len(_check_recorded(lib)) == n
    assert git_status(lib) == ""
    # nothing is left for the other phases to do
    assert "nothing to copy" in cli("--library", str(lib), "replicate", "--execute", check=0).out
    assert int(git(lib, "rev-list", "--count", "HEAD")) == before + len(subjects_list)


def test_kill_discover_execute_at_random_moments(tmp_path, cli):
    """kill -9 while discover --execute reads and copies (batches of 7): after every kill each
    copy a record names is there and verified; the rerun records every photo replicated, with
    the blobs written before the kills checked and recorded, never written again."""
    n = 400
    lib, _pictures = _library(tmp_path, cli, n, 7, seed=6)
    inodes: dict[str, int] = {}

    def after_kill() -> None:
        _check_recorded(lib)
        for rel, ino in _blob_inodes(lib / "blobs").items():
            inodes.setdefault(rel, ino)

    kills = kill_repeatedly(["--library", str(lib), "discover", "--execute"], times=8, pause=(0.05, 0.6), seed=99,
                            after_kill=after_kill, kill_when=lambda: bool(_blob_inodes(lib / "blobs")))
    assert kills >= 3, "the run finished too fast to be killed; the test proves nothing"

    cli("--library", str(lib), "discover", "--execute", check=0)
    status = cli("--library", str(lib), "status", "--json", check=0).json
    assert status["photos"] == n
    assert status["states"]["replicated"] == n
    assert len(_check_recorded(lib)) == n
    after = _blob_inodes(lib / "blobs")
    assert {k: after[k] for k in inodes} == inodes, "a blob written before a kill was written again"
    assert [p for p in (lib / "blobs").rglob(".tmp-*") if p.is_file()] == []
    assert git_status(lib) == ""
    fsck = subprocess.run(["git", "-C", str(lib), "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


def test_discover_execute_with_its_store_unusable_records_every_photo_and_says_so(tmp_path, cli):
    """The primary store's folder is not there (an unmounted disk): discover --execute still
    records every photo (resolved, with no copy), says the store was skipped, and records no
    copy; once the folder is back, replicate --execute makes the copies."""
    n = 8
    lib, _pictures = _library(tmp_path, cli, n, 5, seed=7)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    disk = tmp_path / "disk"
    prefs["blob_storage"]["stores"]["local"]["path"] = str(disk / "blobs")
    prefs_path.write_text(json.dumps(prefs, indent=2) + "\n")
    git(lib, "commit", "-qam", "blobs on another disk")

    r = cli("--library", str(lib), "discover", "--execute")
    assert r.code != 0
    assert "store local" in r.out + r.err and "skipped for the rest of this run" in r.out + r.err
    status = cli("--library", str(lib), "status", "--json", check=0).json
    assert status["photos"] == n and status["states"]["resolved"] == n
    assert recorded_copies(lib) == {}
    assert git_status(lib) == ""

    (disk / "blobs").mkdir(parents=True)
    cli("--library", str(lib), "replicate", "--execute", check=0)
    assert cli("--library", str(lib), "status", "--json", check=0).json["states"]["replicated"] == n
    assert len(_check_recorded_in(lib, disk / "blobs")) == n


def _check_recorded_in(lib: Path, store: Path) -> dict[str, str]:
    recorded = recorded_copies(lib)
    for locator, digest in recorded.items():
        assert hashlib.sha256((store / locator).read_bytes()).hexdigest() == digest
    return recorded


def test_discover_execute_stores_each_photo_once_from_its_readers_with_duplicates_among_them(tmp_path, cli):
    """Enough files for the reader processes (each new photo's copy is the file they read and
    hashed, put in place by the main process), some of them twice in two folders: every photo is
    stored once under the name its record gives, a duplicate's bytes are not stored again, and
    the store's temp folder is empty at the end."""
    import shutil

    from photosync.phases.discover import PROCESS_THRESHOLD

    n = PROCESS_THRESHOLD + 12
    lib, pictures = _library(tmp_path, cli, n, 20, seed=8)
    copies = pictures / "copies"
    copies.mkdir()
    for i, p in enumerate(sorted(pictures.rglob("*.jpg"))[:10]):
        shutil.copy2(p, copies / f"copy_{i}.jpg")

    r = cli("--library", str(lib), "discover", "--execute", check=0)
    assert "10 copies of photos already known" in r.out, r.out
    # the ten with a copy elsewhere wait for resolve (an exact duplicate), already stored
    status = cli("--library", str(lib), "status", "--json", check=0).json
    assert status["photos"] == n and status["states"]["replicated"] == n - 10
    recorded = _check_recorded(lib)
    assert len(recorded) == n
    assert sorted(_blob_inodes(lib / "blobs")) == sorted(recorded), "a blob no record names, or one missing"
    assert [p for p in (lib / "blobs").rglob(".tmp-*") if p.is_file()] == []
    assert git_status(lib) == ""
    cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    assert "copied 0 files" in cli("--library", str(lib), "replicate", "--execute", check=0).out
    assert cli("--library", str(lib), "status", "--json", check=0).json["states"]["replicated"] == n


def test_a_full_scan_with_execute_writes_nothing_into_the_store_for_photos_already_recorded(tmp_path, cli):
    """discover --execute --full-scan reads every file again (to find changes the file times hide);
    the readers then keep no copy of bytes already recorded: the store, its temp folder included,
    is not written to, and nothing changes."""
    from photosync.phases.discover import PROCESS_THRESHOLD

    n = PROCESS_THRESHOLD + 4
    lib, _pictures = _library(tmp_path, cli, n, 100, seed=9)
    cli("--library", str(lib), "discover", "--execute", check=0)
    head = git(lib, "rev-parse", "HEAD")
    tmp = lib / "blobs" / ".tmp"
    before = (tmp.stat().st_mtime_ns, _blob_inodes(lib / "blobs"))

    r = cli("--library", str(lib), "discover", "--execute", "--full-scan", check=0)
    assert f"{n} read" in r.out, r.out
    assert (tmp.stat().st_mtime_ns, _blob_inodes(lib / "blobs")) == before, "the store was written to"
    assert git(lib, "rev-parse", "HEAD") == head
