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
