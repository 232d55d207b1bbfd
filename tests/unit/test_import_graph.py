"""The parts' import graph: connectors never reach into the phases (a new connector is a folder
plus a registry line, and the phases are the only callers of connectors, never the other way)."""

from __future__ import annotations

import ast
from pathlib import Path

import photosync

PACKAGE = Path(photosync.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (at the top or inside a function), absolute names."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    package = list(rel.parts)[:-1]  # a module's package; for __init__.py, the package itself
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # "from .. import phases"
    return out


def test_no_connector_imports_a_phase():
    offenders = {}
    for path in sorted((PACKAGE / "connectors").rglob("*.py")):
        bad = sorted(m for m in imported_modules(path)
                     if m == "photosync.phases" or m.startswith("photosync.phases."))
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = bad
    assert offenders == {}, "connectors must not import photosync.phases"


def test_the_check_sees_relative_and_late_imports(tmp_path):
    """The check itself: an import inside a function, relative, is found."""
    sample = PACKAGE / "connectors" / "local.py"
    assert "photosync.media.probe" in imported_modules(sample) or "photosync.media.ingest" in imported_modules(sample)
    flickr = PACKAGE / "connectors" / "flickr"
    found = set()
    for path in ([flickr.with_suffix(".py")] if flickr.with_suffix(".py").exists() else sorted(flickr.rglob("*.py"))):
        found |= imported_modules(path)
    assert "photosync.errors" in found  # relative "from ..errors import" (or "from ...errors") resolved
