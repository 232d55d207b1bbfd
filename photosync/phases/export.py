"""export: a tree of the originals (or of a rendition, ``--derived tier``) named from the canonical
metadata — seed 001's ``sorted/YYYY/MM/DD`` for a NAS (issue 16).

The export is a view: everything in it can be made again from the library and the stores, and
nothing in the library depends on it (deleting it loses nothing).  An original is a hard link to
its blob in a local store when the export is on the same file system (no second copy of the bytes;
the blob is read-only), else a copy checked against the photo's hash on the way.  A manifest in the
export (``.photosync-export.json``: photo -> path, hash, size) makes a rerun incremental: a photo
whose path did not change is left alone, one whose date or name was corrected is moved (renamed,
not copied), a new one is added, one no longer exported is removed.  Files photosync did not put
there are never touched: a name they hold is taken as a collision.

Collisions (two photos, or a foreign file, on one path — compared case-insensitively, since NAS
shares often are) are resolved the same way every time: the photo with the smallest id keeps the
name, the others get ``-<first 8 characters of their id>`` before the extension.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import string
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidRecord, PhotosyncError, SourceError, UsageError, VerificationError
from ..library.layout import path_problem
from ..library.library import Library
from ..model import Photo
from ..renditions import open_rendition, renditions
from ..stores.naming import blob_ext, rendition_ext
from .common import make_stores
from .sources import Sources

MANIFEST = ".photosync-export.json"
DEFAULT_LAYOUT = "{year}/{month}/{day}/{filename}"
FIELDS = ("year", "month", "day", "hour", "minute", "date", "filename", "stem", "ext", "id", "camera")


@dataclass
class ExportResult:
    photos: int = 0
    linked: int = 0
    copied: int = 0
    moved: int = 0
    kept: int = 0
    removed: int = 0
    #: photos without what --derived asks for (no current rendition of that name)
    without: int = 0
    failed: int = 0
    bytes_written: int = 0
    planned: list[tuple[str, str]] = field(default_factory=list)


def check_layout(layout: str) -> None:
    try:
        names = [f for _lit, f, _spec, _conv in string.Formatter().parse(layout) if f is not None]
    except ValueError as e:
        raise UsageError(f"--layout {layout!r}: {e}") from None
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise UsageError(f"--layout {layout!r}: unknown field {{{unknown[0]}}} (fields: "
                         + ", ".join("{" + f + "}" for f in FIELDS) + ")")
    if not names:
        raise UsageError(f"--layout {layout!r}: it names no field; e.g. {DEFAULT_LAYOUT}")


def _segment(text: str) -> str:
    """A path segment from metadata: no separators, control characters or leading dots."""
    out = "".join("_" if c in "/\\\0" or ord(c) < 32 else c for c in text).strip()
    out = out.lstrip(".")
    return out[:200]


def relative_path(photo: Photo, layout: str, ext: str) -> str:
    """The layout filled from the photo's canonical metadata (empty segments dropped)."""
    md = photo.metadata
    td = md.taken_date or ""
    dated = len(td) >= 10 and td[0:4].isdigit()
    name = os.path.basename((md.filename or "").replace("\\", "/")) or photo.photo_id[:8]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    cam = md.camera_info
    values = {
        "year": td[0:4] if dated else "undated",
        "month": td[5:7] if dated else "",
        "day": td[8:10] if dated else "",
        "hour": td[11:13] if len(td) >= 13 else "",
        "minute": td[14:16] if len(td) >= 16 else "",
        "date": td[0:10] if dated else "undated",
        "filename": f"{stem}.{ext}",
        "stem": stem,
        "ext": ext,
        "id": photo.photo_id[:8],
        "camera": " ".join(x for x in ((cam.make or "", cam.model or "") if cam else ()) if x) or "unknown camera",
    }
    values = {k: _segment(v) for k, v in values.items()}
    rel = layout.format(**values)
    parts = [_segment(p) for p in rel.replace("\\", "/").split("/")]
    parts = [p for p in parts if p and p not in (".", "..")]
    if not parts:
        parts = [f"{photo.photo_id[:8]}.{ext}"]
    return "/".join(parts)


