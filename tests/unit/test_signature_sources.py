"""Where a JPEG's visual signature comes from (PHOTOSYNC_THUMBNAIL_SIGNATURES, on
unless set to 0): a camera's own file gives it from the thumbnail embedded in its
EXIF (no decode of the picture), marked approximate; a file whose thumbnail may be
stale (an edit that kept the old EXIF) has its picture decoded.  Both ways give
signatures that compare as copies of one photo; resolve replaces an approximate
signature with the picture's (probe.picture_signature) before judging a pair."""

from __future__ import annotations

import io
import random
import struct
import sys
from pathlib import Path

import pytest

from photosync.media.formats import check_jpeg, sniff
from photosync.media.probe import picture_signature, probe
from photosync.media.visual import Look, gradient_distance, read_signature, signature_of, tone_distance
from photosync.sample import camera_jpeg, exif_bytes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from variant_corpus import scene  # noqa: E402


@pytest.fixture(autouse=True)
def thumbnail_signatures(monkeypatch):
    """Signatures from embedded thumbnails are on (the default, whatever the environment says)."""
    from photosync.media import probe as probe_module

    monkeypatch.setattr(probe_module, "THUMBNAIL_SIGNATURES", True)


def _picture(seed: int, size=(800, 600)):
    im, _, _ = scene(random.Random(seed), size)
    return im


def _look(data: bytes) -> str | None:
    return probe(data, sniff(data[:4096], "IMG_1.JPG")).look


def _thumbnail(data: bytes) -> bytes:
    from PIL import Image

    tiff = check_jpeg(data).exif
    ex = Image.Exif()
    ex.load(tiff)
    ifd1 = ex.get_ifd(-1)
    return tiff[ifd1[0x0201]:ifd1[0x0201] + ifd1[0x0202]]


def _main_picture_look(data: bytes, orientation: int = 0) -> str:
    return read_signature(data, orientation)[0]


def _camera_exif(taken=None) -> bytes:
    from datetime import datetime

    return exif_bytes(taken or datetime(2019, 7, 4, 12, 30, 15), None, None, "Canon", "EOS 80D")


def test_without_the_switch_the_picture_is_decoded(monkeypatch):
    from photosync.media import probe as probe_module

    monkeypatch.setattr(probe_module, "THUMBNAIL_SIGNATURES", False)
    data = camera_jpeg(_picture(10), 92, _camera_exif())
    assert _look(data) == _main_picture_look(data)


@pytest.mark.parametrize("size", [(800, 600), (600, 800), (900, 600), (640, 640), (3000, 2000)])
def test_a_camera_files_signature_comes_from_its_thumbnail_and_compares_as_the_picture(size):
    im = _picture(11, size)
    data = camera_jpeg(im, 92, _camera_exif())
    look = _look(data)
    a, b = Look.parse(look), Look.parse(_main_picture_look(data))
    assert a is not None and a.approximate and not b.approximate  # the signature says where it came from
    thumb = Look.parse(signature_of(_thumbnail(data), 0))
    assert (a.pixels, a.colour) == (thumb.pixels, thumb.colour)  # the thumbnail's, not a decode of the picture
    # what replaces it when the photo meets a look-alike: the picture's own, as without the switch
    assert picture_signature(io.BytesIO(data), "IMG_1.JPG") == (_main_picture_look(data), None)
    # as close as a re-encoded copy (quality variants: below 0.04, tone within 3)
    assert gradient_distance(a, b) < 0.03
    assert tone_distance(a, b) <= 2


def test_the_thumbnail_is_turned_by_the_pictures_orientation():
    im = _picture(12)
    data = camera_jpeg(im, 92, _camera_exif(), orientation=6)
    a, b = Look.parse(_look(data)), Look.parse(_main_picture_look(data, 6))
    assert gradient_distance(a, b) < 0.03
    upright = Look.parse(_main_picture_look(camera_jpeg(im, 92, _camera_exif())))
    assert gradient_distance(a, upright) > 0.1  # it was turned


def _with_jfif_first(data: bytes) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return data[:2] + app0 + data[2:]


