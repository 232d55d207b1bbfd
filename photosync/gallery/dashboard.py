"""The owner's dashboard (seeds 001 and 004): photos by state, copies per store and photos
below ``min_copies``, open questions, last discover per service, and the recent commits (the
git log is the audit trail; visibility changes highlighted).  From the library alone: the
figures of ``photosync status`` and the commits of HEAD.

Only a private build has one.  Every figure here is about the whole library and every commit
message may name any photo (``resolve: IMG_1234.jpg caption = …``, a ``visibility:`` commit
lists photos and levels), so a dashboard for friends or the public would have to recount each
figure over the photos they may see and rewrite the log; what it could still say (how many
photos they can see) the index page says.  Leaving it out is the build that cannot leak."""

from __future__ import annotations

from datetime import datetime, timezone

from ..phases.status import gather
from .site import esc

#: commits the dashboard lists
COMMITS = 50


def _when(ts: str | None) -> str:
    return ts.replace("T", " ").replace("Z", " UTC") if ts else "never"


def is_visibility_change(subject: str) -> bool:
    """A commit that changed who may see photos: `visibility set/adopt`, `audit --fix`
    narrowing services, the library narrowing back a widening made outside photosync."""
    return (subject.startswith("visibility:") or subject.startswith("library: narrowed")
            or (subject.startswith("audit:") and ("narrowed" in subject or "visibility" in subject)))


def recent_commits(lib, limit: int = COMMITS) -> list[tuple[str, str, str, bool]]:
    """(short id, UTC time, subject, is a visibility change) of the newest commits of HEAD."""
    import pygit2

    repo = lib.git.repo
    if repo.head_is_unborn:
        return []
    out = []
    for commit in repo.walk(repo.head.target, pygit2.enums.SortMode.TIME):
        subject = (commit.message.splitlines() or [""])[0]
        when = datetime.fromtimestamp(commit.commit_time, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        out.append((str(commit.id)[:10], when, subject, is_visibility_change(subject)))
        if len(out) >= limit:
            break
    return out


def _table(headers: tuple[str, ...], rows: list[tuple], table_id: str, numeric: tuple[int, ...] = ()) -> str:
    parts = [f"<table id=\"{table_id}\"><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers)
             + "</tr></thead><tbody>"]
    for row in rows:
        cls = ""
        if row and row[-1] is True:  # a flag column: highlighted, not printed
            cls, row = " class=\"visibility\"", row[:-1]
        elif row and row[-1] is False:
            row = row[:-1]
        cells = "".join(f"<td class=\"n\">{esc(v)}</td>" if i in numeric else f"<td>{esc(v)}</td>"
                        for i, v in enumerate(row))
        parts.append(f"<tr{cls}>{cells}</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def body(lib) -> str:
    """The dashboard's HTML (inside <main>)."""
    data = gather(lib)
    index = lib.index
    parts = [f"<p class=\"count\" id=\"total\">{data['photos']} photos</p>"]
    parts.append("<h2>Photos by state</h2>")
    parts.append(_table(("state", "photos"), [(s, n) for s, n in data["states"].items()], "states", (1,)))
    parts.append("<h2>Copies</h2>")
    parts.append(_table(("store", "role", "type", "good copies", "bad copies", "bytes"),
                        [(name, s["role"], s["type"] or "", s["copies"], s["bad_copies"], s["bytes"])
                         for name, s in data["stores"].items()], "stores", (3, 4, 5)))
    below = data["below_min_copies"]
    parts.append(f"<p id=\"below\" class=\"{'warn' if below else ''}\">{below} photo{'s' if below != 1 else ''} "
                 f"below min_copies ({data['min_copies']}); {data['without_copy']} without any copy</p>")
    if below:
        rows: list[tuple] = []
        for pid, n in index.photos_below(data["min_copies"])[:COMMITS]:
            rows.append((index.filename(pid) or pid, pid[:8], n))
        parts.append(_table(("photo", "id", "copies"), rows, "below-list", (2,)))
    parts.append("<h2>Open questions</h2>")
    conflicts = data["conflicts"]
    parts.append(f"<p id=\"questions\">{conflicts['open']} open "
                 f"question{'s' if conflicts['open'] != 1 else ''} ({conflicts['recorded']} recorded); "
                 f"{data['visibility_discrepancies']} visibility discrepancies. "
                 "<code>photosync resolve</code> asks them.</p>")
    parts.append("<h2>Services</h2>")
    parts.append(_table(("service", "type", "photos", "items", "missing", "last discover", "summary"),
                        [(name, s["type"] or "(removed)", s["photos"], s["items"], s["missing_items"],
                          _when(s["last_discover"]), s["last_discover_summary"] or "")
                         for name, s in data["services"].items()], "services", (2, 3, 4)))
    if data["invalid_files"] or data["unreadable_files"]:
        parts.append("<h2>Problems</h2>")
        problems: list[tuple] = [(f["path"], f["reason"]) for f in data["invalid_files"]]
        problems += [(f"{u['service']}: {u['item']}", u["reason"]) for u in data["unreadable_files"]]
        parts.append(_table(("file", "reason"), problems, "problems"))
    parts.append("<h2>Recent commits</h2><p><small>The library's git log; visibility changes are "
                 "highlighted.</small></p>")
    parts.append(_table(("commit", "when", "message"), list(recent_commits(lib)), "commits"))
    return "".join(parts)
