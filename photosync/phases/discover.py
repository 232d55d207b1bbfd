"""Phase 1, discover: list each service, read what is new or changed, and
record it: one photo per content hash, one instance per place it was found.

Cost grows with what changed: an item whose fingerprint (for a file: size,
mtime, inode) matches the scan cache is not read again, and a run that changes
nothing writes nothing and commits nothing.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import inspect
import os
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

from .. import privacy as vis
from ..conflicts.detect import COMPARED_FIELDS, exact_duplicates
from ..connectors.base import Connector, ItemRef, ServiceItem
from ..errors import (
    InvalidRecord,
    ItemChanging,
    MediaError,
    NotMedia,
    PhotosyncError,
    SourceError,
    StoreError,
    UsageError,
    VerificationError,
)
from ..library import config as cfg
from ..library.layout import SYNC_STATE_FILE, photo_path, utc_now
from ..library.library import Library
from ..media.probe import READER_VERSION
from ..model import Instance, Metadata, Photo, Visibility, with_instance
from ..stores.base import StoredBlob
from ..stores.naming import blob_key
from .common import Connectors, commit_batch
from .pictures import decoded_look
from .resolve import NothingToResolve

#: photo ids are UUIDs derived from the first content seen, so two clones that
#: discover the same bytes independently give them the same id
PHOTO_NAMESPACE = uuid.UUID("6f1c1c6e-4a8e-5b1e-9d0b-70686f746f73")


@dataclass
class ServiceSummary:
    """What one discover run did with one service: the printed summary and the
    commit messages are both made from it (:meth:`phrases`), so they agree."""

    name: str
    seen: int = 0
    read: int = 0
    read_bytes: int = 0
    new: int = 0
    #: new photos with nothing to resolve, recorded resolved in their one write
    resolved: int = 0
    duplicates: int = 0
    updated: int = 0
    moved: int = 0
    saved_over: int = 0
    missing: int = 0
    unchanged: int = 0
    ignored: int = 0
    errors: int = 0
    changing: int = 0
    #: discover --execute: new photos whose original was copied into the primary store, and
    #: how many of them that made replicated (resolved, and in every active store)
    stored: int = 0
    replicated: int = 0
    #: of the new photos recorded resolved, those with a look shared by more than CROWDED others:
    #: searched for variants by their other keys only (as resolve would)
    crowded: int = 0
    store: str = ""
    failed: str | None = None
    #: the error that stopped the service (an AuthError: its sign-in expired), for watch's alerts
    error: PhotosyncError | None = field(default=None, repr=False, compare=False)
    #: one line per move and per file saved over, for the commit body
    notes: list[str] = field(default_factory=list)

    #: the counts a commit reports (the rest describe the run, not the library's change)
    COUNTED = ("new", "resolved", "duplicates", "updated", "moved", "saved_over", "missing", "errors", "changing",
               "stored", "replicated")

    def phrases(self) -> list[str]:
        """What happened, in words: the same in the printed summary and the commit."""
        out = [plural(self.new, "new photo")]
        if self.resolved:
            which = "" if self.new == 1 else "all " if self.resolved == self.new else f"{self.resolved:,} "
            out[0] += f" ({which}{'with ' if which else ''}nothing to resolve: resolved)"
        if self.stored:
            which = "" if self.stored == 1 else "all " if self.stored == self.new else f"{self.stored:,} "
            text = f"{which}stored in {self.store}"
            if self.replicated:
                text += ": replicated" if self.replicated == self.stored else f" ({self.replicated:,} replicated)"
            out.append(text)
        if self.duplicates:
            out.append(plural(self.duplicates, "copy", "copies") + " of "
                       + ("a photo" if self.duplicates == 1 else "photos") + " already known")
        if self.updated:
            out.append(f"{self.updated} updated")
        if self.moved:
            out.append(f"{self.moved} moved or renamed")
        if self.saved_over:
            out.append(plural(self.saved_over, "file") + " saved over (the new version recorded, the old one kept)")
        if self.missing:
            out.append(f"{self.missing} gone (kept, marked missing)")
        if self.errors:
            out.append(f"{self.errors} unreadable")
        if self.changing:
            out.append(f"{plural(self.changing, 'file')} changing while read (read next run)")
        return out

    def message(self, batch: int | None = None, of: int | None = None) -> str:
        head = f"discover: {', '.join(self.phrases())} from {self.name}"
        if batch:
            head += f" (batch {batch})"
        if of:
            head += f" (total; the last of {of} commits)"
        body = list(self.notes[:NOTES_IN_A_COMMIT])
        if len(self.notes) > NOTES_IN_A_COMMIT:
            body.append(f"... and {len(self.notes) - NOTES_IN_A_COMMIT} more")
        if self.errors or self.changing:
            body.append("Files not recorded are named in the run's report.")
        return head + ("\n\n" + "\n".join(body) if body else "")

    def counts(self) -> tuple[int, ...]:
        return tuple(getattr(self, k) for k in self.COUNTED)


#: commit bodies name at most this many moves and saved-over files
NOTES_IN_A_COMMIT = 50


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


@dataclass
class DiscoverResult:
    services: list[ServiceSummary] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)


def discover(
    lib: Library,
    *,
    service: str | None = None,
    since: datetime | None = None,
    full_scan: bool = False,
    workers: int | None = None,
    execute: bool = False,
) -> DiscoverResult:
    """``execute``: also copy each new photo's original into the primary store (a local
    folder) and record the copy in the photo's one write (see :class:`_PrimaryCopies`)."""
    if service is not None:
        cfg.require_service(lib.services, service)
        names = [service]
    else:
        names = [n for n, c in lib.services.items() if c.get("enabled", True)]
        waits = [n for n in names if _asks_a_person(lib.services[n])]
        for n in waits:  # (a Google Picker session waits for someone to pick: only when asked for by name)
            lib.report.info(f"service {n} is read only when named: photosync discover --service {n}")
        names = [n for n in names if n not in waits]
    result = DiscoverResult()
    if not names:
        lib.report.info("no services configured yet; add one with: photosync service add NAME --type local --path DIR")
        return result
    connectors = Connectors(lib)
    copies = _PrimaryCopies(lib) if execute else None
    try:
        for name in names:
            _discover_service(lib, name, connectors, result, since, full_scan, workers, copies)
    finally:
        if copies is not None:
            copies.close()
    return result


