"""Reading the Amazon cookies a person exports: every form, either spelling, the marketplace
from the names, and a clear message naming the file when something is wrong."""

from __future__ import annotations

import json

import pytest

from fakes.amazon import FakeAmazonPhotos
from photosync.connectors.amazon import cookies
from photosync.errors import ConfigError


@pytest.mark.parametrize("style", ["json", "json-list", "netscape"])
@pytest.mark.parametrize("underscores", [False, True])
@pytest.mark.parametrize("tld", ["com", "co.uk", "de", "co.jp"])
def test_every_export_form_gives_the_wire_names_and_the_marketplace(tmp_path, style, underscores, tld):
    fake = FakeAmazonPhotos(tld=tld)  # not started: only its cookies are used
    path = tmp_path / "cookies"
    fake.write_cookies(path, style=style, underscores=underscores)
    found, got_tld, suffix = cookies.read(path)
    assert found == fake.cookies() and got_tld == tld and suffix == fake.suffix


def test_curl_httponly_lines_and_other_cookies(tmp_path):
    path = tmp_path / "cookies.txt"
    path.write_text("# Netscape HTTP Cookie File\n"
                    "#HttpOnly_.amazon.com\tTRUE\t/\tTRUE\t0\tat-main\tAtza|abc\n"
                    ".amazon.com\tTRUE\t/\tTRUE\t0\tsession-id\t123-4567890-1234567\n"
                    ".amazon.com\tTRUE\t/\tTRUE\t0\tubid-main\t130-0000000-0000000\n"
                    ".amazon.com\tTRUE\t/\tTRUE\t0\ti18n_prefs\tUSD\n")
    found, tld, _ = cookies.read(path)
    assert tld == "com" and found == {"at-main": "Atza|abc", "session-id": "123-4567890-1234567",
                                      "ubid-main": "130-0000000-0000000"}, "only what the service reads is kept"


@pytest.mark.parametrize("content,words", [
    ("{not json", "not a JSON cookies file"),
    (json.dumps({"session-id": "1", "ubid-main": "2"}), "no at-main"),
    (json.dumps({"at-main": "a", "ubid-main": "2"}), "session-id is missing"),
    (json.dumps({"at-main": "a", "at-acbuk": "b", "session-id": "1", "ubid-main": "2"}), "several Amazon marketplaces"),
    ("just some words\n", "line 1 is not a Netscape cookie line"),
    (json.dumps([{"name": "at-main"}]), "entry 1 of the list"),
])
def test_a_bad_file_is_named_with_what_is_wrong(tmp_path, content, words):
    path = tmp_path / "exported.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as e:
        cookies.read(path)
    assert str(path) in str(e.value) and words in str(e.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the cookies file .*nope.json"):
        cookies.read(tmp_path / "nope.json")
