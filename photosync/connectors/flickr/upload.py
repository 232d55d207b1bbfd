"""Sending photos to Flickr: the upload itself, looking for an upload that may have happened
unrecorded, what follows an upload (date taken, location and who sees it, albums), and the
copy without a location a public upload is sent as.

Facts this relies on (flickr.com/services/api, ../shared/SERVICES.md):

* An upload that omits is_public/is_friend/is_family takes the account default, so they are
  always sent (and ``hidden=2`` for anything not public).
* flickrapi's upload names the file part "dummy name", which breaks videos (flickrapi#104), and
  answers XML only (#93): uploads are posted here with the real file name, signed with
  flickrapi's own OAuth object, and the XML answer parsed here.  Error 3 "General upload
  failure" (upload.api.html) is tried again.
* A location set through the API, or imported from the file's EXIF by the account setting
  "Import EXIF location data", takes the account's default geo permissions
  (flickr.photos.geo.setLocation; flickr.prefs.getGeoPerms): a public upload is sent without
  its location unless asked, and a location photosync sets gets the photo's own audience
  (flickr.photos.geo.setPerms).
* The search index can lag behind an upload: an upload that may have happened unrecorded is
  looked for among the photos uploaded since (people.getPhotos, recentlyUpdated) as well as by
  its machine tag.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import threading
import time
from typing import BinaryIO, Callable

from ... import privacy as vis
from ...errors import PhotosyncError, SourceError
from ...model import Metadata, Photo
from ...net import Transient, retry_after_of, retry_after_seconds, retrying
from ..base import ItemRef, ServiceItem
from .client import TRANSIENT_CODES, FlickrClient, _int, _text, transient
from .listing import EXTRAS, PER_PAGE, walk_uploads
from .mapping import (FLAGS, GRANULARITY_CODE, MACHINE_TAG, flags_for, geo_flags_for, level_of, own_hashes,
                      quote_tag, sent_tags, split_caption)

#: upload.api.html error 3 "General upload failure" (and the outage codes): tried again, after looking
#: for the photo (it may have been stored before the failure)
UPLOAD_RETRY_CODES = TRANSIENT_CODES | {3}
#: how long before an upload intent the photos uploaded are looked through: Flickr's clock and ours
#: differ; by this much at most once the offset is known from the Date of Flickr's answers (whole
#: seconds, plus the time an answer takes), by an hour when it is not
INTENT_MARGIN = 300
INTENT_MARGIN_UNKNOWN_CLOCK = 3600


def format_of(photo: Photo) -> str:
    """The original's format name (the canonical copy's, else the photo's)."""
    for inst in photo.all_instances():
        if inst.content_hash == photo.content_hash and inst.metadata.format:
            return inst.metadata.format
    return photo.metadata.format or ""


