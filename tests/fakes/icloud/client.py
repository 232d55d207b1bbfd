"""Pointing the real pyicloud at other hosts (the fake, or a proxy).

pyicloud (2026.x) hard-codes its hosts in ``PyiCloudService._setup_endpoints()``, which
``__init__`` calls before anything else (SERVICES.md "Apple iCloud"); there is no argument
or variable for them. A subclass that overrides that one method is the whole change: every
other URL pyicloud uses comes from these three bases or from the ``webservices`` map that
accountLogin answers (the fake answers with its own https URLs).

The connector author can lift ``service_class`` as it is (it is library code in all but
location): endpoint names ``idmsa`` (stands for https://idmsa.apple.com), ``setup``
(https://setup.icloud.com, or .com.cn for China mainland) and ``home``
(https://www.icloud.com, .com.cn). A missing name keeps pyicloud's own host.
"""

from __future__ import annotations

from pyicloud import PyiCloudService


def service_class(endpoints: dict[str, str] | None) -> type[PyiCloudService]:
    """A PyiCloudService subclass whose hosts are ``endpoints`` (see the module docstring)."""
    endpoints = {k: v.rstrip("/") for k, v in (endpoints or {}).items() if v}

    class EndpointPyiCloudService(PyiCloudService):
        def _setup_endpoints(self) -> None:
            super()._setup_endpoints()          # pyicloud's hosts (China mainland included)
            if "idmsa" in endpoints:
                self._idmsa_endpoint = endpoints["idmsa"]
                self._auth_endpoint = f"{self._idmsa_endpoint}/appleauth/auth"
            if "home" in endpoints:
                self._home_endpoint = endpoints["home"]
            if "setup" in endpoints:
                self._setup_endpoint = f"{endpoints['setup']}/setup/ws/1"

    EndpointPyiCloudService.__name__ = "EndpointPyiCloudService"
    return EndpointPyiCloudService
