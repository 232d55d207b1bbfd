"""Google Photos through Google Takeout (issue 14 §1): ``--type google-takeout --path FOLDER``.

FOLDER holds one export (or several, a later one added beside an earlier one) in any form people
have it: the parts as downloaded (``takeout-STAMP-001.zip``, ``-002.zip``, … or ``.tgz``), each
part unpacked into its own folder, or all parts unpacked into one ``Takeout/`` tree.  All parts of
an export are read as one tree (a photo and its sidecar, an edit and its original, an album's
metadata and its photos can sit in different parts); archives are read in place, member by member
(zipfile's central directory; a tar stream front to back), never unpacked to disk.

What is made of the tree (the quirks: ../shared/SERVICES.md "Google Photos"; immich-go
docs/google-takeout.md; GooglePhotosTakeoutHelper):

* Sidecars are told from album metadata by content, not by name (``métadonnées.json``,
  ``Metadaten.json`` … are localized): a JSON with ``photoTakenTime``/``creationTime`` is a
  photo's sidecar, one with a ``title`` and neither is its folder's album metadata.  A sidecar
  finds its file by its ``title`` plus the duplicate index of its own name (``IMG_1.JPG(1).json``
  -> ``IMG_1(1).JPG``), else by its name cut back (``.supplemental-metad.json``, ``.s.json``,
  ``..json``, a cut title) as a prefix of one file's name.
* A file whose extension is no photo or video extension (or that has none) is sniffed: its first
  bytes decide.
* ``-edited`` copies (``-bearbeitet``, ``-modifié``, ``-modificato``, …) have no sidecar: they
  take their original's and record ``edit_of`` (the original's item id).  Motion-photo videos
  (``PXL_….MP`` beside ``PXL_….MP.jpg``, ``IMG_1.MP4`` beside ``IMG_1.JPG``) record ``motion_of``.
* A file in an album folder that is also in a year folder (same title, time taken and size) is
  one item: the year folder's, with every album it is in.  Album titles come from the album's
  metadata, not from the folder name Takeout made of it.
* Metadata: ``photoTakenTime`` is the date (source "service": EXIF may be wrong or missing),
  ``geoDataExif`` else ``geoData`` the place (0,0 is none), ``description`` the caption,
  ``title`` the file name, ``people``, ``favorited``, ``archived``, albums.
* Trashed items (``"trashed": true`` or in the trash folder) are left out and counted, unless
  ``--include-trashed`` (then recorded with ``trashed: true``).
* Quality: Takeout gives what Google stores, original or "storage saver", and does not say
  which: every item is recorded "high", so a camera original from another service is the
  canonical source; the Takeout copy is never called original.
* A Takeout is often partial (a date range, some albums): the listing is never complete, so
  nothing is marked missing because an export lacks it.  Item ids are ``STAMP/Takeout/…`` (the
  export's stamp from its part names): a later export gets new ids and is recognised by content;
  a member's fingerprint is its part's size and mtime with its own size (and CRC in a zip), so
  an unchanged archive is not read again.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import io
import json
import os
import re
import tarfile
import threading
import unicodedata
import zipfile
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator

from ...errors import ConfigError, SourceError
from ...library.layout import folder_option, user_path
from ...media.dates import iso
from ...media.formats import extension, is_media_name, sniff
from ...media.ingest import ingest, metadata_from_probe
from ...media.probe import IN_MEMORY_LIMIT
from ...model import Location, Metadata
from ...options import Option
from ..base import Capabilities, Connector, ItemRef, Listing, ServiceItem

#: a part's name: takeout-20250102T030405Z-001.zip (the stamp ties the parts of one export)
_PART = re.compile(r"^takeout-(\d{8}T\d{6}Z)-\d+(?:\.(?:zip|tgz|tar\.gz|tar))?$", re.IGNORECASE)
_ARCHIVE_EXT = (".zip", ".tgz", ".tar.gz", ".tar")
#: the suffix Google gives an edited copy, per export language (immich-go google-takeout.md)
EDITED_SUFFIXES = ("-edited", "-bearbeitet", "-modifié", "-modificato", "-editado", "-editada", "-bewerkt",
                   "-redigerad", "-redigeret", "-muokattu", "-edytowane", "-upravené", "-编辑", "-編集済み")
#: the trash folder, per export language
TRASH_FOLDERS = frozenset({"trash", "bin", "papierkorb", "corbeille", "cestino", "papelera", "lixeira",
                           "prullenbak", "kosz", "papperskorg"})
#: a sidecar larger than this is not read (they are a few kB)
MAX_JSON = 4 * 1024 * 1024
_DUP = re.compile(r"\((\d+)\)$")
_SUPPLEMENTAL = "supplemental-metadata"
_MOTION_EXT = ("mp", "mp4", "mov")
#: tar members set aside at most (discover's threads ask for at most 4 x workers items ahead)
TAR_STASH = 64
#: what Takeout gives: Google's stored copy, original or storage saver, which it does not say
TAKEOUT_QUALITY = "high"


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


@dataclasses.dataclass
class _Part:
    """One part of an export: an archive, or a folder holding an unpacked tree."""

    kind: str          # zip | tar | dir
    path: Path
    stamp: str         # the export's stamp ("" when the names do not say it)
    size: int
    mtime_ns: int


@dataclasses.dataclass
class _Member:
    part: int          # index in the parts list
    name: str          # zip/tar member name, or the path below the part's folder
    logical: str       # "Takeout/Google Photos/…"
    size: int
    crc: int | None = None
    order: int = 0     # position in its part (a tar is read front to back)


class TakeoutConnector(Connector):
    """A Google Photos export from Google Takeout (zip or tgz parts, or unpacked)."""

    type_name = "google-takeout"
    capabilities = Capabilities()
    options = (
        Option("path", "The folder holding the Takeout export: its .zip/.tgz parts as downloaded, the parts "
                       "unpacked each into a folder, or all unpacked into one Takeout/ tree.", "path", required=True),
        Option("include_trashed", "Also import the items in Google Photos' trash (recorded as trashed).", "bool",
               default=False),
    )

    def __init__(self, name: str, config: dict, env) -> None:
        super().__init__(name, config, env)
        path = config.get("path")
        if not path:
            raise ConfigError(f"service {name}: a google-takeout service needs a 'path' (the export's folder)")
        self.root = user_path(path, env.library_root)
        self.include_trashed = bool(config.get("include_trashed", False))
        self._parts: list[_Part] | None = None
        self._members: dict[str, _Member] | None = None
        self._tar_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._tar_open: dict[int, tuple[tarfile.TarFile, int, tarfile.TarInfo | None]] = {}
        self._zips: dict[int, zipfile.ZipFile] = {}
        #: tar members set aside on the way to a later one ((part, order) -> bytes), and the members
        #: of each tar part the listing gave
        self._stash: dict[tuple[int, int], BinaryIO] = {}
        self._wanted: dict[int, frozenset[int]] = {}
        self.trashed_left_out = 0
        #: a listing made only to find members (open() in a run that did not list): says nothing
        self._quiet = False

    @classmethod
    def check_config(cls, config: dict, library_root: Path) -> dict:
        return folder_option(config, "give the folder that holds the Takeout export (its .zip or .tgz parts, or "
                                     "the unpacked Takeout folder)")

    def where(self, item_id: str) -> str:
        m = (self._members or {}).get(item_id)
        if m is not None and self._parts is not None:
            part = self._parts[m.part]
            return f"{part.path}: {m.name}" if part.kind != "dir" else str(part.path / m.name)
        return f"{self.root} ({item_id})"

    # -- the parts -------------------------------------------------------------------------------
    def _find_parts(self) -> list[_Part]:
        if not self.root.is_dir():
            raise SourceError(f"folder {self.root} does not exist or is not mounted; nothing from this service "
                              "was changed")
        parts: list[_Part] = []
        trees: list[Path] = []
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith("."):
                continue
            low = entry.name.lower()
            m = _PART.match(entry.name)
            stamp = m.group(1) if m else ""
            if entry.is_file() and low.endswith(_ARCHIVE_EXT):
                st = entry.stat()
                parts.append(_Part("zip" if low.endswith(".zip") else "tar", entry, stamp, st.st_size,
                                   st.st_mtime_ns))
            elif entry.is_dir():
                if entry.name == "Takeout":
                    trees.append(self.root)
                elif (entry / "Takeout").is_dir():
                    parts.append(_Part("dir", entry, stamp, 0, 0))
                else:
                    trees.append(entry)  # an unpacked folder without a Takeout/ level (a part renamed)
        if not parts and not trees:
            trees.append(self.root)
        for t in dict.fromkeys(trees):
            parts.append(_Part("dir", t, "", 0, 0))
        return parts

    def _member_iter(self, i: int, part: _Part) -> Iterator[tuple[_Member, object]]:
        """(member, opener) of every file in one part; opener() gives its bytes (valid only until
        the next member for a tar read as a stream)."""
        if part.kind == "zip":
            try:
                zf = zipfile.ZipFile(part.path)
            except (zipfile.BadZipFile, OSError) as e:
                self.env.report.error(str(part.path), f"cannot read this zip archive ({e}); its items are left "
                                      "out of this run")
                self.partial = True
                return
            with zf:
                for k, info in enumerate(zf.infolist()):
                    if info.is_dir():
                        continue
                    logical = _logical(info.filename)
                    yield (_Member(i, info.filename, logical, info.file_size, info.CRC, k),
                           lambda info=info, zf=zf: zf.open(info))
        elif part.kind == "tar":
            try:
                tf = tarfile.open(part.path, "r|*")
            except (tarfile.TarError, OSError) as e:
                self.env.report.error(str(part.path), f"cannot read this tar archive ({e}); its items are left "
                                      "out of this run")
                self.partial = True
                return
            try:
                with tf:
                    for k, ti in enumerate(tf):
                        if not ti.isfile():
                            continue
                        yield (_Member(i, ti.name, _logical(ti.name), ti.size, None, k),
                               lambda ti=ti, tf=tf: tf.extractfile(ti))
            except (tarfile.TarError, OSError, EOFError) as e:
                self.env.report.error(str(part.path), f"this tar archive is damaged ({e}); the items after the "
                                      "damage are left out of this run")
                self.partial = True
        else:
            base = part.path
            k = 0
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for fn in sorted(filenames):
                    if fn.startswith("."):
                        continue
                    full = Path(dirpath) / fn
                    rel = full.relative_to(base).as_posix()
                    try:
                        st = full.stat()
                    except OSError as e:
                        self.env.report.error(str(full), f"cannot read: {e.strerror}")
                        self.partial = True
                        continue
                    k += 1
                    m = _Member(i, rel, _logical(rel), st.st_size, None, k)
                    m.crc = st.st_mtime_ns  # a file's own mtime stands for a zip member's CRC in its fingerprint
                    yield m, lambda full=full: open(full, "rb")

    # -- listing ---------------------------------------------------------------------------------
    def list(self, *, cursor=None, since: datetime | None = None, full_scan: bool = False) -> Listing:
        self.partial = False
        self.close()
        parts = self._find_parts()
        self._parts = parts
        files: dict[tuple[str, str], _Member] = {}     # (stamp, logical) -> member
        jsons: dict[tuple[str, str], dict] = {}         # (stamp, logical) -> parsed JSON
        for i, part in enumerate(parts):
            for m, opener in self._member_iter(i, part):
                key = (part.stamp, m.logical)
                low = m.logical.lower()
                if low.endswith(".json"):
                    if m.size > MAX_JSON:
                        self.env.report.warning(self._where_m(part, m), "JSON over 4 MiB: not read as a sidecar")
                        continue
                    try:
                        with opener() as f:  # type: ignore[operator]
                            d = json.loads(f.read().decode("utf-8"))
                        # kept small (memory flat): a sidecar as what it says, album metadata as its title
                        if isinstance(d, dict) and ("photoTakenTime" in d or "creationTime" in d):
                            jsons[key] = {"sidecar": _sidecar_md(d)}
                        elif isinstance(d, dict) and isinstance(d.get("title"), str) and d["title"]:
                            jsons[key] = {"album": d["title"]}
                    except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError) as e:
                        self.env.report.warning(self._where_m(part, m), f"not readable JSON ({e}); ignored (its "
                                                "photo is recorded with its own metadata)")
                    continue
                if low.endswith((".html", ".htm")):
                    continue
                if not is_media_name(m.logical):
                    try:
                        with opener() as f:  # type: ignore[operator]
                            head = f.read(4096)
                    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError):
                        head = b""
                    if sniff(head, m.logical) is None:   # a file without extension: its content decides
                        continue
                if key in files:
                    self.env.report.warning(self._where_m(part, m), f"{m.logical} is in two parts of the export; "
                                            "the first is read")
                    continue
                files[key] = m
        self._members = {}
        files = self._photos_only(files, jsons)
        items = self._match(files, jsons)
        self.trashed_left_out = 0
        refs = []
        for it in items:
            if it["md"].get("trashed") and not self.include_trashed:
                self.trashed_left_out += 1
                continue
            m = files[it["key"]]
            item_id = _item_id(*it["key"])
            self._members[item_id] = m
            part = parts[m.part]
            extra = json.dumps(it["md"], sort_keys=True, ensure_ascii=False).encode()
            stamp = hashlib.sha1(extra).hexdigest()[:12]
            fingerprint = f"{part.size}:{part.mtime_ns}:{m.size}:{m.crc if m.crc is not None else ''}:{stamp}"
            refs.append((m.part, m.order, ItemRef(item_id, fingerprint, None, m.size, None, None, extra)))
        if self.trashed_left_out and not self._quiet:
            self.env.report.info(f"service {self.name}: left out {self.trashed_left_out:,} trashed item"
                                 f"{'' if self.trashed_left_out == 1 else 's'} (deleted in Google Photos); "
                                 "--include-trashed imports them, marked as trashed")
        refs.sort(key=lambda r: (r[0], r[1]))  # in archive order: a tar part is read front to back once
        wanted: dict[int, set[int]] = {}
        for part_i, order, _ in refs:
            wanted.setdefault(part_i, set()).add(order)
        self._wanted = {k: frozenset(v) for k, v in wanted.items()}
        # A Takeout is often partial (a date range, some albums): never a proof that a photo is gone.
        return Listing(refs=[r[2] for r in refs], complete=False, cursor=None)

    def _photos_only(self, files: dict, jsons: dict) -> dict:
        """The files below the export's Google Photos folder(s): the ``Takeout/…`` folders holding
        sidecars or album metadata (its name is localized: found by content). An export that also
        holds other Google products (Drive, Mail) keeps their files out, counted."""
        roots = {(stamp, root) for (stamp, logical) in jsons if (root := _photos_root(logical)) is not None}
        if not roots or not any(k[1].startswith("Takeout/") for k in files):
            return files
        kept = {k: m for k, m in files.items() if (k[0], _photos_root(k[1])) in roots}
        if len(kept) < len(files) and not self._quiet:
            other = sorted({_photos_root(k[1]) or k[1] for k in files if k not in kept})
            n = len(files) - len(kept)
            self.env.report.info(f"service {self.name}: left out {n:,} file{'' if n == 1 else 's'} outside Google "
                                 f"Photos (other parts of the Takeout: {', '.join(other[:3])})")
        return kept

    def _where_m(self, part: _Part, m: _Member) -> str:
        return f"{part.path}: {m.name}" if part.kind != "dir" else str(part.path / m.name)

    def _match(self, files: dict, jsons: dict) -> builtins.list[dict]:  # list: the method
        """Pair files with sidecars, edits with originals, motion videos with stills, fold album
        copies into their year-folder item: one dict per item, {key, md} (md: what describe adds)."""
        by_folder: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
        for key in files:
            folder, _, fname = key[1].rpartition("/")
            by_folder.setdefault((key[0], folder), {})[_nfc(fname)] = key
        sidecars: dict[tuple[str, str], dict] = {}      # file key -> its sidecar's JSON
        albums: dict[tuple[str, str], str] = {}          # folder -> album title
        json_by_folder: dict[tuple[str, str], list[tuple[str, dict]]] = {}
        for key, d in jsons.items():
            folder, _, jname = key[1].rpartition("/")
            if "sidecar" in d:
                json_by_folder.setdefault((key[0], folder), []).append((_nfc(jname), d["sidecar"]))
            else:
                albums[(key[0], folder)] = d["album"]
        for fkey, entries in json_by_folder.items():
            names = by_folder.get(fkey, {})
            claimed: set[str] = set()
            later = []
            for jname, d in entries:   # first by title and duplicate index
                target = _by_title(jname, d, names)
                if target is not None and target not in claimed:
                    claimed.add(target)
                    sidecars[names[target]] = d
                else:
                    later.append((jname, d))
            for jname, d in later:      # then by the cut name as a prefix
                target = _by_prefix(jname, names, claimed)
                if target is not None:
                    claimed.add(target)
                    sidecars[names[target]] = d
        # every file: its own sidecar, or its original's (an edit), or its still's (a motion video)
        out: dict[tuple[str, str], dict] = {}
        link: dict[tuple[str, str], tuple[str, tuple[str, str]]] = {}   # companion -> (kind, original key)
        for names in by_folder.values():
            for fname, key in names.items():
                if key in sidecars:
                    continue
                orig = _edit_original(fname, names)
                if orig is not None:
                    link[key] = ("edit_of", names[orig])
                    continue
                still = _motion_still(fname, names)
                if still is not None:
                    link[key] = ("motion_of", names[still])
        seen: dict[tuple, tuple[str, str]] = {}   # (stamp, title, taken, size) -> the item it is
        alias: dict[str, str] = {}                 # item id folded -> the item id kept
        album_folders = {key for key in albums}
        # year (and trash) folders first: an album folder's copy folds into the year folder's item;
        # originals before their edits and motion videos (which name the original kept)
        order = sorted(files, key=lambda k: (k in link, (k[0], k[1].rpartition("/")[0]) in album_folders, k))
        for key in order:
            folder = key[1].rpartition("/")[0]
            album = albums.get((key[0], folder))
            d = sidecars.get(key)
            in_trash = folder.rpartition("/")[2].lower() in TRASH_FOLDERS
            if key in link:
                kind, okey = link[key]
                od = sidecars.get(okey)
                md = dict(od) if od is not None else {}
                md.pop("albums", None)
                md.pop("url", None)
                md["title"] = key[1].rpartition("/")[2]
                oid = _item_id(*okey)
                md[kind] = alias.get(oid, oid)
                if kind == "motion_of":
                    for k in ("location", "caption", "people"):
                        md.pop(k, None)
                ident: tuple | None = (key[0], kind, md[kind], md["title"], files[key].size)
                album = None   # an edit's albums are its original's (Takeout repeats the copy, not the album)
            else:
                md = dict(d) if d is not None else {}
                ident = (key[0], md.get("title"), md.get("taken"), files[key].size) if d is not None else None
            if in_trash:
                md["trashed"] = True
            if ident is not None and ident in seen:
                first = out[seen[ident]]["md"]
                if album and album not in first.setdefault("albums", []):
                    first["albums"].append(album)
                alias[_item_id(*key)] = _item_id(*seen[ident])
                continue
            if album:
                md["albums"] = [album]
            out[key] = {"key": key, "md": md}
            if ident is not None:
                seen[ident] = key
        return list(out.values())

    # -- items -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the archives kept open between reads."""
        with self._tar_lock:
            for zf in self._zips.values():
                zf.close()
            for tf, _, _ in self._tar_open.values():
                tf.close()
            self._zips.clear()
            self._tar_open.clear()
            for f in self._stash.values():
                f.close()
            self._stash.clear()

    def _index(self) -> dict[str, _Member]:
        with self._index_lock:   # replicate's threads open items at once: one of them lists
            if self._members is None:
                # a run that opens without listing first (replicate reading an original): list to find
                # the members, quietly (discover already said what was left out)
                self._quiet = True
                try:
                    self.list()
                finally:
                    self._quiet = False
        assert self._members is not None
        return self._members

    def describe(self, ref: ItemRef) -> ServiceItem:
        md_in = json.loads(ref.extra.decode()) if ref.extra else {}
        name = md_in.get("title") or ref.id.rsplit("/", 1)[-1]
        fname = ref.id.rsplit("/", 1)[-1]
        try:
            with self.open(ref.id) as f:
                mf = ingest(f, fname if is_media_name(fname) else name)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as e:
            raise SourceError(f"{self.where(ref.id)} is damaged in its archive ({e}); download that part of the "
                              "Takeout again") from None
        info = mf.info
        metadata = metadata_from_probe(info, filename=name)
        metadata = _apply(metadata, md_in)
        warnings = [info.problem] if info.problem else []
        return ServiceItem(ref=ref, content_hash=mf.content_hash, size=mf.size, metadata=metadata,
                           quality=TAKEOUT_QUALITY, visibility=None, url=md_in.get("url"),
                           warnings=tuple(warnings), look=info.look)

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        members = self._index()
        m = members.get(item_id)
        if m is None:
            raise SourceError(f"{item_id!r} is not in the Takeout export in {self.root} (instances.{self.name}[].id "
                              "in the record names no file of it); not read")
        assert self._parts is not None
        part = self._parts[m.part]
        try:
            if part.kind == "dir":
                return open(part.path / m.name, "rb")
            if part.kind == "zip":
                # one ZipFile per part, its central directory read once: zipfile lets several
                # threads read members of one archive at a time (a shared, locked file position)
                with self._tar_lock:
                    zf = self._zips.get(m.part)
                    if zf is None:
                        zf = self._zips[m.part] = zipfile.ZipFile(part.path)
                return zf.open(m.name)  # type: ignore[return-value]
            return self._open_tar(m, part)
        except FileNotFoundError:
            raise SourceError(f"{self.where(item_id)} is gone (the export's part was moved or deleted)") from None
        except (OSError, KeyError, zipfile.BadZipFile, tarfile.TarError) as e:
            raise SourceError(f"cannot read {self.where(item_id)}: {e}") from None

    def _open_tar(self, m: _Member, part: _Part) -> BinaryIO:
        """A tar member's bytes: the part is read as a stream front to back (a .tgz cannot be sought).
        The listing hands items out in archive order and discover's threads ask for them nearly in
        that order: members of the listing passed on the way to a later one are set aside (at most
        TAR_STASH of them, in memory up to 16 MiB each, else in a temporary file) for the thread that
        asks next, so each part is passed through about once."""
        with self._tar_lock:
            got = self._stash.pop((m.part, m.order), None)
            if got is not None:
                return got
            state = self._tar_open.get(m.part)
            if state is None or state[1] >= m.order:
                if state is not None:
                    state[0].close()
                tf = tarfile.open(part.path, "r|*")
                state = (tf, -1, None)
            tf, pos, _ = state
            wanted = self._wanted.get(m.part, frozenset())
            while True:
                # next(), not iteration: a second ``for`` over a stream TarFile starts again from its
                # first member (it keeps them), which a stream cannot seek back to
                ti = tf.next()
                if ti is None:
                    break
                pos += 1
                self._tar_open[m.part] = (tf, pos, ti)
                if pos == m.order:
                    return _copy_out(tf, ti, part, m.name)
                if pos in wanted and ti.isfile():
                    self._stash[(m.part, pos)] = _copy_out(tf, ti, part, ti.name)
                    while len(self._stash) > TAR_STASH:
                        self._stash.pop(next(iter(self._stash))).close()
            tf.close()
            self._tar_open.pop(m.part, None)
            raise SourceError(f"{part.path}: {m.name} is no longer in the archive")


