"""Running photosync from a given source tree (another checkout, e.g. ``git archive REV |
tar -x -C /tmp/before``), whatever photosync is installed (editable or not): the benchmarks
compare checkouts on the same data in the same run.  Imported by the scripts beside it (a
script's own folder is first on ``sys.path``)."""

from __future__ import annotations

import sys
from pathlib import Path

RUNNER = """
import os, sys
if os.environ.get("PHOTOSYNC_BENCH_RUSAGE"):  # bench/discover_ab.py: CPU of this process and of its readers
    import atexit, resource
    def _rusage():
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"@@rusage {s.ru_utime:.2f} {s.ru_stime:.2f} {c.ru_utime:.2f} {c.ru_stime:.2f}", file=sys.stderr)
    atexit.register(_rusage)
src = sys.argv.pop(1)
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, src)
import photosync
assert photosync.__file__.startswith(src), photosync.__file__
from photosync.cli.app import main
sys.argv[0] = "photosync"
main()
"""


def photosync_command(src: Path | None) -> list[str]:
    """The command line that runs photosync from ``src`` (None: the installed one)."""
    if src is None:
        return [sys.executable, "-m", "photosync"]
    return [sys.executable, "-c", RUNNER, str(Path(src).resolve())]
