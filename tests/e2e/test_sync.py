"""The library across machines (issue 17), through the real command: two libraries cloned from one
bare repository, each discovering its own folder and a shared one, answering different questions,
syncing in both orders; then a plain `git pull` with the merge driver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import git, git_status
from photosync.sample import generate_corpus


def _bare(tmp_path: Path) -> Path:
    bare = tmp_path / "nas" / "photos.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    return bare


def _records(lib: Path) -> dict[str, dict]:
    return {json.loads(p.read_text())["photo_id"]: json.loads(p.read_text()) for p in (lib / "photos").rglob("*.json")}


def _tree(lib: Path) -> str:
    return git(lib, "rev-parse", "HEAD^{tree}").strip()


def _two_machines(tmp_path, cli):
    bare = _bare(tmp_path)
    shared = tmp_path / "shared"
    generate_corpus(shared, 3, seed=11, size=(64, 48), noise=4)
    a = tmp_path / "laptop"
    cli("init", str(a), check=0)
    cli("-L", str(a), "service", "add", "shared", "--type", "local", "--path", str(shared), check=0)
    cli("-L", str(a), "remote", "add", "origin", bare.as_uri(), check=0)
    cli("-L", str(a), "sync", check=0)
    b = tmp_path / "nas-lib"
    cli("clone", bare.as_uri(), str(b), check=0)
    return bare, shared, a, b


def test_two_machines_discover_and_sync_in_both_orders(tmp_path, cli):
    bare, shared, a, b = _two_machines(tmp_path, cli)
    assert (b / ".gitattributes").read_text().count("merge=photosync") == 2
    assert git(b, "config", "merge.photosync.driver").strip().endswith("merge-driver %O %A %B %P")
    own_a, own_b = tmp_path / "phone", tmp_path / "archive"
    generate_corpus(own_a, 2, seed=21, size=(64, 48), noise=4)
    generate_corpus(own_b, 2, seed=31, size=(64, 48), noise=4)
    cli("-L", str(a), "service", "add", "phone", "--type", "local", "--path", str(own_a), check=0)
    cli("-L", str(b), "service", "add", "archive", "--type", "local", "--path", str(own_b), check=0)
    # both see the shared folder (a NAS mount), under its own service on each machine
    cli("-L", str(b), "service", "add", "nas-shared", "--type", "local", "--path", str(shared), check=0)
    for lib in (a, b):
        cli("-q", "-L", str(lib), "discover", check=0)
    ra, rb = _records(a), _records(b)
    common = set(ra) & set(rb)
    assert len(common) == 3, "the shared folder's photos have the same ids on both machines"
    # different answers about the same photos
    pid = sorted(common)[0]
    cli("-L", str(a), "visibility", "set", pid, "friends", "--reason", "family album", check=0)
    other = sorted(common)[1]
    cli("-L", str(b), "visibility", "set", other, "public", "--reason", "blog", check=0)
    cli("-L", str(a), "visibility", "set", other, "friends", "--reason", "cousins", check=0)
    cli("-L", str(b), "sync", check=0)
    cli("-L", str(a), "sync", check=0)
    cli("-L", str(b), "sync", check=0)
    assert _tree(a) == _tree(b) == git(bare, "rev-parse", "main^{tree}").strip()
    merged = _records(a)
    assert len(merged) == 3 + 2 + 2
    assert {i["id"] for insts in merged[pid]["instances"].values() for i in insts} >= {
        i["id"] for insts in ra[pid]["instances"].values() for i in insts}
    assert set(merged[pid]["instances"]) == {"shared", "nas-shared"}, "one record, both machines' copies"
    assert merged[pid]["visibility"]["canonical"] == "friends", "an explicit widening on one side stands"
    assert merged[other]["visibility"]["canonical"] == "friends", "two changes: the narrower"
    for lib in (a, b):
        assert git_status(lib) == ""
        assert cli("-L", str(lib), "status", "--json", check=0).json["photos"] == 7
    subprocess.run(["git", "-C", str(bare), "fsck", "--strict"], check=True, capture_output=True)


def test_a_plain_git_pull_merges_with_the_driver(tmp_path, cli):
    bare, shared, a, b = _two_machines(tmp_path, cli)
    cli("-q", "-L", str(a), "discover", check=0)
    cli("-L", str(a), "sync", check=0)
    git(b, "pull", "-q", "origin", "main")
    pid = sorted(_records(b))[0]
    path_b = next((b / "photos").rglob(f"{pid}.json"))
    rel = str(path_b.relative_to(b))
    # the same record edited differently on both machines, committed with plain git
    for lib, caption in ((a, "from the laptop"), (b, "from the nas")):
        rec = json.loads((lib / rel).read_text())
        rec["metadata"]["caption"] = caption
        (lib / rel).write_text(json.dumps(rec, indent=2) + "\n")
        git(lib, "commit", "-q", "-am", f"caption on {lib.name}")
    git(a, "push", "-q", "origin", "main")
    git(b, "pull", "-q", "--no-rebase", "origin", "main")  # git runs photosync merge-driver
    rec = json.loads((b / rel).read_text())
    assert rec["metadata"]["caption"] is None or rec["metadata"]["caption"] not in ("from the laptop", "from the nas")
    (conflict,) = [c for c in rec["conflicts"] if c["type"] == "sync_conflict"]
    assert sorted(conflict["values"].values()) == ["from the laptop", "from the nas"]
    assert "<<<<<<<" not in (b / rel).read_text()
    assert git_status(b) == ""
    # resolve asks; the answer travels to the other machine with the next syncs
    p = subprocess.run([sys.executable, "-m", "photosync", "-L", str(b), "resolve", "--interactive"],
                       input="2\n", capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "from the laptop" in p.stdout and "from the nas" in p.stdout
    assert json.loads((b / rel).read_text())["metadata"]["caption"] == "from the nas"
    cli("-L", str(b), "sync", check=0)
    cli("-L", str(a), "sync", check=0)
    rec = json.loads((a / rel).read_text())
    assert rec["metadata"]["caption"] == "from the nas" and not rec["conflicts"]
    assert _tree(a) == _tree(b)


def test_one_library_on_machines_that_mount_the_share_elsewhere(tmp_path, cli):
    import shutil

    bare, shared, a, b = _two_machines(tmp_path, cli)
    cli("-q", "-L", str(a), "discover", check=0)
    cli("-L", str(a), "sync", check=0)
    cli("-L", str(b), "sync", check=0)
    mount_b = tmp_path / "mnt" / "photos"  # the same share, mounted elsewhere on the second machine
    shutil.copytree(shared, mount_b, copy_function=shutil.copy2)
    services = (b / "config" / "services.json").read_text()
    cli("-L", str(b), "machine", "path", "service", "shared", str(mount_b), check=0)
    assert (b / "config" / "services.json").read_text() == services, "the shared config is not changed"
    assert git_status(b) == "", "config/machine.json is not shared (gitignored)"
    shared.rename(tmp_path / "first-machine-only")  # this machine sees the share only where it mounts it
    head = git(b, "rev-parse", "HEAD")
    cli("-q", "-L", str(b), "discover", check=0)
    assert git(b, "rev-parse", "HEAD") == head, "the same files: nothing new, nothing gone"
    recs = _records(b)
    assert all(i.get("missing_since") is None for r in recs.values() for insts in r["instances"].values()
               for i in insts), "nothing marked missing: the folder is the same share"
    # a path that does not exist is refused, naming it
    bad = cli("-L", str(b), "machine", "path", "service", "shared", str(tmp_path / "nope"))
    assert bad.code == 2 and "nope" in bad.err


def test_git_pull_keeps_a_widening_made_with_visibility_set_on_the_other_machine(tmp_path, cli):
    bare, shared, a, b = _two_machines(tmp_path, cli)
    cli("-q", "-L", str(a), "discover", check=0)
    cli("-L", str(a), "sync", check=0)
    git(b, "pull", "-q", "origin", "main")
    pid, other = sorted(_records(b))[:2]
    cli("-L", str(a), "visibility", "set", pid, "friends", "--reason", "family album", check=0)
    git(a, "push", "-q", "origin", "main")
    # the other machine edits the same record (a caption) and widens another by hand, with plain git
    for target, change in ((pid, ("caption", "nas caption")), (other, None)):
        path = next((b / "photos").rglob(f"{target}.json"))
        rec = json.loads(path.read_text())
        if change:
            rec["metadata"][change[0]] = change[1]
        else:
            rec["visibility"]["canonical"] = "public"
        path.write_text(json.dumps(rec, indent=2) + "\n")
    git(b, "commit", "-q", "-am", "edits on the nas")
    git(b, "pull", "-q", "--no-rebase", "origin", "main")
    merged = _records(b)
    assert merged[pid]["visibility"]["canonical"] == "friends", "the explicit widening stands"
    assert merged[pid]["metadata"]["caption"] == "nas caption"
    # the widening by hand is narrowed back by the next photosync command
    cli("-L", str(b), "status", check=None)
    cli("-q", "-L", str(b), "discover", check=None)
    assert _records(b)[other]["visibility"]["canonical"] == "private"


def test_git_pull_takes_no_widening_from_a_commit_that_only_looks_like_visibility_set(tmp_path, cli):
    bare, shared, a, b = _two_machines(tmp_path, cli)
    cli("-q", "-L", str(a), "discover", check=0)
    cli("-L", str(a), "sync", check=0)
    git(b, "pull", "-q", "origin", "main")
    pid = sorted(_records(b))[0]
    # this machine edits the record (a caption) and pushes
    path = next((a / "photos").rglob(f"{pid}.json"))
    rec = json.loads(path.read_text())
    rec["metadata"]["caption"] = "laptop caption"
    path.write_text(json.dumps(rec, indent=2) + "\n")
    git(a, "commit", "-q", "-am", "caption")
    git(a, "push", "-q", "origin", "main")
    # the other widens it by hand under a subject like visibility set's, without its reason line
    path = next((b / "photos").rglob(f"{pid}.json"))
    rec = json.loads(path.read_text())
    rec["visibility"]["canonical"] = "public"
    path.write_text(json.dumps(rec, indent=2) + "\n")
    git(b, "commit", "-q", "-am", f"visibility: 1 photo set to public\n\nx ({pid}): private -> public")
    git(b, "pull", "-q", "--no-rebase", "origin", "main")
    merged = _records(b)[pid]
    assert merged["metadata"]["caption"] == "laptop caption"
    assert merged["visibility"]["canonical"] == "private"


def test_a_remote_address_with_a_password_is_refused_and_kept_out_of_the_library(tmp_path, cli):
    url = "https://me:ghp_s3cr3tt0ken@git.example.org/me/photos.git"
    lib = tmp_path / "lib"
    cli("init", str(lib), check=0)
    r = cli("-L", str(lib), "remote", "add", "origin", url)
    assert r.code == 2 and "credential helper" in r.err
    assert "s3cr3t" not in r.out + r.err
    assert "s3cr3t" not in (lib / ".git" / "config").read_text()
    r = cli("clone", url, str(tmp_path / "copy"))
    assert r.code == 2 and "s3cr3t" not in r.out + r.err and not (tmp_path / "copy").exists()


def test_git_pull_takes_no_friends_audience_wider_than_the_visibility_set_made(tmp_path, cli):
    bare, shared, a, b = _two_machines(tmp_path, cli)
    cli("-q", "-L", str(a), "discover", check=0)
    cli("-L", str(a), "sync", check=0)
    git(b, "pull", "-q", "origin", "main")
    pid = sorted(_records(b))[0]
    # this machine shares the photo with friends (friends only), then gives it to family too by hand
    cli("-L", str(a), "visibility", "set", pid, "friends", "--reason", "for the party", check=0)
    path = next((a / "photos").rglob(f"{pid}.json"))
    rec = json.loads(path.read_text())
    rec["visibility"]["friends_audience"] = "friends+family"
    path.write_text(json.dumps(rec, indent=2) + "\n")
    git(a, "commit", "-q", "-am", "family too")
    git(a, "push", "-q", "origin", "main")
    # the other machine edits the caption and pulls with plain git
    path = next((b / "photos").rglob(f"{pid}.json"))
    rec = json.loads(path.read_text())
    rec["metadata"]["caption"] = "nas caption"
    path.write_text(json.dumps(rec, indent=2) + "\n")
    git(b, "commit", "-q", "-am", "caption")
    git(b, "pull", "-q", "--no-rebase", "origin", "main")
    cli("-q", "-L", str(b), "discover", check=None)  # the next photosync command narrows what was not set
    merged = _records(b)[pid]
    assert merged["metadata"]["caption"] == "nas caption"
    assert merged["visibility"]["canonical"] == "friends"
    assert merged["visibility"].get("friends_audience") in (None, "friends")


def test_clone_from_a_bare_repository_made_with_plain_git_init(tmp_path, cli):
    """`git init --bare` without -b names master as the repository's HEAD; the library is pushed as
    main: clone takes main (a new user following git's defaults got "holds no library yet")."""
    bare = tmp_path / "photos.git"
    subprocess.run(["git", "-c", "init.defaultBranch=master", "init", "-q", "--bare", str(bare)], check=True)
    a = tmp_path / "laptop"
    pics = tmp_path / "pics"
    generate_corpus(pics, 2, seed=5, size=(64, 48), noise=4)
    cli("init", str(a), check=0)
    cli("-L", str(a), "service", "add", "pics", "--type", "local", "--path", str(pics), check=0)
    cli("-q", "-L", str(a), "discover", check=0)
    cli("-L", str(a), "remote", "add", "origin", str(bare), check=0)
    cli("-L", str(a), "sync", check=0)
    b = tmp_path / "copy"
    r = cli("clone", str(bare), str(b))
    assert r.code == 0, r.err
    assert _records(b) == _records(a) and _tree(b) == _tree(a)
    assert git(b, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    r = cli("-L", str(b), "sync")
    assert r.code == 0, r.err
