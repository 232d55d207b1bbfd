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
