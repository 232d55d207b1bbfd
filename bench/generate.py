"""Generate N synthetic photos for the benchmarks.

    python bench/generate.py OUT N [--small] [--seed S] [--camera | --heic] [--size WxH]

Default: ~100 kB JPEGs (800x600, grain) with EXIF dates over 2004-2024, camera
make and model, GPS on most, in YYYY/YYYY-MM-event/ folders.  --small makes
~3 kB photos (96x72) for metadata-cost runs at 100,000.  --camera writes them as
cameras do (EXIF first, a 160x120 thumbnail in it); --heic writes HEIC files as
phones do (the picture, its EXIF, and a thumbnail image of at most 320 pixels: libheif's
heif-enc, from Debian's libheif-examples); --size sets the picture size (4000x3000:
12-megapixel camera files; 4032x3024 a phone's).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from photosync.sample import generate_corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("--small", action="store_true", help="tiny photos (metadata-cost runs)")
    ap.add_argument("--seed", type=int, default=0)
    kind = ap.add_mutually_exclusive_group()
    kind.add_argument("--camera", action="store_true", help="EXIF first, with an embedded thumbnail, as cameras write")
    kind.add_argument("--heic", action="store_true", help="HEIC with a thumbnail image, as phones write (heif-enc)")
    ap.add_argument("--size", help="WxH pixels (default 800x600; 96x72 with --small)")
    args = ap.parse_args()
    if args.heic and args.small:
        ap.error("--small makes JPEGs of 96x72; give --heic a --size instead")
    t = time.monotonic()
    size = (96, 72) if args.small else (800, 600)
    if args.size:
        size = tuple(int(v) for v in args.size.lower().split("x"))
    if args.heic:
        paths = _heic_corpus(args.out, args.n, args.seed, size)
    else:
        paths = generate_corpus(args.out, args.n, seed=args.seed, size=size, noise=8 if args.small else 24,
                                camera=args.camera)
    total = sum(p.stat().st_size for p in paths)
    print(f"{len(paths)} photos, {total / 1e6:.1f} MB in {args.out} ({time.monotonic() - t:.1f} s)")


def _heic_corpus(out: Path, n: int, seed: int, size: tuple[int, int]) -> list[Path]:
    """The JPEG corpus, each photo encoded again as HEIC by heif-enc (its EXIF kept, a thumbnail
    of at most 320 pixels added); the JPEGs are written to a folder in memory (/dev/shm) when
    there is one, so that no files are deleted on the disk the benchmarks then time."""
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        jpegs = generate_corpus(Path(tmp), n, seed=seed, size=size, noise=24)

        def encode(jpeg: Path) -> Path:
            heic = (out / jpeg.relative_to(tmp)).with_suffix(".heic")
            heic.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["heif-enc", "-q", "60", "-t", "320", "-o", str(heic), str(jpeg)], check=True,
                           capture_output=True)
            return heic

        with ThreadPoolExecutor(os.cpu_count() or 2) as pool:  # heif-enc is a process of its own
            return list(pool.map(encode, jpegs))


if __name__ == "__main__":
    main()
