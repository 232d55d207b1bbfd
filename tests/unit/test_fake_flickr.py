"""The fake Flickr (tests/fakes/flickr) driven by the real, unmodified flickrapi 2.4.0:
the OAuth dance, signatures, listing and the 4,000 cap, JSON quirks, uploads, faults."""

from __future__ import annotations

import hashlib
import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import flickrapi
import pytest
import requests
from flickrapi.auth import FlickrAccessToken
from flickrapi.exceptions import FlickrError
from mp4build import make_video
from requests_oauthlib import OAuth1
from requests_toolbelt import MultipartEncoder

from fakes.flickr import FakeFlickr

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "fedcba9876543210"
NSID = "12345678@N00"
EXTRAS = ("description,license,date_upload,date_taken,original_format,last_update,geo,tags,machine_tags,o_dims,"
          "views,media,path_alias,url_sq,url_t,url_l,url_k,url_o")


@pytest.fixture
def fake():
    with FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid=NSID, username="tester", fullname="Test Person",
                    pro=True) as f:
        yield f
    assert f.errors == [], "the fake failed internally"


def client(fake, token=None, secret=None, perms="write", api_secret=SECRET):
    tok = FlickrAccessToken(token, secret, perms, "Test Person", "tester", NSID) if token else None
    api = flickrapi.FlickrAPI(KEY, api_secret, format="parsed-json", store_token=False, token=tok)
    ep = fake.endpoints
    api.REST_URL = ep["rest"]
    api.UPLOAD_URL = ep["upload"]
    api.REPLACE_URL = ep["replace"]
    api.flickr_oauth.REQUEST_TOKEN_URL = ep["request_token"]
    api.flickr_oauth.AUTHORIZE_URL = ep["authorize"]
    api.flickr_oauth.ACCESS_TOKEN_URL = ep["access_token"]
    api.flickr_oauth.session = requests.Session()
    return api


def signed_in(fake, perms="write"):
    tok, sec = fake.issue_token(perms)
    return client(fake, tok, sec, perms)


def upload(fake, api, data: bytes, filename: str, **fields) -> requests.Response:
    """A multipart upload as flickrapi's do_upload makes it: the OAuth signature covers
    the form fields but not the photo, and goes in the Authorization header."""
    fields = {k: str(v) for k, v in fields.items()}
    url = fake.endpoints["upload"]
    signed = requests.Request("POST", url, data=dict(fields), auth=api.flickr_oauth.oauth).prepare()
    body = MultipartEncoder(fields={**fields, "photo": (filename, io.BytesIO(data), "application/octet-stream")})
    return requests.post(url, data=body, headers={"Authorization": signed.headers["Authorization"],
                                                  "Content-Type": body.content_type}, timeout=10)


def jpeg(taken="2018:05:06 07:08:09", colour=(10, 20, 30)) -> bytes:
    from PIL import Image

    im = Image.new("RGB", (40, 30), colour)
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = taken
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_oob_oauth_dance_end_to_end(fake):
    api = client(fake)
    api.get_request_token(oauth_callback="oob")
    url = api.auth_url(perms="write")
    assert url.startswith(fake.endpoints["authorize"] + "?oauth_token=")
    page = requests.get(url, timeout=10)  # the person opens the page and approves
    assert page.status_code == 200
    token = parse_qs(urlsplit(url).query)["oauth_token"][0]
    verifier = fake.authorize(token, perms="write")
    assert verifier in page.text and len(verifier.split("-")) == 3
    api.get_access_token(verifier)
    access = api.token_cache.token
    assert (access.user_nsid, access.username, access.fullname) == (NSID, "tester", "Test Person")
    who = api.test.login()
    assert who == {"user": {"id": NSID, "username": {"_content": "tester"}, "path_alias": None}, "stat": "ok"}
    # the request token is single use
    with pytest.raises(FlickrError):
        api.flickr_oauth.get_access_token()


def test_access_token_form_encoding(fake):
    api = client(fake)
    api.get_request_token(oauth_callback="oob")
    token = api.flickr_oauth.resource_owner_key
    verifier = fake.authorize(token, perms="read")
    oauth = OAuth1(KEY, SECRET, token, api.flickr_oauth.resource_owner_secret, verifier=verifier)
    r = requests.post(fake.endpoints["access_token"], auth=oauth, timeout=10)
    assert r.status_code == 200
    assert r.text.startswith("fullname=Test%20Person&oauth_token=")
    assert "user_nsid=12345678%40N00&username=tester" in r.text


