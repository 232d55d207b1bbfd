"""What Flickr says of a photo, in photosync's terms: permissions as audiences and levels,
tags as typed, dates with their granularity, the file to download and its quality, and the
``Metadata`` of an instance.

Facts this relies on (flickr.com/services/api, ../shared/SERVICES.md):

* ``datetaken`` is camera-local time with no zone (kept so, with its granularity: 0 second,
  4 month, 6 year, 8 circa).
* is_public / is_friend / is_family: is_friend and is_family are independent
  (flickr.photos.setPerms), so the connector speaks audiences (photosync/privacy.py) and
  family-only is never taken for friends and family.
* Originals: ``url_o`` (photos), the getSizes entry "Video Original" (videos).  Since
  2025-05-15 free accounts get no originals and nothing above 1024 px: the largest size is
  taken and recorded with its real quality.
* Listings give tags in their clean form only ("stlouis"); the raw forms come from
  tags.getListUserRaw (the account's) and tags.getListPhoto (one photo's).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING

from ... import privacy as vis
from ...errors import SourceError
from ...media.formats import FORMATS
from ...model import Location, Metadata
from .client import FlickrClient, _int, _text

if TYPE_CHECKING:
    from ...media.probe import MediaInfo

#: photosync's machine tag on everything it uploads: photosync:sha256=<hex>
MACHINE_TAG = "photosync:sha256"
#: sizes below the original, largest first: (extra suffix, label)
SIZES = (("k", "Large 2048"), ("h", "Large 1600"), ("l", "Large"), ("c", "Medium 800"), ("z", "Medium 640"))
GRANULARITY = {0: None, 4: "month", 6: "year", 8: "circa"}
GRANULARITY_CODE = {None: 0, "second": 0, "month": 4, "year": 6, "circa": 8}
FLICKR_FORMAT = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "gif": "gif", "tif": "tiff", "tiff": "tiff",
                 "mp4": "mp4", "mov": "mov", "avi": "avi", "wmv": "wmv", "asf": "wmv", "mpg": "mpeg",
                 "mpeg": "mpeg", "mts": "m2ts", "m2ts": "m2ts", "3gp": "3gp", "3g2": "3g2"}


# -- tags -------------------------------------------------------------------------------------
def clean_tag(tag: str) -> str:
    """Flickr's clean form of a tag: lower case, without spaces and punctuation (misc.tags.html: the
    form used in URLs; "St. Louis" is "stlouis", "Black & White" "blackwhite"; letters of any script
    stay, as in "muséo": WordPress/openverse#4906)."""
    return "".join(ch for ch in tag.lower() if ch.isalnum())


def own_tag(tag: str) -> bool:
    return tag.lower().startswith(MACHINE_TAG + "=")


def own_hashes(tags: str | None) -> list[str]:
    """The content hashes in photosync's machine tags among ``tags`` (a space-separated string)."""
    return ["sha256:" + t.split("=", 1)[1].lower() for t in (tags or "").split() if own_tag(t)]


def sent_tags(tags) -> tuple[str, ...]:
    """Tags as upload() sends them (no double quotes: they delimit tags), one per clean form."""
    out: dict[str, str] = {}
    for t in tags:
        t = t.replace('"', "").strip()
        out.setdefault(clean_tag(t) or t, t)
    return tuple(t for t in out.values() if t)


def quote_tag(tag: str) -> str:
    tag = tag.replace('"', "")
    return f'"{tag}"' if " " in tag else tag


class RawTags:
    """A photo's tags as they were typed ("St. Louis", machine tags too), but photosync's own
    machine tag.  The listing gives only clean forms ("stlouis"); the raw forms come from one
    flickr.tags.getListUserRaw a run (every raw form of each of the account's tags), and from a
    flickr.tags.getListPhoto for a photo with a tag that has several raw forms or none there."""

    def __init__(self, client: FlickrClient):
        self.client = client
        self._lock = threading.Lock()
        self._forms: dict[str, list[str]] | None = None

    def of(self, entry: dict) -> tuple[str, ...]:
        if "raw_tags" in entry:  # from photos.getInfo, which has them
            return tuple(t for t in entry["raw_tags"] if not own_tag(t))
        clean = [t for t in (entry.get("tags") or "").split() if not own_tag(t)]
        if not clean:
            return ()
        forms = self._user_forms()
        raw = []
        for c in clean:
            known = forms.get(c) or []
            if len(known) != 1:
                return self._photo_tags(str(entry["id"]), clean)
            raw.append(known[0])
        return tuple(raw)

    def _user_forms(self) -> dict[str, list[str]]:
        """clean form -> the account's raw forms of it; asked once per connector (a run)."""
        with self._lock:
            if self._forms is None:
                try:
                    who = self.client.call("flickr.tags.getListUserRaw")["who"]
                except SourceError as e:
                    self.client.note_once("rawtags", f"Flickr did not list the account's tags ({e}); each photo's "
                                          "tags are asked for on their own")
                    who = {}
                forms: dict[str, list[str]] = {}
                for t in (who.get("tags") or {}).get("tag") or []:
                    raws = [_text(r) for r in (t.get("raw") or [])] if isinstance(t.get("raw"), list) \
                        else [_text(t.get("raw"))]
                    forms[str(t.get("clean", ""))] = [r for r in raws if r]
                self._forms = forms
            return self._forms

    def _photo_tags(self, pid: str, clean: list[str]) -> tuple[str, ...]:
        tags = self.client.call("flickr.tags.getListPhoto", photo_id=pid)["photo"].get("tags") or {}
        raw = [str(t.get("raw") or _text(t)) for t in tags.get("tag") or []]
        return tuple(t for t in raw if not own_tag(t)) or tuple(clean)


