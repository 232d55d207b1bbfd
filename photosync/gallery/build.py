"""photosync gallery build OUT --audience LEVEL: the phase (site.py writes the pages,
collect.py decides what may be shown, images.py brings the pictures)."""

from __future__ import annotations

from pathlib import Path

from ..library import config as cfg
from ..library.library import Library
from . import collect, site
from .images import Images


def _store_bases(lib: Library) -> dict[str, str | None]:
    """Active store -> file URL of its folder (local stores; None for the others)."""
    out: dict[str, str | None] = {}
    stores = lib.preferences["blob_storage"].get("stores", {})
    for name in cfg.active_stores(lib.preferences):
        conf = stores.get(name, {})
        base = None
        if conf.get("type") == "local" and conf.get("path"):
            from ..library.layout import user_path

            base = user_path(conf["path"], lib.root).resolve().as_uri()
        out[name] = base
    return out


def build(lib: Library, out: Path, audience: str, *, places: bool | None = None) -> site.SiteResult:
    """Build the site for ``audience`` into ``out`` (replacing an earlier build there).
    ``places``: print photos' locations (default: only in the owner's build)."""
    if audience not in collect.AUDIENCES:
        from ..errors import UsageError

        raise UsageError(f"--audience must be one of {', '.join(collect.AUDIENCES)}, not {audience!r}")
    if places is None:
        places = audience == "private"
    out = out.absolute()
    tmp = site.prepare(out)
    try:
        images = Images(lib, tmp, previous=out if (out / site.MARKER).is_file() else None)
        stores = _store_bases(lib)
        task = lib.report.task("gallery", len(lib.photo_ids()))
        entries = []
        for record in collect.shown_records(lib, audience, read=task.advance):
            entries.append(collect.entry(record, audience, places=places, stores=stores, image=images.url))
        task.close()
        images.close()
        dashboard = None
        if audience == "private":
            from .dashboard import body

            dashboard = body(lib)
        result = site.write_site(tmp, audience, entries, dashboard_html=dashboard)
        result.pictures_missing = images.missing
        site.swap(tmp, out)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.out = out
    return result
