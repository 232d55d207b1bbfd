"""photosync replicate to an S3 store against rclone copy and a bare boto3 loop,
on the same photos and the same moto server (S3 over HTTP on loopback).

    python bench/s3bench.py DATA WORK [--transfers 8]

DATA is a folder made by bench/generate.py.  Every tool runs as its own
process under /usr/bin/time (peak memory = that process's maximum RSS).  The
no-change reruns are recorded by moto's request recorder, so the requests they
make are counted on the server side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
PHOTOSYNC = [sys.executable, "-m", "photosync"]

BOTO_LOOP = """
import os, sys
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore.config import Config
url, bucket, data, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = boto3.client("s3", endpoint_url=url, region_name="us-east-1", config=Config(max_pool_connections=n))
files = [os.path.join(d, f) for d, _, fs in os.walk(data) for f in fs]
def put(path):
    with open(path, "rb") as f:
        c.put_object(Bucket=bucket, Key="boto/" + os.path.relpath(path, data), Body=f.read())
with ThreadPoolExecutor(n) as pool:
    list(pool.map(put, files))
"""


def timed(cmd, env=None, cwd=None, drop=()):
    full = {k: v for k, v in dict(os.environ, **(env or {})).items() if k not in drop}
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "@@%M", *cmd], env=full, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return elapsed, int(p.stderr.rsplit("@@", 1)[1].split()[0]) // 1024


def recorded(url, fn):
    """Run fn() with moto's recorder on: (fn's result, requests the server saw)."""
    import requests

    requests.post(url + "/moto-api/recorder/reset-recording")
    requests.post(url + "/moto-api/recorder/start-recording")
    out = fn()
    requests.post(url + "/moto-api/recorder/stop-recording")
    text = requests.get(url + "/moto-api/recorder/download-recording").text
    return out, sum(1 for line in text.splitlines() if line.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--transfers", type=int, default=8)
    args = ap.parse_args()
    data, work, n = args.data.resolve(), args.work.resolve(), args.transfers
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    os.environ["MOTO_RECORDER_FILEPATH"] = str(work / "moto-recording")
    from fakes.s3 import start_moto

    server, url = start_moto()
    import boto3

    keys = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true", "PHOTOSYNC_CONFIG_DIR": str(work / "cfg")}
    os.environ.update(keys)
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="bench")
    files = [p for p in data.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    for p in files:  # warm the page cache
        p.read_bytes()

    # photosync: a library whose only store is the s3 one
    lib = work / "library"
    subprocess.run([*PHOTOSYNC, "init", str(lib)], check=True, capture_output=True)
    subprocess.run([*PHOTOSYNC, "-L", str(lib), "service", "add", "bench", "--type", "local", "--path", str(data)],
                   check=True, capture_output=True)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["blob_storage"] = {"primary": "offsite", "replicas": [], "min_copies": 1, "stores": {
        "offsite": {"type": "s3", "bucket": "bench", "prefix": "photosync", "endpoint_url": url,
                    "region": "us-east-1"}}}
    prefs["sync_preferences"]["max_parallel_uploads"] = n
    prefs_path.write_text(json.dumps(prefs, indent=2))
    subprocess.run([*PHOTOSYNC, "-q", "-L", str(lib), "discover"], check=True, capture_output=True)
    subprocess.run([*PHOTOSYNC, "-q", "-L", str(lib), "resolve", "--auto-resolve", "simple"], check=True,
                   capture_output=True)
    ps_first = timed([*PHOTOSYNC, "-q", "-L", str(lib), "replicate", "--execute"])
    ps_rerun, ps_requests = recorded(url, lambda: timed([*PHOTOSYNC, "-q", "-L", str(lib), "replicate", "--execute"]))

    rclone_env = {"RCLONE_CONFIG_MOTO_TYPE": "s3", "RCLONE_CONFIG_MOTO_PROVIDER": "Other",
                  "RCLONE_CONFIG_MOTO_ENDPOINT": url, "RCLONE_CONFIG_MOTO_ACCESS_KEY_ID": "bench",
                  "RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY": "bench", "RCLONE_CONFIG_MOTO_REGION": "us-east-1"}
    rclone = ["rclone", "copy", "--transfers", str(n), str(data), "moto:bench/rclone"]
    # rclone's S3 backend refuses AWS_CA_BUNDLE with a plain-HTTP endpoint (this machine sets it)
    rc_first = timed(rclone, env=rclone_env, drop=("AWS_CA_BUNDLE",))
    rc_rerun, rc_requests = recorded(url, lambda: timed(rclone, env=rclone_env, drop=("AWS_CA_BUNDLE",)))

    boto_first = timed([sys.executable, "-c", BOTO_LOOP, url, "bench", str(data), str(n)])
    server.stop()

    print(f"\n{len(files)} files, {size / 1e6:.0f} MB, {n} transfers, moto {url}\n")
    print("| run | seconds | peak MB | S3 requests |")
    print("|---|---:|---:|---:|")
    print(f"| photosync replicate --execute | {ps_first[0]:.2f} | {ps_first[1]} | |")
    print(f"| photosync replicate --execute, no change | {ps_rerun[0]:.2f} | {ps_rerun[1]} | {ps_requests} |")
    print(f"| rclone copy --transfers {n} | {rc_first[0]:.2f} | {rc_first[1]} | |")
    print(f"| rclone copy --transfers {n}, no change | {rc_rerun[0]:.2f} | {rc_rerun[1]} | {rc_requests} |")
    print(f"| boto3 put_object loop, {n} threads | {boto_first[0]:.2f} | {boto_first[1]} | |")
    print()
    print(f"- first run, photosync / rclone: {ps_first[0] / rc_first[0]:.2f}x (target <= 1.0)")
    print(f"- first run, photosync / bare boto3 loop: {ps_first[0] / boto_first[0]:.2f}x")
    print(f"- no-change rerun, photosync / rclone: {ps_rerun[0] / rc_rerun[0]:.2f}x; "
          f"requests {ps_requests} vs {rc_requests}")


if __name__ == "__main__":
    main()