# -- permissions ------------------------------------------------------------------------------
def level_of(entry: dict) -> str:
    """Flickr's permission flags on the canonical scale (family-only and friends-only are
    both "friends"; audience_of says which)."""
    return vis.level_of(audience_of(entry))


def audience_of(entry: dict) -> str:
    """Flickr's permission flags as an audience.  ``is_friend`` and ``is_family`` are
    independent (flickr.photos.setPerms: "1 to make the photo visible to friends when
    private", "... to family when private"), and ``is_public`` shows it to everyone
    whatever they say."""
    if _int(entry.get("ispublic")):
        return "public"
    return {(0, 0): "private", (1, 0): "friends", (0, 1): "family", (1, 1): "friends+family"}[
        (1 if _int(entry.get("isfriend")) else 0, 1 if _int(entry.get("isfamily")) else 0)]


#: (is_public, is_friend, is_family) of each audience; "friends" is friends only
FLAGS = {"private": (0, 0, 0), "family": (0, 0, 1), "friends": (0, 1, 0), "friends+family": (0, 1, 1),
         "public": (1, 0, 0)}


def flags_for(audience: str) -> dict[str, str]:
    """is_public / is_friend / is_family / hidden for an audience (always all of them: an
    upload that omits them takes the account default).  A canonical level is an audience
    too: "friends" means friends only, the narrowest Flickr state that fits."""
    pub, friend, family = FLAGS[audience]
    return {
        "is_public": str(pub),
        "is_friend": str(friend),
        "is_family": str(family),
        "hidden": "1" if pub else "2",  # 2: kept out of public search
    }


def geo_flags_for(audience: str) -> dict[str, str]:
    """flickr.photos.geo.setPerms's four flags (all required: is_public, is_contact,
    is_friend, is_family) so that a location is seen by the photo's audience and nobody
    else; contacts who are neither friends nor family never see it."""
    pub, friend, family = FLAGS[audience]
    return {"is_public": str(pub), "is_contact": "0", "is_friend": str(friend), "is_family": str(family)}


def geo_groups(perms: dict) -> frozenset:
    """Who sees a location under flickr.photos.geo.getPerms / getInfo ``geoperms`` flags."""
    groups = set()
    if _int(perms.get("ispublic")):
        groups |= {"everyone", "contacts", "friends", "family"}
    if _int(perms.get("iscontact")):
        groups |= {"contacts", "friends", "family"}  # friends and family are contacts
    if _int(perms.get("isfriend")):
        groups.add("friends")
    if _int(perms.get("isfamily")):
        groups.add("family")
    return frozenset(groups)


# -- captions ---------------------------------------------------------------------------------
def split_caption(caption: str | None) -> tuple[str, str]:
    """Flickr's title and description from a caption (title, blank line, description)."""
    if not caption:
        return "", ""
    title, _, desc = caption.partition("\n\n")
    return title.strip(), desc.strip()


def caption_of(entry: dict) -> str | None:
    """A caption from Flickr's title and description (title, blank line, description)."""
    title = (entry.get("title") or "").strip()
    desc = _text(entry.get("description")).strip()
    return title + ("\n\n" + desc if desc else "") if (title or desc) else None


