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

import base64
import hashlib
import http.client
import logging
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fakes.http import ClientGone, read_body

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_ETAG_XML = re.compile(rb"<ETag>(&quot;|\")?([0-9a-f]{32})(-[0-9]+)?(&quot;|\")?</ETag>")
#: what S3 answers for an SSE-KMS object (a made-up key of the test account)
KMS_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


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
    * ``kms``: behave like a bucket whose default encryption is SSE-KMS (opaque
      ETags in PUT, POST, HEAD, GET and listing answers, the SSE headers, and
      S3's Content-MD5 / SHA-256 checks of an upload's body: 400 BadDigest);
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
        self.kms = False
        #: opaque ETag -> moto's (an MD5), to give moto back the part ETags a client completes with
        self.kms_etags: dict[str, str] = {}
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
                query = self.path.partition("?")[2].split("&")
                kms = proxy.kms
                if kms and self.command == "PUT":
                    refused = _digest_problem(self.headers, body)
                    if refused:
                        return self._error(400, "BadDigest", refused)
                if kms and self.command == "POST" and any(q.startswith("uploadId=") for q in query):
                    body = _ETAG_XML.sub(proxy._real_etag, body)  # CompleteMultipartUpload names the parts
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
                if self.command == "POST" and "uploads" in query and resp.status == 200:
                    m = re.search(rb"<UploadId>([^<]+)</UploadId>", data)
                    if m:
                        with proxy.lock:
                            proxy.initiated[m.group(1).decode()] = time.time()
                elif self.command == "GET" and any(q.split("=")[0] == "uploads" for q in query):
                    data = re.sub(rb"<Upload>.*?</Upload>", proxy._initiated, data, flags=re.S)
                answer = resp.getheaders()
                if kms and resp.status < 300:
                    answer = [(k, proxy._opaque(v) if k.lower() == "etag" else v) for k, v in answer
                              if not k.lower().startswith("x-amz-server-side-encryption")]
                    listing = self.command == "GET" and ("list-type=2" in query or any(
                        q.startswith("uploadId=") for q in query))
                    if listing or self.command == "POST":  # ListObjectsV2, ListParts, CompleteMultipartUpload
                        data = _ETAG_XML.sub(proxy._opaque_xml, data)
                    if any(k.lower() == "etag" for k, _ in answer) or self.command == "POST":
                        answer += [("x-amz-server-side-encryption", "aws:kms"),
                                   ("x-amz-server-side-encryption-aws-kms-key-id", KMS_KEY_ARN)]
                self.send_response(resp.status)
                for k, v in answer:
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

    def _opaque(self, etag: str) -> str:
        """The ETag an SSE-KMS bucket answers for an object moto tags ``etag``: 32 hex digits, like
        an MD5 (S3's look the same: only the Object type's rule tells them apart), but not the MD5
        of the bytes; a multipart object's keeps its ``-<parts>``."""
        bare = etag.strip('"')
        digest, dash, parts = bare.partition("-")
        opaque = hashlib.md5(b"sse-kms:" + digest.encode()).hexdigest()
        with self.lock:
            self.kms_etags[opaque] = digest
        return f'"{opaque}{dash}{parts}"'

    def _opaque_xml(self, m: re.Match) -> bytes:
        quote = m.group(1) or b""
        return b"<ETag>" + quote + self._opaque(m.group(2).decode()).strip('"').encode() + (m.group(3) or b"") + \
            (m.group(4) or b"") + b"</ETag>"

    def _real_etag(self, m: re.Match) -> bytes:
        with self.lock:
            real = self.kms_etags.get(m.group(2).decode(), m.group(2).decode())
        return b"<ETag>" + (m.group(1) or b"") + real.encode() + (m.group(3) or b"") + (m.group(4) or b"") + b"</ETag>"

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


def _digest_problem(headers, body: bytes) -> str | None:
    """S3's check of an upload's body on arrival: the message of its BadDigest answer, or None."""
    md5 = headers.get("Content-MD5")
    if md5 and base64.b64encode(hashlib.md5(body).digest()).decode() != md5.strip():
        return "The Content-MD5 you specified did not match what we received."
    sha = headers.get("x-amz-checksum-sha256")
    if sha and base64.b64encode(hashlib.sha256(body).digest()).decode() != sha.strip():
        return "The SHA256 you specified did not match the calculated checksum."
    return None
