"""JobRunner with real threads on a real SQLite file: the UWS lifecycle, errors, abort,
the worker bound, execution duration, WAIT, destruction and recovery after a restart.

Job kinds are small functions defined here. Tests wait for phases with generous
timeouts and never measure how long anything took.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from datalab.errors import ConflictError, NotFoundError, QueryTimeoutError, UsageError
from datalab.jobs import (
    Job,
    JobContext,
    JobKind,
    JobLimits,
    JobRunner,
    JobStore,
    Phase,
)

# Long enough for any healthy wait on a loaded machine; only reached when a test fails.
PATIENCE = 30.0

LIMITS = JobLimits(max_workers=1)


class Probe:
    """Shared state between a test and the kinds it runs: who started, who was told to
    stop, and a gate that holds jobs in EXECUTING until the test opens it."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.lock = threading.Condition()
        self.started: list[str] = []
        self.stop_calls: list[str] = []
        self.finished: list[str] = []
        self.running = 0
        self.peak = 0

    def wait_started(self, count: int) -> None:
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.started) >= count, PATIENCE)

    def wait_finished(self, job_id: str) -> None:
        with self.lock:
            assert self.lock.wait_for(lambda: job_id in self.finished, PATIENCE)

    def wait_running(self, count: int) -> None:
        with self.lock:
            assert self.lock.wait_for(lambda: self.running >= count, PATIENCE)

    def _enter(self, ctx: JobContext) -> None:
        with self.lock:
            self.started.append(ctx.job.job_id)
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.lock.notify_all()

    def _leave(self, ctx: JobContext) -> None:
        with self.lock:
            self.running -= 1
            self.finished.append(ctx.job.job_id)
            self.lock.notify_all()

    # -- the kinds ------------------------------------------------------------------

    def write(self, ctx: JobContext) -> None:
        """Write the parameter ``text`` to a file and make it the result."""
        self._enter(ctx)
        try:
            text = ctx.job.parameters.get("text", "hello")
            (ctx.directory / "out.txt").write_text(text)
            ctx.add_result("result", "out.txt", "text/plain", rows=1)
        finally:
            self._leave(ctx)

    def gated(self, ctx: JobContext) -> None:
        """Wait for the test to open the gate, then write a result."""
        self._enter(ctx)
        try:
            assert self.gate.wait(PATIENCE), "the test never opened the gate"
            (ctx.directory / "out.txt").write_text("gated")
            ctx.add_result("result", "out.txt", "text/plain")
        finally:
            self._leave(ctx)

    def until_aborted(self, ctx: JobContext) -> None:
        """Run in short steps until told to stop, then write a late file."""
        ctx.on_abort(lambda: self._record_stop(ctx.job.job_id))
        self._enter(ctx)
        try:
            give_up = time.monotonic() + PATIENCE
            while not ctx.aborted and time.monotonic() < give_up:
                time.sleep(0.01)
            (ctx.directory / "late.txt").write_text("written after the abort")
        finally:
            self._leave(ctx)

    def _record_stop(self, job_id: str) -> None:
        with self.lock:
            self.stop_calls.append(job_id)

    def usage_error(self, ctx: JobContext) -> None:
        raise UsageError("column 'nope' does not exist")

    def crash(self, ctx: JobContext) -> None:
        raise RuntimeError("secret internal detail")

    def query_timeout(self, ctx: JobContext) -> None:
        raise QueryTimeoutError(5)

    def bad_result(self, ctx: JobContext) -> None:
        ctx.add_result("result", "never-written.txt", "text/plain")

    def kinds(self) -> Mapping[str, JobKind]:
        return {
            "write": self.write,
            "gated": self.gated,
            "until_aborted": self.until_aborted,
            "usage_error": self.usage_error,
            "crash": self.crash,
            "query_timeout": self.query_timeout,
            "bad_result": self.bad_result,
        }