def _discover_service(lib, name, connectors, result, since, full_scan, workers, copies) -> None:
    summary = ServiceSummary(name, store=copies.name if copies is not None else "")
    result.services.append(summary)
    try:
        conn = connectors.get(name)
    except PhotosyncError as e:
        summary.failed, summary.error = str(e), e
        lib.report.error(f"service {name}", str(e))
        return
    _ServiceRun(lib, conn, summary, result, since, full_scan, workers, copies).run()


def _asks_a_person(conf: dict) -> bool:
    from ..connectors.registry import connector_class

    try:
        return bool(connector_class(conf.get("type", "")).asks_a_person)
    except PhotosyncError:
        return False  # the service's own error is reported when it is made


class _PrimaryCopies:
    """``discover --execute``: each new photo's original is copied into the primary store
    (a local folder) while the rest of the batch is read, on a copy thread (COPY_THREADS),
    and recorded in the same write as the photo itself, so a
    new photo with nothing to resolve is discovered, resolved and replicated in one record
    write and one commit a batch.  The write order is replicate's: at the batch's commit
    every copy is waited for (verified while written: the store hashes what it writes),
    the store's flush makes them durable, and only then are they staged into the records
    the commit writes.  A copy that fails is reported and not recorded (the photo is
    recorded without it; replicate copies it later); a store that fails is reported once
    and not used again this run.  kill -9 at any moment leaves at most blobs that no
    record names yet: the rerun finds them, checks their hash and records them."""

    def __init__(self, lib: Library):
        from ..stores import registry as store_registry
        from ..stores.local import LocalStore
        from .common import store_env
        from .replicate import _Copier
        from .sources import Sources

        self.lib = lib
        blob = lib.preferences["blob_storage"]
        self.name = blob["primary"]
        conf = blob["stores"][self.name]
        if conf.get("type") != "local":
            raise UsageError(f"discover --execute copies into the primary store only when it is a local folder; "
                             f"the primary store '{self.name}' is {conf.get('type')}: run 'photosync replicate "
                             f"--execute' after discover")
        store = store_registry.create(self.name, conf, store_env(lib))
        assert isinstance(store, LocalStore)  # its type was checked above
        self.store: LocalStore = store
        self.active = cfg.active_stores(lib.preferences)
        self.copier = _Copier(Sources(lib, {self.name: self.store}))
        # one thread, not max_parallel_uploads: the copy is from a local file to a local folder (the
        # kernel does the work, and one thread keeps ahead of the records), and every thread more
        # takes the GIL from the main thread that builds them, at each of its SQLite calls: 4
        # threads made discover --execute of 23,901 small photos 8-18 % slower than 1, and 2 threads
        # 3-6 % slower (bench/README.md, "One copy thread, tasks of 32 files")
        self.pool = ThreadPoolExecutor(COPY_THREADS, thread_name_prefix="store")
        #: photo id -> (content hash copied, where it was read from, its copy: made, or a copy thread's
        #: Future) for the batch being read
        self.pending: dict[str, tuple[str, str, StoredBlob | Future]] = {}
        self.failed: str | None = None
        self.now = utc_now()
        try:  # leftovers of a writer killed mid-put (a temp file)
            self.store.clean_temp()
        except (PhotosyncError, OSError) as e:
            lib.report.warning(f"store {self.name}", f"could not look for leftovers of interrupted copies: {e}")

    def keeper(self):
        """What the reader processes hand a photo's bytes to (``Connector.describer``'s ``keep``):
        they write them into the store's temp folder, and :meth:`submit` puts the file of a new
        photo in place (each byte read once, and its file made off the main process)."""
        return self.store.keeper() if self.failed is None else None

    def submit(self, photo: Photo, kept: str | None = None, size: int | None = None) -> None:
        """Copy a new photo's original: ``kept``, the reader's temp file of the bytes hashed, is
        put in place at once; without one (or when it cannot be), a copy thread reads the source."""
        if self.failed is not None or photo.photo_id in self.pending:
            self.discard(kept)
            return
        # a reader's copy comes with the size it read (an item's size is None only when nothing was read);
        # adopt removes the temp file whether or not it took it
        blob = self.store.adopt(blob_key(photo), kept, size) if kept is not None and size is not None else None
        if kept is not None and size is None:
            self.discard(kept)
        # the reader's copy put in place is the copy itself (a Future each was ~0.4 kB a photo of the batch)
        copy = blob if blob is not None else self.pool.submit(self.copier.copy, photo, self.name, None)
        self.pending[photo.photo_id] = (photo.content_hash, photo.canonical_source, copy)

    def discard(self, kept: str | None) -> None:
        if kept is not None:
            self.store.discard(kept)

    def record(self, summary: "ServiceSummary") -> None:
        """Wait for the batch's copies, make them durable, then stage them into their records
        (before the batch's commit)."""
        from .replicate import replicated, with_copy

        pending, self.pending = self.pending, {}
        if not pending:
            return
        done: list[tuple[str, str, StoredBlob]] = []
        for pid, (content_hash, where, copy) in pending.items():
            try:
                done.append((pid, content_hash, copy.result() if isinstance(copy, Future) else copy))
            except (SourceError, VerificationError) as e:
                self.lib.report.error(f"{where} ({pid})", f"not copied to {self.name} (replicate --execute "
                                      f"tries again): {e}")
            except (StoreError, OSError) as e:
                self._fail(str(e))
        if self.failed is not None or not done:
            return
        try:
            self.store.flush()  # bytes durable before any JSON records them
        except (StoreError, OSError) as e:
            self._fail(str(e))
            return
        for pid, content_hash, blob in done:
            try:
                photo = self.lib.get_photo(pid)  # the staged record, as the batch left it
            except (KeyError, InvalidRecord):
                continue
            if photo.content_hash != content_hash or self.name in photo.blobs:
                continue
            photo = with_copy(photo, self.name, blob, self.now, self.store.uri(blob.locator))
            summary.stored += 1
            if replicated(photo, self.active):
                photo = photo.replace(processing_state="replicated")
                summary.replicated += 1
            # checked when staged this batch; changed only by the copy photosync just verified
            self.lib.stage(photo, checked=True)

    def _fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
            self.lib.report.error(f"store {self.name}", f"{reason}; skipped for the rest of this run (its copies "
                                  "of this batch are not recorded; replicate --execute makes them)")

    def close(self) -> None:
        for _h, _where, copy in self.pending.values():
            if isinstance(copy, Future):
                copy.cancel()
        self.pool.shutdown(wait=True)
        # the reader processes' copies this run did not take (its readers have ended), and those
        # of a run killed just before this one, whose readers were still ending when it began
        with contextlib.suppress(PhotosyncError, OSError):
            self.store.clean_temp()


