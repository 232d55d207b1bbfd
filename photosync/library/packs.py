"""Writing a commit's objects as one git pack file, and compacting packs.

A first discover of 10,000 photos creates 10,000 blobs; written as loose
objects that is 10,000 files, and libgit2's PackBuilder spends most of its
time searching for deltas.  So a large commit's objects are written here as
one pack without deltas (format: git's Documentation/gitformat-pack.txt, pack
version 2 and index version 2), fsynced before any ref points at them.  When
packs pile up, :func:`compact` merges them into one by copying their records
(no delta search: bytes moved, nothing more) and only then removes the packs it
replaced.  ``git gc`` delta-compresses a library whenever a person wants it
smaller (photo records are alike: deltas make them very small).
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path
from typing import Iterable

_TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}

#: compact when there are more packs than this
MAX_PACKS = 24


def fsync_path(path: Path) -> None:
    """Make a file or a folder (its entries) durable by its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_pack(objects: Iterable[tuple[int, bytes]], pack_dir: Path) -> str:
    """Write ``(type, data)`` objects as pack-<sha>.pack + .idx in ``pack_dir``
    (temp files, fsync, rename: the idx appears last, so git never sees half
    a pack).  Returns the pack's name."""
    objects = list(objects)
    header = b"PACK" + struct.pack(">II", 2, len(objects))
    sha = hashlib.sha1(header)
    records: list[bytes] = []
    entries: list[tuple[bytes, int, int]] = []  # (oid, crc32, offset)
    offset = len(header)
    for kind, data in objects:
        oid = hashlib.sha1(b"%s %d\0" % (_TYPE_NAMES[kind], len(data)) + data).digest()
        n = len(data)
        byte = (kind << 4) | (n & 0x0F)
        n >>= 4
        head = bytearray()
        while n:
            head.append(byte | 0x80)
            byte = n & 0x7F
            n >>= 7
        head.append(byte)
        record = bytes(head) + zlib.compress(data, 1)
        entries.append((oid, zlib.crc32(record), offset))
        records.append(record)
        sha.update(record)
        offset += len(record)
    name = _finish_pack(header, records, entries, sha.digest(), pack_dir)
    _record_own(pack_dir, _own_packs(pack_dir) | {name})
    return name


def _finish_pack(header: bytes, records: list[bytes] | None, entries: list[tuple[bytes, int, int]],
                 pack_sha: bytes, pack_dir: Path, written: Path | None = None) -> str:
    """Write the pack (unless ``written`` already holds it) and its index
    (temp files, fsync, rename: the idx appears last)."""
    entries = sorted(entries)
    counts = [0] * 256
    for oid, _, _ in entries:
        counts[oid[0]] += 1
    fanout, total = [], 0
    for c in counts:
        total += c
        fanout.append(total)
    small: list[int] = []
    large: list[int] = []
    for _, _, off in entries:
        if off < 0x80000000:
            small.append(off)
        else:
            small.append(0x80000000 | len(large))
            large.append(off)
    idx = b"".join(
        [
            b"\xfftOc",
            struct.pack(">I", 2),
            struct.pack(">256I", *fanout),
            b"".join(oid for oid, _, _ in entries),
            struct.pack(f">{len(entries)}I", *(crc for _, crc, _ in entries)),
            struct.pack(f">{len(small)}I", *small),
            struct.pack(f">{len(large)}Q", *large) if large else b"",
            pack_sha,
        ]
    )
    idx += hashlib.sha1(idx).digest()
    name = "pack-" + pack_sha.hex()
    pack_dir.mkdir(parents=True, exist_ok=True)
    tmp_pack = written or pack_dir / f"tmp_{name}.pack"
    tmp_idx = pack_dir / f"tmp_{name}.idx"
    if written is None:
        with open(tmp_pack, "wb") as f:
            f.write(header)
            for record in records or ():
                f.write(record)
            f.write(pack_sha)
            f.flush()
            os.fsync(f.fileno())
    with open(tmp_idx, "wb") as f:
        f.write(idx)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp_pack, 0o444)
    os.chmod(tmp_idx, 0o444)
    os.replace(tmp_pack, pack_dir / f"{name}.pack")
    os.replace(tmp_idx, pack_dir / f"{name}.idx")
    fsync_path(pack_dir)
    return name


def pack_files(pack_dir: Path) -> list[Path]:
    """The .pack files that have an index (complete packs), smallest first."""
    if not pack_dir.is_dir():
        return []
    packs = [p for p in pack_dir.glob("pack-*.pack") if p.with_suffix(".idx").exists()]
    return sorted(packs, key=lambda p: p.stat().st_size)


