"""The connector contract suite: what every connector does, run by subclassing.

A connector's test module gives :class:`ConnectorContract` a ``case`` fixture
that returns a :class:`ConnectorCase`: how to build the connector (its config
entry) and how to change the world behind it (add an item, give it new bytes,
remove it, make it older, ...)::

    class TestFolderConnector(ConnectorContract):
        @pytest.fixture
        def case(self, tmp_path):
            return FolderCase(tmp_path)

Every ``test_*`` method below then runs against that connector.  The rules:

* a declared capability is backed by behaviour (declares upload: an upload is
  listed again with the same bytes); one not declared raises ``Unsupported``,
  never silently does nothing;
* a part of the suite that needs something the connector does not declare, or a
  hook the case cannot provide (a case method raising ``NotImplementedError``),
  is skipped with the reason.

Some tests run discover over a real library (``CaseLibrary``): for those the
case's ``config()["type"]`` must be a registered type (a built-in, an entry
point in ``photosync.connectors``, or ``photosync.connectors.registry.register``
called by the test module).

Models: rclone's ``fstest/fstests`` (one suite, each backend's test file a few
lines naming what it cannot do) and dvc's ``dvc/testing`` (tests shipped in the
package, run by plug-ins through pytest fixtures).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import pytest

from ..connectors import registry
from ..connectors.base import Connector, ConnectorContext, ItemRef, Listing
from ..context import Context
from ..errors import MediaError, PhotosyncError, SourceError, Unsupported
from ..events import Collector, Tally
from ..model import QUALITIES, Metadata, Photo, Visibility
from .helpers import photo_bytes, secrets_in_library, without_read_override

__all__ = ["CaseLibrary", "ConnectorCase", "ConnectorContract", "FolderCase", "listed", "photo_bytes", "sha256_of"]

NO_HASH = "sha256:" + "0" * 64


def sha256_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def listed(conn: Connector, **kw) -> tuple[dict[str, ItemRef], Listing]:
    """Every ref of one listing by id, and the listing (its refs consumed, so its
    final cursor is known)."""
    kw.setdefault("cursor", None)
    kw.setdefault("since", None)
    kw.setdefault("full_scan", False)
    listing = conn.list(**kw)
    return {ref.id: ref for ref in listing.refs}, listing


class ConnectorCase:
    """One connector under test and the world behind it.

    Required: :meth:`config`, :meth:`add`, :meth:`change`, :meth:`remove`.  The
    other hooks are optional: the base raises ``NotImplementedError`` and the tests
    that need them are skipped, naming the hook.  ``tmp`` is a fresh folder; the
    case keeps its own user config folder (``ctx``: credentials) in it, and
    connectors are built with ``tmp / "library"`` as their library root.
    """

    #: the service's name (in the library's config, in credentials files)
    name = "case"
    #: describe gives the item's file name (metadata.filename); False: the service keeps none
    keeps_filenames = True
    #: list(since=...) leaves out what did not change since then
    supports_since = True
    #: a listing of everything says it is complete (an item not in it is gone); False for a source
    #: that is partial by nature (a Google Takeout export: a date range, some albums), whose
    #: listings never say so and so never make discover mark a photo missing
    whole_listings = True
    #: photosync reads the service's items back (list, describe, open); False for a target it only
    #: writes to (Amazon Photos): its listing is empty and never complete, the tests that read
    #: items are skipped (the case cannot ``add``), and an upload is checked with :meth:`stored`
    reads_back = True
    #: the cursor is the source's version as a whole (an iCloud shared album's ctag): fed back while
    #: nothing changed, the listing holds nothing (and is not complete); after any change it holds
    #: every item, as a listing without a cursor does. False: the cursor lists what changed since it
    versioned_cursor = False
    #: an item whose bytes change moves in the listing (False: the service says nothing that
    #: changes with an edit, as Google's Picker: such a listing must have no content keys)
    sees_changes = True
    #: the service's items can be opened by a connector that has not listed them in this run
    #: (False: Google's Picker, whose items are read only within the session that picked them)
    opens_unlisted = True
    #: the service keeps a photo's tags (False: it has none, Google Photos)
    keeps_tags = True

    def __init__(self, tmp: Path):
        self.tmp = Path(tmp)
        self.ctx = Context(self.tmp / "user-config")
        #: problems and messages the connectors built by connector() reported
        self.reported = Collector()

    # -- the thing under test -----------------------------------------------------------------
    def config(self) -> dict:
        """The service's config entry, with its ``type`` (what config/services.json holds)."""
        raise NotImplementedError("config() must give the service's config entry")

    def env(self) -> ConnectorContext:
        return ConnectorContext(library_root=self.tmp / "library", ctx=self.ctx, report=Tally(self.reported))

    def connector(self) -> Connector:
        """A new connector, as a run would build it (through the registry)."""
        return registry.create(self.name, self.config(), self.env())

    def close(self) -> None:
        """Stop what the case started (a fake server)."""

    # -- the world behind it (required) -------------------------------------------------------
    def add(self, rel: str, data: bytes) -> str:
        """Put a new item with these bytes on the service (``rel``: a path-like name, which a
        service that keeps folders uses as one); its item id."""
        raise NotImplementedError("add an item")

    def change(self, item_id: str, data: bytes) -> None:
        """Give the item new bytes (a file saved over, a photo replaced)."""
        raise NotImplementedError("give an item new bytes")

    def remove(self, item_id: str) -> None:
        """Delete the item on the service (as its owner would, not through the connector)."""
        raise NotImplementedError("remove an item")

    # -- the world behind it (optional) -------------------------------------------------------
    def age(self, item_id: str, days: int) -> None:
        """Make the item look ``days`` old: added and last changed then."""
        raise NotImplementedError("make an item older")

    def touch(self, item_id: str) -> None:
        """Change what the service says about the item (a caption, a title), not its bytes."""
        raise NotImplementedError("change an item's metadata without its bytes")

    def show(self, item_id: str, level: str) -> None:
        """Show the item at ``level`` (private, friends, public), as its owner would on the service."""
        raise NotImplementedError("set an item's visibility on the service")

    def add_to_album(self, item_id: str, title: str) -> None:
        """Put the item in the album ``title`` (made when there is none)."""
        raise NotImplementedError("put an item in an album")

    def hide(self, item_id: str) -> None:
        """Make the part of the service that holds the item impossible to list (an unreadable
        folder, an API call that keeps failing), until :meth:`unhide`."""
        raise NotImplementedError("make part of the service unlistable")

    def unhide(self, item_id: str) -> None:
        """Undo :meth:`hide`."""

    def fail_reads(self, item_id: str) -> None:
        """Make reading the item's bytes fail (a file that cannot be read, downloads that keep
        breaking off), until :meth:`mend_reads`."""
        raise NotImplementedError("make reading an item fail")

    def mend_reads(self, item_id: str) -> None:
        """Undo :meth:`fail_reads`."""

    def fetches(self) -> int:
        """How many times the bytes of an item were fetched from the service so far."""
        raise NotImplementedError("count downloads")

    def stored(self, item_id: str) -> bytes:
        """The bytes the service holds for the item (a target that is not read back, ``reads_back``
        False: how its uploads are checked)."""
        raise NotImplementedError("read what the service holds")

    def approve(self, prompt: str) -> str:
        """What a person does when the connector's login asks ``prompt``: open the address,
        approve, and answer with the code shown."""
        raise NotImplementedError("sign in as a person would")

    def secrets(self) -> set[str]:
        """The values that must never reach a library: by default every value saved in the
        service's credentials file under a key that looks secret (records.looks_secret:
        api_key, api_secret, oauth_token, ...)."""
        from .. import credentials
        from ..records import looks_secret

        saved = credentials.load(self.ctx, "services", self.name) or {}
        return {str(v) for k, v in saved.items() if looks_secret(k) and isinstance(v, str) and len(v) >= 6}


