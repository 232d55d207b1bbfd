"""The batch executor under replicate and publish (phases/executor.py), driven by a stage of
this test's own: real threads, no mocks.  What a phase relies on: a bounded window, results
handed over in the main thread, a failed target reported once and its other jobs not run, a
run of item failures that fails a target, a commit every batch and a last one whatever
happens."""

from __future__ import annotations

import threading

import pytest

from photosync.events import NullTask
from photosync.phases.executor import ITEM_FAILED, NOT_COUNTED, TARGET_FAILED, Executor, Stage


class Boom(Exception):
    pass


class Refused(Exception):
    pass


class Down(Exception):
    pass


class Recorder(Stage):
    """Jobs are (target, value, outcome): outcome "ok" returns value, "item"/"refused"/"down" raise."""

    def __init__(self, hold: dict | None = None):
        self.prepared: list = []
        self.results: list = []
        self.late: list = []
        self.failures: list = []
        self.targets_failed: list = []
        self.commits: list[tuple[bool, list]] = []
        self.pending: list = []
        self.threads: set[str] = set()
        self.in_flight = 0
        self.most_in_flight = 0
        #: job -> an Event the worker waits for before it returns
        self.hold = hold or {}

    def target(self, job):
        return job[0]

    def prepare(self, job):
        self.threads.add(threading.current_thread().name)
        self.prepared.append(job)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        _target, value, outcome = job

        def work():
            if job in self.hold:
                assert self.hold[job].wait(30), "the test's own event was never set"
            if outcome == "item":
                raise Boom(value)
            if outcome == "refused":
                raise Refused(value)
            if outcome == "down":
                raise Down(value)
            return value

        return work

    def finished(self, job, result):
        self.in_flight -= 1
        self.threads.add(threading.current_thread().name)
        self.results.append(result)
        self.pending.append(result)

    def finished_late(self, job, result):
        self.in_flight -= 1
        self.late.append(result)

    def failed(self, job, error):
        self.in_flight -= 1
        self.threads.add(threading.current_thread().name)
        self.failures.append(job[1])
        if isinstance(error, Boom):
            return ITEM_FAILED
        if isinstance(error, Refused):
            return NOT_COUNTED
        if isinstance(error, Down):
            return TARGET_FAILED(f"{job[0]} is down")
        raise error

    def target_failed(self, target, reason):
        self.targets_failed.append((target, reason))

    def waiting(self):
        return len(self.pending)

    def commit(self, final):
        self.commits.append((final, list(self.pending)))
        self.pending.clear()


def test_results_come_back_in_the_main_thread_within_the_window_and_in_batches():
    stage = Recorder()
    jobs = [("s", i, "ok") for i in range(23)]
    with Executor(stage, workers=3, batch=5, task=NullTask()) as ex:
        assert ex.run(jobs) == {}
    assert sorted(stage.results) == list(range(23))
    assert stage.prepared == jobs  # prepared (and so submitted) in the plan's order
    assert stage.threads == {threading.current_thread().name}
    assert stage.most_in_flight <= 6  # twice the workers
    # every batch of 5 committed as it filled, the rest by the final commit
    assert [final for final, _ in stage.commits][-1] is True
    assert all(len(batch) >= 5 for final, batch in stage.commits if not final)
    assert sorted(r for _f, batch in stage.commits for r in batch) == list(range(23))


def test_a_failed_target_is_reported_once_and_its_other_jobs_are_not_run():
    stage = Recorder()
    jobs = [("nas", 0, "down"), *[("nas", i, "ok") for i in range(1, 6)], *[("local", i, "ok") for i in range(6)]]
    with Executor(stage, workers=1, window=1, batch=100, task=NullTask()) as ex:
        unrun = ex.run(jobs)
        assert ex.failed_targets == {"nas": "nas is down"}
        # a target stays failed for the next run of the same executor (publish runs per service)
        assert ex.run([("nas", 99, "ok")]) == {"nas": [("nas", 99, "ok")]}
    assert stage.targets_failed == [("nas", "nas is down")]
    assert unrun == {"nas": jobs[1:6]}
    assert sorted(stage.results) == list(range(6))  # the other store's copies all made