def test_signatures_keys_tokens_and_permissions(fake):
    tok, sec = fake.issue_token("read")
    bad = client(fake, tok, sec, "read", api_secret="0" * 16)
    with pytest.raises(FlickrError) as e:
        bad.test.login()
    assert e.value.code == 96 and "Invalid signature" in str(e.value)
    # the OAuth endpoints answer 401 with oauth_problem
    with pytest.raises(FlickrError, match="401"):
        client(fake, api_secret="0" * 16).get_request_token(oauth_callback="oob")
    # an unknown key
    other = flickrapi.FlickrAPI("f" * 32, SECRET, format="parsed-json", store_token=False)
    other.REST_URL = fake.endpoints["rest"]
    with pytest.raises(FlickrError) as e:
        other.photos.search(user_id=NSID)
    assert e.value.code == 100
    # write with a read token; then a revoked token
    reader = client(fake, tok, sec, "read")
    pid = fake.add_photo(title="x")
    with pytest.raises(FlickrError) as e:
        reader.photos.setMeta(photo_id=pid, title="y")
    assert e.value.code == 99 and "requires write privileges; read granted" in str(e.value)
    fake.revoke(tok)
    with pytest.raises(FlickrError) as e:
        reader.test.login()
    assert e.value.code == 98
    # unknown method, unknown photo
    writer = signed_in(fake)
    with pytest.raises(FlickrError) as e:
        writer.photos.nonsense()
    assert e.value.code == 112
    with pytest.raises(FlickrError) as e:
        writer.photos.getInfo(photo_id="1")
    assert e.value.code == 1


def test_search_paging_and_the_4000_cap(fake):
    ids = fake.populate(4600, seed=1, heavy_year=2019, heavy_count=4600)
    api = signed_in(fake, "read")
    lo, hi = int(datetime(2019, 1, 1, tzinfo=timezone.utc).timestamp()), int(
        datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp()) - 1
    pages = {}
    for page in (1, 8, 9, 10):
        rsp = api.photos.search(user_id="me", min_upload_date=lo, max_upload_date=hi, sort="date-posted-asc",
                                extras=EXTRAS, per_page=500, page=page)
        pages[page] = rsp["photos"]
    first = pages[1]
    assert (first["page"], first["pages"], first["perpage"], first["total"]) == (1, 10, 500, "4600")
    assert [p["id"] for p in pages[9]["photo"]] == [p["id"] for p in pages[8]["photo"]]  # later pages repeat
    assert [p["id"] for p in pages[10]["photo"]] == [p["id"] for p in pages[8]["photo"]]
    by_upload = sorted(ids, key=lambda i: (fake.photos[i].dateupload, int(i)))
    assert [p["id"] for p in pages[1]["photo"]] == by_upload[:500]
    # the next window starts at the last upload date seen and reaches the rest
    last = int(pages[8]["photo"][-1]["dateupload"])
    rest = api.photos.search(user_id="me", min_upload_date=last, max_upload_date=hi, sort="date-posted-asc",
                             per_page=500, extras="date_upload")["photos"]
    assert int(rest["total"]) <= 601 and rest["photo"][0]["dateupload"] == str(last)
    # per_page above 500 is clamped
    assert api.people.getPhotos(user_id="me", per_page=900)["photos"]["perpage"] == 500
    # privacy_filter 5: only private photos
    priv = api.photos.search(user_id="me", privacy_filter=5, per_page=500)["photos"]["photo"]
    assert priv and all((p["ispublic"], p["isfriend"], p["isfamily"]) == (0, 0, 0) for p in priv)
    # without a token only public photos are seen
    anon = client(fake)
    pub = anon.photos.search(user_id=NSID, per_page=500)["photos"]
    assert int(pub["total"]) == sum(1 for p in fake.photos.values() if p.ispublic)


def test_entry_shapes_and_string_numbers(fake):
    pid = fake.add_photo(title="Beach", description="at noon", tags=("sea", "New York"),
                         machine_tags=("photosync:sha256=ABC",), date_taken="2019-07-04 10:00:00",
                         is_friend=1, lat=51.5, lon=-0.12, width=4000, height=3000)
    plain = fake.add_photo(title="no geo")
    api = signed_in(fake, "read")
    rsp = api.photos.search(user_id="me", extras=EXTRAS, per_page=10)
    assert rsp["stat"] == "ok"
    e = {p["id"]: p for p in rsp["photos"]["photo"]}
    p = e[pid]
    assert p["description"] == {"_content": "at noon"}
    assert isinstance(p["dateupload"], str) and isinstance(p["lastupdate"], str)
    assert p["datetaken"] == "2019-07-04 10:00:00" and p["datetakengranularity"] == "0"
    assert (p["o_width"], p["o_height"]) == ("4000", "3000")
    assert (p["ispublic"], p["isfriend"], p["isfamily"]) == (0, 1, 0) and isinstance(p["farm"], int)
    assert p["tags"] == "sea newyork photosync:sha256=abc" and p["machine_tags"] == "photosync:sha256=abc"
    assert float(p["latitude"]) == 51.5 and e[plain]["latitude"] == 0
    assert p["url_o"].endswith(f"/{pid}_{p['originalsecret']}_o.jpg") and p["width_o"] == 4000
    assert isinstance(p["width_l"], int) and p["height_l"] == 768
    assert p["media"] == "photo" and p["pathalias"] is None
    # machine tag search
    hit = api.photos.search(user_id="me", machine_tags="photosync:sha256=", extras="machine_tags")
    assert [x["id"] for x in hit["photos"]["photo"]] == [pid]
    # getInfo and getSizes
    info = api.photos.getInfo(photo_id=pid)["photo"]
    assert info["title"] == {"_content": "Beach"}
    assert info["visibility"] == {"ispublic": 0, "isfriend": 1, "isfamily": 0}
    assert {t["raw"] for t in info["tags"]["tag"]} == {"sea", "New York", "photosync:sha256=ABC"}
    sizes = api.photos.getSizes(photo_id=pid)["sizes"]["size"]
    assert sizes[-1]["label"] == "Original" and sizes[0]["label"] == "Square"
    # the XML form (format=rest) is there too
    raw = api.photos.getInfo(photo_id=pid, format="rest")
    assert ET.fromstring(raw).find("photo/title").text == "Beach"