def _copy_out(tf: tarfile.TarFile, ti: tarfile.TarInfo, part: _Part, name: str) -> BinaryIO:
    import tempfile

    src = tf.extractfile(ti)
    if src is None:
        raise SourceError(f"{part.path}: {name} is not a file")
    if ti.size <= IN_MEMORY_LIMIT:
        return io.BytesIO(src.read())
    spool = tempfile.TemporaryFile()
    while chunk := src.read(1 << 20):
        spool.write(chunk)
    spool.seek(0)
    return spool


# -- names ---------------------------------------------------------------------------------------------

def _logical(name: str) -> str:
    """A member's path from its ``Takeout/`` on (a part unpacked somewhere keeps what is below)."""
    name = name.replace("\\", "/").lstrip("/")
    idx = name.find("Takeout/")
    if idx == 0 or (idx > 0 and name[idx - 1] == "/"):
        return name[idx:]
    return name


def _photos_root(logical: str) -> str | None:
    """"Takeout/Google Fotos" of "Takeout/Google Fotos/Photos from 2020/x.jpg" (None: not in a Takeout/ folder)."""
    bits = logical.split("/", 2)
    return "/".join(bits[:2]) if len(bits) == 3 and bits[0] == "Takeout" else None


def _item_id(stamp: str, logical: str) -> str:
    return f"{stamp}/{logical}" if stamp else logical


