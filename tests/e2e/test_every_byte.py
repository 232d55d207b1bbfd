"""Every byte is kept (issue 10, items 1 and 2): replicate stores every photo's
bytes whatever its open questions, and every content a photo holds (merged
variants included), through the real command on real JPEG and PNG files."""

from __future__ import annotations

import hashlib
import io
import json
import random
from datetime import datetime
from pathlib import Path

from helpers import add_local_service, git, git_status
from variant_corpus import exif_bytes, jpeg, scene

ORIGINALS = 4
WEB_COPIES = 3  # the first three originals, resized for the web: quality variants


def _records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _camera_and_web(camera: Path, web: Path) -> set[str]:
    """Camera originals and resized web copies of three of them (one saved as
    PNG); returns the SHA-256 of every file."""
    from PIL import Image

    digests = set()
    for i in range(ORIGINALS):
        im, _, _ = scene(random.Random(100 + i), (800, 600))
        exif = exif_bytes(datetime(2019, 7, 4, 12, 30 + i * 7, 15, 250000), ("Canon", "EOS 80D"), None)
        data = jpeg(im, 92, exif)
        (camera / f"IMG_{1000 + i}.JPG").write_bytes(data)
        digests.add(_digest(data))
        if i < WEB_COPIES:
            small = im.resize((400, 300), Image.Resampling.LANCZOS)
            if i == 2:
                buf = io.BytesIO()
                small.save(buf, "PNG")
                data = buf.getvalue()
                name = f"web_{i}.png"
            else:
                data = jpeg(small, 80, exif)
                name = f"web_{i}.jpg"
            (web / name).write_bytes(data)
            digests.add(_digest(data))
    return digests


def _stored(store: Path) -> dict[str, Path]:
    """digest -> blob file, for every blob in a local store (checked against its name)."""
    out = {}
    for blob in store.rglob("*"):
        if blob.is_file() and not blob.name.startswith(".") and ".corrupt-" not in blob.name:
            digest = blob.stem.rsplit("-", 1)[1]
            assert _digest(blob.read_bytes()) == digest, f"{blob} does not hold the bytes its name says"
            out[digest] = blob
    return out


def _setup(tmp_path, library, photos) -> set[str]:
    camera, web = photos("camera"), photos("web")
    digests = _camera_and_web(camera, web)
    add_local_service(library, "camera", camera)
    add_local_service(library, "web", web)
    return digests


def test_photos_with_open_questions_are_backed_up_and_replicated_once_answered(tmp_path, library, cli, photos):
    digests = _setup(tmp_path, library, photos)
    cli("discover", "--library", str(library), check=0)
    cli("resolve", "--auto-resolve", "simple", "--library", str(library), check=0)
    before = cli("status", "--json", "--library", str(library), check=0).json
    assert before["conflicts"]["open"] >= WEB_COPIES  # quality-variant questions, left unanswered
    assert before["states"]["discovered"] == 2 * WEB_COPIES  # each original and its web copy wait

    plan = cli("replicate", "--library", str(library), check=0)
    assert "--auto-resolve simple" not in plan.out
    assert f"copy {ORIGINALS + WEB_COPIES} photos" in plan.out
    assert "6 photos not resolved yet" in plan.out and "copied all the same" in plan.out
    run = cli("replicate", "--execute", "--library", str(library), check=0)
    assert f"copied {ORIGINALS + WEB_COPIES} files" in run.out
    assert "1 photo now replicated" in run.out  # the one photo without a question
    assert "every photo has a verified copy of everything it holds in local (7 photos)" in run.out
    assert set(_stored(library / "blobs")) == digests

    status = cli("status", "--json", "--library", str(library), check=0).json
    assert status["below_min_copies"] == 0 and status["without_copy"] == 0
    assert status["states"] == {"discovered": 2 * WEB_COPIES, "resolved": 0, "replicated": 1}
    assert "every photo has a copy" in cli("status", "--library", str(library), check=0).out
    audit = cli("audit", "--copies", "1", "--library", str(library), check=0)
    assert "0 photos with fewer than 1 verified copy" in audit.out
    # a photo not resolved keeps its state: its copies are there, its questions are not answered
    assert {r["processing_state"] for r in _records(library) if r["conflicts"]} == {"discovered"}

    # the questions answered (by the policy): the merged photos hold both contents, stored
    # already, so nothing is copied again and each becomes replicated
    cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    run = cli("replicate", "--execute", "--library", str(library), check=0)
    assert "copied 0 files" in run.out and f"{WEB_COPIES} photos now replicated" in run.out
    recs = _records(library)
    assert len(recs) == ORIGINALS and {r["processing_state"] for r in recs} == {"replicated"}
    assert git(library, "log", "-1", "--format=%s").strip() == \
        f"replicate: {WEB_COPIES} photos now replicated (every copy was in place)"
    r = cli("audit", "--blobs", "--library", str(library), check=0)
    assert f"{ORIGINALS + WEB_COPIES} copies of {ORIGINALS} photos checked" in r.out
    assert git_status(library) == ""


