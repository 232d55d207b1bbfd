"""Tags compared as Flickr compares them (issue 11 item 8): a copy's raw tag and another's clean
form agree ("Black & White" and "blackwhite"), different tags still disagree, and the conflict's
description reads well."""

from __future__ import annotations

import dataclasses

from photosync.conflicts.detect import metadata_mismatches
from photosync.model import Metadata
from test_resolve import photo_with_copies


def conflicts(tags_a, tags_b):
    md = Metadata(taken_date="2019-07-04T14:22:33", taken_date_source="exif", filename="x.jpg", tags=tags_a)
    other = dataclasses.replace(md, tags=tags_b)
    return metadata_mismatches(photo_with_copies([("pics", "x.jpg", md, None), ("flickr", "1", other, None)],
                                                 canonical=md))


def test_raw_and_clean_forms_of_a_tag_agree():
    assert conflicts(("Black & White", "St. Louis", "Café"), ("blackwhite", "stlouis", "café")) == []
    assert conflicts(("new-york",), ("New York",)) == []


def test_different_tags_disagree_and_say_so_in_english():
    (c,) = conflicts(("Black & White",), ("Black and White",))
    assert c.id == "metadata_mismatch:tags" and c.description == "different tags across copies"
