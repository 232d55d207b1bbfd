"""Discover reading files that change, that cannot be parsed, and that are large."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from photosync.sample import make_photo


def records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]


def new_library(tmp_path: Path, cli, folder: Path, name: str = "pics") -> Path:
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", name, "--type", "local", "--path", str(folder), check=0)
    return lib


WRITER = r'''
import os, sys, time
path, a, b, stop = sys.argv[1:5]
versions = [open(a, "rb").read(), open(b, "rb").read()]
open(stop + ".running", "w").close()
i = 0
while not os.path.exists(stop):
    data = versions[i % 2]
    with open(path, "r+b") as f:  # rewritten in place, as an editor saving over its file does
        for start in range(0, len(data), 1 << 20):
            f.write(data[start:start + (1 << 20)])
    i += 1
'''


def test_a_file_rewritten_while_it_is_read_is_never_recorded_with_a_torn_hash(tmp_path, cli):
    pictures = tmp_path / "pics"
    make_photo(pictures / "small.jpg", seed=1, taken=datetime(2020, 1, 1))
    base = make_photo(tmp_path / "base.jpg", seed=2, taken=datetime(2020, 1, 2)).read_bytes()
    # two versions of one 40 MB photo (a JPEG with data after its end, as motion photos have)
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(base + os.urandom(40 << 20))
    b.write_bytes(base + os.urandom(40 << 20))
    good = {"sha256:" + hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)}
    big = pictures / "big.jpg"
    big.write_bytes(a.read_bytes())
    lib = new_library(tmp_path, cli, pictures)

    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(big), str(a), str(b), str(stop)])
    try:
        while not Path(str(stop) + ".running").exists():
            time.sleep(0.01)
        for _ in range(3):
            r = cli("--library", str(lib), "discover", "--full-scan")
            for rec in records(lib):
                for inst in rec["instances"]["pics"]:
                    if inst["id"] == "big.jpg":
                        assert inst["content_hash"] in good, "recorded with the hash of neither version"
            if "big.jpg" not in {i["id"] for rec in records(lib) for i in rec["instances"]["pics"]}:
                assert "big.jpg: changed while it was being read; it will be read next run" in r.err
    finally:
        stop.touch()
        writer.wait(timeout=60)

    r = cli("--library", str(lib), "discover")
    assert r.code == 0, r.err
    held = [(rec["content_hash"], i) for rec in records(lib) for i in rec["instances"]["pics"] if i["id"] == "big.jpg"]
    assert all(h in good for h, _ in held) and len(held) <= 2
    present = [h for h, i in held if not i.get("missing_since")]
    assert present == ["sha256:" + hashlib.sha256(big.read_bytes()).hexdigest()]


def jpeg2000_tiff(make: bytes = b"Nikon\x00") -> bytes:
    """A TIFF whose pixels are JPEG 2000 (compression 34712, as archival scanners
    write): its structure is intact, and Pillow cannot decode it."""
    import struct

    w, h = 64, 48
    pixels = bytes(200)  # the codestream is not looked at: Pillow gives up on the compression first
    entries = [(256, 3, 1, w), (257, 3, 1, h), (258, 3, 1, 8), (259, 3, 1, 34712), (262, 3, 1, 1),
               (271, 2, len(make), None), (273, 4, 1, None), (277, 3, 1, 1), (278, 3, 1, h),
               (279, 4, 1, len(pixels))]
    data_start = 8 + 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, len(entries)))
    for tag, typ, n, val in entries:
        if tag == 271:
            val = data_start
        elif tag == 273:
            val = data_start + len(make)
        out += struct.pack("<HHIHH", tag, typ, n, val, 0) if typ == 3 else struct.pack("<HHII", tag, typ, n, val)
    return bytes(out + struct.pack("<I", 0) + make + pixels)


def test_a_photo_photosync_cannot_decode_is_recorded_and_backed_up_with_one_warning(tmp_path, cli):
    pictures = tmp_path / "pics"
    pictures.mkdir()
    scan = pictures / "scan 1998.tif"
    scan.write_bytes(jpeg2000_tiff())
    lib = new_library(tmp_path, cli, pictures)
    r = cli("--library", str(lib), "discover")
    assert r.code == 1, "a warning was given"
    assert r.err.count("scan 1998.tif: its picture cannot be decoded") == 1
    assert "1 new photo" in r.out and "unreadable" not in r.out
    (rec,) = records(lib)
    assert rec["metadata"]["camera_info"]["make"] == "Nikon" and rec["metadata"]["format"] == "tiff"
    r = cli("--library", str(lib), "discover", check=0)
    assert "cannot be decoded" not in r.err, "said once"
    cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    cli("--library", str(lib), "replicate", "--execute", check=0)
    (rec,) = records(lib)
    blob = lib / "blobs" / rec["blobs"]["local"]["locator"]
    assert blob.read_bytes() == scan.read_bytes()


def test_verdicts_cached_by_an_older_photosync_are_looked_at_again(tmp_path, cli):
    """A file an older photosync could not read is read again by a newer one."""
    import sqlite3

    pictures = tmp_path / "pics"
    make_photo(pictures / "a.jpg", seed=3, taken=datetime(2019, 5, 1))
    scan = pictures / "scan.tif"
    scan.write_bytes(jpeg2000_tiff())
    lib = new_library(tmp_path, cli, pictures)
    cli("--library", str(lib), "status", check=0)  # the index, before any discover
    # the scan cache as an older photosync left it: its own layout, the file cached as unreadable
    db = sqlite3.connect(lib / ".git/photosync/index.sqlite")
    db.executescript("""
        DROP TABLE scan_cache;
        CREATE TABLE scan_cache(service TEXT NOT NULL, item_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
            content_hash TEXT, error TEXT, content_key TEXT, PRIMARY KEY(service, item_id));
    """)
    st = scan.stat()
    db.execute("INSERT INTO scan_cache VALUES('pics', 'scan.tif', ?, NULL, "
               "'corrupt TIFF: the image cannot be read', NULL)", (f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}",))
    db.commit()
    db.close()
    r = cli("--library", str(lib), "discover")
    assert "corrupt TIFF" not in r.err and "scan.tif: its picture cannot be decoded" in r.err
    assert any(i["id"] == "scan.tif" for rec in records(lib) for i in rec["instances"]["pics"])
