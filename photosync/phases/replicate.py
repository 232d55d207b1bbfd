"""Phase 3, replicate: copy every content of every photo (its original, and the
other bytes it holds: merged variants, former originals) into every active blob
store, verified, then record it.

Every photo's bytes are stored whatever its conflicts: originals are
content-addressed, so a question a person has not answered yet changes nothing
about which bytes to keep.  Only the state waits for resolve (``replicated`` =
resolved and every content in every active store), and so do uploads to
services (phases/publish.py).

Write order (restic's): the store writes and verifies the bytes, ``flush``
makes them durable, and only then does the photo's JSON record the copy, in a
commit per batch.  A run killed at any moment leaves blobs that no JSON points
at (harmless: the rerun finds them, checks their hash and records them without
copying again), never a JSON that points at an unverified blob.  A store that
fails (a put, or its flush) is reported once and skipped for the rest of the
run: the copies it had not made durable are not recorded, the other stores'
are.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..errors import InvalidRecord, PhotosyncError, SourceError, StoreError, VerificationError
from ..library import config as cfg
from ..library.index import CopyNeeds
from ..library.layout import utc_now
from ..library.library import Library
from ..model import BlobCopy, Photo, SupersededBlob
from ..stores.base import BlobStore, StoredBlob
from ..stores.naming import blob_key, content_size
from .common import counted, make_stores
from .executor import ITEM_FAILED, TARGET_FAILED, Executor, Fault, Stage
from .sources import Sources, SourceStream


@dataclass(slots=True)
class CopyAction:
    photo_id: str
    label: str
    store: str
    size: int | None
    repair: bool = False
    #: the content to copy ("" for the photo's canonical content)
    content_hash: str = ""


@dataclass
class Plan:
    stores: list[str]
    actions: list[CopyAction] = field(default_factory=list)
    #: resolved photos whose copies are all in place: only their state moves on to replicated
    complete: list[str] = field(default_factory=list)
    #: photos not resolved yet (their bytes are copied all the same)
    waiting: int = 0
    #: photos in the library
    total: int = 0

    @property
    def total_bytes(self) -> int:
        return sum(a.size or 0 for a in self.actions)

    @property
    def photos(self) -> int:
        """Photos that lack a copy of some content in some store."""
        return len({a.photo_id for a in self.actions})


@dataclass
class ReplicateResult:
    #: copies written (and recorded), and their bytes
    copied: int = 0
    copied_bytes: int = 0
    #: copies found in a store already, verified against the source, and recorded
    already_there: int = 0
    photos_replicated: int = 0
    #: copies not made or not recorded
    failed: int = 0
    #: store -> copies recorded in it (written or found in place)
    stored: dict[str, int] = field(default_factory=dict)
    #: store -> why it was skipped for the rest of the run
    skipped_stores: dict[str, str] = field(default_factory=dict)
    #: photos that still lack a copy of some content in some active store, after the run
    lacking: int = 0
    commits: list[str] = field(default_factory=list)


def missing_copies(photo: Photo, stores: list[str]) -> list[tuple[str, str, bool]]:
    """(content hash, store, repair) for every content of ``photo`` that has no
    good copy in one of ``stores``; repair when a copy of it there is recorded
    but was found missing or corrupt."""
    stored = photo.stored_contents()
    out = []
    for h in photo.contents():
        for name in stores:
            if h in stored.get(name, ()):
                continue
            if h == photo.content_hash:
                repair = name in photo.blobs
            else:
                repair = any(b.store == name and b.content_hash == h for b in photo.superseded_blobs)
            out.append((h, name, repair))
    return out


def missing_in_index(needs: CopyNeeds, stores: list[str]) -> list[tuple[str, str, bool]]:
    """``missing_copies`` of a photo as the index has it (the same answer, from its
    rows: the index is derived from the same records)."""
    own = needs.content_hash
    stored: dict[str, set[str]] = {}
    for name, good in needs.copies:
        if good:
            stored.setdefault(name, set()).add(own)
    for name, h, good in needs.old_copies:
        if good and h != own:
            stored.setdefault(name, set()).add(h)
    out = []
    for h in [own, *sorted(set(needs.hashes) - {own})]:
        for name in stores:
            if h in stored.get(name, ()):
                continue
            if h == own:
                repair = any(store == name for store, _good in needs.copies)
            else:
                repair = any(store == name and oh == h for store, oh, _good in needs.old_copies)
            out.append((h, name, repair))
    return out


def _size(needs: CopyNeeds, h: str) -> int | None:
    """The size of one content, as naming.content_size gives it.  (Its blob's name is made when
    the copy is: kept in the plan, the names were 16 MB of a replicate of 100,000 photos.)"""
    insts = sorted((i for i in needs.items if i[0] == h), key=lambda i: (i[4], i[3], i[2]))  # naming.content_instance's order
    return next((i[1] for i in insts if i[1] is not None), None)


def make_plan(lib: Library) -> Plan:
    """The copies to make, from the index alone: no record is read (each is read once,
    when its first copy is prepared, and that parse serves its commit too)."""
    stores = cfg.active_stores(lib.preferences)
    plan = Plan(stores=stores)
    assert lib.index is not None
    plan.waiting = lib.index.state_counts().get("discovered", 0)
    plan.total = lib.index.count_photos()
    for needs in lib.index.copy_needs(stores):
        pid = needs.photo_id
        missing = missing_in_index(needs, stores)
        if not missing:
            if needs.state == "resolved":
                plan.complete.append(pid)
            continue
        label = needs.filename or pid
        for h, store, repair in missing:
            canonical = h == needs.content_hash
            plan.actions.append(CopyAction(pid, label, store, _size(needs, h), repair, "" if canonical else h))
    return plan


def with_copy(photo: Photo, name: str, blob: StoredBlob, now: str, primary_uri: str | None) -> Photo:
    """The photo with its original's verified, durable copy in store ``name`` recorded
    (``primary_uri``: where it is, when ``name`` is the primary store)."""
    copies = dict(photo.blobs)
    copies[name] = BlobCopy(name, blob.locator, blob.size, now)
    changes: dict = {"blobs": copies}
    if primary_uri is not None:
        changes["source_of_truth_path"] = primary_uri
    return photo.replace(**changes)


def replicated(photo: Photo, stores: list[str]) -> bool:
    """Whether a photo's state moves on to ``replicated``: resolved, and every content of
    it in every active store."""
    return photo.processing_state == "resolved" and set(stores) <= photo.whole_in()


class _Copier:
    """Puts a content of a photo into a store from the first source that gives its bytes."""

    def __init__(self, sources: Sources):
        self.sources = sources
        self.stores = sources.stores

    def copy(self, photo: Photo, store_name: str, content_hash: str | None = None) -> StoredBlob:
        h = content_hash or photo.content_hash
        store = self.stores[store_name]
        key = blob_key(photo, h)
        size = content_size(photo, h)
        tried = []
        for source in self.sources.of(photo, h):
            if source.store == store_name:
                continue
            try:
                stream = source.open()
            except (PhotosyncError, OSError) as e:
                tried.append(f"{source.where}: {e}")
                continue
            try:
                with SourceStream(stream, source.where) as guarded:
                    return store.put(key, guarded, size)
            except (VerificationError, SourceError) as e:
                tried.append(f"{source.where}: {e}")
                continue
        detail = "; ".join(tried) if tried else "no copy of it is known"
        what = "the original" if h == photo.content_hash else f"its other content {h[7:19]}"
        raise SourceError(f"no readable source for {what} ({detail})")


def _why(name: str, e: Exception) -> str:
    """A store failure as a sentence (without a repeated 'store NAME: ')."""
    if isinstance(e, OSError) and e.strerror:
        text = f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    else:
        text = str(e)
    prefix = f"store {name}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def commit_message(stored: dict[str, int], replicated: int) -> str | None:
    """'replicate: 308 photo copies stored in local, 12 in nas; 5 photos now
    replicated': each store with its own count, only stores that got copies."""
    parts = [(name, n) for name, n in stored.items() if n]
    text = ""
    if parts:
        (first, n), rest = parts[0], parts[1:]
        text = f"{counted(n, 'photo copy', 'photo copies')} stored in {first}"
        text += "".join(f", {m} in {name}" for name, m in rest)
    if replicated:
        text += ("; " if text else "") + f"{counted(replicated, 'photo')} now replicated"
        if not parts:
            text += " (every copy was in place)"
    return f"replicate: {text}" if text else None


