"""derive: renditions of originals (issue 16) — thumbnails, and the age-tier copies.

Built on the batch executor replicate runs on (phases/executor.py).  A job is one photo and the
renditions it lacks: its original is read once (phases/sources.py: the canonical copy, other
copies with its bytes, a store's copy; verified against its hash), decoded once
(media/render.py), each rendition resized from it and encoded, then put into each derive store
under its key beside the original's (stores verify it like an original).  Results are recorded
per batch in the write order of replicate: every store flushed, then the records naming the
copies, then the commit.  Nothing here writes to, moves or re-encodes an original.

What is wanted comes from the preferences (``derived.thumbnails``, ``derived_tiers``) as recipes;
what is there from the index (``renditions`` rows): a rendition is made again only when it is
missing, was made by another recipe, from bytes that are no longer the photo's original, or lacks
a copy in a derive store.  A photo that cannot be decoded is named and skipped; one whose original
cannot be read from anywhere is a reported gap.
"""

from __future__ import annotations

import functools
import io
import itertools
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Iterable, overload

from ..errors import InvalidRecord, PhotosyncError, SourceError, StoreError, UsageError, VerificationError
from ..library import config as cfg
from ..library.layout import utc_now
from ..library.library import Library
from ..media.formats import FORMATS
from ..model import BlobCopy, Photo, Rendition
from ..renditions import THUMBNAIL, TIER, TIER_NAME, thumbnail_name, with_rendition
from ..stores.base import BlobStore, StoredBlob
from ..stores.naming import rendition_key
from .common import counted, make_stores
from .executor import NOT_COUNTED, Executor, Fault, Stage
from .sources import Sources

#: photos planned at a time (their renditions read from the index together)
PLAN_CHUNK = 500

#: bumped when the rendering code changes the bytes a recipe makes (every rendition is made again)
RENDER_VERSION = 1

DEFAULT_THUMBNAILS = {"sizes": [200, 600, 1200], "format": "webp", "quality": 80}
#: seed 002's tiers: under 1 year light, 1-3 years medium, over 3 years heavy
DEFAULT_TIERS = {
    "format": "jpeg",
    "tiers": [
        {"name": "light", "under_years": 1, "quality": 90, "max_edge": 4096, "video_kbps": 8000},
        {"name": "medium", "under_years": 3, "quality": 80, "max_edge": 2560, "video_kbps": 4000},
        {"name": "heavy", "quality": 65, "max_edge": 1600, "video_kbps": 2000},
    ],
}


@dataclass(frozen=True)
class Recipe:
    """How one rendition is made; ``text`` goes into the record (another text: made again)."""

    name: str
    kind: str
    edge: int | None
    format: str
    quality: int
    tier: str | None = None
    keep_dates: bool = False
    keep_location: bool = False
    #: a video's tier: H.264 at this many kilobits a second (format mp4)
    video_kbps: int | None = None

    @property
    def text(self) -> str:
        edge = f"edge={self.edge}" if self.edge else "full size"
        if self.kind == THUMBNAIL:
            return f"thumbnail/{RENDER_VERSION} {edge} {self.format} q={self.quality} srgb no-metadata"
        if self.format == "mp4":
            return f"tier/{RENDER_VERSION} {self.tier} {edge} mp4 h264 {self.video_kbps}k aac"
        keep = ",".join(k for k, on in (("dates", self.keep_dates), ("location", self.keep_location)) if on)
        return (f"tier/{RENDER_VERSION} {self.tier} {edge} {self.format} q={self.quality} srgb "
                f"exif={keep or 'none'}")


def thumbnail_recipes(prefs: dict) -> list[Recipe]:
    conf = {**DEFAULT_THUMBNAILS, **(prefs.get("derived") or {}).get("thumbnails", {})}
    sizes = sorted({int(s) for s in conf["sizes"]})
    return [Recipe(thumbnail_name(s), THUMBNAIL, s, conf["format"], int(conf["quality"])) for s in sizes]


def tiers(prefs: dict) -> dict:
    conf = prefs.get("derived_tiers") or DEFAULT_TIERS
    return {"format": conf.get("format", "jpeg"), "tiers": conf.get("tiers") or DEFAULT_TIERS["tiers"]}


