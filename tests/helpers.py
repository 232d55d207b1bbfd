"""Helpers for tests: open a library quietly, git inspection."""

from __future__ import annotations

import subprocess
from pathlib import Path

from photosync.events import Collector
from photosync.library.library import Library


def open_lib(root: Path, write: bool = True) -> tuple[Library, Collector]:
    c = Collector()
    return Library.open(root, write=write, reporter=c), c


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout


def commit_count(root: Path) -> int:
    return int(git(root, "rev-list", "--count", "HEAD").strip())


def git_status(root: Path) -> str:
    return git(root, "status", "--porcelain")


def add_local_service(root: Path, name: str, folder: Path) -> None:
    from photosync.library.layout import SERVICES_FILE

    lib, _ = open_lib(root)
    try:
        services = lib.raw_services()
        services[name] = {"type": "local", "enabled": True, "path": str(folder)}
        lib.stage_config(SERVICES_FILE, services)
        lib.commit(f"service: add {name} (local)")
    finally:
        lib.close()


def kill_repeatedly(args: list[str], *, times: int, pause: tuple[float, float], seed: int,
                    after_kill=None, kill_when=None) -> int:
    """Start ``photosync ARGS`` and kill -9 it after a random pause, up to ``times``
    times (stopping early when a run finishes by itself); ``after_kill()`` checks
    the state each kill leaves.  With ``kill_when`` (a predicate), the pause starts
    only once it holds, so a kill lands in the middle of the work on a fast machine
    as on a slow one.  Returns how many kills there were."""
    import os
    import random
    import signal
    import sys
    import time

    rnd = random.Random(seed)
    kills = 0
    for _ in range(times):
        proc = subprocess.Popen([sys.executable, "-m", "photosync", *args],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kill_when is not None:
            deadline = time.monotonic() + 60
            while not kill_when() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
        time.sleep(rnd.uniform(*pause))
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        if after_kill is not None:
            after_kill()
    return kills