class _Copies(Stage[CopyAction, StoredBlob]):
    """replicate's stage: a job copies one content of one photo into one store; a store
    whose put or flush fails is failed (its unflushed copies are not recorded)."""

    def __init__(self, lib: Library, plan: Plan, stores: dict[str, BlobStore], result: ReplicateResult):
        self.lib = lib
        self.plan = plan
        self.stores = stores
        self.result = result
        self.sources = Sources(lib, stores)
        self.copier = _Copier(self.sources)
        self.primary = lib.preferences["blob_storage"]["primary"]
        self.now = utc_now()
        #: verified copies not yet made durable, per store: recorded only after that store's flush
        self.pending: dict[str, list[tuple[CopyAction, StoredBlob]]] = {name: [] for name in stores}
        self.replicated_in_batch = 0

    # -- the jobs -----------------------------------------------------------------------------
    def target(self, action: CopyAction) -> str:
        return action.store

    def size(self, action: CopyAction) -> int:
        return action.size or 0

    def prepare(self, action: CopyAction):
        try:
            photo = self.lib.get_photo(action.photo_id)
        except InvalidRecord as e:
            self.lib.report.error(e.path, f"{e.reason}; not replicated")
            self.result.failed += 1
            return None
        return functools.partial(self.copier.copy, photo, action.store, action.content_hash or None)

    def finished(self, action: CopyAction, blob: StoredBlob) -> None:
        self.pending[action.store].append((action, blob))

    def finished_late(self, action: CopyAction, blob: StoredBlob) -> None:
        self.result.failed += 1  # put before the store failed: not flushed, not recorded

    def failed(self, action: CopyAction, error: Exception) -> Fault:
        if isinstance(error, (SourceError, VerificationError)):
            self.lib.report.error(f"{action.label} ({action.photo_id})", f"not copied to {action.store}: {error}")
            self.result.failed += 1
            return ITEM_FAILED
        if isinstance(error, (StoreError, OSError)):
            self.result.failed += 1
            return TARGET_FAILED(_why(action.store, error))
        raise error

    def target_failed(self, name: str, reason: str) -> None:
        self.sources.disabled.add(name)  # not read from either
        lost = self.pending[name]
        self.pending[name] = []
        self.result.failed += len(lost)
        self.result.skipped_stores[name] = reason
        it = "it" if len(lost) == 1 else "them"
        note = (f"; {counted(len(lost), 'verified copy', 'verified copies')} of this batch not recorded "
                f"(the next run checks {it} and records {it})" if lost else "")
        self.lib.report.error(f"store {name}", f"{reason}; skipped for the rest of this run{note}")

    # -- recording ----------------------------------------------------------------------------
    def waiting(self) -> int:
        return sum(len(v) for v in self.pending.values())

    def record(self, photo: Photo, action: CopyAction, blob: StoredBlob) -> Photo:
        name = action.store
        if not action.content_hash:
            return with_copy(photo, name, blob, self.now,
                             self.stores[name].uri(blob.locator) if name == self.primary else None)
        h = action.content_hash
        # the new copy replaces a record of the same file, and records of copies of these
        # bytes in this store that were found missing or corrupt (the bad bytes stay where
        # they are; git history keeps the record)
        kept = [b for b in photo.superseded_blobs
                if (b.store, b.locator) != (name, blob.locator)
                and not (b.store == name and b.content_hash == h and b.problem is not None)]
        kept.append(SupersededBlob(name, blob.locator, blob.size, self.now, h))
        return photo.replace(superseded_blobs=tuple(kept))

    def promote(self, photo: Photo) -> Photo:
        if replicated(photo, self.plan.stores):
            self.result.photos_replicated += 1
            self.replicated_in_batch += 1
            return photo.replace(processing_state="replicated")
        return photo

    def commit(self, final: bool) -> None:
        lib, result = self.lib, self.result
        durable: list[tuple[CopyAction, StoredBlob]] = []
        for name in list(self.pending):
            items = self.pending[name]
            if not items:
                continue
            try:
                self.stores[name].flush()  # bytes durable before any JSON records them
            except (StoreError, OSError) as e:
                self.executor.fail_target(name, _why(name, e))
                continue
            durable.extend(items)
            self.pending[name] = []
        stored: dict[str, int] = {}
        # every copy of a photo in this batch, then its state, go into one staged record: one
        # serialisation and schema check a photo (two before: 40 % of replicate's main thread)
        by_photo: dict[str, list[tuple[CopyAction, StoredBlob]]] = {}
        for action, blob in durable:
            by_photo.setdefault(action.photo_id, []).append((action, blob))
        for pid, items in by_photo.items():
            try:
                photo = lib.get_photo(pid)  # read when its first copy was prepared: not read again
            except InvalidRecord as e:
                for action, _blob in items:
                    lib.report.error(e.path, f"{e.reason}; its copy in {action.store} is not recorded")
                result.failed += len(items)
                continue
            for action, blob in items:
                photo = self.record(photo, action, blob)
                stored[action.store] = stored.get(action.store, 0) + 1
                result.stored[action.store] = result.stored.get(action.store, 0) + 1
                if blob.reused:
                    result.already_there += 1
                else:
                    result.copied += 1
                    result.copied_bytes += blob.size
            # read (and checked) this run, changed only by the copies photosync just verified
            lib.stage(self.promote(photo), checked=True)
        msg = commit_message({name: stored.get(name, 0) for name in self.stores}, self.replicated_in_batch)
        if msg is not None:
            oid = lib.commit(msg if final else msg + " (batch)")
            if oid:
                result.commits.append(oid)
        self.replicated_in_batch = 0


