"""photosync gallery build: what each audience's site holds (the privacy gate), the owner's
dashboard, and the output folder's rules.  The browser's view is tests/e2e/test_gallery_browser.py;
the gate over random libraries is tests/e2e/test_gallery_property.py."""

from __future__ import annotations

import json
import re

import pytest
from pathlib import Path

from galleryrecords import Spec, picture_hash, write
from helpers import git

from photosync.library.layout import photo_path

MIXED = [
    Spec(1, "public", caption="Beach at noon", albums=("Holiday",), place=(43.29512, 5.37442), camera="X100V",
         services={"pics": None, "flickr": "public"}),
    Spec(2, "private", caption="Passport scan", filename="passport.jpg", albums=("Papers",),
         place=(48.85661, 2.35222), taken="2018-03-09T10:00:00"),
    Spec(3, "friends", caption="Party", albums=("Holiday",), taken="2020-01-02T03:04:05",
         services={"pics": None, "flickr": "friends"}),
    Spec(4, "friends", friends_audience="family", caption="Grandma", albums=("Family only",),
         taken="2021-05-06T07:08:09", services={"flickr": "friends"}),
    Spec(5, "public", taken=None, caption="Old scan"),
]


def site_text(out: Path) -> str:
    """Every byte of the build, as text (file names included)."""
    parts = []
    for path in sorted(out.rglob("*")):
        parts.append(str(path.relative_to(out)))
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def grid_ids(page: Path) -> list[str]:
    return re.findall(r'data-id="([0-9a-f-]{36})"', page.read_text())


def build(cli, library: Path, out: Path, audience: str, *extra: str):
    return cli("-L", str(library), "gallery", "build", str(out), "--audience", audience, *extra)


def test_public_build_shows_public_photos_only(cli, library, tmp_path):
    write(library, MIXED, thumbnails=(200,))
    out = tmp_path / "site"
    r = build(cli, library, out, "public")
    assert r.code == 0, r.err
    assert "2 photos" in r.out
    text = site_text(out)
    for hidden in (MIXED[1], MIXED[2], MIXED[3]):
        assert hidden.photo_id not in text
        assert hidden.content_hash[7:] not in text
        assert hidden.caption not in text
    for name in ("passport", "Papers", "Family only", "48.85661", "2018", "2020", "2021"):
        assert name not in text, name
    assert MIXED[0].photo_id in text and MIXED[4].photo_id in text
    assert "Holiday" in text  # an album with a public photo in it
    assert "43.29512" not in text  # places are left out of a public build unless --places
    assert not (out / "dashboard.html").exists() and "dashboard" not in (out / "index.html").read_text()
    index = (out / "index.html").read_text()
    assert '<p class="count" id="total">2 photos</p>' in index
    # the public photo is linked where the public may see it, not to the owner's store
    assert "https://photos.example/flickr/1" in text and "file://" not in text
    # the pictures are the public photos' thumbnails, named by their own hash
    assert sorted(p.name for p in (out / "img").rglob("*.webp")) == sorted(
        picture_hash(s, 200) + ".webp" for s in (MIXED[0], MIXED[4]))


def test_a_thumbnail_that_cannot_be_read_is_named_and_the_build_goes_on(cli, library, tmp_path):
    write(library, MIXED, thumbnails=(200,))
    gone = next(library.rglob(f"*{picture_hash(MIXED[0], 200)}*"))
    gone.unlink()
    out = tmp_path / "site"
    r = build(cli, library, out, "public")
    assert r.code == 1  # a warning: something needs attention
    assert f"({MIXED[0].photo_id[:8]})" in r.err and "thumb-200" in r.err
    page = (out / "months" / "2019-07.html").read_text()
    assert f'data-id="{MIXED[0].photo_id}"' in page and '<span class="ph">2019-07-04</span>' in page
    assert sorted(p.name for p in (out / "img").rglob("*.webp")) == [picture_hash(MIXED[4], 200) + ".webp"]


def test_friends_build_shows_friends_and_public_but_not_family_only(cli, library, tmp_path):
    write(library, MIXED)
    out = tmp_path / "friends"
    assert build(cli, library, out, "friends", "--places").code == 0
    text = site_text(out)
    shown = {s.photo_id for s in MIXED if s.photo_id in text}
    assert shown == {MIXED[0].photo_id, MIXED[2].photo_id, MIXED[4].photo_id}
    assert "Grandma" not in text and "Family only" not in text and "Passport" not in text
    assert "43.29512" in text  # --places asked for them
    assert grid_ids(out / "months" / "2020-01.html") == [MIXED[2].photo_id]


def test_private_build_has_everything_and_the_dashboard(cli, library, tmp_path):
    write(library, MIXED)
    pid = MIXED[1].photo_id
    r = cli("-L", str(library), "visibility", "set", pid, "friends", "--reason", "show the family")
    assert r.code == 0, r.err
    out = tmp_path / "mine"
    assert build(cli, library, out, "private").code == 0
    text = site_text(out)
    assert all(s.photo_id in text for s in MIXED)
    assert "48.85661, 2.35222" in text  # the owner sees places
    dash = (out / "dashboard.html").read_text()
    assert '<p class="count" id="total">5 photos</p>' in dash
    assert "<tr><td>resolved</td><td class=\"n\">5</td></tr>" in dash
    # the visibility change is in the log, highlighted
    row = re.search(r'<tr class="visibility"><td>[0-9a-f]{10}</td><td>[^<]*</td><td>(visibility:[^<]*)</td>', dash)
    assert row, dash
    assert "<td>test: photos</td>" in dash  # other commits listed, not highlighted


