"""Renditions' pixels (photosync/media/render.py): colour through the ICC profile into sRGB, other
modes, orientation, sizes, and encodes that carry no metadata."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from photosync.media import render


def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def icc_swapping_red_and_blue() -> bytes:
    """An ICC v2 RGB display profile (matrix/TRC, linear curves) whose red primary is sRGB's blue and
    whose blue primary is sRGB's red: a pixel (255, 0, 0) in it is blue in sRGB.  Built from the ICC.1
    layout: a 128-byte header, a tag table, XYZ and curv tags."""
    # sRGB's primaries, D50-adapted, as in its ICC profile
    red, green, blue = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)
    white = (0.9642, 1.0, 0.8249)

    def xyz(v):
        return b"XYZ " + bytes(4) + b"".join(_s15(c) for c in v)

    curv = b"curv" + bytes(4) + struct.pack(">I", 0)  # identity
    tags = [(b"rXYZ", xyz(blue)), (b"gXYZ", xyz(green)), (b"bXYZ", xyz(red)), (b"wtpt", xyz(white)),
            (b"rTRC", curv), (b"gTRC", curv), (b"bTRC", curv),
            (b"desc", b"desc" + bytes(4) + struct.pack(">I", 5) + b"swap\0" + bytes(4 + 4 + 2 + 1 + 67))]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"none" + struct.pack(">I", 0x02100000) + b"mntr" + b"RGB " + b"XYZ "
              + bytes(12) + b"acsp" + bytes(4) + struct.pack(">I", 0) + bytes(8) + bytes(8) + struct.pack(">I", 0)
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + bytes(4) + bytes(16) + bytes(28))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def _jpeg(im, **kw) -> io.BytesIO:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95, **kw)
    buf.seek(0)
    return buf


def test_an_embedded_profile_is_converted_to_srgb():
    im = Image.new("RGB", (64, 48), (255, 0, 0))
    src = io.BytesIO()
    im.save(src, "PNG", icc_profile=icc_swapping_red_and_blue())
    src.seek(0)
    out = render.load(src, "png", "photo", 64)
    r, g, b = out.getpixel((10, 10))
    assert b > 200 and r < 60, (r, g, b)  # the profile's "red" is sRGB's blue
    assert "icc_profile" not in out.info
    # without a profile, the numbers are taken as sRGB
    plain = io.BytesIO()
    im.save(plain, "PNG")
    plain.seek(0)
    assert render.load(plain, "png", "photo", 64).getpixel((10, 10)) == (255, 0, 0)


def test_cmyk_and_grey_become_rgb_and_alpha_is_flattened_for_jpeg():
    cmyk = render.load(_jpeg(Image.new("CMYK", (40, 30), (0, 255, 255, 0))), "jpeg", "photo", 40)
    assert cmyk.mode == "RGB"
    r, g, b = cmyk.getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60
    grey = io.BytesIO()
    Image.new("I;16", (40, 30), 30000).save(grey, "PNG")
    grey.seek(0)
    assert render.load(grey, "png", "photo", 40).mode == "RGB"
    rgba = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    enc = render.encode(rgba, "jpeg", 80)
    assert Image.open(io.BytesIO(enc.data)).getpixel((5, 5)) == pytest.approx((255, 255, 255), abs=2)


def test_orientation_sizes_and_no_metadata():
    im = Image.new("RGB", (2600, 1950), (10, 200, 30))
    exif = Image.Exif()
    exif[0x0112] = 8  # turned 90 degrees
    exif.get_ifd(0x8825)[2] = (46.0, 30.0, 0.0)
    pic = render.load(_jpeg(im, exif=exif.tobytes()), "jpeg", "photo", 1200)
    assert pic.size[0] < pic.size[1]  # upright: portrait
    assert max(pic.size) >= 1200 and max(pic.size) < 2600  # decoded at a reduced DCT scale
    for edge in (1200, 600, 200):
        pic = render.fit(pic, edge)
        assert max(pic.size) == edge
        for fmt in ("webp", "jpeg"):
            enc = render.encode(pic, fmt, 80)
            back = Image.open(io.BytesIO(enc.data))
            assert back.size == pic.size and not back.getexif() and b"Exif" not in enc.data
    assert render.fit(pic, 5000) is pic  # never enlarged


def test_a_tier_keeps_dates_and_location_as_asked():
    im = Image.new("RGB", (80, 60), (10, 200, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Apple"
    exif.get_ifd(0x8769)[0x9003] = "2019:07:04 14:22:33"
    exif.get_ifd(0x8825)[1] = "N"
    src = _jpeg(im, exif=exif.tobytes())
    kept = Image.Exif()
    kept.load(render.kept_exif(src, keep_dates=True, keep_location=False))
    assert kept[0x0112] == 1 and kept[0x010F] == "Apple"
    assert kept.get_ifd(0x8769)[0x9003] == "2019:07:04 14:22:33" and not kept.get_ifd(0x8825)
    src.seek(0)
    kept.load(render.kept_exif(src, keep_dates=False, keep_location=True))
    assert not kept.get_ifd(0x8769) and kept.get_ifd(0x8825)[1] == "N"


def test_what_no_decoder_reads_is_a_render_error():
    with pytest.raises(render.RenderError, match="cannot be decoded"):
        render.load(io.BytesIO(b"\xff\xd8\xff\xe0 not really a jpeg"), "jpeg", "photo", 200)
    with pytest.raises(render.RenderError, match="cannot be decoded"):
        render.load(io.BytesIO(b"\x00\x00\x00\x18ftypisom" + bytes(64)), "mp4", "video", 200)


def test_a_jpeg_rendition_carries_no_comment_or_xmp_of_the_original():
    # a camera's or an editor's JPEG comment (COM) can say where or who; Pillow's JPEG encoder
    # writes the source's comment again unless told otherwise
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.3N"/>'
           b'</rdf:RDF></x:xmpmeta>')
    src = _jpeg(Image.new("RGB", (800, 600), (10, 200, 30)), comment=b"at home, 12 rue Exemple", xmp=xmp)
    pic = render.load(src, "jpeg", "photo", 600)
    for edge in (600, 200):
        pic = render.fit(pic, edge)
        for fmt in ("webp", "jpeg"):
            enc = render.encode(pic, fmt, 80)
            back = Image.open(io.BytesIO(enc.data))
            assert "comment" not in back.info and "xmp" not in back.info, (fmt, back.info)
            assert b"rue Exemple" not in enc.data and b"GPSLatitude" not in enc.data


def _portrait_phone_clip(path) -> None:
    """A 64x32 clip whose left half is white, stored with a 90-degree display matrix (as a phone
    records portrait): upright it is 32x64 with the white on top. PyAV cannot write the matrix, so
    the track header's matrix is set in the file's bytes (ISO 14496-12 tkhd, version 0)."""
    import av
    import numpy as np

    with av.open(str(path), "w", format="mp4") as out:
        out.metadata["creation_time"] = "2019-07-04T10:20:30.000000Z"
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 32, "yuv420p"
        a = np.zeros((32, 64, 3), np.uint8)
        a[:, :32] = 255
        for i in range(3):
            f = av.VideoFrame.from_ndarray(a, format="rgb24")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    b = bytearray(path.read_bytes())
    i = b.find(b"tkhd")
    m = i + 4 + 4 + 20 + 8 + 8
    b[m : m + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(b)


def _upright_white_on_top(im) -> None:
    g = im.convert("L")
    assert g.width < g.height, g.size
    assert g.getpixel((g.width // 2, g.height // 4)) > 200
    assert g.getpixel((g.width // 2, 3 * g.height // 4)) < 50


def test_portrait_video_thumbnail_and_tier_copy_come_out_upright(tmp_path):
    import av

    src = tmp_path / "portrait.mp4"
    _portrait_phone_clip(src)
    _upright_white_on_top(render.load(str(src), None, "video", None))
    dest = tmp_path / "tier.mp4"
    assert render.transcode(str(src), str(dest), None, 200) == (32, 64)
    with av.open(str(dest)) as c:
        assert c.metadata["creation_time"].startswith("2019-07-04T10:20:30")
        frame = next(c.decode(video=0))
        assert not (frame.rotation or 0) % 360  # upright in its pixels, no matrix left to apply
        _upright_white_on_top(frame.to_image())
