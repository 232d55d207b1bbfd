"""Google's OAuth 2.0 for installed apps: the authorization endpoint (the person's consent,
answered at once), the token endpoint, revocation, and bearer-token checks for the APIs.

Sources: developers.google.com/identity/protocols/oauth2/native-app (loopback redirect, PKCE,
the token request and answer, refresh, revocation); /identity/protocols/oauth2 ("Refresh token
expiration": revoked tokens, 7 days in "Testing" status); /identity/protocols/oauth2/web-server
("refresh_token … only returned the first time", prompt=consent); the OOB flow's end
(/identity/protocols/oauth2/resources/oob-migration); RFC 6749 §5.2 error names; RFC 7636 (PKCE).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from urllib.parse import urlencode, urlsplit

from .wire import GoogleError, error_info

ACCESS_LIFETIME = 3599          # Google answers "expires_in": 3599
CODE_LIFETIME = 600             # the fake's choice: an authorization code lives 10 minutes
TESTING_REFRESH_LIFETIME = 7 * 86400
OOB = ("urn:ietf:wg:oauth:2.0:oob", "urn:ietf:wg:oauth:2.0:oob:auto", "oob")


def _json(status: int, obj: dict, headers: dict | None = None):
    return status, json.dumps(obj, indent=2).encode(), "application/json; charset=utf-8", headers or {}


def _oauth_error(status: int, error: str, description: str):
    # RFC 6749 §5.2 error body, as Google's token endpoint writes it
    return _json(status, {"error": error, "error_description": description})


def _page(status: int, title: str, text: str):
    body = (f"<html><head><title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(text)}</p></body></html>").encode()
    return status, body, "text/html; charset=utf-8"


def _loopback(uri: str) -> bool:
    """Desktop clients may redirect only to a loopback address on any port
    (oauth2/native-app "Loopback IP address")."""
    try:
        parts = urlsplit(uri)
        return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.port is not None
    except ValueError:
        return False


def grant(fake, client_id: str, scopes: list, *, offline: bool, force_refresh: bool) -> dict:
    """Mint an access token (and a refresh token when offline and either forced or this client
    holds no live grant yet). Caller holds the lock."""
    now = fake.clock.now()
    answer = {"access_token": "ya29." + secrets.token_urlsafe(40), "expires_in": ACCESS_LIFETIME,
              "scope": " ".join(scopes), "token_type": "Bearer"}
    live = [rt for rt, rec in fake.refresh_tokens.items()
            if rec["client_id"] == client_id and not rec["revoked"] and not _expired(fake, rec, now)]
    refresh = None
    if offline and (force_refresh or not live):
        refresh = "1//0" + secrets.token_urlsafe(60)
        fake.refresh_tokens[refresh] = {"client_id": client_id, "scopes": list(scopes), "issued": now,
                                        "revoked": False}
        answer["refresh_token"] = refresh
    elif live:
        refresh = live[-1]
    fake.access_tokens[answer["access_token"]] = {"client_id": client_id, "scopes": list(scopes),
                                                  "expires": now + ACCESS_LIFETIME, "refresh": refresh}
    return answer


def _expired(fake, rec: dict, now: float) -> bool:
    return fake.app_in_testing and now >= rec["issued"] + TESTING_REFRESH_LIFETIME


def revoke_token(fake, token: str) -> bool:
    """End the grant behind token (a refresh or an access token). Caller holds the lock."""
    rt = token if token in fake.refresh_tokens else (fake.access_tokens.get(token) or {}).get("refresh")
    if rt is None or rt not in fake.refresh_tokens:
        if token in fake.access_tokens:
            del fake.access_tokens[token]
            return True
        return False
    fake.refresh_tokens[rt]["revoked"] = True
    for at in [a for a, rec in fake.access_tokens.items() if rec["refresh"] == rt]:
        del fake.access_tokens[at]
    return True


# -- the authorization endpoint (a GET the person's browser makes) ----------------------------------

def authorize_page(fake, inc):
    q = inc.query
    client_id = q.get("client_id", "")
    redirect_uri = q.get("redirect_uri", "")
    if client_id not in fake.clients:
        return _page(401, "Error 401: invalid_client", "The OAuth client was not found.")
    if redirect_uri in OOB:
        return _page(400, "Error 400: invalid_request",
                     "The out-of-band (OOB) flow has been blocked in order to keep users secure.")
    if not _loopback(redirect_uri):
        return _page(400, "Error 400: redirect_uri_mismatch",
                     f"You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy "
                     f"(redirect_uri={redirect_uri}).")
    state = q.get("state")

    def back(**params):
        if state is not None:
            params["state"] = state
        sep = "&" if "?" in redirect_uri else "?"
        return 302, b"", "text/html; charset=utf-8", {"Location": redirect_uri + sep + urlencode(params)}

    if q.get("response_type") != "code":
        return back(error="unsupported_response_type")
    scopes = [s for s in q.get("scope", "").split() if s]
    if not scopes:
        return _page(400, "Error 400: invalid_request", "Missing required parameter: scope")
    from .fake import KNOWN_SCOPES

    bad = [s for s in scopes if s not in KNOWN_SCOPES]
    if bad:
        return _page(400, "Error 400: invalid_scope", "Some requested scopes were invalid. " + " ".join(bad))
    challenge = q.get("code_challenge")
    method = q.get("code_challenge_method", "plain" if challenge else None)
    if challenge and method not in ("S256", "plain"):
        return back(error="invalid_request")
    with fake._lock:
        if fake.consent != "allow":
            return back(error="access_denied")
        granted = [s for s in scopes if s not in fake.withheld_scopes]
        if not granted:
            return back(error="access_denied")
        code = "4/0A" + secrets.token_urlsafe(40)
        fake.codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri, "scopes": granted,
                            "challenge": challenge, "method": method, "issued": fake.clock.now(), "used": False,
                            "offline": q.get("access_type") == "offline",
                            "prompt_consent": "consent" in q.get("prompt", "").split()}
    # Google's redirect carries the granted scopes too
    return back(code=code, scope=" ".join(granted))


# -- the token endpoint ---------------------------------------------------------------------------

def _client_auth(fake, inc) -> tuple[str, str]:
    cid, secret = inc.form.get("client_id", ""), inc.form.get("client_secret", "")
    auth = inc.headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            from urllib.parse import unquote

            raw = base64.b64decode(auth[6:]).decode()
            a, _, b = raw.partition(":")
            cid, secret = unquote(a), unquote(b)
        except (ValueError, UnicodeDecodeError):
            pass
    return cid, secret


def token(fake, inc):
    cid, secret = _client_auth(fake, inc)
    if cid not in fake.clients:
        return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
    if fake.clients[cid] != secret:
        return _oauth_error(401, "invalid_client", "Unauthorized")
    grant_type = inc.form.get("grant_type", "")
    now = fake.clock.now()
    with fake._lock:
        if grant_type == "authorization_code":
            code = inc.form.get("code", "")
            rec = fake.codes.get(code)
            if rec is None or rec["client_id"] != cid:
                return _oauth_error(400, "invalid_grant", "Malformed auth code.")
            if rec["used"] or now > rec["issued"] + CODE_LIFETIME:
                return _oauth_error(400, "invalid_grant", "Bad Request")
            if inc.form.get("redirect_uri", "") != rec["redirect_uri"]:
                return _oauth_error(400, "redirect_uri_mismatch", "Bad Request")
            if rec["challenge"]:
                verifier = inc.form.get("code_verifier")
                if not verifier:
                    return _oauth_error(400, "invalid_grant", "Missing code verifier.")
                if rec["method"] == "S256":
                    calc = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                else:
                    calc = verifier
                if calc != rec["challenge"]:
                    return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
            rec["used"] = True
            answer = grant(fake, cid, rec["scopes"], offline=rec["offline"], force_refresh=rec["prompt_consent"])
            return _json(200, answer, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
                                       "Pragma": "no-cache"})
        if grant_type == "refresh_token":
            rt = inc.form.get("refresh_token", "")
            rec = fake.refresh_tokens.get(rt)
            if rec is None or rec["revoked"] or _expired(fake, rec, now):
                return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            if rec["client_id"] != cid:
                return _oauth_error(401, "unauthorized_client", "Unauthorized")
            wanted = inc.form.get("scope", "").split() or rec["scopes"]
            if not set(wanted) <= set(rec["scopes"]):
                return _oauth_error(400, "invalid_scope", "Bad Request")
            access = "ya29." + secrets.token_urlsafe(40)
            fake.access_tokens[access] = {"client_id": cid, "scopes": list(wanted), "expires": now + ACCESS_LIFETIME,
                                          "refresh": rt}
            return _json(200, {"access_token": access, "expires_in": ACCESS_LIFETIME, "scope": " ".join(wanted),
                               "token_type": "Bearer"})
    return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def revoke_endpoint(fake, inc):
    tok = inc.form.get("token") or inc.query.get("token", "")
    with fake._lock:
        if not revoke_token(fake, tok):
            return _oauth_error(400, "invalid_token", "Token expired or revoked")
    return _json(200, {})


# -- bearer tokens on the APIs ------------------------------------------------------------------------

def require(fake, inc, service: str, method: str, scopes) -> dict:
    """The access token's record if it is valid and carries one of scopes; else Google's 401/403."""
    tok = inc.bearer()
    realm = 'Bearer realm="https://accounts.google.com/"'
    if not tok:
        raise GoogleError("UNAUTHENTICATED",
                          "Request is missing required authentication credential. Expected OAuth 2 access token, "
                          "login cookie or other valid authentication credential. See "
                          "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                          details=[error_info("CREDENTIALS_MISSING", service, method=method)],
                          headers={"WWW-Authenticate": realm})
    with fake._lock:
        rec = fake.access_tokens.get(tok)
        if rec is None or fake.clock.now() >= rec["expires"]:
            raise GoogleError("UNAUTHENTICATED",
                              "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                              "cookie or other valid authentication credential. See "
                              "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                              details=[error_info("ACCESS_TOKEN_EXPIRED" if rec else "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                                                  service, method=method)],
                              headers={"WWW-Authenticate": realm + ', error="invalid_token"'})
        if not set(scopes) & set(rec["scopes"]):
            raise GoogleError("PERMISSION_DENIED", "Request had insufficient authentication scopes.",
                              details=[error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", service, method=method)],
                              headers={"WWW-Authenticate": realm + ', error="insufficient_scope", scope="'
                                       + " ".join(sorted(scopes)) + '"'})
        return rec
