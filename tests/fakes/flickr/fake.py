"""FakeFlickr: Flickr's API, OAuth, upload and file hosts as one HTTP server on
loopback, for tests that drive the unmodified flickrapi 2.4.0 client.

See README.md in this package for the list of behaviours copied from Flickr and
their sources.
"""

from __future__ import annotations

import html
import random
import re
import secrets as _secrets
import sys
import threading
import time
import traceback
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

from ..http import read_body
from . import rest
from .geo import file_location
from .media import CONTENT_TYPES, VIDEO_EXTS, generated_video, original_bytes, sniff, still_frame
from .photo import (
    SIZE_BY_SUFFIX, VIDEO_RENDITIONS, FakePhoto, hexdigest, rendition_dims, size_allowed, size_dims, split_tags,
    merge_tags,
)
from .rest import PERM_LEVEL, PERM_NAMES, ApiError, Ctx
from .wire import (
    Incoming, form_encode, oauth_params, parse_request, signature_ok, base_string, to_json, to_xml, upload_fail,
    upload_ok,
)

FIRST_PHOTO_ID = 52_000_000_000
FIRST_SET_ID = 72_157_720_000_000_000

_FILE_PATH = re.compile(r"^/(\d+)/(\d+)_([0-9a-f]+)(?:_([a-z0-9]+))?\.([A-Za-z0-9]+)$")
_PLAY_PATH = re.compile(r"^/photos/([^/]+)/(\d+)/play/([a-z]+)/([0-9a-f]+)/?$")

_VOCAB = ("beach", "sunset", "family", "cat", "dog", "city", "mountains", "snow", "birthday", "garden",
          "new york", "travel", "food", "friends", "night", "river", "forest", "kids", "concert", "museum")


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _year_start(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp())