class Uploader:
    """Uploads to one Flickr service, and the calls around them."""

    def __init__(self, client: FlickrClient, config: dict):
        self.client = client
        self.config = config
        self._sets_by_title: dict[str, str] | None = None
        self._album_lock = threading.Lock()

    # -- what is sent ---------------------------------------------------------------------------
    def sends_location(self, photo: Photo, audience: str) -> bool:
        """Whether an upload at ``audience`` carries the photo's location: not for a public
        one unless ``upload_location_public`` says so (and the photo has a location)."""
        if audience != "public":
            return photo.metadata.location is not None
        return bool(self.config.get("upload_location_public")) and photo.metadata.location is not None

    def alters_upload(self, photo: Photo, visibility: str) -> bool:
        return visibility == "public" and not self.sends_location(photo, visibility)

    def prepare_upload(self, photo: Photo, stream: BinaryIO, size: int | None, audience: str):
        """The bytes to send for ``photo`` at ``audience``: (stream, content hash, size,
        temporary).  For an upload whose location must not be public, a temporary copy
        without any location (media/geostrip.py; the image data untouched), else the
        original as it is.  Raises CannotStrip when the location cannot be removed."""
        import tempfile

        from ...media.geostrip import scan_location, strip_location
        from ...media.probe import hash_stream

        keep_location = not self.alters_upload(photo, audience)
        start = stream.tell() if stream.seekable() else 0
        fmt = format_of(photo)
        if keep_location or not scan_location(stream, fmt):
            stream.seek(start)
            return stream, photo.content_hash, size, False
        tmp = tempfile.TemporaryFile()
        try:
            stream.seek(start)
            while True:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                tmp.write(chunk)
            strip_location(tmp, fmt)
            tmp.seek(0)
            digest, sent = hash_stream(tmp)
            tmp.seek(0)
            return tmp, digest, sent, True
        except BaseException:
            tmp.close()
            raise

    def uploaded_metadata(self, photo: Photo, visibility: str) -> Metadata:
        """What Flickr will say of the photo once upload() has sent it: its
        caption and tags as sent (one per clean form: Flickr merges the others), no
        file name, the location only when it was sent."""
        md = photo.metadata
        title, desc = split_caption(md.caption)
        title = title or (md.filename or photo.photo_id).rsplit(".", 1)[0]
        clean = sent_tags(md.tags)  # raw, as describe() reads them back
        sent_location = self.sends_location(photo, visibility if visibility in FLAGS else "private")
        return dataclasses.replace(
            md, filename=None, caption=title + ("\n\n" + desc if desc else ""), tags=clean,
            location=md.location if sent_location else None,
            taken_date_source="service" if md.taken_date else None,
            location_source="service" if sent_location else None,
        )

    # -- the upload -----------------------------------------------------------------------------
    def upload(self, photo: Photo, stream: BinaryIO, size: int | None, visibility: str) -> ServiceItem:
        """Upload at ``visibility`` (an audience: flags_for).  A public photo whose location
        must not be public goes up as a copy without its location; the item then has the
        copy's hash and size (the machine tag keeps the original's hash)."""
        from ...stores.naming import blob_ext

        md = photo.metadata
        audience = visibility if visibility in FLAGS else "private"  # unknown: fail closed
        ext = blob_ext(photo)
        name = md.filename or f"{photo.photo_id}.{ext}"
        if "." not in name.rsplit("/", 1)[-1]:
            name = f"{name}.{ext}"  # Flickr tells videos from photos by the file name (flickrapi#104)
        title, desc = split_caption(md.caption)
        tags = [quote_tag(t) for t in md.tags]
        tags.append(f"{MACHINE_TAG}={photo.content_hash.split(':', 1)[1]}")
        fields = {"title": title or name.rsplit(".", 1)[0], "description": desc, "tags": " ".join(tags),
                  "safety_level": "1", **flags_for(audience)}
        sent, sent_hash, sent_size, temporary = self.prepare_upload(photo, stream, size, audience)
        try:
            new_id = self.post_upload(fields, name, sent, photo.content_hash)
        finally:
            if temporary:
                sent.close()
        # the photo is on Flickr now: whatever fails below is reported, and the upload still recorded
        warnings = self.complete_upload(photo, new_id, audience)
        return ServiceItem(
            ref=ItemRef(new_id, ""),
            content_hash=sent_hash,
            size=sent_size,
            metadata=self.uploaded_metadata(photo, audience),
            # a copy without its location is not the original file (its pixels are)
            quality="original" if sent_hash == photo.content_hash else "high",
            visibility=vis.level_of(audience),
            audience=audience if vis.level_of(audience) == "friends" else None,
            url=self.client.page_url(new_id),
            warnings=tuple(warnings),
        )

    def post_upload(self, fields: dict, filename: str, stream: BinaryIO, content_hash: str) -> str:
        """POST the file to the upload endpoint; the new photo's id.  After a
        failure that may have stored the photo (5xx, error 3, a lost connection) the
        photo is looked for before trying again, by its machine tag and, since the
        search may not show it yet, among the photos uploaded since the first try
        (find_uploaded with ``attempted``), so nothing is uploaded twice."""
        import mimetypes
        import xml.etree.ElementTree as ET

        import requests
        from requests_toolbelt import MultipartEncoder

        client = self.client
        api = client.api()
        url = client.endpoints["upload"]
        start = stream.tell() if stream.seekable() else None
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        maybe_stored = False
        first_try = time.time()

        def once():
            nonlocal maybe_stored
            if maybe_stored:
                found = self.find_uploaded({content_hash}, attempted={content_hash: first_try})
                if content_hash in found:
                    return found[content_hash][0]
            if start is not None:
                stream.seek(start)
            # the signature covers the form fields but not the file (as flickrapi's do_upload)
            signed = requests.Request("POST", url, data=dict(fields), auth=api.flickr_oauth.oauth).prepare()
            body = MultipartEncoder(fields={**fields, "photo": (filename, stream, mime)})
            client.take()
            try:
                r = client.session().post(url, data=body, timeout=max(client.timeout, 600),
                                          headers={"Authorization": signed.headers["Authorization"],
                                                   "Content-Type": body.content_type})
                content = r.content  # a reply cut short fails here, after Flickr may have stored the photo
            except requests.RequestException:
                maybe_stored = True
                if start is None:
                    raise SourceError("upload interrupted and the source cannot be read again") from None
                raise
            wait = retry_after_seconds(r.headers.get("Retry-After"))
            if r.status_code == 429:
                raise Transient("HTTP 429 (too many requests)", wait)
            if r.status_code >= 500:
                maybe_stored = True
                raise Transient(f"HTTP {r.status_code}", wait)
            if r.status_code != 200:
                raise SourceError(f"upload refused (HTTP {r.status_code})")
            try:
                rsp = ET.fromstring(content)
            except ET.ParseError:
                raise SourceError("Flickr's answer to the upload is not XML") from None
            if rsp.get("stat") != "ok":
                err = rsp.find("err")
                code = _int(err.get("code") if err is not None else None, -1)
                msg = err.get("msg") if err is not None else "unknown error"
                if code in (98, 99, 100):
                    from flickrapi.exceptions import FlickrError

                    raise client.explain(FlickrError(msg, code=code), "upload")
                if code in UPLOAD_RETRY_CODES:
                    # a general failure or an outage answer may come after the photo was kept: look first
                    maybe_stored = True
                    raise Transient(f"Flickr error {code}: {msg}")
                raise SourceError(f"Flickr refused the upload: error {code}: {msg}")
            pid = rsp.findtext("photoid")
            if not pid:
                raise SourceError("Flickr's answer to the upload has no photo id")
            return pid.strip()

        try:
            return retrying(once, transient=transient, attempts=client.attempts, base=client.backoff,
                            on_retry=client.retry_note("upload"), retry_after=retry_after_of)
        except (Transient, requests.RequestException) as e:
            raise SourceError(f"upload failed after {client.attempts} attempts: {e}") from None

    # -- finding what was uploaded --------------------------------------------------------------
    def find_uploaded(self, content_hashes: set[str],
                      attempted: dict[str, float] | None = None) -> dict[str, tuple[str, str | None]]:
        """photosync's machine tags on the account (a search), and for uploads that were
        started and not recorded (``attempted``), the photos uploaded around then, which
        Flickr's search may not show yet (see uploaded_since)."""
        if not content_hashes:
            return {}
        found: dict[str, tuple[str, str | None]] = {}
        if len(content_hashes) <= 10:  # a few: one exact machine-tag search each, not a walk of them all
            searches = [f"{MACHINE_TAG}={h.split(':', 1)[1]}" for h in sorted(content_hashes)]
        else:
            searches = [f"{MACHINE_TAG}="]
        for query in searches:
            for entry in walk_uploads(self.client, 0, machine_tags=query):
                for h in own_hashes(entry.get("machine_tags")):
                    if h in content_hashes:
                        found.setdefault(h, (str(entry["id"]), level_of(entry)))
        late = {h: t for h, t in (attempted or {}).items() if h in content_hashes and h not in found}
        if late:
            found.update(self.uploaded_since(late))
        return found

    def uploaded_since(self, attempted: dict[str, float]) -> dict[str, tuple[str, str | None]]:
        """The photos among ``attempted`` that Flickr holds, found without its search index,
        which can lag behind an upload (samjudson/flickr-net#38: a new photo missing from
        photos.search; Flickr's own blog, 2005-01-02, on uploads not showing for up to half an hour
        and people uploading again): every photo uploaded from shortly before the earliest
        attempt (in Flickr's time: see INTENT_MARGIN), by flickr.people.getPhotos with min_upload_date and
        flickr.photos.recentlyUpdated (an upload moves lastupdate), matched by photosync's machine
        tag; a photo listed without any machine tag has its tags asked for (flickr.tags.getListPhoto)."""
        client = self.client
        if client.clock_offset is None:
            since = int(min(attempted.values())) - INTENT_MARGIN_UNKNOWN_CLOCK
        else:
            since = int(min(attempted.values()) + client.clock_offset) - INTENT_MARGIN
        found: dict[str, tuple[str, str | None]] = {}
        seen: set[str] = set()
        pages = itertools.chain(
            client.pages("flickr.people.getPhotos", "photos", PER_PAGE, user_id="me", min_upload_date=since,
                         sort="date-posted-asc", extras=EXTRAS),
            client.pages("flickr.photos.recentlyUpdated", "photos", PER_PAGE, min_date=since, extras=EXTRAS))
        for _answer, entries in pages:
            for entry in entries:
                pid = str(entry["id"])
                if pid in seen or _int(entry.get("dateupload"), since) < since:
                    continue
                seen.add(pid)
                hashes = own_hashes(entry.get("machine_tags"))
                if not hashes and not (entry.get("machine_tags") or "").strip():
                    tags = client.call("flickr.tags.getListPhoto", photo_id=pid)["photo"].get("tags") or {}
                    hashes = own_hashes(" ".join(str(t.get("raw") or _text(t)) for t in tags.get("tag") or []))
                for h in hashes:
                    if h in attempted:
                        found.setdefault(h, (pid, level_of(entry)))
            if len(found) == len(attempted):
                break
        return found

    # -- after the upload -------------------------------------------------------------------------
    def complete_upload(self, photo: Photo, item_id: str, visibility: str) -> list[str]:
        """The calls that follow an upload (date taken, location and who may see it,
        albums); each may be made again.  Returns what failed, as warnings."""
        call = self.client.call
        md = photo.metadata
        audience = visibility if visibility in FLAGS else "private"
        warnings = []
        steps: list[tuple[str, Callable[[], object]]] = []
        taken, where = md.taken_date, md.location
        if taken:
            steps.append(("date taken", lambda: call(
                "flickr.photos.setDates", photo_id=item_id, date_taken=taken[:19].replace("T", " "),
                date_taken_granularity=str(GRANULARITY_CODE.get(md.taken_date_granularity, 0)))))
        located = []
        if where is not None and self.sends_location(photo, audience):
            steps.append(("location", lambda: located.append(call(
                "flickr.photos.geo.setLocation", photo_id=item_id, lat=str(where.lat),
                lon=str(where.lng)))))
            # a location set through the API (or imported from the file's EXIF) takes the account's
            # default geo permissions (flickr.photos.geo.setLocation: "Before users may assign location
            # data to a photo they must define who, by default, may view that information"), public on
            # many accounts: the photo's own audience is set instead
            steps.append(("location's permissions", lambda: located and call(
                "flickr.photos.geo.setPerms", photo_id=item_id,
                **geo_flags_for(audience))))  # type: ignore[arg-type]  # four flag names, never _attempts
        for album in md.albums:
            steps.append((f"album {album!r}", functools.partial(self.add_to_album, album, item_id)))
        for what, step in steps:
            try:
                step()
            except PhotosyncError as e:
                warnings.append(f"uploaded as {item_id}, but its {what} was not set: {e}")
        return warnings

    def _album_titles(self) -> dict[str, str]:
        sets: dict[str, str] = {}
        for _answer, entries in self.client.pages("flickr.photosets.getList", "photosets", PER_PAGE):
            for s in entries:
                sets.setdefault(_text(s.get("title")), str(s["id"]))
        return sets

    def add_to_album(self, title: str, photo_id: str) -> None:
        """Add to the album of that title, made when there is none.  One thread at
        a time (two uploads must not both create it), and a create that failed is
        checked by listing again, never simply sent twice (and sent again only when
        the listing shows no such album: under load a create fails now and then)."""
        call = self.client.call
        with self._album_lock:
            if self._sets_by_title is None:
                self._sets_by_title = self._album_titles()
            sid = self._sets_by_title.get(title)
            tries = 0
            while sid is None:
                tries += 1
                try:
                    made = call("flickr.photosets.create", _attempts=1, title=title, primary_photo_id=photo_id)
                    self._sets_by_title[title] = str(made["photoset"]["id"])
                    return
                except SourceError:
                    self._sets_by_title = self._album_titles()
                    sid = self._sets_by_title.get(title)
                    if sid is None and tries >= 3:
                        raise
                    if sid is None:
                        time.sleep(self.client.backoff * tries)
        try:
            call("flickr.photosets.addPhoto", photoset_id=sid, photo_id=photo_id)
        except SourceError as e:
            if "error 3:" not in str(e):  # 3: already in the album
                raise
