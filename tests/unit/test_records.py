"""Records and schemas: round trips, and the fast validator agreeing with jsonschema."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photosync import records
from photosync.errors import InvalidRecord
from photosync.model import (
    BlobCopy,
    CameraInfo,
    Conflict,
    Instance,
    Location,
    Metadata,
    Photo,
    Resolution,
    Visibility,
)

H = "sha256:" + "0f" * 32
PID = "6f1c1c6e-4a8e-5b1e-9d0b-706f746f7301"
WHERE = f"photos/2019/07/{PID}.json"


def full_photo() -> Photo:
    md = Metadata(taken_date="2019-07-04T14:22:33+02:00", taken_date_source="exif", filename="IMG_1.jpg",
                  location=Location(37.7, -122.4, 12.5), tags=("beach", "sunset"), caption="Sunset",
                  camera_info=CameraInfo("Apple", "iPhone XS"), media_type="photo", format="jpeg",
                  width=4032, height=3024)
    inst = Instance(service="pictures", id="2019/IMG_1.jpg", content_hash=H, last_sync="2024-01-15T10:30:00Z",
                    size=123, metadata=md, visibility="friends", missing_since=None)
    return Photo(
        photo_id=PID, content_hash=H, canonical_source="pictures:2019/IMG_1.jpg", metadata=md,
        created_at="2024-01-15T10:30:00Z", updated_at="2024-01-16T09:15:00Z",
        source_of_truth_path="blobs/2019/07/x.jpg",
        instances={"pictures": (inst,)},
        visibility=Visibility("private", {"pictures": "friends"}, ()),
        blobs={"local": BlobCopy("local", "2019/07/x.jpg", 123, "2024-01-16T09:15:00Z")},
        processing_state="replicated",
        conflicts=(Conflict("metadata_mismatch:caption", "metadata_mismatch", "different captions", ("a", "b"),
                            True, "caption", {"a:1": "x", "b:2": "y"}),),
        resolutions=(Resolution("metadata_mismatch:tags", "manual", "2024-01-16T09:15:00Z", choice="combine",
                                value=["a", "b"], values_seen={"a:1": ["a"], "b:2": ["b"]}),),
    )


def test_round_trip_keeps_every_field():
    p = full_photo()
    data = records.photo_to_bytes(p, WHERE)
    back = records.photo_from_bytes(data, WHERE)
    assert back == p
    # the design's field order, created/updated last
    keys = list(json.loads(data))
    assert keys[:5] == ["schema_version", "photo_id", "content_hash", "canonical_source", "source_of_truth_path"]
    assert keys[-2:] == ["created_at", "updated_at"]


def test_file_name_must_match_the_id():
    data = records.photo_to_bytes(full_photo(), WHERE)
    with pytest.raises(InvalidRecord, match="does not match the file name"):
        records.photo_from_bytes(data, "photos/2019/07/another.json")


def test_errors_name_the_field():
    d = records.photo_to_dict(full_photo())
    d["instances"]["pictures"][0]["quality"] = "great"
    with pytest.raises(InvalidRecord) as e:
        records.validate("photo", d, WHERE)
    assert e.value.field == "instances.pictures[0].quality"
    assert WHERE in str(e.value)


SCHEMA = json.loads(records.schema_files()["photo-metadata.schema.json"])

# small changes a person (or a bug) might make to a valid record
_paths = [
    ("processing_state",), ("visibility", "canonical"), ("metadata", "taken_date"), ("metadata", "location"),
    ("metadata", "tags"), ("instances",), ("content_hash",), ("photo_id",), ("conflicts",), ("blobs",),
    ("metadata", "camera_info"), ("schema_version",), ("canonical_source",),
]
_values = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, width=32),
    st.text(max_size=12), st.lists(st.text(max_size=4), max_size=3),
    st.sampled_from(["private", "public", "everyone", "2019-07-04T14:22:33", "sha256:abc", {"lat": 1}]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_paths), _values), min_size=1, max_size=3), st.booleans())
def test_fast_validator_agrees_with_jsonschema(mutations, drop):
    d = copy.deepcopy(records.photo_to_dict(full_photo()))
    for path, value in mutations:
        target = d
        for key in path[:-1]:
            target = target[key]
        if drop:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
    reference_ok = jsonschema.Draft202012Validator(SCHEMA).is_valid(d)
    try:
        records.validate("photo", d, WHERE)
        ours_ok = True
    except InvalidRecord:
        ours_ok = False
    assert ours_ok == reference_ok
