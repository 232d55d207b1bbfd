"""Amazon Photos' wire: the Amazon Drive v1 calls the web app makes, with requests.

No public API exists, so this is a thin client of our own (SERVICES.md "Amazon Photos",
seed 000 ``AmazonClient``; trevorhobenshield/amazon_photos read as a reference, not used: it
pulls pandas and a browser-cookie reader in and keeps no retry of its own). Facts it relies on:

* base ``https://www.amazon.{tld}/drive/v1`` (``drive``), uploads to
  ``https://content-na.drive.amazonaws.com/cdproxy/nodes`` (``content``; content-eu for EU);
* every call carries the cookies ``session-id``, ``ubid-…``, ``at-…`` and the header
  ``x-amzn-sessionid`` (= session-id); both hosts get the cookies, as amazon_photos sends them;
* a 401 means ``at-…`` expired: it is refreshed once with ``sess-at-…``/``sst-…`` from
  ``GET https://www.amazon.{tld}/photos/auth/token`` (the only trace of an endpoint is
  amazon_photos' ``__at()``: an assumption, so what is relied on is "try once, then ask the
  person to export fresh cookies"); the new cookie is saved (0600);
* listings are ``{"count", "data"}``, at most 200 a page, and ``offset + limit ≤ 9999``;
* 503 bursts (Amazon's answer to datacenter addresses), other 5xx, 429 and dropped connections
  are retried with exponential backoff and jitter (net.retrying), then a clear error.
"""

from __future__ import annotations

import threading
from http.cookiejar import DefaultCookiePolicy
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from ... import credentials
from ...errors import AuthError, SourceError
from ...net import Transient, retry_after_of, retry_after_seconds, retrying, transient_network_error
from ..base import ConnectorContext
from . import cookies as amazon_cookies

#: one listing page (amazon_photos MAX_LIMIT = 200: a larger limit is cut to it)
PAGE = 200
#: offset + limit of a listing may not pass this ("Offset + limit cannot be greater than 9999")
MAX_NODES = 9999
#: ids a trash request may carry (amazon_photos MAX_TRASH_BATCH = 50; seed 000 "batched, max 50")
TRASH_BATCH = 50
#: the query every drive call of the web app carries (seed 000 "Base params")
BASE_PARAMS = {"asset": "ALL", "tempLink": "false", "resourceVersion": "V2", "ContentType": "JSON"}


def default_endpoints(tld: str) -> dict[str, str]:
    region = "eu" if tld in amazon_cookies.EU else "na"
    return {"drive": f"https://www.amazon.{tld}/drive/v1", "content": f"https://content-{region}.drive.amazonaws.com"}


