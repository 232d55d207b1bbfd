"""Reading files: formats by content, truncation and corruption, dates, GPS, cameras, videos."""

from __future__ import annotations

import functools
import hashlib
import struct
from datetime import datetime, timedelta, timezone

import pytest
from mp4build import make_video

from photosync.errors import MediaError
from photosync.media.dates import date_from_filename, parse_exif_date, parse_since
from photosync.media.probe import NotMedia, read_media
from photosync.sample import make_photo


def test_jpeg_exif_date_offset_gps_camera(tmp_path):
    p = make_photo(tmp_path / "a.jpg", seed=1, taken=datetime(2019, 7, 4, 14, 22, 33), offset="-07:00",
                   gps=(37.7694, -122.5107), make="Apple", model="iPhone XS", caption="Sunset")
    mf = read_media(p, p.name)
    assert mf.content_hash == "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
    assert mf.size == p.stat().st_size
    info = mf.info
    assert info.format.name == "jpeg" and info.format.kind == "photo"
    assert info.taken == datetime(2019, 7, 4, 14, 22, 33, tzinfo=timezone(timedelta(hours=-7)))
    assert info.taken_source == "exif"
    assert info.lat == pytest.approx(37.7694, abs=1e-4) and info.lng == pytest.approx(-122.5107, abs=1e-4)
    assert (info.make, info.model) == ("Apple", "iPhone XS")
    assert (info.width, info.height) == (640, 480)
    assert info.caption == "Sunset"


def test_jpeg_without_offset_is_naive(tmp_path):
    p = make_photo(tmp_path / "b.jpg", seed=2, taken=datetime(2001, 2, 3, 4, 5, 6))
    info = read_media(p, p.name).info
    assert info.taken == datetime(2001, 2, 3, 4, 5, 6) and info.taken.tzinfo is None


@pytest.mark.parametrize("fmt,name,kind", [("PNG", "x.png", "png"), ("TIFF", "x.tif", "tiff"),
                                            ("HEIF", "x.heic", "heic")])
def test_other_photo_formats(tmp_path, fmt, name, kind):
    p = make_photo(tmp_path / name, seed=3, fmt=fmt, taken=datetime(2020, 2, 15, 9, 30), offset="+01:00",
                   make="Apple", model="iPhone 11")
    info = read_media(p, p.name).info
    assert info.format.name == kind
    assert (info.width, info.height) == (640, 480)
    if kind in ("heic", "tiff"):
        assert info.taken == datetime(2020, 2, 15, 9, 30, tzinfo=timezone(timedelta(hours=1)))
        assert info.make == "Apple"


def test_format_is_judged_by_content_not_name(tmp_path):
    p = make_photo(tmp_path / "really-a-png.jpg", seed=4, fmt="PNG")
    assert read_media(p, p.name).info.format.name == "png"
    q = tmp_path / "IMG_0001"  # no extension, as in some Takeout exports
    q.write_bytes(make_photo(tmp_path / "src.jpg", seed=5).read_bytes())
    assert read_media(q, q.name).info.format.name == "jpeg"


def test_truncated_jpeg_is_an_error(tmp_path):
    p = make_photo(tmp_path / "t.jpg", seed=6)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated JPEG"):
        read_media(p, p.name)


def test_jpeg_with_trailer_after_end_marker_is_fine(tmp_path):
    # e.g. motion photos: a video appended after the JPEG's end-of-image marker
    p = make_photo(tmp_path / "m.jpg", seed=7)
    p.write_bytes(p.read_bytes() + make_video())
    assert read_media(p, p.name).info.format.name == "jpeg"


def test_truncated_png_and_heic(tmp_path):
    png = make_photo(tmp_path / "t.png", seed=8, fmt="PNG")
    png.write_bytes(png.read_bytes()[:-20])
    with pytest.raises(MediaError, match="truncated PNG"):
        read_media(png, png.name)
    heic = make_photo(tmp_path / "t.heic", seed=9, fmt="HEIF")
    heic.write_bytes(heic.read_bytes()[:-100])
    with pytest.raises(MediaError, match="truncated"):
        read_media(heic, heic.name)


def test_garbage_with_photo_name_is_an_error_other_files_are_not_media(tmp_path):
    bad = tmp_path / "IMG_0002.JPG"
    bad.write_bytes(b"this is not a photo at all" * 10)
    with pytest.raises(MediaError, match="not a readable JPG"):
        read_media(bad, bad.name)
    notes = tmp_path / "README"
    notes.write_text("hello")
    with pytest.raises(NotMedia):
        read_media(notes, notes.name)


