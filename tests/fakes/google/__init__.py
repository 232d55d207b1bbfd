"""A fake of Google's OAuth endpoints, the Photos Library API (uploads included), the Photos
Picker API and the media host behind baseUrls, on loopback (tests only; never imported by
photosync/). See README.md."""

from .fake import APPENDONLY, EDIT_APPCREATED, PICKER, READ_APPCREATED, FakeClock, FakeGoogle, Item

__all__ = ["APPENDONLY", "EDIT_APPCREATED", "PICKER", "READ_APPCREATED", "FakeClock", "FakeGoogle", "Item"]