def open_store(tmp_path: Path) -> JobStore:
    return JobStore(f"sqlite:///{tmp_path / 'state.sqlite'}", tmp_path / "jobs")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with open_store(tmp_path) as s:
        yield s


@pytest.fixture
def probe() -> Iterator[Probe]:
    p = Probe()
    yield p
    p.gate.set()  # never leave a worker hanging on a failed test


StartRunner = Callable[..., JobRunner]


@pytest.fixture
def start_runner(store: JobStore, probe: Probe) -> Iterator[StartRunner]:
    runners: list[JobRunner] = []

    def start(
        limits: JobLimits = LIMITS,
        *,
        on: JobStore | None = None,
        sweep_interval: float = 60.0,
    ) -> JobRunner:
        runner = JobRunner(on or store, probe.kinds(), limits, sweep_interval=sweep_interval)
        runner.start()
        runners.append(runner)
        return runner

    yield start
    probe.gate.set()
    for runner in runners:
        runner.stop()


def wait_for(runner: JobRunner, job_id: str, phase: Phase) -> Job:
    """The job once it reaches ``phase``; fails after PATIENCE seconds."""
    end = time.monotonic() + PATIENCE
    job = runner.wait(job_id, PATIENCE)
    while job.phase is not phase and time.monotonic() < end:
        job = runner.wait(job_id, end - time.monotonic())
    assert job.phase is phase, f"job {job_id} is {job.phase}, expected {phase}"
    return job


def eventually(predicate: Callable[[], bool]) -> None:
    """Wait for a condition no event announces (the housekeeping thread's work)."""
    end = time.monotonic() + PATIENCE
    while not predicate():
        assert time.monotonic() < end, "condition never became true"
        time.sleep(0.02)


# -- lifecycle --------------------------------------------------------------------------------


def test_a_job_goes_from_pending_through_queued_and_executing_to_completed(
    store: JobStore, probe: Probe, start_runner: StartRunner
) -> None:
    runner = start_runner()
    job = store.create("gated", "alice", {})
    assert job.phase is Phase.PENDING

    assert runner.run(job.job_id).phase is Phase.QUEUED
    probe.wait_started(1)
    executing = store.get(job.job_id)
    assert executing.phase is Phase.EXECUTING and executing.start_time is not None
    # Running again while active changes nothing.
    assert runner.run(job.job_id).phase is Phase.EXECUTING

    probe.gate.set()
    done = wait_for(runner, job.job_id, Phase.COMPLETED)
    [result] = done.results
    assert (result.result_id, result.filename, result.mime_type) == (
        "result",
        "out.txt",
        "text/plain",
    )
    assert result.size == len("gated")
    assert (store.job_dir(job.job_id) / "out.txt").read_text() == "gated"
    assert done.end_time is not None and done.error is None


def test_results_record_rows_and_sizes(
    store: JobStore, probe: Probe, start_runner: StartRunner
) -> None:
    runner = start_runner()
    job = store.create("write", "alice", {"TEXT": "twelve bytes"})
    runner.run(job.job_id)
    done = wait_for(runner, job.job_id, Phase.COMPLETED)
    assert done.results[0].size == 12 and done.results[0].rows == 1


def test_a_finished_job_cannot_be_run_again(store: JobStore, start_runner: StartRunner) -> None:
    runner = start_runner()
    job = store.create("write", "alice", {})
    runner.run(job.job_id)
    wait_for(runner, job.job_id, Phase.COMPLETED)
    with pytest.raises(ConflictError, match="cannot be run again"):
        runner.run(job.job_id)


def test_parameters_are_fixed_once_the_job_is_run(
    store: JobStore, probe: Probe, start_runner: StartRunner
) -> None:
    runner = start_runner()
    job = store.create("gated", "alice", {"text": "a"})
    store.update_parameters(job.job_id, {"text": "b"})
    runner.run(job.job_id)
    with pytest.raises(ConflictError, match="PENDING"):
        store.update_parameters(job.job_id, {"text": "c"})
    probe.gate.set()
    assert wait_for(runner, job.job_id, Phase.COMPLETED).parameters == {"text": "b"}


