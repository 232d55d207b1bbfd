"""Quality and edit variants: two photo records that show the same picture.

A *quality variant* is the same picture at another size or compression (a
service's resized copy, a re-encoded download, a copy whose metadata alone was
rewritten): the records merge, the best copy becomes canonical, the others stay
as instances rated ``high``/``medium``/``low`` against it.  An *edit variant*
is the same shot edited, cropped or rotated: never merged by a policy, linked
both ways with an open conflict a person settles.

How a pair is judged (:func:`classify`), from each record's canonical copy:

* both thumbnails must say enough to be told apart (media/visual.py
  ``MIN_CONTRAST``: a black frame matches every black frame);
* two cameras that are both known and differ are never variants;
* quality: upright, same aspect ratio (2 %), gradient distance at most
  ``QUALITY_DISTANCE``, and trusted capture times that do not disagree
  (sub-second EXIF times tell burst frames apart).  A policy merges only a
  *sure* pair (``Verdict.certain``): at least one trusted capture time, no date
  guessed from a file name or a file time more than a day from the other's
  date, and the same tone overall (``SURE_TONE``) and in every part of the
  picture (``LOCAL_TONE``); otherwise the pair is asked about;
* edit: a rotation of a near-identical picture; a picture as near with other
  tones or colours (an exposure or colour edit); the same trusted capture time
  with a distance up to ``EDIT_DISTANCE``; or the same camera at the same
  millisecond (a crop may move every edge).

The thresholds were set on the labelled corpus of bench/variants.py, whose
precision and recall are reported in bench/README.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..model import (
    QUALITIES,
    Conflict,
    Photo,
    Resolution,
    SupersededBlob,
    Visibility,
    with_instance,
)
from .. import privacy as vis
# the pictures of a record and their lookup keys sit below the library and conflicts/ alike (the
# index fills its looks table with the same lookup_keys resolve searches with)
from ..media.lookup import (  # noqa: F401  (faces, lookup_keys, remember: variants' names for them)
    GUESSED_TIME,
    TRUSTED_TIME,
    Face,
    LookKey,
    _face,
    canonical_face,
    faces,
    lookup_keys,
    remember,
)
from ..media.visual import (
    APPROX_BITS,
    Look,
    best_rotation,
    gradient_distance,
    local_tone_distance,
    slack,
    tone_distance,
)

#: at most this fraction of gradient bits may differ between quality variants
QUALITY_DISTANCE = 0.04
#: at most this fraction for an edit (crop, filter) of a shot with the same capture time
#: to the second (beyond it, only the same camera at the same millisecond links them)
EDIT_DISTANCE = 0.35
#: quality variants differ in tone and colour by at most this many levels (0-255)
QUALITY_TONE = 6
#: aspect ratios within this fraction count as the same
ASPECT_TOLERANCE = 0.02
#: a guessed date further than this from the other copy's date (seconds, wall clock) disagrees
#: with it: a day covers time zones and a name that holds only the day (IMG-20190705-WA0001.jpg).
#: On the look-alike corpus every wrong merge joined dates 4 to 18 years apart.
GUESS_TOLERANCE = 86400
#: a policy merges only pictures whose overall tone differs by at most this many levels: resized,
#: thumbnail and re-encoded copies measure 0-2 on the corpora, a print faded by 4-6 levels is asked
SURE_TONE = 3
#: ... and no part of the picture (a 4x4 block of the thumbnail) lighter or darker than the rest by
#: more than this: copies measure at most 4.8 (a 320-pixel thumbnail), look-alikes up to 60
LOCAL_TONE = 6.0
#: a picture whose 64-bit dHash differs from another's in more bits than this is not a variant
#: candidate of it (unless both were taken in the same second: a crop moves every edge).  Pairs
#: within QUALITY_DISTANCE measure at most 5 bits on the corpora (resized, thumbnail, re-encoded,
#: colour-edited copies, look-alikes); of the 296,791 pairs of 10,000 distinct pictures
#: (bench/resolve_scale.py --kind distinct) that share a 16-bit quarter, 1.5 % are within 8 bits
#: (11 % within 12; median 18).
MAX_HAMMING = 8
#: an approximate signature's colourfulness reads up to 4 levels lower than its picture's
APPROX_TONE = 4


#: the dHash bits two pictures may differ by when a signature is approximate (an embedded thumbnail's)
APPROX_MAX_BITS = MAX_HAMMING + APPROX_BITS


def max_bits(*looks: "Look | None") -> int:
    """MAX_HAMMING, or APPROX_MAX_BITS when a signature is approximate."""
    return APPROX_MAX_BITS if any(x is not None and x.approximate for x in looks) else MAX_HAMMING


def could_match(face: Face, look: Look, taken: str | None) -> bool:
    """Could a picture that looks like ``look``, taken at ``taken`` (trusted, to
    the second, or None), be a variant of ``face`` or look the same to
    :func:`looks_same`?  False only when :func:`classify` and :func:`_alike`
    are sure to say no: not taken in the same second, and neither the picture
    nor a turn of it (when the times do not disagree) is within
    QUALITY_DISTANCE (with more room when a signature is approximate: the
    picture is decoded then, before the pair is judged).  Asked of candidates
    before their records are read."""
    if face.taken and taken and face.taken[:19] == taken:
        return True  # the same second: a crop or an edit may be far in looks
    near = QUALITY_DISTANCE + slack(face.look, look)
    if gradient_distance(face.look, look) <= near:
        return True
    if face.taken and taken:
        return False  # times that disagree rule out a turned copy
    # turning both pictures alike keeps every neighbour pair's order: turn this face the other way
    # (its turns are kept with it) rather than each candidate
    return any(gradient_distance(face.look.rotated(360 - deg), look) <= near for deg in (90, 180, 270))


# -- judging a pair --------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    kind: str  # "quality" | "edit"
    distance: float
    rotation: int = 0
    why: str = ""
    #: False when some pictures of the two records look different (a record
    #: already holds merged copies): a policy does not merge, a person is asked
    certain: bool = True


def _fraction(t: str) -> str | None:
    """The sub-second digits of an ISO time, None when it has none."""
    if len(t) > 19 and t[19] == ".":
        return "".join(ch for ch in t[20:26] if ch.isdigit()).ljust(6, "0")
    return None


def _times(a: Face, b: Face) -> str:
    """'same', 'differ' or 'unknown' (one or both have no trusted time).  Wall
    clock to the second (services drop zones); sub-seconds when both have them
    (burst frames differ there)."""
    if not a.taken or not b.taken:
        return "unknown"
    if a.taken[:19] != b.taken[:19]:
        return "differ"
    fa, fb = _fraction(a.taken), _fraction(b.taken)
    return "differ" if fa is not None and fb is not None and fa != fb else "same"


#: two capture times closer than this, yet different, are two frames of a burst (or a
#: series), never one photo; times further apart that disagree are a date question
BURST_WINDOW = 60.0


def _gap(a: Face, b: Face) -> float | None:
    """Seconds between two trusted capture times (wall clock), None when one is unknown."""
    from datetime import datetime

    if not a.taken or not b.taken:
        return None
    try:
        ta = datetime.fromisoformat(a.taken[:19]).timestamp() + int(_fraction(a.taken) or 0) / 1e6
        tb = datetime.fromisoformat(b.taken[:19]).timestamp() + int(_fraction(b.taken) or 0) / 1e6
    except ValueError:
        return None
    return abs(ta - tb)


def _wall(t: str) -> float | None:
    """An ISO time's wall clock as seconds (its zone ignored: services drop zones)."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(t[:19]).timestamp()
    except ValueError:
        return None


