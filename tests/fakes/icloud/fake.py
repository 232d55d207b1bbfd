"""FakeICloud: the iCloud hosts pyicloud talks to for sign-in and Photos, as one HTTPS
server on loopback, for tests that drive the real pyicloud (unmodified but for the
base URLs: see client.py).

Hosts served (each as the first path segment, see README.md "Reaching the hosts"):
``idmsa.apple.com`` (Apple ID sign-in), ``setup.icloud.com`` / ``setup.icloud.com.cn``
(accountLogin, validate, web access and PCS), ``www.icloud.com`` (only named in headers),
``pNN-ckdatabasews.icloud.com`` (CloudKit), ``cvws.icloud-content.com`` (downloads).
"""

from __future__ import annotations

import re
import threading
import time

from ..server import FakeServer, Request, Response
from .auth import AccountState, AuthMixin
from .cloudkit import CloudKitMixin

_CK_HOST = re.compile(r"^p\d+-(ckdatabasews|photosupload|uploadimagews|sharedstreams|fmipweb)\.icloud\.com$", re.I)
HOSTS = {"idmsa.apple.com", "setup.icloud.com", "setup.icloud.com.cn", "www.icloud.com", "www.icloud.com.cn",
         "cvws.icloud-content.com"}


class FakeICloud(AuthMixin, CloudKitMixin, FakeServer):
    """One Apple ID with an iCloud Photos library. See README.md for the API and sources."""

    name = "fake-icloud"

    def __init__(self, apple_id: str = "person@example.com", password: str = "correct horse battery staple",
                 partition: int = 63, **account):
        FakeServer.__init__(self, tls=True)   # pyicloud accepts only https webservice URLs
        self.account = AccountState(apple_id=apple_id, password=password, **account)
        self.partition = partition
        self._offset = 0.0
        self._clock_lock = threading.Lock()
        self._auth_init()
        self._ck_init()

    # -- time -------------------------------------------------------------------------------------------
    def time(self) -> float:
        with self._clock_lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on (download links expire by it)."""
        with self._clock_lock:
            self._offset += seconds

    # -- account switches ---------------------------------------------------------------------------------
    def set_two_factor_code(self, code: str) -> None:
        self.account.two_factor_code = code

    def set_adp(self, on: bool = True, web_access: bool | None = None, device_consented: bool | None = None) -> None:
        """Advanced Data Protection on/off; ``web_access`` is "Access iCloud Data on the Web"."""
        with self.lock:
            self.account.adp = on
            if web_access is not None:
                self.account.web_access = web_access
            if device_consented is not None:
                self.account.device_consented = device_consented

    def set_web_access(self, allowed: bool) -> None:
        with self.lock:
            self.account.web_access = allowed

    # -- endpoints ------------------------------------------------------------------------------------------
    @property
    def endpoints(self) -> dict[str, str]:
        """Base URLs standing for https://idmsa.apple.com, https://setup.icloud.com and
        https://www.icloud.com (the hosts PyiCloudService._setup_endpoints() hard-codes)."""
        return {"idmsa": self.host_url("idmsa.apple.com"), "setup": self.host_url("setup.icloud.com"),
                "home": self.host_url("www.icloud.com")}

    @property
    def endpoints_china(self) -> dict[str, str]:
        """The same for an account in China mainland (.com.cn hosts; idmsa is shared)."""
        return {"idmsa": self.host_url("idmsa.apple.com"), "setup": self.host_url("setup.icloud.com.cn"),
                "home": self.host_url("www.icloud.com.cn")}

    # -- routing --------------------------------------------------------------------------------------------
    def known_host(self, name: str) -> bool:
        n = name.lower()
        return n in HOSTS or bool(_CK_HOST.match(n))

    def endpoint_of(self, req: Request) -> str:
        """Counter names: "signin/init", "accountLogin", "records/query", "download" ..."""
        p = req.path.rstrip("/")
        h = req.host
        if h == "idmsa.apple.com":
            return p.replace("/appleauth/auth", "", 1).lstrip("/") or "auth-options"
        if h.startswith("setup.icloud.com"):
            return p.replace("/setup/ws/1", "", 1).lstrip("/")
        if h == "cvws.icloud-content.com":
            return "download"
        if _CK_HOST.match(h or ""):
            parts = p.split("/")
            return "/".join(parts[6:]) if len(parts) > 6 else p
        return p

    def fault_response(self, status: int, headers: list) -> Response:
        # Apple refuses service with a bare 503 (SERVICES.md: "Apple answers 503 when it refuses
        # service"); an HTML body, not JSON, so pyicloud reports the status code
        return Response(status, b"<html><head><title>503 Service Temporarily Unavailable</title></head></html>",
                        "text/html", list(headers))

    def handle(self, req: Request) -> Response:
        h = req.host
        if not h:
            return Response.text("this fake serves several hosts: put the host first in the path, "
                                 "e.g. /setup.icloud.com/setup/ws/1/accountLogin", 421)
        if h == "idmsa.apple.com":
            return self._idmsa(req)
        if h.startswith("setup.icloud.com"):
            if h.endswith(".cn") != (self.account.country == "CHN"):
                # an account is served by its own region's hosts only (the fake's reading of
                # pyicloud's china_mainland switch)
                return Response.json({"success": False, "error": "Wrong region"}, status=421)
            return self._setup(req)
        if h == "cvws.icloud-content.com":
            return self._content(req)
        if h.endswith("-ckdatabasews.icloud.com"):
            if h != f"p{self.partition}-ckdatabasews.icloud.com":
                return Response.text("Misdirected Request", 421)
            return self._cloudkit(req)
        return Response.text("Not Found", 404)
