"""The three-way merge of one photo record (issue 17): what two machines did to one record since
their common version, joined field by field.  A pure function of parsed records; ``sync`` and the
git merge driver (``photosync merge-driver``) both call it, so ``git pull`` and ``photosync sync``
agree.

The rules (DESIGN.md, "The library across machines"):

* instances, blob copies, superseded blobs and resolutions are unions: what either side learnt is
  kept.  One instance (or one store's copy) changed on both sides keeps the later observation
  (``last_sync``, ``verified_at``); a copy that loses keeps its entry among ``superseded_blobs`` when
  it names another object, so no copy is ever dropped from the record;
* any other field changed on one side takes that side; changed differently on both sides it is a
  ``sync_conflict`` on the record (the common version's value stays until ``resolve`` asks): never a
  silent pick.  Tags, albums and people are sets: additions and removals of both sides are applied;
* canonical visibility: a widening counts only when that side made it with ``visibility set``
  (``explicit_*``) and the other side left the level alone; two different changes give the narrower
  (privacy.merged); a widening without its ``visibility set`` is not taken (fail closed);
* the processing state follows from the merged content: open conflicts, or a side's new copies not
  yet resolved, make it ``discovered``; ``replicated`` stays only while the merged record is whole
  in every store the replicated side had it whole in.

Every rule is symmetric in the two sides (ties are broken on the values' JSON), so
``merge(base, a, b)`` equals ``merge(base, b, a)``: two machines that merge in either order reach
the same record, and so the same git tree.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

from .. import privacy
from ..model import (
    AUDIENCE_GROUPS,
    STATES,
    BlobCopy,
    Conflict,
    Instance,
    Metadata,
    Photo,
    SupersededBlob,
    Visibility,
)

SYNC_CONFLICT = "sync_conflict"
#: metadata fields that change together (a date and where it came from)
_UNITS: dict[str, tuple[str, ...]] = {
    "taken_date": ("taken_date", "taken_date_source", "taken_date_granularity"),
    "location": ("location", "location_source"),
}
_SETS = ("tags", "albums", "people")

T = TypeVar("T")


def _key(value: Any) -> str:
    """A total order on values of any shape (the tie-break every symmetric rule uses)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.dumps(value, sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (tuple, frozenset, set)):
        return list(value)
    return dict(value) if hasattr(value, "items") else str(value)


def _three(base: T | None, a: T, b: T) -> tuple[T | None, bool]:
    """(value, conflicting): a one-sided change takes that side; equal changes agree."""
    if a == b:
        return a, False
    if a == base:
        return b, False
    if b == base:
        return a, False
    return base, True


def _later(a: T, b: T, when: Callable[[T], str]) -> T:
    """The later of two observations (a tie: the greater JSON, the same on every machine)."""
    return max((a, b), key=lambda x: (when(x) or "", _key(x)))


def _keyed_union(base: dict, a: dict, b: dict, when: Callable[[Any], str]) -> tuple[dict, list]:
    """Union of two keyed collections, each entry three-way; an entry changed on both sides keeps
    the later observation.  Returns (merged, the entries that lost)."""
    out: dict = {}
    lost: list = []
    for k in sorted({*a, *b}, key=str):
        x, y = a.get(k), b.get(k)
        if x is None or y is None:
            out[k] = x if y is None else y
            continue
        value, both = _three(base.get(k), x, y)
        if both or value is None:
            value = _later(x, y, when)
        out[k] = value
        lost += [v for v in (x, y) if v != value]
    return out, lost


def _set_merge(base: tuple, a: tuple, b: tuple) -> tuple:
    if a == b or b == base:
        return a
    if a == base:
        return b
    removed = (set(base) - set(a)) | (set(base) - set(b))
    return tuple(sorted((set(a) | set(b)) - removed))


@dataclass(frozen=True)
class Merged:
    photo: Photo
    #: the sync conflicts this merge recorded (each also in ``photo.conflicts``)
    conflicts: tuple[Conflict, ...] = ()


