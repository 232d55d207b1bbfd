"""The Amazon Drive v1 client against the fake, in process: listings page by 200 and stop at
Amazon's 9,999 cap without an error, trash goes 50 ids a request, a 503 burst is waited out."""

from __future__ import annotations

import pytest

from fakes.amazon import FakeAmazonPhotos
from photosync import credentials
from photosync.connectors.amazon.client import AmazonClient
from photosync.connectors.base import ConnectorContext
from photosync.context import Context
from photosync.events import Collector, Tally


@pytest.fixture
def fake():
    with FakeAmazonPhotos() as f:
        yield f
        assert f.errors == []


def client_for(fake, tmp_path) -> AmazonClient:
    ctx = Context(tmp_path / "config")
    credentials.save(ctx, "services", "frame", {"cookies": fake.cookies(), "tld": "com", "suffix": "main"})
    env = ConnectorContext(library_root=tmp_path / "lib", ctx=ctx, report=Tally(Collector()))
    return AmazonClient("frame", {"endpoints": fake.endpoints, "retry": {"attempts": 4, "base_seconds": 0.01}}, env)


def test_an_album_is_listed_page_by_page_and_up_to_the_cap(fake, tmp_path):
    ids = [fake.add_file(b"x%d" % i, f"f{i}.jpg") for i in range(10_050)]
    small = fake.add_album("small", members=ids[:450])
    big = fake.add_album("big", members=ids)
    client = client_for(fake, tmp_path)
    fake.reset_counters()
    members, whole = client.members(small)
    assert sorted(members) == sorted(ids[:450]) and whole and fake.requests_to("GET /nodes/{id}/children") == 3
    members, whole = client.members(big)  # never asks past offset + limit = 9999 (a 400 on Amazon)
    assert len(members) == 9_999 and not whole


def test_trash_goes_fifty_ids_a_request_and_nothing_is_purged(fake, tmp_path):
    ids = [fake.add_file(b"y%d" % i, f"g{i}.jpg") for i in range(120)]
    client = client_for(fake, tmp_path)
    fake.reset_counters()
    client.trash(ids)
    assert fake.requests_to("PATCH /trash") == 3 and sorted(fake.trashed()) == sorted(ids)
    assert fake.purged() == [] and fake.requests_to("POST /bulk/nodes/purge") == 0


def test_a_503_burst_is_retried_and_a_refusal_is_a_clear_error(fake, tmp_path):
    from photosync.errors import SourceError

    client = client_for(fake, tmp_path)
    fake.fail_next(3, 503)
    assert client.root_id() == fake.root_id
    fake.refuse_all(503)
    with pytest.raises(SourceError, match="after 4 attempts: HTTP 503 .*datacenter"):
        client.root_id()
