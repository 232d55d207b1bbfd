"""FakeAmazonPhotos: Amazon Drive v1 as the Amazon Photos web app uses it (the ``drive``
host ``www.amazon.{tld}/drive/v1`` and the ``content`` host ``content-na.drive.amazonaws.com``),
with cookie authentication, on loopback.

Every behaviour is listed with its source in README.md beside this file.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import struct
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..server import FakeServer, Request, Response, cookie_header
from . import filters as F

#: the most nodes one listing returns (amazon_photos constants.py MAX_LIMIT = 200)
MAX_LIMIT = 200
#: "Offset + limit cannot be greater than 9999" (amazon_photos api.py, quoting the service;
#: constants.py MAX_NODES = 9999 "this is a real limit")
MAX_NODES = 9999
#: at most 50 ids a trash request (amazon_photos constants.py MAX_TRASH_BATCH = 50; seed 000)
MAX_TRASH_BATCH = 50

#: the part of a cookie name after "at-acb" for each marketplace (amazon_photos determine_tld
#: reads the TLD back from it; multi-part TLDs keep their last part: the fake's assumption)
SUFFIX = {"com": "main", "co.uk": "acbuk", "co.jp": "acbjp", "com.au": "acbau", "com.br": "acbbr",
          "com.mx": "acbmx"}

_ID_PATH = re.compile(r"^/drive/v1/nodes/([A-Za-z0-9_-]+)$")
_CHILDREN_PATH = re.compile(r"^/drive/v1/nodes/([A-Za-z0-9_-]+)/children$")


def _now_iso() -> str:
    # "2017-08-11T19:14:22.123Z": the node dates amazon_photos parses with %Y-%m-%dT%H:%M:%S.%fZ
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now().microsecond // 1000:03d}Z"


def _node_id() -> str:
    # 22 characters of URL-safe base64, like "0471vdN0S1GsaWa6slYIuA" (rclone#1587)
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


def _sniff(data: bytes) -> dict:
    """contentType, extension and pixel size of uploaded bytes."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = (im.format or "").upper()
            ext = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "HEIF": "heic", "TIFF": "tif"}.get(fmt, fmt.lower())
            return {"kind": "image", "contentType": Image.MIME.get(fmt, "image/" + ext), "extension": ext,
                    "width": im.size[0], "height": im.size[1]}
    except Exception:
        pass
    if data[4:8] == b"ftyp":
        w = h = None
        at = data.find(b"tkhd")
        if at > 0 and len(data) >= at + 4 + 84:
            w, h = struct.unpack(">II", data[at + 4 + 76: at + 4 + 84])
            w, h = w >> 16, h >> 16
        qt = data[8:12] == b"qt  "
        return {"kind": "video", "contentType": "video/quicktime" if qt else "video/mp4",
                "extension": "mov" if qt else "mp4", "width": w, "height": h}
    return {"kind": "file", "contentType": "application/octet-stream", "extension": "", "width": None,
            "height": None}


@dataclass
class Node:
    id: str
    kind: str                      # FILE, FOLDER, VISUAL_COLLECTION
    name: str
    parents: list
    status: str = "AVAILABLE"      # AVAILABLE, TRASH, PURGED
    created: str = field(default_factory=_now_iso)
    modified: str = field(default_factory=_now_iso)
    data: bytes | None = None
    info: dict = field(default_factory=dict)      # from _sniff
    content_date: str | None = None
    is_root: bool = False
    members: list = field(default_factory=list)   # a VISUAL_COLLECTION's node ids, in the order added
    version: int = 1
    _md5: str | None = None

    def md5(self) -> str | None:
        if self.data is None:
            return None
        if self._md5 is None:
            self._md5 = hashlib.md5(self.data).hexdigest()   # the bytes never change
        return self._md5

    def wire(self, owner: str) -> dict:
        out = {"id": self.id, "kind": self.kind, "name": self.name, "parents": list(self.parents),
               "status": self.status, "createdDate": self.created, "modifiedDate": self.modified,
               "ownerId": owner, "version": self.version, "restricted": False, "isShared": False,
               "labels": [], "createdBy": "CloudDriveWeb", "settings": {"hidden": False, "favorite": False}}
        if self.is_root:
            out["isRoot"] = True
        if self.data is not None:
            cp = {"size": len(self.data), "md5": self.md5(), "version": self.version,
                  "contentType": self.info.get("contentType"), "extension": self.info.get("extension"),
                  "contentDate": self.content_date or self.created}
            if self.info.get("kind") == "image":
                cp["image"] = {"width": self.info["width"], "height": self.info["height"]}
            elif self.info.get("kind") == "video":
                cp["video"] = {"width": self.info["width"], "height": self.info["height"]}
            out["contentProperties"] = cp
        if self.kind == "VISUAL_COLLECTION":
            out["collectionProperties"] = {"covers": self.members[:1]}
        return out


