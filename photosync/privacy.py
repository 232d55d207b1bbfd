"""The privacy model's arithmetic, in one place (below the library and the
conflicts, which both use it: the library narrows back a widening made outside
photosync, conflicts and phases decide and fix).

Canonical levels are private < friends < public.  Automatic code may only keep
or narrow a photo's canonical visibility; widening is the explicit
``visibility set`` (or ``visibility adopt``) command.  A discrepancy is a
service showing a photo to another audience than the one it may show.

Where a service has finer states than the levels (Flickr: friends only, family
only, friends and family), they are *audiences* (model.AUDIENCE_GROUPS): sets of
people in a partial order.  The audience a service may show is
:func:`allowed_audience`: private and public are what they say; "friends" is
the photo's own ``friends_audience`` when a person chose one, else the service's
``friends_audience`` setting, else friends only (the narrowest that fits).
Whether a service shows too much, and what a fix may set, are decided on that
order: a fix sets the *meet* of what is shown and what is allowed, which is never
wider than either (family-only with friends allowed becomes private, never
friends and family).
"""

from __future__ import annotations

from typing import Mapping

from .model import (
    AUDIENCE_GROUPS, FRIENDS_AUDIENCES, Discrepancy, Instance, Photo, Visibility, narrowest, visibility_rank,
    within,
)

#: what canonical "friends" means on a service with finer states when nobody said otherwise
DEFAULT_FRIENDS_AUDIENCE = "friends"
_BY_GROUPS = {groups: name for name, groups in AUDIENCE_GROUPS.items()}


def _name(groups: frozenset) -> str:
    if "everyone" in groups:
        return "public"
    return _BY_GROUPS[frozenset(groups)]


def meet(a: str, b: str) -> str:
    """The widest audience within both (who sees it under ``a`` *and* ``b``)."""
    return _name(AUDIENCE_GROUPS[a] & AUDIENCE_GROUPS[b])


def join(a: str, b: str) -> str:
    """The narrowest audience that holds both."""
    return _name(AUDIENCE_GROUPS[a] | AUDIENCE_GROUPS[b])


def level_of(audience: str) -> str:
    """The canonical level an audience falls in."""
    if audience in ("private", "public"):
        return audience
    return "friends"


def audience_of(canonical: str, friends_audience: str | None = None) -> str:
    """The audience a record's canonical level and "friends" audience stand for (an unstated
    "friends" audience counts as friends only, the narrowest default), for comparing two versions
    of one record: a change of the "friends" audience alone (family only -> friends and family)
    widens as much as a change of the level."""
    if canonical != "friends":
        return canonical
    return friends_audience if friends_audience in FRIENDS_AUDIENCES else DEFAULT_FRIENDS_AUDIENCE


def from_audience(audience: str) -> tuple[str, str | None]:
    """The canonical level and "friends" audience of an audience (audience_of's inverse)."""
    level = level_of(audience)
    return level, (audience if level == "friends" else None)


def level_text(canonical: str, friends_audience: str | None = None) -> str:
    """A level as the index keeps an older one ("friends/family": the "friends" audience after
    the slash; a bare level for the others and for index rows written before it was kept)."""
    return f"{canonical}/{friends_audience}" if canonical == "friends" and friends_audience else canonical


def parse_level_text(text: str) -> tuple[str, str | None]:
    level, _, fa = text.partition("/")
    return level, (fa or None)


def audience_settings(services: Mapping[str, dict]) -> dict[str, str]:
    """service name -> its ``friends_audience`` setting (services that have one)."""
    return {name: str(conf["friends_audience"]) for name, conf in services.items()
            if isinstance(conf, dict) and conf.get("friends_audience") in FRIENDS_AUDIENCES}


def allowed_audience(canonical: str, friends_audience: str | None = None, setting: str | None = None) -> str:
    """The widest audience a service with finer states may show a photo at this
    canonical level: the photo's own choice for "friends", else the service's
    setting, else friends only."""
    if canonical != "friends":
        return canonical
    return friends_audience or setting or DEFAULT_FRIENDS_AUDIENCE


def instance_audience(inst: Instance) -> str | None:
    """The audience an instance is shown to; None when it is "friends" on a service
    that did not say which friends (no finer states, or a record from before they were kept)."""
    if inst.visibility in ("private", "public"):
        return inst.visibility
    if inst.visibility == "friends" and inst.audience in FRIENDS_AUDIENCES:
        return inst.audience
    return None


def observed(photo: Photo) -> dict[str, tuple[str, str | None]]:
    """service -> (level, audience or None) of its present instances: the widest
    (the copy that exposes the photo most); the audience is None when a copy shown
    to friends did not say which."""
    out: dict[str, tuple[str, str | None]] = {}
    for service, insts in photo.instances.items():
        shown = [i for i in insts if i.visibility and i.missing_since is None]
        if not shown:
            continue
        level = max((i.visibility for i in shown if i.visibility), key=visibility_rank)
        audiences = [instance_audience(i) for i in shown]
        audience: str | None
        if level == "public":
            audience = "public"
        elif any(a is None for a in audiences):
            audience = None
        else:
            audience = "private"
            for a in audiences:
                audience = join(audience, a)  # type: ignore[arg-type]  # no a is None: the branch above
        out[service] = (level, audience)
    return dict(sorted(out.items()))


