"""Phase 2, resolve: find conflicts, settle the simple ones by policy, ask a
Resolver about the rest, and mark photos without open conflicts ``resolved``.

The phase never prompts: decisions come from the Resolver it is given
(automatic, a terminal prompt, a script).  Each decision a resolver makes is
committed on its own, so stopping half-way loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..conflicts.detect import detect
from ..conflicts.policies import POLICIES
from ..conflicts.resolver import Resolver, StopResolving, apply_decision, decision_text, options_for
from ..errors import InvalidRecord, UsageError
from ..library import config as cfg
from ..library.library import Library
from ..model import Conflict, Photo

#: conflict types the detectors own (recomputed on every resolve); others are kept as recorded
DETECTED_TYPES = {"exact_duplicate", "metadata_mismatch"}


@dataclass
class OpenConflict:
    photo_id: str
    label: str
    conflict: Conflict


@dataclass
class ResolveResult:
    examined: int = 0
    resolved: int = 0
    changed: int = 0
    decisions: int = 0
    policies: list[str] = field(default_factory=list)
    skipped_policies: list[str] = field(default_factory=list)
    open: list[OpenConflict] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    dry_run: bool = False
    #: the person quit the interactive session (what was decided is committed)
    stopped: bool = False


def choose_policies(lib: Library, auto: str | None) -> tuple[list[str], list[str]]:
    """(policies to apply, configured policies that do not exist yet)."""
    if auto is None:
        return [], []
    if auto not in ("simple", "all"):
        raise UsageError(f"--auto-resolve {auto!r}: use 'simple' or 'all'")
    configured = list(lib.preferences.get("auto_resolve", []))
    if auto == "simple":
        configured = [p for p in configured if p in cfg.SIMPLE_POLICIES]
    known = [p for p in configured if p in POLICIES]
    return known, [p for p in configured if p not in POLICIES]


def describe_change(before: Photo, after: Photo) -> list[str]:
    out = []
    if before.canonical_source != after.canonical_source:
        out.append(f"canonical source {before.canonical_source} -> {after.canonical_source}")
    for f in ("taken_date", "filename", "location", "tags", "caption", "camera_info"):
        a, b = getattr(before.metadata, f), getattr(after.metadata, f)
        if a != b:
            out.append(f"{f.replace('_', ' ')}: {a!r} -> {b!r}" if a not in (None, ()) else f"{f.replace('_', ' ')} filled: {b!r}")
    if before.visibility.canonical != after.visibility.canonical:
        out.append(f"visibility {before.visibility.canonical} -> {after.visibility.canonical}")
    if before.processing_state != after.processing_state:
        out.append(f"{before.processing_state} -> {after.processing_state}")
    settled = {c.id for c in before.conflicts} - {c.id for c in after.conflicts}
    for cid in sorted(settled):
        out.append(f"settled {cid}")
    return out


def _label(photo: Photo) -> str:
    return photo.metadata.filename or photo.photo_id


def resolve(
    lib: Library,
    *,
    auto: str | None = None,
    resolver: Resolver | None = None,
    dry_run: bool = False,
) -> ResolveResult:
    policies, missing = choose_policies(lib, auto)
    result = ResolveResult(policies=policies, skipped_policies=missing, dry_run=dry_run)
    assert lib.index is not None
    ids = list(dict.fromkeys([*lib.index.photo_ids(["discovered"]), *lib.index.photos_with_conflicts()]))
    batch = int(lib.preferences["sync_preferences"].get("commit_batch_size", 500))
    task = lib.report.task("Resolving", total=len(ids))
    pending_resolved = 0
    try:
        for pid in ids:
            task.advance()
            try:
                before = lib.get_photo(pid)
            except InvalidRecord as e:
                lib.report.error(e.path, f"{e.reason}; skipped")
                continue
            result.examined += 1
            photo = before
            for name in policies:
                photo = POLICIES[name](photo)
            kept = [c for c in photo.conflicts if c.type not in DETECTED_TYPES]
            found = detect(photo)
            if "exact_duplicates" in policies:
                found = [c for c in found if c.type != "exact_duplicate"]
            photo = photo.replace(conflicts=tuple(kept + found))
            if resolver is not None and not dry_run:
                for conflict in list(photo.open_conflicts):
                    try:
                        decision = resolver.decide(photo, conflict, options_for(photo, conflict))
                    except StopResolving:
                        result.stopped = True
                        break
                    if decision is None or decision.key == "skip":
                        continue
                    photo = apply_decision(photo, conflict, decision)
                    result.decisions += 1
                    lib.stage(photo)
                    oid = lib.commit(f"resolve: {_label(photo)} {conflict.field or conflict.type} "
                                     f"{decision_text(decision)} (manual)")
                    if oid:
                        result.commits.append(oid)
            if not photo.open_conflicts and photo.processing_state == "discovered":
                photo = photo.replace(processing_state="resolved")
                result.resolved += 1
                pending_resolved += 1
            for c in photo.open_conflicts:
                result.open.append(OpenConflict(pid, _label(photo), c))
            if dry_run:
                changes = describe_change(before, photo)
                if changes:
                    result.changed += 1
                    result.changes.append(f"{_label(photo)} ({pid[:8]}): " + "; ".join(changes))
            elif photo != before:
                result.changed += 1
            if not dry_run:
                lib.stage(photo)
                if lib.staged_count >= batch:
                    _commit(lib, result, pending_resolved)
                    pending_resolved = 0
            if result.stopped:
                break
    finally:
        task.close()
    if not dry_run:
        _commit(lib, result, pending_resolved)
    return result


def _commit(lib: Library, result: ResolveResult, resolved: int) -> None:
    how = f" (policies: {', '.join(result.policies)})" if result.policies else ""
    waiting = len({o.photo_id for o in result.open})
    msg = f"resolve: {resolved} photos resolved{how}"
    if waiting:
        msg += f", {waiting} need a decision"
    oid = lib.commit(msg)
    if oid:
        result.commits.append(oid)
