"""The fake's data model: one photo or video, Flickr's tags and machine tags,
the size ladder and the file URLs.

Sources for the behaviour copied here are named next to it:
flickr.com/services/api/* pages, flickrapi issues, ../shared/SERVICES.md.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

#: Flickr's date-taken granularities (flickr.com/services/api/misc.dates.html):
#: 0 second, 4 month, 6 year, 8 circa.
GRANULARITIES = (0, 4, 6, 8)


@dataclass
class FakePhoto:
    id: str
    secret: str
    originalsecret: str
    server: str
    farm: int
    title: str = ""
    description: str = ""
    tags: list = field(default_factory=list)          # raw tags as given ("New York", "cat")
    machine_tags: list = field(default_factory=list)  # raw machine tags ("ns:pred=value")
    datetaken: str = "2019-07-04 10:00:00"            # camera-local time, no zone (SERVICES.md)
    granularity: int = 0
    dateupload: int = 0
    lastupdate: int = 0
    ispublic: int = 0
    isfriend: int = 0
    isfamily: int = 0
    hidden: int = 1
    lat: float | None = None
    lon: float | None = None
    accuracy: int = 0
    #: who may see the location: (is_public, is_contact, is_friend, is_family), None without one
    #: (flickr.photos.geo.getPerms); a location set or imported takes the account default
    geo_perms: tuple | None = None
    media: str = "photo"
    originalformat: str = "jpg"
    o_width: int = 4000
    o_height: int = 3000
    albums: list = field(default_factory=list)       # photoset ids
    data: bytes | None = None                        # None: generated on download from the id
    uploaded_filename: str | None = None
    # beyond the brief's list (defaults keep them out of the way)
    datetakenunknown: int = 0
    safety_level: int = 1
    content_type: int = 1
    views: int = 0
    license: int = 0
    # search-index lag (FakeFlickr.lag_search): photos.search shows the photo only from this time
    # and after this many photos.search calls in all
    indexed_at: float = 0.0
    indexed_after_calls: int = 0

    @property
    def has_geo(self) -> bool:
        return self.lat is not None and self.lon is not None

    def all_tags(self) -> list[str]:
        return list(self.tags) + list(self.machine_tags)


def hexdigest(*parts: object, n: int = 10) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:n]


# -- tags -------------------------------------------------------------------------------------

# Machine tags are namespace:predicate=value; namespace and predicate start with a letter
# and hold only letters, digits and underscores (flickr.com/services/api/flickr.photos.search.html,
# "machine_tags"; flickr.com/groups/api/discuss/72157594497877875 is the original announcement).
MACHINE_TAG = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):([A-Za-z][A-Za-z0-9_]*)=(.+)$", re.S)
_TAG_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def split_tag_string(text: str) -> list[str]:
    """Flickr's tag syntax: space separated, double quotes around a tag with spaces
    (upload.api.html "tags"; flickr.photos.setTags.html)."""
    out = []
    for quoted, bare in _TAG_TOKEN.findall(text or ""):
        tag = (quoted if quoted else bare).strip()
        if tag:
            out.append(tag)
    return out


def is_machine_tag(tag: str) -> bool:
    return MACHINE_TAG.match(tag) is not None


def split_tags(tags) -> tuple[list[str], list[str]]:
    """(plain tags, machine tags) from a Flickr tag string or an iterable of raw tags."""
    items = split_tag_string(tags) if isinstance(tags, str) else [str(t) for t in tags]
    plain, machine = [], []
    for t in items:
        (machine if is_machine_tag(t) else plain).append(t)
    return plain, machine


def clean_tag(tag: str) -> str:
    """Flickr's "clean" form, as the ``tags`` extra gives it: lower case, no spaces and
    no punctuation but for machine tags' ``:`` and ``=`` (flickr.com/services/api/misc.tags.html:
    the clean version is stripped of spaces and most punctuation and lower-cased)."""
    m = MACHINE_TAG.match(tag)
    if m:
        ns, pred, value = m.groups()
        value = value.strip().strip('"')
        return f"{ns.lower()}:{pred.lower()}={re.sub(r'[^0-9a-z_.-]', '', value.lower())}"
    return re.sub(r"[^\w]", "", tag.lower())


def merge_tags(existing: list[str], new: list[str]) -> list[str]:
    seen = {clean_tag(t) for t in existing}
    out = list(existing)
    for t in new:
        c = clean_tag(t)
        if c and c not in seen:
            seen.add(c)
            out.append(t)
    return out


def parse_machine_tag_query(q: str) -> tuple[str, str, str | None]:
    """One term of the ``machine_tags`` search argument: (namespace, predicate, value or None).

    Syntax (flickr.com/services/api/flickr.photos.search.html, "machine_tags"): a full
    ``ns:pred=value``; ``ns:pred=`` any value; ``ns:`` the namespace only; ``*`` stands for any
    namespace or predicate; a value may be in double quotes.
    """
    q = q.strip()
    ns, _, rest = q.partition(":")
    pred, eq, value = rest.partition("=")
    value = value.strip().strip('"')
    return ns.strip().lower() or "*", pred.strip().lower() or "*", (value.lower() if eq and value else None)


def machine_tag_matches(query: tuple[str, str, str | None], tags: list[str]) -> bool:
    ns, pred, value = query
    for t in tags:
        m = MACHINE_TAG.match(t)
        if not m:
            continue
        tns, tpred, tval = m.group(1).lower(), m.group(2).lower(), m.group(3).strip().strip('"').lower()
        if ns != "*" and ns != tns:
            continue
        if pred != "*" and pred != tpred:
            continue
        if value is not None and value != tval and value != clean_tag(t).split("=", 1)[1]:
            continue
        return True
    return False


# -- sizes ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Size:
    extra: str      # the suffix of the url_X / width_X / height_X extras
    suffix: str     # the file name suffix ("" for Medium 500, which has none)
    label: str      # getSizes label
    edge: int       # longest edge in pixels
    square: bool = False
    code: str = ""  # the code in the "url" (sizes page) of getSizes

    @property
    def page_code(self) -> str:
        return self.code or self.extra


# The size ladder (flickr.com/services/api/misc.urls.html). Quirks copied: the extra
# "url_sq" is the file suffix "_s"; "url_s" (Small 240) is the file suffix "_m"; "url_m"
# (Medium 500) has no suffix; "url_l" (Large 1024) is the file suffix "_b".
SIZES = (
    Size("sq", "s", "Square", 75, True, "sq"),
    Size("q", "q", "Large Square", 150, True, "q"),
    Size("t", "t", "Thumbnail", 100),
    Size("s", "m", "Small", 240, code="s"),
    Size("n", "n", "Small 320", 320),
    Size("w", "w", "Small 400", 400),
    Size("m", "", "Medium", 500, code="m"),
    Size("z", "z", "Medium 640", 640),
    Size("c", "c", "Medium 800", 800),
    Size("l", "b", "Large", 1024, code="l"),
    Size("h", "h", "Large 1600", 1600),
    Size("k", "k", "Large 2048", 2048),
    Size("3k", "3k", "X-Large 3K", 3072),
    Size("4k", "4k", "X-Large 4K", 4096),
    Size("5k", "5k", "X-Large 5K", 5120),
    Size("6k", "6k", "X-Large 6K", 6144),
)
SIZE_BY_EXTRA = {s.extra: s for s in SIZES}
SIZE_BY_SUFFIX = {s.suffix: s for s in SIZES}

#: Since 2025-05-15 free accounts cannot download originals or any size above 1024 px
#: (../shared/SERVICES.md, "Originals").
FREE_MAX_EDGE = 1024


def size_dims(p: FakePhoto, s: Size) -> tuple[int, int] | None:
    """(width, height) of a size of this photo, or None when Flickr has no such size
    (sizes are only made below the original's longest edge; squares always)."""
    if s.square:
        return s.edge, s.edge
    w, h = max(1, int(p.o_width)), max(1, int(p.o_height))
    longest = max(w, h)
    if longest <= s.edge:
        return None
    scale = s.edge / longest
    return max(1, round(w * scale)), max(1, round(h * scale))


def size_allowed(s: Size, pro: bool) -> bool:
    return pro or s.edge <= FREE_MAX_EDGE


def size_url(host: str, p: FakePhoto, s: Size) -> str:
    # live.staticflickr.com/{server}/{id}_{secret}_{suffix}.jpg (misc.urls.html); sizes are always JPEG
    suffix = f"_{s.suffix}" if s.suffix else ""
    return f"{host}/{p.server}/{p.id}_{p.secret}{suffix}.jpg"


def original_url(host: str, p: FakePhoto) -> str:
    # live.staticflickr.com/{server}/{id}_{o-secret}_o.{o-format} (misc.urls.html, SERVICES.md).
    # For a video, url_o is its still frame (a JPEG): the video itself is the getSizes entry
    # "Video Original" (SERVICES.md, "Video originals").
    ext = "jpg" if p.media == "video" else p.originalformat
    return f"{host}/{p.server}/{p.id}_{p.originalsecret}_o.{ext}"


#: Video renditions in getSizes (flickr.com/services/api/flickr.photos.getSizes.html, video entries):
#: (label, kind in the play URL, width of the rendition or None for the original's own size)
VIDEO_RENDITIONS = (
    ("Site MP4", "site", 640),
    ("Mobile MP4", "mobile", 480),
    ("HD MP4", "hd", 1280),
)


def video_url(host: str, nsid: str, p: FakePhoto, kind: str) -> str:
    # www.flickr.com/photos/{user}/{id}/play/{kind}/{secret}/ - the original uses the original secret
    secret = p.originalsecret if kind == "orig" else p.secret
    return f"{host}/photos/{nsid}/{p.id}/play/{kind}/{secret}/"


def rendition_dims(p: FakePhoto, width: int | None) -> tuple[int, int] | None:
    w, h = max(1, int(p.o_width)), max(1, int(p.o_height))
    if width is None:
        return w, h
    if width > w:
        return None
    return width, max(1, round(h * width / w))


def page_url(nsid: str, pid: str) -> str:
    return f"https://www.flickr.com/photos/{nsid}/{pid}/"
