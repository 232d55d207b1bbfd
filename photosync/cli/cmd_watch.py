"""photosync watch, photosync alerts test."""

from __future__ import annotations

import re
from typing import Optional

import typer

from .app import LibraryOption, app, settings

alerts_app = typer.Typer(help="Alerts to a person (\"alerts\" in config/user-preferences.json: apprise URLs).",
                         no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$", re.I)


def parse_interval(text: str) -> float:
    """``60``, ``60s``, ``5m``, ``1h`` -> seconds."""
    m = _DURATION.match(text or "")
    if not m:
        raise ValueError(f"--interval {text}: give seconds (60 or 60s), minutes (5m) or hours (1h)")
    unit = (m.group(2) or "s").lower()
    return float(m.group(1)) * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[unit]


@app.command()
def watch(
    interval: str = typer.Option("60s", "--interval", help="Time between cycles (60s, 5m, 1h), ±10 % jitter."),
    cycles: Optional[int] = typer.Option(None, "--cycles", min=1, help="Stop after this many cycles (default: "
                                         "run until stopped with SIGTERM or Ctrl-C)."),
    library: Optional[str] = LibraryOption,
) -> None:
    """Run discover, resolve (policies only; questions wait for a person) and replicate --execute in a loop,
    holding the library's lock; one line a cycle; SIGTERM or Ctrl-C stop it between steps."""
    import signal
    import threading

    from ..errors import PhotosyncError
    from ..phases.watch import watch as run_watch
    from . import ui

    try:
        seconds = parse_interval(interval)
    except ValueError as e:
        ui.fail(str(e), 2)
        return
    stop = threading.Event()
    asked = [0]

    def on_signal(signum, _frame):
        asked[0] += 1
        if asked[0] > 1 and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: now (what is committed is kept)
        if not stop.is_set():
            ui.err.print(f"photosync watch: {signal.Signals(signum).name}: stopping after the step under way",
                         markup=False)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    reporter = ui.RichReporter(quiet=True)  # no bars in a long-running log; problems as they happen
    last = [True]

    def on_cycle(result) -> None:
        last[0] = result.ok
        ui.out.print(result.line(), markup=False, highlight=False)
        ui.out.file.flush()

    try:
        done = run_watch(library or settings.library, interval=seconds, cycles=cycles, stop=stop, reporter=reporter,
                         on_cycle=on_cycle, on_alert_problem=lambda m: ui.err.print(f"warning: {m}", markup=False))
    except PhotosyncError as e:
        ui.fail(str(e), e.exit_code)
        return
    except KeyboardInterrupt:
        ui.fail("interrupted; everything already committed is kept", 130)
        return
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if done.stopped:
        ui.err.print(f"photosync watch: stopped after {done.cycles} cycle{'s' if done.cycles != 1 else ''}",
                     markup=False)
    if not last[0]:
        raise typer.Exit(1)


@alerts_app.command("test")
def alerts_test(library: Optional[str] = LibraryOption) -> None:
    """Send a test alert to every address in "alerts"; say which took it."""
    import socket

    from ..alerts import _shown, send_to
    from ..errors import PhotosyncError
    from ..library.library import Library
    from . import ui

    try:
        with Library.open(library or settings.library, write=False) as lib:
            entries = list(lib.preferences.get("alerts") or [])
            where = str(lib.root)
    except PhotosyncError as e:
        ui.fail(str(e), e.exit_code)
        return
    if not entries:
        ui.fail('no alerts configured: add "alerts": ["json://host/path"] (apprise URLs, or an apprise config '
                "file) to config/user-preferences.json", 2)
        return
    failed = 0
    for entry in entries:
        why = send_to(entry, "photosync: test alert",
                      f"A test alert from photosync on {socket.gethostname()} for the library {where}.")
        if why is None:
            ui.out.print(f"sent: {_shown(entry)}", markup=False)
        else:
            failed += 1
            ui.out.print(f"not sent: {_shown(entry)}: {why}", markup=False)
    if failed:
        raise typer.Exit(1)
