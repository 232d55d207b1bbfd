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
    if conflict.type != "metadata_mismatch" or not conflict.values:
        return [Option("skip", "Skip (resolve later)")]
    field = conflict.field or ""
    seen = []
    for key, value in conflict.values.items():
        if value in seen:
            continue
        seen.append(value)
        opts.append(Option(f"use:{key}", f"Use {key}", value))
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
    if field == "tags":
        return tuple(value)
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
