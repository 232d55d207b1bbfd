"""Start-up: each command loads only what it uses.  A library with an S3 store
and a Flickr service configured must not make `status`, `--help` or a
no-change `discover` of a folder load boto3, flickrapi, Google's clients or
Pillow (each costs tens of milliseconds at every start; issue 13).  What was
loaded is read from Python's own import log (PYTHONPROFILEIMPORTTIME), not
timed: the times themselves are measured in bench/ (bench/README.md)."""

from __future__ import annotations

from photosync.sample import make_photo

#: never needed by these commands
HEAVY = ("boto3", "botocore", "s3transfer", "flickrapi", "requests", "googleapiclient", "google", "PIL",
         "pillow_heif", "exifread")


def _loaded(run) -> set[str]:
    """Top-level packages the command imported, from the import log on standard error."""
    names = set()
    for line in run.err.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name.split(".")[0])
    return names


def test_commands_load_only_what_they_use(library, cli, photos):
    folder = photos("pictures")
    make_photo(folder / "IMG_1.jpg", seed=1, make="Canon", model="EOS 80D")
    lib = ["--library", str(library)]
    cli("service", "add", "pics", "--type", "local", "--path", str(folder), *lib, check=0)
    cli("service", "add", "fl", "--type", "flickr", "--api-key", "k", "--api-secret", "s", "--disabled", *lib, check=0)
    cli("store", "add", "offsite", "--type", "s3", "--bucket", "bucket1", "--endpoint-url", "http://127.0.0.1:9",
        "--access-key-id", "a", "--secret-access-key", "s", *lib, check=0)
    cli("discover", "--service", "pics", *lib, check=0)  # reads the photo (Pillow, in this process)
    log = {"PYTHONPROFILEIMPORTTIME": "1"}

    helped = _loaded(cli("--help", env=log, check=0))
    assert "typer" in helped  # the log is read
    assert not helped & {*HEAVY, "pygit2", "rich"}

    status = _loaded(cli("status", *lib, env=log, check=0))
    assert "rich" in status
    assert not status & {*HEAVY, "pygit2"}  # status reads HEAD and the index without libgit2

    again = _loaded(cli("discover", "--service", "pics", *lib, env=log, check=0))
    assert "pygit2" in again  # a write command checks the work tree for hand edits
    assert not again & set(HEAVY)  # nothing to read: no Pillow; no store or Flickr client
