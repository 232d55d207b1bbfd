"""The whole iCloud Photos library of one Apple ID, read through pyicloud (2026.x, the
maintained package: Photos through CloudKit).

Items: each asset's original (``resOriginal``) under the asset's id (pyicloud's
``PhotoAsset.id``, the CPLAsset record name: stable across renames and album moves); its
edited rendering (``resJPEGFullRes``/``resVidFullRes``, on the asset record, not in
pyicloud's ``versions``) as ``<id>/edited`` with ``edit_of`` naming the original; a live
photo's video (``resOriginalVidCompl``) as ``<id>/live`` with ``motion_of`` naming the still.
The content key is CloudKit's ``fileChecksum`` of the resource (content-derived, opaque):
a rename, a caption or an album change moves the fingerprint but not the key, so discover
does not download the bytes again.

Shared Photo Libraries (iOS 16 and later): a Shared Library the person made or joined is a
CloudKit zone of its own ("SharedSync-<UUID>"), listed beside the person's own library; its items'
ids are ``<zone>:<asset id>`` (record names are unique within a zone only). A Shared Library
joined since the last listing (or back after a listing that missed it) is read whole. One known
before and missing now is gone when iCloud answered without it (left, or ended), and lost this
time when it did not answer (a warning; the listing is then incomplete, so none of its photos is
taken for gone). photosync never deletes from a Shared Library (it would be deleted for everyone).

Listing: a whole listing reads All Photos (and Hidden) and every album once (for each
asset's albums); with a cursor (the newest added date seen) only the recently added index
down to the cursor is read, and the listing is not complete. Every ``full_listing_days`` the
listing is whole again (so edits, album changes and deletions of older photos are seen).

Sign-in (``auth``): the Apple ID's password and the two-factor code, asked for; pyicloud's
session and trust cookies are kept in the user's credentials folder (0700, files 0600),
never the password. The service answers 403 ACCESS_DENIED to a session when Advanced Data
Protection is on or web access is off: that is said in words.

Deletes (``delete``, prune only): the asset goes to Recently Deleted (``isDeleted``, what
pyicloud's ``PhotoAsset.delete`` does; recoverable there for 30 days), never a hard delete.
"""

from __future__ import annotations

import builtins
import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Mapping, cast

from ... import credentials
from ...errors import AuthError, ConfigError, MediaError, NotMedia, SourceError
from ...media.dates import iso
from ...model import Metadata
from ...options import Option
from ..base import Capabilities, Connector, ConnectorContext, ItemRef, Listing, ServiceItem, endpoints_option, retry_options, timeout_option

#: pyicloud's hard-coded hosts (PyiCloudService._setup_endpoints): what --endpoint may replace
ENDPOINTS = ("idmsa", "setup", "home")

#: a listing's download links live an hour (SERVICES.md; the fake's url_lifetime): a describe
#: later than this after the listing asks for the asset again, for fresh links
LINK_LIFETIME = 45 * 60

#: the prefix of a Shared Photo Library's zone name (pyicloud's SHARED_LIBRARY_ZONE_PREFIX)
SHARED_LIBRARY_PREFIX = "SharedSync-"

#: the recently added index is read down to this far before the cursor (an asset uploaded by a
#: device that was offline gets its added date from the device's clock)
CURSOR_MARGIN_MS = 24 * 3600 * 1000

_UTI_EXT = {"public.jpeg": "JPG", "public.heic": "HEIC", "public.png": "PNG", "com.apple.quicktime-movie": "MOV",
            "public.mpeg-4": "MP4", "com.adobe.raw-image": "DNG", "public.tiff": "TIFF"}


