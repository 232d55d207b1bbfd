"""The fake Google (tests/fakes/google) driven by the real, unmodified client libraries:
google-auth-oauthlib's installed-app flow (loopback and pasted URL), google-auth credentials and
refresh, google-api-python-client built from photosync's discovery documents, requests for raw
uploads and downloads."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timezone

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError
from mp4build import make_video
from oauthlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidGrantError
from PIL import Image

from fakes.google import APPENDONLY, PICKER, READ_APPCREATED, FakeGoogle
from fakes.google import browser as headless
from photosync.connectors.google import discovery_document
from photosync.sample import draw_picture, exif_bytes

LIBRARY_SCOPES = [APPENDONLY, READ_APPCREATED]


@pytest.fixture
def fake(monkeypatch):
    # oauthlib refuses plain-http token URLs unless told this is a test (SERVICES.md)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with FakeGoogle() as f:
        yield f
    assert f.errors == [], "the fake failed internally"


def jpeg(seed: int, *, gps=(48.8584, 2.2945), taken=datetime(2019, 7, 4, 14, 22, 33), size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    draw_picture(seed, size).save(buf, "JPEG", quality=90,
                                  exif=exif_bytes(taken, "+02:00", gps, "Google", "Pixel 5", None))
    return buf.getvalue()


def creds(fake, scopes) -> Credentials:
    info = fake.authorized_user_info(scopes)
    c = Credentials.from_authorized_user_info(info, scopes)
    # from_authorized_user_info ignores token_uri in the file (SERVICES.md): point it explicitly
    assert c.token_uri == "https://oauth2.googleapis.com/token"
    return c.with_token_uri(fake.endpoints["oauth_token"])


def library(fake, c):
    return build_from_document(discovery_document("photoslibrary.v1"), credentials=c,
                               client_options={"api_endpoint": fake.endpoints["library"]})


def picker(fake, c):
    return build_from_document(discovery_document("photospicker.v1"), credentials=c,
                               client_options={"api_endpoint": fake.endpoints["picker"]})


def upload(fake, session: AuthorizedSession, data: bytes, name: str = "x.jpg", mime: str = "image/jpeg") -> str:
    r = session.post(fake.endpoints["uploads"], data=data, timeout=10,
                     headers={"Content-type": "application/octet-stream", "X-Goog-Upload-Protocol": "raw",
                              "X-Goog-Upload-Content-Type": mime, "X-Goog-Upload-File-Name": name})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    return r.text


def new_items(tokens, **extra):
    return [{"description": extra.get("description", ""), "simpleMediaItem": {"uploadToken": t, "fileName": f"f{i}.jpg"}}
            for i, t in enumerate(tokens)]


# -- OAuth ---------------------------------------------------------------------------------------------

def test_installed_app_flow_loopback_headless(fake):
    browser = headless.register()
    flow = InstalledAppFlow.from_client_config(fake.client_config(), scopes=LIBRARY_SCOPES)
    c = flow.run_local_server(host="localhost", port=0, browser=headless.NAME, open_browser=True,
                              authorization_prompt_message=None, timeout_seconds=10)
    assert browser.opened and browser.opened[0].startswith(fake.endpoints["oauth_auth"] + "?")
    assert "code_challenge=" in browser.opened[0] and "access_type=offline" in browser.opened[0]
    assert c.valid and c.refresh_token and c.token_uri == fake.endpoints["oauth_token"]
    assert sorted(c.granted_scopes) == sorted(LIBRARY_SCOPES)
    # the credentials work on the Library API: nothing created yet, so an empty answer ({})
    assert library(fake, c).mediaItems().list().execute() == {}


def test_pasted_url_flow_and_single_use_code(fake):
    """--no-browser: the person opens the address elsewhere; their browser is sent to a loopback
    address that nothing answers on, and they paste that address back."""
    flow = InstalledAppFlow.from_client_config(fake.client_config(), scopes=[PICKER])
    flow.redirect_uri = "http://localhost:8765/"
    url, state = flow.authorization_url(prompt="consent")
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302
    pasted = r.headers["Location"]
    assert pasted.startswith("http://localhost:8765/?") and f"state={state}" in pasted
    flow.fetch_token(authorization_response=pasted)
    c = flow.credentials
    assert c.refresh_token and c.token
    assert picker(fake, c).sessions().create(body={}).execute()["mediaItemsSet"] is False
    # the code is single use
    with pytest.raises(InvalidGrantError):
        flow.fetch_token(authorization_response=pasted)


def test_consent_denied_and_oob_blocked(fake):
    fake.consent = "deny"
    flow = InstalledAppFlow.from_client_config(fake.client_config(), scopes=[PICKER])
    flow.redirect_uri = "http://127.0.0.1:9/"
    url, _ = flow.authorization_url()
    loc = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    assert "error=access_denied" in loc
    with pytest.raises(AccessDeniedError):
        flow.fetch_token(authorization_response=loc)
    flow.redirect_uri = "urn:ietf:wg:oauth:2.0:oob"
    url, _ = flow.authorization_url()
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "out-of-band" in r.text


def test_refresh_token_only_on_first_consent(fake):
    def exchange(prompt=None):
        flow = InstalledAppFlow.from_client_config(fake.client_config(), scopes=[PICKER])
        flow.redirect_uri = "http://127.0.0.1:9/"
        kw = {"prompt": prompt} if prompt else {}
        url, _ = flow.authorization_url(**kw)
        flow.fetch_token(authorization_response=requests.get(url, allow_redirects=False, timeout=10)
                         .headers["Location"])
        return flow.credentials

    assert exchange().refresh_token
    # signing in again without prompt=consent gives no new refresh token (oauth2/web-server)
    assert exchange().refresh_token is None
    assert exchange("consent").refresh_token


def test_refresh_on_expiry_and_invalid_grant(fake):
    c = creds(fake, LIBRARY_SCOPES)
    lib = library(fake, c)
    lib.mediaItems().list().execute()              # no access token yet: refreshed first
    assert fake.calls["oauth.token"] == 1
    fake.clock.advance(3600)                       # the server's clock: the access token is dead
    lib.mediaItems().list().execute()              # 401, then google-auth refreshes and retries
    assert fake.calls["oauth.token"] == 2
    assert fake.calls["library.mediaItems.list"] == 3
    fake.revoke(c.refresh_token)
    with pytest.raises(RefreshError, match="invalid_grant"):
        c.refresh(Request())
    # the revoked grant's access token is dead too: 401, and the refresh google-auth then tries fails
    with pytest.raises(RefreshError, match="invalid_grant"):
        lib.mediaItems().list().execute()


def test_testing_status_refresh_token_expires_after_seven_days(fake):
    c = creds(fake, [PICKER])
    c.refresh(Request())
    fake.clock.advance(7 * 86400 + 1)
    with pytest.raises(RefreshError) as e:
        c.refresh(Request())
    assert "Token has been expired or revoked" in str(e.value)
    fake.app_in_testing = False
    c.refresh(Request())


def test_scopes_are_checked_per_api(fake):
    only_picker = creds(fake, [PICKER])
    with pytest.raises(HttpError) as e:
        library(fake, only_picker).mediaItems().list().execute()
    assert e.value.resp.status == 403
    assert e.value.error_details[0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    only_library = creds(fake, LIBRARY_SCOPES)
    with pytest.raises(HttpError) as e:
        picker(fake, only_library).sessions().create(body={}).execute()
    assert e.value.resp.status == 403
    # appendonly alone may upload but not list
    append = AuthorizedSession(creds(fake, [APPENDONLY]))
    upload(fake, append, jpeg(1))
    with pytest.raises(HttpError) as e:
        library(fake, creds(fake, [APPENDONLY])).mediaItems().list().execute()
    assert e.value.resp.status == 403
    # no token at all
    r = requests.get(fake.endpoints["library"] + "v1/mediaItems", timeout=10)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"


# -- Picker ---------------------------------------------------------------------------------------------

def test_picker_session_end_to_end(fake):
    photo_ids = [fake.add_item(jpeg(i), f"IMG_{i:04d}.jpg") for i in range(130)]
    clip = make_video(created=datetime(2021, 5, 6, 7, 8, 9, tzinfo=timezone.utc), size=(640, 360),
                      location="+48.8584+002.2945/")
    video_id = fake.add_item(clip, "VID_0001.mp4")
    c = creds(fake, [PICKER])
    api = picker(fake, c)
    s = api.sessions().create(body={}).execute()
    assert set(s) >= {"id", "pickerUri", "pollingConfig", "expireTime", "mediaItemsSet"}
    assert s["mediaItemsSet"] is False
    assert s["pollingConfig"]["pollInterval"].endswith("s") and s["pollingConfig"]["timeoutIn"] == "1800s"
    assert requests.get(s["pickerUri"], timeout=10).status_code == 200
    # before the person is done: FAILED_PRECONDITION
    with pytest.raises(HttpError) as e:
        api.mediaItems().list(sessionId=s["id"]).execute()
    assert e.value.resp.status == 400 and e.value.status_code == 400
    assert '"FAILED_PRECONDITION"' in e.value.content.decode()
    assert api.sessions().get(sessionId=s["id"]).execute()["mediaItemsSet"] is False
    fake.pick(s["id"], photo_ids + [video_id])
    polled = api.sessions().get(sessionId=s["id"]).execute()
    assert polled["mediaItemsSet"] is True and "pollingConfig" not in polled
    assert requests.get(s["pickerUri"], timeout=10).status_code == 404   # Done: the link stops working
    # pages: default 50, at most 100
    first = api.mediaItems().list(sessionId=s["id"]).execute()
    assert len(first["mediaItems"]) == 50
    got, token = [], None
    while True:
        page = api.mediaItems().list(sessionId=s["id"], pageSize=500, pageToken=token).execute()
        assert len(page["mediaItems"]) <= 100
        got += page["mediaItems"]
        token = page.get("nextPageToken")
        if not token:
            break
    assert [m["id"] for m in got] == photo_ids + [video_id]
    item = got[0]
    assert item["type"] == "PHOTO" and item["mediaFile"]["filename"] == "IMG_0000.jpg"
    assert item["createTime"] == "2019-07-04T12:22:33Z"            # EXIF +02:00, in UTC
    assert item["mediaFile"]["mediaFileMetadata"]["cameraModel"] == "Pixel 5"
    assert not {"description", "location", "albums"} & set(item)
    # downloads need the token; =d is a re-encoded copy without GPS; =dv a transcoded video
    session = AuthorizedSession(c)
    base = item["mediaFile"]["baseUrl"]
    assert requests.get(base + "=d", timeout=10).status_code == 401
    r = session.get(base + "=d", timeout=10)
    assert r.status_code == 200 and r.content != jpeg(0)
    with Image.open(io.BytesIO(r.content)) as im:
        exif = im.getexif()
        assert 0x8825 not in exif and exif.get_ifd(0x8769)[0x9003] == "2019:07:04 14:22:33"
    vid = got[-1]
    assert vid["type"] == "VIDEO"
    dv = session.get(vid["mediaFile"]["baseUrl"] + "=dv", timeout=10)
    assert dv.status_code == 200 and dv.content[4:8] == b"ftyp" and dv.content != clip and b"\xa9xyz" not in dv.content
    # baseUrl lives 60 minutes by the fake's clock; listing again gives fresh ones
    fake.clock.advance(61 * 60)
    c.refresh(Request())
    assert session.get(base + "=d", timeout=10).status_code == 403
    fresh = api.mediaItems().list(sessionId=s["id"], pageSize=1).execute()["mediaItems"][0]
    assert session.get(fresh["mediaFile"]["baseUrl"] + "=d", timeout=10).status_code == 200
    api.sessions().delete(sessionId=s["id"]).execute()
    with pytest.raises(HttpError) as e:
        api.sessions().get(sessionId=s["id"]).execute()
    assert e.value.resp.status == 404


def test_picker_limits_timeout_and_expiry(fake):
    ids = [fake.add_item(jpeg(i, size=(16, 12)), f"p{i}.jpg") for i in range(3)]
    api = picker(fake, creds(fake, [PICKER]))
    with pytest.raises(HttpError):
        api.sessions().create(body={"pickingConfig": {"maxItemCount": "2001"}}).execute()
    s = api.sessions().create(body={"pickingConfig": {"maxItemCount": "2"}}).execute()
    assert s["pickingConfig"] == {"maxItemCount": "2"}
    with pytest.raises(ValueError, match="at most 2"):
        fake.pick(s["id"], ids)
    with pytest.raises(HttpError) as e:
        api.mediaItems().list(sessionId=s["id"], pageSize=-1).execute()
    assert e.value.resp.status == 400
    # the person never picks: timeoutIn counts down to 0s, then the session expires
    fake.clock.advance(1800)
    assert api.sessions().get(sessionId=s["id"]).execute()["pollingConfig"]["timeoutIn"] == "0s"
    with pytest.raises(RuntimeError, match="timed out"):
        fake.pick(s["id"], ids[:1])
    fake.clock.advance(86400)                      # past expireTime: the session is gone (404)
    with pytest.raises(HttpError) as e:
        api.sessions().get(sessionId=s["id"]).execute()
    assert e.value.resp.status == 404
    # 2,000 items a session at most
    s2 = api.sessions().create(body={}).execute()
    for i in range(2001):
        fake.items[f"copy{i}"] = fake.items[ids[0]]      # 2,001 entries without rendering 2,001 files
    with pytest.raises(ValueError, match="at most 2000"):
        fake.pick(s2["id"], [f"copy{i}" for i in range(2001)])
    fake.pick(s2["id"], [f"copy{i}" for i in range(2000)])
    assert api.sessions().get(sessionId=s2["id"]).execute()["mediaItemsSet"] is True


# -- Library API: uploads, batchCreate, listing, albums ----------------------------------------------------

def test_uploads_and_batch_create(fake):
    c = creds(fake, LIBRARY_SCOPES)
    session = AuthorizedSession(c)
    lib = library(fake, c)
    tokens = [upload(fake, session, jpeg(i, gps=None), f"IMG_{i}.jpg") for i in range(51)]
    assert fake.uploads[0]["content_type"] == "image/jpeg" and fake.uploads[0]["file_name"] == "IMG_0.jpg"
    with pytest.raises(HttpError) as e:            # at most 50 a call
        lib.mediaItems().batchCreate(body={"newMediaItems": new_items(tokens)}).execute()
    assert e.value.resp.status == 400
    assert fake.app_items() == []
    body = {"newMediaItems": new_items(tokens[:50], description="Sunset at Ocean Beach")}
    answer = lib.mediaItems().batchCreate(body=body).execute()
    results = answer["newMediaItemResults"]
    assert len(results) == 50 and all(r["status"] == {"message": "Success"} for r in results)
    first = results[0]["mediaItem"]
    assert first["description"] == "Sunset at Ocean Beach" and first["filename"] == "f0.jpg"
    assert first["mediaMetadata"]["width"] == "64" and first["mediaMetadata"]["creationTime"] == "2019-07-04T12:22:33Z"
    # a bad token fails alone (207: each result has its own status)
    mixed = lib.mediaItems().batchCreate(body={"newMediaItems": new_items([tokens[50], "not-a-token"])})
    got = mixed.execute()["newMediaItemResults"]
    assert got[0]["status"]["message"] == "Success" and got[1]["status"]["code"] == 3 and "mediaItem" not in got[1]
    assert len(fake.app_items()) == 51
    # not a photo: the bytes upload, the item fails
    bad = upload(fake, session, b"hello, not a photo", "notes.txt", "text/plain")
    res = lib.mediaItems().batchCreate(body={"newMediaItems": new_items([bad])}).execute()["newMediaItemResults"]
    assert res[0]["status"]["code"] == 3
    # uploads need X-Goog-Upload-Protocol: raw
    r = session.post(fake.endpoints["uploads"], data=b"x", headers={"Content-type": "application/octet-stream"})
    assert r.status_code == 400


def test_identical_bytes_return_the_existing_item(fake):
    mine = fake.add_item(jpeg(7), "IMG_7.jpg")              # the person's own, not app-created
    c = creds(fake, LIBRARY_SCOPES)
    session, lib = AuthorizedSession(c), library(fake, c)
    a = lib.mediaItems().batchCreate(body={"newMediaItems": new_items([upload(fake, session, jpeg(8))])}).execute()
    b = lib.mediaItems().batchCreate(body={"newMediaItems": new_items([upload(fake, session, jpeg(8))])}).execute()
    assert a["newMediaItemResults"][0]["mediaItem"]["id"] == b["newMediaItemResults"][0]["mediaItem"]["id"]
    assert len(fake.app_items()) == 1
    c3 = lib.mediaItems().batchCreate(body={"newMediaItems": new_items([upload(fake, session, jpeg(7))])}).execute()
    assert c3["newMediaItemResults"][0]["mediaItem"]["id"] == mine
    # …which stays the person's: the app neither lists nor reads it
    listed = lib.mediaItems().list(pageSize=100).execute()["mediaItems"]
    assert [m["id"] for m in listed] == [a["newMediaItemResults"][0]["mediaItem"]["id"]]
    with pytest.raises(HttpError) as e:
        lib.mediaItems().get(mediaItemId=mine).execute()
    assert e.value.resp.status == 403


def test_concurrent_batch_create_is_refused(fake):
    c = creds(fake, LIBRARY_SCOPES)
    session = AuthorizedSession(c)
    t1, t2 = upload(fake, session, jpeg(1)), upload(fake, session, jpeg(2))
    gate = fake.hold("library.mediaItems.batchCreate")
    first: dict = {}

    def slow():
        first["answer"] = library(fake, c).mediaItems().batchCreate(body={"newMediaItems": new_items([t1])}).execute()

    worker = threading.Thread(target=slow)
    worker.start()
    for _ in range(500):
        if fake.in_flight["library.mediaItems.batchCreate"]:
            break
        threading.Event().wait(0.01)
    assert fake.in_flight["library.mediaItems.batchCreate"] == 1
    with pytest.raises(HttpError) as e:
        library(fake, c).mediaItems().batchCreate(body={"newMediaItems": new_items([t2])}).execute()
    assert e.value.resp.status == 429 and "concurrent write request" in str(e.value)
    fake.release()
    worker.join(10)
    assert gate.is_set() and first["answer"]["newMediaItemResults"][0]["status"]["message"] == "Success"
    # once the first is done, the second goes through
    library(fake, c).mediaItems().batchCreate(body={"newMediaItems": new_items([t2])}).execute()
    assert len(fake.app_items()) == 2


def test_listing_and_search_show_only_app_created_items(fake):
    for i in range(3):
        fake.add_item(jpeg(100 + i), f"mine{i}.jpg")
    c = creds(fake, LIBRARY_SCOPES)
    session, lib = AuthorizedSession(c), library(fake, c)
    tokens = [upload(fake, session, jpeg(i, taken=datetime(2020, 1, 1 + i, 12)), f"a{i}.jpg") for i in range(30)]
    lib.mediaItems().batchCreate(body={"newMediaItems": new_items(tokens)}).execute()
    page = lib.mediaItems().list().execute()
    assert len(page["mediaItems"]) == 25 and page["nextPageToken"]             # default 25
    rest = lib.mediaItems().list(pageToken=page["nextPageToken"]).execute()
    assert len(rest["mediaItems"]) == 5 and "nextPageToken" not in rest
    ids = [m["id"] for m in page["mediaItems"] + rest["mediaItems"]]
    assert sorted(ids) == sorted(it.id for it in fake.app_items())
    dates = [m["mediaMetadata"]["creationTime"] for m in page["mediaItems"]]
    assert dates == sorted(dates, reverse=True)                               # newest first
    found = lib.mediaItems().search(body={"pageSize": 100, "filters": {
        "dateFilter": {"ranges": [{"startDate": {"year": 2020, "month": 1, "day": 3},
                                   "endDate": {"year": 2020, "month": 1, "day": 5}}]}}}).execute()
    assert len(found["mediaItems"]) == 3
    got = lib.mediaItems().get(mediaItemId=ids[0]).execute()
    assert got["id"] == ids[0] and got["baseUrl"].startswith(fake.url)
    # the app's own items download without the OAuth token; =d keeps EXIF minus location
    d = requests.get(got["baseUrl"] + "=d", timeout=10)
    assert d.status_code == 200 and d.headers["Content-Type"] == "image/jpeg"
    with pytest.raises(HttpError) as e:
        lib.mediaItems().get(mediaItemId="AF1QipNoSuchItem").execute()
    assert e.value.resp.status == 404


def test_albums_are_app_created_only(fake):
    theirs = fake.add_album("Holidays (the person's)", [fake.add_item(jpeg(50), "h.jpg")])
    person_item = fake.add_item(jpeg(51), "p.jpg")
    c = creds(fake, LIBRARY_SCOPES)
    session, lib = AuthorizedSession(c), library(fake, c)
    album = lib.albums().create(body={"album": {"title": "Paris 2019"}}).execute()
    assert album["title"] == "Paris 2019" and album["isWriteable"] is True and "mediaItemsCount" not in album
    tokens = [upload(fake, session, jpeg(60 + i)) for i in range(3)]
    made = lib.mediaItems().batchCreate(body={"albumId": album["id"], "newMediaItems": new_items(tokens[:2])}).execute()
    more = lib.mediaItems().batchCreate(body={"newMediaItems": new_items(tokens[2:])}).execute()
    third = more["newMediaItemResults"][0]["mediaItem"]["id"]
    lib.albums().batchAddMediaItems(albumId=album["id"], body={"mediaItemIds": [third]}).execute()
    listed = lib.albums().list().execute()["albums"]
    assert [a["id"] for a in listed] == [album["id"]]
    assert listed[0]["mediaItemsCount"] == "3"                                # int64 as a string
    in_album = lib.mediaItems().search(body={"albumId": album["id"]}).execute()["mediaItems"]
    assert [m["id"] for m in in_album] == [r["mediaItem"]["id"] for r in made["newMediaItemResults"]] + [third]
    with pytest.raises(HttpError) as e:                                         # albumId and filters
        lib.mediaItems().search(body={"albumId": album["id"], "filters": {"includeArchivedMedia": True}}).execute()
    assert e.value.resp.status == 400
    # the person's album and items: 403, and nothing changes (no partial success)
    with pytest.raises(HttpError) as e:
        lib.albums().batchAddMediaItems(albumId=theirs, body={"mediaItemIds": [third]}).execute()
    assert e.value.resp.status == 403
    with pytest.raises(HttpError) as e:
        lib.albums().batchAddMediaItems(albumId=album["id"], body={"mediaItemIds": [third, person_item]}).execute()
    assert e.value.resp.status == 403
    assert len(fake.albums[album["id"]].items) == 3
    with pytest.raises(HttpError) as e:
        lib.albums().batchAddMediaItems(albumId=album["id"], body={"mediaItemIds": [third] * 51}).execute()
    assert e.value.resp.status == 400
    with pytest.raises(HttpError) as e:
        lib.mediaItems().batchCreate(body={"albumId": theirs, "newMediaItems": new_items(tokens[:1])}).execute()
    assert e.value.resp.status == 403


# -- quotas, faults, counters -------------------------------------------------------------------------------

def test_daily_quota_exhausted_until_midnight_pacific(fake):
    fake.library_daily_limit = 3
    lib = library(fake, creds(fake, LIBRARY_SCOPES))
    for _ in range(3):
        lib.albums().list().execute()
    with pytest.raises(HttpError) as e:
        lib.albums().list().execute()
    err = e.value
    assert err.resp.status == 429
    assert '"RESOURCE_EXHAUSTED"' in err.content.decode() and "All requests per day" in str(err)
    assert err.error_details[0]["reason"] == "RATE_LIMIT_EXCEEDED"
    assert fake.calls["library.albums.list"] == 4
    fake.clock.advance(fake.next_quota_reset() - fake.clock.now() + 1)
    lib.albums().list().execute()                      # a new day in Pacific time


def test_faults_5xx_429_and_dropped_connections(fake):
    c = creds(fake, LIBRARY_SCOPES)
    c.refresh(Request())
    lib, session = library(fake, c), AuthorizedSession(c)
    fake.fail_next(1, 503, path_prefix="/photoslibrary/")
    with pytest.raises(HttpError) as e:
        lib.albums().list().execute()
    assert e.value.resp.status == 503
    fake.fail_next(2, 500, path_prefix="/photoslibrary/")
    req = lib.albums().list()
    req._sleep = lambda seconds: None              # googleapiclient's backoff, without the wait
    assert req.execute(num_retries=3) == {}        # it retries 5xx
    assert fake.calls["library.albums.list"] == 4
    fake.fail_next(1, 429, path_prefix="/photoslibrary/v1/uploads")
    r = session.post(fake.endpoints["uploads"], data=jpeg(1), headers={"X-Goog-Upload-Protocol": "raw"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    fake.fail_next(1, "drop", path_prefix="/photoslibrary/v1/uploads")
    with pytest.raises(requests.ConnectionError):
        session.post(fake.endpoints["uploads"], data=jpeg(1), headers={"X-Goog-Upload-Protocol": "raw"})
    # the request is carried out, then the connection drops: httplib2 (under googleapiclient)
    # sends the POST once more by itself, and identical bytes give back the same item
    token = upload(fake, session, jpeg(2))
    fake.fail_next(1, "drop_after", path_prefix="/photoslibrary/v1/mediaItems:batchCreate")
    made = lib.mediaItems().batchCreate(body={"newMediaItems": new_items([token])}).execute()
    assert fake.calls["library.mediaItems.batchCreate"] == 2 and len(fake.app_items()) == 1
    # dropped twice: the client gives up, yet the item exists
    token2 = upload(fake, session, jpeg(3))
    fake.fail_next(2, "drop_after", path_prefix="/photoslibrary/v1/mediaItems:batchCreate")
    with pytest.raises(ConnectionError):
        lib.mediaItems().batchCreate(body={"newMediaItems": new_items([token2])}).execute()
    assert len(fake.app_items()) == 2
    assert made["newMediaItemResults"][0]["mediaItem"]["id"] == fake.app_items()[0].id
    # a seeded fault rate repeats the same faults
    def run(seed):
        fake.fault_rate(0.5, kinds=(503,), path_prefix="/photoslibrary/v1/albums", seed=seed)
        out = []
        for _ in range(12):
            try:
                lib.albums().list().execute()
                out.append("ok")
            except HttpError as err:
                out.append(err.resp.status)
        fake.fault_rate(0)
        return out
    assert run(3) == run(3) and 503 in run(3) and "ok" in run(3)


def test_request_counters_per_endpoint(fake):
    c = creds(fake, LIBRARY_SCOPES)
    session, lib = AuthorizedSession(c), library(fake, c)
    tokens = [upload(fake, session, jpeg(i)) for i in range(4)]
    lib.mediaItems().batchCreate(body={"newMediaItems": new_items(tokens)}).execute()
    lib.mediaItems().list().execute()
    assert fake.calls["library.uploads"] == 4
    assert fake.calls["library.mediaItems.batchCreate"] == 1
    assert fake.calls["library.mediaItems.list"] == 1
    assert fake.calls["oauth.token"] == 1
    assert fake.library_requests_today == 6
    fake.reset_counters()
    assert sum(fake.calls.values()) == 0
