"""The whole loop through the real command, as a person would run it:
init -> service add -> discover -> resolve -> replicate -> status -> audit."""

from __future__ import annotations

import re

import hashlib
import json
import os
import shutil
import stat
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
from helpers import commit_count, git, git_status

from photosync.sample import generate_corpus, make_photo

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas/photo-metadata.schema.json").read_text())


def records(lib: Path) -> list[dict]:
    out = []
    for p in sorted((lib / "photos").rglob("*.json")):
        data = json.loads(p.read_text())
        jsonschema.validate(data, SCHEMA)
        out.append(data)
    return out


def make_pictures(folder: Path, n: int = 24) -> None:
    generate_corpus(folder, n, seed=7, size=(320, 240))
    make_photo(folder / "phone/IMG_20200215_093000.heic", seed=101, fmt="HEIF",
               taken=datetime(2020, 2, 15, 9, 30), offset="+01:00", gps=(48.8584, 2.2945),
               make="Apple", model="iPhone 11")
    make_photo(folder / "Screenshot_2021-03-05-10-11-12.png", seed=102, fmt="PNG")
    first = sorted(folder.rglob("IMG_*.jpg"))[0]
    shutil.copyfile(first, folder / "phone" / "copy of that photo.jpg")


@pytest.fixture
def setup(tmp_path, cli):
    pictures = tmp_path / "Pictures"
    make_pictures(pictures)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "pictures", "--type", "local", "--path", str(pictures), check=0)
    return lib, pictures


def test_the_loop(setup, cli):
    lib, pictures = setup
    n_files = sum(1 for p in pictures.rglob("*") if p.is_file())  # 24 + heic + png + duplicate
    # discover, run from inside the library (found by walking up like git)
    before_discover = int(git(lib, "rev-list", "--count", "HEAD").strip())
    r = cli("discover", cwd=lib / "photos", check=0)
    assert f"{n_files} items, {n_files} read" in r.out
    said = re.search(r"26 new photos \((\d+) with nothing to resolve: resolved\), 1 copy of a photo already known",
                     r.out)
    assert said, r.out
    settled = int(said.group(1))
    # the commit counts what the summary counts, in the same words
    assert git(lib, "log", "-1", "--format=%s").strip() == \
        f"discover: 26 new photos ({settled} with nothing to resolve: resolved), 1 copy of a photo already known " \
        "from pictures"
    assert git_status(lib) == ""
    recs = records(lib)
    assert len(recs) == 26
    by_name = {r["metadata"]["filename"]: r for r in recs}
    heic = by_name["IMG_20200215_093000.heic"]
    assert heic["metadata"]["taken_date"] == "2020-02-15T09:30:00+01:00"
    assert heic["metadata"]["taken_date_source"] == "exif"
    assert heic["metadata"]["location"]["lat"] == pytest.approx(48.8584, abs=1e-4)
    assert heic["metadata"]["camera_info"] == {"make": "Apple", "model": "iPhone 11"}
    png = by_name["Screenshot_2021-03-05-10-11-12.png"]
    assert png["metadata"]["taken_date_source"] == "filename"
    for rec in recs:
        y, m = rec["metadata"]["taken_date"][:4], rec["metadata"]["taken_date"][5:7]
        assert (lib / f"photos/{y}/{m}/{rec['photo_id']}.json").exists()
        assert rec["visibility"]["canonical"] == "private"
    dup = [r for r in recs if len(r["instances"]["pictures"]) == 2]
    assert len(dup) == 1
    # each new photo was written once: resolved already when nothing waits for resolve (most of these
    # distinct pictures), discovered when it does (the duplicate's note waits for its policy)
    assert sum(rec["processing_state"] == "resolved" for rec in recs) == settled >= 20
    assert dup[0]["processing_state"] == "discovered"
    assert all(rec["processing_state"] == "discovered" for rec in recs if rec["conflicts"])
    assert git(lib, "rev-list", "--count", "HEAD").strip() == str(before_discover + 1)
    assert {i["id"].split("/")[-1] for i in dup[0]["instances"]["pictures"]} >= {"copy of that photo.jpg"}

    # a rerun with no change reads nothing and commits nothing
    before = commit_count(lib)
    r = cli("--library", str(lib), "discover", check=0)
    assert f"{n_files} items, 0 read" in r.out and "nothing changed" in r.out
    assert commit_count(lib) == before

    # resolve settles the exact duplicate and marks everything resolved
    r = cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    assert f"{26 - settled} resolved" in r.out
    assert all(rec["processing_state"] == "resolved" and rec["conflicts"] == [] for rec in records(lib))

    # replicate prints a plan by default and changes nothing
    before = commit_count(lib)
    r = cli("--library", str(lib), "replicate", check=0)
    assert "plan" in r.out and "copy 26 photos" in r.out
    assert commit_count(lib) == before
    assert not list((lib / "blobs").rglob("*.jpg"))

    r = cli("--library", str(lib), "replicate", "--execute", check=0)
    assert "copied 26 files" in r.out
    assert git_status(lib) == ""
    for rec in records(lib):
        assert rec["processing_state"] == "replicated"
        digest = rec["content_hash"].split(":")[1]
        y, m = rec["metadata"]["taken_date"][:4], rec["metadata"]["taken_date"][5:7]
        blob = lib / "blobs" / y / m / f"{rec['photo_id']}-{digest}.{rec['blobs']['local']['locator'].rsplit('.', 1)[1]}"
        assert rec["source_of_truth_path"] == str(blob.relative_to(lib))
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest
        assert not (blob.stat().st_mode & stat.S_IWUSR)  # read-only

    status = cli("--library", str(lib), "status", "--json", check=0).json
    assert status["photos"] == 26
    assert status["states"] == {"discovered": 0, "resolved": 0, "replicated": 26}
    assert status["services"]["pictures"]["photos"] == 26
    assert status["services"]["pictures"]["items"] == n_files
    assert status["stores"]["local"]["copies"] == 26
    assert status["below_min_copies"] == 0
    table = cli("--library", str(lib), "status", check=0).out
    assert "26 photos" in table and "pictures" in table and "local" in table

    r = cli("--library", str(lib), "audit", "--blobs", check=0)
    assert "26 good" in r.out

    # git log is the audit trail: every step is there, in words
    subjects = git(lib, "log", "--format=%s").splitlines()
    assert subjects[-1] == "init: new photosync library"
    left = 26 - settled
    assert any(s.startswith(f"resolve: {left} photo{'' if left == 1 else 's'} resolved") for s in subjects)
    assert any(s.startswith("replicate: 26 photo copies stored in local") for s in subjects)


