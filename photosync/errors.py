"""Errors photosync reports to a person.  Every message names what it is about."""

from __future__ import annotations


class PhotosyncError(Exception):
    """Base class: something the user must see, with a clear message."""

    exit_code = 1


class UsageError(PhotosyncError):
    """The command cannot run as asked (bad flag value, unknown service...)."""

    exit_code = 2


class LibraryNotFound(PhotosyncError):
    exit_code = 2


class LibraryLocked(PhotosyncError):
    exit_code = 3


class InvalidRecord(PhotosyncError):
    """A JSON file (photo or config) that is not valid JSON or breaks its schema."""

    def __init__(self, path: str, reason: str, field: str | None = None):
        self.path = path
        self.field = field
        self.reason = reason
        where = f"{path}: field '{field}'" if field else path
        super().__init__(f"{where}: {reason}")


class ConfigError(PhotosyncError):
    """A configuration problem (bad config file, unknown service type, missing path...)."""

    exit_code = 2


class MediaError(PhotosyncError):
    """A file that is not a readable photo or video (corrupt, truncated, empty...)."""


class UnreadableMetadata(MediaError):
    """A file recognised by its content whose metadata photosync's readers cannot
    parse (its structure is intact): recorded as it is, with a warning."""


class SourceError(PhotosyncError):
    """A service item or file that cannot be read right now."""


class ItemChanging(SourceError):
    """An item that kept changing while it was read: read again next run."""


class StoreError(PhotosyncError):
    """A blob store that cannot take or give back a blob."""


class VerificationError(StoreError):
    """Bytes that do not match the hash they were stored under."""


class UnsafeLocator(StoreError):
    """A locator (from a record) that would lead outside its store: refused, never read."""


class Unsupported(PhotosyncError):
    """An operation a connector or store does not have (see its capabilities)."""


class NotMedia(Exception):
    """A file that is neither named nor shaped like a photo or video (ignored, not an error)."""


class AuthError(ConfigError):
    """A service that refuses our sign-in (none yet, expired, revoked, too few permissions)."""
