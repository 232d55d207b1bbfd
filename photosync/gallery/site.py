"""photosync gallery build: the static site.

Layout of OUT (every page works from a folder, a NAS share or a bucket: plain files, relative
links, no server, nothing fetched from elsewhere):

    index.html                    the library by year and month, by album, by service
    months/YYYY-MM.html           a month's grid (…-2.html and on: further pages of PAGE photos)
    months/undated.html           photos without a date
    albums/<key>.html             an album's grid (key: a digest of its name)
    services/<name>.html          the photos a service holds
    dashboard.html                the owner's dashboard (private builds only: dashboard.py)
    assets/gallery.css, gallery.js
    img/                          renditions (images.py)
    .photosync-gallery            marks the folder as a build (the next build may replace it)

Each grid page carries its photos' facts as JSON for the lightbox (gallery.js); the grid itself
is HTML, so it shows without scripts.  The build writes a new folder beside OUT and swaps it in
when complete, so a build never leaves pictures of an earlier build (perhaps for a wider
audience) behind, and an interrupted build leaves the previous site as it was."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable

from ..errors import UsageError
from .collect import AUDIENCES, Entry

MARKER = ".photosync-gallery"
#: photos per grid page: a month of a busy phone fits on one page; a service's 100,000 photos
#: make 200 pages instead of one 60 MB file a browser chokes on
PAGE = 500
ASSETS = ("gallery.css", "gallery.js")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


@dataclass
class SiteResult:
    out: Path
    audience: str
    photos: int = 0
    pages: int = 0
    albums: int = 0
    dashboard: bool = False
    pictures_missing: int = 0
    notes: list[str] = field(default_factory=list)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _script_json(data: object) -> str:
    """JSON safe inside <script type="application/json">: no "<" can close the element."""
    import orjson

    text = orjson.dumps(data).decode("utf-8")
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _slug(name: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name) and not name.endswith(".html"):
        return name
    return "x" + hashlib.sha256(name.encode()).hexdigest()[:16]


def album_key(name: str) -> str:
    return "a" + hashlib.sha256(name.encode()).hexdigest()[:16]


def month_title(key: str) -> str:
    if key == "undated":
        return "Undated"
    year, month = key.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def _sort_key(e: Entry) -> tuple:
    return (e.taken is None, e.taken or "", e.photo_id)


def prepare(out: Path) -> Path:
    """A fresh folder beside ``out`` to build into; refuses an ``out`` that holds anything but
    an earlier build (photosync never deletes files it did not write)."""
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out} is a file: give a folder for the gallery")
        if not (out / MARKER).is_file() and any(out.iterdir()):
            raise UsageError(f"{out} is not empty and is not a gallery photosync built: give a new or empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    if out.exists():
        # the build replaces the folder: it keeps the folder's permissions (one closed to others stays closed)
        os.chmod(tmp, out.stat().st_mode & 0o7777)
    return tmp


def swap(tmp: Path, out: Path) -> None:
    """Put the finished build in place of ``out`` (an earlier build or an empty folder)."""
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def _nav(root: str, dashboard: bool, here: str) -> str:
    links = [("index.html", "Library")]
    if dashboard:
        links.append(("dashboard.html", "Dashboard"))
    current = ' aria-current="page"'
    return "<nav>" + " ".join(f'<a href="{root}{href}"{current if href == here else ""}>{label}</a>'
                              for href, label in links) + "</nav>"


def page(*, title: str, root: str, audience: str, dashboard: bool, here: str, body: str,
         photos: str | None = None) -> str:
    """A whole page: the same head, navigation, lightbox and scripts everywhere."""
    parts = [
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<meta name=\"referrer\" content=\"no-referrer\"><meta name=\"robots\" content=\"noindex\">",
        # no favicon request: a served site would log a 404 for it on every page
        "<link rel=\"icon\" href=\"data:,\">",
        f"<title>{esc(title)}</title><link rel=\"stylesheet\" href=\"{root}assets/gallery.css\"></head>",
        f"<body data-audience=\"{esc(audience)}\"><header>{_nav(root, dashboard, here)}",
        f"<h1>{esc(title)}</h1></header><main>{body}</main>",
    ]
    if photos is not None:
        parts += [
            "<div id=\"lightbox\" class=\"lightbox\" hidden role=\"dialog\" aria-modal=\"true\" aria-label=\"Photo\">",
            "<button type=\"button\" class=\"lb-close\" aria-label=\"Close\">×</button>",
            "<button type=\"button\" class=\"lb-prev\" aria-label=\"Previous\">‹</button>",
            "<figure><div class=\"lb-picture\"><img alt=\"\" id=\"lb-img\"></div>",
            "<figcaption><dl id=\"lb-facts\"></dl></figcaption></figure>",
            "<button type=\"button\" class=\"lb-next\" aria-label=\"Next\">›</button></div>",
            f"<script type=\"application/json\" id=\"photos\" data-root=\"{root}\">{photos}</script>",
            f"<script src=\"{root}assets/gallery.js\"></script>",
        ]
    parts.append("</body></html>\n")
    return "".join(parts)


def _facts(e: Entry) -> dict:
    """What the lightbox prints of a photo (short keys: 100,000 of them go into the pages)."""
    d: dict = {"id": e.photo_id}
    for key, value in (("date", e.taken), ("file", e.filename), ("caption", e.caption), ("place", e.place),
                       ("camera", e.camera), ("thumb", e.thumb), ("large", e.large), ("type", e.media_type)):
        if value:
            d[key] = value
    if e.albums:
        d["albums"] = list(e.albums)
    if e.services:
        d["services"] = list(e.services)
    if e.stores:
        d["stores"] = list(e.stores)
    if e.links:
        d["links"] = [list(link) for link in e.links]
    return d


def tile(e: Entry, root: str) -> str:
    """A photo's tile in a grid (the same on every page that shows it)."""
    label = e.caption or e.filename or e.taken or e.photo_id
    if e.thumb:
        inner = f"<img src=\"{root}{esc(e.thumb)}\" loading=\"lazy\" decoding=\"async\" alt=\"{esc(label)}\">"
    else:
        inner = f"<span class=\"ph\">{esc((e.taken or 'undated')[:10])}</span>"
    return (f"<li><a class=\"tile\" href=\"#{esc(e.photo_id)}\" data-id=\"{esc(e.photo_id)}\" "
            f"title=\"{esc(label)}\">{inner}</a></li>")


