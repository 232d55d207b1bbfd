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
