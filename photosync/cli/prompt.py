"""The interactive resolver: one conflict at a time at the terminal.

It implements the Resolver protocol (conflicts/resolver.py); the resolve phase
asks it and commits each answer at once.  Answers are read line by line from
standard input, so the same session can be scripted through a pipe:

    printf '1\\n2\\nq\\n' | photosync resolve --interactive
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..conflicts.resolver import Decision, Option, StopResolving
from ..model import Conflict, Photo
from .ui import human_bytes, printable

#: darkest to lightest, for the text thumbnail
RAMP = "@%#*+=-:. "


def thumbnail(path: Path, width: int = 48) -> list[str]:
    """The picture as lines of characters (empty when it cannot be read as an image)."""
    try:
        from PIL import Image, ImageOps

        with Image.open(path) as f:
            im = ImageOps.exif_transpose(f).convert("L")
            height = max(1, round(im.height / im.width * width * 0.5))
            px = im.resize((width, height)).tobytes()  # "L": one byte a pixel, row after row
            return ["".join(RAMP[v * (len(RAMP) - 1) // 255] for v in px[y * width : (y + 1) * width])
                    for y in range(height)]
    except Exception:  # a preview is a nicety: any failure means no picture
        return []


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _show(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict) and "lat" in value:
        return f"{value['lat']:.5f}, {value['lng']:.5f}"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "(none)"
    return str(value)


def parse_custom(field: str, text: str):
    """A typed value in the field's JSON form; raises ValueError with a hint."""
    text = text.strip()
    if field == "tags":
        tags = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))  # each tag once
        if not tags:
            raise ValueError("no tags typed (separate them with commas)")
        return tags
    if field == "location":
        try:
            lat, lng = (float(x) for x in text.replace(" ", "").split(","))
        except ValueError:
            raise ValueError("type the location as: latitude, longitude (e.g. 37.7749, -122.4194)") from None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise ValueError("latitude must be within ±90 and longitude within ±180")
        return {"lat": lat, "lng": lng}
    if field == "taken_date":
        from datetime import datetime

        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("type the date as YYYY-MM-DD HH:MM:SS (optionally with +HH:MM)") from None
        if not 1800 <= dt.year <= 2200:
            raise ValueError("that year is not a photo's; type the date as YYYY-MM-DD HH:MM:SS")
        # the record's form: a T between date and time, seconds always, Z for UTC
        out = dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")
        return out.replace("+00:00", "Z") if text.rstrip().endswith("Z") else out
    if not text:
        raise ValueError("an empty value; type something, or choose skip")
    return text


class TerminalResolver:
    """Shows a conflict, the photo and every copy's value; reads a numbered choice."""

    def __init__(self, console: Console, stdin: TextIO = sys.stdin,
                 locate: Callable[[Photo], Path | None] | None = None, total: int | None = None,
                 related: Callable[[str], Photo | None] | None = None):
        self.console = console
        self.stdin = stdin
        self.locate = locate
        #: the other photo of a variant conflict, by id
        self.related = related
        self.total = total
        self.asked = 0

    def _ask(self, prompt: str) -> str:
        self.console.print(prompt, end="")
        line = self.stdin.readline()
        if not line:  # end of input: the same as quitting
            raise StopResolving()
        return line.strip()

    def _preview(self, photo: Photo, width: int = 48, head: str = "") -> None:
        md = photo.metadata
        canon = next((i for i in photo.all_instances() if i.content_hash == photo.content_hash), None)
        size = canon.size if canon is not None else None
        w = md.width or (canon.metadata.width if canon is not None else None)
        h = md.height or (canon.metadata.height if canon is not None else None)
        dims = f"{w}×{h}" if w and h else "size unknown"
        copies = len(photo.all_instances())
        facts = [head, printable(md.filename or "(no file name)"), human_bytes(size) if size else "", dims,
                 f"taken {md.taken_date}" if md.taken_date else "date unknown",
                 f"{copies} cop{'y' if copies == 1 else 'ies'}", f"canonical {photo.visibility.canonical}"]
        self.console.print(Text("  ".join(f for f in facts if f), style="bold"))
        if head:  # two photos side by side: what else tells them apart
            extra = [f"caption: {_short(md.caption)}" if md.caption else "", f"tags: {', '.join(md.tags)}" if md.tags else "",
                     f"camera: {md.camera_info.make or ''} {md.camera_info.model or ''}".strip() if md.camera_info else "",
                     f"original: {photo.canonical_source}"]
            self.console.print(Text("    " + "  ".join(printable(e) for e in extra if e)))
        path = self.locate(photo) if self.locate else None
        if path is not None:
            self.console.print(f"  original: {printable(str(path))}")
            for line in thumbnail(path, width):
                self.console.print(Text("  " + line))

    def decide(self, photo: Photo, conflict: Conflict, options: list[Option]) -> Decision | None:
        self.asked += 1
        of = f" of {self.total}" if self.total else ""
        self.console.rule(f"conflict {self.asked}{of}: {printable(photo.label)} ({photo.photo_id[:8]})")
        other = None
        if conflict.related_photos and self.related is not None:
            other = self.related(conflict.related_photos[0])
        if other is not None:  # two photos that look alike: both, smaller
            self._preview(photo, 32, "A:")
            self._preview(other, 32, "B:")
        else:
            self._preview(photo)
        self.console.print(f"[bold]{printable(conflict.description)}[/]")
        if conflict.values:
            table = Table(show_header=True, header_style="bold")
            table.add_column("copy")
            table.add_column(conflict.field or "value")
            for key, value in conflict.values.items():
                table.add_row(printable(key), printable(_show(value)))
            self.console.print(table)
        numbered = [o for o in options if o.key != "skip"]
        for n, o in enumerate(numbered, 1):
            label = o.label if o.key != "custom" else o.label + " (type it)"
            if o.key.startswith("use:"):
                label = f"{o.label}: {_show(o.value)}"
            self.console.print(f"  [bold]{n}[/]. {printable(label)}")
        self.console.print("  [bold]s[/]. skip (decide later)   [bold]q[/]. quit (what was decided is saved)")
        while True:
            answer = self._ask("choice> ").lower()
            if answer in ("q", "quit"):
                raise StopResolving()
            if answer in ("s", "skip", ""):
                self.console.print("skipped: it stays open for later")
                return None
            if answer.isascii() and answer.isdigit() and 1 <= int(answer) <= len(numbered):
                chosen = numbered[int(answer) - 1]
                if chosen.key != "custom":
                    return Decision(chosen.key)
                field = conflict.field or ""
                self.console.print("(an empty line goes back to the choices)")
                while True:
                    text = self._ask(f"{field.replace('_', ' ')}> ")
                    if not text.strip():
                        break
                    try:
                        return Decision("custom", parse_custom(field, text))
                    except ValueError as e:
                        self.console.print(f"[red]{e}[/]")
                continue
            self.console.print(f"[red]type a number from 1 to {len(numbered)}, s or q[/]")
