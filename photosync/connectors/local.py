"""The reference connector: a folder tree (a NAS mount, a phone dump, an unpacked
export).  Items are files, their ids their paths below the folder.

Listing walks the tree with ``os.scandir`` on *bytes* paths, so names that are
not valid UTF-8 are kept exactly (and recorded with their raw bytes); it
follows symbolic links whose target lies inside the folder (all of them with
``follow_links``, none with ``follow_symlinks: false``) but never around a
loop; it skips hidden files and NAS housekeeping folders, and says how many
links and hidden files it left out.  A file's fingerprint is its size, mtime
and inode: discover does not read a file whose fingerprint is unchanged.

A folder of photos with sidecar files (an export) is this connector given a
``sidecar_reader`` (connectors/sidecars.py): none by default.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import hashlib
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, ClassVar, Iterator

from ..errors import ConfigError, SourceError, Unsupported
from ..library.layout import folder_option, path_problem, user_path
from ..media.dates import date_from_filename, from_timestamp_local, iso
from ..media.formats import MEDIA_EXTENSIONS
from ..media.ingest import ingest, metadata_from_probe
from ..model import Metadata
from ..options import Option
from .base import Capabilities, Connector, ItemRef, Listing, ServiceItem
from .sidecars import SidecarReader, apply_sidecars

#: folders that hold no photos of the person's own (NAS and OS housekeeping)
SKIP_DIRS = frozenset(
    {b"@eaDir", b"#recycle", b"#snapshot", b"$RECYCLE.BIN", b"System Volume Information", b"lost+found", b"@Recycle"}
)


#: where prune moves a local service's photos (inside the service's folder, so the move is a rename
#: on one filesystem and nothing is unlinked); the walk never lists it
TRASH_DIR = ".photosync-trash"
_TRASH_B = TRASH_DIR.encode()

_MEDIA_EXT_BYTES = frozenset(e.encode() for e in MEDIA_EXTENSIONS)


class _Count:
    """How many of something, and the first one (an example for the message)."""

    def __init__(self) -> None:
        self.n = 0
        self.example: tuple = ()

    def add(self, *example) -> None:
        if not self.n:
            self.example = example
        self.n += 1


def _things(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _media_named(name: bytes) -> bool:
    dot = name.rfind(b".")
    return dot > 0 and name[dot + 1 :].lower() in _MEDIA_EXT_BYTES


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _display(rel: bytes) -> str:
    return rel.decode("utf-8", "backslashreplace") if rel else "."


class LocalConnector(Connector):
    """A folder tree: a ~/Pictures, a phone dump, an unpacked export, a NAS mount."""

    type_name = "local"
    #: delete: prune moves a file to TRASH_DIR inside the folder (never unlinked)
    capabilities = Capabilities(delete=True)
    options = (
        Option("path", "The folder to scan (it must exist: mount the drive or NAS share first).", "path",
               required=True),
        Option("follow_links", "Also follow symbolic links that lead outside the folder.", "bool", default=False),
        Option("follow_symlinks", "Follow symbolic links whose target is inside the folder "
                                  "(--no-follow-symlinks: follow no link at all).", "bool", default=True,
               advanced=True),
    )
    #: reads the sidecar files next to each photo (an export's JSON, XMP): None, or a
    #: picklable SidecarReader (connectors/sidecars.py) set by a subclass or on an instance
    sidecar_reader: ClassVar[SidecarReader | None] = None

    def __init__(self, name, config, env):
        super().__init__(name, config, env)
        path = config.get("path")
        if not path:
            raise ConfigError(f"service {name}: a local service needs a 'path' (the folder to scan)")
        self.root = user_path(path, env.library_root)
        #: False: no link is followed; True: links inside the folder are
        self.follow_symlinks = bool(config.get("follow_symlinks", True))
        #: links that lead outside the folder are followed too
        self.follow_links = bool(config.get("follow_links", False))
        self.ignored = 0

    @classmethod
    def check_config(cls, config: dict, library_root: Path) -> dict:
        return folder_option(config, "create it, or mount the drive or NAS share first (photosync scans a folder "
                                     "that exists)")

    def where(self, item_id: str) -> str:
        return str(self.root / item_id)

    def delete(self, item_id: str, expected=None) -> str:
        """Move the file to the trash folder inside the service's folder (same path below it; a
        name taken there gets ``.1``, ``.2`` …): renamed, never unlinked (prune only).  With
        ``expected``, the file is hashed first and refused when its bytes are not the recorded ones
        (saved over since discover)."""
        if self.sidecar_reader is not None or not self.capabilities.delete:
            # an export read with its sidecars (osxphotos, Takeout) is a copy of the service, not the
            # service: nothing is freed by deleting from it, and its sidecars would be left behind
            raise Unsupported(f"{self.where(item_id)}: a folder read with its sidecars is an export; "
                              "photosync does not delete from it")
        rel = os.fsencode(item_id)
        if rel.startswith(b"/") or b".." in rel.split(b"/") or not rel:
            raise SourceError(f"{item_id}: not a file of this service")
        src = os.fsencode(self.root) + b"/" + rel
        if not os.path.isfile(src):
            done = self._in_trash(rel, expected.get(item_id) if expected is not None else None)
            if done is not None:  # moved by a prune killed before its commit: finished now
                return done
            raise SourceError(f"{self.where(item_id)} is not there any more")
        if expected is not None:
            want = expected.get(item_id)
            h = hashlib.sha256()
            try:
                with open(src, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            except OSError as e:
                raise SourceError(f"{self.where(item_id)}: cannot be read ({e.strerror or e})") from None
            if want is None or "sha256:" + h.hexdigest() != want[0]:
                raise SourceError(f"{self.where(item_id)} changed since photosync read it; not deleted: run "
                                  "photosync discover and replicate first")
        dest = os.fsencode(self.root) + b"/" + _TRASH_B + b"/" + rel
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        final, n = dest, 0
        while os.path.lexists(final):
            n += 1
            final = dest + b".%d" % n
        try:
            os.rename(src, final)
        except OSError as e:
            raise SourceError(f"{self.where(item_id)}: could not be moved to the trash folder "
                              f"({e.strerror or e})") from None
        return str(self.root / TRASH_DIR / os.fsdecode(final[len(os.fsencode(self.root)) + len(_TRASH_B) + 2:]))

    def _in_trash(self, rel: bytes, want: tuple[str, str | None] | None) -> str | None:
        """Where the trash holds this file with the recorded bytes (a delete not yet recorded), or None."""
        if want is None:
            return None
        base = os.fsencode(self.root) + b"/" + _TRASH_B + b"/" + rel
        n, path = 0, base
        while os.path.lexists(path):
            try:
                with open(path, "rb") as f:
                    h = hashlib.sha256()
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
                if "sha256:" + h.hexdigest() == want[0]:
                    return os.fsdecode(path)
            except OSError:
                pass
            n += 1
            path = base + b".%d" % n
        return None

    # -- listing --------------------------------------------------------------------------
    def list(self, *, cursor=None, since: datetime | None = None, full_scan: bool = False) -> Listing:
        if not self.root.is_dir():
            raise SourceError(
                f"folder {self.root} does not exist or is not mounted; nothing from this service was changed"
            )
        self.partial = False
        return Listing(refs=self._walk(since), complete=since is None, cursor=None)

    def _walk(self, since: datetime | None) -> Iterator[ItemRef]:
        """Depth-first, sorted, on bytes paths.  Kept lean: at 100,000 files this
        loop is most of a no-change discover."""
        report = self.env.report
        root_b = os.fsencode(str(self.root))
        try:
            st = os.stat(root_b)
        except OSError as e:
            raise SourceError(f"cannot read folder {self.root}: {e.strerror}") from None
        key = (st.st_dev, st.st_ino)
        visited = {key}
        excluded = set()
        for p in self.env.exclude:
            try:
                xs = os.stat(p)
                excluded.add((xs.st_dev, xs.st_ino))
            except OSError:
                pass
        stack: list[tuple[bytes, bytes, frozenset]] = [(root_b, b"", frozenset({key}))]
        since_ts = since.timestamp() if since else None
        follow = self.follow_symlinks
        anywhere = self.follow_links
        inside = os.path.realpath(root_b).rstrip(b"/") + b"/"
        media = _MEDIA_EXT_BYTES
        left_out = _Count()  # links not followed
        hidden_files, hidden_dirs = _Count(), _Count()
        while stack:
            dir_path, rel, ancestors = stack.pop()
            try:
                with os.scandir(dir_path) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as e:
                report.error(str(self.root / _display(rel)), f"cannot read this folder: {e.strerror}; skipped")
                self.partial = True
                continue
            prefix = rel + b"/" if rel else b""
            subdirs = []
            claims = self._claims(entries, inside) if self.sidecar_reader is not None else None
            for entry in entries:
                name = entry.name
                try:
                    if name[:1] == b".":
                        if not rel and name == _TRASH_B:
                            continue  # prune's trash: what was deleted is not found again
                        dot = name.rfind(b".")
                        if entry.is_dir():
                            hidden_dirs.add(prefix + name)
                        elif dot > 0 and name[dot + 1 :].lower() in media:
                            hidden_files.add(prefix + name)  # .DS_Store and the like are not counted
                        continue
                    if entry.is_symlink() and not anywhere:
                        target = os.path.realpath(entry.path)
                        if not follow or not (target + b"/").startswith(inside):
                            left_out.add(prefix + name, target)
                            continue
                    if entry.is_dir():
                        if name in SKIP_DIRS:
                            continue
                        dst = entry.stat()
                        dkey = (dst.st_dev, dst.st_ino)
                        if dkey in ancestors:
                            report.warning(
                                str(self.root / _display(prefix + name)),
                                "symlink loop: this link points back to a folder that contains it; not followed",
                            )
                        elif dkey not in visited and dkey not in excluded:
                            # a folder reached again by another path is scanned once
                            visited.add(dkey)
                            subdirs.append((entry.path, prefix + name, ancestors | {dkey}))
                        continue
                    dot = name.rfind(b".")
                    if claims is not None and name in claims[1]:
                        continue  # a sidecar (never named like a photo: _claims) is read with its photo
                    if dot > 0 and name[dot + 1 :].lower() not in media:
                        self.ignored += 1
                        continue
                    fst = entry.stat()
                except OSError as e:
                    where = str(self.root / _display(prefix + name))
                    if e.errno == errno.ELOOP:
                        report.warning(where, "symlink loop (the link resolves to itself); skipped")
                    elif e.errno == errno.ENOENT and entry.is_symlink():
                        report.warning(where, "broken symlink (its target does not exist); skipped")
                    else:
                        report.error(where, f"cannot read: {e.strerror}")
                        self.partial = True
                    continue
                if not stat.S_ISREG(fst.st_mode):
                    continue
                fingerprint = f"{fst.st_size}:{fst.st_mtime_ns}:{fst.st_ino}"
                mtime = fst.st_mtime
                sidecars = claims[0].get(name) if claims is not None else None
                if sidecars:
                    stamp, mtime = _sidecar_stamp(dir_path, sidecars, mtime)
                    fingerprint += f":{stamp}"
                if since_ts is not None and mtime < since_ts:
                    continue
                rel_e = prefix + name
                try:
                    item_id = rel_e.decode("utf-8")
                    raw = None
                except UnicodeDecodeError:
                    item_id = rel_e.decode("utf-8", "backslashreplace")
                    raw = rel_e
                yield ItemRef(item_id, fingerprint, None, fst.st_size, None, raw,
                              b"\x00".join(sidecars) if sidecars else None)
            stack.extend(reversed(subdirs))
        self._say_left_out(left_out, hidden_files, hidden_dirs)

    def _claims(self, entries, inside: bytes) -> tuple[dict[bytes, tuple[bytes, ...]], set[bytes]]:
        """(photo name -> its sidecars' names, every name claimed) in one folder's entries, as
        the sidecar reader says; a name that is itself a photo or video stays an item.  A link is a
        sidecar only where the walk would follow it to a photo (``inside``: the folder's real path)."""
        reader = self.sidecar_reader
        assert reader is not None
        names = {os.fsdecode(e.name): e.name for e in entries
                 if e.name[:1] != b"." and not _is_dir(e) and self._followed(e, inside)}
        shown = frozenset(names)
        by_photo: dict[bytes, tuple[bytes, ...]] = {}
        claimed: set[bytes] = set()
        for text, raw in names.items():
            if not _media_named(raw):
                continue
            picked = tuple(names[n] for n in reader.sidecars(text, shown - {text})
                           if n in names and not _media_named(names[n]))
            if picked:
                by_photo[raw] = picked
                claimed.update(picked)
        return by_photo, claimed

    def _followed(self, entry: os.DirEntry, inside: bytes) -> bool:
        """Whether the walk reads through ``entry`` (the rule _walk applies to photos' links)."""
        if not entry.is_symlink() or self.follow_links:
            return True
        return self.follow_symlinks and (os.path.realpath(entry.path) + b"/").startswith(inside)

    def _say_left_out(self, links: "_Count", hidden_files: "_Count", hidden_dirs: "_Count") -> None:
        """One line each, once a run: what the listing did not follow or skipped."""
        report = self.env.report
        where = f"service {self.name}"
        if links.n:
            rel, target = links.example
            example = f"{_display(rel)} -> {_display(target)}"
            if self.follow_symlinks:
                report.warning(where, f"{_things(links.n, 'symbolic link')} lead{'s' if links.n == 1 else ''} outside "
                               f"{self.root} and {'was' if links.n == 1 else 'were'} not followed (e.g. {example}); "
                               "to follow such links: \"follow_links\": true in the service's config")
            else:
                report.info(f"{where}: {_things(links.n, 'symbolic link')} not followed (follow_symlinks is false; "
                            f"e.g. {example})")
        if hidden_files.n or hidden_dirs.n:
            parts = []
            if hidden_files.n:
                parts.append(f"{_things(hidden_files.n, 'hidden photo or video file')} (e.g. "
                             f"{_display(hidden_files.example[0])})")
            if hidden_dirs.n:
                parts.append(f"{_things(hidden_dirs.n, 'hidden folder')} (e.g. {_display(hidden_dirs.example[0])})")
            report.info(f"{where}: skipped {' and '.join(parts)}: names starting with '.' are not scanned")


    # -- items ------------------------------------------------------------------------------
    def _path(self, item_id: str, raw_name: bytes | None) -> bytes:
        """The file of an item id (or its raw bytes): ids come from records, which a person can
        edit, so one that leaves the folder (``../../etc/passwd``, ``/etc/passwd``) is refused."""
        rel = raw_name if raw_name is not None else item_id.encode("utf-8")
        problem = path_problem(rel)
        if problem is not None:
            raise SourceError(f"item id {item_id!r} (instances.{self.name}[].id in the record) is not a path "
                              f"inside the folder {self.root} ({problem}); refused, not read")
        return os.fsencode(str(self.root)) + b"/" + rel

    def renamed(self, ref: ItemRef, metadata: Metadata) -> Metadata | None:
        """Same size, mtime and inode under another name: the same file, moved.
        Only the name and what was taken from it change."""
        name = ref.id.rsplit("/", 1)[-1]
        if metadata.taken_date_source not in ("filename", "file_mtime"):
            return dataclasses.replace(metadata, filename=name)
        mtime_ns = int(ref.fingerprint.split(":")[1])
        taken, source = _taken(None, None, name, mtime_ns / 1e9)
        return dataclasses.replace(metadata, filename=name, taken_date=taken, taken_date_source=source)

    def describer(self, keep=None):
        return functools.partial(describe_file, os.fsencode(str(self.root)), sidecar_reader=self.sidecar_reader,
                                 keep=keep)

    def describe(self, ref: ItemRef) -> ServiceItem:
        return describe_file(os.fsencode(str(self.root)), ref, sidecar_reader=self.sidecar_reader)

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        path = self._path(item_id, raw_name)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise SourceError(f"{self.where(item_id)} is gone") from None
        except OSError as e:
            raise SourceError(f"cannot read {self.where(item_id)}: {e.strerror}") from None


def describe_file(root: bytes, ref: ItemRef, sidecar_reader: SidecarReader | None = None,
                  keep: Callable[[bytes], str | None] | None = None) -> ServiceItem:
    """Hash and probe one file below ``root`` (a module function: it runs in worker processes),
    and apply its sidecars (named in ``ref.extra`` by the listing) with ``sidecar_reader``.
    ``keep`` is handed the bytes hashed when the file was read whole (Connector.describer)."""
    rel = ref.raw_name if ref.raw_name is not None else ref.id.encode("utf-8")
    path = root + b"/" + rel
    name = ref.id.rsplit("/", 1)[-1]
    try:
        mf = ingest(path, name)
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceError("the file disappeared while it was being read") from None
    except PermissionError:
        raise SourceError("cannot read the file: permission denied") from None
    except IsADirectoryError:
        raise SourceError("is a folder, not a file") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SourceError("symlink loop") from None
        raise SourceError(f"cannot read the file: {e.strerror or e}") from None
    info = mf.info
    warnings = []
    if ref.raw_name is not None:
        warnings.append(
            "file name is not valid UTF-8; recorded with its exact bytes (shown escaped); "
            "renaming it to UTF-8 is safer for other tools"
        )
    if info.problem:
        warnings.append(info.problem)
    if "\n" in ref.id or "\r" in ref.id:
        warnings.append("file name contains a line break; recorded as it is, but other tools may choke on it")
    metadata = metadata_from_probe(info, filename=name)
    if metadata.taken_date is None:  # the folder's fall-backs: a date in the file name, else its mtime
        taken, source = _taken(None, None, name, st.st_mtime)
        metadata = dataclasses.replace(metadata, taken_date=taken, taken_date_source=source)
    if sidecar_reader is not None and ref.extra:
        metadata, problems = apply_sidecars(sidecar_reader, metadata, path.rsplit(b"/", 1)[0],
                                            tuple(ref.extra.split(b"\x00")))
        warnings.extend(problems)
    return ServiceItem(
        ref=ref,
        content_hash=mf.content_hash,
        size=mf.size,
        metadata=metadata,
        quality="original",
        visibility=None,
        url=None,
        warnings=tuple(warnings),
        look=info.look,
        kept=_kept(keep, mf.data),
    )


def _kept(keep: Callable[[bytes], str | None] | None, data: bytes | None) -> str | None:
    """``keep(data)``; None when there is nothing to keep or it failed (its failure is the store's,
    not this file's: the caller copies the file the usual way and says what went wrong there)."""
    if keep is None or data is None:
        return None
    try:
        return keep(data)
    except Exception:  # noqa: BLE001 - see the docstring
        return None


def _sidecar_stamp(folder: bytes, names: tuple[bytes, ...], mtime: float) -> tuple[str, float]:
    """The part of a photo's fingerprint its sidecars make (their sizes, mtimes and inodes: an
    edited, added or removed sidecar changes it; one moved with its photo does not), and the
    latest mtime of the photo and its sidecars (``--since`` lists a photo whose sidecar changed)."""
    h = hashlib.sha1()
    for raw in names:
        try:
            st = os.stat(folder + b"/" + raw)
        except OSError:
            h.update(b"?\x00")
            continue
        h.update(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}\x00".encode())
        mtime = max(mtime, st.st_mtime)
    return "s" + h.hexdigest()[:12], mtime


def _taken(taken, source, name: str, mtime: float) -> tuple[str, str]:
    """The date taken and where it came from: the file's own, else its name's, else its mtime."""
    if taken is not None:
        return iso(taken), source
    from_name = date_from_filename(name)
    if from_name is not None:
        return iso(from_name), "filename"
    return iso(from_timestamp_local(mtime).replace(microsecond=0)), "file_mtime"