def service_class(endpoints: dict[str, str] | None):
    """A PyiCloudService whose hosts are ``endpoints`` (names in ENDPOINTS; a missing one keeps
    pyicloud's own). pyicloud has no argument for its hosts; overriding the one method that sets
    them is the whole change (SERVICES.md "Apple iCloud")."""
    from pyicloud import PyiCloudService

    ends = {k: v.rstrip("/") for k, v in (endpoints or {}).items() if v}
    if not ends:
        return PyiCloudService

    class EndpointPyiCloudService(PyiCloudService):
        def _setup_endpoints(self) -> None:
            super()._setup_endpoints()
            if "idmsa" in ends:
                self._idmsa_endpoint = ends["idmsa"]
                self._auth_endpoint = f"{self._idmsa_endpoint}/appleauth/auth"
            if "home" in ends:
                self._home_endpoint = ends["home"]
            if "setup" in ends:
                self._setup_endpoint = f"{ends['setup']}/setup/ws/1"

    return EndpointPyiCloudService


def _protect(folder: Path) -> None:
    """pyicloud writes its cookie files with the process umask: make them 0600."""
    try:
        os.chmod(folder, 0o700)
        for p in folder.iterdir():
            os.chmod(p, 0o600)
    except OSError:
        pass


def _ms(value: Any) -> int | None:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, (int, float)):
        return int(value)
    return None


def _token(record, field: str):
    try:
        return record.fields.get_value(field)
    except Exception:  # noqa: BLE001 (a record shape pyicloud's models did not expect: no such field)
        return None


