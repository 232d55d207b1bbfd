"""The Photos Library API as it is since 2025-03-31 (an app sees only what it created), its
uploads endpoint, and the media host that serves baseUrls.

Sources (developers.google.com): /photos/library/reference/rest (each method below);
/photos/library/guides/upload-media (raw uploads, the upload token as text, batchCreate,
accepted sizes); /photos/library/guides/list and /guides/apply-filters; /photos/support/updates
(app-created data only, 403 PERMISSION_DENIED); /photos/library/guides/access-media-items (base
URLs live 60 minutes; =d, =dv, =wW-hH). Quirks from issue threads: rclone#6920 and #8567 (a
concurrent batchCreate answers 429 "concurrent write request"), SERVICES.md (identical bytes
return the existing item).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets

from . import oauth
from .media import reencoded_image, sized_image, sniff, transcoded_video
from .wire import GoogleError, int_param, page_token, read_page_token, rfc3339

SERVICE = "photoslibrary.googleapis.com"
BASE_URL_LIFETIME = 3600        # "Base URLs remain active for 60 minutes" (access-media-items)
UPLOAD_TOKEN_LIFETIME = 86400   # the fake's reading of upload-media: a token is good for a day
MAX_BATCH = 50                  # batchCreate "Maximum 50 media items per call"; batchAddMediaItems 50
MAX_DESCRIPTION = 1000          # NewMediaItem.description "shorter than 1000 characters"
MAX_ALBUM_TITLE = 500           # Album.title "maximum length is 500 characters"
CONCURRENT = ("Quota exceeded for quota 'concurrent write request' of service 'photoslibrary.googleapis.com'.")

_ITEM = re.compile(r"^/v1/mediaItems/([^/:]+)$")
_ALBUM_ADD = re.compile(r"^/v1/albums/([^/:]+):batchAddMediaItems$")


def route(path: str, method: str):
    if path == "/v1/uploads" and method == "POST":
        return "library.uploads", uploads
    if path == "/v1/mediaItems:batchCreate" and method == "POST":
        return "library.mediaItems.batchCreate", batch_create
    if path == "/v1/mediaItems" and method == "GET":
        return "library.mediaItems.list", list_items
    if path == "/v1/mediaItems:search" and method == "POST":
        return "library.mediaItems.search", search
    if _ITEM.match(path) and method == "GET":
        return "library.mediaItems.get", get_item
    if path == "/v1/albums" and method == "POST":
        return "library.albums.create", create_album
    if path == "/v1/albums" and method == "GET":
        return "library.albums.list", list_albums
    if _ALBUM_ADD.match(path) and method == "POST":
        return "library.albums.batchAddMediaItems", batch_add
    return None, None


def _ok(obj: dict, status: int = 200):
    return status, json.dumps(obj, indent=2).encode(), "application/json; charset=UTF-8"


def _auth(fake, inc, method: str, scopes) -> str:
    return oauth.require(fake, inc, SERVICE, "google.photos.library.v1.PhotosLibrary." + method, scopes)["client_id"]


def base_url(fake, item, *, picker: bool, client_id: str) -> str:
    """A fresh baseUrl for item (valid BASE_URL_LIFETIME by the fake's clock)."""
    token = ("pp" if picker else "lr") + secrets.token_urlsafe(30)
    fake.base_urls[token] = {"item": item.id, "issued": fake.clock.now(), "picker": picker, "client_id": client_id}
    return fake.url + "/lh3/" + token


def item_json(fake, item, client_id: str, *, with_base_url: bool = True) -> dict:
    out = {"id": item.id}
    if item.description:
        out["description"] = item.description   # proto3 JSON leaves out empty strings
    out["productUrl"] = "https://photos.google.com/lr/photo/" + item.id
    if with_base_url:
        out["baseUrl"] = base_url(fake, item, picker=False, client_id=client_id)
    out["mimeType"] = item.mime
    meta = {"creationTime": rfc3339(item.create_time),
            # int64 fields are strings in Google's JSON mapping
            "width": str(item.width), "height": str(item.height)}
    if item.media == "VIDEO":
        meta["video"] = {"fps": 30, "status": "READY"}
    else:
        photo = {}
        if item.make:
            photo["cameraMake"] = item.make
        if item.model:
            photo["cameraModel"] = item.model
        meta["photo"] = photo
    out["mediaMetadata"] = meta
    out["filename"] = item.filename
    return out


def _page_size(value, default: int, maximum: int) -> int:
    n = int_param(value, "pageSize", default)
    if n < 0:
        raise GoogleError("INVALID_ARGUMENT", "Invalid page size: must not be negative.")
    return min(n or default, maximum)


def _listing(fake, items, kind: str, size: int, token, client_id: str) -> dict:
    start = read_page_token(kind, token)
    page = items[start:start + size]
    out = {}
    if page:   # proto3 JSON: an empty list is left out, so "{}" is a valid last answer
        out["mediaItems"] = [item_json(fake, it, client_id) for it in page]
    if start + size < len(items):
        out["nextPageToken"] = page_token(kind, start + size)
    return out


def _app_items(fake, client_id: str) -> list:
    # newest first, as the library shows them (list guide: sorted by creation time)
    return sorted((it for it in fake.items.values() if it.created_by == client_id),
                  key=lambda it: (-it.create_time, it.id))


# -- uploads (outside discovery) ----------------------------------------------------------------------

def uploads(fake, inc):
    client_id = _auth(fake, inc, "Upload", [oauth_scope("appendonly")])
    protocol = inc.headers.get("x-goog-upload-protocol", "")
    if protocol != "raw":
        # only raw uploads are modelled (resumable ones are not used by photosync)
        raise GoogleError("INVALID_ARGUMENT", "X-Goog-Upload-Protocol must be 'raw'.")
    if not inc.body:
        raise GoogleError("INVALID_ARGUMENT", "The request body is empty.")
    with fake._lock:
        token = "CAIS" + secrets.token_urlsafe(60)
        rec = {"token": token, "data": inc.body, "sha256": hashlib.sha256(inc.body).hexdigest(),
               "size": len(inc.body), "content_type": inc.headers.get("x-goog-upload-content-type"),
               "file_name": inc.headers.get("x-goog-upload-file-name"), "client_id": client_id,
               "issued": fake.clock.now()}
        fake.upload_tokens[token] = rec
        fake.uploads.append({k: v for k, v in rec.items() if k != "data"})
    # the upload token comes back as the raw text body (upload-media "Uploading bytes")
    return 200, token.encode(), "text/plain; charset=UTF-8"


def oauth_scope(name: str) -> str:
    return "https://www.googleapis.com/auth/photoslibrary." + name


# -- batchCreate ---------------------------------------------------------------------------------------

def batch_create(fake, inc):
    client_id = _auth(fake, inc, "BatchCreateMediaItems", [oauth_scope("appendonly")])
    body = inc.json()
    new = body.get("newMediaItems") or []
    if not isinstance(new, list) or not new:
        raise GoogleError("INVALID_ARGUMENT", "Request must contain at least one media item.")
    if len(new) > MAX_BATCH:
        raise GoogleError("INVALID_ARGUMENT", f"Request must have at most {MAX_BATCH} media items, not {len(new)}.")
    user = "the-person"
    with fake._lock:
        # one batchCreate at a time per user (rclone#6920, #8567: 429 RESOURCE_EXHAUSTED
        # "Quota exceeded for quota 'concurrent write request' …")
        if user in fake._writing:
            raise GoogleError("RESOURCE_EXHAUSTED", CONCURRENT)
        fake._writing.add(user)
    try:
        fake._wait_hold("library.mediaItems.batchCreate")
        with fake._lock:
            return _create(fake, client_id, body, new)
    finally:
        with fake._lock:
            fake._writing.discard(user)


def _create(fake, client_id: str, body: dict, new: list):
    album_id = body.get("albumId")
    album = None
    if album_id:
        album = fake.albums.get(album_id)
        if album is None:
            raise GoogleError("INVALID_ARGUMENT", "Invalid album ID.")
        if album.created_by != client_id:
            raise GoogleError("PERMISSION_DENIED", "No permission to add media items to this album.")
    elif body.get("albumPosition"):
        raise GoogleError("INVALID_ARGUMENT", "albumPosition can only be set together with albumId.")
    results = []
    failed = False
    now = fake.clock.now()
    for entry in new:
        simple = (entry or {}).get("simpleMediaItem") or {}
        token = simple.get("uploadToken", "")
        description = (entry or {}).get("description") or ""
        rec = fake.upload_tokens.get(token)
        status = None
        if rec is None or rec["client_id"] != client_id or now > rec["issued"] + UPLOAD_TOKEN_LIFETIME:
            status = {"code": 3, "message": "Failed: There was an error while trying to create this media item."}
        elif len(description) >= MAX_DESCRIPTION:
            status = {"code": 3, "message": "Description must be shorter than 1000 characters."}
        elif len(simple.get("fileName") or "") > 255:
            status = {"code": 3, "message": "File name must be at most 255 characters."}
        info = sniff(rec["data"]) if status is None else None
        if status is None and info is None:
            # not a photo or video Google accepts (upload-media "Accepted file types")
            status = {"code": 3, "message": "Failed: There was an error while trying to create this media item."}
        if status is None:
            limit = fake.max_video_bytes if info.media == "VIDEO" else fake.max_photo_bytes
            if rec["size"] > limit:
                status = {"code": 3, "message": "The file is too large."}
        if status is not None:
            failed = True
            results.append({"uploadToken": token, "status": status})
            continue
        existing = fake.by_hash.get(rec["sha256"])
        if existing is not None:
            # identical bytes: Google hands back the item the account already has (it dedupes
            # by content); one the person made stays theirs, not app-created (SERVICES.md)
            item = fake.items[existing]
        else:
            from .fake import Item

            item = Item(id=fake._new_id("AF1Qip"), data=rec["data"],
                        filename=simple.get("fileName") or rec["file_name"] or "",
                        mime=rec["content_type"] or info.mime, media=info.media, width=info.width,
                        height=info.height, create_time=info.taken or now, sha256=rec["sha256"],
                        description=description, make=info.make, model=info.model, created_by=client_id,
                        uploaded_at=now)
            fake.items[item.id] = item
            fake.by_hash[item.sha256] = item.id
            fake.created.append(item.id)
        if album is not None and item.id not in album.items:
            album.items.append(item.id)
        results.append({"uploadToken": token, "status": {"message": "Success"},
                        "mediaItem": item_json(fake, item, client_id, with_base_url=False)})
    # some items failed: 207 Multi-Status, each result has its own status (upload-media
    # "Creating a media item"; a 2xx, so clients read every status)
    return _ok({"newMediaItemResults": results}, 207 if failed else 200)


# -- listing --------------------------------------------------------------------------------------------

def list_items(fake, inc):
    client_id = _auth(fake, inc, "ListMediaItems", [oauth_scope("readonly.appcreateddata"),
                                                    oauth_scope("edit.appcreateddata")])
    size = _page_size(inc.query.get("pageSize"), 25, 100)   # default 25, at most 100
    with fake._lock:
        return _ok(_listing(fake, _app_items(fake, client_id), "list", size, inc.query.get("pageToken"), client_id))


def search(fake, inc):
    client_id = _auth(fake, inc, "SearchMediaItems", [oauth_scope("readonly.appcreateddata"),
                                                      oauth_scope("edit.appcreateddata")])
    body = inc.json()
    size = _page_size(body.get("pageSize"), 25, 100)
    album_id = body.get("albumId")
    filters = body.get("filters")
    if album_id and filters:
        # apply-filters: "Filters shouldn't be used in a mediaItems.search request if the albumId
        # is set … an INVALID_ARGUMENT error (400) is returned"
        raise GoogleError("INVALID_ARGUMENT", "Filters cannot be set together with albumId.")
    with fake._lock:
        if album_id:
            album = fake.albums.get(album_id)
            if album is None:
                raise GoogleError("INVALID_ARGUMENT", "Invalid album ID.")
            if album.created_by != client_id:
                raise GoogleError("PERMISSION_DENIED", "The caller does not have permission")
            items = [fake.items[i] for i in album.items if fake.items[i].created_by == client_id]
            return _ok(_listing(fake, items, "album:" + album_id, size, body.get("pageToken"), client_id))
        items = _app_items(fake, client_id)
        if filters:
            items = [it for it in items if _matches(it, filters)]
        return _ok(_listing(fake, items, "search", size, body.get("pageToken"), client_id))


def _matches(item, filters: dict) -> bool:
    types = ((filters.get("mediaTypeFilter") or {}).get("mediaTypes")) or ["ALL_MEDIA"]
    if "ALL_MEDIA" not in types and item.media not in types:
        return False
    date_filter = filters.get("dateFilter") or {}
    if date_filter:
        from datetime import datetime, timezone

        d = datetime.fromtimestamp(item.create_time, timezone.utc)
        key = (d.year, d.month, d.day)

        def as_key(x, hi=False):
            return (x.get("year", 0), x.get("month", 12 if hi else 0) or (12 if hi else 0),
                    x.get("day", 31 if hi else 0) or (31 if hi else 0))

        ok = any(all(x.get(k) in (None, 0, v) for k, v in zip(("year", "month", "day"), key))
                 for x in date_filter.get("dates") or [])
        ok = ok or any(as_key(r.get("startDate") or {}) <= key <= as_key(r.get("endDate") or {}, hi=True)
                       for r in date_filter.get("ranges") or [])
        if not ok:
            return False
    return True


def get_item(fake, inc):
    client_id = _auth(fake, inc, "GetMediaItem", [oauth_scope("readonly.appcreateddata"),
                                                  oauth_scope("edit.appcreateddata")])
    item_id = _ITEM.match(inc.path[len("/photoslibrary"):]).group(1)
    with fake._lock:
        item = fake.items.get(item_id)
        if item is None:
            raise GoogleError("NOT_FOUND", "Requested entity was not found.")
        if item.created_by != client_id:
            # only app-created items can be read since 2025-03-31 (support/updates)
            raise GoogleError("PERMISSION_DENIED", "The caller does not have permission")
        return _ok(item_json(fake, item, client_id))


# -- albums ----------------------------------------------------------------------------------------------

def _album_json(fake, album, client_id: str) -> dict:
    out = {"id": album.id, "title": album.title, "productUrl": "https://photos.google.com/lr/album/" + album.id,
           "isWriteable": True}
    if album.items:
        out["mediaItemsCount"] = str(len(album.items))   # int64 as a string; left out when 0
        cover = fake.items[album.items[0]]
        out["coverPhotoBaseUrl"] = base_url(fake, cover, picker=False, client_id=client_id)
        out["coverPhotoMediaItemId"] = cover.id
    return out


def create_album(fake, inc):
    client_id = _auth(fake, inc, "CreateAlbum", [oauth_scope("appendonly")])
    album = (inc.json().get("album") or {})
    title = album.get("title")
    if not isinstance(title, str) or not title:
        raise GoogleError("INVALID_ARGUMENT", "Album title is required.")
    if len(title) > MAX_ALBUM_TITLE:
        raise GoogleError("INVALID_ARGUMENT", f"Album title must be at most {MAX_ALBUM_TITLE} characters.")
    from .fake import Album

    with fake._lock:
        new = Album(id=fake._new_id("AJ"), title=title, created_by=client_id)
        fake.albums[new.id] = new
        return _ok(_album_json(fake, new, client_id))


def list_albums(fake, inc):
    client_id = _auth(fake, inc, "ListAlbums", [oauth_scope("readonly.appcreateddata"),
                                                oauth_scope("edit.appcreateddata")])
    size = _page_size(inc.query.get("pageSize"), 20, 50)   # default 20, at most 50
    with fake._lock:
        albums = [a for a in fake.albums.values() if a.created_by == client_id]
        start = read_page_token("albums", inc.query.get("pageToken"))
        page = albums[start:start + size]
        out = {}
        if page:
            out["albums"] = [_album_json(fake, a, client_id) for a in page]
        if start + size < len(albums):
            out["nextPageToken"] = page_token("albums", start + size)
        return _ok(out)


def batch_add(fake, inc):
    client_id = _auth(fake, inc, "BatchAddMediaItemsToAlbum", [oauth_scope("appendonly"),
                                                               oauth_scope("edit.appcreateddata")])
    album_id = _ALBUM_ADD.match(inc.path[len("/photoslibrary"):]).group(1)
    ids = inc.json().get("mediaItemIds") or []
    if not ids:
        raise GoogleError("INVALID_ARGUMENT", "Request must contain at least one media item id.")
    if len(ids) > MAX_BATCH:
        raise GoogleError("INVALID_ARGUMENT", f"Request must have at most {MAX_BATCH} media item ids.")
    with fake._lock:
        album = fake.albums.get(album_id)
        if album is None:
            raise GoogleError("NOT_FOUND", "Requested entity was not found.")
        # "The media items and albums must have been created by the developer via the API";
        # "Partial success is not supported" (albums.batchAddMediaItems)
        if album.created_by != client_id:
            raise GoogleError("PERMISSION_DENIED", "No permission to add media items to this album.")
        for i in ids:
            item = fake.items.get(i)
            if item is None or item.created_by != client_id:
                raise GoogleError("PERMISSION_DENIED", "No permission to add this media item to the album.")
        fresh = [i for i in dict.fromkeys(ids) if i not in album.items]
        if len(album.items) + len(fresh) > fake.album_capacity:
            raise GoogleError("FAILED_PRECONDITION", f"An album can hold at most {fake.album_capacity} media items.")
        album.items.extend(fresh)
    return _ok({})


# -- the media host ---------------------------------------------------------------------------------------

_PARAM = re.compile(r"^(?:w(\d+)|h(\d+)|d|dv|c|no)$")


def download(fake, inc):
    """GET {baseUrl}={params}: =d image (re-encoded, no location), =dv video (transcoded),
    =wW-hH a sized JPEG; bare: a 512-pixel preview."""
    rest = inc.path[len("/lh3/"):]
    token, _, params = rest.partition("=")
    with fake._lock:
        rec = fake.base_urls.get(token)
        if rec is None:
            return 404, b"<html><body>Not Found</body></html>", "text/html"
        if fake.clock.now() > rec["issued"] + BASE_URL_LIFETIME:
            # a baseUrl lives 60 minutes; after that Google answers 403 (access-media-items;
            # gphotos-sync#119)
            return 403, b"<html><body>Forbidden: the URL has expired</body></html>", "text/html"
        item = fake.items[rec["item"]]
    if rec["picker"]:
        # Picker base URLs need the OAuth token with the picker scope (picker/guides/media-items
        # "Retrieve picked media items")
        from .fake import PICKER

        oauth.require(fake, inc, "photospicker.googleapis.com", "media", [PICKER])
    opts = [p for p in params.split("-") if p] if params else []
    w = h = 0
    want = None
    for p in opts:
        m = _PARAM.match(p)
        if not m:
            return 400, b"<html><body>Bad Request</body></html>", "text/html"
        if m.group(1):
            w = int(m.group(1))
        elif m.group(2):
            h = int(m.group(2))
        elif p in ("d", "dv"):
            want = p
    if want == "dv":
        if item.media != "VIDEO":
            return 404, b"<html><body>Not Found</body></html>", "text/html"
        return 200, transcoded_video(item.data, item.create_time, (item.width, item.height)), "video/mp4"
    if want == "d" and not (w or h):
        if item.media == "VIDEO":
            return 200, sized_image(None, (item.width, item.height), item.id), "image/jpeg"
        data, mime = reencoded_image(item.data)
        return 200, data, mime
    box = (w, h) if (w or h) else (512, 512)
    src = None if item.media == "VIDEO" else item.data
    return 200, sized_image(src, box, item.id), "image/jpeg"
