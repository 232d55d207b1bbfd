"""Hand edits of the library: a widened visibility is never recorded as canonical, and nothing
that fails validation (a secret, a bad service entry) is ever committed."""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import git, git_status

from photosync.sample import generate_corpus


def _library(tmp_path, cli, n=3):
    pics = tmp_path / "pics"
    generate_corpus(pics, n, seed=4, size=(64, 48), noise=4)
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-q", "-L", str(lib), "discover", check=0)
    return lib


def _record(lib, i=0):
    path = sorted((lib / "photos").rglob("*.json"))[i]
    return path, json.loads(path.read_text())


def _head(lib, path):
    return json.loads(git(lib, "show", f"HEAD:{path.relative_to(lib)}"))


# -- privacy: widening is only `photosync visibility set ... --reason` -------------------------------

def test_a_hand_edit_that_widens_is_reported_and_recorded_at_the_narrower_level(tmp_path, cli):
    lib = _library(tmp_path, cli)
    path, rec = _record(lib)
    rel = str(path.relative_to(lib))
    rec["visibility"]["canonical"] = "public"
    rec["metadata"]["caption"] = "typed by hand"
    path.write_text(json.dumps(rec, indent=2))
    r = cli("-L", str(lib), "discover")
    assert r.code == 1
    assert rel in r.err and "visibility.canonical" in r.err and "from private to public" in r.err
    assert f"photosync visibility set {rec['photo_id']} public --reason" in r.err
    # the person's other edit is kept; the wider level is in neither git nor the work tree
    assert _head(lib, path)["metadata"]["caption"] == "typed by hand"
    assert _head(lib, path)["visibility"]["canonical"] == "private"
    assert json.loads(path.read_text())["visibility"]["canonical"] == "private"
    assert git_status(lib) == ""
    assert cli("-L", str(lib), "audit", "--visibility-check").code == 0
    # narrowing by hand is fine, and the explicit command still widens
    path2, rec2 = _record(lib, 1)
    cli("-L", str(lib), "visibility", "set", rec2["photo_id"], "friends", "--reason", "family", check=0)
    rec2 = json.loads(path2.read_text())
    rec2["visibility"]["canonical"] = "private"
    path2.write_text(json.dumps(rec2, indent=2))
    cli("-L", str(lib), "discover", check=0)
    assert _head(lib, path2)["visibility"]["canonical"] == "private"
    cli("-L", str(lib), "visibility", "set", rec["photo_id"], "public", "--reason", "portfolio", check=0)
    cli("-L", str(lib), "discover", check=0)
    assert _head(lib, path)["visibility"]["canonical"] == "public"


def test_a_new_record_added_by_hand_gets_no_wider_level_than_discover_would_give(tmp_path, cli):
    lib = _library(tmp_path, cli, n=2)
    path, rec = _record(lib)
    rec["content_hash"] = "sha256:" + "ab" * 32
    rec["photo_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, rec["content_hash"]))
    rec["visibility"]["canonical"] = "friends"
    new = path.with_name(rec["photo_id"] + ".json")
    new.write_text(json.dumps(rec, indent=2))
    git(lib, "add", str(new.relative_to(lib)))
    r = cli("-L", str(lib), "status")
    assert r.code == 0, "a read-only command commits nothing"
    r = cli("-L", str(lib), "audit", "--visibility-check")
    assert r.code == 1 and str(new.relative_to(lib)) in r.err and "from private to friends" in r.err
    assert _head(lib, new)["visibility"]["canonical"] == "private"
    assert git_status(lib) == ""


def test_a_widening_committed_with_git_is_reported_and_narrowed_back(tmp_path, cli):
    lib = _library(tmp_path, cli)
    path, rec = _record(lib)
    rel = str(path.relative_to(lib))
    rec["visibility"]["canonical"] = "public"
    path.write_text(json.dumps(rec, indent=2))
    git(lib, "commit", "-qam", "share it")
    widening = git(lib, "rev-parse", "--short=10", "HEAD").strip()
    # a read-only command reports it (and writes nothing)
    r = cli("-L", str(lib), "status")
    assert r.code == 1 and rel in r.err and widening in r.err and "not with 'photosync visibility set'" in r.err
    assert json.loads(path.read_text())["visibility"]["canonical"] == "public"
    # the audit of visibility flags it; a command that writes narrows it back first
    r = cli("-L", str(lib), "audit", "--visibility-check")
    assert r.code == 1
    assert "widened by a commit not made with 'photosync visibility set'" in r.out
    assert f"private -> public in commit {widening}" in r.out
    assert "narrowed back to private" in r.out
    assert _head(lib, path)["visibility"]["canonical"] == "private"
    assert git(lib, "log", "-1", "--format=%s").startswith("library: narrowed 1 photo back")
    assert git_status(lib) == ""
    assert cli("-L", str(lib), "audit", "--visibility-check").code == 0


def test_a_widening_made_with_visibility_set_elsewhere_and_pulled_is_kept(tmp_path, cli):
    lib = _library(tmp_path, cli)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(lib), str(clone))
    path, rec = _record(lib)
    cli("-L", str(clone), "visibility", "set", rec["photo_id"], "friends", "--reason", "for the family", check=0)
    git(lib, "pull", "-q", "--ff-only", str(clone), "main")
    r = cli("-L", str(lib), "audit", "--visibility-check")
    assert r.code == 0, r.err
    assert json.loads(path.read_text())["visibility"]["canonical"] == "friends"


