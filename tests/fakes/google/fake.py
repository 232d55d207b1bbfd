"""FakeGoogle: Google's OAuth endpoints, the Photos Library API (with its uploads endpoint),
the Photos Picker API and the media host behind baseUrls, as one HTTP server on loopback, for
tests that drive the unmodified google-api-python-client, google-auth and google-auth-oauthlib.

See README.md in this package for every behaviour and its source.
"""

from __future__ import annotations

import hashlib
import random
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

from ..http import ClientGone, read_body
from . import library, oauth, picker
from .media import sniff
from .wire import GoogleError, error_info, parse_request

SCOPE = "https://www.googleapis.com/auth/"
APPENDONLY = SCOPE + "photoslibrary.appendonly"
READ_APPCREATED = SCOPE + "photoslibrary.readonly.appcreateddata"
EDIT_APPCREATED = SCOPE + "photoslibrary.edit.appcreateddata"
PICKER = SCOPE + "photospicker.mediaitems.readonly"
#: the scopes left since 2025-03-31 (developers.google.com/photos/support/updates; SERVICES.md)
KNOWN_SCOPES = frozenset({APPENDONLY, READ_APPCREATED, EDIT_APPCREATED, PICKER})
#: gone since 2025-03-31 (same page): photoslibrary, photoslibrary.readonly, photoslibrary.sharing
REMOVED_SCOPES = frozenset({SCOPE + "photoslibrary", SCOPE + "photoslibrary.readonly",
                            SCOPE + "photoslibrary.sharing"})

#: daily quotas reset at midnight Pacific Time (cloud.google.com/docs/quotas: "Daily quotas
#: are reset at midnight Pacific Time"); photos/library/guides/api-limits-quotas
PACIFIC = ZoneInfo("America/Los_Angeles")


