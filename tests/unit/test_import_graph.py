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


def test_the_check_sees_relative_and_late_imports():
    """The check itself: relative imports are resolved, and imports inside functions are found."""
    local = imported_modules(PACKAGE / "connectors" / "local.py")
    assert "photosync.media.ingest" in local and "photosync.connectors.sidecars" in local
    connector = imported_modules(PACKAGE / "connectors" / "flickr" / "connector.py")
    assert "photosync.media.ingest" in connector  # "from ...media.ingest import ingest" inside _describe
    assert "photosync.connectors.flickr.client" in connector  # "from .client import"