def test_a_merge_of_bytes_never_stored_still_stores_them(tmp_path, library, cli, photos):
    digests = _setup(tmp_path, library, photos)
    cli("discover", "--library", str(library), check=0)
    cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)  # merged before any copy
    recs = _records(library)
    assert len(recs) == ORIGINALS and not any(r["superseded_blobs"] if "superseded_blobs" in r else False
                                              for r in recs)
    plan = cli("replicate", "--library", str(library), check=0)
    assert f"{ORIGINALS + WEB_COPIES} copies in all" in plan.out and "other content" in plan.out
    run = cli("replicate", "--execute", "--library", str(library), check=0)
    assert f"copied {ORIGINALS + WEB_COPIES} files" in run.out and f"{ORIGINALS} photos now replicated" in run.out
    stored = _stored(library / "blobs")
    assert set(stored) == digests, "every distinct content discovered is in the store"
    for rec in _records(library):
        others = {i["content_hash"] for insts in rec["instances"].values() for i in insts} - {rec["content_hash"]}
        kept = {b["content_hash"]: b for b in rec.get("superseded_blobs", [])}
        assert set(kept) == others
        for h, b in kept.items():
            # the photo's id and date, that content's hash, its own format's extension
            inst = next(i for insts in rec["instances"].values() for i in insts if i["content_hash"] == h)
            ext = ".png" if inst["id"].endswith(".png") else ".jpg"
            assert b["locator"] == f"2019/07/{rec['photo_id']}-{h[7:]}{ext}" and b["store"] == "local"
            assert stored[h[7:]] == library / "blobs" / b["locator"]
    status = cli("status", "--json", "--library", str(library), check=0).json
    assert status["stores"]["local"]["copies"] == ORIGINALS + WEB_COPIES
    assert status["below_min_copies"] == 0

    # a lost copy of a merged-in content counts: the photo is short of a copy until it is repaired
    (rec,) = [r for r in _records(library) if r.get("superseded_blobs")][:1]
    lost = library / "blobs" / rec["superseded_blobs"][0]["locator"]
    lost.unlink()
    r = cli("audit", "--blobs", "--library", str(library))
    assert r.code == 1 and "missing" in r.err
    assert cli("status", "--json", "--library", str(library), check=0).json["below_min_copies"] == 1
    r = cli("audit", "--copies", "1", "--library", str(library))
    assert r.code == 1 and "1 photo with fewer than 1 verified copy" in r.out
    plan = cli("replicate", "--library", str(library), check=0)
    assert "(repair)" in plan.out
    run = cli("replicate", "--execute", "--library", str(library), check=0)
    assert "copied 1 file " in run.out
    assert lost.is_file()
    rec2 = next(r for r in _records(library) if r["photo_id"] == rec["photo_id"])
    assert [b.get("problem") for b in rec2["superseded_blobs"]] == [None] * len(rec2["superseded_blobs"])
    cli("audit", "--blobs", "--library", str(library), check=0)
    assert git_status(library) == ""
