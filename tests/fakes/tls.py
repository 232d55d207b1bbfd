"""TLS on loopback for the fakes whose clients insist on https (pyicloud refuses a
webservice URL that is not https; iCloud shared-album downloads are built as
``"https://" + url_location + url_path``).

One certificate authority per test process, made by trustme (pinned in the test
extras): its certificate is written to a temporary file, and a test points
requests at it with ``REQUESTS_CA_BUNDLE`` (requests reads that variable for
every request whose ``verify`` is True or unset, pyicloud's included:
SERVICES.md "Apple iCloud"). The server certificate names 127.0.0.1 and
localhost. Nothing here is trusted outside the test process.
"""

from __future__ import annotations

import atexit
import os
import shutil
import ssl
import tempfile
import threading

_lock = threading.Lock()
_state: dict = {}


def _ensure() -> dict:
    with _lock:
        if not _state:
            import trustme

            ca = trustme.CA(organization_name="photosync test CA")
            cert = ca.issue_cert("127.0.0.1", "localhost")
            folder = tempfile.mkdtemp(prefix="photosync-test-ca-")
            atexit.register(shutil.rmtree, folder, True)
            ca_path = os.path.join(folder, "ca.pem")
            ca.cert_pem.write_to_path(ca_path)
            _state.update(ca=ca, cert=cert, ca_path=ca_path)
        return _state


def ca_bundle() -> str:
    """Path of the PEM file holding the test CA's certificate (for REQUESTS_CA_BUNDLE)."""
    return _ensure()["ca_path"]


def server_context() -> ssl.SSLContext:
    """A server-side context with the loopback certificate."""
    state = _ensure()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    state["cert"].configure_cert(ctx)
    return ctx
