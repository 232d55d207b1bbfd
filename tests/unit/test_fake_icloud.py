"""The fake iCloud (tests/fakes/icloud) driven by the real pyicloud, unmodified but for its
base URLs (tests/fakes/icloud/client.py): SRP sign-in with two-factor codes, trusted and
reused sessions, the Photos library through CloudKit (paging, albums, live photos, edits,
downloads, deletes to Recently Deleted), 503 refusals and Advanced Data Protection."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone

import pytest
from pyicloud.exceptions import (PyiCloudAPIResponseException, PyiCloudFailedLoginException,
                                 PyiCloudServiceUnavailable)

from fakes.icloud import FakeICloud
from fakes.icloud.client import service_class
from fakes.pictures import jpeg, video
from fakes.tls import ca_bundle

APPLE_ID = "person@example.com"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def fake(monkeypatch):
    # pyicloud verifies TLS with requests' default; REQUESTS_CA_BUNDLE makes it trust the test CA
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle())
    with FakeICloud(APPLE_ID, PASSWORD) as f:
        yield f
    assert f.errors == [], "the fake failed internally"


def connect(fake, cookie_dir, password=PASSWORD, **kw):
    return service_class(fake.endpoints)(APPLE_ID, password, cookie_directory=str(cookie_dir), **kw)


def signed_in(fake, cookie_dir):
    api = connect(fake, cookie_dir)
    assert api.requires_2fa
    assert api.validate_2fa_code(fake.account.two_factor_code)
    return api


def test_sign_in_with_two_factor_then_the_session_is_kept(fake, tmp_path):
    api = connect(fake, tmp_path)
    assert api.requires_2fa and not api.is_trusted_session
    assert fake.sign_ins == 1 and fake.calls["signin/complete"] == 1
    assert api.validate_2fa_code("000000") is False            # a wrong code is refused
    fake.set_two_factor_code("314159")
    assert api.validate_2fa_code("314159") is True
    assert api.is_trusted_session and not api.requires_2fa
    assert fake.codes_checked == [("000000", False), ("314159", True)]
    # what pyicloud keeps: a session file with the trust token, and the cookie jar
    files = sorted(os.listdir(tmp_path))
    assert any(f.endswith(".session") for f in files) and any(f.endswith(".cookiejar") for f in files)
    jar = open(next(tmp_path / f for f in files if f.endswith(".cookiejar")), encoding="utf-8").read()
    assert "X-APPLE-WEBAUTH-TOKEN" in jar and "X-APPLE-WEBAUTH-HSA-TRUST" in jar
    # a later run reuses the session: no password round, no code
    fake.reset_counters()
    again = connect(fake, tmp_path)
    assert not again.requires_2fa and again.is_trusted_session
    assert fake.calls["signin/init"] == 0 and fake.calls["validate"] == 1


def test_an_expired_session_signs_in_again_without_a_code_while_trusted(fake, tmp_path):
    signed_in(fake, tmp_path)
    fake.expire_sessions()
    api = connect(fake, tmp_path)
    assert not api.requires_2fa and api.is_trusted_session        # the trust token skipped the code
    assert fake.sign_ins == 2
    fake.expire_sessions()
    fake.forget_trust()
    assert connect(fake, tmp_path).requires_2fa


def test_wrong_password_and_sms_codes(fake, tmp_path):
    with pytest.raises(PyiCloudFailedLoginException):
        connect(fake, tmp_path / "a", password="wrong")
    fake.account.two_factor_mode = "sms"
    api = connect(fake, tmp_path / "b")
    assert api.requires_2fa and api.two_factor_delivery_method == "sms"
    assert fake.calls["verify/phone"] == 1                        # pyicloud asked for the text message
    assert api.validate_2fa_code(fake.account.two_factor_code)
    assert fake.calls["verify/phone/securitycode"] == 1


def test_listing_pages_albums_live_photos_edits_and_downloads(fake, tmp_path):
    base = datetime(2020, 1, 1, tzinfo=timezone.utc)
    ids = [fake.add_asset(taken=base + timedelta(days=i), added=base + timedelta(days=400 + i)) for i in range(150)]
    original = jpeg("beach", (80, 60), taken=datetime(2019, 7, 4, 10, 0))
    edited = jpeg("beach-edited", (80, 60))
    live = video("beach-live", (80, 60), quicktime=True)
    beach = fake.add_asset(original, filename="IMG_0042.HEIC", kind="jpeg", live_video=live, edited=edited,
                           taken=base + timedelta(days=500), albums=["Holiday"])
    clip = fake.add_asset(kind="mov", filename="IMG_0043.MOV", taken=base + timedelta(days=501), albums=["Holiday"])
    fake.add_to_album(ids[0], "Holiday")
    api = signed_in(fake, tmp_path)
    photos = api.photos
    fake.reset_counters()
    listed = list(photos.all)
    assert len(listed) == 152 and {p.id for p in listed} == set(ids) | {beach, clip}
    assert listed[0].id == clip                                    # newest first
    # the album list, then pages of 100 assets (200 records), 52, and an empty one: pyicloud
    # stops after a page of fewer than 50
    assert fake.calls["records/query"] == 4
    assert len(photos.albums["Holiday"]) == 3
    assert {p.id for p in photos.albums["Holiday"]} == {ids[0], beach, clip}
    p = next(x for x in listed if x.id == beach)
    assert p.filename == "IMG_0042.HEIC" and p.is_live_photo
    assert set(p.versions) >= {"original", "medium", "thumb", "original_video"}
    assert p.download("original") == original
    assert p.download("original_video") == live
    # the edited rendition is not among pyicloud's versions: it is on the CPLAsset record
    assert "edited" not in p.versions
    token = p.asset_record.fields.get_value("resJPEGFullRes")
    assert photos.private_client.download_asset_bytes(token.downloadURL) == edited
    assert p.asset_record.fields.get_value("adjustmentType") == "com.apple.photo"
    m = next(x for x in listed if x.id == clip)
    assert m.item_type == "movie" and m.download("original")[4:8] == b"ftyp"
    # added-date order for incremental runs
    recent = [x.id for x, _ in zip(photos._root_library.recently_added(), range(3))]
    assert recent == [clip, beach, ids[-1]]


def test_delete_moves_to_recently_deleted_and_is_recorded(fake, tmp_path):
    keep = fake.add_asset(filename="KEEP.JPG")
    gone = fake.add_asset(filename="GONE.JPG")
    api = signed_in(fake, tmp_path)
    photo = api.photos.all[gone]
    assert photo.delete() is True
    assert [d["asset_id"] for d in fake.deletions] == [gone] and fake.hard_deletes == []
    assert fake.in_library() == [keep] and fake.recently_deleted() == [gone]
    fresh = connect(fake, tmp_path)
    assert [p.id for p in fresh.photos.all] == [keep]
    assert [p.id for p in fresh.photos.albums["Recently Deleted"]] == [gone]


def test_503_surfaces_as_an_api_error_with_its_code(fake, tmp_path):
    fake.add_asset()
    api = signed_in(fake, tmp_path)
    photos = api.photos
    fake.fail_next(1, 503, endpoint="records/query")
    with pytest.raises(PyiCloudAPIResponseException) as err:
        list(photos.all)
    assert err.value.code == 503
    assert len(list(photos.all)) == 1                             # the next call is served
    fake.fail_next(1, 503, endpoint="signin/init")
    with pytest.raises(PyiCloudFailedLoginException) as err:
        connect(fake, tmp_path / "other")
    assert "503" in repr(err.value.__cause__) or "503" in str(err.value.args)


def test_advanced_data_protection_and_web_access(fake, tmp_path):
    fake.add_asset()
    api = signed_in(fake, tmp_path)
    fake.set_adp(True, web_access=False)
    with pytest.raises(PyiCloudAPIResponseException, match="Unable to request PCS access"):
        _ = api.photos  # the property does the request
    # web access off without ADP: CloudKit refuses with ACCESS_DENIED
    fake.set_adp(False, web_access=False)
    api2 = connect(fake, tmp_path)
    with pytest.raises(PyiCloudServiceUnavailable) as err:
        _ = api2.photos
    cause = err.value.__cause__
    assert cause.code == 403 and "ACCESS_DENIED" in str(cause)
    # ADP with web access and this browser approved on a device: PCS cookies, then photos
    fake.set_adp(True, web_access=True, device_consented=True)
    api3 = connect(fake, tmp_path)
    assert len(list(api3.photos.all)) == 1
    assert fake.calls["requestPCS"] == 1


def test_download_links_expire(fake, tmp_path):
    fake.add_asset()
    api = signed_in(fake, tmp_path)
    photo = next(iter(api.photos.all))
    url = photo.download_url("original")
    assert "${f}" in url                              # the real links carry a file-name placeholder
    fake.advance(3601)
    with pytest.raises(PyiCloudAPIResponseException) as err:
        photo.download("original")
    assert err.value.code == 403
    assert next(iter(api.photos.all)).download("original")       # a fresh listing gives fresh links


def test_china_mainland_account_uses_the_cn_hosts(monkeypatch, tmp_path):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle())
    with FakeICloud(APPLE_ID, PASSWORD, country="CHN") as fake:
        api = service_class(fake.endpoints_china)(APPLE_ID, PASSWORD, cookie_directory=str(tmp_path),
                                                  china_mainland=True)
        assert api.validate_2fa_code(fake.account.two_factor_code)
        assert ("POST", "setup.icloud.com.cn", "/setup/ws/1/accountLogin") in fake.log
        # the same account through the .com hosts: the code is taken, the account login is not
        wrong = service_class(fake.endpoints)(APPLE_ID, PASSWORD, cookie_directory=str(tmp_path / "x"))
        try:
            wrong.validate_2fa_code(fake.account.two_factor_code)
        except PyiCloudFailedLoginException:
            pass
        assert not wrong.is_trusted_session and wrong.webservices is None
        assert fake.errors == []


def test_a_raw_plus_jpeg_pair_has_an_alternative_original(fake, tmp_path):
    raw = b"not-really-a-dng" + bytes(range(200))   # stands for a DNG's bytes (never decoded here)
    pair_jpeg = jpeg("raw-pair", (80, 60))
    rid = fake.add_asset(raw, kind="dng", filename="IMG_0044.DNG", alt=pair_jpeg, alt_kind="jpeg")
    photo = signed_in(fake, tmp_path).photos.all[rid]
    assert photo.item_type == "image" and photo.versions["original"]["type"] == "com.adobe.raw-image"
    assert photo.versions["alternative"]["type"] == "public.jpeg"
    assert photo.download("original") == raw and photo.download("alternative") == pair_jpeg
    assert (rid, "resOriginalAlt") in fake.asset_downloads


def test_sign_in_whatever_salt_the_fake_draws(fake, tmp_path, monkeypatch):
    """A salt whose first byte is zero (1 draw in 256) used to fail the sign-in at random: srp hands
    the salt back without its leading zero byte, so pyicloud derived another password key."""
    import fakes.icloud.auth as auth

    real = auth.secrets.token_bytes
    drawn = []

    def token_bytes(n):  # the fake's first salt draw starts with a zero byte
        if n == 16 and not drawn and sys._getframe(1).f_globals.get("__name__") == auth.__name__:
            drawn.append(n)
            return b"\x00" + real(15)
        return real(n)

    monkeypatch.setattr(auth.secrets, "token_bytes", token_bytes)
    api = connect(fake, tmp_path)
    assert drawn and api.requires_2fa                               # the password was accepted