# -- secrets and invalid config: checked before any commit -------------------------------------------

@pytest.mark.parametrize("key", ["api_secret", "token", "Api_Secret", "flickr_api_secret", "sessionCookie"])
def test_a_secret_added_by_hand_is_refused_and_never_committed(tmp_path, cli, key):
    lib = _library(tmp_path, cli, n=1)
    services_file = lib / "config/services.json"
    before = git(lib, "show", "HEAD:config/services.json")
    services = json.loads(services_file.read_text())
    services["pics"][key] = "s3cr3t"
    services_file.write_text(json.dumps(services, indent=2))
    git(lib, "add", "config/services.json")  # even staged, it is not taken along
    for _ in range(2):  # checked again on every run
        r = cli("-L", str(lib), "discover")
        assert r.code == 1
        assert "config/services.json" in r.err and f"pics.{key}" in r.err and "secret" in r.err
        assert git(lib, "show", "HEAD:config/services.json") == before
        assert "s3cr3t" not in git(lib, "log", "-p", "--all")
        assert git(lib, "diff", "--cached", "--name-only") == ""
    # fixed: the error is gone
    del services["pics"][key]
    services["pics"]["follow_symlinks"] = False
    services_file.write_text(json.dumps(services, indent=2))
    r = cli("-L", str(lib), "discover")
    assert r.code == 0, r.err
    assert json.loads(git(lib, "show", "HEAD:config/services.json"))["pics"]["follow_symlinks"] is False


def test_a_secret_deep_in_a_store_entry_stops_the_run_and_is_not_committed(tmp_path, cli):
    lib = _library(tmp_path, cli, n=1)
    prefs_file = lib / "config/user-preferences.json"
    before = git(lib, "show", "HEAD:config/user-preferences.json")
    prefs = json.loads(prefs_file.read_text())
    prefs["blob_storage"]["stores"]["local"]["extra"] = {"Secret-Access-Key": "x"}
    prefs_file.write_text(json.dumps(prefs, indent=2))
    r = cli("-L", str(lib), "replicate", "--execute")
    assert r.code == 2
    assert "config/user-preferences.json" in r.err and "blob_storage.stores.local.extra.Secret-Access-Key" in r.err
    assert git(lib, "show", "HEAD:config/user-preferences.json") == before


def test_invalid_service_entries_are_named_and_the_file_is_not_committed(tmp_path, cli):
    lib = _library(tmp_path, cli, n=1)
    services_file = lib / "config/services.json"
    before = git(lib, "show", "HEAD:config/services.json")
    services = json.loads(services_file.read_text())
    services["../evil"] = {"type": "local", "enabled": True, "path": "/etc"}
    services["odd"] = {"type": "bogus", "enabled": True}
    services["more"] = {"type": "local", "enabled": True, "path": str(tmp_path)}
    services_file.write_text(json.dumps(services, indent=2))
    r = cli("-L", str(lib), "discover", "--service", "pics")
    assert r.code == 1
    assert "../evil" in r.err and "odd.type" in r.err and "unknown service type 'bogus'" in r.err
    assert "not committed" in r.err
    assert git(lib, "show", "HEAD:config/services.json") == before
    # the bad entries removed: the person's valid change is committed
    del services["../evil"], services["odd"]
    services_file.write_text(json.dumps(services, indent=2))
    cli("-L", str(lib), "status", check=0)
    cli("-L", str(lib), "discover", "--service", "pics", check=0)
    assert "more" in json.loads(git(lib, "show", "HEAD:config/services.json"))
    assert git_status(lib) == ""


def test_an_unknown_store_type_is_named(tmp_path, cli):
    lib = _library(tmp_path, cli, n=1)
    prefs_file = lib / "config/user-preferences.json"
    prefs = json.loads(prefs_file.read_text())
    prefs["blob_storage"]["stores"]["attic"] = {"type": "bogus"}
    prefs_file.write_text(json.dumps(prefs, indent=2))
    r = cli("-L", str(lib), "discover")
    assert r.code == 2 and "blob_storage.stores.attic.type" in r.err and "unknown store type 'bogus'" in r.err
    assert "attic" not in git(lib, "show", "HEAD:config/user-preferences.json")
