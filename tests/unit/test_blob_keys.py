"""Blob keys are built from checked parts only (a photo id, a SHA-256, an extension of
1-10 letters and digits): nothing from a record can shape a key that leaves a store."""

from __future__ import annotations

import pytest

from photosync.library.layout import blob_name

PID = "3f1c0a4e-8d1b-5c2e-9f00-000000000003"


@pytest.mark.parametrize("ext", ["jpg/../../x", "../jpg", "j.pg", "", "averylongextension", "JPG\x00"])
def test_blob_keys_are_built_from_checked_parts_only(ext):
    digest = "sha256:" + "ab" * 32
    if ext == "":
        assert blob_name(PID, digest, None, ext) == f"undated/{PID}-{'ab' * 32}.bin"
        return
    with pytest.raises(ValueError, match="extension"):
        blob_name(PID, digest, "2020-01-01T00:00:00", ext)
    with pytest.raises(ValueError):
        blob_name("../../x", digest, "2020-01-01T00:00:00", "jpg")
    assert blob_name(PID, digest, "2020-01-01T00:00:00", "JPG") == f"2020/01/{PID}-{'ab' * 32}.jpg"
