"""Renditions' pixels: an original (photo, RAW, video) decoded upright in sRGB, then resized and
encoded without its metadata (thumbnails) or with the EXIF a tier keeps.

Pillow for pictures (pillow-heif for HEIF), rawpy (LibRaw) for RAW files, PyAV (FFmpeg) for a
video's frame; all imported where used, so a command that renders nothing loads none of them.
Decoding is the cost: a JPEG is decoded at the smallest DCT scale that still covers the largest
size asked (``Image.draft``: 1/2 for 1200 px of a 12 MP frame), a RAW file gives its embedded
preview when that is large enough, and every size of one original comes from one decode.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Any

from .formats import RAW_FORMATS


class RenderError(Exception):
    """The original cannot be decoded into a picture (named by the caller, which skips it)."""


@dataclass(frozen=True)
class Encoded:
    data: bytes
    width: int
    height: int
    format: str  # "webp" | "jpeg" (a video's tier: render.transcode writes an mp4 file)


_heif = False


def _register_heif() -> None:
    global _heif
    if not _heif:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif = True


def load(source: IO[bytes] | str, fmt: str | None, media_type: str | None, max_edge: int | None) -> Any:
    """The picture of an original (a PIL image in RGB or RGBA, upright, sRGB), decoded at no less
    than ``max_edge`` pixels on its long edge where the decoder can shrink while it decodes
    (None: full size).  ``source`` is a seekable file or a path.  Raises RenderError."""
    try:
        if media_type == "video" or fmt in _VIDEO_FORMATS:
            im = _video_frame(source)
        elif fmt in RAW_FORMATS:
            im = _raw(source, max_edge)
        else:
            im = _picture(source, max_edge)
        return _to_srgb(im)
    except RenderError:
        raise
    except MemoryError:
        raise RenderError("cannot be decoded (too large for memory)") from None
    except Exception as e:  # any decoder's own error: the file is named and skipped by the caller
        raise RenderError(f"cannot be decoded ({type(e).__name__}: {e})") from None


_VIDEO_FORMATS = frozenset({"mp4", "mov", "3gp", "3g2", "avi", "mpeg", "mpeg-ts", "m2ts", "wmv", "mkv", "webm"})


def _picture(source, max_edge: int | None):
    from PIL import Image, ImageOps

    _register_heif()
    im = Image.open(source)
    if max_edge and im.format == "JPEG" and max(im.size) > max_edge:
        # decode at 1/2, 1/4 or 1/8 scale while the long edge still covers max_edge: draft keeps
        # both sides at least the box's, so the box has the picture's own aspect
        w, h = im.size
        long = max(w, h)
        im.draft("RGB", (-(-max_edge * w // long), -(-max_edge * h // long)))
    im.load()
    return ImageOps.exif_transpose(im)


def _raw(source, max_edge: int | None):
    import rawpy
    from PIL import Image, ImageOps

    raw = rawpy.imread(source)  # a path or a file object
    try:
        try:
            thumb = raw.extract_thumb()
        except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
            thumb = None
        if thumb is not None and thumb.format == rawpy.ThumbFormat.JPEG:
            im = Image.open(io.BytesIO(bytes(thumb.data)))
            if max_edge and max(im.size) >= max_edge:
                im.load()
                return ImageOps.exif_transpose(im)
        # LibRaw's own demosaic, at half size when that still covers max_edge (4x less work)
        half = bool(max_edge) and min(raw.sizes.width, raw.sizes.height) // 2 >= (max_edge or 0)
        rgb = raw.postprocess(use_camera_wb=True, half_size=half, output_bps=8, no_auto_bright=False)
        return Image.fromarray(rgb)  # LibRaw applies the orientation (its "flip") itself
    finally:
        raw.close()


def _video_frame(source):
    import av

    with av.open(source) as container:
        stream = next((s for s in container.streams if s.type == "video"), None)
        if stream is None:
            raise RenderError("cannot be decoded (no video stream)")
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            im = frame.to_image()
            rotation = getattr(frame, "rotation", 0) or 0  # display matrix (PyAV >= 13)
            if rotation % 360:
                im = im.rotate(rotation, expand=True)
            return im
    raise RenderError("cannot be decoded (no frame could be read)")


_SRGB: Any = None


def _to_srgb(im):
    """RGB or RGBA in sRGB: an embedded ICC profile converted (LittleCMS through ImageCms), every
    other mode converted by Pillow (CMYK, palette, 16-bit grey, ...)."""
    from PIL import Image, ImageCms

    global _SRGB
    icc = im.info.get("icc_profile")
    alpha = "A" in im.getbands() or (im.mode == "P" and "transparency" in im.info)
    if icc and im.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            if _SRGB is None:
                _SRGB = ImageCms.createProfile("sRGB")
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(im, src, _SRGB, outputMode=out_mode)
            if converted is not None:
                im = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a damaged profile: the pixels as they are
    if im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if alpha else "RGB")
    im.info.pop("icc_profile", None)
    return im if isinstance(im, Image.Image) else im


def fit(im, edge: int | None):
    """``im`` shrunk so its long edge is at most ``edge`` (never enlarged)."""
    from PIL import Image

    if not edge or max(im.size) <= edge:
        return im
    w, h = im.size
    scale = edge / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # reducing_gap: a box reduction first, then Lanczos on the last 2x (Pillow's documented
    # speed/quality trade; visually the same as a full Lanczos at thumbnail sizes)
    return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def encode(im, fmt: str, quality: int, exif: bytes | None = None) -> Encoded:
    """``im`` as ``fmt`` (webp or jpeg) at ``quality``, with ``exif`` (None: no metadata at all)."""
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"quality": int(quality)}
    if exif:
        kwargs["exif"] = exif
    if fmt == "webp":
        # method 4 is libwebp's default trade of speed for size (cwebp -m 4)
        im.save(buf, "WEBP", method=4, **kwargs)
    elif fmt == "jpeg":
        if im.mode == "RGBA":  # JPEG has no alpha: flatten on white
            from PIL import Image

            flat = Image.new("RGB", im.size, (255, 255, 255))
            flat.paste(im, mask=im.getchannel("A"))
            im = flat
        # comment=b"": Pillow's JPEG encoder writes the source's COM comment again when none is
        # given (JpegImagePlugin._save reads im.info["comment"]), and a comment can say where or who
        im.save(buf, "JPEG", optimize=True, comment=b"", **kwargs)
    else:
        raise ValueError(f"unknown rendition format {fmt!r}")
    return Encoded(buf.getvalue(), im.size[0], im.size[1], fmt)


def kept_exif(source: IO[bytes] | str, keep_dates: bool, keep_location: bool, keep_camera: bool = True) -> bytes | None:
    """The original's EXIF for a re-encoded copy: orientation reset (the pixels are upright now),
    the dates and the GPS block kept or dropped as asked, maker notes and the thumbnail dropped."""
    from PIL import Image

    try:
        _register_heif()
        with Image.open(source) as im:
            exif = im.getexif()
    except Exception:
        return None
    if not exif:
        return None
    out = Image.Exif()
    for tag in (0x010F, 0x0110, 0x010E, 0x013B, 0x8298) if keep_camera else (0x010E,):
        if tag in exif:
            out[tag] = exif[tag]
    if keep_dates:
        if 0x0132 in exif:
            out[0x0132] = exif[0x0132]
        sub = exif.get_ifd(0x8769)
        if sub:
            new = out.get_ifd(0x8769)
            for tag in (0x9003, 0x9004, 0x9010, 0x9011, 0x9012, 0x9290, 0x9291, 0x9292):
                if tag in sub:
                    new[tag] = sub[tag]
    if keep_location:
        gps = exif.get_ifd(0x8825)
        if gps:
            new_gps = out.get_ifd(0x8825)
            for tag, value in gps.items():
                new_gps[tag] = value
    out[0x0112] = 1
    return out.tobytes()


def transcode(source: IO[bytes] | str, dest: str, max_edge: int | None, kbps: int, audio_kbps: int = 128,
              keep_dates: bool = True) -> tuple[int, int]:
    """A video re-encoded into an MP4 at ``dest``: H.264 (libx264) at ``kbps`` kilobits a second, its
    long edge at most ``max_edge``, its first audio stream as AAC; (width, height) of the result.
    Raises RenderError when it cannot be decoded or encoded."""
    try:
        return _transcode(source, dest, max_edge, kbps, audio_kbps, keep_dates)
    except RenderError:
        raise
    except Exception as e:  # FFmpeg's own errors (through PyAV)
        raise RenderError(f"cannot be decoded or re-encoded ({type(e).__name__}: {e})") from None


def _transcode(source, dest: str, max_edge: int | None, kbps: int, audio_kbps: int,
               keep_dates: bool = True) -> tuple[int, int]:
    import av

    with av.open(source) as inp:
        vin = next((s for s in inp.streams if s.type == "video"), None)
        if vin is None:
            raise RenderError("cannot be decoded (no video stream)")
        ain = next((s for s in inp.streams if s.type == "audio"), None)
        w, h = vin.codec_context.width, vin.codec_context.height
        if not w or not h:
            raise RenderError("cannot be decoded (no frame size)")
        scale = min(1.0, (max_edge or max(w, h)) / max(w, h))
        # H.264 in 4:2:0 wants even sides
        width, height = max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)
        with av.open(dest, "w", format="mp4") as out:
            created = inp.metadata.get("creation_time")
            if keep_dates and created:  # FFmpeg's mp4 muxer writes it into mvhd (measured)
                out.metadata["creation_time"] = created
            vout = out.add_stream("libx264", rate=vin.average_rate or 30)
            vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
            vout.bit_rate = int(kbps) * 1000
            aout = None
            if ain is not None and ain.codec_context.sample_rate:
                aout = out.add_stream("aac", rate=ain.codec_context.sample_rate)
                aout.bit_rate = int(audio_kbps) * 1000
            streams = [vin] + ([ain] if aout is not None else [])
            frames = 0
            for packet in inp.demux(*streams):
                for frame in packet.decode():
                    if packet.stream is vin:
                        frames += 1
                        # a phone's portrait video is landscape frames plus a display matrix; PyAV 18.1
                        # gives no way to write that matrix into the output (stream metadata "rotate" is
                        # dropped by FFmpeg 7's mp4 muxer, measured), so the frames themselves are turned
                        # upright while re-encoding, as the thumbnail does
                        rotation = (getattr(frame, "rotation", 0) or 0) % 360
                        if frames == 1 and rotation in (90, 270):
                            width, height = height, width
                            vout.width, vout.height = width, height
                        if rotation:
                            im = frame.to_image().rotate(rotation, expand=True).resize((width, height))
                            pts, tb = frame.pts, frame.time_base
                            frame = av.VideoFrame.from_image(im).reformat(format="yuv420p")
                            frame.pts, frame.time_base = pts, tb
                        else:
                            frame = frame.reformat(width=width, height=height, format="yuv420p")
                        for p in vout.encode(frame):
                            out.mux(p)
                    elif aout is not None:
                        frame.pts = None
                        for p in aout.encode(frame):
                            out.mux(p)
            for p in vout.encode():
                out.mux(p)
            if aout is not None:
                for p in aout.encode():
                    out.mux(p)
            if not frames:
                raise RenderError("cannot be decoded (no frame could be read)")
    return width, height
