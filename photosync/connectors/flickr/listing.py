"""Listing a Flickr account: the walk by upload date, the incremental run's changes, albums
(cached between runs), and the cursor.

Facts this relies on (flickr.com/services/api, ../shared/SERVICES.md):

* ``flickr.photos.search`` gives at most 4,000 results per query (later pages repeat).
  Listing therefore walks upload dates in ascending order and starts a new query at the last
  upload date seen: every photo is reached, at 500 per call, with no probe calls wasted.
* Incremental runs: ``min_upload_date`` past the last upload seen finds new photos,
  ``flickr.photos.recentlyUpdated`` finds metadata and permission changes (both move
  ``lastupdate``), ``photosets.getList`` says which albums changed (``date_update``).  A run
  where nothing changed costs three calls.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Iterator

from ...errors import SourceError
from ..base import ConnectorContext, ItemRef, Listing
from .client import FlickrClient, _int, _text

EXTRAS = ("description,date_upload,date_taken,original_format,last_update,geo,tags,machine_tags,o_dims,media,"
          "url_o,url_k,url_h,url_l,url_c,url_z")
PER_PAGE = 500
SEARCH_CAP = 4000
#: seconds before a run's start that its cursor stops at (late search-index entries are listed again)
CURSOR_MARGIN = 300


def entry_from_info(info: dict) -> dict:
    """A ``photos.getInfo`` answer in the shape of a search entry with EXTRAS (no size URLs: describe
    then takes the original through getSizes)."""
    visibility = info.get("visibility") or {}
    dates = info.get("dates") or {}
    loc = info.get("location") or {}
    tags = (info.get("tags") or {}).get("tag") or []
    return {
        "id": str(info["id"]), "secret": info.get("secret"), "server": info.get("server"),
        "title": _text(info.get("title")), "description": {"_content": _text(info.get("description"))},
        "ispublic": _int(visibility.get("ispublic")), "isfriend": _int(visibility.get("isfriend")),
        "isfamily": _int(visibility.get("isfamily")),
        "dateupload": str(info.get("dateuploaded") or dates.get("posted") or 0),
        "lastupdate": str(dates.get("lastupdate") or 0), "datetaken": dates.get("taken"),
        "datetakengranularity": str(dates.get("takengranularity", 0)),
        "datetakenunknown": str(dates.get("takenunknown", 0)),
        "originalsecret": info.get("originalsecret"), "originalformat": info.get("originalformat"),
        "tags": " ".join(_text(t) for t in tags),
        "machine_tags": " ".join(_text(t) for t in tags if _int(t.get("machine_tag"))),
        "raw_tags": [str(t.get("raw") or _text(t)) for t in tags],
        "latitude": loc.get("latitude", 0), "longitude": loc.get("longitude", 0),
        "media": info.get("media", "photo"), "from_info": True,
    }


class _Cursor:
    """Where the next incremental run starts (kept as JSON in sync-state)."""

    def __init__(self, upload: int = 0, update: int = 0, full_at: int = 0):
        self.upload = upload
        self.update = update
        self.full_at = full_at

    @classmethod
    def parse(cls, text: str | None) -> "_Cursor | None":
        if not text:
            return None
        try:
            d = json.loads(text)
            return cls(int(d["upload"]), int(d["update"]), int(d.get("full_at", 0)))
        except (ValueError, KeyError, TypeError):
            return None

    def dump(self) -> str:
        return json.dumps({"upload": self.upload, "update": self.update, "full_at": self.full_at},
                          separators=(",", ":"))


def walk_uploads(client: FlickrClient, min_upload: int, **extra) -> Iterator[dict]:
    """Every photo uploaded at or after ``min_upload``, oldest first, each once.

    Each query starts at the last upload second seen (skipping the ids already
    given for that second) instead of asking for page N: a photo deleted or
    added during the walk cannot shift a page and hide another, and Flickr's
    4,000-result cap is never reached.  Only when a whole page shares one
    second does it page within that second."""
    lo, page = min_upload, 1
    at_lo: set[str] = set()
    while True:
        answer = client.call("flickr.photos.search", user_id="me", sort="date-posted-asc", min_upload_date=lo,
                             extras=EXTRAS, per_page=PER_PAGE, page=page, **extra)["photos"]
        entries = answer.get("photo") or []
        for e in entries:
            if str(e["id"]) not in at_lo:
                yield e
        if len(entries) < PER_PAGE or page >= _int(answer.get("pages"), 1):
            return
        last = _int(entries[-1].get("dateupload"))
        if last == lo:
            at_lo.update(str(e["id"]) for e in entries)
            page += 1
            if page * PER_PAGE > SEARCH_CAP:
                raise SourceError(f"more than {SEARCH_CAP} photos share the upload second {lo}; Flickr's "
                                  "search cannot list them all")
        else:
            lo, page = last, 1
            at_lo = {str(e["id"]) for e in entries if _int(e.get("dateupload")) == last}


def recently_updated(client: FlickrClient, min_date: int) -> Iterator[dict]:
    for _answer, entries in client.pages("flickr.photos.recentlyUpdated", "photos", PER_PAGE, min_date=min_date,
                                         extras=EXTRAS):
        yield from entries


class Albums:
    """photo id -> titles of its albums, and the photos whose albums changed since the last run.
    Only albums whose date_update moved are fetched; the rest comes from a cache per library in
    the user cache (``flickr-albums/``), trusted only when it was written with the cursor this run
    starts from (a run killed before its commit leaves a cache that is not used)."""

    def __init__(self, client: FlickrClient, env: ConnectorContext, name: str):
        self.client = client
        self.env = env
        self.name = name
        #: listing entries of photos that joined or left an album (incremental runs)
        self.changes: list[dict] = []
        self._state: dict = {}

    def cache_path(self) -> Path:
        from ...context import cache_dir

        digest = hashlib.sha1(f"{self.env.library_root}\x00{self.name}".encode()).hexdigest()[:16]
        return cache_dir() / "flickr-albums" / f"{digest}.json"

    def fetch(self, refresh_all: bool, cursor: str | None) -> dict[str, tuple[str, ...]]:
        cache: dict = {}
        if not refresh_all:
            try:
                saved = json.loads(self.cache_path().read_text())
                if saved.get("cursor") == cursor:
                    cache = saved.get("albums", {})
                else:
                    refresh_all = True
            except (OSError, ValueError, AttributeError):
                refresh_all = True
        sets = []
        for _answer, entries in self.client.pages("flickr.photosets.getList", "photosets", PER_PAGE):
            sets.extend(entries)
        fresh: dict = {}
        joined: list[dict] = []
        left: set[str] = set()
        for s in sets:
            sid = str(s["id"])
            stamp = str(s.get("date_update", ""))
            title = _text(s.get("title")) or sid
            old = cache.get(sid)
            if old and old.get("stamp") == stamp and old.get("title") == title:
                fresh[sid] = old
                continue
            members = []
            for _answer, entries in self.client.pages("flickr.photosets.getPhotos", "photoset", PER_PAGE,
                                                      photoset_id=sid, user_id=self.client.user_nsid, extras=EXTRAS,
                                                      media="all"):
                members.extend(entries)
            ids = [str(m["id"]) for m in members]
            fresh[sid] = {"stamp": stamp, "title": title, "members": ids}
            if not refresh_all:  # incremental: photos that joined, left, or whose album was renamed
                before = set(old.get("members", [])) if old else set()
                renamed = old is not None and old.get("title") != title
                joined.extend(m for m in members if renamed or str(m["id"]) not in before)
                left |= before - set(ids)
        if not refresh_all:
            for sid, old in cache.items():  # albums deleted on Flickr
                if sid not in fresh:
                    left |= set(old.get("members", []))
        self._state = fresh
        out: dict[str, list[str]] = {}
        for s in fresh.values():
            for pid in s["members"]:
                out.setdefault(pid, []).append(s["title"])
        joined_ids = {str(m["id"]) for m in joined}
        self.changes = [*joined, *self._entries_of(sorted(left - joined_ids))]
        return {pid: tuple(sorted(titles)) for pid, titles in out.items()}

    def _entries_of(self, ids: list[str]) -> Iterator[dict]:
        """Listing entries for photos named by id (photos that left an album), from getInfo."""
        for pid in ids:
            try:
                info = self.client.call("flickr.photos.getInfo", photo_id=pid)["photo"]
            except SourceError as e:
                if "error 1:" in str(e):  # deleted: the next full listing marks it missing
                    continue
                raise
            yield entry_from_info(info)

    def save(self, cursor: str) -> None:
        path = self.cache_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"cursor": cursor, "albums": self._state}))
            tmp.replace(path)
        except OSError:
            pass  # a cache: the next run fetches the albums again


def ref_of(entry: dict, albums) -> ItemRef:
    """A listing entry as an ItemRef: fingerprint ``lastupdate:secret:albums``, content key the
    original's secret (it changes when the file is replaced), the entry itself in ``extra``."""
    if entry.get("originalsecret") and (entry.get("media") == "video" or entry.get("url_o")
                                        or entry.get("from_info")):
        key = "o:" + entry["originalsecret"]
    else:
        key = "s:" + str(entry.get("secret", ""))
    album_key = hashlib.sha1("\x00".join(sorted(albums)).encode()).hexdigest()[:12] if albums else "-"
    fingerprint = f"{_int(entry.get('lastupdate'))}:{key}:{album_key}"
    slim = {k: v for k, v in entry.items() if k not in ("owner", "farm", "context", "views", "license")}
    slim["albums"] = sorted(albums)
    return ItemRef(str(entry["id"]), fingerprint, key, None, None, None, json.dumps(slim).encode())


