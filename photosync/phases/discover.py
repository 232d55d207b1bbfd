"""Phase 1, discover: list each service, read what is new or changed, and
record it: one photo per content hash, one instance per place it was found.

Cost grows with what changed: an item whose fingerprint (for a file: size,
mtime, inode) matches the scan cache is not read again, and a run that changes
nothing writes nothing and commits nothing.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

from ..conflicts import visibility as vis
from ..conflicts.detect import exact_duplicates
from ..connectors.base import Connector, ItemRef, ServiceItem
from ..errors import InvalidRecord, ItemChanging, MediaError, NotMedia, PhotosyncError, SourceError
from ..library import config as cfg
from ..library.layout import SYNC_STATE_FILE, photo_path, utc_now
from ..library.library import Library
from ..media.probe import READER_VERSION
from ..model import Instance, Photo, Visibility, with_instance
from .common import Connectors

#: photo ids are UUIDs derived from the first content seen, so two clones that
#: discover the same bytes independently give them the same id
PHOTO_NAMESPACE = uuid.UUID("6f1c1c6e-4a8e-5b1e-9d0b-70686f746f73")


@dataclass
class ServiceSummary:
    name: str
    seen: int = 0
    read: int = 0
    read_bytes: int = 0
    new: int = 0
    duplicates: int = 0
    updated: int = 0
    missing: int = 0
    unchanged: int = 0
    ignored: int = 0
    errors: int = 0
    changing: int = 0
    failed: str | None = None

    def message(self, batch: int | None = None) -> str:
        parts = [f"{self.new} new", f"{self.updated + self.duplicates} updated"]
        head = f"discover: {', '.join(parts)} from {self.name}"
        if batch:
            head += f" (batch {batch})"
        body = []
        if self.duplicates:
            body.append(f"{self.duplicates} copies of photos already known (exact duplicates, merged)")
        if self.missing:
            body.append(f"{self.missing} items gone from the service (kept, marked missing)")
        if self.errors:
            body.append(f"{self.errors} items could not be read (see the run's report)")
        return head + ("\n\n" + "\n".join(body) if body else "")


@dataclass
class DiscoverResult:
    services: list[ServiceSummary] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)


def _counts(s: ServiceSummary) -> tuple[int, int, int, int, int]:
    return (s.new, s.updated, s.duplicates, s.missing, s.errors)


def discover(
    lib: Library,
    *,
    service: str | None = None,
    since: datetime | None = None,
    full_scan: bool = False,
    workers: int | None = None,
) -> DiscoverResult:
    if service is not None:
        cfg.require_service(lib.services, service)
        names = [service]
    else:
        names = [n for n, c in lib.services.items() if c.get("enabled", True)]
    result = DiscoverResult()
    if not names:
        lib.report.info("no services configured yet; add one with: photosync service add NAME --type local --path DIR")
        return result
    connectors = Connectors(lib)
    for name in names:
        summary = ServiceSummary(name)
        result.services.append(summary)
        try:
            conn = connectors.get(name)
        except PhotosyncError as e:
            summary.failed = str(e)
            lib.report.error(f"service {name}", str(e))
            continue
        _ServiceRun(lib, conn, summary, result, since, full_scan, workers).run()
    return result


class _ServiceRun:
    def __init__(self, lib, conn: Connector, summary, result, since, full_scan, workers):
        self.lib: Library = lib
        self.conn = conn
        self.name = conn.name
        self.summary: ServiceSummary = summary
        self.result: DiscoverResult = result
        self.since = since
        self.full_scan = full_scan
        self.workers = workers or min(4, (os.cpu_count() or 2) + 1)
        self.now = utc_now()
        self.default_visibility = lib.preferences.get("default_visibility", "private")
        self.batch_size = int(lib.preferences["sync_preferences"].get("commit_batch_size", 500))
        self.cache_rows: list[tuple[str, str, str | None, str | None, str | None]] = []
        self.dropped: list[str] = []
        self.batches = 0
        self.committed_counts = (0, 0, 0, 0, 0)
        self.changed_anything = False

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> None:
        lib, report = self.lib, self.lib.report
        state = lib.sync_state["services"].get(self.name, {})
        cursor = None if self.full_scan else state.get("cursor")
        try:
            listing = self.conn.list(cursor=cursor, since=self.since, full_scan=self.full_scan)
        except PhotosyncError as e:
            self.summary.failed = str(e)
            report.error(f"service {self.name}", str(e))
            return
        assert lib.index is not None
        # item id -> (id, fingerprint, record has the cached hash, error or None, not a photo)
        cache = {} if self.full_scan else lib.index.scan_state(self.name)
        seen: set[str] = set()
        to_read: list[ItemRef] = []
        scan = report.task(f"Scanning {self.name}")
        unchanged = ignored = 0
        try:
            for ref in listing.refs:
                seen.add(ref.id)
                scan.advance()
                cached = cache.get(ref.id)
                if cached is not None and cached[1] == ref.fingerprint:
                    if cached[2]:
                        unchanged += 1
                        continue
                    # a verdict without a hash stands until the file changes, or photosync's reader does
                    if cached[3] and cached[7] == READER_VERSION:
                        report.error(self.conn.where(ref.id), cached[3])
                        self.summary.errors += 1
                        continue
                    if cached[4] and not cached[3] and cached[7] == READER_VERSION:
                        ignored += 1
                        continue
                elif (cached is not None and cached[2] and ref.content_key is not None
                      and cached[5] == ref.content_key):
                    # only metadata changed (a network service says so): no need to fetch the bytes
                    ref = ref._replace(known_hash=cached[6])
                to_read.append(ref)
        except PhotosyncError as e:
            self.summary.failed = str(e)
            report.error(f"service {self.name}", str(e))
            return
        finally:
            scan.close()
            self.summary.unchanged += unchanged
            self.summary.ignored += ignored
        self.summary.seen = len(seen)
        self.summary.ignored += getattr(self.conn, "ignored", 0)
        self._read_all(to_read)
        total = lib.index.count_present_items(self.name)
        if listing.complete and self.conn.partial:
            report.warning(f"service {self.name}", "part of it could not be listed; no item was marked missing")
        elif listing.complete and not seen and total:
            report.error(f"service {self.name}", f"lists nothing, but {total} items of it are recorded: is it "
                         "mounted? Nothing was marked missing")
            self.summary.failed = "empty listing"
        elif listing.complete:
            if unchanged < total:  # else every present item was seen unchanged: none is gone
                gone = [(i, pid) for i, pid in lib.index.present_items(self.name) if i not in seen]
                self._mark_missing(gone, total)
            self.dropped.extend(i for i in cache if i not in seen)
        self._finish(listing.final_cursor(), state)

    def _read_all(self, refs: list[ItemRef]) -> None:
        if not refs:
            return
        total_bytes = sum(r.size or 0 for r in refs)
        task = self.lib.report.task(f"Reading {self.name}", total=len(refs), total_bytes=total_bytes or None)
        try:
            for ref, outcome in self._describe_all(refs):
                size = ref.size if ref.size is not None else (getattr(outcome, "size", None) or 0)
                task.advance(1, size)
                self.summary.read += 1
                self.summary.read_bytes += size
                self._take(ref, outcome)
                if self.lib.staged_count >= self.batch_size:
                    self._commit(batch=True)
        finally:
            task.close()

    def _describe_all(self, refs: list[ItemRef]) -> Iterator[tuple[ItemRef, object]]:
        """describe() in parallel, results in order: in worker processes when the
        connector's work is CPU-bound (reading and parsing files), else threads."""
        describer = self.conn.describer()
        if describer is not None and len(refs) >= PROCESS_THRESHOLD and (os.cpu_count() or 1) > 1:
            procs = min(os.cpu_count() or 2, 8)
            chunks = [refs[i : i + 8] for i in range(0, len(refs), 8)]
            yield from _describe_in_processes(describer, chunks, procs)
            return

        def one(ref: ItemRef):
            return _safe(self.conn.describe, ref)

        if self.workers <= 1:
            for ref in refs:
                yield ref, one(ref)
            return
        window = self.workers * 4
        with ThreadPoolExecutor(self.workers, thread_name_prefix="read") as pool:
            pending = []
            it = iter(refs)
            for ref in it:
                pending.append((ref, pool.submit(one, ref)))
                if len(pending) >= window:
                    r, fut = pending.pop(0)
                    yield r, fut.result()
            for r, fut in pending:
                yield r, fut.result()

    def _take(self, ref: ItemRef, outcome) -> None:
        report = self.lib.report
        where = self.conn.where(ref.id)
        if isinstance(outcome, NotMedia):
            self.cache_rows.append((ref.id, ref.fingerprint, None, None, None, READER_VERSION))
            self.summary.ignored += 1
            return
        if isinstance(outcome, MediaError):
            report.error(where, str(outcome))
            self.summary.errors += 1
            self.cache_rows.append((ref.id, ref.fingerprint, None, str(outcome), None, READER_VERSION))
            return
        if isinstance(outcome, ItemChanging):  # being written: its next run reads it
            report.warning(where, str(outcome))
            self.summary.changing += 1
            return
        if isinstance(outcome, PhotosyncError):  # could not read now: try again next run
            report.error(where, str(outcome))
            self.summary.errors += 1
            return
        item: ServiceItem = outcome  # type: ignore[assignment]
        for w in item.warnings:
            report.warning(where, w)
        try:
            kind = self._apply(item)
        except InvalidRecord as e:
            report.error(where, f"not recorded: {e}")
            self.summary.errors += 1
            return
        if kind == "new":
            self.summary.new += 1
        elif kind == "duplicate":
            self.summary.duplicates += 1
        elif kind == "updated":
            self.summary.updated += 1
        else:
            self.summary.unchanged += 1
        self.cache_rows.append((ref.id, ref.fingerprint, item.content_hash, None, ref.content_key))

    # -- recording an item ------------------------------------------------------------------
    def _instance(self, item: ServiceItem) -> Instance:
        raw = item.ref.raw_name
        return Instance(
            service=self.name,
            id=item.ref.id,
            content_hash=item.content_hash,
            quality=item.quality,
            last_sync=self.now,
            url=item.url,
            size=item.size,
            metadata=item.metadata,
            visibility=item.visibility,
            raw_name_b64=base64.b64encode(raw).decode("ascii") if raw is not None else None,
            look=item.look,
        )

    def _apply(self, item: ServiceItem) -> str:
        lib = self.lib
        inst = self._instance(item)
        k = lib.index.item(self.name, item.ref.id)  # type: ignore[union-attr]
        if k is not None:
            pid, old_hash, _missing = k
            if old_hash == item.content_hash:
                photo = lib.get_photo(pid)
                old = photo.find_instance(self.name, item.ref.id)
                if old is not None:
                    return self._update(photo, old, inst)
            else:
                # new bytes under an old name: the old photo keeps its record, its
                # instance marked gone; the new bytes are recorded below
                old_photo = lib.get_photo(pid)
                old_inst = old_photo.find_instance(self.name, item.ref.id)
                if old_inst is not None and old_inst.missing_since is None:
                    lib.stage(vis.refresh(with_instance(old_photo, dataclasses.replace(old_inst, missing_since=self.now))))
        pid = lib.find_by_hash(item.content_hash)
        if pid is not None:
            photo = lib.get_photo(pid)
            rated = [i.quality for i in photo.all_instances() if i.content_hash == inst.content_hash]
            if rated and inst.content_hash != photo.content_hash:
                inst = dataclasses.replace(inst, quality=rated[0])  # another copy of a merged variant
            photo = _reopen(with_instance(photo, inst))
            photo = _note_duplicates(photo)
            lib.stage(vis.refresh(photo))
            return "duplicate"
        lib.stage(self._new_photo(item, inst))
        return "new"

    def _update(self, photo: Photo, old: Instance, inst: Instance) -> str:
        md = inst.metadata
        if inst.size is None:
            # described without reading the bytes (only metadata changed): what
            # came from the bytes stays as it was recorded
            md = dataclasses.replace(md, **{
                f: getattr(old.metadata, f) for f in ("camera_info", "width", "height", "format")
                if getattr(md, f) is None
            })
            inst = dataclasses.replace(inst, size=old.size, quality=old.quality, metadata=md, look=old.look)
        if (
            old.metadata.taken_date_source == "file_mtime"
            and md.taken_date_source == "file_mtime"
            and old.metadata.taken_date
            and md.taken_date
            and md.taken_date > old.metadata.taken_date
        ):
            # a file time only moves later when the file is touched or copied: keep the earliest
            md = dataclasses.replace(md, taken_date=old.metadata.taken_date)
            inst = dataclasses.replace(inst, metadata=md)
        if old.content_hash != photo.content_hash:
            # a variant merged in by resolve: its quality was rated against the canonical copy
            inst = dataclasses.replace(inst, quality=old.quality)
        candidate = dataclasses.replace(inst, last_sync=old.last_sync)
        if candidate == old:
            return "unchanged"
        photo2 = _reopen(with_instance(photo, inst))
        if photo.canonical_source == inst.key:
            # canonical fields that came from this copy follow its changes
            changes = {}
            for f in ("taken_date", "taken_date_source", "filename", "location", "tags", "caption", "camera_info",
                      "width", "height", "format", "media_type"):
                if getattr(photo.metadata, f) == getattr(old.metadata, f) and getattr(md, f) != getattr(old.metadata, f):
                    changes[f] = getattr(md, f)
            if changes:
                photo2 = photo2.replace(metadata=dataclasses.replace(photo2.metadata, **changes))
        self.lib.stage(vis.refresh(_note_duplicates(photo2)))
        return "updated"

    def _new_photo(self, item: ServiceItem, inst: Instance) -> Photo:
        pid = str(uuid.uuid5(PHOTO_NAMESPACE, item.content_hash))
        path = photo_path(pid, item.metadata.taken_date)
        if os.path.exists(f"{self.lib.root}/{path}"):
            # the index did not know these bytes, yet their record is there: it must be unreadable
            raise InvalidRecord(path, "a record for these bytes exists but could not be read; fix it first")
        canonical = vis.initial_level(self.default_visibility, item.visibility)
        photo = Photo(
            photo_id=pid,
            content_hash=item.content_hash,
            canonical_source=inst.key,
            metadata=item.metadata,
            created_at=self.now,
            updated_at=self.now,
            instances={self.name: (inst,)},
            visibility=Visibility(canonical=canonical),
        )
        return vis.refresh(photo)

    def _mark_missing(self, gone: list[tuple[str, str]], total: int) -> None:
        if not gone:
            return
        for item_id, pid in gone:
            try:
                photo = self.lib.get_photo(pid)
            except (InvalidRecord, KeyError) as e:
                self.lib.report.error(self.conn.where(item_id), f"gone from the service, but not recorded: {e}")
                continue
            inst = photo.find_instance(self.name, item_id)
            if inst is None or inst.missing_since is not None:
                continue
            photo = with_instance(photo, dataclasses.replace(inst, missing_since=self.now))
            self.lib.stage(vis.refresh(photo))
            self.summary.missing += 1
            if self.lib.staged_count >= self.batch_size:
                self._commit(batch=True)
        if total >= 20 and len(gone) > total // 2:
            self.lib.report.warning(
                f"service {self.name}",
                f"{len(gone)} of {total} known items are gone (is the folder or drive mounted?); "
                "they are kept in the library and marked missing",
            )

    # -- committing -------------------------------------------------------------------------
    def _index_updates(self, index) -> None:
        rows, self.cache_rows = self.cache_rows, []
        dropped, self.dropped = self.dropped, []
        if rows:
            index.put_scan(self.name, rows)
        if dropped:
            index.drop_scan(self.name, dropped)

    def _commit(self, batch: bool) -> None:
        counts = _counts(self.summary)
        delta = ServiceSummary(self.name, **{
            k: counts[i] - self.committed_counts[i]
            for i, k in enumerate(("new", "updated", "duplicates", "missing", "errors"))
        })
        if batch:
            self.batches += 1
        oid = self.lib.commit(delta.message(self.batches if (batch or self.batches) else None), self._index_updates)
        self.committed_counts = counts
        if oid:
            self.result.commits.append(oid)
            self.changed_anything = True

    def _finish(self, cursor: str | None, state: dict) -> None:
        lib = self.lib
        changed = self.changed_anything or lib.staged_count > 0
        if changed or (cursor is not None and cursor != state.get("cursor")):
            sync = dict(lib.sync_state)
            services = dict(sync["services"])
            services[self.name] = {"cursor": cursor, "last_change": self.now, "items": self.summary.seen}
            sync["services"] = services
            lib.stage_config(SYNC_STATE_FILE, sync)
        s = self.summary
        summary_text = f"{s.seen} items, {s.new} new, {s.updated + s.duplicates} updated, {s.errors} errors"

        def updates(index) -> None:
            self._index_updates(index)
            index.set_service_run(self.name, self.now, summary_text)

        if self.batches:
            # the last of several commits: its message sums up the whole run
            message = s.message().replace("\n\n", f" (total; the last of {self.batches + 1} commits)\n\n", 1)
            if "\n\n" not in message:
                message += f" (total; the last of {self.batches + 1} commits)"
        else:
            message = s.message()
        oid = lib.commit(message, updates)
        if oid:
            self.result.commits.append(oid)