def test_recently_updated_after_set_meta_and_albums(fake):
    ids = fake.populate(120, seed=4)
    api = signed_in(fake, "read")
    newest = max(p.lastupdate for p in fake.photos.values())
    assert api.photos.recentlyUpdated(min_date=newest + 1)["photos"]["photo"] == []
    fake.set_meta(ids[3], title="A new caption")
    fake.set_perms(ids[7], 0, 0, 0)
    got = api.photos.recentlyUpdated(min_date=newest + 1, extras="last_update")["photos"]["photo"]
    assert [g["id"] for g in got] == [ids[3], ids[7]]
    assert int(got[0]["lastupdate"]) < int(got[1]["lastupdate"])
    sets = api.photosets.getList()["photosets"]
    assert sets["total"] == len(fake.photosets) >= 2
    s = sets["photoset"][0]
    members = api.photosets.getPhotos(photoset_id=s["id"], user_id=NSID, extras="date_upload")["photoset"]
    assert members["total"] == str(s["photos"] + s["videos"]) and isinstance(members["total"], str)
    with pytest.raises(FlickrError) as e:
        api.photosets.getPhotos(photoset_id="1", user_id=NSID)
    assert e.value.code == 1


def test_upload_permissions_default_public_and_round_trip(fake):
    api = signed_in(fake, "write")
    data = jpeg()
    r = upload(fake, api, data, "beach.jpg", title="Beach", tags='a "two words" photosync:sha256=ff',
               is_public=0, is_friend=1, is_family=1, hidden=2, api_key=KEY)
    assert r.status_code == 200 and r.text.startswith('<?xml version="1.0" encoding="utf-8" ?>')
    pid = ET.fromstring(r.content).findtext("photoid")
    p = fake.photos[pid]
    assert (p.ispublic, p.isfriend, p.isfamily, p.hidden) == (0, 1, 1, 2)
    assert p.datetaken == "2018-05-06 07:08:09" and p.tags == ["a", "two words"]
    assert p.machine_tags == ["photosync:sha256=ff"]
    assert fake.uploads[-1]["filename"] == "beach.jpg" and fake.uploads[-1]["photo_id"] == pid
    assert fake.uploads[-1]["is_friend"] == "1"
    # the original comes back byte for byte
    url = api.photos.search(user_id="me", extras="url_o")["photos"]["photo"][0]["url_o"]
    got = requests.get(url, timeout=10)
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    # omitted flags take the account default: public
    r = upload(fake, api, jpeg(colour=(1, 2, 3)), "b.jpg", title="b")
    p2 = fake.photos[ET.fromstring(r.content).findtext("photoid")]
    assert (p2.ispublic, p2.isfriend, p2.isfamily) == (1, 0, 0)
    # a video named "dummy name" is not recognised (flickrapi#104); junk neither; empty is size zero
    for blob, name, code in ((make_video(), "dummy name", "5"), (b"junk" * 10, "x.jpg", "5"), (b"", "x.jpg", "4")):
        rsp = ET.fromstring(upload(fake, api, blob, name, title="t").content)
        assert rsp.get("stat") == "fail" and rsp.find("err").get("code") == code
    ok = ET.fromstring(upload(fake, api, make_video(), "clip.mp4", title="clip").content)
    assert fake.photos[ok.findtext("photoid")].media == "video"
    # a read token cannot upload; a bad signature is refused
    reader = signed_in(fake, "read")
    rsp = ET.fromstring(upload(fake, reader, data, "c.jpg", title="c").content)
    assert rsp.find("err").get("code") == "99"
    # flickrapi's own upload answers XML whatever the format (flickrapi#93): its JSON parser fails on it
    with pytest.raises(json.JSONDecodeError):
        api.upload("beach.jpg", fileobj=io.BytesIO(data), title="via flickrapi")


