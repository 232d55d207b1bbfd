"""The lookup keys of a photo record: what the derived index keeps so that resolve finds a
photo's look-alikes (variant candidates) without comparing every pair.

For each distinct picture a record holds (one per content hash, its canonical copy first)
whose signature says enough to be matched (``Look.informative``): the four 16-bit quarters
of its 64-bit dHash (a quarter that is all zeros or all ones, which flat areas share, is
None) and its trusted capture time to the second.

This sits below both the library (library/index.py fills the ``looks`` table with it) and
conflicts/ (variants.py judges the candidates), so the library imports nothing from
conflicts/.  ``conflicts.variants.lookup_keys`` must give the same keys
(tests/unit/test_lookup_keys.py checks that) until variants.py imports this one.
"""

from __future__ import annotations

from ..model import Photo
from .visual import Look, quarters

#: capture-time sources that are evidence (a file time or a name is a guess)
TRUSTED_TIME = frozenset({"exif", "exif_digitized", "quicktime", "service", "manual"})


def lookup_keys(photo: Photo) -> list[tuple[tuple[int | None, ...], str | None]]:
    """((q0, q1, q2, q3), capture time or None) of each informative picture of ``photo``."""
    out = []
    seen: set[str] = set()
    insts = sorted((i for i in photo.all_instances() if i.missing_since is None),
                   key=lambda i: (i.content_hash != photo.content_hash, i.key != photo.canonical_source))
    for inst in insts:
        if inst.content_hash in seen:
            continue
        look = Look.parse(inst.look)
        if look is None:
            continue  # another copy with these bytes may have a signature
        seen.add(inst.content_hash)
        if not look.informative:
            continue
        md = inst.metadata
        taken = md.taken_date if md.taken_date and md.taken_date_source in TRUSTED_TIME else None
        qs = tuple(None if q in (0, 0xFFFF) else q for q in quarters(look.dhash64()))
        out.append((qs, taken[:19] if taken else None))
    return out
