"""Motion-photo videos of a Google Takeout (``PXL_….MP`` beside ``PXL_….MP.jpg``, ``IMG_1.MP4``
beside ``IMG_1.JPG``: the connector's ``motion_of``) are linked to their still by resolve: a
decided link on both records, never merged, never a question (the iCloud live photo's case is in
test_icloud.py)."""

from __future__ import annotations

import json
from pathlib import Path

import takeout
from conftest import run_cli


def _records(lib: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")]


def test_resolve_links_each_motion_video_to_its_still_without_a_question(tmp_path):
    man = takeout.generate(tmp_path / "export", photos=24, parts=1, form="zip", locale="en")
    lib = tmp_path / "lib"
    run_cli("init", str(lib), check=0)
    run_cli("-L", str(lib), "service", "add", "google", "--type", "google-takeout", "--path",
            str(tmp_path / "export"), check=0)
    run_cli("-L", str(lib), "discover", "--service", "google")
    r = run_cli("-L", str(lib), "resolve", "--auto-resolve", "all")
    motions = [p for p in man.expected if p.kind == "motion"]
    assert motions
    assert f"{len(motions)} motion video" in r.out, r.out
    by_hash: dict[str, dict] = {}
    for rec in _records(lib):
        for inst in rec["instances"].get("google", []):
            by_hash[inst["content_hash"].split(":", 1)[1]] = rec
    for m in motions:
        movie, still = by_hash[m.sha256], by_hash[man.photo(m.motion_of).sha256]
        assert movie["photo_id"] != still["photo_id"], "a motion video is never merged into its still"
        there = {x["conflict_id"]: x for x in movie.get("resolutions", [])}
        back = {x["conflict_id"]: x for x in still.get("resolutions", [])}
        link = there[f"motion_variant:{still['photo_id']}"]
        assert link["choice"] == "linked" and link["policy"] == "motion_pair"
        assert f"motion_variant:{movie['photo_id']}" in back
        for a, b in ((movie, still), (still, movie)):
            assert not [c for c in a.get("conflicts", []) if b["photo_id"] in c.get("related_photos", [])], \
                "the pair is not a question"
    # a second resolve changes nothing (the links are there already)
    before = _records(lib)
    r = run_cli("-L", str(lib), "resolve", "--auto-resolve", "all")
    assert "motion video" not in r.out and _records(lib) == before