def test_corrupt_blob_is_found_recorded_and_repaired(setup, cli):
    lib, _ = setup
    cli("--library", str(lib), "discover", check=0)
    cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    cli("--library", str(lib), "replicate", "--execute", check=0)
    victim = sorted((lib / "blobs").rglob("*.jpg"))[3]
    os.chmod(victim, 0o644)
    data = bytearray(victim.read_bytes())
    data[500] ^= 0x55
    victim.write_bytes(bytes(data))
    missing = sorted((lib / "blobs").rglob("*.jpg"))[5]
    os.chmod(missing.parent, 0o755)
    missing.unlink()

    r = cli("--library", str(lib), "audit", "--blobs", "--sample", "100%")
    assert r.code == 1
    assert "2 bad" in r.out
    assert victim.name in r.out and missing.name in r.out
    assert "corrupt" in r.err and "missing" in r.err
    assert git(lib, "log", "-1", "--format=%s").startswith("audit: 2 blob copies failed verification")
    status = cli("--library", str(lib), "status", "--json", check=0).json
    assert status["stores"]["local"]["bad_copies"] == 2
    assert status["below_min_copies"] == 2
    r = cli("--library", str(lib), "audit", "--copies", "1")
    assert r.code == 1 and "2 photos with fewer than 1" in r.out

    r = cli("--library", str(lib), "replicate", "--execute", check=0)
    assert "copied 2 files" in r.out
    assert list(victim.parent.glob(victim.name + ".corrupt-*")), "the bad bytes are set aside, never deleted"
    cli("--library", str(lib), "audit", "--blobs", check=0)
    assert cli("--library", str(lib), "status", "--json", check=0).json["below_min_copies"] == 0