class CaseLibrary:
    """A real library with the case's service configured, for the tests that run discover."""

    def __init__(self, case: ConnectorCase):
        from ..library.layout import SERVICES_FILE
        from ..library.library import Library

        self.case = case
        self.root, _ = Library.init(case.tmp / "library")
        self.reported = Collector()
        with self.open() as lib:
            services = lib.raw_services()
            services[case.name] = {"enabled": True, **case.config()}
            lib.stage_config(SERVICES_FILE, services)
            lib.commit(f"service: add {case.name}")

    def open(self):
        from ..library.library import Library

        return Library.open(self.root, ctx=self.case.ctx, reporter=self.reported)

    def discover(self, **kw):
        """One discover of the case's service; its ServiceSummary."""
        from ..phases.discover import discover

        with self.open() as lib:
            return discover(lib, service=self.case.name, **kw).services[0]

    def instances(self) -> dict[str, dict]:
        """item id -> the instance (as JSON) every photo record holds for the case's service."""
        out: dict[str, dict] = {}
        for path in (self.root / "photos").rglob("*.json"):
            record = json.loads(path.read_text(encoding="utf-8"))
            for inst in record.get("instances", {}).get(self.case.name, []):
                out[inst["id"]] = inst
        return out


def _need(case: ConnectorCase, hook: str, *args):
    """Call an optional hook of the case; skip the test when the case cannot."""
    try:
        return getattr(case, hook)(*args)
    except NotImplementedError as e:
        pytest.skip(f"{type(case).__name__} cannot {str(e) or hook}")


