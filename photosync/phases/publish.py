"""Phase 3, second half: push resolved photos onto other services.

A service whose config names ``upload_from`` (a list of services) receives every
resolved photo found on one of those services and not on it yet, at the photo's
canonical visibility (or the nearest narrower level the service has; never
wider).  Order, as for blobs: the service stores the bytes first, then the
photo's JSON records the new instance, then the commit.  A run killed between
the upload and the commit is safe because the connector tags what it uploads
and ``find_uploaded`` asks the service for those tags before uploading: the
rerun records the earlier upload instead of sending it again.  Because a service's
search can lag behind an upload, each upload is preceded by a durable upload intent
(library/intents.py), cleared once the upload is committed; a later run (or a retry
after a lost answer) hands the intents to ``find_uploaded``, which then also looks
among the photos uploaded since, not only in the search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .. import privacy as vis
from ..conflicts.detect import cannot_take
from ..errors import InvalidRecord, PhotosyncError, SourceError, StoreError, Unsupported, VerificationError
from ..library.intents import UploadIntents
from ..library.layout import utc_now
from ..library.library import Library
from ..media.geostrip import CannotStrip
from ..model import AUDIENCES, FRIENDS_AUDIENCES, VISIBILITY_LEVELS, Instance, Photo, visibility_rank, with_instance
from ..connectors.base import ServiceItem
from .common import Connectors
from .executor import ITEM_FAILED, NOT_COUNTED, TARGET_FAILED, Executor, Fault, Stage
from .sources import Sources
#: an upload intent older than this is dropped: by then the service's search shows the upload, if
#: there was one, and find_uploaded's ordinary search finds it (the lag seen is minutes, not days)
INTENT_DAYS = 7
#: a service that fails this many uploads in a row is skipped for the rest of the run
FAILURE_LIMIT = 5


@dataclass
class UploadAction:
    photo_id: str
    label: str
    service: str
    visibility: str
    size: int | None


@dataclass
class UploadPlan:
    actions: list[UploadAction] = field(default_factory=list)
    #: (photo label, service, reason) of photos a service cannot take as they are
    refused: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(a.size or 0 for a in self.actions)


@dataclass
class UploadResult:
    uploaded: int = 0
    found: int = 0
    failed: int = 0
    #: refused at upload time as a service policy problem (a location that cannot be removed)
    refused: int = 0
    commits: list[str] = field(default_factory=list)


def _configured(lib: Library) -> dict[str, list[str]]:
    return {
        name: list(conf["upload_from"])
        for name, conf in sorted(lib.services.items())
        if conf.get("enabled", True) and conf.get("upload_from")
    }


def _can_upload(lib: Library, name: str) -> bool:
    from ..connectors.registry import connector_class

    try:
        return connector_class(lib.services[name].get("type", "")).capabilities.upload
    except PhotosyncError:
        return True  # make_plan reports the service's own error


def targets(lib: Library) -> dict[str, list[str]]:
    """service -> the services whose photos it receives (services whose type can upload:
    ``Capabilities.upload``; a type's schema gives ``upload_from`` only to those, and a type
    that declares it anyway is not sent anything)."""
    return {name: sources for name, sources in _configured(lib).items() if _can_upload(lib, name)}


def make_plan(lib: Library) -> UploadPlan:
    plan = UploadPlan()
    assert lib.index is not None
    connectors = Connectors(lib)
    settings = vis.audience_settings(lib.services)
    for target, sources in _configured(lib).items():
        try:
            caps = connectors.get(target).capabilities
            levels = caps.visibility_levels or VISIBILITY_LEVELS
        except PhotosyncError as e:
            lib.report.error(f"service {target}", str(e))
            continue
        if not caps.upload:
            lib.report.warning(f"service {target}", f"a {lib.services[target].get('type')} service cannot take "
                                                    "uploads: nothing is sent to it (its upload_from is ignored)")
            continue
        todo = lib.index.photos_to_upload(target, sources)
        if lib.services[target].get("mirror"):
            # mirror mode (phases/mirror.py) took these out when they left every source: back now, back there
            todo += lib.index.photos_back_on_sources(target, sources)
        for pid in todo:
            try:
                photo = lib.get_photo(pid)
            except InvalidRecord as e:
                lib.report.error(e.path, f"{e.reason}; not uploaded")
                continue
            problems = cannot_take(photo, caps)
            if problems:
                plan.refused.append((photo.label, target, "; ".join(problems)))
                continue
            level = vis.upload_level(photo.visibility.canonical, levels)
            if caps.audiences:
                # who may see it there, on the audiences' order: family-only goes up family-only,
                # canonical friends as the service's friends_audience (default friends only)
                level = vis.target_audience(vis.allowed_audience(
                    photo.visibility.canonical, photo.visibility.friends_audience, settings.get(target)), caps.audiences)
            # cannot_take refused a photo no level fits; an audience list holds "private" (Flickr's does), within any
            assert level is not None, f"{target}: no level or audience as narrow as {photo.visibility.canonical}"
            size = next((i.size for i in photo.all_instances()
                         if i.content_hash == photo.content_hash and i.size is not None), None)
            plan.actions.append(UploadAction(pid, photo.label, target, level, size))
    return plan


@dataclass
class _Sent:
    """A worker's result for a service that makes its items in batches: the handle of the bytes sent."""

    handle: object


