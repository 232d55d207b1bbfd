"""Start-up of the commands a person runs most: `--help`, `status` and a no-change
`discover`, repeated (hyperfine's way: best and median of N), with each run's CPU time
besides its wall time (this machine is shared: CPU time moves less with the load), and
what each imports (`python -X importtime`, the costliest top-level modules).

    python bench/startup.py LIBRARY [--runs N] [--src TREE]

LIBRARY is a library already discovered (e.g. the one bench/run.py leaves in
WORK/<label>/library; its config dir is WORK/<label>/cfg and is found beside it).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from checkout import photosync_command


def one(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {p.stderr[-1000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imports(cmd: list[str], env: dict, top: int = 8) -> list[tuple[int, str]]:
    """The costliest top-level imports (cumulative microseconds, module)."""
    p = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, capture_output=True, text=True)
    rows = []
    for line in p.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _self, cumulative, name = line[len("import time:"):].split("|")
        # a top-level import is indented by one space only (its own imports by more)
        if cumulative.strip().isdigit() and not name.startswith("  "):
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("library", type=Path)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--src", type=Path, help="run photosync from this source tree")
    args = ap.parse_args()
    lib = args.library.resolve()
    env = dict(os.environ)
    cfg = lib.parent / "cfg"
    if cfg.is_dir():
        env["PHOTOSYNC_CONFIG_DIR"] = str(cfg)
    base = photosync_command(args.src)
    commands = {
        "--help": [*base, "--help"],
        "status": [*base, "-L", str(lib), "status"],
        "discover, no change": [*base, "-q", "-L", str(lib), "discover"],
    }
    print(f"{args.runs} runs each; load average {os.getloadavg()[0]:.1f} at the start\n")
    print("| command | best s | median s | best CPU s | median CPU s |")
    print("|---|---:|---:|---:|---:|")
    for name, cmd in commands.items():
        one(cmd, env)  # warm the page cache
        runs = [one(cmd, env) for _ in range(args.runs)]
        walls = [w for w, _c in runs]
        cpus = [c for _w, c in runs]
        print(f"| `{name}` | {min(walls):.3f} | {statistics.median(walls):.3f} | {min(cpus):.3f} | "
              f"{statistics.median(cpus):.3f} |")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end\n")
    for name, cmd in commands.items():
        if cmd[0] != sys.executable:
            continue
        costly = ", ".join(f"{mod} {us / 1000:.0f} ms" for us, mod in imports(cmd, env))
        print(f"- `{name}` imports (cumulative): {costly}")


if __name__ == "__main__":
    main()
