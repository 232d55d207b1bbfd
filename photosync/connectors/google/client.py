"""The Google wire shared by the google-picker and google-photos connectors: the OAuth client
file and sign-in, credentials, the API clients built from the shipped discovery documents, the
request budget, retries and what Google's errors mean.

Facts this relies on (../shared/SERVICES.md "Google Photos"; tests/fakes/google/README.md):

* A person makes an OAuth client of type "Desktop app" in Google Cloud Console and downloads its
  ``client_secret_….json`` (``{"installed": {client_id, client_secret, auth_uri, token_uri, …}}``).
  ``service add --client-secrets FILE`` copies its contents to the user's credentials file (0600),
  never to the library.
* Sign-in: google-auth-oauthlib's InstalledAppFlow with a loopback redirect (the out-of-band flow is
  blocked since 2022); ``access_type=offline`` and ``prompt=consent`` so a refresh token comes back
  even when the client already holds a grant.  With ``--no-browser`` the person opens the address
  anywhere (over SSH) and pastes back the address their browser was sent to.
* A refresh token that was revoked, or that expired (7 days for a client in "Testing" status),
  answers ``invalid_grant``: the person must sign in again.
* ``Credentials.from_authorized_user_info`` ignores a token_uri in the data, so credentials are made
  with the endpoint given (``--endpoint oauth_token=URL``).
* Library API: 10,000 requests a day per project (uploads included), then 429 RESOURCE_EXHAUSTED
  "… limit 'All requests per day' …"; the day ends at midnight Pacific Time.  A concurrent
  batchCreate answers 429 "concurrent write request": that one is only tried again.
* httplib2 (under googleapiclient) is not thread-safe: each thread gets its own connection.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ... import credentials
from ...errors import AuthError, ConfigError, PhotosyncError, SourceError
from ...net import Transient, TokenBucket, retry_after_of, retrying
from ...options import Option
from ..base import endpoints_option, rate_limit_options, retry_options, timeout_option

SCOPE = "https://www.googleapis.com/auth/"
APPENDONLY = SCOPE + "photoslibrary.appendonly"
READ_APPCREATED = SCOPE + "photoslibrary.readonly.appcreateddata"
PICKER = SCOPE + "photospicker.mediaitems.readonly"

DEFAULT_ENDPOINTS = {
    "oauth_auth": "https://accounts.google.com/o/oauth2/auth",
    "oauth_token": "https://oauth2.googleapis.com/token",
    "picker": "https://photospicker.googleapis.com/",
    "library": "https://photoslibrary.googleapis.com/",
    "uploads": "https://photoslibrary.googleapis.com/v1/uploads",
}
#: Google publishes a daily quota only (10,000 Library requests a project a day); 2,000 an hour keeps
#: a long run from spending a day's quota in its first minutes, and the shared budget file keeps
#: several runs (and services on the same OAuth client) under it together
DEFAULT_REQUESTS_PER_HOUR = 2000


class DailyQuotaSpent(PhotosyncError):
    """The project's daily quota is spent: nothing more can be done until it resets (not an
    item's failure: a phase stops using the service and commits what it has)."""


def next_quota_day(now: float | None = None) -> datetime:
    """When Google's daily quotas reset: the next midnight Pacific Time (cloud.google.com/docs/quotas)."""
    from zoneinfo import ZoneInfo

    pacific = ZoneInfo("America/Los_Angeles")
    here = datetime.fromtimestamp(time.time() if now is None else now, pacific)
    return (here + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def read_client_file(path: str) -> dict:
    """The OAuth client file's ``installed`` part, checked: a "Desktop app" client."""
    p = Path(path).expanduser()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"--client-secrets {p}: cannot be read ({e.strerror or e})") from None
    except ValueError:
        raise ConfigError(f"--client-secrets {p}: not JSON (download the client's JSON from Google Cloud "
                          "Console, APIs & Services > Credentials)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--client-secrets {p}: not an OAuth client file")
    if "web" in data and "installed" not in data:
        raise ConfigError(f"--client-secrets {p}: a 'Web application' client; photosync needs an OAuth client "
                          "of type 'Desktop app' (it signs in through a loopback address)")
    inst = data.get("installed")
    if not isinstance(inst, dict) or not inst.get("client_id") or not inst.get("client_secret"):
        raise ConfigError(f"--client-secrets {p}: no installed.client_id and client_secret in it (an OAuth "
                          "client of type 'Desktop app' from Google Cloud Console)")
    return {"installed": {k: v for k, v in inst.items() if isinstance(v, (str, list))}}


