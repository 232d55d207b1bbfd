"""The Photos Picker API: sessions the person picks in, polling, the picked items.

Sources (developers.google.com): /photos/picker/reference/rest/v1/sessions (PickingSession,
PollingConfig, PickingConfig; create, get, delete); /photos/picker/reference/rest/v1/mediaItems
(PickedMediaItem, MediaFile, MediaFileMetadata) and mediaItems/list (FAILED_PRECONDITION until
picking is done; pageSize 0/unset: 50, at most 100, larger coerced to 100, negative
INVALID_ARGUMENT); /photos/picker/guides/sessions and /guides/media-items (poll as pollingConfig
says, delete after, baseUrl needs the token and lives 60 minutes); SERVICES.md (2,000 items a
session).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass

from . import oauth
from .library import base_url
from .wire import GoogleError, duration, int_param, page_token, read_page_token, rfc3339

SERVICE = "photospicker.googleapis.com"
MAX_ITEMS = 2000

_SESSION = re.compile(r"^/v1/sessions/([^/:]+)$")


@dataclass
class Session:
    id: str
    client_id: str
    created: float
    timeout_at: float
    expire_at: float
    max_items: int
    config_given: bool
    picked: list | None = None
    deleted: bool = False


def route(path: str, method: str):
    if path == "/v1/sessions" and method == "POST":
        return "picker.sessions.create", create
    if _SESSION.match(path) and method == "GET":
        return "picker.sessions.get", get
    if _SESSION.match(path) and method == "DELETE":
        return "picker.sessions.delete", delete
    if path == "/v1/mediaItems" and method == "GET":
        return "picker.mediaItems.list", list_items
    return None, None


def _ok(obj: dict):
    return 200, json.dumps(obj, indent=2).encode(), "application/json; charset=UTF-8"


def _auth(fake, inc, method: str) -> str:
    from .fake import PICKER

    return oauth.require(fake, inc, SERVICE, "google.photos.picker.v1.PickerService." + method, [PICKER])["client_id"]


def _session(fake, session_id: str, client_id: str) -> Session:
    s = fake.sessions.get(session_id)
    if s is None or s.deleted or s.client_id != client_id or fake.clock.now() >= s.expire_at:
        # a deleted or expired session is gone (the fake answers NOT_FOUND)
        raise GoogleError("NOT_FOUND", "Requested entity was not found.")
    return s


def session_json(fake, s: Session) -> dict:
    now = fake.clock.now()
    out = {"id": s.id, "pickerUri": fake.url + "/picker-ui/" + s.id}
    if s.picked is None:
        # only while nothing is picked yet (PickingSession.pollingConfig)
        out["pollingConfig"] = {"pollInterval": duration(fake.poll_interval),
                                "timeoutIn": duration(math.ceil(max(0.0, s.timeout_at - now)))}
    out["expireTime"] = rfc3339(s.expire_at)
    if s.config_given:
        out["pickingConfig"] = {"maxItemCount": str(s.max_items)}   # int64 as a string
    out["mediaItemsSet"] = s.picked is not None
    return out


def create(fake, inc):
    client_id = _auth(fake, inc, "CreateSession")
    body = inc.json()
    cfg = body.get("pickingConfig") or {}
    max_items = MAX_ITEMS
    given = "maxItemCount" in cfg
    if given:
        max_items = int_param(cfg.get("maxItemCount"), "pickingConfig.maxItemCount", MAX_ITEMS)
        if not 1 <= max_items <= MAX_ITEMS:
            raise GoogleError("INVALID_ARGUMENT", f"maxItemCount must be between 1 and {MAX_ITEMS}.")
    with fake._lock:
        now = fake.clock.now()
        s = Session(id=str(uuid.UUID(int=fake.rng.getrandbits(128), version=4)), client_id=client_id, created=now,
                    timeout_at=now + fake.picking_timeout, expire_at=now + fake.session_lifetime,
                    max_items=max_items, config_given=given)
        fake.sessions[s.id] = s
        return _ok(session_json(fake, s))


def get(fake, inc):
    client_id = _auth(fake, inc, "GetSession")
    sid = _SESSION.match(inc.path[len("/photospicker"):]).group(1)
    with fake._lock:
        return _ok(session_json(fake, _session(fake, sid, client_id)))


def delete(fake, inc):
    client_id = _auth(fake, inc, "DeleteSession")
    sid = _SESSION.match(inc.path[len("/photospicker"):]).group(1)
    with fake._lock:
        _session(fake, sid, client_id).deleted = True
    return _ok({})


def picked_json(fake, item, client_id: str) -> dict:
    meta = {"width": item.width, "height": item.height}
    if item.make:
        meta["cameraMake"] = item.make
    if item.model:
        meta["cameraModel"] = item.model
    if item.media == "VIDEO":
        meta["videoMetadata"] = {"fps": 30, "processingStatus": "READY"}
    else:
        meta["photoMetadata"] = {}
    # no location, no albums, no description (SERVICES.md; PickedMediaItem has no such fields)
    return {"id": item.id, "createTime": rfc3339(item.create_time), "type": item.media,
            "mediaFile": {"baseUrl": base_url(fake, item, picker=True, client_id=client_id),
                          "mimeType": item.mime, "filename": item.filename, "mediaFileMetadata": meta}}


def list_items(fake, inc):
    client_id = _auth(fake, inc, "ListMediaItems")
    sid = inc.query.get("sessionId")
    if not sid:
        raise GoogleError("INVALID_ARGUMENT", "sessionId is required.")
    size = int_param(inc.query.get("pageSize"), "pageSize", 0)
    if size < 0:
        raise GoogleError("INVALID_ARGUMENT", "pageSize must not be negative.")
    size = min(size or 50, 100)
    with fake._lock:
        s = _session(fake, sid, client_id)
        if s.picked is None:
            raise GoogleError("FAILED_PRECONDITION",
                              "The user has not yet finished picking media items for this session.")
        start = read_page_token("picked:" + sid, inc.query.get("pageToken"))
        page = s.picked[start:start + size]
        out = {}
        if page:
            out["mediaItems"] = [picked_json(fake, fake.items[i], client_id) for i in page]
        if start + size < len(s.picked):
            out["nextPageToken"] = page_token("picked:" + sid, start + size)
        return _ok(out)


def pick(fake, session_id: str, item_ids: list) -> None:
    """The person's picking in the UI, then Done. Caller holds the lock."""
    s = fake.sessions.get(session_id)
    if s is None or s.deleted:
        raise KeyError(f"no picking session {session_id!r}")
    now = fake.clock.now()
    if s.picked is not None:
        raise RuntimeError("this session is done: once the person taps Done, pickerUri no longer works")
    if now >= s.timeout_at or now >= s.expire_at:
        raise RuntimeError("the picking session has timed out")
    unknown = [i for i in item_ids if i not in fake.items]
    if unknown:
        raise KeyError(f"not in the person's library: {unknown}")
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        raise ValueError("the Picker's Done needs at least one item")
    if len(ids) > s.max_items:
        raise ValueError(f"the Picker lets the person pick at most {s.max_items} items, not {len(ids)}")
    s.picked = ids


def ui_page(fake, inc):
    sid = inc.path[len("/picker-ui/"):].strip("/")
    with fake._lock:
        s = fake.sessions.get(sid)
        alive = s is not None and not s.deleted and s.picked is None and fake.clock.now() < s.timeout_at
    if not alive:
        return 404, b"<html><body>This link no longer works.</body></html>", "text/html; charset=utf-8"
    return 200, (f"<html><body><h1>Google Photos</h1><p>Select photos for session {sid}.</p>"
                 f"</body></html>").encode(), "text/html; charset=utf-8"
