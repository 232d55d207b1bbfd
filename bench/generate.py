"""Generate N synthetic photos for the benchmarks.

    python bench/generate.py OUT N [--small] [--seed S] [--camera] [--size WxH]

Default: ~100 kB JPEGs (800x600, grain) with EXIF dates over 2004-2024, camera
make and model, GPS on most, in YYYY/YYYY-MM-event/ folders.  --small makes
~3 kB photos (96x72) for metadata-cost runs at 100,000.  --camera writes them as
cameras do (EXIF first, a 160x120 thumbnail in it); --size sets the picture size
(4000x3000: 12-megapixel camera files).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from photosync.sample import generate_corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("--small", action="store_true", help="tiny photos (metadata-cost runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--camera", action="store_true", help="EXIF first, with an embedded thumbnail, as cameras write")
    ap.add_argument("--size", help="WxH pixels (default 800x600; 96x72 with --small)")
    args = ap.parse_args()
    t = time.monotonic()
    size = (96, 72) if args.small else (800, 600)
    if args.size:
        size = tuple(int(v) for v in args.size.lower().split("x"))
    paths = generate_corpus(args.out, args.n, seed=args.seed, size=size, noise=8 if args.small else 24,
                            camera=args.camera)
    total = sum(p.stat().st_size for p in paths)
    print(f"{len(paths)} photos, {total / 1e6:.1f} MB in {args.out} ({time.monotonic() - t:.1f} s)")


if __name__ == "__main__":
    main()