# -- the file to download ---------------------------------------------------------------------
def best_file(client: FlickrClient, entry: dict) -> tuple[str, str, str, tuple]:
    """(url, quality, file extension, (width, height) Flickr states) of the best file Flickr gives
    for an item."""
    if entry.get("media") == "video":
        sizes = client.call("flickr.photos.getSizes", photo_id=str(entry["id"]))["sizes"]["size"]
        by_label = {s.get("label"): s for s in sizes}
        if "Video Original" in by_label:
            orig = by_label["Video Original"]
            return client.host(orig["source"]), "original", entry.get("originalformat") or "mp4", wh(orig)
        # files only: "Video Player" is the web player's address, not a file (getSizes docs)
        videos = [s for s in sizes if s.get("media") == "video" and s.get("source")
                  and "MP4" in str(s.get("label", ""))]
        if not videos:
            raise SourceError("Flickr gives no downloadable file for this video")
        best = max(videos, key=lambda s: _int(s.get("width")) * _int(s.get("height")))
        no_originals(client)
        return client.host(best["source"]), quality_of(best), "mp4", wh(best)
    if entry.get("url_o"):
        return client.host(entry["url_o"]), "original", entry.get("originalformat") or "jpg", \
            (_int(entry.get("width_o")) or _int(entry.get("o_width")) or None,
             _int(entry.get("height_o")) or _int(entry.get("o_height")) or None)
    if entry.get("from_info"):  # no size URLs in getInfo: ask for them
        sizes = client.call("flickr.photos.getSizes", photo_id=str(entry["id"]))["sizes"]["size"]
        files = [s for s in sizes if s.get("media", "photo") == "photo" and s.get("source")]
        if not files:
            raise SourceError("Flickr gives no downloadable size of this photo")
        original = next((s for s in files if s.get("label") == "Original"), None)
        if original is not None:
            return client.host(original["source"]), "original", entry.get("originalformat") or "jpg", wh(original)
        best = max(files, key=lambda s: _int(s.get("width")) * _int(s.get("height")))
        no_originals(client)
        return client.host(best["source"]), quality_of(best), "jpg", wh(best)
    for suffix, _label in SIZES:
        if entry.get(f"url_{suffix}"):
            no_originals(client)
            size = {"width": entry.get(f"width_{suffix}"), "height": entry.get(f"height_{suffix}")}
            return client.host(entry[f"url_{suffix}"]), quality_of(size), "jpg", wh(size)
    raise SourceError("Flickr gives no downloadable size of this photo")


def no_originals(client: FlickrClient) -> None:
    client.note_once("originals", "this Flickr account does not give original files (free accounts cannot "
                     "download originals since 2025-05-15); the largest size Flickr gives is recorded instead, "
                     "with its real quality, not as an original")


def entry_quality(entry: dict) -> str:
    """The quality of the file describe() would download, from the listing alone."""
    if entry.get("url_o") or ((entry.get("media") == "video" or entry.get("from_info"))
                              and entry.get("originalsecret")):
        return "original"
    for suffix, _label in SIZES:
        if entry.get(f"url_{suffix}"):
            return quality_of({"width": entry.get(f"width_{suffix}"), "height": entry.get(f"height_{suffix}")})
    return "medium"


def wh(size: dict) -> tuple[int | None, int | None]:
    return _int(size.get("width")) or None, _int(size.get("height")) or None


def quality_of(size: dict) -> str:
    longest = max(_int(size.get("width")), _int(size.get("height")))
    if longest >= 1600:
        return "high"
    if longest >= 800:
        return "medium"
    return "low"


# -- an instance's metadata -------------------------------------------------------------------
def metadata_of(entry: dict, info: MediaInfo | None, tags: tuple[str, ...],
                downloaded: tuple | None = None) -> Metadata:
    """The metadata of a Flickr instance: what the bytes say (``info``: media.ingest's probe of the
    file downloaded; None when nothing was), with what Flickr states in its place -- caption,
    tags (as typed), date taken (unless Flickr does not know it), location, albums."""
    from ...media.ingest import metadata_from_probe

    md = metadata_from_probe(info) if info is not None else Metadata()
    taken = granularity = None
    if entry.get("datetaken") and str(entry.get("datetakenunknown", "0")) != "1":
        taken = str(entry["datetaken"]).replace(" ", "T")[:19]
        granularity = GRANULARITY.get(_int(entry.get("datetakengranularity")))
    source = "service" if taken else None
    if taken is None:  # the file's own date (metadata_from_probe's), when Flickr does not know one
        taken, source = md.taken_date, md.taken_date_source
    lat, lng = entry.get("latitude"), entry.get("longitude")
    location = None
    try:
        if lat not in (None, "", 0, "0") and lng not in (None, "", 0, "0"):
            location = Location(float(lat), float(lng))
    except (TypeError, ValueError):
        location = None
    # no fall-back to the file's GPS: what Flickr states wins for its instance (a location the person
    # removed on Flickr stays removed), and the record says so (location_source)
    fmt = md.format or FLICKR_FORMAT.get(str(entry.get("originalformat") or "").lower())
    # the size of the bytes kept, not of the original (a free account's 1024-px file must not claim
    # the original's pixels and win a merge by them): probed; else what Flickr states for the file
    # that was downloaded; None when nothing was (discover keeps the record's, from the bytes)
    width, height = md.width, md.height
    if downloaded and not (width and height):
        width, height = downloaded
    return dataclasses.replace(
        md,
        taken_date=taken,
        taken_date_source=source,
        taken_date_granularity=granularity,
        filename=None,  # Flickr keeps no file names
        location=location,
        location_source="service" if location is not None else None,
        tags=tags,
        caption=caption_of(entry),
        media_type="video" if entry.get("media") == "video" else "photo",
        format=fmt if fmt in FORMATS else None,
        width=width,
        height=height,
        albums=tuple(entry.get("albums") or ()),
    )
