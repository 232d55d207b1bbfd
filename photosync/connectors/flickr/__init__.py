"""Flickr: read a Flickr account's photos and videos, upload to it, narrow permissions.
Uses flickrapi 2.4.0 unmodified, with its URLs set per instance.

The parts (DESIGN.md "Flickr" says how each works):

* ``config``      the service's options, secrets (outside the library) and settings
* ``client``      the wire: flickrapi, OAuth sign-in, the request budget, retries, errors
* ``listing``     the walk by upload date, incremental changes, albums, the cursor
* ``mapping``     Flickr's entries in photosync's terms: audiences, tags, dates, quality, Metadata
* ``upload``      uploads, finding an upload that may have happened, what follows an upload
* ``permissions`` how Flickr shows a photo now, and narrowing it
* ``connector``   FlickrConnector, tying them together (the registry's ``flickr`` type)
"""

from __future__ import annotations

from .client import TRANSIENT_CODES
from .config import DEFAULT_ENDPOINTS
from .connector import FlickrConnector
from .listing import entry_from_info
from .mapping import (FLAGS, MACHINE_TAG, audience_of, clean_tag, flags_for, geo_flags_for, level_of,
                      split_caption)

__all__ = ["DEFAULT_ENDPOINTS", "FLAGS", "MACHINE_TAG", "TRANSIENT_CODES", "FlickrConnector", "audience_of",
           "clean_tag", "entry_from_info", "flags_for", "geo_flags_for", "level_of", "split_caption"]
