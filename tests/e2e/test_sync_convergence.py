"""Convergence, as a property (issue 17): two or three replicas of one library, random operations on
each (discover of a shared folder and of each machine's own, resolve with policies and with scripted
answers, visibility set, replicate into a store both machines mount) and syncs in random order end
with identical trees, no instance or blob copy lost, no visibility wider than some side's explicit
`visibility set`, and git fsck clean.  Few photos, few examples: it stays fast."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import add_local_service, git, git_status, open_lib
from photosync.conflicts.resolver import Decision
from photosync.library.layout import PREFERENCES_FILE
from photosync.library.remotes import add_remote, clone, sync
from photosync.sample import generate_corpus

LEVELS = ("private", "friends", "public")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("convergence-photos")
    generate_corpus(root / "shared", 3, seed=41, size=(64, 48), noise=4)
    for i in range(3):
        generate_corpus(root / f"own{i}", 1, seed=50 + i, size=(64, 48), noise=4)
    return root


class FirstAnswer:
    """A person who always takes the first option offered (a scripted answer)."""

    def decide(self, photo, conflict, options):
        return Decision(options[0].key) if options else None


def _setup(work: Path, folders: Path, n: int) -> tuple[Path, list[Path], Path]:
    from photosync.library.library import Library

    bare = work / "bare.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    store = work / "nas-blobs"
    store.mkdir()
    first, _ = Library.init(work / "r0")
    add_local_service(first, "shared", folders / "shared")
    lib, _c = open_lib(first)
    with lib:
        prefs = lib.raw_preferences()
        prefs["blob_storage"] = {"primary": "nas", "replicas": [], "min_copies": 1,
                                 "stores": {"nas": {"type": "local", "path": str(store)}}}
        lib.stage_config(PREFERENCES_FILE, prefs)
        lib.commit("store: nas")
        add_remote(lib, "origin", bare.as_uri())
        sync(lib)
    replicas = [first] + [clone(bare.as_uri(), work / f"r{i}") for i in range(1, n)]
    for i, root in enumerate(replicas):
        add_local_service(root, f"own{i}", folders / f"own{i}")
    return bare, replicas, store


def _state(root: Path) -> tuple[set, set, dict]:
    """(instance keys, blob copies, canonical level by photo id) of one replica."""
    keys: set = set()
    copies: set = set()
    levels = {}
    with open_lib(root, write=False)[0] as lib:
        for pid in lib.photo_ids():
            p = lib.get_photo(pid)
            keys |= {i.key for i in p.all_instances()}
            copies |= {(c.store, c.locator) for c in p.blobs.values()}
            copies |= {(s.store, s.locator) for s in p.superseded_blobs}
            levels[pid] = p.visibility.canonical
    return keys, copies, levels


OPS = st.one_of(
    st.tuples(st.just("discover"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("resolve"), st.integers(0, 2), st.sampled_from(["simple", "all", "ask"])),
    st.tuples(st.just("visibility"), st.integers(0, 2), st.integers(0, 9), st.sampled_from(LEVELS)),
    st.tuples(st.just("replicate"), st.integers(0, 2)),
    st.tuples(st.just("sync"), st.integers(0, 2)),
)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(2, 3), ops=st.lists(OPS, min_size=3, max_size=10))
def test_replicas_converge_and_lose_nothing(folders, n, ops):
    from photosync.phases.discover import discover
    from photosync.phases.replicate import execute, make_plan
    from photosync.phases.resolve import resolve
    from photosync.phases.visibility import set_level

    work = Path(tempfile.mkdtemp(prefix="convergence-"))
    try:
        bare, replicas, _store = _setup(work, folders, n)
        seen_keys: set = set()
        seen_copies: set = set()
        explicit: dict[str, set[str]] = {}
        for op in ops:
            i = op[1] % n
            root = replicas[i]
            with open_lib(root)[0] as lib:
                if op[0] == "discover":
                    discover(lib, service="shared" if op[2] else f"own{i}", workers=1)
                elif op[0] == "resolve":
                    if op[2] == "ask":
                        resolve(lib, resolver=FirstAnswer())
                    else:
                        resolve(lib, auto=op[2])
                elif op[0] == "visibility":
                    ids = sorted(lib.photo_ids())
                    if ids:
                        pid = ids[op[2] % len(ids)]
                        set_level(lib, [pid], op[3], reason="property test")
                        explicit.setdefault(pid, set()).add(op[3])
                elif op[0] == "replicate":
                    execute(lib, make_plan(lib), workers=1)
                else:
                    sync(lib, sleep=lambda s: None)
            keys, copies, _ = _state(root)
            seen_keys |= keys
            seen_copies |= copies
        for _round in range(2):
            for root in replicas:
                with open_lib(root)[0] as lib:
                    sync(lib, sleep=lambda s: None)
        trees = {git(r, "rev-parse", "HEAD^{tree}").strip() for r in replicas}
        assert len(trees) == 1, "every replica holds the same tree"
        assert trees == {git(bare, "rev-parse", "main^{tree}").strip()}
        keys, copies, levels = _state(replicas[0])
        assert keys >= seen_keys, "no instance lost"
        assert copies >= seen_copies, "no blob copy lost"
        rank = LEVELS.index
        for pid, level in levels.items():
            allowed = max([0] + [rank(lv) for lv in explicit.get(pid, ())])
            # a record merged into this one brings its own explicit levels (the narrower wins anyway)
            assert rank(level) <= max(allowed, max([rank(lv) for s in explicit.values() for lv in s], default=0))
            if pid not in explicit:
                assert level == "private" or any(explicit.values()), "nothing widened by itself"
        for r in replicas:
            assert git_status(r) == ""
        subprocess.run(["git", "-C", str(bare), "fsck", "--strict"], check=True, capture_output=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
