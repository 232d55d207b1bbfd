"""A fake of Flickr's API, OAuth, upload and photo hosts on loopback (tests only;
never imported by photosync/). See README.md."""

from .fake import FakeFlickr
from .photo import FakePhoto

__all__ = ["FakeFlickr", "FakePhoto"]
