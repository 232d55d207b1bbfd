"""photosync init, photosync demo."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app


@app.command()
def init(path: Optional[Path] = typer.Argument(None, help="Where to create the library (default: here).")) -> None:
    """Create a library: a git repository with photos/, config/, schemas/ and a first commit."""
    from ..errors import PhotosyncError
    from ..library.library import Library
    from . import ui

    target = path or Path.cwd()
    try:
        root, created = Library.init(target)
    except (PhotosyncError, OSError) as e:
        ui.fail(f"cannot create a library at {target}: {e}", 2)
        return
    if created:
        ui.out.print(f"Created a photosync library in {root}")
    else:
        ui.out.print(f"{root} is already a photosync library; nothing to do")
    ui.out.print("Next: photosync service add pictures --type local --path ~/Pictures")


@app.command()
def demo(
    path: Path = typer.Argument(Path("photosync-demo"), help="Folder for the demo (sample photos + library)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run the whole loop on generated sample photos: init, service add, discover,
    resolve, replicate, status — in PATH/library, from PATH/sample-photos."""
    from ..library.library import Library
    from ..sample import make_sample_folder
    from . import ui
    from .app import settings

    root = path.expanduser().resolve()
    photos = root / "sample-photos"
    library = root / "library"
    made = make_sample_folder(photos)
    ui.out.print(f"[bold]1. sample photos[/]: {photos} ({made} files: EXIF dates, GPS, a HEIC, a PNG, a resized copy, "
                 "a duplicate under another name, a date only in the file name, a scan dated by its file time)")
    lib_root, created = Library.init(library)
    ui.out.print(f"[bold]2. photosync init {library}[/]: " + ("created" if created else "already there"))
    settings.library = str(lib_root)
    settings.quiet = quiet or settings.quiet

    from . import cmd_config, cmd_discover, cmd_replicate, cmd_resolve, cmd_status

    def add_service():
        with Library.open(lib_root, write=False) as lib:
            if "sample" in lib.services:
                ui.out.print("service sample is already configured")
                return
        cmd_config.add_service("sample", "local", {"path": str(photos)}, library=None)

    steps = [
        ("3. photosync service add sample --type local --path " + str(photos), add_service),
        ("4. photosync discover", lambda: cmd_discover.discover(service=None, since=None, full_scan=False, library=None, quiet=False)),
        ("5. photosync resolve --auto-resolve all", lambda: cmd_resolve.resolve(auto_resolve="all", interactive=False, dry_run=False,
                                                                  library=None, quiet=False)),
        ("6. photosync replicate --execute", lambda: cmd_replicate.replicate(dry_run=False, execute=True, workers=None,
                                                                    library=None, quiet=False)),
        ("7. photosync status", lambda: cmd_status.status(json_=False, library=None)),
    ]
    codes = []
    for title, step in steps:
        ui.out.rule(title)
        try:
            step()
            codes.append(0)
        except typer.Exit as e:
            codes.append(e.exit_code or 0)
        except SystemExit as e:
            codes.append(int(e.code or 0))
    ui.out.rule()
    ui.out.print(
        f"The library is {lib_root}: try 'git -C {lib_root} log --stat' and "
        f"'photosync --library {lib_root} status'. Run 'photosync demo {path}' again: nothing is read twice."
    )
    if any(codes):
        raise typer.Exit(max(codes))
