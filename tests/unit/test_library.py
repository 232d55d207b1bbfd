"""The git control plane: init, finding a library, commits of changed files only,
the lock, the derived index, hand edits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import commit_count, git, git_status, open_lib

from photosync.errors import ConfigError, InvalidRecord, LibraryLocked, LibraryNotFound, PhotosyncError
from photosync.library.find import find_library
from photosync.library.layout import utc_now
from photosync.library.library import Library
from photosync.model import Instance, Metadata, Photo


def make_photo_record(n: int, taken: str = "2019-07-04T14:22:33") -> Photo:
    h = f"sha256:{n:064x}"
    import uuid

    pid = str(uuid.uuid5(uuid.NAMESPACE_URL, h))
    now = utc_now()
    inst = Instance(service="pictures", id=f"p/{n}.jpg", content_hash=h, last_sync=now, size=10,
                    metadata=Metadata(taken_date=taken, filename=f"{n}.jpg"))
    return Photo(photo_id=pid, content_hash=h, canonical_source=inst.key,
                 metadata=Metadata(taken_date=taken, taken_date_source="exif", filename=f"{n}.jpg"),
                 created_at=now, updated_at=now, instances={"pictures": (inst,)})


def test_init_layout_and_first_commit(library):
    for rel in ("photos", "config/services.json", "config/user-preferences.json", "config/sync-state.json",
                "schemas/photo-metadata.schema.json", "schemas/service-config.schema.json",
                "schemas/user-preferences.schema.json", ".gitignore"):
        assert (library / rel).exists(), rel
    assert commit_count(library) == 1
    assert git(library, "log", "-1", "--format=%s").strip() == "init: new photosync library"
    assert git_status(library) == ""
    prefs = json.loads((library / "config/user-preferences.json").read_text())
    assert prefs["default_visibility"] == "private"
    assert prefs["blob_storage"]["primary"] == "local"
    # blobs are ignored by git
    (library / "blobs" / "x.jpg").write_bytes(b"x")
    assert git_status(library) == ""


def test_init_twice_changes_nothing(library):
    root, created = Library.init(library)
    assert root == library and not created
    assert commit_count(library) == 1


def test_find_library_flag_env_and_walk_up(library, tmp_path, monkeypatch):
    sub = library / "photos" / "2019"
    sub.mkdir(parents=True)
    assert find_library(cwd=sub) == library
    monkeypatch.setenv("PHOTOSYNC_LIBRARY", str(library))
    assert find_library(cwd=tmp_path) == library
    monkeypatch.delenv("PHOTOSYNC_LIBRARY")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(LibraryNotFound, match="photosync init"):
        find_library(cwd=outside)
    with pytest.raises(LibraryNotFound, match="not a photosync library"):
        find_library(outside)


def test_commit_writes_only_changed_files_and_no_change_no_commit(library):
    lib, _ = open_lib(library)
    photos = [make_photo_record(i) for i in range(5)]
    for p in photos:
        lib.stage(p)
    assert lib.commit("test: five photos")
    assert commit_count(library) == 2
    assert git_status(library) == ""
    # the same records again: nothing changes, no commit
    for p in photos:
        lib.stage(lib.get_photo(p.photo_id))
    assert lib.commit("test: nothing") is None
    assert commit_count(library) == 2
    # one change: a commit touching exactly one file
    changed = lib.get_photo(photos[2].photo_id)
    lib.stage(changed.replace(processing_state="resolved"))
    lib.commit("test: one")
    lib.close()
    names = git(library, "show", "--name-only", "--format=", "HEAD").split()
    assert names == [f"photos/2019/07/{photos[2].photo_id}.json"]
    assert git_status(library) == ""


def test_photo_moves_when_its_date_changes(library):
    lib, _ = open_lib(library)
    p = make_photo_record(1)
    lib.stage(p)
    lib.commit("add")
    from dataclasses import replace

    lib.stage(p.replace(metadata=replace(p.metadata, taken_date="2001-01-02T03:04:05")))
    lib.commit("move")
    lib.close()
    assert not (library / f"photos/2019/07/{p.photo_id}.json").exists()
    assert (library / f"photos/2001/01/{p.photo_id}.json").exists()
    assert git_status(library) == ""


def test_index_is_rebuilt_when_missing_and_follows_commits_made_by_hand(library):
    lib, _ = open_lib(library)
    recs = [make_photo_record(i) for i in range(3)]
    for p in recs:
        lib.stage(p)
    lib.commit("three")
    lib.close()
    (library / ".git/photosync/index.sqlite").unlink()
    lib, _ = open_lib(library, write=False)
    assert lib.index.count_photos() == 3
    lib.close()
    # a person removes a photo record with git; the index follows HEAD
    git(library, "rm", "-q", f"photos/2019/07/{recs[0].photo_id}.json")
    git(library, "commit", "-qm", "remove one by hand")
    lib, _ = open_lib(library, write=False)
    assert lib.index.count_photos() == 2
    assert lib.index.photo_path(recs[0].photo_id) is None
    lib.close()


def test_hand_edit_valid_is_committed_invalid_is_reported_with_field(library):
    lib, _ = open_lib(library)
    a, b = make_photo_record(1), make_photo_record(2)
    lib.stage(a)
    lib.stage(b)
    lib.commit("two")
    lib.close()
    pa = library / f"photos/2019/07/{a.photo_id}.json"
    pb = library / f"photos/2019/07/{b.photo_id}.json"
    data = json.loads(pa.read_text())
    data["metadata"]["caption"] = "typed by hand"
    pa.write_text(json.dumps(data, indent=2))
    bad = json.loads(pb.read_text())
    bad["processing_state"] = "finished"
    pb.write_text(json.dumps(bad))
    lib, c = open_lib(library)
    lib.close()
    assert git(library, "log", "-1", "--format=%s").startswith("library: record 1 file changed outside photosync")
    assert json.loads(git(library, "show", f"HEAD:photos/2019/07/{a.photo_id}.json"))["metadata"]["caption"] == "typed by hand"
    errors = [p for p in c.problems if p.level == "error"]
    assert len(errors) == 1
    assert str(pb.relative_to(library)) in errors[0].where
    assert "processing_state" in errors[0].reason
    # the invalid file is left exactly as the person wrote it
    assert json.loads(pb.read_text())["processing_state"] == "finished"


def test_broken_json_names_file_and_position(library):
    lib, _ = open_lib(library)
    a = make_photo_record(1)
    lib.stage(a)
    lib.commit("one")
    lib.close()
    pa = library / f"photos/2019/07/{a.photo_id}.json"
    pa.write_text(pa.read_text()[:-30])
    lib, c = open_lib(library)
    with pytest.raises(Exception) as exc:
        lib.get_photo(a.photo_id)
    lib.close()
    assert "not valid JSON" in str(exc.value) or "invalid" in str(exc.value)
    assert any("not valid JSON (line" in p.reason for p in c.problems)


def test_deleted_record_is_restored(library):
    lib, _ = open_lib(library)
    a = make_photo_record(1)
    lib.stage(a)
    lib.commit("one")
    lib.close()
    pa = library / f"photos/2019/07/{a.photo_id}.json"
    pa.unlink()
    lib, c = open_lib(library)
    lib.close()
    assert pa.exists()
    assert any("restored" in p.reason for p in c.problems)
    assert git_status(library) == ""


def test_invalid_config_file_is_named(library):
    (library / "config/user-preferences.json").write_text('{"default_visibility": "everyone"}')
    with pytest.raises(ConfigError, match="config/user-preferences.json"):
        Library.open(library)
    (library / "config/user-preferences.json").write_text("{ not json")
    with pytest.raises(ConfigError, match=r"not valid JSON \(line 1"):
        Library.open(library)


def test_one_bad_service_entry_does_not_hide_the_others(library):
    (library / "config/services.json").write_text(json.dumps({
        "good": {"type": "local", "enabled": True, "path": "/tmp"},
        "bad": {"type": "local", "enabled": "yes"},
        "leaky": {"type": "flickr", "enabled": True, "api_secret": "s3cr3t"},
    }))
    lib, c = open_lib(library)
    assert list(lib.services) == ["good"]
    lib.close()
    reasons = " ".join(str(p) for p in c.problems)
    assert "bad.enabled" in reasons
    assert "secrets do not belong" in reasons


LOCK_HOLDER = """
import sys, time
from photosync.library.library import Library
lib = Library.open(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_second_process_stops_at_once_and_stale_lock_does_not_block(library):
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(library)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t = time.monotonic()
        with pytest.raises(LibraryLocked, match=f"pid {holder.pid}"):
            Library.open(library)
        assert time.monotonic() - t < 2
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        # the killed process's lock file is still there, but it does not block
        assert (library / ".git/photosync/lock").exists()
        lib = Library.open(library)
        lib.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_interrupted_commit_is_put_back_as_git_has_it(library, monkeypatch):
    """Killed while writing a commit's files: the next run puts those files back
    as HEAD has them (torn or not), so the library is whole and the interrupted
    phase simply redoes its work."""
    from photosync.library import gitstore

    lib, _ = open_lib(library)
    a, b = make_photo_record(1), make_photo_record(2)
    lib.stage(a)
    lib.commit("one")
    lib.stage(a.replace(processing_state="resolved"))
    lib.stage(b)
    real = gitstore.GitStore.commit

    def write_some_then_die(self, changes, message, also_add=()):
        self._write_journal(list(changes))
        first = sorted(changes)[0]
        self.write_worktree_file(first, changes[first][: len(changes[first]) // 2])  # a torn write
        raise KeyboardInterrupt

    monkeypatch.setattr(gitstore.GitStore, "commit", write_some_then_die)
    with pytest.raises(KeyboardInterrupt):
        lib.commit("two")
    lib.close()
    monkeypatch.setattr(gitstore.GitStore, "commit", real)
    assert git_status(library) != ""
    lib, c = open_lib(library)
    assert lib.get_photo(a.photo_id).processing_state == "discovered"
    with pytest.raises(KeyError):
        lib.get_photo(b.photo_id)
    lib.close()
    assert git_status(library) == ""
    assert any("interrupted" in m for m in c.messages)


def test_large_commits_write_packs_and_compaction_keeps_every_object(library):
    from photosync.library import gitstore
    from photosync.library.packs import compact, pack_files

    def loose():
        return len(list((library / ".git/objects").glob("[0-9a-f][0-9a-f]/*")))

    before = loose()
    lib, _ = open_lib(library)
    for batch in range(4):
        for i in range(gitstore.PACK_THRESHOLD):
            lib.stage(make_photo_record(batch * 1000 + i))
        lib.commit(f"batch {batch}")
    lib.close()
    pack_dir = library / ".git/objects/pack"
    assert len(pack_files(pack_dir)) == 4
    assert loose() == before, "big commits write packs, not loose objects"
    assert compact(pack_dir, max_packs=2)
    assert len(pack_files(pack_dir)) == 1
    fsck = subprocess.run(["git", "-C", str(library), "fsck", "--strict", "--full"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    assert len(git(library, "ls-tree", "-r", "--name-only", "HEAD", "photos").split()) == 4 * gitstore.PACK_THRESHOLD + 1  # and photos/.gitkeep
    assert git_status(library) == ""


def test_photosync_itself_never_stages_a_secret_looking_key(library):
    lib, _ = open_lib(library)
    try:
        services = lib.raw_services()
        services["fl"] = {"type": "flickr", "enabled": True, "flickr_api_secret": "x"}
        with pytest.raises(InvalidRecord, match="fl.flickr_api_secret"):
            lib.stage_config("config/services.json", services)
        prefs = lib.raw_preferences()
        prefs["blob_storage"]["stores"]["local"]["Secret_Access_Key"] = "x"
        with pytest.raises(InvalidRecord, match="blob_storage.stores.local.Secret_Access_Key"):
            lib.stage_config("config/user-preferences.json", prefs)
        assert lib.commit("nothing") is None
    finally:
        lib.close()
    assert git_status(library) == ""


def test_records_written_by_a_commit_have_their_stat_data_in_gits_index(library):
    """photosync gives libgit2 the index entry of each record it writes (the blob id it
    computed and the stat data of its write) instead of libgit2 reading the file back: the
    entry must say what the file is, or every `git status` (and photosync's own check for
    hand edits) would have to read and hash every record again."""
    from photosync.library import gitstore

    lib, _ = open_lib(library)
    for i in range(3):  # a small commit (loose objects)
        lib.stage(make_photo_record(i))
    lib.commit("small")
    for i in range(gitstore.PACK_THRESHOLD):  # a large one (one pack)
        lib.stage(make_photo_record(100 + i))
    lib.commit("large")
    lib.stage(make_photo_record(0, taken="2020-01-01T00:00:00"))  # moved: its old entry goes
    lib.commit("moved")
    lib.close()
    entries: dict[str, dict[str, str]] = {}
    path = ""
    for line in git(library, "ls-files", "--debug", "-s", "photos").splitlines():
        if not line.startswith(" "):
            _mode, oid, rest = line.split(" ", 2)
            path = rest.split("\t", 1)[1]
            entries[path] = {"oid": oid}
        else:
            for part in line.split("\t"):
                k, _, v = part.strip().partition(":")
                entries[path][k.strip()] = v.strip()
    records = [p for p in entries if p.endswith(".json")]
    assert len(records) == 3 + gitstore.PACK_THRESHOLD
    for rel in records:
        st = os.stat(library / rel)
        e = entries[rel]
        assert int(e["size"]) == st.st_size, rel
        assert e["mtime"] == f"{st.st_mtime_ns // 10**9}:{st.st_mtime_ns % 10**9}", rel
        assert int(e["ino"]) == st.st_ino & 0xFFFFFFFF, rel
        assert e["oid"] == git(library, "hash-object", rel).strip(), rel
    assert git_status(library) == ""
    fsck = subprocess.run(["git", "-C", str(library), "fsck", "--strict", "--full"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    # git's own check agrees, without reading the files: nothing needs refreshing
    assert subprocess.run(["git", "-C", str(library), "diff-files", "--quiet"]).returncode == 0


def _big_batch(lib, base: int) -> None:
    from photosync.library import gitstore

    for i in range(gitstore.PACK_THRESHOLD):
        lib.stage(make_photo_record(base + i))


def test_a_record_rewritten_shorter_holds_only_its_new_bytes(library):
    """A record is written in place over its older version (no temp file and rename): when the new
    version is shorter, the older one's tail is cut, and the index's stat data is that of the cut
    file, so git finds it clean without reading it."""
    import dataclasses

    lib, _ = open_lib(library)
    photo = make_photo_record(7)
    lib.stage(dataclasses.replace(photo, metadata=dataclasses.replace(photo.metadata, caption="x" * 5000)))
    lib.commit("long")
    rel = lib.index.photo_path(photo.photo_id)
    long_size = os.path.getsize(library / rel)
    lib.stage(dataclasses.replace(photo, metadata=dataclasses.replace(photo.metadata, caption="short")))
    lib.commit("short")
    lib.close()
    data = (library / rel).read_bytes()
    assert len(data) < long_size - 4000
    assert json.loads(data)["metadata"]["caption"] == "short"
    assert data == subprocess.run(["git", "-C", str(library), "show", f"HEAD:{rel}"], capture_output=True,
                                  check=True).stdout
    assert git_status(library) == ""
    assert subprocess.run(["git", "-C", str(library), "diff-files", "--quiet"]).returncode == 0


def test_a_commit_keeps_what_git_add_staged_between_two_commits_of_a_run(library):
    """photosync keeps git's index in memory from one commit to the next; a `git add` made by
    hand while it runs changes the index file, and the next commit must start from that file
    (a commit is built from git's index, so what is staged goes along, as it always did), not
    write its older copy over it."""
    lib, _ = open_lib(library)
    try:
        _big_batch(lib, 0)
        lib.commit("one")
        (library / "notes.txt").write_text("my notes\n")
        git(library, "add", "notes.txt")
        _big_batch(lib, 1000)
        lib.stage(make_photo_record(5000))
        lib.commit("two")
        lib.stage(make_photo_record(5001))  # a small commit after it too
        lib.commit("three")
    finally:
        lib.close()
    assert git(library, "show", "HEAD:notes.txt") == "my notes\n"
    assert git_status(library) == ""


def test_a_commit_after_a_failed_one_holds_only_objects_that_are_on_disk(library, monkeypatch):
    """A commit that fails half-way (here: a git commit by hand moved the branch while photosync
    was committing) has added its records to git's index in memory; the next commit of the
    same run must not take those entries along (their objects may never have reached the disk:
    a commit naming missing objects is a broken repository)."""
    from photosync.library import gitstore

    real_sync = gitstore._sync_files
    hand_commit = []

    def sync_while_someone_commits(paths):
        if not hand_commit:  # the person's commit lands between photosync's objects and its ref
            hand_commit.append(1)
            git(library, "-c", "user.name=x", "-c", "user.email=x@y", "commit", "--allow-empty", "-qm", "by hand")
        real_sync(paths)

    lib, _ = open_lib(library)
    try:
        a, b = make_photo_record(1), make_photo_record(2)
        lib.stage(a)
        monkeypatch.setattr(gitstore, "_sync_files", sync_while_someone_commits)
        with pytest.raises(PhotosyncError, match="branch moved"):
            lib.commit("one")
        lib.discard_staged()
        lib.stage(b)
        lib.commit("two")
    finally:
        lib.close()
    fsck = subprocess.run(["git", "-C", str(library), "fsck", "--strict", "--full"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    names = git(library, "ls-tree", "-r", "--name-only", "HEAD", "photos")
    assert b.photo_id in names and a.photo_id not in names


def test_a_commit_refuses_an_index_entry_someone_else_added_for_a_missing_object(library):
    """photosync skips libgit2's object check of every index entry when the index is the one it
    wrote itself (each of its entries was checked when added); an index someone else wrote
    (`git update-index --cacheinfo` takes any id) is checked: no commit names an object the
    repository does not have."""
    import pygit2

    lib, _ = open_lib(library)
    try:
        _big_batch(lib, 0)
        lib.commit("one")
        head = git(library, "rev-parse", "HEAD")
        git(library, "update-index", "--add", "--cacheinfo", "100644," + "12" * 20 + ",notes.txt")
        lib.stage(make_photo_record(5000))
        with pytest.raises(pygit2.GitError, match="invalid object specified - notes.txt"):
            lib.commit("two")
    finally:
        lib.close()
    assert git(library, "rev-parse", "HEAD") == head
    git(library, "rm", "-q", "--cached", "notes.txt")  # git fsck checks the index's entries too
    fsck = subprocess.run(["git", "-C", str(library), "fsck", "--strict", "--full"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


@pytest.mark.parametrize("sort_chunk", [2, 1 << 16])
def test_compaction_keeps_one_copy_of_an_object_several_packs_hold(tmp_path, monkeypatch, sort_chunk):
    """Packs photosync merges may share objects (the same record bytes written again in a later
    commit): the merged pack holds each once, every one readable, and git checks it.  (Each pack's
    records are put in file order a chunk at a time, the chunks merged: with chunks of 2 too.)"""
    from photosync.library import packs
    from photosync.library.packs import compact, pack_files, write_pack

    monkeypatch.setattr(packs, "SORT_CHUNK", sort_chunk)

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    pack_dir = repo / ".git/objects/pack"
    blobs = [f"object {n}\n".encode() * (n + 1) for n in range(7)]
    write_pack([(3, b) for b in blobs[:4]], pack_dir)
    write_pack([(3, b) for b in blobs[2:6]], pack_dir)      # two objects in both
    write_pack([(3, b) for b in (blobs[6], blobs[0])], pack_dir)
    assert len(pack_files(pack_dir)) == 3
    assert compact(pack_dir, max_packs=1)
    (pack,) = pack_files(pack_dir)
    listing = subprocess.run(["git", "verify-pack", "-v", str(pack.with_suffix(".idx"))], capture_output=True,
                             text=True, check=True).stdout
    ids = [line.split()[0] for line in listing.splitlines() if " blob " in line]
    assert len(ids) == len(set(ids)) == 7
    for b in blobs:
        oid = subprocess.run(["git", "-C", str(repo), "hash-object", "--stdin"], input=b, capture_output=True,
                             check=True).stdout.decode().strip()
        got = subprocess.run(["git", "-C", str(repo), "cat-file", "blob", oid], capture_output=True, check=True).stdout
        assert got == b
    fsck = subprocess.run(["git", "-C", str(repo), "fsck", "--strict", "--full"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


def test_a_merge_killed_midway_leaves_no_temp_pack_behind(tmp_path):
    """A compaction killed while it wrote its merged pack (hundreds of MB at 100,000 photos), or a
    commit killed while it wrote its pack, left temp files in the pack folder; the next compaction
    (under the library's lock, at the end of every writing run) removes photosync's, never git's."""
    from photosync.library.packs import compact, write_pack

    pack_dir = tmp_path / "objects" / "pack"
    write_pack([(3, b"one\n")], pack_dir)
    (pack_dir / "tmp_merge_4242.pack").write_bytes(b"PACK" + b"\0" * 1000)
    (pack_dir / "tmp_merge_4242.idx").write_bytes(b"\xfftOc")
    (pack_dir / ("tmp_pack-" + "ab" * 20 + ".pack")).write_bytes(b"PACK")  # a commit's pack, killed
    (pack_dir / "tmp_pack_Xy12Zq").write_bytes(b"PACK")  # git's own temp file: not photosync's to remove
    assert not compact(pack_dir)  # nothing to merge
    assert sorted(p.name for p in pack_dir.iterdir() if p.name.startswith("tmp")) == ["tmp_pack_Xy12Zq"]
    assert sorted(p.suffix for p in pack_dir.iterdir() if not p.name.startswith("tmp")) == [".idx", ".pack"]


def test_a_merged_packs_index_holds_offsets_past_two_gigabytes():
    """The merged index is written as it is made; offsets at or past 2**31 go into its table of
    large offsets, in order, as git's own index writer puts them (the same bytes as the index built
    in memory for a new pack)."""
    import random
    from array import array

    from photosync.library import packs

    rnd = random.Random(3)
    oids = sorted({rnd.randbytes(20) for _ in range(500)})
    crcs = array("I", (rnd.getrandbits(32) for _ in oids))
    offsets = array("Q", (rnd.choice([rnd.getrandbits(31), (1 << 31) + rnd.getrandbits(33)]) for _ in oids))

    class Idx:  # one pack of these objects, each kept, at these offsets in the merged pack
        count = len(oids)
        def __init__(self):
            self.oids, self.crcs = b"".join(oids), crcs
        def oid(self, i):
            return oids[i]

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.idx"
        packs._write_idx(path, [Idx()], [bytearray(b"\x01" * len(oids))], [offsets], b"\x07" * 20)
        assert path.read_bytes() == packs._idx_bytes(b"".join(oids), crcs, offsets, b"\x07" * 20)
    assert sum(o >= 1 << 31 for o in offsets) > 100
