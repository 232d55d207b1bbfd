"""Precision and recall of variant detection on the labelled corpus
(tests/variant_corpus.py), and the share of conflicts settled without a person.

    python bench/variants.py generate DIR [--photos N] [--seed S]
    python bench/variants.py evaluate DIR LIBRARY      # after discover + resolve in LIBRARY
    python bench/variants.py run DIR WORK [--photos N] [--seed S] [--service-copies] [--src TREE]
                                 [--corpus mixed|lookalike] [--camera]
        # generate (unless DIR holds a corpus already), init, discover, resolve, evaluate;
        # --src runs photosync from another checkout (corpus and evaluation are this one's)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from checkout import photosync_command  # noqa: E402
from variant_corpus import FOLDERS, SERVICE_COPIES, evaluate, generate, generate_lookalikes  # noqa: E402




def command(src: Path | None) -> list[str]:
    return photosync_command(src)


def run(root: Path, work: Path, photos: int, seed: int, kinds=None, src: Path | None = None,
        corpus: str = "mixed") -> dict:
    gen_start = time.perf_counter()
    if not (root / "labels.json").is_file():  # the same corpus can be sorted by two checkouts
        if corpus == "lookalike":
            generate_lookalikes(root, photos, seed)
        else:
            generate(root, photos, seed, kinds)
    gen = time.perf_counter() - gen_start
    lib = work / "library"
    ps = command(src)

    def call(*args: str) -> float:
        t = time.perf_counter()
        subprocess.run([*ps, *args, "--library", str(lib)], check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t

    subprocess.run([*ps, "init", str(lib)], check=True, stdout=subprocess.DEVNULL)
    for f in FOLDERS:
        call("service", "add", f, "--type", "local", "--path", str(root / f))
    t_discover = call("discover")
    t_resolve = call("resolve", "--auto-resolve", "all")
    result = evaluate(root, lib)
    result["seconds"] = {"generate": round(gen, 1), "discover": round(t_discover, 2), "resolve": round(t_resolve, 2)}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("dir", type=Path)
    g.add_argument("--photos", type=int, default=200)
    g.add_argument("--seed", type=int, default=1)
    e = sub.add_parser("evaluate")
    e.add_argument("dir", type=Path)
    e.add_argument("library", type=Path)
    r = sub.add_parser("run")
    r.add_argument("dir", type=Path)
    r.add_argument("work", type=Path)
    r.add_argument("--photos", type=int, default=200)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--service-copies", action="store_true",
                   help="only the copies services make (duplicates, resized, thumbnails, re-encodes)")
    r.add_argument("--src", type=Path, help="run photosync from this source tree (another checkout)")
    r.add_argument("--camera", action="store_true",
                   help="camera files as cameras write them (EXIF first, an embedded thumbnail); copies and "
                        "edits keep the original's EXIF block (issue 13: signatures from thumbnails)")
    r.add_argument("--corpus", choices=("mixed", "lookalike"), default="mixed",
                   help="mixed: copies, edits, bursts (the default); lookalike: different photos that look "
                        "alike, with dates from file names and file times")
    args = ap.parse_args()
    if args.cmd == "generate":
        labels = generate(args.dir, args.photos, args.seed)
        print(f"{len(labels)} files of {args.photos} photos in {args.dir}")
    elif args.cmd == "evaluate":
        print(json.dumps(evaluate(args.dir, args.library), indent=1))
    else:
        kinds = SERVICE_COPIES if args.service_copies else None
        if args.camera:
            import variant_corpus

            variant_corpus.CAMERA = True
        print(json.dumps(run(args.dir, args.work, args.photos, args.seed, kinds, args.src, args.corpus), indent=1))


if __name__ == "__main__":
    main()
