"""Google Takeout import against unzip + a local-folder discover, in the same run.

    python bench/takeoutbench.py WORK [--photos 10000] [--parts 5] [--size 800x600]

Writes a generated Takeout export (tests/takeout.py: every quirk, ~100 kB JPEGs at 800x600) as zip
parts, then times, each as its own process under /usr/bin/time (peak memory = its maximum RSS):

* A: ``photosync discover`` of a ``google-takeout`` service on the parts (read in place);
* B: ``unzip -q`` of every part into one folder, then ``photosync discover`` of a ``local`` service
  on the unpacked ``Takeout/`` (the pair a person would run without the Takeout connector).

Targets (issue 14): A at most 1.2 x B, A's peak memory under 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def timed(cmd, env) -> tuple[float, int]:
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "@@%M", *cmd], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if p.returncode not in (0, 1):  # 1: finished with warnings (a Takeout's quirks are reported)
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return elapsed, int(p.stderr.rsplit("@@", 1)[1].split()[0]) // 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--photos", type=int, default=10000)
    ap.add_argument("--parts", type=int, default=5)
    ap.add_argument("--size", default="800x600")
    args = ap.parse_args()
    from takeout import generate

    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "PHOTOSYNC_CONFIG_DIR": str(work / "config"), "PHOTOSYNC_CACHE_DIR": str(work / "cache")}
    env.pop("PHOTOSYNC_LIBRARY", None)
    ps = [sys.executable, "-m", "photosync"]
    export = work / "export"
    w, _, h = args.size.partition("x")
    t = time.perf_counter()
    generate(export, args.photos, args.parts, "zip", seed=14, image_size=(int(w), int(h)))
    made = time.perf_counter() - t
    size = sum(p.stat().st_size for p in export.iterdir())

    def lib_with(name: str, *service: str) -> Path:
        lib = work / name
        subprocess.run([*ps, "init", str(lib)], env=env, check=True, capture_output=True)
        subprocess.run([*ps, "-q", "-L", str(lib), "service", "add", "src", *service], env=env, check=True,
                       capture_output=True)
        return lib

    lib_a = lib_with("lib-takeout", "--type", "google-takeout", "--path", str(export))
    a_s, a_mb = timed([*ps, "-q", "-L", str(lib_a), "discover"], env)

    unpacked = work / "unpacked"
    unpacked.mkdir()
    t = time.perf_counter()
    for part in sorted(export.iterdir()):
        subprocess.run(["unzip", "-q", "-o", str(part), "-d", str(unpacked)], check=True)
    unzip_s = time.perf_counter() - t
    lib_b = lib_with("lib-local", "--type", "local", "--path", str(unpacked / "Takeout"))
    b_s, b_mb = timed([*ps, "-q", "-L", str(lib_b), "discover"], env)
    photos_a = sum(1 for _ in (lib_a / "photos").rglob("*.json"))
    photos_b = sum(1 for _ in (lib_b / "photos").rglob("*.json"))
    print(json.dumps({
        "photos_generated": args.photos, "parts": args.parts, "export_mb": round(size / 2**20), "generate_s": round(made),
        "takeout_discover_s": round(a_s, 1), "takeout_peak_mb": a_mb, "takeout_records": photos_a,
        "unzip_s": round(unzip_s, 1), "local_discover_s": round(b_s, 1), "local_peak_mb": b_mb,
        "local_records": photos_b, "ratio": round(a_s / (unzip_s + b_s), 2),
    }, indent=2))


if __name__ == "__main__":
    main()
