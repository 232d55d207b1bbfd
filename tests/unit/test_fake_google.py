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