def observed_levels(photo: Photo) -> dict[str, str]:
    """Each service's level for this photo: the widest of its present instances."""
    return {service: level for service, (level, _a) in observed(photo).items()}


def refresh(photo: Photo, settings: Mapping[str, str] | None = None) -> Photo:
    """Recompute per_service and discrepancies from the instances (canonical unchanged).
    ``settings``: each service's ``friends_audience`` (audience_settings)."""
    settings = settings or {}
    canonical = photo.visibility.canonical
    fa = photo.visibility.friends_audience if canonical == "friends" else None
    found = observed(photo)
    out = []
    for service, (level, audience) in found.items():
        if audience is None:  # "friends" without the finer state: only the levels can be compared
            if level != canonical:
                out.append(Discrepancy(service, level, canonical))
            continue
        allowed = allowed_audience(canonical, fa, settings.get(service))
        if audience == allowed:
            continue
        if (audience, allowed) == (level, canonical):  # the levels say it all
            out.append(Discrepancy(service, level, canonical))
        else:
            out.append(Discrepancy(service, level, canonical, audience, allowed))
    discrepancies = tuple(sorted(out, key=lambda d: (not d.wider, d.service)))
    vis = Visibility(canonical=canonical, per_service={s: lv for s, (lv, _a) in found.items()},
                     discrepancies=discrepancies, friends_audience=fa)
    return photo if vis == photo.visibility else photo.replace(visibility=vis)


def initial(default_visibility: str, level: str | None, audience: str | None = None) -> tuple[str, str | None]:
    """A new photo's canonical level and finer "friends" audience: the narrowest of the
    configured default and what the service shows (privacy fails closed).  A finer state
    the service shows inside "friends" is kept as the photo's choice, so a later fix
    does not narrow what the person shared there."""
    canonical = narrowest([default_visibility, level or default_visibility])
    if canonical == "friends" and level == "friends" and audience in FRIENDS_AUDIENCES:
        return canonical, audience
    return canonical, None


def narrow_to(photo: Photo, level: str, settings: Mapping[str, str] | None = None) -> Photo:
    """Set canonical to ``level`` only if that narrows it (never widens)."""
    if visibility_rank(level) >= visibility_rank(photo.visibility.canonical):
        return photo
    return refresh(photo.replace(visibility=Visibility(level, photo.visibility.per_service, ())), settings)


def set_canonical(photo: Photo, level: str, friends_audience: str | None = None,
                  settings: Mapping[str, str] | None = None) -> Photo:
    """The explicit change (``photosync visibility set`` / ``adopt``): the only path
    that may widen."""
    fa = friends_audience if level == "friends" else None
    return refresh(photo.replace(visibility=Visibility(level, photo.visibility.per_service, (), fa)), settings)


def adopted(photo: Photo, service: str) -> tuple[str, str | None] | None:
    """The canonical level and "friends" audience ``visibility adopt`` takes from how
    ``service`` shows the photo: the narrowest of its present copies there (None: the
    service shows no level for it)."""
    shown = [i for i in photo.instances.get(service, ()) if i.visibility and i.missing_since is None]
    if not shown:
        return None
    audiences = [instance_audience(i) for i in shown]
    if any(a is None for a in audiences):  # a copy shown to unnamed friends: only the level is known
        return narrowest([i.visibility for i in shown]), None
    audience = "public"
    for a in audiences:
        audience = meet(audience, a)  # type: ignore[arg-type]
    return level_of(audience), (audience if audience in FRIENDS_AUDIENCES else None)


def merged(a: Visibility, b: Visibility) -> tuple[str, str | None]:
    """Canonical level and "friends" audience of two records merged into one: the
    narrower wins; two different "friends" audiences meet (an unstated one counts as
    friends only, the narrowest default, so the result is never wider than either)."""
    level = narrowest([a.canonical, b.canonical])
    if level != "friends":
        return level, None
    fas = [v.friends_audience for v in (a, b) if v.canonical == "friends"]
    if all(fa == fas[0] for fa in fas):
        return level, fas[0]
    audience = DEFAULT_FRIENDS_AUDIENCE if fas[0] is None else fas[0]
    for fa in fas[1:]:
        audience = meet(audience, fa or DEFAULT_FRIENDS_AUDIENCE)
    return ("private", None) if audience == "private" else ("friends", audience)


def upload_level(canonical: str, levels: tuple[str, ...]) -> str | None:
    """The widest level a service has that is not wider than ``canonical``
    (None: the service cannot show it that narrowly)."""
    ok = [lv for lv in levels if visibility_rank(lv) <= visibility_rank(canonical)]
    return max(ok, key=visibility_rank) if ok else None


def target_audience(allowed: str, audiences: tuple[str, ...]) -> str | None:
    """The audience to give a service that has ``audiences``: the widest of them
    within ``allowed`` (None: none is within it)."""
    ok = [a for a in audiences if within(a, allowed)]
    for a in ok:
        if all(within(b, a) for b in ok):
            return a
    return "private" if "private" in ok else None


def fix_audience(shown: str, allowed: str) -> str:
    """What a fix sets on a service that shows ``shown`` where ``allowed`` is the most it
    may show: ``shown`` itself when it is within ``allowed`` (never widened), else the
    meet of the two (never wider than either)."""
    return shown if within(shown, allowed) else meet(shown, allowed)