class AmazonClient:
    def __init__(self, name: str, config: dict, env: ConnectorContext):
        self.name = name
        self.config = config
        self.env = env
        retry = config.get("retry") or {}
        # 8 tries 1 s apart doubling: a 503 burst of a minute is waited out, a refusal of every
        # request (a datacenter address) fails in about four minutes with a clear message
        self.attempts = int(retry.get("attempts", 8))
        self.backoff = float(retry.get("base_seconds", 1.0))
        self.timeout = float(config.get("timeout_seconds", 60))
        self._session = None
        self._cookies: dict[str, str] | None = None
        self.tld = "com"
        self.suffix = "main"
        #: the account the cookies are (its ownerId), saved with them by a sign-in
        self.account: str | None = None
        self._lock = threading.Lock()
        #: requests sent (attempts included), for the bench and the tests' request budget
        self.requests = 0

    # -- sign-in -----------------------------------------------------------------------------
    def _load(self) -> None:
        if self._cookies is not None:
            return
        saved = credentials.load(self.env.ctx, "services", self.name) or {}
        if not saved.get("cookies"):
            raise AuthError(f"service {self.name} is not signed in to Amazon Photos; export the cookies of "
                            f"amazon.com/photos from your browser and run: photosync auth {self.name} --cookies FILE")
        expected = self.config.get("account")
        if expected and saved.get("account") and saved["account"] != expected:
            raise AuthError(f"the saved Amazon sign-in is for account {saved['account']}, but service {self.name} "
                            f"of this library is account {expected} (another library's service of the same name "
                            f"signed in?); run: photosync auth {self.name} --cookies FILE")
        self._cookies = dict(saved["cookies"])
        self.tld = saved.get("tld", "com")
        self.suffix = saved.get("suffix", "main")
        self.account = saved.get("account")

    def use(self, cookies: dict[str, str], tld: str, suffix: str) -> None:
        """Sign in with these cookies (auth), not yet saved."""
        self._cookies, self.tld, self.suffix, self.account = dict(cookies), tld, suffix, None

    def save(self) -> None:
        assert self._cookies is not None
        credentials.save(self.env.ctx, "services", self.name,
                         {"cookies": self._cookies, "tld": self.tld, "suffix": self.suffix, "account": self.account})

    @property
    def endpoints(self) -> dict[str, str]:
        self._load()
        return {**default_endpoints(self.tld), **(self.config.get("endpoints") or {})}

    @property
    def session(self):
        import requests

        if self._session is None:
            s = requests.Session()
            # the cookies go in our own header to both hosts (a browser would not send amazon.com's
            # cookies to amazonaws.com; the web API accepts them there, as amazon_photos sends them):
            # requests' jar must not add the ones a response sets a second time
            s.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            s.headers["User-Agent"] = "photosync (+https://github.com/photosync)"
            self._session = s
        return self._session

    def _headers(self) -> dict[str, str]:
        self._load()
        assert self._cookies is not None
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self._cookies.items()),
                "x-amzn-sessionid": self._cookies.get("session-id", "")}

    def _refresh(self) -> bool:
        """A new ``at-…`` from the session cookies; False when the sign-in is gone."""
        drive = self.endpoints["drive"]
        url = drive[: -len("/drive/v1")] + "/photos/auth/token" if drive.endswith("/drive/v1") else \
            drive.rstrip("/") + "/../../photos/auth/token"
        try:
            r = self.session.get(url, headers=self._headers(), timeout=self.timeout)
        except OSError:
            return False
        finally:
            self.requests += 1
        token = None
        if r.status_code == 200:
            try:
                token = (r.json() or {}).get("access_token")
            except ValueError:
                token = None
            token = r.cookies.get(f"at-{self.suffix}") or token
        if not token:
            return False
        assert self._cookies is not None
        self._cookies[f"at-{self.suffix}"] = token
        self.save()  # the next run starts with the working cookie
        return True

    # -- one call ----------------------------------------------------------------------------
    def call(self, method: str, where: str, path: str, *, params: dict | None = None, json: Any = None,
             body: BinaryIO | None = None, accept: tuple[int, ...] = ()) -> Any:
        """One call to ``where`` (drive or content) ``path``: the answer's JSON; a status in
        ``accept`` (409) is returned as (status, JSON) instead of raising."""
        base = self.endpoints[where].rstrip("/")
        url = base + path
        query = {**(BASE_PARAMS if where == "drive" else {}), **(params or {})}
        host = urlsplit(base).netloc
        refreshed = [False]

        def once():
            if body is not None:
                body.seek(0)
            self.requests += 1
            headers = self._headers()
            r = self.session.request(method, url, params=query, json=json, data=body, headers=headers,
                                     timeout=self.timeout)
            if r.status_code == 401:
                with self._lock:
                    if self._headers()["Cookie"] != headers["Cookie"]:
                        # another thread renewed the cookie meanwhile: try again with it, no second renewal
                        raise Transient("the session was refreshed", retry_after=0.0)
                    if not refreshed[0] and self._refresh():
                        refreshed[0] = True
                        raise Transient("the session was refreshed", retry_after=0.0)
                raise AuthError(f"Amazon refused the saved sign-in of service {self.name} (HTTP 401: it has "
                                f"expired and could not be renewed); sign in to amazon.{self.tld}/photos in your "
                                f"browser, export its cookies and run: photosync auth {self.name} --cookies FILE")
            if r.status_code == 429 or r.status_code >= 500:
                raise Transient(f"HTTP {r.status_code} from {host}"
                                + (" (Amazon answers 503 to datacenter addresses: run photosync from a home "
                                   "network)" if r.status_code == 503 else ""), retry_after_seconds(r.headers.get("Retry-After")))
            if r.status_code in accept:
                return r.status_code, _json(r)
            if r.status_code >= 400:
                answer = _json(r)
                why = answer.get("message") if isinstance(answer, dict) else None
                raise SourceError(f"Amazon Photos answered HTTP {r.status_code} to {method} {path}"
                                  + (f": {why}" if why else ""))
            return (r.status_code, _json(r)) if accept else _json(r)

        try:
            return retrying(once, transient=transient_network_error, attempts=self.attempts, base=self.backoff,
                            retry_after=retry_after_of)
        except Transient as e:
            raise SourceError(f"Amazon Photos failed after {self.attempts} attempts: {e}") from None
        except OSError as e:  # requests' connection errors
            raise SourceError(f"cannot reach {host} after {self.attempts} attempts ({type(e).__name__})") from None

    # -- the calls -----------------------------------------------------------------------------
    def pages(self, path: str, params: dict | None = None) -> tuple[list[dict], bool]:
        """Every node of a listing (200 a page) up to the 9999 cap; and whether it is whole."""
        out: list[dict] = []
        offset = 0
        while True:
            limit = min(PAGE, MAX_NODES - offset)
            page = self.call("GET", "drive", path, params={**(params or {}), "limit": limit, "offset": offset})
            data = page.get("data") or []
            out.extend(data)
            count = int(page.get("count") or 0)
            offset += len(data)
            if not data or offset >= count:
                return out, True
            if offset >= MAX_NODES:
                return out, False

    def root_id(self) -> str:
        data = self.call("GET", "drive", "/nodes", params={"filters": "isRoot:true"}).get("data") or []
        if not data:
            raise SourceError("Amazon Photos gives no root folder")
        return data[0]["id"]

    def owner(self) -> str:
        data = self.call("GET", "drive", "/nodes", params={"filters": "isRoot:true"}).get("data") or []
        return str(data[0].get("ownerId") or "") if data else ""

    def albums(self) -> list[dict]:
        # every album, compared by name here: a name: filter breaks on multi-word names (seed 000)
        nodes, _whole = self.pages("/nodes", {"filters": "kind:VISUAL_COLLECTION",
                                              "sort": "['createdDate ASC']"})
        return nodes

    def create_album(self, name: str) -> dict:
        return self.call("POST", "drive", "/nodes", json={"kind": "VISUAL_COLLECTION", "name": name})

    def members(self, album_id: str) -> tuple[dict[str, str], bool]:
        """node id -> status of the album's members (trashed ones too), and whether the list is whole."""
        nodes, whole = self.pages(f"/nodes/{album_id}/children")
        return {n["id"]: n.get("status", "AVAILABLE") for n in nodes}, whole

    def node(self, node_id: str) -> dict:
        return self.call("GET", "drive", f"/nodes/{node_id}")

    def change_album(self, album_id: str, op: str, ids: list[str]) -> None:
        for i in range(0, len(ids), TRASH_BATCH):
            self.call("PATCH", "drive", f"/nodes/{album_id}/children", json={"op": op, "value": ids[i:i + TRASH_BATCH]})

    def trash(self, ids: list[str], op: str = "add") -> None:
        """Move nodes to Amazon's trash (op add) or back (op remove), at most 50 a request. Never purged."""
        for i in range(0, len(ids), TRASH_BATCH):
            self.call("PATCH", "drive", "/trash", json={"op": op, "value": ids[i:i + TRASH_BATCH],
                                                        "recurse": "true", "conflictResolution": "RENAME"})

    def upload(self, name: str, parent: str, body: BinaryIO) -> tuple[int, dict]:
        """(201, the node) or (409, the answer naming the node already there in info.nodeId)."""
        return self.call("POST", "content", "/cdproxy/nodes", params={"name": name, "kind": "FILE",
                                                                      "parentNodeId": parent},
                         body=body, accept=(409,))


def _json(r) -> Any:
    try:
        return r.json()
    except ValueError:
        return {}
