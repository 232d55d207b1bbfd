"""Friends and family kept apart, as a property over Flickr's whole flag space
(is_public x is_friend x is_family), every canonical level, every finer choice a
person may have recorded and every friends_audience setting: what photosync sends
on upload and on fix is never wider than allowed, and a fix never widens.

The Flickr connector (flickrapi) against the fake Flickr, with the privacy model's
own arithmetic (photosync/privacy.py) choosing what to send, as publish and
audit --fix do."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.flickr import FakeFlickr
from photosync import credentials
from photosync.conflicts import visibility as vis
from photosync.connectors.base import ConnectorContext
from photosync.connectors.flickr import FlickrConnector
from photosync.context import Context
from photosync.events import Collector, Tally
from photosync.model import FRIENDS_AUDIENCES, VISIBILITY_LEVELS, Metadata, Photo, Visibility, within
from photosync.sample import make_photo

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "fedcba9876543210"
FLAGS = st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 1))
CHOICES = st.sampled_from([None, *FRIENDS_AUDIENCES])


def audience(p) -> str:
    if p.ispublic:
        return "public"
    return {(0, 0): "private", (1, 0): "friends", (0, 1): "family", (1, 1): "friends+family"}[(p.isfriend, p.isfamily)]


@pytest.fixture(scope="module")
def flickr(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audiences")
    fake = FakeFlickr(api_key=KEY, api_secret=SECRET).start()
    ctx = Context(tmp / "cfg")
    token, secret = fake.issue_token(perms="write")
    credentials.save(ctx, "services", "f", {"api_key": KEY, "api_secret": SECRET, "oauth_token": token,
                                            "oauth_token_secret": secret, "perms": "write"})
    conn = FlickrConnector("f", {"type": "flickr", "enabled": True, "endpoints": fake.endpoints,
                                 "rate_limit": {"requests_per_hour": 1e7}, "retry": {"attempts": 2, "base_seconds": 0}},
                           ConnectorContext(tmp, ctx, Tally(Collector())))
    data = make_photo(tmp / "p.jpg", seed=1, size=(48, 36), taken=datetime(2020, 1, 2, 3, 4, 5)).read_bytes()
    yield fake, conn, data
    fake.stop()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flags=FLAGS, canonical=st.sampled_from(VISIBILITY_LEVELS), chosen=CHOICES, setting=CHOICES)
def test_fix_never_widens_and_never_leaves_more_than_allowed(flickr, flags, canonical, chosen, setting):
    fake, conn, _data = flickr
    pid = fake.add_photo(is_public=flags[0], is_friend=flags[1], is_family=flags[2])
    before = audience(fake.photos[pid])
    allowed = vis.allowed_audience(canonical, chosen, setting)
    shown = conn.set_visibility(pid, allowed)
    after = audience(fake.photos[pid])
    assert shown == after
    assert within(after, before), f"fix widened {before} -> {after}"
    assert within(after, allowed), f"fix left {after}, allowed {allowed}"
    if within(before, allowed):
        assert after == before, "a photo shown within what is allowed is left alone"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(canonical=st.sampled_from(VISIBILITY_LEVELS), chosen=CHOICES, setting=CHOICES)
def test_upload_flags_are_never_wider_than_allowed(flickr, canonical, chosen, setting):
    fake, conn, data = flickr
    content_hash = "sha256:" + hashlib.sha256(data).hexdigest()
    photo = Photo(photo_id="00000000-0000-5000-8000-000000000001", content_hash=content_hash,
                  canonical_source="x:1", metadata=Metadata(filename="p.jpg", format="jpeg"),
                  created_at="2020-01-01T00:00:00Z", updated_at="2020-01-01T00:00:00Z",
                  visibility=Visibility(canonical, friends_audience=chosen if canonical == "friends" else None))
    allowed = vis.allowed_audience(canonical, photo.visibility.friends_audience, setting)
    target = vis.target_audience(allowed, conn.capabilities.audiences)  # what publish sends
    item = conn.upload(photo, io.BytesIO(data), len(data), target)
    sent = fake.uploads[-1]
    got = audience(fake.photos[item.ref.id])
    assert (sent["is_public"], sent["is_friend"], sent["is_family"]) != ("", "", "")  # never the account default
    assert within(got, allowed), f"uploaded as {got}, allowed {allowed}"
    assert got == allowed, "and no narrower than Flickr can show it"
    if canonical == "friends" and chosen is None and setting is None:
        assert got == "friends", "canonical friends is friends only unless a person says otherwise"
