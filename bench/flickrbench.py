"""API calls and time for discovering a Flickr account, against the fake Flickr.

    python bench/flickrbench.py WORK [--photos 10000]

Starts tests/fakes/flickr in this process with an account of N photos (mixed
permissions, ~2 % videos, geo on some, albums, more than 4,000 uploaded in one
year), then runs the real ``photosync discover`` as its own process (under
/usr/bin/time, peak memory = its maximum RSS): a first run and a no-change
rerun.  Calls are counted by the fake, per API method; file downloads apart.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "fedcba9876543210"
LISTING = ("flickr.photos.search", "flickr.photos.recentlyUpdated", "flickr.people.getPhotos")
ALBUMS = ("flickr.photosets.getList", "flickr.photosets.getPhotos")


def run(cmd, env) -> tuple[float, int]:
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "@@%M", *cmd], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return elapsed, int(p.stderr.rsplit("@@", 1)[1].split()[0]) // 1024


def split(calls: Counter) -> tuple[int, int, int, int]:
    listing = sum(n for m, n in calls.items() if m in LISTING)
    albums = sum(n for m, n in calls.items() if m in ALBUMS)
    sizes = calls.get("flickr.photos.getSizes", 0)
    return listing, albums, sizes, sum(calls.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--photos", type=int, default=10000)
    args = ap.parse_args()
    from fakes.flickr import FakeFlickr

    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ, PHOTOSYNC_CONFIG_DIR=str(work / "config"), PHOTOSYNC_CACHE_DIR=str(work / "cache"))
    fake = FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid="12345678@N00", username="bench",
                      fullname="Bench", pro=True)
    fake.start()
    try:
        fake.populate(args.photos, seed=1)
        ps = [sys.executable, "-m", "photosync"]
        lib = work / "library"
        subprocess.run([*ps, "init", str(lib)], env=env, check=True, capture_output=True)
        add = [*ps, "-L", str(lib), "service", "add", "flickr", "--type", "flickr", "--api-key", KEY,
               "--api-secret", SECRET]
        for k, v in fake.endpoints.items():
            add += ["--endpoint", f"{k}={v}"]
        subprocess.run(add, env=env, check=True, capture_output=True)
        token, secret = fake.issue_token(perms="read")
        cred = work / "config/credentials/services/flickr.json"
        data = json.loads(cred.read_text())
        data.update(oauth_token=token, oauth_token_secret=secret, perms="read", user_nsid="12345678@N00",
                    username="bench", fullname="Bench")
        cred.write_text(json.dumps(data))
        os.chmod(cred, 0o600)

        rows = []
        for label in ("first run", "no-change rerun"):
            fake.reset_counters()
            secs, peak = run([*ps, "-q", "-L", str(lib), "discover"], env)
            rows.append((label, secs, peak, *split(Counter(fake.calls)), fake.downloads))
        videos = sum(1 for p in fake.photos.values() if p.media == "video")
        albums = len(fake.photosets)
    finally:
        fake.stop()
    print(f"\n{args.photos} photos ({videos} videos, {albums} albums) on the fake Flickr; 2 cores\n")
    print("| discover | seconds | peak MB | listing calls | album calls | getSizes (videos) | all API calls "
          "| file downloads |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, secs, peak, listing, album, sizes, total, downloads in rows:
        print(f"| {label} | {secs:.2f} | {peak} | {listing} | {album} | {sizes} | {total} | {downloads} |")
    first, rerun = rows
    print()
    print(f"- first listing: {first[3]} calls (target <= 30, plus the originals' downloads)")
    print(f"- no-change rerun: {rerun[6]} calls in all (target <= 3)")


if __name__ == "__main__":
    main()
