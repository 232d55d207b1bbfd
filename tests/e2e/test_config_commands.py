"""service add / store add / auth / list take their flags, help and checks from the type's
declared options: each type's --help shows its own, a flag of another type is refused with
the type's own list, and nothing is saved when anything is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import git


@pytest.fixture
def lib(tmp_path, cli) -> Path:
    root = tmp_path / "lib"
    cli("init", str(root), check=0)
    return root


@pytest.mark.parametrize("kind, type_, shown, not_shown", [
    ("service", "flickr", ["--api-key", "--api-secret", "--upload-from SERVICE", "--endpoint NAME=URL",
                           "--requests-per-hour"], ["--path", "--follow-links", "--bucket"]),
    ("service", "local", ["--path DIR", "--follow-links", "--no-follow-symlinks", "--disabled"],
     ["--api-key", "--upload-from", "--endpoint", "--bucket"]),
    ("store", "s3", ["--bucket", "--prefix", "--endpoint-url URL", "--region", "--storage-class", "--profile",
                     "--access-key-id", "--primary"], ["--path", "--api-key"]),
    ("store", "b2", ["--bucket", "--region", "backblazeb2.com", "--endpoint-url"], ["--storage-class", "--path"]),
    ("store", "local", ["--path DIR", "--verify readback|stream"], ["--bucket", "--access-key-id"]),
])
def test_each_type_shows_its_own_options(cli, lib, kind, type_, shown, not_shown):
    r = cli("-L", str(lib), kind, "add", "--type", type_, "--help", check=0)
    for flag in shown:
        assert flag in r.out, (flag, r.out)
    for flag in not_shown:
        assert flag not in r.out, (flag, r.out)
    r = cli("-L", str(lib), kind, "add", "--help", check=0)
    assert type_ in r.out and "--type TYPE --help" in r.out


def test_flags_of_another_type_are_refused_and_nothing_is_saved(cli, lib, tmp_path):
    pics = tmp_path / "pics"
    pics.mkdir()
    head = git(lib, "rev-parse", "HEAD")
    r = cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), "--api-key", "k")
    assert r.code == 2 and "a local service has no option --api-key (its options: --enabled, --path," in r.err
    r = cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), "--upload-from", "x")
    assert r.code == 2 and "has no option --upload-from" in r.err
    r = cli("-L", str(lib), "store", "add", "off", "--type", "s3", "--path", str(pics))
    assert r.code == 2 and "an s3 store has no option --path" in r.err
    r = cli("-L", str(lib), "store", "add", "off", "--type", "b2", "--bucket", "photos", "--region", "us-west-004",
            "--storage-class", "STANDARD_IA")
    assert r.code == 2 and "a b2 store has no option --storage-class" in r.err
    r = cli("-L", str(lib), "store", "add", "off", "--type", "s3", "--bucket", "photos", "--endpoint-url", "ftp://x")
    assert r.code == 2 and "blob_storage.stores.off.endpoint_url" in r.err and "nothing was added" in r.err
    r = cli("-L", str(lib), "service", "add", "fl", "--type", "flickr", "--api-key", "k", "--api-secret", "s",
            "--upload-from", "nowhere")
    assert r.code == 2 and "--upload-from nowhere: no service of that name" in r.err
    r = cli("-L", str(lib), "service", "add", "fl", "--type", "flickr", "--api-key", "k")
    assert r.code == 2 and "--api-secret" in r.err
    r = cli("-L", str(lib), "service", "add", "pics", "--type", "webdav", "--path", str(pics))
    from photosync.connectors.registry import known_types  # (every built-in type, as the message lists them)

    assert r.code == 2 and f"unknown service type 'webdav' (known: {', '.join(sorted(known_types()))})" in r.err
    r = cli("-L", str(lib), "service", "add", "--type", "local", "--path", str(pics))
    assert r.code == 2 and "give one NAME" in r.err
    assert git(lib, "rev-parse", "HEAD") == head
    assert json.loads((lib / "config/services.json").read_text()) == {}
    assert not (Path(os.environ["PHOTOSYNC_CONFIG_DIR"]) / "credentials").exists()


def test_readme_command_lines_keep_working(cli, lib, tmp_path):
    pics = tmp_path / "pics"
    nas = tmp_path / "nas"
    pics.mkdir()
    nas.mkdir()
    cli("-L", str(lib), "service", "add", "pictures", "--type", "local", "--path", str(pics), "--follow-links",
        "--disabled", check=0)
    r = cli("-L", str(lib), "service", "add", "flickr-out", "--type", "flickr", "--api-key", "KEY", "--api-secret",
            "SECRET", "--upload-from", "pictures", "--endpoint", "rest=http://127.0.0.1:9/rest",
            "--requests-per-hour", "1000", check=0)
    assert "Next: photosync auth flickr-out" in r.out
    services = json.loads((lib / "config/services.json").read_text())
    assert services == {
        "pictures": {"type": "local", "enabled": False, "path": str(pics), "follow_links": True},
        "flickr-out": {"type": "flickr", "enabled": True, "endpoints": {"rest": "http://127.0.0.1:9/rest"},
                       "upload_from": ["pictures"], "rate_limit": {"requests_per_hour": 1000.0}}}
    saved = Path(os.environ["PHOTOSYNC_CONFIG_DIR"]) / "credentials/services/flickr-out.json"
    assert json.loads(saved.read_text()) == {"api_key": "KEY", "api_secret": "SECRET"}
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    r = cli("-L", str(lib), "service", "list", check=0)
    assert "flickr-out" in r.out and "saved" in r.out and "follow_links=yes" in r.out
    cli("-L", str(lib), "store", "add", "nas", "--type", "local", "--path", str(nas), check=0)
    cli("-L", str(lib), "store", "add", "offsite", "--type", "s3", "--bucket", "my-photos", "--prefix", "library",
        "--region", "eu-west-1", "--storage-class", "STANDARD_IA", "--profile", "backup", check=0)
    r = cli("-L", str(lib), "store", "add", "backblaze", "--type", "b2", "--bucket", "my-photos", "--region",
            "us-west-004", "--primary", check=0)
    assert "store login backblaze" in r.out
    blob = json.loads((lib / "config/user-preferences.json").read_text())["blob_storage"]
    assert blob["primary"] == "backblaze" and blob["replicas"] == ["local", "nas", "offsite"]
    assert blob["stores"]["offsite"] == {"type": "s3", "bucket": "my-photos", "prefix": "library",
                                         "region": "eu-west-1", "storage_class": "STANDARD_IA", "profile": "backup"}
    # store login asks for the type's own keys, one a line
    p = subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "store", "login", "backblaze"],
                       input="id\n", capture_output=True, text=True)
    assert p.returncode == 2 and "Application key id, Application key" in p.stderr
    p = subprocess.run([sys.executable, "-m", "photosync", "-L", str(lib), "store", "login", "nas"],
                       input="id\nkey\n", capture_output=True, text=True)
    assert p.returncode == 2 and "has no keys" in p.stderr
    r = cli("-L", str(lib), "service", "remove", "flickr-out", "--delete-credentials", check=0)
    assert "Deleted" in r.out and not saved.exists()


def test_auth_takes_its_type_s_options(cli, lib, tmp_path):
    pics = tmp_path / "pics"
    pics.mkdir()
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-L", str(lib), "service", "add", "fl", "--type", "flickr", "--api-key", "k", "--api-secret", "s", check=0)
    r = cli("-L", str(lib), "auth", "fl", "--help", check=0)
    assert "--perms" in r.out and "--api-key" in r.out and "service fl (flickr)" in r.out
    r = cli("-L", str(lib), "auth", "pics", "--help", check=0)
    assert "--perms" not in r.out and "--api-key" not in r.out
    r = cli("-L", str(lib), "auth", "pics", "--api-key", "k")
    assert r.code == 2 and "service pics (local) has no option --api-key" in r.err
    r = cli("-L", str(lib), "auth", "pics")
    assert r.code != 0 and "has no sign-in" in r.err


def test_a_hand_edited_option_of_a_built_in_type_is_named(cli, lib, tmp_path):
    pics = tmp_path / "pics"
    pics.mkdir()
    cli("-L", str(lib), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    committed = git(lib, "show", "HEAD:config/services.json")
    services = json.loads(committed)
    services["pics"]["follow_link"] = True  # a typo: once silently ignored
    (lib / "config/services.json").write_text(json.dumps(services, indent=2))
    r = cli("-L", str(lib), "discover")
    assert r.code == 1
    assert ("config/services.json: field 'pics.follow_link': a local service has no option 'follow_link' "
            "(its options: enabled, path, follow_links, follow_symlinks)") in r.err, r.err
    assert git(lib, "show", "HEAD:config/services.json") == committed