def test_empty_photo_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(MediaError, match="empty file"):
        read_media(p, p.name)


def test_dng_raw_metadata_via_exifread(tmp_path):
    # a DNG is a TIFF with camera tags; Pillow writes the TIFF structure
    p = make_photo(tmp_path / "raw.dng", seed=10, fmt="TIFF", taken=datetime(2018, 3, 4, 5, 6, 7),
                   offset="+02:00", make="Canon", model="Canon EOS R5", gps=(46.5, 6.6))
    info = read_media(p, p.name).info
    assert info.format.name == "dng"
    assert info.taken == datetime(2018, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    assert info.make == "Canon" and info.model == "Canon EOS R5"
    assert info.lat == pytest.approx(46.5, abs=1e-3)


def test_truncated_tiff(tmp_path):
    p = make_photo(tmp_path / "scan.tif", seed=11, fmt="TIFF")
    p.write_bytes(p.read_bytes()[:5000])
    with pytest.raises(MediaError, match="truncated TIFF"):
        read_media(p, p.name)


def test_mp4_metadata(tmp_path):
    p = tmp_path / "VID_1.mp4"
    p.write_bytes(make_video(created=datetime(2021, 5, 6, 7, 8, 9, tzinfo=timezone.utc), size=(1280, 720),
                             location="+37.7749-122.4194+010.000/"))
    info = read_media(p, p.name).info
    assert info.format.name == "mp4" and info.format.kind == "video"
    assert info.taken == datetime(2021, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert (info.width, info.height) == (1280, 720)
    assert (info.lat, info.lng, info.alt) == (37.7749, -122.4194, 10.0)


def test_mov_apple_keys_give_local_date_and_camera(tmp_path):
    p = tmp_path / "IMG_0001.MOV"
    p.write_bytes(make_video(brand=b"qt  ", moov_first=False, apple={
        "com.apple.quicktime.creationdate": "2022-08-01T18:30:00+0200",
        "com.apple.quicktime.location.ISO6709": "+48.8584+002.2945+035.000/",
        "com.apple.quicktime.make": "Apple",
        "com.apple.quicktime.model": "iPhone 13",
    }))
    info = read_media(p, p.name).info
    assert info.format.name == "mov"
    assert info.taken == datetime(2022, 8, 1, 18, 30, tzinfo=timezone(timedelta(hours=2)))
    assert (info.make, info.model) == ("Apple", "iPhone 13")
    assert info.lat == 48.8584


def test_truncated_video(tmp_path):
    data = make_video(moov_first=False)
    p = tmp_path / "cut.mp4"
    p.write_bytes(data[: len(data) - 300])
    with pytest.raises(MediaError):
        read_media(p, p.name)


def test_large_video_is_streamed(tmp_path, monkeypatch):
    import photosync.media.probe as probe

    monkeypatch.setattr(probe, "IN_MEMORY_LIMIT", 1000)
    data = make_video(payload=b"\x01" * 200_000, moov_first=False)
    p = tmp_path / "big.mp4"
    p.write_bytes(data)
    mf = read_media(p, p.name)
    assert mf.content_hash == "sha256:" + hashlib.sha256(data).hexdigest()
    assert mf.info.width == 1920


@pytest.mark.parametrize("name,expected", [
    ("IMG_20190704_142233.jpg", datetime(2019, 7, 4, 14, 22, 33)),
    ("PXL_20210612_101530123.jpg", datetime(2021, 6, 12, 10, 15, 30)),
    ("2019-07-04 14.22.33.jpg", datetime(2019, 7, 4, 14, 22, 33)),
    ("Screenshot_2021-03-05-10-11-12.png", datetime(2021, 3, 5, 10, 11, 12)),
    ("IMG-20190704-WA0001.jpg", datetime(2019, 7, 4)),
    ("VID_20200101_000001.mp4", datetime(2020, 1, 1, 0, 0, 1)),
    ("holiday 2018-12-25.jpg", datetime(2018, 12, 25)),
    ("DSC_0042.jpg", None),
    ("IMG_99999999.jpg", None),
    ("12345620190704.jpg", None),
])
def test_dates_in_file_names(name, expected):
    assert date_from_filename(name) == expected


def test_exif_date_edge_cases():
    assert parse_exif_date("0000:00:00 00:00:00") is None
    assert parse_exif_date("    :  :     :  :  ") is None
    assert parse_exif_date("2019:07:04 14:22:33", "+05:30") == datetime(
        2019, 7, 4, 14, 22, 33, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert parse_exif_date("2019:07:04 14:22:33", "garbage") == datetime(2019, 7, 4, 14, 22, 33)


def test_since_values():
    now = datetime(2024, 3, 10, 12, 0, tzinfo=timezone.utc)
    assert parse_since("last-week", now) == now - timedelta(weeks=1)
    assert parse_since("10d", now) == now - timedelta(days=10)
    assert parse_since("2024-01-31").date().isoformat() == "2024-01-31"
    with pytest.raises(ValueError, match="--since"):
        parse_since("sometime")


def test_struct_check_rejects_impossible_jpeg_segment(tmp_path):
    p = tmp_path / "x.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe0" + struct.pack(">H", 1) + b"\x00" * 100)
    with pytest.raises(MediaError, match="corrupt JPEG"):
        read_media(p, p.name)


def _peak_python_memory(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_large_files_are_hashed_in_chunks_and_probed_from_the_file(tmp_path):
    """Memory does not grow with the file: a 40 MB JPEG (a motion photo's
    trailer) and a 25 MB TIFF are never held whole."""
    import os

    from PIL import Image

    jpeg = make_photo(tmp_path / "motion.jpg", seed=12, taken=datetime(2021, 1, 2, 3, 4, 5), make="Google")
    jpeg.write_bytes(jpeg.read_bytes() + os.urandom(40 << 20))
    tiff = tmp_path / "scan.tif"
    Image.effect_noise((2900, 2900), 60).convert("RGB").save(tiff)
    for p in (jpeg, tiff):
        mf, peak = _peak_python_memory(functools.partial(read_media, p, p.name))
        assert peak < 8 << 20, f"{p.name}: {peak >> 20} MB held while reading a {p.stat().st_size >> 20} MB file"
        assert mf.content_hash == "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
        assert mf.info.look is not None and mf.info.problem is None
    assert read_media(jpeg, jpeg.name).info.taken == datetime(2021, 1, 2, 3, 4, 5)
    assert read_media(tiff, tiff.name).info.width == 2900


def test_a_large_jpeg_without_its_end_is_still_found_truncated(tmp_path):
    p = make_photo(tmp_path / "cut.jpg", seed=13)
    data = p.read_bytes()
    assert data.endswith(b"\xff\xd9")
    p.write_bytes(data[:-2] + b"\x00" * (20 << 20))  # scan data that never ends
    with pytest.raises(MediaError, match="truncated JPEG"):
        read_media(p, p.name)


def test_a_picture_too_large_to_decode_has_no_signature_and_says_so(tmp_path):
    from PIL import Image

    p = tmp_path / "panorama.png"
    Image.new("L", (6000, 6000), 128).save(p)  # 36 MP: a small file, a large picture
    mf = read_media(p, p.name)
    assert (mf.info.width, mf.info.height) == (6000, 6000)
    assert mf.info.look is None
    assert "too large to decode" in mf.info.problem and "6000x6000" in mf.info.problem


def test_a_file_view_reads_like_the_bytes_it_views():
    """The structural checks run on a FileView of a large file as on bytes."""
    import io
    import os

    from photosync.media.probe import CHUNK, FileView

    data = bytearray(os.urandom(3 * CHUNK + 17))
    for at in (0, CHUNK - 1, 2 * CHUNK - 2, len(data) - 2):  # markers across chunk boundaries
        data[at : at + 2] = b"\xff\xd9"
    data = bytes(data)
    view = FileView(io.BytesIO(data), len(data), data[:1000])
    assert len(view) == len(data)
    for start in (0, 5, CHUNK, 2 * CHUNK - 1, len(data) - 1):
        assert view.find(b"\xff\xd9", start) == data.find(b"\xff\xd9", start)
        assert view.rfind(b"\xff\xd9", start) == data.rfind(b"\xff\xd9", start)
        assert view[start : start + 9] == data[start : start + 9] and view[start] == data[start]
    assert view.rfind(b"\xff\xd9", 0, len(data) - 1) == data.rfind(b"\xff\xd9", 0, len(data) - 1)
    assert view[-3:] == data[-3:] and view[len(data) + 5 :] == b""
