"""Writing a commit's objects as one git pack file, and compacting packs.

A first discover of 10,000 photos creates 10,000 blobs; written as loose
objects that is 10,000 files, and libgit2's PackBuilder spends most of its
time searching for deltas.  So a large commit's objects are written here as
one pack without deltas (format: git's Documentation/gitformat-pack.txt, pack
version 2 and index version 2), fsynced before any ref points at them.  When
packs pile up, :func:`compact` lets libgit2's PackBuilder rewrite the small
ones as one delta-compressed pack (photo records are alike: deltas make them
small) and only then removes the packs it replaced, like ``git gc``.
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


def _fsync_path(path: Path) -> None:
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
    pack_sha = sha.digest()
    entries.sort()
    counts = [0] * 256
    for oid, _, _ in entries:
        counts[oid[0]] += 1
    fanout, total = [], 0
    for c in counts:
        total += c
        fanout.append(total)
    small, large = [], []
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
    tmp_pack = pack_dir / f"tmp_{name}.pack"
    tmp_idx = pack_dir / f"tmp_{name}.idx"
    with open(tmp_pack, "wb") as f:
        f.write(header)
        for record in records:
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
    _fsync_path(pack_dir)
    return name


def pack_files(pack_dir: Path) -> list[Path]:
    """The .pack files that have an index (complete packs), smallest first."""
    if not pack_dir.is_dir():
        return []
    packs = [p for p in pack_dir.glob("pack-*.pack") if p.with_suffix(".idx").exists()]
    return sorted(packs, key=lambda p: p.stat().st_size)


def _idx_oids(idx: Path) -> list[bytes]:
    data = idx.read_bytes()
    if data[:4] != b"\xfftOc" or struct.unpack(">I", data[4:8])[0] != 2:
        raise ValueError(f"{idx}: not a version 2 pack index")
    count = struct.unpack(">I", data[8 + 255 * 4 : 8 + 256 * 4])[0]
    start = 8 + 256 * 4
    return [data[start + 20 * i : start + 20 * (i + 1)] for i in range(count)]


def compact(repo, pack_dir: Path, max_packs: int = MAX_PACKS) -> bool:
    """When there are more than ``max_packs`` packs, rewrite all but the largest
    as one delta-compressed pack (every object they hold is kept), then remove
    the packs it replaced.  Returns True when it compacted."""
    import pygit2

    packs = pack_files(pack_dir)
    if len(packs) <= max_packs:
        return False
    victims = [p for p in packs[:-1] if not p.with_suffix(".keep").exists()]
    if len(victims) < 2:
        return False
    builder = pygit2.PackBuilder(repo)
    seen: set[bytes] = set()
    for pack in victims:
        for raw in _idx_oids(pack.with_suffix(".idx")):
            if raw not in seen:
                seen.add(raw)
                builder.add(pygit2.Oid(raw=raw))
    builder.write(str(pack_dir))
    _fsync_path(pack_dir)
    written = {p.name for p in pack_files(pack_dir)} - {p.name for p in packs}
    if not written:
        return False
    for pack in victims:
        for suffix in (".idx", ".pack", ".rev", ".keep"):
            try:
                pack.with_suffix(suffix).unlink()
            except FileNotFoundError:
                pass
    _fsync_path(pack_dir)
    return True