def _with_suffix(rel: str, photo_id: str) -> str:
    folder, _, name = rel.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    new = f"{stem}-{photo_id[:8]}" + (f".{ext}" if ext else "")
    return f"{folder}/{new}" if folder else new


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


class _Exporter:
    def __init__(self, lib: Library, out: Path, derived: str | None):
        self.lib = lib
        self.out = out
        self.derived = derived
        self.stores = make_stores(lib)
        self.sources = Sources(lib, self.stores)
        from ..stores.local import LocalStore

        self.local_roots = {name: Path(s.root) for name, s in self.stores.items() if isinstance(s, LocalStore)}

    def content(self, photo: Photo) -> tuple[str, int | None, str] | None:
        """(hash, size, extension) of what this photo exports, or None (no such rendition)."""
        if self.derived is None:
            size = next((i.size for i in photo.all_instances() if i.content_hash == photo.content_hash and i.size),
                        None)
            return photo.content_hash, size, blob_ext(photo)
        rend = next((r for r in renditions(photo) if r.name == self.derived or r.tier == self.derived), None)
        if rend is None:
            return None
        return rend.content_hash, rend.size, rendition_ext(rend.format)

    def write(self, photo: Photo, dest: Path) -> str:
        """Put the photo's export at ``dest`` (absent): "linked" or "copied"."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".photosync-tmp-{os.getpid()}-{dest.name}")
        if self.derived is None:
            for name, root in self.local_roots.items():
                copy = photo.blobs.get(name)
                if copy is None or not copy.good or path_problem(copy.locator, backslash=True):
                    continue
                src = root / copy.locator
                try:
                    if src.stat().st_size != copy.size:
                        continue
                    os.link(src, tmp)
                except OSError as e:
                    if e.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.ENOENT):
                        continue  # another file system (or none allows links): a copy below
                    raise
                os.replace(tmp, dest)
                return "linked"
            stream = self.sources.spool(photo, purpose=" to export")
            expected = photo.content_hash
        else:
            rend = next(r for r in renditions(photo) if r.name == self.derived or r.tier == self.derived)
            stream = open_rendition(rend, self.stores)
            expected = rend.content_hash
        h = hashlib.sha256()
        try:
            with stream, open(tmp, "wb") as f:
                while chunk := stream.read(1 << 20):
                    h.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            if "sha256:" + h.hexdigest() != expected:
                raise VerificationError(f"the copy written to {dest} does not have the photo's hash")
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return "copied"


def _load_manifest(out: Path, derived: str | None) -> dict:
    path = out / MANIFEST
    if not path.exists():
        return {"version": 1, "derived": derived, "files": {}}
    try:
        data = json.loads(path.read_text())
        files = data["files"]
        assert isinstance(files, dict)
    except (ValueError, KeyError, AssertionError, OSError) as e:
        raise UsageError(f"{path}: not a photosync export manifest ({e}); export into another folder") from None
    if data.get("derived") != derived:
        what = f"the {data.get('derived')} renditions" if data.get("derived") else "the originals"
        raise UsageError(f"{out} holds an export of {what}; export {derived or 'the originals'} into another folder")
    return data


def _save_manifest(out: Path, manifest: dict) -> None:
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, out / MANIFEST)


def _remove_empty_dirs(out: Path, rel: str) -> None:
    folder = (out / rel).parent
    while folder != out and out in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def export(lib: Library, out: Path, layout: str = DEFAULT_LAYOUT, derived: str | None = None,
           dry_run: bool = False) -> ExportResult:
    check_layout(layout)
    out = Path(out).absolute()
    if out == lib.root or lib.root in out.parents:
        raise UsageError(f"{out}: an export must be outside the library")
    result = ExportResult()
    manifest = _load_manifest(out, derived) if out.exists() else {"version": 1, "derived": derived, "files": {}}
    files: dict = manifest["files"]
    exporter = _Exporter(lib, out, derived)

    # what each photo should be, then collisions resolved by photo id
    wanted: dict[str, tuple[str, str, int | None]] = {}  # photo id -> (rel path, hash, size)
    photos: dict[str, Photo] = {}
    for pid in lib.photo_ids():
        try:
            photo = lib.get_photo(pid)
        except InvalidRecord as e:
            lib.report.error(e.path, f"{e.reason}; not exported")
            result.failed += 1
            continue
        what = exporter.content(photo)
        if what is None:
            result.without += 1
            continue
        h, size, ext = what
        photos[pid] = photo
        wanted[pid] = (relative_path(photo, layout, ext), h, size)
    result.photos = len(wanted)
    by_path: dict[str, list[str]] = {}
    for pid, (rel, _h, _s) in wanted.items():
        by_path.setdefault(rel.casefold(), []).append(pid)
    ours = {entry["path"].casefold() for entry in files.values()}
    final: dict[str, str] = {}
    for key, pids in by_path.items():
        pids.sort()
        for i, pid in enumerate(pids):
            rel = wanted[pid][0]
            foreign = i == 0 and key not in ours and (out / rel).exists()
            if i > 0 or foreign:
                entry = files.get(pid)
                if foreign and entry and entry["path"] == rel:
                    foreign = False  # ours after all (the same path, a case change)
                if i > 0 or foreign:
                    rel = _with_suffix(rel, pid)
            final[pid] = rel

    task = lib.report.task("Exporting", total=len(final) + len(set(files) - set(final)))
    try:
        # photos no longer exported: their files go (ours only: listed in the manifest)
        for pid in sorted(set(files) - set(final)):
            task.advance()
            rel = files[pid]["path"]
            result.planned.append(("remove", rel))
            if not dry_run:
                if path_problem(rel) is None:
                    (out / rel).unlink(missing_ok=True)
                    _remove_empty_dirs(out, rel)
                del files[pid]
            result.removed += 1
        # moves first (a corrected date frees or takes a name), then new files
        order = sorted(final, key=lambda p: (p not in files, final[p]))
        for n, pid in enumerate(order):
            task.advance()
            rel = final[pid]
            _rel, h, size = wanted[pid]
            dest = out / rel
            entry = files.get(pid)
            if entry and entry["path"] == rel and entry["hash"] == h and dest.is_file():
                result.kept += 1
                continue
            if entry and entry["hash"] == h and entry["path"] != rel and (out / entry["path"]).is_file() \
                    and not dest.exists():
                result.planned.append(("move", f"{entry['path']} -> {rel}"))
                if not dry_run:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(out / entry["path"], dest)
                    _remove_empty_dirs(out, entry["path"])
                    files[pid] = {"path": rel, "hash": h, "size": size}
                result.moved += 1
                continue
            result.planned.append(("add", rel))
            if dry_run:
                continue
            if entry and entry["path"] != rel:
                (out / entry["path"]).unlink(missing_ok=True)  # ours, other bytes: made again below
                _remove_empty_dirs(out, entry["path"])
            if dest.exists():
                if dest.is_file() and (size is None or dest.stat().st_size == size) and _hash_file(dest) == h:
                    files[pid] = {"path": rel, "hash": h, "size": size}  # a run killed before its manifest
                    result.kept += 1
                    continue
                if entry and entry["path"] == rel:
                    dest.unlink()  # ours, stale bytes
                else:
                    lib.report.error(str(dest), "a file that photosync did not put there is in the way; "
                                                f"{photos[pid].label} not exported")
                    result.failed += 1
                    continue
            try:
                how = exporter.write(photos[pid], dest)
            except (SourceError, VerificationError) as e:
                lib.report.error(f"{photos[pid].label} ({pid})", f"not exported: {e}")
                result.failed += 1
                continue
            except (PhotosyncError, OSError) as e:
                lib.report.error(f"{photos[pid].label} ({pid})", f"not exported: {e}")
                result.failed += 1
                continue
            files[pid] = {"path": rel, "hash": h, "size": size}
            if how == "linked":
                result.linked += 1
            else:
                result.copied += 1
                result.bytes_written += dest.stat().st_size
            if n % 500 == 499:
                _save_manifest(out, manifest)  # a killed run's files are found again by their bytes
    finally:
        task.close()
        if not dry_run and out.exists():
            _save_manifest(out, manifest)
    return result
