"""The connector contract: what every photo service (or folder) provides.

A small required interface (list items, describe an item, open its bytes) plus
declared capabilities.  Callers check a capability before using an optional
operation; an operation a connector does not have raises :class:`Unsupported`,
it never silently does nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, ClassVar, Iterable, NamedTuple

from ..context import Context
from ..errors import Unsupported
from ..events import Tally
from ..model import Metadata, Photo


@dataclass(frozen=True)
class Capabilities:
    upload: bool = False
    set_visibility: bool = False
    #: canonical levels this service can express (empty: it has no notion of audience)
    visibility_levels: tuple[str, ...] = ()
    #: the finer audiences it can express (model.AUDIENCES; empty: only the levels): such a
    #: service is given an audience where others are given a level (upload, set_visibility)
    audiences: tuple[str, ...] = ()
    set_metadata: bool = False
    albums: bool = False
    delete: bool = False
    #: gives back the original bytes (False: only resized or re-encoded copies)
    originals: bool = True
    #: hashes the service reports without a download, e.g. ("md5",)
    hashes: tuple[str, ...] = ()
    #: can list only what changed since a cursor
    incremental: bool = False
    #: what an upload may be (None / empty: no limit known); a photo beyond them is a
    #: service policy conflict, reported and never altered to fit
    max_photo_bytes: int | None = None
    max_video_bytes: int | None = None
    upload_formats: tuple[str, ...] = ()


class ItemRef(NamedTuple):
    """A cheap handle on one item, from a listing (a named tuple: a listing of
    100,000 files makes 100,000 of them).

    ``fingerprint`` changes whenever anything about the item changes (for a file:
    size, mtime and inode); ``content_key`` changes only when its bytes change
    (None: treat any fingerprint change as a possible content change).
    """

    id: str
    fingerprint: str
    content_key: str | None = None
    size: int | None = None
    modified: datetime | None = None
    #: the exact bytes of a name that is not valid UTF-8 (``id`` then shows it escaped)
    raw_name: bytes | None = None
    #: the connector's own data for describe() (e.g. a network listing's entry), so
    #: describe needs no second request; only refs that are read keep it in memory
    extra: bytes | None = None
    #: set by discover when ``content_key`` is unchanged since the bytes were last
    #: hashed: describe may trust this hash instead of reading the bytes again
    known_hash: str | None = None


@dataclass(frozen=True)
class ServiceItem:
    """Everything a service says about one item, with its content hash."""

    ref: ItemRef
    content_hash: str
    size: int
    metadata: Metadata
    quality: str = "original"
    visibility: str | None = None
    url: str | None = None
    warnings: tuple[str, ...] = ()
    #: visual signature of a still image (media/visual.py), for variant detection
    look: str | None = None
    #: the service's finer state when visibility is friends (model.FRIENDS_AUDIENCES)
    audience: str | None = None


@dataclass
class Listing:
    refs: Iterable[ItemRef]
    #: True when the listing holds every item of the service, so an item
    #: not in it is gone from the service
    complete: bool = True
    #: where the next incremental listing starts; stored after a successful run
    cursor: str | None = None
    #: set by connectors whose cursor depends on how reading the items went:
    #: called once every item was described (see final_cursor)
    cursor_fn: Callable[[], str | None] | None = None

    def final_cursor(self) -> str | None:
        return self.cursor_fn() if self.cursor_fn is not None else self.cursor


@dataclass
class ConnectorContext:
    library_root: Path
    ctx: Context
    report: Tally
    #: folders a folder connector must never scan (the library's own blob stores)
    exclude: tuple[Path, ...] = field(default_factory=tuple)


class Connector(ABC):
    type_name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, name: str, config: dict, env: ConnectorContext):
        self.name = name
        self.config = config
        self.env = env
        #: set while listing when part of the service could not be listed (an
        #: unreadable folder): the listing then cannot prove any item gone
        self.partial = False

    # -- required --------------------------------------------------------------------
    @abstractmethod
    def list(self, *, cursor: str | None, since: datetime | None, full_scan: bool) -> Listing:
        """The items to consider.  Problems with parts of the service (an
        unreadable folder) go to ``self.env.report`` and the listing goes on."""

    @abstractmethod
    def describe(self, ref: ItemRef) -> ServiceItem:
        """Hash the item's bytes and read its metadata.  Raises MediaError or
        SourceError for this item only."""

    @abstractmethod
    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        """The item's bytes (the original where the service keeps one)."""

    def describer(self):
        """A picklable stand-in for :meth:`describe` that may run in another
        process (for CPU-bound connectors such as a folder), or None to
        describe in threads of this process (network connectors)."""
        return None

    def where(self, item_id: str) -> str:
        """A human description of an item's location, for messages."""
        return f"{self.name}:{item_id}"

    def renamed(self, ref: ItemRef, metadata: Metadata) -> Metadata | None:
        """``ref`` has the fingerprint of an item gone from the listing (a file
        moved or renamed): the metadata recorded for that item, with what depends
        on the item's id (its file name, a date read from the name) made right for
        ``ref``, so discover records the move without reading the bytes; or None:
        discover reads the item (and finds the move by its content hash)."""
        return None

    # -- optional (see capabilities) --------------------------------------------------------
    def upload(self, photo: Photo, stream: BinaryIO, size: int | None, visibility: str) -> ServiceItem:
        """Put the photo's original on the service with ``visibility`` (a level
        the service has; an audience for a service with ``capabilities.audiences``)
        and its canonical metadata; the new item, described.  When the service is
        sent other bytes than the original's (its location removed), the item's
        content_hash and size are those of the bytes sent."""
        raise Unsupported(f"service {self.name} ({self.type_name}) cannot upload")

    def uploaded_metadata(self, photo: Photo, visibility: str) -> Metadata:
        """The metadata the service will report for ``photo`` once uploaded (what it keeps of it)."""
        return photo.metadata

    def alters_upload(self, photo: Photo, visibility: str) -> bool:
        """Whether an upload at ``visibility`` may send other bytes than the original's
        (a copy without its location): prepare_upload then says which."""
        return False

    def prepare_upload(self, photo: Photo, stream: BinaryIO, size: int | None, visibility: str):
        """(stream, content hash, size, temporary) of the bytes an upload at ``visibility``
        sends: the original as it is, or a temporary copy (closed by the caller)."""
        return stream, photo.content_hash, size, False

    def find_uploaded(self, content_hashes: set[str],
                      attempted: dict[str, float] | None = None) -> dict[str, tuple[str, str | None]]:
        """content hash -> (item id, level the service shows it at) of photos this
        program uploaded before, found on the service itself (so a lost record or
        index never causes a second upload).  ``attempted``: content hash -> unix
        time an upload of it was started and not recorded (an upload intent); such
        a photo may be on the service although its search does not show it yet."""
        return {}

    def complete_upload(self, photo: Photo, item_id: str, visibility: str) -> list[str]:
        """Redo what follows an upload (dates, albums...) for an item found uploaded
        but not recorded; returns what failed, as warnings."""
        return []

    def login(self, ask, perms: str | None = None) -> str:
        """Sign in and save the credentials outside the library; ``ask(prompt)``
        gets an answer from the person.  Returns who is signed in."""
        raise Unsupported(f"service {self.name} ({self.type_name}) has no sign-in")

    def set_visibility(self, item_id: str, level: str) -> str:
        """Narrow the item to ``level`` if the service shows it more widely now (asked
        of the service, not taken from the record); never widens.  Returns the level
        the service shows afterwards.  A service with ``capabilities.audiences`` takes
        and returns audiences, and sets the meet of what it shows and ``level``."""
        raise Unsupported(f"service {self.name} ({self.type_name}) has no visibility settings")

    def set_metadata(self, item_id: str, metadata: Metadata) -> None:
        raise Unsupported(f"service {self.name} ({self.type_name}) cannot change metadata")

    def delete(self, item_id: str) -> None:
        raise Unsupported(f"service {self.name} ({self.type_name}) cannot delete")

    # -- config ---------------------------------------------------------------------------
    #: ``service add`` options that are secrets: saved in the user's credentials file, never in config/
    secret_options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def check_secrets(cls, secrets: dict, existing: dict | None) -> dict:
        """The secrets to save, given new ones and those saved before (raise when some are missing)."""
        return {**(existing or {}), **secrets}

    @classmethod
    def config_from_options(cls, options: dict, library_root: Path) -> dict:
        """Turn ``service add`` options into the config entry to store (no secrets)."""
        return {}