def _age_years(taken_date: str | None, now: datetime) -> float | None:
    if not taken_date or len(taken_date) < 10:
        return None
    try:
        taken = datetime(int(taken_date[0:4]), int(taken_date[5:7]), int(taken_date[8:10]), tzinfo=timezone.utc)
    except ValueError:
        return None
    return (now - taken).days / 365.25


def tier_recipe(prefs: dict, taken_date: str | None, now: datetime, video: bool = False) -> Recipe:
    """The tier of a photo taken at ``taken_date``: the first whose ``under_years`` the photo's age
    is under (the last has none); an undated photo gets the first (the lightest: when the age is
    unknown, keep more)."""
    conf = tiers(prefs)
    age = _age_years(taken_date, now)
    chosen = conf["tiers"][0]
    if age is not None:
        for t in conf["tiers"]:
            chosen = t
            if t.get("under_years") is not None and age < float(t["under_years"]):
                break
    if video:  # an MP4 at the tier's bitrate, its long edge at most the tier's
        kbps = int(chosen.get("video_kbps") or {"light": 8000, "medium": 4000}.get(chosen["name"], 2000))
        return Recipe(TIER_NAME, TIER, chosen.get("max_edge"), "mp4", 0, tier=chosen["name"], video_kbps=kbps)
    return Recipe(TIER_NAME, TIER, chosen.get("max_edge"), conf["format"], int(chosen.get("quality", 80)),
                  tier=chosen["name"], keep_dates=bool(chosen.get("keep_dates", True)),
                  keep_location=bool(chosen.get("keep_location", True)))


def derive_stores(prefs: dict) -> list[str]:
    """Where renditions go: ``derived.stores``, else every active store."""
    active = cfg.active_stores(prefs)
    wanted = (prefs.get("derived") or {}).get("stores")
    if not wanted:
        return active
    unknown = [s for s in wanted if s not in prefs["blob_storage"]["stores"]]
    if unknown:
        raise UsageError(f"derived.stores names {', '.join(unknown)}, not a store in blob_storage.stores")
    return list(wanted)


Todo = tuple[tuple[Recipe, tuple[str, ...]], ...]


