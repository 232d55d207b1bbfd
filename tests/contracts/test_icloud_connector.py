"""The iCloud connector runs the connector contract suite against the fake iCloud (the real
pyicloud, unmodified but for its three base URLs, over HTTPS on loopback)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from photosync.testing.connector import ConnectorCase, ConnectorContract

APPLE_ID = "person@example.com"
PASSWORD = "correct horse battery staple"


def taken_of(data: bytes) -> datetime:
    from PIL import Image

    taken = Image.open(io.BytesIO(data)).getexif().get_ifd(0x8769).get(0x9003)
    return datetime.strptime(taken, "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc) if taken else \
        datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class ICloudCase(ConnectorCase):
    def __init__(self, tmp: Path):
        from fakes.icloud import FakeICloud

        super().__init__(tmp)
        self.fake = FakeICloud(APPLE_ID, PASSWORD)
        self.fake.start()
        self.fake.url_lifetime = 3600.0
        answers = iter([PASSWORD, self.fake.account.two_factor_code])
        conn = self.connector()
        conn.login(lambda prompt, **kw: next(answers))
        self.account = conn.account

    def config(self) -> dict:
        c = {"type": "icloud", "apple_id": APPLE_ID, "endpoints": self.fake.endpoints,
             "retry": {"attempts": 3, "base_seconds": 0.01}}
        if getattr(self, "account", None):
            c["account"] = self.account
        return c

    def close(self) -> None:
        self.fake.stop()

    def add(self, rel: str, data: bytes) -> str:
        return self.fake.add_asset(data, filename=Path(rel).name, taken=taken_of(data))

    def change(self, item_id: str, data: bytes) -> None:
        # iCloud never replaces an original's bytes in place; what comes nearest is the photo saved
        # again from a Mac (a new resource, added again): new bytes, a new checksum, a new added date
        from fakes.icloud.cloudkit import Resource

        with self.fake.lock:
            a = self.fake.assets[item_id]
            old = a.master_res["resOriginal"]
            r = Resource("resOriginal", data, old.uti, old.width, old.height)
            a.master_res["resOriginal"] = r
            self.fake._res_index[r.id] = (item_id, "master", "resOriginal")
            a.master_tag += 1
            a.added = datetime.now(timezone.utc)
            a.serial = self.fake._bump()

    def remove(self, item_id: str) -> None:
        # deleted on a device and Recently Deleted emptied: gone for good (while in Recently
        # Deleted its links still answer, as on the service)
        self.fake.delete_asset(item_id)
        self.fake.expunge(item_id)

    def age(self, item_id: str, days: int) -> None:
        with self.fake.lock:
            a = self.fake.assets[item_id]
            a.added = datetime.now(timezone.utc) - timedelta(days=days)

    def touch(self, item_id: str) -> None:
        with self.fake.lock:
            a = self.fake.assets[item_id]
            a.caption = "A new caption"
            a.asset_tag += 1

    def add_to_album(self, item_id: str, title: str) -> None:
        self.fake.add_to_album(item_id, title)

    def hide(self, item_id: str) -> None:
        # iCloud cannot hide part of a library from its owner: the listing keeps failing instead
        self.fake.fail_next(10**6, 503, endpoint="records/query")

    def unhide(self, item_id: str) -> None:
        self.fake.fail_next(0, 503, endpoint="records/query")

    def fail_reads(self, item_id: str) -> None:
        self.fake.fail_next(10**6, 503, endpoint="download")

    def mend_reads(self, item_id: str) -> None:
        self.fake.fail_next(0, 503, endpoint="download")

    def fetches(self) -> int:
        return len(self.fake.asset_downloads)

    def approve(self, prompt: str) -> str:
        return PASSWORD if "Password" in prompt else self.fake.account.two_factor_code

    def secrets(self) -> set[str]:
        out = {PASSWORD}
        folder = self.ctx.credentials_dir / "services" / f"{self.name}.icloud"
        for p in folder.glob("*.session"):
            data = json.loads(p.read_text())
            out |= {str(v) for k, v in data.items() if k in ("session_token", "trust_token") and v}
        return out


@pytest.fixture(autouse=True)
def _trust_the_fake(monkeypatch):
    from fakes.tls import ca_bundle

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle())


class TestICloudConnector(ConnectorContract):
    @pytest.fixture
    def case(self, tmp_path):
        return ICloudCase(tmp_path)


def test_503_bursts_are_retried_and_an_expired_sign_in_is_named(tmp_path):
    from photosync.errors import AuthError
    from photosync.testing.connector import listed, photo_bytes

    case = ICloudCase(tmp_path)
    try:
        item = case.add("a.jpg", photo_bytes(1))
        case.fake.fail_next(2, 503, endpoint="records/query")   # Apple refusing service for a moment
        refs, listing = listed(case.connector())
        assert item in refs and listing.complete
        assert case.fake.calls["records/query"] > 2
        # the session and the trust cookie expired (or were revoked): a clear way out, no prompt
        case.fake.expire_sessions()
        case.fake.forget_trust()
        with pytest.raises(AuthError, match="photosync auth case"):
            listed(case.connector())
    finally:
        case.close()


def test_names_captions_hidden_photos_and_albums_as_icloud_shows_them(tmp_path):
    from photosync.testing.connector import listed, photo_bytes

    case = ICloudCase(tmp_path)
    try:
        # "V.MOV": pyicloud's PhotoAsset.filename base64-decodes the already decoded bytes again ("TÕ")
        odd = case.fake.add_asset(photo_bytes(1), filename="V.MOV", caption="Sunset at the pier")
        hidden = case.fake.add_asset(photo_bytes(2), filename="IMG_0002.JPG", hidden=True, favorite=True)
        case.fake.create_album("Trips", is_folder=True)
        case.fake.add_to_album(odd, "Summer")
        conn = case.connector()
        refs, listing = listed(conn)
        assert {odd, hidden} <= set(refs) and listing.complete, "hidden photos are in a whole listing"
        md = conn.describe(refs[odd]).metadata
        assert md.filename == "V.MOV" and md.caption == "Sunset at the pier" and md.albums == ("Summer",)
        md = conn.describe(refs[hidden]).metadata
        assert md.filename == "IMG_0002.JPG" and md.favorite is True and md.albums == ()
    finally:
        case.close()


def test_the_second_original_of_a_pair_is_read_and_an_unknown_resource_is_never_deleted(tmp_path):
    from fakes.icloud.cloudkit import UTI, Resource

    from photosync.errors import SourceError
    from photosync.testing.connector import listed, photo_bytes, sha256_of

    case = ICloudCase(tmp_path)
    try:
        pair = case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG", alt=photo_bytes(2))
        conn = case.connector()
        refs, _ = listed(conn)
        item = conn.describe(refs[f"{pair}/alt"])
        assert item.content_hash == sha256_of(photo_bytes(2)) and item.quality == "original"
        # a resource photosync does not read (a kind it does not know) keeps the asset on iCloud
        with case.fake.lock:
            r = Resource("resOriginalNew", photo_bytes(3), UTI["jpeg"], 320, 240)
            case.fake.assets[pair].master_res["resOriginalNew"] = r
            case.fake._res_index[r.id] = (pair, "master", "resOriginalNew")
        with pytest.raises(SourceError, match="does not read"):
            case.connector().delete(pair)
        assert not case.fake.deletions
    finally:
        case.close()


def test_a_delete_done_but_not_recorded_is_done_again_without_a_second_delete(tmp_path):
    from photosync.testing.connector import photo_bytes

    case = ICloudCase(tmp_path)
    try:
        a = case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG")
        assert case.connector().delete(a) == "Recently Deleted"
        # prune killed before its commit, run again: the asset is found in Recently Deleted
        assert case.connector().delete(a) == "Recently Deleted"
        assert [d["asset_id"] for d in case.fake.deletions] == [a] and not case.fake.hard_deletes
    finally:
        case.close()


def test_download_links_expired_since_the_listing_are_asked_for_again(tmp_path, monkeypatch):
    from photosync.connectors.icloud import connector as icloud
    from photosync.testing.connector import listed, photo_bytes, sha256_of

    case = ICloudCase(tmp_path)
    try:
        a = case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG")
        conn = case.connector()
        refs, _ = listed(conn)
        case.fake.advance(2 * 3600)          # a long discover: the listing's links answer 403 now
        monkeypatch.setattr(icloud, "LINK_LIFETIME", 0)   # (as if 45 minutes had passed here too)
        assert conn.describe(refs[a]).content_hash == sha256_of(photo_bytes(1))
        with conn.open(a) as f:
            assert f.read() == photo_bytes(1)
    finally:
        case.close()


def test_a_delete_without_the_recorded_checksum_is_refused(tmp_path):
    """prune passes no checksum when its last scan's bytes are not the recorded ones: nothing then
    shows the asset is unchanged, so it stays on iCloud."""
    from photosync.errors import SourceError
    from photosync.testing.connector import listed, photo_bytes, sha256_of

    case = ICloudCase(tmp_path)
    try:
        a = case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG")
        refs, _ = listed(case.connector())
        with pytest.raises(SourceError, match="changed on iCloud"):
            case.connector().delete(a, {a: (sha256_of(photo_bytes(1)), None)})
        assert not case.fake.deletions
        assert case.connector().delete(a, {a: (sha256_of(photo_bytes(1)), refs[a].content_key)}) == "Recently Deleted"
    finally:
        case.close()


def test_an_open_while_another_thread_lists_the_library_waits_for_that_listing(tmp_path, monkeypatch):
    """replicate's threads open photo after photo on one connector: the first open lists the
    library; an open arriving meanwhile must wait for that listing, not find it half made (a
    photo reported 'not in the iCloud library' and left uncopied)."""
    import threading
    import time

    from photosync.testing.connector import photo_bytes, sha256_of

    case = ICloudCase(tmp_path)
    try:
        a = case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG")
        b = case.fake.add_asset(photo_bytes(2), filename="IMG_0002.JPG")
        listing = threading.Event()
        query = case.fake._query

        def slow_query(body):
            if (body.get("query") or {}).get("recordType") == "CPLAssetAndMasterByAssetDateWithoutHiddenOrDeleted":
                listing.set()
                time.sleep(0.5)   # a library of many pages
            return query(body)

        monkeypatch.setattr(case.fake, "_query", slow_query)
        conn = case.connector()
        got: dict[str, object] = {}

        def read(item_id: str) -> None:
            try:
                with conn.open(item_id) as f:
                    got[item_id] = sha256_of(f.read())
            except Exception as e:  # said below, with the item
                got[item_id] = e

        first = threading.Thread(target=read, args=(a,))
        first.start()
        assert listing.wait(60)
        read(b)
        first.join(60)
        assert got == {a: sha256_of(photo_bytes(1)), b: sha256_of(photo_bytes(2))}
    finally:
        case.close()


def test_shared_libraries_made_and_joined_are_read_beside_the_persons_own(tmp_path):
    """An iCloud Shared Photo Library is a CloudKit zone of its own ("SharedSync-<UUID>"): in the
    private database of whoever made it, in the shared database of those who joined. A photo moved
    there is no longer in the person's own library, so a listing without it would lose it."""
    from fakes.pictures import video

    from photosync.testing.connector import listed, photo_bytes, sha256_of

    case = ICloudCase(tmp_path)
    try:
        own = case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG")
        made = case.fake.add_shared_library(owner=True)
        joined = case.fake.add_shared_library(owner=False)
        family = case.fake.add_asset(photo_bytes(2), filename="IMG_0002.JPG", library=made,
                                     edited=photo_bytes(3), live_video=video("live", (64, 48), quicktime=True))
        friend = case.fake.add_asset(photo_bytes(4), filename="IMG_0003.JPG", library=joined)
        conn = case.connector()
        refs, listing = listed(conn)
        assert listing.complete
        # record names are unique within a zone only: a Shared Library's ids carry its zone
        assert set(refs) == {own, f"{made}:{family}", f"{made}:{family}/edited", f"{made}:{family}/live",
                             f"{joined}:{friend}"}
        item = conn.describe(refs[f"{joined}:{friend}"])
        assert item.content_hash == sha256_of(photo_bytes(4)) and item.metadata.filename == "IMG_0003.JPG"
        edit = conn.describe(refs[f"{made}:{family}/edited"])
        assert edit.metadata.edit_of == f"{made}:{family}"  # the original's item id, zone and all
        assert conn.describe(refs[f"{made}:{family}/live"]).metadata.motion_of == f"{made}:{family}"
        with case.connector().open(f"{made}:{family}") as f:  # an open with no listing before it
            assert f.read() == photo_bytes(2)
        # a photo added there later is in the next incremental listing
        later = case.fake.add_asset(photo_bytes(5), filename="IMG_0004.JPG", library=joined)
        refs2, listing2 = listed(case.connector(), cursor=listing.final_cursor())
        assert f"{joined}:{later}" in refs2 and not listing2.complete
        assert not case.reported.problems
    finally:
        case.close()