def _photo_for(data: bytes, caption: str = "A caption\n\nand a description") -> Photo:
    return Photo(photo_id="0f0e0d0c-0b0a-4909-8807-060504030201", content_hash=sha256_of(data), canonical_source="x:y",
                 metadata=Metadata(taken_date="2020-01-02T03:04:05", filename="upload.jpg", caption=caption,
                                   tags=("beach", "two words"), media_type="photo", format="jpeg"),
                 created_at="2020-01-01T00:00:00Z", updated_at="2020-01-01T00:00:00Z",
                 visibility=Visibility("friends"))


def _fails_then_is_listed_again(case, conn, refs, listing, failing: str) -> None:
    """The item cannot be read now; the listing's cursor must not move past it."""
    _need(case, "fail_reads", failing)
    try:
        with pytest.raises((SourceError, MediaError)):
            conn.describe(refs[failing])
    finally:
        case.mend_reads(failing)
    refs, _ = listed(case.connector(), cursor=listing.final_cursor())
    assert failing in refs, "the cursor moved past an item that could not be read: it would never be read"


def _served(conn: Connector, item_id: str) -> str:
    """The hash of what the service serves for the item (the original, or the copy it gives)."""
    with conn.open(item_id) as f:
        return sha256_of(f.read())


def declared(conn: Connector, capability: str):
    """What the connector declares of ``capability`` (nothing when its Capabilities has no such
    field: a capability no phase reads may be dropped from the interface)."""
    return getattr(conn.capabilities, capability, False)


def _level(conn: Connector) -> str:
    """A level to upload at: friends where the service has it (neither the narrowest nor the widest)."""
    levels = declared(conn, "visibility_levels") or ()
    return "friends" if "friends" in levels or not levels else levels[0]


def _state(conn: Connector) -> dict[str, str]:
    refs, _ = listed(conn)
    return {i: r.fingerprint for i, r in refs.items()}


