"""``photosync watch``: discover → resolve (policies only) → replicate --execute, again and again.

One long process (systemd, a container) instead of a scheduler, for a source that changes by
itself (seed 000: a family shared album mirrored to a photo frame). The loop holds the library's
lock from start to end, so no other photosync works on the library meanwhile; each cycle opens the
library afresh under that lock (config edited by hand is read again, the index catches up).

A stop request (SIGTERM, Ctrl-C: the CLI sets ``stop``) is honoured between steps: the step under
way finishes and commits, the next one does not start, so nothing is left half-done. The wait
between cycles is the interval with ±10 % jitter, and a stop ends it at once.

Alerts (photosync/alerts.py) after each cycle: a failed cycle; a service whose sign-in expired
(credentials); a service that refuses (errors after retries). Each is throttled to once an hour
and forgotten when the condition clears.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from ..alerts import Alert, Alerts
from ..errors import AuthError, PhotosyncError
from ..events import Problem, Reporter, Tally

#: the wait between cycles varies by this fraction either way, so several watchers (or restarts)
#: do not call the same services in step
JITTER = 0.1
STEPS = ("discover", "resolve", "replicate")


@dataclass
class Failure:
    #: "cycle" (a step failed), "credentials" (a service's sign-in expired), "refusing" (a service refuses)
    kind: str
    #: the service or store concerned; "" for the cycle as a whole
    subject: str
    message: str


@dataclass
class CycleResult:
    number: int
    started: str
    seconds: float = 0.0
    #: what each step did, in a few words ("2 new, 1 gone")
    steps: dict[str, str] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    #: the step after which a stop request ended the cycle (None: it ran to its end)
    stopped_after: str | None = None
    #: services that worked this cycle (their alerts are cleared)
    healthy: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def line(self) -> str:
        """The cycle's outcome, one line."""
        state = "ok" if self.ok else "FAILED"
        if self.stopped_after:
            state += f", stopped after {self.stopped_after}"
        what = "; ".join(f"{k} {v}" for k, v in self.steps.items()) or "nothing ran"
        out = f"{self.started} cycle {self.number} {state} in {self.seconds:.1f} s: {what}"
        if self.failures:
            out += " | " + "; ".join(f"{f.subject + ': ' if f.subject else ''}{_one_line(f.message)}"
                                     for f in self.failures[:5])
            if len(self.failures) > 5:
                out += f"; and {len(self.failures) - 5} more"
        return out


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _counted(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def cycle(lib, number: int, stop: threading.Event | None = None) -> CycleResult:
    """One cycle over an open library (write mode): discover, resolve with the configured
    policies (questions wait for a person), replicate --execute with uploads. Never raises a
    PhotosyncError: a step that fails is a Failure, and the next steps still run (replicate copies
    what was recorded even when one service could not be scanned)."""
    from ..phases import replicate_all
    from ..phases.discover import discover
    from ..phases.resolve import resolve

    started = time.monotonic()
    result = CycleResult(number, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))
    seen_problems = len(lib.report.problems)

    def stopping(step: str) -> bool:
        if stop is not None and stop.is_set():
            result.stopped_after = step
            return True
        return False

    try:
        d = discover(lib)
        parts, gone = [], 0
        new = sum(s.new for s in d.services)
        gone = sum(s.missing for s in d.services)
        parts.append(f"{new} new")
        if gone:
            parts.append(f"{gone} gone")
        for s in d.services:
            if s.failed:
                kind = "credentials" if isinstance(s.error, AuthError) else "refusing"
                result.failures.append(Failure(kind, s.name, s.failed))
            else:
                result.healthy.append(s.name)
        if any(s.errors for s in d.services):
            parts.append(f"{sum(s.errors for s in d.services)} unreadable")
        result.steps["discover"] = ", ".join(parts)
    except PhotosyncError as e:
        result.failures.append(Failure("cycle", "", f"discover: {e}"))
    if not stopping("discover"):
        try:
            r = resolve(lib, auto="all")
            words = f"{r.resolved} resolved"
            if r.merged:
                words += f", {r.merged} merged"
            if r.open:
                words += f", {_counted(len(r.open), 'question')} waiting for a person"
            result.steps["resolve"] = words
        except PhotosyncError as e:
            result.failures.append(Failure("cycle", "", f"resolve: {e}"))
    if not result.stopped_after and not stopping("resolve"):
        try:
            plans = replicate_all.make_plans(lib)
            done = replicate_all.execute(lib, plans)
            copied, sent, withdrawn = done.copies, done.uploads, done.withdrawals
            words = f"{_counted(copied.copied, 'copy', 'copies')} made"
            if plans.uploads.actions or sent.found:
                words += f", {sent.uploaded} uploaded"
            if plans.withdrawals.actions or plans.withdrawals.refused:
                words += f", {withdrawn.withdrawn} removed (mirror)"
                if plans.withdrawals.refused:
                    words += f", {len(plans.withdrawals.refused)} kept: too few verified copies"
            result.steps["replicate"] = words
            for store, why in copied.skipped_stores.items():
                result.failures.append(Failure("refusing", f"store {store}", why))
            if copied.failed and not copied.skipped_stores:
                result.failures.append(Failure("cycle", "", f"replicate: {copied.failed} copies failed"))
            if sent.failed or withdrawn.failed:
                result.failures.extend(_service_failures(lib.report.problems[seen_problems:], lib.services))
                if not any(f.kind != "cycle" for f in result.failures):
                    result.failures.append(Failure("cycle", "", f"replicate: {sent.failed} uploads, "
                                                   f"{withdrawn.failed} mirror removals failed"))
        except PhotosyncError as e:
            result.failures.append(Failure("cycle", "", f"replicate: {e}"))
    result.seconds = time.monotonic() - started
    return result


