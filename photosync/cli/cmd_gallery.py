"""photosync gallery build|serve (photosync/gallery/ holds the rules; this module parses and prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import LibraryOption, app, with_library

gallery_app = typer.Typer(help="A static web gallery of the library, with a dashboard.", no_args_is_help=True)
app.add_typer(gallery_app, name="gallery")


@gallery_app.command("build")
def gallery_build(
    out: Path = typer.Argument(..., metavar="OUT", help="The folder to build into (new, empty, or an earlier build)."),
    audience: str = typer.Option("private", "--audience", metavar="private|friends|public",
                                 help="Who the gallery is for: only the photos they may see are written "
                                      "(friends: friends and public photos; public: public photos)."),
    places: Optional[bool] = typer.Option(None, "--places/--no-places",
                                          help="Print photos' locations (default: only for --audience private)."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Build a static site of the library: by date, album and service, a grid and a lightbox, and (private
    builds only) a dashboard.  Any folder, NAS share or bucket can serve it; nothing is fetched from elsewhere."""
    from ..errors import UsageError
    from ..gallery.build import build
    from ..gallery.collect import AUDIENCES
    from . import ui

    if audience not in AUDIENCES:
        ui.fail(str(UsageError(f"--audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")), 2)

    def body(lib, reporter):
        result = build(lib, out, audience, places=places)
        reporter.stop()
        ui.out.print(f"gallery for {audience}: {result.photos} photo{'s' if result.photos != 1 else ''}, "
                     f"{result.pages} page{'s' if result.pages != 1 else ''} in {result.out}" + ("" if result.dashboard else " (no dashboard: "
                                                                  "only a private build has one)"))
        if result.photos and result.pictures_missing:
            ui.out.print("some photos have no thumbnails yet: run 'photosync derive thumbnails', then build again")
        ui.out.print(f"open {result.out / 'index.html'}, or: photosync gallery serve {result.out}")
        return False

    with_library(body, library=library)


@gallery_app.command("serve")
def gallery_serve(
    out: Path = typer.Argument(..., metavar="OUT", help="A folder 'gallery build' wrote."),
    port: int = typer.Option(8000, "--port", help="The port (0: any free one)."),
    bind: str = typer.Option("127.0.0.1", "--bind", help="The address to listen on (default: this machine only)."),
) -> None:
    """Serve a built gallery over HTTP for a quick look (Ctrl-C stops)."""
    from ..errors import PhotosyncError
    from ..gallery.serve import server
    from . import ui

    try:
        httpd = server(out, bind, port)
    except PhotosyncError as e:
        ui.fail(str(e), e.exit_code)
    except OSError as e:
        ui.fail(f"cannot listen on {bind}:{port}: {e.strerror or e}", 2)
    host, real_port = str(httpd.server_address[0]), httpd.server_address[1]
    ui.out.print(f"serving {out} at http://{host}:{real_port}/ (Ctrl-C stops)", highlight=False)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
