"""Amazon Photos as a target: photos from the ``upload_from`` services go into one album
(seed 000: the album an Echo Show shows), uploaded once, never twice.

A target only: photosync does not read photos back from Amazon Photos (the web API's
downloads are not part of what SERVICES.md documents, and what is there is what photosync sent),
so its listing is empty and never complete — discover marks nothing of it missing and makes no
request. What is in the album is known from the records of the uploads.

An upload (``upload``): the bytes go to ``{content}/cdproxy/nodes`` in the account's root
folder; 409 "already exists" names the node already there (``info.nodeId``), which is reused —
after checking its MD5 is the photo's (a 409 for another file of the same name gets the photo
uploaded under a name made unique), and taking it out of the trash if it is there — so a run
killed after an upload and before its commit uploads nothing twice on the rerun. The album is
found by listing every album and comparing names here (a ``name:`` filter breaks on multi-word
names, seed 000), created when there is none, and its members listed once a run before the
first photo is added (an add is sent only for a photo not in it: seed 000
``addToAlbumIfNotPresent``). Nothing of this happens on a run with nothing to upload.

Mirror mode (``mirror``): ``withdraw`` takes photos out of the album and moves them to Amazon's
trash, 50 a request; never purged (phases/mirror.py decides which, and refuses below
min_copies).
"""

from __future__ import annotations

import builtins
import hashlib
import threading
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ...errors import AuthError, ConfigError, SourceError
from ...model import Metadata, Photo
from ...options import Option
from ..base import (Capabilities, Connector, ConnectorContext, ItemRef, Listing, ServiceItem, endpoints_option, retry_options,
                    timeout_option)
from . import cookies as amazon_cookies
from .client import AmazonClient