_GUESS_NAMES = {"filename": "its file name", "file_mtime": "its file time"}


def _guess_disagrees(a: Face, b: Face) -> str | None:
    """Why a date guessed from a file name or a file time disagrees with the
    other picture's date (trusted or guessed), or None.  Two different photos
    that look alike at 16x16 (a scan, a chat copy) are told apart by nothing
    else: a guess years from the other date is a question, not a merge."""
    for x, y in ((a, b), (b, a)):
        if x.taken or not x.guess:
            continue
        other = y.taken or y.guess
        if not other:
            continue
        tx, ty = _wall(x.guess), _wall(other)
        if tx is None or ty is None or abs(tx - ty) <= GUESS_TOLERANCE:
            continue
        days = abs(tx - ty) / 86400
        n, unit = (round(days / 365.25), "year") if days >= 730 else (round(days), "day")
        apart = f"{n} {unit}" + ("" if n == 1 else "s")
        return (f"but the date from {_GUESS_NAMES.get(x.guess_source or '', 'a guess')} ({x.guess[:10]}) "
                f"is {apart} from the other's ({other[:10]})")
    return None


def _doubt(a: Face, b: Face) -> str | None:
    """Why a policy must not merge two pictures that look alike (the pair is
    asked about instead), or None: a guessed date that disagrees, or tones that
    differ overall or in a part of the picture (a faded print of another shot)."""
    why = _guess_disagrees(a, b)
    if why:
        return why
    if tone_distance(a.look, b.look) > SURE_TONE or local_tone_distance(a.look, b.look) > LOCAL_TONE:
        return "but their tones differ"
    return None


