"""The connector contract: what every photo service (or folder) provides.

A small required interface (list items, describe an item, open its bytes) plus
declared capabilities.  Callers check a capability before using an optional
operation; an operation a connector does not have raises :class:`Unsupported`,
it never silently does nothing.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, ClassVar, Iterable, Mapping, NamedTuple

from ..context import Context
from ..errors import Unsupported
from ..events import Tally
from ..model import Metadata, Photo
from ..options import Declares, Option


@dataclass(frozen=True)
class Capabilities:
    """What a connector can do beyond listing, describing and opening; each field
    is read by a phase (a capability nobody reads is not declared here)."""

    #: publish sends photos to it (a service of a type that cannot upload gets no
    #: ``upload_from`` option, and publish plans nothing for one that has it anyway)
    upload: bool = False
    #: audit --fix narrows what it shows (otherwise: "change it there by hand")
    set_visibility: bool = False
    #: canonical levels this service can express (empty: it has no notion of audience):
    #: publish uploads at the nearest narrower one, audit --fix narrows to it, resolve
    #: records a service-policy conflict for a photo it cannot show that narrowly
    visibility_levels: tuple[str, ...] = ()
    #: the finer audiences it can express (model.AUDIENCES; empty: only the levels): such a
    #: service is given an audience where others are given a level (upload, set_visibility)
    audiences: tuple[str, ...] = ()
    #: what an upload may be (None / empty: no limit known); a photo beyond them is a
    #: service policy conflict, reported and never altered to fit (conflicts/detect.cannot_take)
    max_photo_bytes: int | None = None
    max_video_bytes: int | None = None
    upload_formats: tuple[str, ...] = ()
    #: it has ``withdraw(item_ids)`` (take out of the album, into the service's trash): only mirror
    #: mode (phases/mirror.py) calls it, for a service whose config says ``"mirror": true``
    withdraw: bool = False
    #: ``delete(item_id)`` removes the item from the service (to its trash where it has one); read by
    #: ``prune`` alone (phases/prune.py), the one thing in photosync that deletes from a service, and only
    #: for photos with enough verified blob copies, re-read just before (issue 15)
    delete: bool = False
    #: items are made in batches of at most this many (Google's batchCreate: 50; 0: one upload makes
    #: one item): publish then sends each photo's bytes (send_upload, in its workers) and makes the
    #: items in batches (create_uploads, from one thread)
    upload_batch: int = 0
    # Declared once and read by nothing, so gone (issue 12): set_metadata, albums (albums travel in Metadata), originals
    # (each item says its own quality), hashes (a service-side hash is the item's content_key:
    # discover then reads the item only when it changes), incremental (a Listing says whether it
    # is complete and returns its cursor).


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
    #: None when the bytes were not read this time (a known hash: the record keeps its size)
    size: int | None
    metadata: Metadata
    quality: str = "original"
    visibility: str | None = None
    url: str | None = None
    warnings: tuple[str, ...] = ()
    #: visual signature of a still image (media/visual.py), for variant detection
    look: str | None = None
    #: the service's finer state when visibility is friends (model.FRIENDS_AUDIENCES)
    audience: str | None = None
    #: what the ``keep`` given to :meth:`Connector.describer` returned for the bytes it was
    #: handed (discover --execute: the name of a temp file in the primary store holding them)
    kept: str | None = None


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


class Connector(Declares, ABC):
    """A photo service (or a folder of photos): one instance per configured service."""

    kind = "service"
    type_name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: the type's own options (photosync.options.Option), besides the ones every service has
    #: (service_options)
    options: ClassVar[tuple[Option, ...] | None] = ()
    #: options of ``auth`` handed to :meth:`login` (None: ``--perms`` for a type that signs in)
    login_options: ClassVar[tuple[Option, ...] | None] = None
    #: listing waits for a person (the Google Picker): discover reads it only when it is named
    asks_a_person: ClassVar[bool] = False

    def __init__(self, name: str, config: dict, env: ConnectorContext):
        self.name = name
        self.config = config
        self.env = env
        #: the account signed in to, set by :meth:`login` (its stable id on the service):
        #: ``auth`` records it as the service's ``account``
        self.account: str | None = None
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

    def describer(self, keep=None):
        """A picklable stand-in for :meth:`describe` that may run in another
        process (for CPU-bound connectors such as a folder), or None to
        describe in threads of this process (network connectors).  ``keep``
        (picklable, or None): called in that process with the bytes of an item
        read whole into memory, its result becomes the item's ``kept``; a
        connector may leave it uncalled (the caller then reads the bytes again)."""
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

    def send_upload(self, photo: Photo, stream: BinaryIO, size: int | None, visibility: str):
        """(``capabilities.upload_batch``) Send the photo's bytes, making nothing yet: a handle
        for :meth:`create_uploads`."""
        raise Unsupported(f"service {self.name} ({self.type_name}) makes one item per upload")

    def create_uploads(self, sent: builtins.list) -> builtins.list:  # list: the method
        """(``capabilities.upload_batch``) Make the items for handles :meth:`send_upload` gave:
        per handle, the new item (a ServiceItem) or the exception that says why it was not made.
        An error that stops the service (a spent quota, a sign-in) is raised."""
        raise Unsupported(f"service {self.name} ({self.type_name}) makes one item per upload")

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

    def complete_upload(self, photo: Photo, item_id: str, visibility: str) -> builtins.list[str]:  # list: the method
        """Redo what follows an upload (dates, albums...) for an item found uploaded
        but not recorded; returns what failed, as warnings."""
        return []

    def login(self, ask, **options) -> str:
        """Sign in and save the credentials outside the library; ``ask(prompt)``
        gets an answer from the person; ``options``: the values of the type's
        ``login_options`` that were given.  Sets ``self.account`` (the account's
        stable id) and returns who is signed in, in words."""
        raise Unsupported(f"service {self.name} ({self.type_name}) has no sign-in")

    def delete(self, item_id: str, expected: "Mapping[str, tuple[str, str | None]] | None" = None) -> str:
        """Remove the item from the service, to its trash where it has one (only with
        ``capabilities.delete``; called by prune alone, after its checks).  ``expected``: item id ->
        (content hash, content key) of every item of the unit as photosync recorded them; the
        connector refuses (SourceError) when the service now holds something else there (bytes
        changed, an edit made since), so nothing unrecorded is deleted.  Returns where it went."""
        raise Unsupported(f"service {self.name} ({self.type_name}) cannot delete")

    def never_deleted(self, item_id: str) -> str | None:
        """Why prune must never delete ``item_id`` whatever its copies (an iCloud Shared Library's photo
        is deleted for everyone in it), or None.  :meth:`delete` refuses such an item too."""
        return None

    def delete_unit(self, item_id: str) -> str:
        """The id :meth:`delete` takes to delete ``item_id``: itself, or what it is part of (an iCloud
        asset's edited rendering and live video go with the asset); prune checks every item of a unit."""
        return item_id

    def set_visibility(self, item_id: str, level: str) -> str:
        """Narrow the item to ``level`` if the service shows it more widely now (asked
        of the service, not taken from the record); never widens.  Returns the level
        the service shows afterwards.  A service with ``capabilities.audiences`` takes
        and returns audiences, and sets the meet of what it shows and ``level``."""
        raise Unsupported(f"service {self.name} ({self.type_name}) has no visibility settings")

    # -- config (see photosync.options) ---------------------------------------------------
    @classmethod
    def signs_in(cls) -> bool:
        """Whether the type has a sign-in (``auth``): it implements :meth:`login`."""
        return cls.login is not Connector.login

    @classmethod
    def declared_options(cls) -> tuple[Option, ...]:
        return (*service_options(cls), *(cls.options or ()))

    @classmethod
    def declared_login_options(cls) -> tuple[Option, ...]:
        """The options ``auth`` takes besides the secrets (handed to :meth:`login`)."""
        if cls.login_options is None:
            return (Option("perms", "read, write or delete (default: write when the service takes uploads, "
                                    "else read)."),) if cls.signs_in() else ()
        return tuple(cls.login_options)


# -- options every service has, and building blocks for network services -----------------------------

def service_options(cls: type[Connector]) -> tuple[Option, ...]:
    """The options every service has: switched on or off; where uploads come from
    (only a type that can upload); the account ``auth`` records (only a type that signs in)."""
    out = [Option("enabled", "Scan it (and upload to it); --disabled adds it switched off.", "bool", default=True,
                  flag="--enabled", off_flag="--disabled")]
    if cls.capabilities.upload:
        out.append(Option("upload_from", "Upload photos found on this service to the new one on replicate "
                                         "(a service name; repeatable).", "list", metavar="SERVICE"))
    if cls.signs_in():
        out.append(Option("account", "The account this service is, recorded by photosync auth (a sign-in for "
                                     "another account is refused).", cli=False))
    return tuple(out)


def endpoints_option(names: tuple[str, ...], what: str = "the service's URLs") -> Option:
    """``--endpoint NAME=URL``: point one of ``names`` elsewhere (a proxy, a test fake)."""
    return Option("endpoints", f"Override one of {what} (proxies, tests).", "map", keys=names, flag="--endpoint",
                  metavar="NAME=URL", advanced=True)


def rate_limit_options(per_hour: float) -> tuple[Option, ...]:
    """An API call budget (net.TokenBucket), in calls an hour or a minute."""
    return (
        Option("rate_limit.requests_per_hour", "API call budget, calls an hour.", "float", default=per_hour,
               flag="--requests-per-hour", schema={"exclusiveMinimum": 0}),
        Option("rate_limit.requests_per_minute", "API call budget, calls a minute (instead of an hour).", "float",
               flag="--requests-per-minute", schema={"exclusiveMinimum": 0}, advanced=True),
    )


def retry_options(attempts: int = 8, base_seconds: float = 1.0) -> tuple[Option, ...]:
    """Retries of transient failures with exponential backoff and jitter (net.retrying)."""
    return (
        Option("retry.attempts", "Tries of a call that fails transiently.", "int", default=attempts,
               flag="--retry-attempts", schema={"minimum": 1, "maximum": 20}, advanced=True),
        Option("retry.base_seconds", "First wait between tries (doubled each time, with jitter).", "float",
               default=base_seconds, flag="--retry-base-seconds", schema={"minimum": 0}, advanced=True),
    )


def timeout_option(seconds: float = 60) -> Option:
    return Option("timeout_seconds", "Seconds to wait for an answer.", "float", default=seconds,
                  schema={"exclusiveMinimum": 0}, advanced=True)
