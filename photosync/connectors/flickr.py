"""Flickr: read a Flickr account's photos and videos, upload to it, narrow
permissions.  Uses flickrapi 2.4.0 unmodified, with its URLs set per instance.

Facts this relies on (flickr.com/services/api, ../shared/SERVICES.md):

* OAuth 1.0a; the out-of-band flow (``oauth_callback=oob``, the person pastes
  the verifier) works over SSH.  flickrapi's own token cache is created
  world-readable, so it is not used: the key, secret and token live in
  photosync's credentials file (mode 0600).
* ``flickr.photos.search`` gives at most 4,000 results per query (later pages
  repeat).  Listing therefore walks upload dates in ascending order and starts
  a new query at the last upload date seen whenever a query reaches 4,000:
  every photo is reached, at 500 per call, with no probe calls wasted.
* Incremental runs: ``min_upload_date`` past the last upload seen finds new
  photos, ``flickr.photos.recentlyUpdated`` finds metadata and permission
  changes (both move ``lastupdate``), ``photosets.getList`` says which albums
  changed (``date_update``).  A run where nothing changed costs three calls.
* JSON numbers come as strings or ints; text nodes as ``{"_content": ...}``;
  ``datetaken`` is camera-local time with no zone (kept so, with its
  granularity: 0 second, 4 month, 6 year, 8 circa).
* Originals: ``url_o`` (photos), the getSizes entry "Video Original"
  (videos).  Since 2025-05-15 free accounts get no originals and nothing above
  1024 px: the largest size is taken and recorded with its real quality.
* An upload that omits is_public/is_friend/is_family takes the account default,
  so they are always sent (and ``hidden=2`` for anything not public).  is_friend
  and is_family are independent (flickr.photos.setPerms): the connector speaks
  audiences (conflicts/visibility.py), so family-only is never sent as friends
  and family.
  flickrapi's upload names the file part "dummy name", which breaks videos
  (flickrapi#104), and answers XML only (#93): uploads are posted here with the
  real file name, signed with flickrapi's own OAuth object, and the XML answer
  parsed here.
* A location set through the API, or imported from the file's EXIF by the
  account setting "Import EXIF location data", takes the account's default geo
  permissions (flickr.photos.geo.setLocation; flickr.prefs.getGeoPerms): a public
  upload is sent without its location unless asked, and a location photosync
  sets gets the photo's own audience (flickr.photos.geo.setPerms).
* About 3,600 calls an hour per key: a token bucket keeps under the configured
  budget; 429, 5xx, connection errors and Flickr's transient codes (0 and 201
  "not currently available" under load, 105, 106, 10; upload error 3) are retried
  with backoff and jitter, and at least as long as a Retry-After asks.
* Listings give tags in their clean form only ("stlouis"); the raw forms come
  from tags.getListUserRaw (the account's) and tags.getListPhoto (one photo's).
* The search index can lag behind an upload: an upload that may have happened
  unrecorded is looked for among the photos uploaded since (people.getPhotos,
  recentlyUpdated) as well as by its machine tag.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator
from urllib.parse import urlsplit, urlunsplit

from .. import credentials
from ..errors import AuthError, ConfigError, MediaError, PhotosyncError, SourceError
from ..media.formats import FORMATS
from ..conflicts import visibility as vis
from ..model import AUDIENCE_GROUPS, AUDIENCES, VISIBILITY_LEVELS, CameraInfo, Location, Metadata, Photo
from ..net import TokenBucket, retry_after_seconds, retrying
from .base import Capabilities, Connector, ItemRef, Listing, ServiceItem

DEFAULT_ENDPOINTS = {
    "rest": "https://api.flickr.com/services/rest/",
    "upload": "https://up.flickr.com/services/upload/",
    "replace": "https://up.flickr.com/services/replace/",
    "request_token": "https://www.flickr.com/services/oauth/request_token",
    "authorize": "https://www.flickr.com/services/oauth/authorize",
    "access_token": "https://www.flickr.com/services/oauth/access_token",
    # scheme://host that replaces the host of photo and video file URLs (tests, proxies)
    "photo_host": "",
}
EXTRAS = ("description,date_upload,date_taken,original_format,last_update,geo,tags,machine_tags,o_dims,media,"
          "url_o,url_k,url_h,url_l,url_c,url_z")
PER_PAGE = 500
SEARCH_CAP = 4000
#: photosync's machine tag on everything it uploads: photosync:sha256=<hex>
MACHINE_TAG = "photosync:sha256"
#: Flickr's own error codes that mean "try again later": 105 "Service currently unavailable" and 106
#: "Write operation failed" (every method's "Error codes" on flickr.com/services/api), 10 "Sorry, the
#: Flickr search API is not currently available" (flickr.photos.search.html), and 0 and 201 "Sorry, the
#: Flickr API service is not currently available.", which Flickr answers under load and the Flickr
#: Foundation's own client retries (flickr-photos-api, is_retryable(): "We've seen similar with code 0")
TRANSIENT_CODES = {0, 10, 105, 106, 201}
#: upload.api.html error 3 "General upload failure" (and the outage codes): tried again, after looking
#: for the photo (it may have been stored before the failure)
UPLOAD_RETRY_CODES = TRANSIENT_CODES | {3}
#: sizes below the original, largest first: (extra suffix, label)
SIZES = (("k", "Large 2048"), ("h", "Large 1600"), ("l", "Large"), ("c", "Medium 800"), ("z", "Medium 640"))
GRANULARITY = {0: None, 4: "month", 6: "year", 8: "circa"}
GRANULARITY_CODE = {None: 0, "second": 0, "month": 4, "year": 6, "circa": 8}
FLICKR_FORMAT = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "gif": "gif", "tif": "tiff", "tiff": "tiff",
                 "mp4": "mp4", "mov": "mov", "avi": "avi", "wmv": "wmv", "asf": "wmv", "mpg": "mpeg",
                 "mpeg": "mpeg", "mts": "m2ts", "m2ts": "m2ts", "3gp": "3gp", "3g2": "3g2"}
DEFAULT_REQUESTS_PER_HOUR = 3500
RETRY_HTTP = re.compile(r"Status code (\d{3})")
#: seconds before a run's start that its cursor stops at (late search-index entries are listed again)
CURSOR_MARGIN = 300
#: how long before an upload intent the photos uploaded are looked through: Flickr's clock and ours
#: differ; by this much at most once the offset is known from the Date of Flickr's answers (whole
#: seconds, plus the time an answer takes), by an hour when it is not
INTENT_MARGIN = 300
INTENT_MARGIN_UNKNOWN_CLOCK = 3600


def entry_from_info(info: dict) -> dict:
    """A ``photos.getInfo`` answer in the shape of a search entry with EXTRAS (no size URLs: describe
    then takes the original through getSizes)."""
    vis = info.get("visibility") or {}
    dates = info.get("dates") or {}
    loc = info.get("location") or {}
    tags = (info.get("tags") or {}).get("tag") or []
    return {
        "id": str(info["id"]), "secret": info.get("secret"), "server": info.get("server"),
        "title": _text(info.get("title")), "description": {"_content": _text(info.get("description"))},
        "ispublic": _int(vis.get("ispublic")), "isfriend": _int(vis.get("isfriend")),
        "isfamily": _int(vis.get("isfamily")),
        "dateupload": str(info.get("dateuploaded") or dates.get("posted") or 0),
        "lastupdate": str(dates.get("lastupdate") or 0), "datetaken": dates.get("taken"),
        "datetakengranularity": str(dates.get("takengranularity", 0)),
        "datetakenunknown": str(dates.get("takenunknown", 0)),
        "originalsecret": info.get("originalsecret"), "originalformat": info.get("originalformat"),
        "tags": " ".join(_text(t) for t in tags),
        "machine_tags": " ".join(_text(t) for t in tags if _int(t.get("machine_tag"))),
        "raw_tags": [str(t.get("raw") or _text(t)) for t in tags],
        "latitude": loc.get("latitude", 0), "longitude": loc.get("longitude", 0),
        "media": info.get("media", "photo"), "from_info": True,
    }


def _int(v, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _text(v) -> str:
    if isinstance(v, dict):
        v = v.get("_content")
    return v or ""


def clean_tag(tag: str) -> str:
    """Flickr's clean form of a tag: lower case, without spaces and punctuation (misc.tags.html: the
    form used in URLs; "St. Louis" is "stlouis", "Black & White" "blackwhite"; letters of any script
    stay, as in "muséo": WordPress/openverse#4906)."""
    return "".join(ch for ch in tag.lower() if ch.isalnum())


