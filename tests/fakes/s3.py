"""S3 for tests: moto's server mode on loopback, and a fault-injecting proxy in
front of it.

moto's ThreadedMotoServer is a real HTTP S3 endpoint; boto3 talks to it
unmodified but for ``endpoint_url``.  moto accepts wrong Content-MD5 and
checksum headers that real S3 rejects (shared/SERVICES.md), so damage on the
way is injected here, by :class:`FaultProxy`, and must be caught by the store's
own verification.  The proxy also counts requests (the no-change benchmark and
"never uploaded twice" need that) and records each request's headers (the B2
test checks that only headers B2 accepts are sent).
"""

from __future__ import annotations

import http.client
import logging
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fakes.http import ClientGone, read_body

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def start_moto():
    """A moto S3 server on 127.0.0.1 with a free port: (server, endpoint_url)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


class FaultProxy:
    """A reverse proxy to ``upstream`` with switches:

    * ``corrupt_puts`` / ``truncate_puts``: damage the body of the next N PUT
      requests that carry one (objects and multipart parts) before moto sees it;
    * ``fail_next``: answer the next N requests with 503 SlowDown (S3's
      throttling answer, which clients must retry with backoff);
    * counters: ``requests`` (method -> count), ``stored`` (key path -> PUTs
      that moto accepted), ``headers`` (every request's header names);
    * ``Initiated`` of multipart uploads as S3 gives it (ListMultipartUploads:
      when the upload was started; moto answers a fixed 2010-11-10 for every
      upload), and ``age_uploads(seconds, upload_id=None)`` to make the uploads
      started so far (or one of them) look that much older.
    """

    def __init__(self, upstream: str):
        self.upstream = upstream.removeprefix("http://")
        self.lock = threading.Lock()
        self.corrupt_puts = 0
        self.truncate_puts = 0
        self.fail_next = 0
        self.refuse_credentials = False
        self.requests: Counter = Counter()
        self.stored: Counter = Counter()
        self.headers: list[set[str]] = []
        #: upload id -> when it was started (time.time())
        self.initiated: dict[str, float] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                return read_body(self)

            def _error(self, status: int, code: str, message: str) -> None:
                payload = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                           f"<Message>{message}</Message></Error>").encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _forward(self):
                try:
                    body = self._body()
                except ClientGone:  # a killed upload: nothing reaches moto, as S3 stores nothing
                    self.close_connection = True
                    return
                with proxy.lock:
                    proxy.requests[self.command] += 1
                    proxy.headers.append({k.lower() for k in self.headers})
                    fail = proxy.fail_next > 0
                    if fail:
                        proxy.fail_next -= 1
                    damage = None
                    if self.command == "PUT" and body:
                        if proxy.corrupt_puts > 0:
                            proxy.corrupt_puts -= 1
                            damage = "corrupt"
                        elif proxy.truncate_puts > 0:
                            proxy.truncate_puts -= 1
                            damage = "truncate"
                if proxy.refuse_credentials:
                    # what S3 answers a key it does not know (S3 API reference, error responses)
                    return self._error(403, "InvalidAccessKeyId",
                                       "The AWS Access Key Id you provided does not exist in our records.")
                if fail:
                    # S3's throttling answer (S3 API reference: SlowDown, 503)
                    return self._error(503, "SlowDown", "Please reduce your request rate.")
                if damage == "corrupt":
                    mid = len(body) // 2
                    body = body[:mid] + bytes([body[mid] ^ 0xFF]) + body[mid + 1 :]
                elif damage == "truncate":
                    body = body[: len(body) // 2]
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                if self.command == "PUT" and resp.status == 200 and "uploadId" not in self.path:
                    with proxy.lock:
                        proxy.stored[self.path.split("?")[0]] += 1
                query = self.path.partition("?")[2].split("&")
                if self.command == "POST" and "uploads" in query and resp.status == 200:
                    m = re.search(rb"<UploadId>([^<]+)</UploadId>", data)
                    if m:
                        with proxy.lock:
                            proxy.initiated[m.group(1).decode()] = time.time()
                elif self.command == "GET" and any(q.split("=")[0] == "uploads" for q in query):
                    data = re.sub(rb"<Upload>.*?</Upload>", proxy._initiated, data, flags=re.S)
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP and (k.lower() != "content-length" or self.command == "HEAD"):
                        self.send_header(k, v)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _initiated(self, m: re.Match) -> bytes:
        block = m.group(0)
        upload = re.search(rb"<UploadId>([^<]+)</UploadId>", block)
        with self.lock:
            when = self.initiated.get(upload.group(1).decode()) if upload else None
        if when is None:
            return block
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(when)).encode()
        return re.sub(rb"<Initiated>[^<]*</Initiated>", b"<Initiated>" + stamp + b"</Initiated>", block)

    def age_uploads(self, seconds: float, upload_id: str | None = None) -> None:
        """Make the multipart uploads started so far (or only ``upload_id``) look that much older."""
        with self.lock:
            for uid in self.initiated:
                if upload_id is None or uid == upload_id:
                    self.initiated[uid] -= seconds

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()
            self.stored.clear()
            self.headers.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
