"""An iCloud shared album as a source: ``--type icloud-shared``.

The album's public web API (client.py) gives every photo's derivatives, never the original
(long edge about 2048 px, video 720p: SERVICES.md), so each copy is recorded as what it is:
quality ``high`` for the largest photo derivative and the 720p video, ``medium`` when only a
smaller one is offered, never ``original``. A photo the person also has at full quality
elsewhere is then a lower-quality instance of it (resolve's quality variants).

Listing: one ``webstream`` call gives every photo with its derivatives' opaque checksums (the
content key: discover downloads an item only when its checksum changes), caption, contributor and
dates. The cursor keeps the stream's ctag and the host the album answers on: a rerun whose ctag
is unchanged lists nothing (one call, no 330); a changed ctag lists the whole album, which is then
complete, so a photo removed from the album is marked missing (never deleted from the library).
Download addresses come from ``webasseturls``, 25 photos a call, fetched when the first of them
is read and used until they are about to expire.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import threading
import time
from typing import BinaryIO, ClassVar

from ... import credentials
from ...errors import AuthError, ConfigError, MediaError, NotMedia, SourceError
from ...model import Metadata
from ...options import Option
from ..base import Capabilities, Connector, ConnectorContext, ItemRef, Listing, ServiceItem, endpoints_option, retry_options, timeout_option
from .client import MAX_GUIDS, SharedAlbumClient, iso_utc, number, parse_date, token_of

#: the cursor's layout; another version (or none) lists the whole album
CURSOR_VERSION = 1
#: an address is not used in its last minute (the download may take that long to start)
URL_MARGIN = 60.0
#: keys of video derivatives in order of preference (Apple's MediaStream names; 720p is the most shared)
VIDEO_KEYS = ("720p", "540p", "480p", "360p")


def _best(entry: dict) -> tuple[str, dict, str]:
    """(derivative key, its entry, quality) of the copy to keep: the largest photo derivative, or
    the best video rendition (the poster frame is never the video)."""
    ders = {str(k): v for k, v in (entry.get("derivatives") or {}).items() if isinstance(v, dict)}
    if str(entry.get("mediaAssetType") or "").lower() == "video":
        videos = {k: v for k, v in ders.items() if k.lower() != "posterframe" and k.lower().endswith("p")
                  and number(k[:-1]) is not None}
        if not videos:
            raise SourceError("iCloud offers no video rendition of this video (only its poster frame)")
        key = max(videos, key=lambda k: number(k[:-1]) or 0)
        return key, videos[key], "high" if (number(key[:-1]) or 0) >= 720 else "medium"
    stills = {k: v for k, v in ders.items() if k.lower() != "posterframe"}
    if not stills:
        raise SourceError("iCloud offers no file of this photo")
    key = max(stills, key=lambda k: ((number(stills[k].get("width")) or 0) * (number(stills[k].get("height")) or 0),
                                     number(stills[k].get("fileSize")) or 0))
    big = stills[key]
    # the largest derivative is what iCloud keeps of a shared photo (long edge up to ~2048; the captures
    # show 2049 and 2304); a photo whose largest is a grid thumbnail is kept, and said to be one
    edge = max(number(big.get("width")) or 0, number(big.get("height")) or 0)
    return key, big, "high" if edge > 1024 or len(stills) == 1 else "medium"


class _Album:
    """What one process knows of one album, shared by every connector built for it (discover's and
    replicate's in one watch cycle): the host it answers on, its last stream, the download addresses.
    So replicate, right after discover, neither reads the stream again nor asks for addresses again."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.host: str | None = None
        self.entries: dict[str, dict] = {}
        self.order: list[str] = []
        self.position: dict[str, int] = {}
        self.name = ""
        #: checksum -> (address, expiry) from webasseturls
        self.urls: dict[str, tuple[str, float]] = {}


_ALBUMS: dict[tuple[str, str | None], _Album] = {}
_ALBUMS_LOCK = threading.Lock()


def _album(token: str, endpoint: str | None) -> _Album:
    with _ALBUMS_LOCK:
        return _ALBUMS.setdefault((token, endpoint), _Album())


class ICloudSharedConnector(Connector):
    """An iCloud shared album, read through its public website (no sign-in; derivatives, not originals)."""

    type_name = "icloud-shared"
    capabilities = Capabilities()
    options: ClassVar[tuple[Option, ...] | None] = (
        Option("url", "The album's public address (https://www.icloud.com/sharedalbum/#TOKEN) or its token; "
               "kept in your credentials folder, not in the library: anyone with it sees the album.",
               secret=True, required=True),
        *retry_options(6, 1.0), timeout_option(60),
        endpoints_option(("sharedstreams",), "the shared-stream hosts (sharedstreams=scheme://host[:port] stands "
                                             "for every pNN-sharedstreams.icloud.com)"),
    )

    def __init__(self, name: str, config: dict, env: ConnectorContext) -> None:
        super().__init__(name, config, env)
        retry = config.get("retry") or {}
        self.attempts = int(retry.get("attempts", 6))
        self.backoff = float(retry.get("base_seconds", 1.0))
        self.timeout = float(config.get("timeout_seconds", 60))
        self.endpoint = (config.get("endpoints") or {}).get("sharedstreams") or None
        self._client: SharedAlbumClient | None = None
        self._shared: _Album | None = None
        #: an item could not be read this run: the ctag is not kept, so the next run lists it again
        self._failed = False

    # -- config ------------------------------------------------------------------------------------
    @classmethod
    def check_secrets(cls, secrets: dict, existing: dict | None) -> dict:
        merged = super().check_secrets(secrets, existing)
        return {**merged, "url": f"https://www.icloud.com/sharedalbum/#{token_of(str(merged['url']))}"}

    @classmethod
    def check_config(cls, config: dict, library_root) -> dict:
        endpoint = (config.get("endpoints") or {}).get("sharedstreams")
        if endpoint is not None:
            from urllib.parse import urlsplit

            parts = urlsplit(str(endpoint))
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ConfigError(f"--endpoint sharedstreams={endpoint}: give scheme://host[:port] (it stands for "
                                  "every pNN-sharedstreams.icloud.com)")
        return config

    @property
    def client(self) -> SharedAlbumClient:
        if self._client is None:
            saved = credentials.load(self.env.ctx, "services", self.name) or {}
            if not saved.get("url"):
                raise AuthError(f"no shared album address saved for service {self.name}; run: photosync auth "
                                f"{self.name} --url https://www.icloud.com/sharedalbum/#TOKEN")
            token = token_of(str(saved["url"]))
            self._shared = _album(token, self.endpoint)
            self._client = SharedAlbumClient(token, endpoint=self.endpoint, host=self._shared.host,
                                             attempts=self.attempts, backoff=self.backoff, timeout=self.timeout)
        return self._client

    @property
    def album(self) -> _Album:
        _ = self.client
        assert self._shared is not None
        return self._shared

    @property
    def calls(self) -> int:
        return self._client.calls if self._client is not None else 0

    # -- listing -------------------------------------------------------------------------------------
    def _read_stream(self) -> str:
        album = self.album
        with album.lock:
            doc = self.client.webstream()
            entries: dict[str, dict] = {}
            order: list[str] = []
            for entry in doc.get("photos") or []:
                guid = entry.get("photoGuid") if isinstance(entry, dict) else None
                if not guid or guid in entries:
                    continue
                entries[str(guid)] = entry
                order.append(str(guid))
            album.entries, album.order = entries, order
            album.position = {g: i for i, g in enumerate(order)}
            album.name = str(doc.get("streamName") or "")
            album.host = self.client.host
        return str(doc.get("streamCtag") or "")

    def list(self, *, cursor=None, since=None, full_scan: bool = False) -> Listing:
        state = _cursor(cursor)
        if state.get("host") and self.client.host != state["host"]:
            self.client.host = state["host"] if _valid_host(state["host"]) else self.client.host
        ctag = self._read_stream()
        self._failed = False
        host = self.client.host

        def final() -> str:
            kept = {"v": CURSOR_VERSION, "host": host}
            if ctag and not self._failed:
                kept["ctag"] = ctag
            return json.dumps(kept, sort_keys=True)

        if ctag and state.get("ctag") == ctag and since is None and not full_scan:
            # nothing changed in the album since the last run that read all of it
            return Listing([], complete=False, cursor_fn=final)
        refs = []
        album = self.album
        for guid in album.order:
            entry = album.entries[guid]
            try:
                key, der, _quality = _best(entry)
            except SourceError:
                key, der = "", {}
            checksum = str(der.get("checksum") or "") or None
            taken = parse_date(entry.get("dateCreated"))
            added = parse_date(entry.get("batchDateCreated"))
            fingerprint = hashlib.sha1(json.dumps(
                [key, checksum, der.get("fileSize"), entry.get("caption"), entry.get("dateCreated"),
                 entry.get("contributorFullName"), album.name], sort_keys=True).encode()).hexdigest()[:24]
            refs.append(ItemRef(id=guid, fingerprint=fingerprint, content_key=checksum, size=number(der.get("fileSize")),
                                modified=added or taken,
                                extra=json.dumps({"entry": entry, "album": album.name}).encode()))
        # a listing since a date cannot say what else is gone (iCloud cannot list by date: all of it)
        return Listing(refs, complete=since is None, cursor_fn=final)

    # -- reading items -------------------------------------------------------------------------------
    def where(self, item_id: str) -> str:
        return f"{self.name}:{item_id}"

    def describe(self, ref: ItemRef) -> ServiceItem:
        try:
            return self._describe(ref)
        except SourceError:
            self._failed = True  # listed again next run (the ctag is not kept)
            raise

    def _describe(self, ref: ItemRef) -> ServiceItem:
        data = json.loads(ref.extra or b"{}")
        entry, album = data.get("entry") or {}, str(data.get("album") or "")
        if not entry:
            raise SourceError("no listing data for this item (list it again)")
        key, der, quality = _best(entry)
        video = str(entry.get("mediaAssetType") or "").lower() == "video"
        info = None
        size = None
        warnings: list[str] = []
        if ref.known_hash:  # only what iCloud says changed (a caption): the bytes were hashed before
            content_hash = ref.known_hash
        else:
            from ...media.ingest import ingest

            with self._fetch(ref.id, str(der.get("checksum") or "")) as f:
                try:
                    media = ingest(f, f"{ref.id}.{'mp4' if video else 'jpg'}")
                except NotMedia:
                    raise MediaError("the file iCloud gives is not a photo or video photosync can read") from None
            stated = number(der.get("fileSize"))
            if stated is not None and stated != media.size:
                raise SourceError(f"the download has {media.size} bytes, iCloud says {stated}; not recorded, "
                                  "read again next run")
            content_hash, size, info = media.content_hash, media.size, media.info
            if info.problem:
                warnings.append(info.problem)
        return ServiceItem(ref=ref, content_hash=content_hash, size=size,
                           metadata=self._metadata(entry, album, der, info, video), quality=quality,
                           visibility=None, url=None, look=info.look if info is not None else None,
                           warnings=tuple(warnings))

    def _metadata(self, entry: dict, album: str, der: dict, info, video: bool) -> Metadata:
        import dataclasses

        from ...media.ingest import metadata_from_probe

        md = metadata_from_probe(info) if info is not None else Metadata()
        taken = parse_date(entry.get("dateCreated"))
        caption = str(entry.get("caption") or "").strip() or None
        contributor = str(entry.get("contributorFullName") or "").strip() or " ".join(
            p for p in (str(entry.get("contributorFirstName") or ""), str(entry.get("contributorLastName") or ""))
            if p).strip() or None
        width, height = md.width, md.height
        if not (width and height):  # not probed (a known hash): what iCloud says of the file kept
            width, height = number(der.get("width")), number(der.get("height"))
        if not video and md.taken_date_source in ("exif", "exif_digitized"):
            # the camera's own date in the photo's bytes: the local time a camera original elsewhere says
            # too, where iCloud's dateCreated is the instant in UTC (a copy of a photo taken at 07:08 in
            # UTC+2 says 05:08Z: compared with the original's 07:08 it would look like another photo)
            date, source = md.taken_date, md.taken_date_source
        elif info is None and not video:
            # not read (a known hash: only the caption or album changed): discover keeps the recorded date,
            # so it does not flip between the file's and iCloud's
            date, source = None, None
        else:
            # a video's rendition is a re-encoding (its own QuickTime date may be when it was made), and a
            # photo without a date of its own: iCloud's date
            date = iso_utc(taken) if taken is not None else md.taken_date
            source = "service" if taken is not None else md.taken_date_source
        return dataclasses.replace(
            md,
            taken_date=date,
            taken_date_source=source,
            filename=None,  # the album keeps no file names
            caption=caption,
            media_type="video" if video else "photo",
            width=width or None,
            height=height or None,
            albums=(album,) if album else (),
            contributor=contributor,
        )

    def _fetch(self, guid: str, checksum: str):
        """The derivative's bytes (a temporary file); an address that stopped working (expired:
        403) is asked for again once."""
        for attempt in (0, 1):
            url = self._url(guid, checksum, fresh=attempt == 1)
            try:
                return self.client.download(url)
            except SourceError as e:
                if attempt == 0 and "(HTTP 4" in str(e):
                    continue
                raise
        raise SourceError("unreachable")  # pragma: no cover (the loop returns or raises)

    def _url(self, guid: str, checksum: str, fresh: bool = False) -> str:
        if not checksum:
            raise SourceError("iCloud gives no checksum for this item's file")
        album = self.album
        with album.lock:
            hit = album.urls.get(checksum)
            if hit is not None and not fresh and hit[1] - URL_MARGIN > time.time():
                return hit[0]
            batch = self._batch(guid)
            album.urls.update(self.client.asset_urls(batch))
            hit = album.urls.get(checksum)
        if hit is None:
            raise SourceError("no longer in the shared album (iCloud gives no address for it)")
        return hit[0]

    def _batch(self, guid: str) -> builtins.list[str]:
        """``guid`` and the other photos of its window of the stream (the 25 it falls among, in the
        listing's order) whose address is not known yet: one call. Discover reads items in the
        listing's order on several threads, so whichever of a window's photos a thread asks for
        first, the window's addresses come in that one call (from ``guid`` onwards only, a thread
        that reached the second photo first made a second call for the first)."""
        album = self.album
        out = [guid]
        start = album.position.get(guid)
        if start is None:
            return out
        now = time.time()
        first = start - start % MAX_GUIDS
        for other in album.order[first:first + MAX_GUIDS]:
            if other == guid:
                continue
            try:
                _key, der, _q = _best(album.entries[other])
            except SourceError:
                continue
            hit = album.urls.get(str(der.get("checksum") or ""))
            if hit is None or hit[1] - URL_MARGIN <= now:
                out.append(other)
        return out

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        album = self.album
        with album.lock:  # one stream read for the threads that open items at once
            entry = album.entries.get(item_id)
            if entry is None:
                self._read_stream()
                entry = album.entries.get(item_id)
        if entry is None:
            raise SourceError(f"{self.where(item_id)}: not in the shared album (removed, or never there)")
        _key, der, _q = _best(entry)
        return self._fetch(item_id, str(der.get("checksum") or ""))


def _valid_host(host) -> bool:
    from .client import HOST

    return isinstance(host, str) and bool(HOST.match(host))


def _cursor(cursor) -> dict:
    """The kept state of a cursor (empty when there is none, or it is garbled or of another version)."""
    if not cursor or not isinstance(cursor, str):
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        return {}
    if not isinstance(state, dict) or state.get("v") != CURSOR_VERSION:
        return {}
    return {k: v for k, v in state.items() if isinstance(v, str)}