class ICloudConnector(Connector):
    """The whole iCloud Photos library of an Apple ID (originals, edits, live-photo videos)."""

    type_name = "icloud"
    capabilities = Capabilities(delete=True)
    options = (
        Option("apple_id", "The Apple ID (e-mail address) whose library this is.", required=True),
        Option("china_mainland", "The account is a China mainland one (icloud.com.cn).", "bool", default=False),
        Option("full_listing_days", "List the whole library again every this many days (edits, albums and "
                                    "deletions of older photos are seen then).", "float", default=7.0,
               schema={"minimum": 0}, advanced=True),
        *retry_options(), timeout_option(),
        endpoints_option(ENDPOINTS, "the Apple hosts pyicloud uses (idmsa, setup, home)"),
    )
    login_options = ()

    def __init__(self, name: str, config: dict, env: ConnectorContext):
        super().__init__(name, config, env)
        self.apple_id = str(config.get("apple_id") or "")
        if not self.apple_id:
            raise ConfigError(f"service {name}: an icloud service needs --apple-id")
        self.china = bool(config.get("china_mainland", False))
        self.endpoints = dict(config.get("endpoints") or {})
        retry = config.get("retry") or {}
        self.attempts = int(retry.get("attempts", 8))
        self.base = float(retry.get("base_seconds", 1.0))
        self.timeout = float(config.get("timeout_seconds", 60))
        self.full_days = float(config.get("full_listing_days", 7.0))
        self._api: Any = None
        self._dl: Any = None
        #: asset id -> (pyicloud PhotoAsset, when it was listed: its links live an hour), of the
        #: last listing (open, delete and fresh links)
        self._assets: dict[str, tuple[Any, float]] = {}
        #: _assets holds the whole library (a whole listing was read)
        self._whole = False
        #: held by an open that lists the library (replicate opens from several threads)
        self._listing = threading.Lock()
        #: added dates (ms) of items whose describe failed since the last listing
        self._failed: list[int] = []

    # -- sign-in ------------------------------------------------------------------------------------
    @property
    def cookie_dir(self) -> Path:
        return credentials.location(self.env.ctx, "services", self.name).with_suffix(".icloud")

    def _make(self, password: str):
        folder = self.cookie_dir
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        cls = service_class(self.endpoints)
        from pyicloud.exceptions import PyiCloudException

        try:
            # password "" (never None: pyicloud would look in the system keyring)
            api = cls(self.apple_id, password, cookie_directory=str(folder), china_mainland=self.china)
        except PyiCloudException as e:
            raise self._explain(e, "sign in") from None
        except OSError as e:
            raise SourceError(f"cannot reach iCloud ({type(e).__name__}: {e})") from None
        finally:
            _protect(folder)
        return api

    def login(self, ask, **options) -> str:
        password = _ask(ask, f"Password of Apple ID {self.apple_id} (not saved)", secret=True)
        if not password:
            raise AuthError("no password given; nothing was saved")
        api = self._make(password)
        if api.requires_2fa:
            code = ask(f"Two-factor code sent to the devices of {self.apple_id}").strip()
            if not code:
                raise AuthError("no code given; nothing was saved")
            from pyicloud.exceptions import PyiCloudException

            try:
                ok = api.validate_2fa_code(code)
            except PyiCloudException as e:
                raise self._explain(e, "check the code") from None
            finally:
                _protect(self.cookie_dir)
            if not ok:
                raise AuthError(f"Apple did not accept the code; run photosync auth {self.name} again")
        elif getattr(api, "requires_2sa", False):
            raise AuthError("this Apple ID uses the old two-step verification, which photosync cannot answer; "
                            "turn on two-factor authentication for it")
        self._api = api
        self._photos()  # says so now when ADP or web access keeps photosync out
        info = (api.data or {}).get("dsInfo") or {}
        self.account = str(info.get("dsid") or self.apple_id)
        _protect(self.cookie_dir)
        who = info.get("fullName") or self.apple_id
        return f"{who} ({self.apple_id})"

    def api(self):
        if self._api is None:
            if not self.cookie_dir.is_dir():
                raise AuthError(f"service {self.name} is not signed in; run: photosync auth {self.name}")
            api = self._make("")
            if api.requires_2fa or getattr(api, "requires_2sa", False):
                raise AuthError(f"the iCloud session of {self.name} has expired; run: photosync auth {self.name}")
            info = (api.data or {}).get("dsInfo") or {}
            expected = self.config.get("account")
            if expected and info.get("dsid") and str(info["dsid"]) != str(expected):
                raise AuthError(f"the saved iCloud sign-in is for account {info['dsid']}, but service {self.name} is "
                                f"account {expected}; run: photosync auth {self.name}")
            self._api = api
        return self._api

    def _explain(self, e: BaseException, doing: str) -> Exception:
        from pyicloud.exceptions import (
            PyiCloudAPIResponseException,
            PyiCloudFailedLoginException,
            PyiCloudServiceUnavailable,
        )

        text = str(e)
        cause = e.__cause__
        body = f"{text} {cause or ''}"
        if "PCS" in text or "Unable to request PCS" in text:
            return AuthError(
                f"iCloud refuses photosync the photos of {self.apple_id}: Advanced Data Protection is on and "
                "\"Access iCloud Data on the Web\" is off. Turn that on (Settings > your name > iCloud), then run "
                f"photosync auth {self.name} again")
        denied = "ACCESS_DENIED" in body or "private db access" in body or _code(cause) == 403
        if isinstance(e, PyiCloudServiceUnavailable) and not denied:
            return SourceError(f"iCloud Photos is not available now ({text}: {cause}); try again later")
        if denied:
            return AuthError(
                f"iCloud refuses photosync the photos of {self.apple_id} (web access to iCloud data is off, or "
                "Advanced Data Protection blocks it). Turn on \"Access iCloud Data on the Web\" (Settings > your "
                f"name > iCloud), then run photosync auth {self.name} again")
        if isinstance(e, PyiCloudFailedLoginException):
            if "503" in body:
                return SourceError(f"iCloud refused service (HTTP 503) while trying to {doing}; try again later")
            return AuthError(f"Apple refused the sign-in of {self.apple_id} ({text}); run: photosync auth {self.name}")
        if isinstance(e, PyiCloudAPIResponseException) and getattr(e, "code", None) in (401, 421):
            return AuthError(f"the iCloud session of {self.name} has expired; run: photosync auth {self.name}")
        return SourceError(f"iCloud could not {doing}: {text}")

    def _call(self, fn, doing: str):
        """``fn()`` with pyicloud's errors said in words, and a 503 or dropped connection tried
        again with backoff and jitter (pyicloud retries nothing itself: SERVICES.md)."""
        import requests
        from pyicloud.exceptions import PyiCloudException

        from ...net import retrying

        def transient(e: BaseException) -> bool:
            # pyicloud wraps a 503 met while opening Photos in PyiCloudServiceUnavailable: its cause says
            return _code(e) in _TRANSIENT or _code(e.__cause__) in _TRANSIENT or \
                isinstance(e, (requests.ConnectionError, requests.Timeout)) or \
                isinstance(e.__cause__, (requests.ConnectionError, requests.Timeout))

        try:
            return retrying(fn, transient=transient, attempts=self.attempts, base=self.base)
        except PyiCloudException as e:
            raise self._explain(e, doing) from None
        except requests.RequestException as e:
            raise SourceError(f"cannot reach iCloud to {doing} ({type(e).__name__})") from None

    def _photos(self):
        api = self.api()
        return self._call(lambda: api.photos, "open the Photos library")

    # -- listing --------------------------------------------------------------------------------------
    def list(self, *, cursor: str | None = None, since: datetime | None = None, full_scan: bool = False) -> Listing:
        state = _read_cursor(cursor)
        now_ms = int(time.time() * 1000)
        whole = full_scan or state is None or since is not None or \
            now_ms - state["full"] > self.full_days * 86400 * 1000
        photos = self._photos()
        albums = self._call(lambda: self._album_map(photos), "list the albums")
        known = set(state.get("zones") or ()) if state else set()
        unread = set(state.get("unread") or ()) if state else set()
        zones, answered = self._shared(photos, known, state is None)
        absent = known - set(zones)
        # a Shared Library known from an earlier listing and not listed now: with every zone list
        # answered, it is gone from the account (left, or ended); without, it may be there still, and
        # none of its photos is taken for gone from a listing that did not read them
        gone = sorted(absent) if answered else []
        lost = [] if answered else sorted(absent)
        for zone in gone:
            self.env.report.warning(f"{self.name}:{zone}", "this Shared Library is no longer in this iCloud "
                                    "account (left, or ended): its photos are taken for gone from iCloud (they "
                                    "stay in the library and its stores)")
        for zone in lost:
            self.env.report.warning(f"{self.name}:{zone}", "this Shared Library was not listed by iCloud this "
                                    "time: its photos are kept as recorded, none is marked gone from iCloud")
        listed_at = time.time()
        refs: list[ItemRef] = []
        newest = state["added"] if state else 0
        floor = state["added"] - CURSOR_MARGIN_MS if state else 0
        assets: list[tuple[str | None, Any]] = []
        read_whole: set[str] = set()
        for zone, library in [(None, photos._root_library), *zones.items()]:
            where = "the photos" if zone is None else f"the photos of Shared Library {zone}"
            # a Shared Library joined since (or back, or not read through last time): all of it
            if whole or (zone is not None and (zone not in known or zone in unread)):
                if zone is not None:
                    read_whole.add(zone)
                found = self._call(lambda lib=library, z=zone: list(lib.all) + ([] if z else self._hidden(photos)),
                                   f"list {where}")
            else:
                def recent(lib=library):
                    out = []
                    for a in lib.recently_added():
                        if (_ms(a.added_date) or 0) < floor:
                            break
                        out.append(a)
                    return out
                found = self._call(recent, f"list the recently added of {where}")
            assets.extend((zone, a) for a in found)
        since_ms = int(since.timestamp() * 1000) if since is not None else None
        seen: dict[str, tuple[Any, float]] = {}
        for zone, a in assets:
            added = _ms(a.added_date) or 0
            newest = max(newest, added)
            if since_ms is not None and added < since_ms:
                continue
            seen[_key(zone, a.id)] = (a, listed_at)
            # the album map is the person's own library's (record names are unique within a zone only)
            refs.extend(self._refs(a, albums.get(a.id, ()) if zone is None else (), listed_at, zone))
        if whole:
            # swapped in whole, once listed: an asset gone since is not opened from an old
            # listing, and an open on another thread never meets a listing half made
            self._assets, self._whole = seen, True
        else:
            self._assets.update(seen)
        _protect(self.cookie_dir)
        full = now_ms if whole else state["full"]  # type: ignore[index]
        self._failed = []
        previous = state["added"] if state else 0
        # every Shared Library seen stays known until iCloud says it is gone (a later listing without it
        # must notice); one lost this time, or read whole in a run where an item could not be read, is
        # read whole again next time (photos added while it was away are older than the cursor)
        known_now = sorted((known - set(gone)) | set(zones))

        def final() -> str:
            # never past an item that could not be read: the next listing reaches back to it
            upto = min([newest, *(max(previous, f - 1) for f in self._failed)])
            again = set(lost) | (read_whole if self._failed else set())
            return json.dumps({"v": 1, "added": upto, "full": full if not self._failed else previous and full,
                               "zones": known_now, "unread": sorted(again)})
        # without a cursor nothing says which Shared Libraries were read before: complete only when every
        # zone list answered
        complete = whole and since is None and not lost and (answered or state is not None)
        return Listing(refs, complete=complete, cursor_fn=final)

    def _shared(self, photos, known: set[str], no_cursor: bool) -> tuple[dict[str, Any], bool]:
        """The Shared Libraries listed now, by zone name, and whether iCloud answered for every one
        of them.  pyicloud lists the zones of the private database (Shared Libraries made) and of the
        shared one (joined), and passes over a shared database that does not answer; so when it
        matters (a Shared Library ``known`` from an earlier listing is missing, or ``no_cursor`` says
        which were), the shared database is asked again here.  A failure is a warning, never the end
        of the listing: the person's own library is listed all the same."""
        try:
            zones = self._call(lambda: _shared_libraries(photos), "list the Shared Libraries")
        except AuthError:
            raise
        except SourceError as e:
            self.env.report.warning(f"{self.name}", f"{e}: no Shared Library is read this time, and none of "
                                    "their photos is taken for gone")
            return {}, False
        if not no_cursor and known <= set(zones):
            return zones, True
        try:
            joined = self._call(lambda: photos._shared_client.zones_list(), "list the Shared Libraries joined")
        except AuthError:
            raise
        except SourceError as e:
            self.env.report.warning(f"{self.name}", f"{e}: Shared Libraries joined may be missing from this "
                                    "listing, and none of their photos is taken for gone")
            return zones, False
        names = {z.zoneID.zoneName for z in joined.zones
                 if not z.deleted and (z.zoneID.zoneName or "").startswith(SHARED_LIBRARY_PREFIX)}
        # listed now but not when pyicloud asked (it does once a session): read next time
        return zones, names <= set(zones)

    def _library(self, zone: str | None):
        """pyicloud's library of the Shared Library ``zone``, or of the person's own (None)."""
        photos = self._photos()
        if zone is None:
            return photos._root_library
        library = self._call(lambda: _shared_libraries(photos), "list the Shared Libraries").get(zone)
        if library is None:
            raise SourceError(f"{self.name}: the Shared Library {zone} is not in this iCloud account any more")
        return library

    def _hidden(self, photos) -> builtins.list:
        try:
            album = photos.albums["Hidden"]
        except (KeyError, IndexError):
            return []
        return list(album)

    def _album_map(self, photos) -> dict[str, tuple[str, ...]]:
        """asset id -> names of the person's albums holding it (smart albums and folders left out)."""
        from pyicloud.services.photos_cloudkit.service import PhotoAlbumFolder, SmartPhotoAlbum

        out: dict[str, list[str]] = {}
        for album in photos.albums:
            if isinstance(album, (SmartPhotoAlbum, PhotoAlbumFolder)):
                continue
            name = getattr(album, "fullname", None) or album.name
            for a in album:
                out.setdefault(a.id, []).append(name)
        return {k: tuple(sorted(set(v))) for k, v in out.items()}

    def _refs(self, a, albums: tuple[str, ...], listed_at: float, zone: str | None = None) -> builtins.list[ItemRef]:
        """The items of asset ``a`` (of the Shared Library ``zone``, or of the person's own library)."""
        master, asset = a.master_record, a.asset_record
        tag = f"{getattr(asset, 'recordChangeTag', '')}.{getattr(master, 'recordChangeTag', '')}"
        caption = _text(asset, "captionEnc")
        key = _key(zone, a.id)
        base = {"asset": key, "zone": zone, "filename": _text(master, "filenameEnc") or a.id,
                "taken": iso(a.asset_date) if a.asset_date else None,
                "added": _ms(a.added_date), "albums": list(albums), "caption": caption or None,
                "favorite": bool(_token(asset, "isFavorite")), "hidden": bool(_token(asset, "isHidden")),
                "at": listed_at}
        meta_key = json.dumps([albums, caption, base["favorite"], base["filename"], base["taken"]], sort_keys=True)
        import hashlib

        mk = hashlib.sha256(meta_key.encode()).hexdigest()[:16]
        out = []
        video = a.item_type == "movie"
        edit_field = "resVidFullRes" if video else "resJPEGFullRes"
        for suffix, record, field in (("", master, "resOriginalRes"), ("/edited", asset, edit_field),
                                      ("/live", master, "resOriginalVidComplRes"), ("/alt", master, "resOriginalAltRes")):
            tok = _token(record, field)
            url = getattr(tok, "downloadURL", None) if tok is not None else None
            if not url:
                continue
            checksum = getattr(tok, "fileChecksum", None) or ""
            ftype = _token(record, field[:-3] + "FileType")
            extra = dict(base, kind=suffix.strip("/") or "original", url=url, uti=ftype, field=field)
            out.append(ItemRef(
                id=key + suffix, fingerprint=f"{checksum}:{tag}:{mk}",
                content_key=f"ck:{checksum}" if checksum else None, size=getattr(tok, "size", None),
                modified=a.added_date, extra=json.dumps(extra).encode()))
        return out

    # -- items ------------------------------------------------------------------------------------------
    def where(self, item_id: str) -> str:
        return f"{self.name}:{item_id}"

    def _item_name(self, info: dict) -> str:
        name = info.get("filename") or info["asset"]
        stem, dot, ext = name.rpartition(".")
        kind = info.get("kind")
        if kind == "live":
            return f"{stem or name}.MOV"
        if kind == "alt":  # the other original of a pair (RAW+JPEG): its own type's extension
            return f"{stem or name}.{_UTI_EXT.get(info.get('uti') or '', ext or 'JPG')}"
        if kind == "edited":
            new_ext = _UTI_EXT.get(info.get("uti") or "", "JPG")
            return f"{stem or name}_edited.{new_ext}" if dot else f"{name}_edited.{new_ext}"
        return name

    def _fresh_url(self, info: dict) -> str:
        if time.time() - float(info.get("at") or 0) < LINK_LIFETIME:
            return info["url"]
        zone, asset_id = _split(info["asset"])
        library = self._library(zone)
        a = self._call(lambda: library.all.get(asset_id), "ask for fresh download links")
        if a is None:
            raise SourceError(f"{self.name}:{info['asset']} is gone from iCloud")
        self._assets[info["asset"]] = (a, time.time())
        record = a.asset_record if info.get("field") in ("resJPEGFullRes", "resVidFullRes") else a.master_record
        tok = _token(record, info["field"])
        url = getattr(tok, "downloadURL", None) if tok is not None else None
        if not url:
            raise SourceError(f"{self.name}:{info['asset']} has no {info.get('kind')} copy any more")
        return url

    def _download(self, info: dict) -> BinaryIO:
        import requests

        from ...net import download

        if self._dl is None:
            self._dl = requests.Session()  # signed links: no cookies needed, a pool of its own
        f = download(self._dl, self._fresh_url(info), attempts=self.attempts, base=self.base, timeout=self.timeout)
        return cast(BinaryIO, f)  # a temporary file opened "w+b"

    def describe(self, ref: ItemRef) -> ServiceItem:
        if not ref.extra:
            raise SourceError(f"{self.where(ref.id)}: not from a listing")
        info = json.loads(ref.extra)
        try:
            return self._describe(ref, info)
        except Exception:
            self._failed.append(int(info.get("added") or 0))
            raise

    def _describe(self, ref: ItemRef, info: dict) -> ServiceItem:
        name = self._item_name(info)
        size = None
        if ref.known_hash:  # only what iCloud says changed: the bytes are not fetched again
            content_hash, look = ref.known_hash, None
            warnings: tuple[str, ...] = ()
            md = Metadata(filename=name)
        else:
            from ...media.ingest import ingest, metadata_from_probe

            with self._download(info) as f:
                try:
                    media = ingest(f, name)
                except NotMedia:
                    raise MediaError(f"the file iCloud gives for {name} is not a photo or video photosync can "
                                     "read") from None
            content_hash, size = media.content_hash, media.size
            look = media.info.look
            warnings = tuple(w for w in (media.info.problem,) if w)
            md = metadata_from_probe(media.info, name)
        changes: dict[str, Any] = {"filename": name, "albums": tuple(info.get("albums") or ())}
        if info.get("taken") and (md.taken_date is None or info.get("kind") != "original"):
            # assetDate is the date Photos shows; a file's own EXIF date stays where it has one
            changes.update(taken_date=info["taken"], taken_date_source="service")
        if info.get("caption"):
            changes["caption"] = info["caption"]
        changes["favorite"] = bool(info.get("favorite"))
        if info.get("kind") == "edited":
            changes["edit_of"] = info["asset"]
        elif info.get("kind") == "live":
            changes["motion_of"] = info["asset"]
        import dataclasses

        md = dataclasses.replace(md, **changes)
        quality = "original" if info.get("kind") in ("original", "alt") else "high"
        return ServiceItem(ref=ref, content_hash=content_hash, size=size, metadata=md, quality=quality,
                           warnings=warnings, look=look)

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        asset_id, _, kind = item_id.partition("/")
        with self._listing:
            if asset_id not in self._assets and not self._whole:
                # replicate opens photo after photo: one listing of the library (a request per 100
                # photos) instead of a lookup each (pyicloud's lookup of an id it does not find pages
                # through the whole library); its other threads wait for that listing
                self.list(full_scan=True)
        entry = self._assets.get(asset_id)
        if entry is None:
            raise SourceError(f"{self.where(item_id)} is not in the iCloud library")
        a, listed_at = entry
        for ref in self._refs(a, (), listed_at, _split(asset_id)[0]):
            if ref.id == item_id:
                assert ref.extra is not None
                return self._download(json.loads(ref.extra))
        raise SourceError(f"{self.where(item_id)} is not in the iCloud library")

    # -- delete (prune only) -------------------------------------------------------------------------------
    def delete_unit(self, item_id: str) -> str:
        return item_id.partition("/")[0]

    def never_deleted(self, item_id: str) -> str | None:
        if _split(item_id.partition("/")[0])[0] is not None:
            # deleted there, it would be deleted for everyone who shares that library
            return "it is in an iCloud Shared Library, which other people share: photosync never deletes from one"
        return None

    def delete(self, item_id: str, expected: Mapping[str, tuple[str, str | None]] | None = None) -> str:
        """Move the asset ``item_id`` (an original's id) to Recently Deleted (recoverable there for 30
        days; never a hard delete). Its edit and live video go with it, so the asset is asked for
        afresh and refused when it holds an item or a checksum ``expected`` does not name (an edit
        made since the last discover). Returns where it went."""
        asset_id, _, kind = item_id.partition("/")
        if kind:
            raise SourceError(f"{self.where(item_id)}: only a whole asset is deleted (its original, "
                              f"{asset_id}), never one of its renderings")
        never = self.never_deleted(item_id)
        if never is not None:
            raise SourceError(f"{self.where(item_id)}: {never}")
        photos = self._photos()
        a = self._call(lambda: photos.all.get(asset_id), "look the photo up")
        if a is None:
            def deleted():
                try:
                    return photos.albums["Recently Deleted"].get(asset_id)
                except (KeyError, IndexError):
                    return None
            if self._call(deleted, "look in Recently Deleted") is not None:
                return "Recently Deleted"  # by a prune killed before its commit: finished now
            raise SourceError(f"{self.where(item_id)} is not in the iCloud library any more")
        unknown = sorted(k for rec in (a.master_record, a.asset_record) for k in (getattr(rec, "fields", None) or {})
                         if k.endswith("Res") and k not in _READ_RESOURCES and not k.startswith(_DERIVED))
        if unknown:
            raise SourceError(f"{self.where(item_id)} holds a kind of file photosync does not read ({', '.join(unknown)}); "
                              "not deleted")
        if expected is not None:
            for ref in self._refs(a, (), time.time()):
                want = expected.get(ref.id)
                # without the checksum recorded for these bytes nothing shows they are unchanged:
                # prune passes none when the last scan's bytes are not the recorded ones (fail safe)
                if want is None or want[1] is None or ref.content_key != want[1]:
                    raise SourceError(f"{self.where(ref.id)} changed on iCloud since photosync read it (an edit, "
                                      "new bytes); not deleted: run photosync discover and replicate first")
        self._call(a.delete, "delete the photo")
        return "Recently Deleted"


