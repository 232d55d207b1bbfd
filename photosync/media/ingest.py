"""Ingest: the bytes of one photo or video, from a file or a stream, to what photosync
records of them -- SHA-256, size, format (by content), a structural check, the metadata
the file holds and its visual signature -- in one pass, every byte read once.

Every connector reads its items through here: the local connector a path
(``ingest(path)``: the read is checked against a file changing under it), a network
connector the temporary file ``net.download`` wrote (``ingest(stream)``).  What the
file says then becomes ``Metadata`` through ``metadata_from_probe``, and the connector
adds what only it knows (a service's dates, titles, albums, its own location).

Verdicts are the same for every source: damage to the structure (truncation,
corruption) raises MediaError; bytes that are not a photo or video raise NotMedia
(MediaError when the name says it should be one); a file whose structure is intact but
whose metadata or picture photosync's readers cannot parse is kept, with one problem
(``MediaInfo.problem``) that the connector passes on as a warning.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import time
from typing import BinaryIO, Union

from ..errors import ItemChanging, MediaError, NotMedia
from ..model import CameraInfo, Location, Metadata
from .dates import iso
from .formats import extension, is_media_name, sniff
from .probe import CHUNK, HEAD_KEPT, IN_MEMORY_LIMIT, FileView, MediaFile, MediaInfo, probe

#: a file that changes while it is read is read again after these pauses (seconds)
REREAD_PAUSES = (0.2, 1.0)
#: a file modified this shortly before it was read may have changed during the
#: read without its timestamps showing it (they tick coarsely: 2 s on FAT, a
#: clock tick on ext4 before Linux 6.13): it counts only when a second read agrees
RACY_NS = 3_000_000_000

Source = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]", BinaryIO]


def ingest(source: Source, name: str | None = None) -> MediaFile:
    """Hash, recognise and probe one photo or video: ``source`` is a path or an open binary
    file (a seekable one is read from its start; another stream is first copied to a
    temporary file while it is read).  ``name`` is the file name the format is judged
    with when the content is not recognised (a path's own name when omitted).

    Raises NotMedia (not a photo or video, and not named like one), MediaError (broken,
    empty, or named like a photo but something else) and, for a path, ItemChanging (it
    kept changing while it was read: a torn read is never returned)."""
    if isinstance(source, (str, bytes, os.PathLike)):
        if name is None:
            name = os.fsdecode(os.path.basename(os.fsencode(source)))
        return _ingest_path(source, name)
    return _ingest_stream(source, name or "")


def _ingest_stream(f: BinaryIO, name: str) -> MediaFile:
    if not _seekable(f):
        with tempfile.TemporaryFile() as spool:
            shutil.copyfileobj(f, spool, CHUNK)
            return _ingest_stream(spool, name)
    size = f.seek(0, io.SEEK_END)
    f.seek(0)
    try:
        return _read_open(f, size, name)
    except _Changed:
        raise ItemChanging("changed while it was being read") from None


def _seekable(f) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _ingest_path(path, name: str) -> MediaFile:
    """A file read only counts when the file's size, mtime and ctime (of the open file and of
    the path, so a file replaced by a rename counts too) are the same before and after it.  A
    file modified just before it was read (RACY_NS) may have changed without its timestamps
    showing it, so its bytes are hashed once more and the read counts when both agree.  A
    file that changed is read again after a pause, a few times."""
    candidate: MediaFile | Exception | None = None
    pauses = iter(REREAD_PAUSES)
    for _read in range(2 * (len(REREAD_PAUSES) + 2)):
        confirming = isinstance(candidate, MediaFile)
        started = time.time_ns()
        with open(path, "rb") as f:
            before = os.fstat(f.fileno())
            outcome: MediaFile | Exception | str
            try:
                outcome = _hash_open(f, before.st_size) if confirming else _read_open(f, before.st_size, name)
            except (MediaError, NotMedia, _Changed) as e:  # broken, or caught mid-write: see below
                outcome = e
            after = os.fstat(f.fileno())
        now = os.stat(path)
        if isinstance(outcome, _Changed) or not _stamp(before) == _stamp(after) == _stamp(now):
            candidate = None  # it changed while it was read: wait a little, read it again
        elif confirming:
            if outcome == candidate.content_hash:  # type: ignore[union-attr]
                return candidate  # type: ignore[return-value]
            candidate = None
        elif isinstance(outcome, Exception) and _same_error(outcome, candidate):
            raise outcome
        elif max(after.st_mtime_ns, after.st_ctime_ns) < started - RACY_NS:
            if isinstance(outcome, Exception):
                raise outcome
            return outcome  # type: ignore[return-value]
        else:
            assert not isinstance(outcome, str), "a hash is read only when confirming"
            candidate = outcome  # modified just before: counts when the next read agrees
            continue
        pause = next(pauses, None)
        if pause is None:
            break
        time.sleep(pause)
    raise ItemChanging("changed while it was being read; it will be read next run")


class _Changed(Exception):
    """The file gave other bytes than its size said (it changed while read)."""


def _stamp(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _same_error(e: Exception, other) -> bool:
    return isinstance(other, Exception) and type(e) is type(other) and str(e) == str(other)


def _hash_open(f: BinaryIO, size: int) -> str:
    h = hashlib.sha256()
    read = 0
    while chunk := f.read(CHUNK):
        h.update(chunk)
        read += len(chunk)
    if read != size:
        raise _Changed()
    return "sha256:" + h.hexdigest()


def _read_open(f: BinaryIO, size: int, name: str) -> MediaFile:
    """One pass over an open file: every byte is read once.  A small file is
    read into memory whole, then hashed and probed from there; a large one is
    hashed in chunks as they come, keeps only its start and is probed from the file."""
    if size == 0:
        if is_media_name(name):
            raise MediaError("empty file (0 bytes)")
        raise NotMedia(name)
    head = f.read(4096)
    fmt = sniff(head, name)
    if fmt is None:
        if is_media_name(name):
            raise MediaError(
                f"not a readable {extension(name).upper()} file: its content is not any photo or video format "
                "photosync knows (corrupt, or misnamed)"
            )
        raise NotMedia(name)
    if size <= IN_MEMORY_LIMIT:
        data = _read_whole(f, size, head)
        return MediaFile("sha256:" + hashlib.sha256(data).hexdigest(), size, probe(data, fmt), data)
    keep = HEAD_KEPT
    h = hashlib.sha256(head)
    kept = bytearray(head)
    read = len(head)
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            break
        h.update(chunk)
        read += len(chunk)
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
        if read > size:
            raise _Changed()
    if read != size:
        raise _Changed()
    return MediaFile("sha256:" + h.hexdigest(), size, probe(FileView(f, size, bytes(kept)), fmt))


def _read_whole(f: BinaryIO, size: int, head: bytes) -> bytes:
    """The rest of a file read straight into one buffer of its size (no chunk is
    copied twice: a 12-megapixel JPEG was read in 4.5 ms with chunks appended,
    measured by bench/signature.py micro), and one byte more, so that a file that
    grew is noticed."""
    if len(head) > size:
        raise _Changed()
    buf = bytearray(size + 1)
    view = memoryview(buf)
    view[: len(head)] = head
    read = len(head)
    while read <= size:
        # typing's BinaryIO has no readinto; the files read here are io's buffered or raw files, which do
        n = f.readinto(view[read : read + CHUNK])  # type: ignore[attr-defined]
        if not n:
            break
        read += n
    if read != size:
        raise _Changed()
    with view[:size] as whole:
        return bytes(whole)


def metadata_from_probe(info: MediaInfo, filename: str | None = None) -> Metadata:
    """What a file says of itself, as ``Metadata``: the date taken (EXIF DateTimeOriginal with its
    offset, else DateTimeDigitized; a video's QuickTime date) and where it came from, the
    location (EXIF GPS, or a video's QuickTime location) and where it came from, camera make
    and model, pixel size, format and media type, the caption and keywords it holds.

    A connector takes this and replaces what its service states instead (``dataclasses.replace``:
    a service's date, caption, tags, albums, its own location with ``location_source="service"``);
    a field the file does not hold is None (or empty), never guessed here (a date from the file
    name or its mtime is the folder connector's fall-back, not the file's)."""
    located = info.lat is not None and info.lng is not None
    return Metadata(
        taken_date=iso(info.taken) if info.taken is not None else None,
        taken_date_source=info.taken_source if info.taken is not None else None,
        filename=filename,
        location=Location(info.lat, info.lng, info.alt) if located else None,  # type: ignore[arg-type]
        tags=tuple(info.tags),
        caption=info.caption,
        camera_info=CameraInfo(info.make, info.model) if (info.make or info.model) else None,
        media_type=info.format.kind,
        format=info.format.name,
        width=info.width,
        height=info.height,
        location_source=("quicktime" if info.format.kind == "video" else "exif") if located else None,
    )