def _own_tag(tag: str) -> bool:
    return tag.lower().startswith(MACHINE_TAG + "=")


def _own_hashes(tags: str | None) -> list[str]:
    """The content hashes in photosync's machine tags among ``tags`` (a space-separated string)."""
    return ["sha256:" + t.split("=", 1)[1].lower() for t in (tags or "").split() if _own_tag(t)]


def _sent_tags(tags) -> tuple[str, ...]:
    """Tags as upload() sends them (no double quotes: they delimit tags), one per clean form."""
    out: dict[str, str] = {}
    for t in tags:
        t = t.replace('"', "").strip()
        out.setdefault(clean_tag(t) or t, t)
    return tuple(t for t in out.values() if t)


def level_of(entry: dict) -> str:
    """Flickr's permission flags on the canonical scale (family-only and friends-only are
    both "friends"; audience_of says which)."""
    return vis.level_of(audience_of(entry))


def audience_of(entry: dict) -> str:
    """Flickr's permission flags as an audience.  ``is_friend`` and ``is_family`` are
    independent (flickr.photos.setPerms: "1 to make the photo visible to friends when
    private", "... to family when private"), and ``is_public`` shows it to everyone
    whatever they say."""
    if _int(entry.get("ispublic")):
        return "public"
    return {(0, 0): "private", (1, 0): "friends", (0, 1): "family", (1, 1): "friends+family"}[
        (1 if _int(entry.get("isfriend")) else 0, 1 if _int(entry.get("isfamily")) else 0)]


#: (is_public, is_friend, is_family) of each audience; "friends" is friends only
FLAGS = {"private": (0, 0, 0), "family": (0, 0, 1), "friends": (0, 1, 0), "friends+family": (0, 1, 1),
         "public": (1, 0, 0)}


def flags_for(audience: str) -> dict[str, str]:
    """is_public / is_friend / is_family / hidden for an audience (always all of them: an
    upload that omits them takes the account default).  A canonical level is an audience
    too: "friends" means friends only, the narrowest Flickr state that fits."""
    pub, friend, family = FLAGS[audience]
    return {
        "is_public": str(pub),
        "is_friend": str(friend),
        "is_family": str(family),
        "hidden": "1" if pub else "2",  # 2: kept out of public search
    }


def geo_flags_for(audience: str) -> dict[str, str]:
    """flickr.photos.geo.setPerms's four flags (all required: is_public, is_contact,
    is_friend, is_family) so that a location is seen by the photo's audience and nobody
    else; contacts who are neither friends nor family never see it."""
    pub, friend, family = FLAGS[audience]
    return {"is_public": str(pub), "is_contact": "0", "is_friend": str(friend), "is_family": str(family)}


def _geo_groups(perms: dict) -> frozenset:
    """Who sees a location under flickr.photos.geo.getPerms / getInfo ``geoperms`` flags."""
    groups = set()
    if _int(perms.get("ispublic")):
        groups |= {"everyone", "contacts", "friends", "family"}
    if _int(perms.get("iscontact")):
        groups |= {"contacts", "friends", "family"}  # friends and family are contacts
    if _int(perms.get("isfriend")):
        groups.add("friends")
    if _int(perms.get("isfamily")):
        groups.add("family")
    return frozenset(groups)


def split_caption(caption: str | None) -> tuple[str, str]:
    """Flickr's title and description from a caption (title, blank line, description)."""
    if not caption:
        return "", ""
    title, _, desc = caption.partition("\n\n")
    return title.strip(), desc.strip()


def _quote_tag(tag: str) -> str:
    tag = tag.replace('"', "")
    return f'"{tag}"' if " " in tag else tag


