"""What discover's reading costs, per photo and per process (issue 13).

    python bench/signature.py micro DATA [--src TREE] [--files N]
        # CPU per file of one process: read + SHA-256, the metadata probe alone, the
        # visual signature (a decode of the picture at DCT scale, or the embedded
        # thumbnail), the whole ingest
    python bench/signature.py split DATA WORK [--src TREE]
        # a first `discover` of DATA in a new library, run in this process: wall time,
        # CPU of the main process (assembling records) and of its worker processes

``--src`` runs another checkout's photosync (the same script, its code).  CPU time
(not wall time) per file: this shared machine's load moves wall times by +-30 %.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def _use(src: Path | None) -> None:
    if src is not None:
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        sys.path.insert(0, str(src.resolve()))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import photosync

    print(f"photosync from {Path(photosync.__file__).parent}", file=sys.stderr)


def _files(data: Path, n: int) -> list[Path]:
    found = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".heic"))
    return found[:n]


def micro(data: Path, n: int) -> None:
    import hashlib

    from photosync.media import probe as probe_mod
    from photosync.media.formats import sniff
    from photosync.media.ingest import ingest

    files = _files(data, n)
    blobs = [p.read_bytes() for p in files]
    fmts = {id(b): sniff(b[:4096], p.name) for b, p in zip(blobs, files)}  # each file's own format

    def cpu(label: str, fn) -> None:
        fn(blobs[0])
        start = time.process_time()
        for b in blobs:
            fn(b)
        per = (time.process_time() - start) / len(blobs) * 1000
        print(f"| {label} | {per:.3f} |")

    from photosync.media.visual import read_signature

    kinds = ", ".join(sorted({f.name.upper() for f in fmts.values() if f is not None}))
    print(f"\n{len(files)} {kinds} files from {data}, mean {sum(map(len, blobs)) / len(blobs) / 1000:.0f} kB\n")
    print("| step | CPU ms a file |")
    print("|---|---:|")
    cpu("SHA-256 of the bytes", lambda b: hashlib.sha256(b).digest())
    cpu("metadata probe (structure, EXIF, XMP), no signature", lambda b: probe_mod.probe_bytes(b, fmts[id(b)]))
    cpu("signature: decode of the picture (a JPEG at DCT scale)", lambda b: read_signature(b, 0))
    cpu("probe with signature (as discover does)", lambda b: probe_mod.probe(b, fmts[id(b)]))
    cpu("probe with signature, never from a thumbnail",
        lambda b: probe_mod.probe_image(b, fmts[id(b)], thumbnails=False))
    if hasattr(probe_mod, "THUMBNAIL_SIGNATURES") and not probe_mod.THUMBNAIL_SIGNATURES:
        probe_mod.THUMBNAIL_SIGNATURES = True  # as PHOTOSYNC_THUMBNAIL_SIGNATURES=1 sets it
        cpu("probe with signature, PHOTOSYNC_THUMBNAIL_SIGNATURES=1", lambda b: probe_mod.probe(b, fmts[id(b)]))
        probe_mod.THUMBNAIL_SIGNATURES = False
    start = time.process_time()
    for p in files:
        ingest(p)
    print(f"| ingest from the file (read, hash, probe, signature) | "
          f"{(time.process_time() - start) / len(files) * 1000:.3f} |")


def split(data: Path, work: Path) -> None:
    import shutil

    from photosync.library.library import Library
    from photosync.phases.discover import discover

    lib_dir = work / "library"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    os.environ["PHOTOSYNC_CONFIG_DIR"] = str(work / "cfg")
    Library.init(lib_dir)
    with Library.open(lib_dir) as lib:
        from photosync.library.layout import SERVICES_FILE

        services = lib.raw_services()
        services["bench"] = {"type": "local", "enabled": True, "path": str(data)}
        lib.stage_config(SERVICES_FILE, services)
        lib.commit("service: add bench (local)")
    for p in data.rglob("*"):  # a warm page cache
        if p.is_file():
            p.read_bytes()
    me0, kids0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    with Library.open(lib_dir) as lib:
        result = discover(lib)
    wall = time.perf_counter() - t
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    main_cpu = me.ru_utime + me.ru_stime - me0.ru_utime - me0.ru_stime
    kids_cpu = kids.ru_utime + kids.ru_stime - kids0.ru_utime - kids0.ru_stime
    s = result.services[0]
    print(f"\ndiscover of {s.read} files ({s.new} new), {os.cpu_count()} cores\n")
    print("| wall s | main process CPU s | worker processes CPU s | CPU / wall |")
    print("|---:|---:|---:|---:|")
    print(f"| {wall:.2f} | {main_cpu:.2f} | {kids_cpu:.2f} | {(main_cpu + kids_cpu) / wall:.2f} |")
    print(f"\nper file: main {main_cpu / max(1, s.read) * 1000:.2f} ms, workers {kids_cpu / max(1, s.read) * 1000:.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("micro")
    m.add_argument("data", type=Path)
    m.add_argument("--files", type=int, default=500)
    m.add_argument("--src", type=Path)
    s = sub.add_parser("split")
    s.add_argument("data", type=Path)
    s.add_argument("work", type=Path)
    s.add_argument("--src", type=Path)
    args = ap.parse_args()
    if args.src is not None and os.environ.get("_BENCH_SRC") != str(args.src):
        # a fresh interpreter, so that nothing of this checkout's photosync is loaded
        env = dict(os.environ, _BENCH_SRC=str(args.src))
        raise SystemExit(subprocess.run([sys.executable, *sys.argv], env=env).returncode)
    _use(args.src)
    if args.cmd == "micro":
        micro(args.data, args.files)
    else:
        split(args.data, args.work)


if __name__ == "__main__":
    main()