class FakeAmazonPhotos(FakeServer):
    """One Amazon Photos account. See README.md for the wire behaviour and its sources."""

    name = "fake-amazon-photos"

    def __init__(self, tld: str = "com", tls: bool = False, content_region: str = "na"):
        super().__init__(tls=tls)
        self.tld = tld
        self.suffix = SUFFIX.get(tld, "acb" + tld.rsplit(".", 1)[-1])
        self.drive_host = f"www.amazon.{tld}"
        self.content_host = f"content-{content_region}.drive.amazonaws.com"
        self.owner_id = "A" + secrets.token_hex(6).upper()
        self.nodes: dict[str, Node] = {}
        self.uploads: list[dict] = []           # every upload answered 201 (name, parent, node id)
        self.conflicts: list[dict] = []         # every upload answered 409
        self.refreshes = 0
        #: False: the session cookies no longer refresh at-*: a 401 is final
        self.refresh_allowed = True
        #: a duplicate-content upload also finds nodes in the trash (the fake's assumption)
        self.dedupe_trashed = True
        self._refuse_all: int | None = None
        #: seconds every request takes (kill tests: a run is killed in the middle of its work)
        self.delay = 0.0
        #: the next this many uploads are stored but answered 201 with an empty body (a proxy that
        #: dropped it, an answer cut short): the client learns no node id
        self.answer_without_node = 0
        self._new_cookies()
        root = Node(_node_id(), "FOLDER", "", [], is_root=True)
        self.root_id = root.id
        self.nodes[root.id] = root

    # -- cookies -------------------------------------------------------------------------------------
    def _new_cookies(self) -> None:
        s = self.suffix
        digits = lambda: f"{secrets.randbelow(900) + 100}-{secrets.randbelow(10**7):07d}-{secrets.randbelow(10**7):07d}"  # noqa: E731
        self.session_id = digits()
        self._cookies = {
            "session-id": self.session_id,
            f"ubid-{s}": digits(),
            # shapes of real values: at-main "Atza|IwEB...", sess-at-main and x-main quoted,
            # sst-main "Sst1|PQ..." (cookies pasted in public code, e.g. imdb scrapers)
            f"at-{s}": "Atza|IwEB" + secrets.token_urlsafe(48),
            f"x-{s}": '"' + secrets.token_urlsafe(30) + '"',
            f"sess-at-{s}": '"' + base64.b64encode(secrets.token_bytes(32)).decode() + '"',
            f"sst-{s}": "Sst1|PQ" + secrets.token_urlsafe(60),
        }

    def cookies(self) -> dict:
        """The browser's cookies for this account (hyphen names, values as the browser holds them)."""
        return dict(self._cookies)

    def cookie_names(self) -> list[str]:
        return list(self._cookies)

    def write_cookies(self, path, style: str = "json", underscores: bool = False) -> None:
        """A cookies file as people export them: ``json`` (a name -> value object),
        ``json-list`` (browser-extension style: [{name, value, domain, path, ...}]) or
        ``netscape`` (cookies.txt). ``underscores`` spells the names with "_" as some tools do."""
        cookies = {(k.replace("-", "_") if underscores else k): v for k, v in self._cookies.items()}
        domain = "." + self.drive_host.split(".", 1)[1]
        if style == "json":
            text = json.dumps(cookies, indent=2)
        elif style == "json-list":
            text = json.dumps([{"name": k, "value": v, "domain": domain, "path": "/", "secure": True,
                                "httpOnly": k.startswith(("at-", "at_", "sess-", "sess_")),
                                "expirationDate": 2082787201} for k, v in cookies.items()], indent=2)
        elif style == "netscape":
            lines = ["# Netscape HTTP Cookie File"]
            lines += [f"{domain}\tTRUE\t/\tTRUE\t2082787201\t{k}\t{v}" for k, v in cookies.items()]
            text = "\n".join(lines) + "\n"
        else:
            raise ValueError("style is json, json-list or netscape")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)

    def expire_access_token(self) -> None:
        """at-* stops working; the session cookies can still get a new one."""
        with self.lock:
            self._cookies[f"at-{self.suffix}"] = "Atza|IwEB" + secrets.token_urlsafe(48)

    def expire_session(self) -> None:
        """The whole sign-in is gone: every call answers 401 and nothing refreshes it."""
        with self.lock:
            self.expire_access_token()
            self.refresh_allowed = False

    def refuse_all(self, status: int | None = 503) -> None:
        """Every request answers ``status`` (None: back to normal). Amazon answers 503 to
        requests from datacenter addresses (seed 000 "Bot detection 503")."""
        with self.lock:
            self._refuse_all = status

    # -- the account's contents -------------------------------------------------------------------------
    def add_file(self, data: bytes, name: str = "IMG_0001.JPG", parent: str | None = None,
                 content_date: str | None = None) -> str:
        """A file already in the account (uploaded some other way); its node id."""
        node = Node(_node_id(), "FILE", name, [parent or self.root_id], data=data, info=_sniff(data),
                    content_date=content_date)
        with self.lock:
            self.nodes[node.id] = node
        return node.id

    def add_album(self, name: str, members=()) -> str:
        node = Node(_node_id(), "VISUAL_COLLECTION", name, [], members=list(members))
        with self.lock:
            self.nodes[node.id] = node
        return node.id

    def album_members(self, album_id: str) -> list[str]:
        with self.lock:
            return list(self.nodes[album_id].members)

    def albums(self) -> dict[str, str]:
        """album id -> name of every album not purged."""
        with self.lock:
            return {n.id: n.name for n in self.nodes.values()
                    if n.kind == "VISUAL_COLLECTION" and n.status != "PURGED"}

    def files(self, status: str | None = "AVAILABLE") -> list[str]:
        with self.lock:
            return [n.id for n in self.nodes.values() if n.kind == "FILE" and (status is None or n.status == status)]

    def trashed(self) -> list[str]:
        with self.lock:
            return [n.id for n in self.nodes.values() if n.status == "TRASH"]

    def purged(self) -> list[str]:
        with self.lock:
            return [n.id for n in self.nodes.values() if n.status == "PURGED"]

    def node(self, node_id: str) -> dict:
        with self.lock:
            return self.nodes[node_id].wire(self.owner_id)

    def content(self, node_id: str) -> bytes:
        with self.lock:
            return self.nodes[node_id].data

    # -- endpoints for the connector --------------------------------------------------------------------
    @property
    def endpoints(self) -> dict[str, str]:
        """``drive`` (stands for https://www.amazon.{tld}/drive/v1) and ``content`` (stands for
        https://content-na.drive.amazonaws.com; uploads go to {content}/cdproxy/nodes)."""
        return {"drive": f"{self.url}/{self.drive_host}/drive/v1", "content": f"{self.url}/{self.content_host}"}

    # -- routing -------------------------------------------------------------------------------------
    def known_host(self, name: str) -> bool:
        n = name.lower()
        return n.startswith("www.amazon.") or (n.startswith("content-") and n.endswith(".drive.amazonaws.com"))

    def endpoint_of(self, req: Request) -> str:
        p = req.path.rstrip("/")
        if _CHILDREN_PATH.match(p):
            return f"{req.method} /nodes/{{id}}/children"
        if _ID_PATH.match(p):
            return f"{req.method} /nodes/{{id}}"
        if p.startswith("/drive/v1"):
            return f"{req.method} {p[len('/drive/v1'):] or '/'}"
        return f"{req.method} {p}"

    def fault_response(self, status: int, headers: list) -> Response:
        # what a refused request looks like: an HTML page, not JSON
        return Response(status, f"<html><body><b>Http/1.1 Service Unavailable</b> ({status})</body></html>".encode(),
                        "text/html", list(headers))

    def _error(self, status: int, message: str, code: str | None = None, info: dict | None = None) -> Response:
        # {"logref": ..., "message": ..., "code": ..., "info": {...}} (rclone#289, #1587)
        body = {"logref": str(uuid.uuid4()), "message": message}
        if code:
            body["code"] = code
        if info:
            body["info"] = info
        return Response.json(body, status=status)

    def _authorized(self, req: Request) -> bool:
        s = self.suffix
        c = req.cookies
        need = ("session-id", f"ubid-{s}", f"at-{s}")
        if any(c.get(k) != self._cookies[k] for k in need):
            return False
        # the web app sends the session id again as a header (seed 000: "Browser cookies with
        # x-amzn-sessionid header work reliably"; amazon_photos sets it on its client)
        return req.headers.get("x-amzn-sessionid") == self._cookies["session-id"]

    def handle(self, req: Request) -> Response:
        if not req.host:
            return Response.text("this fake serves several hosts: put the host first in the path, e.g. "
                                 f"/{self.drive_host}/drive/v1/nodes", 421)
        with self.lock:
            refuse, delay = self._refuse_all, self.delay
        if delay:
            time.sleep(delay)
        if refuse is not None:
            return self.fault_response(refuse, [])
        path = req.path.rstrip("/") or "/"
        if req.host.startswith("www.") and path == "/photos/auth/token":
            return self._refresh(req)
        if not self._authorized(req):
            return self._error(401, "Token has expired")
        if req.host.startswith("content-"):
            if path == "/cdproxy/nodes" and req.method == "POST":
                return self._upload(req)
            return self._error(404, "Not Found")
        if not req.host.startswith("www.") or not path.startswith("/drive/v1"):
            return self._error(404, "Not Found")
        sub = path[len("/drive/v1"):] or "/"
        try:
            return self._drive(req, sub)
        except F.FilterError as e:
            return self._error(400, str(e))

    def _drive(self, req: Request, sub: str) -> Response:
        m = req.method
        if sub == "/account/info" and m == "GET":
            return Response.json({"termsOfUse": "1.0.0", "status": "ACTIVE"})
        if sub == "/nodes" and m == "GET":
            return self._list(req, self._all_nodes(), search=False)
        if sub == "/nodes" and m == "POST":
            return self._create(req)
        if sub == "/search" and m == "GET":
            return self._search(req)
        if sub == "/trash" and m == "PATCH":
            return self._trash(req)
        if sub == "/trash" and m == "GET":
            with self.lock:
                nodes = [n for n in self.nodes.values() if n.status == "TRASH"]
            return self._list(req, nodes, search=False)
        if sub == "/bulk/nodes/purge" and m == "POST":
            return self._purge(req)
        mm = _CHILDREN_PATH.match("/drive/v1" + sub)
        if mm:
            if m == "GET":
                return self._children(req, mm.group(1))
            if m == "PATCH":
                return self._patch_children(req, mm.group(1))
        mm = _ID_PATH.match("/drive/v1" + sub)
        if mm:
            with self.lock:
                node = self.nodes.get(mm.group(1))
                if node is None or node.status == "PURGED":
                    return self._error(404, "Node does not exist")
                if m == "GET":
                    return Response.json(node.wire(self.owner_id))
                if m == "PATCH":
                    body = req.json() or {}
                    if "name" in body:
                        node.name = str(body["name"])
                        node.modified = _now_iso()
                        node.version += 1
                    return Response.json(node.wire(self.owner_id))
        return self._error(404, "Not Found")

    # -- listings ----------------------------------------------------------------------------------------
    def _all_nodes(self) -> list[Node]:
        with self.lock:
            return [n for n in self.nodes.values() if n.status != "PURGED"]

    @staticmethod
    def _fields(n: Node) -> dict:
        info = n.info
        ctype = info.get("contentType")
        return {
            "kind": n.kind, "name": n.name, "status": n.status, "isRoot": "true" if n.is_root else "false",
            "parents": n.parents, "id": n.id,
            "contentProperties.md5": n.md5(), "contentProperties.contentType": ctype,
            "contentProperties.extension": info.get("extension"),
            "settings.hidden": "false", "favorite": "false",
            # /search's vocabulary
            "type": {"image": "PHOTOS", "video": "VIDEOS"}.get(info.get("kind")),
            "timeYear": (n.content_date or n.created)[:4].lstrip("0"),
            "timeMonth": (n.content_date or n.created)[5:7].lstrip("0"),
            "timeDay": (n.content_date or n.created)[8:10].lstrip("0"),
        }

    def _page(self, req: Request, nodes: list[Node]) -> Response:
        try:
            limit = int(req.query.get("limit", MAX_LIMIT))
            offset = int(req.query.get("offset", 0))
        except ValueError:
            return self._error(400, "Invalid limit or offset")
        if limit < 0 or offset < 0:
            return self._error(400, "Invalid limit or offset")
        if offset + limit > MAX_NODES:
            return self._error(400, f"Offset + limit cannot be greater than {MAX_NODES}")
        limit = min(limit, MAX_LIMIT)
        nodes = self._sorted(req.query.get("sort", ""), nodes)
        return Response.json({"count": len(nodes),
                              "data": [n.wire(self.owner_id) for n in nodes[offset:offset + limit]]})

    @staticmethod
    def _sorted(sort: str, nodes: list[Node]) -> list[Node]:
        # sort=['createdDate DESC'] and the like (amazon_photos README "Common Parameters")
        m = re.search(r"(createdDate|modifiedDate|name|contentProperties\.contentDate)\s+(ASC|DESC)", sort or "")
        field_, order = (m.group(1), m.group(2)) if m else ("createdDate", "ASC")
        key = {"createdDate": lambda n: (n.created, n.id), "modifiedDate": lambda n: (n.modified, n.id),
               "name": lambda n: (n.name.lower(), n.id),
               "contentProperties.contentDate": lambda n: (n.content_date or n.created, n.id)}[field_]
        return sorted(nodes, key=key, reverse=(order == "DESC"))

    def _list(self, req: Request, nodes: list[Node], search: bool) -> Response:
        terms = F.parse(req.query.get("filters", ""))
        for t in terms:
            if t.unescaped_space:
                # seed 000: "The /nodes API name: filter breaks on multi-word names". Read as
                # Lucene does: the words after the first are another term, so only the first
                # word is compared: "name:Echo Show" finds an album named "Echo", never "Echo Show"
                t.values = [(text.split(" ", 1)[0], prefix) for text, prefix in t.values]
        if terms:
            nodes = [n for n in nodes if F.matches(self._fields(n), terms)]
        return self._page(req, nodes)

    def _search(self, req: Request) -> Response:
        terms = F.parse(req.query.get("filters", "type:(PHOTOS OR VIDEOS)"))
        for t in terms:
            if t.field == "kind":
                # seed 000: "The /search endpoint does NOT support kind: filter (returns 400)"
                return self._error(400, "Invalid filter: kind is not a searchable field")
            if t.unescaped_space:
                return self._error(400, "Invalid filter: unexpected term")
        with self.lock:
            nodes = [n for n in self.nodes.values() if n.kind == "FILE" and n.status == "AVAILABLE"]
        return self._page(req, [n for n in nodes if F.matches(self._fields(n), terms)])

    def _children(self, req: Request, parent_id: str) -> Response:
        with self.lock:
            parent = self.nodes.get(parent_id)
            if parent is None or parent.status == "PURGED":
                return self._error(404, "Node does not exist")
            if parent.kind == "VISUAL_COLLECTION":
                kids = [self.nodes[i] for i in parent.members if self.nodes[i].status != "PURGED"]
            else:
                kids = [n for n in self.nodes.values() if parent_id in n.parents and n.status != "PURGED"]
        terms = F.parse(req.query.get("filters", ""))
        if terms:
            kids = [n for n in kids if F.matches(self._fields(n), terms)]
        if parent.kind == "VISUAL_COLLECTION" and "sort" not in req.query:
            # an album lists its photos in the order they were added
            return self._page_in_order(req, kids)
        return self._page(req, kids)

    def _page_in_order(self, req: Request, nodes: list[Node]) -> Response:
        try:
            limit = int(req.query.get("limit", MAX_LIMIT))
            offset = int(req.query.get("offset", 0))
        except ValueError:
            return self._error(400, "Invalid limit or offset")
        if offset + limit > MAX_NODES:
            return self._error(400, f"Offset + limit cannot be greater than {MAX_NODES}")
        limit = min(limit, MAX_LIMIT)
        return Response.json({"count": len(nodes),
                              "data": [n.wire(self.owner_id) for n in nodes[offset:offset + limit]]})

    # -- writes --------------------------------------------------------------------------------------------
    def _create(self, req: Request) -> Response:
        body = req.json() or {}
        kind = body.get("kind")
        name = str(body.get("name") or "")
        if kind not in ("FOLDER", "VISUAL_COLLECTION") or not name:
            return self._error(400, "Invalid kind or name")
        with self.lock:
            if kind == "FOLDER":
                parents = body.get("parents") or [self.root_id]
                for n in self.nodes.values():
                    if n.status != "PURGED" and n.name.lower() == name.lower() and set(parents) & set(n.parents):
                        return self._error(409, f"Node with the name {name.lower()} already exists under parentId "
                                                f"{parents[0]} conflicting NodeId: {n.id}",
                                           "NAME_ALREADY_EXISTS", {"nodeId": n.id})
                node = Node(_node_id(), kind, name, list(parents))
            else:
                # albums may share a name (the fake's reading; nothing says Amazon refuses it), so
                # a connector must list before it creates
                node = Node(_node_id(), kind, name, [])
            self.nodes[node.id] = node
            return Response.json(node.wire(self.owner_id), status=201)

    def _patch_children(self, req: Request, album_id: str) -> Response:
        body = req.json() or {}
        op, ids = body.get("op"), body.get("value")
        with self.lock:
            album = self.nodes.get(album_id)
            if album is None or album.status == "PURGED":
                return self._error(404, "Node does not exist")
            if album.kind != "VISUAL_COLLECTION" or op not in ("add", "remove") or not isinstance(ids, list):
                return self._error(400, "Invalid operation")
            unknown = [i for i in ids if i not in self.nodes or self.nodes[i].status == "PURGED"]
            if unknown:
                return self._error(400, f"Nodes do not exist: {', '.join(unknown)}")
            for i in ids:
                if op == "add" and i not in album.members:
                    album.members.append(i)   # adding a member twice keeps one (no duplicate in the album)
                elif op == "remove" and i in album.members:
                    album.members.remove(i)
            album.modified = _now_iso()
            album.version += 1
            return Response.json(album.wire(self.owner_id))

    def _trash(self, req: Request) -> Response:
        body = req.json() or {}
        op, ids = body.get("op"), body.get("value")
        if op not in ("add", "remove") or not isinstance(ids, list):
            return self._error(400, "Invalid operation")
        if len(ids) > MAX_TRASH_BATCH:
            return self._error(400, f"Too many nodes: at most {MAX_TRASH_BATCH} a request")
        with self.lock:
            unknown = [i for i in ids if i not in self.nodes or self.nodes[i].status == "PURGED"]
            if unknown:
                return self._error(400, f"Nodes do not exist: {', '.join(unknown)}")
            for i in ids:
                n = self.nodes[i]
                n.status = "TRASH" if op == "add" else "AVAILABLE"
                n.modified = _now_iso()
        return Response.json({})

    def _purge(self, req: Request) -> Response:
        body = req.json() or {}
        ids = body.get("nodeIds")
        if not isinstance(ids, list):
            return self._error(400, "Invalid request")
        with self.lock:
            bad = [i for i in ids if i not in self.nodes or self.nodes[i].status != "TRASH"]
            if bad:
                # only what is in the trash is purged (the fake's choice: the web app purges from the
                # trash view, and seed 000 trashes before it purges)
                return self._error(400, f"Nodes are not in the trash: {', '.join(bad)}")
            for i in ids:
                self.nodes[i].status = "PURGED"
                for n in self.nodes.values():
                    if i in n.members:
                        n.members.remove(i)
        return Response.json({})

    def _upload(self, req: Request) -> Response:
        q = req.query
        name = q.get("name", "")
        if q.get("kind", "FILE") != "FILE" or not name:
            return self._error(400, "Invalid name or kind")
        if req.headers.get("content-type", "").startswith("multipart/"):
            return self._error(400, "The body is the file's bytes (no multipart)")
        parent = q.get("parentNodeId") or self.root_id
        data = req.body
        md5 = hashlib.md5(data).hexdigest()
        with self.lock:
            if parent not in self.nodes or self.nodes[parent].kind != "FOLDER":
                return self._error(400, "Invalid parentNodeId")
            if q.get("suppress") != "deduplication":
                for n in self.nodes.values():
                    if n.kind == "FILE" and n.data is not None and n.md5() == md5 and (
                            n.status == "AVAILABLE" or (self.dedupe_trashed and n.status == "TRASH")):
                        self.conflicts.append({"name": name, "parent": parent, "existing": n.id, "why": "content"})
                        # 409 "content already exists", with the existing node's id in info.nodeId
                        # (seed 000 "uploadPhoto ... handles 409 duplicate"; the body's shape is the
                        # one Amazon Drive gives for its 409s: rclone#289)
                        return self._error(409, f"Node with the same content already exists: {n.name} "
                                                f"conflicting NodeId: {n.id}", "DUPLICATE_CONTENT", {"nodeId": n.id})
            for n in self.nodes.values():
                if n.status != "PURGED" and parent in n.parents and n.name.lower() == name.lower():
                    self.conflicts.append({"name": name, "parent": parent, "existing": n.id, "why": "name"})
                    # names are unique per folder, case-insensitively (rclone#289, #742)
                    return self._error(409, f"Node with the name {name.lower()} already exists under parentId "
                                            f"{parent} conflicting NodeId: {n.id}", "NAME_ALREADY_EXISTS",
                                       {"nodeId": n.id})
            node = Node(_node_id(), "FILE", name, [parent], data=data, info=_sniff(data))
            self.nodes[node.id] = node
            self.uploads.append({"name": name, "parent": parent, "id": node.id, "md5": md5})
            if self.answer_without_node:
                self.answer_without_node -= 1
                return Response.json({}, status=201)
            return Response.json(node.wire(self.owner_id), status=201)

    # -- session refresh -----------------------------------------------------------------------------------
    def _refresh(self, req: Request) -> Response:
        s = self.suffix
        c = req.cookies
        with self.lock:
            ok = (self.refresh_allowed and c.get("session-id") == self._cookies["session-id"]
                  and c.get(f"ubid-{s}") == self._cookies[f"ubid-{s}"]
                  and c.get(f"sess-at-{s}") == self._cookies[f"sess-at-{s}"]
                  and c.get(f"sst-{s}") == self._cookies[f"sst-{s}"])
            if not ok:
                return self._error(401, "Unauthorized")
            self.refreshes += 1
            at = "Atza|IwEB" + secrets.token_urlsafe(48)
            self._cookies[f"at-{s}"] = at
        return Response.json({"access_token": at},
                             headers=[cookie_header(f"at-{s}", at, max_age=3600 * 24, secure=self.tls)])