class _Uploads(Stage[UploadAction, ServiceItem]):
    """publish's stage: a job uploads one photo to one service; a service that fails
    FAILURE_LIMIT uploads in a row, or refuses its sign-in or config, is failed."""

    def __init__(self, lib: Library, sources: Sources, intents: UploadIntents, result: UploadResult):
        self.lib = lib
        self.sources = sources
        self.connectors = sources.connectors
        self.intents = intents
        self.result = result
        self.now = utc_now()
        self.settings = vis.audience_settings(lib.services)
        #: service -> content hashes whose upload the next commit records (their intents go after it)
        self.settled: dict[str, set[str]] = {}
        #: service -> uploads the next commit records
        self.pending: dict[str, int] = {}
        #: service -> (action, handle) of bytes sent whose items are not made yet (upload_batch)
        self.sent: dict[str, list] = {}
        #: service -> the errors that stopped it, reported already
        self.said: dict[str, set[str]] = {}

    # -- the jobs -----------------------------------------------------------------------------
    def target(self, action: UploadAction) -> str:
        return action.service

    def size(self, action: UploadAction) -> int:
        return action.size or 0

    def prepare(self, action: UploadAction):
        try:
            photo = self.lib.get_photo(action.photo_id)
        except InvalidRecord as e:
            self.lib.report.error(e.path, f"{e.reason}; not uploaded")
            self.result.failed += 1
            return None
        conn = self.connectors.get(action.service)  # made (and checked) before the service's jobs
        service, sources, intents = action.service, self.sources, self.intents

        batched = conn.capabilities.upload_batch > 1

        def upload() -> ServiceItem:
            with sources.spool(photo, skip_service=service) as spool:
                # durable before the first byte goes: a kill or a lost answer from here on is
                # looked up (around this time) before the photo is ever sent again
                intents.begin(service, photo.photo_id, photo.content_hash, photo.metadata.filename)
                if batched:  # the bytes only: the item is made with others (finished -> _create)
                    return _Sent(conn.send_upload(photo, spool, action.size, action.visibility))  # type: ignore[return-value]
                return conn.upload(photo, spool, action.size, action.visibility)

        return upload

    def finished(self, action: UploadAction, item: ServiceItem) -> None:
        if isinstance(item, _Sent):  # bytes sent to a service that makes its items in batches
            waiting = self.sent.setdefault(action.service, [])
            waiting.append((action, item.handle))
            if len(waiting) >= self.connectors.get(action.service).capabilities.upload_batch:
                self._create(action.service)
            return
        for w in item.warnings:
            self.lib.report.warning(f"{action.label} ({action.photo_id})", w)
        shown = item.audience or item.visibility
        self.record(action, item.ref.id, item.url, item.metadata, item.size, shown,
                    content_hash=item.content_hash, quality=item.quality)
        self.result.uploaded += 1

    def finished_late(self, action: UploadAction, item: ServiceItem) -> None:
        if isinstance(item, _Sent):  # its service failed: bytes sent, no item made (nothing to record)
            return
        self.finished(action, item)

    def _create(self, service: str) -> None:
        """Make the items of the bytes sent to ``service`` (one call at a time, in its batches),
        and record them like single uploads."""
        waiting = self.sent.pop(service, [])
        if not waiting or service in self.executor.failed_targets:
            return  # (a failed service: the bytes sent make nothing, and are sent again next run)
        try:
            made = self.connectors.get(service).create_uploads([h for _, h in waiting])
        except PhotosyncError as e:
            made = [e] * len(waiting)
        for (action, _), item in zip(waiting, made):
            if isinstance(item, ServiceItem):
                self.finished(action, item)
                continue
            fault = self.failed(action, item)
            if fault.target is not None:
                self.executor.fail_target(service, fault.target)

    def failed(self, action: UploadAction, error: Exception) -> Fault:
        a, report = action, self.lib.report
        if isinstance(error, CannotStrip):
            # a service policy problem, like a format it does not take: never sent with its location
            report.warning(f"{a.label} ({a.photo_id})", f"not uploaded to {a.service} as {a.visibility}: "
                           f"{error}; a public photo's location is never published unless "
                           "upload_location_public is set (a service policy conflict)")
            self.result.refused += 1
            return NOT_COUNTED
        if isinstance(error, (SourceError, StoreError, VerificationError, Unsupported, OSError, ValueError)):
            report.error(f"{a.label} ({a.photo_id})", f"not uploaded to {a.service}: {error}")
            self.result.failed += 1
            return ITEM_FAILED
        if isinstance(error, PhotosyncError):  # sign-in and config problems stop this service
            if str(error) not in self.said.setdefault(a.service, set()):  # once, not per upload in flight
                self.said[a.service].add(str(error))
                report.error(f"service {a.service}", str(error))
            self.result.failed += 1
            return TARGET_FAILED(str(error))
        raise error

    # -- recording ----------------------------------------------------------------------------
    def record(self, action: UploadAction, item_id: str, url: str | None, metadata, size, shown: str | None = None,
               content_hash: str | None = None, quality: str | None = None) -> None:
        lib = self.lib
        photo = lib.get_photo(action.photo_id)
        if quality is None:
            quality = "original"
            if content_hash and content_hash != photo.content_hash:
                # an earlier upload of another copy of this photo (a variant merged in since): it stays
                # the photo's copy there, rated as that copy is
                same = [i for i in photo.all_instances() if i.content_hash == content_hash]
                quality = same[0].quality if same else "high"
                size = same[0].size if same else size
        # ``shown`` is an audience for services that have finer states (the level for the others)
        shown = shown or action.visibility
        level = vis.level_of(shown) if shown in AUDIENCES else shown
        inst = Instance(service=action.service, id=item_id, content_hash=content_hash or photo.content_hash,
                        quality=quality, last_sync=self.now, url=url, size=size, metadata=metadata,
                        visibility=level, audience=shown if shown in FRIENDS_AUDIENCES else None)
        lib.stage(vis.refresh(with_instance(photo, inst), self.settings))
        self.pending[action.service] = self.pending.get(action.service, 0) + 1
        self.settled.setdefault(action.service, set()).update({inst.content_hash, photo.content_hash})

    def waiting(self) -> int:
        return self.lib.staged_count

    def commit(self, final: bool) -> None:
        for service in list(self.sent):  # bytes sent: make their items before the commit records them
            self._create(service)
        if not self.pending:
            return
        parts = ", ".join(f"{n} to {s}" for s, n in sorted(self.pending.items()))
        oid = self.lib.commit(f"replicate: uploaded {parts}" + ("" if final else " (batch)"))
        if oid:
            self.result.commits.append(oid)
        self.pending.clear()
        for service, hashes in self.settled.items():
            self.intents.clear(service, hashes)  # recorded: their intents have done their work
        self.settled.clear()


