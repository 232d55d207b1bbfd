"""How long `resolve --auto-resolve all` takes as the library grows, for two
checkouts of photosync on the same photos, one after the other in one run
(issue 10: resolve did not scale).

    python bench/resolve_scale.py generate DIR N --kind distinct|small|mixed|lookalike [--seed S]
    python bench/resolve_scale.py ab OLD NEW DIR WORK [--limit SECONDS] [--base LIBRARY]

Kinds of photos:

* ``distinct``: N different small pictures (96x72, tests/variant_corpus.scene:
  a graded sky and random shapes), EXIF date and camera, one folder per 1,000;
* ``small``: bench/generate.py --small (photosync.sample.generate_corpus at
  96x72): distinct photos drawn on 8 shared backgrounds, so most of them look
  alike at 16x16 (thousands share every lookup key);
* ``mixed``: tests/variant_corpus.generate (copies, edits, bursts, look-alikes)
  with N photos, in four folders;
* ``lookalike``: tests/variant_corpus.generate_lookalikes with N photos.

``ab`` builds one library (init, a service per folder of DIR when DIR holds the
variant corpora's four folders, else one, then discover with NEW), copies it for
each checkout, brings each copy's index up to date (`status`, not timed: the
index layouts differ), then times `resolve --auto-resolve all` of OLD and of NEW
under /usr/bin/time (peak RSS).  With ``--limit`` a run is stopped after so
many seconds and the photos it resolved by then (from its commit messages) give
its rate.  For the variant corpora it also reports precision and recall
(tests/variant_corpus.evaluate) of both.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

from checkout import photosync_command  # noqa: E402
from variant_corpus import FOLDERS, evaluate  # noqa: E402



def generate(out: Path, n: int, kind: str, seed: int) -> None:
    if kind == "distinct":
        from variant_corpus import CAMERAS, exif_bytes, jpeg, scene

        rng = random.Random(seed)
        start = datetime(2000, 1, 1)
        for i in range(n):
            folder = out / f"{i // 1000:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            im, _, _ = scene(rng, (96, 72))
            taken = start + timedelta(seconds=i * 9000 + rng.randrange(9000))
            (folder / f"IMG_{i:06d}.jpg").write_bytes(jpeg(im, 85, exif_bytes(taken, rng.choice(CAMERAS), None)))
    elif kind == "small":
        from photosync.sample import generate_corpus

        generate_corpus(out, n, seed=seed, size=(96, 72), noise=8)
    elif kind == "mixed":
        from variant_corpus import generate as gen

        gen(out, n, seed)
    else:
        from variant_corpus import generate_lookalikes

        generate_lookalikes(out, n, seed)
    files = sum(1 for p in out.rglob("*") if p.is_file() and p.name != "labels.json")
    print(f"{files} files of {n} {kind} photos in {out}")


def ps(src: Path, *args: str) -> list[str]:
    return [*photosync_command(src), *args]


def timed(cmd: list[str], limit: float | None) -> dict:
    """Wall seconds, CPU seconds (user + system), peak RSS in MB, whether it
    finished, and its output, of a command."""
    t = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "@@%M %U %S", *cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit)
        finished = True
    except subprocess.TimeoutExpired:
        import os
        import signal

        os.killpg(proc.pid, signal.SIGKILL)  # the run and its own children, by their group id
        out, err = proc.communicate()
        finished = False
    elapsed = time.perf_counter() - t
    if finished and proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    stats = re.findall(r"@@(\d+) ([\d.]+) ([\d.]+)", err or "")
    peak, user, system = stats[-1] if stats else (None, None, None)
    return {"seconds": round(elapsed, 2), "cpu_seconds": round(float(user) + float(system), 2) if user else None,
            "peak_mb": int(peak) // 1024 if peak else None, "finished": finished, "out": out or ""}


def resolved_by_commits(lib: Path) -> int:
    """Photos a (stopped) resolve committed as resolved, from its commit messages (subject or body)."""
    log = subprocess.run(["git", "-C", str(lib), "log", "--format=%B", "--grep=^resolve:"], capture_output=True,
                         text=True).stdout
    return sum(int(m) for m in re.findall(r"^(?:resolve: )?(\d+) photos? resolved", log, re.M))


def ab(old: Path, new: Path, data: Path, work: Path, limit: float | None, base: Path | None = None) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out: dict = {"data": str(data)}
    if base is None:  # a library discovered by NEW; with --base, one discovered before (and left as it is)
        base = work / "base"
        subprocess.run(ps(new, "init", str(base)), check=True, stdout=subprocess.DEVNULL)
        folders = [f for f in FOLDERS if (data / f).is_dir()] if (data / "labels.json").is_file() else []
        for f in folders or ["."]:
            name = f if f != "." else "photos"
            subprocess.run(ps(new, "service", "add", name, "--type", "local", "--path", str((data / f).resolve()),
                              "--library", str(base)), check=True, stdout=subprocess.DEVNULL)
        t = time.perf_counter()
        subprocess.run(ps(new, "discover", "--quiet", "--library", str(base)), stdout=subprocess.DEVNULL)
        out["discover_seconds"] = round(time.perf_counter() - t, 1)
    photos = len(list((base / "photos").rglob("*.json")))
    out["photos"] = photos
    for name, src in (("old", old), ("new", new)):
        lib = work / name
        shutil.copytree(base, lib, symlinks=True, ignore=shutil.ignore_patterns("index.sqlite*"))
        subprocess.run(ps(src, "status", "--library", str(lib)), stdout=subprocess.DEVNULL, check=True)
        row = timed(ps(src, "resolve", "--auto-resolve", "all", "--quiet", "--library", str(lib)), limit)
        out_text = row.pop("out")
        seconds = row["seconds"]
        if row["finished"]:
            row["ms_per_photo"] = round(1000 * seconds / max(1, photos), 2)
            row["cpu_ms_per_photo"] = round(1000 * row["cpu_seconds"] / max(1, photos), 2) if row["cpu_seconds"] else None
            crowded = re.search(r"(\d+) photos? looks? like more than", out_text)
            row["crowded"] = int(crowded.group(1)) if crowded else 0
        else:
            done = resolved_by_commits(lib)
            row["resolved_when_stopped"] = done
            row["ms_per_photo"] = round(1000 * seconds / done, 1) if done else None
        if row["finished"] and (data / "labels.json").is_file():
            found = evaluate(data, lib)
            row["quality"] = {k: found[k] for k in ("files", "records", "merge_recall", "merge_precision",
                                                     "wrong_merges", "link_recall", "false_links", "auto_share")}
        out[name] = row
        print(json.dumps({name: row}), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("dir", type=Path)
    g.add_argument("n", type=int)
    g.add_argument("--kind", choices=("distinct", "small", "mixed", "lookalike"), required=True)
    g.add_argument("--seed", type=int, default=1)
    a = sub.add_parser("ab")
    a.add_argument("old", type=Path)
    a.add_argument("new", type=Path)
    a.add_argument("dir", type=Path)
    a.add_argument("work", type=Path)
    a.add_argument("--limit", type=float, help="stop a resolve after this many seconds")
    a.add_argument("--base", type=Path, help="a library already discovered from DIR (copied, not changed)")
    args = ap.parse_args()
    if args.cmd == "generate":
        generate(args.dir, args.n, args.kind, args.seed)
    else:
        print(json.dumps(ab(args.old.resolve(), args.new.resolve(), args.dir, args.work, args.limit, args.base),
                         indent=1))


if __name__ == "__main__":
    main()
