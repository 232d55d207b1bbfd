"""google-picker: the photos a person picks in Google Photos, through the Picker API.

Since 2025-03-31 no app can list a person's Google Photos library; the Picker lets the person hand
photosync the items they choose (SERVICES.md "Google Photos").  One discover is one picking
session: create it, show its address (and a QR code, since people pick on their phone), poll as
``pollingConfig`` says until the person taps Done or the session times out, list the picked items
(pages of 100), download each (``baseUrl=d``, ``=dv`` for a video; a baseUrl lives 60 minutes, so
an old one is replaced by listing the session again), and delete the session once every item was
read.  What the Picker gives is honestly not the original: ``=d`` is re-encoded without its
location and ``=dv`` transcoded (rclone docs googlephotos.md; gphotos-sync#119, #303), and the
item carries no location, albums or caption.  Such a copy of a photo already known (from Takeout or
a camera folder) is a quality variant of it, which resolve links by its look.

An item's id is its id in the person's library, the same in every session: picking it again adds
nothing (what the Picker says of it is unchanged, so discover does not even read it again).  The
Picker says nothing that surely changes when the person edits an item, so the listing promises no
content key; an edit that changes the size or name of the item is read again.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import datetime, timezone
from typing import BinaryIO, ClassVar

from ...errors import MediaError, NotMedia, SourceError
from ..base import Capabilities, Connector, ItemRef, Listing, ServiceItem
from .client import PICKER, GoogleClient, GoogleConfig

#: Picker pages hold at most 100 items (mediaItems.list reference)
PAGE_SIZE = 100
#: a baseUrl lives 60 minutes (picker/guides/media-items); one older than this is replaced first
BASE_URL_MAX_AGE = 50 * 60
#: what a picked copy is: re-encoded (not the original), at full size
PICKED_QUALITY = "high"


def _seconds(duration: str | None, default: float) -> float:
    """A protobuf Duration string ("5s", "0.05s")."""
    if not duration:
        return default
    try:
        return float(str(duration).rstrip("s"))
    except ValueError:
        return default


def qr_text(data: str) -> str:
    """A QR code of ``data`` drawn with text blocks, for a terminal."""
    import io

    import segno

    out = io.StringIO()
    segno.make(data, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()


class PickerConnector(GoogleConfig, Connector):
    """Google Photos items the person picks (Picker API): re-encoded copies, no location or albums."""

    type_name = "google-picker"
    capabilities = Capabilities()
    asks_a_person = True
    scopes: ClassVar[tuple[str, ...]] = (PICKER,)

    def __init__(self, name: str, config: dict, env) -> None:
        super().__init__(name, config, env)
        self.client = GoogleClient(name, config, env, self.scopes)
        self._lock = threading.RLock()  # _entry lists again while holding it (_relist takes it too)
        self._session: str | None = None
        #: item id -> (picked entry, when its baseUrl was handed out)
        self._picked: dict[str, tuple[dict, float]] = {}

    def login(self, ask, no_browser: bool = False) -> str:  # type: ignore[override]  # its login_options only
        return self.client.login(ask, no_browser)

    def where(self, item_id: str) -> str:
        entry = self._picked.get(item_id)
        name = ((entry[0].get("mediaFile") or {}).get("filename")) if entry else None
        return f"{self.name}:{item_id}" + (f" ({name})" if name else "")

    # -- the session ------------------------------------------------------------------------------
    def list(self, *, cursor=None, since=None, full_scan: bool = False) -> Listing:
        picker = self.client.api("picker")
        report = self.env.report
        session = self.client.execute("sessions.create", lambda: picker.sessions().create(
            body={"pickingConfig": {"maxItemCount": "2000"}}))
        sid = session["id"]
        self._session = sid
        uri = session.get("pickerUri", "")
        report.info(f"Pick the photos to bring in: open {uri} (or scan the code with your phone), choose them in "
                    "Google Photos and tap Done.\n" + qr_text(uri))
        polling = session.get("pollingConfig") or {}
        interval = max(0.01, _seconds(polling.get("pollInterval"), 5.0))
        deadline = time.monotonic() + _seconds(polling.get("timeoutIn"), 1800.0)
        while not session.get("mediaItemsSet"):
            if time.monotonic() >= deadline:
                self._delete()
                report.warning(f"service {self.name}", "nothing was picked before the picking session timed out; "
                                                       "run discover again to pick")
                self.partial = True
                return Listing(refs=[], complete=False)
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())) or interval)
            session = self.client.execute("sessions.get", lambda: picker.sessions().get(sessionId=sid))
            polling = session.get("pollingConfig") or polling
            interval = max(0.01, _seconds(polling.get("pollInterval"), interval))
        self._relist()
        refs = []
        for item_id, (entry, _at) in self._picked.items():
            created = entry.get("createTime") or ""
            # what the Picker says of an item; an edit saved in Google Photos keeps its id and may move
            # none of it, so there is no content key (nothing here promises the bytes are the same)
            media = entry.get("mediaFile") or {}
            meta = media.get("mediaFileMetadata") or {}
            seen = [created, media.get("filename"), media.get("mimeType"), meta.get("width"), meta.get("height")]
            refs.append(ItemRef(id=item_id, fingerprint=hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:32],
                                modified=_parse_time(created),
                                extra=json.dumps(entry, sort_keys=True).encode()))
        report.info(f"service {self.name}: {len(refs)} item(s) picked")
        # the session goes once every item was read (its baseUrls die with it)
        return Listing(refs=refs, complete=False, cursor_fn=self._finish)

    def _relist(self) -> None:
        """Every picked item of the session, with fresh baseUrls."""
        sid = self._session
        if sid is None:
            return
        picker = self.client.api("picker")
        token = None
        picked: dict[str, tuple[dict, float]] = {}
        while True:
            now = time.monotonic()
            page = self.client.execute("mediaItems.list", lambda token=token: picker.mediaItems().list(
                sessionId=sid, pageSize=PAGE_SIZE, pageToken=token))
            for entry in page.get("mediaItems") or []:
                picked[str(entry["id"])] = (entry, now)
            token = page.get("nextPageToken")
            if not token:
                break
        with self._lock:
            self._picked = picked

    def _finish(self) -> None:
        self._delete()
        return None

    def _delete(self) -> None:
        sid, self._session = self._session, None
        if sid is None:
            return
        picker = self.client.api("picker")
        try:
            self.client.execute("sessions.delete", lambda: picker.sessions().delete(sessionId=sid), attempts=3)
        except SourceError as e:  # it expires by itself (expireTime); nothing is lost
            self.env.report.info(f"service {self.name}: the picking session could not be deleted ({e}); "
                                 "Google ends it by itself")

    def close(self) -> None:
        self._delete()

    # -- items ------------------------------------------------------------------------------------
    def _entry(self, item_id: str) -> dict:
        with self._lock:
            got = self._picked.get(item_id)
        if got is None:
            raise SourceError(f"{self.name}:{item_id} was not picked in this run's session (a picked item can "
                              "only be read while its session lasts; run discover and pick it again)")
        entry, at = got
        if time.monotonic() - at > BASE_URL_MAX_AGE:
            with self._lock:  # one thread lists again for all of them
                if self._picked.get(item_id, (None, 0.0))[1] == at:
                    self._relist()
                got = self._picked.get(item_id)
            if got is None:
                raise SourceError(f"{self.name}:{item_id} is no longer in the picking session")
            entry = got[0]
        return entry

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        entry = self._entry(item_id)
        media = entry.get("mediaFile") or {}
        base = media.get("baseUrl")
        if not base:
            raise SourceError(f"{self.where(item_id)}: Google gave no address for its bytes")
        # =d: the image with its EXIF but no location; =dv: the video (picker/guides/media-items)
        return self.client.download(base + ("=dv" if entry.get("type") == "VIDEO" else "=d"))

    def describe(self, ref: ItemRef) -> ServiceItem:
        from ...media.ingest import ingest, metadata_from_probe

        entry = self._entry(ref.id)
        media = entry.get("mediaFile") or {}
        name = media.get("filename") or ref.id
        with self.open(ref.id) as f:
            try:
                mf = ingest(f, name)
            except NotMedia:
                raise MediaError("the file Google gives is not a photo or video photosync can read") from None
        info = mf.info
        import dataclasses

        md = metadata_from_probe(info, filename=name)
        if md.taken_date is None and entry.get("createTime"):
            md = dataclasses.replace(md, taken_date=entry["createTime"].replace("Z", "+00:00"),
                                     taken_date_source="service")
        # no location: Google strips it from what the Picker gives (and says none)
        md = dataclasses.replace(md, location=None, location_source=None)
        return ServiceItem(ref=ref, content_hash=mf.content_hash, size=mf.size, metadata=md,
                           quality=PICKED_QUALITY, visibility=None, look=info.look,
                           warnings=(info.problem,) if info.problem else ())


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None
