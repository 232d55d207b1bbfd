"""The Flickr connector: the parts of this package tied into one ``Connector``.

``client`` (the wire: OAuth, budget, retries, error mapping), ``listing`` (walk, cursor,
albums), ``mapping`` (Flickr's entries in photosync's terms), ``upload`` (uploads and what
surrounds them), ``permissions`` (narrowing), ``config`` (options, secrets, settings).
Reading an item is shared with every connector: ``net.download`` to a temporary file, then
``media.ingest`` (hash, format, probe, signature) and ``mapping.metadata_of``.
"""

from __future__ import annotations

import builtins
import json
from typing import BinaryIO

from ...errors import MediaError, NotMedia, SourceError
from ...model import AUDIENCES, VISIBILITY_LEVELS, Metadata, Photo
from ..base import Capabilities, Connector, ItemRef, Listing, ServiceItem
from . import permissions
from .client import FlickrClient
from .config import FlickrConfig, settings_from
from .listing import Albums, Lister
from .mapping import RawTags, audience_of, best_file, entry_quality, level_of, metadata_of
from .upload import Uploader


class FlickrConnector(FlickrConfig, Connector):
    type_name = "flickr"
    capabilities = Capabilities(
        upload=True, set_visibility=True, visibility_levels=VISIBILITY_LEVELS, audiences=AUDIENCES,
        # Flickr's upload limits (help centre: 200 MB a photo, 1 GB a video; these formats: AVI, WMV,
        # MOV, MPEG 1/2/4 and 3GP since its video launch in 2008, AVCHD M2TS/MTS in its help centre)
        max_photo_bytes=200 * 1024 * 1024, max_video_bytes=1024 * 1024 * 1024,
        upload_formats=("jpeg", "png", "gif", "tiff", "mp4", "mov", "3gp", "avi", "wmv", "mpeg", "m2ts"),
    )

    def __init__(self, name, config, env):
        super().__init__(name, config, env)
        self.settings = settings_from(config)
        self.client = FlickrClient(name, config, env, self.settings)
        self.lister = Lister(self.client, Albums(self.client, env, name), config)
        self.tags = RawTags(self.client)
        self.uploader = Uploader(self.client, config)

    # -- the client's ---------------------------------------------------------------------------
    @property
    def bucket(self):
        """The API key's request budget (net.TokenBucket)."""
        return self.client.bucket

    @property
    def calls(self) -> int:
        return self.client.calls

    def call(self, method: str, _attempts: int | None = None, **params):
        return self.client.call(method, _attempts, **params)

    def login(self, ask, perms: str | None = None) -> str:  # type: ignore[override]  # its login_options only
        who = self.client.login(ask, perms)
        self.config = self.client.config  # without the account it had: a new sign-in may change it
        self.account = self.client.account
        return who

    # -- listing --------------------------------------------------------------------------------
    def list(self, *, cursor=None, since=None, full_scan: bool = False) -> Listing:
        return self.lister.list(cursor, since, full_scan)

    # -- reading items ----------------------------------------------------------------------------
    def where(self, item_id: str) -> str:
        return f"{self.name}:{item_id}"

    def describe(self, ref: ItemRef) -> ServiceItem:
        try:
            return self._describe(ref)
        except SourceError:  # to be tried again: the cursor must not move past it
            self.lister.failed(ref.id)
            raise

    def _describe(self, ref: ItemRef) -> ServiceItem:
        entry = json.loads(ref.extra or b"{}")
        if not entry:
            raise SourceError("no listing data for this item (list it again)")
        info = None
        size = None
        file_dims = None
        if ref.known_hash:  # only metadata changed: the bytes were hashed before
            content_hash = ref.known_hash
            quality = entry_quality(entry)
        else:
            from ...media.ingest import ingest

            url, quality, ext, file_dims = best_file(self.client, entry)
            with self.client.download(url) as f:
                try:
                    media = ingest(f, f"{entry['id']}.{ext}")
                except NotMedia:
                    raise MediaError("the file Flickr gives is not a photo or video photosync can read") from None
            content_hash, size, info = media.content_hash, media.size, media.info
        level = level_of(entry)
        return ServiceItem(
            ref=ref,
            content_hash=content_hash,
            size=size,  # None: unchanged, kept from the record
            metadata=metadata_of(entry, info, self.tags.of(entry), file_dims),
            quality=quality or "original",
            visibility=level,
            audience=audience_of(entry) if level == "friends" else None,
            url=self.client.page_url(str(entry["id"])),
            look=info.look if info is not None else None,
            warnings=(info.problem,) if info is not None and info.problem else (),
        )

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        answer = self.client.call("flickr.photos.getSizes", photo_id=item_id)["sizes"]["size"]
        by_label = {s.get("label"): s for s in answer}
        best = by_label.get("Video Original") or by_label.get("Original")
        if best is None:
            raise SourceError(f"{self.where(item_id)}: Flickr gives no original of it")
        return self.client.download(self.client.host(best["source"]))

    # -- permissions ------------------------------------------------------------------------------
    def shown_audience(self, item_id: str) -> str:
        """The audience Flickr shows the photo to now (asked, not taken from the record)."""
        return permissions.shown_audience(self.client, item_id)

    def set_visibility(self, item_id: str, level: str) -> str:
        """Narrow who sees the photo to ``level`` (an audience) and no further (permissions.py)."""
        return permissions.set_visibility(self.client, self.env.report, self.where(item_id), item_id, level)

    # -- uploads ----------------------------------------------------------------------------------
    def alters_upload(self, photo: Photo, visibility: str) -> bool:
        return self.uploader.alters_upload(photo, visibility)

    def prepare_upload(self, photo: Photo, stream: BinaryIO, size: int | None, visibility: str):
        return self.uploader.prepare_upload(photo, stream, size, visibility)

    def upload(self, photo: Photo, stream: BinaryIO, size: int | None, visibility: str) -> ServiceItem:
        return self.uploader.upload(photo, stream, size, visibility)

    def find_uploaded(self, content_hashes: set[str],
                      attempted: dict[str, float] | None = None) -> dict[str, tuple[str, str | None]]:
        return self.uploader.find_uploaded(content_hashes, attempted)

    def complete_upload(self, photo: Photo, item_id: str, visibility: str) -> builtins.list[str]:  # list: the method
        return self.uploader.complete_upload(photo, item_id, visibility)

    def uploaded_metadata(self, photo: Photo, visibility: str) -> Metadata:
        return self.uploader.uploaded_metadata(photo, visibility)
