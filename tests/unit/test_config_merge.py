"""Config files merged across machines (library/remotes.py merge_config): two different changes of a
setting that decides who sees photos keep the narrower one, never the wider."""

from __future__ import annotations

from photosync.library.remotes import merge_config


def _merged(base, a, b):
    notes: list[str] = []
    out = merge_config(base, a, b, "config/services.json", notes)
    return out, notes


def test_two_changes_of_a_services_friends_audience_keep_the_narrower():
    base = {"flickr": {"type": "flickr", "friends_audience": "friends"}}
    family = {"flickr": {"type": "flickr", "friends_audience": "family"}}
    both = {"flickr": {"type": "flickr", "friends_audience": "friends+family"}}
    for a, b in ((family, both), (both, family)):
        out, notes = _merged(base, a, b)
        assert out["flickr"]["friends_audience"] == "family"
        assert notes and "friends_audience" in notes[0]


def test_two_changes_of_default_visibility_keep_the_narrower():
    out = merge_config({"default_visibility": "friends"}, {"default_visibility": "public"},
                          {"default_visibility": "private"}, "config/user-preferences.json", [])
    assert out["default_visibility"] == "private"
