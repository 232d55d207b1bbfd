"""The whole of ``photosync replicate --execute`` in one place: blob copies, then uploads to the
targets (publish), then mirror-mode withdrawals. ``cli/cmd_replicate.py`` and ``watch`` both run
it from here, so the two cannot drift (they did: watch ran copies and uploads but never mirror,
and a photo removed from a shared album stayed on the photo frame for ever under ``watch``).

The order matters: copies first, so a photo a mirror target would withdraw has its min_copies
verified blob copies before anything is taken away (lose no data).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..library.library import Library
from . import mirror, publish, replicate


@dataclass
class Plans:
    copies: replicate.Plan
    uploads: publish.UploadPlan
    withdrawals: mirror.MirrorPlan


@dataclass
class Results:
    copies: replicate.ReplicateResult
    uploads: publish.UploadResult
    withdrawals: mirror.MirrorResult

    @property
    def failed(self) -> bool:
        return self.copies.failed > 0 or self.uploads.failed > 0 or self.withdrawals.failed > 0


def make_plans(lib: Library) -> Plans:
    return Plans(replicate.make_plan(lib), publish.make_plan(lib), mirror.make_plan(lib))


def execute(lib: Library, plans: Plans, workers: int | None = None) -> Results:
    copies = replicate.execute(lib, plans.copies, workers=workers)
    uploads = publish.execute(lib, plans.uploads, workers=workers)
    return Results(copies, uploads, mirror.execute(lib, plans.withdrawals))
