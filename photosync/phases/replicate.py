"""Phase 3, replicate: copy each resolved photo's original into every active
blob store, verified, then record it.

Write order (restic's): the store writes and verifies the bytes, ``flush``
makes them durable, and only then does the photo's JSON record the copy, in a
commit per batch.  A run killed at any moment leaves blobs that no JSON points
at (harmless: the rerun finds them, checks their hash and records them without
copying again), never a JSON that points at an unverified blob.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from ..errors import InvalidRecord, PhotosyncError, SourceError, StoreError, VerificationError
from ..library import config as cfg
from ..library.layout import utc_now
from ..library.library import Library
from ..model import BlobCopy, Photo
from ..stores.base import BlobStore, StoredBlob
from .common import Connectors, blob_key, make_stores

COMMIT_EVERY_SECONDS = 30
#: a store that fails this many times in a row is skipped for the rest of the run
STORE_FAILURE_LIMIT = 5


@dataclass
class CopyAction:
    photo_id: str
    label: str
    store: str
    size: int | None
    repair: bool = False
    locator: str = ""


@dataclass
class Plan:
    stores: list[str]
    actions: list[CopyAction] = field(default_factory=list)
    #: photos whose copies are all in place but whose state still says resolved
    complete: list[str] = field(default_factory=list)
    #: photos still waiting for resolve
    waiting: int = 0

    @property
    def total_bytes(self) -> int:
        return sum(a.size or 0 for a in self.actions)

    @property
    def photos(self) -> int:
        return len({a.photo_id for a in self.actions})


@dataclass
class ReplicateResult:
    copied: int = 0
    copied_bytes: int = 0
    already_there: int = 0
    photos_replicated: int = 0
    failed: int = 0
    commits: list[str] = field(default_factory=list)


def _missing_stores(photo: Photo, stores: list[str]) -> list[tuple[str, bool]]:
    out = []
    for name in stores:
        copy = photo.blobs.get(name)
        if copy is None:
            out.append((name, False))
        elif not copy.good:
            out.append((name, True))
    return out


def make_plan(lib: Library) -> Plan:
    stores = cfg.active_stores(lib.preferences)
    plan = Plan(stores=stores)
    assert lib.index is not None
    plan.waiting = len(lib.index.photo_ids(["discovered"]))
    for pid in lib.index.photos_needing_copies(stores):
        try:
            photo = lib.get_photo(pid)
        except InvalidRecord as e:
            lib.report.error(e.path, f"{e.reason}; not replicated")
            continue
        missing = _missing_stores(photo, stores)
        if not missing:
            plan.complete.append(pid)
            continue
        size = _photo_size(photo)
        locator = blob_key(photo).name
        for store, repair in missing:
            plan.actions.append(CopyAction(pid, photo.label, store, size, repair, locator))
    return plan


def _photo_size(photo: Photo) -> int | None:
    for inst in photo.all_instances():
        if inst.content_hash == photo.content_hash and inst.size is not None:
            return inst.size
    return None


class _Copier:
    """Finds a readable source for a photo and puts it into a store."""

    def __init__(self, lib: Library, stores: dict[str, BlobStore]):
        self.lib = lib
        self.stores = stores
        self.connectors = Connectors(lib)

    def sources(self, photo: Photo):
        """(description, opener) for each place the original might be read from:
        the canonical source first, then the other copies with the same bytes,
        then verified copies in blob stores."""
        insts = [i for i in photo.all_instances() if i.content_hash == photo.content_hash and i.missing_since is None]
        insts.sort(key=lambda i: (i.key != photo.canonical_source, i.service, i.id))
        for inst in insts:
            def opener(inst=inst):
                conn = self.connectors.get(inst.service)
                raw = None
                if inst.raw_name_b64:
                    import base64

                    raw = base64.b64decode(inst.raw_name_b64)
                return conn.open(inst.id, raw)

            yield inst.key, opener
        for name, copy in photo.good_copies().items():
            if name in self.stores:
                yield f"store {name}", (lambda s=self.stores[name], c=copy: s.open(c.locator))

    def copy(self, photo: Photo, store_name: str) -> StoredBlob:
        store = self.stores[store_name]
        key = blob_key(photo)
        size = _photo_size(photo)
        tried = []
        for desc, opener in self.sources(photo):
            if desc == f"store {store_name}":
                continue
            try:
                stream = opener()
            except (SourceError, StoreError, PhotosyncError) as e:
                tried.append(f"{desc}: {e}")
                continue
            try:
                with stream:
                    return store.put(key, stream, size)
            except (VerificationError, SourceError) as e:
                tried.append(f"{desc}: {e}")
                continue
        detail = "; ".join(tried) if tried else "no copy of it is known"
        raise SourceError(f"no readable source for the original ({detail})")


def execute(lib: Library, plan: Plan, workers: int | None = None) -> ReplicateResult:
    result = ReplicateResult()
    report = lib.report
    try:
        stores = make_stores(lib)
    except PhotosyncError as e:
        report.error("blob storage", str(e))
        result.failed = len(plan.actions)
        return result
    primary = lib.preferences["blob_storage"]["primary"]
    workers = workers or int(lib.preferences["sync_preferences"].get("max_parallel_uploads", 4))
    batch = int(lib.preferences["sync_preferences"].get("commit_batch_size", 500))
    copier = _Copier(lib, stores)
    failures = {name: 0 for name in stores}
    disabled: set[str] = set()
    now = utc_now()
    pending_done = 0
    last_commit = time.monotonic()

    def record(photo: Photo, store_name: str, blob: StoredBlob) -> Photo:
        copies = dict(photo.blobs)
        copies[store_name] = BlobCopy(store_name, blob.locator, blob.size, now)
        changes: dict = {"blobs": copies}
        if store_name == primary:
            changes["source_of_truth_path"] = stores[store_name].uri(blob.locator)
        photo = photo.replace(**changes)
        if photo.processing_state == "resolved" and all(s in photo.good_copies() for s in plan.stores):
            photo = photo.replace(processing_state="replicated")
            result.photos_replicated += 1
        return photo

    def commit(final: bool = False) -> None:
        nonlocal pending_done, last_commit
        for store in stores.values():
            store.flush()  # bytes durable before any JSON records them
        names = ", ".join(stores)
        msg = f"replicate: {pending_done} photo copies stored in {names}"
        if not final:
            msg += " (batch)"
        oid = lib.commit(msg)
        if oid:
            result.commits.append(oid)
        pending_done = 0
        last_commit = time.monotonic()

    # photos whose copies were all there already only change state
    for pid in plan.complete:
        try:
            photo = lib.get_photo(pid)
        except InvalidRecord as e:
            report.error(e.path, e.reason)
            continue
        if photo.processing_state == "resolved":
            lib.stage(photo.replace(processing_state="replicated"))
            result.photos_replicated += 1

    for name, store in stores.items():
        mine = [a.locator for a in plan.actions if a.store == name]
        if mine:
            try:
                store.preload(mine)
            except PhotosyncError:
                pass  # just a hint: each put will ask
    task = report.task("Copying originals", total=len(plan.actions), total_bytes=plan.total_bytes or None)
    try:
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="copy") as pool:
            running: dict[Future, CopyAction] = {}
            queue = list(plan.actions)
            queue.reverse()

            def submit_more() -> None:
                while queue and len(running) < workers * 2:
                    action = queue.pop()
                    if action.store in disabled:
                        result.failed += 1
                        task.advance(1, action.size or 0)
                        continue
                    try:
                        photo = lib.get_photo(action.photo_id)
                    except InvalidRecord as e:
                        report.error(e.path, f"{e.reason}; not replicated")
                        result.failed += 1
                        continue
                    running[pool.submit(copier.copy, photo, action.store)] = action

            submit_more()
            while running:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    action = running.pop(fut)
                    task.advance(1, action.size or 0)
                    try:
                        blob = fut.result()
                    except (SourceError, VerificationError) as e:
                        report.error(f"{action.label} ({action.photo_id})", f"not copied to {action.store}: {e}")
                        result.failed += 1
                        continue
                    except (StoreError, OSError) as e:
                        result.failed += 1
                        failures[action.store] += 1
                        report.error(f"store {action.store}", f"{action.label}: {e}")
                        if failures[action.store] >= STORE_FAILURE_LIMIT and action.store not in disabled:
                            disabled.add(action.store)
                            report.error(f"store {action.store}", "keeps failing; skipped for the rest of this run")
                        continue
                    failures[action.store] = 0
                    photo = lib.get_photo(action.photo_id)
                    lib.stage(record(photo, action.store, blob))
                    if blob.reused:
                        result.already_there += 1
                    else:
                        result.copied += 1
                        result.copied_bytes += blob.size
                    pending_done += 1
                if lib.staged_count >= batch or (
                    pending_done and time.monotonic() - last_commit > COMMIT_EVERY_SECONDS
                ):
                    commit()
                submit_more()
    finally:
        task.close()
        commit(final=True)
    return result
