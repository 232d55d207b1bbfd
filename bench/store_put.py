"""A local store's own cost: put every file of DATA into a new store folder with
W threads (as replicate does), then one flush; best of R rounds.

    python bench/store_put.py DATA WORK [--threads 4] [--rounds 3] [--verify stream|readback]

Run it with PYTHONPATH pointing at another checkout's ``photosync`` to compare
commits (bench/README.md, "Issue 13: stores").
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from photosync.context import Context
from photosync.stores import registry
from photosync.stores.base import BlobKey, StoreContext


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--verify", default=None)
    args = ap.parse_args()
    files = sorted(p for p in args.data.rglob("*") if p.is_file())
    keys = []
    t = time.perf_counter()
    for i, p in enumerate(files):  # hashed once here, as discover would have
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        keys.append((p, BlobKey(f"00000000-0000-5000-8000-{i:012d}", "sha256:" + digest,
                                "2020-01-01T00:00:00", "jpg")))
    floor = time.perf_counter() - t
    best = None
    for _ in range(args.rounds):
        if args.work.exists():
            shutil.rmtree(args.work)
        (args.work / "store").mkdir(parents=True)
        config = {"type": "local", "path": str(args.work / "store")}
        if args.verify:
            config["verify"] = args.verify
        store = registry.create("bench", config, StoreContext(args.work, Context(args.work / "cfg")))

        def put(item, store=store):  # this round's store, bound now (the pool ends within the round)
            path, key = item
            with open(path, "rb") as f:
                return store.put(key, f)

        t = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(put, keys))
        store.flush()
        elapsed = time.perf_counter() - t
        best = elapsed if best is None else min(best, elapsed)
    size = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files, {size / 1e6:.0f} MB, {args.threads} threads: put + flush best of "
          f"{args.rounds}: {best:.2f} s ({len(files) / best:.0f} files/s); hashlib floor (read + sha256, "
          f"one thread, page cache warm) {floor:.2f} s: {best / floor:.2f}x")


if __name__ == "__main__":
    main()
