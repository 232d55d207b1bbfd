"""photosync derive: thumbnails and tier copies of photos, videos and a RAW file, through the real
command, into a local store and an S3 store on moto (issue 16)."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from helpers import git_status, open_lib
from photosync.renditions import read_rendition, renditions, thumbnail
from photosync.sample import make_photo


def _jpeg(path: Path, size=(640, 480), orientation: int | None = None, gps=None, taken=None, seed=1):
    from photosync.sample import draw_picture, exif_bytes

    im = draw_picture(seed, size)
    exif = Image.Exif()
    exif.load(exif_bytes(taken or datetime(2020, 5, 1, 10, 0), None, gps, "Apple", "iPhone XS"))
    if orientation:
        exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "JPEG", exif=exif.tobytes(), quality=90)
    return path


def _video(path: Path, size=(320, 240), frames=3):
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            im = Image.new("RGB", size, (200, 30 + i * 40, 40))
            for packet in stream.encode(av.VideoFrame.from_image(im)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _library(tmp_path, cli, pics: Path) -> Path:
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "discover")
    cli("-L", str(lib), "replicate", "--execute")
    return lib


def _photo(lib: Path, name: str):
    opened, _ = open_lib(lib, write=False)
    try:
        return opened.get_photo(opened.find_photo(name))
    finally:
        opened.close()


def _stores(lib: Path):
    from photosync.phases.common import make_stores

    opened, _ = open_lib(lib, write=False)
    try:
        return make_stores(opened)
    finally:
        opened.close()


def test_thumbnails_of_photos_and_a_video_are_upright_small_and_carry_no_metadata(tmp_path, cli):
    pics = tmp_path / "pics"
    _jpeg(pics / "turned.jpg", size=(640, 480), orientation=6, gps=(48.85, 2.29))  # shown 480 x 640
    _jpeg(pics / "wide.jpg", size=(1600, 800), seed=2)
    _video(pics / "clip.mp4")
    lib = _library(tmp_path, cli, pics)

    r = cli("-L", str(lib), "derive", "thumbnails", check=0)
    assert "made 9 renditions of 3 photos" in r.out
    assert git_status(lib) == ""
    stores = _stores(lib)

    turned = _photo(lib, "turned.jpg")
    assert [x.name for x in renditions(turned)] == ["thumb-200", "thumb-600", "thumb-1200"]
    small = read_rendition(thumbnail(turned, 200), stores)
    im = Image.open(io.BytesIO(small))
    assert im.format == "WEBP" and im.size == (150, 200)  # upright: portrait, long edge 200
    assert not im.getexif() and "exif" not in im.info and "xmp" not in im.info  # no GPS, nothing
    assert b"GPS" not in small
    # a picture smaller than a size is not enlarged
    assert thumbnail(turned, 1200).width == 480 and thumbnail(turned, 1200).height == 640

    wide = _photo(lib, "wide.jpg")
    assert {x.name: (x.width, x.height) for x in renditions(wide)} == {
        "thumb-200": (200, 100), "thumb-600": (600, 300), "thumb-1200": (1200, 600)}

    clip = _photo(lib, "clip.mp4")
    frame = Image.open(io.BytesIO(read_rendition(thumbnail(clip, 200), stores))).convert("RGB")
    assert frame.size == (200, 150)
    red, green, blue = frame.getpixel((100, 75))
    assert red > 150 and blue < 100  # the first frame's colour

    # the keys sit beside the originals, in the store
    original = turned.blobs["local"].locator
    copy = thumbnail(turned, 200).copies["local"]
    assert copy.locator.startswith(original.rsplit(".", 1)[0] + ".thumb-200.")
    assert (stores["local"].root / copy.locator).is_file()

    # nothing to do the second time; status sees them
    r = cli("-L", str(lib), "derive", "thumbnails", check=0)
    assert "every photo has its thumbnails" in r.out
    status = cli("-L", str(lib), "status", "--json", check=0).json
    assert status["renditions"]["thumb-200"] == {"photos": 3, "bytes": status["renditions"]["thumb-200"]["bytes"],
                                                 "stale": 0}


def test_a_changed_size_makes_only_that_size_and_audit_checks_renditions(tmp_path, cli):
    pics = tmp_path / "pics"
    for i in range(3):
        _jpeg(pics / f"p{i}.jpg", size=(900, 600), seed=i + 1)
    lib = _library(tmp_path, cli, pics)
    cli("-L", str(lib), "derive", "thumbnails", check=0)
    before = {x.name: x for x in renditions(_photo(lib, "p0.jpg"))}

    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["derived"] = {"thumbnails": {"sizes": [200, 400, 1200]}}
    prefs_path.write_text(json.dumps(prefs, indent=2))
    r = cli("-L", str(lib), "derive", "thumbnails", "--dry-run", check=0)
    assert "3 renditions of 3 photos" in r.out and "thumb-400" in r.out and "thumb-200" not in r.out
    r = cli("-L", str(lib), "derive", "thumbnails", check=0)
    assert "made 3 renditions of 3 photos" in r.out
    after = {x.name: x for x in renditions(_photo(lib, "p0.jpg"))}
    assert after["thumb-200"] == before["thumb-200"] and after["thumb-1200"] == before["thumb-1200"]
    assert after["thumb-400"].width == 400

    # a damaged thumbnail is found by audit --blobs and made again by derive
    stores = _stores(lib)
    damaged = stores["local"].root / after["thumb-400"].copies["local"].locator
    damaged.chmod(0o644)
    damaged.write_bytes(b"not a thumbnail")
    r = cli("-L", str(lib), "audit", "--blobs")
    assert r.code == 1 and "derive thumbnails" in r.out and "thumb-400" in r.out
    # recorded bad: not offered to readers until it is made again
    assert "thumb-400" not in [x.name for x in renditions(_photo(lib, "p0.jpg"))]
    assert _photo(lib, "p0.jpg").renditions["thumb-400"].copies["local"].problem
    r = cli("-L", str(lib), "derive", "thumbnails", check=0)
    assert "made 1 rendition of 1 photo" in r.out
    assert cli("-L", str(lib), "audit", "--blobs", check=0)


def test_a_photo_that_cannot_be_decoded_is_named_and_a_missing_original_is_a_gap(tmp_path, cli):
    pics = tmp_path / "pics"
    _jpeg(pics / "good.jpg")
    _jpeg(pics / "gone.jpg", seed=3)
    # an AVI whose structure is intact (discover records it) and whose frame no decoder can read
    from videobuild import make_avi

    (pics / "broken.avi").write_bytes(make_avi(payload=b"\x13" * 64))
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "discover")
    # the original of gone.jpg is nowhere: no store copy (replicate not run), and its file removed
    (pics / "gone.jpg").unlink()
    r = cli("-L", str(lib), "derive", "thumbnails")
    assert r.code == 1
    assert "gone.jpg" in r.err and "original missing" in r.err
    assert "broken.avi" in r.err and "cannot be decoded" in r.err
    assert "made 3 renditions of 1 photo" in r.out
    assert "1 photo without a readable original" in r.out and "1 photo could not be decoded" in r.out
    assert git_status(lib) == ""
    assert [x.name for x in renditions(_photo(lib, "good.jpg"))] == ["thumb-200", "thumb-600", "thumb-1200"]
    # the rerun tries the two again, and only them
    r = cli("-L", str(lib), "derive", "thumbnails", "--dry-run", check=0)
    assert "2 photos" in r.out and "good.jpg" not in r.out


def test_thumbnails_go_to_an_s3_store_verified(tmp_path, cli, bucket, moto_endpoint):
    import boto3

    pics = tmp_path / "pics"
    _jpeg(pics / "a.jpg", size=(800, 600))
    _video(pics / "b.mp4")
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "store", "add", "offsite", "--type", "s3", "--bucket", bucket, "--prefix", "family",
        "--endpoint-url", moto_endpoint, "--region", "us-east-1", check=0)
    cli("-L", str(lib), "discover")
    cli("-L", str(lib), "replicate", "--execute")
    r = cli("-L", str(lib), "derive", "thumbnails", check=0)
    assert "6 in local, 6 in offsite" in r.out
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="family/")["Contents"]]
    assert sum(".thumb-" in k for k in keys) == 6
    a = _photo(lib, "a.jpg")
    t = a.renditions["thumb-600"]
    assert f"family/{t.copies['offsite'].locator}" in keys
    # read back from S3 alone (the local copy not asked)
    stores = _stores(lib)
    data = read_rendition(t, {"offsite": stores["offsite"]})
    assert Image.open(io.BytesIO(data)).size == (600, 450)
    assert cli("-L", str(lib), "audit", "--blobs", check=0)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_other_formats_are_rendered_too(tmp_path, cli, fmt):
    pics = tmp_path / "pics"
    make_photo(pics / f"x.{fmt.lower()}", seed=4, fmt=fmt, size=(500, 250), taken=datetime(2021, 1, 1))
    lib = _library(tmp_path, cli, pics)
    cli("-L", str(lib), "derive", "thumbnails", check=0)
    p = _photo(lib, f"x.{fmt.lower()}")
    assert (p.renditions["thumb-200"].width, p.renditions["thumb-200"].height) == (200, 100)


def test_a_raw_file_is_rendered_through_libraw(tmp_path, cli):
    from rawbuild import make_dng

    pics = tmp_path / "pics"
    pics.mkdir()
    (pics / "DSC_0001.dng").write_bytes(make_dng(256, 192))
    lib = _library(tmp_path, cli, pics)
    cli("-L", str(lib), "derive", "thumbnails", check=0)
    p = _photo(lib, "DSC_0001.dng")
    assert p.metadata.format == "dng"
    t = thumbnail(p, 200)
    assert (t.width, t.height) == (200, 150)
    im = Image.open(io.BytesIO(read_rendition(t, _stores(lib)))).convert("RGB")
    left, right = im.getpixel((30, 75)), im.getpixel((170, 75))
    assert left[0] > left[2] + 60 and right[2] > right[0] + 60  # red on the left, blue on the right


def _gps_of(data: bytes):
    exif = Image.open(io.BytesIO(data)).getexif()
    return exif.get_ifd(0x8825) or None


def test_tiers_over_ten_years_compress_older_photos_more_and_keep_the_originals(tmp_path, cli):
    from datetime import timedelta, timezone

    from photosync.phases import derive

    now = datetime.now()
    pics = tmp_path / "pics"
    ages = {"recent.jpg": 0.3, "two.jpg": 2, "five.jpg": 5, "nine.jpg": 9.5}
    for i, (name, years) in enumerate(ages.items()):
        _jpeg(pics / name, size=(1500, 1000), taken=now - timedelta(days=365.25 * years), gps=(46.5, 6.6), seed=i + 1)
    originals = {p.name: p.read_bytes() for p in pics.iterdir()}
    lib = _library(tmp_path, cli, pics)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["derived_tiers"] = {"format": "jpeg", "tiers": [
        {"name": "light", "under_years": 1, "quality": 90, "max_edge": 1200},
        {"name": "medium", "under_years": 3, "quality": 75, "max_edge": 800},
        {"name": "heavy", "quality": 60, "max_edge": 500, "keep_location": False},
    ]}
    prefs_path.write_text(json.dumps(prefs, indent=2))
    r = cli("-L", str(lib), "derive", "tiers", check=0)
    assert "made 4 renditions of 4 photos" in r.out
    stores = _stores(lib)
    got = {}
    for name in ages:
        t = _photo(lib, name).renditions["tier"]
        got[name] = (t.tier, t.long_edge)
        data = read_rendition(t, stores)
        exif = Image.open(io.BytesIO(data)).getexif()
        assert exif.get_ifd(0x8769).get(0x9003), name  # the date taken is kept
        assert exif.get(0x0112) == 1  # upright pixels, orientation reset
        assert (_gps_of(data) is not None) == (t.tier != "heavy"), name  # heavy drops the location
    assert got == {"recent.jpg": ("light", 1200), "two.jpg": ("medium", 800), "five.jpg": ("heavy", 500),
                   "nine.jpg": ("heavy", 500)}
    # the originals are untouched: same bytes in the folder, and in the store
    assert {p.name: p.read_bytes() for p in pics.iterdir()} == originals
    assert cli("-L", str(lib), "audit", "--blobs", check=0)
    status = cli("-L", str(lib), "status", "--json", check=0).json
    saved = sum(t["saved_bytes"] for t in status["tiers"].values())
    assert saved > 0 and set(status["tiers"]) == {"light", "medium", "heavy"}
    assert "saved" in cli("-L", str(lib), "status", check=0).out

    # nothing to do again; two years on, the photos that aged into another tier are made again
    assert "every photo has its tier copies" in cli("-L", str(lib), "derive", "tiers", check=0).out
    later = datetime.now(timezone.utc) + timedelta(days=365 * 2)
    opened, _ = open_lib(lib)
    try:
        plan = derive.make_plan(opened, ("tier",), now=later)
        assert sorted(j.label for j in plan.jobs) == ["recent.jpg", "two.jpg"]
        result = derive.execute(opened, plan)
        assert result.made == 2
    finally:
        opened.close()
    assert _photo(lib, "recent.jpg").renditions["tier"].tier == "medium"
    assert _photo(lib, "two.jpg").renditions["tier"].tier == "heavy"
    assert git_status(lib) == ""


def test_a_store_that_cannot_be_written_is_skipped_and_filled_on_the_next_run(tmp_path, cli):
    pics = tmp_path / "pics"
    _jpeg(pics / "a.jpg")
    _jpeg(pics / "b.jpg", seed=2)
    nas = tmp_path / "nas"
    nas.mkdir()
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "store", "add", "nas", "--type", "local", "--path", str(nas), check=0)
    cli("-L", str(lib), "discover")
    cli("-L", str(lib), "replicate", "--execute", check=0)
    nas.rename(tmp_path / "unmounted")  # the NAS goes away
    r = cli("-L", str(lib), "derive", "thumbnails")
    assert r.code == 1 and "store nas" in r.err
    assert "6 in local" in r.out and "in nas" not in r.out
    assert set(_photo(lib, "a.jpg").renditions["thumb-200"].copies) == {"local"}
    assert git_status(lib) == ""
    (tmp_path / "unmounted").rename(nas)
    r = cli("-L", str(lib), "derive", "thumbnails", check=0)
    assert "6 in nas" in r.out and "in local" not in r.out  # only what the NAS lacks
    assert set(_photo(lib, "a.jpg").renditions["thumb-200"].copies) == {"local", "nas"}


def test_a_video_tier_is_an_h264_mp4_at_the_tiers_bitrate_and_size(tmp_path, cli):
    import av

    pics = tmp_path / "pics"
    _video(pics / "clip.mp4", size=(320, 240), frames=12)
    original = (pics / "clip.mp4").read_bytes()
    lib = _library(tmp_path, cli, pics)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["derived_tiers"] = {"tiers": [{"name": "light", "quality": 90, "max_edge": 160, "video_kbps": 100}]}
    prefs_path.write_text(json.dumps(prefs, indent=2))
    r = cli("-L", str(lib), "derive", "tiers", check=0)
    assert "made 1 rendition of 1 photo" in r.out
    t = _photo(lib, "clip.mp4").renditions["tier"]
    assert (t.format, t.tier, t.width, t.height) == ("mp4", "light", 160, 120)
    assert "100k" in t.recipe
    out = tmp_path / "tier.mp4"
    out.write_bytes(read_rendition(t, _stores(lib)))
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in c.decode(stream)) == 12
    assert (pics / "clip.mp4").read_bytes() == original
    assert cli("-L", str(lib), "export", str(tmp_path / "phone"), "--derived", "tier", "--layout", "{filename}",
               check=0)
    assert (tmp_path / "phone/clip.mp4").read_bytes() == out.read_bytes()


def test_a_plan_read_in_chunks_asks_for_exactly_what_each_photo_lacks(tmp_path, cli, monkeypatch):
    """derive plans 500 photos at a time (their renditions read together, so a library of 100,000 is
    never held whole): across chunks, each photo's todo is its own — what is in place is not made
    again, what one photo lacks is not asked of its neighbours."""
    from photosync.phases import derive

    pics = tmp_path / "pics"
    for i in range(5):
        _jpeg(pics / f"p{i}.jpg", size=(900, 600), seed=i + 1, taken=datetime(2020, 5, 1 + i, 10, 0))
    lib = _library(tmp_path, cli, pics)
    cli("-L", str(lib), "derive", "thumbnails", check=0)
    prefs_path = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_path.read_text())
    prefs["derived"] = {"thumbnails": {"sizes": [200, 400, 1200]}}
    prefs_path.write_text(json.dumps(prefs, indent=2))
    # one photo (in the second chunk of two) also lost its 200-pixel thumbnail's copy
    opened, _ = open_lib(lib, write=False)
    try:
        p3 = next(opened.get_photo(pid) for pid in opened.photo_ids()
                  if opened.get_photo(pid).metadata.filename == "p3.jpg")
    finally:
        opened.close()
    monkeypatch.setattr(derive, "PLAN_CHUNK", 2)
    opened, _ = open_lib(lib, write=False)
    try:
        opened.index.db.execute("DELETE FROM renditions WHERE photo_id=? AND name='thumb-200'", (p3.photo_id,))
        plan = derive.make_plan(opened, ("thumbnail",))
        todos = {j.label: sorted(r.name for r, _stores in j.todo) for j in plan.jobs}
    finally:
        opened.close()
    assert todos == {"p0.jpg": ["thumb-400"], "p1.jpg": ["thumb-400"], "p2.jpg": ["thumb-400"],
                     "p3.jpg": ["thumb-200", "thumb-400"], "p4.jpg": ["thumb-400"]}
    assert plan.total == 5 and plan.in_place == 0 and plan.renditions == 6
    # photos that need the same share one todo
    assert len({id(j.todo) for j in plan.jobs}) == 2
