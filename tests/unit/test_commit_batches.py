"""Discover's commits grow with the library: each carries at least ``commit_batch_size`` records, and
once the library is larger, a share of it (1/BATCH_SHARE), up to MAX_BATCH records.  A commit rewrites git's index file and
the trees of the month folders it touches, whose size is the library's: with fixed batches a first
import's commits cost the square of its size, with growing ones they stay linear."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from helpers import git, open_lib
from photosync.library.layout import PREFERENCES_FILE, SERVICES_FILE
from photosync.sample import make_photo


def _library(root: Path, pics: Path, n: int, seed: int = 300) -> None:
    """A service ``pics.name`` of ``n`` new photos, committed ``commit_batch_size`` 2."""
    pics.mkdir()
    for i in range(n):
        make_photo(pics / f"p{i:02}.jpg", seed=seed + i, taken=datetime(2020, 1 + i % 12, 1 + i % 27, 9, i, 0))
    lib, _ = open_lib(root)
    try:
        services = lib.raw_services()
        services[pics.name] = {"type": "local", "enabled": True, "path": str(pics)}
        lib.stage_config(SERVICES_FILE, services)
        prefs = dict(lib.preferences)
        prefs["sync_preferences"] = {**prefs["sync_preferences"], "commit_batch_size": 2}
        lib.stage_config(PREFERENCES_FILE, prefs)
        lib.commit(f"service: add {pics.name}")
    finally:
        lib.close()


def _discover_commits(root: Path) -> list[int]:
    """The records each commit of the last discover added, oldest first (its last commit, which
    records where the service's listing stood, may add none)."""
    from photosync.phases.discover import discover

    before = git(root, "rev-parse", "HEAD").strip()
    lib, c = open_lib(root)
    try:
        new = sum(s.new for s in discover(lib).services)
    finally:
        lib.close()
    assert not c.problems
    commits = git(root, "rev-list", "--reverse", f"{before}..HEAD").split()
    added = [len([p for p in git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", "--diff-filter=A", sha)
                  .split() if p.startswith("photos/")]) for sha in commits]
    assert sum(added) == new
    return added


@pytest.mark.parametrize("share", [4, 10**9])
def test_a_first_import_commits_larger_batches_as_its_library_grows(library, tmp_path, monkeypatch, share):
    import photosync.phases.common as common

    monkeypatch.setattr(common, "BATCH_SHARE", share)
    _library(library, tmp_path / "pics", 30)
    added = _discover_commits(library)
    assert sum(added) == 30
    if share > 30:  # no share reached: commit_batch_size records a commit, as before
        assert [n for n in added if n] == [2] * 15
        return
    if not added[-1]:
        added.pop()
    assert len(added) < 15, added
    recorded = 0
    for n in added[:-1]:  # every batch commit carries commit_batch_size, and a share of the library after it
        recorded += n
        assert n >= max(2, recorded // share), added
    assert added[-2] > 2, added  # and the batches did grow


def test_a_batch_is_a_share_of_the_photos_recorded_before_the_run_too(library, tmp_path, monkeypatch):
    """A second service's few new photos join a library of 30: a share of 30 is more than all of
    them, so they are committed together, not two at a time."""
    import photosync.phases.common as common

    monkeypatch.setattr(common, "BATCH_SHARE", 4)
    _library(library, tmp_path / "pics", 30)
    _discover_commits(library)
    _library(library, tmp_path / "more", 6, seed=400)
    added = _discover_commits(library)
    assert [n for n in added if n] == [6]


def test_batches_stop_growing_at_max_batch(library, tmp_path, monkeypatch):
    import photosync.phases.common as common

    monkeypatch.setattr(common, "BATCH_SHARE", 2)
    monkeypatch.setattr(common, "MAX_BATCH", 3)
    _library(library, tmp_path / "pics", 20)
    added = _discover_commits(library)
    assert max(added) == 3 and sum(added) == 20, added
