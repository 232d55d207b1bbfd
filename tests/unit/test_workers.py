"""discover's worker processes: a worker that dies costs only its own items."""

from __future__ import annotations

import os

from photosync.connectors.base import ItemRef
from photosync.errors import SourceError
from photosync.phases.discover import _describe_in_processes


def crash_on_bad(ref: ItemRef):
    if ref.id == "bad":
        os._exit(11)  # like a native library crashing on one file
    return f"read {ref.id}"


def test_a_crashing_worker_costs_its_chunk_only():
    refs = [ItemRef(f"f{i}", "fp") for i in range(40)]
    refs[17] = ItemRef("bad", "fp")
    chunks = [refs[i : i + 4] for i in range(0, len(refs), 4)]
    results = dict((ref.id, out) for ref, out in _describe_in_processes(crash_on_bad, chunks, 2))
    assert set(results) == {r.id for r in refs}, "every item gets an outcome"
    assert isinstance(results["bad"], SourceError)
    crashed = [k for k, v in results.items() if isinstance(v, SourceError)]
    assert len(crashed) == 4, "only the crashing chunk is lost"
    assert results["f39"] == "read f39" and results["f0"] == "read f0"


ORPHAN = r'''
import os, sys, time
from photosync.phases.discover import _die_with_parent
out = sys.argv[1]
middle = os.getpid()
if os.fork() == 0:
    while os.getppid() == middle:  # the parent is killed before the worker can ask to die with it
        time.sleep(0.005)
    open(out + ".started", "w").write(str(os.getpid()))
    _die_with_parent(middle)
    open(out + ".survived", "w").write("the worker went on without its parent")
    os._exit(0)
os._exit(0)
'''


def test_a_worker_whose_parent_died_before_it_started_ends_itself(tmp_path):
    import subprocess
    import sys
    import time

    out = tmp_path / "worker"
    subprocess.run([sys.executable, "-c", ORPHAN, str(out)], check=True)
    deadline = time.monotonic() + 20
    started = out.with_suffix(".started")
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    pid = int(started.read_text() or 0)
    while os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1][:3] \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not out.with_suffix(".survived").exists()
