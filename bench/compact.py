"""What merging git packs costs (``photosync.library.packs.compact``, run when a library closes with
more than 24 packs): wall time and peak Python memory of one merge, on packs this script writes.

    python bench/compact.py WORK [--objects N] [--packs K] [--src TREE]

WORK gets ``src/`` (the packs, written once with photosync's own pack writer: one big pack holding
half the objects, K - 1 small ones the rest, record-like objects of ~270 bytes) and ``run/`` (a copy
merged each time).  A first import of 100,000 photos followed by derive ends with ~540,000 objects
(``--objects`` default).  ``--src`` times another checkout's packs.py on the same packs (the same
script: its merge, and the bytes it writes, compared with this one's by the caller).  Put WORK in
/dev/shm to keep the disk out of it.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import time
import tracemalloc
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("--objects", type=int, default=540_000)
    ap.add_argument("--packs", type=int, default=25)
    ap.add_argument("--src", type=Path, help="another checkout whose photosync to use")
    args = ap.parse_args()
    if args.src is not None:
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        sys.path.insert(0, str(args.src.resolve()))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from photosync.library import packs

    print(f"packs.py from {packs.__file__}", file=sys.stderr)
    # the ledger of photosync's own packs lives at pack_dir/../../photosync/packs
    src = args.work / "src" / "objects" / "pack"
    if not src.is_dir():
        rnd = random.Random(7)

        def objects(n: int, tag: str):
            for i in range(n):
                yield 3, (b'{"photo_id": "%s-%d", "hash": "%s"}\n' % (tag.encode(), i, rnd.randbytes(40).hex().encode())) * 2

        big = args.objects // 2
        packs.write_pack(objects(big, "big"), src)
        small = (args.objects - big) // max(1, args.packs - 1)
        for k in range(args.packs - 1):
            packs.write_pack(objects(small, f"s{k}"), src)
    run = args.work / "run"
    if run.exists():
        shutil.rmtree(run)
    shutil.copytree(args.work / "src", run)
    pack_dir = run / "objects" / "pack"
    packs._record_own(pack_dir, {p.stem for p in packs.pack_files(pack_dir)})
    count = len(packs.pack_files(pack_dir))
    tracemalloc.start()
    cpu, t = time.process_time(), time.perf_counter()
    merged = packs.compact(pack_dir)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = packs.pack_files(pack_dir)
    size = sum(p.stat().st_size for p in after) / 1e6
    print(f"| {count} packs, {args.objects:,} objects | merged: {merged}, {len(after)} left ({size:.0f} MB) | "
          f"{wall:.1f} s (CPU {cpu:.1f} s) | Python peak {peak / 1e6:.1f} MB | "
          f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB |")
    print(" ".join(sorted(os.path.basename(p) for p in after)))


if __name__ == "__main__":
    main()
