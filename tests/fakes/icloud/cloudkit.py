"""The iCloud Photos library behind CloudKit (``pNN-ckdatabasews.icloud.com``, container
``com.apple.photos.cloud``, zone ``PrimarySync``) as the fake answers it: CPLMaster /
CPLAsset record pairs, the list indexes pyicloud queries, album records, counts, modify
(favourite, delete to Recently Deleted, albums), lookups, zone changes, and the asset
download host. Sources in README.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

from ..pictures import picture, video
from ..server import Request, Response

ZONE = {"zoneName": "PrimarySync", "ownerRecordName": "_defaultOwner", "zoneType": "REGULAR_CUSTOM_ZONE"}
PRIMARY = ZONE["zoneName"]
#: an iCloud Shared Photo Library is a zone of its own, "SharedSync-<UUID>": in the private database
#: of the person who made it, in the shared database of those who joined it (pyicloud 2026.10.1
#: service.py _discover_typed_zones; pyicloud#395, icloud_photos_downloader#489 and #947)
SHARED_LIBRARY_PREFIX = "SharedSync-"
CONTAINER = "/database/1/com.apple.photos.cloud/production"

#: file type (UTI) of each kind of original (pyicloud PhotoAsset.ITEM_TYPES)
UTI = {"jpeg": "public.jpeg", "heic": "public.heic", "png": "public.png", "mov": "com.apple.quicktime-movie",
       "mp4": "public.mpeg-4", "dng": "com.adobe.raw-image"}
VIDEO_UTIS = {"com.apple.quicktime-movie", "public.mpeg-4"}


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _b64(text: str) -> str:
    # *Enc fields (filenameEnc, albumNameEnc, captionEnc) are ENCRYPTED_BYTES: base64 of the UTF-8 text
    # (pyicloud mappers.decode_encrypted_text)
    return base64.b64encode(text.encode("utf-8")).decode()


def fingerprint(data: bytes) -> str:
    """An opaque, content-derived id in the shape of CloudKit's fileChecksum / *Fingerprint
    ("ARXoH1EL3hYxm2DAq9w4Nspo2ZYb": 28 characters of base64 starting with "A")."""
    return base64.b64encode(b"\x01" + hashlib.sha1(data).digest()).decode()[:28]


@dataclass
class Resource:
    key: str              # resOriginal, resOriginalAlt, resJPEGMed, resJPEGThumb, resOriginalVidCompl,
                          # resVidMed, resVidSmall, resJPEGFull (edited still), resVidFull (edited video)
    data: bytes
    uti: str
    width: int
    height: int
    id: str = field(default_factory=lambda: secrets.token_urlsafe(24))


@dataclass
class Asset:
    asset_id: str
    master_id: str
    filename: str
    taken: datetime
    added: datetime
    master_res: dict = field(default_factory=dict)     # key -> Resource on the CPLMaster
    asset_res: dict = field(default_factory=dict)      # key -> Resource on the CPLAsset (edits)
    favorite: bool = False
    hidden: bool = False
    deleted: bool = False        # in Recently Deleted
    expunged: bool = False       # gone for good
    deleted_at: datetime | None = None
    caption: str | None = None
    albums: list = field(default_factory=list)          # album record names
    master_tag: int = 1
    asset_tag: int = 1
    serial: int = 0              # zone change counter when last changed
    zone: str = PRIMARY          # the zone holding its records (PrimarySync, or a Shared Library's)
    owner: str = "_defaultOwner"  # that zone's owner (another person's, in a Shared Library joined)

    @property
    def is_video(self) -> bool:
        return self.master_res["resOriginal"].uti in VIDEO_UTIS

    def master_record(self, desired=None) -> dict:
        f = {"filenameEnc": {"value": _b64(self.filename), "type": "ENCRYPTED_BYTES"},
             "itemType": {"value": self.master_res["resOriginal"].uti, "type": "STRING"},
             "dataClassType": {"value": 1 if self.is_video else 0, "type": "INT64"},
             "originalOrientation": {"value": 1, "type": "INT64"}}
        for key, r in self.master_res.items():
            f.update(_res_fields(key, r))
        return _record(self.master_id, "CPLMaster", f, f"m{self.master_tag}", desired, self.zone_id)

    @property
    def zone_id(self) -> dict:
        return {"zoneName": self.zone, "ownerRecordName": self.owner, "zoneType": "REGULAR_CUSTOM_ZONE"}

    def asset_record(self, desired=None) -> dict:
        f = {"masterRef": {"value": {"recordName": self.master_id, "action": "DELETE_SELF", "zoneID": self.zone_id},
                           "type": "REFERENCE"},
             "assetDate": {"value": _ms(self.taken), "type": "TIMESTAMP"},
             "addedDate": {"value": _ms(self.added), "type": "TIMESTAMP"},
             "isFavorite": {"value": int(self.favorite), "type": "INT64"},
             "isHidden": {"value": int(self.hidden), "type": "INT64"},
             "isDeleted": {"value": int(self.deleted), "type": "INT64"},
             "isExpunged": {"value": int(self.expunged), "type": "INT64"},
             "orientation": {"value": 1, "type": "INT64"},
             "timeZoneOffset": {"value": 0, "type": "INT64"},
             "assetSubtypeV2": {"value": 2 if "resOriginalVidCompl" in self.master_res else 0, "type": "INT64"}}
        if self.deleted_at is not None:
            f["dateExpunged"] = {"value": _ms(self.deleted_at), "type": "TIMESTAMP"}
        if self.caption:
            f["captionEnc"] = {"value": _b64(self.caption), "type": "ENCRYPTED_BYTES"}
        if self.asset_res:
            # an edited photo: adjustmentType names the editor, the rendition sits on the CPLAsset
            # (SERVICES.md: "resJPEGFullRes is on the asset's record")
            f["adjustmentType"] = {"value": "com.apple.photo", "type": "STRING"}
            f["adjustmentRenderType"] = {"value": 0, "type": "INT64"}
            for key, r in self.asset_res.items():
                f.update(_res_fields(key, r))
        return _record(self.asset_id, "CPLAsset", f, f"a{self.asset_tag}", desired, self.zone_id)


def _res_fields(key: str, r: Resource) -> dict:
    return {
        f"{key}Res": {"value": {"fileChecksum": fingerprint(r.data), "size": len(r.data),
                                "wrappingKey": base64.b64encode(hashlib.sha256(r.id.encode()).digest()[:16]).decode(),
                                "referenceChecksum": fingerprint(r.data[:64]),
                                "downloadURL": f"@@{r.id}@@"}, "type": "ASSETID"},
        f"{key}Width": {"value": r.width, "type": "INT64"},
        f"{key}Height": {"value": r.height, "type": "INT64"},
        f"{key}FileType": {"value": r.uti, "type": "STRING"},
        f"{key}Fingerprint": {"value": fingerprint(r.data), "type": "STRING"},
    }


def _record(name: str, rtype: str, fields: dict, tag: str, desired, zone: dict | None = None) -> dict:
    if desired:
        want = set(desired)
        fields = {k: v for k, v in fields.items() if k in want}
    now = {"timestamp": _ms(datetime.now(timezone.utc)), "userRecordName": "_defaultOwner", "deviceID": "2"}
    return {"recordName": name, "recordType": rtype, "fields": fields, "pluginFields": {},
            "recordChangeTag": tag, "created": now, "modified": now, "deleted": False, "zoneID": dict(zone or ZONE)}


@dataclass
class Album:
    record_name: str
    name: str
    album_type: int = 0          # 0 album, 3 folder
    parent_id: str | None = None
    deleted: bool = False
    position: int = 0
    tag: int = 1

    def record(self) -> dict:
        f = {"albumNameEnc": {"value": _b64(self.name), "type": "ENCRYPTED_BYTES"},
             "albumType": {"value": self.album_type, "type": "INT64"},
             "isDeleted": {"value": int(self.deleted), "type": "INT64"},
             "isExpunged": {"value": 0, "type": "INT64"},
             "position": {"value": self.position, "type": "INT64"},
             "sortAscending": {"value": 1, "type": "INT64"},
             "sortType": {"value": 0, "type": "INT64"},
             "recordModificationDate": {"value": _ms(datetime.now(timezone.utc)), "type": "TIMESTAMP"}}
        if self.parent_id:
            f["parentId"] = {"value": self.parent_id, "type": "STRING"}
        return _record(self.record_name, "CPLAlbum", f, f"l{self.tag}", None)


def _zone_of(body: dict, op: str) -> str:
    """The zone a CloudKit request is about: its ``zoneID`` (a zone changes request names it in
    ``zones``, a batch count in each item); PrimarySync when it names none."""
    if op == "changes/zone":
        named = ((body.get("zones") or [{}])[0] or {}).get("zoneID")
    elif op == "internal/records/query/batch":
        named = ((body.get("batch") or [{}])[0] or {}).get("zoneID")
    else:
        named = body.get("zoneID")
    return str((named or {}).get("zoneName") or PRIMARY)


def _filters(query: dict) -> dict:
    out = {}
    for f in query.get("filterBy") or []:
        out[f.get("fieldName")] = (f.get("fieldValue") or {}).get("value")
    return out


#: smart-album selector -> predicate (pyicloud constants: smartAlbum FAVORITE, VIDEO, LIVE, ...)
SMART = {
    "FAVORITE": lambda a: a.favorite,
    "VIDEO": lambda a: a.is_video,
    "LIVE": lambda a: "resOriginalVidCompl" in a.master_res,
    "SCREENSHOT": lambda a: False, "PANORAMA": lambda a: False, "SLOMO": lambda a: False,
    "TIMELAPSE": lambda a: False,
}


class CloudKitMixin:
    """The Photos library and its CloudKit endpoints (mixed into FakeICloud)."""

    def _ck_init(self) -> None:
        self.assets: dict[str, Asset] = {}        # asset record name -> Asset
        self.albums: dict[str, Album] = {}
        self.deletions: list[dict] = []           # every asset moved to Recently Deleted
        self.hard_deletes: list[str] = []         # record names deleted for good through the API
        self.indexing_state = "FINISHED"
        self.url_lifetime = 3600.0
        self.asset_downloads: list[tuple[str, str]] = []   # (asset id, resource key)
        self._serial = 1
        self._res_index: dict[str, tuple[str, str, str]] = {}   # resource id -> (asset id, side, key)
        self._dl_key = secrets.token_bytes(16)
        #: Shared Library zones: name -> (database it is in for this Apple ID, its owner's record name)
        self.shared_libraries: dict[str, tuple[str, str]] = {}
        self.shared_zone_listing_fails = False  # the shared database's zones/list answers 503
        #: a zone's own CheckIndexingState answer (else indexing_state): a Shared Library still indexing
        self.zone_indexing: dict[str, str] = {}
        #: the zone the request being answered is about (None: every zone, for the tests' helpers)
        self._zone: str | None = None

    def add_shared_library(self, owner: bool = True) -> str:
        """An iCloud Shared Photo Library; its zone name (``add_asset(..., library=name)`` puts
        photos in it). ``owner``: this Apple ID made it (its zone is in the private database); else
        it joined another person's (the zone is in the shared database, owned by them)."""
        name = f"{SHARED_LIBRARY_PREFIX}{str(uuid.uuid4()).upper()}"
        with self.lock:
            self.shared_libraries[name] = ("private", "_defaultOwner") if owner else \
                ("shared", "_" + secrets.token_hex(16))
        return name

    def remove_shared_library(self, name: str) -> None:
        """The person leaves a Shared Library (or its owner ends it): its zone is not listed any more."""
        with self.lock:
            del self.shared_libraries[name]

    # -- seeding -------------------------------------------------------------------------------------
    def _bump(self) -> int:
        self._serial += 1
        return self._serial

    def add_asset(self, data: bytes | None = None, *, filename: str | None = None, kind: str = "jpeg",
                  size: tuple[int, int] = (64, 48), taken: datetime | None = None, added: datetime | None = None,
                  live_video: bytes | None = None, edited: bytes | None = None, alt: bytes | None = None,
                  alt_kind: str = "jpeg", favorite: bool = False, hidden: bool = False, caption: str | None = None,
                  albums=(), library: str | None = None) -> str:
        """A photo or video in the library; its asset id (the CPLAsset record name, which
        pyicloud's PhotoAsset.id is). ``data`` is the original's bytes (drawn when None);
        ``kind`` one of jpeg, heic, png, mov, mp4, dng. ``live_video`` makes a live photo
        (resOriginalVidCompl), ``edited`` an edited one (resJPEGFullRes on the CPLAsset, or
        resVidFullRes for a video), ``alt`` a second original (resOriginalAlt, e.g. the JPEG
        of a RAW+JPEG pair). ``albums``: album names (created when new) or record names.
        ``library``: a Shared Library's zone name (add_shared_library), else the person's own."""
        from ..pictures import jpeg, sniff_size

        taken = taken or datetime(2021, 6, 1, 12, 0, tzinfo=timezone.utc)
        added = added or datetime.now(timezone.utc)
        asset_id = str(uuid.uuid4()).upper()
        master_id = base64.urlsafe_b64encode(secrets.token_bytes(21)).decode().rstrip("=")
        is_video = kind in ("mov", "mp4")
        if data is None:
            data = video(asset_id, size, created=taken, quicktime=(kind == "mov")) if is_video else \
                jpeg(asset_id, size, taken=taken.replace(tzinfo=None))
        dims = sniff_size(data) or size
        ext = {"jpeg": "JPG", "heic": "HEIC", "png": "PNG", "mov": "MOV", "mp4": "MP4", "dng": "DNG"}[kind]
        filename = filename or f"IMG_{secrets.randbelow(10000):04d}.{ext}"
        a = Asset(asset_id, master_id, filename, taken, added, favorite=favorite, hidden=hidden, caption=caption)
        if library is not None:
            a.zone, a.owner = library, self.shared_libraries[library][1]
        a.master_res["resOriginal"] = Resource("resOriginal", data, UTI[kind], *dims)
        # smaller renditions the service makes: a medium JPEG and a thumbnail (videos also get
        # resVidMed / resVidSmall); real bytes, smaller than the original
        still = None if is_video else data
        a.master_res["resJPEGMed"] = self._small_jpeg("resJPEGMed", asset_id, still, dims, 1280 // 16)
        a.master_res["resJPEGThumb"] = self._small_jpeg("resJPEGThumb", asset_id, still, dims, 360 // 16)
        if is_video:
            a.master_res["resVidMed"] = Resource("resVidMed", video(asset_id + ":vmed", (640, 360), created=taken),
                                                 UTI["mp4"], 640, 360)
            a.master_res["resVidSmall"] = Resource("resVidSmall", video(asset_id + ":vsmall", (320, 180), created=taken),
                                                   UTI["mp4"], 320, 180)
        if alt is not None:
            a.master_res["resOriginalAlt"] = Resource("resOriginalAlt", alt, UTI[alt_kind], *(sniff_size(alt) or dims))
        if live_video is not None:
            a.master_res["resOriginalVidCompl"] = Resource("resOriginalVidCompl", live_video, UTI["mov"], *dims)
        if edited is not None:
            key = "resVidFull" if is_video else "resJPEGFull"
            a.asset_res[key] = Resource(key, edited, UTI["mp4"] if is_video else UTI["jpeg"],
                                        *(sniff_size(edited) or dims))
        with self.lock:
            a.serial = self._bump()
            self.assets[asset_id] = a
            for side, res in (("master", a.master_res), ("asset", a.asset_res)):
                for key, r in res.items():
                    self._res_index[r.id] = (asset_id, side, key)
            for name in albums:
                rec = name if name in self.albums else self._album_named(name)
                a.albums.append(rec)
        return asset_id

    def _small_jpeg(self, key: str, seed: str, data: bytes | None, dims, edge: int) -> Resource:
        """A smaller JPEG of the picture (edge is scaled down 16x from Apple's 1280/360 to keep
        the fake light); drawn from the seed when the original is not a still Pillow opens."""
        from PIL import Image

        w, h = dims
        scale = min(1.0, edge / max(w, h))
        sw, sh = max(4, round(w * scale)), max(4, round(h * scale))
        im = None
        if data is not None:
            try:
                im = Image.open(io.BytesIO(data)).convert("RGB").resize((sw, sh))
            except Exception:
                im = None
        im = im or picture(seed, (sw, sh))
        out = io.BytesIO()
        im.save(out, "JPEG", quality=75)
        return Resource(key, out.getvalue(), UTI["jpeg"], sw, sh)

    def create_album(self, name: str, folder: str | None = None, is_folder: bool = False) -> str:
        """An album (or folder) in the library; its record name."""
        with self.lock:
            rec = str(uuid.uuid4()).upper()
            parent = self._album_named(folder, folder=True) if folder else None
            self.albums[rec] = Album(rec, name, 3 if is_folder else 0, parent, position=len(self.albums) + 1)
            self._bump()
            return rec

    def _album_named(self, name: str, folder: bool = False) -> str:
        for rec, al in self.albums.items():
            if al.name == name and not al.deleted:
                return rec
        rec = str(uuid.uuid4()).upper()
        self.albums[rec] = Album(rec, name, 3 if folder else 0, position=len(self.albums) + 1)
        return rec

    def add_to_album(self, asset_id: str, album: str) -> None:
        with self.lock:
            rec = album if album in self.albums else self._album_named(album)
            a = self.assets[asset_id]
            if rec not in a.albums:
                a.albums.append(rec)
                a.serial = self._bump()

    def delete_asset(self, asset_id: str) -> None:
        """The person deletes a photo on a device: it goes to Recently Deleted."""
        with self.lock:
            a = self.assets[asset_id]
            a.deleted, a.deleted_at = True, datetime.now(timezone.utc)
            a.asset_tag += 1
            a.serial = self._bump()

    def expunge(self, asset_id: str) -> None:
        """Recently Deleted is emptied for this photo (30 days passed)."""
        with self.lock:
            a = self.assets[asset_id]
            a.deleted = a.expunged = True
            a.serial = self._bump()

    def original(self, asset_id: str) -> bytes:
        return self.assets[asset_id].master_res["resOriginal"].data

    def in_library(self) -> list[str]:
        """Asset ids the All Photos view shows (not hidden, not deleted)."""
        with self.lock:
            return [a.asset_id for a in self._ordered(lambda a: not a.hidden and not a.deleted)]

    def recently_deleted(self) -> list[str]:
        with self.lock:
            return [a.asset_id for a in self.assets.values() if a.deleted and not a.expunged]

    # -- the webservice URLs this fake hands out -------------------------------------------------------------
    def webservices(self) -> dict:
        """accountLogin's webservices map: every URL points at this fake (https, as pyicloud requires)."""
        u = self.url
        part = self.partition
        return {
            "ckdatabasews": {"url": f"{u}/p{part}-ckdatabasews.icloud.com", "pcsRequired": True, "status": "active"},
            "photosupload": {"url": f"{u}/p{part}-photosupload.icloud.com", "pcsRequired": True, "status": "active"},
            "uploadimagews": {"url": f"{u}/p{part}-uploadimagews.icloud.com", "status": "active"},
            "sharedstreams": {"url": f"{u}/p{part}-sharedstreams.icloud.com", "status": "active"},
            "account": {"url": f"{u}/setup.icloud.com", "status": "active"},
            "findme": {"url": f"{u}/p{part}-fmipweb.icloud.com", "status": "active"},
        }

    # -- CloudKit endpoints ---------------------------------------------------------------------------------
    def _cloudkit(self, req: Request) -> Response:
        p = req.path.rstrip("/")
        if not p.startswith(CONTAINER):
            return Response.text("Not Found", 404)
        rest = p[len(CONTAINER):]
        db, _, op = rest.lstrip("/").partition("/")
        if req.method != "POST" or db not in ("private", "shared"):
            return Response.text("Not Found", 404)
        s = self._web_session(req)
        if s is None:
            return self._ck_error(401, "AUTHENTICATION_REQUIRED", "Request needs authorization")
        acct = self.account
        if not acct.web_access or (acct.adp and not s.pcs):
            # the error icloudpd users see with ADP on or web access off: "private db access
            # disabled for this account ... (ACCESS_DENIED)" (icloud_photos_downloader#514, #1140)
            return self._ck_error(403, "ACCESS_DENIED", "private db access disabled for this account")
        body = req.json() or {}
        zones = self._zones_of(db)
        if op == "zones/list":
            if db == "shared" and self.shared_zone_listing_fails:
                return self.fault_response(503, [])  # type: ignore[attr-defined]
            return Response.json({"zones": [{"zoneID": z, "syncToken": self._sync_token(), "atomic": True}
                                            for z in zones.values()]})
        zone = _zone_of(body, op)
        if zone not in zones:
            # a query about a zone this database does not hold (a Shared Library left, say)
            return self._ck_error(404, "ZONE_NOT_FOUND", f"Zone '{zone}' does not exist")
        handlers = {"records/query": self._query, "records/lookup": self._lookup, "records/modify": self._modify,
                    "internal/records/query/batch": self._count,
                    "changes/zone": self._changes, "changes/database": self._db_changes}
        h = handlers.get(op)
        if h is None:
            return self._ck_error(400, "BAD_REQUEST", f"Unknown operation {op}")
        with self.lock:
            self._zone = zone
            try:
                return h(body)
            finally:
                self._zone = None

    def _zones_of(self, db: str) -> dict[str, dict]:
        """The zones of database ``db`` ("private" or "shared") for this Apple ID, by name."""
        out = {PRIMARY: dict(ZONE)} if db == "private" else {}
        for name, (where, owner) in self.shared_libraries.items():
            if where == db:
                out[name] = {"zoneName": name, "ownerRecordName": owner, "zoneType": "REGULAR_CUSTOM_ZONE"}
        return out

    def _ck_error(self, status: int, code: str, reason: str) -> Response:
        # CloudKit's error body: {"uuid", "serverErrorCode", "reason"}
        return Response.json({"uuid": str(uuid.uuid4()), "serverErrorCode": code, "reason": reason}, status=status)

    def _sync_token(self) -> str:
        return base64.b64encode(f"HwoECJ{self._serial:012d}".encode()).decode()

    def _links(self, rec: dict) -> dict:
        """Turn the downloadURL placeholders into signed links valid for url_lifetime."""
        exp = int(self.time() + self.url_lifetime)
        for fld in rec.get("fields", {}).values():
            v = fld.get("value")
            if isinstance(v, dict) and isinstance(v.get("downloadURL"), str) and v["downloadURL"].startswith("@@"):
                rid = v["downloadURL"].strip("@")
                sig = hmac.new(self._dl_key, f"{rid}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]
                # "https://cvws.icloud-content.com/B/<id>/${f}?o=...&e=<expiry>...": the file name
                # is a ${f} placeholder in real download URLs (clients substitute it or not)
                v["downloadURL"] = (f"{self.url}/cvws.icloud-content.com/B/{rid}/${{f}}?o={secrets.token_urlsafe(12)}"
                                    f"&v=1&x=3&e={exp}&s={sig}")
        return rec

    def _pair(self, a: Asset, desired=None) -> list[dict]:
        return [self._links(a.master_record(desired)), self._links(a.asset_record(desired))]

    def _in_zone(self) -> list[Asset]:
        return [a for a in self.assets.values() if self._zone is None or a.zone == self._zone]

    def _ordered(self, pred, key=lambda a: (a.taken, a.asset_id)) -> list[Asset]:
        return sorted((a for a in self._in_zone() if not a.expunged and pred(a)), key=key)

    def _query(self, body: dict) -> Response:
        q = body.get("query") or {}
        rtype = q.get("recordType")
        flt = _filters(q)
        desired = body.get("desiredKeys")
        limit = int(body.get("resultsLimit") or 200)
        if rtype == "CheckIndexingState":
            state = self.zone_indexing.get(self._zone or PRIMARY, self.indexing_state)
            return Response.json({"records": [_record("_indexing", "CheckIndexingState", {
                "state": {"value": state, "type": "STRING"},
                "progress": {"value": 100 if state == "FINISHED" else 40, "type": "INT64"}}, "1", None)],
                "syncToken": self._sync_token()})
        if rtype == "CPLAlbumByPositionLive":
            parent = flt.get("parentId")
            albums = sorted((al for al in self.albums.values() if not al.deleted and al.parent_id == parent
                             and self._zone == PRIMARY),  # a person's albums are in their own zone
                            key=lambda al: (al.position, al.record_name))
            start = int(base64.b64decode(body["continuationMarker"]).decode()) if body.get("continuationMarker") else 0
            page = albums[start:start + limit]
            out = {"records": [al.record() for al in page], "syncToken": self._sync_token()}
            if start + limit < len(albums):
                out["continuationMarker"] = base64.b64encode(str(start + limit).encode()).decode()
            return Response.json(out)
        index = self._index(rtype, flt)
        if index is None:
            return Response.json({"records": [], "syncToken": self._sync_token()})
        items, newest_first = index
        if "recordName" in flt:
            items = [a for a in items if a.asset_id == flt["recordName"]]
        direction = flt.get("direction", "ASCENDING")
        rank = int(flt.get("startRank", 0))
        n = max(1, limit // 2)       # resultsLimit counts records: a CPLMaster and a CPLAsset each
        if newest_first and direction == "DESCENDING":
            # the added-date index: a request at rank r answers the newest items up to r, the
            # window oldest-to-newest (pyicloud _iter_added_desc_photos)
            hi = min(rank, len(items) - 1)
            lo = max(0, hi - n + 1)
            chosen = [items[i] for i in range(hi, lo - 1, -1)] if hi >= 0 else []
        elif direction == "DESCENDING":
            hi = min(rank, len(items) - 1)
            chosen = [items[i] for i in range(hi, max(-1, hi - n), -1)] if hi >= 0 else []
        else:
            chosen = items[rank:rank + n] if rank >= 0 else []
        records = [r for a in chosen for r in self._pair(a, desired)]
        return Response.json({"records": records, "syncToken": self._sync_token()})

    def _index(self, rtype: str, flt: dict):
        """(assets in rank order, newest-first?) of a list index, or None when unknown."""
        if rtype == "CPLAssetAndMasterByAssetDateWithoutHiddenOrDeleted":
            return self._ordered(lambda a: not a.hidden and not a.deleted), False
        if rtype == "CPLAssetAndMasterByAddedDate":
            return self._ordered(lambda a: not a.hidden and not a.deleted,
                                 key=lambda a: (-a.added.timestamp(), a.asset_id)), True
        if rtype == "CPLAssetAndMasterDeletedByExpungedDate":
            return self._ordered(lambda a: a.deleted, key=lambda a: (a.deleted_at, a.asset_id)), False
        if rtype == "CPLAssetAndMasterHiddenByAssetDate":
            return self._ordered(lambda a: a.hidden and not a.deleted), False
        if rtype == "CPLAssetAndMasterInSmartAlbumByAssetDate":
            pred = SMART.get(str(flt.get("smartAlbum", "")), lambda a: False)
            return self._ordered(lambda a: pred(a) and not a.hidden and not a.deleted), False
        if rtype in ("CPLContainerRelationLiveByAssetDate", "CPLContainerRelationLiveByPosition"):
            parent = flt.get("parentId")
            return self._ordered(lambda a: parent in a.albums and not a.deleted), False
        if rtype == "CPLBurstStackAssetAndMasterByAssetDate":
            return [], False
        return None

    def _count(self, body: dict) -> Response:
        out = []
        for item in body.get("batch") or []:
            ids = ((item.get("query") or {}).get("filterBy") or {}).get("fieldValue", {}).get("value") or []
            cid = ids[0] if ids else ""
            n = len(self._container(cid))
            out.append({"records": [{"recordName": f"{cid}", "recordType": "HyperionIndexCountLookup",
                                     "fields": {"itemCount": {"value": n, "type": "INT64"}},
                                     "pluginFields": {}, "recordChangeTag": "0", "deleted": False}]})
        return Response.json({"batch": out})

    def _container(self, cid: str) -> list[Asset]:
        live = lambda a: not a.hidden and not a.deleted  # noqa: E731
        if cid == "CPLAssetByAssetDateWithoutHiddenOrDeleted":
            return self._ordered(live)
        if cid == "CPLAssetDeletedByExpungedDate":
            return self._ordered(lambda a: a.deleted)
        if cid == "CPLAssetHiddenByAssetDate":
            return self._ordered(lambda a: a.hidden and not a.deleted)
        if cid.startswith("CPLAssetInSmartAlbumByAssetDate:"):
            name = cid.split(":", 1)[1].upper()
            pred = SMART.get(name, lambda a: False)
            return self._ordered(lambda a: pred(a) and live(a))
        if cid.startswith("CPLContainerRelationNotDeletedByAssetDate:"):
            rec = cid.split(":", 1)[1]
            return self._ordered(lambda a: rec in a.albums and not a.deleted)
        return []

    def _lookup(self, body: dict) -> Response:
        desired = body.get("desiredKeys")
        out = []
        for item in body.get("records") or []:
            name = item.get("recordName")
            a = self.assets.get(name)
            if a is None or a.zone != self._zone:
                a = next((x for x in self._in_zone() if x.master_id == name), None)
            if a is None or a.expunged:
                out.append({"recordName": name, "reason": "Record not found", "serverErrorCode": "NOT_FOUND"})
            elif a.asset_id == name:
                out.append(self._links(a.asset_record(desired)))
            else:
                out.append(self._links(a.master_record(desired)))
        return Response.json({"records": out, "syncToken": self._sync_token()})

    def _db_changes(self, body: dict) -> Response:
        return Response.json({"zones": [{"zoneID": z, "syncToken": self._sync_token()}
                                        for z in self._zones_of("private").values()],
                              "syncToken": self._sync_token(), "moreComing": False})

    def _changes(self, body: dict) -> Response:
        zones = body.get("zones") or [{}]
        tok = zones[0].get("syncToken")
        since = 0
        if tok:
            try:
                since = int(base64.b64decode(tok).decode()[len("HwoECJ"):])
            except ValueError:
                return self._ck_error(400, "BAD_REQUEST", "Invalid sync token")
        recs = []
        zone_id = dict(ZONE)
        for a in sorted(self._in_zone(), key=lambda a: a.serial):
            zone_id = a.zone_id
            if a.serial <= since:
                continue
            if a.expunged:
                recs += [{"recordName": a.asset_id, "deleted": True, "zoneID": a.zone_id},
                         {"recordName": a.master_id, "deleted": True, "zoneID": a.zone_id}]
            else:
                recs += self._pair(a)
        zone_id = (zones[0].get("zoneID") or zone_id)
        return Response.json({"zones": [{"records": recs, "moreComing": False, "syncToken": self._sync_token(),
                                         "zoneID": zone_id}]})

    def _modify(self, body: dict) -> Response:
        out = []
        for op in body.get("operations") or []:
            kind = op.get("operationType")
            rec = op.get("record") or {}
            name = rec.get("recordName")
            rtype = rec.get("recordType")
            fields = {k: (v or {}).get("value") for k, v in (rec.get("fields") or {}).items()}
            tag = rec.get("recordChangeTag")
            in_zone = name in self.assets and self.assets[name].zone == self._zone
            if rtype == "CPLAsset" and in_zone:
                a = self.assets[name]
                if kind in ("delete", "forceDelete"):
                    a.expunged = a.deleted = True
                    a.serial = self._bump()
                    self.hard_deletes.append(name)
                    out.append({"recordName": name, "deleted": True, "zoneID": a.zone_id})
                    continue
                if kind == "update" and tag is not None and tag != f"a{a.asset_tag}":
                    # a stale recordChangeTag is refused, per record (CloudKit's CONFLICT)
                    out.append({"recordName": name, "reason": "record to update is stale",
                                "serverErrorCode": "CONFLICT"})
                    continue
                if "isDeleted" in fields:
                    was = a.deleted
                    a.deleted = bool(fields["isDeleted"])
                    if a.deleted and not was:
                        a.deleted_at = datetime.now(timezone.utc)
                        self.deletions.append({"asset_id": a.asset_id, "filename": a.filename,
                                               "at": a.deleted_at})
                    elif not a.deleted:
                        a.deleted_at = None
                if "isFavorite" in fields:
                    a.favorite = bool(fields["isFavorite"])
                if "isHidden" in fields:
                    a.hidden = bool(fields["isHidden"])
                a.asset_tag += 1
                a.serial = self._bump()
                out.append(self._links(a.asset_record()))
            elif rtype == "CPLAlbum":
                if kind == "create":
                    al = Album(name, base64.b64decode(fields.get("albumNameEnc") or "").decode("utf-8"),
                               int(fields.get("albumType") or 0), fields.get("parentId"),
                               position=int(fields.get("position") or 0))
                    self.albums[name] = al
                elif name in self.albums:
                    al = self.albums[name]
                    if tag is not None and tag != f"l{al.tag}":
                        out.append({"recordName": name, "reason": "record to update is stale",
                                    "serverErrorCode": "CONFLICT"})
                        continue
                    if "albumNameEnc" in fields:
                        al.name = base64.b64decode(fields["albumNameEnc"]).decode("utf-8")
                    if "isDeleted" in fields:
                        al.deleted = bool(fields["isDeleted"])
                    al.tag += 1
                else:
                    out.append({"recordName": name, "reason": "Record not found", "serverErrorCode": "NOT_FOUND"})
                    continue
                self._bump()
                out.append(al.record())
            elif rtype == "CPLContainerRelation" and kind == "create":
                item, container = fields.get("itemId"), fields.get("containerId")
                if item not in self.assets or container not in self.albums:
                    out.append({"recordName": name, "reason": "Record not found", "serverErrorCode": "NOT_FOUND"})
                    continue
                a = self.assets[item]
                if container not in a.albums:
                    a.albums.append(container)
                a.serial = self._bump()
                out.append(_record(name, "CPLContainerRelation", {
                    "itemId": {"value": item, "type": "STRING"}, "containerId": {"value": container, "type": "STRING"},
                    "position": {"value": int(fields.get("position") or 0), "type": "INT64"}}, "r1", None))
            else:
                out.append({"recordName": name, "reason": "Record not found", "serverErrorCode": "NOT_FOUND"})
        return Response.json({"records": out, "syncToken": self._sync_token()})

    # -- downloads ------------------------------------------------------------------------------------------
    def _content(self, req: Request) -> Response:
        parts = req.path.split("/")
        if len(parts) < 3 or parts[1] != "B" or req.method not in ("GET", "HEAD"):
            return Response.text("Not Found", 404)
        rid = parts[2]
        try:
            exp = int(req.query.get("e", ""))
        except ValueError:
            return Response.text("Forbidden", 403)
        sig = hmac.new(self._dl_key, f"{rid}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(sig, req.query.get("s", "")) or self.time() > exp:
            return Response.text("Forbidden", 403)
        with self.lock:
            where = self._res_index.get(rid)
            a = self.assets.get(where[0]) if where else None
            if a is None or a.expunged:
                return Response.text("Not Found", 404)
            r = (a.master_res if where[1] == "master" else a.asset_res).get(where[2])
            if r is None:
                return Response.text("Not Found", 404)
            self.asset_downloads.append((a.asset_id, where[2]))
        ctype = {"public.jpeg": "image/jpeg", "public.heic": "image/heic", "public.png": "image/png",
                 "com.apple.quicktime-movie": "video/quicktime", "public.mpeg-4": "video/mp4"}.get(r.uti,
                                                                                                "application/octet-stream")
        return Response(200, r.data, ctype, [("Content-Disposition", f"attachment; filename*=UTF-8''{quote(a.filename)}")])
