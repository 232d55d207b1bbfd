"""The privacy model's arithmetic, in one place.

Canonical levels are private < friends < public.  Automatic code may only keep
or narrow a photo's canonical visibility; widening is the explicit
``visibility set`` command (issue 3).  A discrepancy is a service showing a
photo at another level than the canonical one.
"""

from __future__ import annotations

from ..model import Discrepancy, Photo, Visibility, narrowest, visibility_rank


def observed_levels(photo: Photo) -> dict[str, str]:
    """Each service's level for this photo: the widest of its present instances
    (the widest copy is the one that exposes the photo)."""
    out: dict[str, str] = {}
    for service, insts in photo.instances.items():
        levels = [i.visibility for i in insts if i.visibility and i.missing_since is None]
        if levels:
            out[service] = max(levels, key=visibility_rank)
    return dict(sorted(out.items()))


def refresh(photo: Photo) -> Photo:
    """Recompute per_service and discrepancies from the instances (canonical unchanged)."""
    per_service = observed_levels(photo)
    canonical = photo.visibility.canonical
    discrepancies = tuple(
        Discrepancy(service, level, canonical) for service, level in per_service.items() if level != canonical
    )
    discrepancies = tuple(sorted(discrepancies, key=lambda d: (not d.wider, d.service)))
    vis = Visibility(canonical=canonical, per_service=per_service, discrepancies=discrepancies)
    return photo if vis == photo.visibility else photo.replace(visibility=vis)


def initial_level(default_visibility: str, observed: str | None) -> str:
    """A new photo's canonical level: the narrowest of the configured default and
    what the service shows (privacy fails closed)."""
    return narrowest([default_visibility, observed or default_visibility])


def narrow_to(photo: Photo, level: str) -> Photo:
    """Set canonical to ``level`` only if that narrows it (never widens)."""
    if visibility_rank(level) >= visibility_rank(photo.visibility.canonical):
        return photo
    return refresh(photo.replace(visibility=Visibility(level, photo.visibility.per_service, ())))


def set_canonical(photo: Photo, level: str) -> Photo:
    """The explicit change (``photosync visibility set``): the only path that may widen."""
    return refresh(photo.replace(visibility=Visibility(level, photo.visibility.per_service, ())))


def upload_level(canonical: str, levels: tuple[str, ...]) -> str | None:
    """The widest level a service has that is not wider than ``canonical``
    (None: the service cannot show it that narrowly)."""
    ok = [lv for lv in levels if visibility_rank(lv) <= visibility_rank(canonical)]
    return max(ok, key=visibility_rank) if ok else None
