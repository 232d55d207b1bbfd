"""Thumbnails (issue 16): ``photosync derive thumbnails`` against ``vipsthumbnail`` (libvips, Debian's
libvips-tools) on the same 12-megapixel JPEGs, three sizes (1200, 600, 200 px), same run, both cores.

    python bench/thumbs.py generate DATA [N]     # N 12 MP JPEGs (default 1,000; ~3 MB each)
    python bench/thumbs.py run DATA WORK [--format jpeg|webp]

``generate`` draws 20 distinct pictures with camera-like noise and writes N files from them, each
with its own EXIF (so every file has its own bytes, and photosync a photo each) but the same cost to
decode as a camera's JPEG of that size.  ``run`` makes a library of DATA (discover, not measured),
then times ``photosync derive thumbnails`` (JPEG q80 by default, as vipsthumbnail writes) and
``vipsthumbnail -s 1200``, ``-s 600``, ``-s 200`` (q80, metadata stripped) over the same files in two
processes at once (one per core; each libvips process also runs its own threads), each tool under
/usr/bin/time (peak RSS of the process; for vipsthumbnail the largest of its processes).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from checkout import photosync_command  # noqa: E402

SIZES = (1200, 600, 200)


def generate(data: Path, n: int) -> None:
    from PIL import Image

    from photosync.sample import draw_picture, exif_bytes

    data.mkdir(parents=True, exist_ok=True)
    bases = []
    for seed in range(20):
        im = draw_picture(seed + 1, (800, 600)).resize((4000, 3000), Image.Resampling.BICUBIC)
        noise = Image.effect_noise((4000, 3000), 24).convert("RGB")
        im = Image.blend(im, noise, 0.12)  # a sensor's grain: costs what a real photo costs to decode
        exif = Image.Exif()
        exif.load(exif_bytes(None, None, None, "Bench", "12MP"))
        exif[0x010E] = "UNIQUE-ID-00000000"
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90, exif=exif.tobytes())
        bases.append(buf.getvalue())
    for i in range(n):
        data_i = bases[i % len(bases)].replace(b"UNIQUE-ID-00000000", f"UNIQUE-ID-{i:08d}".encode(), 1)
        (data / f"IMG_{i:05d}.jpg").write_bytes(data_i)
    print(f"{n} files, {sum(len(b) for b in bases) / len(bases) / 1e6:.1f} MB each on average, in {data}")


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, int]:
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "@@%M", *cmd], cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return elapsed, int(p.stderr.rsplit("@@", 1)[1].split()[0]) // 1024


def vips(files: list[Path], out: Path) -> tuple[float, int]:
    """vipsthumbnail for each size, the files split over two processes at once."""
    halves = [files[0::2], files[1::2]]
    t = time.perf_counter()
    peak = 0
    for size in SIZES:
        target = out / str(size)
        target.mkdir(parents=True, exist_ok=True)
        procs = [subprocess.Popen(["/usr/bin/time", "-f", "@@%M", "vipsthumbnail", "-s", str(size), "-o",
                                   f"{target}/%s.jpg[Q=80,strip]", *map(str, half)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for half in halves]
        for p in procs:
            _out, err = p.communicate()
            if p.returncode != 0:
                raise SystemExit(f"vipsthumbnail failed: {err[-2000:]}")
            peak = max(peak, int(err.rsplit("@@", 1)[1].split()[0]) // 1024)
    return time.perf_counter() - t, peak


def run(data: Path, work: Path, fmt: str) -> None:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    files = sorted(data.glob("*.jpg"))
    ps = photosync_command(None)
    lib = work / "lib"
    subprocess.run([*ps, "init", str(lib)], check=True, capture_output=True)
    subprocess.run([*ps, "-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(data)],
                   check=True, capture_output=True)
    subprocess.run([*ps, "-q", "-L", str(lib), "discover"], capture_output=True)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["derived"] = {"thumbnails": {"sizes": list(SIZES), "format": fmt, "quality": 80}}
    prefs_path.write_text(json.dumps(prefs, indent=2))
    subprocess.run([*ps, "-L", str(lib), "status"], check=True, capture_output=True)  # commits the edit
    for f in files:  # a warm page cache for both
        f.read_bytes()
    v_s, v_mb = vips(files, work / "vips")
    p_s, p_mb = timed([*ps, "-q", "-L", str(lib), "derive", "thumbnails"])
    made = sum(1 for _ in (lib / "blobs").rglob("*.thumb-*"))
    print(f"{len(files)} JPEGs of 12 MP, sizes {', '.join(map(str, SIZES))}; {os.cpu_count()} cores")
    print("| tool | seconds | peak MB | thumbnails |")
    print("|---|---:|---:|---:|")
    print(f"| vipsthumbnail (2 processes, q80, strip) | {v_s:.1f} | {v_mb} | {3 * len(files)} |")
    print(f"| photosync derive thumbnails ({fmt} q80) | {p_s:.1f} | {p_mb} | {made} |")
    print(f"ratio photosync / vipsthumbnail: {p_s / v_s:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("data", type=Path)
    g.add_argument("n", type=int, nargs="?", default=1000)
    r = sub.add_parser("run")
    r.add_argument("data", type=Path)
    r.add_argument("work", type=Path)
    r.add_argument("--format", default="jpeg", choices=("jpeg", "webp"))
    a = ap.parse_args()
    if a.cmd == "generate":
        generate(a.data, a.n)
    else:
        run(a.data, a.work, a.format)


if __name__ == "__main__":
    main()
