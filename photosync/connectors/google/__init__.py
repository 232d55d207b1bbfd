"""Google Photos (issue 14): Takeout, Picker and Library API connectors.

* ``takeout``  google-takeout: a Takeout export read in place (the whole library)
* ``picker``   google-picker: the items a person picks (Picker API)
* ``photos``   google-photos: Google Photos as an upload target (Library API)
* ``client``   the shared wire of the last two: OAuth client file and sign-in, API clients,
  request budget, retries, quotas

The discovery documents for ``photoslibrary v1`` and ``photospicker v1`` (``discovery/``) are
what google-api-python-client's ``build_from_document`` needs, because the client library ships
none for these two APIs (googleapis/google-api-python-client#1594).
``discovery_document(name)`` reads one of them from the installed package.
"""

from __future__ import annotations

import json
from importlib import resources

#: the two APIs photosync calls through google-api-python-client
DISCOVERY_NAMES = ("photoslibrary.v1", "photospicker.v1")


def discovery_document(name: str) -> dict:
    """The discovery document ``name`` ("photoslibrary.v1" or "photospicker.v1") as a dict,
    for ``googleapiclient.discovery.build_from_document``."""
    if name not in DISCOVERY_NAMES:
        raise ValueError(f"no discovery document {name!r}; there are {', '.join(DISCOVERY_NAMES)}")
    text = resources.files(__package__).joinpath("discovery", f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)