class _ServiceRun:
    def __init__(self, lib, conn: Connector, summary, result, since, full_scan, workers, copies=None):
        self.lib: Library = lib
        self.copies: _PrimaryCopies | None = copies
        self.conn = conn
        self.name = conn.name
        self.summary: ServiceSummary = summary
        self.result: DiscoverResult = result
        self.since = since
        self.full_scan = full_scan
        self.workers = workers or min(4, (os.cpu_count() or 2) + 1)
        self.now = utc_now()
        self.default_visibility = lib.preferences.get("default_visibility", "private")
        self.audiences = vis.audience_settings(lib.services)
        self.batch_size = int(lib.preferences["sync_preferences"].get("commit_batch_size", 500))
        #: photos recorded before this run (see _batch_full), counted when a batch first reaches commit_batch_size
        self.recorded_before: int | None = None
        self.cache_rows: list[tuple] = []
        self.dropped: list[str] = []
        self.batches = 0
        self.committed = ServiceSummary(self.name)
        self.changed_anything = False
        #: recorded items the listing no longer has: item id -> (photo id, content hash);
        #: one that turns up under another id is a move, the rest are marked missing
        self.gone: dict[str, tuple[str, str]] = {}
        self.gone_by_hash: dict[str, list[str]] = {}
        #: new photos with nothing to resolve are recorded resolved at once (one write, not two)
        self.settled = NothingToResolve(lib)
        #: photos recorded resolved since the last commit
        self.settled_now: set[str] = set()
        #: no item of the service was recorded when the run began, and the listing named each once
        self.first_sight = False

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> None:
        lib, report = self.lib, self.lib.report
        state = lib.sync_state["services"].get(self.name, {})
        cursor = None if self.full_scan else state.get("cursor")
        try:
            listing = self.conn.list(cursor=cursor, since=self.since, full_scan=self.full_scan)
        except PhotosyncError as e:
            self.summary.failed, self.summary.error = str(e), e
            report.error(f"service {self.name}", str(e))
            return
        assert lib.index is not None
        known = lib.index.scan_state(self.name)  # item id -> ScanRow
        cache = {} if self.full_scan else known
        seen: set[str] = set()
        to_read: list[ItemRef] = []
        scan = report.task(f"Scanning {self.name}")
        unchanged = ignored = listed = 0
        try:
            for ref in listing.refs:
                listed += 1
                seen.add(ref.id)
                scan.advance()
                cached = cache.get(ref.id)
                if cached is not None and cached.fingerprint == ref.fingerprint:
                    if cached.recorded:
                        unchanged += 1
                        continue
                    # a verdict without a hash stands until the file changes, or photosync's reader does
                    if cached.error and cached.reader == READER_VERSION:
                        report.error(self.conn.where(ref.id), cached.error)
                        self.summary.errors += 1
                        continue
                    if cached.no_hash and not cached.error and cached.reader == READER_VERSION:
                        ignored += 1
                        continue
                elif (cached is not None and cached.recorded and ref.content_key is not None
                      and cached.content_key == ref.content_key):
                    # only metadata changed (a network service says so): no need to fetch the bytes
                    ref = ref._replace(known_hash=cached.content_hash)
                to_read.append(ref)
        except PhotosyncError as e:
            self.summary.failed, self.summary.error = str(e), e
            report.error(f"service {self.name}", str(e))
            return
        finally:
            scan.close()
            self.summary.unchanged += unchanged
            self.summary.ignored += ignored
        self.summary.seen = len(seen)
        self.summary.ignored += getattr(self.conn, "ignored", 0)
        # no item of this service recorded, and each listed once: none can be recorded before it
        # is read (the lookup of each item, always empty, was 2 % of a first import's main thread)
        self.first_sight = listed == len(seen) and not lib.index.has_items(self.name)
        total = lib.index.count_present_items(self.name)
        # only a complete, whole listing can say an item is gone (and so, moved)
        whole = listing.complete and not self.conn.partial and bool(seen)
        if whole and unchanged < total:  # else every present item was seen unchanged: none is gone
            for item_id, pid, content_hash in lib.index.present_items(self.name):
                if item_id not in seen:
                    self.gone[item_id] = (pid, content_hash)
                    self.gone_by_hash.setdefault(content_hash, []).append(item_id)
        # the scan cache's rows of items a whole listing no longer names; the listing's ids are then
        # let go before the files are read (at 100,000 files they were ~13 MB of the first import's peak)
        unlisted = [i for i in known if i not in seen] if listing.complete and not self.conn.partial else []
        listed_any = bool(seen)
        del seen
        to_read = self._renames(to_read, known)
        self._read_all(to_read, known)
        if listing.complete and self.conn.partial:
            report.warning(f"service {self.name}", "part of it could not be listed; no item was marked missing")
        elif listing.complete and not listed_any and total:
            report.error(f"service {self.name}", f"lists nothing, but {total} items of it are recorded: is it "
                         "mounted? Nothing was marked missing")
            self.summary.failed = "empty listing"
        elif listing.complete:
            self._mark_missing(sorted((i, pid) for i, (pid, _h) in self.gone.items()), total)
            self.dropped.extend(unlisted)
        self._finish(listing.final_cursor(), state)

    def _renames(self, refs: list[ItemRef], known: dict) -> list[ItemRef]:
        """Items whose fingerprint (for a file: size, mtime, inode) is that of an
        item gone from the listing were moved or renamed: recorded as moves
        without reading them (when the connector can say what the new name
        changes).  Returns the items still to read."""
        if not self.gone:
            return refs
        by_fingerprint = {known[i].fingerprint: i for i, (_pid, h) in self.gone.items()
                          if i in known and known[i].content_hash == h}
        if not by_fingerprint:
            return refs
        rest = []
        for ref in refs:
            old_id = by_fingerprint.get(ref.fingerprint)
            if old_id is None or old_id not in self.gone or not self._rename(old_id, ref):
                rest.append(ref)
        return rest

    def _rename(self, old_id: str, ref: ItemRef) -> bool:
        pid, content_hash = self.gone[old_id]
        try:
            photo = self.lib.get_photo(pid)
        except (InvalidRecord, KeyError):
            return False
        old = photo.find_instance(self.name, old_id)
        metadata = self.conn.renamed(ref, old.metadata) if old is not None else None
        if metadata is None:
            return False  # read it: a move is then found by its content
        assert old is not None  # metadata is None when it is
        raw = ref.raw_name
        inst = dataclasses.replace(old, id=ref.id, metadata=metadata, last_sync=self.now, missing_since=None,
                                   raw_name_b64=base64.b64encode(raw).decode("ascii") if raw is not None else None)
        if not self._move(old_id, inst):
            return False
        self.cache_rows.append((ref.id, ref.fingerprint, content_hash, None, ref.content_key))
        if self._batch_full():
            self._commit(batch=True)
        return True

    def _read_all(self, refs: list[ItemRef], known: dict) -> None:
        """Read ``refs`` and record each; ``known``: the scan cache's rows at the start (id -> ScanRow)."""
        if not refs:
            return
        total_bytes = sum(r.size or 0 for r in refs)
        task = self.lib.report.task(f"Reading {self.name}", total=len(refs), total_bytes=total_bytes or None)
        try:
            for ref, outcome in self._describe_all(refs, known):
                size = ref.size if ref.size is not None else (getattr(outcome, "size", None) or 0)
                task.advance(1, size)
                self.summary.read += 1
                self.summary.read_bytes += size
                self._take(ref, outcome)
                if self._batch_full():
                    self._commit(batch=True)
        finally:
            task.close()

    def _describe_all(self, refs: list[ItemRef], known: dict) -> Iterator[tuple[ItemRef, object]]:
        """describe() in parallel, results in order: in worker processes when the
        connector's work is CPU-bound (reading and parsing files), else threads."""
        describer = self.conn.describer()
        if describer is not None and len(refs) >= PROCESS_THRESHOLD and (os.cpu_count() or 1) > 1:
            procs = min(os.cpu_count() or 2, 8)
            keeping = self._keeping()
            chunks = _chunks(refs, known if keeping is not None else None)
            # the chunks hold the refs now, and let go of each chunk once it is read: the
            # caller's list is emptied so that a first run of 100,000 files does not keep every
            # ref to the end (it grew the peak by ~0.3 MB a thousand files, bench/README.md)
            refs.clear()
            yield from _describe_in_processes(describer, chunks, procs, keeping)
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

    def _keeping(self):
        """discover --execute: the describer whose reader processes also write the bytes they read
        into the primary store (Connector.describer's ``keep``), when the connector takes one."""
        keep = self.copies.keeper() if self.copies is not None else None
        if keep is None or "keep" not in inspect.signature(self.conn.describer).parameters:
            return None
        return self.conn.describer(keep=keep)

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
        if isinstance(outcome, PhotosyncError):  # could not read it now: read again next run
            if isinstance(outcome, ItemChanging):  # being written
                report.warning(where, str(outcome))
                self.summary.changing += 1
            else:
                report.error(where, str(outcome))
                self.summary.errors += 1
            # kept for status to show, with no reader version: the next run reads it again
            self.cache_rows.append((ref.id, ref.fingerprint, None, str(outcome), None, None))
            return
        item: ServiceItem = outcome
        for w in item.warnings:
            report.warning(where, w)
        try:
            kind = self._apply(item)
        except InvalidRecord as e:
            report.error(where, f"not recorded: {e}")
            self.summary.errors += 1
            kind = "error"
        if kind != "new" and self.copies is not None:
            self.copies.discard(item.kept)  # bytes already known: the reader's copy is not needed
        if kind == "error":
            return
        if kind == "new":
            self.summary.new += 1
        elif kind == "duplicate":
            self.summary.duplicates += 1
        elif kind == "updated":
            self.summary.updated += 1
        elif kind == "unchanged":
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
            audience=item.audience,
        )

    def _apply(self, item: ServiceItem) -> str:
        """Record one item that was read: new, duplicate, updated, unchanged or moved."""
        lib = self.lib
        inst = self._instance(item)
        replaced = None  # (record, instance) whose bytes these new bytes replaced at the same place
        k = None if self.first_sight else lib.index.item(self.name, item.ref.id)  # type: ignore[union-attr]
        if k is not None:
            pid, old_hash, _missing = k
            old_photo = lib.get_photo(pid)
            old = old_photo.find_instance(self.name, item.ref.id)
            if old_hash == item.content_hash and old is not None:
                return self._update(old_photo, old, inst)
            if old is not None and old.missing_since is None and old.content_hash != item.content_hash:
                replaced = (old_photo, old)
        if replaced is not None:
            # new bytes at an old place: the old record keeps its instance, marked gone from
            # here (those bytes are no longer there; its blob copies stay), and the new bytes
            # are recorded below
            old_photo, old = replaced
            self._stage(vis.refresh(with_instance(old_photo, dataclasses.replace(old, missing_since=self.now)),
                                  self.audiences))
        moved_from = self._gone_with(item.content_hash, item.ref.id)
        if moved_from is not None and self._move(moved_from, inst):
            return "moved"  # bytes that left another place of this service
        pid = lib.find_by_hash(item.content_hash)
        if pid is not None:
            photo = lib.get_photo(pid)
            rated = [i.quality for i in photo.all_instances() if i.content_hash == inst.content_hash]
            if rated and inst.content_hash != photo.content_hash:
                inst = dataclasses.replace(inst, quality=rated[0])  # another copy of a merged variant
            photo = _note_duplicates(_reopen(with_instance(photo, decoded_look(photo, inst))))
            kind = "duplicate"
        else:
            photo = self._new_photo(item, inst)
            kind = "new"
        if replaced is not None:
            photo = self._saved_over(photo, *replaced)
        photo = vis.refresh(photo, self.audiences)
        if kind == "new" and replaced is None and self.settled(photo):
            photo = photo.replace(processing_state="resolved")
            self.summary.resolved += 1
            self.summary.crowded += self.settled.crowded(photo)
            self.settled_now.add(photo.photo_id)
        self._stage(photo, new=kind == "new")
        if kind == "new" and self.copies is not None:
            self.copies.submit(photo, item.kept, item.size)  # it takes the reader's copy
        return kind

    def _stage(self, photo: Photo, new: bool = False) -> None:
        """Stage a record; one this batch recorded resolved that something reopened before the
        commit (a copy of it found later in the batch) is not counted as resolved.  ``new``:
        bytes no record holds (Library.stage)."""
        if photo.photo_id in self.settled_now and photo.processing_state != "resolved":
            self.settled_now.discard(photo.photo_id)
            self.summary.resolved -= 1
        self.lib.stage(photo, new=new)

    def _gone_with(self, content_hash: str, item_id: str) -> str | None:
        """A gone item of this service with these bytes (the same file name first)."""
        ids = self.gone_by_hash.get(content_hash)
        if not ids:
            return None
        name = item_id.rsplit("/", 1)[-1]
        return next((i for i in ids if i.rsplit("/", 1)[-1] == name), ids[0])

    def _move(self, old_id: str, inst: Instance) -> bool:
        """The item ``old_id``, gone from the listing, is now ``inst`` (another id):
        the photo's instance takes the new id, and what it said keeps its meaning
        (the canonical source, decisions taken about its values).  The photo is
        sent back to resolve only when what it says changed.  False when the
        record cannot be read (the item is then recorded as any other)."""
        lib = self.lib
        pid, content_hash = self.gone[old_id]
        try:
            photo = lib.get_photo(pid)
            displaced = lib.index.item(self.name, inst.id)  # type: ignore[union-attr]
            other = lib.get_photo(displaced[0]) if displaced and displaced[0] != pid and not displaced[2] else None
        except (InvalidRecord, KeyError):
            return False
        old = photo.find_instance(self.name, old_id)
        if old is None:
            return False
        del self.gone[old_id]
        self.gone_by_hash[content_hash].remove(old_id)
        md = _earliest_file_time(old.metadata, inst.metadata)
        inst = decoded_look(photo, dataclasses.replace(inst, metadata=md, quality=old.quality,
                                                       visibility=inst.visibility or old.visibility))
        there = other.find_instance(self.name, inst.id) if other is not None else None
        if there is not None and there.missing_since is None:
            assert other is not None  # there is one of its instances
            # moved over another file: that file's bytes are no longer there
            self._stage(vis.refresh(with_instance(other, dataclasses.replace(there, missing_since=self.now)),
                                  self.audiences))
        kept = tuple(i for i in photo.instances.get(self.name, ()) if i.id not in (old_id, inst.id))
        moved = photo.replace(instances={**photo.instances, self.name: tuple(sorted((*kept, inst), key=lambda i: i.id))})
        moved = _rekey(moved, old.key, inst.key)
        moved = _follow(moved, old, inst.metadata, inst.key)
        if any(getattr(old.metadata, f) != getattr(md, f) for f in COMPARED_FIELDS):
            moved = _reopen(moved)  # what it says changed: resolve looks at it again
        self._stage(vis.refresh(_note_duplicates(moved), self.audiences))
        self.summary.moved += 1
        self.summary.notes.append(f"moved: {old_id} -> {inst.id}")
        return True

    def _saved_over(self, photo: Photo, old_photo: Photo, old: Instance) -> Photo:
        """New bytes saved over ``old`` (same place): the same item with new content.
        Both records are kept; when the pictures could be one photo edited (or
        cannot be compared), each gets a decided link to the other, as a person's
        "linked" answer, so resolve does not ask."""
        from ..conflicts import variants
        from ..model import Resolution

        self.summary.saved_over += 1
        where = self.conn.where(old.id)
        label = f"{old_photo.metadata.filename or old.id} ({old_photo.photo_id[:8]})"
        if photo.photo_id == old_photo.photo_id:
            return photo
        if variants.decision(photo, old_photo) is not None:
            self.summary.notes.append(f"saved over: {old.id}, already linked to {label}")
            return photo
        comparable = bool(variants.faces(photo)) and bool(variants.faces(old_photo))
        if comparable and variants.judge(photo, old_photo) is None:
            note = f"saved over by a different picture: {old.id} recorded as a new photo, not linked to {label}"
            self.summary.notes.append(note)
            self.lib.report.info(f"{where}: {note.split(': ', 1)[0]}; not linked to {label}")
            return photo
        staged = self.lib.get_photo(old_photo.photo_id)  # with its instance marked gone from here
        self._stage(vis.refresh(staged.replace(resolutions=(
            *staged.resolutions, Resolution(f"edit_variant:{photo.photo_id}", "auto", self.now,
                                            policy="edited_in_place", choice="linked", value=photo.photo_id))), self.audiences))
        self.summary.notes.append(f"saved over: {old.id} linked as an edit of {label}")
        self.lib.report.info(f"{where}: saved over: linked as an edit of {label}")
        return photo.replace(resolutions=(
            *photo.resolutions, Resolution(f"edit_variant:{old_photo.photo_id}", "auto", self.now,
                                           policy="edited_in_place", choice="linked", value=old_photo.photo_id)))

    def _update(self, photo: Photo, old: Instance, inst: Instance) -> str:
        md = inst.metadata
        if inst.size is None:
            # described without reading the bytes (only metadata changed): what
            # came from the bytes stays as it was recorded
            md = dataclasses.replace(md, **{
                f: getattr(old.metadata, f) for f in ("camera_info", "width", "height", "format")
                if getattr(md, f) is None
            })
            if md.taken_date is None:  # a date read from the bytes (a connector that prefers it: icloud-shared)
                md = dataclasses.replace(md, taken_date=old.metadata.taken_date,
                                         taken_date_source=old.metadata.taken_date_source,
                                         taken_date_granularity=old.metadata.taken_date_granularity)
            inst = dataclasses.replace(inst, size=old.size, quality=old.quality, metadata=md, look=old.look)
        md = _earliest_file_time(old.metadata, md)
        inst = decoded_look(photo, dataclasses.replace(inst, metadata=md))
        if old.content_hash != photo.content_hash:
            # a variant merged in by resolve: its quality was rated against the canonical copy
            inst = dataclasses.replace(inst, quality=old.quality)
        candidate = dataclasses.replace(inst, last_sync=old.last_sync)
        if candidate == old:
            return "unchanged"
        photo2 = _follow(_reopen(with_instance(photo, inst)), old, md, inst.key)
        self._stage(vis.refresh(_note_duplicates(photo2), self.audiences))
        return "updated"

    def _new_photo(self, item: ServiceItem, inst: Instance) -> Photo:
        pid = str(uuid.uuid5(PHOTO_NAMESPACE, item.content_hash))
        path = photo_path(pid, item.metadata.taken_date)
        if os.path.exists(f"{self.lib.root}/{path}"):
            # the index did not know these bytes, yet their record is there: it must be unreadable
            raise InvalidRecord(path, "a record for these bytes exists but could not be read; fix it first")
        canonical, friends_audience = vis.initial(self.default_visibility, item.visibility, item.audience)
        photo = Photo(
            photo_id=pid,
            content_hash=item.content_hash,
            canonical_source=inst.key,
            metadata=item.metadata,
            created_at=self.now,
            updated_at=self.now,
            instances={self.name: (inst,)},
            visibility=Visibility(canonical=canonical, friends_audience=friends_audience),
        )
        return vis.refresh(photo, self.audiences)

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
            self._stage(vis.refresh(photo, self.audiences))
            self.summary.missing += 1
            if self._batch_full():
                self._commit(batch=True)
        if total >= 20 and len(gone) > total // 2:
            self.lib.report.warning(
                f"service {self.name}",
                f"{len(gone)} of {total} known items are gone (is the folder or drive mounted?); "
                "they are kept in the library and marked missing",
            )

    # -- committing -------------------------------------------------------------------------
    def _batch_full(self) -> bool:
        """Whether enough is staged to commit: ``common.commit_batch`` of the photos recorded (this
        batch's new ones included: the library grows as a first import goes)."""
        staged = self.lib.staged_count
        if staged < self.batch_size:
            return False
        if self.recorded_before is None:  # asked once, before this run's first commit (all pass here)
            assert self.lib.index is not None
            self.recorded_before = self.lib.index.count_photos()
        return staged >= commit_batch(self.lib, self.recorded_before + self.summary.new)

    def _index_updates(self, index) -> None:
        rows, self.cache_rows = self.cache_rows, []
        dropped, self.dropped = self.dropped, []
        if rows:
            index.put_scan(self.name, rows)
        if dropped:
            index.drop_scan(self.name, dropped)

    def _commit(self, batch: bool) -> None:
        """A batch's commit: its message counts what this batch did."""
        if self.copies is not None:
            self.copies.record(self.summary)
        s, c = self.summary, self.committed
        delta = ServiceSummary(self.name, **{k: getattr(s, k) - getattr(c, k) for k in ServiceSummary.COUNTED},
                               notes=s.notes[len(c.notes):], store=s.store)
        if batch:
            self.batches += 1
        oid = self.lib.commit(delta.message(self.batches if (batch or self.batches) else None), self._index_updates)
        self.settled.committed()
        self.settled_now.clear()
        self.committed = dataclasses.replace(s, notes=list(s.notes))
        if oid:
            self.result.commits.append(oid)
            self.changed_anything = True

    def _finish(self, cursor: str | None, state: dict) -> None:
        lib = self.lib
        if self.copies is not None:
            self.copies.record(self.summary)
        changed = self.changed_anything or lib.staged_count > 0
        if changed or (cursor is not None and cursor != state.get("cursor")):
            sync = dict(lib.sync_state)
            services = dict(sync["services"])
            services[self.name] = {"cursor": cursor, "last_change": self.now, "items": self.summary.seen}
            sync["services"] = services
            lib.stage_config(SYNC_STATE_FILE, sync)
        s = self.summary
        summary_text = f"{plural(s.seen, 'item')}: {', '.join(s.phrases())}"

        def updates(index) -> None:
            self._index_updates(index)
            index.set_service_run(self.name, self.now, summary_text)

        # the last of several commits: its message sums up the whole run
        message = s.message(of=self.batches + 1 if self.batches else None)
        oid = lib.commit(message, updates)
        self.settled.committed()
        self.settled_now.clear()
        if oid:
            self.result.commits.append(oid)


