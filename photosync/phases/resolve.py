"""Phase 2, resolve: find conflicts, settle the simple ones by policy, ask a
Resolver about the rest, and mark photos without open conflicts ``resolved``.

The phase never prompts: decisions come from the Resolver it is given
(automatic, a terminal prompt, a script).  Each decision a resolver makes is
committed on its own, so stopping half-way loses nothing.
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass, field

from ..conflicts import variants
from ..conflicts import visibility as vis
from ..conflicts.detect import detect
from ..conflicts.family import CROWDED, Family, narrowings
from ..conflicts.policies import POLICIES
from ..questions import question_key
from ..conflicts.resolver import Resolver, StopResolving, apply_decision, decision_text, options_for
from ..errors import InvalidRecord, PhotosyncError, UsageError
from ..library import config as cfg
from ..library.library import Library
from ..library.layout import utc_now
from ..model import Conflict, Photo, Resolution
from .pictures import Pictures, approximate_contents

#: conflict types the detectors own (recomputed on every resolve); others are kept as recorded
DETECTED_TYPES = {"metadata_mismatch", "visibility_discrepancy", "service_policy_violation",
                  "quality_variant", "edit_variant"}
#: exact duplicates are noted by discover (when a copy arrives) and settled by their policy:
#: resolve never notes them again, so runs with and without the policy do not undo each other


#: policies that act on two records at once (applied in _Run._variants, not per photo)
ACROSS_RECORDS = ("quality_variants",)
#: at most this many records merged into one in one look (a guard, not a limit seen in practice)
MAX_MERGES = 50


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
    #: records merged into another (quality variants)
    merged: int = 0
    merged_committed: int = 0
    #: (photo, level before, level after) narrowed because a merge took the narrower level
    narrowed: list = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    skipped_policies: list[str] = field(default_factory=list)
    open: list[OpenConflict] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    dry_run: bool = False
    #: the person quit the interactive session (what was decided is committed)
    stopped: bool = False
    #: photos whose look is shared by too many others to compare with each (see CROWDED):
    #: compared only through their other keys, never merged by a policy
    crowded: int = 0
    #: motion videos (a live photo's, a motion photo's) linked to their still in this run
    motion_linked: int = 0


def choose_policies(lib: Library, auto: str | None) -> tuple[list[str], list[str]]:
    """(policies to apply, configured policies that do not exist yet)."""
    if auto is None:
        return [], []
    if auto not in ("simple", "all"):
        raise UsageError(f"--auto-resolve {auto!r}: use 'simple' or 'all'")
    configured = list(lib.preferences.get("auto_resolve", []))
    if auto == "simple":
        configured = [p for p in configured if p in cfg.SIMPLE_POLICIES]
    known = [p for p in configured if p in POLICIES or p in ACROSS_RECORDS]
    return known, [p for p in configured if p not in known]


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


def upload_targets(lib: Library) -> dict[str, tuple]:
    """service -> (its connector's capabilities, the services it receives from)."""
    from ..connectors.registry import connector_class
    from .publish import targets

    out = {}
    for name, sources in targets(lib).items():
        try:
            cls = connector_class(lib.services[name].get("type", ""))
        except PhotosyncError:
            continue
        out[name] = (cls.capabilities, sources)
    return out


def resolve(
    lib: Library,
    *,
    auto: str | None = None,
    resolver: Resolver | None = None,
    dry_run: bool = False,
    crowded: int = CROWDED,
) -> ResolveResult:
    """``crowded``: a lookup key shared by more pictures than this is not expanded (CROWDED)."""
    policies, missing = choose_policies(lib, auto)
    result = ResolveResult(policies=policies, skipped_policies=missing, dry_run=dry_run)
    assert lib.index is not None
    ids = list(dict.fromkeys([*lib.index.photo_ids(["discovered"]), *lib.index.photos_with_conflicts()]))
    run = _Run(lib, policies, resolver, dry_run, result, crowded)
    # one step per examination: the photos to look at, then those looked at again (the total
    # grows by them), each counted when its examination (variant search included) is done
    task = lib.report.task("Resolving", total=len(ids))
    try:
        for pid in ids:
            run.examine(pid)
            task.advance()
            if result.stopped:
                break
        # records given a link or losing one after they were examined (a family grew by a merge
        # later in the run) are looked at again, so one run leaves nothing for the next to change
        for _round in range(3):
            again = sorted(run.touched - run.gone)
            run.touched.clear()
            if not again or result.stopped:
                break
            task.add_total(len(again))
            for pid in again:
                run.examine(pid)
                task.advance()
                if result.stopped:
                    break
    finally:
        task.close()
    if not dry_run:
        _commit(lib, result, run.pending_resolved, run)
    # each record's open conflicts as last examined; those of records merged away later in the
    # run, or naming them, are not open any more
    result.crowded = len(run.family.limited)
    result.open = _questions(run)
    result.narrowed = run.narrowed_reported + run.narrowed
    result.changed = len(run.changed_ids - run.gone)  # records merged away are counted as merged
    if dry_run:
        result.changes = [line for pid, line in run.dry_changes.items() if pid not in run.gone] + result.changes
    return result


class NothingToResolve:
    """Whether a photo discover has just found has nothing for resolve to do, so discover can
    record it ``resolved`` in its one write (issue 13: one record write per new photo, not one
    per phase).  It is resolve's examination of a lone photo, done early: no conflict recorded
    or detected, the single-record policies change nothing, and no picture that could be a
    variant of it — neither in the index (the same candidate search as resolve's, crowded keys
    included) nor among the photos this run recorded since its last commit, which the index
    learns of only then (the same test in memory: a shared quarter within MAX_HAMMING bits or
    the same capture second, a camera not known to differ, and ``variants.could_match``; no key
    counts as crowded there, the wider net).  A photo that fails any test stays ``discovered``
    and resolve examines it as before; a photo recorded resolved here that a later photo turns
    out to look like is found by that later photo's examination, as when the two arrive in two
    runs, and goes back to ``discovered`` if that makes a question."""

    def __init__(self, lib: Library):
        self.lib = lib
        self.targets = upload_targets(lib)
        self._family: Family | None = None
        #: pictures of the photos recorded since the last commit (not in the index yet), by
        #: lookup key: (position, quarter) or capture second -> [(key, face)]
        self._pending: dict[object, list[tuple]] = {}
        #: some picture recorded in this run has an approximate signature: searches probe more keys
        self._approximate = False

    def _candidates(self) -> Family:
        if self._family is None:
            index = self.lib.index
            assert index is not None
            # the index grows as discover records: crowded keys are learnt as the search meets them
            self._family = Family(lambda _pid: None, index.look_alikes, index.crowded_looks(CROWDED),
                                  capped=lambda pid, key, qs, taken, bits, extra: index.look_alikes_capped(
                                      pid, key, qs, taken, bits, CROWDED, extra),
                                  approximate=index.has_approximate)
        return self._family

    def _pending_alike(self, key, face) -> bool:
        """A picture recorded since the last commit that the index would give as a candidate."""
        seen: set[int] = set()
        slots = [(i, q) for i, q in enumerate(key.quarters) if q is not None]
        probes: list[tuple[int, int]] = []
        mine = face is not None and face.look.approximate
        if face is not None and (mine or self._approximate):  # as Family's search probes
            probes = [(i, n) for i, n in enumerate(face.look.near_quarters())
                      if key.quarters[i] is not None and n is not None and n not in (0, 0xFFFF)]
        wider = slots + probes
        for slot in [*wider, *([key.taken] if key.taken is not None else [])]:
            for other, other_face in self._pending.get(slot, ()):
                if id(other) in seen:
                    continue
                seen.add(id(other))
                if key.camera is not None and other.camera is not None and key.camera != other.camera:
                    continue
                # either signature approximate: the wider net (variants.max_bits, decided here without a
                # call a candidate: it was +7 s of 100,000 photos), its probes included
                approximate = mine or (other_face is not None and other_face.look.approximate)
                bits = variants.APPROX_MAX_BITS if approximate else variants.MAX_HAMMING
                near = any(other.quarters[i] == q for i, q in (wider if approximate else slots)) and \
                    ((key.dhash ^ other.dhash) & 0xFFFFFFFFFFFFFFFF).bit_count() <= bits
                if not (near or (key.taken is not None and key.taken == other.taken)):
                    continue
                if face is None or other_face is None or variants.could_match(face, other_face.look, other.taken):
                    return True
        return False

    def __call__(self, photo: Photo) -> bool:
        keys = variants.lookup_keys(photo)
        faces = {f.content_hash: f for f in variants.faces(photo)}
        try:
            if photo.processing_state != "discovered" or photo.conflicts or detect(photo, self.targets):
                return False
            if any(i.metadata.edit_of or i.metadata.motion_of for i in photo.all_instances()):
                return False  # a service names it an edit or motion video of another record: resolve links the two
            if POLICIES["most_restrictive_visibility"](POLICIES["missing_metadata"](photo)) != photo:
                return False
            if any(self._pending_alike(key, faces.get(key.content_hash)) for key in keys):
                return False
            return not (keys and self._candidates().look_alikes(photo))
        finally:
            for key in keys:
                entry = (key, faces.get(key.content_hash))
                if entry[1] is not None and entry[1].look.approximate:
                    self._approximate = True
                for i, q in enumerate(key.quarters):
                    if q is not None:
                        self._pending.setdefault((i, q), []).append(entry)
                if key.taken is not None:
                    self._pending.setdefault(key.taken, []).append(entry)

    def crowded(self, photo: Photo) -> bool:
        """Some look of the photo was shared by more than CROWDED others when it was searched:
        its candidates came from its other keys only (as resolve's would)."""
        if self._family is None or photo.photo_id not in self._family.limited:
            return False
        self._family.limited.discard(photo.photo_id)  # asked once; half of a 100,000 import can be (~6 MB)
        return True

    def committed(self) -> None:
        """The index now holds what was recorded: its search covers those photos."""
        self._pending.clear()
        if self._family is not None:
            self._family.forget_candidates()


class _Run:
    def __init__(self, lib: Library, policies, resolver, dry_run, result: ResolveResult, crowded: int = CROWDED):
        self.lib = lib
        self.policies = policies
        self.resolver = resolver
        self.dry_run = dry_run
        self.result = result
        assert lib.index is not None
        self.batch = int(lib.preferences["sync_preferences"].get("commit_batch_size", 500))
        self.targets = upload_targets(lib)
        self.audiences = vis.audience_settings(lib.services)
        self.pending_resolved = 0
        #: records merged into another in this run (the index still lists them until the commit)
        self.gone: set[str] = set()
        #: pairs of records a person was asked about in this session
        self.asked_pairs: set[frozenset] = set()
        #: records changed by another record's examination since they were last examined
        self.touched: set[str] = set()
        #: records examined at least once in this run
        self.seen: set[str] = set()
        #: records this run changed (staged, or in memory for a dry run)
        self.changed_ids: set[str] = set()
        #: dry run: what would change, per record (its last examination)
        self.dry_changes: dict[str, str] = {}
        #: set by _ask when a person merged: the merged record is examined afresh
        self.merged_by_person = False
        #: dry run: records as they would be after merges (nothing is staged)
        self.virtual: dict[str, Photo] = {}
        #: (label, before, after) of records whose canonical level a merge narrowed
        self.narrowed: list[tuple[str, str, str]] = []
        self.narrowed_reported: list[tuple[str, str, str]] = []
        #: open conflicts of each record examined, as of its last examination
        self.open: dict[str, list[OpenConflict]] = {}
        #: (record, conflict, values) a person was asked about in this session
        self.asked: set[tuple] = set()
        #: dry run: each record as it was before its first examination
        self.dry_before: dict[str, Photo] = {}
        #: the look-alikes of each record and the family rules (conflicts/family.py)
        #: decodes the pictures of records whose signature is approximate, before a pair is judged
        self.pictures = Pictures(lib)
        self.family = Family(self._compared, lib.index.look_alikes, lib.index.crowded_looks(crowded),
                             approximate=lib.index.has_approximate)
        #: records whose approximate signature a commit already reported replaced
        self.refined_committed: set[str] = set()
        #: merges by a policy since the last commit: (merged away, its id, merged into, its id)
        self.merges: list[tuple[str, str, str, str]] = []

    def _put(self, photo: Photo) -> None:
        """Record a changed photo: staged for the next commit, or kept in memory by a dry run."""
        if self.dry_run:
            self.virtual[photo.photo_id] = photo
        else:
            self.lib.stage(photo)
        self.changed_ids.add(photo.photo_id)

    def _get(self, pid: str) -> Photo | None:
        if pid in self.gone:
            return None
        if pid in self.virtual:
            return self.virtual[pid]
        try:
            return self.lib.get_photo(pid)
        except InvalidRecord as e:
            self.lib.report.error(e.path, f"{e.reason}; skipped")
        except KeyError:
            pass
        return None

    def _compared(self, pid: str) -> Photo | None:
        """A record to compare with another: with its pictures' own signatures in place of
        approximate ones (phases/pictures.py), staged (or kept in memory by a dry run)."""
        photo = self._get(pid)
        if photo is None:
            return None
        exact = self._exact(photo)
        if exact is not photo:
            self._put(exact)
        return exact

    def _exact(self, photo: Photo) -> Photo:
        """The photo with its pictures' own signatures (phases/pictures.py); what a search with
        the approximate ones learnt of it (a crowded key) no longer holds."""
        exact = self.pictures.exact(photo)
        if exact is not photo:
            self.family.limited.discard(photo.photo_id)
        return exact

    def examine(self, pid: str) -> None:
        lib, result = self.lib, self.result
        before = self._get(pid)
        if before is None:
            return
        for content_hash, dhash, informative, approximate in lib.index.own_looks(pid):  # type: ignore[union-attr]
            variants.remember(content_hash, dhash, informative, approximate)  # computed once, when it was indexed
        self.touched.discard(pid)
        if pid not in self.seen:
            self.seen.add(pid)
            result.examined += 1
        photo, found_variants = self._variants(self._link_motion(before))
        for name in self.policies:
            if name in POLICIES:
                photo = POLICIES[name](photo)
        photo = vis.refresh(photo, self.audiences)  # with each service's friends_audience setting
        kept = [c for c in photo.conflicts if c.type not in DETECTED_TYPES]
        found = detect(photo, self.targets) + found_variants
        found = [c for c in found if c.type != "exact_duplicate"]
        photo = photo.replace(conflicts=variants.ordered(kept + found))
        if self.resolver is not None and not self.dry_run:
            self.merged_by_person = False
            photo = self._ask(photo)
            if self.merged_by_person:  # a new record: its questions are found and asked afresh
                self.touched.add(photo.photo_id)
                self.open.pop(before.photo_id, None)
                self._put(photo)
                return
        if not photo.open_conflicts and photo.processing_state == "discovered":
            photo = photo.replace(processing_state="resolved")
            result.resolved += 1
            self.pending_resolved += 1
        elif photo.open_conflicts and photo.processing_state != "discovered":
            # a question found since it was resolved (a look-alike that arrived later, in this run
            # or the next): resolved means no question waits for a person, so it waits again
            photo = photo.replace(processing_state="discovered")
        if photo.open_conflicts:  # only records with questions: counted at every batch commit
            self.open[photo.photo_id] = [OpenConflict(photo.photo_id, _label(photo), c) for c in photo.open_conflicts]
        else:
            self.open.pop(photo.photo_id, None)
        # a link this record no longer holds: the other record is looked at again, so both agree
        for rid in _variant_links(before) - _variant_links(photo) - self.gone:
            self.touched.add(rid)
        if self.dry_run:
            first = self.dry_before.setdefault(photo.photo_id, before)
            changes = describe_change(first, photo) if photo.photo_id == first.photo_id else []
            if changes:
                self.dry_changes[photo.photo_id] = f"{_label(photo)} ({photo.photo_id[:8]}): " + "; ".join(changes)
        if photo != before:
            self._put(photo)
        if not self.dry_run and lib.staged_count >= self.batch:
            _commit(lib, result, self.pending_resolved, self)
            self.pending_resolved = 0

    # -- variants across records ----------------------------------------------------------
    def _variants(self, photo: Photo) -> tuple[Photo, list[Conflict]]:
        """Merge quality variants (with the policy), link edit variants: (the photo,
        possibly merged into another record, and its variant conflicts)."""
        edits: list[tuple[Photo, variants.Verdict]] = []
        named = self._named_originals(photo)
        if approximate_contents(photo) and (named or self.family.look_alikes(photo)):
            photo = self._exact(photo)  # it meets look-alikes: judged on its picture's own signature
        for _round in range(MAX_MERGES):
            keys = variants.lookup_keys(photo)
            if not keys and not named:
                return photo, []
            edits, merged = [], False
            for oid in dict.fromkeys([*(self.family.look_alikes(photo) if keys else ()), *named]):
                other = self._compared(oid)
                if other is None or oid == photo.photo_id:
                    continue
                verdict = variants.judge(photo, other)
                if oid in named:
                    # the service names this record an edited copy of the other (Takeout's -edited): an
                    # edit variant whatever the pictures say, never merged as a quality variant
                    verdict = dataclasses.replace(verdict, kind="edit") if verdict is not None else \
                        variants.Verdict("edit", 0.0, why=named[oid])
                if verdict is None:
                    continue
                if variants.decided(photo, other):
                    continue  # a person decided about this pair already
                if oid not in named and "quality_variants" in self.policies and self.family.mergeable(photo, other, verdict):
                    if self.dry_run:
                        self.result.changes.append(
                            f"{_label(photo)} ({photo.photo_id[:8]}): would merge with {_label(other)} "
                            f"({oid[:8]}), {verdict.why}")
                    # merged (in memory only for a dry run): look again from the merged record
                    # (its new pictures find new candidates)
                    photo = self._merge(photo, other, how="auto", policy="quality_variants")
                    merged = True
                    break
                edits.append((other, verdict))
            if not merged:
                break
        conflicts = []
        for other, verdict in self.family.star(photo, edits):
            conflicts.append(variants.variant_conflict(photo, other, verdict))
            # the other record holds the question too (in memory for a dry run)
            back = variants.conflict_id(verdict.kind, photo.photo_id)
            if all(c.id != back for c in other.conflicts):
                seen_from_there = variants.judge(other, photo) or verdict
                self._put(other.replace(conflicts=variants.ordered(
                    (*other.conflicts, variants.variant_conflict(other, photo, seen_from_there)))))
                self.touched.add(other.photo_id)
        return photo, conflicts

    def _link_motion(self, photo: Photo) -> Photo:
        """A copy that a service names the motion video of a still (``motion_of``: an iCloud live
        photo's video, a Google motion photo's ``.MP``/``.MP4``) is linked to the still's record: a
        decided link (``motion_variant:<other id>``, policy ``motion_pair``, choice ``linked``) on
        both records, which ``variants.decision`` reads as answered, so the pair is never merged
        and never asked about."""
        index = self.lib.index
        if index is None:
            return photo
        for inst in photo.all_instances():
            if not inst.metadata.motion_of:
                continue
            row = index.item(inst.service, inst.metadata.motion_of)
            if row is None or row[0] == photo.photo_id:
                continue
            still = self._get(row[0])
            if still is None:
                continue
            linked = _motion_link(photo, still.photo_id)
            if linked is not photo:
                self.result.motion_linked += 1
                photo = linked
            other = _motion_link(still, photo.photo_id)
            if other is not still:
                self._put(other)
        return photo

    def _named_originals(self, photo: Photo) -> dict[str, str]:
        """photo id -> why: the records a service names as the original of one of this record's
        copies (an instance's ``edit_of``: Google Takeout's ``-edited`` files)."""
        out: dict[str, str] = {}
        index = self.lib.index
        if index is None:
            return out
        for inst in photo.all_instances():
            if inst.metadata.edit_of:
                row = index.item(inst.service, inst.metadata.edit_of)
                if row is not None and row[0] != photo.photo_id:
                    out[row[0]] = f"{inst.service} names it the edited copy of {inst.metadata.edit_of}"
        # and the other way: an edit linked to this record before, that names one of its copies as
        # its original (the link is recomputed on every resolve, from either side)
        mine = {inst.key for inst in photo.all_instances()}
        for c in photo.conflicts:
            if c.type != "edit_variant":
                continue
            for rid in c.related_photos:
                other = self._get(rid)
                if other is None or rid in out:
                    continue
                for inst in other.all_instances():
                    if inst.metadata.edit_of and f"{inst.service}:{inst.metadata.edit_of}" in mine:
                        out[rid] = f"{inst.service} names {inst.id} its edited copy"
        return out

    def _merge(self, a: Photo, b: Photo, *, how: str, policy: str | None, keep: str | None = None) -> Photo:
        merged, gone = variants.merge(a, b, now=utc_now(), how=how, policy=policy, keep=keep)
        removed = b if gone == b.photo_id else a
        for x, into in narrowings(a, b, merged, gone):  # either may now be shown more narrowly than it was
            self.narrowed.append((f"{_label(x)} ({x.photo_id[:8]}{into})", x.visibility.canonical,
                                  merged.visibility.canonical))
        self.gone.add(gone)
        self.result.merged += 1
        if how == "auto":
            self.merges.append((_label(removed), removed.photo_id, _label(merged), merged.photo_id))
        if not self.dry_run:
            self.lib.remove(gone)
        self._put(merged)
        # records linked to the one merged away forget it; the survivor is judged afresh
        self.family.merged(gone, merged.photo_id)
        # records near either one are looked at again (what they are linked to may change);
        # those that named the record merged away forget it
        near = {*self.family.look_alikes(removed), *self.family.look_alikes(merged)}
        for qid in near:
            q = self._get(qid)
            if q is None or q.photo_id == merged.photo_id:
                continue
            self.touched.add(q.photo_id)
            fresh = variants.forget(q, gone)
            if fresh is not q:
                self._put(fresh)
        return merged

    # -- asking a person ------------------------------------------------------------------
    def _ask(self, photo: Photo) -> Photo:
        lib, result = self.lib, self.result
        for conflict in list(photo.open_conflicts):
            other = None
            if conflict.type.endswith("_variant"):
                other = self._get(conflict.related_photos[0]) if conflict.related_photos else None
                if other is None:
                    photo = photo.replace(conflicts=tuple(c for c in photo.conflicts if c.id != conflict.id))
                    continue
                pair = frozenset((photo.photo_id, other.photo_id))
                if pair in self.asked_pairs:
                    continue  # the pair's conflict is on both records: asked once a session
                self.asked_pairs.add(pair)
            else:
                asked = (photo.photo_id, conflict.id, repr(sorted((conflict.values or {}).items())))
                if asked in self.asked:
                    continue  # asked already in this session (the record is looked at again)
                self.asked.add(asked)
            try:
                decision = self.resolver.decide(photo, conflict, options_for(photo, conflict, other))
            except StopResolving:
                result.stopped = True
                break
            if decision is None or decision.key == "skip":
                continue
            if lib.staged_count:  # what policies did so far gets its own commit, not the person's
                _commit(lib, result, self.pending_resolved, self)
                self.pending_resolved = 0
            label = _label(photo)
            try:
                if other is not None:
                    photo, text = self._settle_variant(photo, other, conflict, decision.key)
                else:
                    changed = apply_decision(photo, conflict, decision)
                    text = f"{conflict.field or conflict.type} {decision_text(decision)}"
                    if not changed.open_conflicts and changed.processing_state == "discovered":
                        changed = changed.replace(processing_state="resolved")  # in the same commit
                        result.resolved += 1
                    self._put(changed)
                    photo = changed
            except InvalidRecord as e:
                lib.report.error(e.path, f"{e.reason}; that answer was not saved")
                lib.discard_staged()
                continue
            result.decisions += 1
            message = f"resolve: {label} {text} (manual)"
            if self.narrowed:
                message += "\n\n" + _narrowed_text(self.narrowed)
                self.narrowed_reported.extend(self.narrowed)
                self.narrowed = []
            oid = lib.commit(message)
            self.family.forget_candidates()  # the index changed
            result.merged_committed = result.merged  # a person's merge is told by its own commit
            if oid:
                result.commits.append(oid)
            if decision.key.startswith("merge"):
                self.merged_by_person = True
                break  # one record is gone: the merged record's questions are found and asked afresh
        return photo

    def _settle_variant(self, photo: Photo, other: Photo, conflict: Conflict, key: str) -> tuple[Photo, str]:
        if key == "merge" or key.startswith("merge:"):
            keep = key.split(":", 1)[1] if ":" in key else None
            merged = self._merge(photo, other, how="manual", policy=None, keep=keep)
            return merged, (f"({photo.photo_id[:8]}) merged with {_label(other)} ({other.photo_id[:8]}), "
                            f"original {merged.canonical_source}")
        now = utc_now()
        kind = conflict.type.split("_")[0]
        mine = Resolution(conflict.id, "manual", now, choice=key, value=other.photo_id)
        theirs_id = variants.conflict_id(kind, photo.photo_id)
        theirs = Resolution(theirs_id, "manual", now, choice=key, value=photo.photo_id)
        photo = photo.replace(conflicts=tuple(c for c in photo.conflicts if c.id != conflict.id),
                              resolutions=(*photo.resolutions, mine))
        other = other.replace(conflicts=tuple(c for c in other.conflicts if c.id != theirs_id),
                              resolutions=(*other.resolutions, theirs))
        for x in (photo, other):  # a record with nothing left to decide is resolved in the same commit
            if not x.open_conflicts and x.processing_state == "discovered":
                self.result.resolved += 1
        photo, other = (x.replace(processing_state="resolved")
                        if not x.open_conflicts and x.processing_state == "discovered" else x
                        for x in (photo, other))
        self._put(photo)
        self._put(other)
        what = {"linked": "linked as an edit of", "separate": "kept apart from", "unrelated": "not related to"}[key]
        return photo, f"{what} {_label(other)} ({other.photo_id[:8]})"


def _narrowed_text(narrowed) -> str:
    return ("Visibility narrowed by merges (the narrower level wins; widen with photosync visibility set):\n"
            + "\n".join(f"- {label}: {a} -> {b}" for label, a, b in narrowed))


def _questions(run: "_Run") -> list[OpenConflict]:
    """The open conflicts left for a person, each question once (a pair's question is held by
    both records: photosync/questions.py decides, as for status's count)."""
    keys: set[str] = set()
    out = []
    for pid, found in run.open.items():
        if pid in run.gone:
            continue
        for o in found:
            if set(o.conflict.related_photos) & run.gone:
                continue
            key = question_key(pid, o.conflict)
            if key in keys:
                continue
            keys.add(key)
            out.append(o)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _motion_link(photo: Photo, other_id: str) -> Photo:
    """``photo`` with a decided motion link to ``other_id`` (the same record when it has one)."""
    cid = f"motion_variant:{other_id}"
    if any(r.conflict_id == cid for r in photo.resolutions):
        return photo
    return photo.replace(resolutions=(*photo.resolutions, Resolution(
        cid, "auto", utc_now(), policy="motion_pair", choice="linked", value=other_id)))


def _variant_links(photo: Photo) -> set[str]:
    return {r for c in photo.conflicts if c.type.endswith("_variant") for r in c.related_photos}


def _commit(lib: Library, result: ResolveResult, resolved: int, run: "_Run | None" = None) -> None:
    """Commit what is staged.  The message says what happened in words, so `git log` is the audit
    of merges: one merge is the subject (`resolve: merged IMG_5001.jpg into IMG_0001.JPG (quality
    variant)`); several are counted there and listed in the body, one line each."""
    how = f" (policies: {', '.join(result.policies)})" if result.policies else ""
    waiting = len(_questions(run)) if run is not None else 0
    counts = f"{_plural(resolved, 'photo')} resolved{how}"
    merged = result.merged - result.merged_committed
    merges = run.merges if run is not None else []
    if merged:
        counts += f", {_plural(merged, 'variant record')} merged"
        result.merged_committed = result.merged
    if waiting:
        counts += f", {_plural(waiting, 'question')} left for a person"
    if run is not None and run.pictures.refined - run.refined_committed:
        decoded = run.pictures.refined - run.refined_committed
        counts += f", the visual signature of {_plural(len(decoded), 'photo')} taken from the picture, not its embedded thumbnail"
        run.refined_committed |= decoded
    body = []
    if len(merges) == 1:
        gone, _gid, into, _kid = merges[0]
        msg = f"resolve: merged {gone} into {into} (quality variant)"
        body.append(counts)
    else:
        msg = f"resolve: {counts}"
    if merges:
        body.append("Merged (the second stays the original; every copy of both is kept):\n" + "\n".join(
            f"- {gone} ({gid[:8]}) into {into} ({kid[:8]}), quality variant" for gone, gid, into, kid in merges))
        merges.clear()
    if run is not None and run.narrowed:
        body.append(_narrowed_text(run.narrowed))
        run.narrowed_reported.extend(run.narrowed)
        run.narrowed = []
    if body:
        msg += "\n\n" + "\n\n".join(body)
    oid = lib.commit(msg)
    if oid:
        result.commits.append(oid)
    if run is not None:
        run.family.forget_candidates()  # the index changed