class GoogleConfig:
    """The options and secrets shared by Google's connectors (a mixin of each connector class)."""

    #: the scopes the type asks for, nothing more
    scopes: ClassVar[tuple[str, ...]] = ()

    options: ClassVar[tuple[Option, ...] | None] = (
        Option("client_secrets", "The OAuth client file (type 'Desktop app', client_secret_….json from Google Cloud "
                                 "Console); its contents are copied to your credentials folder.", "path",
               secret=True, required=True, metavar="FILE"),
        *rate_limit_options(DEFAULT_REQUESTS_PER_HOUR), *retry_options(8, 1.0), timeout_option(60),
        endpoints_option(tuple(DEFAULT_ENDPOINTS), "Google's URLs (oauth_auth, oauth_token, picker, library, uploads)"),
    )
    login_options: ClassVar[tuple[Option, ...] | None] = (
        Option("no_browser", "Do not open a browser: print the address, and read back the address the browser "
                             "ends at (for a machine reached over SSH).", "bool", default=False),
    )

    @classmethod
    def check_secrets(cls, secrets: dict, existing: dict | None) -> dict:
        given = secrets.get("client_secrets")
        if isinstance(given, str) and given:
            client = read_client_file(given)
            secrets = {**secrets, "client_secrets": client}
            old = (existing or {}).get("client_secrets") or {}
            if existing and (old.get("installed") or {}).get("client_id") != client["installed"]["client_id"]:
                # a sign-in belongs to its client: another client needs a new one
                existing = {k: v for k, v in existing.items() if k not in ("refresh_token", "scopes")}
        return super().check_secrets(secrets, existing)  # type: ignore[misc]


