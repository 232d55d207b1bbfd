"""audit: check what the library says against what is really there.

* ``--blobs``: re-read stored originals (all, or a sample) and compare their
  SHA-256; a copy found missing or corrupt is recorded on the photo (so it no
  longer counts as a verified copy and replicate repairs it) and reported.
* ``--visibility-check``: photos a service shows at another level than the
  canonical one, the ones shown *more* widely first.
* ``--copies N``: photos with fewer than N verified copies.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator

from ..errors import InvalidRecord, PhotosyncError, UsageError
from ..library import config as cfg
from ..library.library import Library
from ..model import BlobCopy
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
    pass_finished: bool = False
    #: temp files / unfinished uploads of writers that died, removed; and those kept (a writer may be at work)
    leftovers_removed: int = 0
    leftovers_bytes: int = 0
    leftovers_kept: int = 0
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
    #: the audiences, where the levels do not say it all (family-only shown, friends only allowed)
    audience: str | None = None
    allowed: str | None = None

    @property
    def shown(self) -> str:
        return self.audience or self.current


#: photos whose copies audit --blobs reads from the index at a time (under SQLite's 999 parameters,
#: with a few stores named three times over)
AUDIT_CHUNK = 300

#: audit --fix narrows this many photos without asking; more need a yes (a prompt, or --yes)
HANDFUL = 5


def needs_confirmation(plan: list["Narrowing"]) -> bool:
    """Whether ``audit --fix`` may narrow ``plan`` only once a person said yes (a yes typed at
    a terminal, or --yes): more than a handful of copies (an imported public photostream is
    not made private by one command)."""
    return len(plan) > HANDFUL


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
                incremental: bool = False, workers: int | None = None, seed: int | None = None) -> BlobAudit:
    """Download (or read) and re-hash stored copies, streaming.

    ``incremental``: continue the current pass, skipping copies checked in it
    already (kept in the index's ``audit_progress``, saved as the checks
    complete, so a pass can be stopped and resumed, like ``git annex fsck
    --incremental``); with ``sample`` each run checks that much of the library
    until the pass is through, then a new pass starts."""
    result = BlobAudit()
    try:
        stores = make_stores(lib)
    except PhotosyncError as e:
        lib.report.error("blob storage", str(e))
        return result
    if store is not None and store not in stores:
        raise UsageError(f"--store {store}: no such active store (have: {', '.join(stores)})")
    names = [store] if store else list(stores)
    up = []
    for name in names:
        reason = stores[name].unavailable()
        if reason:
            lib.report.error(f"store {name}", f"{reason}; its copies were not checked (and not marked bad)")
        else:
            up.append(name)
    for name in up:
        try:  # a killed writer's leftovers: walking the store costs little next to reading its blobs
            cleaned = stores[name].clean_temp(thorough=True)
        except (PhotosyncError, OSError) as e:
            lib.report.warning(f"store {name}", f"could not look for leftovers of interrupted copies: {e}")
            continue
        result.leftovers_removed += cleaned.removed
        result.leftovers_bytes += cleaned.removed_bytes
        result.leftovers_kept += cleaned.kept
    assert lib.index is not None
    index = lib.index
    # the photos to check, by id; their copies are read from the index AUDIT_CHUNK photos at a time and
    # checked through a window of a few per worker (every copy of a library of 100,000 in a list, each
    # with a Future, was 3.7 GB once it had thumbnails in six stores)
    photo_ids = index.audit_photo_ids(up, unaudited=incremental)
    if incremental and not photo_ids and index.any_audited(up):
        for name in up:
            index.reset_audit(name)
        result.pass_finished = True
        lib.report.info("the previous pass checked every copy; a new pass starts")
        photo_ids = index.audit_photo_ids(up)
    n = parse_sample(sample, len(photo_ids))
    if n < len(photo_ids):
        photo_ids = sorted(random.Random(seed).sample(photo_ids, n)) if not incremental else photo_ids[:n]
    result.photos = len(photo_ids)
    chunks = [photo_ids[k:k + AUDIT_CHUNK] for k in range(0, len(photo_ids), AUDIT_CHUNK)]
    del photo_ids
    total = total_bytes = 0
    for chunk in chunks:
        n, size = index.audit_size(up, chunk, unaudited=incremental)
        total += n
        total_bytes += size
    task = lib.report.task("Verifying blobs", total=total, total_bytes=total_bytes or None)
    workers = max(1, workers or int(lib.preferences["sync_preferences"].get("max_parallel_downloads", 4)))

    def check(row):
        _pid, name, locator, content_hash, _size, _good = row
        return row, stores[name].verify(locator, content_hash)

    def checked() -> Iterator[tuple]:
        """Each copy and what its check found, in order, with at most a few checks a worker in flight."""
        window: deque = deque()
        try:
            for chunk in chunks:
                for row in index.audit_rows(up, chunk, unaudited=incremental):
                    window.append(pool.submit(check, row))
                    if len(window) >= 4 * workers:
                        yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:  # stopped (Ctrl-C, a check that raised): the checks not started yet are not run
            for f in window:
                f.cancel()

    verdicts: dict[tuple[str, str, str], str | None] = {}  # (photo, store, locator) -> problem or None
    progress: dict[str, list[str]] = {}
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="audit") as pool:
            for row, outcome in checked():
                pid, name, locator, _h, size, good = row
                key = (pid, name, locator)
                task.advance(1, size)
                result.checked += 1
                result.checked_bytes += outcome.size or 0
                if outcome.ok:
                    result.ok += 1
                    if not good:  # it was restored since the last audit
                        verdicts[key] = None
                else:
                    reason = outcome.reason or "failed"
                    label = _label(lib, pid)
                    result.problems.append(BlobProblem(pid, label, name, stores[name].uri(locator), reason))
                    lib.report.error(f"{label} ({pid})", f"copy in store {name} is {reason} ({stores[name].uri(locator)})")
                    verdicts[key] = reason
                if incremental:
                    progress.setdefault(name, []).append(pid)
                    if sum(len(v) for v in progress.values()) >= 200:
                        _save_progress(index, progress)
    finally:
        task.close()
        if incremental:
            _save_progress(index, progress)
        _record(lib, verdicts, result)
    return result


def left_in_pass(lib: Library, store: str | None) -> int:
    """Copies an incremental pass has not checked yet."""
    assert lib.index is not None
    return lib.index.audit_size([store] if store else cfg.active_stores(lib.preferences), unaudited=True)[0]


def _label(lib: Library, pid: str) -> str:
    assert lib.index is not None
    return lib.index.filename(pid) or pid


def _save_progress(index, progress: dict[str, list[str]]) -> None:
    index.begin()
    for name, ids in progress.items():
        index.mark_audited(name, ids)
    index.commit()
    progress.clear()


def _record(lib: Library, verdicts: dict, result: BlobAudit) -> None:
    """Write what changed on the photos (a copy found bad, or good again) and commit."""
    for (pid, name, locator), problem in sorted(verdicts.items()):
        try:
            photo = lib.get_photo(pid)
        except InvalidRecord as e:
            lib.report.error(e.path, f"{e.reason}; the audit result for it is not recorded")
            continue
        copy = photo.blobs.get(name)
        if copy is not None and copy.locator == locator:
            if copy.problem == problem:
                continue
            blobs = dict(photo.blobs)
            blobs[name] = BlobCopy(name, copy.locator, copy.size, copy.verified_at, problem)
            photo = photo.replace(blobs=blobs)
        elif any(c.store == name and c.locator == locator for r in photo.renditions.values()
                 for c in r.copies.values()):  # a rendition's copy (derive makes it again)
            rends = dict(photo.renditions)
            for rname, r in photo.renditions.items():
                c = r.copies.get(name)
                if c is not None and c.locator == locator and c.problem != problem:
                    rends[rname] = dataclasses.replace(
                        r, copies={**r.copies, name: dataclasses.replace(c, problem=problem)})
            if rends == dict(photo.renditions):
                continue
            photo = photo.replace(renditions=rends)
        else:  # a copy a merge set aside (superseded_blobs)
            old = photo.superseded_blobs
            new = tuple(dataclasses.replace(b, problem=problem) if (b.store, b.locator) == (name, locator) else b
                        for b in old)
            if new == old:
                continue
            photo = photo.replace(superseded_blobs=new)
        lib.stage(photo)
        if problem is None:
            result.repaired_records += 1
    bad = len(result.problems)
    msg = f"audit: {bad} blob cop{'y' if bad == 1 else 'ies'} failed verification"
    if result.repaired_records:
        msg += f", {result.repaired_records} found good again"
    oid = lib.commit(msg)
    if oid:
        result.commits.append(oid)


def audit_visibility(lib: Library) -> list[VisibilityRow]:
    assert lib.index is not None
    rows = []
    labels: dict[str, str] = {}
    fine: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for pid, service, current, canonical, wider in lib.index.discrepancy_rows():
        if pid not in labels:
            labels[pid] = _label(lib, pid)
            try:
                for d in lib.get_photo(pid).visibility.discrepancies:
                    fine[(pid, d.service)] = (d.audience, d.allowed)
            except (InvalidRecord, KeyError):
                pass
        audience, allowed = fine.get((pid, service), (None, None))
        rows.append(VisibilityRow(pid, labels[pid], service, current, canonical, bool(wider), audience, allowed))
    return rows


def audit_copies(lib: Library, n: int) -> list[tuple[str, str, int]]:
    """(photo_id, label, verified copies) for photos with fewer than ``n``."""
    assert lib.index is not None
    out = []
    for pid, count in lib.index.photos_below(n):
        out.append((pid, _label(lib, pid), count))
    return out


@dataclass
class FixResult:
    narrowed: int = 0
    failed: int = 0
    unsupported: int = 0
    commits: list[str] = field(default_factory=list)


@dataclass
class Narrowing:
    """One copy on one service that ``audit --fix`` would narrow."""

    photo_id: str
    label: str
    service: str
    item_id: str
    #: what the record says the service shows (an audience where the service has finer states)
    shown: str
    #: the most it may show (set_visibility sets the meet of this and what it shows then)
    target: str

    @property
    def expected(self) -> str:
        """What the service will show afterwards, if the record is up to date."""
        from .. import privacy as vis
        from ..model import AUDIENCE_GROUPS

        if self.shown in AUDIENCE_GROUPS and self.target in AUDIENCE_GROUPS:
            return vis.fix_audience(self.shown, self.target)
        return self.target


def plan_fix(lib: Library, rows: list[VisibilityRow]) -> tuple[list[Narrowing], int]:
    """What ``--fix`` would narrow (each copy a service shows to anyone outside what it
    may show), and how many photos' services cannot be narrowed by photosync (reported)."""
    from .. import privacy as vis
    from ..model import visibility_rank, within
    from .common import Connectors

    connectors = Connectors(lib)
    settings = vis.audience_settings(lib.services)
    plan: list[Narrowing] = []
    unsupported = 0
    for row in rows:
        if not row.wider:
            continue
        try:
            conn = connectors.get(row.service)
        except PhotosyncError as e:
            lib.report.error(f"service {row.service}", str(e))
            continue
        caps = conn.capabilities
        level = vis.upload_level(row.canonical, caps.visibility_levels)
        if not caps.set_visibility or level is None:
            lib.report.warning(f"{row.label} ({row.photo_id[:8]})",
                               f"{row.service} cannot be narrowed by photosync; change it there by hand")
            unsupported += 1
            continue
        try:
            photo = lib.get_photo(row.photo_id)
        except (InvalidRecord, KeyError) as e:
            lib.report.error(f"{row.label} ({row.photo_id[:8]})", f"not narrowed: {e}")
            continue
        allowed = None
        if caps.audiences:
            allowed = vis.allowed_audience(photo.visibility.canonical, photo.visibility.friends_audience,
                                           settings.get(row.service))
        for inst in photo.instances.get(row.service, ()):
            if inst.missing_since is not None or not inst.visibility:
                continue
            audience = vis.instance_audience(inst)
            if allowed is not None and audience is not None:
                if not within(audience, allowed):
                    plan.append(Narrowing(row.photo_id, row.label, row.service, inst.id, audience, allowed))
            elif visibility_rank(inst.visibility) > visibility_rank(row.canonical):
                # "friends" without the finer state, or a service with levels only
                plan.append(Narrowing(row.photo_id, row.label, row.service, inst.id, inst.visibility,
                                      allowed or level))
    return plan, unsupported


