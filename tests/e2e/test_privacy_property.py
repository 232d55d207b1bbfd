"""Privacy fails closed, as a property: random sequences of discover, resolve,
replicate (blobs and uploads), audit --fix and outside changes on several
services never widen a photo's canonical visibility, nor what photosync itself
sets on a service, except through the explicit ``visibility set``.

Runs photosync's phases in this process on a real library, two folders and the
fake Flickr (a source whose owner changes permissions behind photosync's back,
and a target that receives the folder's photos)."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from fakes.flickr import FakeFlickr
from helpers import open_lib
from photosync import credentials
from photosync.library.layout import SERVICES_FILE
from photosync.library.library import Library
from photosync.model import VISIBILITY_LEVELS, within
from photosync.sample import make_photo

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "fedcba9876543210"
LEVELS = st.sampled_from(VISIBILITY_LEVELS)
PERMS = st.sampled_from([(p, fr, fa) for p in (0, 1) for fr in (0, 1) for fa in (0, 1)])  # Flickr's whole flag space


def audience_of(p) -> str:
    """Who sees a photo on Flickr: friends and family are independent flags."""
    if p.ispublic:
        return "public"
    return {(0, 0): "private", (1, 0): "friends", (0, 1): "family", (1, 1): "friends+family"}[(p.isfriend, p.isfamily)]


def allowed(rec: dict) -> str:
    """The most a service may show of a record (no friends_audience settings in this test)."""
    from photosync.privacy import allowed_audience

    return allowed_audience(rec["visibility"]["canonical"], rec["visibility"].get("friends_audience"))


def photo_bytes(seed: int, where: Path) -> bytes:
    path = make_photo(where / f"seed-{seed}.jpg", seed=seed, size=(160, 120), taken=datetime(2021, 3, 4, 5, 6, seed % 60))
    data = path.read_bytes()
    path.unlink()
    return data


class Privacy(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="privacy-"))
        self.fake = FakeFlickr(api_key=KEY, api_secret=SECRET, user_nsid="12345678@N00", username="t",
                               fullname="T", pro=True)
        self.fake.start()
        self.root, _ = Library.init(self.tmp / "lib")
        self.folders = {"pics": self.tmp / "pics", "nas": self.tmp / "nas"}
        for f in self.folders.values():
            f.mkdir()
        token, secret = self.fake.issue_token(perms="write")
        lib, _ = open_lib(self.root)
        try:
            credentials.save(lib.ctx, "services", "flickr", {
                "api_key": KEY, "api_secret": SECRET, "oauth_token": token, "oauth_token_secret": secret,
                "perms": "write", "user_nsid": "12345678@N00"})
            services = lib.raw_services()
            for name, folder in self.folders.items():
                services[name] = {"type": "local", "enabled": True, "path": str(folder)}
            services["flickr"] = {"type": "flickr", "enabled": True, "endpoints": self.fake.endpoints,
                                  "upload_from": ["pics"], "retry": {"attempts": 3, "base_seconds": 0.01},
                                  "rate_limit": {"requests_per_hour": 1e7}}
            lib.stage_config(SERVICES_FILE, services)
            lib.commit("test: services")
        finally:
            lib.close()
        self.seeds: list[int] = []
        #: photo id -> the widest canonical level allowed now (lowered whenever photosync narrows)
        self.allowed: dict[str, str] = {}
        #: flickr photos the owner made outside photosync
        self.external: set[str] = set()

    def teardown(self):
        self.fake.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the world changes --------------------------------------------------------------------
    @rule(folder=st.sampled_from(["pics", "nas"]), seed=st.integers(0, 7))
    def add_file(self, folder, seed):
        data = photo_bytes(seed, self.tmp)
        (self.folders[folder] / f"IMG_{seed}_{len(list(self.folders[folder].iterdir()))}.jpg").write_bytes(data)

    @rule(folder=st.sampled_from(["pics", "nas"]), seed=st.integers(0, 7))
    def add_resized_copy(self, folder, seed):
        """A smaller re-encoded copy: resolve --auto-resolve all merges it with its original."""
        from PIL import Image

        with Image.open(io.BytesIO(photo_bytes(seed, self.tmp))) as im:
            small = im.resize((im.width * 3 // 4, im.height * 3 // 4), Image.Resampling.LANCZOS)
            small.save(self.folders[folder] / f"small_{seed}_{len(list(self.folders[folder].iterdir()))}.jpg",
                       "JPEG", quality=70)

    @rule(seed=st.integers(0, 7), perms=PERMS)
    def add_on_flickr(self, seed, perms):
        pid = self.fake.add_photo(data=photo_bytes(seed, self.tmp), title=f"f{seed}", is_public=perms[0],
                                  is_friend=perms[1], is_family=perms[2])
        self.external.add(pid)

    @precondition(lambda self: self.external)
    @rule(data=st.data(), perms=PERMS)
    def owner_changes_permissions_on_flickr(self, data, perms):
        pid = data.draw(st.sampled_from(sorted(self.external)))
        if pid in self.fake.photos:
            self.fake.set_perms(pid, *perms)

    # -- photosync --------------------------------------------------------------------------------
    def _run(self, fn):
        before = self._flickr_levels()
        lib, _ = open_lib(self.root)
        try:
            fn(lib)
        finally:
            lib.close()
        self._check(before)

    @rule(full=st.booleans())
    def discover(self, full):
        from photosync.phases.discover import discover

        self._run(lambda lib: discover(lib, full_scan=full, workers=1))

    @rule(auto=st.sampled_from(["simple", "all"]))
    def resolve(self, auto):
        from photosync.phases.resolve import resolve

        self._run(lambda lib: resolve(lib, auto=auto))

    @rule()
    def replicate(self):
        from photosync.phases import publish, replicate

        def go(lib):
            replicate.execute(lib, replicate.make_plan(lib), workers=1)
            publish.execute(lib, publish.make_plan(lib), workers=1)

        self._run(go)

    @rule()
    def audit_fix(self):
        from photosync.phases.audit import audit_visibility, fix_visibility

        self._run(lambda lib: fix_visibility(lib, audit_visibility(lib)))

    @precondition(lambda self: self.allowed)
    @rule(data=st.data(), level=LEVELS)
    def visibility_set(self, data, level):
        """The explicit command: the one way to widen."""
        from photosync.conflicts import visibility as vis

        pid = data.draw(st.sampled_from(sorted(self.allowed)))
        lib, _ = open_lib(self.root)
        try:
            lib.stage(vis.set_canonical(lib.get_photo(pid), level))
            lib.commit(f"visibility: {pid} -> {level}\n\nreason: the test says so")
            self.allowed[pid] = allowed(self._records()[pid])
        finally:
            lib.close()

    @rule()
    def visibility_adopt(self):
        """The other explicit command: Flickr's levels (friends and family apart) become canonical."""
        from photosync.conflicts import visibility as vis

        lib, _ = open_lib(self.root)
        try:
            for pid in list(self.allowed):
                photo = lib.get_photo(pid)
                taken = vis.adopted(photo, "flickr")
                if taken:
                    lib.stage(vis.set_canonical(photo, *taken))
            lib.commit("visibility: adopted flickr's levels\n\nreason: the test says so")
        finally:
            lib.close()
        self.allowed = {pid: allowed(rec) for pid, rec in self._records().items() if pid in self.allowed}

    # -- the property ------------------------------------------------------------------------------
    def _records(self) -> dict[str, dict]:
        return {json.loads(p.read_text())["photo_id"]: json.loads(p.read_text())
                for p in (self.root / "photos").rglob("*.json")}

    def _flickr_levels(self) -> dict[str, str]:
        return {pid: audience_of(p) for pid, p in self.fake.photos.items()}

    def _check(self, flickr_before: dict[str, str]) -> None:
        """Decided on audiences (sets of people), never on the coarse rank alone: family-only
        becoming friends-and-family, or friends-only becoming family-only, is a widening."""
        records = self._records()
        for pid, rec in records.items():
            now = allowed(rec)
            if pid not in self.allowed:
                # new photos are private (default_visibility), however widely a service shows them
                assert now == "private", f"new photo {pid} recorded as {now}"
            else:
                assert within(now, self.allowed[pid]), \
                    f"{pid} widened from {self.allowed[pid]} to {now} without 'visibility set' or 'adopt'"
            self.allowed[pid] = now
        for pid in [p for p in self.allowed if p not in records]:
            del self.allowed[pid]  # merged into another record (resolve): its file is gone, its copies live on there
        # what photosync did on Flickr: never wider than before, never wider than canonical
        flickr_to_record = {i["id"]: rec for rec in records.values() for i in rec["instances"].get("flickr", [])}
        for fid, now in self._flickr_levels().items():
            before = flickr_before.get(fid)
            if before is not None:
                assert within(now, before), f"flickr {fid} widened {before} -> {now}"
            elif fid not in self.external:  # photosync uploaded it in this step
                rec = flickr_to_record.get(fid)
                assert rec is not None, f"flickr {fid} uploaded but not recorded"
                assert within(now, allowed(rec)), f"uploaded {fid} as {now}, allowed {allowed(rec)}"


Privacy.TestCase.settings = settings(max_examples=12, stateful_step_count=10, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestPrivacy = Privacy.TestCase