def _burst_apart(a: Face, b: Face) -> bool:
    """Taken moments apart: two frames, not two copies of one."""
    gap = _gap(a, b)
    return gap is not None and 0 < gap < BURST_WINDOW and _times(a, b) == "differ"


def _same_aspect(a: Face, b: Face, turned: bool = False) -> bool:
    if a.aspect is None or b.aspect is None:
        return True  # unknown size: the thumbnails decide
    other = 1 / b.aspect if turned else b.aspect
    return abs(a.aspect - other) <= ASPECT_TOLERANCE * max(a.aspect, other)


def classify(a: Face, b: Face) -> Verdict | None:
    """The verdict on two pictures.  A pair judged on an approximate signature (a camera's
    embedded thumbnail, when resolve could not read the picture to decode it) is judged with
    the room its signature needs, and a policy never merges it: a person is asked."""
    room = slack(a.look, b.look)
    if not room:
        return _classify(a, b, QUALITY_DISTANCE, QUALITY_TONE)
    v = _classify(a, b, QUALITY_DISTANCE + room, QUALITY_TONE + APPROX_TONE)
    if v is None:
        return None
    return dataclasses.replace(v, certain=False, why=v.why + " (judged on the camera's embedded thumbnail: "
                                                              "the picture itself could not be read)")


def _classify(a: Face, b: Face, near: float, tone: int) -> Verdict | None:
    if not (a.look.informative and b.look.informative):
        return None
    if a.camera and b.camera and a.camera != b.camera:
        return None
    times = _times(a, b)
    d0 = gradient_distance(a.look, b.look)
    same_tone = tone_distance(a.look, b.look) <= tone
    if _same_aspect(a, b) and d0 <= near and same_tone:
        if times != "differ" and (a.taken or b.taken):
            doubt = _doubt(a, b)
            return Verdict("quality", d0, 0, "the same picture at another size or compression"
                           + (f", {doubt}" if doubt else ""), certain=doubt is None)
        if times != "differ":
            # neither copy knows when it was taken: two scans or exports of one scene look the same
            return Verdict("quality", d0, 0, "the same picture at another size or compression, "
                                             "but neither copy says when it was taken", certain=False)
        if d0 == 0 and a.width == b.width and a.height == b.height and not _burst_apart(a, b):
            # identical signatures, dates far apart: a copy whose date was rewritten, or two
            # shots of a still scene from a tripod: a person tells
            return Verdict("quality", d0, 0, "the same picture with another capture date", certain=False)
    if times == "differ":
        return None  # every verdict below needs capture times that do not disagree (spares the rotations)
    deg, d = best_rotation(a.look, b.look)
    if deg and d <= near and _same_aspect(a, b, turned=deg in (90, 270)) and times != "differ":
        return Verdict("edit", d, deg, f"the same picture turned {deg} degrees")
    if d0 <= near and _same_aspect(a, b) and times != "differ":
        return Verdict("edit", d0, 0, "the same picture with other tones or colours")
    if times == "same" and min(d0, d) <= EDIT_DISTANCE:
        return Verdict("edit", min(d0, d), deg if d < d0 else 0, "the same shot (same capture time), edited or cropped")
    if times == "same" and _exact_time(a, b) and a.camera and a.camera == b.camera:
        # the same camera at the same millisecond is the same shot, however it was cropped
        return Verdict("edit", min(d0, d), 0, "the same shot (same camera, same capture time to the millisecond), "
                                              "cropped or edited")
    return None


