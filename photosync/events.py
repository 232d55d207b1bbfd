"""How library code tells the outside world what is happening, without
importing a user interface: problems (per file or photo) and progress.

The CLI passes a reporter that draws rich progress bars; tests and scripts use
:class:`Collector`, which just keeps what it is told.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Problem:
    """Something wrong with one file, photo, service or store.

    ``level`` is ``error`` (the item was not processed, or the check failed) or
    ``warning`` (processed, but a person should look).  Both make the exit code
    non-zero: the run did not fully succeed.
    """

    where: str
    reason: str
    level: str = "error"

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.reason}"


class Task(Protocol):
    def advance(self, n: int = 1, nbytes: int = 0) -> None: ...

    def add_total(self, n: int = 0, nbytes: int = 0) -> None: ...

    def close(self) -> None: ...


class Reporter(Protocol):
    def problem(self, problem: Problem) -> None: ...

    def info(self, message: str) -> None: ...

    def task(self, label: str, total: int | None = None, total_bytes: int | None = None) -> Task: ...


class NullTask:
    def advance(self, n: int = 1, nbytes: int = 0) -> None:
        pass

    def add_total(self, n: int = 0, nbytes: int = 0) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class Collector:
    """A reporter that keeps problems and messages (for tests and library use)."""

    problems: list[Problem] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def problem(self, problem: Problem) -> None:
        with self._lock:
            self.problems.append(problem)

    def info(self, message: str) -> None:
        with self._lock:
            self.messages.append(message)

    def task(self, label: str, total: int | None = None, total_bytes: int | None = None) -> NullTask:
        return NullTask()


class Tally:
    """Wraps a reporter and counts problems, so a phase can tell whether it all succeeded."""

    def __init__(self, reporter: Reporter | None):
        self.inner = reporter or Collector()
        self.problems: list[Problem] = []
        self._lock = threading.Lock()

    def problem(self, problem: Problem) -> None:
        with self._lock:
            self.problems.append(problem)
        self.inner.problem(problem)

    def error(self, where: str, reason: str) -> None:
        self.problem(Problem(where, reason, "error"))

    def warning(self, where: str, reason: str) -> None:
        self.problem(Problem(where, reason, "warning"))

    def info(self, message: str) -> None:
        self.inner.info(message)

    def task(self, label: str, total: int | None = None, total_bytes: int | None = None):
        return self.inner.task(label, total, total_bytes)
