"""Every video container a camera or phone wrote, recognised by its content (issue 11
item 5): AVI, MPEG program stream, MPEG-TS, AVCHD M2TS/MTS, WMV (ASF), 3GP/3G2,
Matroska/WebM; their audio-only relatives are left alone."""

from __future__ import annotations

import hashlib

import pytest

from photosync.media.formats import sniff
from photosync.media.probe import probe_image, read_media
from videobuild import make_asf, make_avi, make_mkv, make_mpeg_ps, make_ts


def bmff(brand: bytes) -> bytes:
    from mp4build import make_video

    data = make_video()
    return data[:8] + brand + data[12:]  # the major brand of its ftyp box


CASES = [
    ("clip.avi", make_avi((720, 480)), "avi", (720, 480)),
    ("MVI_0001.AVI", make_avi((320, 240)), "avi", (320, 240)),
    ("movie.mpg", make_mpeg_ps(), "mpeg", (None, None)),
    ("broadcast.ts", make_ts(), "mpeg-ts", (None, None)),
    ("00001.MTS", make_ts(timecode=True), "m2ts", (None, None)),
    ("00002.m2ts", make_ts(timecode=True), "m2ts", (None, None)),
    ("party.wmv", make_asf(video=True), "wmv", (None, None)),
    ("phone.3gp", bmff(b"3gp4"), "3gp", None),
    ("phone.3g2", bmff(b"3g2a"), "3g2", None),
    ("holiday.mkv", make_mkv("matroska"), "mkv", (None, None)),
    ("screen.webm", make_mkv("webm"), "webm", (None, None)),
    ("no-extension", make_avi(), "avi", (640, 480)),
]


@pytest.mark.parametrize("name,data,fmt,dims", CASES, ids=[c[0] for c in CASES])
def test_video_containers_are_recognised_by_content_and_kept(tmp_path, name, data, fmt, dims):
    assert sniff(data[:4096], name).name == fmt
    path = tmp_path / name
    path.write_bytes(data)
    media = read_media(str(path), name)
    assert media.info.format.name == fmt and media.info.format.kind == "video"
    assert media.content_hash == "sha256:" + hashlib.sha256(data).hexdigest() and media.size == len(data)
    if dims is not None:
        assert (media.info.width, media.info.height) == dims
    assert probe_image(data, media.info.format).format.name == fmt


@pytest.mark.parametrize("name,data", [
    ("song.wma", make_asf(video=False)),           # ASF with only an audio stream
    ("album.mka", make_mkv("matroska")),           # Matroska audio
    ("notes.txt", b"G" + b"x" * 187 + b"G" + b"y" * 300),  # a text file that starts with a "G"
    ("riff.wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40),
])
def test_audio_and_look_alikes_are_not_videos(name, data):
    assert sniff(data[:4096], name) is None


def test_a_cut_short_avi_is_kept_with_a_warning(tmp_path):
    data = make_avi((640, 480), payload=b"\x01" * 4000)
    path = tmp_path / "cut.avi"
    path.write_bytes(data[:2000])
    media = read_media(str(path), "cut.avi")
    assert media.info.format.name == "avi" and "cut short" in (media.info.problem or "")


def test_files_an_older_photosync_ignored_are_read_again(tmp_path, cli):
    """An older photosync took an AVCHD .MTS clip for something that is not a photo and cached
    that verdict; this one reads such files again once, and records the clip."""
    from helpers import open_lib

    cam = tmp_path / "cam"
    cam.mkdir()
    clip = cam / "00001.MTS"
    clip.write_bytes(make_ts(packets=10, payload=b"\x05" * 900, timecode=True))
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "cam", "--type", "local", "--path", str(cam), check=0)
    library, _ = open_lib(lib)
    st = clip.stat()
    # what an older photosync that knew no MPEG-TS cached: "not a photo", from its reader
    library.index.db.execute(
        "INSERT OR REPLACE INTO scan_cache(service, item_id, fingerprint, content_hash, error, content_key, reader) "
        "VALUES(?,?,?,?,?,?,?)",
        ("cam", "00001.MTS", f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}", None, None, None, "0.1.0+reader.1"))
    library.close()
    cli("-q", "-L", str(lib), "discover", check=0)
    import json

    recs = [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]
    assert [r["metadata"]["filename"] for r in recs] == ["00001.MTS"]
    assert recs[0]["instances"]["cam"][0]["metadata"]["format"] == "m2ts"