def _exact_time(a: Face, b: Face) -> bool:
    return bool(a.taken and b.taken and _fraction(a.taken) is not None and _fraction(a.taken) == _fraction(b.taken))


def compare(a: Face, b: Face) -> int:
    """1 when ``a`` is the better original, -1 when ``b`` is, 0 when neither.
    More pixels first; then provenance (a copy that still says which camera
    took it, and when, beats an export of the same pixels that lost it); then a
    better service quality, and clearly more bytes (sizes within 3 % are equal:
    a caption changes a few bytes)."""
    ka = (a.pixels, a.camera is not None and a.taken is not None, -QUALITIES.index(a.quality))
    kb = (b.pixels, b.camera is not None and b.taken is not None, -QUALITIES.index(b.quality))
    if ka != kb:
        return 1 if ka > kb else -1
    sa, sb = a.size or 0, b.size or 0
    if abs(sa - sb) > 0.03 * max(sa, sb):
        return 1 if sa > sb else -1
    return 0


def merge_order(a: Photo, b: Photo) -> tuple[Photo, Photo]:
    """(the record that stays, the record merged into it): the better picture
    stays; between equals, the record that was there first."""
    fa, fb = canonical_face(a), canonical_face(b)
    order = compare(fa, fb) if fa is not None and fb is not None else (1 if fa is not None or fb is None else -1)
    if order == 0:
        order = 1 if (a.created_at, a.photo_id) <= (b.created_at, b.photo_id) else -1
    return (a, b) if order > 0 else (b, a)


def shared_items(a: Photo, b: Photo) -> set[str]:
    """service:item keys both records hold: one item whose bytes changed (a file
    saved again in place, a photo replaced on a service).  Such records are
    never merged: an item can be only one instance."""
    return {i.key for i in a.all_instances()} & {i.key for i in b.all_instances()}


def _alike(fa: Face, fb: Face) -> bool:
    """Could be copies of one photo: to the eye the same picture (same aspect,
    near-identical, same tone) and not two frames taken moments apart.  Dates
    far apart do not count against: they are a metadata question."""
    room = slack(fa.look, fb.look)  # an approximate signature: the wider net
    return (fa.look.informative and fb.look.informative and _same_aspect(fa, fb)
            and tone_distance(fa.look, fb.look) <= QUALITY_TONE + (APPROX_TONE if room else 0)
            and gradient_distance(fa.look, fb.look) <= QUALITY_DISTANCE + room
            and not _burst_apart(fa, fb))


def _sure(fa: Face, fb: Face) -> bool:
    """Could be merged by a policy: alike, and nothing that says otherwise (an approximate
    signature never is sure)."""
    return _alike(fa, fb) and _doubt(fa, fb) is None and not slack(fa.look, fb.look)


def looks_same(photo: Photo, other: Photo) -> bool:
    """Some picture of one could be a copy of some picture of the other."""
    return any(_alike(fa, fb) for fa in faces(photo) for fb in faces(other))


