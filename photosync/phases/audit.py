"""audit: check what the library says against what is really there.

* ``--blobs``: re-read stored originals (all, or a sample) and compare their
  SHA-256; a copy found missing or corrupt is recorded on the photo (so it no
  longer counts as a verified copy and replicate repairs it) and reported.
* ``--visibility-check``: photos a service shows at another level than the
  canonical one, the ones shown *more* widely first.
* ``--copies N``: photos with fewer than N verified copies.
"""

from __future__ import annotations

import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..errors import InvalidRecord, PhotosyncError, UsageError
from ..library.library import Library
from ..model import BlobCopy, Photo
from .common import make_stores


@dataclass
class BlobProblem:
    photo_id: str
    label: str
    store: str
    locator: str
    reason: str


@dataclass
class BlobAudit:
    photos: int = 0
    checked: int = 0
    checked_bytes: int = 0
    ok: int = 0
    repaired_records: int = 0
    problems: list[BlobProblem] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)


@dataclass
class VisibilityRow:
    photo_id: str
    label: str
    service: str
    current: str
    canonical: str
    wider: bool


def parse_sample(sample: str | None, population: int) -> int:
    """--sample 10% or --sample 250 -> how many photos to check."""
    if sample is None:
        return population
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*", sample)
    if m:
        pct = float(m.group(1))
        if not 0 < pct <= 100:
            raise UsageError(f"--sample {sample}: a percentage must be between 0 and 100")
        return min(population, max(1, round(population * pct / 100))) if population else 0
    if sample.strip().isdigit():
        return min(population, int(sample))
    raise UsageError(f"--sample {sample!r}: use a percentage like 10% or a count like 500")


def audit_blobs(lib: Library, *, sample: str | None = None, store: str | None = None,
                workers: int | None = None, seed: int | None = None) -> BlobAudit:
    result = BlobAudit()
    try:
        stores = make_stores(lib)
    except PhotosyncError as e:
        lib.report.error("blob storage", str(e))
        return result
    if store is not None and store not in stores:
        raise UsageError(f"--store {store}: no such active store (have: {', '.join(stores)})")
    down = {}
    for name, st in stores.items():
        reason = st.unavailable()
        if reason:
            down[name] = reason
            lib.report.error(f"store {name}", f"{reason}; its copies were not checked (and not marked bad)")
    assert lib.index is not None
    ids = lib.index.photos_with_copies(store)
    n = parse_sample(sample, len(ids))
    chosen = sorted(random.Random(seed).sample(ids, n)) if n < len(ids) else ids
    jobs: list[tuple[Photo, BlobCopy]] = []
    for pid in chosen:
        try:
            photo = lib.get_photo(pid)
        except InvalidRecord as e:
            lib.report.error(e.path, f"{e.reason}; not audited")
            continue
        result.photos += 1
        for name, copy in sorted(photo.blobs.items()):
            if (store is None or name == store) and name in stores and name not in down:
                jobs.append((photo, copy))
    total_bytes = sum(c.size for _, c in jobs)
    task = lib.report.task("Verifying blobs", total=len(jobs), total_bytes=total_bytes or None)
    workers = workers or int(lib.preferences["sync_preferences"].get("max_parallel_downloads", 4))

    def check(job):
        photo, copy = job
        return job, stores[copy.store].verify(copy.locator, photo.content_hash)

    changed: dict[str, Photo] = {}
    try:
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="audit") as pool:
            for (photo, copy), outcome in pool.map(check, jobs):
                task.advance(1, copy.size)
                result.checked += 1
                result.checked_bytes += outcome.size or 0
                current = changed.get(photo.photo_id, photo)
                if outcome.ok:
                    result.ok += 1
                    if copy.problem is not None:  # it was restored since the last audit
                        blobs = dict(current.blobs)
                        blobs[copy.store] = BlobCopy(copy.store, copy.locator, copy.size, copy.verified_at, None)
                        changed[photo.photo_id] = current.replace(blobs=blobs)
                        result.repaired_records += 1
                    continue
                reason = outcome.reason or "failed"
                result.problems.append(BlobProblem(photo.photo_id, photo.label, copy.store,
                                                   stores[copy.store].uri(copy.locator), reason))
                lib.report.error(f"{photo.label} ({photo.photo_id})",
                                 f"copy in store {copy.store} is {reason} ({stores[copy.store].uri(copy.locator)})")
                if copy.problem != reason:
                    blobs = dict(current.blobs)
                    blobs[copy.store] = BlobCopy(copy.store, copy.locator, copy.size, copy.verified_at, reason)
                    changed[photo.photo_id] = current.replace(blobs=blobs)
    finally:
        task.close()
    for photo in changed.values():
        lib.stage(photo)
    bad = len(result.problems)
    msg = f"audit: {bad} blob cop{'y' if bad == 1 else 'ies'} failed verification"
    if result.repaired_records:
        msg += f", {result.repaired_records} found good again"
    oid = lib.commit(msg)
    if oid:
        result.commits.append(oid)
    return result


def audit_visibility(lib: Library) -> list[VisibilityRow]:
    assert lib.index is not None
    rows = []
    labels: dict[str, str] = {}
    for pid, service, current, canonical, wider in lib.index.discrepancy_rows():
        if pid not in labels:
            row = lib.index.db.execute("SELECT filename FROM photos WHERE photo_id=?", (pid,)).fetchone()
            labels[pid] = (row[0] if row else None) or pid
        rows.append(VisibilityRow(pid, labels[pid], service, current, canonical, bool(wider)))
    return rows


def audit_copies(lib: Library, n: int) -> list[tuple[str, str, int]]:
    """(photo_id, label, verified copies) for photos with fewer than ``n``."""
    assert lib.index is not None
    out = []
    for pid, count in lib.index.photos_below(n):
        row = lib.index.db.execute("SELECT filename FROM photos WHERE photo_id=?", (pid,)).fetchone()
        out.append((pid, (row[0] if row else None) or pid, count))
    return out