class ConnectorContract:
    """The tests every connector passes.  Subclass it as ``Test<Name>Connector`` with a
    ``case`` fixture returning a :class:`ConnectorCase` (pytest collects the subclass,
    never this class: its name does not start with Test)."""

    @pytest.fixture
    def case(self, tmp_path) -> ConnectorCase:
        raise NotImplementedError(f"{type(self).__name__} must define a 'case' fixture returning a ConnectorCase")

    @pytest.fixture(autouse=True)
    def _user_folders(self, tmp_path_factory, monkeypatch):
        # no test of the suite reads or writes the real user's config, credentials or cache
        monkeypatch.setenv("PHOTOSYNC_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
        monkeypatch.setenv("PHOTOSYNC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        monkeypatch.delenv("PHOTOSYNC_LIBRARY", raising=False)

    @pytest.fixture(autouse=True)
    def _closed(self, _user_folders, case):
        yield
        case.close()

    @pytest.fixture(autouse=True)
    def _target_only(self, case, monkeypatch):
        # a target photosync does not read back has no items to list: the tests that put items
        # on the service to read them are skipped, saying why (its uploads are checked instead)
        if not case.reads_back:
            for hook in ("add", "change", "remove"):
                monkeypatch.setattr(case, hook, lambda *a, _h=hook: pytest.skip(
                    f"{type(case).__name__} cannot {_h} an item photosync reads back: a target only (reads_back)"))

    # -- listing --------------------------------------------------------------------------------
    def test_lists_every_item_with_stable_ids(self, case):
        ids = {case.add(f"a/{i}.jpg", photo_bytes(i)) for i in range(3)}
        conn = case.connector()
        first, listing = listed(conn)
        assert set(first) == ids
        assert listing.complete is case.whole_listings and not conn.partial
        second, _ = listed(conn)
        assert {i: r.fingerprint for i, r in first.items()} == {i: r.fingerprint for i, r in second.items()}
        assert set(listed(case.connector())[0]) == ids, "another connector (a later run) lists the same ids"

    def test_a_change_changes_the_fingerprint(self, case):
        item_id = case.add("c.jpg", photo_bytes(1))
        conn = case.connector()
        before, _ = listed(conn)
        case.change(item_id, photo_bytes(2))
        after, _ = listed(conn)
        if not case.sees_changes:
            # nothing it lists moves when the bytes change (the Google Picker): then nothing it lists
            # may promise the bytes are the same either
            assert before[item_id].content_key is None and after[item_id].content_key is None
            return
        assert before[item_id].fingerprint != after[item_id].fingerprint

    def test_removed_items_are_not_listed(self, case):
        keep = case.add("keep.jpg", photo_bytes(1))
        gone = case.add("gone.jpg", photo_bytes(2))
        conn = case.connector()
        assert set(listed(conn)[0]) == {keep, gone}
        case.remove(gone)
        refs, listing = listed(conn)
        assert set(refs) == {keep} and listing.complete is case.whole_listings
        with pytest.raises(SourceError):
            conn.open(gone).close()

    def test_since_limits_the_listing(self, case):
        old = case.add("old.jpg", photo_bytes(1))
        new = case.add("new.jpg", photo_bytes(2))
        if not case.supports_since:
            # a service that cannot list by date takes `since` as a hint: it lists everything,
            # and still never says that what it did not list is gone
            refs, listing = listed(case.connector(), since=datetime.now().astimezone() - timedelta(days=7))
            assert set(refs) == {old, new}, "a listing that cannot filter by date must not drop items"
            assert not listing.complete, "a listing since a date cannot say that other items are gone"
            return
        _need(case, "age", old, 30)
        refs, listing = listed(case.connector(), since=datetime.now().astimezone() - timedelta(days=7))
        assert set(refs) == {new}
        assert not listing.complete, "a listing since a date cannot say that other items are gone"

    def test_a_listing_that_misses_part_of_the_service_says_so(self, case):
        seen = case.add("seen/a.jpg", photo_bytes(1))
        hidden = case.add("hidden/b.jpg", photo_bytes(2))
        conn = case.connector()
        assert set(listed(conn)[0]) == {seen, hidden}
        _need(case, "hide", hidden)
        try:
            try:
                refs, listing = listed(conn)
            except PhotosyncError:
                return  # a listing that fails as a whole proves nothing gone: discover marks nothing
            if hidden not in refs:
                assert conn.partial or not listing.complete, (
                    "the listing missed an item it could not see, yet says it is complete: discover would "
                    "mark that item missing")
        finally:
            case.unhide(hidden)
        assert set(listed(conn)[0]) == {seen, hidden}
        assert not conn.partial, "partial is set again by each listing"

    def test_discover_marks_nothing_missing_unless_the_listing_is_whole(self, case):
        seen = case.add("seen/a.jpg", photo_bytes(1))
        hidden = case.add("hidden/b.jpg", photo_bytes(2))
        lib = CaseLibrary(case)
        assert lib.discover().new == 2
        _need(case, "hide", hidden)
        try:
            lib.discover(full_scan=True)
        finally:
            case.unhide(hidden)
        assert [i for i, inst in lib.instances().items() if inst.get("missing_since")] == []
        case.remove(hidden)  # and a whole listing does mark what is gone (a partial source's never does)
        if not case.whole_listings:
            assert lib.discover(full_scan=True).missing == 0
            assert [i for i, inst in lib.instances().items() if inst.get("missing_since")] == []
            return
        assert lib.discover(full_scan=True).missing == 1
        assert lib.instances()[hidden].get("missing_since") and not lib.instances()[seen].get("missing_since")

    # -- cursors ----------------------------------------------------------------------------------
    def test_a_cursor_fed_back_lists_only_what_changed(self, case):
        conn = case.connector()
        old = case.add("old.jpg", photo_bytes(1))
        changing = case.add("changing.jpg", photo_bytes(2))
        first, listing = listed(conn)
        assert set(first) == {old, changing}
        if not listing.final_cursor():
            # an honest connector without incremental listings ignores the cursor: every item, complete
            again, listing2 = listed(conn, cursor=listing.final_cursor() or "a cursor")
            assert set(again) == {old, changing} and listing2.complete is case.whole_listings
            return
        if case.versioned_cursor:
            same, unchanged = listed(case.connector(), cursor=listing.final_cursor())
            assert set(same) == set() and not unchanged.complete, \
                "nothing changed since the cursor: nothing listed, and nothing can be said gone"
            new = case.add("new.jpg", photo_bytes(3))
            case.change(changing, photo_bytes(4))
            refs, since_cursor = listed(case.connector(), cursor=listing.final_cursor())
            assert set(refs) == {old, changing, new}, "a change lists the source whole again"
            assert since_cursor.complete is case.whole_listings
            assert refs[changing].fingerprint != first[changing].fingerprint
            assert refs[old].fingerprint == first[old].fingerprint, "what did not change keeps its fingerprint"
            return
        _need(case, "age", old, 60)  # long before the cursor (services re-list a margin before it)
        _need(case, "age", changing, 30)
        _, listing = listed(conn)
        cursor = listing.final_cursor()
        assert cursor, "an incremental connector gives a cursor once its listing was read"
        new = case.add("new.jpg", photo_bytes(3))
        case.change(changing, photo_bytes(4))
        refs, since_cursor = listed(case.connector(), cursor=cursor)
        assert {new, changing} <= set(refs), "what changed since the cursor is listed"
        assert old not in refs, "what did not change since the cursor is not listed again"
        if set(refs) != {old, changing, new}:
            assert not since_cursor.complete, "a listing that left out unchanged items cannot say others are gone"

    def test_an_item_that_could_not_be_read_is_listed_again(self, case):
        conn = case.connector()
        old = case.add("old.jpg", photo_bytes(1))
        refs, whole = listed(conn)
        if not whole.final_cursor():  # no cursor: every listing lists everything
            ref = refs[old]
            _need(case, "fail_reads", old)
            try:
                with pytest.raises((SourceError, MediaError)):
                    conn.describe(ref)
            finally:
                case.mend_reads(old)
            assert conn.describe(ref).content_hash == _served(conn, old), "and is read once it can be"
            return
        if case.versioned_cursor:
            cursor = whole.final_cursor()
            failing = case.add("failing.jpg", photo_bytes(2))
            refs, listing = listed(conn, cursor=cursor)
            assert failing in refs
            _fails_then_is_listed_again(case, conn, refs, listing, failing)
            return
        _need(case, "age", old, 60)
        _, listing = listed(conn)
        cursor = listing.final_cursor()
        failing = case.add("failing.jpg", photo_bytes(2))
        later = case.add("later.jpg", photo_bytes(3))
        case.age(failing, 10)
        case.age(later, 5)  # read after the failing one, and newer: a cursor past it would skip the failure
        refs, listing = listed(conn, cursor=cursor)
        assert {failing, later} <= set(refs)
        conn.describe(refs[later])
        _fails_then_is_listed_again(case, conn, refs, listing, failing)

    def test_an_item_gone_since_the_listing_fails_alone(self, case):
        conn = case.connector()
        stays = case.add("stays.jpg", photo_bytes(1))
        goes = case.add("goes.jpg", photo_bytes(2))
        refs, _ = listed(conn)
        case.remove(goes)
        with pytest.raises((SourceError, MediaError)):
            conn.describe(refs[goes])
        assert conn.describe(refs[stays]).content_hash == _served(conn, stays)

    @pytest.mark.parametrize("cursor", ["", "not a cursor", "{}", '{"upload": "x"}', "\x00\xff", "[1, 2, 3]",
                                        json.dumps({"version": 999, "next": "ZZZZ"})])
    def test_a_garbled_or_unknown_cursor_gives_a_full_listing(self, case, cursor):
        ids = {case.add(f"g/{i}.jpg", photo_bytes(i)) for i in range(2)}
        refs, listing = listed(case.connector(), cursor=cursor)
        assert set(refs) == ids and listing.complete is case.whole_listings
        listing.final_cursor()  # and a cursor comes out of it without an error

    # -- items ------------------------------------------------------------------------------------
    def test_describe_hashes_what_open_returns(self, case):
        data = photo_bytes(1)
        item_id = case.add("x/photo.jpg", data)
        conn = case.connector()
        refs, _ = listed(conn)
        item = conn.describe(refs[item_id])
        with conn.open(item_id) as f:
            served = f.read()
        assert item.content_hash == sha256_of(served)
        assert item.size == len(served)
        assert item.metadata.filename == ("photo.jpg" if case.keeps_filenames else None)
        assert item.metadata.media_type == "photo"
        assert item.metadata.taken_date.startswith("2020-01-02T03:04:05")
        assert item.quality in ("original", "high", "medium", "low")
        if declared(conn, "visibility_levels"):
            assert item.visibility in declared(conn, "visibility_levels")
        else:
            assert item.visibility is None, "a service without visibility levels must not state one"
        if item.audience is not None:
            assert item.visibility == "friends" and item.audience in (declared(conn, "audiences") or ())

    def test_a_copy_called_original_is_the_original(self, case):
        data = photo_bytes(3)
        item_id = case.add("o/original.jpg", data)
        conn = case.connector()
        item = conn.describe(listed(conn)[0][item_id])
        assert item.quality in QUALITIES
        if item.quality == "original":
            assert item.content_hash == sha256_of(data), "a copy said to be the original has other bytes"
            with conn.open(item_id) as f:
                assert f.read() == data, "a service that gives originals gives back the bytes put there"

    def test_a_known_hash_spares_the_download(self, case):
        data = photo_bytes(1)
        item_id = case.add("k/known.jpg", data)
        conn = case.connector()
        ref = listed(conn)[0][item_id]
        if ref.content_key is None:
            # no content key: discover reads every item whose fingerprint moved, so describe
            # hashes the bytes whatever it is told
            assert conn.describe(ref._replace(known_hash=NO_HASH)).content_hash == _served(conn, item_id)
            return
        first = conn.describe(ref)
        _need(case, "touch", item_id)
        touched = listed(conn)[0][item_id]
        assert touched.fingerprint != ref.fingerprint, "a metadata change moves the fingerprint"
        assert touched.content_key == ref.content_key, "but not the content key (the bytes are the same)"
        before = _need(case, "fetches")
        again = conn.describe(touched._replace(known_hash=first.content_hash))
        assert case.fetches() == before, "describe fetched the bytes although it was told their hash"
        assert again.content_hash == first.content_hash
        case.change(item_id, photo_bytes(2))
        changed = listed(conn)[0][item_id]
        assert changed.content_key != ref.content_key, "new bytes must move the content key"
        assert conn.describe(changed).content_hash == sha256_of(photo_bytes(2))
        assert case.fetches() > before, "(the case counts fetches)"

    def test_a_fresh_connector_opens_from_many_threads_at_once(self, case):
        # replicate opens originals from a pool of threads, one after another on each thread,
        # on a connector that may have listed nothing in this run: every open gets its item's
        # bytes, whichever thread lists first and whenever the others arrive
        import threading

        data = {case.add(f"t/{i}.jpg", photo_bytes(i)): photo_bytes(i) for i in range(12)}
        conn = case.connector()
        if not case.opens_unlisted:
            listed(conn)
        ids = sorted(data)
        start = threading.Barrier(4)
        got: dict[str, object] = {}

        def read(mine: list[str]) -> None:
            start.wait()
            for item_id in mine:
                try:
                    with conn.open(item_id) as f:
                        got[item_id] = sha256_of(f.read())
                except Exception as e:  # said below, with the item
                    got[item_id] = e

        threads = [threading.Thread(target=read, args=(ids[k::4],)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert {i: got.get(i) for i in data} == {i: _served(conn, i) for i in data}

    def test_an_id_the_service_never_gave_is_refused(self, case):
        conn = case.connector()
        case.add("real.jpg", photo_bytes(1))
        for item_id in ("../../etc/passwd", "/etc/passwd", "no-such-item-000"):
            with pytest.raises(SourceError):
                conn.open(item_id).close()

    # -- capabilities -----------------------------------------------------------------------------
    def test_upload_capability(self, case):
        conn = case.connector()
        data = photo_bytes(7)
        photo = _photo_for(data)
        if not declared(conn, "upload"):
            with pytest.raises(Unsupported):
                conn.upload(photo, io.BytesIO(data), len(data), "private")
            return
        level = _level(conn)
        item = conn.upload(photo, io.BytesIO(data), len(data), level)
        assert item.visibility == (level if declared(conn, "visibility_levels") else None)
        if not case.reads_back:
            # a target only: the service holds the original's bytes, and photosync lists nothing of it
            assert case.stored(item.ref.id) == data and item.content_hash == photo.content_hash
            refs, listing = listed(conn)
            assert refs == {} and not listing.complete, "a target not read back lists nothing, never as whole"
            return
        refs, _ = listed(conn)
        assert item.ref.id in refs
        again = conn.describe(refs[item.ref.id])
        assert again.content_hash == photo.content_hash
        assert again.visibility == item.visibility
        assert again.metadata.caption == photo.metadata.caption

        def clean(tags):  # services may keep tags in a cleaned form (Flickr: lower case, no spaces)
            return {t.lower().replace(" ", "") for t in tags}

        assert clean(photo.metadata.tags) == clean(again.metadata.tags) if case.keeps_tags else again.metadata.tags == ()

    def test_find_uploaded_is_safe_to_repeat_and_honest(self, case):
        conn = case.connector()
        data = photo_bytes(8)
        photo = _photo_for(data)
        asked = {photo.content_hash, NO_HASH}
        if not declared(conn, "upload"):
            # it never uploaded anything, so it finds nothing
            assert conn.find_uploaded(asked) == {}
            assert conn.find_uploaded(asked, attempted={photo.content_hash: time.time()}) == {}
            return
        assert conn.find_uploaded(asked) == {}, "nothing was uploaded yet"
        item = conn.upload(photo, io.BytesIO(data), len(data), _level(conn))
        if not case.reads_back:
            # it cannot look photos up by photosync's hash: it finds nothing, and an upload of the same
            # bytes again (a run killed before it recorded the first) gives the same item, not a copy
            assert conn.find_uploaded(asked, attempted={h: time.time() - 60 for h in asked}) == {}
            again = case.connector().upload(photo, io.BytesIO(data), len(data), _level(conn))
            assert again.ref.id == item.ref.id and case.stored(item.ref.id) == data
            return
        before = _state(conn)
        first = conn.find_uploaded(asked)
        second = conn.find_uploaded(asked)
        assert first == second == {photo.content_hash: (item.ref.id, item.visibility)}
        late = conn.find_uploaded(asked, attempted={h: time.time() - 60 for h in asked})
        assert late == first, "an unrecorded upload attempt is found, a hash never uploaded is not"
        assert conn.find_uploaded(set()) == {}
        assert _state(conn) == before, "find_uploaded changed something on the service"

    def test_set_visibility_capability(self, case):
        conn = case.connector()
        item_id = case.add("v/shown.jpg", photo_bytes(4))
        if not declared(conn, "set_visibility"):
            with pytest.raises(Unsupported):
                conn.set_visibility(item_id, "private")
            return
        levels = declared(conn, "visibility_levels") or ()
        assert {"private", "public"} <= set(levels), "a service that sets visibility says which levels it has"
        _need(case, "show", item_id, "public")
        middle = "friends" if "friends" in levels else "private"
        assert conn.set_visibility(item_id, middle) == middle
        assert conn.describe(listed(conn)[0][item_id]).visibility == middle
        # set_visibility only ever narrows: asked to show it wider, it leaves it as it is
        assert conn.set_visibility(item_id, "public") == middle
        assert conn.describe(listed(conn)[0][item_id]).visibility == middle
        assert conn.set_visibility(item_id, "private") == "private"
        assert conn.describe(listed(conn)[0][item_id]).visibility == "private"

    def test_delete_capability(self, case):
        """Zero data loss: only a connector that declares ``delete`` can delete, and only through
        ``delete`` (prune, after its checks, is the one caller); another raises Unsupported and the
        item stays. A deleted item is no longer listed, and nothing else is gone with it."""
        conn = case.connector()
        assert not any(hasattr(conn, name) for name in ("remove", "trash", "purge")), \
            "a connector deletes through delete() alone"
        keep = case.add("d/keep.jpg", photo_bytes(1))
        goes = case.add("d/goes.jpg", photo_bytes(2))
        refs, _ = listed(conn)
        assert {keep, goes} <= set(refs)
        if not declared(conn, "delete"):
            with pytest.raises(Unsupported):
                conn.delete(goes)
            assert {keep, goes} <= set(listed(case.connector())[0]), "a refused delete deleted nothing"
            return
        assert conn.delete(goes)
        refs, _ = listed(case.connector())
        assert goes not in refs and keep in refs, "the deleted item is gone from the listing, and only it"

    def test_albums_capability(self, case):
        conn = case.connector()
        item_id = case.add("al/in-album.jpg", photo_bytes(6))
        try:
            case.add_to_album(item_id, "Holiday 2020")
        except NotImplementedError:  # a service without albums reports none
            assert conn.describe(listed(conn)[0][item_id]).metadata.albums == (), \
                "a service without albums must not report any"
            return
        assert "Holiday 2020" in conn.describe(listed(conn)[0][item_id]).metadata.albums

    # -- credentials ------------------------------------------------------------------------------
    def test_credentials_never_enter_the_library(self, case):
        conn = case.connector()
        try:
            who = conn.login(case.approve)
        except Unsupported:
            who = None
        except NotImplementedError as e:
            pytest.skip(f"{type(case).__name__} cannot {e}")
        secrets = case.secrets()
        if not secrets:  # no sign-in and no secrets: nothing that could leak
            assert who is None, "a sign-in that saved no credentials"
            return
        lib = CaseLibrary(case)
        if case.reads_back:
            case.add("s/signed.jpg", photo_bytes(9))
            summary = lib.discover()
            assert summary.failed is None and summary.new == 1, "the run used the credentials"
        else:  # a target: an upload uses the credentials
            data = photo_bytes(9)
            case.connector().upload(_photo_for(data), io.BytesIO(data), len(data), _level(conn))
            assert lib.discover().failed is None
        assert secrets_in_library(lib.root, secrets) == [], "a secret was written into the library"


# -- the reference case: a folder ------------------------------------------------------------------
class FolderCase(ConnectorCase):
    """The local connector over a folder of files (and a base for connectors of
    folder-like sources: override :meth:`config`, and :meth:`add` to write sidecars)."""

    def __init__(self, tmp: Path):
        super().__init__(tmp)
        self.folder = self.tmp / "folder"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._unreadables: dict[Path, tuple[int, Callable[[], object]]] = {}

    def config(self) -> dict:
        return {"type": "local", "path": str(self.folder)}

    def add(self, rel: str, data: bytes) -> str:
        p = self.folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return rel

    def change(self, item_id: str, data: bytes) -> None:
        p = self.folder / item_id
        st = p.stat()
        p.write_bytes(data)
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    def remove(self, item_id: str) -> None:
        (self.folder / item_id).unlink()

    def age(self, item_id: str, days: int) -> None:
        t = time.time() - days * 86400
        os.utime(self.folder / item_id, (t, t))

    def _unreadable(self, path: Path) -> None:
        """chmod 0 (and, as root, this thread's read-anything capabilities dropped) until _readable."""
        mode = stat.S_IMODE(path.stat().st_mode)
        restore = without_read_override()
        os.chmod(path, 0)
        self._unreadables[path] = (mode, restore)
        try:
            if path.is_dir():
                os.listdir(path)
            else:
                open(path, "rb").close()
        except PermissionError:
            return
        self._readable(path)
        raise NotImplementedError(f"make a {'folder' if path.is_dir() else 'file'} unreadable here")

    def _readable(self, path: Path) -> None:
        mode, restore = self._unreadables.pop(path)
        restore()
        os.chmod(path, mode)

    def hide(self, item_id: str) -> None:
        folder = (self.folder / item_id).parent
        if folder == self.folder:
            raise NotImplementedError("hide an item at the top of the folder (only its subfolders)")
        self._unreadable(folder)

    def unhide(self, item_id: str) -> None:
        self._readable((self.folder / item_id).parent)

    def fail_reads(self, item_id: str) -> None:
        self._unreadable(self.folder / item_id)

    def mend_reads(self, item_id: str) -> None:
        self._readable(self.folder / item_id)

    def fetches(self) -> int:
        raise NotImplementedError("count reads of a local file")