_TRANSIENT = (429, 500, 502, 503, 504)

#: the resources listed as items; an asset holding another kind of resource that is not one of the
#: service's smaller renderings (_DERIVED) is never deleted (its bytes would go unread)
_READ_RESOURCES = frozenset({"resOriginalRes", "resOriginalAltRes", "resOriginalVidComplRes", "resJPEGFullRes",
                             "resVidFullRes"})
_DERIVED = ("resJPEGMed", "resJPEGThumb", "resVidMed", "resVidSmall", "resJPEGLarge", "resVidHEVC",
            "resOriginalVidComplMed", "resOriginalVidComplSmall")


def _text(record, field: str) -> str | None:
    """An ``…Enc`` text field (ENCRYPTED_BYTES: base64 of UTF-8 on the wire). pyicloud's model gives
    it already decoded, as bytes, and its ``decode_encrypted_text`` (PhotoAsset.filename) then
    base64-decodes those bytes again: a name such as ``V.MOV`` comes out garbled ("TÕ"), so the
    field is read here, decoded once."""
    import base64

    value = _token(record, field)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace") or None
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True).decode("utf-8") or None
        except ValueError:
            return value or None
    return None


def _code(e: BaseException | None) -> int | None:
    """The HTTP status a pyicloud error carries (PyiCloudAPIResponseException.code), if any."""
    code = getattr(e, "code", None)
    return code if isinstance(code, int) else None