def _earliest_file_time(old: Metadata, md: Metadata) -> Metadata:
    """A file time only moves later when the file is touched or copied: keep the earliest."""
    if (old.taken_date_source == "file_mtime" and md.taken_date_source == "file_mtime"
            and old.taken_date and md.taken_date and md.taken_date > old.taken_date):
        return dataclasses.replace(md, taken_date=old.taken_date)
    return md


#: canonical fields that follow the copy they came from when it changes
_FOLLOWED = ("taken_date", "taken_date_source", "filename", "location", "tags", "caption", "camera_info",
             "width", "height", "format", "media_type")


def _follow(photo: Photo, old: Instance, md: Metadata, key: str) -> Photo:
    """Canonical fields that came from this copy (its canonical source) follow its changes."""
    if photo.canonical_source != key:
        return photo
    changes = {f: getattr(md, f) for f in _FOLLOWED
               if getattr(photo.metadata, f) == getattr(old.metadata, f) and getattr(md, f) != getattr(old.metadata, f)}
    return photo.replace(metadata=dataclasses.replace(photo.metadata, **changes)) if changes else photo


def _rekey(photo: Photo, old_key: str, new_key: str) -> Photo:
    """An instance's key changed (a move): everything that named it names the new one."""
    if old_key == new_key:
        return photo

    def keys(values):
        return {(new_key if k == old_key else k): v for k, v in values.items()} if values else values

    conflicts = tuple(dataclasses.replace(c, values=keys(c.values)) for c in photo.conflicts)
    resolutions = tuple(
        dataclasses.replace(r, values_seen=keys(r.values_seen),
                            choice=f"use:{new_key}" if r.choice == f"use:{old_key}" else r.choice)
        for r in photo.resolutions)
    canonical = new_key if photo.canonical_source == old_key else photo.canonical_source
    return photo.replace(conflicts=conflicts, resolutions=resolutions, canonical_source=canonical)


