"""Mirror mode's commit after a withdrawal: a record that cannot be read any more (broken since the
plan read it) is named, and the rest of the batch is still recorded missing on the target."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from helpers import add_local_service, open_lib
from photosync.connectors import registry
from photosync.connectors.local import LocalConnector
from photosync.library.layout import SERVICES_FILE
from photosync.sample import make_photo


class Withdrawing(LocalConnector):
    """A folder that says it can withdraw items (as Amazon Photos' album does), and remembers them."""

    type_name = "withdrawing-test"
    capabilities = dataclasses.replace(LocalConnector.capabilities, withdraw=True)
    withdrawn: list[str] = []

    def withdraw(self, item_ids: list[str]) -> None:
        Withdrawing.withdrawn.extend(item_ids)


@pytest.fixture
def withdrawing():
    registry.register(Withdrawing.type_name, Withdrawing)
    Withdrawing.withdrawn = []
    yield
    registry.unregister(Withdrawing.type_name)


def test_a_record_broken_after_the_plan_is_named_and_the_rest_recorded(library, tmp_path, withdrawing):
    from photosync.phases.discover import discover
    from photosync.phases.mirror import MirrorPlan, Withdrawal, execute

    frame = tmp_path / "frame"
    frame.mkdir()
    for i in range(2):
        make_photo(frame / f"p{i}.jpg", seed=80 + i, taken=datetime(2021, 5, i + 1, 9, 0, 0))
    add_local_service(library, "frame", frame)
    lib, _ = open_lib(library)
    try:
        services = lib.raw_services()
        services["frame"]["type"] = Withdrawing.type_name
        lib.stage_config(SERVICES_FILE, services)
        lib.commit("frame: withdraws")
        discover(lib)
        pid = next(iter(lib.photo_ids()))
        item = lib.get_photo(pid).instances["frame"][0].id
    finally:
        lib.close()
    plan = MirrorPlan(actions=[Withdrawal("gone-since-the-plan", "IMG_gone.jpg", "frame", "gone.jpg"),
                               Withdrawal(pid, "p.jpg", "frame", item)])
    lib, c = open_lib(library)
    try:
        result = execute(lib, plan)
        kept = lib.get_photo(pid).instances["frame"][0]
    finally:
        lib.close()
    assert Withdrawing.withdrawn == ["gone.jpg", item]
    assert kept.missing_since is not None  # the readable record is recorded, and committed
    assert len(result.commits) == 1
    assert any("gone-since-the-plan" in f"{p.where} {p.reason}" and "not marked missing" in p.reason
               for p in c.problems)
