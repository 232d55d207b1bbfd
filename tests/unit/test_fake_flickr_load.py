"""The fake Flickr's behaviours under load and lag (issue 11), driven by the unmodified flickrapi
client: the fault mix, failing uploads, a lagging search, lost upload answers, raw tags."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from flickrapi.exceptions import FlickrError

from test_fake_flickr import KEY, NSID, SECRET, jpeg, signed_in, upload

from fakes.flickr import FakeFlickr


@pytest.fixture
def fake():
    with FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid=NSID, username="tester", fullname="Test Person",
                    pro=True) as f:
        yield f
    assert f.errors == [], "the fake failed internally"


def test_fault_mix_fails_a_share_of_requests_the_ways_flickr_does(fake):
    fake.populate(5, seed=1)
    api = signed_in(fake, "read")
    fake.fault_mix(0.5, seed=3, retry_after=7)
    codes, statuses, ok = set(), set(), 0
    for _ in range(200):
        try:
            api.photos.search(user_id="me")
            ok += 1
        except FlickrError as e:
            if e.code is not None:
                codes.add(e.code)
            else:
                statuses.add(str(e).split()[-2])
    assert 60 < ok < 140 and fake.faults_injected == 200 - ok
    assert codes == {0, 201, 105} and statuses == {"400", "429", "500", "502", "503"}
    r = None
    for _ in range(100):  # the photo host fails too, and a 429 says how long to wait
        r = requests.get(fake.url + "/services/rest/", timeout=10)
        if r.status_code == 429:
            break
    assert r is not None and r.status_code == 429 and r.headers["Retry-After"] == "7"
    fake.fault_mix(0)
    assert api.photos.search(user_id="me")["stat"] == "ok"


def test_failed_uploads_store_nothing_and_lost_answers_store_the_photo(fake):
    api = signed_in(fake, "write")
    fake.fail_uploads(1)
    rsp = ET.fromstring(upload(fake, api, jpeg(), "a.jpg", title="a").content)
    assert rsp.find("err").get("code") == "3" and fake.photos == {}
    fake.drop_upload_responses(1)
    with pytest.raises(requests.ConnectionError):
        upload(fake, api, jpeg(colour=(1, 2, 3)), "b.jpg", title="b")
    assert len(fake.photos) == 1  # stored, though the client never heard


def test_a_lagging_search_hides_new_uploads_from_search_only(fake):
    api = signed_in(fake, "write")
    fake.lag_search(calls=2)
    pid = ET.fromstring(upload(fake, api, jpeg(), "a.jpg", title="a", tags="photosync:sha256=ab").content).findtext(
        "photoid")
    search = lambda: [p["id"] for p in api.photos.search(user_id="me", machine_tags="photosync:sha256=")  # noqa: E731
                      ["photos"]["photo"]]
    assert search() == [] and search() == []
    assert [p["id"] for p in api.people.getPhotos(user_id="me", extras="machine_tags")["photos"]["photo"]] == [pid]
    assert api.photos.getInfo(photo_id=pid)["photo"]["id"] == pid
    assert search() == [pid]  # indexed after two searches


def test_raw_tag_methods(fake):
    a = fake.add_photo(tags=("St. Louis", "cat"), machine_tags=("camera:make=FakeCam",))
    fake.add_photo(tags=("st louis",))
    api = signed_in(fake, "read")
    who = api.tags.getListUserRaw()["who"]
    forms = {t["clean"]: [r["_content"] for r in t["raw"]] for t in who["tags"]["tag"]}
    assert forms["stlouis"] == ["St. Louis", "st louis"] and forms["cat"] == ["cat"]
    assert forms["camera:make=fakecam"] == ["camera:make=FakeCam"]
    tags = api.tags.getListPhoto(photo_id=a)["photo"]["tags"]["tag"]
    assert [(t["raw"], t["_content"], t["machine_tag"]) for t in tags] == [
        ("St. Louis", "stlouis", 0), ("cat", "cat", 0), ("camera:make=FakeCam", "camera:make=fakecam", 1)]
