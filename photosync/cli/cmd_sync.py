"""photosync remote add|list|remove, clone, sync, merge-driver: the library across machines
(library/remotes.py holds the rules; this module parses and renders)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import LibraryOption, QuietOption, app, with_library

remote_app = typer.Typer(help="The git remotes this library syncs with (kept in .git/config, per machine).",
                         no_args_is_help=True)
app.add_typer(remote_app, name="remote")


@remote_app.command("add")
def remote_add(name: str = typer.Argument(..., help="A name for the remote (e.g. origin, nas)."),
               url: str = typer.Argument(..., help="A git URL: ssh://nas/volume1/photos.git, "
                                                    "git@host:me/photos.git, https://..., /path/to/bare.git"),
               library: Optional[str] = LibraryOption) -> None:
    """Add a git remote to sync with.  Credentials come from your SSH agent or git credential helper."""
    from ..library.remotes import add_remote
    from . import ui

    def body(lib, reporter):
        add_remote(lib, name, url)
        ui.out.print(f"remote {name}: {url}; next: photosync sync {name}")

    with_library(body, library=library)


@remote_app.command("list")
def remote_list(library: Optional[str] = LibraryOption) -> None:
    """List the remotes."""
    from ..library.remotes import list_remotes
    from . import ui

    def body(lib, reporter):
        rows = list_remotes(lib)
        if not rows:
            ui.out.print("no remotes; add one with: photosync remote add origin URL")
        for name, url in rows:
            ui.out.print(f"{name}\t{url}")

    with_library(body, write=False, library=library)


@remote_app.command("remove")
def remote_remove(name: str = typer.Argument(..., help="The remote's name."),
                  library: Optional[str] = LibraryOption) -> None:
    """Remove a remote (nothing on the remote is touched)."""
    from ..library.remotes import remove_remote
    from . import ui

    def body(lib, reporter):
        remove_remote(lib, name)
        ui.out.print(f"remote {name} removed")

    with_library(body, library=library)


@app.command()
def clone(url: str = typer.Argument(..., help="The git URL of a library (a bare repository on a NAS, ...)."),
          path: Optional[Path] = typer.Argument(None, help="Where (default: the URL's last part, without .git)."),
          ) -> None:
    """Make a library on this machine from a remote one: the repository cloned, its derived index built,
    the merge driver set, so that `photosync sync` (or a plain `git pull`) merges photo by photo."""
    from ..errors import PhotosyncError
    from ..library.remotes import clone as do_clone
    from . import ui

    target = path or Path(url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git") or "library")
    try:
        root = do_clone(url, target)
    except PhotosyncError as e:
        ui.fail(str(e), e.exit_code)
        return
    ui.out.print(f"Cloned {url} into {root}; its remote is origin: photosync --library {root} sync")
    ui.out.print("Paths of folders and stores on this machine: photosync service add/store add, "
                 "or config/machine.json (not shared)")


@app.command()
def sync(remote: Optional[str] = typer.Argument(None, help="The remote (default: origin, or the only one)."),
         library: Optional[str] = LibraryOption, quiet: bool = QuietOption) -> None:
    """Fetch the remote's library, merge it with this one photo by photo, commit, push (again when the
    remote moved meanwhile).  What both machines changed differently is left for `photosync resolve`."""
    from ..library.remotes import sync as do_sync
    from . import ui

    def body(lib, reporter):
        r = do_sync(lib, remote)
        if r.fast_forward:
            ui.out.print(f"took {r.remote}'s changes (fast-forward)")
        elif r.commit:
            ui.out.print(f"merged {r.remote}: {r.merged} record(s) changed on both machines, {r.taken} file(s) "
                         f"from {r.remote}" + (f", {r.folded} edit(s) moved to their survivor" if r.folded else ""))
        else:
            ui.out.print(f"nothing new on {r.remote}")
        for label, fld in r.conflicts:
            ui.out.print(f"  {ui.printable(label)}: {fld} was changed differently on both machines; "
                         "photosync resolve asks which stands")
        for note in r.config_notes:
            reporter.problem(_note(note))
        ui.out.print(f"pushed to {r.remote}" if r.pushed else f"{r.remote} already has everything")
        return False

    with_library(body, library=library, quiet=quiet)


def _note(text: str):
    from ..events import Problem

    path, _, rest = text.partition(": ")
    return Problem(path, rest, "warning")


@app.command("merge-driver", hidden=True)
def merge_driver(base: str = typer.Argument(...), ours: str = typer.Argument(...), theirs: str = typer.Argument(...),
                 path: str = typer.Argument("")) -> None:
    """git's merge driver for photo records and config files (set in .gitattributes and the repository's
    config by init): merges OURS with THEIRS into OURS, as photosync sync does."""
    from ..library.remotes import merge_driver as run

    raise typer.Exit(run(base, ours, theirs, path))


machine_app = typer.Typer(help="This machine's own settings (config/machine.json, not shared with other machines).",
                          no_args_is_help=True)
app.add_typer(machine_app, name="machine")


@machine_app.command("path")
def machine_path(kind: str = typer.Argument(..., metavar="service|store"),
                 name: str = typer.Argument(..., help="The service or store."),
                 path: Path = typer.Argument(..., help="Where it is mounted on this machine."),
                 library: Optional[str] = LibraryOption) -> None:
    """Where a folder service or a local store is on this machine (another machine may mount the same
    NAS share elsewhere): kept in config/machine.json, which git ignores, and laid over the shared config."""
    from ..errors import UsageError
    from ..library.layout import folder_option
    from . import ui

    def body(lib, reporter):
        if kind not in ("service", "store"):
            raise UsageError(f"'{kind}': say service or store")
        entry = folder_option({"path": str(path)}, "mount it, or give the folder it is mounted on")
        lib.set_machine(kind + "s", name, "path", entry["path"])
        ui.out.print(f"{kind} {name} is at {entry['path']} on this machine (config/machine.json)")

    with_library(body, library=library)


@machine_app.command("show")
def machine_show(library: Optional[str] = LibraryOption) -> None:
    """This machine's settings."""
    import json

    from . import ui

    def body(lib, reporter):
        ui.out.print(json.dumps(lib.machine_settings(), indent=2, sort_keys=True))

    with_library(body, write=False, library=library)