@dataclass(slots=True)
class Job:
    photo_id: str
    #: (recipe, stores to put it in); photos that need the same share one tuple
    todo: Todo
    #: the photo's file name as indexed (for messages), looked up when asked
    names: Callable[[str], str | None] = field(default=lambda _pid: None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return self.names(self.photo_id) or self.photo_id


class Jobs(Sequence[Job]):
    """A plan's jobs, ~20 bytes each: a photo id (a UUID) as 16 bytes, and which of the plan's few
    different todos it needs; its label is read from the index when a message needs it.  (A list of
    Job objects, each with its id and file name as strings, was ~230 bytes a job: 23 MB of derive's
    peak at 100,000 photos.)"""

    def __init__(self, names: Callable[[str], str | None] = lambda _pid: None):
        self._ids = bytearray()
        self._odd: dict[int, str] = {}  # position -> a photo id that is not a UUID (16 zero bytes there)
        self._which = array("I")
        self._todos: list[Todo] = []
        self._known: dict[Todo, int] = {}
        self._names = names

    def append(self, photo_id: str, todo: Todo) -> None:
        n = self._known.get(todo)
        if n is None:
            n = self._known[todo] = len(self._todos)
            self._todos.append(todo)
        try:
            raw = uuid.UUID(photo_id).bytes
            if str(uuid.UUID(bytes=raw)) != photo_id:
                raise ValueError(photo_id)
        except ValueError:
            raw = bytes(16)
            self._odd[len(self._which)] = photo_id
        self._which.append(n)
        self._ids += raw

    def __len__(self) -> int:
        return len(self._which)

    def _job(self, i: int) -> Job:
        pid = self._odd[i] if i in self._odd else str(uuid.UUID(bytes=bytes(self._ids[16 * i:16 * i + 16])))
        return Job(pid, self._todos[self._which[i]], self._names)

    @overload
    def __getitem__(self, i: int) -> Job: ...

    @overload
    def __getitem__(self, i: slice) -> list[Job]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._job(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._job(i)

    def __iter__(self) -> Iterator[Job]:
        return (self._job(i) for i in range(len(self)))

    def renditions(self) -> int:
        return sum(len(self._todos[n]) for n in self._which)


@dataclass
class Plan:
    kinds: tuple[str, ...]
    stores: list[str]
    jobs: Jobs = field(default_factory=Jobs)
    total: int = 0
    #: photos with every wanted rendition in place
    in_place: int = 0
    #: photos left out (videos for tiers; formats nothing can decode)
    left_out: int = 0

    @property
    def renditions(self) -> int:
        return self.jobs.renditions()


def make_plan(lib: Library, kinds: Iterable[str], now: datetime | None = None) -> Plan:
    """What to make, from the index alone (no record read)."""
    kinds = tuple(kinds)
    prefs = lib.preferences
    stores = derive_stores(prefs)
    assert lib.index is not None
    plan = Plan(kinds, stores, Jobs(lib.index.filename))
    now = now or datetime.now(timezone.utc)
    thumbs = thumbnail_recipes(prefs) if THUMBNAIL in kinds else []
    need = set(stores)
    every = tuple(stores)
    # what most photos need is the same: the plan keeps each different todo once (100,000 todos of
    # their own were ~60 MB)
    rows = lib.index.derive_sources()
    while chunk := list(itertools.islice(rows, PLAN_CHUNK)):
        # the renditions of 500 photos at a time (the whole library's state was 230 MB at 100,000; under
        # 999 parameters, the limit of SQLite before 3.32)
        state = lib.index.rendition_state([row[0] for row in chunk])
        for pid, _h, taken, fmt, _filename, _size in chunk:
            plan.total += 1
            kind = FORMATS[fmt].kind if fmt in FORMATS else None
            if kind is None:
                plan.left_out += 1
                continue
            wanted = list(thumbs)
            if TIER in kinds:
                wanted.append(tier_recipe(prefs, taken, now, video=kind == "video"))
            have = state.get(pid, {})
            todo = []
            for r in wanted:
                got = have.get(r.name)
                if got is not None and got[0] == r.text and got[1]:
                    missing = need - got[2]
                    if missing:
                        todo.append((r, tuple(s for s in stores if s in missing)))
                else:
                    todo.append((r, every))
            if todo:
                plan.jobs.append(pid, tuple(todo))
            else:
                plan.in_place += 1
    return plan


@dataclass
class Made:
    """One rendition made: its bytes' facts and where they went."""

    recipe: Recipe
    content_hash: str
    size: int
    format: str
    width: int
    height: int
    source_hash: str
    stored: dict[str, StoredBlob]
    #: store -> why its put failed
    failed: dict[str, str]


@dataclass
class DeriveResult:
    photos: int = 0
    made: int = 0
    made_bytes: int = 0
    stored: dict[str, int] = field(default_factory=dict)
    #: photos whose original could not be decoded (named), or read from anywhere (a gap)
    undecodable: int = 0
    gaps: int = 0
    failed: int = 0
    skipped_stores: dict[str, str] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)


def render(photo: Photo, recipes: list[Recipe], original: BinaryIO) -> list:
    """Each recipe's Encoded, from one decode of ``original`` (a seekable file of the photo's bytes)."""
    from ..media import render as rd

    fmt, media_type = photo.metadata.format, photo.metadata.media_type
    edges = [r.edge for r in recipes]
    largest = None if any(e is None for e in edges) else max(e for e in edges if e is not None)
    base = rd.load(original, fmt, media_type, largest)
    out = []
    current = base
    # largest first, each from the one before: a 200 px thumbnail resized from 600 px, not 4000
    for r in sorted(recipes, key=lambda r: -(r.edge or 1 << 30)):
        current = rd.fit(current, r.edge)
        exif = None
        if r.kind == TIER and (r.keep_dates or r.keep_location) and media_type != "video":
            original.seek(0)
            exif = rd.kept_exif(original, r.keep_dates, r.keep_location)
        out.append((r, rd.encode(current, r.format, r.quality, exif)))
    return out


class _Renders(Stage[Job, list]):
    def __init__(self, lib: Library, plan: Plan, stores: dict[str, BlobStore], result: DeriveResult):
        self.lib = lib
        self.plan = plan
        self.stores = stores
        self.result = result
        #: the originals are read from the active stores (and the services), whatever the derive stores are
        self.sources = Sources(lib, make_stores(lib))
        self.now = utc_now()
        self.bad_stores: dict[str, str] = {}
        #: (job, made renditions) waiting for the stores' flush
        self.pending: list[tuple[Job, list[Made]]] = []

    def target(self, job: Job) -> str:
        return "derive"

    def prepare(self, job: Job):
        try:
            photo = self.lib.get_photo(job.photo_id)
        except InvalidRecord as e:
            self.lib.report.error(e.path, f"{e.reason}; no renditions made")
            self.result.failed += 1
            return None
        todo = [(r, tuple(s for s in where if s not in self.bad_stores)) for r, where in job.todo]
        todo = [(r, where) for r, where in todo if where]
        if not todo:
            return None
        return functools.partial(self.work, photo, todo)

    def work(self, photo: Photo, todo: list[tuple[Recipe, tuple[str, ...]]]) -> list[Made]:
        import tempfile

        from ..media import render as rd

        pictures = [r for r, _ in todo if r.format != "mp4"]
        videos = [r for r, _ in todo if r.format == "mp4"]
        where = dict((r.name, w) for r, w in todo)
        made = []
        spool = self.sources.spool(photo, purpose=" to render")
        with spool:
            encoded = render(photo, pictures, spool) if pictures else []
            for r, enc in encoded:
                made.append(self.put(photo, r, enc.format, enc.width, enc.height, enc.data, where[r.name]))
            for r in videos:  # a video's tier: re-encoded into a temporary file, put from there
                with tempfile.NamedTemporaryFile(suffix=".mp4") as out:
                    spool.seek(0)
                    width, height = rd.transcode(spool, out.name, r.edge, r.video_kbps or 2000,
                                                       keep_dates=r.keep_dates)
                    with open(out.name, "rb") as f:
                        made.append(self.put(photo, r, "mp4", width, height, f, where[r.name]))
        return made

    def put(self, photo: Photo, r: Recipe, fmt: str, width: int, height: int, data, stores) -> Made:
        """Put one rendition's bytes (``data``: bytes, or a file read from its start) into ``stores``."""
        import hashlib

        h = hashlib.sha256()
        if isinstance(data, bytes):
            h.update(data)
            size = len(data)
        else:
            size = 0
            while chunk := data.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
        digest = "sha256:" + h.hexdigest()
        rend = Rendition(r.name, r.kind, r.text, photo.content_hash, digest, size, fmt, width, height, self.now,
                         tier=r.tier)
        key = rendition_key(photo, rend)
        stored, failed = {}, {}
        for name in stores:
            if name in self.bad_stores:
                continue
            if not isinstance(data, bytes):
                data.seek(0)
            try:
                stored[name] = self.stores[name].put(key, io.BytesIO(data) if isinstance(data, bytes) else data, size)
            except (StoreError, OSError, VerificationError) as e:
                failed[name] = str(e)
        return Made(r, digest, size, fmt, width, height, photo.content_hash, stored, failed)

    def finished(self, job: Job, made: list[Made]) -> None:
        for m in made:
            for name, why in m.failed.items():
                self.executor.fail_target(name, why)
        self.pending.append((job, made))

    def failed(self, job: Job, error: Exception) -> Fault:
        from ..media.render import RenderError

        where = f"{job.label} ({job.photo_id})"
        if isinstance(error, RenderError):
            self.lib.report.warning(where, f"{error}; skipped (no renditions)")
            self.result.undecodable += 1
            return NOT_COUNTED
        if isinstance(error, (SourceError, VerificationError)):
            self.lib.report.error(where, f"original missing, renditions not made: {error}")
            self.result.gaps += 1
            return NOT_COUNTED
        if isinstance(error, PhotosyncError):
            self.lib.report.error(where, f"no renditions made: {error}")
            self.result.failed += 1
            return NOT_COUNTED
        raise error

    def target_failed(self, name: str, reason: str) -> None:
        if name in self.bad_stores:
            return
        self.bad_stores[name] = reason
        self.result.skipped_stores[name] = reason
        self.lib.report.error(f"store {name}", f"{reason}; skipped for the rest of this run (its renditions of "
                                               "this batch are not recorded)")

    def waiting(self) -> int:
        return len(self.pending)

    def commit(self, final: bool) -> None:
        lib, result = self.lib, self.result
        used = {name for _job, made in self.pending for m in made for name in m.stored}
        for name in sorted(used):
            if name in self.bad_stores:
                continue
            try:
                self.stores[name].flush()  # bytes durable before any record names them
            except (StoreError, OSError) as e:
                self.executor.fail_target(name, str(e))
        per_store: dict[str, int] = {}
        photos = 0
        for job, made in self.pending:
            try:
                photo = lib.get_photo(job.photo_id)
            except InvalidRecord as e:
                lib.report.error(e.path, f"{e.reason}; its renditions are not recorded")
                result.failed += 1
                continue
            changed = False
            for m in made:
                copies = {name: BlobCopy(name, b.locator, b.size, self.now)
                          for name, b in m.stored.items() if name not in self.bad_stores}
                if not copies:
                    continue
                old = photo.renditions.get(m.recipe.name)
                if old is not None and old.content_hash == m.content_hash and old.source_hash == m.source_hash:
                    copies = {**{n: c for n, c in old.copies.items() if n not in copies}, **copies}
                rend = Rendition(m.recipe.name, m.recipe.kind, m.recipe.text, m.source_hash, m.content_hash, m.size,
                                 m.format, m.width, m.height, self.now, dict(sorted(copies.items())),
                                 tier=m.recipe.tier)
                photo = with_rendition(photo, rend)
                changed = True
                result.made += 1
                result.made_bytes += m.size
                for name in copies:
                    if name in m.stored:
                        per_store[name] = per_store.get(name, 0) + 1
                        result.stored[name] = result.stored.get(name, 0) + 1
            if changed:
                lib.stage(photo)
                photos += 1
                result.photos += 1
        self.pending = []
        if photos:
            what = " and ".join(k + "s" if k == THUMBNAIL else "tier copies" for k in self.plan.kinds)
            where = ", ".join(f"{n} in {name}" for name, n in sorted(per_store.items()))
            msg = f"derive: {what} of {counted(photos, 'photo')} ({where})"
            oid = lib.commit(msg if final else msg + " (batch)")
            if oid:
                result.commits.append(oid)


def execute(lib: Library, plan: Plan, workers: int | None = None) -> DeriveResult:
    import os

    result = DeriveResult()
    report = lib.report
    try:
        defs = lib.preferences["blob_storage"]["stores"]
        from ..stores import registry
        from .common import store_env

        env = store_env(lib)
        stores = {name: registry.create(name, defs[name], env) for name in plan.stores}
    except PhotosyncError as e:
        report.error("blob storage", str(e))
        result.failed = len(plan.jobs)
        return result
    for name, store in stores.items():
        reason = store.unavailable()
        if reason:
            report.error(f"store {name}", f"{reason}; no renditions written there")
            result.skipped_stores[name] = reason
    # decoding and encoding are CPU work that Pillow does without the GIL: a worker per core
    workers = workers or max(1, os.cpu_count() or 1)
    batch = int(lib.preferences["sync_preferences"].get("commit_batch_size", 500))
    stage = _Renders(lib, plan, stores, result)
    stage.bad_stores.update(result.skipped_stores)
    lib.recent_reads = max(lib.recent_reads, batch + 4 * workers + 64)
    label = "Rendering " + " and ".join("thumbnails" if k == THUMBNAIL else "tier copies" for k in plan.kinds)
    task = report.task(label, total=len(plan.jobs))
    try:
        with Executor(stage, workers=workers, batch=batch, task=task, name="derive") as executor:
            executor.run(plan.jobs)
    finally:
        task.close()
    return result
