"""The batch executor under replicate, publish (and any step that does one job per photo and
target, then records the results): a bounded pool of workers, a window of submitted work,
per-target failure handling, results applied in the main thread, and a commit every batch,
every 30 s, and at the end.

The model is restic's archiver: one stage does one kind of job, and one pool of workers,
fed through a bounded window, runs them.  Here the stage is a :class:`Stage` (what a job
is, how it runs, what its result or failure means) and the :class:`Executor` is the loop
every phase shared a copy of before:

* a job is prepared in the main thread (``Stage.prepare``: the photo read from the library,
  which is not thread-safe) and returns the function a worker runs (the copy, the upload,
  the rendering); at most ``window`` jobs are in flight (twice the workers by default), so
  memory does not grow with the plan and a failing target stops early;
* each job names its *target* (a store, a service): a target that fails is reported once
  (``Stage.target_failed``) and its remaining jobs are not run (they come back from
  ``run`` as ``unrun``).  What fails a target is each phase's rule: ``Stage.failed`` says
  ``TARGET_FAILED(reason)`` (replicate: a put or flush that fails with a store error), or
  ``ITEM_FAILED``, and a target whose jobs fail ``failure_limit`` times in a row is failed
  too (publish: 5); ``NOT_COUNTED`` (a service policy refusal) neither counts nor resets;
* results are handed to the stage in the main thread (``Stage.finished``), which keeps them
  until the next commit; a result that comes back after its target failed goes to
  ``Stage.finished_late`` (replicate drops it: not flushed, never recorded);
* ``Stage.commit(final)`` runs every ``batch`` results waiting (``Stage.waiting``), or
  every ``every`` seconds when any wait, and once more at the end, whatever happened
  (also on an exception or Ctrl-C): the stage makes the bytes durable (a store's flush)
  before it stages the records that name them, then commits — the write order stays the
  stage's, the executor only says when.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, TypeVar

from ..events import Task

#: a commit at least this often while results come in (seconds)
COMMIT_EVERY_SECONDS = 30

J = TypeVar("J")  # a job (an action of the phase's plan)
R = TypeVar("R")  # what a worker returns for it


@dataclass(frozen=True)
class Fault:
    """What a failed job says about its target (returned by ``Stage.failed``)."""

    #: the job failed; its target's run of failures in a row grows by one
    counts: bool = True
    #: the target itself failed: why (it is skipped for the rest of the run)
    target: str | None = None


#: the job failed, not its target (it counts towards ``failure_limit``)
ITEM_FAILED = Fault()
#: not a failure of the target: neither counts nor resets its run of failures (a policy refusal)
NOT_COUNTED = Fault(counts=False)


def TARGET_FAILED(reason: str) -> Fault:  # noqa: N802  (reads as a constant, like the two above)
    """The target failed (a store that cannot be written, a service that refuses the sign-in)."""
    return Fault(counts=False, target=reason)


class Stage(Generic[J, R]):
    """One kind of job: a phase subclasses it (replicate's copy, publish's upload, derive's
    rendering).  Every method runs in the main thread; only the function ``prepare``
    returns runs in a worker.  ``executor`` is the Executor running the stage (set by it),
    for a failure found outside a job (``self.executor.fail_target``)."""

    executor: "Executor[J, R]"

    def target(self, job: J) -> str:
        """The store or service the job writes to."""
        raise NotImplementedError

    def size(self, job: J) -> int:
        """Bytes the job moves (progress)."""
        return 0

    def prepare(self, job: J) -> Callable[[], R] | None:
        """What a worker runs for ``job`` (read what it needs from the library here), or
        None when the job cannot run (the stage has said why and counted it)."""
        raise NotImplementedError

    def finished(self, job: J, result: R) -> None:
        """A job's result: kept until the next commit records it."""
        raise NotImplementedError

    def finished_late(self, job: J, result: R) -> None:
        """A result that came back after its target failed (it was in flight)."""
        self.finished(job, result)

    def failed(self, job: J, error: Exception) -> Fault:
        """A job's failure: report it, count it, say what it means for the target.  An
        error the stage does not know is raised again (a bug stops the phase; the final
        commit still runs)."""
        raise error

    def target_failed(self, target: str, reason: str) -> None:
        """Called once when a target fails: report it; drop what it has not made durable."""

    def waiting(self) -> int:
        """Results the next commit would record."""
        return 0

    def commit(self, final: bool) -> None:
        """Make the waiting results durable, record them, commit (``final``: the last one)."""


