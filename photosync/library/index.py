"""The derived index: fast answers that git could give, only slower.

Lives in ``.git/photosync/index.sqlite`` (never committed).  Two kinds of
tables:

* **derived from git** (photos, hashes, items, copies, discrepancies, invalid):
  rebuilt from the commit recorded in ``meta.commit``.  When HEAD moved (a
  commit by hand, a pull, a reset) only the files that changed between the two
  commits are read again; when the recorded commit is gone or the index is
  missing, everything is rebuilt.  Never trusted over git.
* **caches** (scan_cache, service_runs, validated): losing them costs time, not
  correctness: the local connector re-reads files it cannot prove unchanged.
"""

from __future__ import annotations

import sqlite3
from array import array
from pathlib import Path
from typing import Collection, Iterable, Iterator, NamedTuple, Sequence

from ..media.visual import SIGNATURE_BYTES
from ..model import Photo

INDEX_VERSION = "15"  # 10: copies.whole; 11: looks keeps the whole dHash and every picture; questions;
# 12: photos.format, items.size/format/filename (replicate plans from the index, reading no record);
# 13: renditions (issue 16: derived copies, a row per copy in a store);
# 14: looks.grad (a picture's gradients), no copies_photo (its primary key starts with photo_id); a layout-13
# index is upgraded in place: _upgrade_in_place;
# 15: looks.look may end with visual.APPROXIMATE (a signature from a camera's embedded thumbnail, which
# an older photosync would misread): nothing else changes, so a layout-14 index is upgraded in place too
CACHE_VERSION = "1"
#: older layouts an index is upgraded from in place (Index._upgrade_in_place), not rebuilt
_UPGRADED_IN_PLACE = ("13", "14")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS photos(
    photo_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    taken_date TEXT,
    filename TEXT,
    open_conflicts INTEGER NOT NULL,
    conflicts INTEGER NOT NULL,
    good_copies INTEGER NOT NULL,
    blob TEXT,
    format TEXT
);
CREATE INDEX IF NOT EXISTS photos_state ON photos(state);
CREATE TABLE IF NOT EXISTS hashes(content_hash TEXT NOT NULL, photo_id TEXT NOT NULL,
    PRIMARY KEY(content_hash, photo_id));
CREATE INDEX IF NOT EXISTS hashes_photo ON hashes(photo_id);
CREATE TABLE IF NOT EXISTS items(
    service TEXT NOT NULL, item_id TEXT NOT NULL, photo_id TEXT NOT NULL,
    content_hash TEXT NOT NULL, missing INTEGER NOT NULL,
    size INTEGER, format TEXT, filename TEXT,
    PRIMARY KEY(service, item_id, photo_id));
CREATE INDEX IF NOT EXISTS items_photo ON items(photo_id);
CREATE INDEX IF NOT EXISTS items_service ON items(service, photo_id, missing);
CREATE TABLE IF NOT EXISTS copies(photo_id TEXT NOT NULL, store TEXT NOT NULL, good INTEGER NOT NULL,
    size INTEGER NOT NULL, locator TEXT NOT NULL, whole INTEGER NOT NULL, PRIMARY KEY(photo_id, store));