def test_a_shared_library_joined_since_the_last_listing_is_read_whole(tmp_path):
    """An incremental listing reads the recently added photos only; a Shared Library joined since
    the last one holds photos added long ago, and all of them are read."""
    from photosync.testing.connector import listed, photo_bytes

    case = ICloudCase(tmp_path)
    try:
        case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG")
        _, listing = listed(case.connector())
        joined = case.fake.add_shared_library(owner=False)
        years_ago = datetime.now(timezone.utc) - timedelta(days=3 * 365)
        old = case.fake.add_asset(photo_bytes(2), filename="IMG_0002.JPG", library=joined, added=years_ago,
                                  taken=years_ago)
        refs, listing2 = listed(case.connector(), cursor=listing.final_cursor())
        assert f"{joined}:{old}" in refs
        # known now: the next incremental listing reads its recent photos only
        refs3, _ = listed(case.connector(), cursor=listing2.final_cursor())
        assert f"{joined}:{old}" not in refs3
    finally:
        case.close()


def _joined(case, photos_in_it=1):
    """A listing of the own library and a joined Shared Library: (own id, zone, shared ids, listing)."""
    from photosync.testing.connector import listed, photo_bytes

    own = case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG")
    zone = case.fake.add_shared_library(owner=False)
    ids = [case.fake.add_asset(photo_bytes(10 + n), filename=f"IMG_1{n:03d}.JPG", library=zone)
           for n in range(photos_in_it)]
    _, listing = listed(case.connector())
    return own, zone, ids, listing


