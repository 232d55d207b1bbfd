"""The exercise of docs/adding-a-service.md: a new, read-only service type (a folder of
photos with sidecar JSON, tests/plugins/sidecar_folder/) installed as a third-party
package would be — an entry point in the ``photosync.connectors`` group — and used
through the real command: its options in --help, its config checked by its own
declaration, discover reading it.  Nothing in photosync's cli/ or phases/ names it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import git, git_status

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"


@pytest.fixture
def plugin_env(tmp_path) -> dict:
    """PYTHONPATH with the plug-in's package and its distribution metadata (entry points), the
    way pip would have installed it."""
    site = tmp_path / "site"
    dist = site / "photosync_sidecar_folder-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: photosync-sidecar-folder\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[photosync.connectors]\nsidecar-folder = sidecar_folder:SidecarFolderConnector\n"
        "broken = sidecar_folder.no_such_module:Connector\n")
    path = os.pathsep.join([str(site), str(PLUGINS), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path}


def _photo(path: Path, seed: int) -> None:
    from datetime import datetime

    from photosync.sample import make_photo

    make_photo(path, seed=seed, taken=datetime(2020, 1, seed, 10, 0, 0))


@pytest.fixture
def export(tmp_path) -> Path:
    """An export: two photos with sidecars (one public), one without, one with a broken sidecar."""
    folder = tmp_path / "export"
    (folder / "2019").mkdir(parents=True)
    _photo(folder / "2019/beach.jpg", 1)
    (folder / "2019/beach.jpg.json").write_text(json.dumps({
        "title": "Beach", "description": "the long one", "tags": ["sea", "two words"],
        "taken": "2019-07-04T14:22:33", "location": {"lat": 45.5, "lng": -73.25}, "visibility": "public"}))
    _photo(folder / "hill.jpg", 2)
    (folder / "hill.jpg.json").write_text(json.dumps({"title": "Hill", "visibility": "private"}))
    _photo(folder / "plain.jpg", 3)
    _photo(folder / "broken.jpg", 4)
    (folder / "broken.jpg.json").write_text("{ not json")
    return folder


def _records(lib: Path) -> dict[str, dict]:
    out = {}
    for p in (lib / "photos").rglob("*.json"):
        rec = json.loads(p.read_text())
        out[rec["metadata"]["filename"]] = rec
    return out


def test_its_options_are_in_help_and_nothing_else(tmp_path, cli, plugin_env):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    r = cli("-L", str(lib), "service", "add", "--type", "sidecar-folder", "--help", env=plugin_env, check=0)
    assert "--path DIR" in r.out and "--sidecar suffix|stem" in r.out and "--require-sidecar" in r.out
    assert "IMG_1.jpg.json" in r.out  # the option's own help
    for other in ("--api-key", "--follow-links", "--bucket", "--upload-from", "--endpoint"):
        assert other not in r.out, other
    r = cli("-L", str(lib), "service", "add", "--help", env=plugin_env, check=0)
    assert "sidecar-folder" in r.out and "sidecar JSON" in r.out
    # without the package installed the type is unknown: it comes from the entry point, not from photosync
    r = cli("-L", str(lib), "service", "add", "x", "--type", "sidecar-folder", "--path", str(tmp_path))
    assert r.code == 2 and "unknown service type 'sidecar-folder'" in r.err


def test_a_bad_option_is_refused_with_its_name(tmp_path, cli, plugin_env, export):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    before = git(lib, "rev-parse", "HEAD")
    r = cli("-L", str(lib), "service", "add", "ex", "--type", "sidecar-folder", "--path", str(export),
            "--sidecar", "beside", env=plugin_env)
    assert r.code == 2 and "--sidecar beside: use one of suffix, stem" in r.err, r.err
    r = cli("-L", str(lib), "service", "add", "ex", "--type", "sidecar-folder", "--path", str(export),
            "--follow-links", env=plugin_env)
    assert r.code == 2 and "a sidecar-folder service has no option --follow-links" in r.err, r.err
    r = cli("-L", str(lib), "service", "add", "ex", "--type", "sidecar-folder", env=plugin_env)
    assert r.code == 2 and "needs --path" in r.err, r.err
    assert git(lib, "rev-parse", "HEAD") == before, "nothing was added"
    # a hand edit is checked by the type's declaration too: named, not committed, the others go on
    cli("-L", str(lib), "service", "add", "ex", "--type", "sidecar-folder", "--path", str(export), env=plugin_env,
        check=0)
    services_file = lib / "config/services.json"
    committed = git(lib, "show", "HEAD:config/services.json")
    for key, value, says in (("sidecar", "beside", "'beside' is not one of ['suffix', 'stem']"),
                             ("sidecars", "stem", "a sidecar-folder service has no option 'sidecars'")):
        services = json.loads(committed)
        services["ex"][key] = value
        services["more"] = {"type": "sidecar-folder", "enabled": True, "path": str(export)}
        services_file.write_text(json.dumps(services, indent=2))
        r = cli("-L", str(lib), "discover", "--service", "more", env=plugin_env)
        assert r.code == 1, r.err
        assert f"config/services.json: field 'ex.{key}'" in r.err and says in r.err, r.err
        assert git(lib, "show", "HEAD:config/services.json") == committed
        assert "more" in _records_services(lib)


def _records_services(lib: Path) -> set[str]:
    return {svc for rec in _records(lib).values() for svc in rec["instances"]}


def test_discover_reads_it_through_the_real_command(tmp_path, cli, plugin_env, export):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    r = cli("-L", str(lib), "service", "add", "ex", "--type", "sidecar-folder", "--path", str(export),
            env=plugin_env, check=0)
    assert "Next: photosync discover --service ex" in r.out  # it has no sign-in
    assert json.loads((lib / "config/services.json").read_text())["ex"] == {
        "type": "sidecar-folder", "enabled": True, "path": str(export)}
    r = cli("-L", str(lib), "discover", env=plugin_env)
    assert r.code == 1, "the broken sidecar is an error of that photo only"
    assert "broken.jpg.json is not readable JSON" in r.err, r.err
    recs = _records(lib)
    assert sorted(recs) == ["beach.jpg", "hill.jpg", "plain.jpg"]
    beach = recs["beach.jpg"]
    inst = beach["instances"]["ex"][0]
    assert inst["id"] == "2019/beach.jpg"
    assert inst["metadata"]["caption"] == "Beach\n\nthe long one"
    assert inst["metadata"]["tags"] == ["sea", "two words"]
    assert inst["metadata"]["taken_date"] == "2019-07-04T14:22:33"
    assert inst["metadata"]["location"] == {"lat": 45.5, "lng": -73.25}
    assert inst["visibility"] == "public"
    assert beach["visibility"]["canonical"] == "private", "privacy fails closed: shown public is not chosen public"
    assert git_status(lib) == ""
    # a no-change run reads nothing and commits nothing
    head = git(lib, "rev-parse", "HEAD")
    r = cli("-L", str(lib), "discover", env=plugin_env)
    assert git(lib, "rev-parse", "HEAD") == head
    # audit --fix honours what the type declares: it cannot set visibility, so it says so and calls nothing
    r = cli("-L", str(lib), "audit", "--visibility-check", "--fix", "--yes", env=plugin_env)
    assert "ex cannot be narrowed by photosync; change it there by hand" in r.err, r.err
    assert "not narrowed on ex" not in r.err
    assert _records(lib)["beach.jpg"]["instances"]["ex"][0]["visibility"] == "public"


def test_it_lists_and_removes_like_any_service(tmp_path, cli, plugin_env, export):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "ex", "--type", "sidecar-folder", "--path", str(export), "--sidecar",
        "stem", "--require-sidecar", env=plugin_env, check=0)
    r = cli("-L", str(lib), "service", "list", env=plugin_env, check=0)
    assert "sidecar-folder" in r.out and "sidecar=stem" in r.out and "require_sidecar=yes" in r.out
    r = cli("-L", str(lib), "auth", "ex", env=plugin_env)
    assert r.code != 0 and "has no sign-in" in r.err
    cli("-L", str(lib), "service", "remove", "ex", env=plugin_env, check=0)
    assert json.loads((lib / "config/services.json").read_text()) == {}


def test_a_plugin_that_does_not_load_is_named_and_the_rest_goes_on(tmp_path, cli, plugin_env, export):
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    cli("-L", str(lib), "service", "add", "ex", "--type", "sidecar-folder", "--path", str(export), env=plugin_env,
        check=0)
    services = json.loads((lib / "config/services.json").read_text())
    services["odd"] = {"type": "broken", "enabled": True}
    (lib / "config/services.json").write_text(json.dumps(services, indent=2))
    r = cli("-L", str(lib), "discover", env=plugin_env)
    assert "field 'odd.type'" in r.err and "service type 'broken'" in r.err and "cannot be loaded" in r.err, r.err
    assert _records(lib), "the other service was read"
    r = cli("-L", str(lib), "service", "add", "--help", env=plugin_env, check=0)
    assert "broken" in r.out and "cannot load" in r.out