class FakeFlickr:
    """One Flickr account behind one API key. See the package README for the API."""

    def __init__(self, api_key: str = "a" * 32, api_secret: str = "b" * 16, user_nsid: str = "12345678@N00",
                 username: str = "tester", fullname: str = "Test Person", pro: bool = True):
        self.api_key = api_key
        self.api_secret = api_secret
        self.user_nsid = user_nsid
        self.username = username
        self.fullname = fullname
        self.pro = pro
        self.photos: dict[str, FakePhoto] = {}
        self.photosets: dict[str, dict] = {}
        self.calls: Counter = Counter()
        self.downloads = 0
        self.uploads: list[dict] = []
        self.replacements: list[dict] = []
        self.errors: list[str] = []       # tracebacks of the fake's own failures (should stay empty)
        self.delay = 0.0
        #: the account's default permissions for uploads that omit is_public/is_friend/is_family
        #: (upload.api.html: "If omitted permissions will be set to user's default"; SERVICES.md);
        #: Flickr's own default for a new account is public
        self.default_perms = (1, 0, 0)
        #: the account setting "Import EXIF location data" (flickr.com/account/geo/exif; reported by
        #: flickr.prefs.getGeoPerms as importgeoexif); off here, so an upload's GPS does not become
        #: its Flickr location unless the client sets it.  On, an upload whose file carries EXIF GPS
        #: is geotagged from it, with default_geo_perms
        self.import_exif_location = False
        #: who may see a location once one is set, by setLocation or by the EXIF import:
        #: (is_public, is_contact, is_friend, is_family).  flickr.photos.geo.setLocation: "Before
        #: users may assign location data to a photo they must define who, by default, may view that
        #: information" (flickr.com/account/geo/privacy); public here, as on many accounts
        self.default_geo_perms = (1, 0, 0, 0)
        self._lock = threading.RLock()
        self._next_id = FIRST_PHOTO_ID
        self._next_set = FIRST_SET_ID
        self._set_order = 0
        self._clock = 0
        self._request_tokens: dict[str, dict] = {}
        self._access_tokens: dict[str, dict] = {}
        self._revoked: set[str] = set()
        self._http_faults: list[list] = []     # [remaining, status, path_prefix]
        self._method_faults: dict[str, list] = {}
        self._truncate = 0
        #: fault_mix(): (rate, Random, Retry-After seconds or None); faults_injected counts its faults
        self._mix: tuple | None = None
        self.faults_injected = 0
        self._upload_faults: list = []          # [remaining, code, message]
        self._search_lag = (0.0, 0)              # lag_search(): (seconds, photos.search calls)
        self.search_calls = 0                    # every photos.search answered (reset_counters keeps it)
        self._drop_uploads = 0                   # drop_upload_responses()
        #: seconds Flickr's clock is ahead of this machine's (negative: behind): upload and update
        #: times and the Date header of every answer follow it
        self.clock_skew = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "FakeFlickr":
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-flickr", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeFlickr":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeFlickr is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def photo_host(self) -> str:
        return self.url

    @property
    def endpoints(self) -> dict[str, str]:
        u = self.url
        return {"rest": u + "/services/rest/", "upload": u + "/services/upload/",
                "replace": u + "/services/replace/", "request_token": u + "/services/oauth/request_token",
                "authorize": u + "/services/oauth/authorize", "access_token": u + "/services/oauth/access_token",
                "photo_host": u}

    # -- tokens ----------------------------------------------------------------------------------------
    def _new_token(self) -> tuple[str, str]:
        # Flickr's tokens look like 72157626737672178-022bbd2f4c2f3432, secrets 16 hex digits
        # (the examples of flickr.com/services/api/auth.oauth.html)
        return (f"72157{_secrets.randbelow(10**12):012d}-{_secrets.token_hex(8)}", _secrets.token_hex(8))

    def issue_token(self, perms: str = "write") -> tuple[str, str]:
        """A ready access token (for tests that skip the OAuth dance): (token, secret)."""
        if perms not in PERM_LEVEL:
            raise ValueError(f"perms must be read, write or delete, not {perms!r}")
        with self._lock:
            tok, sec = self._new_token()
            self._access_tokens[tok] = {"secret": sec, "perms": perms}
            return tok, sec

    def authorize(self, request_token: str, perms: str | None = None) -> str:
        """The person approving the app on Flickr's authorize page; the verifier it shows.
        perms None keeps what the authorize page was opened with ("read" if it was not)."""
        with self._lock:
            rt = self._request_tokens.get(request_token)
            if rt is None:
                raise KeyError(f"unknown request token {request_token!r}")
            if perms is not None:
                if perms not in PERM_LEVEL:
                    raise ValueError(f"perms must be read, write or delete, not {perms!r}")
                rt["perms"] = perms
            rt["perms"] = rt.get("perms") or "read"
            rt["authorized"] = True
            if not rt.get("verifier"):
                if rt["callback"] == "oob":
                    # the out-of-band page shows a code like 123-456-789 (auth.oauth.html, SERVICES.md)
                    n = _secrets.randbelow(10**9)
                    rt["verifier"] = f"{n // 10**6:03d}-{n // 1000 % 1000:03d}-{n % 1000:03d}"
                else:
                    rt["verifier"] = _secrets.token_hex(8)
            return rt["verifier"]

    def revoke(self, token: str) -> None:
        with self._lock:
            self._revoked.add(token)

    # -- counters and faults ------------------------------------------------------------------------
    @property
    def api_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()
            self.downloads = 0
            self.uploads.clear()
            self.replacements.clear()

    def fail_next(self, n: int, status: int = 503, path_prefix: str | None = None) -> None:
        """The next n requests (whose path starts with path_prefix, if given) answer HTTP status.
        Each call opens its own window of n requests; windows overlap (a request inside two
        answers the newer one's status and counts against both). fail_next(0) clears them all."""
        with self._lock:
            if n <= 0:
                self._http_faults.clear()
                return
            self._http_faults.append([n, status, path_prefix])

    def fail_method(self, method: str, times: int = 1, code: int = 105,
                    message: str = "Service currently unavailable") -> None:
        with self._lock:
            if times <= 0:
                self._method_faults.pop(method, None)
                return
            self._method_faults.setdefault(method, []).append([times, code, message])

    def lag_search(self, seconds: float = 0, calls: int = 0) -> None:
        """Photos uploaded from now on show in photos.search (and so in machine-tag searches) only
        ``seconds`` after their upload and after ``calls`` more photos.search calls. people.getPhotos,
        recentlyUpdated, getInfo and the tag methods show them at once. Flickr's search index lags
        behind uploads: samjudson/flickr-net#38 (a photo uploaded the day before missing from
        photos.search); blog.flickr.net 2005-01-02 "Uploading Mayhem" (photos not appearing for up to
        half an hour, and people uploading them again); issue 11 of this project (a lagging search
        made kill -9 and a rerun upload 4 of 4 photos again). The fake's choice: the photo database
        behind the other methods does not lag."""
        with self._lock:
            self._search_lag = (float(seconds), int(calls))

    def drop_upload_responses(self, n: int) -> None:
        """The next n uploads are stored, and then the connection is closed without an answer: the
        client cannot know whether the photo arrived (a lost response)."""
        with self._lock:
            self._drop_uploads = max(0, n)

    def _indexed(self, p: FakePhoto) -> bool:
        return time.time() >= p.indexed_at and self.search_calls >= p.indexed_after_calls

    def fail_uploads(self, n: int, code: int = 3, message: str = "General upload failure") -> None:
        """The next n uploads answer Flickr error ``code`` (HTTP 200, XML) and store nothing
        (upload.api.html: 3 "General upload failure"). fail_uploads(0) clears it."""
        with self._lock:
            self._upload_faults = [[n, code, message]] if n > 0 else []

    def fault_mix(self, rate: float, seed: int = 0, retry_after: int | None = 1) -> None:
        """From now on a share ``rate`` of all requests (REST, upload, photo hosts; not OAuth)
        fails the ways Flickr fails under load, drawn from a Random(seed):

        * REST: code 0 or 201 "Sorry, the Flickr API service is not currently available." with
          HTTP 200 (seen by the Flickr Foundation's flickr-photos-api, is_retryable(): "We've seen
          similar with code 0"), code 105 "Service currently unavailable" (every method's error
          list), HTTP 400 with that sentence as its body ("flickr returns 400s when they're down",
          snarfed/webutil util.py interpret_http_exception);
        * upload: error 3 "General upload failure" (upload.api.html), before anything is stored;
        * all of them: HTTP 500, 502, 503 (with Retry-After) and 429 (with Retry-After:
          ``retry_after`` seconds; SERVICES.md "image hosts also answer 429").

        fault_mix(0) switches it off."""
        import random as _random

        with self._lock:
            self._mix = (float(rate), _random.Random(seed), retry_after) if rate > 0 else None

    def _draw_fault(self, path: str):
        """The fault mix's fault for one request, or None: an HTTP status, or ("code", n, message)."""
        with self._lock:
            if self._mix is None or path.startswith("/services/oauth"):
                return None
            rate, rnd, _ = self._mix
            if rnd.random() >= rate:
                return None
            unavailable = "Sorry, the Flickr API service is not currently available."
            if path.startswith("/services/rest"):
                kinds = [("code", 0, unavailable), ("code", 201, unavailable),
                         ("code", 105, "Service currently unavailable"), 400, 500, 502, 503, 429]
            elif path.startswith("/services/upload") or path.startswith("/services/replace"):
                kinds = [("code", 3, "General upload failure"), 500, 502, 503, 429]
            else:
                kinds = [500, 502, 503, 429]
            self.faults_injected += 1
            return rnd.choice(kinds)

    def truncate_downloads(self, n: int) -> None:
        with self._lock:
            self._truncate = max(0, n)

    def _take_http_fault(self, path: str) -> int | None:
        with self._lock:
            status = None
            for fault in reversed(self._http_faults):
                if fault[2] is None or path.startswith(fault[2]):
                    fault[0] -= 1
                    if status is None:
                        status = fault[1]
            self._http_faults = [f for f in self._http_faults if f[0] > 0]
            return status

    def _take_method_fault(self, method: str):
        faults = self._method_faults.get(method)
        if not faults:
            return None
        fault = faults[0]
        fault[0] -= 1
        if fault[0] <= 0:
            faults.pop(0)
        return fault[1], fault[2]

    # -- the account's contents -------------------------------------------------------------------------
    def _tick(self) -> int:
        """A new lastupdate: now, and strictly after every earlier one. Every change to a photo's
        metadata or permissions moves it, which is what flickr.photos.recentlyUpdated finds
        (flickr.photos.recentlyUpdated.html; SERVICES.md "Listing")."""
        self._clock = max(self._clock + 1, int(time.time() + self.clock_skew))
        return self._clock

    def _new_id(self) -> str:
        # Flickr ids grow with time but are not dense
        self._next_id += 1 + (self._next_id * 2654435761) % 29
        return str(self._next_id)

    def _make_photo(self, pid: str, dateupload: int, **kw) -> FakePhoto:
        recent = dateupload >= _year_start(2018)
        return FakePhoto(
            id=pid, secret=hexdigest("secret", pid, 0), originalsecret=hexdigest("osecret", pid, 0),
            server="65535" if recent else str(1000 + int(pid) % 8000), farm=66 if recent else 1 + int(pid) % 9,
            dateupload=dateupload, **kw)

    def add_photo(self, data: bytes | None = None, title: str = "", description: str = "", tags=(),
                  machine_tags=(), date_taken: str = "2019-07-04 10:00:00", granularity: int = 0,
                  date_upload: int | None = None, is_public: int = 0, is_friend: int = 0, is_family: int = 0,
                  lat: float | None = None, lon: float | None = None, media: str = "photo",
                  original_format: str = "jpg", width: int = 4000, height: int = 3000, albums=(),
                  geo_perms: tuple | None = None) -> str:
        """A photo (or video) in the account; its id. With data, the format, media and pixel size
        come from the bytes. albums: photoset ids, or titles (a new set is made for an unknown title)."""
        info = sniff(data) if data else None
        if info:
            media, original_format = info["media"], info["format"]
            width, height = info["width"] or width, info["height"] or height
        plain, machine = split_tags(tags)
        plain2, machine2 = split_tags(machine_tags)
        with self._lock:
            pid = self._new_id()
            p = self._make_photo(
                pid, int(date_upload if date_upload is not None else time.time() + self.clock_skew),
                title=title, description=description, tags=plain + plain2, machine_tags=machine + machine2,
                datetaken=date_taken, granularity=int(granularity), lastupdate=self._tick(),
                ispublic=int(bool(is_public)), isfriend=int(bool(is_friend)), isfamily=int(bool(is_family)),
                lat=lat, lon=lon, accuracy=16 if lat is not None else 0, media=media,
                originalformat=original_format.lower(), o_width=int(width), o_height=int(height), data=data,
                geo_perms=(geo_perms or self.default_geo_perms) if lat is not None else None)
            self.photos[pid] = p
            for a in albums:
                a = str(a)
                sid = a if a in self.photosets else next(
                    (k for k, s in self.photosets.items() if s["title"] == a), None)
                if sid is None:
                    self._create_set(a, "", [pid])
                else:
                    self._add_to_set(sid, pid)
            return pid

    def populate(self, n: int, seed: int = 0, heavy_year: int = 2019, heavy_count: int | None = None) -> list[str]:
        """A mixed account of n photos; their ids, oldest upload first. Nothing is rendered here:
        each file is generated when it is downloaded."""
        rnd = random.Random(seed)
        if heavy_count is None:
            heavy_count = max(0, min(n // 2, 4500)) if n >= 5000 else n // 3
        heavy_count = max(0, min(heavy_count, n))
        lo, hi = _year_start(2010), _year_start(2025) - 1
        hy_lo, hy_hi = _year_start(heavy_year), _year_start(heavy_year + 1) - 1
        ups = sorted([rnd.randint(hy_lo, hy_hi) for _ in range(heavy_count)]
                     + [rnd.randint(lo, hi) for _ in range(n - heavy_count)])
        latest_edit = min(int(time.time()) - 86400, _year_start(2025) + 150 * 86400)
        n_albums = max(1, round(n / 50)) if n else 0
        ids: list[str] = []
        with self._lock:
            set_ids = [self._create_set(f"Album {seed}-{k + 1}", "", [], when=ups[min(n - 1, k * n // n_albums)])
                       for k in range(n_albums)]
            for i, up in enumerate(ups):
                pid = self._new_id()
                r = rnd.random()
                vis = ((1, 0, 0) if r < 0.35 else (0, 1, 0) if r < 0.5 else (0, 0, 1) if r < 0.62
                       else (0, 1, 1) if r < 0.72 else (0, 0, 0))
                is_video = rnd.random() < 0.02
                if is_video:
                    fmt = "mov" if rnd.random() < 0.3 else "mp4"
                    w, h = rnd.choice(((1920, 1080), (1280, 720), (3840, 2160)))
                else:
                    fmt = "jpg"
                    w, h = rnd.choice(((4000, 3000), (3000, 4000), (6000, 4000), (4032, 3024), (1600, 1200),
                                       (800, 600)))
                taken_ts = up - rnd.randint(0, 60 * 86400)
                gran_r = rnd.random()
                gran = 0 if gran_r < 0.92 else 4 if gran_r < 0.96 else 6 if gran_r < 0.98 else 8
                taken = _utc(taken_ts)
                if gran == 4:
                    taken = taken[:8] + "01 00:00:00"
                elif gran in (6, 8):
                    taken = taken[:5] + "01-01 00:00:00"
                unknown = 0
                if gran == 0 and rnd.random() < 0.03:
                    # no date in the file: Flickr shows the upload time, flagged datetakenunknown
                    # (flickr.com/services/api/misc.dates.html)
                    taken, unknown = _utc(up), 1
                lat = lon = None
                if rnd.random() < 0.3:
                    lat, lon = round(rnd.uniform(-60, 70), 6), round(rnd.uniform(-180, 180), 6)
                tags: list[str] = []
                if rnd.random() < 0.6:
                    tags = rnd.sample(_VOCAB, rnd.randint(1, 4))
                machine = ["camera:make=fakecam"] if rnd.random() < 0.05 else []
                edit = up + rnd.randint(0, 3600)
                if rnd.random() < 0.1:
                    edit = up + rnd.randint(0, 400 * 86400)
                title = f"IMG_{i % 10000:04d}" if rnd.random() < 0.5 else f"{rnd.choice(_VOCAB).title()} {i}"
                desc = f"Description of photo {i}" if rnd.random() < 0.3 else ""
                p = self._make_photo(
                    pid, up, title=title, description=desc, tags=tags, machine_tags=machine, datetaken=taken,
                    granularity=gran, datetakenunknown=unknown, lastupdate=min(edit, max(up, latest_edit)),
                    ispublic=vis[0], isfriend=vis[1], isfamily=vis[2],
                    hidden=2 if vis[0] and rnd.random() < 0.1 else 1, lat=lat, lon=lon,
                    accuracy=rnd.choice((16, 16, 16, 11, 6)) if lat is not None else 0,
                    geo_perms=self.default_geo_perms if lat is not None else None,
                    media="video" if is_video else "photo", originalformat=fmt, o_width=w, o_height=h,
                    views=rnd.randint(0, 500))
                self.photos[pid] = p
                ids.append(pid)
                if n_albums:
                    if rnd.random() < 0.4:
                        self._add_to_set(set_ids[min(n_albums - 1, i * n_albums // n)], pid, bump=False)
                    if rnd.random() < 0.03:
                        self._add_to_set(rnd.choice(set_ids), pid, bump=False)
            for k, sid in enumerate(set_ids):
                s = self.photosets[sid]
                if not s["photos"]:
                    self._add_to_set(sid, ids[min(n - 1, k * n // n_albums)], bump=False)
                members = [self.photos[m] for m in s["photos"]]
                s["date_create"] = min(m.dateupload for m in members)
                s["date_update"] = max(m.dateupload for m in members) + 60
        return ids

    def set_meta(self, pid: str, title: str | None = None, description: str | None = None) -> None:
        with self._lock:
            self._set_meta(self.photos[pid], title, description)

    def set_perms(self, pid: str, is_public: int, is_friend: int, is_family: int) -> None:
        with self._lock:
            self._set_perms(self.photos[pid], int(bool(is_public)), int(bool(is_friend)), int(bool(is_family)))

    def set_tags(self, pid: str, tags) -> None:
        """Replace all tags (machine tags included); tags: a Flickr tag string or an iterable."""
        with self._lock:
            self._set_tags(self.photos[pid], tags, replace=True)

    def set_location(self, pid: str, lat: float | None, lon: float | None, accuracy: int = 16) -> None:
        with self._lock:
            self._set_location(self.photos[pid], lat, lon, accuracy)

    def delete_photo(self, pid: str) -> None:
        with self._lock:
            self._delete(pid)

    def create_album(self, title: str, photo_ids, description: str = "") -> str:
        with self._lock:
            return self._create_set(title, description, [str(p) for p in photo_ids])

    def remove_from_album(self, sid: str, pid: str) -> None:
        """The owner takes a photo out of an album (the album's date_update moves; the photo's
        lastupdate does not: membership is the album's, photosets.removePhoto)."""
        with self._lock:
            s = self.photosets[sid]
            s["photos"] = [m for m in s["photos"] if m != pid]
            p = self.photos[pid]
            p.albums = [a for a in p.albums if a != sid]
            if s["primary"] == pid:
                s["primary"] = s["photos"][0] if s["photos"] else None
            s["date_update"] = self._tick()

    def replace_data(self, pid: str, data: bytes) -> None:
        """The owner replaces the photo's file on Flickr (new bytes, new secrets, as replace.api.html does)."""
        with self._lock:
            p = self.photos[pid]
            version = sum(1 for r in self.replacements if r["photo_id"] == pid) + 1
            p.data = data
            p.secret = hexdigest("secret", p.id, version)
            p.originalsecret = hexdigest("osecret", p.id, version)
            p.lastupdate = self._tick()
            self.replacements.append({"photo_id": pid, "filename": "(by the test)"})

    def age(self, pid: str, days: int) -> None:
        """Move a photo's upload (and last update) ``days`` into the past, as if it had been there that long."""
        with self._lock:
            p = self.photos[pid]
            p.dateupload -= days * 86400
            p.lastupdate = min(p.lastupdate, p.dateupload)

    def file_bytes(self, pid: str) -> bytes:
        """The original file of a photo or video, as it would be downloaded (pro or not)."""
        with self._lock:
            p = self.photos[pid]
        return original_bytes(p)

    # mutations (the lock is held by the caller); each bumps lastupdate
    def _set_meta(self, p: FakePhoto, title, description) -> None:
        if title is not None:
            p.title = str(title)
        if description is not None:
            p.description = str(description)
        p.lastupdate = self._tick()

    def _set_perms(self, p: FakePhoto, pub: int, fr: int, fa: int) -> None:
        p.ispublic, p.isfriend, p.isfamily = pub, fr, fa
        p.lastupdate = self._tick()

    def _set_tags(self, p: FakePhoto, tags, replace: bool) -> None:
        plain, machine = split_tags(tags)
        if replace:
            p.tags, p.machine_tags = merge_tags([], plain), merge_tags([], machine)
        else:
            p.tags, p.machine_tags = merge_tags(p.tags, plain), merge_tags(p.machine_tags, machine)
        p.lastupdate = self._tick()

    def _set_dates(self, p: FakePhoto, taken, granularity, posted) -> None:
        if taken is not None:
            p.datetaken, p.datetakenunknown = taken, 0
        if granularity is not None:
            p.granularity = granularity
        if posted is not None:
            p.dateupload = posted
        p.lastupdate = self._tick()

    def _set_location(self, p: FakePhoto, lat, lon, accuracy) -> None:
        p.lat, p.lon = lat, lon
        p.accuracy = int(accuracy) if lat is not None else 0
        # a new location takes the account's default geo permissions; a moved one keeps its own
        p.geo_perms = None if lat is None else (p.geo_perms or self.default_geo_perms)
        p.lastupdate = self._tick()

    def _set_geo_perms(self, p: FakePhoto, perms: tuple) -> None:
        p.geo_perms = tuple(int(bool(x)) for x in perms)
        p.lastupdate = self._tick()

    def set_geo_perms(self, pid: str, is_public: int, is_contact: int, is_friend: int, is_family: int) -> None:
        with self._lock:
            self._set_geo_perms(self.photos[pid], (is_public, is_contact, is_friend, is_family))

    def _delete(self, pid: str) -> None:
        p = self.photos.pop(pid)
        for sid in list(p.albums):
            s = self.photosets.get(sid)
            if s is None:
                continue
            s["photos"] = [m for m in s["photos"] if m != pid]
            if not s["photos"]:
                # an album goes with its last photo (Flickr keeps no empty albums; the fake's reading
                # of the web UI's behaviour, not an API page)
                del self.photosets[sid]
                continue
            if s["primary"] == pid:
                s["primary"] = s["photos"][0]
            s["date_update"] = self._tick()

    def _create_set(self, title: str, description: str, photo_ids: list[str], when: int | None = None) -> str:
        self._next_set += 1 + (self._next_set * 40503) % 97
        sid = str(self._next_set)
        self._set_order += 1
        now = when if when is not None else self._tick()
        self.photosets[sid] = {"title": title, "description": description, "photos": [],
                               "primary": photo_ids[0] if photo_ids else None, "date_create": now,
                               "date_update": now, "order": self._set_order}
        for pid in photo_ids:
            self._add_to_set(sid, pid, bump=False)
        return sid

    def _add_to_set(self, sid: str, pid: str, bump: bool = True) -> None:
        s = self.photosets[sid]
        if pid in s["photos"]:
            return
        s["photos"].append(pid)
        if not s.get("primary"):
            s["primary"] = pid
        p = self.photos[pid]
        if sid not in p.albums:
            p.albums.append(sid)
        if bump:
            s["date_update"] = self._tick()

    # -- requests ----------------------------------------------------------------------------------------
    def _consumer_error(self, op) -> str | None:
        key = op.params.get("oauth_consumer_key")
        if not key:
            return "parameter_absent&oauth_parameters_absent=oauth_consumer_key"
        if key != self.api_key:
            return "consumer_key_unknown"
        if op.signature is None:
            return "parameter_absent&oauth_parameters_absent=oauth_signature"
        if op.params.get("oauth_signature_method", "HMAC-SHA1") != "HMAC-SHA1":
            return "signature_method_rejected"
        return None

    def _authenticate(self, inc: Incoming) -> Ctx:
        """Who is calling: Flickr's API key and OAuth checks, in Flickr's error codes
        (flickr.com/services/api/*.html "Error Codes": 96-100)."""
        op = oauth_params(inc)
        key = op.params.get("oauth_consumer_key") or inc.params.get("api_key")
        if not key:
            raise ApiError(100, "Invalid API Key (Key has invalid format)")
        if key != self.api_key:
            raise ApiError(100, "Invalid API Key (Key not found)")
        if not op.present:
            return Ctx()  # an unsigned call with api_key only: public data
        if op.signature is None:
            raise ApiError(97, "Missing signature")
        token = op.params.get("oauth_token")
        token_secret = None
        ctx = Ctx()
        if token:
            with self._lock:
                info = self._access_tokens.get(token)
                revoked = token in self._revoked
            if info is None or revoked:
                raise ApiError(98, "Invalid auth token")
            token_secret = info["secret"]
            ctx = Ctx(authed=True, perms=PERM_LEVEL[info["perms"]], token=token)
        if not signature_ok(inc, op, self.api_secret, token_secret):
            raise ApiError(96, "Invalid signature")
        return ctx

    def _rest(self, inc: Incoming, fault=None) -> tuple[int, bytes, str]:
        params = inc.params
        fmt = str(params.get("format", "rest") or "rest")
        method = str(params.get("method", ""))

        def answer(payload: dict) -> tuple[int, bytes, str]:
            if fmt == "json":
                body = to_json(payload)
                if str(params.get("nojsoncallback", "")) == "1":
                    return 200, body, "application/json"
                callback = params.get("jsoncallback") or "jsonFlickrApi"
                return 200, f"{callback}(".encode() + body + b")", "text/javascript"
            return 200, to_xml(payload), "text/xml; charset=utf-8"

        def fail(code: int, message: str):
            # errors come with HTTP 200 (flickr.com/services/api/response.json.html)
            return answer({"stat": "fail", "code": code, "message": message})

        if fmt not in ("json", "rest"):
            fmt = "rest"
            return fail(111, f'Format "{params.get("format")}" not found')
        with self._lock:
            if method:
                self.calls[method] += 1
        if fault:
            return fail(fault[1], fault[2])
        try:
            ctx = self._authenticate(inc)
            with self._lock:
                injected = self._take_method_fault(method)
            if injected:
                return fail(*injected)
            spec = rest.METHODS.get(method)
            if spec is None:
                return fail(112, f'Method "{method}" not found')
            func, needed = spec
            if needed and ctx.perms < needed:
                return fail(99, f"Insufficient permissions. Method requires {PERM_NAMES[needed]} privileges; "
                                f"{PERM_NAMES[ctx.perms]} granted.")
            with self._lock:
                payload = func(self, ctx, params)
        except ApiError as e:
            return fail(e.code, e.message)
        return answer({**payload, "stat": "ok"})

    # -- OAuth endpoints (flickr.com/services/api/auth.oauth.html) ------------------------------------------
    def _oauth_problem(self, problem: str) -> tuple[int, bytes, str]:
        # HTTP 401 with a body in the OAuth Problem Reporting extension's terms
        # (oauth_problem=signature_invalid&debug_sbs=..., as Flickr's OAuth endpoints answer;
        # flickrapi's do_request logs such a body split at "&")
        return 401, f"oauth_problem={problem}".encode(), "text/plain; charset=utf-8"

    def _request_token(self, inc: Incoming):
        op = oauth_params(inc)
        problem = self._consumer_error(op)
        if problem:
            return self._oauth_problem(problem)
        if not signature_ok(inc, op, self.api_secret, None):
            return self._oauth_problem("signature_invalid&debug_sbs=" + form_encode([("", base_string(inc, op))])[1:]
                                       .decode())
        callback = op.params.get("oauth_callback")
        if not callback:
            return self._oauth_problem("parameter_absent&oauth_parameters_absent=oauth_callback")
        with self._lock:
            tok, sec = self._new_token()
            self._request_tokens[tok] = {"secret": sec, "callback": callback, "authorized": False, "perms": None,
                                         "verifier": None, "used": False}
        body = form_encode([("oauth_callback_confirmed", "true"), ("oauth_token", tok), ("oauth_token_secret", sec)])
        return 200, body, "text/plain; charset=utf-8"

    def _authorize_page(self, inc: Incoming):
        q = dict(inc.query_pairs)
        tok = q.get("oauth_token", "")
        perms = q.get("perms") or "read"
        with self._lock:
            rt = self._request_tokens.get(tok)
        if rt is None or rt["used"]:
            page = "<html><body><h1>Oops!</h1><p>The token is invalid or has expired.</p></body></html>"
            return 400, page.encode(), "text/html; charset=utf-8"
        if perms not in PERM_LEVEL:
            perms = "read"
        # opening the page is the person's "OK, I'll authorize it"
        verifier = self.authorize(tok, perms)
        if rt["callback"] != "oob":
            sep = "&" if "?" in rt["callback"] else "?"
            location = rt["callback"] + sep + urlencode({"oauth_token": tok, "oauth_verifier": verifier})
            return 302, b"", "text/html; charset=utf-8", {"Location": location}
        page = (f"<html><head><title>Flickr: authorized</title></head><body>"
                f"<p>You have successfully authorized the application to use your credentials "
                f"({html.escape(perms)} access).</p><p>You should now type this code into the application:</p>"
                f'<p><span id="Main" class="verifier">{verifier}</span></p></body></html>')
        return 200, page.encode(), "text/html; charset=utf-8"

    def _access_token(self, inc: Incoming):
        op = oauth_params(inc)
        problem = self._consumer_error(op)
        if problem:
            return self._oauth_problem(problem)
        tok = op.params.get("oauth_token", "")
        with self._lock:
            rt = self._request_tokens.get(tok)
        if rt is None:
            return self._oauth_problem("token_rejected")
        if not signature_ok(inc, op, self.api_secret, rt["secret"]):
            return self._oauth_problem("signature_invalid")
        with self._lock:
            if rt["used"]:
                return self._oauth_problem("token_used")
            if not rt["authorized"]:
                return self._oauth_problem("permission_unknown")
            if op.params.get("oauth_verifier") != rt["verifier"]:
                return self._oauth_problem("token_rejected")
            rt["used"] = True
            access, secret = self._new_token()
            self._access_tokens[access] = {"secret": secret, "perms": rt["perms"]}
        body = form_encode([("fullname", self.fullname), ("oauth_token", access), ("oauth_token_secret", secret),
                            ("user_nsid", self.user_nsid), ("username", self.username)])
        return 200, body, "text/plain; charset=utf-8"

    # -- upload and replace (upload.api.html, replace.api.html) --------------------------------------------
    def _upload(self, inc: Incoming, replace: bool):
        try:
            ctx = self._authenticate(inc)
        except ApiError as e:
            return 200, upload_fail(e.code, e.message), "text/xml; charset=utf-8"
        if ctx.perms < rest.WRITE:
            return 200, upload_fail(99, "Insufficient permissions. Method requires write privileges; "
                                        f"{PERM_NAMES[ctx.perms]} granted."), "text/xml; charset=utf-8"
        fields = {k: v for k, v in inc.form_pairs if not k.startswith("oauth_") and k != "photo"}
        part = inc.files.get("photo")
        if part is None:
            return 200, upload_fail(2, "No photo specified"), "text/xml; charset=utf-8"
        filename, data = part
        if not data:
            return 200, upload_fail(4, "Filesize was zero"), "text/xml; charset=utf-8"
        info = sniff(data)
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if info is None:
            return 200, upload_fail(5, "Filetype was not recognised"), "text/xml; charset=utf-8"
        if info["media"] == "video" and ext not in VIDEO_EXTS:
            # Flickr tells a video by its file name: flickrapi's "dummy name" breaks videos (flickrapi#104)
            return 200, upload_fail(5, "Filetype was not recognised"), "text/xml; charset=utf-8"
        if replace:
            return self._replace(fields, filename, data, info)
        now = int(time.time() + self.clock_skew)
        plain, machine = split_tags(fields.get("tags", ""))

        def flag(name: str, default: int) -> int:
            v = str(fields.get(name, "")).strip()
            return default if v == "" else (1 if v not in ("0", "false") else 0)

        pub, fr, fa = self.default_perms
        if any(str(fields.get(k, "")).strip() for k in ("is_public", "is_friend", "is_family")):
            pub, fr, fa = flag("is_public", 0), flag("is_friend", 0), flag("is_family", 0)
        hidden = rest._int(fields.get("hidden"), 1)
        taken = info.get("taken")
        lat = lon = None
        located = file_location(data) if self.import_exif_location else None
        if located:  # "Import EXIF location data": geotagged from the file, with the default geo perms
            lat, lon = located
        with self._lock:
            pid = self._new_id()
            p = self._make_photo(
                pid, now, title=str(fields.get("title", "")), description=str(fields.get("description", "")),
                tags=merge_tags([], plain), machine_tags=merge_tags([], machine),
                # the date taken comes from EXIF DateTimeOriginal, else it is the upload time,
                # flagged unknown (flickr.com/services/api/misc.dates.html)
                datetaken=taken or _utc(now), datetakenunknown=0 if taken else 1, granularity=0,
                lastupdate=self._tick(), ispublic=pub, isfriend=fr, isfamily=fa,
                hidden=hidden if hidden in (1, 2) else 1, lat=lat, lon=lon, accuracy=16 if lat is not None else 0,
                geo_perms=self.default_geo_perms if lat is not None else None,
                media=info["media"], originalformat=info["format"], o_width=info["width"] or 1,
                o_height=info["height"] or 1, data=data, uploaded_filename=filename,
                safety_level=rest._int(fields.get("safety_level"), 1) or 1,
                content_type=rest._int(fields.get("content_type"), 1) or 1)
            lag_seconds, lag_calls = self._search_lag
            # hidden from the next lag_calls searches (each search counts itself before it looks)
            p.indexed_at, p.indexed_after_calls = time.time() + lag_seconds, self.search_calls + lag_calls + 1
            self.photos[pid] = p
            self.uploads.append({**{k: str(v) for k, v in fields.items()}, "filename": filename, "photo_id": pid})
        return 200, upload_ok(pid), "text/xml; charset=utf-8"

    def _replace(self, fields: dict, filename: str, data: bytes, info: dict):
        xml = "text/xml; charset=utf-8"
        if not self.pro:
            return 200, upload_fail(1, "Not a pro account"), xml  # replace.api.html error 1
        with self._lock:
            p = self.photos.get(str(fields.get("photo_id", "")).strip())
            if p is None:
                # not among replace.api.html's documented codes: the fake's choice
                return 200, upload_fail(7, "Photo not found"), xml
            if p.media == "video" or info["media"] == "video":
                # "videos cannot be replaced" (SERVICES.md); the documented code for a file that is
                # not a recognised image is 5
                return 200, upload_fail(5, "Filetype was not recognised"), xml
            version = sum(1 for r in self.replacements if r["photo_id"] == p.id) + 1
            p.data = data
            p.originalformat = info["format"]
            p.o_width, p.o_height = info["width"] or 1, info["height"] or 1
            p.secret = hexdigest("secret", p.id, version)
            p.originalsecret = hexdigest("osecret", p.id, version)
            p.uploaded_filename = filename
            p.lastupdate = self._tick()
            self.replacements.append({**{k: str(v) for k, v in fields.items()}, "filename": filename,
                                      "photo_id": p.id})
            return 200, upload_ok(p.id, {"secret": p.secret, "originalsecret": p.originalsecret}), xml

    # -- files on the photo host -------------------------------------------------------------------------
    def _file(self, inc: Incoming):
        """(status, body, content type) of a GET on the photo host, or None when the path is not one."""
        m = _FILE_PATH.match(inc.path)
        if m:
            server, pid, secret, suffix, ext = m.groups()
            with self._lock:
                self.downloads += 1
                p = self.photos.get(pid)
            if p is None or p.server != server:
                return None
            suffix = suffix or ""
            ext = ext.lower()
            if suffix == "o":
                if not self.pro or secret != p.originalsecret:
                    return None
                if p.media == "video":
                    if ext != "jpg":
                        return None
                    return 200, still_frame(p, 1024), "image/jpeg"
                if ext != p.originalformat:
                    return None
                return 200, original_bytes(p), CONTENT_TYPES.get(ext, "application/octet-stream")
            size = SIZE_BY_SUFFIX.get(suffix)
            if size is None or secret != p.secret or ext != "jpg":
                return None
            if size_dims(p, size) is None or not size_allowed(size, self.pro):
                return None
            return 200, still_frame(p, size.edge, size.square), "image/jpeg"
        m = _PLAY_PATH.match(inc.path)
        if m:
            nsid, pid, kind, secret = m.groups()
            with self._lock:
                self.downloads += 1
                p = self.photos.get(pid)
            if p is None or p.media != "video" or nsid != self.user_nsid:
                return None
            if kind == "orig":
                if not self.pro or secret != p.originalsecret:
                    return None
                return 200, original_bytes(p), CONTENT_TYPES.get(p.originalformat, "video/mp4")
            width = {k: w for _label, k, w in VIDEO_RENDITIONS}.get(kind)
            dims = rendition_dims(p, width) if width else None
            if dims is None or secret != p.secret or (not self.pro and max(dims) > 1024):
                return None
            return 200, generated_video(p, kind, dims), "video/mp4"
        return None

    # -- dispatch ------------------------------------------------------------------------------------------
    def _dispatch(self, inc: Incoming, fault=None):
        path = inc.path.rstrip("/") or "/"
        if path == "/services/rest":
            return self._rest(inc, fault)
        if path in ("/services/upload", "/services/replace"):
            if inc.method != "POST":
                return 405, b"Method Not Allowed", "text/plain"
            with self._lock:
                if not fault and self._upload_faults:
                    left = self._upload_faults[0]
                    left[0] -= 1
                    fault = ("code", left[1], left[2])
                    if left[0] <= 0:
                        self._upload_faults.clear()
            if fault:
                return 200, upload_fail(fault[1], fault[2]), "text/xml; charset=utf-8"
            return self._upload(inc, replace=path.endswith("replace"))
        if path == "/services/oauth/request_token":
            return self._request_token(inc)
        if path == "/services/oauth/authorize":
            return self._authorize_page(inc)
        if path == "/services/oauth/access_token":
            return self._access_token(inc)
        if inc.method in ("GET", "HEAD"):
            got = self._file(inc)
            if got is not None:
                return got
        return 404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html; charset=utf-8"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeFlickr/1.0"
    # headers and body go out in separate writes: without TCP_NODELAY each keep-alive answer
    # waits for the client's delayed ACK (~40 ms)
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # quiet
        pass

    def date_time_string(self, timestamp=None) -> str:  # the Date header, in the fake's time
        skew = self.server.fake.clock_skew  # type: ignore[attr-defined]
        return super().date_time_string(time.time() + skew if timestamp is None else timestamp)

    def _read_body(self) -> bytes:
        return read_body(self)

    def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None,
              truncate: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        if truncate:
            # the full Content-Length, half the bytes, then the connection closes
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def _handle(self) -> None:
        fake: FakeFlickr = self.server.fake  # type: ignore[attr-defined]
        body = self._read_body()
        if fake.delay:
            time.sleep(fake.delay)
        path_only = self.path.split("?", 1)[0]
        status = fake._take_http_fault(path_only)
        fault = fake._draw_fault(path_only) if status is None else None
        if isinstance(fault, int):
            status = fault
        if status is not None:
            mix = fake._mix
            wait = {"Retry-After": str(mix[2])} if fault is not None and mix and mix[2] is not None else {}
            if status == 429:
                # image hosts and the API answer 429 when over the rate (SERVICES.md "Rate limit")
                self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": "1"} if fault is None else wait)
            elif status == 400:
                # Flickr answers 400 with this sentence when it is down (snarfed/webutil, see fault_mix)
                self._send(400, b"Sorry, the Flickr API service is not currently available.", "text/plain")
            else:
                self._send(status, f"<html><body>{status} Service Unavailable</body></html>".encode(),
                           "text/html", wait if status == 503 else None)
            return
        try:
            headers = {k.lower(): v for k, v in self.headers.items()}
            inc = parse_request(self.command, self.path, headers, body, "%s:%d" % self.server.server_address[:2])
            result = fake._dispatch(inc, fault)
        except Exception:  # the fake's own bug: say so loudly, answer 500
            tb = traceback.format_exc()
            fake.errors.append(tb)
            print("FakeFlickr internal error:\n" + tb, file=sys.stderr)
            self._send(500, b"fake flickr internal error", "text/plain")
            return
        status, payload, ctype = result[:3]
        extra = result[3] if len(result) > 3 else None
        if path_only.rstrip("/") == "/services/upload" and b"<photoid>" in payload:
            with fake._lock:
                drop = fake._drop_uploads > 0
                fake._drop_uploads -= 1 if drop else 0
            if drop:  # stored, and the answer never arrives
                self.close_connection = True
                return
        truncate = False
        if status == 200 and not path_only.startswith("/services/"):
            with fake._lock:
                if fake._truncate > 0:
                    fake._truncate -= 1
                    truncate = True
        self._send(status, payload, ctype, extra, truncate=truncate)

    do_GET = _handle
    do_POST = _handle
    do_HEAD = _handle
