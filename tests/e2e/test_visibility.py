"""The explicit visibility command: the only way to widen, recorded in git."""

from __future__ import annotations

import json

from helpers import git, git_status
from photosync.sample import generate_corpus


def _library(tmp_path, cli, n=3):
    pics = tmp_path / "pics"
    generate_corpus(pics, n, seed=4, size=(64, 48), noise=4)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-q", "-L", str(lib), "discover", check=0)
    recs = {p: json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")}
    return lib, recs


def test_widening_needs_a_reason_and_is_committed_with_it(tmp_path, cli):
    lib, recs = _library(tmp_path, cli)
    (path, rec), (path2, rec2) = list(recs.items())[:2]
    assert rec["visibility"]["canonical"] == "private"
    refused = cli("-L", str(lib), "visibility", "set", rec["photo_id"], "public")
    assert refused.code == 2 and "--reason" in refused.err
    assert json.loads(path.read_text())["visibility"]["canonical"] == "private"
    cli("-L", str(lib), "visibility", "set", rec["photo_id"][:8], rec2["metadata"]["filename"], "friends",
        "--reason", "shared with the family album", check=0)
    assert json.loads(path.read_text())["visibility"]["canonical"] == "friends"
    assert json.loads(path2.read_text())["visibility"]["canonical"] == "friends"
    log = git(lib, "log", "-1", "--format=%B", "--", str(path.relative_to(lib)))
    assert "private -> friends" in log and "reason: shared with the family album" in log
    # narrowing needs no reason; resolve and discover keep the level as set
    cli("-L", str(lib), "visibility", "set", rec2["photo_id"], "private", check=0)
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "all", check=0)
    cli("-q", "-L", str(lib), "discover", "--full-scan", check=0)
    assert json.loads(path.read_text())["visibility"]["canonical"] == "friends"
    assert json.loads(path2.read_text())["visibility"]["canonical"] == "private"
    assert git_status(lib) == ""


def test_unknown_and_ambiguous_photos_are_refused(tmp_path, cli):
    lib, _ = _library(tmp_path, cli, 2)
    run = cli("-L", str(lib), "visibility", "set", "nosuchphoto", "private")
    assert run.code == 2 and "no photo 'nosuchphoto'" in run.err
    run = cli("-L", str(lib), "visibility", "set", "private")
    assert run.code == 2
    run = cli("-L", str(lib), "visibility", "set", "nosuchphoto", "everyone")
    assert run.code == 2 and "level" in run.err
