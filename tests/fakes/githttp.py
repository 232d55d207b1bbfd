"""A git smart-HTTP server on 127.0.0.1 that demands basic auth: git's own `git http-backend` (CGI,
git-http-backend(1)) behind a small Python server, so the client (libgit2 through pygit2) talks to
the real protocol, auth challenges included.

Every request without the right ``Authorization: Basic`` header is answered 401 with a
``WWW-Authenticate: Basic realm=...`` challenge, as a real git host does; the server counts the
requests and the refused ones so a test can tell a retry storm from one clean refusal.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from .http import ClientGone, read_body


def _backend() -> str:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    return str(Path(exec_path) / "git-http-backend")


class GitHttpServer:
    """Serves the bare repositories under ``root`` at http://127.0.0.1:PORT/<name>.git for
    ``user``:``password`` (pull and push)."""

    def __init__(self, root: Path, user: str, password: str):
        self.root = Path(root)
        self.user, self.password = user, password
        self.requests = 0
        self.refused = 0
        self.failures: list[str] = []  # the fake's own failures (the backend exited badly)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self.backend = _backend()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> "GitHttpServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _authorized(self, header: str | None) -> bool:
        want = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return header == want

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet: pytest shows failures, not access logs
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                with server._lock:
                    server.requests += 1
                try:
                    body = read_body(self) if self.command == "POST" else b""
                except ClientGone:
                    self.close_connection = True
                    return
                if not server._authorized(self.headers.get("Authorization")):
                    with server._lock:
                        server.refused += 1
                    msg = b"authentication required\n"
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="photos"')
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                parts = urlsplit(self.path)
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": parts.path,
                    "QUERY_STRING": parts.query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": server.user,  # git http-backend allows receive-pack (push) for an authenticated user
                    "REMOTE_ADDR": "127.0.0.1",
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "HOME": str(server.root),
                }
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                if self.headers.get("Git-Protocol"):
                    env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                p = subprocess.run([server.backend], input=body, env=env, capture_output=True, timeout=60)
                head, _, out = p.stdout.partition(b"\r\n\r\n")
                if not _:
                    head, _, out = p.stdout.partition(b"\n\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").splitlines():
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                if p.returncode != 0 and status == 200:
                    server.failures.append(f"{self.command} {self.path}: {p.stderr.decode(errors='replace')}")
                    status = 500
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        return Handler
