"""The main thread's cost of recording photos: stage (build, check, serialise) and
commit (work tree, git index, objects, SQLite index) of N synthetic records in
batches of 500, in one process, for comparing source trees.

    PYTHONPATH=TREE python bench/commit_cost.py WORK [N]

Prints CPU seconds of this process (time.process_time: the machine is shared, wall time
is noisy) for staging and for committing, per record.
"""

from __future__ import annotations

import shutil
import sys
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
    taken = f"{2004 + n % 20}-{1 + n % 12:02d}-0{1 + n % 9}T12:00:00"
    inst = Instance(service="pictures", id=f"p/{n}.jpg", content_hash=h, last_sync=now, size=100_000,
                    metadata=Metadata(taken_date=taken, filename=f"{n}.jpg"))
    return Photo(photo_id=pid, content_hash=h, canonical_source=inst.key,
                 metadata=Metadata(taken_date=taken, taken_date_source="exif", filename=f"{n}.jpg"),
                 created_at=now, updated_at=now, instances={"pictures": (inst,)})


def main() -> None:
    work = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    if work.exists():
        shutil.rmtree(work)
    Library.init(work)
    photos = [record(i) for i in range(n)]
    lib = Library.open(work)
    staging = committing = 0.0
    for start in range(0, n, 500):
        t = time.process_time()
        for p in photos[start:start + 500]:
            lib.stage(p)
        t2 = time.process_time()
        lib.commit("batch")
        staging += t2 - t
        committing += time.process_time() - t2
    lib.close()
    import photosync
    print(f"{photosync.__file__}: {n} records: stage {staging:.2f} s ({staging / n * 1e3:.3f} ms each), "
          f"commit {committing:.2f} s ({committing / n * 1e3:.3f} ms each)")


if __name__ == "__main__":
    main()
