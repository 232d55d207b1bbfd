"""The whole iCloud Photos library of an Apple ID, through pyicloud."""

from .connector import ICloudConnector

__all__ = ["ICloudConnector"]
