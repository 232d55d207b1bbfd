"""google-photos: Google Photos as an upload target, through the Library API.

Since 2025-03-31 the Library API reads only what the app itself created
(developers.google.com/photos/support/updates), so this connector asks for two scopes only,
``photoslibrary.appendonly`` and ``photoslibrary.readonly.appcreateddata``, and lists only the
items and albums photosync made.

Uploading (photos/library/guides/upload-media):

* The bytes go raw to ``v1/uploads`` (``X-Goog-Upload-Protocol: raw``) and come back as an
  upload token; ``mediaItems:batchCreate`` then makes the items, at most 50 a call and one call
  at a time per user (a second one at once answers 429 "concurrent write request": rclone#6920).
  publish sends the bytes of many photos (``send_upload``, in its workers) and creates them in
  batches (``create_uploads``, one thread, a lock): 1,000 photos take 1,000 upload requests and
  20 batchCreate calls.  Google stores API uploads at original quality, privately: the instance
  is recorded ``private`` and ``original``.
* The caption goes as the item's description (under 1,000 characters); the photo's albums are
  albums photosync creates (an app may add only to albums it created) and fills
  (``albums.batchAddMediaItems``, 50 ids a call).
* Never a second copy: the file name sent carries the original's content hash
  (``IMG_1234.ps-<sha256 hex>.JPG``).  Before uploading, publish asks ``find_uploaded``, which reads
  the app-created listing and matches those names, so a run killed between batchCreate and its
  commit (or a lost index) records the item it made instead of uploading again.  The full hash
  (not a prefix plus a size: the Library API reports no size) also lets discover tell what an
  item holds without downloading it, which matters because the API never gives the original
  bytes back (``=d`` is re-encoded without location).  Identical bytes sent again come back as
  the same item (Google dedupes by content), which covers a crash inside batchCreate itself.
* Limits: 200 MB a photo, 20 GB a video (upload-media); a larger file is a service-policy
  conflict, never altered to fit.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

from ...errors import MediaError, NotMedia, PhotosyncError, SourceError
from ...model import Metadata, Photo
from ...net import Transient, retry_after_of, retrying
from ..base import Capabilities, Connector, ItemRef, Listing, ServiceItem
from .client import APPENDONLY, READ_APPCREATED, GoogleClient, GoogleConfig

#: batchCreate and batchAddMediaItems take at most 50 items a call (reference pages)
MAX_BATCH = 50
#: descriptions must be shorter than 1,000 characters (batchCreate reference)
MAX_DESCRIPTION = 999
#: the mark photosync puts in the file names it sends: the original's sha256
MARK = re.compile(r"\.ps-([0-9a-f]{64})(\.[^./]*)?$")
LIST_PAGE = 100
ALBUM_PAGE = 50


def marked_name(photo: Photo) -> str:
    """The file name sent for ``photo``: its own name (or its id) with the content hash in it."""
    from ...stores.naming import blob_ext

    name = (photo.metadata.filename or "").rsplit("/", 1)[-1] or photo.photo_id
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, blob_ext(photo)
    digest = photo.content_hash.split(":", 1)[1]
    stem = stem[:255 - len(digest) - len(ext) - 6]  # a file name is 255 characters at most
    return f"{stem}.ps-{digest}.{ext}" if ext else f"{stem}.ps-{digest}"


def unmarked(filename: str) -> tuple[str, str | None]:
    """(the file name without photosync's mark, the content hash it carries or None)."""
    m = MARK.search(filename)
    if not m:
        return filename, None
    return filename[:m.start()] + (m.group(2) or ""), "sha256:" + m.group(1)


@dataclass
class SentBytes:
    """Bytes on Google's side, not an item yet (an upload token lives a day)."""

    photo: Photo
    token: str
    content_hash: str
    size: int | None
    filename: str


class GooglePhotosConnector(GoogleConfig, Connector):
    """Google Photos as an upload target (Library API): private uploads, photosync's own albums."""

    type_name = "google-photos"
    capabilities = Capabilities(
        upload=True, visibility_levels=("private",),
        # upload-media "Accepted file types and sizes": 200 MB a photo, 20 GB a video
        max_photo_bytes=200 * 1000 * 1000, max_video_bytes=20 * 1000 ** 3,
        upload_batch=MAX_BATCH,
    )
    scopes: ClassVar[tuple[str, ...]] = (APPENDONLY, READ_APPCREATED)

    def __init__(self, name: str, config: dict, env) -> None:
        super().__init__(name, config, env)
        self.client = GoogleClient(name, config, env, self.scopes)
        self._create_lock = threading.Lock()
        self._albums: dict[str, str] | None = None
        self._album_lock = threading.Lock()

    def login(self, ask, no_browser: bool = False) -> str:  # type: ignore[override]  # its login_options only
        return self.client.login(ask, no_browser)

    @property
    def calls(self) -> int:
        return self.client.calls

    # -- listing (what photosync made) -----------------------------------------------------------
    def _walk_items(self):
        lib = self.client.api("library")
        token = None
        while True:
            page = self.client.execute("mediaItems.list", lambda token=token: lib.mediaItems().list(
                pageSize=LIST_PAGE, pageToken=token))
            yield from page.get("mediaItems") or []
            token = page.get("nextPageToken")
            if not token:
                return

    def _walk_albums(self):
        lib = self.client.api("library")
        token = None
        while True:
            page = self.client.execute("albums.list", lambda token=token: lib.albums().list(
                pageSize=ALBUM_PAGE, pageToken=token))
            yield from page.get("albums") or []
            token = page.get("nextPageToken")
            if not token:
                return

    def _album_members(self, album_id: str):
        lib = self.client.api("library")
        token = None
        while True:
            body = {"albumId": album_id, "pageSize": LIST_PAGE}
            if token:
                body["pageToken"] = token
            page = self.client.execute("mediaItems.search", lambda body=body: lib.mediaItems().search(body=body))
            for entry in page.get("mediaItems") or []:
                yield entry["id"]
            token = page.get("nextPageToken")
            if not token:
                return

    def list(self, *, cursor=None, since=None, full_scan: bool = False) -> Listing:
        in_albums: dict[str, list[str]] = {}
        titles = {}
        for album in self._walk_albums():
            titles[album["title"]] = album["id"]
            for item_id in self._album_members(album["id"]):
                in_albums.setdefault(item_id, []).append(album["title"])
        with self._album_lock:
            self._albums = titles
        refs = []
        for entry in self._walk_items():
            entry = {k: v for k, v in entry.items() if k != "baseUrl"}  # it expires; asked again when read
            entry["albums"] = sorted(in_albums.get(entry["id"], []))
            _, content = unmarked(entry.get("filename") or "")
            text = json.dumps(entry, sort_keys=True)
            refs.append(ItemRef(id=entry["id"], fingerprint=hashlib.sha256(text.encode()).hexdigest()[:32],
                                content_key=content, extra=text.encode()))
        # only what photosync made is listed, and an item Google deduplicated into one the person already
        # had is theirs (never listed to the app): a listing never proves an item gone
        return Listing(refs=refs, complete=False)

    # -- items ----------------------------------------------------------------------------------
    def _get(self, item_id: str) -> dict:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", item_id):
            raise SourceError(f"{self.name}:{item_id} is not a Google Photos item id")
        lib = self.client.api("library")
        return self.client.execute("mediaItems.get", lambda: lib.mediaItems().get(mediaItemId=item_id), attempts=3)

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        """What the API gives of the item: ``=d`` (re-encoded, no location) or ``=dv`` (transcoded),
        never the original bytes (SERVICES.md)."""
        entry = self._get(item_id)
        video = "video" in (entry.get("mediaMetadata") or {})
        return self.client.download(entry["baseUrl"] + ("=dv" if video else "=d"))

    def describe(self, ref: ItemRef) -> ServiceItem:
        entry = json.loads(ref.extra or b"{}") or self._get(ref.id)
        name, content = unmarked(entry.get("filename") or "")
        meta = entry.get("mediaMetadata") or {}
        md = Metadata(filename=name or None, caption=entry.get("description") or None,
                      taken_date=(meta["creationTime"].replace("Z", "+00:00") if meta.get("creationTime") else None),
                      taken_date_source="service" if meta.get("creationTime") else None,
                      media_type="video" if "video" in meta else "photo",
                      width=_int(meta.get("width")), height=_int(meta.get("height")),
                      albums=tuple(entry.get("albums") or ()))
        if content is not None:
            # photosync sent these bytes (the name says which) and Google keeps API uploads at original
            # quality; the API cannot give them back, so they are not downloaded to be hashed
            return ServiceItem(ref=ref, content_hash=content, size=None, metadata=md, quality="original",
                               visibility="private", url=entry.get("productUrl"))
        from ...media.ingest import ingest, metadata_from_probe

        with self.open(ref.id) as f:
            try:
                mf = ingest(f, name or ref.id)
            except NotMedia:
                raise MediaError("the file Google gives is not a photo or video photosync can read") from None
        probed = metadata_from_probe(mf.info, filename=name or None)
        md = dataclasses.replace(probed, caption=md.caption, albums=md.albums, location=None, location_source=None,
                                 taken_date=probed.taken_date or md.taken_date,
                                 taken_date_source=probed.taken_date_source or md.taken_date_source)
        # an item photosync did not upload (or not with its mark): only the API's re-encoded copy is known
        return ServiceItem(ref=ref, content_hash=mf.content_hash, size=mf.size, metadata=md, quality="high",
                           visibility="private", url=entry.get("productUrl"), look=mf.info.look,
                           warnings=(mf.info.problem,) if mf.info.problem else ())

    # -- uploads --------------------------------------------------------------------------------
    def uploaded_metadata(self, photo: Photo, visibility: str) -> Metadata:
        md = photo.metadata
        return dataclasses.replace(md, tags=(), caption=_description(md.caption) or None, location=None,
                                   location_source=None)

    def send_upload(self, photo: Photo, stream: BinaryIO, size: int | None, visibility: str) -> SentBytes:
        """The raw bytes to the uploads endpoint: an upload token (nothing is created yet)."""
        import mimetypes

        import requests

        name = marked_name(photo)
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        start = stream.tell() if stream.seekable() else None
        client = self.client
        url = client.endpoints["uploads"]

        def once() -> str:
            if start is not None:
                stream.seek(start)
            client.take()
            try:
                r = client.session().post(url, data=stream, timeout=max(client.timeout, 600), headers={
                    "Content-Type": "application/octet-stream", "X-Goog-Upload-Protocol": "raw",
                    "X-Goog-Upload-Content-Type": mime, "X-Goog-Upload-File-Name": name})
            except requests.RequestException as e:
                if start is None:
                    raise SourceError("upload interrupted and the source cannot be read again") from None
                raise Transient(type(e).__name__) from None
            if r.status_code >= 400:
                try:
                    err = r.json().get("error") or {}
                except ValueError:
                    err = {}
                from ...net import retry_after_seconds

                raise client.classify(r.status_code, str(err.get("status") or ""), str(err.get("message") or r.reason),
                                      "upload", retry_after_seconds(r.headers.get("Retry-After")))
            token = r.text.strip()
            if not token:
                raise Transient("an empty upload token")
            return token

        try:
            # sending bytes creates nothing on Google's side: trying again can never make a second copy
            token = retrying(once, transient=lambda e: isinstance(e, Transient), attempts=client.attempts,
                             base=client.backoff, on_retry=client.retry_note("upload"), retry_after=retry_after_of)
        except Transient as e:
            raise SourceError(f"upload failed after {client.attempts} attempts: {e}") from None
        return SentBytes(photo, token, photo.content_hash, size, name)

    def create_uploads(self, sent: builtins.list[SentBytes]) -> builtins.list[ServiceItem | Exception]:
        """batchCreate for the tokens (50 a call, one call at a time), then the albums; a result
        per entry: the new item, or why it failed (a spent daily quota is raised)."""
        out: builtins.list[ServiceItem | Exception] = []
        with self._create_lock:
            for i in range(0, len(sent), MAX_BATCH):
                out.extend(self._create(sent[i:i + MAX_BATCH]))
        return out

    def _create(self, chunk: builtins.list[SentBytes]) -> builtins.list[ServiceItem | Exception]:
        lib = self.client.api("library")
        body = {"newMediaItems": [{"description": _description(s.photo.metadata.caption),
                                   "simpleMediaItem": {"uploadToken": s.token, "fileName": s.filename}}
                                  for s in chunk]}
        # a retry after a lost answer may create again: Google hands back the same item for the same bytes
        answer = self.client.execute("mediaItems.batchCreate", lambda: lib.mediaItems().batchCreate(body=body))
        results = {r.get("uploadToken"): r for r in answer.get("newMediaItemResults") or []}
        out: builtins.list[ServiceItem | Exception] = []
        made: dict[str, str] = {}
        for s in chunk:
            r = results.get(s.token) or {}
            item = r.get("mediaItem") or {}
            status = r.get("status") or {}
            if not item.get("id") or status.get("code"):
                out.append(SourceError(f"Google did not create the item: {status.get('message') or 'no answer for it'}"))
                continue
            made[s.token] = item["id"]
            out.append(ServiceItem(ref=ItemRef(item["id"], ""), content_hash=s.content_hash, size=s.size,
                                   metadata=self.uploaded_metadata(s.photo, "private"), quality="original",
                                   visibility="private", url=item.get("productUrl")))
        warnings = self._fill_albums([(s.photo, made[s.token]) for s in chunk if s.token in made])
        return [dataclasses.replace(r, warnings=tuple(warnings.get(r.ref.id, ())))
                if isinstance(r, ServiceItem) else r for r in out]

    def upload(self, photo: Photo, stream: BinaryIO, size: int | None, visibility: str) -> ServiceItem:
        result = self.create_uploads([self.send_upload(photo, stream, size, visibility)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    # -- albums ---------------------------------------------------------------------------------
    def _album_id(self, title: str) -> str:
        with self._album_lock:
            if self._albums is None:
                self._albums = {a["title"]: a["id"] for a in self._walk_albums()}
            if title not in self._albums:
                lib = self.client.api("library")
                made = self.client.execute("albums.create", lambda: lib.albums().create(
                    body={"album": {"title": title[:500]}}), attempts=3)
                self._albums[title] = made["id"]
            return self._albums[title]

    def _fill_albums(self, items: builtins.list[tuple[Photo, str]]) -> dict[str, builtins.list[str]]:
        """Put the new items in their photos' albums; item id -> warnings."""
        by_album: dict[str, builtins.list[str]] = {}
        for photo, item_id in items:
            for title in photo.metadata.albums:
                by_album.setdefault(title, []).append(item_id)
        warnings: dict[str, builtins.list[str]] = {}
        lib = self.client.api("library")
        for title, ids in by_album.items():
            try:
                album = self._album_id(title)
            except PhotosyncError as e:
                if not isinstance(e, SourceError):
                    raise
                for i in ids:
                    warnings.setdefault(i, []).append(f"not put in album {title!r} on {self.name}: {e}")
                continue
            for k in range(0, len(ids), MAX_BATCH):
                part = ids[k:k + MAX_BATCH]
                try:
                    self.client.execute("albums.batchAddMediaItems", lambda album=album, part=part: lib.albums().batchAddMediaItems(
                        albumId=album, body={"mediaItemIds": part}), attempts=3)
                except SourceError as e:
                    # all or nothing: one id the app cannot add (an item the person already had, which Google
                    # handed back for the same bytes) fails the call; add the others one by one
                    for i in part:
                        try:
                            self.client.execute("albums.batchAddMediaItems", lambda i=i, album=album: lib.albums().batchAddMediaItems(
                                albumId=album, body={"mediaItemIds": [i]}), attempts=3)
                        except SourceError:
                            warnings.setdefault(i, []).append(
                                f"not put in album {title!r} on {self.name} ({e}; an item Google already held "
                                "for the person cannot be added to an app's album)")
        return warnings

    def complete_upload(self, photo: Photo, item_id: str, visibility: str) -> builtins.list[str]:
        return self._fill_albums([(photo, item_id)]).get(item_id, [])

    def find_uploaded(self, content_hashes: set[str],
                      attempted: dict[str, float] | None = None) -> dict[str, tuple[str, str | None]]:
        """Items photosync made, matched by the content hash in their file names (the listing of
        app-created items has no lag to wait out: ``attempted`` adds nothing)."""
        if not content_hashes:
            return {}
        found: dict[str, tuple[str, str | None]] = {}
        for entry in self._walk_items():
            _, content = unmarked(entry.get("filename") or "")
            if content in content_hashes:
                found.setdefault(content, (entry["id"], "private"))
        return found


def _description(caption: str | None) -> str:
    return (caption or "")[:MAX_DESCRIPTION]


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


__all__ = ["GooglePhotosConnector", "SentBytes", "marked_name", "unmarked"]
