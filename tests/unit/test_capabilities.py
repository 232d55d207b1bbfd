"""The phases honour what a connector type declares (connectors/base.py Capabilities),
shown with small connector types registered in this process (registry.register)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pytest

from helpers import add_local_service, open_lib
from photosync.connectors import registry
from photosync.connectors.base import Capabilities
from photosync.connectors.local import LocalConnector
from photosync.library import settings
from photosync.options import Option
from photosync.sample import make_photo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))


class Misdeclared(LocalConnector):
    """A folder whose type offers upload_from by mistake: it cannot upload (upload raises Unsupported)."""

    type_name = "misdeclared"
    capabilities = Capabilities()
    options = (*LocalConnector.options, Option("upload_from", "Sources (a mistake).", "list"))


@pytest.fixture
def types():
    from sidecar_folder import SidecarFolderConnector

    made = {"misdeclared": Misdeclared, "sidecar-folder": SidecarFolderConnector}
    for name, cls in made.items():
        registry.register(name, cls)
    yield made
    for name in made:
        registry.unregister(name)


def _photos(folder: Path, n: int) -> None:
    for i in range(n):
        make_photo(folder / f"p{i}.jpg", seed=40 + i, taken=datetime(2021, 3, i + 1, 9, 0, 0))


def test_publish_plans_no_upload_to_a_service_that_cannot_upload(library, tmp_path, types):
    from photosync.phases import publish
    from photosync.phases.discover import discover
    from photosync.phases.resolve import resolve

    pics = tmp_path / "pics"
    out = tmp_path / "out"
    pics.mkdir()
    out.mkdir()
    _photos(pics, 2)
    add_local_service(library, "pics", pics)
    lib, c = open_lib(library)
    try:
        settings.add_service(lib, "out", "misdeclared", {"path": str(out), "upload_from": ["pics"]})
        discover(lib, service="pics")
        resolve(lib, auto="simple")
        assert publish.targets(lib) == {}
        plan = publish.make_plan(lib)
        assert plan.actions == [] and plan.refused == []
        assert any("out" in str(p) and "cannot take uploads" in str(p) for p in c.problems), c.problems
        result = publish.execute(lib, plan)
        assert result.uploaded == 0 and result.failed == 0
        # and resolve records no service-policy conflict for it either (it is no upload target)
        assert all(not photo_conflicts(lib, pid) for pid in lib.photo_ids())
    finally:
        lib.close()


def photo_conflicts(lib, pid):
    return [x for x in lib.get_photo(pid).conflicts if x.type == "service_policy_violation"]


def test_a_service_that_cannot_upload_is_given_no_upload_from(library, tmp_path, types):
    """The type's schema gives upload_from only to types that can upload: a read-only type refuses it."""
    from photosync.errors import ConfigError, InvalidRecord
    from photosync.library import config as cfg

    folder = tmp_path / "f"
    folder.mkdir()
    add_local_service(library, "pics", folder)
    lib, _ = open_lib(library)
    try:
        with pytest.raises(ConfigError, match="a sidecar-folder service takes no --upload-from"):
            settings.add_service(lib, "ex", "sidecar-folder", {"path": str(folder), "upload_from": ["pics"]})
    finally:
        lib.close()
    with pytest.raises(InvalidRecord, match="it cannot take uploads"):
        cfg.check_service_entry("ex", {"type": "sidecar-folder", "enabled": True, "path": "/p",
                                       "upload_from": ["pics"]})


def test_the_rules_of_stores_are_the_librarys(library, tmp_path):
    """Roles and min_copies: a replica raises min_copies to 2, a new primary makes the old one a replica."""
    nas, usb = tmp_path / "nas", tmp_path / "usb"
    nas.mkdir()
    usb.mkdir()
    lib, _ = open_lib(library)
    try:
        added = settings.add_store(lib, "nas", "local", {"path": str(nas)})
        assert (added.role, added.min_copies, added.keys_hint) == ("replica", 2, None)
        added = settings.add_store(lib, "usb", "local", {"path": str(usb)}, primary=True)
        blob = lib.raw_preferences()["blob_storage"]
        assert blob["primary"] == "usb" and blob["replicas"] == ["local", "nas"] and blob["min_copies"] == 2
        added = settings.add_store(lib, "off", "s3", {"bucket": "photos", "region": "eu-west-1"})
        assert added.keys_hint == "Keys: photosync store login off (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
        added = settings.add_store(lib, "off2", "s3", {"bucket": "photos", "profile": "backup"})
        assert added.keys_hint is None
        rows, min_copies = settings.store_rows(lib)
        assert [(r.name, r.state, r.keys) for r in rows] == [
            ("local", "replica", None), ("nas", "replica", None), ("off", "replica", "missing"),
            ("off2", "replica", "missing"), ("usb", "primary", None)]
    finally:
        lib.close()
