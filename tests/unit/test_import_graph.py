"""The parts' import graph.

* connectors never reach into the phases (a new connector is a folder plus a registry line, and
  the phases are the only callers of connectors, never the other way);
* the library (the git control plane and its index) never reaches into conflicts/ or phases/:
  what it needs of the privacy arithmetic is photosync/privacy.py, the index's lookup keys
  photosync/media/lookup.py, both below it;
* those shared modules (and photosync/questions.py, the one definition of a question the index
  counts) reach into none of library/, conflicts/, phases/, cli/;
* SQL is written only in library/index.py: phases and the CLI read the index through Library and
  Index methods (no sqlite3, no ``.db``, no SQL text anywhere else);
* only cli/ imports typer and rich (library code reports through events.Reporter)."""

from __future__ import annotations

import ast
import re
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
    below = [PACKAGE / "privacy.py", PACKAGE / "media" / "lookup.py", PACKAGE / "questions.py"]
    forbidden = ("photosync.library", "photosync.conflicts", "photosync.phases", "photosync.cli")
    assert offenders(below, forbidden) == {}


#: the start of an SQL statement in a string (upper case, as this code base writes SQL)
_SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|WITH|REPLACE)\s")


def raw_sql(path: Path) -> list[str]:
    """What in ``path`` touches the database directly: an import of sqlite3, a ``.db`` attribute
    (Index's connection), a string that starts an SQL statement."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name == "sqlite3" for a in node.names):
            found.append(f"line {node.lineno}: import sqlite3")
        elif isinstance(node, ast.ImportFrom) and node.module == "sqlite3":
            found.append(f"line {node.lineno}: from sqlite3")
        elif isinstance(node, ast.Attribute) and node.attr == "db":
            found.append(f"line {node.lineno}: .db")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.match(node.value):
            found.append(f"line {node.lineno}: {node.value.strip()[:40]!r}")
    return found


def test_sql_is_written_only_in_the_index():
    index = PACKAGE / "library" / "index.py"
    #: foreign databases a connector reads (osxphotos' export database), never the library's index
    foreign = {PACKAGE / "connectors" / "apple" / "exportdb.py"}
    found = {str(p.relative_to(PACKAGE.parent)): raw_sql(p) for p in sorted(PACKAGE.rglob("*.py"))
             if p != index and p not in foreign}
    assert {path: what for path, what in found.items() if what} == {}, \
        "only photosync/library/index.py talks to the database; add an Index method"


def test_the_sql_check_finds_raw_sql(tmp_path):
    """The check itself: each way of reaching past the index is found; a message is not SQL."""
    mod = tmp_path / "audit.py"
    mod.write_text("import sqlite3\n"
                   "def label(lib, pid):\n"
                   "    row = lib.index.db.execute('SELECT filename FROM photos WHERE photo_id=?', (pid,))\n"
                   "    print('Select a photo; delete nothing')\n")
    assert sorted(raw_sql(mod)) == ["line 1: import sqlite3", "line 3: 'SELECT filename FROM photos WHERE photo_'",
                                    "line 3: .db"]


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