def test_a_shared_library_not_listed_this_time_takes_none_of_its_photos_for_gone(tmp_path):
    """pyicloud passes over a shared database that does not answer: the Shared Libraries joined are
    then missing from the listing, and a complete listing would have discover mark every one of their
    photos gone. The listing says it is not complete and why; once the database answers again, the
    Shared Library is read whole (photos added meanwhile are older than the cursor)."""
    from photosync.testing.connector import listed, photo_bytes

    case = ICloudCase(tmp_path)
    try:
        own, zone, _ids, first = _joined(case)
        case.fake.shared_zone_listing_fails = True
        refs, listing = listed(case.connector(), cursor=first.final_cursor(), full_scan=True)
        assert set(refs) == {own} and not listing.complete
        assert [p.where for p in case.reported.problems] == ["case", f"case:{zone}"]
        assert "not listed by iCloud this time" in case.reported.problems[1].reason
        # silent again at the next run: still known, still not complete
        _, listing = listed(case.connector(), cursor=listing.final_cursor(), full_scan=True)
        assert not listing.complete
        # meanwhile a photo was added there, and an incremental run moved the cursor past its date
        five_days = datetime.now(timezone.utc) - timedelta(days=5)
        meanwhile = case.fake.add_asset(photo_bytes(3), filename="IMG_0003.JPG", library=zone, added=five_days)
        case.fake.add_asset(photo_bytes(4), filename="IMG_0004.JPG")
        _, listing = listed(case.connector(), cursor=listing.final_cursor())
        case.fake.shared_zone_listing_fails = False
        refs, listing = listed(case.connector(), cursor=listing.final_cursor())
        assert f"{zone}:{meanwhile}" in refs
        # read through: the next incremental listing reads its recent photos only
        refs, _ = listed(case.connector(), cursor=listing.final_cursor())
        assert f"{zone}:{meanwhile}" not in refs
    finally:
        case.close()


