"""iCloud shared albums (``--type icloud-shared``): the public web API, no sign-in."""

from .connector import ICloudSharedConnector

__all__ = ["ICloudSharedConnector"]
