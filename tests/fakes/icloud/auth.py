"""Apple ID sign-in (idmsa.apple.com/appleauth/auth) and the iCloud setup service
(setup.icloud.com/setup/ws/1) as the fake answers them: SRP-6a with Apple's s2k
password derivation, two-factor codes, session trust, accountLogin/validate, web
access and PCS (Advanced Data Protection). Sources in README.md."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field

import srp

from ..server import Request, Response, cookie_header

# RFC 5054's 2048-bit group, the one Apple's SRP uses (pyicloud: ng_type=srp.NG_2048)
_N = int(
    "AC6BDB41324A9A9BF166DE5E1389582FAF72B6651987EE07FC3192943DB56050A37329CBB4A099ED8193E0757767A13DD52312AB4B03310D"
    "CD7F48A9DA04FD50E8083969EDB767B0CF6095179A163AB3661A05FBD5FAAAE82918A9962F0B93B855F97993EC975EEAA80D740ADBF4FF74"
    "7359D041D5C33EA71D281E446B14773BCA97B43A23FB801676BD207A436C6481F1D2B9078717461A5B9D32E688F87748544523B524B0D57D"
    "5EA77A2775D2ECFA032CFBDBF52FB3786160279004E57AE6AF874E7303CE53299CCC041C7BC308D82A5698F3A8D0C38271AE35F8E9DBFBB6"
    "94B5C803D89F7AE435DE236D525F54759B65E372FCD68EF20FA7111F9E4AFF73", 16)
_G = 2

#: cookie lifetimes: the web session about 60 days, the two-factor trust 90 days (icloudpd's
#: docker logs: "Web cookie expires ... Two factor authentication cookie expires ... Days
#: remaining until expiration: 90")
WEB_COOKIE_DAYS = 60
TRUST_COOKIE_DAYS = 90


def _b(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")


def derive_password(password: str, salt: bytes, iterations: int, protocol: str) -> bytes:
    """Apple's s2k / s2k_fo: PBKDF2-HMAC-SHA256 over SHA-256 of the password (s2k_fo: its hex
    digits), 32 bytes (pyicloud srp_password.py)."""
    digest = hashlib.sha256(password.encode("utf-8")).digest()
    if protocol == "s2k_fo":
        digest = digest.hex().encode()
    return hashlib.pbkdf2_hmac("sha256", digest, salt, iterations, 32)


def verifier_for(password_key: bytes, salt: bytes) -> bytes:
    """v = g^x mod N with x = H(salt | H(":" | p)): SRP-6a without the user name in x
    (pyicloud calls srp.no_username_in_x())."""
    x = int.from_bytes(hashlib.sha256(salt + hashlib.sha256(b":" + password_key).digest()).digest(), "big")
    return _b(pow(_G, x, _N))


@dataclass
class TwoFactorSession:
    """One sign-in between signin/complete and the trust call (X-Apple-ID-Session-Id)."""
    session_id: str
    scnt: str
    verified: bool = False
    sms_requested: bool = False


@dataclass
class WebSession:
    token: str            # X-APPLE-WEBAUTH-TOKEN value
    trusted: bool
    pcs: bool = False     # PCS cookies handed out (ADP accounts)
    expired: bool = False


@dataclass
class AccountState:
    apple_id: str
    password: str
    dsid: str = field(default_factory=lambda: str(10_000_000_000 + secrets.randbelow(9 * 10**9)))
    first_name: str = "Test"
    last_name: str = "Person"
    country: str = "USA"
    two_factor_code: str = "123456"
    #: how the code reaches the person: "device" (a trusted device shows it) or "sms"
    two_factor_mode: str = "device"
    #: Advanced Data Protection on (PCS / device consent needed for web access)
    adp: bool = False
    #: "Access iCloud Data on the Web"
    web_access: bool = True
    #: an ADP account's device already approved this browser's web access
    device_consented: bool = False
    srp_protocol: str = "s2k"
    #: PBKDF2 rounds (Apple's are in the thousands; a small number keeps tests fast)
    srp_iterations: int = 1000


class AuthMixin:
    """Handlers for the idmsa.apple.com and setup.icloud.com hosts (mixed into FakeICloud)."""

    def _auth_init(self) -> None:
        self._srp: dict[str, tuple] = {}                     # "c" -> (Verifier, apple id)
        self._two_factor: dict[str, TwoFactorSession] = {}   # X-Apple-ID-Session-Id -> state
        self._session_tokens: dict[str, bool] = {}           # X-Apple-Session-Token -> trusted
        self.trust_tokens: set[str] = set()                  # X-Apple-TwoSV-Trust-Token values
        self.web_sessions: dict[str, WebSession] = {}        # X-APPLE-WEBAUTH-TOKEN -> session
        self.sign_ins = 0                                    # SRP sign-ins completed (password accepted)
        self.codes_checked: list[tuple[str, bool]] = []      # (code, accepted)

    # -- control ---------------------------------------------------------------------------------------
    def expire_sessions(self) -> None:
        """Every web session ends (cookies and session tokens refused); trust stays."""
        with self.lock:
            for s in self.web_sessions.values():
                s.expired = True
            self._session_tokens.clear()

    def forget_trust(self) -> None:
        """The account's trusted browsers are removed: the next sign-in asks for a code."""
        with self.lock:
            self.trust_tokens.clear()

    # -- helpers ----------------------------------------------------------------------------------------
    def _auth_headers(self, tf: TwoFactorSession | None = None) -> list:
        sid = tf.session_id if tf else secrets.token_hex(16)
        scnt = tf.scnt if tf else secrets.token_hex(16)
        return [("X-Apple-ID-Session-Id", sid), ("scnt", scnt), ("X-Apple-ID-Account-Country", self.account.country),
                ("X-Apple-Auth-Attributes", base64.b64encode(secrets.token_bytes(24)).decode())]

    def _tf_session(self, req: Request) -> TwoFactorSession | None:
        sid = req.headers.get("x-apple-id-session-id", "")
        tf = self._two_factor.get(sid)
        if tf is None or req.headers.get("scnt") != tf.scnt:
            return None
        return tf

    def _service_error(self, status: int, code: str, message: str, headers: list | None = None) -> Response:
        return Response.json({"serviceErrors": [{"code": code, "message": message, "suppressDismissal": False}]},
                             status=status, headers=headers)

    def _web_session(self, req: Request) -> WebSession | None:
        tok = (req.cookies.get("X-APPLE-WEBAUTH-TOKEN") or "").strip('"')   # sent quoted, as set
        s = self.web_sessions.get(tok)
        if s is None or s.expired:
            return None
        return s

    # -- idmsa.apple.com ----------------------------------------------------------------------------------
    def _idmsa(self, req: Request) -> Response:
        p = req.path.rstrip("/")
        base = "/appleauth/auth"
        if not p.startswith(base):
            return Response.text("Not Found", 404)
        sub = p[len(base):] or "/"
        m = req.method
        if sub == "/authorize/signin" and m == "GET":
            # the sign-in page (HTML); it sets the cookies the next calls carry
            return Response(200, b"<html><body>Sign in with Apple ID</body></html>", "text/html;charset=UTF-8",
                            [cookie_header("aasp", secrets.token_hex(16))])
        if sub == "/signin/init" and m == "POST":
            return self._signin_init(req)
        if sub == "/signin/complete" and m == "POST":
            return self._signin_complete(req)
        if sub == "/" and m == "GET":
            return self._two_factor_options(req)
        if sub == "/verify/trusteddevice/securitycode" and m == "POST":
            return self._verify_code(req, "device")
        if sub == "/verify/phone" and m == "PUT":
            tf = self._tf_session(req)
            if tf is None:
                return self._service_error(401, "-20101", "Your session has expired.")
            tf.sms_requested = True
            return Response.json({"trustedPhoneNumber": self._phone(), "securityCode": {"length": 6}})
        if sub == "/verify/phone/securitycode" and m == "POST":
            return self._verify_code(req, "sms")
        if sub == "/2sv/trust" and m == "GET":
            return self._trust(req)
        return Response.text("Not Found", 404)

    def _signin_init(self, req: Request) -> Response:
        body = req.json() or {}
        name = str(body.get("accountName", ""))
        try:
            A = base64.b64decode(body["a"])
        except (KeyError, ValueError):
            return self._service_error(400, "-20101", "Invalid request")
        acct = self.account
        protocol = acct.srp_protocol if acct.srp_protocol in (body.get("protocols") or ["s2k"]) else "s2k"
        # srp (its OpenSSL backend) keeps the salt as a number and hands back its shortest bytes, so a
        # salt starting with a zero byte reaches pyicloud one byte short and the password key it
        # derives differs: 1 sign-in in 256 failed at random. Apple's salts are 16 full bytes.
        salt = secrets.token_bytes(16)
        while salt[0] == 0:
            salt = secrets.token_bytes(16)
        # the verifier for the stored password; an unknown account gets a random one, so the
        # failure shows only at signin/complete, as Apple's does
        password = acct.password if name.lower() == acct.apple_id.lower() else secrets.token_hex(16)
        key = derive_password(password, salt, acct.srp_iterations, protocol)
        srp.rfc5054_enable()
        srp.no_username_in_x()
        ver = srp.Verifier(name, salt, verifier_for(key, salt), A, hash_alg=srp.SHA256, ng_type=srp.NG_2048)
        s, B = ver.get_challenge()
        if B is None:
            return self._service_error(400, "-20101", "Invalid request")
        c = f"d-{secrets.randbelow(10**3)}-{uuid.uuid4()}:PRN"
        with self.lock:
            self._srp[c] = (ver, name)
        return Response.json({"iteration": acct.srp_iterations, "salt": base64.b64encode(s).decode(),
                              "protocol": protocol, "b": base64.b64encode(B).decode(), "c": c},
                             headers=self._auth_headers())

    def _signin_complete(self, req: Request) -> Response:
        body = req.json() or {}
        with self.lock:
            pending = self._srp.pop(str(body.get("c", "")), None)
        if pending is None:
            return self._service_error(400, "-20101", "Invalid request")
        ver, name = pending
        try:
            m1 = base64.b64decode(body.get("m1", ""))
            m2 = base64.b64decode(body.get("m2", ""))
        except ValueError:
            m1 = m2 = b""
        srp.rfc5054_enable()
        srp.no_username_in_x()
        hamk = ver.verify_session(m1)
        if hamk is None or hamk != m2 or str(body.get("accountName", "")) != name \
                or name.lower() != self.account.apple_id.lower():
            # 401 with serviceErrors -20101 (the Apple ID or password was wrong)
            return self._service_error(401, "-20101", "Your Apple ID or password was incorrect.")
        with self.lock:
            self.sign_ins += 1
            trusted = any(t in self.trust_tokens for t in (body.get("trustTokens") or []))
            tf = TwoFactorSession(secrets.token_hex(32), secrets.token_hex(24))
            self._two_factor[tf.session_id] = tf
            if trusted:
                token = self._new_session_token(trusted=True)
                return Response.json({"authType": "hsa2"},
                                     headers=self._auth_headers(tf) + [("X-Apple-Session-Token", token)])
        # two-factor needed: HTTP 409 {"authType": "hsa2"} (pyicloud session.py raises
        # PyiCloud2FARequiredException on exactly this)
        return Response.json({"authType": "hsa2"}, status=409, headers=self._auth_headers(tf))

    def _new_session_token(self, trusted: bool) -> str:
        token = base64.b64encode(secrets.token_bytes(96)).decode()
        self._session_tokens[token] = trusted
        return token

    def _phone(self) -> dict:
        return {"id": 1, "numberWithDialCode": "+1 (•••) •••-••42", "pushMode": "sms", "obfuscatedNumber": "(•••) •••-••42",
                "lastTwoDigits": "42", "nonFTEU": False}

    def _two_factor_options(self, req: Request) -> Response:
        tf = self._tf_session(req)
        if tf is None:
            return self._service_error(401, "-20101", "Your session has expired.")
        acct = self.account
        # the JSON shape of the auth options (pyicloud's Hsa2BootContext.from_auth_options reads it
        # at the top level); no "auth/bridge/step" route, so pyicloud validates the code against
        # verify/trusteddevice/securitycode (device) or verify/phone/securitycode (sms)
        out = {"authenticationType": "hsa2", "recoveryUrl": "https://iforgot.apple.com/phone/add",
               "securityCode": {"length": 6, "tooManyCodesSent": False, "tooManyCodesValidated": False,
                                "securityCodeLocked": False, "securityCodeCooldown": False},
               "hasTrustedDevices": acct.two_factor_mode == "device",
               "authInitialRoute": "auth/verify/trusteddevice" if acct.two_factor_mode == "device" else "auth/verify/phone",
               "trustedPhoneNumbers": [self._phone()],
               "authFactors": ["robocall", "sms", "generatedcode"]}
        if acct.two_factor_mode == "sms":
            out["mode"] = "sms"
            out["trustedPhoneNumber"] = self._phone()
        return Response.json(out, headers=self._auth_headers(tf))

    def _verify_code(self, req: Request, via: str) -> Response:
        tf = self._tf_session(req)
        if tf is None:
            return self._service_error(401, "-20101", "Your session has expired.")
        body = req.json() or {}
        code = str((body.get("securityCode") or {}).get("code", ""))
        ok = code == self.account.two_factor_code and (via == "device" or tf.sms_requested)
        with self.lock:
            self.codes_checked.append((code, ok))
            if not ok:
                # a wrong code: 400 with serviceErrors -21669 "Incorrect verification code"
                return self._service_error(400, "-21669", "Incorrect verification code.", self._auth_headers(tf))
            tf.verified = True
        if via == "sms":
            return Response.json({"trustedPhoneNumber": self._phone(), "securityCode": {"valid": True}},
                                 headers=self._auth_headers(tf))
        return Response(204, b"", "text/plain", self._auth_headers(tf))

    def _trust(self, req: Request) -> Response:
        tf = self._tf_session(req)
        if tf is None or not tf.verified:
            return self._service_error(401, "-20101", "Your session has expired.")
        with self.lock:
            trust = "HSARMTKNSRVXWFla" + base64.b64encode(secrets.token_bytes(48)).decode()
            self.trust_tokens.add(trust)
            token = self._new_session_token(trusted=True)
            del self._two_factor[tf.session_id]
        # 204 with the session token and the trust token in headers (pyicloud const.HEADER_DATA)
        return Response(204, b"", "text/plain", self._auth_headers(tf) + [
            ("X-Apple-Session-Token", token), ("X-Apple-TwoSV-Trust-Token", trust)])

    # -- setup.icloud.com ----------------------------------------------------------------------------------
    def _setup(self, req: Request) -> Response:
        p = req.path.rstrip("/")
        base = "/setup/ws/1"
        if not p.startswith(base):
            return Response.text("Not Found", 404)
        sub = p[len(base):]
        m = req.method
        if sub == "/accountLogin" and m == "POST":
            return self._account_login(req)
        if sub == "/validate" and m == "POST":
            s = self._web_session(req)
            if s is None:
                # 421: pyicloud reads it as "authentication required" and signs in again
                return Response.json({"success": False, "error": "Missing X-APPLE-WEBAUTH-TOKEN cookie"}, status=421)
            return Response.json(self._account_data(s.trusted))
        if sub == "/requestWebAccessState" and m == "POST":
            return self._web_access_state(req)
        if sub == "/enableDeviceConsentForPCS" and m == "POST":
            if self._web_session(req) is None:
                return Response.json({"success": False, "error": "Missing X-APPLE-WEBAUTH-TOKEN cookie"}, status=421)
            acct = self.account
            return Response.json({"isDeviceConsentNotificationSent": acct.web_access,
                                  "isWebAccessAllowed": acct.web_access,
                                  "isDeviceConsentedForPCS": acct.device_consented, "isICDRSDisabled": acct.adp})
        if sub == "/requestPCS" and m == "POST":
            return self._request_pcs(req)
        if sub == "/logout" and m == "POST":
            s = self._web_session(req)
            if s is not None:
                s.expired = True
            return Response.json({"success": True})
        return Response.text("Not Found", 404)

    def _account_login(self, req: Request) -> Response:
        body = req.json() or {}
        token = str(body.get("dsWebAuthToken") or "")
        with self.lock:
            known = token in self._session_tokens
            trusted = known and (self._session_tokens[token] or str(body.get("trustToken") or "") in self.trust_tokens)
        if not known:
            return self._service_error(421, "-20101", "Authentication required")
        web = "v=2:t=" + base64.b64encode(secrets.token_bytes(64)).decode()
        session = WebSession(token=web, trusted=trusted)
        with self.lock:
            self.web_sessions[web] = session
        day = 86400
        cookies = [cookie_header("X-APPLE-WEBAUTH-TOKEN", f'"{web}"', max_age=WEB_COOKIE_DAYS * day),
                   cookie_header("X-APPLE-WEBAUTH-USER", f'"v=1:s=0:d={self.account.dsid}"', max_age=WEB_COOKIE_DAYS * day),
                   cookie_header("X-APPLE-DS-WEB-SESSION-TOKEN", f'"{secrets.token_urlsafe(48)}"',
                                 max_age=WEB_COOKIE_DAYS * day),
                   cookie_header("X-APPLE-WEBAUTH-LOGIN", f'"v=1:t={secrets.token_urlsafe(24)}"')]
        if trusted:
            cookies.append(cookie_header("X-APPLE-WEBAUTH-HSA-TRUST", f'"{secrets.token_urlsafe(48)}"',
                                         max_age=TRUST_COOKIE_DAYS * day))
        return Response.json(self._account_data(trusted), headers=cookies)

    def _account_data(self, trusted: bool) -> dict:
        acct = self.account
        return {
            "dsInfo": {"dsid": acct.dsid, "hsaVersion": 2, "appleId": acct.apple_id, "primaryEmail": acct.apple_id,
                       "firstName": acct.first_name, "lastName": acct.last_name,
                       "fullName": f"{acct.first_name} {acct.last_name}", "languageCode": "en-us",
                       "countryCode": acct.country, "isWebAccessAllowed": acct.web_access, "hasICloudQualifyingDevice": True,
                       "isPaidDeveloper": False},
            "hasMinimumDeviceForPhotosWeb": True,
            "iCDPEnabled": acct.adp,
            "webservices": self.webservices(),
            "pcsEnabled": True,
            "termsUpdateNeeded": False,
            "hsaTrustedBrowser": trusted,
            "hsaChallengeRequired": not trusted,
            "isExtendedLogin": True,
            "apps": {"photos": {}, "find": {"canLaunchWithOneFactor": True}, "iclouddrive": {}},
            "requestInfo": {"country": acct.country[:2], "timeZone": "GMT+0", "region": acct.country[:2]},
        }

    def _web_access_state(self, req: Request) -> Response:
        if self._web_session(req) is None:
            return Response.json({"success": False, "error": "Missing X-APPLE-WEBAUTH-TOKEN cookie"}, status=421)
        acct = self.account
        # standard protection: {"dsid", "isWebAccessAllowed"}; ADP adds the PCS keys
        # (foxt/icloud.js#4, captured from iCloud.com)
        out = {"dsid": int(acct.dsid), "isWebAccessAllowed": acct.web_access}
        if acct.adp:
            out.update({"isDeviceConsentedForPCS": acct.device_consented, "isICDRSDisabled": True,
                        "deviceConsentForPCSExpiry": 0})
        return Response.json(out)

    def _request_pcs(self, req: Request) -> Response:
        s = self._web_session(req)
        if s is None:
            return Response.json({"success": False, "error": "Missing X-APPLE-WEBAUTH-TOKEN cookie"}, status=421)
        acct = self.account
        if not acct.adp or (acct.web_access and acct.device_consented):
            s.pcs = True
            exp = int(time.time()) + 3600
            return Response.json({"isWebAccessAllowed": True, "status": "success", "message": "PCS cookies granted."},
                                 headers=[cookie_header("X-APPLE-WEBAUTH-PCS-Photos", f'"v=1:t={secrets.token_urlsafe(32)}:e={exp}"'),
                                          cookie_header("X-APPLE-WEBAUTH-PCS-Sharing", f'"v=1:t={secrets.token_urlsafe(32)}:e={exp}"')])
        return Response.json({"isWebAccessAllowed": acct.web_access, "status": "failure",
                              "message": "Web access is not allowed for this account."})