def _split_dup(stem: str) -> tuple[str, int]:
    m = _DUP.search(stem)
    return (stem[: m.start()], int(m.group(1))) if m else (stem, 0)


def _dup_name(filename: str, dup: int) -> str:
    if not dup:
        return filename
    base, dot, ext = filename.rpartition(".")
    return f"{base}({dup}).{ext}" if dot else f"{filename}({dup})"


def _sidecar_stem(jname: str) -> tuple[str, int]:
    """``IMG_1.JPG.supplemental-metad(1).json`` -> ("IMG_1.JPG", 1): the file's name as far as
    the sidecar's (cut) name keeps it, and its duplicate index."""
    stem, dup = _split_dup(jname[: -len(".json")])
    head, dot, tail = stem.rpartition(".")
    if dot and head and tail and _SUPPLEMENTAL.startswith(tail.lower()):
        stem = head
    elif stem.endswith("."):
        stem = stem[:-1]
    return stem, dup


def _by_title(jname: str, d: dict, names: dict) -> str | None:
    title = d.get("title")
    if not isinstance(title, str) or not title:
        return None
    _, dup = _sidecar_stem(jname)
    want = _nfc(_dup_name(title, dup))
    if want in names:
        return want
    low = want.lower()
    hits = [n for n in names if n.lower() == low]
    return hits[0] if len(hits) == 1 else None


