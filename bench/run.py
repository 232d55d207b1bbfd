"""Time photosync against restic, git-annex, rclone and a hashlib floor on the
same photos, in one run, with a warm page cache.

    python bench/run.py DATA WORK [--only-photosync] [--repeat R]

DATA is a folder made by bench/generate.py; WORK is scratch space (emptied).
Prints a markdown table of seconds, peak memory and ratios.  Every tool runs
as its own process under /usr/bin/time, so memory is each process's peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PHOTOSYNC = [sys.executable, "-m", "photosync"]


def timed(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB, stdout) of one command."""
    full_env = dict(os.environ, **(env or {}))
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "@@%M", *cmd], cwd=cwd, env=full_env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    rss = int(p.stderr.rsplit("@@", 1)[1].split()[0]) // 1024
    return elapsed, rss, p.stdout


def warm(data: Path) -> tuple[int, int]:
    n = size = 0
    for p in data.rglob("*"):
        if p.is_file():
            size += len(p.read_bytes())
            n += 1
    return n, size


def hashlib_floor(data: Path) -> float:
    t = time.perf_counter()
    for p in data.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                hashlib.sha256(f.read()).hexdigest()
    return time.perf_counter() - t


def photosync_runs(data: Path, work: Path) -> dict:
    lib = work / "library"
    env = {"PHOTOSYNC_CONFIG_DIR": str(work / "cfg")}
    subprocess.run([*PHOTOSYNC, "init", str(lib)], check=True, capture_output=True, env=dict(os.environ, **env))
    subprocess.run([*PHOTOSYNC, "-L", str(lib), "service", "add", "bench", "--type", "local", "--path", str(data)],
                   check=True, capture_output=True, env=dict(os.environ, **env))
    out = {}
    out["discover"] = timed([*PHOTOSYNC, "-q", "-L", str(lib), "discover"], env=env)
    out["resolve"] = timed([*PHOTOSYNC, "-q", "-L", str(lib), "resolve", "--auto-resolve", "simple"], env=env)
    out["replicate"] = timed([*PHOTOSYNC, "-q", "-L", str(lib), "replicate", "--execute"], env=env)
    out["rediscover"] = min((timed([*PHOTOSYNC, "-q", "-L", str(lib), "discover"], env=env) for _ in range(3)),
                            key=lambda r: r[0])
    out["status"] = min((timed([*PHOTOSYNC, "-L", str(lib), "status"], env=env) for _ in range(3)),
                        key=lambda r: r[0])
    out["git_status"] = timed(["git", "-C", str(lib), "status", "--porcelain"])
    status = json.loads(timed([*PHOTOSYNC, "-L", str(lib), "status", "--json"], env=env)[2])
    assert status["states"]["replicated"] == status["photos"], status["states"]
    out["photos"] = status["photos"]
    return out


def other_tools(data: Path, work: Path) -> dict:
    out = {}
    if not shutil.which("restic"):  # each tool only where it is installed (the table says which ran)
        return out
    env = {"RESTIC_PASSWORD": "bench", "RESTIC_CACHE_DIR": str(work / "restic-cache")}
    subprocess.run(["restic", "-q", "init", "--repo", str(work / "restic")], check=True, capture_output=True,
                   env=dict(os.environ, **env))
    out["restic"] = timed(["restic", "-q", "--repo", str(work / "restic"), "backup", str(data)], env=env)
    out["restic_rerun"] = timed(["restic", "-q", "--repo", str(work / "restic"), "backup", str(data)], env=env)
    if not shutil.which("rclone"):
        return out
    out["rclone"] = timed(["rclone", "copy", "--checksum", str(data), str(work / "rclone")])
    out["rclone_rerun"] = timed(["rclone", "copy", "--checksum", str(data), str(work / "rclone")])
    if not shutil.which("git-annex"):
        return out
    annex = work / "annex"
    shutil.copytree(data, annex)
    subprocess.run(["git", "init", "-q", str(annex)], check=True)
    subprocess.run(["git", "annex", "init", "-q", "bench"], cwd=annex, check=True, capture_output=True)
    add = timed(["git", "annex", "add", "-q", "."], cwd=annex)
    commit = timed(["git", "commit", "-qm", "add"], cwd=annex)
    out["annex"] = (add[0] + commit[0], max(add[1], commit[1]), "")
    out["annex_rerun"] = timed(["git", "annex", "add", "-q", "."], cwd=annex)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--only-photosync", action="store_true")
    args = ap.parse_args()
    data, work = args.data.resolve(), args.work.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    n, size = warm(data)
    floor = min(hashlib_floor(data) for _ in range(2))
    ps = photosync_runs(data, work)
    others = {} if args.only_photosync else other_tools(data, work)
    first = ps["discover"][0] + ps["resolve"][0] + ps["replicate"][0]
    peak = max(ps[k][1] for k in ("discover", "resolve", "replicate", "rediscover", "status"))
    print(f"\n{n} files, {size / 1e6:.0f} MB, {ps['photos']} photos; {os.cpu_count()} cores\n")
    print("| run | seconds | peak MB |")
    print("|---|---:|---:|")
    rows = [
        ("hashlib floor (read + sha256, one process)", floor, None),
        ("photosync discover", *ps["discover"][:2]),
        ("photosync resolve --auto-resolve simple", *ps["resolve"][:2]),
        ("photosync replicate --execute", *ps["replicate"][:2]),
        ("**photosync first run (sum of the three)**", first, peak),
        ("photosync discover, no change", *ps["rediscover"][:2]),
        ("photosync status", *ps["status"][:2]),
        ("git status (same library)", *ps["git_status"][:2]),
    ]
    for key, label in (("restic", "restic backup"), ("restic_rerun", "restic backup, no change"),
                       ("rclone", "rclone copy --checksum"), ("rclone_rerun", "rclone copy --checksum, no change"),
                       ("annex", "git annex add . + git commit"), ("annex_rerun", "git annex add ., no change")):
        if key in others:
            rows.append((label, *others[key][:2]))
    for label, secs, mb in rows:
        print(f"| {label} | {secs:.2f} | {'' if mb is None else mb} |")
    print()
    print(f"- photosync first run / hashlib floor: {first / floor:.2f}x (target <= 4)")
    print(f"- photosync replicate --execute / hashlib floor: {ps['replicate'][0] / floor:.2f}x")
    for key, label in (("restic", "restic backup"), ("rclone", "rclone copy --checksum"),
                       ("annex", "git annex add + commit")):
        if key in others:
            print(f"- photosync first run / {label}: {first / others[key][0]:.2f}x"
                  + (" (target <= 1.0)" if key == "restic" else ""))
            print(f"- photosync replicate --execute / {label}: {ps['replicate'][0] / others[key][0]:.2f}x")
    print(f"- no-change discover: {ps['rediscover'][0]:.2f} s; status: {ps['status'][0]:.2f} s; "
          f"peak memory: {peak} MB")


if __name__ == "__main__":
    main()
