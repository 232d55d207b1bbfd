"""Amazon Photos (a target: uploads into one album, mirror mode), over Amazon Drive v1."""

from .connector import AmazonPhotosConnector

__all__ = ["AmazonPhotosConnector"]
