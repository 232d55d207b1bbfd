"""Time photosync against restic, git-annex, rclone and a hashlib floor on the
same photos, in one run, with a warm page cache.

    python bench/run.py DATA WORK [--only-photosync] [--src LABEL=TREE ...] [--best N] [--execute LABEL]

DATA is a folder made by bench/generate.py; WORK is scratch space (what it held is
removed at the end, see below).  Prints a markdown table of seconds, peak memory and
ratios.  Every tool runs as its own process under /usr/bin/time, so memory is each
process's peak RSS.  ``--src`` runs photosync from source trees (e.g. ``before=/tmp/old
after=.``), one after the other on the same data in the same run, each on its own library;
a tool that is not installed (git-annex) is left out.

Nothing is deleted before or between the timed runs: on an ext4 filesystem without a journal
(this machine's), creating a file costs 400-600 us instead of ~20 us for minutes after many
files near it were deleted (the kernel skips every inode freed in the last 60-360 s:
``recently_deleted`` in fs/ext4/ialloc.c), and a new folder lands where a deleted one was.
A WORK left by an earlier run is moved aside and deleted after the runs (so the disk holds
both meanwhile), with the probes' files; leave a few minutes between deleting a large folder
(an earlier WORK) and a run.
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

from checkout import photosync_command

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


def create_cost(folder: Path, n: int = 500) -> float:
    """Microseconds to create and write one small file in a new folder inside ``folder`` (kept:
    deleting files slows the next runs, see the module's docstring).  ~20 us on this machine's
    ext4, and 400-600 us for minutes after many files near it were deleted (bench/README.md,
    "Creating a file after many were deleted"): photosync creates two files a new photo (its record
    and its blob), restic a few pack files for the whole run, so a slow moment moves photosync's
    figures alone."""
    probe = folder / ".create-probe"
    probe.mkdir()
    t = time.perf_counter()
    for i in range(n):
        fd = os.open(probe / f"{i:08d}.json", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"x" * 1000)
        os.close(fd)
    return (time.perf_counter() - t) / n * 1e6


def photosync_runs(data: Path, work: Path, src: Path | None = None, best: int = 3, execute: bool = False) -> dict:
    PHOTOSYNC = photosync_command(src)
    lib = work / "library"
    env = {"PHOTOSYNC_CONFIG_DIR": str(work / "cfg")}
    subprocess.run([*PHOTOSYNC, "init", str(lib)], check=True, capture_output=True, env=dict(os.environ, **env))
    subprocess.run([*PHOTOSYNC, "-L", str(lib), "service", "add", "bench", "--type", "local", "--path", str(data)],
                   check=True, capture_output=True, env=dict(os.environ, **env))
    out = {}
    # --execute: discover copies into the local primary store in its one write (resolve and
    # replicate then find nothing to do, and are timed all the same)
    out["discover"] = timed([*PHOTOSYNC, "-q", "-L", str(lib), "discover", *(["--execute"] if execute else [])],
                            env=env)
    out["resolve"] = timed([*PHOTOSYNC, "-q", "-L", str(lib), "resolve", "--auto-resolve", "simple"], env=env)
    out["replicate"] = timed([*PHOTOSYNC, "-q", "-L", str(lib), "replicate", "--execute"], env=env)
    out["rediscover"] = min((timed([*PHOTOSYNC, "-q", "-L", str(lib), "discover"], env=env) for _ in range(best)),
                            key=lambda r: r[0])
    out["status"] = min((timed([*PHOTOSYNC, "-L", str(lib), "status"], env=env) for _ in range(best)),
                        key=lambda r: r[0])
    out["help"] = min((timed([*PHOTOSYNC, "--help"], env=env) for _ in range(best)), key=lambda r: r[0])
    out["git_status"] = timed(["git", "-C", str(lib), "status", "--porcelain"])
    status = json.loads(timed([*PHOTOSYNC, "-L", str(lib), "status", "--json"], env=env)[2])
    assert status["states"]["replicated"] == status["photos"], status["states"]
    out["photos"] = status["photos"]
    out["create_us"] = (create_cost(lib / "photos"), create_cost(lib / "blobs"))
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
    ap.add_argument("--src", action="append", default=[], metavar="LABEL=TREE",
                    help="run photosync from this source tree (repeat to compare trees in one run)")
    ap.add_argument("--best", type=int, default=3, help="no-change discover, status, --help: best of N")
    ap.add_argument("--execute", action="append", default=[], metavar="LABEL",
                    help="the photosync run of this --src label runs `discover --execute` (repeatable)")
    args = ap.parse_args()
    data, work = args.data.resolve(), args.work.resolve()
    trees = [(label, Path(tree).resolve()) for label, tree in (a.split("=", 1) for a in args.src)] or [("", None)]
    for path in (data, *(tree for _label, tree in trees if tree is not None)):
        if path.is_relative_to(work):
            raise SystemExit(f"{path} is inside WORK ({work}), which is emptied")
    old = None
    if work.exists():  # deleted after the runs, not before them (see the module's docstring)
        old = work.with_name(f"{work.name}.old-{os.getpid()}")
        work.rename(old)
    work.mkdir(parents=True)
    try:
        measure(data, work, trees, args)
    finally:
        # after every timed run: the old WORK and the probes' files
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        for probe in [*work.glob(".create-probe"), *work.glob("*/library/*/.create-probe")]:
            shutil.rmtree(probe, ignore_errors=True)


def measure(data: Path, work: Path, trees: list, args: argparse.Namespace) -> None:
    before = create_cost(work)
    n, size = warm(data)
    floor = min(hashlib_floor(data) for _ in range(2))
    for _label, tree in trees:
        if tree is not None:
            # every tree starts from bytecode, as an installed photosync does (pip compiles it): with
            # PYTHONDONTWRITEBYTECODE set, a source tree is otherwise compiled at every command's start
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "photosync")], check=True,
                           stdout=subprocess.DEVNULL)
    runs = {}
    for label, tree in trees:
        runs[label] = photosync_runs(data, work / (label or "photosync"), tree, args.best, label in args.execute)
    others = {} if args.only_photosync else other_tools(data, work)
    print(f"\n{n} files, {size / 1e6:.0f} MB, {next(iter(runs.values()))['photos']} photos; {os.cpu_count()} cores\n")
    print("| run | seconds | peak MB |")
    print("|---|---:|---:|")
    rows = [("hashlib floor (read + sha256, one process)", floor, None)]
    firsts = {}
    for label, ps in runs.items():
        name = f"photosync ({label})" if label else "photosync"
        first = ps["discover"][0] + ps["resolve"][0] + ps["replicate"][0]
        peak = max(ps[k][1] for k in ("discover", "resolve", "replicate", "rediscover", "status"))
        firsts[label] = (first, peak, ps)
        rows += [
            (f"{name} discover", *ps["discover"][:2]),
            (f"{name} resolve --auto-resolve simple", *ps["resolve"][:2]),
            (f"{name} replicate --execute", *ps["replicate"][:2]),
            (f"**{name} first run (sum of the three)**", first, peak),
            (f"{name} discover, no change", *ps["rediscover"][:2]),
            (f"{name} status", *ps["status"][:2]),
            (f"{name} --help", *ps["help"][:2]),
            (f"git status (same library{', ' + label if label else ''})", *ps["git_status"][:2]),
        ]
    for key, label in (("restic", "restic backup"), ("restic_rerun", "restic backup, no change"),
                       ("rclone", "rclone copy --checksum"), ("rclone_rerun", "rclone copy --checksum, no change"),
                       ("annex", "git annex add . + git commit"), ("annex_rerun", "git annex add ., no change")):
        if key in others:
            rows.append((label, *others[key][:2]))
    for label, secs, mb in rows:
        print(f"| {label} | {secs:.2f} | {'' if mb is None else mb} |")
    print()
    for label, (first, peak, ps) in firsts.items():
        name = f"photosync ({label})" if label else "photosync"
        print(f"- {name} first run / hashlib floor: {first / floor:.2f}x (target <= 4)")
        print(f"- {name} replicate --execute / hashlib floor: {ps['replicate'][0] / floor:.2f}x")
        for key, tool in (("restic", "restic backup"), ("rclone", "rclone copy --checksum"),
                          ("annex", "git annex add + commit")):
            if key in others:
                print(f"- {name} first run / {tool}: {first / others[key][0]:.2f}x"
                      + (" (target <= 1.0)" if key == "restic" else ""))
                print(f"- {name} replicate --execute / {tool}: {ps['replicate'][0] / others[key][0]:.2f}x")
        print(f"- {name} discover / hashlib floor: {ps['discover'][0] / floor:.2f}x; no-change discover: "
              f"{ps['rediscover'][0]:.2f} s; status: {ps['status'][0]:.2f} s; --help: {ps['help'][0]:.2f} s; "
              f"peak memory: {peak} MB")
        print(f"- {name} creating a file in its library's photos/ and blobs/ after its runs: "
              f"{ps['create_us'][0]:.0f} and {ps['create_us'][1]:.0f} us")
    print(f"- creating a file in WORK before the runs: {before:.0f} us (~20 us on this machine; 400-600 us "
          f"for minutes after many files were deleted: photosync creates two files a new photo, restic a "
          f"few for the whole run, so such a moment slows photosync's figures alone)")


if __name__ == "__main__":
    main()
