"""sync through the library API (issue 17): the remote moving during a sync, an edit of a record
merged away elsewhere, the derived index after a pull, kill -9 during sync."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import add_local_service, git, git_status, open_lib
from photosync.conflicts import variants
from photosync.library.layout import utc_now
from photosync.library.remotes import add_remote, clone, sync
from photosync.model import Instance, with_instance
from photosync.phases.discover import discover
from photosync.sample import generate_corpus


def _pair(tmp_path: Path, n: int = 3) -> tuple[Path, Path, Path]:
    """A library with ``n`` photos pushed to a bare repository, and a clone of it."""
    from photosync.library.library import Library

    bare = tmp_path / "bare.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    pics = tmp_path / "pics"
    generate_corpus(pics, n, seed=5, size=(64, 48), noise=4)
    a, _ = Library.init(tmp_path / "a")
    add_local_service(a, "pics", pics)
    lib, _c = open_lib(a)
    with lib:
        discover(lib)
        add_remote(lib, "origin", bare.as_uri())
        sync(lib)
    b = clone(bare.as_uri(), tmp_path / "b")
    return bare, a, b


def _tree(root: Path) -> str:
    return git(root, "rev-parse", "HEAD^{tree}").strip()


def _edit(root: Path, pid: str, caption: str) -> None:
    lib, _ = open_lib(root)
    with lib:
        p = lib.get_photo(pid)
        lib.stage(p.replace(metadata=p.metadata.__class__(**{**p.metadata.__dict__, "caption": caption})))
        lib.commit(f"test: caption {caption}")


def test_a_remote_that_moves_during_sync_is_fetched_and_merged_again(tmp_path):
    bare, a, b = _pair(tmp_path)
    with open_lib(a)[0] as lib:
        ids = sorted(lib.photo_ids())
    _edit(a, ids[0], "laptop")
    _edit(b, ids[1], "nas")

    def other_machine_pushes():
        if not moved:
            moved.append(True)
            with open_lib(b)[0] as lb:
                sync(lb)

    moved: list[bool] = []
    with open_lib(a)[0] as lib:
        result = sync(lib, before_push=other_machine_pushes, sleep=lambda s: None)
    assert result.attempts == 2 and result.pushed
    with open_lib(b)[0] as lib:
        sync(lib)
    assert _tree(a) == _tree(b) == git(bare, "rev-parse", "main^{tree}").strip()
    with open_lib(b)[0] as lib:
        assert lib.get_photo(ids[0]).metadata.caption == "laptop"
        assert lib.get_photo(ids[1]).metadata.caption == "nas"


def test_an_edit_of_a_record_merged_away_on_the_other_machine_lands_on_the_survivor(tmp_path):
    bare, a, b = _pair(tmp_path)
    with open_lib(a)[0] as lib:
        s_id, x_id = sorted(lib.photo_ids())[:2]
        s, x = lib.get_photo(s_id), lib.get_photo(x_id)
        merged, gone = variants.merge(s, x, now=utc_now(), how="manual", policy=None, keep=s_id)
        assert gone == x_id
        lib.remove(gone)
        lib.stage(merged)
        lib.commit("resolve: merged (manual)")
    with open_lib(b)[0] as lib:
        x = lib.get_photo(x_id)
        phone = Instance("phone", "DCIM/x.jpg", x.content_hash, last_sync=utc_now(), size=10)
        lib.stage(with_instance(x, phone))
        lib.commit("discover: a phone copy")
    for root in (a, b, a):
        with open_lib(root)[0] as lib:
            sync(lib, sleep=lambda s: None)
    assert _tree(a) == _tree(b)
    with open_lib(b)[0] as lib:
        assert x_id not in lib.photo_ids()
        keys = {i.key for i in lib.get_photo(s_id).all_instances()}
        assert "phone:DCIM/x.jpg" in keys, "the edit lands on the survivor"
    assert not list((b / "photos").rglob(f"{x_id}.json"))


def test_the_index_after_a_pull_has_the_other_machines_changes(tmp_path):
    bare, a, b = _pair(tmp_path)
    with open_lib(a)[0] as lib:
        ids = sorted(lib.photo_ids())
    _edit(a, ids[0], "laptop")
    with open_lib(a)[0] as lib:
        sync(lib)
    with open_lib(b)[0] as lib:
        before = lib.index.commit_oid
        r = sync(lib)
        assert r.fast_forward
        assert lib.index.commit_oid == lib.git.head_oid != before
        # the index row came from the pulled file: the search by name finds the new caption's photo
        assert lib.get_photo(ids[0]).metadata.caption == "laptop"
    assert git_status(b) == ""


def test_kill_during_sync_then_the_next_sync_completes(tmp_path):
    bare, a, b = _pair(tmp_path, n=4)
    with open_lib(a)[0] as lib:
        ids = sorted(lib.photo_ids())
    for i, pid in enumerate(ids):
        _edit(a, pid, f"laptop {i}")
    _edit(b, ids[0], "nas")
    with open_lib(a)[0] as lib:
        sync(lib)
    # b's sync is killed at random moments, again and again; then one runs to its end
    code = (
        "import sys; from photosync.library.library import Library; from photosync.library.remotes import sync\n"
        "with Library.open(sys.argv[1]) as lib: sync(lib)\n"
    )
    import random
    import signal
    import time

    rnd = random.Random(3)
    for _ in range(4):
        p = subprocess.Popen([sys.executable, "-c", code, str(b)])
        time.sleep(rnd.uniform(0.05, 0.6))
        p.send_signal(signal.SIGKILL)
        p.wait()
    with open_lib(b)[0] as lib:
        sync(lib)
    with open_lib(a)[0] as lib:
        sync(lib)
    assert _tree(a) == _tree(b)
    assert git_status(b) == ""
    subprocess.run(["git", "-C", str(b), "fsck", "--strict"], check=True, capture_output=True)
    recs = [json.loads(p.read_text()) for p in (b / "photos").rglob("*.json")]
    assert len(recs) == 4
    caption = {r["photo_id"]: r["metadata"]["caption"] for r in recs}
    assert caption[ids[1]] == "laptop 1"
    assert any(c["type"] == "sync_conflict" for r in recs if r["photo_id"] == ids[0] for c in r["conflicts"])


def test_a_sync_killed_while_git_holds_its_fetch_lock_does_not_stop_the_next(tmp_path):
    """kill -9 while libgit2 updates a remote-tracking ref leaves its lock file (``main.lock``);
    every later fetch then failed ("failed to lock file") until a person removed it by hand (the
    kill test above found it under load). The process is killed at that moment, from inside the
    fetch, with the lock file there as libgit2 makes it."""
    bare, a, b = _pair(tmp_path, n=2)
    with open_lib(a)[0] as lib:
        ids = sorted(lib.photo_ids())
    _edit(a, ids[0], "laptop")
    with open_lib(a)[0] as lib:
        sync(lib)
    code = (
        "import os, signal, sys, pygit2\n"
        "from photosync.library.library import Library\n"
        "from photosync.library.remotes import sync\n"
        "def fetch(self, *args, **kwargs):\n"
        "    lock = os.path.join(sys.argv[1], '.git', 'refs', 'remotes', 'origin', 'main.lock')\n"
        "    os.makedirs(os.path.dirname(lock), exist_ok=True)\n"
        "    open(lock, 'w').close()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "pygit2.Remote.fetch = fetch\n"
        "with Library.open(sys.argv[1]) as lib: sync(lib)\n"
    )
    assert subprocess.run([sys.executable, "-c", code, str(b)]).returncode == -9
    assert (b / ".git" / "refs" / "remotes" / "origin" / "main.lock").exists()
    with open_lib(b)[0] as lib:
        result = sync(lib)
    assert result.fetched and not (b / ".git" / "refs" / "remotes" / "origin" / "main.lock").exists()
    recs = {json.loads(p.read_text())["photo_id"]: json.loads(p.read_text()) for p in (b / "photos").rglob("*.json")}
    assert recs[ids[0]]["metadata"]["caption"] == "laptop"
    assert git_status(b) == ""


def test_an_older_library_gets_the_merge_driver_and_its_machine_file_ignored(tmp_path):
    from photosync.library.library import Library

    root, _ = Library.init(tmp_path / "old")
    # as a library made before issue 17: no .gitattributes, no machine line in .gitignore, no driver
    (root / ".gitattributes").unlink()
    ignore = root / ".gitignore"
    ignore.write_text("".join(line + "\n" for line in ignore.read_text().splitlines() if "machine" not in line))
    git(root, "commit", "-qam", "as before issue 17")
    git(root, "config", "--unset-all", "merge.photosync.driver")
    with open_lib(root)[0]:
        pass
    assert "merge=photosync" in (root / ".gitattributes").read_text()
    assert "/config/machine.json" in ignore.read_text()
    assert "merge-driver" in git(root, "config", "merge.photosync.driver")
    assert git_status(root) == ""
    head = git(root, "rev-parse", "HEAD")
    with open_lib(root)[0]:
        pass
    assert git(root, "rev-parse", "HEAD") == head, "once only"


def test_the_same_photo_filed_under_two_dates_ends_as_one_record(tmp_path):
    import dataclasses

    from photosync.library.layout import photo_path

    bare, a, b = _pair(tmp_path, n=1)
    with open_lib(a)[0] as lib:
        (pid,) = lib.photo_ids()
        p = lib.get_photo(pid)
    # each machine records a new photo with the same bytes (so the same id), one under a date from
    # its EXIF, the other under a date from its file name
    new = "sha256:" + "ab" * 32
    import uuid

    from photosync.phases.discover import PHOTO_NAMESPACE

    nid = str(uuid.uuid5(PHOTO_NAMESPACE, new))  # the id discover gives these bytes
    for root, date, svc in ((a, "2019-07-01T10:00:00", "laptop"), (b, "2021-03-04T00:00:00", "nas")):
        inst = Instance(svc, "x/IMG_9.jpg", new, last_sync=utc_now(), size=3)
        rec = p.replace(photo_id=nid, content_hash=new, canonical_source=inst.key, instances={svc: (inst,)},
                        metadata=dataclasses.replace(p.metadata, taken_date=date), blobs={}, resolutions=(),
                        conflicts=(), superseded_blobs=())
        with open_lib(root)[0] as lib:
            lib.stage(rec)
            lib.commit("discover: 1 new photo")
    assert photo_path(nid, "2019-07-01") != photo_path(nid, "2021-03-04")
    for root in (a, b, a):
        with open_lib(root)[0] as lib:
            sync(lib, sleep=lambda s: None)
    assert _tree(a) == _tree(b)
    files = list((b / "photos").rglob(f"{nid}.json"))
    assert len(files) == 1, files
    rec = json.loads(files[0].read_text())
    assert set(rec["instances"]) == {"laptop", "nas"}
    assert rec["processing_state"] == "discovered", "two readings of its date: resolve compares them"


def test_an_invalid_record_from_the_remote_is_named_and_the_valid_version_kept(tmp_path):
    bare, a, b = _pair(tmp_path, n=2)
    with open_lib(a)[0] as lib:
        pid = sorted(lib.photo_ids())[0]
        rel = lib.index.photo_path(pid)
    _edit(b, pid, "kept")
    # the laptop commits a broken record with plain git and pushes it
    rec = json.loads((a / rel).read_text())
    rec["visibility"]["canonical"] = "everyone"
    (a / rel).write_text(json.dumps(rec))
    git(a, "commit", "-qam", "hand edit")
    git(a, "push", "-q", "origin", "main")
    lib, seen = open_lib(b)
    with lib:
        sync(lib, sleep=lambda s: None)
        assert lib.get_photo(pid).metadata.caption == "kept"
    assert any(p.where == rel and "visibility.canonical" in p.reason and "remote" in p.reason for p in seen.problems), seen.problems
    assert git_status(b) == ""


def test_a_widening_pushed_without_visibility_set_is_narrowed_back_after_sync(tmp_path):
    bare, a, b = _pair(tmp_path, n=2)
    with open_lib(a)[0] as lib:
        pid = sorted(lib.photo_ids())[0]
        rel = lib.index.photo_path(pid)
    rec = json.loads((a / rel).read_text())
    rec["visibility"]["canonical"] = "public"
    (a / rel).write_text(json.dumps(rec, indent=2) + "\n")
    git(a, "commit", "-qam", "made public by hand")
    git(a, "push", "-q", "origin", "main")
    with open_lib(b)[0] as lib:
        sync(lib, sleep=lambda s: None)
        assert lib.get_photo(pid).visibility.canonical == "private"
    assert json.loads((b / rel).read_text())["visibility"]["canonical"] == "private"
    assert "narrowed" in git(bare, "log", "-1", "--format=%s", "main"), "the narrowing is pushed too"