class Lister:
    """One service's listings: what to ask Flickr for a run, and the cursor after it."""

    def __init__(self, client: FlickrClient, albums: Albums, config: dict):
        self.client = client
        self.albums = albums
        self.config = config
        self._dates: dict[str, tuple[int, int]] = {}
        self._failed: set[str] = set()

    def failed(self, item_id: str) -> None:
        """An item that could not be read (and will be tried again): it holds the cursor back."""
        self._failed.add(item_id)

    def list(self, cursor: str | None, since: datetime | None, full_scan: bool) -> Listing:
        self.client.api()  # fail now (not signed in, no key) rather than inside the walk
        state = None if full_scan else _Cursor.parse(cursor)
        days = float(self.config.get("full_listing_days", 30))
        now = int(time.time())
        full = state is None or (since is None and now - state.full_at > days * 86400)
        listing = Listing(refs=iter(()), complete=full and since is None, cursor=cursor)
        listing.refs = self._refs(listing, cursor, state, since, full, now)
        return listing

    def _refs(self, listing: Listing, cursor, state: _Cursor | None, since, full: bool, now: int) -> Iterator[ItemRef]:
        albums = self.albums.fetch(refresh_all=full or state is None, cursor=cursor)
        # the next cursor: the newest upload and update seen, but never later than a few minutes
        # before this run (Flickr's search index can be late; re-listing that overlap is cheap)
        settle = now - CURSOR_MARGIN
        seen = {"upload": state.upload if state else 0, "update": state.update if state else 0}
        full_at = now if (full and since is None) else (state.full_at if state else 0)
        emitted: set[str] = set()
        self._dates = {}
        self._failed = set()
        client = self.client

        def take(entry: dict) -> ItemRef | None:
            pid = str(entry["id"])
            up, upd = _int(entry.get("dateupload")), _int(entry.get("lastupdate"))
            seen["upload"] = max(seen["upload"], min(up, settle))
            seen["update"] = max(seen["update"], min(upd, settle))
            if pid in emitted:
                return None
            emitted.add(pid)
            self._dates[pid] = (up, upd)
            return ref_of(entry, albums.get(pid, ()))

        def sources() -> Iterator[dict]:
            if full:
                start = int(since.timestamp()) if since else 0
                yield from walk_uploads(client, start)
                if since is not None:
                    yield from recently_updated(client, int(since.timestamp()))
                return
            assert state is not None
            # inclusive bounds: what came in the same second as the last one seen is not missed
            # (what was seen already comes back with the same fingerprint and costs nothing)
            start = state.upload if since is None else min(state.upload, int(since.timestamp()))
            yield from walk_uploads(client, start)
            changed_from = state.update if since is None else min(state.update, int(since.timestamp()))
            yield from recently_updated(client, changed_from)
            yield from self.albums.changes

        for entry in sources():
            ref = take(entry)
            if ref:
                yield ref

        def final() -> str:
            # an item that could not be read (and will be tried again) holds the cursor back to it
            upload, update = seen["upload"], seen["update"]
            for pid in self._failed:
                up, upd = self._dates.get(pid, (upload, update))
                upload, update = min(upload, up), min(update, upd)
            text = _Cursor(upload, update, full_at).dump()
            self.albums.save(text)
            return text

        listing.cursor_fn = final
