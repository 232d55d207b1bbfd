"""The library: a git repository of photo records and config, plus its lock and
derived index.  Phases work through this class only.

Reading a photo reads its file in the work tree (what the person sees), checks
it against the schema, and refuses it with the file and field named when it is
invalid; such a photo is skipped, never overwritten.  Changes are staged and
committed together: files first, then the commit, then the index rows.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .. import records
from ..context import Context
from ..errors import ConfigError, InvalidRecord, PhotosyncError, UsageError
from ..events import Problem, Reporter, Tally
from ..model import Photo
from . import config as cfg
from .find import find_library
from .headref import read_head_oid
from .index import Index
from .layout import (
    CONFIG_DIR,
    CONFIG_FILES,
    GITIGNORE,
    MACHINE_FILE,
    MACHINE_IGNORE,
    PHOTOS_DIR,
    PREFERENCES_FILE,
    PRIVATE_DIR,
    SCHEMAS_DIR,
    SERVICES_FILE,
    is_photo_path,
    photo_path,
    utc_now,
)

if TYPE_CHECKING:
    from .lock import LibraryLock


#: how many records read from disk are kept for a following stage() (not re-read)
RECENT_READS = 1024

#: bumped when config files are checked for more than before: a file validated by an older
#: photosync (whose stamp is cached in the index) is checked again (3: entries by their type's options)
CONFIG_CHECKS = "3"

#: the field a hand edit may not widen
CANONICAL_FIELD = "visibility.canonical"


def git_blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob (what ``git hash-object`` prints)."""
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def photo_id_from_path(path: str) -> str:
    return path.rsplit("/", 1)[-1][: -len(".json")]


def visibility_message(subject: str, reason: str | None, changes: list[tuple[str, str, str, str]]) -> str:
    """The commit message of an explicit visibility change (``visibility set`` / ``adopt``),
    in the form _History recognises as one: the subject ("visibility: ..."), a ``reason:``
    line (without it nothing is taken as an explicit widening), then a line per photo
    "<label> (<photo id>): <old> -> <new>" (``changes``: label, photo id, old, new)."""
    assert subject.startswith("visibility:")
    lines = [f"reason: {reason}"] if reason else []
    lines += [f"{label} ({pid}): {old} -> {new}" for label, pid, old, new in changes]
    return subject + "\n\n" + "\n".join(lines)


def explicit_text(level: str, friends_audience: str | None = None) -> str:
    """A level as a `visibility set`/`adopt` commit line writes it: "friends (family)" when a finer
    "friends" audience was set (a bare "friends" sets friends only)."""
    return f"{level} ({friends_audience})" if level == "friends" and friends_audience else level


class _History:
    """The commits an index catch-up covers (reachable from HEAD, not from the commit the index
    reflected): which photos a `visibility set` commit widened, and which commit last changed a
    file.  Read only when a widening is found (most catch-ups find none)."""

    #: a line of a `visibility set` commit body: "<label> (<photo id>): <old> -> <new>"
    #: ("friends (family)" when `visibility adopt` took a finer audience)
    _LINE = re.compile(r"\(([0-9a-f-]{36})\): (?:private|friends|public)(?: \([a-z+]+\))? -> "
                       r"((?:private|friends|public)(?: \([a-z+]+\))?)\s*$")

    def __init__(self, git, since: str, head: str):
        self.git = git
        self.since = since
        self.head = head
        self._commits: list[tuple[str, str, str | None]] | None = None
        self._allowed: set[tuple[str, str]] | None = None

    @property
    def commits(self) -> list[tuple[str, str, str | None]]:
        if self._commits is None:
            self._commits = self.git.commits_between(self.since, self.head)
        return self._commits

    def justified(self, photo_id: str, level: str, friends_audience: str | None = None) -> bool:
        """Whether a `visibility set` commit (subject "visibility: ...", with its reason) among
        these commits set this photo to this level."""
        if self._allowed is None:
            self._allowed = set()
            for _oid, message, _parent in self.commits:
                lines = message.splitlines()
                if not (lines and lines[0].startswith("visibility:")):
                    continue
                if not any(line.startswith("reason:") and line[7:].strip() for line in lines):
                    continue
                for line in lines[1:]:
                    m = self._LINE.search(line)
                    if m:
                        self._allowed.add((m.group(1), m.group(2)))
        # the "friends" audience too: `visibility set ... friends` sets friends only, `adopt` names its own
        return (photo_id, explicit_text(level, friends_audience)) in self._allowed

    def last_change(self, path: str) -> tuple[str, str]:
        """(commit, subject) of the newest of these commits that changed ``path``."""
        for oid, message, parent in self.commits:
            if self.git.blob_at(oid, path) != (self.git.blob_at(parent, path) if parent else None):
                return oid, (message.splitlines() or [""])[0]
        return self.head, ""


