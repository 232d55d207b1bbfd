"""Paths built from records stay inside their store or folder, whatever a hand edit puts in a record."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import git, git_status

from photosync.sample import generate_corpus


def _replicated(tmp_path, cli, n=2):
    pics = tmp_path / "pics"
    generate_corpus(pics, n, seed=7, size=(64, 48), noise=4)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-q", "-L", str(lib), "discover", check=0)
    cli("-q", "-L", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    return lib, pics


def _record(lib):
    path = sorted((lib / "photos").rglob("*.json"))[0]
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("field", ["blobs", "superseded_blobs"])
@pytest.mark.parametrize("locator", ["../../victim.jpg", "/etc/hostname"])
def test_a_crafted_locator_is_named_never_committed_and_never_read(tmp_path, cli, field, locator):
    lib, _ = _replicated(tmp_path, cli)
    cli("-q", "-L", str(lib), "replicate", "--execute", check=0)
    (tmp_path / "victim.jpg").write_bytes(b"someone else's file")
    path, rec = _record(lib)
    rel = str(path.relative_to(lib))
    copy = rec["blobs"]["local"]
    if field == "blobs":
        copy["locator"] = locator
        where = "blobs.local.locator"
    else:
        rec["superseded_blobs"] = [{"store": "local", "locator": locator, "size": 19,
                                    "verified_at": copy["verified_at"], "content_hash": "sha256:" + "cd" * 32}]
        where = "superseded_blobs[0].locator"
    path.write_text(json.dumps(rec, indent=2))
    r = cli("-L", str(lib), "audit", "--blobs")
    assert r.code == 1
    assert rel in r.err and where in r.err and "not allowed" in r.err
    assert locator not in r.out, "the crafted copy was not read"
    assert locator not in git(lib, "show", f"HEAD:{rel}"), "the crafted locator was not committed"
    assert json.loads(path.read_text()) == rec, "the person's file is left as it is"
    # the other copies were checked: the run went on
    assert "0 bad" in r.out and " good" in r.out


def test_a_hand_edited_instance_id_outside_the_folder_is_refused(tmp_path, cli):
    lib, pics = _replicated(tmp_path, cli, n=1)
    path, rec = _record(lib)
    inst = rec["instances"]["pics"][0]
    # a copy of the photo outside the folder: read, it would even pass the hash check
    shutil.copyfile(pics / inst["id"], tmp_path / "victim.jpg")
    inst["id"] = "../victim.jpg"
    path.write_text(json.dumps(rec, indent=2))
    r = cli("-L", str(lib), "replicate", "--execute")
    assert r.code == 1
    assert rec["photo_id"] in r.err and "instances.pics[].id" in r.err and "refused" in r.err
    assert not list((lib / "blobs").rglob("*.jpg")), "nothing was read from outside the folder"
    assert git_status(lib) == ""


def test_a_crafted_file_name_does_not_shape_the_blob_key(tmp_path, cli):
    lib, _ = _replicated(tmp_path, cli, n=1)
    path, rec = _record(lib)
    rec["metadata"]["format"] = "mystery"
    rec["metadata"]["filename"] = "holiday.jpg/../../../../escape"
    path.write_text(json.dumps(rec, indent=2))
    cli("-L", str(lib), "replicate", "--execute", check=0)
    stored = [p.relative_to(lib / "blobs") for p in (lib / "blobs").rglob("*") if p.is_file() and p.name != ".gitkeep"]
    assert len(stored) == 1
    year, month, name = str(stored[0]).split("/")
    assert name == f"{rec['photo_id']}-{rec['content_hash'][7:]}.bin"
    assert json.loads(path.read_text())["blobs"]["local"]["locator"] == str(stored[0])