def _service_failures(problems: list[Problem], services: dict) -> list[Failure]:
    """Upload targets that failed as a whole (publish reports them as ``service NAME``): an expired
    sign-in (every AuthError names its remedy, ``photosync auth NAME``) or a refusal."""
    out: dict[str, Failure] = {}
    for p in problems:
        if p.level != "error" or not p.where.startswith("service "):
            continue
        name = p.where[len("service "):]
        if name not in services or name in out:
            continue
        kind = "credentials" if f"photosync auth {name}" in p.reason else "refusing"
        out[name] = Failure(kind, name, p.reason)
    return list(out.values())


def alerts_for(result: CycleResult, library: str) -> tuple[list[Alert], list[str]]:
    """(alerts to send, keys whose condition cleared) after a cycle."""
    send: list[Alert] = []
    for f in result.failures:
        if f.kind == "credentials":
            send.append(Alert(f"credentials:{f.subject}", f"photosync: sign in to {f.subject} again",
                              f"{library}: the sign-in of {f.subject} expired or was refused: {f.message}"))
        elif f.kind == "refusing":
            send.append(Alert(f"refusing:{f.subject}", f"photosync: {f.subject} refuses",
                              f"{library}: {f.subject} keeps refusing: {f.message}"))
    if result.failures:
        send.append(Alert("cycle-failed", "photosync: a watch cycle failed", f"{library}: {result.line()}"))
    cleared = [] if result.failures else ["cycle-failed"]
    for name in result.healthy:
        cleared += [f"credentials:{name}", f"refusing:{name}"]
    return send, cleared


@dataclass
class WatchResult:
    cycles: int = 0
    failed: int = 0
    stopped: bool = False


def watch(
    location,
    *,
    interval: float = 60.0,
    cycles: int | None = None,
    stop: threading.Event | None = None,
    reporter: Reporter | None = None,
    on_cycle: Callable[[CycleResult], None] | None = None,
    on_alert_problem: Callable[[str], None] | None = None,
    jitter: float = JITTER,
    rng: random.Random | None = None,
) -> WatchResult:
    """Run cycles until ``cycles`` ran or ``stop`` is set; the library's lock is held throughout."""
    from ..library.find import find_library
    from ..library.layout import PRIVATE_DIR
    from ..library.library import Library
    from ..library.lock import LibraryLock

    stop = stop or threading.Event()
    rng = rng or random.Random()
    root = find_library(location)
    lock = LibraryLock(root / ".git" / PRIVATE_DIR / "lock")
    lock.acquire()
    out = WatchResult()
    try:
        while not stop.is_set() and (cycles is None or out.cycles < cycles):
            number = out.cycles + 1
            # the cycle's reporter keeps its problems: publish's per-service errors become alerts
            tally = Tally(reporter)
            alerts: Alerts | None = None
            began = time.monotonic()
            crash: Exception | None = None
            try:
                with Library.open(root, write=True, reporter=tally, held_lock=lock) as lib:
                    alerts = Alerts(lib.preferences.get("alerts") or [], lib.private_dir)
                    result = cycle(lib, number, stop)
            except PhotosyncError as e:  # the library could not be opened (a config file broken by hand)
                result = CycleResult(number, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                                     failures=[Failure("cycle", "", str(e))])
            except Exception as e:  # a fault of photosync itself: told, then raised (the traceback, a restart)
                crash = e
                result = CycleResult(number, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                                     failures=[Failure("cycle", "", f"photosync stopped on an internal error: "
                                                                    f"{type(e).__name__}: {e}")])
            result.seconds = time.monotonic() - began  # the whole cycle: opening and closing the library too
            out.cycles += 1
            out.failed += 0 if result.ok else 1
            if on_cycle is not None:
                on_cycle(result)
            if alerts is None:
                alerts = _alerts_without_library(root)
            send, cleared = alerts_for(result, str(root))
            alerts.clear(*cleared)
            for alert in send:
                _sent, failures = alerts.send(alert)
                for why in failures:
                    if on_alert_problem is not None:
                        on_alert_problem(f"alert not sent to {why}")
            if crash is not None:
                raise crash
            if result.stopped_after:
                break
            if cycles is not None and out.cycles >= cycles:
                break
            wait = max(0.0, interval * (1 + rng.uniform(-jitter, jitter)))
            stop.wait(wait)
    finally:
        lock.release()
    out.stopped = stop.is_set()
    return out


def _alerts_without_library(root) -> Alerts:
    """Alerts when the library could not be opened: its preferences read as they are on disk (an
    alert about a broken config file should still reach the person)."""
    import json

    from ..library.layout import PREFERENCES_FILE, PRIVATE_DIR

    try:
        entries = json.loads((root / PREFERENCES_FILE).read_text(encoding="utf-8")).get("alerts") or []
        entries = [e for e in entries if isinstance(e, str)]
    except (OSError, ValueError, AttributeError):
        entries = []
    return Alerts(entries, root / ".git" / PRIVATE_DIR)
