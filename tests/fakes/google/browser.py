"""A headless "browser" for google-auth-oauthlib's InstalledAppFlow.run_local_server: it opens
the authorization URL with requests (on a thread, since run_local_server waits for the redirect
only after opening the browser) and follows the fake's redirect to the loopback server, as a
person's browser would after they click Allow."""

from __future__ import annotations

import threading
import webbrowser

import requests

NAME = "photosync-fake-google-browser"


class HeadlessBrowser(webbrowser.BaseBrowser):
    def __init__(self) -> None:
        super().__init__(NAME)
        self.opened: list[str] = []
        self.answers: list[requests.Response] = []

    def open(self, url, new=0, autoraise=True):  # noqa: ARG002 - webbrowser's signature
        self.opened.append(url)

        def visit():
            self.answers.append(requests.get(url, timeout=10))

        threading.Thread(target=visit, name="headless-browser", daemon=True).start()
        return True


def register() -> HeadlessBrowser:
    """Register a fresh headless browser; pass browser=NAME to run_local_server."""
    b = HeadlessBrowser()
    webbrowser.register(NAME, None, b)
    return b
