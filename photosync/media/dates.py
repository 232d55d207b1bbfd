"""Dates: EXIF date strings, dates in file names, and ISO 8601 output."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# A date in a file name: IMG_20190704_142233.jpg, PXL_20190704_142233123.jpg,
# 2019-07-04 14.22.33.jpg, Screenshot_2019-07-04-14-22-33.png, IMG-20190704-WA0001.jpg,
# VID_20190704_142233.mp4, 20190704_142233.heic, "Photo 2019-07-04.jpg".
_NAME_DATE = re.compile(
    r"(?<![0-9])"
    r"((?:19|20)[0-9]{2})[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12][0-9]|3[01])"
    r"(?:[ _T.-]?([01][0-9]|2[0-3])[-_.:h]?([0-5][0-9])[-_.:m]?([0-5][0-9])(?:[0-9]{0,3})?)?"
    r"(?![0-9])"
)
_EXIF_DATE = re.compile(r"^\s*([0-9]{4})[:-]([0-9]{2})[:-]([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})")
_OFFSET = re.compile(r"^\s*([+-])([0-9]{2}):?([0-9]{2})\s*$")


def date_from_filename(name: str) -> datetime | None:
    """The date (and time, when present) written in a file name, as naive local time."""
    stem = name.rsplit("/", 1)[-1]
    for m in _NAME_DATE.finditer(stem):
        y, mo, d, hh, mm, ss = m.groups()
        try:
            if hh is None:
                return datetime(int(y), int(mo), int(d))
            return datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss))
        except ValueError:
            continue
    return None


def parse_exif_date(value, offset=None, subsec=None) -> datetime | None:
    """An EXIF "YYYY:MM:DD HH:MM:SS" (+ OffsetTime "+02:00") as a datetime,
    aware when the offset is known.  Blank or zero dates give None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    m = _EXIF_DATE.match(str(value).strip("\x00"))
    if not m:
        return None
    parts = [int(x) for x in m.groups()]
    if parts[0] < 1800 or parts[1] == 0 or parts[2] == 0:
        return None
    try:
        dt = datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
    except ValueError:
        return None
    if subsec:
        digits = "".join(ch for ch in str(subsec) if ch.isdigit())[:6]
        if digits:
            dt = dt.replace(microsecond=int(digits.ljust(6, "0")))
    tz = parse_offset(offset)
    return dt.replace(tzinfo=tz) if tz else dt


def parse_offset(offset) -> timezone | None:
    if offset is None:
        return None
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "replace")
    m = _OFFSET.match(str(offset).strip("\x00"))
    if not m:
        return None
    sign, hh, mm = m.groups()
    delta = timedelta(hours=int(hh), minutes=int(mm))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def iso(dt: datetime) -> str:
    """ISO 8601 without microseconds unless present; Z for UTC-aware times."""
    timespec = "microseconds" if dt.microsecond else "seconds"
    if dt.tzinfo is not None and dt.utcoffset() == timedelta(0) and dt.tzinfo is timezone.utc:
        return dt.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"
    return dt.isoformat(timespec=timespec)


def from_timestamp_local(ts: float) -> datetime:
    """A file time as aware local time (the machine's zone at that moment)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone()


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """--since: last-week, last-month, yesterday, today, 7d, 3w, or YYYY-MM-DD[THH:MM]."""
    now = now or datetime.now().astimezone()
    v = value.strip().lower()
    named = {
        "today": timedelta(0),
        "yesterday": timedelta(days=1),
        "last-week": timedelta(weeks=1),
        "last-month": timedelta(days=30),
        "last-year": timedelta(days=365),
    }
    if v in named:
        base = now - named[v]
        return base.replace(hour=0, minute=0, second=0, microsecond=0) if v in ("today", "yesterday") else base
    m = re.fullmatch(r"([0-9]+)([dwh])", v)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now - {"d": timedelta(days=n), "w": timedelta(weeks=n), "h": timedelta(hours=n)}[unit]
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"--since {value!r}: use last-week, last-month, yesterday, today, a count like 10d, "
            "or a date like 2024-01-31"
        ) from None
    return dt if dt.tzinfo else dt.astimezone()
