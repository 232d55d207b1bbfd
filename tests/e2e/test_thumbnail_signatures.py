"""A camera JPEG's visual signature comes from the thumbnail the camera embedded in its EXIF
(no decode of the picture while discover reads it), marked approximate; resolve decodes the
picture of a record whose signature is approximate before it judges the record against a
look-alike, so the verdicts are those of the decoded pictures.  Real files in folders, the
real photosync command, the records in git."""

from __future__ import annotations

import io
import json
import random
from datetime import datetime
from pathlib import Path

from helpers import add_local_service, git
from variant_corpus import exif_bytes, scene

from photosync.media.probe import picture_signature
from photosync.media.visual import Look
from photosync.sample import camera_jpeg


def _records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]


def _looks(record: dict) -> dict[str, Look]:
    return {i["id"]: Look.parse(i["look"]) for insts in record["instances"].values() for i in insts}


def _camera_photo(folder: Path, seed: int = 21) -> bytes:
    """A 1600x1200 camera file (EXIF first, a 160x120 thumbnail in IFD1), as cameras write them."""
    im, _, _ = scene(random.Random(seed), (1600, 1200))
    data = camera_jpeg(im, 92, exif_bytes(datetime(2019, 7, 4, 12, 30, 15), ("Canon", "EOS 80D"), None))
    (folder / "IMG_0001.JPG").write_bytes(data)
    return data


def _resized_copy(data: bytes, folder: Path) -> None:
    """The half-size copy a service gives back, re-encoded without EXIF."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        small = im.resize((800, 600), Image.Resampling.LANCZOS)
    small.save(folder / "IMG_0001-web.jpg", "JPEG", quality=85)


def _library_with(tmp_path, library, cli, copy: bool = True) -> tuple[Path, bytes]:
    camera, downloads = tmp_path / "camera", tmp_path / "downloads"
    camera.mkdir()
    downloads.mkdir()
    data = _camera_photo(camera)
    if copy:
        _resized_copy(data, downloads)
    add_local_service(library, "camera", camera)
    add_local_service(library, "downloads", downloads)
    cli("discover", "--library", str(library), check=0)
    return camera, data


def test_discover_signs_a_camera_file_from_its_embedded_thumbnail(tmp_path, library, cli):
    _camera, data = _library_with(tmp_path, library, cli, copy=False)
    (record,) = _records(library)
    look = _looks(record)["IMG_0001.JPG"]
    assert look is not None and look.approximate  # the signature says where it came from
    picture = Look.parse(picture_signature(io.BytesIO(data))[0])
    assert picture is not None and not picture.approximate
    assert look.pixels != picture.pixels  # the thumbnail's, not a decode of the picture
    # a photo with no look-alike is never decoded: resolve leaves its signature as it is
    cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    (record,) = _records(library)
    assert _looks(record)["IMG_0001.JPG"] == look
    assert record["processing_state"] == "resolved"


def test_resolve_decodes_the_picture_of_a_photo_that_meets_a_look_alike_and_merges_as_decoded(tmp_path, library,
                                                                                               cli):
    _camera, data = _library_with(tmp_path, library, cli)
    assert sum(1 for r in _records(library) for lk in _looks(r).values() if lk.approximate) == 1
    r = cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    (record,) = _records(library)  # the resized copy merged into the camera's original, by the policy
    assert record["canonical_source"] == "camera:IMG_0001.JPG"
    assert any(x.get("policy") == "quality_variants" for x in record["resolutions"]), r.out
    # the original's signature is now its picture's own, as if discover had decoded it
    assert record["instances"]["camera"][0]["look"] == picture_signature(io.BytesIO(data))[0]
    assert "taken from the picture, not its embedded thumbnail" in git(library, "log", "-1", "--format=%B")


def test_a_picture_that_cannot_be_read_is_asked_about_not_merged(tmp_path, library, cli):
    camera, _data = _library_with(tmp_path, library, cli)
    (camera / "IMG_0001.JPG").unlink()  # gone before resolve runs, and no store holds it
    r = cli("resolve", "--auto-resolve", "all", "--library", str(library), check=1)  # 1: with a warning
    records = _records(library)
    assert len(records) == 2  # not merged on the thumbnail's signature
    original = next(x for x in records if "camera" in x["instances"])
    assert _looks(original)["IMG_0001.JPG"].approximate
    questions = [c for c in original["conflicts"] if c["type"] == "quality_variant"]
    assert questions and "embedded thumbnail" in questions[0]["description"]
    said = r.out + r.err
    assert original["photo_id"][:8] in said and "could not be read" in said


def test_reading_the_file_again_keeps_the_picture_signature_resolve_decoded(tmp_path, library, cli):
    """A re-read gives the thumbnail's signature again: the record keeps the decoded one, and
    nothing is reopened or committed (else every full scan would undo resolve's work)."""
    _camera, data = _library_with(tmp_path, library, cli)
    cli("resolve", "--auto-resolve", "all", "--library", str(library), check=0)
    head = git(library, "rev-parse", "HEAD")
    r = cli("discover", "--full-scan", "--library", str(library), check=0)
    assert git(library, "rev-parse", "HEAD") == head, r.out
    (record,) = _records(library)
    assert record["instances"]["camera"][0]["look"] == picture_signature(io.BytesIO(data))[0]
    assert record["processing_state"] == "resolved"


def test_a_picture_that_cannot_be_decoded_keeps_its_approximate_signature(tmp_path, library, cli, monkeypatch):
    """The original is read but its picture does not decode (too large for bounded memory, say):
    its signature is not erased, and the pair is asked about, not merged."""
    from helpers import open_lib

    from photosync.media import probe
    from photosync.phases.resolve import resolve

    _library_with(tmp_path, library, cli)
    monkeypatch.setattr(probe, "picture_signature", lambda f, name="": (None, "too large to decode (test)"))
    lib, said = open_lib(library)
    try:
        result = resolve(lib, auto="all")
    finally:
        lib.close()
    assert result.merged == 0
    original = next(x for x in _records(library) if "camera" in x["instances"])
    assert _looks(original)["IMG_0001.JPG"].approximate  # kept, not erased
    assert any(c["type"] == "quality_variant" for c in original["conflicts"])
    assert any("too large to decode (test)" in p.reason for p in said.problems)
