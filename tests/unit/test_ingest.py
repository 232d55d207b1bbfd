"""media.ingest: one reading for a path, an open file and a stream, and what a file says as Metadata."""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import datetime

import pytest

from photosync.errors import MediaError, NotMedia
from photosync.media.ingest import ingest, metadata_from_probe
from photosync.sample import make_photo


def test_a_path_an_open_file_and_a_pipe_are_read_alike(tmp_path):
    p = make_photo(tmp_path / "IMG_1.jpg", seed=1, taken=datetime(2020, 1, 2, 3, 4, 5), gps=(48.85, 2.35),
                   make="Canon", model="EOS 5D")
    data = p.read_bytes()
    by_path = ingest(p)
    with open(p, "rb") as f:
        f.read(100)  # wherever the file stands, it is read from its start
        by_file = ingest(f, "IMG_1.jpg")
    cat = subprocess.Popen(["cat", str(p)], stdout=subprocess.PIPE)  # a stream that cannot seek
    try:
        by_pipe = ingest(cat.stdout, "IMG_1.jpg")
    finally:
        cat.stdout.close()
        cat.wait()
    assert by_path == by_file == by_pipe
    assert by_path.content_hash == "sha256:" + hashlib.sha256(data).hexdigest() and by_path.size == len(data)
    assert by_path.info.look is not None


def test_a_large_stream_is_probed_from_the_file_in_bounded_memory(tmp_path):
    """Above IN_MEMORY_LIMIT the stream keeps only its start in memory (a motion photo's video
    trailer after the JPEG) and is probed from the file: the same answer as the path's."""
    p = make_photo(tmp_path / "motion.jpg", seed=2, taken=datetime(2021, 6, 7, 8, 9, 10))
    p.write_bytes(p.read_bytes() + os.urandom(20 << 20))
    import tracemalloc

    with open(p, "rb") as f:
        tracemalloc.start()
        try:
            got = ingest(f, "motion.jpg")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 8 << 20, f"{peak >> 20} MB held while reading a 20 MB stream"
    assert got == ingest(p)
    assert got.info.taken == datetime(2021, 6, 7, 8, 9, 10)


def test_verdicts_are_the_same_for_a_stream(tmp_path):
    import io

    with pytest.raises(MediaError, match="empty file"):
        ingest(io.BytesIO(b""), "x.jpg")
    with pytest.raises(MediaError, match="not a readable JPG file"):
        ingest(io.BytesIO(b"plain text, not a photo"), "x.jpg")
    with pytest.raises(NotMedia):
        ingest(io.BytesIO(b"plain text, not a photo"), "notes.txt")
    cut = make_photo(tmp_path / "cut.jpg", seed=3).read_bytes()[:-2000]
    with pytest.raises(MediaError, match="truncated JPEG"):
        ingest(io.BytesIO(cut), "cut.jpg")


def test_what_a_file_says_becomes_metadata_with_its_sources(tmp_path):
    p = make_photo(tmp_path / "IMG_2.jpg", seed=4, taken=datetime(2019, 7, 4, 14, 22, 33), offset="+02:00",
                   gps=(40.0, -3.5), make="NIKON", model="D750", caption="Plaza")
    md = metadata_from_probe(ingest(p).info, filename="IMG_2.jpg")
    assert md.taken_date == "2019-07-04T14:22:33+02:00" and md.taken_date_source == "exif"
    assert (md.location.lat, md.location.lng) == (40.0, -3.5) and md.location_source == "exif"
    assert (md.camera_info.make, md.camera_info.model) == ("NIKON", "D750")
    assert (md.width, md.height, md.format, md.media_type) == (640, 480, "jpeg", "photo")
    assert md.caption == "Plaza" and md.filename == "IMG_2.jpg"
    bare = metadata_from_probe(ingest(make_photo(tmp_path / "bare.png", seed=5, fmt="PNG")).info)
    # nothing guessed: no date from a name or an mtime here (that is the folder connector's fall-back)
    assert bare.taken_date is None and bare.taken_date_source is None and bare.location is None
    assert bare.format == "png" and bare.filename is None
