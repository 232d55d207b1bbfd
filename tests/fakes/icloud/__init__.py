"""Fake of the iCloud endpoints pyicloud uses for sign-in and Photos (tests only). See README.md."""

from .auth import AccountState
from .fake import FakeICloud

__all__ = ["AccountState", "FakeICloud"]
