"""Apple Photos through an osxphotos export (issue 16 §5): ``--type apple-photos-export --path EXPORT``.

Seed 004 reads the macOS Photos library.  photosync reads it on any machine through what
``osxphotos export EXPORT --sidecar json --sidecar xmp`` writes (RhetTbull/osxphotos; the facts
below are from its ``export --help``, ``_constants.py`` and ``export_db.py``):

* the files: each photo's original under its original name, its edited version beside it named
  ``<name>_edited.<ext>`` (``DEFAULT_EDITED_SUFFIX``; ``--edited-suffix`` changes it: our
  ``--edited-suffix``), a live photo's video beside its still with the still's stem and ``.mov``,
  all in the folders ``--directory`` made (``{created.year}/{created.month}``, ``{folder_album}``);
* the sidecars beside each file (apple/sidecars.py: title, description, keywords, persons,
  place, date, favourite with ``--favorite-rating``);
* the export database ``EXPORT/.osxphotos_export.db`` (SQLite, written by every export unless
  ``--exportdb`` puts it elsewhere): table ``export_data`` maps each exported file (``filepath``,
  relative to the export folder) to its photo's Photos ``uuid``; table ``photoinfo`` holds each
  uuid's osxphotos JSON (albums and their folders, persons, keywords, favourite, hidden, place).

Item ids: a file the export database names is ``UUID/ROLE.EXT`` (ROLE: original, edited, live,
edited-live), so a re-export of the same library in another layout (``--directory
"{created.year}/{created.month}"``), into this folder or another one the service is pointed at,
gives the same ids: nothing new is recorded (seed 004's dedupe by the Photos UUID).  A second file
with the same id and size (two layouts side by side) is the same item and is listed once; with
another size it is kept as ``UUID/ROLE.EXT~N`` (never dropped: bias to duplication).  A file the
database does not name (no database, or a file put there by hand) keeps its path as id and is
matched by content like any file.  Edited versions record ``edit_of`` and live videos
``motion_of`` (the item id of the original or still in the same folder): resolve links them.

The walk, fingerprints, hidden files, links and the reading of sidecars are the folder
connector's (connectors/local.py with a SidecarReader).  ``--photos-library`` (the Photos library
itself through osxphotos; not ``--library``, which is photosync's own) is refused off macOS with the
export route spelled out, and on macOS too for now (not built: README says so).
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import hashlib
import json
import os
import sys
import threading
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from ...errors import ConfigError
from ...library.layout import folder_option, user_path
from ...media.formats import PHOTO_EXTENSIONS, VIDEO_EXTENSIONS
from ...model import Metadata
from ...options import Option
from ..base import Capabilities, ItemRef, Listing, ServiceItem
from ..local import LocalConnector, describe_file
from .exportdb import ExportDBError, read_export_db
from .sidecars import OsxphotosSidecars, apply_facts

#: osxphotos' export database, in the export folder (osxphotos _constants.OSXPHOTOS_EXPORT_DB)
EXPORT_DB = ".osxphotos_export.db"
#: osxphotos' DEFAULT_EDITED_SUFFIX
EDITED_SUFFIX = "_edited"
#: what to run on the Mac (README "Apple Photos"); said wherever --library cannot be used
EXPORT_ROUTE = ("export the library on the Mac with `osxphotos export EXPORT --sidecar json --sidecar xmp` "
                "and add that folder: photosync service add NAME --type apple-photos-export --path EXPORT")


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _split(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    return (stem, ext) if dot and stem else (name, "")


class ApplePhotosExportConnector(LocalConnector):
    """Apple Photos, from a folder osxphotos exported (originals, edits, live photos, sidecars)."""

    type_name = "apple-photos-export"
    capabilities = Capabilities()
    sidecar_reader = OsxphotosSidecars()
    options = (  # type: ignore[assignment]  # LocalConnector's options, as a tuple of three, are not ours
        Option("path", "The folder `osxphotos export` wrote (with --sidecar json and/or xmp): originals, "
                       "_edited versions, live-photo .mov files, sidecars and .osxphotos_export.db.", "path"),
        # not "--library": that is photosync's own (-L, the library folder), accepted anywhere on the line
        Option("photos_library", "A Photos library (.photoslibrary) read directly through osxphotos: macOS "
                                 "only; elsewhere export it with osxphotos and give --path.", "path"),
        Option("export_db", "osxphotos' export database, when its --exportdb put it outside the export folder "
                            "(default: PATH/.osxphotos_export.db).", "path", advanced=True),
        Option("edited_suffix", "The suffix osxphotos gave edited versions (its --edited-suffix).", "str",
               default=EDITED_SUFFIX, advanced=True),
        Option("follow_links", "Also follow symbolic links that lead outside the folder.", "bool", default=False),
    )

    def __init__(self, name: str, config: dict, env) -> None:
        if not config.get("path"):
            raise ConfigError(f"service {name}: an apple-photos-export service needs a 'path' (the folder "
                              f"osxphotos exported to); {EXPORT_ROUTE}")
        super().__init__(name, config, env)
        self.edited_suffix = str(config.get("edited_suffix") or EDITED_SUFFIX)
        self.export_db = user_path(config["export_db"], env.library_root) if config.get("export_db") \
            else self.root / EXPORT_DB
        self._paths: dict[str, tuple[str, bytes | None]] | None = None
        self._index_lock = threading.Lock()
        self._quiet = False
        #: files left out as further copies of an item already listed (same Photos UUID and size)
        self.copies_left_out = 0

    @classmethod
    def check_config(cls, config: dict, library_root: Path) -> dict:
        lib = config.get("photos_library")
        if lib:
            if sys.platform != "darwin":
                raise ConfigError(f"--photos-library {lib}: osxphotos reads a Photos library only on macOS; "
                                  f"on this machine, {EXPORT_ROUTE}")
            raise ConfigError(f"--photos-library {lib}: reading the library directly is not built yet; "
                              f"{EXPORT_ROUTE}")
        if not config.get("path"):
            raise ConfigError(f"--path is required: the folder osxphotos exported to; {EXPORT_ROUTE}")
        return folder_option(config, "give the folder osxphotos exported to (" + EXPORT_ROUTE + ")")

    def where(self, item_id: str) -> str:
        got = (self._paths or {}).get(item_id)
        return str(self.root / (got[0] if got else item_id))

    # -- listing -----------------------------------------------------------------------------------
    def list(self, *, cursor=None, since: datetime | None = None, full_scan: bool = False) -> Listing:
        walked = super().list(cursor=None, since=None, full_scan=full_scan)
        refs = builtins.list(walked.refs)   # the whole tree: an edit's original may be anywhere in its folder
        planned = self._plan(refs)
        if since is not None:
            planned = [r for r in planned if self._changed_since(r, since.timestamp())]
        return Listing(refs=iter(planned), complete=since is None, cursor=None)

    def _changed_since(self, ref: ItemRef, ts: float) -> bool:
        ext = json.loads(ref.extra or b"{}")
        folder = self.root / ext["path"].rpartition("/")[0]
        for name in [ext["path"].rpartition("/")[2], *ext.get("sidecars", ())]:
            try:
                if (folder / name).stat().st_mtime >= ts:
                    return True
            except OSError:
                return True
        return False

    def _read_db(self) -> tuple[dict[str, str], dict[str, dict]]:
        db = self.export_db
        if not db.is_file():
            if not self._quiet:
                self.env.report.info(f"service {self.name}: no osxphotos export database at {db}: files are "
                                     "matched by content only (the Photos UUIDs and albums are in that database)")
            return {}, {}
        try:
            return read_export_db(db)
        except ExportDBError as e:
            if not self._quiet:
                self.env.report.warning(str(db), f"cannot read osxphotos' export database ({e}); files are matched "
                                                 "by content only, without Photos UUIDs or albums")
            return {}, {}

    def _plan(self, refs: builtins.list[ItemRef]) -> builtins.list[ItemRef]:
        files, facts = self._read_db()
        by_folder: dict[str, dict[str, ItemRef]] = {}
        for ref in refs:
            folder, _, name = ref.id.rpartition("/")
            by_folder.setdefault(folder, {})[name] = ref
        role: dict[str, tuple[str, str | None, str | None]] = {}   # path -> (role, link kind, target path)
        for folder, names in by_folder.items():
            prefix = f"{folder}/" if folder else ""
            stills: dict[str, builtins.list[str]] = {}
            for n in names:
                stem, ext = _split(n)
                if ext.lower() in PHOTO_EXTENSIONS:
                    stills.setdefault(stem, []).append(n)
            for n in sorted(names):
                stem, ext = _split(n)
                edited = stem.endswith(self.edited_suffix) and len(stem) > len(self.edited_suffix)
                if ext.lower() in VIDEO_EXTENSIONS and stem in stills:
                    # a live photo's video: beside its still, with the still's stem (osxphotos)
                    still = sorted(stills[stem])[0]
                    role[prefix + n] = ("edited-live" if edited else "live", "motion_of", prefix + still)
                    continue
                if edited:
                    base = stem[: -len(self.edited_suffix)]
                    cands = sorted(o for o in names if _split(o)[0] == base and _split(o)[1].lower() in
                                   (PHOTO_EXTENSIONS if ext.lower() in PHOTO_EXTENSIONS else VIDEO_EXTENSIONS))
                    if cands:
                        same = [o for o in cands if _split(o)[1].lower() == ext.lower()]
                        role[prefix + n] = ("edited", "edit_of", prefix + (same or cands)[0])
                        continue
                role[prefix + n] = ("original", None, None)
        # item ids: UUID/ROLE.EXT where the database names the file, else its path
        ids: dict[str, str] = {}
        taken: dict[str, int] = {}          # id -> size of the file listed under it
        out: builtins.list[tuple[ItemRef, str, dict]] = []
        self.copies_left_out = 0
        for ref in sorted(refs, key=lambda r: r.id):
            uuid = files.get(_nfc(ref.id).casefold()) if ref.raw_name is None else None
            r, kind, target = role[ref.id]
            if uuid is None:
                ids[ref.id] = ref.id
                out.append((ref, ref.id, {}))
                continue
            item_id = f"{uuid}/{r}.{_split(ref.id)[1].lower()}"
            if item_id in taken:
                if taken[item_id] == ref.size:
                    ids[ref.id] = item_id       # the same file in another layout: one item
                    self.copies_left_out += 1
                    continue
                k = 1
                while f"{item_id}~{k}" in taken:
                    k += 1
                item_id = f"{item_id}~{k}"
            taken[item_id] = ref.size or 0
            ids[ref.id] = item_id
            out.append((ref, item_id, {**facts.get(uuid, {}), "_db": True}))
        planned: builtins.list[ItemRef] = []
        paths: dict[str, tuple[str, bytes | None]] = {}
        for ref, item_id, md in out:
            r, kind, target = role[ref.id]
            if kind is not None and target is not None:
                md[kind] = ids.get(target, target)
                # an edit or a live video is the same Photos asset: its albums are its original's
                # (recorded once there); a live video's place and people are its still's
                md.pop("albums", None)
                if kind == "motion_of":
                    for field in ("location", "persons", "title", "description"):
                        md.pop(field, None)
            sidecars = [os.fsdecode(s) for s in ref.extra.split(b"\x00")] if ref.extra else []
            extra = {"path": ref.id, "raw": ref.raw_name.hex() if ref.raw_name is not None else None,
                     "sidecars": sidecars, "facts": md}
            stamp = hashlib.sha1(json.dumps(md, sort_keys=True).encode()).hexdigest()[:12]
            planned.append(ItemRef(item_id, f"{ref.fingerprint}:p{stamp}", None, ref.size, None,
                                   ref.raw_name if item_id == ref.id else None,
                                   json.dumps(extra, sort_keys=True).encode()))
            paths[item_id] = (ref.id, ref.raw_name)
        self._paths = paths
        if self.copies_left_out and not self._quiet:
            self.env.report.info(f"service {self.name}: {self.copies_left_out:,} file(s) are further copies of "
                                 "photos already listed (same Photos UUID and size: the export in another layout)")
        return planned

    # -- items -------------------------------------------------------------------------------------
    def _index(self) -> dict[str, tuple[str, bytes | None]]:
        with self._index_lock:
            if self._paths is None:
                self._quiet = True   # replicate reading an original without a listing this run
                try:
                    self.list()
                finally:
                    self._quiet = False
        assert self._paths is not None
        return self._paths

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        if raw_name is not None:
            return super().open(item_id, raw_name)
        got = self._index().get(item_id)
        if got is None:
            return super().open(item_id)   # a path id (a file the database does not name) or gone
        path, raw = got
        return super().open(path, raw)

    def renamed(self, ref: ItemRef, metadata: Metadata) -> Metadata | None:
        ext = json.loads(ref.extra or b"{}")
        inner = ref._replace(id=ext.get("path") or ref.id, fingerprint=ref.fingerprint.rsplit(":p", 1)[0])
        return super().renamed(inner, metadata)

    def describer(self, keep=None):
        return functools.partial(describe_exported, os.fsencode(str(self.root)), self.sidecar_reader)

    def describe(self, ref: ItemRef) -> ServiceItem:
        return describe_exported(os.fsencode(str(self.root)), self.sidecar_reader, ref)


def describe_exported(root: bytes, reader, ref: ItemRef) -> ServiceItem:
    """One exported file: the folder connector's reading (bytes, probe, sidecars), then what the
    export database states and the edit / live links (a module function: it runs in workers)."""
    ext: dict = json.loads(ref.extra) if ref.extra else {"path": ref.id}
    raw = bytes.fromhex(ext["raw"]) if ext.get("raw") else None
    sidecars = [os.fsencode(s) for s in ext.get("sidecars") or ()]
    inner = ref._replace(id=ext["path"], raw_name=raw, extra=b"\x00".join(sidecars) if sidecars else None)
    item = describe_file(root, inner, sidecar_reader=reader)
    facts: dict = ext.get("facts") or {}
    md = apply_facts(item.metadata, facts)
    if facts.get("_db") and item.warnings:
        # a sidecar that could not be read leaves the file's own metadata *and* the database's facts
        own = "; recorded with the file's own metadata"
        item = dataclasses.replace(item, warnings=tuple(
            w.replace(own, own + " and what osxphotos' export database says") for w in item.warnings))
    if facts.get("edit_of") or facts.get("motion_of"):
        md = dataclasses.replace(md, edit_of=facts.get("edit_of"), motion_of=facts.get("motion_of"))
    return dataclasses.replace(item, ref=ref, metadata=md)
