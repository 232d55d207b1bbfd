"""kill -9 during replicate, many times: every recorded copy is verified, no
verified blob is written twice, and a rerun finishes the job with git clean."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import git, git_status

from photosync.sample import generate_corpus


N = 600


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


def test_kill_replicate_at_random_moments(tmp_path, cli):
    pictures = tmp_path / "pics"
    generate_corpus(pictures, N, seed=3, size=(160, 120), noise=8)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pictures), check=0)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["sync_preferences"]["commit_batch_size"] = 7
    prefs_path.write_text(json.dumps(prefs, indent=2))
    cli("--library", str(lib), "discover", check=0)
    cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)

    rnd = random.Random(1234)
    inodes: dict[str, int] = {}
    kills = 0
    for _attempt in range(12):
        proc = subprocess.Popen([sys.executable, "-m", "photosync", "--library", str(lib), "replicate", "--execute"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rnd.uniform(0.3, 1.0))
        if proc.poll() is not None:
            break  # it finished before we could kill it
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        # after every kill: whatever a JSON records is there and verified
        for locator, digest in recorded_copies(lib).items():
            blob = lib / "blobs" / locator
            assert blob.exists(), f"a record points at a blob that is not there: {locator}"
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest
        for blob in (lib / "blobs").rglob("*"):
            if blob.is_file() and not blob.name.startswith("."):
                inodes.setdefault(str(blob), blob.stat().st_ino)
    assert kills >= 3, "the run finished too fast to be killed; the test proves nothing"

    r = cli("--library", str(lib), "replicate", "--execute", check=0)
    status = cli("--library", str(lib), "status", "--json", check=0).json
    assert status["states"]["replicated"] == N
    assert git_status(lib) == ""
    fsck = subprocess.run(["git", "-C", str(lib), "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    # verified blobs were never written again
    for path, ino in inodes.items():
        assert Path(path).stat().st_ino == ino, f"{path} was rewritten"
    for locator, digest in recorded_copies(lib).items():
        assert hashlib.sha256((lib / "blobs" / locator).read_bytes()).hexdigest() == digest
    assert len(recorded_copies(lib)) == N
    assert "replicate:" in git(lib, "log", "-1", "--format=%s") or "nothing to copy" in r.out


def _leftovers(store: Path) -> list[Path]:
    return [p for p in store.rglob(".tmp-*") if p.is_file()]


def test_kill_during_replicate_leaves_no_temp_file_after_the_next_run(tmp_path, cli):
    """kill -9 while large originals are being written into two local stores:
    the temp files of the killed puts are gone after the next run."""
    from helpers import kill_repeatedly

    from photosync.sample import make_photo

    pictures, nas = tmp_path / "pics", tmp_path / "nas"
    nas.mkdir()
    rnd = random.Random(5)
    for i in range(40):  # motion-photo-like: a JPEG with 12 MB of video data after its end
        path = pictures / f"PXL_2021010{i % 9 + 1}_1200{i:02d}.jpg"
        make_photo(path, seed=i, size=(320, 240))
        with open(path, "ab") as f:
            f.write(rnd.randbytes(12 * 1024 * 1024))
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pictures), check=0)
    cli("--library", str(lib), "store", "add", "nas", "--type", "local", "--path", str(nas), check=0)
    cli("--library", str(lib), "discover", check=0)
    cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)

    seen: list[int] = []
    # each run is killed once a put is under way (a temp file exists), however loaded the machine is
    kills = kill_repeatedly(["--library", str(lib), "replicate", "--execute"], times=8, pause=(0.0, 0.05), seed=11,
                            kill_when=lambda: bool(_leftovers(lib / "blobs") or _leftovers(nas)),
                            after_kill=lambda: seen.append(len(_leftovers(lib / "blobs")) + len(_leftovers(nas))))
    assert any(seen), f"no kill landed during a put ({kills} kills): the test proves nothing"
    r = cli("--library", str(lib), "replicate", "--execute", check=0)
    assert _leftovers(lib / "blobs") == [] and _leftovers(nas) == []
    assert "every photo has a verified copy of everything it holds in local, nas (40 photos)" in r.out
    assert git_status(lib) == ""


def _blob_inodes(store: Path) -> dict[str, int]:
    return {str(p.relative_to(store)): p.stat().st_ino for p in store.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(store).parts)}


def test_kill_after_the_copies_are_written_and_before_their_flush_records_none_of_them(tmp_path, cli):
    """Copies are written without waiting for the disk and made durable together at the store's
    flush, before any record names them.  kill -9 once every copy but one is written and before
    that flush (replicate waits on one source that never answers: a FIFO with no writer): no
    record names a blob, and the next run checks the blobs written, records them without
    copying them again and leaves no temp file."""
    n = 12
    pictures = tmp_path / "pics"
    generate_corpus(pictures, n, seed=8, size=(160, 120), noise=8)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pictures), check=0)
    cli("--library", str(lib), "discover", check=0)
    cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    stuck = sorted(pictures.rglob("*.jpg"))[n // 2]
    kept = tmp_path / "kept.jpg"
    os.replace(stuck, kept)
    os.mkfifo(stuck)

    proc = subprocess.Popen([sys.executable, "-m", "photosync", "--library", str(lib), "replicate", "--execute"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120  # by progress, not by time: until the other copies are written
        while len(_blob_inodes(lib / "blobs")) < n - 1:
            assert proc.poll() is None, f"replicate ended before the kill: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, "the copies were not written"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    written = _blob_inodes(lib / "blobs")
    assert len(written) == n - 1
    assert recorded_copies(lib) == {}, "a copy was recorded before its store's flush"
    assert "replicate" not in git(lib, "log", "--format=%s")

    os.unlink(stuck)
    os.replace(kept, stuck)  # the source answers again
    r = cli("--library", str(lib), "replicate", "--execute", check=0)
    assert "copied 1 file" in r.out
    recorded = recorded_copies(lib)
    assert len(recorded) == n
    for locator, digest in recorded.items():
        assert hashlib.sha256((lib / "blobs" / locator).read_bytes()).hexdigest() == digest
    after = _blob_inodes(lib / "blobs")
    assert {k: after[k] for k in written} == written, "a blob written before the kill was copied again"
    assert _leftovers(lib / "blobs") == []
    assert git_status(lib) == ""