#: at least this many items to read before worker processes are worth starting
PROCESS_THRESHOLD = 48
#: files a worker process reads per task: each result wakes the pool's thread in the main process,
#: which then takes the GIL from the main thread (8 a task: 5 % slower on 23,901 small photos)
CHUNK_FILES = 32
#: discover --execute's copy threads (see _PrimaryCopies)
COPY_THREADS = 1


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


class _Fresh(list):
    """A chunk of refs no record names (new files, most of them new photos): read by the describer
    that keeps their bytes (discover --execute).  A file already recorded (changed, or read again
    by --full-scan) is read by the other, so its bytes are not written into the store again."""


def _chunks(refs: list[ItemRef], recorded) -> list[list[ItemRef]]:
    """``refs`` in order, CHUNK_FILES a chunk at most; with ``recorded`` (ids -> scan rows), a run
    of refs no record names makes _Fresh chunks, and a chunk holds refs of one kind."""
    chunks: list[list[ItemRef]] = []
    for ref in refs:
        fresh = recorded is not None and not getattr(recorded.get(ref.id), "recorded", False)
        last = chunks[-1] if chunks else None
        if last is None or len(last) >= CHUNK_FILES or isinstance(last, _Fresh) != fresh:
            last = _Fresh() if fresh else []
            chunks.append(last)
        last.append(ref)
    return chunks


