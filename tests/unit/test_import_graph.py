"""The parts' import graph.

* connectors never reach into the phases (a new connector is a folder plus a registry line, and
  the phases are the only callers of connectors, never the other way);
* the library (the git control plane and its index) never reaches into conflicts/ or phases/:
  what it needs of the privacy arithmetic is photosync/privacy.py, the index's lookup keys
  photosync/media/lookup.py, both below it;
* those two shared modules reach into none of library/, conflicts/, phases/, cli/;
* only cli/ imports typer and rich (library code reports through events.Reporter)."""

from __future__ import annotations

import ast
from pathlib import Path

import photosync

PACKAGE = Path(photosync.__file__).parent


def imported_modules(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Every module ``path`` (a file of a package under ``root``) imports (at the top or inside
    a function), absolute names."""
    rel = path.relative_to(root).with_suffix("")
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


def offenders(paths, forbidden: tuple[str, ...], root: Path = PACKAGE.parent) -> dict[str, list[str]]:
    """module file -> the modules it imports that are (or are inside) one of ``forbidden``."""
    out = {}
    for path in sorted(paths):
        bad = sorted(m for m in imported_modules(path, root)
                     if any(m == f or m.startswith(f + ".") for f in forbidden))
        if bad:
            out[str(path.relative_to(root))] = bad
    return out


def test_no_connector_imports_a_phase():
    assert offenders((PACKAGE / "connectors").rglob("*.py"), ("photosync.phases",)) == {}, \
        "connectors must not import photosync.phases"


def test_the_library_imports_nothing_from_conflicts_or_phases():
    assert offenders((PACKAGE / "library").rglob("*.py"), ("photosync.conflicts", "photosync.phases")) == {}, \
        "library/ must not import photosync.conflicts or photosync.phases"


def test_the_modules_below_the_library_stay_below_it():
    below = [PACKAGE / "privacy.py", PACKAGE / "media" / "lookup.py"]
    forbidden = ("photosync.library", "photosync.conflicts", "photosync.phases", "photosync.cli")
    assert offenders(below, forbidden) == {}


def test_only_the_cli_imports_typer_and_rich():
    paths = [p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts[:1]]
    assert offenders(paths, ("typer", "rich", "click")) == {}


def test_the_check_sees_relative_and_late_imports():
    """The check itself: relative imports are resolved, and imports inside functions are found."""
    local = imported_modules(PACKAGE / "connectors" / "local.py")
    assert "photosync.media.ingest" in local and "photosync.connectors.sidecars" in local
    connector = imported_modules(PACKAGE / "connectors" / "flickr" / "connector.py")
    assert "photosync.media.ingest" in connector  # "from ...media.ingest import ingest" inside _describe
    assert "photosync.connectors.flickr.client" in connector  # "from .client import"


def test_the_check_finds_an_arrow(tmp_path):
    """The check itself: an import of a forbidden package (relative, late, or of a name from it)
    is reported; a module whose name only starts the same way is not."""
    mod = tmp_path / "photosync" / "library" / "probe.py"
    mod.parent.mkdir(parents=True)
    mod.write_text("def f():\n    from ..conflicts import variants\n    from ..phases.common import Connectors\n"
                   "import photosync.conflictsx\n")
    found = offenders([mod], ("photosync.conflicts", "photosync.phases"), root=tmp_path)
    assert found == {"photosync/library/probe.py": ["photosync.conflicts", "photosync.conflicts.variants",
                                                    "photosync.phases.common",
                                                    "photosync.phases.common.Connectors"]}
