"""Library API calls for uploading N photos to a google-photos service, against the fake Google.

    python bench/googlebench.py WORK [--photos 1000]

Starts tests/fakes/google in this process, makes a folder of N small JPEGs (each its own capture
time), then runs the real ``photosync`` (init, service add, auth --no-browser, discover, resolve,
replicate --execute) as its own processes.  The fake counts every request by endpoint; the target is
at most N upload requests + N/50 batchCreate calls + a constant.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--photos", type=int, default=1000)
    args = ap.parse_args()

    import requests

    from fakes.google import FakeGoogle
    from photosync.testing.helpers import photo_bytes

    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "PHOTOSYNC_CONFIG_DIR": str(work / "config"), "PHOTOSYNC_CACHE_DIR": str(work / "cache"),
           "OAUTHLIB_INSECURE_TRANSPORT": "1"}
    env.pop("PHOTOSYNC_LIBRARY", None)
    ps = [sys.executable, "-m", "photosync"]
    camera = work / "camera"
    camera.mkdir()
    for i in range(args.photos):
        (camera / f"IMG_{i:05d}.jpg").write_bytes(photo_bytes(i, datetime(2015, 1, 1) + timedelta(hours=i)))
    lib = work / "lib"

    def run(*a: str) -> float:
        t = time.perf_counter()
        p = subprocess.run([*ps, "-q", "-L", str(lib), *a], env=env, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"photosync {' '.join(a)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
        return time.perf_counter() - t

    with FakeGoogle() as fake:
        subprocess.run([*ps, "init", str(lib)], env=env, check=True, capture_output=True)
        secrets = work / "client_secret.json"
        secrets.write_text(json.dumps(fake.client_config()))
        run("service", "add", "cam", "--type", "local", "--path", str(camera))
        add = ["service", "add", "gphotos", "--type", "google-photos", "--client-secrets", str(secrets),
               "--upload-from", "cam", "--requests-per-hour", "1000000"]
        for k in ("oauth_auth", "oauth_token", "picker", "library", "uploads"):
            add += ["--endpoint", f"{k}={fake.endpoints[k]}"]
        run(*add)
        proc = subprocess.Popen([*ps, "-L", str(lib), "auth", "gphotos", "--no-browser"], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while True:
            line = proc.stderr.readline()
            if not line:
                raise SystemExit("auth printed no address")
            if "/o/oauth2/auth?" in line:
                break
        answer = requests.get(line.strip(), allow_redirects=False, timeout=10)
        proc.communicate(answer.headers["Location"] + "\n", timeout=60)
        run("discover")
        run("resolve")
        fake.reset_counters()
        seconds = run("replicate", "--execute")
        calls = dict(fake.calls)
        library = {k: v for k, v in calls.items() if k.startswith("library.")}
        made = len(fake.app_items())
    n = args.photos
    total = sum(library.values())
    print(json.dumps({"photos": n, "made": made, "replicate_seconds": round(seconds, 1), "library_calls": library,
                      "library_total": total, "target": f"<= {n} uploads + {-(-n // 50)} batchCreate + a constant",
                      "other": {k: v for k, v in calls.items() if not k.startswith("library.")}}, indent=2))


if __name__ == "__main__":
    main()