def _strength(v: Verdict) -> tuple:
    """How strongly a verdict says "one photo": quality over edit, sure over unsure, nearer first."""
    return (v.kind == "quality", v.certain, -v.distance)


def judge(photo: Photo, other: Photo) -> Verdict | None:
    """The verdict on two records: each picture of one against each of the
    other's (a record may already hold merged variants); quality wins over edit.
    Records that hold the same item are at most edit variants (never merged)."""
    found: Verdict | None = None
    every_pair_alike = True
    for fa in faces(photo):
        for fb in faces(other):
            every_pair_alike = every_pair_alike and _sure(fa, fb)
            v = classify(fa, fb)
            if v is not None and (found is None or _strength(v) > _strength(found)):
                found = v
    if found is not None and shared_items(photo, other):
        return Verdict("edit", found.distance, found.rotation, "the same item with other bytes (saved again or replaced)")
    if found is not None and found.kind == "quality" and found.certain and not every_pair_alike:
        # one copy matches, another does not (an edit merged by a person, a copy between two
        # frames): merging would join pictures that differ
        return dataclasses.replace(found, certain=False, why=found.why + " (but other copies differ)")
    return found


def rate(face: Face, canonical: Face, distance: float) -> str:
    """A merged copy's quality measured against the canonical copy."""
    if not face.pixels or not canonical.pixels:
        return _at_most(face.quality, "high")
    ratio = face.pixels / canonical.pixels
    if ratio >= 0.98:
        same_bytes_size = face.size and canonical.size and face.size >= 0.95 * canonical.size
        return face.quality if distance == 0 and same_bytes_size else _at_most(face.quality, "high")
    if ratio >= 0.25:
        return _at_most(face.quality, "medium")
    return _at_most(face.quality, "low")


def _at_most(q: str, cap: str) -> str:
    return q if QUALITIES.index(q) >= QUALITIES.index(cap) else cap


# -- conflicts ---------------------------------------------------------------------------

def conflict_id(kind: str, other_id: str) -> str:
    return f"{kind}_variant:{other_id}"


def variant_conflict(photo: Photo, other: Photo, verdict: Verdict, required: bool = True) -> Conflict:
    other_label = other.metadata.filename or other.photo_id[:8]
    if verdict.kind == "quality":
        desc = f"{verdict.why}: {other_label} ({other.photo_id[:8]})"
    else:
        desc = f"an edit of the same photo: {other_label} ({other.photo_id[:8]}), {verdict.why}"
    return Conflict(
        id=conflict_id(verdict.kind, other.photo_id),
        type=f"{verdict.kind}_variant",
        description=desc,
        services=tuple(sorted(photo.instances)),  # this record's: it changes only when the record does
        resolution_required=required,
        related_photos=(other.photo_id,),
    )


# -- merging -----------------------------------------------------------------------------

