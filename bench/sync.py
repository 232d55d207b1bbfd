"""photosync sync beside a plain `git pull` (issue 17).

A library of N photo records (made directly as records: discover is not what is measured) is pushed to
a bare repository and cloned; then each side changes C records (a caption, a new instance, a blob
copy), `overlap` of them on both sides.  Measured:

* `photosync sync` on the second machine after the first pushed (the merge of both sides' changes,
  its commit, the work tree, the derived index catching up, the push);
* a plain `git pull` of the same histories in a copy, with git's own merge (the merge driver's config
  removed, as a library without photosync would merge) — which conflicts on the records both sides
  changed;
* the same sync with C/10 changes, to see that the cost follows the changes, not the library.

    python bench/sync.py /tmp/syncbench --photos 10000 --changes 2000 --overlap 200
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from photosync.events import Collector  # noqa: E402
from photosync.library.library import Library  # noqa: E402
from photosync.library.remotes import add_remote, clone, sync  # noqa: E402
from photosync.model import BlobCopy, Instance, Metadata, Photo, with_instance  # noqa: E402

NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")


def _photo(i: int) -> Photo:
    h = "sha256:" + hashlib.sha256(b"photo %d" % i).hexdigest()
    pid = str(uuid.uuid5(NS, h))
    year, month = 2004 + i % 20, 1 + i % 12
    taken = f"{year}-{month:02d}-{1 + i % 28:02d}T10:{i % 60:02d}:00"
    name = f"IMG_{i:05d}.jpg"
    md = Metadata(taken_date=taken, taken_date_source="exif", filename=name, media_type="photo", format="jpeg")
    inst = Instance("pics", f"{year}/{name}", h, last_sync="2026-12-01T00:00:00Z", size=100_000 + i,
                    metadata=md)
    return Photo(photo_id=pid, content_hash=h, canonical_source=inst.key, metadata=md,
                 created_at="2026-12-01T00:00:00Z", updated_at="2026-12-01T00:00:00Z",
                 instances={"pics": (inst,)}, processing_state="resolved")


def _open(root: Path) -> Library:
    return Library.open(root, write=True, reporter=Collector())


def _change(root: Path, ids: list[str], side: str) -> None:
    with _open(root) as lib:
        for n, pid in enumerate(ids):
            p = lib.get_photo(pid)
            if n % 3 == 0:
                p = p.replace(metadata=dataclasses.replace(p.metadata, caption=f"caption from {side}"))
            elif n % 3 == 1:
                p = with_instance(p, Instance(side, f"DCIM/{pid}.jpg", p.content_hash,
                                              last_sync="2026-12-05T00:00:00Z", size=1))
            else:
                p = p.replace(blobs={**p.blobs, side: BlobCopy(side, f"2019/07/{pid}-{p.content_hash[7:]}.jpg", 1,
                                                               "2026-12-05T00:00:00Z")})
            # as photosync's phases do: the record says when it changed (a line both sides change)
            p = p.replace(updated_at="2026-12-05T01:00:00Z" if side == "laptop" else "2026-12-05T02:00:00Z")
            lib.stage(p)
            if lib.staged_count >= 500:
                lib.commit(f"bench: {side} changes")
        lib.commit(f"bench: {side} changes")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)


def run(work: Path, photos: int, changes: int, overlap: int, profile: bool = False) -> dict:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    bare = work / "bare.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    a, _ = Library.init(work / "a")
    t = time.perf_counter()
    with _open(a) as lib:
        batch = []
        for i in range(photos):
            batch.append(_photo(i))
            if len(batch) == 1000:
                for p in batch:
                    lib.stage(p)
                lib.commit("bench: records")
                batch = []
        for p in batch:
            lib.stage(p)
        lib.commit("bench: records")
        add_remote(lib, "origin", bare.as_uri())
        sync(lib)
    made = time.perf_counter() - t
    b = clone(bare.as_uri(), work / "b")
    with _open(a) as lib:
        ids = sorted(lib.photo_ids())
    mine = ids[:changes]
    theirs = ids[changes - overlap: 2 * changes - overlap]
    _change(a, mine, "laptop")
    _change(b, theirs, "nas")
    with _open(a) as lib:
        sync(lib)  # the laptop pushes first: a fast-forward for the remote
    plain = work / "plain"
    shutil.copytree(b, plain, symlinks=True)
    _git(plain, "config", "--unset", "merge.photosync.driver")
    _git(plain, "config", "--unset", "merge.photosync.name")
    # first (the sync below pushes its merge, which the pull would then only fast-forward to)
    t = time.perf_counter()
    pulled = _git(plain, "-c", "user.name=b", "-c", "user.email=b@x", "pull", "--no-rebase", "--no-edit",
                  "origin", "main")
    pull_s = time.perf_counter() - t
    t = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
    with _open(b) as lib:
        result = sync(lib)
    synced = time.perf_counter() - t
    if profile:
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    conflicted = len([line for line in _git(plain, "diff", "--name-only", "--diff-filter=U").stdout.splitlines()
                      if line])
    return {"photos": photos, "changes": changes, "overlap": overlap, "make_s": made, "sync_s": synced,
            "merged": result.merged, "taken": result.taken, "git_pull_s": pull_s, "git_pull_rc": pulled.returncode,
            "git_conflicts": conflicted}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--photos", type=int, default=10_000)
    ap.add_argument("--changes", type=int, default=2_000)
    ap.add_argument("--overlap", type=int, default=200)
    ap.add_argument("--profile", action="store_true", help="cProfile of the first sync")
    ap.add_argument("--once", action="store_true", help="only the first size")
    args = ap.parse_args()
    sizes = [(args.changes, args.overlap), (args.changes // 10, args.overlap // 10)][: 1 if args.once else 2]
    for changes, overlap in sizes:
        r = run(args.work, args.photos, changes, overlap, profile=args.profile and changes == args.changes)
        print(f"{r['photos']} photos, {r['changes']} changed on each side ({r['overlap']} on both): "
              f"photosync sync {r['sync_s']:.2f} s ({r['merged']} records merged, {r['taken']} files taken); "
              f"git pull {r['git_pull_s']:.2f} s, exit {r['git_pull_rc']}, {r['git_conflicts']} files in conflict "
              f"(library made in {r['make_s']:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
