"""Requests and time of a no-change cycle to an Amazon Photos album, against the fake Amazon.

    python bench/amazonbench.py WORK [--photos 5000] [--gone 120]

Starts tests/fakes/amazon in this process, makes a library whose folder source holds N small
photos and whose ``frame`` target (mirror mode) is signed in to the fake, runs the real commands
as their own processes: discover, resolve, the first ``replicate --execute`` (every photo uploaded
into the album), then a no-change cycle (``discover`` and ``replicate --execute``) three times,
then a mirror cycle after ``--gone`` files were deleted. The fake counts requests by endpoint.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def run(env, *args: str, ok=(0,)) -> float:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "photosync", *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if p.returncode not in ok:
        raise SystemExit(f"photosync {' '.join(args)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--photos", type=int, default=5000)
    ap.add_argument("--gone", type=int, default=120)
    args = ap.parse_args()
    from fakes.amazon import FakeAmazonPhotos
    from photosync.sample import generate_corpus

    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ, PHOTOSYNC_CONFIG_DIR=str(work / "config"), PHOTOSYNC_CACHE_DIR=str(work / "cache"))
    pics, lib = work / "pics", str(work / "lib")
    generate_corpus(pics, args.photos, seed=1, size=(32, 24), noise=4)
    with FakeAmazonPhotos() as fake:
        cookies = work / "cookies.txt"
        fake.write_cookies(cookies, style="netscape")
        run(env, "init", lib)
        run(env, "-L", lib, "service", "add", "pics", "--type", "local", "--path", str(pics))
        eps = [w for k, v in fake.endpoints.items() for w in ("--endpoint", f"{k}={v}")]
        run(env, "-L", lib, "service", "add", "frame", "--type", "amazon-photos", "--album", "Echo Show",
            "--upload-from", "pics", "--mirror", *eps)
        run(env, "-L", lib, "auth", "frame", "--cookies", str(cookies))
        run(env, "-q", "-L", lib, "discover")
        run(env, "-q", "-L", lib, "resolve", "--auto-resolve", "simple")
        fake.reset_counters()
        first = run(env, "-q", "-L", lib, "replicate", "--execute")
        [album] = fake.albums()
        print(f"first replicate --execute: {first:.1f} s, {fake.total_requests} requests to Amazon "
              f"({dict(sorted(fake.calls.items()))}); album holds {len(fake.album_members(album))}")
        disc, repl, reqs = [], [], []
        for _ in range(3):
            fake.reset_counters()
            disc.append(run(env, "-q", "-L", lib, "discover"))
            repl.append(run(env, "-q", "-L", lib, "replicate", "--execute"))
            reqs.append(fake.total_requests)
        print(f"no-change cycle, {args.photos} photos in the album: requests to Amazon {reqs}; "
              f"discover {statistics.median(disc):.2f} s, replicate --execute {statistics.median(repl):.2f} s "
              "(median of 3, each a new process)")
        print(f"  of which the Amazon part in process (publish and mirror plans and runs): {in_process(work, lib):.3f} s "
              "(median of 3)")
        files = sorted(p for p in pics.rglob("*") if p.is_file())
        for p in files[:args.gone]:
            p.unlink()
        run(env, "-q", "-L", lib, "discover", ok=(0, 1))  # exits 1 only for its "so many gone" warning
        fake.reset_counters()
        t = run(env, "-q", "-L", lib, "replicate", "--execute")
        print(f"mirror cycle, {args.gone} photos gone: {t:.2f} s, {fake.total_requests} requests "
              f"({dict(sorted(fake.calls.items()))}); album holds {len(fake.album_members(album))}, "
              f"trash {len(fake.trashed())}")
        assert fake.errors == []


def in_process(work: Path, lib: str) -> float:
    """Seconds of the Amazon part of a no-change replicate (the publish and mirror plans and
    their runs) in this process, without the command's start-up and the blob stores' plan."""
    from photosync.context import Context
    from photosync.events import Collector
    from photosync.library.library import Library
    from photosync.phases import mirror, publish

    times = []
    for _ in range(3):
        with Library.open(Path(lib), ctx=Context(work / "config"), reporter=Collector()) as library:
            t = time.perf_counter()
            uploads = publish.make_plan(library)
            withdrawals = mirror.make_plan(library)
            publish.execute(library, uploads)
            mirror.execute(library, withdrawals)
            times.append(time.perf_counter() - t)
            assert not uploads.actions and not withdrawals.actions
    return statistics.median(times)


if __name__ == "__main__":
    main()
