"""A no-change ``photosync watch`` cycle over a 5,000-item iCloud shared album, against the fake.

    python bench/icloud_watch.py WORK [--items 5000] [--runs 3]

Starts tests/fakes/icloud_shared in this process with an album of N small items (every 10th a
video, both date forms, the first call answering 330), adds it to a new library with a local store,
runs ``photosync watch --cycles 1`` once to read and copy everything, then ``photosync watch
--cycles 1`` again ``--runs`` times with nothing changed: each a new process, as a restarted
service's first cycle would be, then one process running ``--runs + 1`` no-change cycles (a long-running
watch). Prints the requests the fake saw (by endpoint), each cycle's time from its line (the library
opened, the three steps, the library closed) and each process's wall time (start-up included).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from fakes.icloud_shared import FakeICloudShared
    from fakes.tls import ca_bundle

    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ, REQUESTS_CA_BUNDLE=ca_bundle(), PHOTOSYNC_CONFIG_DIR=str(work / "config"),
               PHOTOSYNC_CACHE_DIR=str(work / "cache"), COLUMNS="200")
    env.pop("PHOTOSYNC_LIBRARY", None)
    photosync = [sys.executable, "-m", "photosync", "-L", str(work / "library")]

    def cli(*words: str) -> tuple[float, str]:
        t = time.perf_counter()
        p = subprocess.run([*photosync, *words], env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"photosync {' '.join(words)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
        return elapsed, p.stdout

    with FakeICloudShared() as fake:
        album = fake.create_album("Family")
        t = time.perf_counter()
        album.populate(args.items, videos_every=10)
        print(f"album of {args.items} items drawn in {time.perf_counter() - t:.1f} s")
        subprocess.run([sys.executable, "-m", "photosync", "init", str(work / "library")], env=env, check=True,
                       capture_output=True)
        cli("service", "add", "family", "--type", "icloud-shared", "--url", fake.url_for(album),
            "--endpoint", f"sharedstreams={fake.endpoint}")
        wall, out = cli("watch", "--cycles", "1")
        print(f"first cycle (reads and copies everything): {wall:.1f} s wall; {dict(fake.calls)} requests")
        print("  " + out.strip())
        for i in range(args.runs):
            fake.reset_counters()
            wall, out = cli("watch", "--cycles", "1")
            m = re.search(r" in ([0-9.]+) s:", out)
            print(f"no-change run {i + 1} (a new process): requests {fake.total_requests} {dict(fake.calls)}, "
                  f"cycle {m.group(1) if m else '?'} s, process {wall:.2f} s wall")
        fake.reset_counters()
        wall, out = cli("watch", "--cycles", str(args.runs + 1), "--interval", "0.2s")
        times = re.findall(r" in ([0-9.]+) s:", out)
        print(f"one process, {args.runs + 1} no-change cycles: requests {fake.total_requests} {dict(fake.calls)}, "
              f"cycles {', '.join(t + ' s' for t in times)}")


if __name__ == "__main__":
    main()
