"""The fake Amazon Photos / Drive v1 (tests/fakes/amazon) driven with requests as the
connector will: cookies and the session header, 401 and the session refresh, uploads and
409 on duplicate content, albums and their listings, the filter quirks of /search and
/nodes, the 9999 cap, trash batches of 50, purge, 503 bursts and request counts."""

from __future__ import annotations

import json

import pytest
import requests

from fakes.amazon import MAX_TRASH_BATCH, FakeAmazonPhotos
from fakes.pictures import jpeg, video


@pytest.fixture
def fake():
    with FakeAmazonPhotos() as f:
        yield f
    assert f.errors == [], "the fake failed internally"


def session(fake, cookies=None):
    s = requests.Session()
    for k, v in (cookies if cookies is not None else fake.cookies()).items():
        s.cookies.set(k, v)
    s.headers["x-amzn-sessionid"] = fake.session_id
    return s


def upload(fake, s, data, name, parent=None, **params):
    return s.post(fake.endpoints["content"] + "/cdproxy/nodes", data=data, timeout=10,
                  params={"name": name, "kind": "FILE", "parentNodeId": parent or fake.root_id, **params})


def new_album(fake, s, name):
    r = s.post(fake.endpoints["drive"] + "/nodes", json={"kind": "VISUAL_COLLECTION", "name": name}, timeout=10)
    assert r.status_code == 201
    return r.json()["id"]


def test_cookies_and_the_session_header_are_required(fake):
    drive = fake.endpoints["drive"]
    assert session(fake).get(drive + "/account/info", timeout=10).status_code == 200
    for missing in ("session-id", "ubid-main", "at-main"):
        cookies = {k: v for k, v in fake.cookies().items() if k != missing}
        r = session(fake, cookies).get(drive + "/account/info", timeout=10)
        assert r.status_code == 401, missing
    no_header = session(fake)
    del no_header.headers["x-amzn-sessionid"]
    assert no_header.get(drive + "/account/info", timeout=10).status_code == 401
    # exported with underscores, the names must be put back to hyphens before they go on the wire
    underscored = {k.replace("-", "_"): v for k, v in fake.cookies().items()}
    assert session(fake, underscored).get(drive + "/account/info", timeout=10).status_code == 401


def test_cookie_files_in_both_spellings_and_the_tld_in_the_names(tmp_path):
    with FakeAmazonPhotos(tld="de") as fake:
        names = fake.cookie_names()
        assert {"session-id", "ubid-acbde", "at-acbde", "x-acbde", "sess-at-acbde", "sst-acbde"} == set(names)
        assert fake.endpoints["drive"].endswith("/www.amazon.de/drive/v1")
        fake.write_cookies(tmp_path / "c.json", underscores=True)
        assert set(json.loads((tmp_path / "c.json").read_text())) == {n.replace("-", "_") for n in names}
        fake.write_cookies(tmp_path / "c.txt", style="netscape")
        rows = [line.split("\t") for line in (tmp_path / "c.txt").read_text().splitlines()
                if line and not line.startswith("#")]
        assert {r[0] for r in rows} == {".amazon.de"} and {r[5] for r in rows} == set(names)
        fake.write_cookies(tmp_path / "l.json", style="json-list")
        assert {c["name"] for c in json.loads((tmp_path / "l.json").read_text())} == set(names)
        # the quoted values travel with their quotes
        assert fake.cookies()["sess-at-acbde"].startswith('"')
        assert session(fake).get(fake.endpoints["drive"] + "/account/info", timeout=10).status_code == 200


def test_an_expired_access_token_is_refreshed_with_the_session_cookies(fake):
    s = session(fake)
    drive = fake.endpoints["drive"]
    fake.expire_access_token()
    r = s.get(drive + "/account/info", timeout=10)
    assert r.status_code == 401 and "message" in r.json()
    refresh = s.get(drive.replace("/drive/v1", "/photos/auth/token"), timeout=10)
    assert refresh.status_code == 200 and refresh.json()["access_token"].startswith("Atza|")
    # the new at-main came back as a cookie, and requests' jar now sends it
    assert s.get(drive + "/account/info", timeout=10).status_code == 200
    assert fake.refreshes == 1
    fake.expire_session()
    assert s.get(drive + "/account/info", timeout=10).status_code == 401
    assert s.get(drive.replace("/drive/v1", "/photos/auth/token"), timeout=10).status_code == 401