def test_a_widening_committed_with_git_is_not_published(cli, library, tmp_path):
    write(library, MIXED)
    secret = MIXED[1]
    rel = photo_path(secret.photo_id, secret.taken)
    data = json.loads((library / rel).read_text())
    data["visibility"]["canonical"] = "public"
    (library / rel).write_text(json.dumps(data, indent=2))
    git(library, "commit", "-qam", "make it public")
    out = tmp_path / "site"
    r = build(cli, library, out, "public")
    assert secret.photo_id not in site_text(out)
    assert "narrowed" in r.err  # the library said what it did


def test_out_must_be_new_empty_or_an_earlier_build(cli, library, tmp_path):
    write(library, MIXED)
    out = tmp_path / "docs"
    out.mkdir()
    (out / "thesis.txt").write_text("mine")
    r = build(cli, library, out, "public")
    assert r.code == 2 and "not a gallery" in r.err
    assert (out / "thesis.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["thesis.txt"]
    # a private build, then a public one into the same folder: nothing of the first is left
    site = tmp_path / "site"
    assert build(cli, library, site, "private").code == 0
    assert build(cli, library, site, "public").code == 0
    text = site_text(site)
    assert MIXED[1].photo_id not in text and not (site / "dashboard.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no build folders left


def test_unknown_audience_is_refused(cli, library, tmp_path):
    r = build(cli, library, tmp_path / "x", "everyone")
    assert r.code == 2 and "--audience must be one of private, friends, public" in r.err
    assert not (tmp_path / "x").exists()


def test_a_hand_edit_that_widens_or_breaks_a_record_is_not_published(cli, library, tmp_path):
    write(library, MIXED)
    widened, broken = MIXED[1], MIXED[0]
    rel = photo_path(widened.photo_id, widened.taken)
    data = json.loads((library / rel).read_text())
    data["visibility"]["canonical"] = "public"  # not committed: a person's edit in the work tree
    (library / rel).write_text(json.dumps(data, indent=2))
    rel = photo_path(broken.photo_id, broken.taken)
    data = json.loads((library / rel).read_text())
    data["visibility"]["canonical"] = "everyone"  # fails the schema
    (library / rel).write_text(json.dumps(data, indent=2))
    out = tmp_path / "site"
    r = build(cli, library, out, "public")
    text = site_text(out)
    assert widened.photo_id not in text and "Passport" not in text
    assert broken.photo_id not in text and "Beach at noon" not in text  # unreadable: left out, not guessed
    assert "everyone" in r.err and r.code == 1  # both named by the library
    assert grid_ids(out / "months" / "undated.html") == [MIXED[4].photo_id]


@pytest.mark.parametrize("how", ["committed", "work tree"])
def test_a_family_only_photo_widened_outside_photosync_stays_out_of_the_friends_build(cli, library, tmp_path, how):
    write(library, MIXED)
    family = MIXED[3]  # friends, shared with family only
    rel = photo_path(family.photo_id, family.taken)
    data = json.loads((library / rel).read_text())
    data["visibility"]["canonical"] = "public"
    data["visibility"].pop("friends_audience", None)
    (library / rel).write_text(json.dumps(data, indent=2))
    if how == "committed":
        git(library, "commit", "-qam", "make it public")
    out = tmp_path / "friends"
    build(cli, library, out, "friends")
    text = site_text(out)
    assert family.photo_id not in text and "Grandma" not in text
    assert json.loads((library / rel).read_text())["visibility"].get("friends_audience") == "family"


@pytest.mark.parametrize("how", ["committed", "work tree"])
def test_a_family_only_photo_given_to_friends_outside_photosync_stays_out_of_the_friends_build(cli, library, tmp_path,
                                                                                               how):
    write(library, MIXED)
    family = MIXED[3]
    rel = photo_path(family.photo_id, family.taken)
    data = json.loads((library / rel).read_text())
    data["visibility"]["friends_audience"] = "friends+family"  # the level stays "friends"
    (library / rel).write_text(json.dumps(data, indent=2))
    if how == "committed":
        git(library, "commit", "-qam", "friends too")
    out = tmp_path / "friends"
    build(cli, library, out, "friends")
    text = site_text(out)
    assert family.photo_id not in text and "Grandma" not in text


def test_a_build_keeps_the_permissions_of_the_folder_it_replaces(cli, library, tmp_path):
    write(library, MIXED)
    out = tmp_path / "mine"
    out.mkdir()
    out.chmod(0o700)  # the owner's gallery, closed to the other users of the machine
    assert build(cli, library, out, "private").code == 0
    assert out.stat().st_mode & 0o777 == 0o700
    assert build(cli, library, out, "private").code == 0  # a rebuild too
    assert out.stat().st_mode & 0o777 == 0o700