class GoogleClient:
    """One service's connection to Google: credentials, API clients, budget, retries."""

    def __init__(self, name: str, config: dict, env, scopes: tuple[str, ...]):
        self.name = name
        self.config = config
        self.env = env
        self.scopes = scopes
        self.endpoints = {**DEFAULT_ENDPOINTS, **(config.get("endpoints") or {})}
        rate = config.get("rate_limit") or {}
        self.per_hour = float(rate.get("requests_per_hour") or (rate["requests_per_minute"] * 60
                                                                if "requests_per_minute" in rate
                                                                else DEFAULT_REQUESTS_PER_HOUR))
        retry = config.get("retry") or {}
        self.attempts = int(retry.get("attempts", 8))
        self.backoff = float(retry.get("base_seconds", 1.0))
        self.timeout = float(config.get("timeout_seconds", 60))
        self.lock = threading.Lock()
        self.calls = 0
        self._creds = None
        self._apis: dict[str, Any] = {}
        self._local = threading.local()
        self._session = None
        self._bucket: TokenBucket | None = None
        self._warned: set[str] = set()
        self.account: str | None = None

    # -- secrets and sign-in -----------------------------------------------------------------------
    def secrets(self) -> dict:
        data = credentials.load(self.env.ctx, "services", self.name) or {}
        if not isinstance(data.get("client_secrets"), dict):
            raise AuthError(f"no Google OAuth client saved for service {self.name}; run: photosync auth {self.name} "
                            "--client-secrets FILE (a 'Desktop app' client's JSON from Google Cloud Console)")
        return data

    def client_config(self) -> dict:
        inst = dict(self.secrets()["client_secrets"]["installed"])
        inst["auth_uri"] = self.endpoints["oauth_auth"]
        inst["token_uri"] = self.endpoints["oauth_token"]
        inst.setdefault("redirect_uris", ["http://localhost"])
        return {"installed": inst}

    def login(self, ask, no_browser: bool = False) -> str:
        """The installed-app flow; the refresh token is saved (0600) with the client."""
        from google_auth_oauthlib.flow import InstalledAppFlow, WSGITimeoutError
        from oauthlib.oauth2.rfc6749.errors import OAuth2Error

        flow = InstalledAppFlow.from_client_config(self.client_config(), scopes=list(self.scopes))
        try:
            if no_browser or not _has_browser():
                # over SSH or on a machine without a browser: the person opens the address anywhere
                creds = self._paste_flow(flow, ask)
            else:
                creds = flow.run_local_server(host="127.0.0.1", port=0, open_browser=True,
                                              authorization_prompt_message="", success_message=(
                                                  "photosync is signed in; you can close this window."),
                                              access_type="offline", prompt="consent", timeout_seconds=600)
        except OAuth2Error as e:
            raise AuthError(f"Google did not sign in: {e.description or e.error}; run photosync auth {self.name} "
                            "again") from None
        except Warning as e:  # oauthlib: "Scope has changed" when the person unticked a scope
            raise AuthError(f"Google granted less than photosync asks ({e}); run photosync auth {self.name} again "
                            "and leave every box ticked") from None
        except (OSError, ValueError, WSGITimeoutError) as e:
            raise AuthError(f"the sign-in did not finish ({e}); run photosync auth {self.name} again") from None
        granted = set(creds.granted_scopes or creds.scopes or self.scopes)
        if not set(self.scopes) <= granted:
            raise AuthError(f"Google granted less than photosync asks (missing {', '.join(sorted(set(self.scopes) - granted))});"
                            f" run photosync auth {self.name} again and leave every box ticked")
        if not creds.refresh_token:
            raise AuthError("Google gave no refresh token; remove photosync's access at "
                            f"https://myaccount.google.com/permissions and run photosync auth {self.name} again")
        data = self.secrets()
        data.update(refresh_token=creds.refresh_token, scopes=sorted(self.scopes))
        credentials.save(self.env.ctx, "services", self.name, data)
        self._creds = None
        self._apis.clear()
        return "your Google account (Google tells an app with these scopes no account name)"

    def _paste_flow(self, flow, ask):
        from urllib.parse import parse_qs

        # any loopback address will do: nothing listens there, the person copies it from the address bar
        flow.redirect_uri = "http://127.0.0.1:1/"
        url, _ = flow.authorization_url(access_type="offline", prompt="consent")
        answer = ask(
            f"Open this address in a browser (on any device), sign in to Google and allow photosync:\n\n  {url}\n\n"
            "The browser then goes to an address starting with http://127.0.0.1:1/ that does not load; "
            "paste that whole address here").strip()
        if not answer:
            raise AuthError("no address given; nothing was saved")
        query = parse_qs(urlsplit(answer).query)
        if "error" in query:
            raise AuthError(f"Google said {query['error'][0]} (access not allowed); nothing was saved")
        if "code" not in query:
            raise AuthError("that address has no code= in it; paste the whole address the browser went to")
        # oauthlib refuses an http authorization response; the loopback redirect is http by design
        # (google-auth-oauthlib's own run_local_server makes the same substitution)
        flow.fetch_token(authorization_response=answer.replace("http://", "https://", 1))
        return flow.credentials

    def credentials(self):
        if self._creds is None:
            from google.oauth2.credentials import Credentials

            data = self.secrets()
            if not data.get("refresh_token"):
                raise AuthError(f"not signed in to Google; run: photosync auth {self.name}")
            inst = data["client_secrets"]["installed"]
            self._creds = Credentials(None, refresh_token=data["refresh_token"],
                                      token_uri=self.endpoints["oauth_token"], client_id=inst["client_id"],
                                      client_secret=inst["client_secret"], scopes=list(data.get("scopes") or self.scopes))
        return self._creds

    def auth_error(self, e: BaseException) -> PhotosyncError:
        text = str(e)
        if "invalid_grant" in text:
            return AuthError("Google says the sign-in is no longer valid (expired or revoked: a client in "
                             f"'Testing' status loses it after 7 days); run: photosync auth {self.name}")
        if "invalid_client" in text or "unauthorized_client" in text:
            return AuthError(f"Google does not accept the OAuth client ({text}); run: photosync auth {self.name} "
                             "--client-secrets FILE")
        return SourceError(f"Google's sign-in endpoint: {text}")

    # -- budget --------------------------------------------------------------------------------------
    @property
    def bucket(self) -> TokenBucket:
        """The OAuth client's request budget, shared by every run and service on that client (quotas
        are per Cloud project): a file in the user cache."""
        if self._bucket is None:
            from ...context import cache_dir

            cid = self.secrets()["client_secrets"]["installed"]["client_id"]
            digest = hashlib.sha1(cid.encode()).hexdigest()[:16]
            self._bucket = TokenBucket(self.per_hour, state_path=str(cache_dir() / "google-budget" / f"{digest}.json"))
        return self._bucket

    def take(self) -> None:
        self.bucket.take()
        with self.lock:
            self.calls += 1

    # -- API clients ---------------------------------------------------------------------------------
    def api(self, which: str):
        """The googleapiclient resource for "library" or "picker", built from the shipped document."""
        if which not in self._apis:
            from googleapiclient.discovery import build_from_document

            from . import discovery_document

            doc = discovery_document("photoslibrary.v1" if which == "library" else "photospicker.v1")
            root = self.endpoints[which]
            self._apis[which] = build_from_document(doc, credentials=self.credentials(),
                                                    client_options={"api_endpoint": root if root.endswith("/")
                                                                    else root + "/"})
        return self._apis[which]

    def _http(self):
        http = getattr(self._local, "http", None)
        if http is None:
            import google_auth_httplib2
            import httplib2

            http = google_auth_httplib2.AuthorizedHttp(self.credentials(), http=httplib2.Http(timeout=self.timeout))
            self._local.http = http
        return http

    def session(self):
        """google-auth's AuthorizedSession (requests), for raw uploads and Picker downloads."""
        if self._session is None:
            with self.lock:
                if self._session is None:
                    from google.auth.transport.requests import AuthorizedSession

                    self._session = AuthorizedSession(self.credentials())
        return self._session

    def execute(self, what: str, make_request, attempts: int | None = None):
        """One API call (``make_request()`` gives the googleapiclient request), within the budget,
        tried again on 429/5xx and dropped connections; a spent daily quota raises DailyQuotaSpent."""
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError

        def once():
            self.take()
            try:
                return make_request().execute(http=self._http(), num_retries=0)
            except HttpError as e:
                raise self.http_error(e, what) from None
            except RefreshError as e:
                raise self.auth_error(e) from None
            except (TransportError, OSError) as e:
                raise Transient(f"{type(e).__name__}: {e}") from None

        try:
            return retrying(once, transient=lambda e: isinstance(e, Transient), attempts=attempts or self.attempts,
                            base=self.backoff, on_retry=self.retry_note(what), retry_after=retry_after_of)
        except Transient as e:
            raise SourceError(f"Google {what}: {e} after {attempts or self.attempts} attempts; try again later") from None

    def http_error(self, e, what: str) -> Exception:
        status = int(getattr(e.resp, "status", 0) or 0)
        try:
            err = json.loads(e.content.decode("utf-8", "replace")).get("error") or {}
        except (ValueError, AttributeError):
            err = {}
        message = str(err.get("message") or getattr(e, "reason", "") or "")
        wait = None
        try:
            from ...net import retry_after_seconds

            wait = retry_after_seconds(e.resp.get("retry-after"))
        except (AttributeError, TypeError):
            pass
        return self.classify(status, str(err.get("status") or ""), message, what, wait)

    def classify(self, status: int, code: str, message: str, what: str, wait: float | None = None) -> Exception:
        if status == 429 or code == "RESOURCE_EXHAUSTED":
            if "per day" in message.lower():
                when = next_quota_day()
                raise DailyQuotaSpent(
                    f"Google's daily quota for this OAuth client's project is spent ({message}); what is done is "
                    f"kept. It resets at midnight Pacific Time ({when.astimezone().strftime('%Y-%m-%d %H:%M %Z')}"
                    "): run the same command again after that")
            return Transient(f"HTTP 429 {message}".strip(), wait)
        if status >= 500:
            return Transient(f"HTTP {status} {message}".strip(), wait)
        if status == 401:
            return AuthError(f"Google refused the sign-in ({message}); run: photosync auth {self.name}")
        if status == 403 and "scope" in message.lower():
            return AuthError(f"the sign-in does not allow {what} ({message}); run: photosync auth {self.name}")
        return SourceError(f"Google {what}: HTTP {status} {code} {message}".replace("  ", " ").strip())

    def retry_note(self, what: str):
        def note(e: BaseException, delay: float) -> None:
            key = f"retry:{what}"
            if key not in self._warned:
                self._warned.add(key)
                self.env.report.info(f"service {self.name}: {what}: {e}; trying again in {delay:.1f} s")
        return note

    # -- plain requests (uploads, downloads) ------------------------------------------------------------
    def request(self, what: str, method: str, url: str, *, budget: bool = True, **kw):
        """A plain authorized request (requests), tried again like ``execute``; the response."""
        import requests
        from google.auth.exceptions import RefreshError

        def once():
            if budget:
                self.take()
            try:
                r = self.session().request(method, url, timeout=self.timeout, **kw)
            except RefreshError as e:
                raise self.auth_error(e) from None
            except requests.RequestException as e:
                raise Transient(f"{type(e).__name__}") from None
            if r.status_code >= 400:
                try:
                    err = r.json().get("error") or {}
                except ValueError:
                    err = {}
                from ...net import retry_after_seconds

                raise self.classify(r.status_code, str(err.get("status") or ""), str(err.get("message") or r.reason),
                                    what, retry_after_seconds(r.headers.get("Retry-After")))
            return r

        try:
            return retrying(once, transient=lambda e: isinstance(e, Transient), attempts=self.attempts,
                            base=self.backoff, on_retry=self.retry_note(what), retry_after=retry_after_of)
        except Transient as e:
            raise SourceError(f"Google {what}: {e} after {self.attempts} attempts; try again later") from None

    def download(self, url: str):
        """The file at ``url`` in a temporary file (net.download with the signed-in session)."""
        from google.auth.exceptions import RefreshError

        from ...net import download

        try:
            return download(self.session(), url, attempts=self.attempts, base=self.backoff, timeout=self.timeout,
                            on_retry=self.retry_note("download"))
        except RefreshError as e:
            raise self.auth_error(e) from None


def _has_browser() -> bool:
    import webbrowser

    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True
