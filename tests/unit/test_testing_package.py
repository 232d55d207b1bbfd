"""The contract suites ship in the package, but pytest is a test dependency only:
importing photosync (its commands, phases, connectors, stores, and the testing
package itself) never imports pytest; the suite modules do."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import photosync, photosync.testing, photosync.cli.app, photosync.phases.discover, photosync.phases.replicate
import photosync.connectors.local, photosync.stores.local, photosync.stores.s3
from photosync.connectors import registry
registry.connector_class("flickr")
assert "pytest" not in sys.modules, "importing photosync imported pytest"
import photosync.testing.connector, photosync.testing.store
assert "pytest" in sys.modules
"""


def test_importing_photosync_does_not_import_pytest():
    p = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_the_suites_are_collected_only_through_subclasses(tmp_path):
    """A module that imports the suites collects nothing; one that subclasses them collects their tests."""
    (tmp_path / "test_imports.py").write_text(
        "from photosync.testing.connector import ConnectorCase, ConnectorContract, FolderCase\n"
        "from photosync.testing.store import FolderStoreCase, StoreCase, StoreContract\n")
    (tmp_path / "test_subclass.py").write_text(
        "import pytest\n"
        "from photosync.testing.store import FolderStoreCase, StoreContract\n"
        "class TestFolderStore(StoreContract):\n"
        "    @pytest.fixture\n"
        "    def case(self, tmp_path):\n"
        "        return FolderStoreCase(tmp_path)\n")

    p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                        "test_imports.py", "test_subclass.py"], capture_output=True, text=True, cwd=tmp_path)
    tests = [line for line in p.stdout.splitlines() if "::" in line]
    assert tests, p.stdout + p.stderr
    assert all(t.startswith("test_subclass.py::TestFolderStore::test_") for t in tests), tests
