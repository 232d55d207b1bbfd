"""Messages a person reads: progress in logs, what happens to a removed service's keys, missing
folders, singular and plural."""

from __future__ import annotations

import re

from photosync.sample import generate_corpus


def _library(tmp_path, cli, n=3):
    pics = tmp_path / "pics"
    generate_corpus(pics, n, seed=11, size=(64, 48), noise=4)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    return lib


def test_long_commands_print_plain_progress_lines_through_a_pipe(tmp_path, cli):
    import shutil

    lib = _library(tmp_path, cli)
    first = sorted((tmp_path / "pics").rglob("*.jpg"))[0]
    shutil.copy(first, tmp_path / "pics" / "zz copy.jpg")  # a duplicate: something for resolve to settle
    # every advance may print (no clock in the test); the default prints a last line per task
    r = cli("-L", str(lib), "discover", env={"PHOTOSYNC_PROGRESS_SECONDS": "0"}, check=0)
    assert re.search(r"^Reading pics: 1/4 \(25%\), [0-9.]+ kB of [0-9.]+ kB$", r.err, re.M), r.err
    assert re.search(r"^Reading pics: 4/4 \(100%\), .* done in [0-9.]+ s$", r.err, re.M), r.err
    assert "Scanning pics: 4, done in" in r.err
    r = cli("-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    assert re.search(r"^Resolving: 1/1 \(100%\), done in [0-9.]+ s$", r.err, re.M), r.err
    r = cli("-L", str(lib), "replicate", "--execute", check=0)
    assert "Copying originals: 3/3 (100%)" in r.err
    r = cli("-q", "-L", str(lib), "audit", "--blobs", check=0)
    assert r.err == "", "nothing with --quiet"


def test_service_remove_says_where_the_saved_keys_are(tmp_path, cli):
    import os
    from pathlib import Path

    lib = _library(tmp_path, cli, n=1)
    r = cli("-L", str(lib), "service", "add", "fl", "--type", "flickr", "--api-key", "k", "--api-secret", "s", check=0)
    saved = Path(os.environ["PHOTOSYNC_CONFIG_DIR"]) / "credentials" / "services" / "fl.json"
    assert str(saved) in r.out and saved.exists()
    r = cli("-L", str(lib), "service", "remove", "fl", check=0)
    assert str(saved) in r.out and "--delete-credentials" in r.out
    assert saved.exists(), "kept: another library's service of that name may use it"
    cli("-L", str(lib), "service", "add", "fl", "--type", "flickr", "--api-key", "k", "--api-secret", "s", check=0)
    r = cli("-L", str(lib), "service", "remove", "fl", "--delete-credentials", check=0)
    assert "Deleted" in r.out and not saved.exists()


def test_a_folder_that_is_not_there_is_explained(tmp_path, cli):
    lib = _library(tmp_path, cli, n=1)
    missing = tmp_path / "nas" / "photos"
    r = cli("-L", str(lib), "service", "add", "nas", "--type", "local", "--path", str(missing))
    assert r.code == 2 and "no such folder" in r.err and "mount" in r.err
    r = cli("-L", str(lib), "store", "add", "nas", "--type", "local", "--path", str(missing))
    assert r.code == 2 and "no such folder" in r.err and "mount" in r.err and "mkdir" in r.err


def test_one_is_singular(tmp_path, cli):
    lib = _library(tmp_path, cli, n=1)
    cli("-q", "-L", str(lib), "discover", check=0)
    r = cli("-L", str(lib), "status", check=0)
    assert "1 photo in" in r.out and "1 photos" not in r.out
    assert "1 photo below" in r.out
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    r = cli("-L", str(lib), "audit", "--blobs", check=0)
    assert "blobs: 1 copy of 1 photo checked" in r.out
    r = cli("-L", str(lib), "audit", "--copies", "2")
    assert r.code == 1 and "copies: 1 photo with fewer than 2 verified copies" in r.out
