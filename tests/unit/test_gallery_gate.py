"""The gallery's privacy gate (photosync/gallery/collect.py ``shown``), level by level."""

from __future__ import annotations

import pytest

from photosync.gallery.collect import shown
from photosync.gallery.dashboard import is_visibility_change


@pytest.mark.parametrize("canonical, friends_audience, widened_from, expected", [
    # canonical level and friends audience -> (private build, friends build, public build)
    ("private", None, None, (True, False, False)),
    ("friends", None, None, (True, True, False)),
    ("friends", "friends", None, (True, True, False)),
    ("friends", "friends+family", None, (True, True, False)),
    ("friends", "family", None, (True, False, False)),  # shared with family only: not friends
    ("public", None, None, (True, True, True)),
    # widened outside photosync: the older level counts
    ("public", None, "private", (True, False, False)),
    ("public", None, "friends", (True, True, False)),
    ("friends", "family", "friends", (True, False, False)),
    ("public", None, "friends/family", (True, False, False)),  # the older "friends" audience kept too
    ("friends", "friends+family", "friends/family", (True, False, False)),
    # a level no schema allows: shown to nobody, not even in the owner's build
    ("everyone", None, None, (False, False, False)),
])
def test_who_sees_what(canonical, friends_audience, widened_from, expected):
    got = tuple(shown(a, canonical, friends_audience, widened_from) for a in ("private", "friends", "public"))
    assert got == expected


def test_an_unknown_audience_is_refused():
    with pytest.raises(ValueError):
        shown("everyone", "public")


@pytest.mark.parametrize("subject, highlighted", [
    ("visibility: 1 photo set to public", True),
    ("library: narrowed 2 photos back that a commit outside photosync had widened", True),
    ("audit: narrowed 3 copies to the photos' canonical visibility (--fix)", True),
    ("audit: 2 blob copies failed verification", False),
    ("discover: 132 new photos from pictures", False),
])
def test_visibility_changes_are_highlighted(subject, highlighted):
    assert is_visibility_change(subject) == highlighted
