"""The gallery's privacy gate as a property: over random libraries (levels, "friends"
audiences, services showing photos wider or narrower than their canonical level, albums
shared or not, dates, places), a public or friends build holds no trace of a photo its
audience may not see: every byte of the output is searched for the photo's id, content hash,
file name, caption, place, and any album or service name only hidden photos carry."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from galleryrecords import Spec, picture_hash, write
from helpers import open_lib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from photosync.gallery.build import build
from photosync.library.library import Library
from photosync.model import within
from photosync.privacy import allowed_audience

LEVELS = ("private", "friends", "public")
SHOWN = st.sampled_from((None, "private", "friends", "public"))
ALBUMS = ("Alpha-album", "Beta-album", "Gamma-album", "Delta-album")
SERVICES = ("svc-north", "svc-south", "svc-east")
#: the thumbnails each photo has (the lightbox takes the largest when none reaches 1200 px)
EDGES = (200, 400)


@st.composite
def specs(draw) -> list[Spec]:
    out = []
    for n in range(draw(st.integers(1, 8))):
        level = draw(st.sampled_from(LEVELS))
        services = draw(st.dictionaries(st.sampled_from(SERVICES), SHOWN, min_size=1, max_size=3))
        taken = draw(st.one_of(st.none(), st.builds(
            lambda y, m, d: f"{y}-{m:02d}-{d:02d}T12:00:00", st.integers(1990, 2026), st.integers(1, 12),
            st.integers(1, 28))))
        out.append(Spec(
            n + 1, level,
            friends_audience=draw(st.sampled_from((None, "family", "friends", "friends+family"))),
            taken=taken, caption=f"caption-{n + 1}-q", filename=f"file-{n + 1}-q.jpg",
            place=(10 + n + 0.123456, 20 + n + 0.654321), camera=f"cam-{n + 1}-q",
            albums=tuple(draw(st.sets(st.sampled_from(ALBUMS), max_size=2))), services=services))
    return out


def may_see(spec: Spec, audience: str) -> bool:
    fa = spec.friends_audience if spec.level == "friends" else None
    return within(audience, allowed_audience(spec.level, fa))


def traces(spec: Spec) -> list[str]:
    lat, lng = spec.place or (0, 0)
    return [spec.photo_id, spec.content_hash[7:], spec.filename or "", spec.caption or "", f"cam-{spec.n}-q",
            f"{lat:.5f}", f"{lng:.5f}", f"{lat:.4f}", f"{spec.n}-q", *(picture_hash(spec, e) for e in EDGES)]


def output_text(out: Path) -> str:
    parts = []
    for path in sorted(out.rglob("*")):
        parts.append(str(path.relative_to(out)))
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_no_trace_of_a_hidden_photo(photo_specs):
    tmp = Path(tempfile.mkdtemp(prefix="gallery-prop-"))
    try:
        root, _ = Library.init(tmp / "lib")
        write(root, photo_specs, thumbnails=EDGES)
        lib, _ = open_lib(root)
        try:
            for audience in ("public", "friends"):
                out = tmp / audience
                result = build(lib, out, audience, places=True)
                text = output_text(out)
                visible = [s for s in photo_specs if may_see(s, audience)]
                hidden = [s for s in photo_specs if not may_see(s, audience)]
                assert result.photos == len(visible)
                assert f'id="total">{len(visible)} photo' in (out / "index.html").read_text()
                for spec in hidden:
                    for trace in traces(spec):
                        assert trace not in text, (audience, spec, trace)
                seen_albums = {a for s in visible for a in s.albums}
                for album in set(ALBUMS) - seen_albums:
                    assert album not in text, (audience, album)
                seen_services = {svc for s in visible for svc, lv in s.services.items()
                                 if lv is not None and within(audience, s.friends_audience if lv == "friends"
                                                              and s.friends_audience else lv)}
                for service in set(SERVICES) - seen_services:
                    assert service not in text, (audience, service)
                for spec in visible:
                    assert spec.photo_id in text and picture_hash(spec, 200) in text
                # the pictures in the folder are the visible photos' thumbnails, and nothing else
                pictures = {p.stem for p in (out / "img").rglob("*.webp")} if visible else set()
                assert pictures == {picture_hash(s, e) for s in visible for e in EDGES}
                assert not (out / "dashboard.html").exists()
        finally:
            lib.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