# -- errors -----------------------------------------------------------------------------------


def test_a_user_error_ends_in_error_with_its_message(
    store: JobStore, start_runner: StartRunner
) -> None:
    runner = start_runner()
    job = store.create("usage_error", "alice", {})
    runner.run(job.job_id)
    failed = wait_for(runner, job.job_id, Phase.ERROR)
    assert failed.error is not None
    assert failed.error.message == "column 'nope' does not exist"
    assert (failed.error.code, failed.error.status_code, failed.error.fatal) == (
        "usage_error",
        400,
        True,
    )


def test_an_unexpected_error_is_logged_and_reported_generically(
    store: JobStore, start_runner: StartRunner, caplog: pytest.LogCaptureFixture
) -> None:
    runner = start_runner()
    job = store.create("crash", "alice", {})
    with caplog.at_level(logging.ERROR, logger="datalab.jobs"):
        runner.run(job.job_id)
        failed = wait_for(runner, job.job_id, Phase.ERROR)

    assert failed.error is not None
    assert failed.error.message == "internal error; the server log has the details"
    assert "secret" not in failed.error.message
    [record] = [r for r in caplog.records if r.exc_info and job.job_id in r.getMessage()]
    assert "secret internal detail" in str(record.exc_info[1])  # type: ignore[index]


@pytest.mark.parametrize("kind", ["bad_result", "no_such_kind"])
def test_kind_mistakes_are_internal_errors(
    store: JobStore, start_runner: StartRunner, kind: str
) -> None:
    runner = start_runner()
    job = store.create(kind, "alice", {})
    runner.run(job.job_id)
    failed = wait_for(runner, job.job_id, Phase.ERROR)
    assert failed.error is not None and failed.error.code == "internal_error"


# -- abort ------------------------------------------------------------------------------------


def test_abort_a_pending_job(store: JobStore, start_runner: StartRunner) -> None:
    runner = start_runner()
    job = store.create("write", "alice", {})
    aborted = runner.abort(job.job_id)
    assert aborted.phase is Phase.ABORTED
    assert runner.abort(job.job_id).phase is Phase.ABORTED  # again: no change
    with pytest.raises(ConflictError):
        runner.run(job.job_id)


def test_abort_a_queued_job_before_it_starts(
    store: JobStore, probe: Probe, start_runner: StartRunner
) -> None:
    runner = start_runner()  # one worker
    blocker = store.create("gated", "alice", {})
    waiting = store.create("write", "alice", {})
    runner.run(blocker.job_id)
    probe.wait_started(1)
    assert runner.run(waiting.job_id).phase is Phase.QUEUED

    assert runner.abort(waiting.job_id).phase is Phase.ABORTED
    probe.gate.set()
    wait_for(runner, blocker.job_id, Phase.COMPLETED)
    # The worker has passed the aborted job by: run one more to be sure it was seen.
    after = store.create("write", "alice", {})
    runner.run(after.job_id)
    wait_for(runner, after.job_id, Phase.COMPLETED)
    assert waiting.job_id not in probe.started
    assert store.get(waiting.job_id).phase is Phase.ABORTED


def test_abort_an_executing_job_stops_its_work(
    store: JobStore, probe: Probe, start_runner: StartRunner
) -> None:
    runner = start_runner()
    job = store.create("until_aborted", "alice", {})
    runner.run(job.job_id)
    probe.wait_started(1)

    assert runner.abort(job.job_id).phase is Phase.ABORTED
    assert probe.stop_calls == [job.job_id]
    # The worker is free again, and the aborted job did not become COMPLETED meanwhile.
    after = store.create("write", "alice", {})
    runner.run(after.job_id)
    wait_for(runner, after.job_id, Phase.COMPLETED)
    assert job.job_id in probe.finished
    final = store.get(job.job_id)
    assert final.phase is Phase.ABORTED and final.results == ()


