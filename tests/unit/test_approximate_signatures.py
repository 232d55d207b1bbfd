"""Approximate signatures (a camera's embedded thumbnail's, media/visual.py APPROXIMATE): they
say so in the record and in the index, they find the look-alikes the picture's own signature
would (a wider net: more room and probed keys), and a pair judged on one is never certain."""

from __future__ import annotations

import base64
import dataclasses

from photosync.conflicts import variants
from photosync.conflicts.family import CROWDED, Family
from photosync.library.index import Index
from photosync.media.visual import SIDE, Look, gradient_distance, quarters

from test_lookup_keys import _inst, _look, _photo

# contents of their own: what was computed for a content is cached by its hash (media/lookup.py)
H1, H2 = ("sha256:" + c * 64 for c in "ab")


def _sig(look: Look) -> str:
    return base64.b64encode(look.stored()).decode("ascii")


def test_an_approximate_signature_says_so_in_the_record_and_in_the_index(tmp_path):
    exact = Look.parse(_look(1))
    approx = Look(exact.pixels, exact.colour, approximate=True)
    assert Look.parse(_sig(approx)) == approx and Look.parse(_sig(exact)) == exact
    assert len(_sig(approx)) == len(_sig(exact)) == 348  # the record's pattern: 347 characters and one more
    photo = _photo(_inst("pics", "a.jpg", H1, _sig(approx)))
    index = Index(tmp_path / "index.db")
    assert not index.has_approximate()
    index.put_photos([(photo, "photos/a.json", None)])
    assert index.has_approximate()
    ((_h, _d, _i, approximate),) = index.own_looks(photo.photo_id)
    assert approximate
    index.close()
    # a new connection finds it too
    assert Index(tmp_path / "index.db").has_approximate()


def _copy_that_keeps_no_quarter(original: Look) -> Look | None:
    """A picture within the quality distance of ``original`` whose dHash shares none of its
    quarters: in each quarter, a bit whose pixel pair sat at the threshold is pushed across it (as
    a thumbnail's signature moves such bits), by nudging the 16x16 pixels under the pair's left
    pixel one level at a time."""
    px = bytearray(original.pixels)
    target = original.near_quarters()
    for pos in range(4):
        for _step in range(40):
            now = Look(bytes(px), original.colour)
            if quarters(now.dhash64())[pos] == target[pos]:
                break
            flip = quarters(original.dhash64())[pos] ^ target[pos]
            bit = 63 - ((3 - pos) * 16 + flip.bit_length() - 1)  # index of (y, x), row by row
            y, x = divmod(bit, 8)
            up = not (original.dhash64() >> (63 - bit)) & 1  # the bit is to be set: the left side brighter
            for row in (2 * y, 2 * y + 1):
                for col in range(-(-x * SIDE // 9), (x + 1) * SIDE // 9):
                    i = row * SIDE + col
                    px[i] = max(0, min(255, px[i] + (1 if up else -1)))
    copy = Look(bytes(px), original.colour)
    if quarters(copy.dhash64()) != target or gradient_distance(original, copy) > variants.QUALITY_DISTANCE:
        return None  # this picture's pairs could not be pushed alone: the caller tries another
    return copy


def test_a_copy_whose_dhash_keeps_no_quarter_of_an_approximate_original_is_found_both_ways(tmp_path):
    # a picture with a bit at the threshold in each quarter (and no flat quarter), pushed across
    for seed in range(3, 200):
        exact = Look.parse(_look(seed))
        near = exact.near_quarters()
        if any(n in (None, 0, 0xFFFF) for n in near) or any(q in (0, 0xFFFF) for q in quarters(exact.dhash64())):
            continue
        original = Look(exact.pixels, exact.colour, approximate=True)
        copy = _copy_that_keeps_no_quarter(original)
        if copy is not None:
            break
    else:
        raise AssertionError("no picture of the corpus's scenes could be made into such a copy")
    mine = _photo(_inst("camera", "IMG_1.JPG", H1, _sig(original)))
    other = dataclasses.replace(_photo(_inst("web", "small.jpg", H2, _sig(copy))),
                                photo_id="00000000-0000-5000-8000-000000000002")
    index = Index(tmp_path / "index.db")
    index.put_photos([(mine, "photos/a.json", None), (other, "photos/b.json", None)])

    def family(approximate) -> Family:
        return Family(lambda _pid: None, index.look_alikes, index.crowded_looks(CROWDED), approximate=approximate)

    # the plain keys miss the pair: the original's quarters are all one bit away
    assert family(lambda: False).look_alikes(other) == []
    # once the index holds approximate signatures, each search probes its least certain bits
    assert family(index.has_approximate).look_alikes(other) == [mine.photo_id]
    assert family(index.has_approximate).look_alikes(mine) == [other.photo_id]
    index.close()


def test_a_pair_judged_on_an_approximate_signature_is_asked_about_never_merged_by_a_policy():
    exact = Look.parse(_look(4))
    approx = Look(exact.pixels, exact.colour, approximate=True)
    when = "2019-07-04T10:00:00"
    a = variants.canonical_face(_photo(_inst("camera", "IMG_1.JPG", H1, _sig(exact), when, "exif")))
    b = variants.canonical_face(_photo(_inst("web", "IMG_1.jpg", H2, _sig(exact))))
    c = variants.canonical_face(_photo(_inst("camera", "IMG_1.JPG", H1, _sig(approx), when, "exif")))
    sure = variants.classify(a, b)
    assert sure is not None and sure.kind == "quality" and sure.certain
    unsure = variants.classify(c, b)
    assert unsure is not None and unsure.kind == "quality" and not unsure.certain
    assert "embedded thumbnail" in unsure.why
