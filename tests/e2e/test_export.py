"""photosync export: seed 001's day-sorted NAS archive, through the real command (issue 16)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from datetime import datetime

from helpers import git_status, open_lib
from test_derive import _jpeg, _library, _photo


def _tree(out):
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != ".photosync-export.json")


def test_a_day_sorted_export_links_originals_resolves_collisions_and_follows_a_date_correction(tmp_path, cli):
    pics = tmp_path / "pics"
    _jpeg(pics / "a/IMG_0001.jpg", taken=datetime(2019, 7, 4, 10, 0), seed=1)
    _jpeg(pics / "b/IMG_0001.jpg", taken=datetime(2019, 7, 4, 18, 0), seed=2)  # same name, same day
    _jpeg(pics / "c/IMG_0002.jpg", taken=datetime(2020, 1, 2, 9, 0), seed=3)
    lib = _library(tmp_path, cli, pics)
    out = tmp_path / "nas" / "sorted"

    r = cli("-L", str(lib), "export", str(out), "--layout", "{year}/{month}/{day}/{filename}", check=0)
    assert "3 linked" in r.out
    opened, _ = open_lib(lib, write=False)
    ids = sorted(opened.photo_ids())
    by_id = {pid: opened.get_photo(pid) for pid in ids}
    opened.close()
    same_day = sorted(pid for pid, p in by_id.items() if p.metadata.filename == "IMG_0001.jpg")
    assert _tree(out) == sorted([
        "2019/07/04/IMG_0001.jpg", f"2019/07/04/IMG_0001-{same_day[1][:8]}.jpg", "2020/01/02/IMG_0002.jpg"])
    # the smallest id keeps the name, whatever order they came in
    plain = out / "2019/07/04/IMG_0001.jpg"
    blob = lib / "blobs" / by_id[same_day[0]].blobs["local"].locator
    assert os.stat(plain).st_ino == os.stat(blob).st_ino  # a hard link to the verified blob, no second copy
    assert git_status(lib) == ""

    # a rerun changes nothing
    r = cli("-L", str(lib), "export", str(out), check=0)
    assert "3 already in place" in r.out and "0 linked" in r.out

    # the date of IMG_0002 corrected: its file moves (renamed, not copied), the old folders go
    opened, _ = open_lib(lib)
    try:
        pid = next(p for p, ph in by_id.items() if ph.metadata.filename == "IMG_0002.jpg")
        photo = opened.get_photo(pid)
        opened.stage(photo.replace(metadata=dataclasses.replace(photo.metadata, taken_date="2018-03-09T08:00:00",
                                                                 taken_date_source="manual")))
        opened.commit("test: date corrected")
    finally:
        opened.close()
    inode = os.stat(out / "2020/01/02/IMG_0002.jpg").st_ino
    r = cli("-L", str(lib), "export", str(out), check=0)
    assert "1 moved" in r.out
    assert os.stat(out / "2018/03/09/IMG_0002.jpg").st_ino == inode
    assert not (out / "2020").exists()

    # deleting the export loses nothing: the library is whole, and the export comes back the same
    shutil.rmtree(out)
    assert cli("-L", str(lib), "audit", "--blobs", check=0)
    cli("-L", str(lib), "export", str(out), check=0)
    assert _tree(out) == sorted([
        "2019/07/04/IMG_0001.jpg", f"2019/07/04/IMG_0001-{same_day[1][:8]}.jpg", "2018/03/09/IMG_0002.jpg"])


def test_without_a_store_copy_the_export_is_a_verified_copy_and_foreign_files_are_left_alone(tmp_path, cli):
    pics = tmp_path / "pics"
    _jpeg(pics / "IMG_0001.jpg", taken=datetime(2021, 6, 1, 12, 0))
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "discover")  # no replicate: the only copy is the folder's
    out = tmp_path / "export"
    mine = out / "2021/06/01/IMG_0001.jpg"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"a person's own file")
    r = cli("-L", str(lib), "export", str(out), "--layout", "{year}/{month}/{day}/{filename}", check=0)
    assert "1 copied" in r.out
    assert mine.read_bytes() == b"a person's own file"  # never touched
    pid = _photo(lib, "IMG_0001.jpg").photo_id
    copy = out / f"2021/06/01/IMG_0001-{pid[:8]}.jpg"
    assert copy.read_bytes() == (pics / "IMG_0001.jpg").read_bytes()
    assert os.stat(copy).st_ino != os.stat(pics / "IMG_0001.jpg").st_ino
    manifest = json.loads((out / ".photosync-export.json").read_text())
    assert manifest["files"][pid]["path"] == f"2021/06/01/IMG_0001-{pid[:8]}.jpg"

    # the source changed since discover: not exported under the photo's name
    (pics / "IMG_0001.jpg").write_bytes(b"\xff\xd8 something else")
    other = tmp_path / "export2"
    r = cli("-L", str(lib), "export", str(other))
    assert r.code == 1 and "IMG_0001.jpg" in r.err and "not exported" in r.err
    assert _tree(other) == []


def test_a_tier_is_exported_instead_of_the_originals(tmp_path, cli):
    pics = tmp_path / "pics"
    _jpeg(pics / "old.jpg", size=(1200, 900), taken=datetime(2015, 5, 5, 5, 5))
    _jpeg(pics / "video-less.jpg", size=(1200, 900), taken=datetime(2016, 6, 6, 6, 6), seed=2)
    lib = _library(tmp_path, cli, pics)
    out = tmp_path / "phone"
    r = cli("-L", str(lib), "export", str(out), "--derived", "tier", check=0)
    assert "2 photos without a current tier rendition" in r.out
    cli("-L", str(lib), "derive", "tiers", check=0)
    r = cli("-L", str(lib), "export", str(out), "--derived", "tier", "--layout", "{year}/{stem}.{ext}", check=0)
    assert "2 copied" in r.out
    assert _tree(out) == ["2015/old.jpg", "2016/video-less.jpg"]
    assert (out / "2015/old.jpg").stat().st_size < (pics / "old.jpg").stat().st_size
    # an export of a tier is not mixed with one of the originals
    r = cli("-L", str(lib), "export", str(out))
    assert r.code == 2 and "another folder" in r.err
    r = cli("-L", str(lib), "export", str(tmp_path / "x"), "--layout", "{year}/{nope}")
    assert r.code == 2 and "{nope}" in r.err
