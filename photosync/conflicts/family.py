"""A photo's family: the records whose pictures look like its own, and the rules that
decide, among them, which pairs a policy may merge and which pairs become questions.

Pure of storage: a :class:`Family` is given two functions, one that reads a record
(``get``) and one that asks the derived index for look-alike pictures
(``candidates``: the index's ``look_alikes``), so the rules are the same for a run
that stages its changes and for a dry run that keeps them in memory.  The resolve
phase owns one per run and tells it what the run changed (``merged``, ``forget_candidates``).
"""

from __future__ import annotations

from typing import Callable, Iterable

from ..model import Photo
from . import variants

#: a lookup key (a dHash quarter at its position, or a capture second) shared by more pictures
#: than this is not used to find candidates: near-flat or generated pictures can share one by
#: the thousand, and comparing each with all the others made resolve quadratic (1.44 s a photo
#: at 100,000 photos of bench/generate.py --small).  Such a photo is still compared with the
#: pictures its other keys find, but a policy never merges it (what it was not compared with
#: could be a third photo that makes the merge doubtful): at worst it is asked about or left
#: apart, and resolve says how many there were.
CROWDED = 400

#: the candidates cache is dropped past this many entries (a long run's batches)
_CACHE_LIMIT = 20_000


class Family:
    """Look-alike candidates of a record and the family rules over them (see module doc).

    ``candidates(photo_id, key, quarters, taken, max_bits, approx_bits)`` returns rows (other photo id,
    content hash, dHash, capture second, signature bytes, gradient bytes or None) as
    ``Index.look_alikes`` does;
    ``crowded`` is ``Index.crowded_looks``'s answer: lookup keys too many pictures share.
    With ``capped`` (``Index.look_alikes_capped`` at CROWDED) instead of ``candidates``, which keys
    are crowded is also learnt as the search meets them, for a run whose index grows as it goes
    (discover's first import); otherwise the keys crowded when the run began are all there are.
    ``approximate`` says whether the index holds approximate signatures (``Index.has_approximate``):
    then every search also probes the quarters its picture most likely has when signed another way."""

    def __init__(self, get: Callable[[str], Photo | None], candidates: Callable[..., Iterable[tuple]],
                 crowded: tuple[set[tuple[int, int]], set[str]],
                 capped: Callable[..., tuple[list[tuple], set[tuple[int, int]], bool]] | None = None,
                 approximate: Callable[[], bool] = lambda: False):
        self.get = get
        #: whether the index holds approximate signatures (an embedded thumbnail's)
        self._approximate = approximate
        self._query = candidates
        self.crowded_quarters, self.crowded_times = crowded
        self._capped = capped
        #: photos with a crowded key (never merged by a policy)
        self.limited: set[str] = set()
        #: candidates per (photo, keys), as the index gave them (the index changes only at a commit)
        self._found: dict[tuple, list[str]] = {}
        #: record merged away in this run -> the record it went into (the index learns at the commit)
        self.survivor: dict[str, str] = {}

    # -- what the run tells it ----------------------------------------------------------------
    def merged(self, gone: str, into: str) -> None:
        """``gone`` was merged into ``into``: it stands for ``into`` from now on."""
        self.survivor[gone] = into

    def forget_candidates(self) -> None:
        """The index changed (a commit): candidates are asked for again."""
        self._found.clear()

    # -- candidates ----------------------------------------------------------------------------
    def look_alikes(self, photo: Photo) -> list[str]:
        """Variant candidates of a record's pictures from the index: pictures that share a
        quarter of a dHash or a capture second, are within MAX_HAMMING bits (or the same
        second), and could match one of the record's pictures (variants.could_match, on the
        index's copy of the signature), found without reading any record; a record merged
        away in this run stands for the record it went into."""
        pid = photo.photo_id
        keys = variants.lookup_keys(photo)
        ck = (pid, tuple(keys))
        found = self._found.get(ck)
        if found is None:
            found = self._search(pid, keys, {f.content_hash: f for f in variants.faces(photo)})
            if len(self._found) > _CACHE_LIMIT:
                self._found.clear()
            self._found[ck] = found
        out: dict[str, None] = {}
        for oid in found:
            while oid in self.survivor:
                oid = self.survivor[oid]
            if oid != pid:
                out[oid] = None
        return list(out)

    def _search(self, pid: str, keys, faces: dict) -> list[str]:
        from ..media.visual import SIGNATURE_BYTES, Look

        out: dict[str, None] = {}
        for key in keys:
            face = faces.get(key.content_hash)
            look = face.look if face is not None else None
            # an approximate signature (a camera's embedded thumbnail) is searched with a wider net, and
            # so is any picture once some signature may be: the keys with its dHash bits that sit at
            # the threshold flipped (Look.near_quarters), and room for a candidate's approximate dHash
            # (Index.look_alikes)
            bits = variants.max_bits(look)
            approximate_rows = self._approximate()
            extra = variants.APPROX_BITS if bits == variants.MAX_HAMMING and approximate_rows else 0
            probes = [key.quarters]
            if look is not None and (look.approximate or approximate_rows):
                near = tuple(None if q is None or n is None or n in (0, 0xFFFF) else n
                             for q, n in zip(key.quarters, look.near_quarters()))
                if any(n is not None for n in near):
                    probes.append(near)
            for j, wanted in enumerate(probes):
                rows = self._rows(pid, key, wanted, key.taken if j == 0 else None, bits, extra, first=j == 0)
                for oid, content_hash, dhash, when, sig, grad in rows:
                    if oid in out:
                        continue
                    approximate = len(sig) > SIGNATURE_BYTES
                    if j and not (approximate or (look is not None and look.approximate)):
                        continue  # probes are for approximate signatures: two pictures' own keys are enough
                    # judged on the index's copy of the signature and its gradients (computing those
                    # for each candidate was 6.6 % of a first import of 100,000 small photos, as most
                    # candidates are met once or twice: bench/README.md): most candidates end here, unread
                    if face is not None and not variants.could_match(face, Look.indexed(sig, grad), when):
                        continue
                    variants.remember(content_hash, dhash, True, approximate)
                    out[oid] = None
        return list(out)

    def _rows(self, pid: str, key, wanted: tuple, taken: str | None, bits: int, extra: int,
              first: bool) -> Iterable[tuple]:
        """The index's rows for one set of quarters (crowded keys left out; ``first``: the
        picture's own keys, whose crowding limits what it was compared with)."""
        qs = tuple(None if q is None or (i, q) in self.crowded_quarters else q for i, q in enumerate(wanted))
        when = None if taken in self.crowded_times else taken
        rows: Iterable[tuple]
        if self._capped is not None:
            rows, crowded, busy = self._capped(pid, key, qs, when, bits, extra)
            self.crowded_quarters |= crowded
            if busy and when is not None:
                self.crowded_times.add(when)
                when = None
            qs = tuple(None if (i, q) in crowded else q for i, q in enumerate(qs))
        else:
            rows = self._query(pid, key, qs, when, bits, extra)
        if first and (qs != key.quarters or when != key.taken):
            self.limited.add(pid)
        return rows

    def is_limited(self, photo: Photo) -> bool:
        """Some picture of the photo has a key too many share: its candidates were not all seen."""
        if photo.photo_id in self.limited:
            return True
        for key in variants.lookup_keys(photo):
            if key.taken in self.crowded_times or any((i, q) in self.crowded_quarters
                                                      for i, q in enumerate(key.quarters) if q is not None):
                self.limited.add(photo.photo_id)
                return True
        return False

    # -- the family rules ------------------------------------------------------------------------
    def star(self, photo: Photo, found: list) -> list:
        """Edits of one photo are linked to the family's best picture, not to each other: a crop
        and a rotation of one original make two questions (each against the original), not three.
        ``found``: (other record, verdict) pairs; those left to become questions."""
        return [(o, v) for o, v in found if v.kind != "edit" or not self.covered(photo, o)]

    def covered(self, p: Photo, a: Photo) -> bool:
        """The pair is linked through a third record that is a variant of each (and that a
        person has not set apart from either) and either outranks both, or is a better copy of
        one of them (so an edit is linked to the best of several unmerged copies of its
        original, not to each).  Symmetric in ``p`` and ``a``, so both records agree."""
        pool: dict[str, None] = {}
        for x in (p, a):
            for rid in self.look_alikes(x):
                if rid not in (p.photo_id, a.photo_id):
                    pool[rid] = None
        for rid in pool:
            r = self.get(rid)
            if r is None:
                continue
            over_p, over_a = variants.outranks(r, p), variants.outranks(r, a)
            if not (over_p or over_a):
                continue
            if variants.decision(r, p) not in (None, "linked") or variants.decision(r, a) not in (None, "linked"):
                continue
            vp, va = variants.judge(r, p), variants.judge(r, a)
            if vp is None or va is None:
                continue
            if (over_p and over_a) or (over_p and vp.kind == "quality") or (over_a and va.kind == "quality"):
                return True
        return False

    def ambiguous(self, a: Photo, b: Photo) -> bool:
        """A third record looks like one of the two but not the other (a copy without a capture
        time that looks like two burst frames), or not every picture like them was compared (a
        crowded key): a merge could join different photos, so a person is asked instead."""
        if self.is_limited(a) or self.is_limited(b):
            return True
        seen = {a.photo_id, b.photo_id}
        for p in (a, b):
            for qid in self.look_alikes(p):
                if qid in seen:
                    continue
                seen.add(qid)
                q = self.get(qid)
                if q is not None and variants.looks_same(a, q) != variants.looks_same(b, q):
                    return True
        return False

    def mergeable(self, photo: Photo, other: Photo, verdict: variants.Verdict) -> bool:
        """May a policy merge the pair? Only a certain quality verdict nobody else makes doubtful."""
        return verdict.kind == "quality" and verdict.certain and not self.ambiguous(photo, other)


def narrowings(a: Photo, b: Photo, merged: Photo, gone: str) -> list[tuple[Photo, str]]:
    """Which of the two records a merge shows more narrowly than before: (record, how it is
    named: ``""``, or where the record merged away went)."""
    out = []
    for x in (a, b):
        if merged.visibility.canonical != x.visibility.canonical:
            out.append((x, "" if x.photo_id != gone else f", now part of {merged.photo_id[:8]}"))
    return out