class _Transient(Exception):
    """A download that may work when tried again (429, 5xx, cut short)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        #: seconds the server asked to wait (its Retry-After), if it said
        self.retry_after = retry_after


def _retry_after(e: BaseException) -> float | None:
    return getattr(e, "retry_after", None)


def _transient(e: BaseException) -> bool:
    import requests
    from flickrapi.exceptions import FlickrError

    if isinstance(e, _Transient):
        return True
    if isinstance(e, FlickrError):
        if e.code is not None:
            return e.code in TRANSIENT_CODES
        m = RETRY_HTTP.search(str(e))
        return bool(m) and (m.group(1) == "429" or m.group(1).startswith("5"))
    if isinstance(e, ValueError) and not isinstance(e, FlickrError):  # not JSON: an outage page, a proxy
        return True
    return isinstance(e, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError))


class _Cursor:
    """Where the next incremental run starts (kept as JSON in sync-state)."""

    def __init__(self, upload: int = 0, update: int = 0, full_at: int = 0):
        self.upload = upload
        self.update = update
        self.full_at = full_at

    @classmethod
    def parse(cls, text: str | None) -> "_Cursor | None":
        if not text:
            return None
        try:
            d = json.loads(text)
            return cls(int(d["upload"]), int(d["update"]), int(d.get("full_at", 0)))
        except (ValueError, KeyError, TypeError):
            return None

    def dump(self) -> str:
        return json.dumps({"upload": self.upload, "update": self.update, "full_at": self.full_at},
                          separators=(",", ":"))


class FlickrConnector(Connector):
    type_name = "flickr"
    capabilities = Capabilities(
        upload=True, set_visibility=True, visibility_levels=VISIBILITY_LEVELS, audiences=AUDIENCES, albums=True,
        originals=True, incremental=True,
        # Flickr's upload limits (help centre: 200 MB a photo, 1 GB a video; these formats: AVI, WMV,
        # MOV, MPEG 1/2/4 and 3GP since its video launch in 2008, AVCHD M2TS/MTS in its help centre)
        max_photo_bytes=200 * 1024 * 1024, max_video_bytes=1024 * 1024 * 1024,
        upload_formats=("jpeg", "png", "gif", "tiff", "mp4", "mov", "3gp", "avi", "wmv", "mpeg", "m2ts"),
    )
    secret_options = ("api_key", "api_secret")

    def __init__(self, name, config, env):
        super().__init__(name, config, env)
        self.endpoints = {**DEFAULT_ENDPOINTS, **(config.get("endpoints") or {})}
        rate = config.get("rate_limit") or {}
        per_hour = rate.get("requests_per_hour") or (rate["requests_per_minute"] * 60 if "requests_per_minute" in rate
                                                     else DEFAULT_REQUESTS_PER_HOUR)
        self.per_hour = float(per_hour)
        self._bucket: TokenBucket | None = None
        retry = config.get("retry") or {}
        # 8 attempts: under a 20 % fault mix a call fails for good once in 390,000 (0.2 ** 8), so a
        # 6,500-photo account is read whole in about 98 runs of 100 (with 6: about 65)
        self.attempts = int(retry.get("attempts", 8))
        self.backoff = float(retry.get("base_seconds", 1.0))
        self.timeout = float(config.get("timeout_seconds", 60))
        self.calls = 0
        self._lock = threading.Lock()
        self._client_obj = None
        self._http = None
        #: per thread: the Retry-After of the last REST answer flickrapi saw (it keeps no headers)
        self._last_answer = threading.local()
        self._warned: set[str] = set()
        self._sets_by_title: dict[str, str] | None = None
        self._album_lock = threading.Lock()
        self._failed: set[str] = set()
        self._album_changes: list[dict] = []
        self._tags_lock = threading.Lock()
        #: Flickr's clock minus ours (seconds), once an answer's Date header told it
        self._clock_offset: float | None = None
        self._raw_forms: dict[str, list[str]] | None = None

    # -- config and credentials -------------------------------------------------------------
    @classmethod
    def config_from_options(cls, options: dict, library_root: Path) -> dict:
        out: dict = {}
        if options.get("endpoints"):
            unknown = set(options["endpoints"]) - set(DEFAULT_ENDPOINTS)
            if unknown:
                raise ConfigError(f"unknown Flickr endpoint(s) {', '.join(sorted(unknown))}; "
                                  f"known: {', '.join(DEFAULT_ENDPOINTS)}")
            out["endpoints"] = dict(options["endpoints"])
        if options.get("upload_from"):
            out["upload_from"] = list(options["upload_from"])
        if options.get("requests_per_hour"):
            out["rate_limit"] = {"requests_per_hour": float(options["requests_per_hour"])}
        return out

    @classmethod
    def check_secrets(cls, secrets: dict, existing: dict | None) -> dict:
        merged = {**(existing or {}), **{k: v for k, v in secrets.items() if v}}
        if not merged.get("api_key") or not merged.get("api_secret"):
            raise ConfigError("a Flickr service needs --api-key and --api-secret "
                              "(from https://www.flickr.com/services/apps/create/)")
        return merged

    def _secrets(self) -> dict:
        data = credentials.load(self.env.ctx, "services", self.name) or {}
        if not data.get("api_key") or not data.get("api_secret"):
            raise AuthError(
                f"no Flickr API key saved for service {self.name}; run: photosync service add {self.name} --type flickr "
                f"--api-key KEY --api-secret SECRET (or photosync auth {self.name} --api-key KEY --api-secret SECRET)"
            )
        return data

    def _client(self, signed_in: bool = True):
        """flickrapi's client, with photosync's token and this service's URLs."""
        if signed_in and self._client_obj is not None:
            return self._client_obj
        import flickrapi
        import requests
        from flickrapi.auth import FlickrAccessToken

        data = self._secrets()
        token = None
        if signed_in:
            if not data.get("oauth_token"):
                raise AuthError(f"not signed in to Flickr; run: photosync auth {self.name}")
            token = FlickrAccessToken(data["oauth_token"], data["oauth_token_secret"], data.get("perms", "read"),
                                      data.get("fullname", ""), data.get("username", ""), data.get("user_nsid", ""))
        import logging

        # flickrapi logs each HTTP error itself; photosync reports them (once, after retries)
        logging.getLogger("flickrapi").setLevel(logging.CRITICAL)
        api = flickrapi.FlickrAPI(str(data["api_key"]), str(data["api_secret"]), format="parsed-json",
                                  store_token=False, token=token, timeout=self.timeout)
        api.REST_URL = self.endpoints["rest"]
        api.UPLOAD_URL = self.endpoints["upload"]
        api.REPLACE_URL = self.endpoints["replace"]
        oauth = api.flickr_oauth
        oauth.REQUEST_TOKEN_URL = self.endpoints["request_token"]
        oauth.AUTHORIZE_URL = self.endpoints["authorize"]
        oauth.ACCESS_TOKEN_URL = self.endpoints["access_token"]
        oauth.session = requests.Session()  # flickrapi's is one per process, shared by every instance
        local = self._last_answer
        connector = self

        def keep_retry_after(r, *args, **kwargs):
            connector._note_clock(r.headers.get("Date"))
            # a 429 or 503 may say how long to wait (RFC 9110 Retry-After); flickrapi raises without headers
            local.retry_after = r.headers.get("Retry-After") if r.status_code in (429, 503) else None
            # Flickr answers HTTP 400 with "Sorry, the Flickr API service is not currently available" when
            # it is down (snarfed/webutil util.py, interpret_http_exception): the same as its code 0
            local.unavailable = r.status_code == 400 and b"not currently available" in r.content[:4096]
            # and without the body, where the OAuth endpoints say what was wrong (oauth_problem=...)
            local.oauth_problem = None
            if r.status_code == 401 and len(r.content) < 4096:
                m = re.search(r"oauth_problem=([A-Za-z_]+)", r.text)
                local.oauth_problem = m.group(1) if m else ""

        oauth.session.hooks["response"].append(keep_retry_after)
        if signed_in:
            expected = self.config.get("account")
            if expected and data.get("user_nsid") and data["user_nsid"] != expected:
                raise AuthError(
                    f"the saved Flickr sign-in is for account {data['user_nsid']}, but service {self.name} of this "
                    f"library is account {expected} (another library's service of the same name signed in?); "
                    f"run: photosync auth {self.name}"
                )
            self._client_obj = api
            self.user_nsid = data.get("user_nsid") or "me"
            self.perms = data.get("perms", "read")
        return api

    def login(self, ask, perms: str | None = None) -> str:
        from flickrapi.exceptions import FlickrError

        perms = perms or ("write" if self.config.get("upload_from") else "read")
        if perms not in ("read", "write", "delete"):
            raise ConfigError(f"--perms {perms}: use read, write or delete")
        import requests

        api = self._client(signed_in=False)
        oauth = api.flickr_oauth
        self._last_answer.oauth_problem = None
        try:
            oauth.get_request_token(oauth_callback="oob")
            url = oauth.auth_url(perms=perms)
        except requests.RequestException as e:
            # offline, a DNS failure, a proxy: nothing says the key is wrong
            raise SourceError(f"cannot reach Flickr at {urlsplit(self.endpoints['request_token']).netloc} "
                              f"({type(e).__name__}); check the network connection and try again. "
                              "Nothing was saved") from None
        except FlickrError as e:
            problem = getattr(self._last_answer, "oauth_problem", None)
            if problem is not None:
                # 401: Flickr's OAuth endpoint refused the consumer key or the signature made with the secret
                raise AuthError(f"Flickr refused the API key or secret ({problem or 'HTTP 401'}); check them "
                                f"(photosync auth {self.name} --api-key KEY --api-secret SECRET)") from None
            raise SourceError(f"Flickr did not start the sign-in ({e}); try again later") from None
        verifier = ask(
            f"Open this address in a browser, sign in to Flickr and allow photosync ({perms} access):\n\n  {url}\n\n"
            "Then paste the code Flickr shows"
        ).strip()
        if not verifier:
            raise AuthError("no code given; nothing was saved")
        oauth.verifier = verifier
        try:
            token = oauth.get_access_token()
        except requests.RequestException as e:
            raise SourceError(f"cannot reach Flickr at {urlsplit(self.endpoints['access_token']).netloc} "
                              f"({type(e).__name__}); check the network connection and run photosync auth "
                              f"{self.name} again") from None
        except (FlickrError, OSError, KeyError) as e:
            raise AuthError(f"Flickr did not accept the code ({e}); run photosync auth {self.name} again") from None
        data = self._secrets()
        data.update(oauth_token=token.token, oauth_token_secret=token.token_secret, perms=perms,
                    user_nsid=token.user_nsid, username=token.username, fullname=token.fullname)
        credentials.save(self.env.ctx, "services", self.name, data)
        self._client_obj = None
        self.config = {k: v for k, v in self.config.items() if k != "account"}  # a new sign-in may change it
        who = self.call("flickr.test.login")
        self.account = str(who["user"].get("id") or token.user_nsid)
        return f"{_text(who['user'].get('username'))} ({self.account}), {perms} access"

    @property
    def bucket(self) -> TokenBucket:
        """The API key's request budget, shared by the runs that use the key (a file in the user cache)."""
        if self._bucket is None:
            from ..context import cache_dir

            key = str(self._secrets().get("api_key", ""))
            digest = hashlib.sha1(key.encode()).hexdigest()[:16]
            self._bucket = TokenBucket(self.per_hour, state_path=str(cache_dir() / "flickr-budget" / f"{digest}.json"))
        return self._bucket

    # -- calls ------------------------------------------------------------------------------
    def call(self, method: str, _attempts: int | None = None, **params):
        """One REST call within the budget, retried when the failure is transient;
        a failure that stays is raised as a PhotosyncError that says what to do."""
        import requests
        from flickrapi.exceptions import FlickrError

        api = self._client()

        def once():
            self.bucket.take()
            with self._lock:
                self.calls += 1
            self._last_answer.retry_after = None
            self._last_answer.unavailable = False
            try:
                return api.do_flickr_call(method, timeout=self.timeout, **params)
            except FlickrError as e:
                e.retry_after = retry_after_seconds(getattr(self._last_answer, "retry_after", None))
                if e.code is None and getattr(self._last_answer, "unavailable", False):
                    e.code = 0
                raise

        try:
            return retrying(once, transient=_transient, attempts=_attempts or self.attempts, base=self.backoff,
                            on_retry=self._retry_note(method), retry_after=_retry_after)
        except FlickrError as e:
            raise self._explain(e, method, _attempts) from None
        except requests.RequestException as e:
            raise SourceError(f"Flickr {method}: cannot reach {urlsplit(self.endpoints['rest']).netloc} "
                              f"after {_attempts or self.attempts} attempts ({type(e).__name__})") from None
        except ValueError:
            raise SourceError(f"Flickr {method}: the answer is not Flickr's JSON (an outage page or a proxy?) "
                              f"after {_attempts or self.attempts} attempts; try again later") from None

    def _retry_note(self, what: str):
        def note(e: BaseException, delay: float) -> None:
            key = f"retry:{what}"
            if key not in self._warned:  # once per kind: a flaky hour must not flood the screen
                self._warned.add(key)
                self.env.report.info(f"service {self.name}: {what}: {e}; trying again in {delay:.1f} s")
        return note

    def _explain(self, e, method: str, attempts: int | None = None) -> PhotosyncError:
        code = e.code
        attempts = attempts or self.attempts
        if code == 98:
            return AuthError("Flickr says the sign-in is no longer valid (expired or revoked); "
                             f"run: photosync auth {self.name}")
        if code == 99:
            return AuthError(f"the Flickr sign-in does not allow {method}; "
                             f"run: photosync auth {self.name} --perms write")
        if code == 100:
            return AuthError("Flickr does not know the API key; save the right one with "
                             f"photosync auth {self.name} --api-key KEY --api-secret SECRET")
        if code in (96, 97):
            return AuthError("Flickr rejected the request's signature (is the API secret "
                             f"right?); run: photosync auth {self.name} --api-key KEY --api-secret SECRET")
        if code is None:
            m = RETRY_HTTP.search(str(e))
            what = f"HTTP {m.group(1)}" if m else str(e)
            return SourceError(f"Flickr answered {what} to {method} ({attempts} attempts); try again later")
        if code in TRANSIENT_CODES:
            return SourceError(f"Flickr {method}: the Flickr API is not available now (error {code}, "
                               f"{attempts} attempt{'s' if attempts != 1 else ''}); try again later")
        return SourceError(f"Flickr {method}: error {code}: {str(e).split(': ', 2)[-1]}")

    # -- listing ------------------------------------------------------------------------------
    def list(self, *, cursor=None, since: datetime | None = None, full_scan: bool = False) -> Listing:
        self._client()  # fail now (not signed in, no key) rather than inside the walk
        state = None if full_scan else _Cursor.parse(cursor)
        days = float(self.config.get("full_listing_days", 30))
        now = int(time.time())
        full = state is None or (since is None and now - state.full_at > days * 86400)
        listing = Listing(refs=iter(()), complete=full and since is None, cursor=cursor)
        listing.refs = self._refs(listing, cursor, state, since, full, now)
        return listing

    def _refs(self, listing: Listing, cursor, state: _Cursor | None, since, full: bool, now: int) -> Iterator[ItemRef]:
        albums = self._albums(refresh_all=full or state is None, cursor=cursor)
        # the next cursor: the newest upload and update seen, but never later than a few minutes
        # before this run (Flickr's search index can be late; re-listing that overlap is cheap)
        settle = now - CURSOR_MARGIN
        seen = {"upload": state.upload if state else 0, "update": state.update if state else 0}
        full_at = now if (full and since is None) else (state.full_at if state else 0)
        emitted: set[str] = set()
        self._dates: dict[str, tuple[int, int]] = {}
        self._failed: set[str] = set()

        def take(entry: dict) -> ItemRef | None:
            pid = str(entry["id"])
            up, upd = _int(entry.get("dateupload")), _int(entry.get("lastupdate"))
            seen["upload"] = max(seen["upload"], min(up, settle))
            seen["update"] = max(seen["update"], min(upd, settle))
            if pid in emitted:
                return None
            emitted.add(pid)
            self._dates[pid] = (up, upd)
            return self._ref(entry, albums.get(pid, ()))

        def sources() -> Iterator[dict]:
            if full:
                start = int(since.timestamp()) if since else 0
                yield from self._walk_uploads(start)
                if since is not None:
                    yield from self._recently_updated(int(since.timestamp()))
                return
            assert state is not None
            # inclusive bounds: what came in the same second as the last one seen is not missed
            # (what was seen already comes back with the same fingerprint and costs nothing)
            start = state.upload if since is None else min(state.upload, int(since.timestamp()))
            yield from self._walk_uploads(start)
            changed_from = state.update if since is None else min(state.update, int(since.timestamp()))
            yield from self._recently_updated(changed_from)
            yield from self._album_changes

        for entry in sources():
            ref = take(entry)
            if ref:
                yield ref

        def final() -> str:
            # an item that could not be read (and will be tried again) holds the cursor back to it
            upload, update = seen["upload"], seen["update"]
            for pid in self._failed:
                up, upd = self._dates.get(pid, (upload, update))
                upload, update = min(upload, up), min(update, upd)
            text = _Cursor(upload, update, full_at).dump()
            self._save_album_cache(text)
            return text

        listing.cursor_fn = final

    def _ref(self, entry: dict, albums) -> ItemRef:
        if entry.get("originalsecret") and (entry.get("media") == "video" or entry.get("url_o")
                                            or entry.get("from_info")):
            key = "o:" + entry["originalsecret"]
        else:
            key = "s:" + str(entry.get("secret", ""))
        album_key = hashlib.sha1("\x00".join(sorted(albums)).encode()).hexdigest()[:12] if albums else "-"
        fingerprint = f"{_int(entry.get('lastupdate'))}:{key}:{album_key}"
        slim = {k: v for k, v in entry.items() if k not in ("owner", "farm", "context", "views", "license")}
        slim["albums"] = sorted(albums)
        return ItemRef(str(entry["id"]), fingerprint, key, None, None, None, json.dumps(slim).encode())

    def _pages(self, method: str, key: str, **params) -> Iterator[tuple[dict, list]]:
        """(page info, entries) of each page of a paged call."""
        page = 1
        while True:
            answer = self.call(method, per_page=PER_PAGE, page=page, **params)[key]
            entries = answer.get("photo") or answer.get("photoset") or []
            yield answer, entries
            if page >= _int(answer.get("pages"), 1) or not entries:
                return
            page += 1

    def _walk_uploads(self, min_upload: int, **extra) -> Iterator[dict]:
        """Every photo uploaded at or after ``min_upload``, oldest first, each once.

        Each query starts at the last upload second seen (skipping the ids already
        given for that second) instead of asking for page N: a photo deleted or
        added during the walk cannot shift a page and hide another, and Flickr's
        4,000-result cap is never reached.  Only when a whole page shares one
        second does it page within that second."""
        lo, page = min_upload, 1
        at_lo: set[str] = set()
        while True:
            answer = self.call("flickr.photos.search", user_id="me", sort="date-posted-asc", min_upload_date=lo,
                               extras=EXTRAS, per_page=PER_PAGE, page=page, **extra)["photos"]
            entries = answer.get("photo") or []
            for e in entries:
                if str(e["id"]) not in at_lo:
                    yield e
            if len(entries) < PER_PAGE or page >= _int(answer.get("pages"), 1):
                return
            last = _int(entries[-1].get("dateupload"))
            if last == lo:
                at_lo.update(str(e["id"]) for e in entries)
                page += 1
                if page * PER_PAGE > SEARCH_CAP:
                    raise SourceError(f"more than {SEARCH_CAP} photos share the upload second {lo}; Flickr's "
                                      "search cannot list them all")
            else:
                lo, page = last, 1
                at_lo = {str(e["id"]) for e in entries if _int(e.get("dateupload")) == last}

    def _recently_updated(self, min_date: int) -> Iterator[dict]:
        for _answer, entries in self._pages("flickr.photos.recentlyUpdated", "photos", min_date=min_date,
                                            extras=EXTRAS):
            yield from entries

    # -- albums -------------------------------------------------------------------------------
    def _album_cache_path(self) -> Path:
        from ..context import cache_dir

        digest = hashlib.sha1(f"{self.env.library_root}\x00{self.name}".encode()).hexdigest()[:16]
        return cache_dir() / "flickr-albums" / f"{digest}.json"

    def _albums(self, refresh_all: bool, cursor: str | None) -> dict[str, tuple[str, ...]]:
        """photo id -> titles of its albums.  Only albums whose date_update moved
        since the last run are fetched; the rest comes from a local cache, trusted
        only when it was written with the cursor this run starts from (a run killed
        before its commit leaves a cache that is not used)."""
        cache: dict = {}
        if not refresh_all:
            try:
                saved = json.loads(self._album_cache_path().read_text())
                if saved.get("cursor") == cursor:
                    cache = saved.get("albums", {})
                else:
                    refresh_all = True
            except (OSError, ValueError, AttributeError):
                refresh_all = True
        sets = []
        for _answer, entries in self._pages("flickr.photosets.getList", "photosets"):
            sets.extend(entries)
        fresh: dict = {}
        joined: list[dict] = []
        left: set[str] = set()
        for s in sets:
            sid = str(s["id"])
            stamp = str(s.get("date_update", ""))
            title = _text(s.get("title")) or sid
            old = cache.get(sid)
            if old and old.get("stamp") == stamp and old.get("title") == title:
                fresh[sid] = old
                continue
            members = []
            for _answer, entries in self._pages("flickr.photosets.getPhotos", "photoset", photoset_id=sid,
                                                user_id=getattr(self, "user_nsid", "me"), extras=EXTRAS, media="all"):
                members.extend(entries)
            ids = [str(m["id"]) for m in members]
            fresh[sid] = {"stamp": stamp, "title": title, "members": ids}
            if not refresh_all:  # incremental: photos that joined, left, or whose album was renamed
                before = set(old.get("members", [])) if old else set()
                renamed = old is not None and old.get("title") != title
                joined.extend(m for m in members if renamed or str(m["id"]) not in before)
                left |= before - set(ids)
        if not refresh_all:
            for sid, old in cache.items():  # albums deleted on Flickr
                if sid not in fresh:
                    left |= set(old.get("members", []))
        self._album_state = fresh
        out: dict[str, list[str]] = {}
        for sid, s in fresh.items():
            for pid in s["members"]:
                out.setdefault(pid, []).append(s["title"])
        joined_ids = {str(m["id"]) for m in joined}
        self._album_changes = [*joined, *self._entries_of(sorted(left - joined_ids))]
        return {pid: tuple(sorted(titles)) for pid, titles in out.items()}

    def _entries_of(self, ids: list[str]) -> Iterator[dict]:
        """Listing entries for photos named by id (photos that left an album), from getInfo."""
        for pid in ids:
            try:
                info = self.call("flickr.photos.getInfo", photo_id=pid)["photo"]
            except SourceError as e:
                if "error 1:" in str(e):  # deleted: the next full listing marks it missing
                    continue
                raise
            yield entry_from_info(info)

    def _save_album_cache(self, cursor: str) -> None:
        path = self._album_cache_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"cursor": cursor, "albums": self._album_state}))
            tmp.replace(path)
        except OSError:
            pass  # a cache: the next run fetches the albums again

    # -- reading items --------------------------------------------------------------------------
    def where(self, item_id: str) -> str:
        return f"{self.name}:{item_id}"

    def _host(self, url: str) -> str:
        host = self.endpoints.get("photo_host")
        if not host:
            return url
        h = urlsplit(host)
        u = urlsplit(url)
        return urlunsplit((h.scheme, h.netloc, u.path, u.query, ""))

    def _note_once(self, key: str, message: str) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        self.env.report.info(f"note: service {self.name}: {message}")

    def _file(self, entry: dict) -> tuple[str, str, str, tuple]:
        """(url, quality, file extension, (width, height) Flickr states) of the best file Flickr gives
        for an item."""
        if entry.get("media") == "video":
            sizes = self.call("flickr.photos.getSizes", photo_id=str(entry["id"]))["sizes"]["size"]
            by_label = {s.get("label"): s for s in sizes}
            if "Video Original" in by_label:
                orig = by_label["Video Original"]
                return self._host(orig["source"]), "original", entry.get("originalformat") or "mp4", _wh(orig)
            # files only: "Video Player" is the web player's address, not a file (getSizes docs)
            videos = [s for s in sizes if s.get("media") == "video" and s.get("source")
                      and "MP4" in str(s.get("label", ""))]
            if not videos:
                raise SourceError("Flickr gives no downloadable file for this video")
            best = max(videos, key=lambda s: _int(s.get("width")) * _int(s.get("height")))
            self._no_originals()
            return self._host(best["source"]), _quality(best), "mp4", _wh(best)
        if entry.get("url_o"):
            return self._host(entry["url_o"]), "original", entry.get("originalformat") or "jpg", \
                (_int(entry.get("width_o")) or _int(entry.get("o_width")) or None,
                 _int(entry.get("height_o")) or _int(entry.get("o_height")) or None)
        if entry.get("from_info"):  # no size URLs in getInfo: ask for them
            sizes = self.call("flickr.photos.getSizes", photo_id=str(entry["id"]))["sizes"]["size"]
            files = [s for s in sizes if s.get("media", "photo") == "photo" and s.get("source")]
            if not files:
                raise SourceError("Flickr gives no downloadable size of this photo")
            original = next((s for s in files if s.get("label") == "Original"), None)
            if original is not None:
                return self._host(original["source"]), "original", entry.get("originalformat") or "jpg", \
                    _wh(original)
            best = max(files, key=lambda s: _int(s.get("width")) * _int(s.get("height")))
            self._no_originals()
            return self._host(best["source"]), _quality(best), "jpg", _wh(best)
        for suffix, _label in SIZES:
            if entry.get(f"url_{suffix}"):
                self._no_originals()
                size = {"width": entry.get(f"width_{suffix}"), "height": entry.get(f"height_{suffix}")}
                return self._host(entry[f"url_{suffix}"]), _quality(size), "jpg", _wh(size)
        raise SourceError("Flickr gives no downloadable size of this photo")

    def _no_originals(self) -> None:
        self._note_once("originals", "this Flickr account does not give original files (free accounts cannot "
                        "download originals since 2025-05-15); the largest size Flickr gives is recorded instead, "
                        "with its real quality, not as an original")

    def _session(self):
        if self._http is None:
            import requests

            with self._lock:
                if self._http is None:
                    s = requests.Session()
                    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
                    s.mount("http://", adapter)
                    s.mount("https://", adapter)
                    self._http = s
        return self._http

    def _download(self, url: str) -> BinaryIO:
        """The file at ``url`` in a temporary file (rewound), checked against its
        Content-Length; 429, 5xx and short reads are tried again."""
        import requests

        def once():
            tmp = tempfile.TemporaryFile()
            try:
                with self._session().get(url, stream=True, timeout=self.timeout) as r:
                    if r.status_code == 429 or r.status_code >= 500:
                        raise _Transient(f"HTTP {r.status_code} from {urlsplit(url).netloc}",
                                         retry_after_seconds(r.headers.get("Retry-After")))
                    if r.status_code != 200:
                        raise SourceError(f"the file could not be downloaded (HTTP {r.status_code})")
                    expected = r.headers.get("Content-Length")
                    got = 0
                    for chunk in r.iter_content(1 << 20):
                        tmp.write(chunk)
                        got += len(chunk)
                if expected is not None and got != int(expected):
                    raise _Transient(f"download cut short ({got} of {expected} bytes)")
                tmp.seek(0)
                return tmp
            except BaseException:
                tmp.close()
                raise

        try:
            return retrying(once, transient=_transient, attempts=self.attempts, base=self.backoff,
                            on_retry=self._retry_note("download"), retry_after=_retry_after)
        except _Transient as e:
            raise SourceError(f"the file could not be downloaded after {self.attempts} attempts: {e}") from None
        except requests.RequestException as e:
            raise SourceError(f"the file could not be downloaded: cannot reach {urlsplit(url).netloc} after "
                              f"{self.attempts} attempts ({type(e).__name__})") from None

    def describe(self, ref: ItemRef) -> ServiceItem:
        try:
            return self._describe(ref)
        except SourceError:  # to be tried again: the cursor must not move past it
            self._failed.add(ref.id)
            raise

    def _describe(self, ref: ItemRef) -> ServiceItem:
        from ..media.probe import IN_MEMORY_LIMIT, hash_stream, probe_image, probe_large
        from ..media.formats import sniff

        entry = json.loads(ref.extra or b"{}")
        if not entry:
            raise SourceError("no listing data for this item (list it again)")
        info = None
        size = None
        file_dims = None
        if ref.known_hash:  # only metadata changed: the bytes were hashed before
            content_hash = ref.known_hash
            quality = _entry_quality(entry)
        else:
            url, quality, ext, file_dims = self._file(entry)
            with self._download(url) as f:
                content_hash, size = hash_stream(f)
                f.seek(0)
                head = f.read(4096)
                fmt = sniff(head, f"file.{ext}")
                if fmt is None:
                    raise MediaError("the file Flickr gives is not a photo or video photosync can read")
                if size <= IN_MEMORY_LIMIT:
                    info = probe_image(head + f.read(), fmt)
                else:
                    info = probe_large(f, size, fmt)
        return ServiceItem(
            ref=ref,
            content_hash=content_hash,
            size=size,  # type: ignore[arg-type]  (None: unchanged, kept from the record)
            metadata=self._metadata(entry, info, file_dims),
            quality=quality or "original",
            visibility=level_of(entry),
            audience=audience_of(entry) if level_of(entry) == "friends" else None,
            url=self._page_url(str(entry["id"])),
            look=info.look if info is not None else None,
            warnings=(info.problem,) if info is not None and info.problem else (),
        )

    def _page_url(self, pid: str) -> str:
        return f"https://www.flickr.com/photos/{getattr(self, 'user_nsid', 'me')}/{pid}/"

    def _raw_tags(self, entry: dict) -> tuple[str, ...]:
        """The photo's tags as they were typed ("St. Louis", machine tags too), but photosync's own
        machine tag.  The listing gives only clean forms ("stlouis"); the raw forms come from one
        flickr.tags.getListUserRaw a run (every raw form of each of the account's tags), and from a
        flickr.tags.getListPhoto for a photo with a tag that has several raw forms or none there."""
        if "raw_tags" in entry:  # from photos.getInfo, which has them
            return tuple(t for t in entry["raw_tags"] if not _own_tag(t))
        clean = [t for t in (entry.get("tags") or "").split() if not _own_tag(t)]
        if not clean:
            return ()
        forms = self._user_raw_tags()
        raw = []
        for c in clean:
            known = forms.get(c) or []
            if len(known) != 1:
                return self._photo_raw_tags(str(entry["id"]), clean)
            raw.append(known[0])
        return tuple(raw)

    def _user_raw_tags(self) -> dict[str, list[str]]:
        """clean form -> the account's raw forms of it; asked once per connector (a run)."""
        with self._tags_lock:
            if self._raw_forms is None:
                try:
                    who = self.call("flickr.tags.getListUserRaw")["who"]
                except SourceError as e:
                    self._note_once("rawtags", f"Flickr did not list the account's tags ({e}); each photo's "
                                    "tags are asked for on their own")
                    who = {}
                forms: dict[str, list[str]] = {}
                for t in (who.get("tags") or {}).get("tag") or []:
                    raws = [_text(r) for r in (t.get("raw") or [])] if isinstance(t.get("raw"), list) \
                        else [_text(t.get("raw"))]
                    forms[str(t.get("clean", ""))] = [r for r in raws if r]
                self._raw_forms = forms
            return self._raw_forms

    def _photo_raw_tags(self, pid: str, clean: list[str]) -> tuple[str, ...]:
        tags = self.call("flickr.tags.getListPhoto", photo_id=pid)["photo"].get("tags") or {}
        raw = [str(t.get("raw") or _text(t)) for t in tags.get("tag") or []]
        return tuple(t for t in raw if not _own_tag(t)) or tuple(clean)

    def _metadata(self, entry: dict, info, downloaded: tuple | None = None) -> Metadata:
        title = (entry.get("title") or "").strip()
        desc = _text(entry.get("description")).strip()
        caption = title + ("\n\n" + desc if desc else "") if (title or desc) else None
        tags = self._raw_tags(entry)
        taken = granularity = None
        if entry.get("datetaken") and str(entry.get("datetakenunknown", "0")) != "1":
            taken = str(entry["datetaken"]).replace(" ", "T")[:19]
            granularity = GRANULARITY.get(_int(entry.get("datetakengranularity")))
        source = "service" if taken else None
        if taken is None and info is not None and info.taken is not None:
            from ..media.dates import iso

            taken, source = iso(info.taken), info.taken_source
        lat, lng = entry.get("latitude"), entry.get("longitude")
        location = None
        try:
            if lat not in (None, "", 0, "0") and lng not in (None, "", 0, "0"):
                location = Location(float(lat), float(lng))
        except (TypeError, ValueError):
            location = None
        # no fall-back to the file's GPS: what Flickr states wins for its instance (a location the person
        # removed on Flickr stays removed), and the record says so (location_source)
        fmt = FLICKR_FORMAT.get(str(entry.get("originalformat") or "").lower())
        if info is not None:
            fmt = info.format.name
        media = "video" if entry.get("media") == "video" else "photo"
        # the size of the bytes kept, not of the original (a free account's 1024-px file must not claim
        # the original's pixels and win a merge by them): probed; else what Flickr states for the file
        # that was downloaded; None when nothing was (discover keeps the record's, from the bytes)
        width, height = (info.width, info.height) if info is not None else (None, None)
        if downloaded and not (width and height):
            width, height = downloaded
        camera = CameraInfo(info.make, info.model) if info is not None and (info.make or info.model) else None
        return Metadata(
            taken_date=taken,
            taken_date_source=source,
            taken_date_granularity=granularity,
            filename=None,  # Flickr keeps no file names
            location=location,
            tags=tags,
            caption=caption,
            camera_info=camera,
            media_type=media,
            format=fmt if fmt in FORMATS else None,
            width=width,
            height=height,
            albums=tuple(entry.get("albums") or ()),
            location_source="service" if location is not None else None,
        )

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        answer = self.call("flickr.photos.getSizes", photo_id=item_id)["sizes"]["size"]
        by_label = {s.get("label"): s for s in answer}
        best = by_label.get("Video Original") or by_label.get("Original")
        if best is None:
            raise SourceError(f"{self.where(item_id)}: Flickr gives no original of it")
        return self._download(self._host(best["source"]))

    # -- writing ----------------------------------------------------------------------------------
    def shown_level(self, item_id: str) -> str:
        """The level Flickr shows the photo at now (asked, not taken from the record)."""
        return vis.level_of(self.shown_audience(item_id))

    def shown_audience(self, item_id: str) -> str:
        """The audience Flickr shows the photo to now (asked, not taken from the record)."""
        info = self.call("flickr.photos.getInfo", photo_id=item_id)["photo"]
        return audience_of(info.get("visibility") or {})

    def set_visibility(self, item_id: str, level: str) -> str:
        """Narrow the photo so that nobody outside ``level`` (an audience; a level name is
        the audience of that name, "friends" being friends only) sees it, asking Flickr
        first how it shows it now.  What is set is the meet of the two, never wider than
        either: family-only with friends allowed becomes private, never friends and
        family.  A located photo's geo permissions are narrowed the same way.  Returns the
        audience Flickr shows afterwards."""
        info = self.call("flickr.photos.getInfo", photo_id=item_id)["photo"]
        now = audience_of(info.get("visibility") or {})
        new = vis.fix_audience(now, level)
        if new == now:
            return now
        flags = flags_for(new)
        self.call("flickr.photos.setPerms", photo_id=item_id, is_public=flags["is_public"],
                  is_friend=flags["is_friend"], is_family=flags["is_family"])
        if info.get("location"):
            try:
                self._narrow_geo(item_id, info.get("geoperms"), new)
            except PhotosyncError as e:
                self.env.report.warning(self.where(item_id), f"narrowed to {new}, but its location's permissions "
                                        f"were not: {e}")
        return new

    def _narrow_geo(self, item_id: str, geoperms: dict | None, audience: str) -> None:
        """Who may see the photo's location: no one outside ``audience`` (never widened)."""
        if not geoperms:
            geoperms = self.call("flickr.photos.geo.getPerms", photo_id=item_id)["perms"]
        now = _geo_groups(geoperms)
        keep = now & AUDIENCE_GROUPS[audience]
        if keep == now:
            return
        self.call("flickr.photos.geo.setPerms", photo_id=item_id, is_public="1" if "everyone" in keep else "0",
                  is_contact="0", is_friend="1" if "friends" in keep else "0",
                  is_family="1" if "family" in keep else "0")

    def _sends_location(self, photo: Photo, audience: str) -> bool:
        """Whether an upload at ``audience`` carries the photo's location: not for a public
        one unless ``upload_location_public`` says so (and the photo has a location)."""
        if audience != "public":
            return photo.metadata.location is not None
        return bool(self.config.get("upload_location_public")) and photo.metadata.location is not None

    def alters_upload(self, photo: Photo, visibility: str) -> bool:
        return visibility == "public" and not self._sends_location(photo, visibility)

    def prepare_upload(self, photo: Photo, stream: BinaryIO, size: int | None, audience: str):
        """The bytes to send for ``photo`` at ``audience``: (stream, content hash, size,
        temporary).  For an upload whose location must not be public, a temporary copy
        without any location (media/geostrip.py; the image data untouched), else the
        original as it is.  Raises CannotStrip when the location cannot be removed."""
        from ..media.geostrip import scan_location, strip_location
        from ..media.probe import hash_stream

        keep_location = not self.alters_upload(photo, audience)
        start = stream.tell() if stream.seekable() else 0
        fmt = _format_of(photo)
        if keep_location or not scan_location(stream, fmt):
            stream.seek(start)
            return stream, photo.content_hash, size, False
        tmp = tempfile.TemporaryFile()
        try:
            stream.seek(start)
            while True:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                tmp.write(chunk)
            strip_location(tmp, fmt)
            tmp.seek(0)
            digest, sent = hash_stream(tmp)
            tmp.seek(0)
            return tmp, digest, sent, True
        except BaseException:
            tmp.close()
            raise

    def find_uploaded(self, content_hashes: set[str],
                      attempted: dict[str, float] | None = None) -> dict[str, tuple[str, str | None]]:
        """photosync's machine tags on the account (a search), and for uploads that were
        started and not recorded (``attempted``), the photos uploaded around then, which
        Flickr's search may not show yet (see _uploaded_since)."""
        if not content_hashes:
            return {}
        found: dict[str, tuple[str, str | None]] = {}
        if len(content_hashes) <= 10:  # a few: one exact machine-tag search each, not a walk of them all
            searches = [f"{MACHINE_TAG}={h.split(':', 1)[1]}" for h in sorted(content_hashes)]
        else:
            searches = [f"{MACHINE_TAG}="]
        for query in searches:
            for entry in self._walk_uploads(0, machine_tags=query):
                for h in _own_hashes(entry.get("machine_tags")):
                    if h in content_hashes:
                        found.setdefault(h, (str(entry["id"]), level_of(entry)))
        late = {h: t for h, t in (attempted or {}).items() if h in content_hashes and h not in found}
        if late:
            found.update(self._uploaded_since(late))
        return found

    def _note_clock(self, date: str | None) -> None:
        """Flickr's clock minus ours, from an answer's Date header (for upload intents' times)."""
        if date and self._clock_offset is None:
            from email.utils import parsedate_to_datetime

            try:
                self._clock_offset = parsedate_to_datetime(date).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                pass

    def _uploaded_since(self, attempted: dict[str, float]) -> dict[str, tuple[str, str | None]]:
        """The photos among ``attempted`` that Flickr holds, found without its search index,
        which can lag behind an upload (samjudson/flickr-net#38: a new photo missing from
        photos.search; Flickr's own blog, 2005-01-02, on uploads not showing for up to half an hour
        and people uploading again): every photo uploaded from shortly before the earliest
        attempt (in Flickr's time: see INTENT_MARGIN), by flickr.people.getPhotos with min_upload_date and
        flickr.photos.recentlyUpdated (an upload moves lastupdate), matched by photosync's machine
        tag; a photo listed without any machine tag has its tags asked for (flickr.tags.getListPhoto)."""
        if self._clock_offset is None:
            since = int(min(attempted.values())) - INTENT_MARGIN_UNKNOWN_CLOCK
        else:
            since = int(min(attempted.values()) + self._clock_offset) - INTENT_MARGIN
        found: dict[str, tuple[str, str | None]] = {}
        seen: set[str] = set()
        pages = itertools.chain(
            self._pages("flickr.people.getPhotos", "photos", user_id="me", min_upload_date=since,
                        sort="date-posted-asc", extras=EXTRAS),
            self._pages("flickr.photos.recentlyUpdated", "photos", min_date=since, extras=EXTRAS))
        for _answer, entries in pages:
            for entry in entries:
                pid = str(entry["id"])
                if pid in seen or _int(entry.get("dateupload"), since) < since:
                    continue
                seen.add(pid)
                hashes = _own_hashes(entry.get("machine_tags"))
                if not hashes and not (entry.get("machine_tags") or "").strip():
                    tags = self.call("flickr.tags.getListPhoto", photo_id=pid)["photo"].get("tags") or {}
                    hashes = _own_hashes(" ".join(str(t.get("raw") or _text(t)) for t in tags.get("tag") or []))
                for h in hashes:
                    if h in attempted:
                        found.setdefault(h, (pid, level_of(entry)))
            if len(found) == len(attempted):
                break
        return found

    def upload(self, photo: Photo, stream: BinaryIO, size: int | None, visibility: str) -> ServiceItem:
        """Upload at ``visibility`` (an audience: flags_for).  A public photo whose location
        must not be public goes up as a copy without its location; the item then has the
        copy's hash and size (the machine tag keeps the original's hash)."""
        md = photo.metadata
        from ..phases.common import blob_ext

        audience = visibility if visibility in FLAGS else "private"  # unknown: fail closed
        ext = blob_ext(photo)
        name = md.filename or f"{photo.photo_id}.{ext}"
        if "." not in name.rsplit("/", 1)[-1]:
            name = f"{name}.{ext}"  # Flickr tells videos from photos by the file name (flickrapi#104)
        title, desc = split_caption(md.caption)
        tags = [_quote_tag(t) for t in md.tags]
        tags.append(f"{MACHINE_TAG}={photo.content_hash.split(':', 1)[1]}")
        fields = {"title": title or name.rsplit(".", 1)[0], "description": desc, "tags": " ".join(tags),
                  "safety_level": "1", **flags_for(audience)}
        sent, sent_hash, sent_size, temporary = self.prepare_upload(photo, stream, size, audience)
        try:
            new_id = self._post_upload(fields, name, sent, photo.content_hash)
        finally:
            if temporary:
                sent.close()
        # the photo is on Flickr now: whatever fails below is reported, and the upload still recorded
        warnings = self.complete_upload(photo, new_id, audience)
        return ServiceItem(
            ref=ItemRef(new_id, ""),
            content_hash=sent_hash,
            size=sent_size,  # type: ignore[arg-type]
            metadata=self.uploaded_metadata(photo, audience),
            # a copy without its location is not the original file (its pixels are)
            quality="original" if sent_hash == photo.content_hash else "high",
            visibility=vis.level_of(audience),
            audience=audience if vis.level_of(audience) == "friends" else None,
            url=self._page_url(new_id),
            warnings=tuple(warnings),
        )

    def complete_upload(self, photo: Photo, item_id: str, visibility: str) -> list[str]:
        """The calls that follow an upload (date taken, location and who may see it,
        albums); each may be made again.  Returns what failed, as warnings."""
        md = photo.metadata
        audience = visibility if visibility in FLAGS else "private"
        warnings = []
        steps = []
        if md.taken_date:
            steps.append(("date taken", lambda: self.call(
                "flickr.photos.setDates", photo_id=item_id, date_taken=md.taken_date[:19].replace("T", " "),
                date_taken_granularity=str(GRANULARITY_CODE.get(md.taken_date_granularity, 0)))))
        located = []
        if self._sends_location(photo, audience):
            steps.append(("location", lambda: located.append(self.call(
                "flickr.photos.geo.setLocation", photo_id=item_id, lat=str(md.location.lat),
                lon=str(md.location.lng)))))
            # a location set through the API (or imported from the file's EXIF) takes the account's
            # default geo permissions (flickr.photos.geo.setLocation: "Before users may assign location
            # data to a photo they must define who, by default, may view that information"), public on
            # many accounts: the photo's own audience is set instead
            steps.append(("location's permissions", lambda: located and self.call(
                "flickr.photos.geo.setPerms", photo_id=item_id, **geo_flags_for(audience))))
        for album in md.albums:
            steps.append((f"album {album!r}", lambda album=album: self._add_to_album(album, item_id)))
        for what, step in steps:
            try:
                step()
            except PhotosyncError as e:
                warnings.append(f"uploaded as {item_id}, but its {what} was not set: {e}")
        return warnings

    def uploaded_metadata(self, photo: Photo, visibility: str) -> Metadata:
        """What Flickr will say of the photo once upload() has sent it: its
        caption and tags as sent (one per clean form: Flickr merges the others), no
        file name, the location only when it was sent."""
        import dataclasses

        md = photo.metadata
        title, desc = split_caption(md.caption)
        title = title or (md.filename or photo.photo_id).rsplit(".", 1)[0]
        clean = _sent_tags(md.tags)  # raw, as describe() reads them back
        sent_location = self._sends_location(photo, visibility if visibility in FLAGS else "private")
        return dataclasses.replace(
            md, filename=None, caption=title + ("\n\n" + desc if desc else ""), tags=clean,
            location=md.location if sent_location else None,
            taken_date_source="service" if md.taken_date else None,
            location_source="service" if sent_location else None,
        )

    def _post_upload(self, fields: dict, filename: str, stream: BinaryIO, content_hash: str) -> str:
        """POST the file to the upload endpoint; the new photo's id.  After a
        failure that may have stored the photo (5xx, error 3, a lost connection) the
        photo is looked for before trying again, by its machine tag and, since the
        search may not show it yet, among the photos uploaded since the first try
        (find_uploaded with ``attempted``), so nothing is uploaded twice."""
        import mimetypes
        import xml.etree.ElementTree as ET

        import requests
        from requests_toolbelt import MultipartEncoder

        api = self._client()
        url = self.endpoints["upload"]
        start = stream.tell() if stream.seekable() else None
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        maybe_stored = False
        first_try = time.time()

        def once():
            nonlocal maybe_stored
            if maybe_stored:
                found = self.find_uploaded({content_hash}, attempted={content_hash: first_try})
                if content_hash in found:
                    return found[content_hash][0]
            if start is not None:
                stream.seek(start)
            # the signature covers the form fields but not the file (as flickrapi's do_upload)
            signed = requests.Request("POST", url, data=dict(fields), auth=api.flickr_oauth.oauth).prepare()
            body = MultipartEncoder(fields={**fields, "photo": (filename, stream, mime)})
            self.bucket.take()
            with self._lock:
                self.calls += 1
            try:
                r = self._session().post(url, data=body, timeout=max(self.timeout, 600),
                                         headers={"Authorization": signed.headers["Authorization"],
                                                  "Content-Type": body.content_type})
                content = r.content  # a reply cut short fails here, after Flickr may have stored the photo
            except requests.RequestException:
                maybe_stored = True
                if start is None:
                    raise SourceError("upload interrupted and the source cannot be read again") from None
                raise
            wait = retry_after_seconds(r.headers.get("Retry-After"))
            if r.status_code == 429:
                raise _Transient("HTTP 429 (too many requests)", wait)
            if r.status_code >= 500:
                maybe_stored = True
                raise _Transient(f"HTTP {r.status_code}", wait)
            if r.status_code != 200:
                raise SourceError(f"upload refused (HTTP {r.status_code})")
            try:
                rsp = ET.fromstring(content)
            except ET.ParseError:
                raise SourceError("Flickr's answer to the upload is not XML") from None
            if rsp.get("stat") != "ok":
                err = rsp.find("err")
                code = _int(err.get("code") if err is not None else None, -1)
                msg = err.get("msg") if err is not None else "unknown error"
                if code in (98, 99, 100):
                    from flickrapi.exceptions import FlickrError

                    raise self._explain(FlickrError(msg, code=code), "upload")
                if code in UPLOAD_RETRY_CODES:
                    # a general failure or an outage answer may come after the photo was kept: look first
                    maybe_stored = True
                    raise _Transient(f"Flickr error {code}: {msg}")
                raise SourceError(f"Flickr refused the upload: error {code}: {msg}")
            pid = rsp.findtext("photoid")
            if not pid:
                raise SourceError("Flickr's answer to the upload has no photo id")
            return pid.strip()

        try:
            return retrying(once, transient=_transient, attempts=self.attempts, base=self.backoff,
                            on_retry=self._retry_note("upload"), retry_after=_retry_after)
        except (_Transient, requests.RequestException) as e:
            raise SourceError(f"upload failed after {self.attempts} attempts: {e}") from None

    def _album_titles(self) -> dict[str, str]:
        sets: dict[str, str] = {}
        for _answer, entries in self._pages("flickr.photosets.getList", "photosets"):
            for s in entries:
                sets.setdefault(_text(s.get("title")), str(s["id"]))
        return sets

    def _add_to_album(self, title: str, photo_id: str) -> None:
        """Add to the album of that title, made when there is none.  One thread at
        a time (two uploads must not both create it), and a create that failed is
        checked by listing again, never simply sent twice (and sent again only when
        the listing shows no such album: under load a create fails now and then)."""
        with self._album_lock:
            if self._sets_by_title is None:
                self._sets_by_title = self._album_titles()
            sid = self._sets_by_title.get(title)
            tries = 0
            while sid is None:
                tries += 1
                try:
                    made = self.call("flickr.photosets.create", _attempts=1, title=title, primary_photo_id=photo_id)
                    self._sets_by_title[title] = str(made["photoset"]["id"])
                    return
                except SourceError:
                    self._sets_by_title = self._album_titles()
                    sid = self._sets_by_title.get(title)
                    if sid is None and tries >= 3:
                        raise
                    if sid is None:
                        time.sleep(self.backoff * tries)
        try:
            self.call("flickr.photosets.addPhoto", photoset_id=sid, photo_id=photo_id)
        except SourceError as e:
            if "error 3:" not in str(e):  # 3: already in the album
                raise


def _format_of(photo: Photo) -> str:
    """The original's format name (the canonical copy's, else the photo's)."""
    for inst in photo.all_instances():
        if inst.content_hash == photo.content_hash and inst.metadata.format:
            return inst.metadata.format
    return photo.metadata.format or ""


def _entry_quality(entry: dict) -> str:
    """The quality of the file describe() would download, from the listing alone."""
    if entry.get("url_o") or ((entry.get("media") == "video" or entry.get("from_info"))
                              and entry.get("originalsecret")):
        return "original"
    for suffix, _label in SIZES:
        if entry.get(f"url_{suffix}"):
            return _quality({"width": entry.get(f"width_{suffix}"), "height": entry.get(f"height_{suffix}")})
    return "medium"


def _wh(size: dict) -> tuple[int | None, int | None]:
    return _int(size.get("width")) or None, _int(size.get("height")) or None


def _quality(size: dict) -> str:
    longest = max(_int(size.get("width")), _int(size.get("height")))
    if longest >= 1600:
        return "high"
    if longest >= 800:
        return "medium"
    return "low"


def utc_stamp(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
