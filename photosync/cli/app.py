"""The typer application: global options, and the one way every command opens
the library, reports problems and turns the outcome into an exit code.

Exit codes: 0 everything succeeded; 1 something failed or needs attention
(each problem is printed); 2 the command could not run (usage, config, no
library); 3 another photosync holds the library; 130 interrupted.
"""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass
from typing import Callable, Optional

import typer

from .. import __version__

app = typer.Typer(
    name="photosync",
    help="Keep your photos safe for decades across many services: a git repository of "
    "photo records (the library) plus verified, content-addressed copies of every original.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@dataclass
class Settings:
    library: Optional[str] = None
    quiet: bool = False


settings = Settings()

LibraryOption = typer.Option(
    None, "--library", "-L", metavar="PATH",
    help="The library to use (default: $PHOTOSYNC_LIBRARY, else the library containing the current folder).",
)
QuietOption = typer.Option(False, "--quiet", "-q", help="No progress bars.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"photosync {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    library: Optional[str] = LibraryOption,
    quiet: bool = QuietOption,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    settings.library = library
    settings.quiet = quiet


def with_library(
    body: Callable,
    *,
    write: bool = True,
    library: Optional[str] = None,
    quiet: bool = False,
) -> None:
    """Open the library (locked when ``write``), run ``body(lib, reporter)``,
    print the problem summary and exit with the right code.  ``body`` may
    return True to force a failure exit code."""
    from ..errors import PhotosyncError
    from ..library.library import Library
    from . import ui

    reporter = ui.RichReporter(quiet=quiet or settings.quiet)
    failed = False
    try:
        with Library.open(library or settings.library, write=write, reporter=reporter) as lib:
            failed = bool(body(lib, reporter))
    except PhotosyncError as e:
        reporter.stop()
        ui.fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        reporter.stop()
        ui.fail("interrupted; everything already committed is kept: run the command again to go on", 130)
    finally:
        reporter.stop()
    line = reporter.summary_line()
    if line:
        ui.err.print(line)
    if failed or reporter.counts.errors or reporter.counts.warnings:
        raise typer.Exit(1)


def main() -> None:
    from . import (  # noqa: F401
        cmd_audit, cmd_config, cmd_discover, cmd_init, cmd_replicate, cmd_resolve, cmd_status, cmd_visibility,
    )
    from . import cmd_gallery  # noqa: F401
    from . import cmd_derive, cmd_export  # noqa: F401  (issue 16: renditions, the sorted export)
    from . import cmd_watch  # noqa: F401  (issue 15: watch, alerts)
    from . import cmd_prune  # noqa: F401  (issue 15)
    from . import cmd_sync  # noqa: F401

    # The commands make and drop many small objects (records, index rows) and little cyclic garbage
    # (reference counting frees the rest at once): collecting the youngest generation every 700
    # allocations, Python's default, was ~4 % of a first import's main process at 100,000 small
    # photos (perf); every 20,000, a first import of 23,901 spent 0.68 s collecting instead of
    # 1.75 s, for ~1 MB more at the peak (bench/README.md, "Issue 13: sixth session").  The older
    # generations keep their defaults.
    gc.set_threshold(20_000, 10, 10)
    try:
        app()
    except BrokenPipeError:  # `photosync status | head`
        sys.stderr.close()
        sys.exit(1)
