"""Symbolic links and hidden files in a local source: links that lead outside
the folder are not followed unless the service says so, and what is left out is
counted and said once a run."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from photosync.sample import make_photo


def recorded_ids(lib: Path, service: str) -> set[str]:
    out = set()
    for p in (lib / "photos").rglob("*.json"):
        for inst in json.loads(p.read_text())["instances"].get(service, []):
            out.add(inst["id"])
    return out


def test_links_outside_the_folder_are_not_followed_and_hidden_files_are_counted(tmp_path, cli):
    pictures = tmp_path / "pics"
    outside = tmp_path / "elsewhere"
    make_photo(pictures / "a.jpg", seed=1, taken=datetime(2019, 1, 1))
    make_photo(pictures / "real/b.jpg", seed=2, taken=datetime(2019, 1, 2))
    make_photo(outside / "system/secret.jpg", seed=3, taken=datetime(2019, 1, 3))
    make_photo(outside / "loose.jpg", seed=4, taken=datetime(2019, 1, 4))
    os.symlink(outside / "system", pictures / "etc")  # a folder link out of the source
    os.symlink(outside / "loose.jpg", pictures / "loose.jpg")  # a file link out of it
    os.symlink("real", pictures / "tree")  # a folder link inside: followed (its folder is scanned once)
    os.symlink("real/b.jpg", pictures / "b-link.jpg")  # a file link inside: followed
    make_photo(pictures / ".hidden.jpg", seed=5, taken=datetime(2019, 1, 5))
    make_photo(pictures / ".thumbnails/t.jpg", seed=6, taken=datetime(2019, 1, 6))
    (pictures / ".DS_Store").write_bytes(b"\0" * 10)

    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pictures), check=0)
    r = cli("--library", str(lib), "discover")
    assert recorded_ids(lib, "pics") == {"a.jpg", "real/b.jpg", "b-link.jpg"}
    lines = [line for line in r.err.splitlines() if "symbolic link" in line]
    assert len(lines) == 1, r.err
    assert "2 symbolic links lead outside" in lines[0] and "not followed" in lines[0]
    assert "(e.g. etc -> " in lines[0] and "follow_links" in lines[0]
    hidden = [line for line in r.err.splitlines() if "hidden" in line]
    assert len(hidden) == 1, r.err
    assert "1 hidden photo or video file (e.g. .hidden.jpg)" in hidden[0]
    assert "1 hidden folder (e.g. .thumbnails)" in hidden[0]
    assert r.code == 1, "links that were not followed are a warning"

    # the person asks for them: a service that follows links wherever they lead
    cli("--library", str(lib), "service", "add", "all", "--type", "local", "--path", str(pictures),
        "--follow-links", check=0)
    assert json.loads((lib / "config/services.json").read_text())["all"]["follow_links"] is True
    r = cli("--library", str(lib), "discover", "--service", "all", check=0)
    assert recorded_ids(lib, "all") == {"a.jpg", "real/b.jpg", "b-link.jpg", "etc/secret.jpg", "loose.jpg"}
    assert "symbolic link" not in r.err


def test_follow_symlinks_false_follows_no_link(tmp_path, cli):
    pictures = tmp_path / "pics"
    make_photo(pictures / "real/b.jpg", seed=2, taken=datetime(2019, 1, 2))
    os.symlink("real", pictures / "alias")
    os.symlink("real/b.jpg", pictures / "b-link.jpg")
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("--library", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pictures), check=0)
    services = json.loads((lib / "config/services.json").read_text())
    services["pics"]["follow_symlinks"] = False
    (lib / "config/services.json").write_text(json.dumps(services, indent=2))
    r = cli("--library", str(lib), "discover", check=0)
    assert recorded_ids(lib, "pics") == {"real/b.jpg"}
    assert "2 symbolic links not followed (follow_symlinks is false" in r.err
