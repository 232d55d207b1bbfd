"""photosync gallery serve OUT: the built folder over HTTP on this machine, for a quick look
(the site needs no server; this is Python's http.server with a quiet log)."""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..errors import UsageError
from .site import MARKER


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (http.server's name)
        pass

    def end_headers(self):
        # a gallery is a snapshot of the library: a rebuilt one must show at once
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()


def server(out: Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server for the gallery in ``out`` (port 0: any free port; ``server_address`` says which).
    Refuses a folder that is not a gallery build, so it never serves a home folder by mistake."""
    if not (out / MARKER).is_file():
        raise UsageError(f"{out} is not a gallery: build one first with 'photosync gallery build {out}'")
    handler = functools.partial(_Handler, directory=str(out))
    return ThreadingHTTPServer((host, port), handler)
