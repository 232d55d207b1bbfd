"""Fake of Amazon Drive v1 as the Amazon Photos web app uses it (tests only). See README.md."""

from .fake import MAX_LIMIT, MAX_NODES, MAX_TRASH_BATCH, FakeAmazonPhotos

__all__ = ["MAX_LIMIT", "MAX_NODES", "MAX_TRASH_BATCH", "FakeAmazonPhotos"]
