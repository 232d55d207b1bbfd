"""The main thread's cost of recording photos: stage (build, check, serialise) and
commit (work tree, git index, objects, SQLite index) of N synthetic records in
batches of 500, in one process, for comparing source trees.

    PYTHONPATH=TREE python bench/commit_cost.py WORK [N] [--batch 500]

Prints CPU seconds of this process (time.process_time: the machine is shared, wall time
is noisy) for staging and for committing, per record; the commit's CPU per record of the
first and the last tenth of the commits (a commit whose cost grows with the library shows
here: the last tenth costs more than the first); the process's RSS after the commits of
each tenth and its peak (``ru_maxrss``) before and after the library's close (which
compacts git's packs).  Records are made batch by batch (memory holds one batch of them),
dated over 240 months (20 years) as a real library's are.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
import uuid
from pathlib import Path

from photosync.library.layout import utc_now
from photosync.library.library import Library
from photosync.model import Instance, Metadata, Photo


def record(n: int) -> Photo:
    h = f"sha256:{n:064x}"
    pid = str(uuid.uuid5(uuid.NAMESPACE_URL, h))
    now = utc_now()
    # 20 years x 12 months: ~420 records a month folder at 100,000, as bench/README.md's 100,000 run had
    taken = f"{2004 + (n // 12) % 20}-{1 + n % 12:02d}-0{1 + n % 9}T12:00:00"
    inst = Instance(service="pictures", id=f"p/{n}.jpg", content_hash=h, last_sync=now, size=100_000,
                    metadata=Metadata(taken_date=taken, filename=f"{n}.jpg"))
    return Photo(photo_id=pid, content_hash=h, canonical_source=inst.key,
                 metadata=Metadata(taken_date=taken, taken_date_source="exif", filename=f"{n}.jpg"),
                 created_at=now, updated_at=now, instances={"pictures": (inst,)})


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("n", type=int, nargs="?", default=10_000)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    work, n, batch = args.work, args.n, args.batch
    if work.exists():
        shutil.rmtree(work)
    Library.init(work)
    lib = Library.open(work)
    staging = committing = 0.0
    per_commit: list[float] = []
    tenth = max(1, (n // batch) // 10)
    samples: list[tuple[int, float, float]] = []
    for start in range(0, n, batch):
        photos = [record(i) for i in range(start, min(n, start + batch))]
        t = time.process_time()
        for p in photos:
            lib.stage(p)
        t2 = time.process_time()
        lib.commit("batch")
        t3 = time.process_time()
        staging += t2 - t
        committing += t3 - t2
        per_commit.append((t3 - t2) / len(photos))
        if len(per_commit) % tenth == 0:
            samples.append((start + len(photos), rss_mb(), peak_mb()))
    peak_before_close = peak_mb()
    t = time.process_time()
    lib.close()
    closing = time.process_time() - t
    import photosync

    k = max(1, len(per_commit) // 10)
    first = sum(per_commit[:k]) / k
    last = sum(per_commit[-k:]) / k
    print(f"{photosync.__file__}: {n} records: stage {staging:.2f} s ({staging / n * 1e3:.3f} ms each), "
          f"commit {committing:.2f} s ({committing / n * 1e3:.3f} ms each)")
    print(f"commit CPU a record: first {k} commits {first * 1e3:.3f} ms, last {k} commits {last * 1e3:.3f} ms "
          f"(last/first {last / first:.2f})")
    print("records  RSS MB  peak MB: " + ", ".join(f"{r}: {m:.0f} {p:.0f}" for r, m, p in samples))
    print(f"peak RSS {peak_before_close:.0f} MB before close, {peak_mb():.0f} MB after close "
          f"(close: {closing:.2f} s CPU)")


if __name__ == "__main__":
    main()