def test_failures_in_a_row_fail_a_target_and_a_success_or_a_refusal_does_not_count():
    stage = Recorder()
    jobs = [("svc", 0, "item"), ("svc", 1, "item"), ("svc", 2, "ok"),  # a success resets the run
            ("svc", 3, "item"), ("svc", 4, "refused"), ("svc", 5, "item"),  # a refusal neither counts nor resets
            ("svc", 6, "item"), ("svc", 7, "ok"), ("svc", 8, "ok")]
    with Executor(stage, workers=1, window=1, batch=100, task=NullTask(), failure_limit=3) as ex:
        unrun = ex.run(jobs)
    assert stage.targets_failed == [("svc", "3 failures in a row")]
    assert unrun == {"svc": jobs[7:]}
    assert stage.results == [2]


def test_without_a_limit_item_failures_never_fail_the_target():
    stage = Recorder()
    jobs = [("s", i, "item") for i in range(10)] + [("s", 10, "ok")]
    with Executor(stage, workers=2, batch=100, task=NullTask()) as ex:
        assert ex.run(jobs) == {}
    assert stage.targets_failed == [] and stage.results == [10]


def test_a_result_in_flight_when_its_target_failed_is_handed_over_as_late():
    release = threading.Event()
    slow = ("nas", 1, "ok")

    class Releasing(Recorder):
        def failed(self, job, error):
            verdict = super().failed(job, error)
            release.set()  # the slow job returns only once the failure is handled
            return verdict

    stage = Releasing(hold={slow: release})
    with Executor(stage, workers=2, batch=100, task=NullTask()) as ex:
        ex.run([slow, ("nas", 0, "down")])
    assert stage.late == [1] and stage.results == []


def test_the_last_commit_is_made_when_a_stage_fails():
    class Bug(Exception):
        pass

    class Buggy(Recorder):
        def failed(self, job, error):
            raise Bug(str(error))

    stage = Buggy()
    jobs = [("s", 0, "ok"), ("s", 1, "ok"), ("s", 2, "item"), *[("s", i, "ok") for i in range(3, 30)]]
    with pytest.raises(Bug):
        with Executor(stage, workers=1, window=1, batch=100, task=NullTask()) as ex:
            ex.run(jobs)
    assert stage.commits == [(True, [0, 1])]  # what came back before the bug is recorded


def test_results_that_have_waited_long_enough_are_committed_below_a_batch():
    """``every`` (30 s in the phases): results that have waited that long are committed even when
    fewer than a batch wait (a slow upload run still commits).  A negative wait is always over."""
    stage = Recorder()
    with Executor(stage, workers=1, window=1, batch=100, every=-1, task=NullTask()) as ex:
        ex.run([("s", i, "ok") for i in range(4)])
    assert stage.commits[:4] == [(False, [0]), (False, [1]), (False, [2]), (False, [3])]
    assert stage.commits[-1] == (True, [])
    # and with time to spare, nothing below a batch is committed before the end
    stage = Recorder()
    with Executor(stage, workers=1, window=1, batch=100, every=3600, task=NullTask()) as ex:
        ex.run([("s", i, "ok") for i in range(4)])
    assert stage.commits == [(True, [0, 1, 2, 3])]


def test_ctrl_c_makes_the_last_commit_and_starts_no_more_jobs():
    """Ctrl-C (KeyboardInterrupt, raised in the main thread while results are handed over): what
    came back is committed once more, jobs not yet started are never run."""

    class Interrupted(Recorder):
        def finished(self, job, result):
            super().finished(job, result)
            if result == 2:
                raise KeyboardInterrupt

    stage = Interrupted()
    jobs = [("s", i, "ok") for i in range(50)]
    with pytest.raises(KeyboardInterrupt):
        with Executor(stage, workers=1, window=1, batch=100, task=NullTask()) as ex:
            ex.run(jobs)
    assert stage.commits == [(True, [0, 1, 2])]
    assert stage.prepared == jobs[:3]