def test_finished_jobs_cannot_be_aborted(store: JobStore, start_runner: StartRunner) -> None:
    runner = start_runner()
    done = store.create("write", "alice", {})
    failed = store.create("usage_error", "alice", {})
    for job in (done, failed):
        runner.run(job.job_id)
    wait_for(runner, done.job_id, Phase.COMPLETED)
    wait_for(runner, failed.job_id, Phase.ERROR)
    for job in (done, failed):
        with pytest.raises(ConflictError, match="only a job that has not finished"):
            runner.abort(job.job_id)


def test_delete_an_executing_job(store: JobStore, probe: Probe, start_runner: StartRunner) -> None:
    runner = start_runner()
    job = store.create("until_aborted", "alice", {})
    runner.run(job.job_id)
    probe.wait_started(1)

    runner.delete(job.job_id)
    assert probe.stop_calls == [job.job_id]
    with pytest.raises(NotFoundError):
        store.get(job.job_id)
    # Once the worker is done with it, nothing the stopped work wrote is left behind.
    after = store.create("write", "alice", {})
    runner.run(after.job_id)
    wait_for(runner, after.job_id, Phase.COMPLETED)
    assert not store.job_dir(job.job_id).exists()


# -- the worker bound -------------------------------------------------------------------------


def test_max_workers_bounds_how_many_jobs_execute_at_once(
    store: JobStore, probe: Probe, start_runner: StartRunner
) -> None:
    runner = start_runner(JobLimits(max_workers=2))
    jobs = [store.create("gated", "alice", {}) for _ in range(5)]
    for job in jobs:
        runner.run(job.job_id)

    probe.wait_running(2)
    phases = [store.get(job.job_id).phase for job in jobs]
    assert phases.count(Phase.EXECUTING) == 2
    assert phases.count(Phase.QUEUED) == 3

    probe.gate.set()
    for job in jobs:
        wait_for(runner, job.job_id, Phase.COMPLETED)
    assert probe.peak == 2


# -- execution duration -----------------------------------------------------------------------


def test_a_job_past_its_execution_duration_ends_in_error(
    store: JobStore, probe: Probe, start_runner: StartRunner
) -> None:
    runner = start_runner()
    job = store.create("until_aborted", "alice", {}, execution_duration=1)
    runner.run(job.job_id)

    failed = wait_for(runner, job.job_id, Phase.ERROR)
    assert failed.error is not None
    assert "exceeded its execution duration of 1 s" in failed.error.message
    # The phase is set first, then the work is told to stop: it ends soon after.
    probe.wait_finished(job.job_id)
    assert probe.stop_calls == [job.job_id]
    assert store.get(job.job_id).phase is Phase.ERROR


def test_a_kind_timing_out_by_itself_ends_in_the_same_error(
    store: JobStore, start_runner: StartRunner
) -> None:
    runner = start_runner()
    job = store.create("query_timeout", "alice", {}, execution_duration=120)
    runner.run(job.job_id)
    failed = wait_for(runner, job.job_id, Phase.ERROR)
    assert failed.error is not None
    assert "exceeded its execution duration of 120 s" in failed.error.message


def test_the_context_knows_its_deadline(store: JobStore) -> None:
    seen: list[float | None] = []
    runner = JobRunner(store, {"look": lambda ctx: seen.append(ctx.deadline)}, LIMITS)
    runner.start()
    try:
        job = store.create("look", "alice", {}, execution_duration=100)
        before = time.monotonic()
        runner.run(job.job_id)
        wait_for(runner, job.job_id, Phase.COMPLETED)
    finally:
        runner.stop()
    [deadline] = seen
    assert deadline is not None and before < deadline <= time.monotonic() + 100


# -- WAIT (UWS 1.1 §2.2.1.1) ------------------------------------------------------------------


