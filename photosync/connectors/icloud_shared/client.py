"""The wire of an iCloud shared album: the public web API behind ``icloud.com/sharedalbum``.

Facts this relies on (../shared/SERVICES.md "Apple iCloud"; seed 000; icloud-biff PROTOCOL.md;
ghostops/ICloud-Shared-Album):

* No sign-in. ``POST https://pNN-sharedstreams.icloud.com/{token}/sharedstreams/webstream`` with
  ``{"streamCtag": null}``; NN from the token (base62 of ``token[1]`` when it starts with ``A``, else
  of ``token[1:3]``). Since 2024 the first call may answer HTTP 330 with the album's host in the JSON
  field ``X-Apple-MMe-Host``: the call is made again there (and the host remembered).
* ``webasseturls`` with ``{"photoGuids": [...]}`` (at most 25 a call) answers
  ``items{checksum: {url_location, url_path, url_expiry}}``; the file is at
  ``https://`` + url_location + url_path until url_expiry (about an hour).
* Every number comes as a string.

``--endpoint sharedstreams=scheme://host[:port]`` stands for every ``pNN-sharedstreams.icloud.com``:
the real host name becomes the first path segment there, and a 330's host is reached the same way
(tests/fakes/icloud_shared/README.md). Faults (429, 5xx, dropped connections) are retried with
exponential backoff and jitter (net.retrying), then reported as a SourceError naming the album's host.
"""

from __future__ import annotations

import functools
import re
import threading
from datetime import datetime, timezone
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from ...errors import ConfigError, SourceError
from ...net import Transient, download, retry_after_of, retry_after_seconds, retrying, transient_network_error

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: the hosts a 330 may name (anything else is refused: a redirect never leaves Apple's shared-stream hosts)
HOST = re.compile(r"^p\d{1,3}-sharedstreams\.icloud\.com$", re.I)
TOKEN = re.compile(r"^[A-Za-z0-9]{10,64}$")
#: the most photoGuids one webasseturls call takes (ghostops index.ts chunk(photoGuids, 25);
#: SERVICES.md "batches of about 25")
MAX_GUIDS = 25
#: a 330 sends the call to another host; more than this many in a row is a loop
MAX_REDIRECTS = 3
#: Apple's reference date (NSDate: seconds since 2001-01-01 UTC; seed 000 "Apple epoch")
APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=timezone.utc)


def token_of(value: str) -> str:
    """The album's token from its address (``https://www.icloud.com/sharedalbum/#TOKEN``, with or
    without the ``#``, a trailing ``;name`` the app adds) or from the token alone."""
    text = (value or "").strip()
    if "://" in text or text.startswith("www.") or "/sharedalbum" in text:
        parts = urlsplit(text if "://" in text else "https://" + text)
        if parts.netloc and not parts.netloc.lower().endswith("icloud.com"):
            raise ConfigError(f"--url {value}: not an iCloud shared album address (expected "
                              "https://www.icloud.com/sharedalbum/#TOKEN)")
        text = parts.fragment or parts.path.rstrip("/").rsplit("/", 1)[-1]
        if text.lower() == "sharedalbum":
            text = ""
    text = unquote(text).split(";", 1)[0].lstrip("#").strip()
    if not TOKEN.match(text) or text[0] not in BASE62 or (text[0] != "A" and not all(c in BASE62 for c in text[1:3])):
        raise ConfigError(f"--url {value}: no shared album token found (expected "
                          "https://www.icloud.com/sharedalbum/#TOKEN or the token alone)")
    return text


def partition_of(token: str) -> int:
    digits = token[1] if token[0] == "A" else token[1:3]
    n = 0
    for ch in digits:
        n = n * 62 + BASE62.index(ch)
    return n


def host_of(token: str) -> str:
    return f"p{partition_of(token):02d}-sharedstreams.icloud.com"