def stale_cases():
    """(name, file): edits of a camera photo that kept a thumbnail of the unedited picture."""
    from PIL import Image, ImageEnhance

    im = _picture(13)
    w, h = im.size
    original = camera_jpeg(im, 92, _camera_exif())
    edited = ImageEnhance.Color(ImageEnhance.Brightness(im).enhance(1.3)).enhance(0.4)
    # re-encoded by a libjpeg tool (Pillow here) that kept the camera's EXIF block: JFIF first
    buf = io.BytesIO()
    edited.save(buf, "JPEG", quality=90, exif=b"Exif\x00\x00" + check_jpeg(original).exif)
    yield "colour edit saved by a tool", buf.getvalue()
    # the same, but with the EXIF first: a JFIF segment ahead of it is enough to say so
    yield "JFIF first", _with_jfif_first(camera_jpeg(edited, 92, _camera_exif(), thumbnail_of=im))
    # cropped, the EXIF kept as it was: PixelXDimension/PixelYDimension are stale
    cropped = im.crop((w // 10, h // 10, w - w // 10, h - h // 10))
    yield "crop keeping the size fields", camera_jpeg(cropped, 90, _camera_exif(), thumbnail_of=im, pixel_size=(w, h))
    # turned losslessly with the size fields updated, the thumbnail left as it was: its aspect is wrong
    yield "rotated, thumbnail not", camera_jpeg(im.transpose(Image.Transpose.ROTATE_90), 90, _camera_exif(), thumbnail_of=im)
    # a letterboxed 4:3 thumbnail of a 16:9 picture
    wide = _picture(14, (960, 540))
    boxed = Image.new("RGB", (960, 720))
    boxed.paste(wide, (0, 90))
    yield "letterboxed thumbnail", camera_jpeg(wide, 92, _camera_exif(), thumbnail_of=boxed)


@pytest.mark.parametrize("name,data", list(stale_cases()), ids=lambda v: v if isinstance(v, str) else "")
def test_a_thumbnail_that_may_be_stale_is_not_used(name, data):
    assert check_jpeg(data).exif is not None  # the camera's EXIF, thumbnail and all, is there
    assert _thumbnail(data)
    look = _look(data)
    assert look is not None
    assert look == _main_picture_look(data), name  # the picture itself was decoded


def _heic(tmp_path: Path, im, thumbnail: int | None) -> bytes:
    """A HEIC file as libheif's encoder writes one (heif-enc, Debian's libheif-examples; phones
    write theirs the same way: the primary picture and a thumbnail image linked to it), with a
    thumbnail of at most ``thumbnail`` pixels a side, or none."""
    import subprocess

    png, out = tmp_path / f"in-{thumbnail}.png", tmp_path / f"out-{thumbnail}.heic"
    im.save(png)
    subprocess.run(["heif-enc", "-q", "80", *(["-t", str(thumbnail)] if thumbnail else []), "-o", str(out), str(png)],
                   check=True, capture_output=True)
    return out.read_bytes()


def _heic_look(data: bytes, thumbnails: bool | None = None) -> str | None:
    from photosync.media.probe import probe_image

    fmt = sniff(data[:4096], "IMG_1.HEIC")
    assert fmt is not None and fmt.name == "heic"
    return probe_image(data, fmt, thumbnails).look


@pytest.mark.parametrize("size", [(640, 480), (480, 640)])
def test_a_phones_heic_signature_comes_from_its_thumbnail_and_compares_as_the_picture(tmp_path, size):
    """A 12-megapixel HEIC took 0.3-0.8 s to decode here; its 320-pixel thumbnail 3 ms."""
    data = _heic(tmp_path, _picture(21, size), 240)
    look, decoded = Look.parse(_heic_look(data)), Look.parse(_heic_look(data, thumbnails=False))
    assert look is not None and decoded is not None
    assert look.approximate and not decoded.approximate  # the signature says where it came from
    # what replaces it when the photo meets a look-alike: the picture's own, decoded
    assert picture_signature(io.BytesIO(data), "IMG_1.HEIC") == (_heic_look(data, thumbnails=False), None)
    assert gradient_distance(look, decoded) < 0.03
    assert tone_distance(look, decoded) <= 2


@pytest.mark.parametrize("thumbnail", [None, 48])
def test_a_heic_without_a_usable_thumbnail_has_its_picture_decoded(tmp_path, thumbnail):
    data = _heic(tmp_path, _picture(22), thumbnail)  # none, or one too small to say enough
    look = Look.parse(_heic_look(data))
    assert look is not None and not look.approximate
    assert _heic_look(data) == _heic_look(data, thumbnails=False)


def _heif_written(im, thumbnails: list[int], orientation: int = 1) -> bytes:
    """A HEIC as pillow-heif writes one: the picture, thumbnails of these sides, and an EXIF
    orientation, which libheif turns into rotation and mirror properties of every image."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "HEIF", quality=80, thumbnails=thumbnails, exif=exif.tobytes())
    return buf.getvalue()


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, end) of the ISO-BMFF boxes in data[start:end]."""
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        yield kind, start + 8, start + size
        start += size


def _thumbnail_left_unturned(data: bytes) -> bytes:
    """The file with its thumbnails' rotation and mirror properties taken away, the picture's
    kept: as a tool that turns a picture by its properties alone and leaves the thumbnail."""
    out = bytearray(data)
    meta = next((s, e) for k, s, e in _boxes(data, 0, len(data)) if k == b"meta")
    boxes = {k: (s, e) for k, s, e in _boxes(data, meta[0] + 4, meta[1])}  # meta is a full box
    primary = struct.unpack(">H", data[boxes[b"pitm"][0] + 4:boxes[b"pitm"][0] + 6])[0]
    iprp = {k: (s, e) for k, s, e in _boxes(data, *boxes[b"iprp"])}
    turns = {i + 1 for i, (k, _s, _e) in enumerate(_boxes(data, *iprp[b"ipco"])) if k in (b"irot", b"imir")}
    assert turns, "the file has no rotation or mirror property"
    pos = iprp[b"ipma"][0]
    version, flags = data[pos], int.from_bytes(data[pos + 1:pos + 4], "big")
    pos += 4
    (count,) = struct.unpack(">I", data[pos:pos + 4])
    pos += 4
    for _ in range(count):
        width = 4 if version else 2
        item = int.from_bytes(data[pos:pos + width], "big")
        pos += width
        n = data[pos]
        pos += 1
        for _a in range(n):
            size = 2 if flags & 1 else 1
            index = int.from_bytes(data[pos:pos + size], "big") & (0x7FFF if size == 2 else 0x7F)
            if item != primary and index in turns:
                out[pos:pos + size] = bytes(size)  # no property
            pos += size
    return bytes(out)


@pytest.mark.parametrize("orientation", [3, 2])  # turned half a turn; mirrored
def test_a_heic_thumbnail_not_turned_as_its_picture_is_not_used(orientation):
    data = _heif_written(_picture(23), [240], orientation)
    turned = Look.parse(_heic_look(data))
    assert turned is not None and turned.approximate  # both turned alike: the thumbnail signs it
    assert gradient_distance(turned, Look.parse(_heic_look(data, thumbnails=False))) < 0.03
    stale = _thumbnail_left_unturned(data)
    look = _heic_look(stale)
    assert look is not None and not Look.parse(look).approximate
    assert look == _heic_look(stale, thumbnails=False)  # the picture itself was decoded, turned


def test_a_heics_smallest_thumbnail_that_says_enough_signs_it_and_libheifs_rounding_is_allowed():
    # 1500x1000 gets a 320x212 thumbnail (libheif keeps its sides even): a 3:2 picture
    data = _heif_written(_picture(24, (1500, 1000)), [48, 320, 1200])
    look, decoded = Look.parse(_heic_look(data)), Look.parse(_heic_look(data, thumbnails=False))
    assert look is not None and decoded is not None and look.approximate
    assert gradient_distance(look, decoded) < 0.03 and tone_distance(look, decoded) <= 2
