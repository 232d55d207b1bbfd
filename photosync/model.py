"""The records photosync keeps: frozen dataclasses, no I/O.

(De)serialisation and schema validation live in :mod:`photosync.records`; every
other module works with these types.  Collections are tuples so a record can
be shared between threads and compared by value; a change is a new record made
with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

SCHEMA_VERSION = 1

#: canonical visibility levels, narrowest first
VISIBILITY_LEVELS: tuple[str, ...] = ("private", "friends", "public")
STATES: tuple[str, ...] = ("discovered", "resolved", "replicated")
QUALITIES: tuple[str, ...] = ("original", "high", "medium", "low")
CONFLICT_TYPES: tuple[str, ...] = (
    "exact_duplicate",
    "quality_variant",
    "edit_variant",
    "metadata_mismatch",
    "visibility_discrepancy",
    "service_policy_violation",
    #: a field two machines changed differently (library/merge.py): resolve asks which stands
    "sync_conflict",
)


def visibility_rank(level: str) -> int:
    """0 for private, 2 for public; a higher rank is wider."""
    return VISIBILITY_LEVELS.index(level)


def narrowest(levels) -> str:
    """The most restrictive of ``levels`` (private when there are none)."""
    ranks = [visibility_rank(lv) for lv in levels if lv]
    return VISIBILITY_LEVELS[min(ranks)] if ranks else "private"


#: Audiences: who sees a photo, finer than the canonical levels where a service has finer
#: states (Flickr's is_friend and is_family are independent flags).  Each audience is the set of
#: groups that see it besides its owner, and one audience is within another when its set is a
#: subset: a partial order ("family" and "friends" are not comparable), so a change or a
#: discrepancy is judged on sets, never on the coarse rank alone.  The canonical levels stay
#: private/friends/public; "friends" here, as an audience, means friends only.
AUDIENCE_GROUPS: Mapping[str, frozenset] = {
    "private": frozenset(),
    "family": frozenset({"family"}),
    "friends": frozenset({"friends"}),
    "friends+family": frozenset({"friends", "family"}),
    "public": frozenset({"friends", "family", "everyone"}),
}
AUDIENCES: tuple[str, ...] = tuple(AUDIENCE_GROUPS)
#: the finer audiences inside the canonical level "friends"
FRIENDS_AUDIENCES: tuple[str, ...] = ("family", "friends", "friends+family")


def within(audience: str, other: str) -> bool:
    """True when everyone who sees ``audience`` also sees ``other``."""
    return AUDIENCE_GROUPS[audience] <= AUDIENCE_GROUPS[other]


@dataclass(frozen=True)
class Location:
    lat: float
    lng: float
    alt: float | None = None


@dataclass(frozen=True)
class CameraInfo:
    make: str | None = None
    model: str | None = None


#: metadata fields that a person would call "the photo's metadata" (the design's list)
CORE_FIELDS: tuple[str, ...] = ("taken_date", "filename", "location", "tags", "caption", "camera_info")


@dataclass(frozen=True)
class Metadata:
    """Metadata of a photo, canonical or as one service reports it.

    ``None`` (or an empty tuple for tags) means "not known"; in an instance's
    metadata it means the service did not say.
    """

    taken_date: str | None = None
    taken_date_source: str | None = None
    #: how exact taken_date is when a service says it is not exact (Flickr: month, year, circa)
    taken_date_granularity: str | None = None
    filename: str | None = None
    location: Location | None = None
    tags: tuple[str, ...] = ()
    caption: str | None = None
    camera_info: CameraInfo | None = None
    media_type: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    albums: tuple[str, ...] = ()
    #: where an instance's location came from: "exif" (or "quicktime") in its bytes, or "service" when the
    #: service states it; a service's statement wins for its instance (a location removed there is none)
    location_source: str | None = None
    #: what an export states beyond the core fields (Google Takeout, issue 14): the people named
    #: in the photo, the person's favourite / archived / trashed flags (None: not stated), and for
    #: an edited copy or a motion-photo video the item id of the original or still it belongs to
    people: tuple[str, ...] = ()
    favorite: bool | None = None
    archived: bool | None = None
    trashed: bool | None = None
    edit_of: str | None = None
    motion_of: str | None = None
    #: who put the photo on the service (an iCloud shared album's contributor, issue 15)
    contributor: str | None = None

    def is_missing(self, name: str) -> bool:
        value = getattr(self, name)
        return value is None or value == () or value == ""


@dataclass(frozen=True)
class Instance:
    """One copy of a photo on one service."""

    service: str
    id: str
    content_hash: str
    quality: str = "original"
    last_sync: str = ""
    url: str | None = None
    size: int | None = None
    metadata: Metadata = field(default_factory=Metadata)
    visibility: str | None = None
    missing_since: str | None = None
    raw_name_b64: str | None = None
    #: visual signature (media/visual.py): finds resized, re-encoded, cropped and rotated copies
    look: str | None = None
    #: the service's own, finer state inside the level "friends" (Flickr: family, friends,
    #: friends+family); None when the service has no finer states or did not say
    audience: str | None = None

    @property
    def key(self) -> str:
        return f"{self.service}:{self.id}"


@dataclass(frozen=True)
class BlobCopy:
    """A verified copy of the original in a blob store."""

    store: str
    locator: str
    size: int
    verified_at: str
    problem: str | None = None

    @property
    def good(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class SupersededBlob:
    """A verified copy of one of this photo's other contents (bytes that are not
    its canonical content): a merged variant, or a former original.  Kept on
    record (and in the store), never deleted."""

    store: str
    locator: str
    size: int
    verified_at: str
    content_hash: str
    problem: str | None = None


#: kinds of rendition (derived copies, photosync/renditions.py): a thumbnail at a long edge, or the
#: photo's age tier (a re-encoded space-saving copy)
RENDITION_KINDS: tuple[str, ...] = ("thumbnail", "tier")


@dataclass(frozen=True)
class Rendition:
    """A derived copy of a photo's original (issue 16): made from the original by a recipe,
    stored content-addressed beside it, rebuilt at any time; never an original.

    ``name`` is its key in ``Photo.renditions`` ("thumb-200", "tier"); ``recipe`` says how it
    was made (a different recipe makes it again); ``source_hash`` is the content it was made
    from (a rendition of bytes the photo no longer has as its original is not current);
    ``copies`` are verified copies by store, like ``Photo.blobs``."""

    name: str
    kind: str
    recipe: str
    source_hash: str
    content_hash: str
    size: int
    format: str
    width: int
    height: int
    made_at: str
    copies: Mapping[str, BlobCopy] = field(default_factory=dict)
    #: the tier's name for kind "tier" (light, medium, heavy, or a configured one)
    tier: str | None = None

    @property
    def long_edge(self) -> int:
        return max(self.width, self.height)

    def good_copies(self) -> dict[str, BlobCopy]:
        return {name: c for name, c in self.copies.items() if c.good}


@dataclass(frozen=True)
class Discrepancy:
    service: str
    current: str
    canonical: str
    #: set when the levels alone do not say it: the audience the service shows and the
    #: audience it may show (AUDIENCES)
    audience: str | None = None
    allowed: str | None = None

    @property
    def wider(self) -> bool:
        """True when the service shows the photo to anyone it should not (decided on
        audiences when they are known: family-only shown to friends and family is wider)."""
        if self.audience and self.allowed:
            return not within(self.audience, self.allowed)
        return visibility_rank(self.current) > visibility_rank(self.canonical)


@dataclass(frozen=True)
class Visibility:
    canonical: str = "private"
    per_service: Mapping[str, str] = field(default_factory=dict)
    discrepancies: tuple[Discrepancy, ...] = ()
    #: who "friends" means for this photo when a person said so (FRIENDS_AUDIENCES; set by
    #: ``visibility adopt`` from a service's finer state); None: each service's
    #: ``friends_audience`` setting (default: friends only).  Only meaningful when canonical is friends.
    friends_audience: str | None = None


@dataclass(frozen=True)
class Conflict:
    id: str
    type: str
    description: str
    services: tuple[str, ...] = ()
    resolution_required: bool = True
    field: str | None = None
    values: Mapping[str, Any] | None = None
    related_photos: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolution:
    """A decision taken on a conflict (by a policy or a person)."""

    conflict_id: str
    how: str  # auto | manual
    at: str
    policy: str | None = None
    choice: str | None = None
    value: Any = None
    values_seen: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Photo:
    photo_id: str
    content_hash: str
    canonical_source: str
    metadata: Metadata
    created_at: str
    updated_at: str
    source_of_truth_path: str | None = None
    instances: Mapping[str, tuple[Instance, ...]] = field(default_factory=dict)
    visibility: Visibility = field(default_factory=Visibility)
    blobs: Mapping[str, BlobCopy] = field(default_factory=dict)
    processing_state: str = "discovered"
    conflicts: tuple[Conflict, ...] = ()
    resolutions: tuple[Resolution, ...] = ()
    superseded_blobs: tuple[SupersededBlob, ...] = ()
    #: derived copies by name (thumbnails, the age tier): optional, rebuilt from the original
    renditions: Mapping[str, Rendition] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    # -- convenience views ---------------------------------------------------------
    def all_instances(self) -> list[Instance]:
        return [inst for insts in self.instances.values() for inst in insts]

    def find_instance(self, service: str, item_id: str) -> Instance | None:
        for inst in self.instances.get(service, ()):
            if inst.id == item_id:
                return inst
        return None

    def good_copies(self) -> dict[str, BlobCopy]:
        return {name: c for name, c in self.blobs.items() if c.good}

    def contents(self) -> list[str]:
        """Every distinct content (bytes) this photo holds: the canonical content
        first, then the other bytes its instances have (merged variants, former
        originals), each of which is kept in every blob store."""
        return [self.content_hash, *sorted({i.content_hash for i in self.all_instances()} - {self.content_hash})]

    def stored_contents(self) -> dict[str, set[str]]:
        """store -> the contents with a good copy there: ``blobs`` holds the
        canonical content's copies, ``superseded_blobs`` the others'."""
        out: dict[str, set[str]] = {}
        for name, c in self.blobs.items():
            if c.good:
                out.setdefault(name, set()).add(self.content_hash)
        for b in self.superseded_blobs:
            if b.problem is None and b.content_hash != self.content_hash:
                out.setdefault(b.store, set()).add(b.content_hash)
        return out

    def verified_copies(self) -> int:
        """How many stores hold a good copy of its least-kept content: a photo
        with a merged variant stored nowhere has 0, whatever its original has."""
        stored = self.stored_contents()
        return min(sum(1 for have in stored.values() if h in have) for h in self.contents())

    def whole_in(self) -> set[str]:
        """The stores that hold a good copy of every content of this photo."""
        need = set(self.contents())
        return {name for name, have in self.stored_contents().items() if need <= have}

    @property
    def open_conflicts(self) -> tuple[Conflict, ...]:
        return tuple(c for c in self.conflicts if c.resolution_required)

    def resolution_for(self, conflict_id: str) -> "Resolution | None":
        for r in reversed(self.resolutions):
            if r.conflict_id == conflict_id:
                return r
        return None

    @property
    def label(self) -> str:
        """A short human name: the file name when known, else the id."""
        return self.metadata.filename or self.photo_id

    def replace(self, **changes) -> "Photo":
        return dataclasses.replace(self, **changes)


def with_instance(photo: Photo, inst: Instance) -> Photo:
    """Add ``inst`` to ``photo``, replacing an instance with the same service and id."""
    current = [i for i in photo.instances.get(inst.service, ()) if i.id != inst.id]
    current.append(inst)
    current.sort(key=lambda i: i.id)
    instances = dict(photo.instances)
    instances[inst.service] = tuple(current)
    return photo.replace(instances=dict(sorted(instances.items())))