def test_a_full_scan_without_a_cursor_is_complete_only_when_every_zone_list_answered(tmp_path):
    """discover --full-scan lists with no cursor, so nothing says which Shared Libraries were read
    before: when the shared database does not answer, the listing cannot be complete."""
    from photosync.testing.connector import listed

    case = ICloudCase(tmp_path)
    try:
        own, zone, _ids, _first = _joined(case)
        case.fake.shared_zone_listing_fails = True
        refs, listing = listed(case.connector(), full_scan=True)
        assert set(refs) == {own} and not listing.complete
        assert "none of their photos is taken for gone" in case.reported.problems[0].reason
        case.fake.shared_zone_listing_fails = False
        refs, listing = listed(case.connector(), full_scan=True)
        assert len(refs) == 2 and listing.complete
    finally:
        case.close()


def test_a_shared_library_left_is_gone_and_the_listing_complete_again(tmp_path):
    """iCloud answered, and the Shared Library is not there: the person left it (or it ended). Its
    photos are gone from this account, the listing is complete (own deletions are still seen), and it
    is said once, not at every run."""
    from photosync.testing.connector import listed

    case = ICloudCase(tmp_path)
    try:
        own, zone, _ids, first = _joined(case)
        case.fake.remove_shared_library(zone)
        refs, listing = listed(case.connector(), cursor=first.final_cursor(), full_scan=True)
        assert set(refs) == {own} and listing.complete
        assert [p.where for p in case.reported.problems] == [f"case:{zone}"]
        assert "no longer in this iCloud account" in case.reported.problems[0].reason
        _, again = listed(case.connector(), cursor=listing.final_cursor(), full_scan=True)
        assert again.complete and len(case.reported.problems) == 1
    finally:
        case.close()