#: at least this many items to read before worker processes are worth starting
PROCESS_THRESHOLD = 48


def _safe(describe, ref: ItemRef):
    """An item's description, or the exception that explains why there is none."""
    try:
        return describe(ref)
    except (NotMedia, PhotosyncError) as e:
        return e
    except Exception as e:  # a parser bug must cost one item, not the run
        return MediaError(f"could not read it ({type(e).__name__}: {e})")


def _die_with_parent(parent: int) -> None:
    """Run first in each worker process: it ends when discover's process ends,
    however that ends (Linux), and holds none of the library's files.

    ``PR_SET_PDEATHSIG`` asks the kernel for SIGKILL when the parent dies, but a
    parent killed between the fork and this call sends nothing: the worker then
    already has a new parent (issue 10: 4 of 55 kill -9s left a worker behind,
    blocked for good on its task queue), so it checks and ends itself.  A forked
    worker also inherits every file the parent had open (the index database, the
    lock file, git's packs); it needs none of them, so it closes them: a worker
    never keeps ``index.sqlite`` open, whatever happens to its parent."""
    import signal

    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the request: no signal will come
    _close_inherited_files()


def _close_inherited_files() -> None:
    """Close the regular files a forked worker inherited (its pipes to the pool,
    and standard input, output and error, are not regular files)."""
    import stat

    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: nothing to go by
        return
    for fd in fds:
        if fd <= 2:
            continue
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass


def _describe_in_processes(describer, chunks: list[list[ItemRef]], procs: int):
    """(ref, outcome) for every ref, read by worker processes with a bounded
    window of chunks in flight (results never pile up in memory).  When a
    worker crashes (a native library dying on one file), the chunks that were
    in flight are read again one at a time to find the culprit: only its items
    are reported (and tried again next run); the rest goes on in a new pool."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("fork")
    todo = list(chunks)
    suspects: list[list[ItemRef]] = []
    while todo or suspects:
        alone = bool(suspects)  # suspects are read one chunk at a time
        queue = suspects if alone else todo
        with ProcessPoolExecutor(1 if alone else procs, mp_context=context,
                                 initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            window: list = []
            while queue or window:
                while queue and len(window) < (1 if alone else procs * 4):
                    chunk = queue.pop(0)
                    try:
                        fut = pool.submit(_describe_chunk, describer, chunk)
                    except BrokenProcessPool:  # a worker died while this was being handed over
                        queue.insert(0, chunk)  # not started: it goes to the next pool as it is
                        break
                    window.append((chunk, fut))
                if not window:
                    break  # the pool broke with nothing in flight: a new pool takes the queue
                chunk, fut = window.pop(0)
                try:
                    results = fut.result()
                except BrokenProcessPool:
                    if alone:  # this chunk, read alone, killed its worker
                        crashed = SourceError("the reader process crashed on this file or one read with it; "
                                              "it will be tried again next run")
                        yield from ((ref, crashed) for ref in chunk)
                    else:
                        suspects.extend([chunk, *(c for c, _f in window)])
                    break
                yield from zip(chunk, results)


def _describe_chunk(describe, refs: list[ItemRef]) -> list:
    return [_safe(describe, ref) for ref in refs]


def _reopen(photo: Photo) -> Photo:
    """A photo whose copies changed goes back to 'discovered' so resolve looks at
    it again (its blob copies stay; replicate only fills what is missing)."""
    return photo if photo.processing_state == "discovered" else photo.replace(processing_state="discovered")


def _note_duplicates(photo: Photo) -> Photo:
    """Keep the exact-duplicate note in step with the instances (settled by resolve)."""
    others = [c for c in photo.conflicts if c.type != "exact_duplicate"]
    settled = photo.processing_state != "discovered"
    dup = [] if settled else exact_duplicates(photo)
    conflicts = tuple(others + dup)
    return photo if conflicts == photo.conflicts else photo.replace(conflicts=conflicts)