class AmazonPhotosConnector(Connector):
    """Amazon Photos album, a target: photos from --upload-from go into it; sign in with the browser's cookies."""

    type_name = "amazon-photos"
    # An Amazon Photos library is seen by its account only (an album is shown on that account's
    # devices): every photo goes there as private, the narrowest level, whatever its own
    capabilities = Capabilities(upload=True, visibility_levels=("private",), withdraw=True)
    options = (
        Option("album", "The album photos go into (found by its exact name, created when there is none).",
               required=True),
        Option("mirror", "Mirror the sources: a photo gone from every upload-from service is taken out of the "
                         "album and moved to Amazon's trash (never purged; never below min_copies verified "
                         "copies).", "bool", default=False),
        *retry_options(8, 1.0), timeout_option(60),
        endpoints_option(("drive", "content"), "Amazon's URLs (drive: https://www.amazon.{tld}/drive/v1; "
                                               "content: https://content-na.drive.amazonaws.com)"),
    )
    login_options = (
        Option("cookies", "The cookies file exported from your browser while signed in to Amazon Photos (JSON "
                          "or Netscape cookies.txt); asked when not given.", "path", metavar="FILE"),
    )

    def __init__(self, name: str, config: dict, env: ConnectorContext):
        super().__init__(name, config, env)
        self.client = AmazonClient(name, config, env)
        self._lock = threading.Lock()
        self._album: str | None = None
        self._root: str | None = None
        #: node id -> status of the album's members, listed once a run before the first add
        self._members: dict[str, str] | None = None

    @property
    def requests(self) -> int:
        return self.client.requests

    # -- sign-in ------------------------------------------------------------------------------------
    def login(self, ask, cookies: str | None = None) -> str:  # type: ignore[override]  # its login_options only
        if not cookies:
            cookies = ask("The cookies file exported from your browser while signed in to Amazon Photos "
                          "(JSON or cookies.txt)")
            if not cookies:
                raise ConfigError(f"give the cookies file: photosync auth {self.name} --cookies FILE")
        found, tld, suffix = amazon_cookies.read(Path(cookies))
        self.client.use(found, tld, suffix)
        owner = self.client.owner()  # a call every later one makes too: refused cookies fail here
        if not owner:
            raise AuthError(f"Amazon Photos (amazon.{tld}) did not say whose account the cookies in {cookies} are")
        self.client.account = owner
        self.client.save()
        self.account = owner
        return f"Amazon Photos account {owner} (amazon.{tld})"

    # -- a target: nothing is read back ---------------------------------------------------------------
    def list(self, *, cursor=None, since=None, full_scan: bool = False) -> Listing:
        return Listing(refs=[], complete=False, cursor=cursor)

    def describe(self, ref: ItemRef) -> ServiceItem:
        raise SourceError(f"{self.where(ref.id)}: photosync does not read photos back from Amazon Photos")

    def open(self, item_id: str, raw_name: bytes | None = None) -> BinaryIO:
        raise SourceError(f"{self.where(item_id)}: photosync does not read photos back from Amazon Photos")

    # -- the album ---------------------------------------------------------------------------------------
    def album_id(self, create: bool = True) -> str | None:
        """The album's node id: the oldest album of that exact name, else a new one (None: none, not created)."""
        with self._lock:
            if self._album is None:
                name = self.config["album"]
                same = [a for a in self.client.albums() if a.get("name") == name and a.get("status") != "TRASH"]
                if same:
                    self._album = same[0]["id"]
                elif create:
                    self._album = self.client.create_album(name)["id"]
            return self._album

    def _root_id(self) -> str:
        with self._lock:
            if self._root is None:
                self._root = self.client.root_id()
            return self._root

    def _member_statuses(self, album: str) -> dict[str, str]:
        with self._lock:
            if self._members is None:
                # past 9,999 members the rest cannot be listed (offset + limit ≤ 9999): those are added
                # without the check (an add of a member already there keeps one)
                self._members, _whole = self.client.members(album)
            return self._members

    # -- uploads -----------------------------------------------------------------------------------------
    def upload(self, photo: Photo, stream: BinaryIO, size: int | None, visibility: str) -> ServiceItem:
        album = self.album_id()
        assert album is not None
        md5 = _md5(stream)
        node_id = self._put(photo, stream, md5)
        members = self._member_statuses(album)
        if node_id not in members:
            self.client.change_album(album, "add", [node_id])
            with self._lock:
                members[node_id] = "AVAILABLE"
        return ServiceItem(ref=ItemRef(node_id, md5, md5, size), content_hash=photo.content_hash, size=size,
                           metadata=self.uploaded_metadata(photo, visibility), quality="original",
                           visibility="private")

    def _put(self, photo: Photo, stream: BinaryIO, md5: str) -> str:
        """The node holding these bytes: uploaded now, or the one Amazon says is there already."""
        root = self._root_id()
        name = _name(photo)
        for _attempt in range(2):
            status, answer = self.client.upload(name, root, stream)
            if status != 409:
                node_id = (answer or {}).get("id") if isinstance(answer, dict) else None
                if not node_id:
                    # the bytes may be there: the next run's upload meets them (409, naming the node)
                    raise SourceError(f"Amazon Photos took {name} (HTTP {status}) but its answer names no node; "
                                      "not recorded as uploaded (the next run finds it by its content)")
                return node_id
            node_id = ((answer or {}).get("info") or {}).get("nodeId")
            if not node_id:
                raise SourceError(f"Amazon Photos refused {name} as a duplicate without naming the node (HTTP 409)")
            node = self.client.node(node_id)
            if ((node.get("contentProperties") or {}).get("md5") or "").lower() == md5:
                if node.get("status") == "TRASH":
                    self.client.trash([node_id], op="remove")  # the same bytes, trashed before: restored
                return node_id
            # another file of that name in the folder: this one gets a name of its own
            p = PurePosixPath(name)
            name = f"{p.stem}-{photo.photo_id[:8]}{p.suffix}"
        raise SourceError(f"Amazon Photos refused {name}: a file of that name with other bytes is there (HTTP 409)")

    def uploaded_metadata(self, photo: Photo, visibility: str) -> Metadata:
        return photo.metadata

    # -- mirror ------------------------------------------------------------------------------------------
    def withdraw(self, item_ids: builtins.list[str]) -> None:
        """Take these nodes out of the album, then move them to Amazon's trash (50 a request;
        never purged: the trash keeps them until Amazon empties it). Safe to repeat."""
        album = self.album_id(create=False)
        if album is not None:
            self.client.change_album(album, "remove", list(item_ids))
        self.client.trash(list(item_ids))


def _md5(stream: BinaryIO) -> str:
    stream.seek(0)
    h = hashlib.md5()
    for block in iter(lambda: stream.read(1 << 20), b""):
        h.update(block)
    stream.seek(0)
    return h.hexdigest()


def _name(photo: Photo) -> str:
    name = PurePosixPath(photo.metadata.filename or "").name
    if not name:
        ext = (photo.metadata.format or "jpg").replace("jpeg", "jpg")
        name = f"{photo.photo_id}.{ext}"
    return name
