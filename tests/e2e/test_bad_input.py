"""Bad input: each bad file is named with its reason, the run goes on, nothing
already recorded is lost, and the exit code says something failed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from helpers import git_status

from photosync.sample import make_photo


def build_messy_folder(folder: Path) -> dict[str, str]:
    """Good photos plus every kind of bad input; returns {what: file name}."""
    for i in range(4):
        make_photo(folder / f"good/IMG_2019070{i + 1}_120000.jpg", seed=i, taken=datetime(2019, 7, i + 1, 12))
    (folder / "bad").mkdir()
    (folder / "bad/garbage.jpg").write_bytes(b"not a jpeg, just text pretending" * 20)
    truncated = make_photo(folder / "bad/truncated.jpg", seed=50, taken=datetime(2018, 1, 1))
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    (folder / "bad/empty.jpg").write_bytes(b"")
    odd = os.fsencode(str(folder / "odd")) + b"/caf\xe9-latin1.jpg"
    os.makedirs(os.fsencode(str(folder / "odd")), exist_ok=True)
    with open(odd, "wb") as f:
        f.write(make_photo(folder / "tmp-src.jpg", seed=60, taken=datetime(2017, 5, 5)).read_bytes())
    os.unlink(folder / "tmp-src.jpg")
    make_photo(folder / "odd/line\nbreak.jpg", seed=61, taken=datetime(2016, 6, 6))
    os.symlink("..", folder / "odd/loop")  # a folder link back up the tree
    os.symlink("self.jpg", folder / "odd/self.jpg")  # a link to itself
    os.symlink("nowhere.jpg", folder / "odd/dangling.jpg")
    (folder / "notes.txt").write_text("not a photo, ignored")
    return {
        "garbage": "bad/garbage.jpg",
        "truncated": "bad/truncated.jpg",
        "empty": "bad/empty.jpg",
        "loop": "odd/loop",
        "self": "odd/self.jpg",
        "dangling": "odd/dangling.jpg",
    }


def test_bad_files_are_reported_and_the_rest_recorded(tmp_path, cli):
    folder = tmp_path / "messy"
    bad = build_messy_folder(folder)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "messy", "--type", "local", "--path", str(folder), check=0)
    r = cli("--library", str(lib), "discover")
    assert r.code == 1
    err = r.err
    assert "bad/garbage.jpg: not a readable JPG file" in err
    assert "bad/truncated.jpg: truncated JPEG" in err
    assert "bad/empty.jpg: empty file (0 bytes)" in err
    assert "odd/loop: symlink loop" in err
    assert "odd/self.jpg: symlink loop" in err
    assert "odd/dangling.jpg: broken symlink" in err
    assert "not valid UTF-8" in err and "line break" in err
    assert "line\\nbreak.jpg" in err, "a newline in a name is printed escaped, on one line"
    assert "notes.txt" not in err
    # the good photos and the oddly named ones are all recorded
    recs = [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]
    ids = {i["id"] for r in recs for i in r["instances"]["messy"]}
    assert {f"good/IMG_2019070{i}_120000.jpg" for i in range(1, 5)} <= ids
    assert "odd/line\nbreak.jpg" in ids
    latin = next(i for r in recs for i in r["instances"]["messy"] if "caf" in i["id"])
    assert latin["id"] == "odd/caf\\xe9-latin1.jpg"
    import base64

    assert base64.b64decode(latin["raw_name_b64"]) == b"odd/caf\xe9-latin1.jpg"
    assert len(recs) == 6
    assert git_status(lib) == ""

    # status shows what discover could not read, with the reason
    status = cli("--library", str(lib), "status", "--json", check=0).json
    unreadable = {u["item"]: u["reason"] for u in status["unreadable_files"] if u["service"] == "messy"}
    assert set(unreadable) == {bad["garbage"], bad["truncated"], bad["empty"]}
    assert unreadable[bad["truncated"]].startswith("truncated JPEG")
    assert status["services"]["messy"]["unreadable_files"] == 3
    text = cli("--library", str(lib), "status", check=0).out
    assert "3 source files could not be read" in text and "messy: bad/truncated.jpg: truncated JPEG" in text

    # the rerun reads nothing again but still reports what it could not keep
    r = cli("--library", str(lib), "discover")
    assert r.code == 1
    assert ", 0 read" in r.out
    assert "bad/truncated.jpg: truncated JPEG" in r.err

    # the odd names replicate too (their exact bytes are used to open them)
    cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    r = cli("--library", str(lib), "replicate", "--execute", check=0)
    assert "copied 6 files" in r.out

    # fixing a file clears its error
    make_photo(folder / bad["truncated"], seed=50, taken=datetime(2018, 1, 1))
    r = cli("--library", str(lib), "discover")
    assert "truncated" not in r.err and "1 new photo" in r.out
    status = cli("--library", str(lib), "status", "--json", check=0).json
    assert bad["truncated"] not in {u["item"] for u in status["unreadable_files"]}


def test_missing_source_when_replicating(tmp_path, cli):
    folder = tmp_path / "pics"
    make_photo(folder / "a.jpg", seed=1, taken=datetime(2019, 1, 1))
    make_photo(folder / "b.jpg", seed=2, taken=datetime(2019, 1, 2))
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "pics", "--type", "local", "--path", str(folder), check=0)
    cli("--library", str(lib), "discover", check=0)
    cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    (folder / "a.jpg").unlink()
    r = cli("--library", str(lib), "replicate", "--execute")
    assert r.code == 1
    assert "a.jpg" in r.err and "no readable source" in r.err and "is gone" in r.err
    assert "copied 1 file " in r.out and "1 failed" in r.out
    # a source changed since discover is refused, not stored under the old hash
    make_photo(folder / "a.jpg", seed=3, taken=datetime(2019, 1, 1))
    r = cli("--library", str(lib), "replicate", "--execute")
    assert r.code == 1 and "does not match" in r.err or "not sha256" in r.err or "hash" in r.err


def test_unreadable_file(tmp_path, cli):
    """A file the user may not read.  Root reads everything, so as root the
    command runs without the capabilities that let it (setpriv, util-linux)."""
    folder = tmp_path / "pics"
    make_photo(folder / "ok.jpg", seed=1, taken=datetime(2019, 1, 1))
    secret = make_photo(folder / "secret.jpg", seed=2, taken=datetime(2019, 1, 2))
    os.chmod(secret, 0o000)
    lib = tmp_path / "lib"
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root, this test needs setpriv (util-linux) to drop the read-anything capability")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]

    def run(*args):
        return subprocess.run([*prefix, sys.executable, "-m", "photosync", *args], capture_output=True, text=True)

    assert run("init", str(lib)).returncode == 0
    assert run("--library", str(lib), "service", "add", "pics", "--type", "local", "--path", str(folder)).returncode == 0
    p = run("--library", str(lib), "discover")
    assert p.returncode == 1, p.stderr
    assert "secret.jpg" in p.stderr and "permission denied" in p.stderr
    assert "1 new photo" in p.stdout
    status = json.loads(run("--library", str(lib), "status", "--json").stdout)
    assert [(u["item"], "permission denied" in u["reason"]) for u in status["unreadable_files"]] == [("secret.jpg", True)]
    os.chmod(secret, 0o644)
    p = run("--library", str(lib), "discover")
    assert p.returncode == 0 and "1 new photo" in p.stdout, "an unreadable file is tried again next time"