class Executor(Generic[J, R]):
    """Runs a stage's jobs on one pool of ``workers`` threads (kept across ``run`` calls),
    at most ``window`` in flight.  A context manager: leaving it waits for the jobs in
    flight, then makes the final commit.

    ``batch``: commit when this many results wait; ``every``: or when any has waited this
    many seconds; ``failure_limit``: a target whose jobs fail this many times in a row is
    failed (None: only ``TARGET_FAILED`` fails it); ``task``: the progress to advance."""

    def __init__(self, stage: Stage[J, R], *, workers: int, batch: int, task: Task,
                 every: float = COMMIT_EVERY_SECONDS, window: int | None = None,
                 failure_limit: int | None = None, name: str = "work"):
        self.stage = stage
        stage.executor = self
        self.workers = max(1, workers)
        self.window = max(1, window or self.workers * 2)
        self.batch = max(1, batch)
        self.every = every
        self.failure_limit = failure_limit
        self.task = task
        #: target -> why it was failed (skipped for the rest of the run)
        self.failed_targets: dict[str, str] = {}
        self._in_a_row: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=name)
        self._last_commit = time.monotonic()

    def __enter__(self) -> "Executor[J, R]":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # on an error, jobs not started yet are dropped (their results would not be recorded)
        self._pool.shutdown(wait=True, cancel_futures=exc_type is not None)
        self.commit(final=True)

    def fail_target(self, target: str, reason: str) -> None:
        """Fail ``target`` for the rest of the run (once; the stage reports it).  A stage
        calls it for a failure outside a job (replicate: a flush at commit time)."""
        if target in self.failed_targets:
            return
        self.failed_targets[target] = reason
        self.stage.target_failed(target, reason)

    def commit(self, final: bool = False) -> None:
        self.stage.commit(final)
        self._last_commit = time.monotonic()

    def commit_if_due(self) -> None:
        waiting = self.stage.waiting()
        if waiting >= self.batch or (waiting and time.monotonic() - self._last_commit > self.every):
            self.commit()

    def run(self, jobs: Iterable[J]) -> dict[str, list[J]]:
        """Run ``jobs`` in their order (submitted in it, finished in any); returns, per
        failed target, its jobs that were not run."""
        stage = self.stage
        queue = iter(jobs)
        unrun: dict[str, list[J]] = {}
        running: dict[Future, J] = {}

        def submit_more() -> None:
            while len(running) < self.window:
                job = next(queue, None)
                if job is None:
                    return
                target = stage.target(job)
                if target in self.failed_targets:
                    unrun.setdefault(target, []).append(job)
                    self.task.advance(1, stage.size(job))
                    continue
                work = stage.prepare(job)
                if work is None:
                    self.task.advance(1, stage.size(job))
                    continue
                running[self._pool.submit(work)] = job

        submit_more()
        while running:
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                job = running.pop(fut)
                target = stage.target(job)
                self.task.advance(1, stage.size(job))
                try:
                    result = fut.result()
                except Exception as e:
                    self._failed(job, target, stage.failed(job, e))
                    continue
                if target in self.failed_targets:
                    stage.finished_late(job, result)
                    continue
                self._in_a_row[target] = 0
                stage.finished(job, result)
            self.commit_if_due()
            submit_more()
        return unrun

    def _failed(self, job: J, target: str, fault: Fault) -> None:
        if fault.target is not None:
            self.fail_target(target, fault.target)
        elif fault.counts:
            n = self._in_a_row[target] = self._in_a_row.get(target, 0) + 1
            if self.failure_limit is not None and n >= self.failure_limit:
                self.fail_target(target, f"{n} failures in a row")
