"""media/geostrip.py: a copy without its location, with the picture and the rest of the
metadata exactly as they were (what a public upload to Flickr sends)."""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from datetime import datetime, timezone

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from fakes.flickr.geo import file_location
from mp4build import box, full_box, make_video
from photosync.media.geostrip import CannotStrip, strip_location
from photosync.media.video import read_video_info
from photosync.sample import draw_picture, exif_bytes

GPS = (37.7749, -122.4194)
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
       b'exif:GPSLatitude="37,46.494N" exif:GPSLongitude="122,25.164W" dc:format="image/jpeg">'
       b'<exif:GPSAltitude>12/1</exif:GPSAltitude><dc:description>Ocean Beach</dc:description>'
       b'</rdf:Description></rdf:RDF></x:xmpmeta>')


def stripped(data: bytes, fmt: str) -> tuple[bytes, list[str]]:
    with tempfile.TemporaryFile() as f:
        f.write(data)
        removed = strip_location(f, fmt)
        return f.read(), removed


def exif_with_title(gps=GPS) -> bytes:
    """EXIF whose IFD0 has a tag after the GPS pointer (XPTitle, 0x9C9B): it must survive."""
    ex = Image.Exif()
    ex.load(exif_bytes(datetime(2020, 1, 2, 3, 4, 5), "+01:00", gps, "Apple", "iPhone XS"))
    ex[0x9C9B] = "A title".encode("utf-16-le") + b"\x00\x00"
    return ex.tobytes()