def test_wait_returns_when_the_phase_changes(
    store: JobStore, probe: Probe, start_runner: StartRunner
) -> None:
    runner = start_runner()
    job = store.create("gated", "alice", {})
    runner.run(job.job_id)
    probe.wait_started(1)

    opener = threading.Timer(0.1, probe.gate.set)
    opener.start()
    try:
        # With a generous timeout, COMPLETED can only come from the change waking it.
        assert runner.wait(job.job_id, PATIENCE, Phase.EXECUTING).phase is Phase.COMPLETED
    finally:
        opener.cancel()


def test_wait_returns_at_the_timeout_when_nothing_changes(
    store: JobStore, start_runner: StartRunner
) -> None:
    runner = start_runner()
    job = store.create("write", "alice", {})
    assert runner.wait(job.job_id, 0.2).phase is Phase.PENDING
    assert runner.wait(job.job_id, 0).phase is Phase.PENDING


def test_wait_does_not_block_outside_the_phase_given_or_after_the_end(
    store: JobStore, start_runner: StartRunner
) -> None:
    runner = start_runner()
    pending = store.create("write", "alice", {})
    # The client believes it is EXECUTING: it is not, so the answer is immediate.
    assert runner.wait(pending.job_id, PATIENCE, Phase.EXECUTING).phase is Phase.PENDING
    runner.run(pending.job_id)
    wait_for(runner, pending.job_id, Phase.COMPLETED)
    # A finished job never blocks.
    assert runner.wait(pending.job_id, PATIENCE).phase is Phase.COMPLETED
    assert runner.wait(pending.job_id, PATIENCE, Phase.COMPLETED).phase is Phase.COMPLETED


# -- destruction ------------------------------------------------------------------------------


def test_sweep_destroys_expired_jobs_only(
    store: JobStore, probe: Probe, start_runner: StartRunner
) -> None:
    runner = start_runner()
    done = store.create("write", "alice", {})
    running = store.create("until_aborted", "alice", {})
    kept = store.create("write", "alice", {})
    for job in (done, kept):
        runner.run(job.job_id)
        wait_for(runner, job.job_id, Phase.COMPLETED)
    runner.run(running.job_id)
    probe.wait_started(3)

    past = datetime.now(UTC) - timedelta(seconds=1)
    store.set_destruction(done.job_id, past)
    store.set_destruction(running.job_id, past)

    assert runner.sweep() == 2
    for job in (done, running):
        with pytest.raises(NotFoundError):
            store.get(job.job_id)
        assert not store.job_dir(job.job_id).exists()
    assert probe.stop_calls == [running.job_id]
    assert store.get(kept.job_id).phase is Phase.COMPLETED
    assert (store.job_dir(kept.job_id) / "out.txt").exists()
    assert runner.sweep() == 0
    assert runner.sweep(now=kept.destruction) == 1


def test_the_housekeeping_thread_sweeps(store: JobStore, start_runner: StartRunner) -> None:
    runner = start_runner(sweep_interval=0.05)
    job = store.create("write", "alice", {})
    runner.run(job.job_id)
    wait_for(runner, job.job_id, Phase.COMPLETED)
    store.set_destruction(job.job_id, datetime.now(UTC) - timedelta(seconds=1))

    def gone() -> bool:
        try:
            store.get(job.job_id)
        except NotFoundError:
            return True
        return False

    eventually(gone)
    assert not store.job_dir(job.job_id).exists()


# -- stop and restart -------------------------------------------------------------------------


def test_stop_ends_executing_jobs_and_keeps_queued_ones(
    tmp_path: Path, store: JobStore, probe: Probe
) -> None:
    runner = JobRunner(store, probe.kinds(), LIMITS)
    runner.start()
    busy = store.create("until_aborted", "alice", {})
    waiting = store.create("write", "alice", {})
    runner.run(busy.job_id)
    probe.wait_started(1)
    runner.run(waiting.job_id)

    runner.stop()
    stopped = store.get(busy.job_id)
    assert stopped.phase is Phase.ERROR and stopped.error is not None
    assert "shut down" in stopped.error.message and "submit it again" in stopped.error.message
    assert probe.stop_calls == [busy.job_id]
    assert store.get(waiting.job_id).phase is Phase.QUEUED

    with open_store(tmp_path) as reopened:
        again = JobRunner(reopened, probe.kinds(), LIMITS)
        again.start()
        try:
            wait_for(again, waiting.job_id, Phase.COMPLETED)
        finally:
            again.stop()