def test_upload_then_409_with_the_existing_node_on_duplicate_content(fake):
    s = session(fake)
    data = jpeg("one", (120, 90))
    r = upload(fake, s, data, "IMG_0001.JPG")
    assert r.status_code == 201
    node = r.json()
    cp = node["contentProperties"]
    assert cp["size"] == len(data) and cp["image"] == {"width": 120, "height": 90}
    import hashlib
    assert cp["md5"] == hashlib.md5(data).hexdigest()
    again = upload(fake, s, data, "copy.jpg")
    assert again.status_code == 409 and again.json()["info"]["nodeId"] == node["id"]
    assert len(fake.files()) == 1
    # the old API's switch still uploads a second copy
    assert upload(fake, s, data, "forced.jpg", suppress="deduplication").status_code == 201
    # a name already used in the folder (any case) with other bytes: NAME_ALREADY_EXISTS
    clash = upload(fake, s, jpeg("two", (60, 40)), "img_0001.jpg")
    assert clash.status_code == 409 and clash.json()["code"] == "NAME_ALREADY_EXISTS"
    assert clash.json()["info"]["nodeId"] == node["id"]
    vid = upload(fake, s, video("v", (1280, 720)), "clip.mp4").json()
    assert vid["contentProperties"]["video"] == {"width": 1280, "height": 720}
    assert [c["why"] for c in fake.conflicts] == ["content", "name"]


def test_albums_membership_and_paged_listing(fake):
    s = session(fake)
    drive = fake.endpoints["drive"]
    album = new_album(fake, s, "Echo Show")
    ids = [fake.add_file(jpeg(f"p{i}", (8, 6)), f"p{i}.jpg") for i in range(230)]
    for i in range(0, 230, 100):
        r = s.patch(f"{drive}/nodes/{album}/children", json={"op": "add", "value": ids[i:i + 100]}, timeout=10)
        assert r.status_code == 200
    s.patch(f"{drive}/nodes/{album}/children", json={"op": "add", "value": ids[:3]}, timeout=10)
    assert fake.album_members(album) == ids                       # adding twice keeps one
    page1 = s.get(f"{drive}/nodes/{album}/children", params={"limit": 500, "offset": 0}, timeout=10).json()
    assert page1["count"] == 230 and len(page1["data"]) == 200     # at most 200 a page
    page2 = s.get(f"{drive}/nodes/{album}/children", params={"limit": 200, "offset": 200}, timeout=10).json()
    assert [n["id"] for n in page1["data"] + page2["data"]] == ids
    s.patch(f"{drive}/nodes/{album}/children", json={"op": "remove", "value": ids[:10]}, timeout=10)
    assert fake.album_members(album) == ids[10:]
    bad = s.patch(f"{drive}/nodes/{album}/children", json={"op": "add", "value": ["nope"]}, timeout=10)
    assert bad.status_code == 400


def test_filters_search_refuses_kind_and_multi_word_names(fake):
    s = session(fake)
    drive = fake.endpoints["drive"]
    echo_show = new_album(fake, s, "Echo Show")
    echo = new_album(fake, s, "Echo")
    assert s.get(drive + "/search", params={"filters": "kind:VISUAL_COLLECTION"}, timeout=10).status_code == 400
    assert s.get(drive + "/search", params={"filters": "name:Echo Show"}, timeout=10).status_code == 400
    # /nodes reads "name:Echo Show" as name:Echo plus another word: the wrong album
    wrong = s.get(drive + "/nodes", params={"filters": "kind:VISUAL_COLLECTION AND name:Echo Show"}, timeout=10).json()
    assert [n["id"] for n in wrong["data"]] == [echo]
    escaped = s.get(drive + "/nodes", params={"filters": "kind:VISUAL_COLLECTION AND name:Echo\\ Show"},
                    timeout=10).json()
    assert [n["id"] for n in escaped["data"]] == [echo_show]
    # listing every album and filtering locally always works
    every = s.get(drive + "/nodes", params={"filters": "kind:VISUAL_COLLECTION"}, timeout=10).json()
    assert {n["name"]: n["id"] for n in every["data"]} == {"Echo Show": echo_show, "Echo": echo}
    fake.add_file(jpeg("x", (8, 6)), "x.jpg")
    fake.add_file(video("y"), "y.mp4")
    photos = s.get(drive + "/search", params={"filters": "type:(PHOTOS)"}, timeout=10).json()
    assert [n["name"] for n in photos["data"]] == ["x.jpg"]
    root = s.get(drive + "/nodes", params={"filters": "isRoot:true"}, timeout=10).json()
    assert root["data"][0]["id"] == fake.root_id


