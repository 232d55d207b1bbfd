"""prune: free space on a source by deleting from it the photos that are safe elsewhere.

The one place in photosync that deletes from a service (``Connector.delete``, declared by
``Capabilities.delete``).  A photo's copy on the service is deleted only when all of these
hold, checked photo by photo, and each refusal names the photo and the reason:

* the service's copy is recorded and present there, and the library knows which bytes it is;
* the connector does not say it is never to be deleted (``Connector.never_deleted``: a photo in
  an iCloud Shared Library, which would be deleted for everyone who shares it);
* the photo was taken at least ``older_than`` ago (a photo without a known date is refused);
* the bytes of that copy have at least ``min_copies`` verified blob copies on the active stores,
  and each of them is read back from its store and re-hashed right before the delete
  (a copy that does not read back does not count);
* everything the delete takes with it (a service's edited rendering, a live photo's video: the
  connector's ``delete_unit``) passes the same checks.

The delete happens on the service first (to its trash: iCloud's Recently Deleted, a local
service's trash folder), then the record says so (the instance is marked missing since now), one
commit per batch naming each photo.  A kill between the two leaves a record that still calls the
copy present: the next discover (or prune) sees it gone; the photo and its blob copies are
untouched either way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..errors import ConfigError, PhotosyncError
from ..library import config as cfg
from ..library.layout import utc_now
from ..library.library import Library
from ..model import Photo
from .common import Connectors, make_stores

BATCH = 50


@dataclass
class PruneResult:
    service: str
    execute: bool
    #: (photo label, photo id, item id, where it went) deleted (or, dry run: would be)
    deleted: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: (photo label, item id, reason) refused
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    #: (photo label, item id, error) the service would not delete
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    commits: int = 0


def _label(photo: Photo) -> str:
    return photo.metadata.filename or photo.photo_id[:8]


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _age(d: timedelta) -> str:
    if d.days and not d.seconds:
        return f"{d.days} day{'s' if d.days != 1 else ''}"
    hours = round(d.total_seconds() / 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _copies_of(photo: Photo, content_hash: str) -> list[tuple[str, str]]:
    """(store, locator) of the good blob copies of ``content_hash`` the record names."""
    if content_hash == photo.content_hash:
        return [(c.store, c.locator) for c in photo.blobs.values() if c.good]
    return [(s.store, s.locator) for s in photo.superseded_blobs if s.content_hash == content_hash and s.problem is None]


def prune(lib: Library, service: str, older_than: timedelta, *, execute: bool, batch: int = BATCH,
          now: datetime | None = None) -> PruneResult:
    conf = cfg.require_service(lib.services, service)
    conn = Connectors(lib).get(service)
    if not conn.capabilities.delete:
        raise ConfigError(f"service {service} ({conf.get('type')}) cannot delete photos; prune works on a service "
                          "whose type can (icloud, local)")
    index = lib.index
    assert index is not None
    min_copies = int(lib.preferences["blob_storage"].get("min_copies", 1))
    stores = make_stores(lib)
    now = now or datetime.now(timezone.utc)
    cutoff = now - older_than
    result = PruneResult(service, execute)

    #: what discover last read of each item (its content key: the service's checksum), handed to the
    #: connector so it refuses to delete what changed since
    scan = index.scan_state(service)
    # every present item of the service, grouped by what one delete takes away
    units: dict[str, list[tuple[str, str]]] = {}
    for item_id, photo_id, _hash in sorted(index.present_items(service)):
        units.setdefault(conn.delete_unit(item_id), []).append((item_id, photo_id))

    verified: dict[tuple[str, str], bool] = {}  # (store, locator) -> read back right

    def reads_back(store: str, locator: str, content_hash: str) -> bool:
        key = (store, locator)
        if key not in verified:
            s = stores.get(store)
            verified[key] = s is not None and s.verify(locator, content_hash).ok
        return verified[key]

    def refusal(item_id: str, photo: Photo | None) -> str | None:
        if photo is None:
            return "its record cannot be read"
        inst = photo.find_instance(service, item_id)
        if inst is None or inst.missing_since:
            return "the library does not record it as present there"
        never = conn.never_deleted(item_id)
        if never is not None:
            return never
        taken = _parse_date(photo.metadata.taken_date)
        if taken is None:
            return "its date taken is not known, so its age cannot be told"
        if taken > cutoff:
            return f"taken {taken.date().isoformat()}, less than {_age(older_than)} ago"
        copies = [(s, loc) for s, loc in _copies_of(photo, inst.content_hash) if s in stores]
        if len(copies) < min_copies:
            return f"only {len(copies)} verified blob cop{'y' if len(copies) == 1 else 'ies'} on the active stores " \
                   f"(min_copies is {min_copies})"
        good = [c for c in copies if reads_back(*c, inst.content_hash)]
        if len(good) < min_copies:
            return f"only {len(good)} of its {len(copies)} blob copies read back right just now " \
                   f"(min_copies is {min_copies}); run photosync audit --blobs"
        return None

    pending: list[tuple[Photo, str, str]] = []  # (photo, item id, where)

    def commit() -> None:
        if not pending:
            return
        for photo, item_id, _where in pending:
            fresh = lib.get_photo(photo.photo_id)
            inst = fresh.find_instance(service, item_id)
            if inst is not None and not inst.missing_since:
                lib.stage(_mark_missing(fresh, service, item_id, stamp))
        names = sorted({_label(p) for p, _i, _w in pending})
        subject = f"prune: deleted {names[0]} from {service}" if len(names) == 1 else \
            f"prune: deleted {len(names)} photos from {service}"
        body = "\n".join(f"- {_label(p)} ({p.photo_id[:8]}): {service}:{i} moved to {w}" for p, i, w in pending)
        if lib.commit(f"{subject}\n\n{body}"):
            result.commits += 1
        pending.clear()

    stamp = utc_now()
    done_units = 0
    for unit, members in units.items():
        photos: dict[str, Photo | None] = {}
        reasons = []
        for item_id, photo_id in members:
            if photo_id not in photos:
                try:
                    photos[photo_id] = lib.get_photo(photo_id)
                except (PhotosyncError, KeyError):
                    photos[photo_id] = None
            why = refusal(item_id, photos[photo_id])
            if why is not None:
                reasons.append((item_id, why))
        head = photos.get(members[0][1])
        label = _label(head) if head is not None else members[0][1][:8]
        if reasons:
            for item_id, why in reasons:
                p = photos.get(dict(members)[item_id])
                result.refused.append((_label(p) if p is not None else label, item_id, why))
            if len(members) > 1 and len(reasons) < len(members):
                for item_id, _pid in members:
                    if item_id not in dict(reasons):
                        p = photos.get(dict(members)[item_id])
                        result.refused.append((_label(p) if p is not None else label, item_id,
                                               "deleted together with " + ", ".join(i for i, _ in reasons)
                                               + ", which is refused"))
            continue
        if not execute:
            for item_id, photo_id in members:
                p = photos[photo_id]
                assert p is not None
                result.deleted.append((_label(p), photo_id, item_id, "(dry run)"))
            continue
        expected = {}
        for item_id, photo_id in members:
            p = photos[photo_id]
            inst = p.find_instance(service, item_id) if p is not None else None
            assert inst is not None
            row = scan.get(item_id)
            expected[item_id] = (inst.content_hash, row.content_key if row is not None and row.content_hash ==
                                 inst.content_hash else None)
        try:
            where = conn.delete(unit, expected)
        except PhotosyncError as e:
            result.failed.append((label, unit, str(e)))
            lib.report.error(f"{service}:{unit}", f"not deleted: {e}")
            continue
        for item_id, photo_id in members:
            p = photos[photo_id]
            assert p is not None
            result.deleted.append((_label(p), photo_id, item_id, where))
            pending.append((p, item_id, where))
        done_units += 1
        if done_units % batch == 0:
            commit()
    commit()
    return result


def _mark_missing(photo: Photo, service: str, item_id: str, stamp: str) -> Photo:
    from ..model import with_instance

    inst = photo.find_instance(service, item_id)
    assert inst is not None
    return with_instance(photo, dataclasses.replace(inst, missing_since=stamp))
