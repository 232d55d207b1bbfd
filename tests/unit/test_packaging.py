"""An installed photosync (not an editable checkout) has every one of its packages: the
package discovery configured in pyproject.toml finds each folder of photosync that is a package
(a new connector is one folder; nothing to add to a list)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent.parent


def test_every_package_is_found_for_installation():
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    listed = set(find_packages(str(ROOT), include=find["include"], exclude=find.get("exclude", ())))
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "photosync").rglob("__init__.py")}
    assert found - listed == set(), "packages a wheel would leave out"
    assert listed - found == set(), "packages a wheel would hold that are not photosync's"
