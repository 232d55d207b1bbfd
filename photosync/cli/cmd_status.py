"""photosync status."""

from __future__ import annotations

from typing import Optional

import typer

from .app import LibraryOption, app, with_library


@app.command()
def status(
    json_: bool = typer.Option(False, "--json", help="Machine-readable output."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Photos by state, by service and by store; copies below min_copies; open conflicts; last discover."""
    from ..phases.status import gather
    from . import ui

    def body(lib, reporter):
        data = gather(lib)
        if json_:
            import json

            print(json.dumps(data, indent=2))
            return bool(data["invalid_files"])
        _render(data, ui)
        return bool(data["invalid_files"])

    with_library(body, write=False, library=library, quiet=True)


def _when(ts):
    return ts.replace("T", " ").replace("Z", " UTC") if ts else "never"


def _render(data: dict, ui) -> None:
    from rich.table import Table

    from ..phases.common import counted

    states = data["states"]
    ui.out.print(
        f"[bold]{counted(data['photos'], 'photo')}[/] in {data['library']}: "
        + ", ".join(f"{n} {s}" for s, n in states.items())
    )
    t = Table(title="Services", title_justify="left")
    for col in ("service", "type", "photos", "items", "missing", "last discover", "last change"):
        t.add_column(col, justify="right" if col in ("photos", "items", "missing") else "left")
    for name, s in data["services"].items():
        t.add_row(
            name,
            s["type"] or "(removed)",
            str(s["photos"]),
            str(s["items"]),
            str(s["missing_items"]),
            _when(s["last_discover"]),
            _when(s["last_change"]),
        )
    ui.out.print(t)
    t = Table(title="Blob stores", title_justify="left")
    for col in ("store", "type", "role", "copies", "bad copies", "size"):
        t.add_column(col, justify="right" if col in ("copies", "bad copies", "size") else "left")
    for name, s in data["stores"].items():
        t.add_row(name, s["type"] or "?", s["role"], str(s["copies"]), str(s["bad_copies"]), ui.human_bytes(s["bytes"]))
    ui.out.print(t)
    below, n = data["below_min_copies"], data["min_copies"]
    without = data.get("without_copy", 0)
    ui.out.print(
        f"min_copies {n}: "
        + (f"[yellow]{counted(below, 'photo')} below[/] (photosync audit --copies {n})" if below
           else f"every photo has a copy of everything it holds in at least {counted(n, 'store')}")
        + (f"; [red]{counted(without, 'photo')} without any copy of some of its bytes[/] "
           "(photosync replicate --execute)" if without else "")
    )
    _render_renditions(data, ui)
    c = data["conflicts"]
    ui.out.print(
        f"conflicts: {c['open']} open"
        + (" (photosync resolve)" if c["open"] else "")
        + f"; visibility discrepancies: {data['visibility_discrepancies']}"
    )
    for bad in data["invalid_files"]:
        ui.out.print(f"[red]invalid[/]: {bad['path']}: {bad['reason']}")
    unreadable = data["unreadable_files"]
    if unreadable:
        ui.out.print(f"[yellow]{len(unreadable)} source file{'s' if len(unreadable) != 1 else ''} could not be "
                     "read[/] by the last discover (not recorded; fixed files are read again):")
        for u in unreadable[:10]:
            ui.out.print(f"  {u['service']}: {ui.printable(u['item'])}: {ui.printable(u['reason'])}")
        if len(unreadable) > 10:
            ui.out.print(f"  ... and {len(unreadable) - 10} more (photosync status --json lists them all)")


def _render_renditions(data: dict, ui) -> None:
    """Renditions (photosync derive) by name, and what the tier copies save."""
    from ..phases.common import counted

    rends = data.get("renditions") or {}
    if rends:
        ui.out.print("renditions: " + ", ".join(
            f"{name} {r['photos']}" + (f" ({r['stale']} stale)" if r["stale"] else "") for name, r in rends.items())
            + f" of {counted(data['photos'], 'photo')}")
    tiers = data.get("tiers") or {}
    if tiers:
        orig = sum(t["original_bytes"] for t in tiers.values())
        size = sum(t["tier_bytes"] for t in tiers.values())
        ui.out.print(
            f"tier copies: {ui.human_bytes(size)} for {ui.human_bytes(orig)} of originals, "
            f"{ui.human_bytes(max(0, orig - size))} saved ("
            + ", ".join(f"{name} {t['photos']}: {ui.human_bytes(t['saved_bytes'])} saved" for name, t in tiers.items())
            + "); the originals stay at full quality")
