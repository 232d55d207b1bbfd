"""Decisions a person makes are asked of a Resolver (beets' ``choose_match``
habit): the resolve phase offers options and applies the answer; where the
answer comes from (a terminal prompt, a script, a test) is not its business."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

from ..library.layout import utc_now
from ..model import Conflict, Location, Photo, Resolution
from .detect import jsonable


@dataclass(frozen=True)
class Option:
    key: str  # "use:<service:item>", "combine", "custom", "skip"
    label: str
    value: Any = None


@dataclass(frozen=True)
class Decision:
    key: str  # the chosen option's key
    value: Any = None  # for "custom": the value typed


class StopResolving(Exception):
    """Raised by a resolver when the person quits: decisions made so far are kept."""


class Resolver(Protocol):
    def decide(self, photo: Photo, conflict: Conflict, options: list[Option]) -> Decision | None:
        """The chosen option, or None to leave the conflict open (skip); raise
        StopResolving to end the session."""


def variant_options(photo: Photo, conflict: Conflict, other: Photo) -> list[Option]:
    """The choices for two records that look like one picture; the merge that
    keeps the better picture as the original comes first."""
    from .variants import canonical_face, merge_order, shared_items

    top, low = merge_order(photo, other)

    def merge(keep: Photo, then: Photo) -> Option:
        a, b = canonical_face(keep), canonical_face(then)
        same_size = a is not None and b is not None and a.pixels == b.pixels
        rest = "kept as another copy" if same_size else "kept as a lower-quality copy"
        if a is not None and b is not None and b.pixels > a.pixels:
            rest = "kept as another copy (it has more pixels)"
        return Option(f"merge:{keep.photo_id}", f"Merge: one photo, {keep.label} ({keep.photo_id[:8]}) as the "
                                                f"original, {then.label} ({then.photo_id[:8]}) {rest}")

    # one item cannot be two instances of one photo: records sharing one are never merged
    merges = [] if shared_items(photo, other) else [merge(top, low), merge(low, top)]
    if conflict.type == "quality_variant":
        return [*merges, Option("separate", "Keep them as two separate photos"), Option("skip", "Skip (resolve later)")]
    opts = [Option("linked", "Keep both, linked as edits of one photo"),
            Option("unrelated", "They are different photos (no link)")]
    return [*opts, *merges, Option("skip", "Skip (resolve later)")]


def options_for(photo: Photo, conflict: Conflict, other: Photo | None = None) -> list[Option]:
    """The choices for a conflict: for a metadata conflict each copy's value, a
    combination where one makes sense, a custom value, or skip; for variants
    (``other`` the related photo) merge, keep apart or link."""
    opts: list[Option] = []
    if other is not None and conflict.type in ("quality_variant", "edit_variant"):
        return variant_options(photo, conflict, other)
    if conflict.type not in ("metadata_mismatch", "sync_conflict") or not conflict.values:
        return [Option("skip", "Skip (resolve later)")]
    field = conflict.field or ""
    seen = []
    for key, value in conflict.values.items():
        if value in seen:
            continue
        seen.append(value)
        # a sync conflict's values are what each machine set (library/merge.py): named by value
        label = f"Use {key}" if conflict.type == "metadata_mismatch" else f"Use what one machine set: {value}"
        opts.append(Option(f"use:{key}", label, value))
    if field == "canonical_source":  # which copy is the original: no combination, no custom value
        return [*opts, Option("skip", "Skip (resolve later)")]
    if field == "tags":
        union: list[str] = []
        for v in seen:
            union += [t for t in v if t not in union]
        opts.append(Option("combine", "Combine: " + ", ".join(union), union))
    elif field == "caption":
        opts.append(Option("combine", "Combine: " + " / ".join(seen), " / ".join(seen)))
    opts.append(Option("custom", f"Custom {field.replace('_', ' ')}"))
    opts.append(Option("skip", "Skip (resolve later)"))
    return opts


def _to_field_value(field: str, value: Any):
    if value is None:
        return None
    if field == "location":
        return Location(float(value["lat"]), float(value["lng"]), value.get("alt"))
    if field in ("tags", "albums", "people"):
        return tuple(value)
    if field == "camera_info":
        from ..model import CameraInfo

        return CameraInfo(value.get("make"), value.get("model"))
    return value


def apply_decision(photo: Photo, conflict: Conflict, decision: Decision, how: str = "manual") -> Photo:
    """Set the chosen value as canonical, record the decision, close the conflict."""
    options = {o.key: o for o in options_for(photo, conflict)}
    if decision.key == "skip":
        return photo
    if decision.key == "custom":
        value = decision.value
    elif decision.key in options:
        value = options[decision.key].value
    else:
        raise ValueError(f"unknown choice {decision.key!r} for {conflict.id}")
    field = conflict.field or ""
    if field == "canonical_source":
        return _apply_original(photo, conflict, decision, str(value), how)
    changes: dict[str, Any] = {field: _to_field_value(field, value)}
    if field == "taken_date":
        source = "manual"
        if decision.key.startswith("use:"):
            chosen = decision.key[4:]
            for inst in photo.all_instances():
                if inst.key == chosen:
                    source = inst.metadata.taken_date_source or "service"
        changes["taken_date_source"] = source
    md = dataclasses.replace(photo.metadata, **changes)
    res = Resolution(
        conflict_id=conflict.id,
        how=how,
        at=utc_now(),
        choice=decision.key,
        value=jsonable(field, changes[field]),
        values_seen=dict(conflict.values or {}),
    )
    return photo.replace(
        metadata=md,
        conflicts=tuple(c for c in photo.conflicts if c.id != conflict.id),
        resolutions=(*photo.resolutions, res),
    )


def _apply_original(photo: Photo, conflict: Conflict, decision: Decision, key: str, how: str) -> Photo:
    """A sync conflict on which copy is the original: that instance's bytes become the canonical
    content; the copies of the former canonical content move to superseded_blobs, and those of
    the chosen one (when a store holds them) to blobs, so no copy leaves the record."""
    from ..model import BlobCopy, SupersededBlob

    inst = next((i for i in photo.all_instances() if i.key == key), None)
    if inst is None:
        raise ValueError(f"no copy {key!r} in {photo.photo_id} for {conflict.id}")
    blobs = {}
    old = list(photo.superseded_blobs)
    if inst.content_hash != photo.content_hash:
        old += [SupersededBlob(c.store, c.locator, c.size, c.verified_at, photo.content_hash, c.problem)
                for c in photo.blobs.values()]
        for s in photo.superseded_blobs:
            if s.content_hash == inst.content_hash and s.store not in blobs:
                blobs[s.store] = BlobCopy(s.store, s.locator, s.size, s.verified_at, s.problem)
        old = [s for s in old if not (s.content_hash == inst.content_hash and s.store in blobs
                                      and blobs[s.store].locator == s.locator)]
    else:
        blobs = dict(photo.blobs)
    res = Resolution(conflict_id=conflict.id, how=how, at=utc_now(), choice=decision.key, value=key,
                     values_seen=dict(conflict.values or {}))
    return photo.replace(
        canonical_source=key, content_hash=inst.content_hash, blobs=dict(sorted(blobs.items())),
        superseded_blobs=tuple(old), conflicts=tuple(c for c in photo.conflicts if c.id != conflict.id),
        resolutions=(*photo.resolutions, res))


def decision_text(decision: Decision) -> str:
    """How a decision reads in a commit message: 'from flickr', 'combined', 'set to <the value>'."""
    if decision.key.startswith("use:"):
        return "from " + decision.key[4:].split(":", 1)[0]
    if decision.key == "custom":
        shown = ", ".join(map(str, decision.value)) if isinstance(decision.value, list) else str(decision.value)
        if isinstance(decision.value, dict) and "lat" in decision.value:
            shown = f"{decision.value['lat']}, {decision.value['lng']}"
        return "set to " + (shown if len(shown) <= 50 else shown[:49] + "…")
    return {"combine": "combined"}.get(decision.key, decision.key)