def _sync_conflict(field: str, x: Any, y: Any, what: str) -> Conflict:
    first, second = sorted((x, y), key=_key)
    return Conflict(
        id=f"{SYNC_CONFLICT}:{field}",
        type=SYNC_CONFLICT,
        description=f"{what} was changed differently on two machines",
        services=(),
        resolution_required=True,
        field=field,
        values={"first": first, "second": second},
    )


def _jsonable(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field == "location":
        return {"lat": value.lat, "lng": value.lng, **({"alt": value.alt} if value.alt is not None else {})}
    if field == "camera_info":
        return {"make": value.make, "model": value.model}
    if isinstance(value, tuple):
        return list(value)
    return value


def _audience(v: Visibility) -> str:
    if v.canonical == "friends":
        return v.friends_audience or privacy.DEFAULT_FRIENDS_AUDIENCE
    return v.canonical


def _wider(new: Visibility, old: Visibility) -> bool:
    return not AUDIENCE_GROUPS[_audience(new)] <= AUDIENCE_GROUPS[_audience(old)]


def _said(v: Visibility) -> str:
    """The record's level as a `visibility set`/`adopt` line says it ("friends (family)"): what an
    ``explicit_*`` must equal for that side's widening to be taken."""
    return f"{v.canonical} ({v.friends_audience})" if v.canonical == "friends" and v.friends_audience else v.canonical


def _within_set(v: Visibility, explicit: str | None, base: Visibility) -> tuple[str, str | None]:
    """A side's widening that is not exactly what its `visibility set` said (a "friends" audience
    changed by hand after it): what is within both the set and the record; nothing set: ``base``."""
    if explicit is None:
        return base.canonical, base.friends_audience
    level, _, fa = explicit.partition(" (")
    said = Visibility(canonical=level, friends_audience=fa.rstrip(")") or None)
    if level not in AUDIENCE_GROUPS or (said.friends_audience or "friends") not in AUDIENCE_GROUPS:
        return base.canonical, base.friends_audience
    both = privacy.meet(_audience(v), _audience(said))
    for x in (said, v):  # one of the two as it is written (a bare "friends" stays bare)
        if _audience(x) == both:
            return x.canonical, x.friends_audience
    return privacy.from_audience(both)


def _visibility(base: Visibility | None, a: Visibility, b: Visibility,
                explicit_a: str | None, explicit_b: str | None) -> tuple[str, str | None]:
    pa, pb = (a.canonical, a.friends_audience), (b.canonical, b.friends_audience)
    pbase = (base.canonical, base.friends_audience) if base is not None else None
    if pa == pb:
        if base is not None and _wider(a, base) and explicit_a != _said(a) and explicit_b != _said(b):
            return base.canonical, base.friends_audience  # the same widening on both, neither explicit
        return pa
    if base is not None and pa == pbase:
        # only b changed it: a narrowing stands; a widening only when b made it with `visibility set`
        return pb if not _wider(b, base) or explicit_b == _said(b) else _within_set(b, explicit_b, base)
    if base is not None and pb == pbase:
        return pa if not _wider(a, base) or explicit_a == _said(a) else _within_set(a, explicit_a, base)
    if base is None and (explicit_a == _said(a)) != (explicit_b == _said(b)):
        # recorded on both machines, set with `visibility set` on one only: the other side's level
        # is what discover gave it, so the person's explicit choice stands
        return pa if explicit_a == _said(a) else pb
    level, fa = privacy.merged(a, b)
    if base is not None and _wider(Visibility(canonical=level, friends_audience=fa), base):
        # two different widenings: never wider than an explicit `visibility set` of either side
        allowed = [v for v, e in ((a, explicit_a), (b, explicit_b)) if e == _said(v)]
        if not allowed:
            return pbase  # type: ignore[return-value]
    return level, fa


def _instances(base: Photo | None, a: Photo, b: Photo) -> dict[str, tuple[Instance, ...]]:
    def flat(p: Photo | None) -> dict[str, Instance]:
        return {i.key: i for i in p.all_instances()} if p is not None else {}

    merged, _lost = _keyed_union(flat(base), flat(a), flat(b), lambda i: i.last_sync)
    out: dict[str, list[Instance]] = {}
    for inst in merged.values():
        out.setdefault(inst.service, []).append(inst)
    return {svc: tuple(sorted(v, key=lambda i: i.id)) for svc, v in sorted(out.items())}


def _copies(base: Photo | None, a: Photo, b: Photo, content: str) -> tuple[dict[str, BlobCopy], tuple[SupersededBlob, ...]]:
    """blobs (copies of the merged canonical content) and superseded_blobs (every other copy)."""
    def sup(p: Photo | None) -> dict[tuple, SupersededBlob]:
        return {(s.store, s.locator, s.content_hash): s for s in p.superseded_blobs} if p is not None else {}

    def canon(p: Photo | None) -> dict[str, tuple[str, BlobCopy]]:
        return {name: (p.content_hash, c) for name, c in p.blobs.items()} if p is not None else {}

    # a copy both sides dropped from ``blobs`` (the original changed) is still a copy: kept on record
    blobs, lost = _keyed_union(canon(base), {**canon(base), **canon(a)}, {**canon(base), **canon(b)},
                               lambda hc: hc[1].verified_at)
    extra: list[SupersededBlob] = []
    kept: dict[str, BlobCopy] = {}
    for name, (h, c) in blobs.items():
        if h == content:
            kept[name] = c
        else:
            extra.append(SupersededBlob(c.store, c.locator, c.size, c.verified_at, h, c.problem))
    for h, c in lost:  # a copy that names another object than the winner's stays on record
        if (h, c.locator) != (blobs[c.store][0], blobs[c.store][1].locator):
            extra.append(SupersededBlob(c.store, c.locator, c.size, c.verified_at, h, c.problem))
    old, _ = _keyed_union(sup(base), sup(a), sup(b), lambda s: s.verified_at)
    for s in extra:
        k = (s.store, s.locator, s.content_hash)
        if k not in old:
            old[k] = s
    for (store, locator, h), s in sorted(old.items(), key=lambda kv: _key(kv[0])):
        if h == content and store not in kept and s.problem is None:  # the original again: its copy
            kept[store] = BlobCopy(store, locator, s.size, s.verified_at)
    # a superseded copy of the canonical content that a store's blobs entry now names is the same copy
    out = tuple(s for k, s in sorted(old.items(), key=lambda kv: _key(kv[0]))
                if not (s.content_hash == content and s.store in kept and kept[s.store].locator == s.locator))
    return kept, out


def _conflicts(base: Photo | None, a: Photo, b: Photo, resolved: set[str]) -> list[Conflict]:
    def by_id(p: Photo | None) -> dict[str, Conflict]:
        return {c.id: c for c in p.conflicts} if p is not None else {}

    cb, ca, cc = by_id(base), by_id(a), by_id(b)
    out = []
    for cid in sorted({*ca, *cc}):
        x, y = ca.get(cid), cc.get(cid)
        value, both = _three(cb.get(cid), x, y)
        if both:
            # settled on one side, changed on the other: settled when that side recorded an answer
            if (x is None or y is None) and cid in resolved:
                value = None
            else:
                value = max((v for v in (x, y) if v is not None), key=_key)
        if value is not None:
            out.append(value)
    return out


def _state(base: Photo | None, a: Photo, b: Photo, merged: Photo) -> str:
    rank = {s: i for i, s in enumerate(STATES)}
    state, both = _three(base.processing_state if base else None, a.processing_state, b.processing_state)
    if both or state is None:
        state = min(a.processing_state, b.processing_state, key=rank.__getitem__)
    if merged.open_conflicts:
        return "discovered"
    before = {i.key: i for i in base.all_instances()} if base is not None else {}
    for side in (a, b):
        if side.processing_state == "discovered" and any(before.get(i.key) != i for i in side.all_instances()):
            return "discovered"  # copies that side found and nobody has resolved yet
    if state == "replicated":
        whole = merged.whole_in()
        for side in (a, b):
            if side.processing_state == "replicated" and not side.whole_in() <= whole:
                return "resolved"
    return state


def merge_records(base: Photo | None, a: Photo, b: Photo, *,
                  explicit_a: str | None = None, explicit_b: str | None = None) -> Merged:
    """The merge of two versions ``a`` and ``b`` of one photo record whose common version is
    ``base`` (None: both sides recorded the photo independently).  ``explicit_a``/``explicit_b``:
    the canonical level that side set with ``visibility set`` (or ``adopt``) since ``base``, as its
    commit line says it ("friends (family)" when a finer audience was set; None when it did not; a
    widening there carries its reason): only such a widening, to exactly that audience, is taken."""
    if a.photo_id != b.photo_id:
        raise ValueError(f"records of two photos ({a.photo_id}, {b.photo_id}) are not merged here")
    if a == b and (base is None or not _wider(a.visibility, base.visibility)):
        return Merged(a)
    raised: list[Conflict] = []
    # the canonical content: (content_hash, canonical_source) change together
    canon_a, canon_b = (a.content_hash, a.canonical_source), (b.content_hash, b.canonical_source)
    canon_base = (base.content_hash, base.canonical_source) if base else None
    canon, both = _three(canon_base, canon_a, canon_b)
    if both or canon is None:
        if canon_a[0] == canon_b[0] and base is None:
            canon = min(canon_a, canon_b)  # one content found on both machines: either copy serves
        else:
            raised.append(_sync_conflict("canonical_source", canon_a[1], canon_b[1], "the original copy"))
            canon = canon_base if canon_base is not None else min(canon_a, canon_b)
    content, source = canon
    # metadata, field by field
    bm = base.metadata if base else None
    fields: dict[str, Any] = {}
    done: set[str] = set()
    for f in dataclasses.fields(Metadata):
        name = f.name
        if name in done:
            continue
        unit = next((u for u in _UNITS.values() if name in u), (name,))
        done.update(unit)
        va = tuple(getattr(a.metadata, n) for n in unit)
        vb = tuple(getattr(b.metadata, n) for n in unit)
        vbase = tuple(getattr(bm, n) for n in unit) if bm is not None else None
        if name in _SETS:
            fields[name] = _set_merge(vbase[0] if vbase else (), va[0], vb[0])
            continue
        value, both = _three(vbase, va, vb)
        if both or value is None:
            if base is None:
                # recorded on both machines: what each read from its own copy; the copy that is the
                # original wins, and resolve compares the instances (the record stays discovered)
                if a.canonical_source == b.canonical_source:
                    value = max(va, vb, key=_key)  # one copy read twice: either, the same on both machines
                else:
                    value = va if source == a.canonical_source else vb
            else:
                raised.append(_sync_conflict(name, _jsonable(name, va[0]), _jsonable(name, vb[0]),
                                             f"the photo's {name.replace('_', ' ')}"))
                value = vbase
        fields.update(zip(unit, value))  # type: ignore[arg-type]
    metadata = Metadata(**fields)
    # visibility
    level, fa = _visibility(base.visibility if base else None, a.visibility, b.visibility, explicit_a, explicit_b)
    per_service, _ = _keyed_union(dict(base.visibility.per_service) if base else {},
                                  dict(a.visibility.per_service), dict(b.visibility.per_service), lambda v: v)
    disc, _ = _keyed_union({d.service: d for d in base.visibility.discrepancies} if base else {},
                           {d.service: d for d in a.visibility.discrepancies},
                           {d.service: d for d in b.visibility.discrepancies}, lambda d: "")
    visibility = Visibility(canonical=level, per_service=per_service,
                            discrepancies=tuple(disc[k] for k in sorted(disc)),
                            friends_audience=fa if level == "friends" else None)
    blobs, superseded = _copies(base, a, b, content)
    resolutions = tuple(sorted({_key(r): r for r in (*a.resolutions, *b.resolutions)}.values(),
                               key=lambda r: (r.at, _key(r))))
    sot, both = _three(base.source_of_truth_path if base else None, a.source_of_truth_path, b.source_of_truth_path)
    if both or (base is None and a.source_of_truth_path != b.source_of_truth_path):
        sot = max((p for p in (a.source_of_truth_path, b.source_of_truth_path) if p), default=None)
    answered = {r.conflict_id for r in resolutions}
    conflicts = _conflicts(base, a, b, answered)
    ids = {c.id for c in raised}
    conflicts = [c for c in conflicts if c.id not in ids] + raised
    conflicts.sort(key=lambda c: (c.type == SYNC_CONFLICT, c.id))
    merged = Photo(
        photo_id=a.photo_id,
        content_hash=content,
        canonical_source=source,
        metadata=metadata,
        created_at=min(a.created_at, b.created_at),
        updated_at=max(a.updated_at, b.updated_at),
        source_of_truth_path=sot,
        instances=_instances(base, a, b),
        visibility=visibility,
        blobs=blobs,
        processing_state="discovered",
        conflicts=tuple(conflicts),
        resolutions=resolutions,
        superseded_blobs=superseded,
        schema_version=max(a.schema_version, b.schema_version),
    )
    state = _state(base, a, b, merged)
    if base is None and any(getattr(a.metadata, n) != getattr(b.metadata, n) for n in ("taken_date", "caption", "location")):
        state = "discovered"  # two independent readings disagree: resolve compares them
    return Merged(merged.replace(processing_state=state), tuple(raised))


def fold_into(survivor: Photo, gone: Photo) -> Photo:
    """What ``gone`` (a record merged into ``survivor`` on one machine, edited on another) holds
    that ``survivor`` lacks, added to it: the edit lands on the survivor.  Instances and resolutions
    join; ``gone``'s copies of its own content go to ``superseded_blobs`` (or ``blobs`` when it is
    the survivor's content); the narrower visibility wins; nothing of either is dropped."""
    instances = {i.key: i for i in survivor.all_instances()}
    for inst in gone.all_instances():
        if inst.key not in instances:
            instances[inst.key] = inst if inst.content_hash == survivor.content_hash else \
                dataclasses.replace(inst, quality="high" if inst.quality == "original" else inst.quality)
    grouped: dict[str, list[Instance]] = {}
    for inst in instances.values():
        grouped.setdefault(inst.service, []).append(inst)
    blobs = dict(survivor.blobs)
    superseded = {(s.store, s.locator, s.content_hash): s for s in survivor.superseded_blobs}
    for name, c in gone.blobs.items():
        if gone.content_hash == survivor.content_hash and name not in blobs:
            blobs[name] = c
        else:
            superseded.setdefault((c.store, c.locator, gone.content_hash),
                                  SupersededBlob(c.store, c.locator, c.size, c.verified_at, gone.content_hash, c.problem))
    for s in gone.superseded_blobs:
        superseded.setdefault((s.store, s.locator, s.content_hash), s)
    resolutions = {_key(r): r for r in (*survivor.resolutions, *gone.resolutions)}
    level, fa = privacy.merged(survivor.visibility, gone.visibility)
    md = survivor.metadata
    fill = {f.name: getattr(gone.metadata, f.name) for f in dataclasses.fields(Metadata)
            if md.is_missing(f.name) and not gone.metadata.is_missing(f.name)}
    merged = survivor.replace(
        instances={svc: tuple(sorted(v, key=lambda i: i.id)) for svc, v in sorted(grouped.items())},
        blobs=dict(sorted(blobs.items())),
        superseded_blobs=tuple(superseded[k] for k in sorted(superseded, key=_key)),
        resolutions=tuple(sorted(resolutions.values(), key=lambda r: (r.at, _key(r)))),
        visibility=dataclasses.replace(survivor.visibility, canonical=level,
                                       friends_audience=fa if level == "friends" else None),
        metadata=dataclasses.replace(md, **fill),
        updated_at=max(survivor.updated_at, gone.updated_at),
    )
    if merged.instances != survivor.instances and merged.processing_state != "discovered":
        merged = merged.replace(processing_state="discovered")
    return merged


def merged_into(photo: Photo) -> set[str]:
    """The ids of records merged into this one (its merge resolutions)."""
    return {r.value["merged"] for r in photo.resolutions
            if r.choice == "merge" and isinstance(r.value, dict) and r.value.get("merged")}


def union_ids(records: Iterable[Photo]) -> dict[str, str]:
    """merged-away id -> the id of the record that holds it."""
    out: dict[str, str] = {}
    for p in records:
        for gone in merged_into(p):
            out[gone] = p.photo_id
    return out
