"""Time `photosync discover` of two checkouts on the same folder, alternating,
each on a fresh library (what the visual signatures cost, for example).

    git worktree add /tmp/old ee9a808            # photosync before signatures
    python bench/generate.py /tmp/b1k 1000
    python bench/discover_ab.py /tmp/old . /tmp/b1k --rounds 3
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from checkout import photosync_command



def discover_seconds(src: Path, data: Path, work: Path) -> float:
    lib = work / "lib"
    shutil.rmtree(lib, ignore_errors=True)

    def ps(*args: str) -> None:
        subprocess.run([*photosync_command(src), *args], check=True, stdout=subprocess.DEVNULL)

    ps("init", str(lib))
    ps("service", "add", "pics", "--type", "local", "--path", str(data), "--library", str(lib))
    start = time.perf_counter()
    ps("discover", "--library", str(lib), "--quiet")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    for f in args.data.rglob("*"):  # warm the page cache
        if f.is_file():
            f.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for name, src in (("a", args.a.resolve()), ("b", args.b.resolve())):
                print(f"round {n + 1} {name} ({src}): discover {discover_seconds(src, args.data, Path(tmp)):.2f} s")


if __name__ == "__main__":
    main()
