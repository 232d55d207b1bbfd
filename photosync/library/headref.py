"""Reading HEAD without pygit2 (its import costs more than status may spend)."""

from __future__ import annotations

from pathlib import Path


def read_head_oid(root: Path) -> str | None:
    """HEAD's commit id by reading files only (no pygit2 import: fast for status)."""
    gitdir = root / ".git"
    try:
        head = (gitdir / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref: "):
        return head or None
    ref = head[5:]
    try:
        return (gitdir / ref).read_text().strip() or None
    except FileNotFoundError:
        pass
    try:
        for line in (gitdir / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref) and not line.startswith(("#", "^")):
                return line.split(" ", 1)[0]
    except FileNotFoundError:
        pass
    return None
