"""FakeICloudShared: the public shared-album web API of iCloud (``pNN-sharedstreams.icloud.com``:
``webstream`` and ``webasseturls``) and the content host that serves the derivatives, as one
HTTPS server on loopback. No sign-in, as on the real service.

Every behaviour is listed with its source in README.md beside this file.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from ..pictures import jpeg, picture, video
from ..server import FakeServer, Request, Response

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Apple's reference date: NSDate / CFAbsoluteTime count seconds from 2001-01-01 UTC (seed 000:
#: "Apple epoch (seconds since 2001-01-01)")
APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=timezone.utc)
_HOST = re.compile(r"^p(\d+)-sharedstreams\.icloud\.com$", re.I)
_STREAM_PATH = re.compile(r"^/([A-Za-z0-9]+)/sharedstreams/(webstream|webasseturls)/?$")
_CONTENT_PATH = re.compile(r"^/S/([A-Za-z0-9_-]+)/([^/]*)$")
#: photo derivatives: the small one the web page shows in its grid (342 px long edge in the
#: captures of llun.me "iCloud Photos shared album" and icloud-biff PROTOCOL.md's 384)
THUMB_EDGE = 342


def base62(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 62 + BASE62.index(ch)
    return n


def partition_of(token: str) -> int:
    """The partition the album's token names: base62 of token[1] when the token starts
    with 'A', else of token[1:3] (ghostops/ICloud-Shared-Album src/baseUrl.ts; llun.me)."""
    return base62(token[1]) if token[0] == "A" else base62(token[1:3])


def host_of(partition: int) -> str:
    # "p" + two digits at least: p01, p37, p64 (baseUrl.ts pads below 10 with one zero)
    return f"p{partition:02d}-sharedstreams.icloud.com"


def apple_seconds(dt: datetime) -> str:
    """A date as Apple-epoch seconds, the second form seed 000 saw in dateCreated /
    batchDateCreated. Sent as a string like every other number of this API."""
    return str(int((dt - APPLE_EPOCH).total_seconds()))


def iso_z(dt: datetime) -> str:
    # "2016-11-03T12:49:49Z" (llun.me capture)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_token(partition: int) -> str:
    """A token naming ``partition``: 'A' + one base62 digit below 62, else 'B' + two."""
    tail = "".join(secrets.choice(BASE62) for _ in range(12))
    if partition < 62:
        return "A" + BASE62[partition] + tail
    return "B" + BASE62[partition // 62] + BASE62[partition % 62] + tail


def new_guid() -> str:
    return str(uuid.uuid4()).upper()


@dataclass
class Derivative:
    key: str                  # "342", "2048", "PosterFrame", "720p", "360p"
    width: int
    height: int
    data: bytes
    checksum: str
    content_type: str
    filename: str


@dataclass
class SharedPhoto:
    guid: str
    batch_guid: str
    taken: datetime
    batch_date: datetime
    date_form: str            # "iso" or "apple"
    caption: str
    contributor_first: str
    contributor_last: str
    video: bool
    derivatives: dict = field(default_factory=dict)   # key -> Derivative

    @property
    def largest(self) -> Derivative:
        still = [d for d in self.derivatives.values() if d.key != "PosterFrame"]
        return max(still, key=lambda d: d.width * d.height)

    def wire(self) -> dict:
        """The photo as webstream lists it: every number a string (llun.me capture; icloud-biff
        PROTOCOL.md; ghostops api.ts converts width, height, fileSize with Number())."""
        date = iso_z if self.date_form == "iso" else apple_seconds
        big = self.largest
        out = {
            "batchGuid": self.batch_guid,
            "derivatives": {d.key: {"fileSize": str(len(d.data)), "checksum": d.checksum,
                                    "width": str(d.width), "height": str(d.height)}
                            for d in self.derivatives.values()},
            "contributorLastName": self.contributor_last,
            "batchDateCreated": date(self.batch_date),
            "dateCreated": date(self.taken),
            "contributorFirstName": self.contributor_first,
            "photoGuid": self.guid,
            "contributorFullName": f"{self.contributor_first} {self.contributor_last}".strip(),
            "width": str(big.width),
            "caption": self.caption,
            "height": str(big.height),
        }
        if self.video:
            # "mediaAssetType": "video" marks a video; its derivatives are "PosterFrame" (a JPEG
            # still), "360p" and "720p" (Apple's MediaStream framework: videoType PosterFrame /
            # 360p / 720p; the shared-album proxies that skip "PosterFrame" to find the video)
            out["mediaAssetType"] = "video"
        return out


class SharedAlbum:
    """One shared album. Changes go through these methods (they move the stream's ctag)."""

    def __init__(self, fake: "FakeICloudShared", token: str, name: str, owner_first: str, owner_last: str,
                 home_partition: int):
        self.fake = fake
        self.token = token
        self.name = name
        self.owner_first = owner_first
        self.owner_last = owner_last
        self.home_partition = home_partition
        self.photos: dict[str, SharedPhoto] = {}
        self.removed: dict[str, SharedPhoto] = {}
        self._run = str(uuid.uuid4())
        self._serial = 1
        self._cached: tuple[str, bytes] | None = None   # (ctag, webstream body) of the last answer

    # -- the stream's version ------------------------------------------------------------------------
    @property
    def ctag(self) -> str:
        """Changes with every change to the album and only then. Its shape copies the
        capture in llun.me ("FT=-@RU=05cd8aa0-...@S=16559"): S grows with each change."""
        return f"FT=-@RU={self._run}@S={self._serial}"

    def _changed(self) -> None:
        self._serial += 1

    @property
    def home_host(self) -> str:
        return host_of(self.home_partition)

    # -- contents --------------------------------------------------------------------------------------
    def add_photo(self, data: bytes | None = None, *, guid: str | None = None, size: tuple[int, int] = (320, 240),
                  taken: datetime | None = None, batch_date: datetime | None = None, batch_guid: str | None = None,
                  date_form: str = "iso", caption: str = "", contributor: tuple[str, str] = ("Alex", "Doe"),
                  filename: str | None = None) -> str:
        """A photo shared into the album; its photoGuid. ``data`` (a JPEG) is the largest
        derivative exactly as served, else one is drawn at ``size``; a smaller one
        (342 px long edge) is made from it when the picture is larger than that."""
        from PIL import Image

        if date_form not in ("iso", "apple"):
            raise ValueError("date_form is 'iso' or 'apple'")
        guid = guid or new_guid()
        # a minute apart by default, as photos shared one after another are: one shared capture
        # second makes every pair a possible edit of each other, and resolve then asks about a
        # pair of random pictures that happen to look alike (a test that expects uploads flaked)
        taken = taken or datetime(2019, 7, 4, 10, 0, 0, tzinfo=timezone.utc) + timedelta(
            minutes=len(self.photos) + len(self.removed))
        if data is None:
            data = jpeg(guid, size, taken=None, make=None, model=None)
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            im = im.convert("RGB")
            ders = [self._derivative(guid, str(max(w, h)), w, h, data, "image/jpeg", filename or f"IMG_{guid[:4]}.JPG")]
            if max(w, h) > THUMB_EDGE:
                scale = THUMB_EDGE / max(w, h)
                tw, th = max(1, round(w * scale)), max(1, round(h * scale))
                small = im.resize((tw, th))
                out = io.BytesIO()
                small.save(out, "JPEG", quality=80)
                ders.insert(0, self._derivative(guid, str(THUMB_EDGE), tw, th, out.getvalue(), "image/jpeg",
                                                 filename or f"IMG_{guid[:4]}.JPG"))
        return self._add(SharedPhoto(
            guid=guid, batch_guid=batch_guid or new_guid(), taken=taken,
            batch_date=batch_date or self.fake.now(), date_form=date_form, caption=caption,
            contributor_first=contributor[0], contributor_last=contributor[1], video=False,
            derivatives={d.key: d for d in ders}))

    def add_video(self, *, guid: str | None = None, size: tuple[int, int] = (1280, 720), taken: datetime | None = None,
                  batch_date: datetime | None = None, date_form: str = "iso", caption: str = "",
                  contributor: tuple[str, str] = ("Alex", "Doe"), data_720p: bytes | None = None) -> str:
        """A video shared into the album: a poster frame (JPEG), a 720p and a 360p rendition
        (shared videos are at most 720p: SERVICES.md, Apple's shared-album limits)."""
        guid = guid or new_guid()
        taken = taken or datetime(2020, 8, 1, 12, 0, 0, tzinfo=timezone.utc)
        w, h = size
        scale720 = min(1.0, 720 / min(w, h))
        w7, h7 = round(w * scale720), round(h * scale720)
        w3, h3 = round(w7 / 2), round(h7 / 2)
        poster = io.BytesIO()
        picture(guid, (max(4, w7 // 20), max(4, h7 // 20))).save(poster, "JPEG", quality=80)
        ders = [
            self._derivative(guid, "PosterFrame", w7, h7, poster.getvalue(), "image/jpeg", f"IMG_{guid[:4]}.JPG"),
            self._derivative(guid, "360p", w3, h3, video(guid + ":360", (w3, h3), created=taken), "video/mp4",
                             f"IMG_{guid[:4]}.mp4"),
            self._derivative(guid, "720p", w7, h7, data_720p or video(guid + ":720", (w7, h7), created=taken),
                             "video/mp4", f"IMG_{guid[:4]}.mp4"),
        ]
        return self._add(SharedPhoto(
            guid=guid, batch_guid=new_guid(), taken=taken, batch_date=batch_date or self.fake.now(),
            date_form=date_form, caption=caption, contributor_first=contributor[0],
            contributor_last=contributor[1], video=True, derivatives={d.key: d for d in ders}))

    def _derivative(self, guid, key, w, h, data, ctype, filename) -> Derivative:
        # the checksum is an opaque id, not a hash of the bytes (SERVICES.md): it also depends on
        # the photo, so two photos with the same bytes have different checksums; 42 characters
        # starting "01" like the captured ones ("01f4ef240d7581f208b76b2498789ba759bee245be")
        digest = hashlib.sha1(guid.encode() + key.encode() + data).hexdigest()
        return Derivative(key, w, h, data, "01" + digest, ctype, filename)

    def _add(self, photo: SharedPhoto) -> str:
        with self.fake.lock:
            if photo.guid in self.photos:
                raise ValueError(f"photo {photo.guid} is already in the album")
            self.photos[photo.guid] = photo
            self.fake._by_checksum.update({d.checksum: (self.token, photo.guid, d.key)
                                           for d in photo.derivatives.values()})
            self._changed()
        return photo.guid

    def remove_photo(self, guid: str) -> None:
        with self.fake.lock:
            self.removed[guid] = self.photos.pop(guid)
            self._changed()

    def replace_data(self, guid: str, data: bytes) -> None:
        """Give a photo new bytes under the same photoGuid (new derivatives and checksums). Not something
        the album's owner can do on iCloud (a re-shared photo gets a new guid): the connector contract's
        "change" hook, so a connector is seen to follow new bytes under a known id."""
        with self.fake.lock:
            old = self.photos[guid]
        fresh = SharedAlbum(self.fake, "-", "-", "", "", 0)
        fresh.add_photo(data, guid=guid, taken=old.taken, batch_date=old.batch_date, date_form=old.date_form,
                        caption=old.caption, contributor=(old.contributor_first, old.contributor_last))
        new = fresh.photos[guid]
        with self.fake.lock:
            new.batch_guid = old.batch_guid
            self.photos[guid] = new
            self.fake._by_checksum.update({d.checksum: (self.token, guid, d.key) for d in new.derivatives.values()})
            self._changed()

    def set_caption(self, guid: str, caption: str) -> None:
        with self.fake.lock:
            self.photos[guid].caption = caption
            self._changed()

    def rename(self, name: str) -> None:
        with self.fake.lock:
            self.name = name
            self._changed()

    def relocate(self, partition: int) -> None:
        """The album now lives on another partition: requests to any other host answer 330."""
        with self.fake.lock:
            self.home_partition = partition

    def populate(self, n: int, videos_every: int = 0, size: tuple[int, int] = (48, 36)) -> list[str]:
        """n small photos (every ``videos_every``-th a video), alternating the two date forms."""
        out = []
        base = datetime(2015, 1, 1, tzinfo=timezone.utc)
        for i in range(n):
            taken = base + timedelta(hours=7 * i)
            form = "iso" if i % 2 == 0 else "apple"
            if videos_every and i % videos_every == videos_every - 1:
                out.append(self.add_video(taken=taken, date_form=form, size=(640, 360)))
            else:
                out.append(self.add_photo(size=size, taken=taken, date_form=form))
        return out

    def stream(self, with_photos: bool = True) -> dict:
        """The webstream document (llun.me capture; ghostops types.ts Metadata)."""
        photos = [p.wire() for p in self.photos.values()] if with_photos else []
        return {"userLastName": self.owner_last, "streamCtag": self.ctag, "itemsReturned": str(len(photos)),
                "locations": {}, "userFirstName": self.owner_first, "streamName": self.name, "photos": photos,
                "items": {}}


class FakeICloudShared(FakeServer):
    """The shared-album hosts and the content host on one HTTPS port. See README.md."""

    name = "fake-icloud-shared"

    def __init__(self, url_lifetime: float = 3600.0, max_guids: int = 25, ctag_match: str = "empty"):
        super().__init__(tls=True)
        if ctag_match not in ("empty", "full"):
            raise ValueError("ctag_match is 'empty' or 'full'")
        #: seconds a webasseturls URL stays valid (url_expiry ~1 hour after the call: the llun.me
        #: capture's e=/url_expiry; "Signed URLs expire in roughly one hour")
        self.url_lifetime = url_lifetime
        #: the most photoGuids one webasseturls call takes (clients send 25: ghostops index.ts
        #: chunk(photoGuids, 25); SERVICES.md "batches of about 25")
        self.max_guids = max_guids
        #: what webstream answers when the streamCtag sent equals the current one (see README)
        self.ctag_match = ctag_match
        self.albums: dict[str, SharedAlbum] = {}
        self.downloads: list[tuple[str, str]] = []    # (photoGuid, derivative key) served
        self.redirects = 0                             # 330 answers given
        self._by_checksum: dict[str, tuple[str, str, str]] = {}
        self._key = secrets.token_bytes(16)
        self._offset = 0.0
        self._clock_lock = threading.Lock()

    # -- time ----------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), timezone.utc)

    def time(self) -> float:
        with self._clock_lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on (asset URLs expire by it)."""
        with self._clock_lock:
            self._offset += seconds

    # -- albums ----------------------------------------------------------------------------------------
    def create_album(self, name: str = "Family", *, token: str | None = None, partition: int = 37,
                     home_partition: int | None = None, owner: tuple[str, str] = ("Alex", "Doe")) -> SharedAlbum:
        """A shared album with a public website. ``partition`` is what its token names;
        ``home_partition`` is where it lives (default: another partition than the token's, so
        the first call to the computed host answers 330, as Apple's do since 2024)."""
        token = token or new_token(partition)
        computed = partition_of(token)
        home = home_partition if home_partition is not None else (computed + 1 if computed < 99 else computed - 1)
        album = SharedAlbum(self, token, name, owner[0], owner[1], home)
        with self.lock:
            self.albums[token] = album
        return album

    def url_for(self, album: SharedAlbum) -> str:
        """The album's public address as a person copies it."""
        return f"https://www.icloud.com/sharedalbum/#{album.token}"

    @property
    def endpoint(self) -> str:
        """What ``--endpoint sharedstreams=`` should be: scheme://host:port of this fake."""
        return self.url

    # -- routing -----------------------------------------------------------------------------------------
    def known_host(self, name: str) -> bool:
        return bool(_HOST.match(name)) or name.lower() == "cvws.icloud-content.com"

    def endpoint_of(self, req: Request) -> str:
        m = _STREAM_PATH.match(req.path)
        if m:
            return m.group(2)
        if _CONTENT_PATH.match(req.path):
            return "download"
        return "other"

    def fault_response(self, status: int, headers: list) -> Response:
        return Response(status, b"", "text/html", list(headers))

    def handle(self, req: Request) -> Response:
        m = _STREAM_PATH.match(req.path)
        if m:
            if req.method != "POST":
                return Response.text("Method Not Allowed", 405)
            return self._stream_call(req, m.group(1), m.group(2))
        if _CONTENT_PATH.match(req.path) and req.method in ("GET", "HEAD"):
            return self._download(req)
        return Response.text("Not Found", 404)

    def _stream_call(self, req: Request, token: str, call: str) -> Response:
        if not req.host:
            # the connector must say which pNN host it means (README "Reaching the hosts")
            return Response.text("this fake serves several hosts: put the host first in the path, "
                                 "e.g. /p37-sharedstreams.icloud.com/TOKEN/sharedstreams/webstream", 421)
        with self.lock:
            album = self.albums.get(token)
            if album is None:
                return Response.text("Not Found", 404)
            if req.host != album.home_host:
                # "since 2024 the first call may answer HTTP 330 with the right host in the JSON
                # field X-Apple-MMe-Host" (SERVICES.md; ghostops redirectedBaseUrl.ts reads it from
                # the body of the 330)
                self.redirects += 1
                return Response.json({"X-Apple-MMe-Host": album.home_host}, status=330)
            try:
                body = req.json() or {}
            except ValueError:
                return Response.text("Bad Request", 400)
            if call == "webstream":
                return self._webstream(album, body)
            return self._webasseturls(album, body)

    def _webstream(self, album: SharedAlbum, body: dict) -> Response:
        sent = body.get("streamCtag")
        if sent is not None and sent == album.ctag and self.ctag_match == "empty":
            doc = album.stream(with_photos=False)
            return Response.json(doc)
        if album._cached is None or album._cached[0] != album.ctag:
            # the document changes only with the ctag: built once per version (a 5,000-item
            # stream takes ~0.2 s to build, which would otherwise count against the benchmark)
            album._cached = (album.ctag, Response.json(album.stream()).body)
        return Response(200, album._cached[1])

    def _webasseturls(self, album: SharedAlbum, body: dict) -> Response:
        guids = body.get("photoGuids")
        if not isinstance(guids, list):
            return Response.text("Bad Request", 400)
        if len(guids) > self.max_guids:
            return Response.json({"errorCode": "TOO_MANY_GUIDS",
                                  "message": f"at most {self.max_guids} photoGuids a call"}, status=400)
        expires = int(self.time() + self.url_lifetime)
        loc = self.address
        items = {}
        for guid in guids:
            photo = album.photos.get(guid)
            if photo is None:
                continue  # a photo no longer shared is left out, not an error
            for d in photo.derivatives.values():
                items[d.checksum] = {
                    "url_expiry": datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "url_location": loc,
                    "url_path": self._signed_path(d, expires),
                }
        return Response.json({"locations": {loc: {"scheme": "https", "hosts": [loc]}}, "items": items})

    def _signed_path(self, d: Derivative, expires: int) -> str:
        # "/S/<opaque>/<file name>?o=...&v=1&z=...&x=1&a=...&e=<expiry>&r=...&s=<signature>"
        # (the llun.me capture); the opaque part names the checksum here
        sig = hmac.new(self._key, f"{d.checksum}:{expires}".encode(), hashlib.sha256).hexdigest()[:27]
        return (f"/S/{d.checksum}/{quote(d.filename)}?o={secrets.token_urlsafe(16)}&v=1&x=1"
                f"&e={expires}&r={uuid.uuid4()}-13&s={sig}")

    def _download(self, req: Request) -> Response:
        m = _CONTENT_PATH.match(req.path)
        checksum = m.group(1)
        try:
            expires = int(req.query.get("e", ""))
        except ValueError:
            return Response.text("Forbidden", 403)
        sig = hmac.new(self._key, f"{checksum}:{expires}".encode(), hashlib.sha256).hexdigest()[:27]
        if not hmac.compare_digest(sig, req.query.get("s", "")):
            return Response.text("Forbidden", 403)
        if self.time() > expires:
            # an expired link is refused (the fake's choice of status: the sources say only that
            # the URLs are short-lived)
            return Response.text("Forbidden: the link has expired", 403)
        with self.lock:
            where = self._by_checksum.get(checksum)
            album = self.albums.get(where[0]) if where else None
            photo = album.photos.get(where[1]) if album else None
            if photo is None:
                return Response.text("Not Found", 404)
            d = photo.derivatives[where[2]]
            self.downloads.append((photo.guid, d.key))
        return Response(200, d.data, d.content_type)