def test_restart_runs_queued_jobs_and_fails_interrupted_ones(
    tmp_path: Path, probe: Probe
) -> None:
    with open_store(tmp_path) as first:
        runner = JobRunner(first, probe.kinds(), LIMITS)
        runner.start()
        earlier = first.create("write", "alice", {"text": "kept"})
        runner.run(earlier.job_id)
        wait_for(runner, earlier.job_id, Phase.COMPLETED)
        runner.stop()
        # The state a crash leaves: one job queued, one cut off while executing.
        queued = first.create("write", "alice", {"text": "late"})
        first.mark_queued(queued.job_id)
        cut_off = first.create("write", "alice", {})
        first.mark_queued(cut_off.job_id)
        first.mark_executing(cut_off.job_id)

    with open_store(tmp_path) as second:
        runner = JobRunner(second, probe.kinds(), LIMITS)
        runner.start()
        try:
            done = wait_for(runner, queued.job_id, Phase.COMPLETED)
            failed = second.get(cut_off.job_id)
        finally:
            runner.stop()
        assert (second.job_dir(done.job_id) / "out.txt").read_text() == "late"
        assert failed.phase is Phase.ERROR and failed.error is not None
        assert failed.error.message == (
            "the server restarted while this job was executing; submit it again"
        )
        assert cut_off.job_id not in probe.started
        kept = second.get(earlier.job_id)
        assert kept.phase is Phase.COMPLETED and kept.results
        assert (second.job_dir(kept.job_id) / kept.results[0].filename).read_text() == "kept"


def test_a_runner_starts_only_once(store: JobStore, start_runner: StartRunner) -> None:
    runner = start_runner()
    with pytest.raises(RuntimeError):
        runner.start()


# -- the context ------------------------------------------------------------------------------


def test_context_abort_callbacks_run_once_and_late_ones_at_once(
    store: JobStore, tmp_path: Path
) -> None:
    job = store.create("write", "alice", {})
    ctx = JobContext(job, tmp_path, None)
    calls: list[str] = []
    ctx.on_abort(lambda: calls.append("early"))
    ctx.on_abort(lambda: 1 / 0)  # a failing callback does not stop the others
    ctx.on_abort(lambda: calls.append("second"))
    assert not ctx.aborted

    assert ctx.abort() is True
    assert ctx.abort() is False
    assert ctx.aborted and calls == ["early", "second"]
    ctx.on_abort(lambda: calls.append("late"))
    assert calls == ["early", "second", "late"]


def test_context_results_must_be_files_inside_the_directory(
    store: JobStore, tmp_path: Path
) -> None:
    job = store.create("write", "alice", {})
    directory = tmp_path / "job"
    directory.mkdir()
    (tmp_path / "outside.txt").write_text("x")
    (directory / "in.txt").write_text("abc")
    ctx = JobContext(job, directory, None)
    with pytest.raises(ValueError, match="outside"):
        ctx.add_result("r", "../outside.txt", "text/plain")
    with pytest.raises(ValueError, match="does not exist"):
        ctx.add_result("r", "missing.txt", "text/plain")
    with pytest.raises(ValueError, match="result id"):
        ctx.add_result("a/b", "in.txt", "text/plain")
    ctx.add_result("r", "in.txt", "text/plain", rows=2, overflow=True)
    with pytest.raises(ValueError, match="already"):
        ctx.add_result("r", "in.txt", "text/plain")
    [result] = ctx.results
    assert (result.filename, result.size, result.rows, result.overflow) == ("in.txt", 3, 2, True)
