"""The REST methods of the fake (flickr.com/services/api/<method>.html).

Each method takes (fake, ctx, params) and returns the payload without "stat",
or raises ApiError; the caller holds the fake's lock.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from .photo import (
    GRANULARITIES, SIZES, VIDEO_RENDITIONS, FakePhoto, clean_tag, hexdigest, machine_tag_matches, original_url,
    page_url, parse_machine_tag_query, rendition_dims, size_allowed, size_dims, size_url, video_url,
)

READ, WRITE, DELETE = 1, 2, 3
PERM_NAMES = {0: "none", READ: "read", WRITE: "write", DELETE: "delete"}
PERM_LEVEL = {"read": READ, "write": WRITE, "delete": DELETE}

#: the search cap: "Flickr will return at most the first 4,000 results for any given search query"
#: (flickr.com/services/api/flickr.photos.search.html; ../shared/SERVICES.md "Listing")
SEARCH_CAP = 4000
#: per_page: default 100, at most 500 (flickr.photos.search.html "per_page")
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 500


class ApiError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Ctx:
    authed: bool = False      # a valid access token of the account's owner
    perms: int = 0
    token: str | None = None


# -- small helpers ---------------------------------------------------------------------------------

def _int(v, default=None):
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return default


def _flag(v) -> int:
    return 1 if _int(v, 0) else 0


def _per_page(params, default=DEFAULT_PER_PAGE) -> int:
    n = _int(params.get("per_page"), default)
    if n is None or n < 1:
        return default
    return min(n, MAX_PER_PAGE)  # larger values are clamped, not refused (flickr.photos.search.html)


def _page(params) -> int:
    n = _int(params.get("page"), 1)
    return n if n and n >= 1 else 1


def _ts(value) -> int | None:
    """A date argument: unix timestamp or MySQL datetime (flickr.photos.search.html
    "min_upload_date": "The date can be in the form of a unix timestamp or mysql datetime")."""
    if value is None or str(value).strip() == "":
        return None
    s = str(value).strip()
    if s.lstrip("-").isdigit():
        return int(s)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(s, fmt).replace(tzinfo=timezone.utc).timestamp())
        except ValueError:
            pass
    return None


def _taken_bound(value) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    s = str(value).strip()
    if s.isdigit():
        return datetime.fromtimestamp(int(s), timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(s, fmt).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            pass
    return None


def _privacy_ok(p: FakePhoto, level: int | None) -> bool:
    # privacy_filter: 1 public, 2 private visible to friends, 3 to family, 4 to friends & family,
    # 5 completely private (flickr.photos.search.html "privacy_filter")
    if not level:
        return True
    combo = (p.ispublic, p.isfriend, p.isfamily)
    if level == 1:
        return p.ispublic == 1
    return not p.ispublic and {2: (0, 1, 0), 3: (0, 0, 1), 4: (0, 1, 1), 5: (0, 0, 0)}.get(level) == combo


def _visible(fake, ctx: Ctx, p: FakePhoto) -> bool:
    # "Unauthenticated calls will only return public photos" (flickr.photos.search.html)
    return ctx.authed or p.ispublic == 1


def _photo(fake, ctx: Ctx, params, key="photo_id", code=1, message="Photo not found") -> FakePhoto:
    p = fake.photos.get(str(params.get(key, "")).strip())
    if p is None or not _visible(fake, ctx, p):
        raise ApiError(code, message)
    return p


def _own_photo(fake, ctx, params, key="photo_id", code=1, message="Photo not found") -> FakePhoto:
    p = fake.photos.get(str(params.get(key, "")).strip())
    if p is None:
        raise ApiError(code, message)
    return p


def _paginate(items: list, page: int, per_page: int, cap: int | None):
    """(slice, total, pages). Past the cap (or the end) a page repeats the last page that
    can be reached (flickr.photos.search.html: at most the first 4,000 results;
    SERVICES.md: "later pages repeat")."""
    total = len(items)
    pages = math.ceil(total / per_page) if total else 0
    reachable = items[:cap] if cap is not None else items
    last = max(1, math.ceil(len(reachable) / per_page))
    eff = min(page, last)
    return reachable[(eff - 1) * per_page: eff * per_page], total, pages


# -- photo entries (the "extras") --------------------------------------------------------------------

def _geo_public(p: FakePhoto) -> bool:
    return bool(p.geo_perms and p.geo_perms[0])


def entry(fake, p: FakePhoto, extras: set, *, owner=True, set_primary: str | None = None,
          viewer_authed: bool = True) -> dict:
    """One photo as photos.search / people.getPhotos / recentlyUpdated / photosets.getPhotos list it.

    Types copied from Flickr's JSON (SERVICES.md: "numbers sometimes strings and sometimes ints"):
    farm, ispublic, isfriend, isfamily, width_X/height_X are numbers; dateupload, lastupdate,
    datetakengranularity, datetakenunknown, o_width/o_height, license, views are strings;
    latitude/longitude/accuracy are strings when the photo has a location and the number 0 when not.
    """
    e: dict = {"id": p.id}
    if owner:
        e["owner"] = fake.user_nsid
    e.update({"secret": p.secret, "server": p.server, "farm": p.farm, "title": p.title})
    if set_primary is not None:
        e["isprimary"] = "1" if p.id == set_primary else "0"
    e.update({"ispublic": p.ispublic, "isfriend": p.isfriend, "isfamily": p.isfamily})
    pro = fake.pro
    if "license" in extras:
        e["license"] = str(p.license)
    if "description" in extras:
        e["description"] = {"_content": p.description}  # text nodes as {"_content": ...}
    if "original_format" in extras and pro:
        # free accounts get no originals since 2025-05-15 (SERVICES.md "Originals")
        e["originalsecret"] = p.originalsecret
        e["originalformat"] = p.originalformat
    if "date_upload" in extras:
        e["dateupload"] = str(p.dateupload)
    if "date_taken" in extras:
        e["datetaken"] = p.datetaken
        e["datetakengranularity"] = str(p.granularity)
        e["datetakenunknown"] = str(p.datetakenunknown)
    if "last_update" in extras:
        e["lastupdate"] = str(p.lastupdate)
    if "owner_name" in extras:
        e["ownername"] = fake.username
    if "icon_server" in extras:
        e["iconserver"], e["iconfarm"] = "0", 0
    if "geo" in extras:
        if p.has_geo and (viewer_authed or _geo_public(p)):
            e["latitude"] = f"{p.lat:.6f}".rstrip("0").rstrip(".")
            e["longitude"] = f"{p.lon:.6f}".rstrip("0").rstrip(".")
            e["accuracy"] = str(p.accuracy or 16)
            e["context"] = 0
            # the location's own permissions (flickr.photos.geo.getPerms), as the "geo" extra gives them
            pub, contact, friend, family = p.geo_perms or (0, 0, 0, 0)
            e["geo_is_public"], e["geo_is_contact"], e["geo_is_friend"], e["geo_is_family"] = pub, contact, friend, family
        else:
            e["latitude"], e["longitude"], e["accuracy"], e["context"] = 0, 0, 0, 0
    if "tags" in extras:
        # the clean forms, machine tags included (misc.tags.html)
        e["tags"] = " ".join(clean_tag(t) for t in p.all_tags())
    if "machine_tags" in extras:
        e["machine_tags"] = " ".join(clean_tag(t) for t in p.machine_tags)
    if "o_dims" in extras:
        e["o_width"], e["o_height"] = str(p.o_width), str(p.o_height)
    if "views" in extras:
        e["views"] = str(p.views)
    if "media" in extras:
        e["media"] = p.media
        e["media_status"] = "ready"
    if "path_alias" in extras:
        e["pathalias"] = None
    host = fake.photo_host
    for s in SIZES:
        if f"url_{s.extra}" not in extras:
            continue
        dims = size_dims(p, s)
        if dims is None or not size_allowed(s, pro):
            continue
        e[f"url_{s.extra}"] = size_url(host, p, s)
        e[f"height_{s.extra}"], e[f"width_{s.extra}"] = dims[1], dims[0]
    if "url_o" in extras and pro:
        e["url_o"] = original_url(host, p)
        e["height_o"], e["width_o"] = p.o_height, p.o_width
    return e


def _extras(params) -> set:
    return {x.strip().lower() for x in str(params.get("extras", "")).split(",") if x.strip()}


# -- listing ------------------------------------------------------------------------------------------

SEARCH_LIMITERS = ("user_id", "tags", "text", "min_upload_date", "max_upload_date", "min_taken_date",
                   "max_taken_date", "machine_tags", "bbox", "lat", "lon", "group_id", "place_id", "woe_id",
                   "contacts", "camera", "license", "has_geo", "is_commons", "in_gallery", "is_getty")

SORTS = ("date-posted-asc", "date-posted-desc", "date-taken-asc", "date-taken-desc")


def _sorted(photos: list, sort: str) -> list:
    if sort not in SORTS:
        sort = "date-posted-desc"  # the default (flickr.photos.search.html "sort")
    if sort.startswith("date-posted"):
        key = lambda p: (p.dateupload, int(p.id) if p.id.isdigit() else 0)  # noqa: E731
    else:
        key = lambda p: (p.datetaken, int(p.id) if p.id.isdigit() else 0)  # noqa: E731
    return sorted(photos, key=key, reverse=sort.endswith("desc"))


def _select(fake, ctx: Ctx, params, *, search: bool) -> list:
    user_id = str(params.get("user_id", "")).strip()
    if user_id:
        if user_id == "me":
            # "me" means the calling user of an authenticated call (flickr.photos.search.html "user_id")
            if not ctx.authed:
                raise ApiError(2, "Unknown user")
        elif user_id != fake.user_nsid:
            raise ApiError(2, "Unknown user")
    elif search and not any(str(params.get(k, "")).strip() for k in SEARCH_LIMITERS):
        raise ApiError(3, "Parameterless searches have been disabled. Please use flickr.photos.getRecent instead.")
    elif not search:
        raise ApiError(2, "Unknown user")

    min_up, max_up = _ts(params.get("min_upload_date")), _ts(params.get("max_upload_date"))
    min_tk, max_tk = _taken_bound(params.get("min_taken_date")), _taken_bound(params.get("max_taken_date"))
    privacy = _int(params.get("privacy_filter"), None) if ctx.authed else None
    media = str(params.get("media", "all")).lower()
    tags = [clean_tag(t) for t in str(params.get("tags", "")).split(",") if t.strip()]
    tag_all = str(params.get("tag_mode", "any")).lower() == "all"
    text = str(params.get("text", "")).strip().lower()
    mts = [parse_machine_tag_query(q) for q in str(params.get("machine_tags", "")).split(",") if q.strip()]
    mt_all = str(params.get("machine_tag_mode", "any")).lower() == "all"
    has_geo = params.get("has_geo")
    public_search = not user_id  # hidden=2 keeps a photo out of public searches (upload.api.html "hidden")

    out = []
    for p in fake.photos.values():
        if not ctx.authed and p.ispublic != 1:
            continue
        if public_search and not ctx.authed and p.hidden == 2:
            continue
        # min_upload_date / max_upload_date: "greater than or equal" / "less than or equal" (search docs)
        if min_up is not None and p.dateupload < min_up:
            continue
        if max_up is not None and p.dateupload > max_up:
            continue
        if min_tk is not None and p.datetaken < min_tk:
            continue
        if max_tk is not None and p.datetaken > max_tk:
            continue
        if privacy and not _privacy_ok(p, privacy):
            continue
        if media == "photos" and p.media != "photo":
            continue
        if media == "videos" and p.media != "video":
            continue
        if has_geo is not None and str(has_geo).strip() != "" and bool(_flag(has_geo)) != p.has_geo:
            continue
        if tags:
            mine = {clean_tag(t) for t in p.all_tags()}
            if (tag_all and not all(t in mine for t in tags)) or (not tag_all and not any(t in mine for t in tags)):
                continue
        if text:
            hay = " ".join([p.title, p.description] + p.all_tags()).lower()
            if text not in hay:
                continue
        if mts:
            hits = [machine_tag_matches(q, p.machine_tags) for q in mts]
            if (mt_all and not all(hits)) or (not mt_all and not any(hits)):
                continue
        out.append(p)
    return out


def _listing(fake, ctx, params, items, *, cap, total_as_str, key="photos", default_per_page=DEFAULT_PER_PAGE):
    per_page = _per_page(params, default_per_page)
    page = _page(params)
    chunk, total, pages = _paginate(items, page, per_page, cap)
    extras = _extras(params)
    return {key: {"page": page, "pages": pages, "perpage": per_page,
                  # search's total comes as a string ("total":"121528", SERVICES.md "JSON")
                  "total": str(total) if total_as_str else total,
                  "photo": [entry(fake, p, extras, viewer_authed=ctx.authed) for p in chunk]}}


def photos_search(fake, ctx, params):
    fake.search_calls += 1
    # a new upload is not in the search index yet (FakeFlickr.lag_search)
    items = _sorted([p for p in _select(fake, ctx, params, search=True) if fake._indexed(p)],
                    str(params.get("sort", "")))
    return _listing(fake, ctx, params, items, cap=SEARCH_CAP, total_as_str=True)


def people_getPhotos(fake, ctx, params):
    items = _sorted(_select(fake, ctx, params, search=False), str(params.get("sort", "")))
    # the same 4,000 cap as photos.search: a conservative choice (README.md of this package)
    return _listing(fake, ctx, params, items, cap=SEARCH_CAP, total_as_str=False)


def photos_recentlyUpdated(fake, ctx, params):
    min_date = _ts(params.get("min_date"))
    if min_date is None:
        raise ApiError(1, "Required parameter missing")
    items = [p for p in fake.photos.values() if p.lastupdate >= min_date]
    items.sort(key=lambda p: (p.lastupdate, int(p.id) if p.id.isdigit() else 0))
    return _listing(fake, ctx, params, items, cap=None, total_as_str=False)


# -- one photo -----------------------------------------------------------------------------------------

def photos_getSizes(fake, ctx, params):
    p = _photo(fake, ctx, params)
    host, nsid, pro = fake.photo_host, fake.user_nsid, fake.pro
    sizes = []
    for s in SIZES:
        dims = size_dims(p, s)
        if dims is None or not size_allowed(s, pro):
            continue
        sizes.append({"label": s.label, "width": dims[0], "height": dims[1], "source": size_url(host, p, s),
                      "url": f"{page_url(nsid, p.id)}sizes/{s.page_code}/", "media": "photo"})
    if p.media == "photo" and pro:
        sizes.append({"label": "Original", "width": p.o_width, "height": p.o_height,
                      "source": original_url(host, p), "url": f"{page_url(nsid, p.id)}sizes/o/", "media": "photo"})
    if p.media == "video":
        # video entries (flickr.photos.getSizes.html): "Video Player" is the embeddable player (its
        # source is the old Flash player, not a file), then the MP4 renditions, then "Video Original"
        # for accounts that may have originals (SERVICES.md "Video originals")
        site = rendition_dims(p, 640) or (p.o_width, p.o_height)
        sizes.append({"label": "Video Player", "width": site[0], "height": site[1],
                      "source": f"{host}/apps/video/stewart.swf?v=2968162862&photo_id={p.id}&photo_secret={p.secret}",
                      "url": page_url(nsid, p.id), "media": "video"})
        for label, kind, width in VIDEO_RENDITIONS:
            dims = rendition_dims(p, width)
            if dims is None or (not pro and max(dims) > 1024):
                continue
            sizes.append({"label": label, "width": dims[0], "height": dims[1],
                          "source": video_url(host, nsid, p, kind), "url": page_url(nsid, p.id), "media": "video"})
        if pro:
            sizes.append({"label": "Video Original", "width": p.o_width, "height": p.o_height,
                          "source": video_url(host, nsid, p, "orig"), "url": page_url(nsid, p.id),
                          "media": "video"})
    return {"sizes": {"canblog": 0, "canprint": 0, "candownload": 1, "size": sizes}}


def photos_getInfo(fake, ctx, params):
    p = _photo(fake, ctx, params)
    nsid = fake.user_nsid
    info = {"id": p.id, "secret": p.secret, "server": p.server, "farm": p.farm,
            "dateuploaded": str(p.dateupload), "isfavorite": 0, "license": str(p.license),
            # uploads say safety_level 1 safe .. 3 restricted (upload.api.html) while getInfo says 0 .. 2
            # (flickr.photos.getInfo.html example: safety_level="0")
            "safety_level": str(max(0, p.safety_level - 1)), "rotation": 0}
    if fake.pro:
        info["originalsecret"] = p.originalsecret
        info["originalformat"] = p.originalformat
    info.update({
        "owner": {"nsid": nsid, "username": fake.username, "realname": fake.fullname, "location": "",
                  "iconserver": "0", "iconfarm": 0, "path_alias": None},
        "title": {"_content": p.title},
        "description": {"_content": p.description},
        "visibility": {"ispublic": p.ispublic, "isfriend": p.isfriend, "isfamily": p.isfamily},
        "dates": {"posted": str(p.dateupload), "taken": p.datetaken, "takengranularity": str(p.granularity),
                  "takenunknown": str(p.datetakenunknown), "lastupdate": str(p.lastupdate)},
        "views": str(p.views),
        "editability": {"cancomment": 1, "canaddmeta": 1},
        "publiceditability": {"cancomment": 1, "canaddmeta": 0},
        "usage": {"candownload": 1, "canblog": 0, "canprint": 0, "canshare": 1},
        "comments": {"_content": "0"},
        "notes": {"note": []},
        "people": {"haspeople": 0},
        "tags": {"tag": _tag_objects(fake, p)},
    })
    if p.has_geo and (ctx.authed or _geo_public(p)):
        # a location is shown to whom its geo permissions allow (flickr.photos.geo.setPerms); the owner
        # also gets those permissions (flickr.photos.getInfo's <geoperms>)
        info["location"] = {"latitude": f"{p.lat:.6f}".rstrip("0").rstrip("."),
                            "longitude": f"{p.lon:.6f}".rstrip("0").rstrip("."),
                            "accuracy": str(p.accuracy or 16), "context": "0"}
        if ctx.authed:
            pub, contact, friend, family = p.geo_perms or (0, 0, 0, 0)
            info["geoperms"] = {"ispublic": pub, "iscontact": contact, "isfriend": friend, "isfamily": family}
    info["urls"] = {"url": [{"type": "photopage", "_content": page_url(nsid, p.id)}]}
    info["media"] = p.media
    if p.media == "video":
        info["video"] = {"ready": 1, "failed": 0, "pending": 0, "duration": "3",
                         "width": p.o_width, "height": p.o_height}
    return {"photo": info}


def photos_setPerms(fake, ctx, params):
    p = _own_photo(fake, ctx, params)
    # is_public, is_friend, is_family are all required (flickr.photos.setPerms.html; SERVICES.md)
    if any(str(params.get(k, "")).strip() == "" for k in ("is_public", "is_friend", "is_family")):
        raise ApiError(2, "Required arguments missing")
    fake._set_perms(p, _flag(params["is_public"]), _flag(params["is_friend"]), _flag(params["is_family"]))
    # the documented answer is <photoid secret=".." originalsecret="..">id</photoid> (setPerms.html)
    return {"photoid": {"secret": p.secret, "originalsecret": p.originalsecret, "_content": p.id}}


def photos_setMeta(fake, ctx, params):
    p = _own_photo(fake, ctx, params)
    if "title" not in params and "description" not in params:
        raise ApiError(2, "Required arguments missing")
    fake._set_meta(p, params.get("title"), params.get("description"))
    return {}


def photos_setDates(fake, ctx, params):
    p = _own_photo(fake, ctx, params)
    taken = params.get("date_taken")
    gran = params.get("date_taken_granularity")
    posted = params.get("date_posted")
    if not taken and gran is None and not posted:
        raise ApiError(2, "Not enough arguments")  # flickr.photos.setDates.html errors
    new_taken = None
    if taken:
        new_taken = _taken_bound(taken) if not str(taken).strip().isdigit() else None
        if new_taken is None:
            raise ApiError(5, "Invalid Date Taken Format")
    new_gran = None
    if gran is not None and str(gran).strip() != "":
        new_gran = _int(gran, -1)
        if new_gran not in GRANULARITIES:
            raise ApiError(3, "Invalid granularity")
    new_posted = None
    if posted:
        new_posted = _ts(posted)
        if new_posted is None or new_posted > time.time() + 60:
            raise ApiError(4, "Invalid date_posted")
    fake._set_dates(p, new_taken, new_gran, new_posted)
    return {}


def photos_setTags(fake, ctx, params):
    p = _own_photo(fake, ctx, params)
    fake._set_tags(p, str(params.get("tags", "")), replace=True)
    return {}


def photos_addTags(fake, ctx, params):
    p = _own_photo(fake, ctx, params)
    if not str(params.get("tags", "")).strip():
        raise ApiError(2, "Required arguments missing")
    fake._set_tags(p, str(params.get("tags", "")), replace=False)
    return {}


def photos_geo_setLocation(fake, ctx, params):
    p = _own_photo(fake, ctx, params)
    if str(params.get("lat", "")).strip() == "" or str(params.get("lon", "")).strip() == "":
        raise ApiError(2, "Required arguments missing.")
    try:
        lat = float(params["lat"])
    except ValueError:
        raise ApiError(3, "Not a valid latitude.") from None
    try:
        lon = float(params["lon"])
    except ValueError:
        raise ApiError(4, "Not a valid longitude.") from None
    if not -90 <= lat <= 90:
        raise ApiError(3, "Not a valid latitude.")
    if not -180 <= lon <= 180:
        raise ApiError(4, "Not a valid longitude.")
    acc = _int(params.get("accuracy"), 16) if str(params.get("accuracy", "")).strip() else 16
    if acc is None or not 1 <= acc <= 16:
        raise ApiError(5, "Not a valid accuracy.")
    # "Anything more than 6 decimal places will be truncated" (flickr.photos.geo.setLocation.html)
    fake._set_location(p, math.trunc(lat * 1e6) / 1e6, math.trunc(lon * 1e6) / 1e6, acc)
    return {}


def photos_geo_setPerms(fake, ctx, params):
    # flickr.photos.geo.setPerms.html: photo_id, is_public, is_contact, is_friend, is_family, all
    # required (code 3); code 1 photo not found; code 2 "Photo has no location information"
    p = _own_photo(fake, ctx, params)
    flags = ("is_public", "is_contact", "is_friend", "is_family")
    if any(str(params.get(k, "")).strip() == "" for k in flags):
        raise ApiError(3, "Required arguments missing.")
    if not p.has_geo:
        raise ApiError(2, "Photo has no location information")
    fake._set_geo_perms(p, tuple(_flag(params[k]) for k in flags))
    return {}


def photos_geo_getPerms(fake, ctx, params):
    # flickr.photos.geo.getPerms.html: <perms id="10592" ispublic="0" iscontact="0" isfriend="0" isfamily="1" />
    p = _own_photo(fake, ctx, params)
    if not p.has_geo:
        raise ApiError(2, "Photo has no location information")
    pub, contact, friend, family = p.geo_perms or (0, 0, 0, 0)
    return {"perms": {"id": p.id, "ispublic": pub, "iscontact": contact, "isfriend": friend, "isfamily": family}}


#: flickr.prefs.getGeoPerms.html: the default geo privacy, 0 no default set, 1 public, 2 contacts only,
#: 3 friends and family only, 4 friends only, 5 family only, 6 private
GEO_PRIVACY = {(1, 0, 0, 0): 1, (0, 1, 0, 0): 2, (0, 0, 1, 1): 3, (0, 0, 1, 0): 4, (0, 0, 0, 1): 5, (0, 0, 0, 0): 6}


def prefs_getGeoPerms(fake, ctx, params):
    # "... and whether or not the user has chosen to use geo-related EXIF information to automatically
    # geotag their photos" (flickr.prefs.getGeoPerms.html): importgeoexif 0 or 1
    code = GEO_PRIVACY.get(tuple(fake.default_geo_perms or ()), 0)
    return {"person": {"nsid": fake.user_nsid, "geoperms": code, "importgeoexif": 1 if fake.import_exif_location else 0}}


def photos_delete(fake, ctx, params):
    p = _own_photo(fake, ctx, params)
    fake._delete(p.id)
    return {}


# -- photosets ----------------------------------------------------------------------------------------

def _set_entry(fake, ctx, sid: str, s: dict) -> dict:
    members = [fake.photos[i] for i in s["photos"] if i in fake.photos and _visible(fake, ctx, fake.photos[i])]
    photos = sum(1 for p in members if p.media == "photo")
    videos = len(members) - photos
    primary = fake.photos.get(s.get("primary") or "")
    return {"id": sid, "owner": fake.user_nsid, "username": fake.username, "primary": s.get("primary"),
            "secret": primary.secret if primary else "", "server": primary.server if primary else "0",
            "farm": primary.farm if primary else 0, "count_views": "0", "count_comments": "0",
            "count_photos": photos, "count_videos": videos,
            "title": {"_content": s.get("title", "")}, "description": {"_content": s.get("description", "")},
            "can_comment": 1, "date_create": str(s.get("date_create", 0)), "date_update": str(s.get("date_update", 0)),
            "photos": photos, "videos": videos, "visibility_can_see_set": 1, "needs_interstitial": 0}


def photosets_getList(fake, ctx, params):
    user_id = str(params.get("user_id", "")).strip()
    if user_id and user_id not in ("me", fake.user_nsid):
        raise ApiError(1, "User not found")
    if not user_id and not ctx.authed:
        raise ApiError(1, "User not found")
    # "New photosets are automatically put first" (flickr.photosets.create.html)
    order = sorted(fake.photosets.items(), key=lambda kv: kv[1].get("order", 0), reverse=True)
    sets = [_set_entry(fake, ctx, sid, s) for sid, s in order]
    if not ctx.authed:
        sets = [s for s in sets if s["photos"] + s["videos"] > 0]
    if "page" not in params and "per_page" not in params:
        # "If this argument is omitted, all sets will be returned" (flickr.photosets.getList.html "page")
        return {"photosets": {"page": 1, "pages": 1, "perpage": len(sets), "total": len(sets),
                              "cancreate": 1, "photoset": sets}}
    per_page = _per_page(params, MAX_PER_PAGE)
    page = _page(params)
    chunk, total, pages = _paginate(sets, page, per_page, None)
    return {"photosets": {"page": page, "pages": pages, "perpage": per_page, "total": total, "cancreate": 1,
                          "photoset": chunk}}


def photosets_getPhotos(fake, ctx, params):
    sid = str(params.get("photoset_id", "")).strip()
    s = fake.photosets.get(sid)
    if s is None:
        raise ApiError(1, "Photoset not found")
    user_id = str(params.get("user_id", "")).strip()
    if user_id and user_id not in ("me", fake.user_nsid):
        raise ApiError(2, "User not found")
    privacy = _int(params.get("privacy_filter"), None) if ctx.authed else None
    media = str(params.get("media", "all")).lower()
    members = []
    for pid in s["photos"]:
        p = fake.photos.get(pid)
        if p is None or not _visible(fake, ctx, p) or (privacy and not _privacy_ok(p, privacy)):
            continue
        if (media == "photos" and p.media != "photo") or (media == "videos" and p.media != "video"):
            continue
        members.append(p)
    per_page = _per_page(params, MAX_PER_PAGE)
    page = _page(params)
    chunk, total, pages = _paginate(members, page, per_page, None)
    extras = _extras(params)
    return {"photoset": {"id": sid, "primary": s.get("primary"), "owner": fake.user_nsid,
                         "ownername": fake.username,
                         "photo": [entry(fake, p, extras, owner=False, set_primary=s.get("primary") or "")
                                   for p in chunk],
                         "page": page, "per_page": per_page, "perpage": per_page, "pages": pages,
                         # title is a plain string here and total a string (photosets.getPhotos JSON)
                         "title": s.get("title", ""), "total": str(total)}}


def photosets_create(fake, ctx, params):
    title = str(params.get("title", "")).strip()
    if not title:
        raise ApiError(1, "No title specified")
    p = fake.photos.get(str(params.get("primary_photo_id", "")).strip())
    if p is None:
        raise ApiError(2, "Photo not found")
    sid = fake._create_set(title, str(params.get("description", "")), [p.id])
    return {"photoset": {"id": sid, "url": f"https://www.flickr.com/photos/{fake.user_nsid}/sets/{sid}/"}}


def photosets_addPhoto(fake, ctx, params):
    sid = str(params.get("photoset_id", "")).strip()
    if sid not in fake.photosets:
        raise ApiError(1, "Photoset not found")
    p = fake.photos.get(str(params.get("photo_id", "")).strip())
    if p is None:
        raise ApiError(2, "Photo not found")
    if p.id in fake.photosets[sid]["photos"]:
        raise ApiError(3, "Photo already in set")
    fake._add_to_set(sid, p.id)
    return {}


# -- tags ---------------------------------------------------------------------------------------------

def _tag_objects(fake, p: FakePhoto) -> list:
    """A photo's tags as photos.getInfo and tags.getListPhoto give them: the raw form as typed in
    ``raw``, the clean form as the text (flickr.tags.getListPhoto.html; WordPress/openverse#4906)."""
    nsid = fake.user_nsid
    owner_num = "".join(ch for ch in nsid if ch.isdigit())[:8] or "0"
    return [{"id": f"{owner_num}-{p.id}-{int(hexdigest('tag', clean_tag(t), n=7), 16)}", "author": nsid,
             "authorname": fake.username, "raw": t, "_content": clean_tag(t),
             "machine_tag": 1 if t in p.machine_tags else 0}
            for t in p.all_tags()]


def tags_getListPhoto(fake, ctx, params):
    p = _photo(fake, ctx, params)
    return {"photo": {"id": p.id, "tags": {"tag": _tag_objects(fake, p)}}}


def tags_getListUserRaw(fake, ctx, params):
    """Every raw form of each of the calling user's tags, by clean form (flickr.tags.getListUserRaw.html:
    "Get the raw versions of a given tag (or all tags) for the currently logged-in user"; the answer
    is <who><tags><tag clean="..."><raw>...</raw>...</tag></tags></who>)."""
    only = clean_tag(str(params.get("tag", ""))) if str(params.get("tag", "")).strip() else None
    forms: dict = {}
    for p in sorted(fake.photos.values(), key=lambda p: p.dateupload):
        for t in p.all_tags():
            c = clean_tag(t)
            if only is None or c == only:
                forms.setdefault(c, [])
                if t not in forms[c]:
                    forms[c].append(t)
    return {"who": {"id": fake.user_nsid,
                    "tags": {"tag": [{"clean": c, "raw": [{"_content": r} for r in raws]}
                                     for c, raws in sorted(forms.items())]}}}


# -- account and test methods -------------------------------------------------------------------------

def test_login(fake, ctx, params):
    return {"user": {"id": fake.user_nsid, "username": {"_content": fake.username}, "path_alias": None}}


def test_echo(fake, ctx, params):
    return {k: {"_content": v} for k, v in params.items()}


def auth_oauth_checkToken(fake, ctx, params):
    tok = str(params.get("oauth_token", "") or ctx.token or "")
    info = fake._access_tokens.get(tok)
    if info is None or tok in fake._revoked:
        raise ApiError(98, "Invalid token")
    return {"oauth": {"token": {"_content": tok}, "perms": {"_content": info["perms"]},
                      "user": {"nsid": fake.user_nsid, "username": fake.username, "fullname": fake.fullname}}}


def people_getInfo(fake, ctx, params):
    user_id = str(params.get("user_id", "")).strip()
    if user_id not in ("me", fake.user_nsid):
        raise ApiError(1, "User not found")
    count = sum(1 for p in fake.photos.values() if _visible(fake, ctx, p))
    return {"person": {"id": fake.user_nsid, "nsid": fake.user_nsid, "ispro": 1 if fake.pro else 0,
                       "can_buy_pro": 0, "iconserver": "0", "iconfarm": 0, "path_alias": None, "has_stats": 0,
                       "username": {"_content": fake.username}, "realname": {"_content": fake.fullname},
                       "photos": {"count": {"_content": count}}}}


#: method -> (function, required perms: 0 none, 1 read, 2 write, 3 delete)
METHODS = {
    "flickr.test.login": (test_login, READ),
    "flickr.test.echo": (test_echo, 0),
    "flickr.auth.oauth.checkToken": (auth_oauth_checkToken, 0),
    "flickr.people.getInfo": (people_getInfo, 0),
    "flickr.photos.search": (photos_search, 0),
    "flickr.people.getPhotos": (people_getPhotos, 0),
    "flickr.photos.recentlyUpdated": (photos_recentlyUpdated, READ),
    "flickr.photos.getSizes": (photos_getSizes, 0),
    "flickr.photos.getInfo": (photos_getInfo, 0),
    "flickr.photos.setPerms": (photos_setPerms, WRITE),
    "flickr.photos.setMeta": (photos_setMeta, WRITE),
    "flickr.photos.setDates": (photos_setDates, WRITE),
    "flickr.photos.setTags": (photos_setTags, WRITE),
    "flickr.photos.addTags": (photos_addTags, WRITE),
    "flickr.photos.geo.setLocation": (photos_geo_setLocation, WRITE),
    "flickr.photos.geo.setPerms": (photos_geo_setPerms, WRITE),
    "flickr.photos.geo.getPerms": (photos_geo_getPerms, READ),
    "flickr.prefs.getGeoPerms": (prefs_getGeoPerms, READ),
    "flickr.photos.delete": (photos_delete, DELETE),
    "flickr.photosets.getList": (photosets_getList, 0),
    "flickr.photosets.getPhotos": (photosets_getPhotos, 0),
    "flickr.photosets.create": (photosets_create, WRITE),
    "flickr.photosets.addPhoto": (photosets_addPhoto, WRITE),
    "flickr.tags.getListPhoto": (tags_getListPhoto, 0),
    "flickr.tags.getListUserRaw": (tags_getListUserRaw, READ),
}