def _ask(ask, prompt: str, secret: bool = False) -> str:
    """The person's answer; a password without echo where the asker can (the CLI's can)."""
    try:
        return ask(prompt, secret=secret)
    except TypeError:
        return ask(prompt)


def _shared_libraries(photos) -> dict[str, Any]:
    """The iCloud Shared Photo Libraries the account made or joined (each a CloudKit zone
    "SharedSync-<UUID>": pyicloud lists those of the private and the shared database), by zone name.
    Shared albums (the "shared" streams) are another thing: the ``icloud-shared`` type reads them."""
    from pyicloud.services.photos_cloudkit.service import PhotoLibrary

    out = {}
    for key, library in photos.libraries.items():
        zone = key.partition(":")[2]
        if key.startswith("shared:") and zone.startswith(SHARED_LIBRARY_PREFIX) and isinstance(library, PhotoLibrary):
            out[zone] = library
    return out


def _key(zone: str | None, asset_id: str) -> str:
    """An asset's item id: its record name, after its Shared Library's zone name when it is in one
    (record names are unique within a zone only)."""
    return asset_id if zone is None else f"{zone}:{asset_id}"


def _split(key: str) -> tuple[str | None, str]:
    zone, sep, asset_id = key.partition(":")
    return (zone, asset_id) if sep and zone.startswith(SHARED_LIBRARY_PREFIX) else (None, key)


def _read_cursor(cursor: str | None) -> dict | None:
    if not cursor:
        return None
    try:
        d = json.loads(cursor)
    except (ValueError, TypeError):
        return None
    if not isinstance(d, dict) or d.get("v") != 1 or not isinstance(d.get("added"), int) \
            or not isinstance(d.get("full"), int):
        return None
    return d


__all__ = ["ICloudConnector", "service_class"]