def test_incremental_discover_touch_move_and_full_scan(setup, cli):
    lib, pictures = setup
    cli("--library", str(lib), "discover", check=0)
    target = sorted(pictures.rglob("IMG_*.jpg"))[2]
    # touched: read again (fingerprint changed) but the same content: no commit
    os.utime(target, None)
    before = commit_count(lib)
    r = cli("--library", str(lib), "discover", check=0)
    assert ", 1 read" in r.out
    assert commit_count(lib) == before
    # moved: the same photo, its instance at its new place (found by size, mtime and inode: not read)
    moved = pictures / "moved" / target.name
    moved.parent.mkdir()
    target.rename(moved)
    r = cli("--library", str(lib), "discover", check=0)
    assert ", 0 read" in r.out and "1 moved or renamed" in r.out
    assert "gone" not in r.out and "already known" not in r.out
    rec = next(r for r in records(lib) if any(i["id"] == f"moved/{target.name}" for i in r["instances"]["pictures"]))
    assert [i["id"] for i in rec["instances"]["pictures"]] == [f"moved/{target.name}"]
    assert not rec["instances"]["pictures"][0].get("missing_since")
    assert f"moved: {target.relative_to(pictures)} -> moved/{target.name}" in git(lib, "log", "-1", "--format=%b")
    # --full-scan reads everything again, and finds nothing new
    n_files = sum(1 for p in pictures.rglob("*") if p.is_file())
    r = cli("--library", str(lib), "discover", "--full-scan", check=0)
    assert f"{n_files} read" in r.out and "0 new photos" in r.out


def test_since_only_looks_at_recent_files(setup, cli):
    lib, pictures = setup
    old = datetime(2015, 1, 1).timestamp()
    for p in pictures.rglob("*"):
        if p.is_file():
            os.utime(p, (old, old))
    fresh = make_photo(pictures / "new/IMG_20240601_120000.jpg", seed=555, taken=datetime(2024, 6, 1, 12))
    r = cli("--library", str(lib), "discover", "--since", "last-week", check=0)
    assert "1 item, 1 read" in r.out and "1 new photo (nothing to resolve: resolved)\n" in r.out
    r = cli("--library", str(lib), "discover", "--since", "2014-12-31", check=0)
    assert "26 new photos" in r.out
    r = cli("--library", str(lib), "discover", "--since", "whenever")
    assert r.code == 2 and "--since" in r.err
    assert fresh.exists()


def test_commands_outside_a_library_say_how_to_make_one(tmp_path, cli):
    r = cli("status", cwd=tmp_path)
    assert r.code == 2
    assert "photosync init" in r.err


def test_unknown_service_and_bad_flags(setup, cli):
    lib, _ = setup
    r = cli("--library", str(lib), "discover", "--service", "nope")
    assert r.code == 2 and "no service named 'nope'" in r.err and "pictures" in r.err
    r = cli("--library", str(lib), "replicate", "--dry-run", "--execute")
    assert r.code == 2
    r = cli("--library", str(lib), "resolve", "--auto-resolve", "everything")
    assert r.code == 2 and "simple" in r.err


def test_a_missing_folder_fails_that_service_only(tmp_path, cli, setup):
    lib, pictures = setup
    other = tmp_path / "Other"
    other.mkdir()
    make_photo(other / "IMG_20100101_101010.jpg", seed=1, taken=datetime(2010, 1, 1, 10, 10, 10))
    cli("--library", str(lib), "service", "add", "nas", "--type", "local", "--path", str(other), check=0)
    cli("--library", str(lib), "discover", check=0)
    shutil.rmtree(other)  # the NAS is not mounted
    r = cli("--library", str(lib), "discover")
    assert r.code == 1
    assert "service nas" in r.err and "not mounted" in r.err
    assert "pictures: 27 items, 0 read" in r.out
    status = cli("--library", str(lib), "status", "--json", check=0).json
    assert status["services"]["nas"]["missing_items"] == 0, "an unmounted folder marks nothing missing"


