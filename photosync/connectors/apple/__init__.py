"""Apple Photos, through what ``osxphotos export`` writes (issue 16 §5)."""

from .export import ApplePhotosExportConnector

__all__ = ["ApplePhotosExportConnector"]