CREATE TABLE IF NOT EXISTS discrepancies(photo_id TEXT NOT NULL, service TEXT NOT NULL,
    current TEXT NOT NULL, canonical TEXT NOT NULL, wider INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS copies_store ON copies(store, good, size);
CREATE INDEX IF NOT EXISTS copies_whole ON copies(store, whole);
CREATE INDEX IF NOT EXISTS photos_copies ON photos(good_copies);
CREATE INDEX IF NOT EXISTS discrepancies_photo ON discrepancies(photo_id);
CREATE TABLE IF NOT EXISTS old_copies(photo_id TEXT NOT NULL, store TEXT NOT NULL, locator TEXT NOT NULL,
    content_hash TEXT NOT NULL, size INTEGER NOT NULL, good INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS old_copies_photo ON old_copies(photo_id);
CREATE TABLE IF NOT EXISTS looks(photo_id TEXT NOT NULL, q0 INTEGER, q1 INTEGER, q2 INTEGER, q3 INTEGER,
    taken TEXT, dhash INTEGER NOT NULL, informative INTEGER NOT NULL, camera TEXT, content_hash TEXT NOT NULL,
    look BLOB NOT NULL, grad BLOB);
CREATE INDEX IF NOT EXISTS looks_photo ON looks(photo_id);
CREATE INDEX IF NOT EXISTS looks_q0 ON looks(q0, dhash, camera);
CREATE INDEX IF NOT EXISTS looks_q1 ON looks(q1, dhash, camera);
CREATE INDEX IF NOT EXISTS looks_q2 ON looks(q2, dhash, camera);
CREATE INDEX IF NOT EXISTS looks_q3 ON looks(q3, dhash, camera);
CREATE INDEX IF NOT EXISTS looks_taken ON looks(taken);
CREATE TABLE IF NOT EXISTS renditions(photo_id TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    recipe TEXT NOT NULL, current INTEGER NOT NULL, content_hash TEXT NOT NULL, size INTEGER NOT NULL,
    format TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, tier TEXT,
    store TEXT NOT NULL, locator TEXT NOT NULL, good INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS renditions_photo ON renditions(photo_id);
CREATE INDEX IF NOT EXISTS renditions_store ON renditions(store, good);
CREATE TABLE IF NOT EXISTS questions(photo_id TEXT NOT NULL, key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS questions_photo ON questions(photo_id);
CREATE TABLE IF NOT EXISTS invalid(path TEXT PRIMARY KEY, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scan_cache(service TEXT NOT NULL, item_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL, content_hash TEXT, error TEXT, content_key TEXT, reader TEXT,
    PRIMARY KEY(service, item_id));
CREATE INDEX IF NOT EXISTS scan_cache_errors ON scan_cache(service) WHERE error IS NOT NULL;
CREATE TABLE IF NOT EXISTS service_runs(service TEXT PRIMARY KEY, last_run TEXT, summary TEXT);
CREATE TABLE IF NOT EXISTS validated(path TEXT PRIMARY KEY, stamp TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_progress(store TEXT NOT NULL, photo_id TEXT NOT NULL,
    PRIMARY KEY(store, photo_id));
CREATE TABLE IF NOT EXISTS widenings(photo_id TEXT PRIMARY KEY, path TEXT NOT NULL, old TEXT NOT NULL,
    new TEXT NOT NULL, commit_oid TEXT NOT NULL, subject TEXT NOT NULL);
"""

_DERIVED = ("photos", "hashes", "items", "copies", "discrepancies", "looks", "old_copies", "questions", "invalid",
            "renditions")
_PER_PHOTO = ("photos", "hashes", "items", "copies", "discrepancies", "looks", "old_copies", "questions",
              "renditions")
_CACHES = ("scan_cache", "service_runs", "validated", "audit_progress")

#: pages the write-ahead log grows to before a commit copies them into the database (SQLite's
#: default is 1,000, 4 MB).  A new photo changes rows at random places of several B-trees, so the
#: same pages are changed again by the next commits: copied back every 4 MB, they were written many
#: times over, and the checkpoints were 13 s of a first import of 100,000 photos; every 40 MB, 7.7 s
#: (bench/README.md, ninth session).  The log file is then ~40 MB (more after one larger transaction,
#: such as a rebuild, or while another connection reads an old snapshot), removed when the last
#: connection closes.
WAL_CHECKPOINT_PAGES = 10_000


class ScanRow(NamedTuple):
    """What discover's scan cache knows of one item (Index.scan_state)."""

    item_id: str
    fingerprint: str
    #: 1 when a present record of the item has the cached content hash (0 or None otherwise)
    recorded: int | None
    #: why the item could not be read, or None
    error: str | None
    #: 1 when the cache knows no hash for it (not a photo, or unreadable)
    no_hash: int
    content_key: str | None
    content_hash: str | None
    #: the reader version of a verdict without a hash
    reader: str | None


class CopyNeeds(NamedTuple):
    """A photo as replicate's plan sees it in the index (Index.copy_needs)."""

    photo_id: str
    content_hash: str
    state: str
    filename: str | None
    #: every content hash the photo holds (its own and its instances')
    hashes: list[str]
    #: (content hash, size, item id, service, missing) of each instance
    items: list[tuple]
    #: (store, good) of each copy of the canonical content
    copies: list[tuple[str, bool]]
    #: (store, content hash, good) of each copy of another content (superseded_blobs)
    old_copies: list[tuple[str, str, bool]]


def _kept(p: Photo) -> tuple[int, set[str]]:
    """(Photo.verified_copies(), Photo.whole_in()) in one pass."""
    contents = p.contents()
    stored = p.stored_contents()
    verified = min(sum(1 for have in stored.values() if h in have) for h in contents)
    return verified, {name for name, have in stored.items() if have.issuperset(contents)}


#: rows by a camera that is not known to differ from ?7 that share a quarter (at its position) and
#: are within ?6 bits of dHash ?5, or share the capture second ?8 (quarters and capture second are
#: NULL for an uninformative picture, so it never matches)
_SAME_CAMERA = "AND (camera IS NULL OR ?7 IS NULL OR camera=?7)"
_LOOK_ALIKES = " UNION ".join(
    [f"SELECT rowid FROM looks WHERE q{pos}=?{pos + 1} AND hamming(dhash, ?5) <= ?6 {_SAME_CAMERA}" for pos in range(4)]
    + [f"SELECT rowid FROM looks WHERE taken=?8 {_SAME_CAMERA}"])


#: the pictures that share one quarter at one position, at most ?2 of them: (rowid, dHash, camera)
_QUARTER = [f"SELECT rowid, dhash, camera FROM looks WHERE q{pos}=?1 LIMIT ?2" for pos in range(4)]

#: a quarter shared by at least this many pictures is kept in memory by ``look_alikes_capped`` once
#: read: reading a row of ``looks`` into Python costs ~0.9 us (SQLite releases the GIL meanwhile, so
#: ``py-spy --gil`` does not show it), and a first import of 23,901 small photos read ~390 rows a
#: search at its end, from keys it met photo after photo (bench/README.md, "Busy quarters in
#: memory").  Smaller keys are read each time (one short query), so the copy stays small.
_KEEP_FROM = 24

_MASK = 0xFFFFFFFFFFFFFFFF


def _signed(h: int) -> int:
    """A 64-bit hash as SQLite's signed 64-bit integer."""
    return h - (1 << 64) if h >= 1 << 63 else h


def _hamming(a: int | None, b: int | None) -> int:
    return 64 if a is None or b is None else ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


class Index:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        # bits that differ between two dHashes: candidates are narrowed in SQLite, not in Python
        self.db.create_function("hamming", 2, _hamming, deterministic=True)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        #: busy quarters as ``looks`` holds them (see _KEEP_FROM): (position << 16 | quarter) ->
        #: (rowids, dHashes, cameras or None when no row names one), or None when more than
        #: ``_shared_cap`` pictures share it; kept exact by every write to ``looks`` below, and
        #: emptied when another connection committed (``PRAGMA data_version``)
        self._shared: dict[int, tuple[array, array, list | None] | None] = {}
        self._shared_cap = 0
        self._shared_version = -1  # PRAGMA data_version when it was last known exact
        self._cameras: dict[str, str] = {}  # one string a camera, however many rows name it
        self._approximate: bool | None = None  # has_approximate, once asked
        versions: dict = {}
        try:
            versions = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('version', 'cache_version')"))
        except sqlite3.OperationalError:
            pass
        if versions.get("version") in _UPGRADED_IN_PLACE and versions.get("cache_version") == CACHE_VERSION:
            self._upgrade_in_place()
        elif versions.get("version") != INDEX_VERSION or versions.get("cache_version") != CACHE_VERSION:
            self._reset(keep_caches=versions.get("cache_version") == CACHE_VERSION)
        else:  # cache tables added since the caches' layout version was set
            self.db.executescript(_SCHEMA)
        # columns added to a kept cache since its layout version was set (whichever branch kept it)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(scan_cache)")}
        if "content_key" not in columns:  # added for network services; keeps the cache
            self.db.execute("ALTER TABLE scan_cache ADD COLUMN content_key TEXT")
        if "reader" not in columns:  # added so verdicts of an older reader are looked at again
            self.db.execute("ALTER TABLE scan_cache ADD COLUMN reader TEXT")

    def _reset(self, keep_caches: bool) -> None:
        """A new layout of the derived tables is rebuilt from git; the caches
        survive unless their own layout changed (losing them means reading every
        file again)."""
        self._shared = {}
        tables = [*_DERIVED, "meta"] + ([] if keep_caches else list(_CACHES))
        for table in tables:
            self.db.execute(f"DROP TABLE IF EXISTS {table}")
        self.db.executescript(_SCHEMA)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES('version', ?)", (INDEX_VERSION,))
        self.db.execute("INSERT OR REPLACE INTO meta VALUES('cache_version', ?)", (CACHE_VERSION,))

    def _upgrade_in_place(self) -> None:
        """Layout 15 only marks approximate signatures (nothing to change in a layout-14 index's
        rows: each of them is a decoded picture's).  Layout 14 adds ``looks.grad`` and drops ``copies_photo``: a layout-13 index is changed in
        place instead of being rebuilt from git (minutes at 100,000 photos).  Its rows have no
        gradients (NULL): a search computes those as before, and a photo's rows get them when its
        pictures are next indexed (a change of its pictures, or a rebuild).  ``copies_photo``
        repeated the first column of the table's primary key, which answers the same lookups: one
        B-tree fewer to update at random places for each photo (a batch of 500 new rows into
        ``copies`` at 100,000 photos: 27 ms with it, 7-24 ms without).
        The version moves to INDEX_VERSION, so an older photosync (whose inserts name 11 columns,
        or which would misread an approximate signature) rebuilds the index instead of failing on it."""
        self.db.execute("BEGIN IMMEDIATE")  # one transaction: a kill leaves layout 13 or 14, whole
        try:
            # another process may have upgraded it meanwhile (status beside a discover)
            version = self.get_meta("version")
            if version == "13":
                if "grad" not in {r[1] for r in self.db.execute("PRAGMA table_info(looks)")}:
                    self.db.execute("ALTER TABLE looks ADD COLUMN grad BLOB")
                self.db.execute("DROP INDEX IF EXISTS copies_photo")
            if version in _UPGRADED_IN_PLACE:
                self.set_meta("version", INDEX_VERSION)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- transactions ------------------------------------------------------------------
    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        self._shared.clear()  # it may hold rows of what is rolled back
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # -- canonical visibility widened by a commit photosync did not make (kept until narrowed back:
    #    not derived, so neither a rebuild nor a new index layout forgets one) --------------------
    def add_widening(self, photo_id: str, path: str, old: str, new: str, commit_oid: str, subject: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO widenings VALUES(?,?,?,?,?,?)",
                        (photo_id, path, old, new, commit_oid, subject))

    def widenings(self) -> list[tuple[str, str, str, str, str, str]]:
        """(photo_id, path, old level, new level, commit, its subject), oldest level kept per photo."""
        return self.db.execute("SELECT * FROM widenings ORDER BY path").fetchall()

    def widening(self, photo_id: str) -> tuple | None:
        return self.db.execute("SELECT * FROM widenings WHERE photo_id=?", (photo_id,)).fetchone()

    def drop_widening(self, photo_id: str) -> None:
        self.db.execute("DELETE FROM widenings WHERE photo_id=?", (photo_id,))

    # -- meta --------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (key, value))

    @property
    def commit_oid(self) -> str | None:
        return self.get_meta("commit")

    def clear_derived(self) -> None:
        self._shared.clear()
        for table in _DERIVED:
            self.db.execute(f"DELETE FROM {table}")
        self.set_meta("commit", None)

    # -- photos ------------------------------------------------------------------------
    def put_photo(self, photo: Photo, path: str, blob: str | None = None) -> None:
        self.put_photos([(photo, path, blob)])

    def put_photos(self, entries: Sequence[tuple[Photo, str, str | None]], same_looks: Collection[str] = ()) -> None:
        """Index photos (replacing what was indexed for them).  ``blob`` is the
        git id of the file's bytes, known to be valid (reads of those exact
        bytes skip the schema check).  ``same_looks``: photos whose pictures
        (instances, content, canonical source) did not change since they were
        indexed: their rows of ``looks`` are kept, not derived again (half of
        this method's time when replicate records copies)."""
        if not entries:
            return
        ids = [(p.photo_id,) for p, _, _ in entries]
        self._forget_shared([i for i in ids if i[0] not in same_looks])
        for table in _PER_PHOTO:
            if table == "looks" and same_looks:
                self.db.executemany("DELETE FROM looks WHERE photo_id=?",
                                    [i for i in ids if i[0] not in same_looks])
                continue
            self.db.executemany(f"DELETE FROM {table} WHERE photo_id=?", ids)
        kept = {p.photo_id: _kept(p) for p, _, _ in entries}
        self.db.executemany(
            "INSERT INTO photos VALUES(?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    p.photo_id, path, p.content_hash, p.processing_state, p.metadata.taken_date,
                    p.metadata.filename, len(p.open_conflicts), len(p.conflicts), kept[p.photo_id][0], blob,
                    p.metadata.format,
                )
                for p, path, blob in entries
            ],
        )
        # both below the library and conflicts/ alike: resolve searches with the same keys, and
        # status counts the questions resolve lists
        from ..media.lookup import lookup_keys
        from ..questions import questions

        signed = _signed

        hashes, items, copies, disc = [], [], [], []
        looks: list[tuple] = []  # rows of each table, for executemany
        old: list[tuple] = []
        rends: list[tuple] = []
        asks: list[tuple[str, str]] = []
        for p, _path, _blob in entries:
            pid = p.photo_id
            asks.extend((pid, key) for key, _c in questions(p))
            if pid not in same_looks:
                looks.extend((pid, *k.quarters, k.taken, signed(k.dhash), int(k.informative), k.camera,
                              k.content_hash, k.look, k.grad or None) for k in lookup_keys(p, every_picture=True))
            old.extend((pid, b.store, b.locator, b.content_hash, b.size, int(b.problem is None))
                       for b in p.superseded_blobs)
            for r in p.renditions.values():
                rends.extend((pid, r.name, r.kind, r.recipe, int(r.source_hash == p.content_hash), r.content_hash,
                              r.size, r.format, r.width, r.height, r.tier, c.store, c.locator, int(c.good))
                             for c in r.copies.values())
            for h in {p.content_hash} | {i.content_hash for i in p.all_instances()}:
                hashes.append((h, pid))
            for i in p.all_instances():
                items.append((i.service, i.id, pid, i.content_hash, int(i.missing_since is not None),
                              i.size, i.metadata.format, i.metadata.filename))
            whole = kept[pid][1]  # the store holds every content of the photo, not only the original
            for c in p.blobs.values():
                copies.append((pid, c.store, int(c.good), c.size, c.locator, int(c.store in whole)))
            for d in p.visibility.discrepancies:
                disc.append((pid, d.service, d.current, d.canonical, int(d.wider)))
        self.db.executemany("INSERT OR IGNORE INTO hashes VALUES(?,?)", hashes)
        self.db.executemany("INSERT OR REPLACE INTO items VALUES(?,?,?,?,?,?,?,?)", items)
        self.db.executemany("INSERT INTO copies VALUES(?,?,?,?,?,?)", copies)
        self.db.executemany("INSERT INTO discrepancies VALUES(?,?,?,?,?)", disc)
        last = self.db.execute("SELECT max(rowid) FROM looks").fetchone()[0] if self._shared else None
        self.db.executemany("INSERT INTO looks VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", looks)
        if any(len(row[10]) > SIGNATURE_BYTES for row in looks):
            self._approximate = True
        if self._shared:
            self._learn_shared(last or 0, len(looks))
        self.db.executemany("INSERT INTO old_copies VALUES(?,?,?,?,?,?)", old)
        self.db.executemany("INSERT INTO questions VALUES(?,?)", asks)
        self.db.executemany("INSERT INTO renditions VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rends)
        self.db.executemany("DELETE FROM invalid WHERE path=?", [(path,) for _, path, _ in entries])

    def known_blob(self, photo_id: str) -> str | None:
        row = self.db.execute("SELECT blob FROM photos WHERE photo_id=?", (photo_id,)).fetchone()
        return row[0] if row else None

    def remove_photo(self, photo_id: str) -> None:
        self._forget_shared([(photo_id,)])
        for table in _PER_PHOTO:
            self.db.execute(f"DELETE FROM {table} WHERE photo_id=?", (photo_id,))

    def mark_invalid(self, path: str, reason: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO invalid VALUES(?,?)", (path, reason))

    def clear_invalid(self, path: str) -> None:
        self.db.execute("DELETE FROM invalid WHERE path=?", (path,))

    def has_invalid(self) -> bool:
        return self.db.execute("SELECT 1 FROM invalid LIMIT 1").fetchone() is not None

    def invalid_files(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT path, reason FROM invalid ORDER BY path").fetchall()

    def photo_paths(self) -> list[tuple[str, str, str | None]]:
        """(photo_id, path, git blob id known valid) of every photo, in id order (the gallery
        reads every record: one query instead of one a photo)."""
        return self.db.execute("SELECT photo_id, path, blob FROM photos ORDER BY photo_id").fetchall()

    def path_and_blob(self, photo_id: str) -> tuple[str, str | None] | None:
        """(path, git blob id known valid) of a photo's record, in one query (a record read
        asked twice: 0.1-0.3 ms each from replicate's main thread, while its copies run)."""
        row = self.db.execute("SELECT path, blob FROM photos WHERE photo_id=?", (photo_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def photo_path(self, photo_id: str) -> str | None:
        row = self.db.execute("SELECT path FROM photos WHERE photo_id=?", (photo_id,)).fetchone()
        return row[0] if row else None

    def filename(self, photo_id: str) -> str | None:
        """The photo's file name as indexed (its label), or None."""
        row = self.db.execute("SELECT filename FROM photos WHERE photo_id=?", (photo_id,)).fetchone()
        return row[0] if row else None

    def photos_named(self, name: str, limit: int = 3) -> list[str]:
        """Up to ``limit`` photos whose id starts with ``name``, else whose file name is ``name``."""
        hits = [r[0] for r in self.db.execute(
            "SELECT photo_id FROM photos WHERE photo_id >= ? AND photo_id < ? LIMIT ?",
            (name, name + "\uffff", limit))] if len(name) >= 6 else []
        return hits or [r[0] for r in self.db.execute(
            "SELECT photo_id FROM photos WHERE filename = ? LIMIT ?", (name, limit))]

    def photos_by_hash(self, content_hash: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT photo_id FROM hashes WHERE content_hash=?", (content_hash,))]

    def look_alikes(self, photo_id: str, key, quarters, taken: str | None, max_bits: int,
                    approx_bits: int = 0) -> list[tuple]:
        """(photo id, content hash, dHash, capture second, signature bytes, gradient bytes or None) of every
        informative picture of another photo that shares one of ``quarters`` (at
        its position) and is within ``max_bits`` of ``key``'s dHash by a camera
        that is not known to differ, or was taken in the capture second
        ``taken``: variant candidates, found without reading any record; a picture
        whose signature is approximate (a camera's embedded thumbnail's) may be
        ``approx_bits`` further.  Each quarter's search runs on its covering index
        (quarter, dHash, camera): at 100,000 photos, 0.09 ms a search instead of
        1.5 ms through the table's rows."""
        if all(q is None for q in quarters) and taken is None:
            return []
        found = [r[0] for r in self.db.execute(_LOOK_ALIKES, (*quarters, _signed(key.dhash), max_bits + approx_bits,
                                                               key.camera, taken))]
        return self._look_rows(found, photo_id, key, max_bits, taken)

    def _look_rows(self, rowids, photo_id: str, key, max_bits: int, taken: str | None) -> list[tuple]:
        """(photo id, content hash, dHash, capture second, signature bytes, gradient bytes or None)
        of these rows of ``looks``, the photo's own left out, and those beyond ``max_bits`` of
        ``key``'s dHash (read with room for approximate signatures) unless their signature is
        approximate or they were taken in the second ``taken``."""
        if not rowids:
            return []
        rows = self.db.execute(
            f"SELECT photo_id, content_hash, dhash, taken, look, grad FROM looks WHERE rowid IN "
            f"({','.join('?' * len(rowids))}) AND photo_id<>?", (*rowids, photo_id)).fetchall()
        mine = key.dhash
        return [(pid, h, d & _MASK, t, look, grad) for pid, h, d, t, look, grad in rows
                if ((d ^ mine) & _MASK).bit_count() <= max_bits or len(look) > SIGNATURE_BYTES
                or (taken is not None and t == taken)]

    def look_alikes_capped(self, photo_id: str, key, quarters, taken: str | None, max_bits: int,
                           cap: int, approx_bits: int = 0) -> tuple[list[tuple], set[tuple[int, int]], bool]:
        """:meth:`look_alikes`, with a key shared by more than ``cap`` pictures left out and said:
        (rows, the crowded (position, quarter) pairs, whether ``taken`` is crowded).  At most
        ``cap`` + 1 index entries a key are read, and the Hamming test runs on what was read
        (for discover's first import, whose index grows as it goes: which keys are crowded is
        learnt as they are met, at the same cost in a library of any size).  Busy quarters are
        read once and then kept in memory, in step with every write (see _KEEP_FROM)."""
        if all(q is None for q in quarters) and taken is None:
            return [], set(), False
        # another connection's commit (a read-only command bringing the index up to date with a
        # commit of this run, before this run's own index transaction) may have moved rows
        changed = self.db.execute("PRAGMA data_version").fetchone()[0]
        if cap != self._shared_cap or changed != self._shared_version:
            self._shared.clear()
            self._shared_cap, self._shared_version = cap, changed
        mine, cam = _signed(key.dhash), key.camera
        limit = max_bits + approx_bits
        found: dict[int, None] = {}
        crowded: set[tuple[int, int]] = set()
        for pos, q in enumerate(quarters):
            if q is None:
                continue
            entry = self._sharing(pos, q, cap)
            if entry is None:
                crowded.add((pos, q))
                continue
            rowids, hashes, cameras = entry
            for j in [j for j, d in enumerate(hashes) if ((d ^ mine) & _MASK).bit_count() <= limit]:
                if cameras is None or cam is None or cameras[j] is None or cameras[j] == cam:
                    found[rowids[j]] = None
        busy = False
        if taken is not None:
            rows = self.db.execute("SELECT rowid, camera FROM looks WHERE taken=? LIMIT ?", (taken, cap + 1)).fetchall()
            busy = len(rows) > cap
            if not busy:
                for rowid, camera in rows:
                    if camera is None or cam is None or camera == cam:
                        found[rowid] = None
        return self._look_rows(list(found), photo_id, key, max_bits, taken), crowded, busy

    def _sharing(self, pos: int, q: int, cap: int) -> tuple[array, array, list | None] | None:
        """The pictures sharing quarter ``q`` at ``pos`` (None: more than ``cap`` do)."""
        k = pos << 16 | q
        if k in self._shared:
            return self._shared[k]
        rows = self.db.execute(_QUARTER[pos], (q, cap + 1)).fetchall()
        entry: tuple[array, array, list | None] | None = None
        if len(rows) <= cap:
            names = self._cameras
            cameras = [None if c is None else names.setdefault(c, c) for _r, _d, c in rows]
            entry = (array("q", [r for r, _d, _c in rows]), array("q", [d for _r, d, _c in rows]),
                     cameras if any(c is not None for c in cameras) else None)
        if entry is None or len(rows) >= _KEEP_FROM:
            self._shared[k] = entry
        return entry

    def _forget_shared(self, ids: list[tuple[str]]) -> None:
        """The rows of these photos are about to leave ``looks``: their quarters are read again."""
        if not self._shared or not ids:
            return
        for (pid,) in ids:
            for row in self.db.execute("SELECT q0, q1, q2, q3 FROM looks WHERE photo_id=?", (pid,)):
                for pos, q in enumerate(row):
                    if q is not None:
                        self._shared.pop(pos << 16 | q, None)

    def _learn_shared(self, last: int, inserted: int) -> None:
        """Rows just added to ``looks`` (rowids above ``last``) join the busy quarters they share."""
        rows = self.db.execute("SELECT rowid, q0, q1, q2, q3, dhash, camera FROM looks WHERE rowid > ?",
                               (last,)).fetchall()
        if len(rows) != inserted:  # rowids not given in order (the largest was taken): read again
            self._shared.clear()
            return
        shared, cap, names = self._shared, self._shared_cap, self._cameras
        for rowid, *qs, dhash, camera in rows:
            for pos, q in enumerate(qs):
                if q is None:
                    continue
                k = pos << 16 | q
                entry = shared.get(k)
                if entry is None:
                    continue  # not kept (read each time), or crowded already
                rowids, hashes, cameras = entry
                if len(rowids) >= cap:
                    shared[k] = None  # now shared by more than cap
                    continue
                if camera is not None and cameras is None:
                    cameras = [None] * len(rowids)
                    shared[k] = entry = (rowids, hashes, cameras)
                rowids.append(rowid)
                hashes.append(dhash)
                if cameras is not None:
                    cameras.append(None if camera is None else names.setdefault(camera, camera))

    def has_approximate(self) -> bool:
        """Whether some picture's signature is approximate (an embedded thumbnail's): searches then
        probe more keys (conflicts/family.py).  Asked once a connection, then kept up to date by
        its own writes."""
        if self._approximate is None:
            self._approximate = self.db.execute(
                f"SELECT 1 FROM looks WHERE length(look) > {SIGNATURE_BYTES} LIMIT 1").fetchone() is not None
        return self._approximate

    def own_looks(self, photo_id: str) -> list[tuple[str, int, bool, bool]]:
        """(content hash, dHash, informative, approximate) of a photo's pictures as indexed."""
        return [(h, d & 0xFFFFFFFFFFFFFFFF, bool(i), bool(a)) for h, d, i, a in self.db.execute(
            f"SELECT content_hash, dhash, informative, length(look) > {SIGNATURE_BYTES} FROM looks WHERE photo_id=?",
            (photo_id,))]

    def crowded_looks(self, cap: int) -> tuple[set[tuple[int, int]], set[str]]:
        """Lookup keys shared by more than ``cap`` pictures: ((position, quarter)
        pairs, capture times).  Near-flat or generated pictures can share one by
        the thousand; expanding such a key for each of them would make resolve
        quadratic."""
        quarters: set[tuple[int, int]] = set()
        for pos in range(4):
            rows = self.db.execute(
                f"SELECT q{pos} FROM looks WHERE q{pos} IS NOT NULL GROUP BY q{pos} HAVING count(*) > ?", (cap,))
            quarters.update((pos, r[0]) for r in rows)
        times = {r[0] for r in self.db.execute(
            "SELECT taken FROM looks WHERE taken IS NOT NULL GROUP BY taken HAVING count(*) > ?", (cap,))}
        return quarters, times

    def item(self, service: str, item_id: str) -> tuple[str, str, bool] | None:
        """(photo_id, content_hash, missing) of an item; the present one first."""
        row = self.db.execute(
            "SELECT photo_id, content_hash, missing FROM items WHERE service=? AND item_id=? "
            "ORDER BY missing LIMIT 1",
            (service, item_id),
        ).fetchone()
        return (row[0], row[1], bool(row[2])) if row else None

    def has_items(self, service: str) -> bool:
        """Whether any item of the service is recorded (present or missing)."""
        return self.db.execute("SELECT 1 FROM items WHERE service=? LIMIT 1", (service,)).fetchone() is not None

    def count_present_items(self, service: str) -> int:
        return self.db.execute(
            "SELECT count(*) FROM items WHERE service=? AND missing=0", (service,)
        ).fetchone()[0]

    def present_items(self, service: str) -> list[tuple[str, str, str]]:
        """(item_id, photo_id, content_hash) of every item of a service that is not marked missing."""
        return self.db.execute(
            "SELECT item_id, photo_id, content_hash FROM items WHERE service=? AND missing=0", (service,)
        ).fetchall()

    def scan_state(self, service: str) -> dict[str, "ScanRow"]:
        """item_id -> its ScanRow: one lookup per listed item, and small (100,000 of them)."""
        return {
            r[0]: ScanRow._make(r)
            for r in self.db.execute(
                "SELECT s.item_id, s.fingerprint, s.content_hash = i.content_hash, s.error, s.content_hash IS NULL, "
                "s.content_key, s.content_hash, s.reader "
                "FROM scan_cache s "
                "LEFT JOIN items i ON i.service=s.service AND i.item_id=s.item_id AND i.missing=0 "
                "WHERE s.service=?",
                (service,),
            )
        }

    def photo_ids(self, states: Iterable[str] | None = None) -> list[str]:
        if states is None:
            q = "SELECT photo_id FROM photos ORDER BY taken_date, photo_id"
            return [r[0] for r in self.db.execute(q)]
        states = list(states)
        marks = ",".join("?" * len(states))
        q = f"SELECT photo_id FROM photos WHERE state IN ({marks}) ORDER BY taken_date, photo_id"
        return [r[0] for r in self.db.execute(q, states)]

    def photos_with_conflicts(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT photo_id FROM photos WHERE conflicts > 0 ORDER BY taken_date")]

    def count_photos(self) -> int:
        return self.db.execute("SELECT count(*) FROM photos").fetchone()[0]

    def state_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, count(*) FROM photos GROUP BY state").fetchall())

    def service_counts(self) -> dict[str, tuple[int, int, int]]:
        """service -> (photos, items, missing items)."""
        rows = self.db.execute(
            "SELECT service, count(DISTINCT photo_id), count(*), sum(missing) FROM items GROUP BY service"
        ).fetchall()
        return {r[0]: (r[1], r[2], r[3] or 0) for r in rows}

    def store_counts(self) -> dict[str, tuple[int, int, int]]:
        """store -> (good copies, bad copies, bytes in good copies), counting the
        copies of photos' other contents (superseded_blobs) too."""
        out: dict[str, tuple[int, int, int]] = {}
        for table in ("copies", "old_copies"):  # two GROUP BYs: a UNION of the tables costs 3x at 100,000
            for r in self.db.execute(f"SELECT store, sum(good), sum(1-good), sum(CASE WHEN good THEN size ELSE 0 END) "
                                     f"FROM {table} GROUP BY store"):
                have = out.get(r[0], (0, 0, 0))
                out[r[0]] = (have[0] + (r[1] or 0), have[1] + (r[2] or 0), have[2] + (r[3] or 0))
        return out

    def photos_below(self, n: int) -> list[tuple[str, int]]:
        return self.db.execute(
            "SELECT photo_id, good_copies FROM photos WHERE good_copies < ? ORDER BY taken_date, photo_id", (n,)
        ).fetchall()

    def count_below(self, n: int) -> int:
        return self.db.execute("SELECT count(*) FROM photos WHERE good_copies < ?", (n,)).fetchone()[0]

    def conflict_counts(self) -> tuple[int, int]:
        """(questions for a person, conflicts recorded): a pair's question, held by
        both records, counts once (photosync/questions.py, as resolve lists them)."""
        asked = self.db.execute("SELECT count(DISTINCT key) FROM questions").fetchone()[0]
        row = self.db.execute("SELECT sum(conflicts) FROM photos").fetchone()
        return (asked or 0, row[0] or 0)

    def count_discrepancies(self) -> int:
        return self.db.execute("SELECT count(*) FROM discrepancies").fetchone()[0]

    def discrepancy_rows(self) -> list[tuple[str, str, str, str, int]]:
        return self.db.execute(
            "SELECT photo_id, service, current, canonical, wider FROM discrepancies "
            "ORDER BY wider DESC, photo_id, service"
        ).fetchall()

    def _all_whole(self, stores: list[str]) -> bool:
        """Every photo has every content in each of ``stores`` (one row per photo
        and store, so counting the index's whole rows says it): the no-change
        answer without a look at each photo (5 ms at 100,000 instead of 500)."""
        total = self.count_photos()
        return all(self.db.execute("SELECT count(*) FROM copies WHERE store=? AND whole=1", (s,)).fetchone()[0] >= total
                   for s in stores)

    def photos_needing_copies(self, stores: list[str]) -> list[str]:
        """Photos in any state that lack a good copy of one of their contents in
        one of ``stores``, and resolved ones (which may only need their state
        moved on): what replicate reads."""
        args: tuple[object, ...]
        if self._all_whole(stores):
            q, args = "SELECT photo_id FROM photos WHERE state='resolved' ORDER BY taken_date, photo_id", ()
        else:
            marks = ",".join("?" * len(stores))
            q = (
                "SELECT photo_id FROM photos p WHERE state='resolved' OR "
                f"(SELECT count(*) FROM copies c WHERE c.photo_id=p.photo_id AND c.whole=1 AND c.store IN ({marks})) < ? "
                "ORDER BY taken_date, photo_id"
            )
            args = (*stores, len(stores))
        return [r[0] for r in self.db.execute(q, args)]

    def copy_needs(self, stores: list[str], chunk: int = 500) -> Iterator[CopyNeeds]:
        """What replicate's plan needs of each photo ``photos_needing_copies`` lists, from
        the index alone (no record is read or parsed: at 10,000 photos the plan parsed
        every record, and each copy parsed it again).  Read ``chunk`` photos at a time,
        so memory does not grow with the library."""
        ids = self.photos_needing_copies(stores)
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            marks = ",".join("?" * len(part))
            rows = {r[0]: r for r in self.db.execute(
                f"SELECT photo_id, content_hash, state, filename FROM photos "
                f"WHERE photo_id IN ({marks})", part)}
            per: dict[str, tuple[list, list, list, list]] = {pid: ([], [], [], []) for pid in part}
            for r in self.db.execute(f"SELECT photo_id, content_hash FROM hashes WHERE photo_id IN ({marks})", part):
                per[r[0]][0].append(r[1])
            for r in self.db.execute(
                    f"SELECT photo_id, content_hash, size, item_id, service, missing FROM items "
                    f"WHERE photo_id IN ({marks})", part):
                per[r[0]][1].append(r[1:])
            for r in self.db.execute(f"SELECT photo_id, store, good FROM copies WHERE photo_id IN ({marks})", part):
                per[r[0]][2].append((r[1], bool(r[2])))
            for r in self.db.execute(
                    f"SELECT photo_id, store, content_hash, good FROM old_copies WHERE photo_id IN ({marks})", part):
                per[r[0]][3].append((r[1], r[2], bool(r[3])))
            for pid in part:
                row = rows.get(pid)
                if row is None:
                    continue
                hashes, items, copies, old = per[pid]
                yield CopyNeeds(pid, row[1], row[2], row[3], hashes, items, copies, old)

    def count_lacking(self, stores: list[str]) -> int:
        """Photos that lack a good copy of one of their contents in one of ``stores``."""
        if self._all_whole(stores):
            return 0
        marks = ",".join("?" * len(stores))
        q = ("SELECT count(*) FROM photos p WHERE "
             f"(SELECT count(*) FROM copies c WHERE c.photo_id=p.photo_id AND c.whole=1 AND c.store IN ({marks})) < ?")
        return self.db.execute(q, (*stores, len(stores))).fetchone()[0]

    def photos_to_upload(self, target: str, sources: list[str]) -> list[str]:
        """Resolved or replicated photos with a present copy on one of ``sources``
        and none on ``target`` (recorded, present or not: a copy marked missing is
        not uploaded again by itself)."""
        marks = ",".join("?" * len(sources))
        q = (
            "SELECT p.photo_id FROM photos p WHERE p.state IN ('resolved', 'replicated') "
            f"AND EXISTS (SELECT 1 FROM items i WHERE i.photo_id=p.photo_id AND i.missing=0 AND i.service IN ({marks})) "
            "AND NOT EXISTS (SELECT 1 FROM items t WHERE t.photo_id=p.photo_id AND t.service=?) "
            "ORDER BY p.taken_date, p.photo_id"
        )
        return [r[0] for r in self.db.execute(q, (*sources, target))]

    def photos_back_on_sources(self, target: str, sources: list[str]) -> list[str]:
        """Resolved or replicated photos present on one of ``sources`` again whose copies on
        ``target`` are all marked missing (mirror mode had withdrawn them)."""
        marks = ",".join("?" * len(sources))
        q = ("SELECT p.photo_id FROM photos p WHERE p.state IN ('resolved', 'replicated') "
             f"AND EXISTS (SELECT 1 FROM items i WHERE i.photo_id=p.photo_id AND i.missing=0 AND i.service IN ({marks})) "
             "AND EXISTS (SELECT 1 FROM items t WHERE t.photo_id=p.photo_id AND t.service=?) "
             "AND NOT EXISTS (SELECT 1 FROM items t WHERE t.photo_id=p.photo_id AND t.service=? AND t.missing=0) "
             "ORDER BY p.taken_date, p.photo_id")
        return [r[0] for r in self.db.execute(q, (*sources, target, target))]

    def photos_left_sources(self, target: str, sources: list[str]) -> list[tuple[str, str]]:
        """(photo_id, item id on ``target``) of photos present on ``target`` that were on one of
        ``sources`` and are present on none of them any more (mirror mode)."""
        marks = ",".join("?" * len(sources))
        q = ("SELECT t.photo_id, t.item_id FROM items t WHERE t.service=? AND t.missing=0 "
             f"AND EXISTS (SELECT 1 FROM items s WHERE s.photo_id=t.photo_id AND s.service IN ({marks})) "
             f"AND NOT EXISTS (SELECT 1 FROM items s WHERE s.photo_id=t.photo_id AND s.missing=0 "
             f"AND s.service IN ({marks})) ORDER BY t.photo_id, t.item_id")
        return [(r[0], r[1]) for r in self.db.execute(q, (target, *sources, *sources))]

    # -- renditions (issue 16: photosync/renditions.py) ---------------------------------------------
    def rendition_state(self, photo_ids: Sequence[str] | None = None
                        ) -> dict[str, dict[str, tuple[str, bool, frozenset[str]]]]:
        """photo_id -> rendition name -> (recipe, current: made from the photo's original as it
        is now, stores holding a good copy): what derive compares with what it wants; of the
        photos ``photo_ids`` (derive asks 500 at a time: the whole library's is ~2 kB a
        photo), or of every photo.  Equal texts and store sets are one object each."""
        out: dict[str, dict[str, tuple[str, bool, frozenset[str]]]] = {}
        shared: dict = {}
        sql = ("SELECT photo_id, name, recipe, current, group_concat(CASE WHEN good THEN store END, char(0)) "
               "FROM renditions {} GROUP BY photo_id, name")
        if photo_ids is None:
            rows = self.db.execute(sql.format(""))
        else:
            rows = self.db.execute(sql.format(f"WHERE photo_id IN ({','.join('?' * len(photo_ids))})"), photo_ids)
        for pid, name, recipe, current, stores in rows:
            recipe = shared.setdefault(recipe, recipe)
            held = shared.setdefault(("stores", stores), frozenset(stores.split("\0")) if stores else frozenset())
            out.setdefault(pid, {})[name] = (recipe, bool(current), held)
        return out

    def derive_sources(self) -> Iterator[tuple[str, str, str | None, str | None, str | None, int | None]]:
        """(photo_id, content_hash, taken_date, format, filename, size of the original) of every
        photo, by date, row by row: what derive plans from without reading a record."""
        return iter(self.db.execute(
            "SELECT p.photo_id, p.content_hash, p.taken_date, p.format, p.filename, "
            "(SELECT max(i.size) FROM items i WHERE i.photo_id = p.photo_id AND i.content_hash = p.content_hash) "
            "FROM photos p ORDER BY p.taken_date, p.photo_id"))

    def rendition_counts(self) -> dict[str, tuple[int, int, int]]:
        """rendition name -> (photos with a current rendition of it with a good copy, bytes of one copy of
        each, photos with one that is stale: an older recipe or original)."""
        out: dict[str, tuple[int, int, int]] = {}
        for name, have, size, stale in self.db.execute(
                "SELECT name, count(DISTINCT CASE WHEN current AND good THEN photo_id END), "
                "sum(CASE WHEN current AND good THEN size END), count(DISTINCT CASE WHEN NOT current THEN photo_id END) "
                "FROM (SELECT DISTINCT photo_id, name, current, size, good FROM renditions) GROUP BY name"):
            out[name] = (have or 0, size or 0, stale or 0)
        return out

    def tier_savings(self) -> dict[str, tuple[int, int, int]]:
        """tier -> (photos with a current tier copy, bytes of their originals, bytes of their tier copies)."""
        out: dict[str, tuple[int, int, int]] = {}
        for tier, n, orig, size in self.db.execute(
                "SELECT r.tier, count(*), sum(coalesce((SELECT max(i.size) FROM items i WHERE i.photo_id = r.photo_id "
                "AND i.content_hash = p.content_hash), 0)), sum(r.size) FROM "
                "(SELECT DISTINCT photo_id, tier, size FROM renditions WHERE kind='tier' AND current AND good) r "
                "JOIN photos p ON p.photo_id = r.photo_id GROUP BY r.tier"):
            out[tier or ""] = (n, orig or 0, size or 0)
        return out

    def _audit_union(self, stores: list[str], photo_ids: Sequence[str] | None, unaudited: bool) -> tuple[str, list]:
        """The SQL of every copy audit --blobs checks in ``stores``, (photo_id, store, locator,
        content_hash, size, good): originals, the copies a merge set aside, renditions; of the
        photos ``photo_ids`` only when given; only those not checked in this pass with ``unaudited``."""
        args: list = list(stores)

        def where(t: str) -> str:
            if photo_ids is None:
                return f"{t}store IN ({','.join('?' * len(stores))})"
            # "+store": not by the store's index (SQLite took renditions_store and read every rendition
            # of the store for each chunk of 300 photos: 1.3 TB read in an audit of 100,000)
            return f"+{t}store IN ({','.join('?' * len(stores))}) AND {t}photo_id IN ({','.join('?' * len(photo_ids))})"
        if photo_ids is not None:
            args += list(photo_ids)
        parts = [
            "SELECT c.photo_id AS photo_id, c.store AS store, c.locator, p.content_hash, c.size, c.good FROM copies c "
            f"JOIN photos p ON p.photo_id = c.photo_id WHERE {where('c.')}",
            f"SELECT photo_id, store, locator, content_hash, size, good FROM old_copies WHERE {where('')}",
            f"SELECT photo_id, store, locator, content_hash, size, good FROM renditions WHERE {where('')}",
        ]
        q = " UNION ALL ".join(parts)
        if unaudited:
            q = (f"SELECT * FROM ({q}) x WHERE NOT EXISTS (SELECT 1 FROM audit_progress a "
                 "WHERE a.store = x.store AND a.photo_id = x.photo_id)")
        return q, args * 3

    def audit_photo_ids(self, stores: list[str], unaudited: bool = False) -> list[str]:
        """The photos with a copy audit --blobs checks in ``stores`` (not checked in this pass yet,
        with ``unaudited``), by id."""
        if not stores:
            return []
        q, args = self._audit_union(stores, None, unaudited)
        return [r[0] for r in self.db.execute(f"SELECT DISTINCT photo_id FROM ({q}) ORDER BY 1", args)]

    def audit_rows(self, stores: list[str], photo_ids: Sequence[str], unaudited: bool = False) -> list[tuple]:
        """The copies audit --blobs checks of the photos ``photo_ids`` (at most 300 at a time) in
        ``stores``, by photo, store and locator."""
        if not stores or not photo_ids:
            return []
        q, args = self._audit_union(stores, photo_ids, unaudited)
        return self.db.execute(f"SELECT * FROM ({q}) ORDER BY 1, 2, 3", args).fetchall()

    def audit_size(self, stores: list[str], photo_ids: Sequence[str] | None = None,
                   unaudited: bool = False) -> tuple[int, int]:
        """(copies, bytes) audit --blobs would check in ``stores`` (of ``photo_ids`` when given; not
        checked in this pass yet, with ``unaudited``)."""
        if not stores or photo_ids is not None and not photo_ids:
            return 0, 0
        q, args = self._audit_union(stores, photo_ids, unaudited)
        n, size = self.db.execute(f"SELECT count(*), sum(size) FROM ({q})", args).fetchone()
        return n, size or 0

    def any_audited(self, stores: list[str]) -> bool:
        marks = ",".join("?" * len(stores))
        return self.db.execute(f"SELECT 1 FROM audit_progress WHERE store IN ({marks}) LIMIT 1",
                               list(stores)).fetchone() is not None

    def mark_audited(self, store: str, photo_ids: list[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO audit_progress VALUES(?,?)", [(store, p) for p in photo_ids])

    def reset_audit(self, store: str) -> None:
        self.db.execute("DELETE FROM audit_progress WHERE store=?", (store,))

    # -- caches --------------------------------------------------------------------------
    def put_scan(self, service: str, rows: Iterable[tuple]) -> None:
        """Rows of (item id, fingerprint, content hash, error, content key[, reader
        version: which reader gave a verdict without a hash])."""
        self.db.executemany(
            "INSERT OR REPLACE INTO scan_cache(service, item_id, fingerprint, content_hash, error, content_key, "
            "reader) VALUES(?,?,?,?,?,?,?)",
            [(service, *row[:5], row[5] if len(row) > 5 else None) for row in rows],
        )

    def scan_errors(self) -> list[tuple[str, str, str]]:
        """(service, item id, error) of every item the last reading could not read."""
        return self.db.execute(
            "SELECT service, item_id, error FROM scan_cache WHERE error IS NOT NULL ORDER BY service, item_id"
        ).fetchall()

    def drop_scan(self, service: str, item_ids: Iterable[str]) -> None:
        self.db.executemany(
            "DELETE FROM scan_cache WHERE service=? AND item_id=?", [(service, i) for i in item_ids]
        )

    def set_service_run(self, service: str, when: str, summary: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO service_runs VALUES(?,?,?)", (service, when, summary))

    def service_runs(self) -> dict[str, tuple[str, str]]:
        return {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT service, last_run, summary FROM service_runs")}

    def validated_stamp(self, path: str) -> str | None:
        row = self.db.execute("SELECT stamp FROM validated WHERE path=?", (path,)).fetchone()
        return row[0] if row else None

    def set_validated(self, path: str, stamp: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO validated VALUES(?,?)", (path, stamp))