def test_hand_edited_record_is_named_and_left_alone(setup, cli):
    lib, _ = setup
    cli("--library", str(lib), "discover", check=0)
    victim = sorted((lib / "photos").rglob("*.json"))[0]
    data = json.loads(victim.read_text())
    data["visibility"]["canonical"] = "everyone"
    victim.write_text(json.dumps(data, indent=2))
    r = cli("--library", str(lib), "resolve", "--auto-resolve", "simple")
    assert r.code == 1
    rel = str(victim.relative_to(lib))
    assert rel in r.err and "visibility.canonical" in r.err
    assert json.loads(victim.read_text())["visibility"]["canonical"] == "everyone"
    states = cli("--library", str(lib), "status", "--json").json["states"]
    assert states["resolved"] == 25 and states["discovered"] == 1
    victim.write_text("{ broken")
    r = cli("--library", str(lib), "replicate", "--execute")
    assert r.code == 1 and rel in r.err and "not valid JSON (line 1" in r.err


def test_the_readme_demo_runs_the_whole_loop_twice(tmp_path, cli):
    """`photosync demo` is the README's first command: it must work on a fresh folder, and again."""
    first = cli("demo", str(tmp_path / "demo"), cwd=tmp_path)
    assert first.code == 0, first.out + first.err
    assert "Traceback" not in first.err
    status = cli("-L", str(tmp_path / "demo/library"), "status", "--json", check=0).json
    assert status["states"]["replicated"] >= 8
    # the half-size copy a messaging app made is merged into its original, rated medium
    recs = [json.loads(p.read_text()) for p in (tmp_path / "demo/library/photos").rglob("*.json")]
    (rec,) = [r for r in recs if any(i["id"].endswith("IMG-20190704-WA0003.jpg") for i in r["instances"]["sample"])]
    ids = {i["id"]: i["quality"] for i in rec["instances"]["sample"]}
    assert ids == {"2019/IMG_20190704_142233.jpg": "original", "from-phone/IMG-20190704-WA0003.jpg": "medium"}
    again = cli("demo", str(tmp_path / "demo"), cwd=tmp_path)
    assert again.code == 0, again.out + again.err


def test_audit_reads_copies_a_few_photos_at_a_time_and_a_pass_resumes_across_them(setup, cli, monkeypatch):
    """audit --blobs reads the copies to check from the index a chunk of photos at a time and checks
    them through a small window (a library of 100,000 with thumbnails in six stores held 3.7 GB
    as one list with a Future per copy): copies damaged in different chunks are all found, and an
    incremental pass walks the chunks run after run, then starts again."""
    from helpers import open_lib

    from photosync.phases import audit

    lib, _ = setup
    nas = lib.parent / "nas"
    nas.mkdir()
    cli("--library", str(lib), "store", "add", "nas", "--type", "local", "--path", str(nas), check=0)
    cli("--library", str(lib), "discover", check=0)
    cli("--library", str(lib), "replicate", "--execute", check=0)
    blobs = sorted((lib / "blobs").rglob("*.jpg"))
    for victim in (blobs[0], blobs[-1]):  # the first photo's copy and a late one
        os.chmod(victim, 0o644)
        data = bytearray(victim.read_bytes())
        data[500] ^= 0x55
        victim.write_bytes(bytes(data))
    monkeypatch.setattr(audit, "AUDIT_CHUNK", 2)
    opened, _ = open_lib(lib)
    try:
        found = audit.audit_blobs(opened, store="local", workers=1)
        n = found.photos
        assert n >= 20 and found.checked == n and len(found.problems) == 2
        assert {p.locator.rsplit("/", 1)[-1] for p in found.problems} == {blobs[0].name, blobs[-1].name}
        # an incremental pass over one store, a few photos a run, leaves the other store's pass alone
        seen = 0
        for _ in range(20):
            step = audit.audit_blobs(opened, store="nas", incremental=True, sample="7", workers=2)
            if step.pass_finished:
                break
            seen += step.photos
            assert audit.left_in_pass(opened, "nas") == n - seen
            assert audit.left_in_pass(opened, "local") == n
        # the run that finds the pass done starts the next one, and checks
        assert step.pass_finished and seen == n and step.checked == 7
        assert audit.left_in_pass(opened, "nas") == n - 7
        # both stores: the first photos' copies in nas were checked in this pass, only local's are now
        both = audit.audit_blobs(opened, incremental=True, sample="3", workers=1)
        assert both.photos == 3 and both.checked == 3
    finally:
        opened.close()