def jpeg(exif: bytes | None = None, xmp: bytes | None = None, seed: int = 3) -> bytes:
    out = io.BytesIO()
    draw_picture(seed, (160, 120)).save(out, "JPEG", quality=88, **({"exif": exif} if exif else {}))
    data = out.getvalue()
    if xmp:
        segment = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
        data = data[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + data[2:]
    return data


def scan_data(data: bytes) -> bytes:
    """Everything from the first start-of-scan marker on: the compressed picture."""
    return data[data.index(b"\xff\xda"):]


def test_jpeg_loses_gps_and_keeps_everything_else_byte_for_byte():
    original = jpeg(exif_with_title(), XMP)
    assert file_location(original) is not None
    out, removed = stripped(original, "jpeg")
    assert removed == ["EXIF GPS IFD", "XMP GPS"]
    assert len(out) == len(original) and scan_data(out) == scan_data(original)  # nothing moved, nothing re-encoded
    with Image.open(io.BytesIO(out)) as a, Image.open(io.BytesIO(original)) as b:
        assert a.tobytes() == b.tobytes()
        exif = a.getexif()
    assert dict(exif.get_ifd(0x8825)) == {} and 0x8825 not in exif
    assert exif[0x010F] == "Apple" and exif[0x0110] == "iPhone XS"
    assert exif[0x9C9B].startswith("A title".encode("utf-16-le"))  # the tag after the GPS pointer
    assert exif.get_ifd(0x8769)[0x9003] == "2020:01:02 03:04:05"
    assert b"<dc:description>Ocean Beach</dc:description>" in out and b"GPS" not in out
    assert file_location(out) is None  # another reader (Flickr's import, as the fake does it) finds none
    # coordinates are gone from the bytes, not just unreferenced
    base = original.index(b"Exif\x00\x00") + 6
    e = "<" if original[base:base + 2] == b"II" else ">"
    with Image.open(io.BytesIO(original)) as im:
        gps_at = base + im.getexif()[0x8825]  # the GPS IFD's offset
    (count,) = struct.unpack(e + "H", original[gps_at:gps_at + 2])
    values = [struct.unpack(e + "HHII", original[gps_at + 2 + 12 * k:gps_at + 14 + 12 * k]) for k in range(count)]
    lat_at = base + next(v for tag, typ, n, v in values if tag == 2)  # GPSLatitude: three rationals
    assert any(original[lat_at:lat_at + 24]) and not any(out[lat_at:lat_at + 24])
    assert not any(out[gps_at:gps_at + 6 + 12 * count])


def test_a_second_image_and_a_motion_photo_video_lose_theirs_too():
    tail_jpeg = jpeg(exif_bytes(None, None, (48.8584, 2.2945), "Apple", "depth"), seed=5)
    video = make_video(location="+48.8584+002.2945/", apple={"com.apple.quicktime.location.ISO6709": "+48.8584+002.2945+035.000/"})
    original = jpeg(exif_with_title()) + tail_jpeg + video
    out, removed = stripped(original, "jpeg")
    assert "video location" in removed and len(out) == len(original)
    tail = out[len(out) - len(video) - len(tail_jpeg):len(out) - len(video)]
    with Image.open(io.BytesIO(tail)) as im:
        assert dict(im.getexif().get_ifd(0x8825)) == {} and im.getexif()[0x010F] == "Apple"
    info = read_video_info(io.BytesIO(out[-len(video):]), len(video))
    assert info.lat is None and info.created is not None


def test_a_file_without_a_location_is_left_exactly_as_it_is():
    original = jpeg(exif_bytes(datetime(2020, 1, 2), None, None, "Canon", "EOS"))
    out, removed = stripped(original, "jpeg")
    assert removed == [] and out == original


def test_png_exif_and_xmp_with_valid_checksums():
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    buf = io.BytesIO()
    draw_picture(4, (80, 60)).save(buf, "PNG", exif=exif_with_title(), pnginfo=info)
    original = buf.getvalue()
    out, removed = stripped(original, "png")
    assert removed == ["PNG metadata"] and len(out) == len(original)
    pos = 8
    while pos < len(out):  # every chunk's CRC is right
        length, kind = struct.unpack(">I4s", out[pos:pos + 8])
        assert struct.unpack(">I", out[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(out[pos + 4:pos + 8 + length])
        pos += 12 + length
    with Image.open(io.BytesIO(out)) as a, Image.open(io.BytesIO(original)) as b:
        a.load()
        assert a.tobytes() == b.tobytes() and dict(a.getexif().get_ifd(0x8825)) == {}
        assert a.getexif()[0x010F] == "Apple"
    assert file_location(out) is None


def test_png_text_chunk_that_hides_gps_is_refused():
    exif = b"Exif\x00\x00" + exif_bytes(None, None, GPS, "Apple", "X")
    text = f"\nexif\n{len(exif):8d}\n{exif.hex()}\n"
    info = PngInfo()
    info.add_text("Raw profile type exif", text, zip=True)
    buf = io.BytesIO()
    draw_picture(4, (40, 30)).save(buf, "PNG", pnginfo=info)
    with pytest.raises(CannotStrip, match="Raw profile type exif"):
        stripped(buf.getvalue(), "png")


def test_tiff_and_heic():
    ex = exif_with_title()
    buf = io.BytesIO()
    draw_picture(6, (64, 48)).save(buf, "TIFF", exif=ex)
    out, removed = stripped(buf.getvalue(), "tiff")
    assert removed and len(out) == len(buf.getvalue())
    with Image.open(io.BytesIO(out)) as a, Image.open(io.BytesIO(buf.getvalue())) as b:
        assert a.tobytes() == b.tobytes() and dict(a.getexif().get_ifd(0x8825)) == {}
        assert a.getexif()[0x010F] == "Apple"
    import pillow_heif

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    draw_picture(6, (64, 48)).save(buf, "HEIF", exif=ex)
    out, removed = stripped(buf.getvalue(), "heic")
    assert removed == ["EXIF GPS IFD"] and len(out) == len(buf.getvalue())
    with Image.open(io.BytesIO(out)) as a:
        assert dict(a.getexif().get_ifd(0x8825)) == {} and a.getexif()[0x010F] == "Apple"


@pytest.mark.parametrize("brand", [b"isom", b"qt  "])
def test_video_location_atoms_and_keys(brand):
    original = make_video(brand=brand, location="+37.7749-122.4194/", apple={
        "com.apple.quicktime.location.ISO6709": "+37.7749-122.4194+010.000/",
        "com.apple.quicktime.make": "Apple",
        "com.apple.quicktime.creationdate": "2021-05-06T09:08:09+0200"})
    assert read_video_info(io.BytesIO(original), len(original)).lat == pytest.approx(37.7749)
    out, removed = stripped(original, "mov" if brand == b"qt  " else "mp4")
    assert removed == ["video location"] and len(out) == len(original)
    info = read_video_info(io.BytesIO(out), len(out))
    assert info.lat is None and info.make == "Apple"
    assert info.created == datetime(2021, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert out[out.index(b"mdat"):] == original[original.index(b"mdat"):]  # the video data is untouched
    assert b"37.7749" not in out and file_location(out) is None


def test_a_gps_track_or_gif_xmp_cannot_be_stripped_and_is_refused():
    sample_entry = struct.pack(">I4s6xH", 16, b"gpmd", 1)
    stsd = full_box(b"stsd", 0, struct.pack(">I", 1) + sample_entry)
    trak = box(b"trak", box(b"mdia", box(b"minf", box(b"stbl", stsd))))
    video = box(b"ftyp", b"isom" + b"\x00" * 4 + b"isom") + box(b"moov", trak) + box(b"mdat", b"\x00" * 64)
    with pytest.raises(CannotStrip, match="GPS track"):
        stripped(video, "mp4")
    buf = io.BytesIO()
    draw_picture(2, (32, 24)).convert("P").save(buf, "GIF")
    gif = buf.getvalue()
    gif = gif[:-1] + b"\x21\xff\x0bXMP DataXMP" + XMP + bytes(range(255, -1, -1)) + b"\x00" + gif[-1:]
    with pytest.raises(CannotStrip, match="GIF"):
        stripped(gif, "gif")