def execute(lib: Library, plan: UploadPlan, workers: int | None = None) -> UploadResult:
    from .common import make_stores

    result = UploadResult()
    report = lib.report
    for label, service, reason in plan.refused:
        # recorded on the photo as a service_policy_violation (for information): not a failure of the run
        report.warning(f"{label}", f"not uploaded to {service}: {reason} (a service policy conflict)")
    if not plan.actions:
        return result
    try:
        stores = make_stores(lib)
    except PhotosyncError:
        stores = {}
    sources = Sources(lib, stores)
    connectors = sources.connectors
    workers = workers or int(lib.preferences["sync_preferences"].get("max_parallel_uploads", 4))
    batch = int(lib.preferences["sync_preferences"].get("commit_batch_size", 500))
    intents = UploadIntents(lib.private_dir)
    stage = _Uploads(lib, sources, intents, result)

    by_service: dict[str, list[UploadAction]] = {}
    for a in plan.actions:
        by_service.setdefault(a.service, []).append(a)
    task = report.task("Uploading", total=len(plan.actions), total_bytes=plan.total_bytes or None)
    try:
        with Executor(stage, workers=workers, batch=batch, task=task, failure_limit=FAILURE_LIMIT,
                      name="upload") as executor:
            for service, actions in by_service.items():
                try:
                    conn = connectors.get(service)
                    photos = {a.photo_id: lib.get_photo(a.photo_id) for a in actions}
                    # uploaded before but never recorded (a run killed after the upload), also as a copy
                    # that has since been merged into the photo as a variant: the photo is there already.
                    # Uploads started and not recorded (intents) may not show in the service's search yet.
                    attempted = _open_intents(lib, intents, service)
                    found = conn.find_uploaded({h for p in photos.values() for h in _contents(p)},
                                               attempted=attempted)
                except PhotosyncError as e:
                    report.error(f"service {service}", f"nothing uploaded: {e}")
                    result.failed += len(actions)
                    task.advance(len(actions), sum(a.size or 0 for a in actions))
                    continue
                todo = []
                for a in actions:
                    hit_hash = next((h for h in _contents(photos[a.photo_id]) if h in found), None)
                    if hit_hash is None:
                        todo.append(a)
                        continue
                    hit = found[hit_hash]
                    task.advance(1, a.size or 0)
                    photo = photos[a.photo_id]
                    try:
                        shown = _adopt(conn, photo, hit, a.visibility, report)
                        sent_hash, sent_size, quality = hit_hash, a.size, None
                        if hit_hash == photo.content_hash and conn.alters_upload(photo, a.visibility):
                            # uploaded as a copy without its location: the bytes there are that copy's
                            sent_hash, sent_size = _sent_copy(sources, conn, photo, a)
                            quality = "original" if sent_hash == hit_hash else "high"
                    except (PhotosyncError, OSError) as e:
                        report.error(f"{a.label} ({a.photo_id})", f"found on {service} as {hit[0]}, not recorded: {e}")
                        result.failed += 1
                        continue
                    stage.record(a, hit[0], None, conn.uploaded_metadata(photo, a.visibility), sent_size, shown,
                                 content_hash=sent_hash, quality=quality)
                    result.found += 1
                photos.clear()
                for failed, left in executor.run(todo).items():
                    report.error(f"service {failed}", f"keeps failing; {len(left)} uploads skipped for this run")
                    result.failed += len(left)
    finally:
        task.close()
    return result


