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
import heapq
import os
import struct
import sys
import zlib
from array import array
from pathlib import Path
from typing import Iterable, Iterator

_TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}

assert array("I").itemsize == 4 and array("Q").itemsize == 8, "pack indexes hold 4- and 8-byte numbers"

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
    idx = _idx_bytes(b"".join(oid for oid, _, _ in entries), array("I", (crc for _, crc, _ in entries)),
                     array("Q", (off for _, _, off in entries)), pack_sha)
    return _install(header, records, idx, pack_sha, pack_dir, written)


def _idx_head(counts: list[int]) -> bytes:
    """A version 2 pack index's header and fan-out table, from how many objects' ids begin with
    each byte."""
    fanout, total = [], 0
    for c in counts:
        total += c
        fanout.append(total)
    return b"\xfftOc" + struct.pack(">I", 2) + struct.pack(">256I", *fanout)


def _idx_tables(crcs: array, offsets: array, mine: bool = False) -> Iterator[bytes]:
    """The CRC-32 and offset tables of a version 2 pack index (objects in id order), big-endian;
    offsets from 2**31 on go to the table of large offsets.  One table at a time, and with ``mine``
    (arrays the caller drops after) ``crcs`` swapped in place and ``offsets`` emptied once read: a
    merge at 540,000 objects holds no more than it must."""
    small = array("I")
    large = array("Q")
    for off in offsets:
        if off < 0x80000000:
            small.append(off)
        else:
            small.append(0x80000000 | len(large))
            large.append(off)
    if mine:
        del offsets[:]  # read through: its memory goes now
    for a in (crcs, small, large):
        if sys.byteorder == "little":
            if a is crcs and not mine:
                a = array(a.typecode, a)  # a copy, not the caller's
            a.byteswap()
        yield a.tobytes()


def _idx_bytes(oids: bytes | bytearray, crcs: array, offsets: array, pack_sha: bytes) -> bytes:
    """A version 2 pack index of objects given in id order: their 20-byte ids end to end, their
    CRC-32s and their offsets in the pack."""
    counts = [0] * 256
    for first in oids[0::20]:
        counts[first] += 1
    assert len(oids) == 20 * len(crcs)
    idx = b"".join([_idx_head(counts), bytes(oids), *_idx_tables(crcs, offsets), pack_sha])
    return idx + hashlib.sha1(idx).digest()


def _install(header: bytes, records: list[bytes] | None, idx: bytes | None, pack_sha: bytes, pack_dir: Path,
             written: Path | None, written_idx: Path | None = None) -> str:
    """Put the pack and its index in place (temp files, fsync, rename: the idx appears last); either
    may be written already (``written``, ``written_idx``)."""
    name = "pack-" + pack_sha.hex()
    pack_dir.mkdir(parents=True, exist_ok=True)
    tmp_pack = written or pack_dir / f"tmp_{name}.pack"
    tmp_idx = written_idx or pack_dir / f"tmp_{name}.idx"
    if written is None:
        with open(tmp_pack, "wb") as f:
            f.write(header)
            for record in records or ():
                f.write(record)
            f.write(pack_sha)
            f.flush()
            os.fsync(f.fileno())
    if written_idx is None:
        assert idx is not None
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


class _Idx:
    """One version 2 pack index, kept compact: the ids end to end (20 bytes each, in id order),
    the CRC-32s and the offsets in arrays (a compaction of ~200 packs at 100,000 photos held every
    object as a tuple of Python objects: +40 MB at the end of a first import, bench/README.md)."""

    def __init__(self, idx: Path):
        data = idx.read_bytes()
        if data[:4] != b"\xfftOc" or struct.unpack(">I", data[4:8])[0] != 2:
            raise ValueError(f"{idx}: not a version 2 pack index")
        count = self.count = struct.unpack(">I", data[8 + 255 * 4 : 8 + 256 * 4])[0]
        pos = 8 + 256 * 4
        self.oids = data[pos : pos + 20 * count]
        pos += 20 * count
        self.crcs = array("I", data[pos : pos + 4 * count])
        pos += 4 * count
        small = array("I", data[pos : pos + 4 * count])
        pos += 4 * count
        large_count = (len(data) - 40 - pos) // 8
        large = array("Q", data[pos : pos + 8 * large_count])
        if sys.byteorder == "little":
            for a in (self.crcs, small, large):
                a.byteswap()
        self.offsets = array("Q", (large[off & 0x7FFFFFFF] if off & 0x80000000 else off for off in small))

    def oid(self, i: int) -> bytes:
        return self.oids[20 * i : 20 * i + 20]


def _by_id(idxs: list[_Idx]) -> Iterator[tuple[bytes, int, int]]:
    """(oid, pack number, position) of every object of the packs, in id order; an object in
    several packs comes once for each, the first pack's first."""
    def each(n: int, ix: _Idx) -> Iterator[tuple[bytes, int, int]]:
        return ((ix.oid(i), n, i) for i in range(ix.count))

    return heapq.merge(*(each(n, ix) for n, ix in enumerate(idxs)))


