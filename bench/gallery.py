"""How long `photosync gallery build` takes on a large library (issue 16: 100,000 photos
under 30 s).  The library's records are generated directly (tests/galleryrecords.py: no
picture is discovered; a gallery is built from records alone).

    python bench/gallery.py generate LIBRARY N [--seed S] [--thumbnails K]
    python bench/gallery.py build LIBRARY OUT [--audience private|friends|public]

``generate`` writes N photos: dates over 2005-2025, 60 % private, 25 % friends, 15 % public,
one to three of 300 albums for a third of them, a caption and a place for half, on two or three
of four services, one copy in the local store; ``--thumbnails K`` gives the first K photos real
200 and 1200 px WebP renditions in the store (the rest show date tiles).  ``build`` runs the
real command under /usr/bin/time (peak RSS) twice: into a new folder, then again over that
build (pictures reused from it).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from galleryrecords import Spec, flush, record, with_thumbnails  # noqa: E402

from photosync.events import Collector  # noqa: E402
from photosync.library.library import Library  # noqa: E402

BATCH = 10_000


def specs(n: int, seed: int):
    rnd = random.Random(seed)
    albums = [f"Album {i:03d}" for i in range(300)]
    services = ["pics", "phone", "flickr", "nas"]
    for i in range(1, n + 1):
        level = rnd.choices(("private", "friends", "public"), (60, 25, 15))[0]
        taken = None if rnd.random() < 0.01 else (
            f"{rnd.randint(2005, 2025)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            f"T{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}")
        shown = {s: (level if s == "flickr" else None) for s in rnd.sample(services, rnd.randint(2, 3))}
        yield Spec(
            i, level, taken=taken,
            caption=f"Caption of photo {i}" if rnd.random() < 0.5 else None,
            place=(rnd.uniform(-60, 70), rnd.uniform(-180, 180)) if rnd.random() < 0.5 else None,
            camera=rnd.choice(("X100V", "EOS R5", "iPhone 15", None)),
            albums=tuple(rnd.sample(albums, rnd.randint(1, 3))) if rnd.random() < 0.33 else (),
            services=shown,
        )


def generate(root: Path, n: int, seed: int, thumbnails: int) -> None:
    if not (root / ".git").exists():
        Library.init(root)
    started = time.monotonic()
    lib = Library.open(root, write=True, reporter=Collector())
    try:
        staged = 0
        for spec in specs(n, seed):
            photo = record(spec)
            if spec.n <= thumbnails:
                photo = with_thumbnails(lib, photo, spec, (200, 1200))
            lib.stage(photo)
            staged += 1
            if staged == BATCH:
                flush(lib)
                lib.commit(f"bench: {BATCH} generated photos")
                staged = 0
                print(f"{spec.n} photos, {time.monotonic() - started:.0f} s", flush=True)
        if staged:
            flush(lib)
            lib.commit(f"bench: {staged} generated photos")
    finally:
        lib.close()
    print(f"generated {n} photos in {root} in {time.monotonic() - started:.0f} s")


def timed(args: list[str]) -> tuple[float, float, float, str]:
    """(seconds, CPU seconds, peak MB, stdout) of one photosync run under /usr/bin/time."""
    cmd = ["/usr/bin/time", "-f", "TIME %e %U %S %M", sys.executable, "-m", "photosync", "-q", *args]
    p = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", p.stderr)
    if p.returncode not in (0, 1) or not m:
        sys.exit(f"failed: {' '.join(args)}\n{p.stdout}\n{p.stderr}")
    return (float(m.group(1)), float(m.group(2)) + float(m.group(3)), int(m.group(4)) / 1024,
            p.stdout.strip())


def build(root: Path, out: Path, audience: str) -> None:
    if out.exists():
        shutil.rmtree(out)
    timed(["-L", str(root), "status"])  # the index caught up, not part of the build's time
    for label in ("new folder", "over the previous build"):
        secs, cpu, mb, said = timed(["-L", str(root), "gallery", "build", str(out), "--audience", audience])
        files = sum(1 for _ in out.rglob("*"))
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
        load = os.getloadavg()[0]
        print(f"| {audience} | {label} | {secs:.1f} | {cpu:.1f} | {mb:.0f} | {files} | {size:.0f} | {load:.1f} |"
              f"  {said.splitlines()[0]}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("library", type=Path)
    g.add_argument("n", type=int)
    g.add_argument("--seed", type=int, default=16)
    g.add_argument("--thumbnails", type=int, default=0)
    b = sub.add_parser("build")
    b.add_argument("library", type=Path)
    b.add_argument("out", type=Path)
    b.add_argument("--audience", default="private")
    a = ap.parse_args()
    if a.cmd == "generate":
        generate(a.library, a.n, a.seed, a.thumbnails)
    else:
        build(a.library, a.out, a.audience)


if __name__ == "__main__":
    main()
