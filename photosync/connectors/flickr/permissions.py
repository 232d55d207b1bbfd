"""Who sees a photo on Flickr now, and narrowing it (``audit --visibility-check --fix``):
asked of Flickr before anything is changed, never widened, the location's own permissions
narrowed with the photo."""

from __future__ import annotations

from ... import privacy as vis
from ...errors import PhotosyncError
from ...events import Tally
from ...model import AUDIENCE_GROUPS
from .client import FlickrClient
from .mapping import audience_of, flags_for, geo_groups


def shown_audience(client: FlickrClient, item_id: str) -> str:
    """The audience Flickr shows the photo to now (asked, not taken from the record)."""
    info = client.call("flickr.photos.getInfo", photo_id=item_id)["photo"]
    return audience_of(info.get("visibility") or {})


def set_visibility(client: FlickrClient, report: Tally, where: str, item_id: str, level: str) -> str:
    """Narrow the photo so that nobody outside ``level`` (an audience; a level name is
    the audience of that name, "friends" being friends only) sees it, asking Flickr
    first how it shows it now.  What is set is the meet of the two, never wider than
    either: family-only with friends allowed becomes private, never friends and
    family.  A located photo's geo permissions are narrowed the same way.  Returns the
    audience Flickr shows afterwards."""
    info = client.call("flickr.photos.getInfo", photo_id=item_id)["photo"]
    now = audience_of(info.get("visibility") or {})
    new = vis.fix_audience(now, level)
    if new == now:
        return now
    flags = flags_for(new)
    client.call("flickr.photos.setPerms", photo_id=item_id, is_public=flags["is_public"],
                is_friend=flags["is_friend"], is_family=flags["is_family"])
    if info.get("location"):
        try:
            narrow_geo(client, item_id, info.get("geoperms"), new)
        except PhotosyncError as e:
            report.warning(where, f"narrowed to {new}, but its location's permissions were not: {e}")
    return new


def narrow_geo(client: FlickrClient, item_id: str, geoperms: dict | None, audience: str) -> None:
    """Who may see the photo's location: no one outside ``audience`` (never widened)."""
    if not geoperms:
        geoperms = client.call("flickr.photos.geo.getPerms", photo_id=item_id)["perms"]
    now = geo_groups(geoperms)
    keep = now & AUDIENCE_GROUPS[audience]
    if keep == now:
        return
    client.call("flickr.photos.geo.setPerms", photo_id=item_id, is_public="1" if "everyone" in keep else "0",
                is_contact="0", is_friend="1" if "friends" in keep else "0",
                is_family="1" if "family" in keep else "0")