def _pager(name: str, n: int, pages: int) -> str:
    if pages <= 1:
        return ""
    links = []
    for k in range(1, pages + 1):
        href = f"{name}.html" if k == 1 else f"{name}-{k}.html"
        links.append(f"<span>{k}</span>" if k == n else f"<a href=\"{href}\">{k}</a>")
    return "<nav class=\"pager\">Page " + " ".join(links) + "</nav>"


class Writer:
    def __init__(self, tmp: Path, audience: str, dashboard: bool) -> None:
        self.tmp = tmp
        self.audience = audience
        self.dashboard = dashboard
        self.pages = 0
        #: photo id -> (its tile, its facts as JSON): made once, though a photo is on several pages
        #: (its month, its albums, its services); measured: half a build's page time at 10,000 photos
        self._made: dict[str, tuple[str, str]] = {}

    def write(self, rel: str, text: str) -> None:
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.pages += 1

    def _parts(self, e: Entry) -> tuple[str, str]:
        made = self._made.get(e.photo_id)
        if made is None:
            made = self._made[e.photo_id] = (tile(e, "../"), _script_json(_facts(e)))
        return made

    def grid_pages(self, folder: str, name: str, title: str, entries: list[Entry]) -> None:
        entries = sorted(entries, key=_sort_key)
        pages = max(1, -(-len(entries) // PAGE))
        head = f"<p class=\"count\">{len(entries)} photo{'s' if len(entries) != 1 else ''}</p>"
        for k in range(pages):
            parts = [self._parts(e) for e in entries[k * PAGE:(k + 1) * PAGE]]
            pager = _pager(name, k + 1, pages)
            body = head + pager + "<ul class=\"grid\">" + "".join(t for t, _ in parts) + "</ul>" + pager
            rel = f"{folder}/{name}.html" if k == 0 else f"{folder}/{name}-{k + 1}.html"
            self.write(rel, page(title=title, root="../", audience=self.audience, dashboard=self.dashboard,
                                 here=rel, body=body, photos="[" + ",".join(j for _, j in parts) + "]"))


def write_site(tmp: Path, audience: str, entries: Iterable[Entry], *, dashboard_html: str | None) -> SiteResult:
    """Every page of the site into ``tmp`` (``dashboard_html``: the dashboard's body, owner's build only)."""
    assert audience in AUDIENCES
    by_month: dict[str, list[Entry]] = defaultdict(list)
    by_album: dict[str, list[Entry]] = defaultdict(list)
    by_service: dict[str, list[Entry]] = defaultdict(list)
    count = 0
    for e in entries:
        count += 1
        by_month[f"{e.year}-{e.month}" if e.year else "undated"].append(e)
        for a in e.albums:
            by_album[a].append(e)
        for s in e.services:
            by_service[s].append(e)
    w = Writer(tmp, audience, dashboard_html is not None)
    for key, items in by_month.items():
        w.grid_pages("months", key, month_title(key), items)
    for name, items in by_album.items():
        w.grid_pages("albums", album_key(name), name, items)
    for name, items in by_service.items():
        w.grid_pages("services", _slug(name), name, items)
    w.write("index.html", page(title="Photos", root="", audience=audience, dashboard=w.dashboard, here="index.html",
                               body=_index_body(count, by_month, by_album, by_service)))
    if dashboard_html is not None:
        w.write("dashboard.html", page(title="Dashboard", root="", audience=audience, dashboard=True,
                                       here="dashboard.html", body=dashboard_html))
    assets = resources.files("photosync.gallery") / "assets"
    (tmp / "assets").mkdir(exist_ok=True)
    for name in ASSETS:
        (tmp / "assets" / name).write_bytes((assets / name).read_bytes())
    (tmp / MARKER).write_text(json.dumps({"audience": audience}) + "\n")
    return SiteResult(out=tmp, audience=audience, photos=count, pages=w.pages, albums=len(by_album),
                      dashboard=dashboard_html is not None)


def _index_body(count: int, by_month, by_album, by_service) -> str:
    parts = [f"<p class=\"count\" id=\"total\">{count} photo{'s' if count != 1 else ''}</p>"]
    if not count:
        parts.append("<p>Nothing to show.</p>")
        return "".join(parts)
    parts.append("<section id=\"years\"><h2>By date</h2>")
    years: dict[str, list[str]] = defaultdict(list)
    for key in sorted(k for k in by_month if k != "undated"):
        years[key[:4]].append(key)
    for year in sorted(years, reverse=True):
        total = sum(len(by_month[k]) for k in years[year])
        parts.append(f"<h3>{esc(year)} <small>({total})</small></h3><ul class=\"months\">")
        for key in years[year]:
            parts.append(f"<li><a href=\"months/{key}.html\">{esc(MONTHS[int(key[5:]) - 1])}</a> "
                         f"<small>({len(by_month[key])})</small></li>")
        parts.append("</ul>")
    if "undated" in by_month:
        parts.append(f"<p><a href=\"months/undated.html\">Undated</a> <small>({len(by_month['undated'])})</small></p>")
    parts.append("</section>")
    if by_album:
        parts.append("<section id=\"albums\"><h2>Albums</h2><ul class=\"albums\">")
        for name in sorted(by_album, key=str.casefold):
            parts.append(f"<li><a href=\"albums/{album_key(name)}.html\">{esc(name)}</a> "
                         f"<small>({len(by_album[name])})</small></li>")
        parts.append("</ul></section>")
    if by_service:
        parts.append("<section id=\"services\"><h2>Services</h2><ul class=\"services\">")
        for name in sorted(by_service):
            parts.append(f"<li><a href=\"services/{_slug(name)}.html\">{esc(name)}</a> "
                         f"<small>({len(by_service[name])})</small></li>")
        parts.append("</ul></section>")
    return "".join(parts)