def _open_intents(lib: Library, intents: UploadIntents, service: str) -> dict[str, float]:
    """content hash -> time of the upload intents of ``service`` whose upload is not recorded; the
    intents of recorded uploads (a run killed between its commit and their removal) are removed."""
    open_: dict[str, float] = {}
    done = []
    for intent in intents.pending(service):
        if time.time() - intent.at > INTENT_DAYS * 86400:
            done.append(intent.content_hash)
            continue
        try:
            pid = lib.find_by_hash(intent.content_hash)
            photo = lib.get_photo(pid) if pid else None
        except PhotosyncError:
            photo = None
        # recorded there (as these bytes, or as a copy the connector made of them: a public photo's
        # upload without its location has another hash)
        if photo is not None and any(i.service == service for i in photo.all_instances()):
            done.append(intent.content_hash)
        else:
            open_[intent.content_hash] = intent.at
    intents.clear(service, done)
    return open_


def _contents(photo: Photo) -> list[str]:
    """The photo's content hashes: the original's first, then its variants'."""
    rest = sorted({i.content_hash for i in photo.all_instances()} - {photo.content_hash})
    return [photo.content_hash, *rest]


def _adopt(conn, photo: Photo, hit: tuple[str, str | None], level: str, report) -> str:
    """An earlier upload found on the service (a run stopped before recording it):
    narrow it if it shows the photo more widely than ``level`` now (the canonical
    level may have narrowed since), redo the calls that follow an upload, and
    return the level it is shown at (the audience, for a service with finer states:
    asked of the service, which narrows it to the meet if it shows more)."""
    item_id, shown = hit
    shown = shown or level
    if conn.capabilities.audiences:
        shown = conn.set_visibility(item_id, level)
    elif visibility_rank(shown) > visibility_rank(level):
        shown = conn.set_visibility(item_id, level)
    for w in conn.complete_upload(photo, item_id, level):
        report.warning(f"{photo.label} ({photo.photo_id})", w)
    return shown


def _sent_copy(sources: Sources, conn, photo: Photo, action: UploadAction) -> tuple[str, int | None]:
    """(hash, size) of the bytes an upload of ``photo`` sent (the connector's copy of the
    original, made again: the same original gives the same copy)."""
    with sources.spool(photo, skip_service=action.service, purpose=" to tell which bytes were sent") as spool:
        sent, digest, size, temporary = conn.prepare_upload(photo, spool, action.size, action.visibility)
        if temporary:
            sent.close()
        return digest, size
