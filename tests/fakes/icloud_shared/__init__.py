"""Fake of iCloud's public shared-album web API (tests only). See README.md."""

from .fake import (APPLE_EPOCH, FakeICloudShared, SharedAlbum, SharedPhoto, apple_seconds, host_of, new_token,
                   partition_of)

__all__ = ["APPLE_EPOCH", "FakeICloudShared", "SharedAlbum", "SharedPhoto", "apple_seconds", "host_of",
           "new_token", "partition_of"]