def execute(lib: Library, plan: Plan, workers: int | None = None) -> ReplicateResult:
    result = ReplicateResult()
    report = lib.report
    try:
        stores = make_stores(lib)
    except PhotosyncError as e:
        report.error("blob storage", str(e))
        result.failed = len(plan.actions)
        return result
    workers = workers or int(lib.preferences["sync_preferences"].get("max_parallel_uploads", 4))
    # fixed batches: with a share of the library (common.commit_batch) a copy of 100,000 photos took
    # 121 s instead of 141 s, but its peak rose from 151 to 174 MB (bench/README.md, tenth session)
    batch = int(lib.preferences["sync_preferences"].get("commit_batch_size", 500))
    stage = _Copies(lib, plan, stores, result)
    # a record is read once, when its first copy is prepared; its commit (up to a batch and
    # the jobs in flight later) finds it among the recent reads instead of reading it again
    lib.recent_reads = max(lib.recent_reads, batch + 4 * workers + 64)

    for name, store in stores.items():
        mine = sum(1 for a in plan.actions if a.store == name)
        if not mine:
            continue
        try:  # leftovers of a writer killed mid-put (a temp file, an unfinished upload)
            cleaned = store.clean_temp()
        except (PhotosyncError, OSError) as e:
            report.warning(f"store {name}", f"could not look for leftovers of interrupted copies: {_why(name, e)}")
        else:
            if cleaned.removed:
                report.info(f"store {name}: removed {counted(cleaned.removed, 'leftover')} of interrupted copies "
                            f"({cleaned.removed_bytes / 1e6:.1f} MB)")
        try:
            store.preload(mine)
        except PhotosyncError:
            pass  # just a hint: each put will ask
    task = report.task("Copying originals", total=len(plan.actions), total_bytes=plan.total_bytes or None)
    try:
        with Executor(stage, workers=workers, batch=batch, task=task, name="copy") as executor:
            # photos whose copies were all there already only change state
            for pid in plan.complete:
                try:
                    photo = lib.get_photo(pid)
                except InvalidRecord as e:
                    report.error(e.path, e.reason)
                    continue
                promoted = stage.promote(photo)
                if promoted is not photo:
                    lib.stage(promoted)
                if lib.staged_count >= batch:
                    executor.commit()
            unrun = executor.run(plan.actions)
            result.failed += sum(len(jobs) for jobs in unrun.values())
    finally:
        task.close()
        assert lib.index is not None
        result.lacking = lib.index.count_lacking(plan.stores)
    return result