def _read_idx(idx: Path) -> list[tuple[bytes, int, int]]:
    """(oid, crc32, offset) of every object in a version 2 pack index."""
    data = idx.read_bytes()
    if data[:4] != b"\xfftOc" or struct.unpack(">I", data[4:8])[0] != 2:
        raise ValueError(f"{idx}: not a version 2 pack index")
    count = struct.unpack(">I", data[8 + 255 * 4 : 8 + 256 * 4])[0]
    pos = 8 + 256 * 4
    oids = [data[pos + 20 * i : pos + 20 * (i + 1)] for i in range(count)]
    pos += 20 * count
    crcs = struct.unpack(f">{count}I", data[pos : pos + 4 * count])
    pos += 4 * count
    small = struct.unpack(f">{count}I", data[pos : pos + 4 * count])
    pos += 4 * count
    offsets = []
    for off in small:
        if off & 0x80000000:
            i = off & 0x7FFFFFFF
            offsets.append(struct.unpack(">Q", data[pos + 8 * i : pos + 8 * i + 8])[0])
        else:
            offsets.append(off)
    return list(zip(oids, crcs, offsets))


def _spans(pack: Path) -> list[tuple[bytes, int, int, int]]:
    """(oid, crc32, start, end) of every object record of a pack, in pack order."""
    entries = sorted(_read_idx(pack.with_suffix(".idx")), key=lambda e: e[2])
    size = pack.stat().st_size
    return [
        (oid, crc, off, entries[i + 1][2] if i + 1 < len(entries) else size - 20)
        for i, (oid, crc, off) in enumerate(entries)
    ]


def _merge(packs: list[Path], pack_dir: Path) -> str:
    """One pack holding every object of ``packs`` (records copied, read in
    order with buffered reads: memory holds the object list, not the packs)."""
    header_placeholder = b"PACK" + struct.pack(">II", 2, 0)
    seen: set[bytes] = set()
    entries: list[tuple[bytes, int, int]] = []
    tmp = pack_dir / f"tmp_merge_{os.getpid()}.pack"
    try:
        with open(tmp, "wb") as out:
            out.write(header_placeholder)
            offset = len(header_placeholder)
            for pack in packs:
                with open(pack, "rb") as f:
                    pos = 0
                    for oid, crc, start, end in _spans(pack):
                        if oid in seen:
                            continue
                        if pos != start:
                            f.seek(start)
                        record = f.read(end - start)
                        pos = end
                        if zlib.crc32(record) != crc:
                            raise ValueError(f"{pack}: object {oid.hex()} fails its CRC")
                        seen.add(oid)
                        out.write(record)
                        entries.append((oid, crc, offset))
                        offset += len(record)
        # the object count goes in the header, which the pack's checksum covers
        header = b"PACK" + struct.pack(">II", 2, len(entries))
        sha = hashlib.sha1(header)
        with open(tmp, "r+b") as out:
            out.write(header)
            out.seek(len(header))
            while chunk := out.read(1 << 20):
                sha.update(chunk)
            pack_sha = sha.digest()
            out.seek(0, os.SEEK_END)
            out.write(pack_sha)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _finish_pack(header, None, entries, pack_sha, pack_dir, written=tmp)


def choose_merge(packs: list[Path], max_packs: int) -> list[Path]:
    """Which packs to merge (geometric, like ``git repack --geometric=2``):
    smallest first, a pack joins while it is no bigger than twice what is
    merged so far, so each object is copied O(log n) times over a library's
    life; at least enough packs to bring the count down to half ``max_packs``."""
    total = 0
    k = 0
    for i, pack in enumerate(packs):  # packs come smallest first
        size = pack.stat().st_size
        if i > 0 and size > 2 * total:
            break
        total += size
        k = i + 1
    k = max(k, len(packs) - max_packs // 2)
    return packs[: min(k, len(packs))]


def _ledger(pack_dir: Path) -> Path:
    """The list of packs photosync wrote (delta-free, so their records can be moved)."""
    return pack_dir.parent.parent / "photosync" / "packs"


def _own_packs(pack_dir: Path) -> set[str]:
    try:
        return set(_ledger(pack_dir).read_text().split())
    except FileNotFoundError:
        return set()


def _record_own(pack_dir: Path, names: set[str]) -> None:
    ledger = _ledger(pack_dir)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    tmp = ledger.with_suffix(".tmp")
    tmp.write_text("\n".join(sorted(names)) + "\n")
    os.replace(tmp, ledger)


def compact(pack_dir: Path, max_packs: int = MAX_PACKS) -> bool:
    """When there are more than ``max_packs`` packs, merge some of photosync's
    own (delta-free) packs into one by copying their records: bytes moved, no
    delta search.  Every object is kept; the old packs are removed only after
    the new one is on disk.  (``git gc`` delta-compresses the lot.)"""
    every = pack_files(pack_dir)
    if len(every) <= max_packs:
        return False
    own = _own_packs(pack_dir)
    packs = [p for p in every if p.stem in own and not p.with_suffix(".keep").exists()]
    victims = choose_merge(packs, max_packs)
    if len(victims) < 2:
        return False
    name = _merge(victims, pack_dir)
    _record_own(pack_dir, (own | {name}) - {p.stem for p in victims if p.stem != name})
    for pack in victims:
        if pack.stem == name:
            continue
        for suffix in (".idx", ".pack", ".rev"):
            try:
                pack.with_suffix(suffix).unlink()
            except FileNotFoundError:
                pass
    fsync_path(pack_dir)
    return True
