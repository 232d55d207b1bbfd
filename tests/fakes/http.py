"""What the fake servers share: reading a request body as clients send it."""

from __future__ import annotations


class ClientGone(ConnectionError):
    """The client's connection ended before the whole body arrived (a killed upload)."""


def read_body(handler) -> bytes:
    """The body of the request a BaseHTTPRequestHandler is serving: chunked
    (Transfer-Encoding, as boto3 streams some uploads) or by Content-Length.
    Raises ClientGone when the body is cut short: a real server never acts on
    half a request."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            line = handler.rfile.readline()
            if not line:
                raise ClientGone("the connection ended inside a chunked body")
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, up to the blank line
                    trailer = handler.rfile.readline()
                    if not trailer:
                        raise ClientGone("the connection ended inside the trailers")
                    if not trailer.strip():
                        return bytes(out)
            chunk = handler.rfile.read(size)
            if len(chunk) < size:
                raise ClientGone("the connection ended inside a chunk")
            out += chunk
            handler.rfile.readline()
    n = int(handler.headers.get("Content-Length") or 0)
    data = handler.rfile.read(n) if n > 0 else b""
    if len(data) < n:
        raise ClientGone(f"the connection ended after {len(data)} of {n} bytes")
    return data
