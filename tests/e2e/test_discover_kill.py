"""kill -9 of discover while its worker processes read files: no worker
outlives it, and nothing keeps the library's index or lock open afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from photosync.sample import generate_corpus


def children_of(pid: int) -> set[int]:
    out = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.add(int(name))
    return out


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def running_with(text: str) -> set[int]:
    """Processes whose command line holds ``text`` (forked workers keep their parent's)."""
    out = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline and alive(int(name)):
                out.add(int(name))
    return out


def open_files_under(folder: Path, pids=None) -> list[tuple[int, str]]:
    """(pid, path) of every open file below ``folder``, in ``pids`` or in any process."""
    found = []
    for name in ([str(p) for p in pids] if pids is not None else os.listdir("/proc")):
        if not name.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{name}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{name}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(folder)):
                found.append((int(name), target))
    return found


def test_workers_die_with_a_killed_discover_and_hold_nothing_of_the_library(tmp_path, cli):
    pictures = tmp_path / "pics"
    generate_corpus(pictures, 400, seed=5, size=(320, 240), noise=8)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pictures), check=0)
    git_dir = lib / ".git"

    kills = 0
    for attempt in range(8):
        proc = subprocess.Popen([sys.executable, "-m", "photosync", "--library", str(lib), "discover", "--full-scan"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers: set[int] = set()
        deadline = time.monotonic() + 60
        while not workers and proc.poll() is None and time.monotonic() < deadline:
            workers = children_of(proc.pid)
            if not workers:
                time.sleep(0.002)
        assert workers or proc.poll() is not None, "discover started no worker within a minute"
        if proc.poll() is not None:
            continue
        if attempt % 2:
            # let the workers settle into reading: what do they hold open?
            time.sleep(0.1)
            assert proc.poll() is None and all(alive(w) for w in workers)
            held = open_files_under(git_dir, workers)
            assert not held, f"a worker holds the library's files open: {held}"
        # else: killed the moment its workers exist (between their fork and their setup)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        deadline = time.monotonic() + 10
        while running_with(f"{lib} discover") and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = sorted(running_with(f"{lib} discover"))  # the workers seen, and any forked after the look
        for w in survivors:  # do not leave them behind for the next test
            os.kill(w, signal.SIGKILL)
        assert not survivors, f"worker processes outlived their killed parent: {survivors}"
        # a worker that is exiting has already lost its command line (the kernel frees its memory
        # before it closes its files): it may still be closing them for a moment (seen once in a
        # full run under load); one that kept them would hold the library's lock for good
        deadline = time.monotonic() + 10
        while open_files_under(git_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not open_files_under(git_dir), "something still holds the library's files open"
    assert kills >= 4, "discover finished before it could be killed; the test proves nothing"
    # the library is whole after all that
    cli("--library", str(lib), "discover", check=0)
    assert cli("--library", str(lib), "status", "--json", check=0).json["photos"] == 400
