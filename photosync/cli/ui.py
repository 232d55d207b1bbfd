"""Terminal output: rich progress bars and problem lines (the library only
reports; this draws)."""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from ..events import Problem
from ..words import counted as count  # noqa: F401  (ui.count: one place for counted nouns)

if TYPE_CHECKING:
    from rich.progress import Progress

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def printable(text: str) -> str:
    """A name safe to print: control characters (a newline in a file name) shown escaped."""
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class _RichTask:
    def __init__(self, reporter: "RichReporter", task_id, has_bytes: bool):
        import time

        self.r = reporter
        assert reporter.progress is not None, "a task's bar is added to the reporter's bars"
        self.progress = reporter.progress  # its own bars, even after the reporter starts new ones
        self.id = task_id
        self.has_bytes = has_bytes
        self.nbytes = 0
        self.total_bytes = 0
        self.started = time.monotonic()

    def advance(self, n: int = 1, nbytes: int = 0) -> None:
        with self.r.lock:
            self.nbytes += nbytes
            fields: dict[str, Any] = {}  # the bar's own columns (bytes)
            if self.has_bytes:
                import time

                rate = self.nbytes / max(time.monotonic() - self.started, 1e-3)
                fields["bytes"] = f"{human_bytes(self.nbytes)}/{human_bytes(self.total_bytes)} {human_bytes(rate)}/s"
            self.progress.update(self.id, advance=n, **fields)

    def add_total(self, n: int = 0, nbytes: int = 0) -> None:
        with self.r.lock:
            t = next((t for t in self.progress.tasks if t.id == self.id), None)
            total = (t.total or 0) + n if t is not None else None
            self.total_bytes += nbytes
            self.progress.update(self.id, total=total)

    def close(self) -> None:
        with self.r.lock:
            task = next((t for t in self.progress.tasks if t.id == self.id), None)
            if task is not None and task.total is None:
                self.progress.update(self.id, total=task.completed)
            self.progress.stop_task(self.id)


#: seconds between two plain progress lines of one task (PHOTOSYNC_PROGRESS_SECONDS changes it)
PLAIN_PROGRESS_SECONDS = 5.0


class _PlainTask:
    """Progress for logs (stderr is not a terminal: cron, a pipe): a line such as
    ``Reading pictures: 1,200/5,000 (24%), 350.0 MB`` at most every few seconds, and a
    last line when the task ends."""

    def __init__(self, reporter: "RichReporter", label: str, total: int | None, total_bytes: int | None):
        self.r = reporter
        self.label = label
        self.total = total
        self.done = 0
        self.nbytes = 0
        self.total_bytes = total_bytes or 0
        self.has_bytes = total_bytes is not None
        self.started = time.monotonic()
        self.last = self.started
        self.closed = False

    def _line(self, final: bool = False) -> str:
        if self.total:
            text = f"{self.label}: {self.done:,}/{self.total:,} ({min(100, self.done * 100 // self.total)}%)"
        else:
            text = f"{self.label}: {self.done:,}" + ("" if final else " so far")
        if self.has_bytes or self.nbytes:
            text += f", {human_bytes(self.nbytes)}"
            if self.total_bytes:
                text += f" of {human_bytes(self.total_bytes)}"
        return text

    def advance(self, n: int = 1, nbytes: int = 0) -> None:
        with self.r.lock:
            self.done += n
            self.nbytes += nbytes
            now = time.monotonic()
            if now - self.last >= self.r.plain_every and not self.closed:
                self.last = now
                self.r.plain_line(self._line())

    def add_total(self, n: int = 0, nbytes: int = 0) -> None:
        with self.r.lock:
            self.total = (self.total or 0) + n
            self.total_bytes += nbytes

    def close(self) -> None:
        with self.r.lock:
            if self.closed:
                return
            self.closed = True
            if self.done or self.total:
                took = time.monotonic() - self.started
                self.r.plain_line(f"{self._line(final=True)}, done in {took:.1f} s")


class _NoTask:
    def advance(self, n=1, nbytes=0):
        pass

    def add_total(self, n=0, nbytes=0):
        pass

    def close(self):
        pass


@dataclass
class Counts:
    errors: int = 0
    warnings: int = 0


class RichReporter:
    """Progress bars on stderr (only on a terminal, and not with --quiet);
    problems printed as they happen."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.lock = threading.RLock()
        self.counts = Counts()
        self.show_progress = not quiet and err.is_terminal
        #: not a terminal (cron, a pipe): plain lines now and then instead of bars
        self.plain_progress = not quiet and not err.is_terminal
        try:
            self.plain_every = float(os.environ.get("PHOTOSYNC_PROGRESS_SECONDS", PLAIN_PROGRESS_SECONDS))
        except ValueError:
            self.plain_every = PLAIN_PROGRESS_SECONDS
        self.progress: Progress | None = None

    def _ensure_progress(self) -> Progress:
        if self.progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[bytes]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=err,
                transient=False,
            )
            self.progress.start()
        return self.progress

    def quiet_progress(self) -> None:
        """No more progress bars (an interactive prompt is about to use the screen)."""
        self.stop()
        self.show_progress = False
        self.plain_progress = False

    def plain_line(self, text: str) -> None:
        with self.lock:
            err.print(escape(printable(text)))

    def task(self, label: str, total: int | None = None, total_bytes: int | None = None):
        if self.plain_progress:
            return _PlainTask(self, label, total, total_bytes)
        if not self.show_progress:
            return _NoTask()
        with self.lock:
            progress = self._ensure_progress()
            tid = progress.add_task(label, total=total, bytes="")
            t = _RichTask(self, tid, has_bytes=total_bytes is not None)
            if total_bytes:
                t.total_bytes = total_bytes
                progress.update(tid, bytes=f"0 B/{human_bytes(total_bytes)}")
            return t

    def problem(self, problem: Problem) -> None:
        with self.lock:
            if problem.level == "error":
                self.counts.errors += 1
                tag = "[bold red]error[/]"
            else:
                self.counts.warnings += 1
                tag = "[bold yellow]warning[/]"
            console = self.progress.console if self.progress is not None else err
            console.print(f"{tag}: {escape(printable(problem.where))}: {escape(printable(problem.reason))}")

    def info(self, message: str) -> None:
        with self.lock:
            console = self.progress.console if self.progress is not None else err
            console.print(escape(message))

    def stop(self) -> None:
        """End the live bars (they stay on screen as they finished)."""
        with self.lock:
            if self.progress is not None:
                self.progress.stop()
                self.progress = None

    def summary_line(self) -> str | None:
        c = self.counts
        if not (c.errors or c.warnings):
            return None
        parts = []
        if c.errors:
            parts.append(f"{c.errors} error{'s' if c.errors != 1 else ''}")
        if c.warnings:
            parts.append(f"{c.warnings} warning{'s' if c.warnings != 1 else ''}")
        return "finished with " + " and ".join(parts) + " (see above)"


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]photosync:[/] {escape(printable(message))}")
    sys.exit(code)