def test_zones_that_cannot_be_listed_leave_the_own_library_listed(tmp_path):
    """pyicloud opens each Shared Library as it lists the zones (its indexing state asked): one still
    indexing made the whole listing fail. Now the person's own library is listed, with a warning,
    and the listing is not complete (its photos are not taken for gone)."""
    from photosync.testing.connector import listed

    case = ICloudCase(tmp_path)
    try:
        own, _joined_zone, _ids, first = _joined(case)
        made = case.fake.add_shared_library(owner=True)
        case.fake.zone_indexing[made] = "RUNNING"
        refs, listing = listed(case.connector(), cursor=first.final_cursor(), full_scan=True)
        assert set(refs) == {own} and not listing.complete
        assert "no Shared Library is read this time" in case.reported.problems[0].reason
    finally:
        case.close()


def test_a_failed_read_keeps_a_new_shared_library_known(tmp_path):
    """The run that first reads a Shared Library, with one of its photos failing to download: the
    zone is known all the same (a later listing without it must not be complete), and it is read
    whole again next time."""
    from photosync.errors import PhotosyncError
    from photosync.testing.connector import listed, photo_bytes

    case = ICloudCase(tmp_path)
    try:
        case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG")
        _, first = listed(case.connector())
        zone = case.fake.add_shared_library(owner=False)
        years_ago = datetime.now(timezone.utc) - timedelta(days=900)
        a = case.fake.add_asset(photo_bytes(2), filename="IMG_0002.JPG", library=zone, added=years_ago)
        b = case.fake.add_asset(photo_bytes(3), filename="IMG_0003.JPG", library=zone, added=years_ago)
        conn = case.connector()
        refs, listing = listed(conn, cursor=first.final_cursor())
        conn.describe(refs[f"{zone}:{a}"])
        case.fake.fail_next(10**6, 503, endpoint="download")
        with pytest.raises(PhotosyncError):
            conn.describe(refs[f"{zone}:{b}"])
        case.fake.fail_next(0, 503, endpoint="download")
        cursor = listing.final_cursor()
        # read whole again (the failed photo is years older than the cursor)
        refs, _ = listed(case.connector(), cursor=cursor)
        assert f"{zone}:{b}" in refs
        case.fake.shared_zone_listing_fails = True
        _, listing = listed(case.connector(), cursor=cursor, full_scan=True)
        assert not listing.complete
    finally:
        case.close()


def test_nothing_is_ever_deleted_from_a_shared_library(tmp_path):
    """Deleted from a Shared Library, a photo is gone for everyone in it: prune's delete refuses."""
    from photosync.errors import SourceError
    from photosync.testing.connector import listed, photo_bytes

    case = ICloudCase(tmp_path)
    try:
        made = case.fake.add_shared_library(owner=True)
        a = case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG", library=made)
        refs, _ = listed(case.connector())
        with pytest.raises(SourceError, match="Shared Library"):
            case.connector().delete(f"{made}:{a}", {f"{made}:{a}": ("x", refs[f"{made}:{a}"].content_key)})
        assert not case.fake.deletions and not case.fake.hard_deletes
    finally:
        case.close()


def test_a_shared_librarys_expired_links_are_asked_for_in_its_own_zone(tmp_path, monkeypatch):
    from photosync.connectors.icloud import connector as icloud
    from photosync.testing.connector import listed, photo_bytes, sha256_of

    case = ICloudCase(tmp_path)
    try:
        joined = case.fake.add_shared_library(owner=False)
        a = case.fake.add_asset(photo_bytes(1), filename="IMG_0001.JPG", library=joined)
        conn = case.connector()
        refs, _ = listed(conn)
        case.fake.advance(2 * 3600)
        monkeypatch.setattr(icloud, "LINK_LIFETIME", 0)
        assert conn.describe(refs[f"{joined}:{a}"]).content_hash == sha256_of(photo_bytes(1))
    finally:
        case.close()
