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


# -- secret-looking keys in config files --------------------------------------------------------------

def _keys_photosync_writes() -> dict[str, dict]:
    """Config files with every key photosync writes today (and the README's examples)."""
    from photosync.connectors.flickr import DEFAULT_ENDPOINTS
    from photosync.library.config import DEFAULT_PREFERENCES, DEFAULT_SYNC_STATE

    services = {
        "pictures": {"type": "local", "enabled": True, "path": "/home/me/Pictures", "follow_symlinks": True},
        "flickr-out": {
            "type": "flickr", "enabled": True, "account": "12345678@N00", "upload_from": ["pictures"],
            "upload_location_public": False, "rate_limit": {"requests_per_hour": 3500, "requests_per_minute": 60},
            "retry": {"attempts": 6, "base_seconds": 1}, "timeout_seconds": 60, "full_listing_days": 30,
            "endpoints": {name: "https://example.org/" + name for name in DEFAULT_ENDPOINTS},
        },
        # names are a person's choice, not keys
        "session-photos": {"type": "local", "enabled": False, "path": "/mnt/nas/token"},
    }
    prefs = json.loads(json.dumps(DEFAULT_PREFERENCES))
    prefs["blob_storage"]["stores"].update({
        "nas": {"type": "local", "path": "/mnt/nas/photosync-blobs", "verify": "stream"},
        "offsite": {"type": "s3", "bucket": "my-photos", "prefix": "library", "region": "eu-west-1",
                    "endpoint_url": "https://minio.example:9000", "storage_class": "STANDARD_IA",
                    "profile": "backup", "multipart_threshold": 67108864, "part_size": 67108864,
                    "max_attempts": 8},
        "backblaze": {"type": "b2", "bucket": "my-photos", "region": "us-west-004"},
        "secret-stash": {"type": "local", "path": "/srv/x"},
    })
    prefs["blob_storage"].update({"replicas": ["nas"], "min_copies": 2, "local_path": None,
                                  "s3_bucket": None, "b2_bucket": None})
    # renditions (issue 16): the README's example of derived and derived_tiers
    prefs["derived"] = {"stores": ["local"], "thumbnails": {"sizes": [200, 600, 1200], "format": "webp", "quality": 80}}
    prefs["derived_tiers"] = {"format": "jpeg", "tiers": [
        {"name": "light", "under_years": 1, "quality": 90, "max_edge": 4096},
        {"name": "medium", "under_years": 3, "quality": 80, "max_edge": 2560},
        {"name": "heavy", "quality": 65, "max_edge": 1600, "keep_location": True, "keep_dates": True}]}
    state = json.loads(json.dumps(DEFAULT_SYNC_STATE))
    state["services"]["pictures"] = {"cursor": None, "last_change": "2024-01-15T10:30:00Z", "items": 3}
    state["services"]["token-box"] = {"cursor": "x"}
    return {"services": services, "preferences": prefs, "sync_state": state}


def test_no_key_photosync_writes_looks_like_a_secret():
    for kind, data in _keys_photosync_writes().items():
        assert records.secret_keys(kind, data) == [], kind
        records.validate(kind, data, kind)


@pytest.mark.parametrize("key", [
    "api_secret", "Api_Secret", "flickr_api_secret", "API-SECRET", "token", "oauth_token_secret", "refreshToken",
    "password", "passwd", "db_passphrase", "Cookie", "cookies", "credentials", "private_key", "privateKey",
    "api_key", "apiKey", "aws_access_key_id", "AccessKey", "application_key", "key_id", "session",
    "SessionId", "Authorization",
])
def test_secret_looking_keys_are_found_at_any_depth(key):
    services = _keys_photosync_writes()["services"]
    services["pictures"][key] = "x"
    services["flickr-out"]["retry"] = {"attempts": 2, "nested": [{key: "x"}]}
    found = records.secret_keys("services", services)
    assert found == [f"pictures.{key}", f"flickr-out.retry.nested[0].{key}"]
    with pytest.raises(InvalidRecord, match="secrets do not belong") as e:
        records.validate("services", services, "config/services.json")
    assert e.value.field == f"pictures.{key}"
    prefs = _keys_photosync_writes()["preferences"]
    prefs["blob_storage"]["stores"]["offsite"][key] = "x"
    assert records.secret_keys("preferences", prefs) == [f"blob_storage.stores.offsite.{key}"]
    assert records.secret_keys("sync_state", {"schema_version": 1, "services": {"x": {key: 1}}}) == [
        f"services.x.{key}"]


def test_endpoint_names_are_not_secrets_elsewhere():
    """Flickr's OAuth endpoint names are allowed under a service's endpoints only."""
    services = {"f": {"type": "flickr", "enabled": True, "access_token": "abc"}}
    assert records.secret_keys("services", services) == ["f.access_token"]