def test_offset_plus_limit_is_capped_at_9999(fake):
    s = session(fake)
    drive = fake.endpoints["drive"]
    assert s.get(drive + "/nodes", params={"offset": 9799, "limit": 200}, timeout=10).status_code == 200
    r = s.get(drive + "/nodes", params={"offset": 9800, "limit": 200}, timeout=10)
    assert r.status_code == 400 and "9999" in r.json()["message"]
    album = new_album(fake, s, "A")
    assert s.get(f"{drive}/nodes/{album}/children", params={"offset": 9900, "limit": 200},
                 timeout=10).status_code == 400


def test_trash_in_batches_of_50_then_purge(fake):
    s = session(fake)
    drive = fake.endpoints["drive"]
    album = new_album(fake, s, "Frame")
    ids = [fake.add_file(jpeg(f"t{i}", (8, 6)), f"t{i}.jpg") for i in range(51)]
    s.patch(f"{drive}/nodes/{album}/children", json={"op": "add", "value": ids}, timeout=10)
    r = s.patch(drive + "/trash", json={"op": "add", "value": ids, "recurse": "true"}, timeout=10)
    assert r.status_code == 400 and fake.trashed() == []
    assert s.patch(drive + "/trash", json={"op": "add", "value": ids[:MAX_TRASH_BATCH]}, timeout=10).status_code == 200
    assert sorted(fake.trashed()) == sorted(ids[:50])
    listed = s.get(drive + "/trash", timeout=10).json()
    assert listed["count"] == 50
    # trashed nodes still show in an unfiltered album listing, with their status
    kids = s.get(f"{drive}/nodes/{album}/children", timeout=10).json()["data"]
    assert {n["status"] for n in kids} == {"TRASH", "AVAILABLE"}
    avail = s.get(f"{drive}/nodes/{album}/children", params={"filters": "status:(AVAILABLE*)"}, timeout=10).json()
    assert [n["id"] for n in avail["data"]] == ids[50:]
    assert s.post(drive + "/bulk/nodes/purge", json={"nodeIds": ids[49:], "recurse": "false"},
                  timeout=10).status_code == 400                    # ids[50] is not in the trash
    assert s.post(drive + "/bulk/nodes/purge", json={"nodeIds": ids[:2]}, timeout=10).status_code == 200
    assert sorted(fake.purged()) == sorted(ids[:2])
    assert ids[0] not in fake.album_members(album)
    assert s.get(f"{drive}/nodes/{ids[0]}", timeout=10).status_code == 404
    # a restored node is available again
    s.patch(drive + "/trash", json={"op": "remove", "value": ids[2:4]}, timeout=10)
    assert s.get(f"{drive}/nodes/{ids[2]}", timeout=10).json()["status"] == "AVAILABLE"


def test_503_bursts_and_request_counters(fake):
    s = session(fake)
    drive = fake.endpoints["drive"]
    fake.fail_next(3, 503)
    codes = [s.get(drive + "/account/info", timeout=10).status_code for _ in range(4)]
    assert codes == [503, 503, 503, 200]
    fake.refuse_all(503)
    assert s.get(drive + "/nodes", timeout=10).status_code == 503
    fake.refuse_all(None)
    fake.reset_counters()
    album = new_album(fake, s, "Echo Show")
    s.get(f"{drive}/nodes/{album}/children", timeout=10)
    upload(fake, s, jpeg("c", (8, 6)), "c.jpg")
    assert fake.calls == {"POST /nodes": 1, "GET /nodes/{id}/children": 1, "POST /cdproxy/nodes": 1}
