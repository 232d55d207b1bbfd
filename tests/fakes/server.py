"""The HTTP(S) server the iCloud and Amazon fakes share: one port on 127.0.0.1, a
daemon thread, requests parsed into a ``Request``, answers as ``Response``,
request counters per endpoint, fault windows, and the fake's own failures
recorded (answered HTTP 500) so a test can assert there were none.

Several real hosts are served on one port. A request names the host it is meant
for either in its Host header (when that is not the loopback address itself) or
as the first path segment: ``https://127.0.0.1:PORT/p42-sharedstreams.icloud.com/TOKEN/...``
is a request to ``p42-sharedstreams.icloud.com`` for ``/TOKEN/...``. The path
prefix is what a connector with an endpoint override uses (see each fake's
README); the Host header form is there for clients that keep the real URL and
only change where they connect.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

from .http import ClientGone, read_body

LOOPBACK = ("127.0.0.1", "localhost")


@dataclass
class Request:
    method: str
    host: str                 # the real host the request is meant for ("" when none was named)
    path: str                 # the path on that host (percent-decoded), without the query
    raw_path: str             # the path as sent (before the host prefix was taken off)
    query: dict               # last value of each query parameter
    headers: dict             # lower-case names
    body: bytes
    cookies: dict = field(default_factory=dict)   # name -> value as sent (quotes kept)

    def json(self):
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=UTF-8"
    headers: list = field(default_factory=list)    # (name, value) pairs; Set-Cookie may repeat
    truncate: bool = False                         # send half the body, then close

    @classmethod
    def json(cls, payload, status: int = 200, headers: list | None = None,
             content_type: str = "application/json; charset=UTF-8") -> "Response":
        return cls(status, json.dumps(payload, separators=(",", ":")).encode("utf-8"), content_type,
                   list(headers or []))

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=UTF-8") -> "Response":
        return cls(status, text.encode("utf-8"), content_type)


def parse_cookie_header(value: str) -> dict:
    """name -> value of a Cookie header, values as sent (a quoted value keeps its quotes:
    Amazon's sess-at-main and x-main are quoted in the browser too)."""
    out = {}
    for part in value.split(";"):
        name, sep, val = part.strip().partition("=")
        if sep and name:
            out[name.strip()] = val.strip()
    return out


def split_host(raw_path: str, host_header: str, known_host) -> tuple[str, str]:
    """(host, path) of a request: the Host header when it names a real host, else the
    first path segment when known_host(segment) says it is one, else ("", path)."""
    path = raw_path.split("?", 1)[0]
    hh = (host_header or "").strip()
    name = hh.rsplit(":", 1)[0] if hh.count(":") == 1 else hh
    if name and name not in LOOPBACK and known_host(name):
        return name.lower(), path
    segs = path.split("/", 2)
    if len(segs) >= 2 and segs[1] and known_host(segs[1]):
        return segs[1].lower(), "/" + (segs[2] if len(segs) > 2 else "")
    return "", path


class FakeServer:
    """Base of a fake service: subclasses implement ``handle(req) -> Response`` and
    ``known_host(name) -> bool``, and name their endpoints with ``endpoint_of(req)``."""

    name = "fake"

    def __init__(self, tls: bool = False):
        self.tls = tls
        self.lock = threading.RLock()
        self.calls: Counter = Counter()        # endpoint name -> requests answered (faults included)
        self.log: list[tuple[str, str, str]] = []   # (method, host, path) of every request
        self.errors: list[str] = []            # tracebacks of the fake's own failures
        self._faults: list[list] = []          # [remaining, status, endpoint or None, headers]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self):
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        if self.tls:
            from .tls import server_context

            server.ssl_context = server_context()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """host:port of the listening socket."""
        if self._server is None:
            raise RuntimeError(f"{self.name} is not started")
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        return ("https://" if self.tls else "http://") + self.address

    def host_url(self, host: str) -> str:
        """The base URL that reaches ``host`` on this fake (path-prefix form)."""
        return f"{self.url}/{host}"

    # -- counters and faults --------------------------------------------------------------------------
    def reset_counters(self) -> None:
        with self.lock:
            self.calls.clear()
            self.log.clear()

    def requests_to(self, *endpoints: str) -> int:
        with self.lock:
            return sum(self.calls[e] for e in endpoints)

    @property
    def total_requests(self) -> int:
        with self.lock:
            return sum(self.calls.values())

    def fail_next(self, n: int, status: int = 503, endpoint: str | None = None,
                  headers: list | None = None) -> None:
        """The next n requests (to ``endpoint``, when given) answer ``status`` with an empty
        body. Windows overlap: a request inside several counts against all of them and answers
        the newest one's status. fail_next(0) clears every window."""
        with self.lock:
            if n <= 0:
                self._faults.clear()
                return
            self._faults.append([n, status, endpoint, list(headers or [])])

    def _take_fault(self, endpoint: str):
        with self.lock:
            hit = None
            for fault in reversed(self._faults):
                if fault[2] is None or fault[2] == endpoint:
                    fault[0] -= 1
                    if hit is None:
                        hit = fault
            self._faults = [f for f in self._faults if f[0] > 0]
            return hit

    def fault_response(self, status: int, headers: list) -> Response:
        """What a refusal looks like on the wire (subclasses override per service)."""
        return Response(status, b"", "text/html", list(headers))

    # -- to be provided by subclasses -------------------------------------------------------------------
    def known_host(self, name: str) -> bool:
        return False

    def endpoint_of(self, req: Request) -> str:
        return f"{req.method} {req.path}"

    def handle(self, req: Request) -> Response:
        raise NotImplementedError


class _Server(ThreadingHTTPServer):
    ssl_context = None

    def finish_request(self, request, client_address):
        # the TLS handshake happens here, in the connection's own thread, so a client
        # that stalls or speaks plain HTTP cannot block the accept loop
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return None
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeService/1.0"
    # headers and body go out in separate writes: without TCP_NODELAY each keep-alive answer
    # waits for the client's delayed ACK (~40 ms)
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, resp: Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for k, v in resp.headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        if resp.truncate:
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(resp.body)

    def _handle(self) -> None:
        fake: FakeServer = self.server.fake  # type: ignore[attr-defined]
        try:
            body = read_body(self)
        except ClientGone:
            self.close_connection = True
            return
        try:
            headers = {k.lower(): v for k, v in self.headers.items()}
            host, path = split_host(self.path, headers.get("host", ""), fake.known_host)
            query = dict(parse_qsl(self.path.split("?", 1)[1], keep_blank_values=True)) if "?" in self.path else {}
            req = Request(method=self.command, host=host, path=unquote(path), raw_path=self.path, query=query,
                          headers=headers, body=body, cookies=parse_cookie_header(headers.get("cookie", "")))
            endpoint = fake.endpoint_of(req)
            with fake.lock:
                fake.calls[endpoint] += 1
                fake.log.append((req.method, req.host, req.path))
            fault = fake._take_fault(endpoint)
            if fault is not None:
                resp = fake.fault_response(fault[1], fault[3])
            else:
                resp = fake.handle(req)
        except Exception:  # the fake's own bug: say so loudly, answer 500
            tb = traceback.format_exc()
            fake.errors.append(tb)
            print(f"{fake.name} internal error:\n{tb}", file=sys.stderr)
            resp = Response(500, b"fake internal error", "text/plain")
        self._send(resp)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle
    do_HEAD = _handle


def http_date(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def cookie_header(name: str, value: str, *, max_age: int | None = None, path: str = "/",
                  http_only: bool = True, secure: bool = True) -> tuple[str, str]:
    """A Set-Cookie header without a Domain (host-only on 127.0.0.1: every path-prefixed
    "host" of the fake shares it, as the real services' cookies for .icloud.com /
    .amazon.com reach every host of the domain)."""
    parts = [f"{name}={value}", f"Path={path}"]
    if max_age is not None:
        parts.append(f"Expires={http_date(time.time() + max_age)}")
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    return ("Set-Cookie", "; ".join(parts))


__all__ = ["FakeServer", "Request", "Response", "cookie_header", "parse_cookie_header", "split_host"]