def _by_prefix(jname: str, names: dict, claimed: set) -> str | None:
    stem, dup = _sidecar_stem(jname)
    if not stem:
        return None
    hits = []
    for n in names:
        if n in claimed:
            continue
        base, ndup = n, 0
        b, dot, ext = n.rpartition(".")
        if dot:
            b2, ndup = _split_dup(b)
            base = f"{b2}.{ext}"
        else:
            base, ndup = _split_dup(n)
        if ndup == dup and base.startswith(stem):
            hits.append(n)
    return hits[0] if len(hits) == 1 else None


def _edit_original(fname: str, names: dict) -> str | None:
    base, dot, ext = fname.rpartition(".")
    if not dot:
        base, ext = fname, ""
    base, dup = _split_dup(base)
    low = base.lower()
    for suffix in EDITED_SUFFIXES:
        if low.endswith(suffix):
            orig = base[: -len(suffix)]
            want = _dup_name(f"{orig}.{ext}" if ext else orig, dup)
            if want in names:
                return want
            hits = [n for n in names if n.lower() == want.lower()]
            if hits:
                return hits[0]
    return None


def _motion_still(fname: str, names: dict) -> str | None:
    ext = extension(fname)
    if ext not in _MOTION_EXT:
        return None
    for still_ext in ("jpg", "JPG", "jpeg", "JPEG", "heic", "HEIC"):
        if ext == "mp" and f"{fname}.{still_ext}" in names:   # Pixel: PXL_1.MP.jpg + PXL_1.MP
            return f"{fname}.{still_ext}"
        stem = fname.rsplit(".", 1)[0]
        if ext != "mp" and f"{stem}.{still_ext}" in names:     # iPhone: IMG_1.JPG + IMG_1.MP4
            return f"{stem}.{still_ext}"
    return None