def fix_visibility(lib: Library, rows: list[VisibilityRow], plan: list[Narrowing] | None = None) -> FixResult:
    """Narrow each copy a service shows to anyone outside what it may show (never the
    other way: a service showing less is left as it is).  ``plan``: what plan_fix
    found (and a person confirmed); by default all of it.  Each change is made on the
    service first (which is asked how it shows the photo now, and set to the meet of
    that and what it may show), then recorded, then committed."""
    import dataclasses

    from .. import privacy as vis
    from ..conflicts.detect import visibility_discrepancies
    from ..conflicts.variants import ordered
    from ..model import AUDIENCE_GROUPS, FRIENDS_AUDIENCES, with_instance
    from .common import Connectors

    result = FixResult()
    if plan is None:
        plan, result.unsupported = plan_fix(lib, rows)
    connectors = Connectors(lib)
    settings = vis.audience_settings(lib.services)
    counts: dict[str, int] = {}
    by_photo: dict[str, list[Narrowing]] = {}
    for n in plan:
        by_photo.setdefault(n.photo_id, []).append(n)
    for pid, todo in by_photo.items():
        photo = lib.get_photo(pid)
        for n in todo:
            inst = photo.find_instance(n.service, n.item_id)
            if inst is None:
                continue
            try:
                conn = connectors.get(n.service)
                # the service is asked how it shows the photo now: the record may be out of date, and
                # a photo already narrower there is left as it is (never widened to "fix" it)
                shown = conn.set_visibility(n.item_id, n.target)
            except PhotosyncError as e:
                lib.report.error(f"{n.label} ({pid[:8]})", f"not narrowed on {n.service}: {e}")
                result.failed += 1
                continue
            if conn.capabilities.audiences:
                level, audience = vis.level_of(shown), (shown if shown in FRIENDS_AUDIENCES else None)
            else:
                level, audience = shown, None
            photo = with_instance(photo, dataclasses.replace(inst, visibility=level, audience=audience))
            before = vis.instance_audience(inst)
            if before is not None and shown in AUDIENCE_GROUPS:
                narrower = AUDIENCE_GROUPS[shown] < AUDIENCE_GROUPS[before]
            else:
                from ..model import visibility_rank

                assert inst.visibility is not None  # the plan holds only copies shown to someone
                narrower = visibility_rank(level) < visibility_rank(inst.visibility)
            if narrower:
                result.narrowed += 1
                counts[n.service] = counts.get(n.service, 0) + 1
        photo = vis.refresh(photo, settings)
        # the record's visibility conflicts follow what the services show now
        others = [c for c in photo.conflicts if c.type != "visibility_discrepancy"]
        lib.stage(photo.replace(conflicts=ordered(others + visibility_discrepancies(photo))))
    if counts:
        parts = ", ".join(f"{n} on {s}" for s, n in sorted(counts.items()))
        message = f"audit: narrowed {parts} to the photos' canonical visibility (--fix)"
    else:
        message = "audit: visibility recorded as the services show it now (--fix; nothing to narrow)"
    oid = lib.commit(message)  # no change, no commit
    if oid:
        result.commits.append(oid)
    return result
