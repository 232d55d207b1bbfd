"""Files that move, and photos saved over their own file: what discover records
and what it says (its printed summary and its commit count the same things)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from datetime import datetime
from pathlib import Path

from helpers import git

from photosync.sample import make_photo


def records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]


def by_id(lib: Path, service: str = "pics") -> dict[str, dict]:
    return {i["id"]: rec for rec in records(lib) for i in rec["instances"][service]}


def library_with(tmp_path: Path, cli, pictures: Path) -> Path:
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pictures), check=0)
    cli("--library", str(lib), "discover", check=0)
    cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    cli("--library", str(lib), "replicate", "--execute", check=0)
    return lib


def test_a_file_moved_or_renamed_is_a_move_and_its_photo_is_not_sent_back_to_resolve(tmp_path, cli):
    pictures = tmp_path / "pics"
    make_photo(pictures / "a.jpg", seed=1, taken=datetime(2019, 1, 1))
    make_photo(pictures / "b.jpg", seed=2, taken=datetime(2019, 1, 2))
    make_photo(pictures / "c.jpg", seed=3, taken=datetime(2019, 1, 3))
    lib = library_with(tmp_path, cli, pictures)
    assert {r["processing_state"] for r in records(lib)} == {"replicated"}

    (pictures / "holiday").mkdir()
    (pictures / "a.jpg").rename(pictures / "holiday/beach.jpg")  # renamed: same inode, found without reading
    shutil.copyfile(pictures / "b.jpg", pictures / "holiday/b.jpg")  # copied, then the original deleted:
    (pictures / "b.jpg").unlink()  # a new inode and mtime, found by its content
    r = cli("--library", str(lib), "discover", check=0)
    assert "pics: 3 items, 1 read" in r.out and "0 new photos, 2 moved or renamed" in r.out
    assert "gone" not in r.out and "already known" not in r.out
    subject, body = git(lib, "log", "-1", "--format=%s%n%b").split("\n", 1)
    assert subject == "discover: 0 new photos, 2 moved or renamed from pics"
    assert "moved: a.jpg -> holiday/beach.jpg" in body and "moved: b.jpg -> holiday/b.jpg" in body

    recs = by_id(lib)
    assert set(recs) == {"holiday/beach.jpg", "holiday/b.jpg", "c.jpg"}
    for rec in recs.values():
        assert rec["processing_state"] == "replicated", "a move does not send a photo back through resolve"
        assert len(rec["instances"]["pics"]) == 1 and not rec["instances"]["pics"][0].get("missing_since")
    beach = recs["holiday/beach.jpg"]
    assert beach["canonical_source"] == "pics:holiday/beach.jpg"
    assert beach["metadata"]["filename"] == "beach.jpg"
    status = cli("--library", str(lib), "status", "--json", check=0).json
    assert status["states"]["replicated"] == 3 and status["services"]["pics"]["missing_items"] == 0
    # and a rerun has nothing to say
    r = cli("--library", str(lib), "discover", check=0)
    assert "pics: 3 items, 0 read" in r.out and "nothing changed" in r.out


def _brighter(data: bytes) -> bytes:
    """The same photo edited (brighter) and saved with its EXIF, as an editor does."""
    from PIL import Image, ImageEnhance

    im = Image.open(io.BytesIO(data))
    out = io.BytesIO()
    ImageEnhance.Brightness(im).enhance(1.35).save(out, "JPEG", quality=90, exif=im.info["exif"])
    return out.getvalue()


def test_a_photo_saved_over_its_own_file_is_linked_as_an_edit_and_both_versions_are_kept(tmp_path, cli):
    pictures = tmp_path / "pics"
    photo = make_photo(pictures / "IMG_0042.jpg", seed=4, taken=datetime(2020, 8, 1, 10, 0), make="Canon",
                       model="EOS 80D")
    make_photo(pictures / "other.jpg", seed=5, taken=datetime(2020, 8, 2))
    lib = library_with(tmp_path, cli, pictures)
    before = by_id(lib)["IMG_0042.jpg"]
    old_bytes = photo.read_bytes()

    photo.write_bytes(_brighter(old_bytes))  # saved over: same path, new bytes
    r = cli("--library", str(lib), "discover", check=0)
    assert "1 new photo, 1 file saved over (the new version recorded, the old one kept)" in r.out
    assert f"IMG_0042.jpg: saved over: linked as an edit of IMG_0042.jpg ({before['photo_id'][:8]})" in r.err
    assert "gone" not in r.out
    body = git(lib, "log", "-1", "--format=%b")
    assert f"saved over: IMG_0042.jpg linked as an edit of IMG_0042.jpg ({before['photo_id'][:8]})" in body

    recs = {rec["photo_id"]: rec for rec in records(lib)}
    assert len(recs) == 3
    old = recs[before["photo_id"]]
    (new,) = [rec for rec in recs.values() if rec["content_hash"] == "sha256:" + hashlib.sha256(photo.read_bytes()).hexdigest()]
    # the old record keeps its instance (marked gone from there) and its blob copy
    (old_inst,) = old["instances"]["pics"]
    assert old_inst["id"] == "IMG_0042.jpg" and old_inst["missing_since"]
    assert (lib / "blobs" / old["blobs"]["local"]["locator"]).read_bytes() == old_bytes
    # a decided link on both records, as a person's "linked" answer
    link_old = [x for x in old.get("resolutions", []) if x["conflict_id"] == f"edit_variant:{new['photo_id']}"]
    link_new = [x for x in new.get("resolutions", []) if x["conflict_id"] == f"edit_variant:{old['photo_id']}"]
    assert link_old and link_new
    for link, other in ((link_old[0], new), (link_new[0], old)):
        assert (link["how"], link["policy"], link["choice"], link["value"]) == \
            ("auto", "edited_in_place", "linked", other["photo_id"])

    r = cli("--library", str(lib), "resolve", "--auto-resolve", "simple", check=0)
    assert "need a decision" not in r.out
    cli("--library", str(lib), "replicate", "--execute", check=0)
    recs = {rec["photo_id"]: rec for rec in records(lib)}
    assert recs[new["photo_id"]]["processing_state"] == "replicated" and not recs[new["photo_id"]]["conflicts"]
    assert (lib / "blobs" / recs[new["photo_id"]]["blobs"]["local"]["locator"]).read_bytes() == photo.read_bytes()
    assert (lib / "blobs" / recs[old["photo_id"]]["blobs"]["local"]["locator"]).read_bytes() == old_bytes


def test_a_file_saved_over_by_a_different_picture_is_not_linked(tmp_path, cli):
    pictures = tmp_path / "pics"
    photo = make_photo(pictures / "IMG_0001.jpg", seed=6, taken=datetime(2018, 5, 1))
    lib = library_with(tmp_path, cli, pictures)
    make_photo(tmp_path / "new card/IMG_0001.jpg", seed=7, taken=datetime(2023, 9, 9))  # a camera's counter reset
    shutil.copyfile(tmp_path / "new card/IMG_0001.jpg", photo)
    r = cli("--library", str(lib), "discover", check=0)
    assert "IMG_0001.jpg: saved over by a different picture; not linked to IMG_0001.jpg" in r.err
    assert all(not any(x["conflict_id"].startswith("edit_variant") for x in rec.get("resolutions", []))
               for rec in records(lib))
    assert len(records(lib)) == 2