# -- metadata ------------------------------------------------------------------------------------------

def _place(g) -> list | None:
    if not isinstance(g, dict):
        return None
    try:
        lat, lon = float(g.get("latitude", 0.0)), float(g.get("longitude", 0.0))
        alt = g.get("altitude")
        alt = float(alt) if alt is not None else None
    except (TypeError, ValueError):
        return None
    if lat == 0.0 and lon == 0.0:   # Takeout writes 0,0 for "no location"
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return [lat, lon, alt]


def _sidecar_md(d: dict) -> dict:
    """What a sidecar says, as plain JSON (kept in the ref until describe)."""
    md: dict = {}
    title = d.get("title")
    if isinstance(title, str) and title:
        md["title"] = title
    for field in ("photoTakenTime", "creationTime"):
        t = d.get(field)
        ts = t.get("timestamp") if isinstance(t, dict) else None
        try:
            if ts is not None and int(ts) > 0:
                md["taken"] = iso(datetime.fromtimestamp(int(ts), tz=timezone.utc))
                md["taken_from"] = field
                break
        except (TypeError, ValueError, OverflowError, OSError):
            continue
    place = _place(d.get("geoDataExif")) or _place(d.get("geoData"))
    if place:
        md["location"] = place
    desc = d.get("description")
    if isinstance(desc, str) and desc.strip():
        md["caption"] = desc
    people = [p.get("name") for p in d.get("people") or () if isinstance(p, dict) and p.get("name")]
    if people:
        md["people"] = people
    for src, dst in (("favorited", "favorite"), ("archived", "archived"), ("trashed", "trashed")):
        if isinstance(d.get(src), bool):
            md[dst] = d[src]
    if isinstance(d.get("url"), str):
        md["url"] = d["url"]
    return md


def _apply(metadata: Metadata, md: dict) -> Metadata:
    changes: dict = {}
    if md.get("title"):
        changes["filename"] = md["title"]
    if md.get("taken"):
        # photoTakenTime is Google's statement (the truth the person sees; EXIF may be wrong or missing)
        changes["taken_date"], changes["taken_date_source"] = md["taken"], "service"
    if md.get("location"):
        lat, lon, alt = md["location"]
        changes["location"], changes["location_source"] = Location(lat, lon, alt), "service"
    if md.get("caption"):
        changes["caption"] = md["caption"]
    if md.get("people"):
        changes["people"] = tuple(md["people"])
    for k in ("favorite", "archived", "trashed", "edit_of", "motion_of"):
        if md.get(k) is not None:
            changes[k] = md[k]
    if md.get("albums"):
        changes["albums"] = tuple(md["albums"])
    return dataclasses.replace(metadata, **changes)