class Library:
    def __init__(self, root: Path, *, write: bool, reporter: Reporter | None = None, ctx: Context | None = None):
        self.root = root
        self.write = write
        self.report = reporter if isinstance(reporter, Tally) else Tally(reporter)
        self.ctx = ctx or Context.from_env()
        self.private_dir = root / ".git" / PRIVATE_DIR
        self._git = None
        self._lock: LibraryLock | None = None
        #: False when the caller holds the lock for longer (Library.open's held_lock)
        self._owns_lock = True
        self.index: Index | None = None
        self._staged: dict[str, Photo] = {}
        self._staged_bytes: dict[str, tuple[str, bytes]] = {}
        self._staged_hashes: dict[str, str] = {}
        #: for each staged photo: the record as it is on disk (None when new) and its path
        self._originals: dict[str, tuple[Photo | None, str | None]] = {}
        #: the last records read from disk or committed (bounded: memory must not grow with the library)
        self._recent: "OrderedDict[str, tuple[Photo, str]]" = OrderedDict()
        #: how many records ``_recent`` keeps (a phase that reads a record again a batch later raises it)
        self.recent_reads = RECENT_READS
        #: records read from the work tree and parsed in this run (what the recent-reads cache saves)
        self.record_reads = 0
        self._staged_config: dict[str, bytes] = {}
        #: photo records merged into another record: their files go in the next commit
        self._removed: dict[str, str] = {}
        self.services: dict[str, dict] = {}
        self.preferences: dict = {}
        self.sync_state: dict = {}
        #: config files that failed their checks this run (never committed by photosync)
        self.invalid_config: set[str] = set()
        #: canonical widenings committed outside `visibility set` that this run found
        #: (photo_id, path, old, new, commit, subject, narrowed back: bool)
        self.widened: list[tuple[str, str, str, str, str, str, bool]] = []

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        location: str | os.PathLike | None = None,
        *,
        write: bool = True,
        reporter: Reporter | None = None,
        ctx: Context | None = None,
        held_lock: LibraryLock | None = None,
    ) -> "Library":
        """``held_lock``: the library's lock, already held by the caller for longer than this opening
        (``watch`` holds it across cycles): used as it is, and not released by :meth:`close` (closing
        a second descriptor of the lock file would drop the process's POSIX lock)."""
        root = find_library(location)
        lib = cls(root, write=write, reporter=reporter, ctx=ctx)
        try:
            if write and held_lock is not None:
                lib._lock = held_lock
                lib._owns_lock = False
                lib._repair_interrupted_writes()
            elif write:
                from .lock import LibraryLock

                lib._lock = LibraryLock(lib.private_dir / "lock")
                lib._lock.acquire()
                # first of all: undo what a killed run left half-written (config files included)
                lib._repair_interrupted_writes()
            lib.index = Index(lib.private_dir / "index.sqlite")
            lib._load_config()
            lib._catch_up()
            if write:
                lib._recover_pending()
                lib._merge_driver()
            lib._undo_widenings()
            lib._recheck_invalid()
            for path, reason in lib.index.invalid_files():
                lib.report.error(path, reason)
        except BaseException:
            lib.close()
            raise
        return lib

    def close(self) -> None:
        if self.write and self._git is not None and self._lock is not None:
            try:
                self._git.maybe_compact()
            except Exception as e:  # compaction is housekeeping: never fail a run for it
                self.report.warning("library", f"could not compact git packs ({e}); run 'git gc' some time")
        if self.index is not None:
            self.index.rollback()
            self.index.close()
            self.index = None
        if self._lock is not None:
            if self._owns_lock:
                self._lock.release()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def git(self):
        if self._git is None:
            from .gitstore import GitStore

            self._git = GitStore(self.root)
        return self._git

    # -- creation ----------------------------------------------------------------------
    @staticmethod
    def init(path: str | os.PathLike) -> tuple[Path, bool]:
        """Create a library at ``path`` (or complete one); returns (root, created)."""
        from .gitstore import GitStore

        root = Path(path).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        git = GitStore.init(root)
        files: dict[str, bytes] = {}
        for rel, data in cfg.default_config_files().items():
            if not (root / rel).exists():
                files[rel] = data
        for name, data in records.schema_files().items():
            rel = f"{SCHEMAS_DIR}/{name}"
            if not (root / rel).exists() or (root / rel).read_bytes() != data:
                files[rel] = data
        for rel in (f"{PHOTOS_DIR}/.gitkeep", "blobs/.gitkeep"):
            if not (root / rel).exists():
                files[rel] = b""
        from .remotes import attributes_bytes, has_attributes, install_merge_driver

        if not has_attributes(root):  # a plain `git pull` merges records the way `photosync sync` does
            files[".gitattributes"] = attributes_bytes(root)
        install_merge_driver(git.repo)
        gitignore = root / ".gitignore"
        if not gitignore.exists():
            files[".gitignore"] = GITIGNORE.encode()
        elif "/blobs/*" not in gitignore.read_text(errors="replace"):
            files[".gitignore"] = gitignore.read_bytes().rstrip(b"\n") + b"\n\n" + GITIGNORE.encode()
        elif MACHINE_IGNORE not in gitignore.read_text(errors="replace"):
            files[".gitignore"] = gitignore.read_bytes().rstrip(b"\n") + b"\n" + MACHINE_IGNORE.encode() + b"\n"
        created = git.head_oid is None or bool(files)
        oid = git.commit(files, "init: new photosync library" if git.head_oid is None else "init: complete library layout")
        return root, bool(oid) and created

    def _merge_driver(self) -> None:
        """photosync's merge driver for photo records and config files (issue 17): the repository's
        config names it (each clone has its own config), .gitattributes assigns it; a library made
        before either gets them here, .gitattributes in its own commit."""
        from .remotes import attributes_bytes, has_attributes, install_merge_driver

        install_merge_driver(self.git.repo)
        changes: dict[str, bytes] = {}
        if not has_attributes(self.root):
            changes[".gitattributes"] = attributes_bytes(self.root)
        ignore = self.root / ".gitignore"
        if ignore.exists() and MACHINE_IGNORE not in ignore.read_text(errors="replace"):
            changes[".gitignore"] = ignore.read_bytes().rstrip(b"\n") + b"\n" + MACHINE_IGNORE.encode() + b"\n"
        if changes:
            self._commit_files(changes, "library: photo records and config merge with photosync's merge driver "
                                        "(.gitattributes); this machine's settings file is not shared (.gitignore)")

    # -- config --------------------------------------------------------------------------
    def _read_config_file(self, rel: str) -> bytes:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{rel} is missing; restore it with: git checkout -- {rel}") from None

    def _stamp(self, rel: str) -> str:
        st = os.stat(self.root / rel)
        return f"{CONFIG_CHECKS}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"

    def _load_config(self) -> None:
        assert self.index is not None
        try:
            for rel, kind in CONFIG_FILES.items():
                data = self._read_config_file(rel)
                stamp = self._stamp(rel)
                fresh = self.index.validated_stamp(rel) == stamp
                if kind == "services":
                    if fresh:
                        self.services = records.parse_json(data, rel)
                    else:
                        self.services, bad = cfg.parse_services(data, rel)
                        for err in bad:
                            self.report.error(err.path, str(err).split(": ", 1)[1])
                        if bad:
                            self.invalid_config.add(rel)
                        else:
                            self.index.set_validated(rel, stamp)
                elif kind == "preferences":
                    if fresh:
                        self.preferences = cfg.normalise_preferences(records.parse_json(data, rel), rel)
                    else:
                        self.preferences = cfg.parse_preferences(data, rel)
                        self.index.set_validated(rel, stamp)
                else:
                    if fresh:
                        self.sync_state = records.parse_json(data, rel)
                    else:
                        self.sync_state = cfg.parse_sync_state(data, rel)
                        self.index.set_validated(rel, stamp)
        except InvalidRecord as e:
            raise ConfigError(f"invalid config file {e}") from None
        self._apply_machine()

    def machine_settings(self) -> dict:
        """This machine's settings (config/machine.json): {"services": {name: {key: value}},
        "stores": {name: {key: value}}}; {} when there is none."""
        try:
            data = records.parse_json((self.root / MACHINE_FILE).read_bytes(), MACHINE_FILE)
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict) or any(not isinstance(data.get(k, {}), dict) for k in ("services", "stores")):
            raise ConfigError(f"{MACHINE_FILE}: must be an object with 'services' and 'stores' objects "
                              '(e.g. {"services": {"pics": {"path": "/mnt/photos"}}})')
        return data

    def _apply_machine(self) -> None:
        """Lay this machine's settings over the shared entries: a service's or a store's keys set
        in config/machine.json win here (each entry checked by its type again, named with the file)."""
        machine = self.machine_settings()
        if not machine:
            return
        from ..errors import InvalidRecord as Invalid

        for name, over in (machine.get("services") or {}).items():
            if name not in self.services or not isinstance(over, dict):
                self.report.warning(MACHINE_FILE, f"services.{name}: no such service in {SERVICES_FILE}; ignored")
                continue
            entry = {**self.services[name], **over}
            try:
                cfg.check_service_entry(name, entry, MACHINE_FILE)
            except Invalid as e:
                self.report.error(MACHINE_FILE, str(e).split(": ", 1)[1])
                continue
            self.services[name] = entry
        stores = self.preferences.get("blob_storage", {}).get("stores", {})
        for name, over in (machine.get("stores") or {}).items():
            if name not in stores or not isinstance(over, dict):
                self.report.warning(MACHINE_FILE, f"stores.{name}: no such store in {PREFERENCES_FILE}; ignored")
                continue
            entry = {**stores[name], **over}
            try:
                cfg.check_store_entry(name, entry, MACHINE_FILE)
            except Invalid as e:
                self.report.error(MACHINE_FILE, str(e).split(": ", 1)[1])
                continue
            stores[name] = entry

    def set_machine(self, kind: str, name: str, key: str, value) -> None:
        """Save one of this machine's settings (``kind`` services or stores) in config/machine.json
        (written in place, never committed), after the entry with it passes its type's checks."""
        machine = self.machine_settings()
        section = machine.setdefault(kind, {})
        over = {**section.get(name, {}), key: value}
        if kind == "services":
            if name not in self.services:
                raise UsageError(f"no service named '{name}' (services: {', '.join(sorted(self.services)) or 'none'})")
            cfg.check_service_entry(name, {**self.services[name], **over}, MACHINE_FILE)
        else:
            stores = self.preferences["blob_storage"]["stores"]
            if name not in stores:
                raise UsageError(f"no store named '{name}' (stores: {', '.join(sorted(stores))})")
            cfg.check_store_entry(name, {**stores[name], **over}, MACHINE_FILE)
        section[name] = over
        path = self.root / MACHINE_FILE
        path.write_bytes(records.dump_json(machine))
        self._apply_machine()

    def stage_config(self, rel: str, data: dict) -> None:
        """Stage a config file photosync changes, after the checks a hand edit gets
        (its schema, no secret-looking key, each entry by its type)."""
        kind = CONFIG_FILES[rel]
        if kind == "services":
            cfg.check_services(data, rel)
        else:
            records.validate(kind, data, rel)
            if kind == "preferences":
                cfg.check_store_entries(data, rel)
        self._staged_config[rel] = records.dump_json(data)
        if kind == "services":
            self.services = dict(data)  # this machine's settings are laid over a copy, not the caller's
        elif kind == "preferences":
            self.preferences = cfg.normalise_preferences(data, rel)
        else:
            self.sync_state = data
        if kind != "sync_state":
            self._apply_machine()

    def raw_preferences(self) -> dict:
        return records.parse_json(self._read_config_file(PREFERENCES_FILE), PREFERENCES_FILE)

    def raw_services(self) -> dict:
        return records.parse_json(self._read_config_file(SERVICES_FILE), SERVICES_FILE)

    # -- the derived index ---------------------------------------------------------------
    def _catch_up(self) -> None:
        """Bring the index in step with HEAD (only the files that changed)."""
        assert self.index is not None
        head = read_head_oid(self.root)
        indexed = self.index.commit_oid
        if head == indexed:
            return
        git = self.git
        head = git.head_oid
        self.index.begin()
        try:
            since = None
            if indexed and git.has_commit(indexed):
                since = indexed
                changes = [(p, b) for p, b in git.changed_between(indexed, (PHOTOS_DIR + "/",)) if is_photo_path(p)]
                task = self.report.task("Updating index", total=len(changes)) if len(changes) > 200 else None
            else:
                self.index.clear_derived()
                changes = [(p, b) for p, b in git.walk(PHOTOS_DIR) if is_photo_path(p)]
                task = self.report.task("Rebuilding index", total=len(changes)) if len(changes) > 200 else None
            # where each changed photo was before (a record moves when its date changes)
            before = {photo_id_from_path(p): self.index.photo_path(photo_id_from_path(p))
                      for p, b in changes if b is not None} if since else {}
            history = _History(git, since, head) if since else None
            for path, blob in changes:
                if blob is None:
                    pid = photo_id_from_path(path)
                    if self.index.photo_path(pid) == path:
                        self.index.remove_photo(pid)
                    self.index.clear_invalid(path)
                else:
                    photo = self._index_file(path, git.read_blob(blob), blob)
                    if photo is not None and history is not None:
                        self._note_widening(history, path, before.get(photo.photo_id), photo)
                if task:
                    task.advance()
            if task:
                task.close()
            self.index.set_meta("commit", head)
            self.index.commit()
        except BaseException:
            self.index.rollback()
            raise

    # -- privacy: canonical visibility widens only through `visibility set` -----------------------
    def _initial_level(self, photo: Photo) -> str:
        """The level a record new to git may have: the narrowest of the configured default
        and what its instances show (what discover would have given it)."""
        from ..model import narrowest

        shown = [i.visibility for i in photo.all_instances() if i.visibility]
        return narrowest([self.preferences.get("default_visibility", "private"), *shown])

    def _canonical_at(self, commit_or_head: str | None, path: str | None) -> str | None:
        """The canonical level of the record at ``path`` in a commit (HEAD when None)."""
        found = self._visibility_at(commit_or_head, path)
        return found[0] if found else None

    def _visibility_at(self, commit_or_head: str | None, path: str | None) -> tuple[str, str | None] | None:
        """The canonical level and "friends" audience of the record at ``path`` in a commit
        (HEAD when None)."""
        if not path:
            return None
        git = self.git
        blob = git.head_blob_oid(path) if commit_or_head is None else git.blob_at(commit_or_head, path)
        if blob is None:
            return None
        try:
            vis = records.parse_json(git.read_blob(blob), path)["visibility"]
            level, fa = vis["canonical"], vis.get("friends_audience")
        except (InvalidRecord, KeyError, TypeError, AttributeError):
            return None
        from ..model import FRIENDS_AUDIENCES, VISIBILITY_LEVELS

        if level not in VISIBILITY_LEVELS:
            return None
        return level, (fa if level == "friends" and fa in FRIENDS_AUDIENCES else None)

    def _note_widening(self, history: "_History", path: str, old_path: str | None, photo: Photo) -> None:
        """A record whose canonical level is wider at HEAD than before the commits the index
        catches up with, and no `visibility set` among them widened it: kept in the index
        until it is narrowed back (a write run does that; a read-only run reports it)."""
        from .. import privacy as vis
        from ..model import visibility_rank, within

        assert self.index is not None
        new = photo.visibility.canonical
        if visibility_rank(new) == 0:
            return  # the narrowest level widens nothing (most photos: no old record is read)
        before = self._visibility_at(history.since, old_path)
        new_aud = vis.audience_of(new, photo.visibility.friends_audience)
        if before is None:  # new to git: what discover would have given it (the level only)
            old_aud = vis.audience_of(self._initial_level(photo))
            if visibility_rank(new) <= visibility_rank(old_aud):
                return
        else:
            # the "friends" audience counts too: family only -> friends and family is a widening
            old_aud = vis.audience_of(*before)
            if within(new_aud, old_aud):
                return
        if history.justified(photo.photo_id, new, photo.visibility.friends_audience):
            return
        known = self.index.widening(photo.photo_id)
        if known is not None:
            # widened twice before a run could narrow it: back to (within) the first level
            old_aud = vis.meet(old_aud, vis.audience_of(*vis.parse_level_text(known[2])))
        commit, subject = history.last_change(path)
        self.index.add_widening(photo.photo_id, path, vis.level_text(*vis.from_audience(old_aud)),
                                vis.level_text(new, photo.visibility.friends_audience), commit, subject)

    def _undo_widenings(self) -> None:
        """Narrow back what a commit made outside `visibility set` widened (write runs),
        or say that the next write run will (read-only runs)."""
        from .. import privacy as vis
        from ..model import Visibility, within

        assert self.index is not None
        rows = self.index.widenings()
        if not rows:
            return
        undone: list[tuple] = []
        for pid, path, old, new, commit, subject in rows:
            how = f"was widened {old} -> {new} by commit {commit[:10]} (\"{subject}\"), not with 'photosync visibility set'"
            widen = f"photosync visibility set {pid} {vis.parse_level_text(new)[0]} --reason \"...\""
            if not self.write:
                self.report.error(path, f"field '{CANONICAL_FIELD}' {how}; the next photosync command that writes "
                                        f"narrows it back to {old} (to widen it: {widen})")
                self.widened.append((pid, path, old, new, commit, subject, False))
                continue
            try:
                photo = self.get_photo(pid)
            except KeyError:  # the record is gone (merged, or removed with git)
                self.index.drop_widening(pid)
                continue
            except InvalidRecord as e:
                self.report.error(path, f"field '{CANONICAL_FIELD}' {how}; not narrowed back yet: {e.reason}")
                continue
            old_aud = vis.audience_of(*vis.parse_level_text(old))
            now = vis.audience_of(photo.visibility.canonical, photo.visibility.friends_audience)
            if not within(now, old_aud):
                level, fa = vis.from_audience(vis.meet(now, old_aud))  # within both, never wider
                self.stage(vis.refresh(photo.replace(visibility=Visibility(
                    level, photo.visibility.per_service, (), fa))))
                undone.append((pid, path, old, new, commit, subject, photo.label))
            else:
                self.index.drop_widening(pid)
        if undone:
            n = len(undone)
            lines = [f"{label} ({pid}): {new} -> {old}, widened by {commit[:10]} without visibility set"
                     for pid, _p, old, new, commit, _s, label in undone]
            self.commit(f"library: narrowed {n} photo{'s' if n != 1 else ''} back that a commit outside "
                        "photosync had widened\n\n" + "\n".join(lines))
            for pid, path, old, new, commit, subject, _label in undone:
                self.report.error(path, f"field '{CANONICAL_FIELD}' was widened {old} -> {new} by commit "
                                        f"{commit[:10]} (\"{subject}\"), not with 'photosync visibility set'; "
                                        f"narrowed back to {old}. To widen it: photosync visibility set {pid} "
                                        f"{new} --reason \"...\"")
                self.index.drop_widening(pid)
                self.widened.append((pid, path, old, new, commit, subject, True))

    def _recheck_invalid(self) -> None:
        """Files recorded as invalid that a person has fixed (or removed) since."""
        assert self.index is not None
        for path, _reason in self.index.invalid_files():
            full = self.root / path
            if not full.exists():
                self.index.clear_invalid(path)
                continue
            data = full.read_bytes()
            try:
                photo = records.photo_from_bytes(data, path)
            except InvalidRecord:
                continue
            if self.write or self.git.head_blob_oid(path) == git_blob_id(data):
                self.index.put_photo(photo, path, git_blob_id(data))

    def _index_file(self, path: str, data: bytes, blob: str | None = None) -> Photo | None:
        assert self.index is not None
        try:
            photo = records.photo_from_bytes(data, path)
        except InvalidRecord as e:
            self.index.mark_invalid(path, str(e).split(": ", 1)[1])
            return None
        self.index.put_photo(photo, path, blob or git_blob_id(data))
        return photo

    def _recover_pending(self) -> None:
        """Deal with files under photos/ and config/ that differ from HEAD: an
        interrupted run's writes or hand edits.  Valid ones are committed, invalid
        ones reported (and left untouched, never staged), hand-deleted photo files
        restored.  A record whose canonical visibility a hand edit widened is
        committed at the narrower level it had (the person's other edits kept):
        widening is only `photosync visibility set`."""
        import pygit2

        from .. import privacy as vis
        from ..model import Visibility, visibility_rank, within

        git = self.git
        ours = (PHOTOS_DIR + "/", CONFIG_DIR + "/", SCHEMAS_DIR + "/")
        everything = git.pending_changes()
        staged_elsewhere = sorted(p for p, f in everything.items() if git.is_staged(f) and not p.startswith(ours))
        if staged_elsewhere:
            raise UsageError(
                "git has changes staged (git add) that photosync did not make: "
                + ", ".join(staged_elsewhere[:5]) + ("..." if len(staged_elsewhere) > 5 else "")
                + "; photosync's commits would take them along. Commit them (git commit) "
                "or unstage them (git restore --staged PATH) first"
            )
        pending = {p: f for p, f in everything.items() if p.startswith(ours)}
        if not pending:
            return
        sync_only: list[str] = []
        to_commit: list[str] = []
        rewritten: dict[str, bytes] = {}
        restored: dict[str, bytes] = {}
        valid_photos: list[tuple[str, Photo]] = []
        for path in sorted(pending):
            head_blob = git.head_blob_oid(path)
            full = self.root / path
            if full.is_file():
                data = full.read_bytes()
                if head_blob is not None and str(pygit2.hash(data)) == head_blob:
                    sync_only.append(path)
                    continue
                if is_photo_path(path):
                    try:
                        photo = records.photo_from_bytes(data, path)
                    except InvalidRecord as e:
                        assert self.index is not None
                        self.index.mark_invalid(path, str(e).split(": ", 1)[1] + " (edited outside photosync; "
                                                "fix it or run: git checkout -- " + path + ")")
                        if git.is_staged(pending[path]):
                            git.unstage(path)  # never commit it along with photosync's own changes
                        continue
                    found = self._visibility_at(None, path)
                    if found is None and self.index is not None:  # moved by hand: the record's old place
                        found = self._visibility_at(None, self.index.photo_path(photo.photo_id))
                    level, fa = photo.visibility.canonical, photo.visibility.friends_audience
                    asked = level
                    if found is None:
                        before = self._initial_level(photo)
                        widened = visibility_rank(level) > visibility_rank(before)
                        narrower: tuple[str, str | None] = (before, None)
                    else:
                        # the "friends" audience counts too: family only -> friends and family widens
                        was, now = vis.audience_of(*found), vis.audience_of(level, fa)
                        widened = not within(now, was)
                        narrower = vis.from_audience(vis.meet(now, was))  # within both, never wider
                        before = vis.level_text(*narrower)
                        level = vis.level_text(level, fa)
                    if widened:
                        photo = vis.refresh(photo.replace(visibility=Visibility(
                            narrower[0], photo.visibility.per_service, (), narrower[1])))
                        rewritten[path] = records.photo_to_bytes(photo, path)
                        self.report.error(
                            path, f"field '{CANONICAL_FIELD}': widened by hand from {before} to {level}; not "
                                  f"recorded (it is committed as {before}, your other edits kept): only "
                                  f"'photosync visibility set {photo.photo_id} {asked} --reason \"...\"' widens a photo")
                    else:
                        to_commit.append(path)
                    valid_photos.append((path, photo))
                elif path in CONFIG_FILES:
                    if path in self.invalid_config:
                        self.report.info(f"{path} was edited outside photosync and is invalid (see above): "
                                         f"it is not committed until it is fixed (or: git checkout -- {path})")
                        if git.is_staged(pending[path]):
                            git.unstage(path)
                        continue
                    to_commit.append(path)
                elif path.startswith(SCHEMAS_DIR + "/"):
                    to_commit.append(path)
            elif head_blob is not None:
                if is_photo_path(path):
                    restored[path] = git.read_blob(head_blob)
                    self.report.warning(path, "was deleted outside photosync; restored from git (photosync never drops a photo record)")
                else:
                    restored[path] = git.read_blob(head_blob)
        for path, data in restored.items():
            git.write_worktree_file(path, data)
            sync_only.append(path)
        if sync_only:
            git.sync_index_to_worktree(sync_only)
        if to_commit or rewritten:
            n = len(to_commit) + len(rewritten)
            message = (
                f"library: record {n} file{'s' if n != 1 else ''} changed outside photosync "
                "(hand edits or an interrupted run)\n\n" + "\n".join(sorted([*to_commit, *rewritten])[:50])
            )
            if rewritten:
                message += (f"\n\nvisibility.canonical widened by hand in {len(rewritten)} of them: not recorded, "
                            "kept at the narrower level (widening is photosync visibility set)")

            def update(index: Index) -> None:
                index.put_photos([(photo, path, git_blob_id(rewritten[path] if path in rewritten
                                                            else (self.root / path).read_bytes()))
                                  for path, photo in valid_photos])

            self._commit_files(rewritten, message, also_add=to_commit, index_updates=update)

    def _repair_interrupted_writes(self) -> None:
        """Files photosync itself was writing when it died are put back as HEAD
        has them (the interrupted phase redoes its change on the next run);
        git's lock files from that commit are removed (we hold the library lock,
        so nobody else made them)."""
        git = self.git
        if not git.commit_was_interrupted():
            return
        paths = git.interrupted_writes()
        restored = 0
        for path in paths:
            full = self.root / path
            head_blob = git.head_blob_oid(path)
            if head_blob is not None:
                data = git.read_blob(head_blob)
                try:
                    same = full.read_bytes() == data
                except FileNotFoundError:
                    same = False
                if not same:
                    git.write_worktree_file(path, data)
                    restored += 1
            elif is_photo_path(path) and full.exists():
                full.unlink()  # a record the interrupted run was creating
                restored += 1
        gitdir = Path(git.repo.path)
        for stale in [gitdir / "index.lock", gitdir / "HEAD.lock", gitdir / "packed-refs.lock",
                      *(gitdir / "refs").rglob("*.lock")]:
            try:
                stale.unlink()
            except FileNotFoundError:
                pass
        if paths:
            git.sync_index_to_worktree(paths)
        git.clear_interrupted()
        if restored:
            self.report.info(f"an interrupted run was writing {restored} file{'s' if restored != 1 else ''}; "
                             f"{'they were' if restored != 1 else 'it was'} put back as git has {'them' if restored != 1 else 'it'}")

    # -- photos ----------------------------------------------------------------------------
    def photo_ids(self, states=None) -> list[str]:
        assert self.index is not None
        return self.index.photo_ids(states)

    def get_photo(self, photo_id: str) -> Photo:
        """The photo as it is now (staged changes included); raises InvalidRecord,
        or KeyError for a photo that is not (or no longer) there."""
        if photo_id in self._removed:
            raise KeyError(photo_id)
        if photo_id in self._staged:
            return self._staged[photo_id]
        hit = self._recent.get(photo_id)
        if hit is not None:
            self._recent.move_to_end(photo_id)
            return hit[0]
        photo, path = self._read_photo(photo_id)
        self._remember(photo_id, photo, path)
        return photo

    def _remember(self, photo_id: str, photo: Photo, path: str) -> None:
        self._recent[photo_id] = (photo, path)
        self._recent.move_to_end(photo_id)
        while len(self._recent) > self.recent_reads:
            self._recent.popitem(last=False)

    def _read_photo(self, photo_id: str) -> tuple[Photo, str]:
        """The photo's file as it is in the work tree (not cached: memory stays
        bounded by the commit batch, whatever the size of the library)."""
        assert self.index is not None
        row = self.index.path_and_blob(photo_id)
        if row is None:
            invalid = [p for p, _ in self.index.invalid_files() if photo_id_from_path(p) == photo_id]
            if invalid:
                raise InvalidRecord(invalid[0], "photo file is invalid; fix it first")
            raise KeyError(photo_id)
        path, known = row
        self.record_reads += 1
        try:
            data = (self.root / path).read_bytes()
        except FileNotFoundError:
            raise InvalidRecord(path, "photo file is missing from the work tree; restore it with git checkout") from None
        # bytes already checked against the schema (when written or indexed) are not checked again
        trusted = known == git_blob_id(data)
        return records.photo_from_bytes(data, path, validated=trusted), path

    def find_photo(self, name: str) -> str:
        """A photo named by a person: its id, a unique prefix of it (6+ characters),
        its record's path, or a unique file name.  Raises UsageError otherwise."""
        from ..errors import UsageError

        assert self.index is not None
        name = name.strip()
        if name.endswith(".json") and "/" in name:
            name = name.rsplit("/", 1)[1][: -len(".json")]
        hits = self.index.photos_named(name)
        if not hits:
            raise UsageError(f"no photo {name!r} (give its id, a 6+ character prefix of it, or its file name)")
        if len(hits) > 1:
            raise UsageError(f"{name!r} names several photos ({', '.join(h[:8] for h in hits)}...); give more of the id")
        return hits[0]

    def find_by_hash(self, content_hash: str) -> str | None:
        """The photo that has this content (as its original or as an instance)."""
        pid = self._staged_hashes.get(content_hash)
        if pid is not None:
            return pid
        assert self.index is not None
        ids = self.index.photos_by_hash(content_hash)
        return ids[0] if ids else None

    def stage(self, photo: Photo, checked: bool = False, new: bool = False) -> None:
        """Record a changed photo for the next commit.  It is checked against the
        schema now, so a bad record fails this photo only (InvalidRecord).
        ``checked``: the caller changed a record that was checked this run (read from
        disk, or staged before) only by values photosync makes itself (a blob copy it
        wrote and verified, the processing state): it is not checked again (the
        check is 70 % of staging a record: 0.05 ms of 0.07, bench/commit_cost.py).
        ``new``: a photo of bytes no readable record holds (:meth:`find_by_hash` found none,
        so none has its id, which comes from those bytes): the index is not asked for a
        record to compare it with (a lookup that finds nothing, 2 % of a first import),
        unless some record file is invalid (it could be this photo's, under another date:
        the read then fails as it must, and no second record of the id is made)."""
        pid = photo.photo_id
        if pid not in self._originals:
            recent = self._recent.pop(pid, None)
            if recent is not None:
                self._originals[pid] = recent
            elif new and not self.index.has_invalid():  # type: ignore[union-attr]
                self._originals[pid] = (None, None)
            else:
                try:
                    self._originals[pid] = self._read_photo(pid)
                except KeyError:
                    self._originals[pid] = (None, None)
        original = self._originals[pid][0]
        if original is not None and dataclasses.replace(photo, updated_at=original.updated_at) == original:
            self._staged.pop(pid, None)
            self._staged_bytes.pop(pid, None)
            return
        photo = photo.replace(updated_at=utc_now())
        path = photo_path(pid, photo.metadata.taken_date)
        self._staged_bytes[pid] = (path, records.photo_to_bytes(photo, path, check=not checked))
        self._staged[pid] = photo
        self._staged_hashes[photo.content_hash] = pid
        for inst in photo.all_instances():
            self._staged_hashes[inst.content_hash] = pid

    def remove(self, photo_id: str) -> None:
        """Stage the removal of a photo's record (its content merged into another
        record, staged with it: git history keeps the file)."""
        path = self.index.photo_path(photo_id) if self.index is not None else None
        if photo_id in self._staged:
            path = self._originals.get(photo_id, (None, None))[1] or path
            self._staged.pop(photo_id)
            self._staged_bytes.pop(photo_id, None)
        self._recent.pop(photo_id, None)
        if path:
            self._removed[photo_id] = path

    @property
    def staged_count(self) -> int:
        return len(self._staged) + len(self._removed)

    def discard_staged(self) -> None:
        self._originals.clear()
        self._recent.clear()
        self._staged.clear()
        self._staged_bytes.clear()
        self._staged_hashes.clear()
        self._staged_config.clear()
        self._removed.clear()

    def commit(self, message: str, index_updates: Callable[[Index], None] | None = None) -> str | None:
        """Commit every staged photo and config change (only those that really
        changed).  Returns the commit id, or None when nothing changed."""
        changes: dict[str, bytes | None] = dict(self._staged_config)
        removed = dict(self._removed)
        for path in removed.values():
            changes[path] = None
        written: list[tuple[Photo, str, str]] = []
        same_looks: set[str] = set()  # photos whose pictures this change left as they were
        for pid, photo in self._staged.items():
            original, old_path = self._originals.get(pid, (None, None))
            if (original is not None and original.content_hash == photo.content_hash
                    and original.canonical_source == photo.canonical_source and original.instances == photo.instances):
                same_looks.add(pid)
            path, data = self._staged_bytes[pid]
            changes[path] = data
            if old_path and old_path != path:
                changes[old_path] = None
            written.append((photo, path, git_blob_id(data)))

        def update(index: Index) -> None:
            for pid in removed:
                index.remove_photo(pid)
            index.put_photos(written, same_looks)
            if index_updates:
                index_updates(index)

        oid = self._commit_files(changes, message, index_updates=update)
        self._originals.clear()
        # the records just committed are what their files now hold: a phase that changes one
        # again in its next batch (replicate: a photo's copy in a second store) need not read
        # it back; the other recent reads are unchanged by this commit
        for photo, path, _blob in written:
            self._remember(photo.photo_id, photo, path)
        self._staged.clear()
        self._staged_bytes.clear()
        self._staged_hashes.clear()
        self._staged_config.clear()
        self._removed.clear()
        return oid

    def _commit_files(self, changes, message, also_add=(), index_updates=None) -> str | None:
        assert self.index is not None
        try:
            oid = self.git.commit(changes, message, also_add=also_add) if (changes or also_add) else None
        except OSError as e:
            if ".lock" in str(e):
                raise PhotosyncError(
                    f"git is busy in this library ({e}); if no git command is running, "
                    "remove that .lock file and run photosync again"
                ) from None
            raise PhotosyncError(f"could not commit: {e}") from None
        self.index.begin()
        try:
            if index_updates:
                index_updates(self.index)
            head = self.git.head_oid if oid else None
            if oid:
                self.index.set_meta("commit", head)
            for rel in changes:
                if rel in CONFIG_FILES and (self.root / rel).exists():
                    self.index.set_validated(rel, self._stamp(rel))
            self.index.commit()
        except BaseException:
            self.index.rollback()
            raise
        return oid

    # -- problems ---------------------------------------------------------------------------
    @property
    def problems(self) -> list[Problem]:
        return self.report.problems