def _describe_in_processes(describer, chunks: list[list[ItemRef]], procs: int, keeping=None):
    """(ref, outcome) for every ref, read by worker processes with a bounded
    window of chunks in flight (results never pile up in memory).  When a
    worker crashes (a native library dying on one file), the chunks that were
    in flight are read again one at a time to find the culprit: only its items
    are reported (and tried again next run); the rest goes on in a new pool."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from collections import deque
    from concurrent.futures.process import BrokenProcessPool

    from ..media.lookup import remember
    from ..media.visual import Look

    context = multiprocessing.get_context("fork")
    todo = deque(chunks)
    chunks.clear()  # each chunk is dropped once it is read (memory)
    suspects: deque[list[ItemRef]] = deque()
    while todo or suspects:
        alone = bool(suspects)  # suspects are read one chunk at a time
        queue = suspects if alone else todo
        with ProcessPoolExecutor(1 if alone else procs, mp_context=context,
                                 initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
            window: list = []
            while queue or window:
                while queue and len(window) < (1 if alone else procs * 4):
                    chunk = queue.popleft()
                    try:
                        how = keeping if keeping is not None and isinstance(chunk, _Fresh) else describer
                        fut = pool.submit(_describe_chunk, how, chunk)
                    except BrokenProcessPool:  # a worker died while this was being handed over
                        queue.appendleft(chunk)  # not started: it goes to the next pool as it is
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
                for ref, (outcome, known) in zip(chunk, results):
                    if known is not None:  # what lookup_keys would compute from the same signature
                        dhash, informative, approximate, near = known
                        remember(outcome.content_hash, dhash, informative, approximate)
                        parsed = Look.parse(outcome.look)  # kept parsed: the photo is recorded next
                        if parsed is not None:
                            parsed.given(near=near)  # and its probes
                    yield ref, outcome


def _describe_chunk(describe, refs: list[ItemRef]) -> list:
    """(outcome, (dHash, informative, approximate, near quarters) of its picture or None) for each
    ref, in a worker process: the dHash is computed here, beside the signature, and handed to the main
    process's lookup cache (the look-alike search needs it for every new photo; in the main
    process it was 7 % of discover --execute's main thread at 10,000 photos, py-spy)."""
    from ..media.visual import Look

    out = []
    for ref in refs:
        outcome = _safe(describe, ref)
        known = None
        if isinstance(outcome, ServiceItem) and outcome.look:
            look = Look.parse(outcome.look)
            if look is not None:
                known = (look.dhash64(), look.informative, look.approximate, look.near_quarters())
        out.append((outcome, known))
    return out


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