def test_generated_files_downloads_and_truncation(fake):
    pid = fake.add_photo(title="g", lat=10.5, lon=20.25, date_taken="2017-03-04 05:06:07")
    vid = fake.add_photo(media="video", original_format="mp4", width=1920, height=1080)
    api = signed_in(fake, "read")
    entries = {e["id"]: e for e in api.photos.search(user_id="me", extras="url_o,url_l,media,original_format")
               ["photos"]["photo"]}
    orig = requests.get(entries[pid]["url_o"], timeout=10)
    assert orig.headers["Content-Type"] == "image/jpeg" and orig.content == fake.file_bytes(pid)
    from PIL import Image

    exif = Image.open(io.BytesIO(orig.content)).getexif()
    assert exif.get(0x010F) == "FakeCam" and exif.get_ifd(0x8769)[0x9003] == "2017:03:04 05:06:07"
    assert exif.get_ifd(0x8825)[1] == "N"
    large = requests.get(entries[pid]["url_l"], timeout=10)
    assert large.status_code == 200 and large.content != orig.content
    sizes = {s["label"]: s for s in api.photos.getSizes(photo_id=vid)["sizes"]["size"]}
    assert {"Video Player", "Site MP4", "Video Original"} <= set(sizes)
    video = requests.get(sizes["Video Original"]["source"], timeout=10)
    assert video.content[4:8] == b"ftyp" and video.content == fake.file_bytes(vid)
    assert fake.downloads == 3
    assert requests.get(fake.url + "/1/2_3.jpg", timeout=10).status_code == 404
    # truncation: the full Content-Length, half the bytes, then the connection closes
    fake.truncate_downloads(1)
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(entries[pid]["url_o"], timeout=10).content  # noqa: B018
    assert requests.get(entries[pid]["url_o"], timeout=10).content == fake.file_bytes(pid)


def test_faults_http_429_and_method_failures(fake):
    fake.populate(10, seed=2)
    api = signed_in(fake, "read")
    fake.fail_next(2, status=429)
    r = requests.get(fake.url + "/services/rest/", timeout=10)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    with pytest.raises(FlickrError, match="Status code 429"):
        api.test.login()
    assert api.test.login()["stat"] == "ok"
    fake.fail_next(1, status=503, path_prefix="/services/rest")
    with pytest.raises(FlickrError, match="Status code 503"):
        api.test.login()
    fake.fail_method("flickr.photos.search", times=1)
    with pytest.raises(FlickrError) as e:
        api.photos.search(user_id="me")
    assert e.value.code == 105
    assert api.photos.search(user_id="me")["photos"]["total"] == "10"
    fake.reset_counters()
    api.photos.search(user_id="me")
    api.test.login()
    assert fake.api_calls == 2 and fake.calls["flickr.photos.search"] == 1


def test_free_account_gets_no_originals(fake):
    with FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid=NSID, pro=False) as free:
        pid = free.add_photo(width=4000, height=3000)
        vid = free.add_photo(media="video", original_format="mp4", width=1920, height=1080)
        tok, sec = free.issue_token("read")
        api = client(free, tok, sec, "read")
        e = api.photos.search(user_id="me", extras="url_o,url_k,url_h,url_l,original_format")["photos"]["photo"]
        e = {x["id"]: x for x in e}[pid]
        assert "url_o" not in e and "url_k" not in e and "originalsecret" not in e and e["width_l"] == 1024
        labels = [s["label"] for s in api.photos.getSizes(photo_id=pid)["sizes"]["size"]]
        assert "Original" not in labels and labels[-1] == "Large"
        labels = [s["label"] for s in api.photos.getSizes(photo_id=vid)["sizes"]["size"]]
        assert "Video Original" not in labels and "HD MP4" not in labels and "Site MP4" in labels


def test_populate_is_lazy():
    # no file bytes are made until a photo is downloaded (populate of 10,000 stays cheap: bench/flickrbench.py)
    f = FakeFlickr()
    ids = f.populate(10000, seed=7)
    assert all(p.data is None for p in f.photos.values())
    from collections import Counter

    years = Counter(datetime.fromtimestamp(f.photos[i].dateupload, timezone.utc).year for i in ids)
    assert years[2019] > 4000 and min(years) == 2010 and max(years) == 2024
    vis = Counter((p.ispublic, p.isfriend, p.isfamily) for p in f.photos.values())
    assert all(vis[c] > 500 for c in ((1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)))
    assert 50 < sum(p.media == "video" for p in f.photos.values()) < 400
    assert len(f.photosets) == 200
    assert len({f.file_bytes(i) for i in ids[:20]}) == 20
