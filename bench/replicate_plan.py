"""The index queries of a no-change replicate plan and of status, at N photos,
for one or more checkouts of photosync (each in its own process).

    python bench/replicate_plan.py 100000 /path/to/old/checkout .

Each checkout's index is filled with N synthetic photos (every one replicated,
its one content copied into store "local"), then each query set is timed, best
of five:

* plan: what ``replicate`` asks the index before it reads any record
  (the photos that need copies, the state counts, the photo count);
* after-run: the figure replicate prints after a run (photos still lacking a copy);
* status: the aggregates ``status`` computes once per commit.

A checkout is a folder holding the ``photosync`` package (``git archive REV
photosync schemas | tar -x -C DIR`` makes one).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = r"""
import hashlib, sys, tempfile, time, uuid
from pathlib import Path
from photosync.library.index import Index
from photosync.model import BlobCopy, Instance, Metadata, Photo

n = int(sys.argv[1])
idx = Index(Path(tempfile.mkdtemp()) / "index.sqlite")

def photo(i):
    h = "sha256:" + hashlib.sha256(str(i).encode()).hexdigest()
    pid = str(uuid.uuid5(uuid.NAMESPACE_URL, h))
    md = Metadata(taken_date=f"20{10 + i % 10}-0{1 + i % 9}-01T10:00:00", filename=f"IMG_{i}.jpg", format="jpeg")
    inst = Instance("pics", f"d/IMG_{i}.jpg", h, size=1000, metadata=md)
    return Photo(pid, h, "pics:" + inst.id, md, "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z",
                 instances={"pics": (inst,)},
                 blobs={"local": BlobCopy("local", f"x/{pid}.jpg", 1000, "2020-01-01T00:00:00Z")},
                 processing_state="replicated")

photos = [(photo(i), f"photos/{i}.json", None) for i in range(n)]
t = time.perf_counter()
for start in range(0, n, 5000):
    idx.begin(); idx.put_photos(photos[start:start + 5000]); idx.commit()
put = time.perf_counter() - t

def best(f, k=5):
    out = []
    for _ in range(k):
        t = time.perf_counter(); f(); out.append(time.perf_counter() - t)
    return min(out) * 1000

if hasattr(idx, "count_lacking"):
    plan = best(lambda: (idx.photos_needing_copies(["local"]), idx.state_counts(), idx.count_photos()))
    after = "%.1f ms" % best(lambda: idx.count_lacking(["local"]))
else:  # before issue 10: the plan asked for resolved photos and counted the discovered ones
    plan = best(lambda: (idx.photos_needing_copies(["local"]), idx.photo_ids(["discovered"])))
    after = "-"
status = best(lambda: (idx.state_counts(), idx.service_counts(), idx.store_counts(), idx.count_below(1),
                       idx.count_below(2), idx.conflict_counts(), idx.count_discrepancies()))
print(f"| {n:,} | {put:.1f} s | {plan:.1f} ms | {after} | {status:.1f} ms |")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("checkouts", nargs="+")
    args = ap.parse_args()
    print("| checkout | photos | index fill (put_photos) | no-change plan | after-run count | status aggregates |")
    print("|---|---:|---:|---:|---:|---:|")
    for checkout in args.checkouts:
        # -c puts the current folder first on the path: run from the checkout itself
        p = subprocess.run([sys.executable, "-c", CHILD, str(args.n)], capture_output=True, text=True,
                           cwd=checkout, env={"PYTHONPATH": checkout, "PATH": "/usr/bin:/bin"})
        if p.returncode:
            sys.exit(p.stderr)
        print(f"| {checkout} " + p.stdout.strip())
        sys.stdout.flush()


if __name__ == "__main__":
    main()