def number(value: Any) -> int | None:
    """A number of this API (a string, sometimes a number); None when absent or not one."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def parse_date(value: Any) -> datetime | None:
    """``dateCreated`` / ``batchDateCreated`` in either form the API sends (seed 000): ISO-8601
    (``2016-11-03T12:49:49Z``) or Apple-epoch seconds (since 2001-01-01 UTC, a digit string)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip())):
        try:
            from datetime import timedelta

            return APPLE_EPOCH + timedelta(seconds=float(value))
        except (OverflowError, ValueError):
            return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def iso_utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class SharedAlbumClient:
    """One album's calls: the stream, the download addresses, the downloads. Thread-safe (each
    thread its own ``requests.Session``); ``calls`` counts the calls made to the album's hosts."""

    def __init__(self, token: str, *, endpoint: str | None = None, host: str | None = None, attempts: int = 6,
                 backoff: float = 1.0, timeout: float = 60.0):
        self.token = token
        self.endpoint = (endpoint or "").rstrip("/") or None
        #: the host the album answers on (a 330 moves it)
        self.host = host if host and HOST.match(host) else host_of(token)
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.calls = 0
        self.redirects = 0
        self._local = threading.local()
        self._lock = threading.Lock()

    @property
    def session(self):
        s = getattr(self._local, "session", None)
        if s is None:
            import requests

            s = self._local.session = requests.Session()
        return s

    def url(self, host: str, call: str) -> str:
        base = f"{self.endpoint}/{host}" if self.endpoint else f"https://{host}"
        return f"{base}/{self.token}/sharedstreams/{call}"

    def _post_once(self, host: str, call: str, body: dict):
        import requests

        with self._lock:
            self.calls += 1
        try:
            r = self.session.post(self.url(host, call), json=body, timeout=self.timeout,
                                  headers={"Content-Type": "text/plain", "Origin": "https://www.icloud.com"})
        except requests.RequestException:
            raise
        if r.status_code == 429 or r.status_code >= 500:
            raise Transient(f"HTTP {r.status_code} from {host}", retry_after_seconds(r.headers.get("Retry-After")))
        return r

    def post(self, call: str, body: dict) -> dict:
        """One call, following 330s to the host the answer names; its JSON answer."""
        import requests

        host = self.host
        for _ in range(MAX_REDIRECTS + 1):
            try:
                r = retrying(functools.partial(self._post_once, host, call, body), transient=transient_network_error,
                             attempts=self.attempts, base=self.backoff, retry_after=retry_after_of)
            except Transient as e:
                raise SourceError(f"iCloud keeps failing ({e}) after {self.attempts} attempts; "
                                  "nothing was changed, the next run tries again") from None
            except requests.RequestException as e:
                raise SourceError(f"cannot reach {host} after {self.attempts} attempts ({type(e).__name__})") from None
            if r.status_code == 330:
                try:
                    named = (r.json() or {}).get("X-Apple-MMe-Host") or r.headers.get("X-Apple-MMe-Host")
                except ValueError:
                    named = r.headers.get("X-Apple-MMe-Host")
                if not named or not HOST.match(str(named)):
                    raise SourceError(f"{host} redirected the album to {named!r}, which is not an iCloud "
                                      "shared-stream host; not followed")
                host = str(named).lower()
                self.redirects += 1
                continue
            if r.status_code == 404:
                raise SourceError("iCloud does not know this shared album (HTTP 404): it was deleted, or its "
                                  "public website was turned off; nothing was marked missing")
            if r.status_code != 200:
                raise SourceError(f"iCloud refused the call {call} (HTTP {r.status_code} from {host})")
            try:
                doc = r.json()
            except ValueError:
                raise SourceError(f"iCloud's answer to {call} is not JSON (from {host})") from None
            if not isinstance(doc, dict):
                raise SourceError(f"iCloud's answer to {call} is not a JSON object (from {host})")
            self.host = host
            return doc
        raise SourceError(f"iCloud redirected the album more than {MAX_REDIRECTS} times in a row; stopped")

    def webstream(self) -> dict:
        # always {"streamCtag": null}: what Apple answers when the ctag sent is the current one is not
        # documented (the fake answers no photos, which must never read as "all removed"); the answer's
        # ctag is compared with the one kept instead (tests/fakes/icloud_shared/README.md "The ctag")
        doc = self.post("webstream", {"streamCtag": None})
        if not isinstance(doc.get("photos", []), list):
            raise SourceError("iCloud's webstream answer has no list of photos")
        return doc

    def asset_urls(self, guids: list[str]) -> dict[str, tuple[str, float]]:
        """checksum -> (download address, unix time it expires) for every derivative of ``guids``
        (at most MAX_GUIDS; a guid no longer in the album is left out by iCloud)."""
        if len(guids) > MAX_GUIDS:
            raise ValueError(f"at most {MAX_GUIDS} photoGuids a call")
        doc = self.post("webasseturls", {"photoGuids": list(guids)})
        locations = doc.get("locations") or {}
        out: dict[str, tuple[str, float]] = {}
        for checksum, item in (doc.get("items") or {}).items():
            if not isinstance(item, dict) or not item.get("url_location") or not item.get("url_path"):
                continue
            loc = str(item["url_location"])
            scheme = str((locations.get(loc) or {}).get("scheme") or "https")
            if scheme not in ("https", "http"):
                scheme = "https"
            expiry = parse_date(item.get("url_expiry"))
            # no stated expiry: the captures say about an hour; assume less to be safe
            expires = expiry.timestamp() if expiry is not None else _now() + 1800
            out[str(checksum)] = (f"{scheme}://{loc}{item['url_path']}", expires)
        return out

    def download(self, url: str) -> IO[bytes]:
        return download(self.session, url, attempts=self.attempts, base=self.backoff, timeout=self.timeout)


def _now() -> float:
    import time

    return time.time()