class FakeClock:
    """The fake's clock: real time plus an offset the test moves with advance(). Token, baseUrl,
    session and quota-day expiry all read it, so a test ages them without waiting."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += float(seconds)


@dataclass
class Item:
    """One media item of the account (the person's own, or created by an app through uploads)."""

    id: str
    data: bytes
    filename: str
    mime: str
    media: str                       # PHOTO | VIDEO
    width: int
    height: int
    create_time: float               # when taken (mediaMetadata.creationTime, Picker createTime)
    sha256: str
    description: str = ""
    make: str | None = None
    model: str | None = None
    created_by: str | None = None    # OAuth client id of the app that created it; None: the person's
    uploaded_at: float = 0.0


@dataclass
class Album:
    id: str
    title: str
    created_by: str | None
    items: list = field(default_factory=list)


@dataclass
class Fault:
    remaining: int | None            # None: a rate fault without end
    kind: object                     # 500 | 503 | 429 | "drop" | "drop_after"
    path_prefix: str | None
    rate: float = 1.0


class FakeGoogle:
    """One Google account ("the person") with one OAuth client registered, behind one server.
    See the package README for the Python API."""

    def __init__(self, client_id: str = "1234567890-fake.apps.googleusercontent.com",
                 client_secret: str = "GOCSPX-fake-secret", seed: int = 0):
        self.clock = FakeClock()
        self.clients: dict[str, str] = {client_id: client_secret}
        self.client_id = client_id
        self.client_secret = client_secret
        self.rng = random.Random(seed)
        self._seed = seed
        # -- account contents
        self.items: dict[str, Item] = {}
        self.albums: dict[str, Album] = {}
        self.by_hash: dict[str, str] = {}
        self.upload_tokens: dict[str, dict] = {}
        self.uploads: list[dict] = []          # every accepted POST v1/uploads (token, size, headers)
        self.created: list[str] = []            # media item ids batchCreate made, in order
        self.sessions: dict[str, picker.Session] = {}
        self.base_urls: dict[str, dict] = {}
        # -- OAuth state
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        #: the person's answer on the consent screen: "allow" or "deny"
        self.consent = "allow"
        #: scopes the person unticks on the consent screen (granular consent)
        self.withheld_scopes: set[str] = set()
        #: an OAuth client in "Testing" publishing status gets refresh tokens that expire after
        #: 7 days (developers.google.com/identity/protocols/oauth2 "Refresh token expiration")
        self.app_in_testing = True
        # -- knobs
        self.library_daily_limit = 10_000       # photos/library/guides/api-limits-quotas
        self.media_daily_limit = 75_000         # same page: requests for media bytes
        self.retry_after = 1                    # Retry-After seconds on injected 429s
        self.poll_interval = 0.05               # Picker pollingConfig.pollInterval (seconds)
        self.picking_timeout = 1800.0           # Picker pollingConfig.timeoutIn at creation
        self.session_lifetime = 86400.0         # Picker expireTime - create time (the fake's choice)
        self.max_photo_bytes = 200 * 1024 * 1024   # upload-media "Accepted file types and sizes"
        self.max_video_bytes = 20 * 1024 ** 3
        self.album_capacity = 20_000            # albums.batchAddMediaItems "up to 20,000"
        self.delay = 0.0
        # -- counters, quota, faults
        self.calls: Counter = Counter()
        self.errors: list[str] = []
        self._quota_day: str | None = None
        self.library_requests_today = 0
        self.media_requests_today = 0
        self._faults: list[Fault] = []
        self._writing: set[str] = set()         # users with a batchCreate in flight
        self._holds: dict[str, threading.Event] = {}
        self.in_flight: Counter = Counter()
        self._lock = threading.RLock()
        self._n = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "FakeGoogle":
        if self._server is None:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.daemon_threads = True
            server.fake = self  # type: ignore[attr-defined]
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="fake-google", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            for ev in self._holds.values():
                ev.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeGoogle":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGoogle is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def endpoints(self) -> dict[str, str]:
        """The URLs a connector points at the fake, by the names of `--endpoint NAME=URL`.
        `library` and `picker` are roots for build_from_document's api_endpoint (they end with
        "/"); `uploads` is the whole upload URL."""
        u = self.url
        return {"oauth_auth": u + "/o/oauth2/auth", "oauth_token": u + "/token", "oauth_revoke": u + "/revoke",
                "library": u + "/photoslibrary/", "uploads": u + "/photoslibrary/v1/uploads",
                "picker": u + "/photospicker/", "media": u + "/lh3/"}

    # -- ids -------------------------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        """Long url-safe ids like Google's (AF1Qip… for media items); deterministic per seed."""
        self._n += 1
        digest = hashlib.sha256(f"{self._seed}:{prefix}:{self._n}".encode()).digest()
        import base64

        return prefix + base64.urlsafe_b64encode(digest).decode().rstrip("=")[:38]

    # -- OAuth, for tests that skip the browser ---------------------------------------------------
    def client_config(self) -> dict:
        """The JSON Google Cloud Console downloads for a "Desktop app" OAuth client
        (client_secret_….json), pointed at the fake."""
        ep = self.endpoints
        return {"installed": {"client_id": self.client_id, "project_id": "photosync-fake",
                              "auth_uri": ep["oauth_auth"], "token_uri": ep["oauth_token"],
                              "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                              "client_secret": self.client_secret, "redirect_uris": ["http://localhost"]}}

    def issue_tokens(self, scopes, client_id: str | None = None) -> dict:
        """A granted refresh token and a fresh access token, as the token endpoint would answer
        an authorization_code exchange: {"access_token", "refresh_token", "scope", ...}."""
        with self._lock:
            return oauth.grant(self, client_id or self.client_id, list(scopes), offline=True, force_refresh=True)

    def authorized_user_info(self, scopes, client_id: str | None = None) -> dict:
        """What google-auth writes with Credentials.to_json() (an "authorized_user" file),
        pointed at the fake. Note: Credentials.from_authorized_user_info/_file ignore token_uri
        (they always use Google's): call .with_token_uri(fake.endpoints["oauth_token"])."""
        tok = self.issue_tokens(scopes, client_id)
        cid = client_id or self.client_id
        return {"type": "authorized_user", "client_id": cid, "client_secret": self.clients[cid],
                "refresh_token": tok["refresh_token"], "token_uri": self.endpoints["oauth_token"],
                "scopes": list(scopes)}

    def revoke(self, token: str) -> None:
        """The person removes the app's access (myaccount.google.com/permissions): the grant of
        this refresh or access token ends, with every access token it gave."""
        with self._lock:
            oauth.revoke_token(self, token)

    def expire_access_tokens(self) -> None:
        with self._lock:
            for rec in self.access_tokens.values():
                rec["expires"] = 0.0

    # -- the account's contents ------------------------------------------------------------------
    def add_item(self, data: bytes, filename: str, *, description: str = "", create_time: float | None = None,
                 app_created: bool = False, client_id: str | None = None) -> str:
        """A media item in the person's library (not app-created unless app_created); its id.
        Format, size, camera and date come from the bytes (EXIF, the MP4 mvhd)."""
        info = sniff(data)
        if info is None:
            raise ValueError(f"{filename}: neither an image Pillow opens nor an MP4/MOV")
        with self._lock:
            now = self.clock.now()
            item = Item(id=self._new_id("AF1Qip"), data=data, filename=filename, mime=info.mime, media=info.media,
                        width=info.width, height=info.height,
                        create_time=create_time if create_time is not None else (info.taken or now),
                        sha256=hashlib.sha256(data).hexdigest(), description=description, make=info.make,
                        model=info.model, created_by=(client_id or self.client_id) if app_created else None,
                        uploaded_at=now)
            self.items[item.id] = item
            self.by_hash.setdefault(item.sha256, item.id)
            return item.id

    def add_album(self, title: str, item_ids=(), *, app_created: bool = False) -> str:
        """An album: the person's own (the app cannot see it or add to it) unless app_created."""
        with self._lock:
            album = Album(id=self._new_id("AJ"), title=title,
                          created_by=self.client_id if app_created else None, items=list(item_ids))
            self.albums[album.id] = album
            return album.id

    def app_items(self, client_id: str | None = None) -> list[Item]:
        """Items the app (client_id) created, in creation order."""
        cid = client_id or self.client_id
        with self._lock:
            return [it for it in self.items.values() if it.created_by == cid]

    def pick(self, session_id: str, item_ids) -> None:
        """The person picks these items in the Picker UI and taps Done."""
        with self._lock:
            picker.pick(self, session_id, list(item_ids))

    # -- counters, faults, holds -----------------------------------------------------------------
    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()

    def fail_next(self, n: int, kind=503, path_prefix: str | None = None) -> None:
        """The next n requests (whose path starts with path_prefix) fail: 500, 503, 429 (with
        Retry-After), "drop" (the connection closes before any answer) or "drop_after" (the request
        is carried out, then the connection closes: the client never learns it worked).
        fail_next(0) clears every fault."""
        with self._lock:
            if n <= 0:
                self._faults.clear()
                return
            self._faults.append(Fault(n, kind, path_prefix))

    def fault_rate(self, rate: float, kinds=(503, 429, "drop"), path_prefix: str | None = None,
                   seed: int | None = None) -> None:
        """Each request (under path_prefix) fails with probability rate, its kind drawn from kinds
        (a seeded generator, so a run repeats). rate 0 removes rate faults."""
        with self._lock:
            self._faults = [f for f in self._faults if f.remaining is not None]
            if seed is not None:
                self.rng = random.Random(seed)
            if rate > 0:
                self._faults.append(Fault(None, tuple(kinds), path_prefix, rate))

    def _take_fault(self, path: str):
        with self._lock:
            chosen = None
            for f in reversed(self._faults):
                if f.path_prefix is not None and not path.startswith(f.path_prefix):
                    continue
                if f.remaining is None:
                    if chosen is None and self.rng.random() < f.rate:
                        chosen = self.rng.choice(f.kind)
                    continue
                f.remaining -= 1
                if chosen is None:
                    chosen = f.kind
            self._faults = [f for f in self._faults if f.remaining is None or f.remaining > 0]
            return chosen

    def hold(self, endpoint: str = "library.mediaItems.batchCreate") -> threading.Event:
        """Requests to endpoint wait (inside the server, once accepted) until the returned event is
        set: a test holds a batchCreate in flight to send a concurrent one. in_flight[endpoint]
        says how many are waiting."""
        with self._lock:
            ev = threading.Event()
            self._holds[endpoint] = ev
            return ev

    def release(self, endpoint: str = "library.mediaItems.batchCreate") -> None:
        with self._lock:
            ev = self._holds.pop(endpoint, None)
        if ev is not None:
            ev.set()

    def _wait_hold(self, endpoint: str) -> None:
        with self._lock:
            ev = self._holds.get(endpoint)
            if ev is None:
                return
            self.in_flight[endpoint] += 1
        try:
            ev.wait(timeout=30)
        finally:
            with self._lock:
                self.in_flight[endpoint] -= 1

    # -- quotas ------------------------------------------------------------------------------------
    def _roll_day(self) -> None:
        day = datetime.fromtimestamp(self.clock.now(), PACIFIC).strftime("%Y-%m-%d")
        if day != self._quota_day:
            self._quota_day = day
            self.library_requests_today = 0
            self.media_requests_today = 0

    def next_quota_reset(self) -> float:
        """Epoch seconds of the next midnight Pacific Time by the fake's clock."""
        now = datetime.fromtimestamp(self.clock.now(), PACIFIC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight.timestamp()

    def _charge(self, endpoint: str) -> None:
        """One request against the project's daily quota; 429 RESOURCE_EXHAUSTED past it, in the
        shape Google answers (rclone#6920, rclone#3677: "Quota exceeded for quota metric … (429
        RESOURCE_EXHAUSTED)"; ErrorInfo with reason RATE_LIMIT_EXCEEDED, google.aip.dev/193)."""
        with self._lock:
            self._roll_day()
            if endpoint.startswith("library."):
                if self.library_requests_today >= self.library_daily_limit:
                    raise GoogleError(
                        "RESOURCE_EXHAUSTED",
                        "Quota exceeded for quota metric 'All requests' and limit 'All requests per day' of service "
                        "'photoslibrary.googleapis.com' for consumer 'project_number:1234567890'.",
                        details=[error_info("RATE_LIMIT_EXCEEDED", "photoslibrary.googleapis.com",
                                            quota_metric="photoslibrary.googleapis.com/all_requests",
                                            quota_limit="AllRequestsPerDayPerProject",
                                            quota_limit_value=self.library_daily_limit,
                                            consumer="projects/1234567890")])
                self.library_requests_today += 1
            elif endpoint == "media.download":
                if self.media_requests_today >= self.media_daily_limit:
                    raise GoogleError("RESOURCE_EXHAUSTED",
                                      "Quota exceeded for quota metric 'Media bytes requests' and limit "
                                      "'Media bytes requests per day'.",
                                      details=[error_info("RATE_LIMIT_EXCEEDED", "photoslibrary.googleapis.com",
                                                          quota_limit_value=self.media_daily_limit)])
                self.media_requests_today += 1

    # -- dispatch ------------------------------------------------------------------------------------
    def _route(self, inc):
        """(endpoint name, handler) for a request, or (None, None)."""
        p, m = inc.path, inc.method
        if p == "/o/oauth2/auth" and m == "GET":
            return "oauth.auth", oauth.authorize_page
        if p == "/token" and m == "POST":
            return "oauth.token", oauth.token
        if p == "/revoke" and m in ("POST", "GET"):
            return "oauth.revoke", oauth.revoke_endpoint
        if p.startswith("/photoslibrary/"):
            return library.route(p[len("/photoslibrary"):], m)
        if p.startswith("/photospicker/"):
            return picker.route(p[len("/photospicker"):], m)
        if p.startswith("/lh3/") and m in ("GET", "HEAD"):
            return "media.download", library.download
        if p.startswith("/picker-ui/") and m == "GET":
            return "picker.ui", picker.ui_page
        return None, None


def _api_error_answer(err: GoogleError):
    return err.http, err.body(), "application/json; charset=UTF-8", err.headers


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    # headers and body go out in separate writes: without TCP_NODELAY each keep-alive answer
    # waits for the client's delayed ACK (~40 ms), as in the fake Flickr
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _handle(self) -> None:
        fake: FakeGoogle = self.server.fake  # type: ignore[attr-defined]
        try:
            body = read_body(self)
        except ClientGone:
            self.close_connection = True
            return
        if fake.delay:
            time.sleep(fake.delay)
        headers = {k.lower(): v for k, v in self.headers.items()}
        inc = parse_request(self.command, self.path, headers, body, "%s:%d" % self.server.server_address[:2])
        endpoint, handler = fake._route(inc)
        if endpoint is None:
            self._send(404, b"<html><body><h1>404.</h1><p>That's an error.</p></body></html>",
                       "text/html; charset=UTF-8")
            return
        with fake._lock:
            fake.calls[endpoint] += 1
        fault = fake._take_fault(inc.path)
        if fault == "drop":
            self._drop()
            return
        if fault in (429, 500, 503):
            if fault == 429:
                err = GoogleError("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
                                  headers={"Retry-After": str(fake.retry_after)})
            elif fault == 500:
                err = GoogleError("INTERNAL", "Internal error encountered.")
            else:
                err = GoogleError("UNAVAILABLE", "The service is currently unavailable.")
            self._send(*_api_error_answer(err))
            return
        try:
            if not endpoint.startswith("oauth.") and not endpoint.startswith("picker.ui"):
                fake._charge(endpoint)
            result = handler(fake, inc)
        except GoogleError as err:
            result = _api_error_answer(err)
        except Exception:  # the fake's own bug: say so loudly, answer 500
            tb = traceback.format_exc()
            fake.errors.append(tb)
            print("FakeGoogle internal error:\n" + tb, file=sys.stderr)
            self._send(500, b"fake google internal error", "text/plain")
            return
        if fault == "drop_after":
            self._drop()
            return
        status, payload, ctype = result[:3]
        extra = result[3] if len(result) > 3 else None
        self._send(status, payload, ctype, extra)

    do_GET = _handle
    do_POST = _handle
    do_DELETE = _handle
    do_HEAD = _handle
