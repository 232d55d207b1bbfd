"""A plain file host on loopback, for the shared download (photosync.net.download): files
served by path, with the faults a network gives a download (a status with its Retry-After, a
body cut short, a body sent gzip-encoded as a CDN may)."""

from __future__ import annotations

import gzip

from .server import FakeServer, Request, Response


class FileHost(FakeServer):
    name = "files"

    def __init__(self):
        super().__init__()
        self.files: dict[str, tuple[bytes, str | None]] = {}
        self._cut = 0

    def put(self, path: str, data: bytes, encoding: str | None = None) -> str:
        """Serve ``data`` at ``path`` (gzip-encoded on the wire with ``encoding="gzip"``); its URL."""
        self.files[path] = (data, encoding)
        return self.url + path

    def cut_next(self, n: int) -> None:
        """The next n answers send half their body, then close the connection."""
        with self.lock:
            self._cut = n

    def fail_next_with(self, n: int, status: int, retry_after: str | None = None) -> None:
        self.fail_next(n, status, headers=[("Retry-After", retry_after)] if retry_after else None)

    def endpoint_of(self, req: Request) -> str:
        return req.path

    def handle(self, req: Request) -> Response:
        if req.path not in self.files:
            return Response(404, b"not found", "text/plain")
        data, encoding = self.files[req.path]
        headers = []
        if encoding == "gzip":
            data = gzip.compress(data)
            headers.append(("Content-Encoding", "gzip"))
        with self.lock:
            cut = self._cut > 0
            self._cut -= 1 if cut else 0
        return Response(200, data, "application/octet-stream", headers, truncate=cut)
