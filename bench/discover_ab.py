"""Time `photosync discover` of two or more checkouts on the same folder, interleaved (a, b, a, b, ...),
each on a fresh library: wall time, the CPU of photosync's main process and of its reader
processes, and the peak memory (/usr/bin/time).  On a noisy machine the main process's CPU says more
than the wall time about a change to the main process.  Every run's library is kept until the last run
is over (the disk holds them all meanwhile): deleting files slows the file creation of the next minutes
(bench/run.py's docstring says why), so leave a few minutes between this and deleting a large folder.

    git archive bd7bcd5 photosync schemas | tar -x -C /tmp/before    # any two source trees
    python bench/generate.py /tmp/b100k 100000 --small
    python bench/discover_ab.py /tmp/b100k /tmp/before . --rounds 2 --execute
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from checkout import photosync_command


def discover_run(src: Path, data: Path, work: Path, execute: bool) -> dict[str, float]:
    """(wall s, main-process user and system CPU s, readers' user and system CPU s, peak MB) of one
    discover of ``data`` into a new library in ``work`` (a new folder: nothing is deleted until every
    run is over, as in bench/run.py, whose docstring says why)."""
    lib = work / "lib"
    work.mkdir(parents=True)
    env = dict(os.environ, PHOTOSYNC_CONFIG_DIR=str(work / "config"), PHOTOSYNC_BENCH_RUSAGE="1")

    def ps(*args: str, timed: bool = False) -> subprocess.CompletedProcess:
        cmd = [*photosync_command(src), *args]
        if timed:
            cmd = ["/usr/bin/time", "-f", "@@peak %M", *cmd]
        return subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)

    ps("init", str(lib))
    ps("service", "add", "pics", "--type", "local", "--path", str(data), "--library", str(lib))
    start = time.perf_counter()
    p = ps("discover", "--library", str(lib), "--quiet", *(["--execute"] if execute else []), timed=True)
    wall = time.perf_counter() - start
    usage = next(line for line in p.stderr.splitlines() if line.startswith("@@rusage")).split()[1:]
    peak = int(next(line for line in p.stderr.splitlines() if line.startswith("@@peak")).split()[1])
    return {"wall": wall, "main_user": float(usage[0]), "main_sys": float(usage[1]),
            "readers_user": float(usage[2]), "readers_sys": float(usage[3]), "peak_mb": peak / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("trees", type=Path, nargs="+", help="photosync source trees, run in turn")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--execute", action="store_true", help="discover --execute (copies into the local store)")
    args = ap.parse_args()
    for f in args.data.rglob("*"):  # warm the page cache
        if f.is_file():
            f.read_bytes()
    print("| round | tree | wall s | main user / sys s | readers user / sys s | peak MB |")
    print("|---:|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for k, src in enumerate(args.trees):
                r = discover_run(src.resolve(), args.data, Path(tmp) / f"round{n}-tree{k}", args.execute)
                print(f"| {n + 1} | {src} | {r['wall']:.1f} | {r['main_user']:.1f} / {r['main_sys']:.1f} | "
                      f"{r['readers_user']:.1f} / {r['readers_sys']:.1f} | {r['peak_mb']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
