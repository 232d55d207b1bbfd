"""Mirror mode: a target whose config says ``"mirror": true`` keeps only what its sources still have.

A photo recorded on the target that was on one of its ``upload_from`` services and is present
on none of them now (marked missing there by discover: a file deleted from the folder, a photo
removed from a shared album) is withdrawn from the target — for Amazon Photos, taken out of the
album and moved to Amazon's trash, 50 a request, never purged — and its instance there is
recorded missing, one commit per batch naming each photo. A photo that would then have fewer
than ``min_copies`` verified blob copies is refused, by name, and stays where it is (lose no
data: the service's copy may be the last good one). Safe to kill: a rerun withdraws the same
photos again (taking out of an album and trashing are idempotent) and commits them.

Nothing here reads the service: the plan comes from the records, so a run with nothing to
withdraw makes no request.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import InvalidRecord, PhotosyncError
from ..library.layout import utc_now
from ..library.library import Library
from ..model import Photo, with_instance
from .common import Connectors, make_stores

#: photos withdrawn per request batch and per commit (Amazon's trash takes at most 50 ids a request)
BATCH = 50


@dataclass
class Withdrawal:
    photo_id: str
    label: str
    service: str
    item_id: str


@dataclass
class MirrorPlan:
    actions: list[Withdrawal] = field(default_factory=list)
    #: (photo label, service, reason) of photos that stay
    refused: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class MirrorResult:
    withdrawn: int = 0
    failed: int = 0
    commits: list[str] = field(default_factory=list)


def mirrored(lib: Library) -> dict[str, list[str]]:
    """target -> its sources, for the enabled targets in mirror mode whose type can withdraw."""
    from ..connectors.registry import connector_class

    out = {}
    for name, conf in sorted(lib.services.items()):
        if not (conf.get("enabled", True) and conf.get("mirror") and conf.get("upload_from")):
            continue
        try:
            if not connector_class(conf.get("type", "")).capabilities.withdraw:
                continue
        except PhotosyncError:
            continue
        out[name] = list(conf["upload_from"])
    return out


def verified_copies(photo: Photo) -> int:
    """Blob copies of the photo that were verified and have no problem recorded (audit's finding)."""
    return sum(1 for c in photo.blobs.values() if c.verified_at and not c.problem)


def make_plan(lib: Library) -> MirrorPlan:
    plan = MirrorPlan()
    assert lib.index is not None
    min_copies = int(lib.preferences["blob_storage"].get("min_copies", 1))
    targets = mirrored(lib)
    stores = make_stores(lib) if targets else {}

    def read_back(photo: Photo) -> int:
        # as prune does before its delete: a copy counts only when it is on an active store and
        # reads back right now (a recorded verified_at says nothing of damage since)
        return sum(1 for c in photo.blobs.values()
                   if c.verified_at and not c.problem and c.store in stores
                   and stores[c.store].verify(c.locator, photo.content_hash).ok)

    for target, sources in targets.items():
        for pid, item_id in lib.index.photos_left_sources(target, sources):
            try:
                photo = lib.get_photo(pid)
            except (InvalidRecord, KeyError) as e:
                lib.report.error(getattr(e, "path", pid), f"{getattr(e, 'reason', e)}; not withdrawn from {target}")
                continue
            n = verified_copies(photo)
            if n >= min_copies:
                n = read_back(photo)
            if n < min_copies:
                plan.refused.append((photo.label, target, f"it has {n} verified cop{'y' if n == 1 else 'ies'} and "
                                     f"min_copies is {min_copies}: kept in {target} (run photosync replicate "
                                     "--execute, then it goes on the next run)"))
                continue
            plan.actions.append(Withdrawal(pid, photo.label, target, item_id))
    return plan


def execute(lib: Library, plan: MirrorPlan) -> MirrorResult:
    result = MirrorResult()
    report = lib.report
    for label, service, reason in plan.refused:
        report.warning(label, f"gone from every source of {service}, not removed from it: {reason}")
    if not plan.actions:
        return result
    connectors = Connectors(lib)
    by_service: dict[str, list[Withdrawal]] = {}
    for a in plan.actions:
        by_service.setdefault(a.service, []).append(a)
    for service, actions in by_service.items():
        try:
            conn = connectors.get(service)
        except PhotosyncError as e:
            report.error(f"service {service}", f"nothing withdrawn: {e}")
            result.failed += len(actions)
            continue
        album = lib.services[service].get("album")
        for i in range(0, len(actions), BATCH):
            batch = actions[i:i + BATCH]
            try:
                conn.withdraw([a.item_id for a in batch])  # type: ignore[attr-defined]  # capabilities.withdraw
            except PhotosyncError as e:
                report.error(f"service {service}", f"{len(batch)} photos not withdrawn: {e}")
                result.failed += len(actions) - i
                break
            now = utc_now()
            for a in batch:
                try:  # read when planned; a record that broke since is named, and the rest recorded
                    photo = lib.get_photo(a.photo_id)
                except (InvalidRecord, KeyError) as e:
                    why = e.reason if isinstance(e, InvalidRecord) else "its record is gone"
                    report.error(getattr(e, "path", a.photo_id), f"{why}; withdrawn from {service}, but its "
                                 "instance there is not marked missing (run again once the record is fixed)")
                    continue
                inst = photo.find_instance(service, a.item_id)
                if inst is not None:
                    lib.stage(with_instance(photo, dataclasses.replace(inst, missing_since=now)))
            where = f"{service}" + (f" (album {album})" if album else "")
            body = "\n".join(f"- {a.label} ({a.photo_id})" for a in batch)
            oid = lib.commit(f"mirror: {len(batch)} photo{'' if len(batch) == 1 else 's'} gone from every source "
                             f"taken out of {where} and moved to its trash\n\n{body}\n")
            if oid:
                result.commits.append(oid)
            result.withdrawn += len(batch)
            for a in batch:
                report.info(f"removed {a.label} from {where} (gone from every source; in the service's trash)")
    return result