#: positions sorted at a time by _by_offset (~3 MB of Python objects while a chunk is sorted)
SORT_CHUNK = 1 << 16


def _by_offset(offsets: array) -> tuple[Iterator[int], int]:
    """The positions ``0..n-1`` in the order of their ``offsets`` (a pack's records in file order),
    as keys ``offset << bits | position``, with ``bits``: chunks sorted one at a time into arrays,
    then merged as they are read.  (``sorted(range(n), key=...)`` held ~75 bytes of Python objects a
    record: 40 MB of a compaction of 540,000 objects; this holds 8.)"""
    n = len(offsets)
    bits = max(1, (n - 1).bit_length())
    wide = max(offsets, default=0).bit_length() + bits > 64  # a pack of over 2**(64 - bits) bytes
    chunks: list = []
    for lo in range(0, n, SORT_CHUNK):
        part = sorted((offsets[i] << bits) | i for i in range(lo, min(n, lo + SORT_CHUNK)))
        chunks.append(part if wide else array("Q", part))
    return heapq.merge(*chunks), bits


class _HashedFile:
    """A file written through SHA-1 (a pack index ends with the SHA-1 of what comes before)."""

    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha1()

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.f.write(data)


def _write_idx(path: Path, idxs: list[_Idx], keep: list[bytearray], moved: list[array], pack_sha: bytes) -> None:
    """The version 2 index of the merged pack, written to ``path`` as it is made (no copy of it in
    memory): the kept objects in id order, their CRC-32s, and their offsets in the new pack."""
    counts = [0] * 256
    for n, ix in enumerate(idxs):
        kept = keep[n]
        for i in range(ix.count):
            if kept[i]:
                counts[ix.oids[20 * i]] += 1
    crcs, offsets = array("I"), array("Q")
    with open(path, "wb") as raw:
        out = _HashedFile(raw)
        out.write(_idx_head(counts))
        for oid, n, i in _by_id(idxs):
            if keep[n][i]:
                out.write(oid)
                crcs.append(idxs[n].crcs[i])
                offsets.append(moved[n][i])
        assert len(crcs) == sum(counts)
        for table in _idx_tables(crcs, offsets, mine=True):
            out.write(table)
        del crcs, offsets
        out.write(pack_sha)
        raw.write(out.sha.digest())
        raw.flush()
        os.fsync(raw.fileno())


def _merge(packs: list[Path], pack_dir: Path) -> str:
    """One pack holding every object of ``packs`` once (records copied, each pack read in
    order with buffered reads: memory holds compact arrays of the ids, CRCs and offsets, not
    the packs, nor a Python object per object; its index is written as it is made)."""
    header_placeholder = b"PACK" + struct.pack(">II", 2, 0)
    idxs = [_Idx(p.with_suffix(".idx")) for p in packs]
    # which copy of each object is kept: the first pack's (decided in id order, where copies meet)
    keep = [bytearray(ix.count) for ix in idxs]
    last = None
    for oid, n, i in _by_id(idxs):
        if oid != last:
            keep[n][i] = 1
            last = oid
    moved = [array("Q", bytes(8 * ix.count)) for ix in idxs]  # each kept object's offset in the new pack
    tmp = pack_dir / f"tmp_merge_{os.getpid()}.pack"
    tmp_idx = pack_dir / f"tmp_merge_{os.getpid()}.idx"
    count = 0
    try:
        with open(tmp, "wb") as out:
            out.write(header_placeholder)
            offset = len(header_placeholder)
            for n, pack in enumerate(packs):
                ix, size = idxs[n], pack.stat().st_size
                order, bits = _by_offset(ix.offsets)
                mask = (1 << bits) - 1
                with open(pack, "rb") as f:
                    pos = 0
                    following = next(order, None)
                    while following is not None:
                        key, following = following, next(order, None)
                        i = key & mask
                        if not keep[n][i]:
                            continue
                        start = key >> bits
                        end = following >> bits if following is not None else size - 20
                        if pos != start:
                            f.seek(start)
                        record = f.read(end - start)
                        pos = end
                        if zlib.crc32(record) != ix.crcs[i]:
                            raise ValueError(f"{pack}: object {ix.oid(i).hex()} fails its CRC")
                        out.write(record)
                        moved[n][i] = offset
                        offset += len(record)
                        count += 1
                del order
        # the object count goes in the header, which the pack's checksum covers
        header = b"PACK" + struct.pack(">II", 2, count)
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
        _write_idx(tmp_idx, idxs, keep, moved, pack_sha)
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp_idx.unlink(missing_ok=True)
        raise
    return _install(header, None, None, pack_sha, pack_dir, written=tmp, written_idx=tmp_idx)


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
    # a merge or a pack write killed midway left its temp files (tmp_merge_*, tmp_pack-*: git's own
    # are tmp_pack_*); the caller holds the library's lock, so no photosync writes one now
    for pattern in ("tmp_merge_*", "tmp_pack-*"):
        for left in pack_dir.glob(pattern) if pack_dir.is_dir() else ():
            left.unlink(missing_ok=True)
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
