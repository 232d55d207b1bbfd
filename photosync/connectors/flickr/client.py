"""Flickr's wire: flickrapi 2.4.0 unmodified, with photosync's token and this service's URLs;
OAuth sign-in; the request budget; retries and what a failure means to the person.

Facts this relies on (flickr.com/services/api, ../shared/SERVICES.md):

* OAuth 1.0a; the out-of-band flow (``oauth_callback=oob``, the person pastes the verifier)
  works over SSH.  flickrapi's own token cache is created world-readable, so it is not used:
  the key, secret and token live in photosync's credentials file (mode 0600).
* JSON numbers come as strings or ints; text nodes as ``{"_content": ...}``.
* About 3,600 calls an hour per key: a token bucket keeps under the configured budget; 429,
  5xx, connection errors and Flickr's transient codes (0 and 201 "not currently available"
  under load, 105, 106, 10) are retried with backoff and jitter, and at least as long as a
  Retry-After asks.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from ... import credentials
from ...errors import AuthError, ConfigError, PhotosyncError, SourceError
from ...net import TokenBucket, Transient, download, retry_after_of, retry_after_seconds, retrying
from ..base import ConnectorContext
from .config import Settings, load_secrets

#: Flickr's own error codes that mean "try again later": 105 "Service currently unavailable" and 106
#: "Write operation failed" (every method's "Error codes" on flickr.com/services/api), 10 "Sorry, the
#: Flickr search API is not currently available" (flickr.photos.search.html), and 0 and 201 "Sorry, the
#: Flickr API service is not currently available.", which Flickr answers under load and the Flickr
#: Foundation's own client retries (flickr-photos-api, is_retryable(): "We've seen similar with code 0")
TRANSIENT_CODES = {0, 10, 105, 106, 201}
RETRY_HTTP = re.compile(r"Status code (\d{3})")


def _int(v, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _text(v) -> str:
    if isinstance(v, dict):
        v = v.get("_content")
    return v or ""


def transient(e: BaseException) -> bool:
    """Whether a failed call or transfer is worth another attempt."""
    import requests
    from flickrapi.exceptions import FlickrError

    if isinstance(e, Transient):
        return True
    if isinstance(e, FlickrError):
        if e.code is not None:
            return e.code in TRANSIENT_CODES
        m = RETRY_HTTP.search(str(e))
        return m is not None and (m.group(1) == "429" or m.group(1).startswith("5"))
    if isinstance(e, ValueError):  # not JSON: an outage page, a proxy
        return True
    return isinstance(e, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError))


class FlickrClient:
    """One service's connection to Flickr: every REST call, download and upload goes through it,
    so they share the budget, the HTTP connections and the notes said once."""

    def __init__(self, name: str, config: dict, env: ConnectorContext, settings: Settings):
        self.name = name
        self.config = config
        self.env = env
        self.settings = settings
        self.endpoints = settings.endpoints
        self.attempts = settings.attempts
        self.backoff = settings.backoff
        self.timeout = settings.timeout
        #: REST calls and upload posts made (each took a token)
        self.calls = 0
        self.lock = threading.Lock()
        self._bucket: TokenBucket | None = None
        self._api = None
        self._http = None
        #: per thread: the Retry-After of the last REST answer flickrapi saw (it keeps no headers)
        self._last_answer = threading.local()
        self._warned: set[str] = set()
        #: Flickr's clock minus ours (seconds), once an answer's Date header told it
        self.clock_offset: float | None = None
        #: the signed-in account (its NSID) and the token's permissions, once signed in
        self.user_nsid = "me"
        self.perms = "read"
        #: the account a sign-in (login) signed in to
        self.account: str | None = None

    # -- the flickrapi object -------------------------------------------------------------------
    def api(self, signed_in: bool = True):
        """flickrapi's client, with photosync's token and this service's URLs."""
        if signed_in and self._api is not None:
            return self._api
        import logging

        import flickrapi
        import requests
        from flickrapi.auth import FlickrAccessToken

        data = load_secrets(self.env.ctx, self.name)
        token = None
        if signed_in:
            if not data.get("oauth_token"):
                raise AuthError(f"not signed in to Flickr; run: photosync auth {self.name}")
            token = FlickrAccessToken(data["oauth_token"], data["oauth_token_secret"], data.get("perms", "read"),
                                      data.get("fullname", ""), data.get("username", ""), data.get("user_nsid", ""))
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
        client = self

        def keep_retry_after(r, *args, **kwargs):
            client.note_clock(r.headers.get("Date"))
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
            self._api = api
            self.user_nsid = data.get("user_nsid") or "me"
            self.perms = data.get("perms", "read")
        return api

    def login(self, ask, perms: str | None = None) -> str:
        """OAuth's out-of-band flow: the person opens the address, allows photosync and pastes
        the code; the token is saved with the key (never in the library).  Who is signed in."""
        import requests
        from flickrapi.exceptions import FlickrError

        perms = perms or ("write" if self.config.get("upload_from") else "read")
        if perms not in ("read", "write", "delete"):
            raise ConfigError(f"--perms {perms}: use read, write or delete")
        api = self.api(signed_in=False)
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
        data = load_secrets(self.env.ctx, self.name)
        data.update(oauth_token=token.token, oauth_token_secret=token.token_secret, perms=perms,
                    user_nsid=token.user_nsid, username=token.username, fullname=token.fullname)
        credentials.save(self.env.ctx, "services", self.name, data)
        self._api = None
        self.config = {k: v for k, v in self.config.items() if k != "account"}  # a new sign-in may change it
        who = self.call("flickr.test.login")
        self.account = str(who["user"].get("id") or token.user_nsid)
        return f"{_text(who['user'].get('username'))} ({self.account}), {perms} access"

    @property
    def bucket(self) -> TokenBucket:
        """The API key's request budget, shared by the runs that use the key (a file in the user cache)."""
        if self._bucket is None:
            from ...context import cache_dir

            key = str(load_secrets(self.env.ctx, self.name).get("api_key", ""))
            digest = hashlib.sha1(key.encode()).hexdigest()[:16]
            self._bucket = TokenBucket(self.settings.per_hour,
                                       state_path=str(cache_dir() / "flickr-budget" / f"{digest}.json"))
        return self._bucket

    def take(self) -> None:
        """One request's token from the budget (every REST call and upload post takes one)."""
        self.bucket.take()
        with self.lock:
            self.calls += 1

    # -- calls ------------------------------------------------------------------------------
    def call(self, method: str, _attempts: int | None = None, **params):
        """One REST call within the budget, retried when the failure is transient;
        a failure that stays is raised as a PhotosyncError that says what to do."""
        import requests
        from flickrapi.exceptions import FlickrError

        api = self.api()

        def once():
            self.take()
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
            return retrying(once, transient=transient, attempts=_attempts or self.attempts, base=self.backoff,
                            on_retry=self.retry_note(method), retry_after=retry_after_of)
        except FlickrError as e:
            raise self.explain(e, method, _attempts) from None
        except requests.RequestException as e:
            raise SourceError(f"Flickr {method}: cannot reach {urlsplit(self.endpoints['rest']).netloc} "
                              f"after {_attempts or self.attempts} attempts ({type(e).__name__})") from None
        except ValueError:
            raise SourceError(f"Flickr {method}: the answer is not Flickr's JSON (an outage page or a proxy?) "
                              f"after {_attempts or self.attempts} attempts; try again later") from None

    def pages(self, method: str, key: str, per_page: int, **params):
        """(page info, entries) of each page of a paged call."""
        page = 1
        while True:
            answer = self.call(method, per_page=per_page, page=page, **params)[key]
            entries = answer.get("photo") or answer.get("photoset") or []
            yield answer, entries
            if page >= _int(answer.get("pages"), 1) or not entries:
                return
            page += 1

    def retry_note(self, what: str):
        def note(e: BaseException, delay: float) -> None:
            key = f"retry:{what}"
            if key not in self._warned:  # once per kind: a flaky hour must not flood the screen
                self._warned.add(key)
                self.env.report.info(f"service {self.name}: {what}: {e}; trying again in {delay:.1f} s")
        return note

    def note_once(self, key: str, message: str) -> None:
        with self.lock:
            if key in self._warned:
                return
            self._warned.add(key)
        self.env.report.info(f"note: service {self.name}: {message}")

    def explain(self, e, method: str, attempts: int | None = None) -> PhotosyncError:
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

    def note_clock(self, date: str | None) -> None:
        """Flickr's clock minus ours, from an answer's Date header (for upload intents' times)."""
        if date and self.clock_offset is None:
            from email.utils import parsedate_to_datetime

            try:
                self.clock_offset = parsedate_to_datetime(date).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                pass

    # -- files ------------------------------------------------------------------------------
    def session(self):
        """The HTTP connections for files (downloads and uploads), shared by the threads."""
        if self._http is None:
            import requests

            with self.lock:
                if self._http is None:
                    s = requests.Session()
                    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
                    s.mount("http://", adapter)
                    s.mount("https://", adapter)
                    self._http = s
        return self._http

    def host(self, url: str) -> str:
        """A photo or video file's URL, on the ``photo_host`` endpoint when one is set."""
        host = self.endpoints.get("photo_host")
        if not host:
            return url
        h = urlsplit(host)
        u = urlsplit(url)
        return urlunsplit((h.scheme, h.netloc, u.path, u.query, ""))

    def download(self, url: str):
        """The file at ``url`` in a temporary file (rewound): net.download, with this service's
        connections, attempts and backoff."""
        return download(self.session(), url, attempts=self.attempts, base=self.backoff, timeout=self.timeout,
                        on_retry=self.retry_note("download"))

    def page_url(self, pid: str) -> str:
        return f"https://www.flickr.com/photos/{self.user_nsid}/{pid}/"
