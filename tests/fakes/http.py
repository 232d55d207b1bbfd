"""What the fake servers share: reading a request body as clients send it."""

from __future__ import annotations


def read_body(handler) -> bytes:
    """The body of the request a BaseHTTPRequestHandler is serving: chunked
    (Transfer-Encoding, as boto3 streams some uploads) or by Content-Length."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline().strip():  # trailers
                    pass
                return bytes(out)
            out += handler.rfile.read(size)
            handler.rfile.readline()
    n = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(n) if n > 0 else b""
