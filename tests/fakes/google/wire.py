"""On the wire: Google's JSON error shape, times, durations, page tokens, request parsing."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl

#: google.rpc.Code name -> (HTTP status, numeric code), as Google's JSON APIs map them
#: (cloud.google.com/apis/design/errors "Error codes"; google.aip.dev/193)
CODES = {
    "INVALID_ARGUMENT": (400, 3),
    "FAILED_PRECONDITION": (400, 9),
    "UNAUTHENTICATED": (401, 16),
    "PERMISSION_DENIED": (403, 7),
    "NOT_FOUND": (404, 5),
    "ABORTED": (409, 10),
    "RESOURCE_EXHAUSTED": (429, 8),
    "INTERNAL": (500, 13),
    "UNAVAILABLE": (503, 14),
}


class GoogleError(Exception):
    """An API error answered as Google's JSON: {"error": {"code", "message", "status", "details"}}."""

    def __init__(self, status: str, message: str, *, details: list | None = None, headers: dict | None = None):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    @property
    def http(self) -> int:
        return CODES[self.status][0]

    def body(self) -> bytes:
        err = {"code": self.http, "message": self.message, "status": self.status}
        if self.details:
            err["details"] = self.details
        return json.dumps({"error": err}, indent=2).encode()


def error_info(reason: str, service: str, **metadata) -> dict:
    """A google.rpc.ErrorInfo detail (google.aip.dev/193 "ErrorInfo")."""
    return {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com",
            "metadata": {"service": service, **{k: str(v) for k, v in metadata.items()}}}


def rfc3339(ts: float) -> str:
    """RFC 3339, Z-normalized, with 0, 3, 6 or 9 fractional digits as Google writes them
    (photos/picker/reference/rest/v1/sessions "expireTime")."""
    dt = datetime.fromtimestamp(ts, timezone.utc)
    if dt.microsecond == 0:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if dt.microsecond % 1000 == 0:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def duration(seconds: float) -> str:
    """A google.protobuf.Duration in JSON: seconds with up to nine fractional digits, ending
    with 's' ("3.5s") (photos/picker/reference/rest/v1/sessions "PollingConfig")."""
    text = f"{max(0.0, seconds):.9f}".rstrip("0").rstrip(".")
    return (text or "0") + "s"


def page_token(kind: str, offset: int) -> str:
    """An opaque continuation token (the fake's own format: base64 of kind:offset)."""
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode().rstrip("=")


def read_page_token(kind: str, token: str | None) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        k, _, n = raw.rpartition(":")
        if k != kind:
            raise ValueError(k)
        return int(n)
    except (ValueError, UnicodeDecodeError) as e:
        raise GoogleError("INVALID_ARGUMENT", "Invalid page token.") from e


@dataclass
class Incoming:
    method: str
    path: str
    query: dict
    headers: dict          # lower-case names
    body: bytes
    host: str
    form: dict = field(default_factory=dict)

    def json(self) -> dict:
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as e:
            # the message Google's JSON APIs give for a body that is not JSON
            raise GoogleError("INVALID_ARGUMENT", f"Invalid JSON payload received. {e}") from e
        if not isinstance(data, dict):
            raise GoogleError("INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object.")
        return data

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return self.query.get("access_token") or None


def parse_request(method: str, raw_path: str, headers: dict, body: bytes, host: str) -> Incoming:
    path, _, query = raw_path.partition("?")
    inc = Incoming(method=method, path=path, query=dict(parse_qsl(query, keep_blank_values=True)),
                   headers=headers, body=body, host=host)
    if body and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        inc.form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return inc


def int_param(value, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as e:
        raise GoogleError("INVALID_ARGUMENT", f"Invalid value for field '{name}': {value!r}") from e