def merge(a: Photo, b: Photo, *, now: str, how: str, policy: str | None,
          keep: str | None = None) -> tuple[Photo, str]:
    """Merge two records of one picture.  Returns (the merged photo, the id of
    the record that goes away).  The record whose picture is the better
    original survives; every instance of both is kept, the other's rated
    against the canonical copy; the narrower canonical visibility wins; blob
    copies of bytes that stop being canonical are kept as superseded_blobs."""
    if shared_items(a, b):
        raise ValueError(f"{a.photo_id} and {b.photo_id} hold the same item; they are not merged")
    kept: Photo  # the record that stays (keep names it when a person chose)
    if keep is not None and keep in (a.photo_id, b.photo_id):  # a person chose the original
        kept, gone = (a, b) if keep == a.photo_id else (b, a)
    else:
        kept, gone = merge_order(a, b)
    top = canonical_face(kept)
    photo = kept
    for inst in gone.all_instances():
        photo = with_instance(photo, inst)
    if top is not None:
        rated = []
        for inst in photo.all_instances():
            if inst.content_hash == kept.content_hash:
                rated.append(inst)
                continue
            f = _face(inst)
            q = rate(f, top, gradient_distance(f.look, top.look)) if f else _at_most(inst.quality, "high")
            rated.append(dataclasses.replace(inst, quality=q))
        for inst in rated:
            photo = with_instance(photo, inst)
    md = photo.metadata
    fill = {f: getattr(gone.metadata, f) for f in ("taken_date", "taken_date_source", "filename", "location",
                                                   "caption", "camera_info")
            if md.is_missing(f) and not gone.metadata.is_missing(f)}
    if not md.tags and gone.metadata.tags:
        fill["tags"] = gone.metadata.tags
    if fill:
        photo = photo.replace(metadata=dataclasses.replace(md, **fill))
    superseded = [*kept.superseded_blobs, *gone.superseded_blobs]
    superseded += [SupersededBlob(c.store, c.locator, c.size, c.verified_at, gone.content_hash, c.problem)
                   for c in gone.blobs.values()]
    pair = {kept.photo_id, gone.photo_id}
    conflicts = [c for c in (*kept.conflicts, *gone.conflicts)
                 if not (c.type.endswith("_variant") and set(c.related_photos) & pair)]
    res = Resolution(
        conflict_id=conflict_id("quality", gone.photo_id),
        how=how,
        at=now,
        policy=policy,
        choice="merge",
        value={"merged": gone.photo_id, "content_hash": gone.content_hash, "canonical": kept.canonical_source},
    )
    level, friends_audience = vis.merged(kept.visibility, gone.visibility)
    photo = photo.replace(
        conflicts=tuple(dict((c.id, c) for c in conflicts).values()),
        resolutions=(*kept.resolutions, *gone.resolutions, res),
        superseded_blobs=tuple(superseded),
        created_at=min(kept.created_at, gone.created_at),
        processing_state="discovered",
        visibility=Visibility(level, photo.visibility.per_service, (), friends_audience),
    )
    return vis.refresh(photo), gone.photo_id


def aliases(photo: Photo) -> set[str]:
    """This record's id and the ids of every record merged into it (decisions
    taken about those still hold for the merged record)."""
    out = {photo.photo_id}
    for r in photo.resolutions:
        if r.choice == "merge" and isinstance(r.value, dict) and r.value.get("merged"):
            out.add(r.value["merged"])
    return out


def decision(photo: Photo, other: Photo) -> str | None:
    """What a person chose for this pair (or for records since merged into
    them), whatever kind of variant it looked like then: a later merge can turn
    an edit into a quality match, and must not undo the answer."""
    for a, b in ((photo, other), (other, photo)):
        names = aliases(b)
        for r in a.resolutions:
            kind, _, target = r.conflict_id.partition(":")
            # motion_variant: a motion video linked to its still (resolve's _link_motion), never judged as a variant
            if kind in ("quality_variant", "edit_variant", "motion_variant") and target in names and r.choice != "merge":
                return r.choice or "decided"
    return None


def decided(photo: Photo, other: Photo) -> bool:
    return decision(photo, other) is not None


def outranks(a: Photo, b: Photo) -> bool:
    """``a`` would stay if the two were merged (the better picture, or the older record)."""
    return merge_order(a, b)[0] is a


def ordered(conflicts) -> tuple[Conflict, ...]:
    """One conflict per id, in a stable order (type, then id): re-detecting
    the same conflicts must write the same record."""
    from ..model import CONFLICT_TYPES

    unique = dict((c.id, c) for c in conflicts)
    return tuple(sorted(unique.values(), key=lambda c: (CONFLICT_TYPES.index(c.type)
                                                        if c.type in CONFLICT_TYPES else 99, c.id)))


def forget(photo: Photo, gone_id: str) -> Photo:
    """Drop variant conflicts that name a record merged away (the survivor is
    judged afresh)."""
    kept = tuple(c for c in photo.conflicts if not (c.type.endswith("_variant") and gone_id in c.related_photos))
    return photo if kept == photo.conflicts else photo.replace(conflicts=kept)
