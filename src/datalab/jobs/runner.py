"""The pool that executes UWS jobs: a queue, a bounded set of workers, time limits,
abort, WAIT, destruction, and recovery after a restart.

Phase changes that end a job are made by whoever decides the outcome, at the moment
it is decided: ``abort`` marks the job ABORTED, the execution-duration timer marks it
ERROR, ``stop`` marks it ERROR, and only then are the work's abort callbacks fired.
The worker's own "COMPLETED" or "ERROR" is a compare-and-set from EXECUTING, so it
loses against any of those, and a job never flips from ABORTED to COMPLETED or back.
Whoever stops the work also records why, so that a job stopped in the instant before
it became EXECUTING still ends the way its stopper meant once the worker sees it.

A job kind that ignores its abort callbacks keeps its worker busy until it returns
(Python threads cannot be killed); its phase is nonetheless final as soon as the
abort or time limit happens, which is what the user sees.

One runner per state database: two runners on the same database would each recover
and run the other's queued jobs.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from datalab.errors import (
    ConflictError,
    DataLabError,
    NotFoundError,
    QueryTimeoutError,
    TransientError,
)
from datalab.jobs.context import JobContext, JobKind
from datalab.jobs.limits import JobLimits
from datalab.jobs.model import FINAL_PHASES, Job, JobError, Phase
from datalab.jobs.store import JobStore

__all__ = ["JobRunner"]

log = logging.getLogger("datalab.jobs")

# UWS 1.1 §2.2.1.1: WAIT blocks only while the job is in one of these phases.
_WAITABLE = frozenset({Phase.PENDING, Phase.QUEUED, Phase.EXECUTING})

# Phases in which the runner leaves a PHASE=RUN request without effect.
_ALREADY_RUNNING = frozenset({Phase.QUEUED, Phase.EXECUTING, Phase.SUSPENDED})

# Longest a WAIT sleeps between looks at the database. Phase changes made by this
# process wake it at once; this only bounds the delay for changes made elsewhere
# (another process sharing the database), and is not a poll of the normal case.
_WAIT_RECHECK = 5.0

# Seconds ``delete`` gives aborted work to notice before its directory is removed.
_DELETE_GRACE = 5.0

INTERNAL_ERROR = JobError(
    "internal error; the server log has the details",
    fatal=True,
    code="internal_error",
    status_code=500,
)

RESTARTED_ERROR = JobError(
    "the server restarted while this job was executing; submit it again",
    fatal=False,
    code="server_restarted",
    status_code=503,
)

SHUTDOWN_ERROR = JobError(
    "the server was shut down while this job was executing; submit it again",
    fatal=False,
    code="server_shutdown",
    status_code=503,
)


def duration_error(seconds: int) -> JobError:
    """The error of a job stopped at its execution duration (UWS 1.1 §2.2.3.4)."""
    return JobError(
        f"the job exceeded its execution duration of {seconds} s and was stopped: "
        "ask for a longer EXECUTIONDURATION or give it less work",
        fatal=True,
        code="execution_duration_exceeded",
        status_code=400,
    )


@dataclass
class _Running:
    """A job a worker has taken: its context, why it was stopped, and whether it ended."""

    context: JobContext
    finished: threading.Event = field(default_factory=threading.Event)
    # The error to end in when stopped (None: ABORTED); the first stopper decides.
    reason: JobError | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self, reason: JobError | None) -> None:
        """Record why the work must stop (first call wins) and fire its callbacks."""
        with self._lock:
            if not self.context.aborted:
                self.reason = reason
        self.context.abort()


class JobRunner:
    """Executes the jobs of ``store`` with the functions in ``kinds``, at most
    ``limits.max_workers`` at a time; destroys expired jobs every ``sweep_interval``
    seconds. Start it once with ``start()`` and end it with ``stop()``.
    """

    def __init__(
        self,
        store: JobStore,
        kinds: Mapping[str, JobKind],
        limits: JobLimits,
        *,
        sweep_interval: float = 60.0,
    ) -> None:
        if sweep_interval <= 0:
            raise ValueError(f"sweep_interval must be positive, not {sweep_interval}")
        self._store = store
        self._kinds = dict(kinds)
        self._limits = limits
        self._sweep_interval = sweep_interval
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}
        self._threads: list[threading.Thread] = []
        self._started = False
        self._stopping = threading.Event()
        # Bumped and notified on every phase change or deletion; WAIT sleeps on it.
        self._changed = threading.Condition()
        self._version = 0
        store.subscribe(self._on_change)

    # -- lifetime -------------------------------------------------------------------

    def start(self) -> None:
        """Recover the jobs a previous server left active, then start the threads.

        Jobs found QUEUED never started, so they are queued again in creation order.
        Jobs found EXECUTING (or SUSPENDED) were cut off when the server died; they end
        in ERROR asking the user to submit them again rather than being re-run,
        because: the job may itself have brought the server down (memory, a runaway
        query), and re-running it on every start would crash-loop the server; a kind
        may have had side effects (rows written to myDB, files to vos://) that must
        not happen twice; and its partial files would have to be told apart from
        complete ones. The user decides whether it is worth running again.
        """
        if self._started:
            raise RuntimeError("a JobRunner can be started only once")
        self._started = True
        self._recover()
        for n in range(self._limits.max_workers):
            self._spawn(self._work, f"job-worker-{n}")
        self._spawn(self._housekeep, "job-housekeeping")

    def stop(self, timeout: float = 10) -> None:
        """Stop the threads, waiting up to ``timeout`` seconds in all.

        Jobs executing now end in ERROR saying the server shut down (the truth, told
        at once, instead of leaving them EXECUTING for the next start to find), and
        their work is told to stop through its abort callbacks. QUEUED jobs stay
        QUEUED, so that the next ``start()`` runs them. Workers still busy after
        ``timeout`` (a kind that ignores abort) are left behind as daemon threads.
        """
        self._stopping.set()
        for _ in range(self._limits.max_workers):
            self._queue.put(None)
        with self._lock:
            running = list(self._running.items())
        for job_id, run in running:
            try:
                self._store.mark_error(job_id, SHUTDOWN_ERROR, expected=(Phase.EXECUTING,))
            except NotFoundError:
                pass
            run.stop(SHUTDOWN_ERROR)
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
            if thread.is_alive():
                log.warning("job thread %s did not stop within %g s", thread.name, timeout)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _recover(self) -> None:
        for job_id in self._store.ids_in_phases((Phase.EXECUTING, Phase.SUSPENDED)):
            marked = self._store.mark_error(
                job_id, RESTARTED_ERROR, expected=(Phase.EXECUTING, Phase.SUSPENDED)
            )
            if marked is not None:
                log.warning("job %s was executing when the server stopped: now ERROR", job_id)
        for job_id in self._store.ids_in_phases((Phase.QUEUED,)):
            self._queue.put(job_id)

    # -- the client's operations ----------------------------------------------------

    def run(self, job_id: str) -> Job:
        """PHASE=RUN (UWS 1.1 §2.2.3.1): a PENDING or HELD job is queued.

        A job already queued or executing is left as it is. A finished job cannot be
        run again: ConflictError.
        """
        while True:
            job = self._store.get(job_id)
            if job.phase in _ALREADY_RUNNING:
                return job
            if job.phase in (Phase.PENDING, Phase.HELD):
                queued = self._store.mark_queued(job_id)
                if queued is None:
                    continue  # its phase changed meanwhile: decide again
                self._queue.put(job_id)
                return queued
            if job.phase in FINAL_PHASES:
                raise ConflictError(
                    f"job {job_id} is {job.phase.value}: a finished job cannot be run "
                    "again; create a new job"
                )
            raise ConflictError(f"job {job_id} is {job.phase.value} and cannot be run")

    def abort(self, job_id: str) -> Job:
        """PHASE=ABORT (UWS 1.1 §2.2.3.1): the job is ABORTED and its work told to stop.

        An ABORTED job is left as it is; a COMPLETED or ERROR one cannot be aborted
        (ConflictError), since its outcome is already known.
        """
        while True:
            job = self._store.get(job_id)
            if job.phase is Phase.ABORTED:
                return job
            if job.phase in FINAL_PHASES:
                raise ConflictError(
                    f"job {job_id} is {job.phase.value}: only a job that has not "
                    "finished can be aborted"
                )
            aborted = self._store.mark_aborted(job_id)
            if aborted is None:
                continue  # its phase changed meanwhile: decide again
            with self._lock:
                run = self._running.get(job_id)
            if run is not None:
                run.stop(None)  # None: end ABORTED
            return aborted

    def delete(self, job_id: str) -> None:
        """Destroy the job (UWS 1.1 §2.2.3.3): abort it if active, remove row and files."""
        job = self._store.get(job_id)
        if job.phase not in FINAL_PHASES and job.phase is not Phase.PENDING:
            try:
                self.abort(job_id)
            except ConflictError:
                pass  # it finished meanwhile
        with self._lock:
            run = self._running.get(job_id)
        if run is not None:
            # Let the stopped work leave the directory before it is removed; the worker
            # removes anything written later once it sees the job is gone.
            run.finished.wait(_DELETE_GRACE)
        self._store.delete(job_id)

    def wait(self, job_id: str, timeout: float, phase: Phase | None = None) -> Job:
        """UWS 1.1 §2.2.1.1 blocking GET: the job once its phase leaves ``phase``.

        ``phase`` is the phase the client believes the job is in (default: its current
        phase). The call returns at once if the job is in another phase or in one
        that is not PENDING, QUEUED or EXECUTING; otherwise when the phase changes or
        after ``timeout`` seconds, whichever comes first. The web layer decides what
        WAIT=-1 means and passes a finite timeout.
        """
        job = self._store.get(job_id)
        watched = job.phase if phase is None else Phase(phase)
        if job.phase is not watched or watched not in _WAITABLE:
            return job
        end = time.monotonic() + timeout
        while True:
            with self._changed:
                version = self._version
            job = self._store.get(job_id)
            remaining = end - time.monotonic()
            if job.phase is not watched or remaining <= 0:
                return job
            with self._changed:
                if self._version == version:
                    self._changed.wait(min(remaining, _WAIT_RECHECK))

    def sweep(self, now: datetime | None = None) -> int:
        """Destroy the jobs whose destruction time has passed; returns how many."""
        count = 0
        for job_id in self._store.expired(now or datetime.now(UTC)):
            try:
                self.delete(job_id)
            except NotFoundError:
                continue  # destroyed by someone else meanwhile
            except Exception:
                log.exception("could not destroy expired job %s", job_id)
                continue
            count += 1
        return count

    # -- threads --------------------------------------------------------------------

    def _on_change(self, job_id: str) -> None:
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def _housekeep(self) -> None:
        while not self._stopping.wait(self._sweep_interval):
            try:
                destroyed = self.sweep()
            except Exception:
                log.exception("the job destruction sweep failed")
                continue
            if destroyed:
                log.info("destroyed %d expired job(s)", destroyed)

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self._stopping.is_set():
                return  # a job taken now stays QUEUED for the next start
            try:
                self._take(job_id)
            except Exception:
                log.exception("the worker failed while handling job %s", job_id)

    def _take(self, job_id: str) -> None:
        """Execute a queued job, unless it was aborted, deleted or taken meanwhile."""
        try:
            job = self._store.get(job_id)
        except NotFoundError:
            return
        if job.phase is not Phase.QUEUED:
            return
        run = _Running(JobContext(job, self._store.job_dir(job_id), None))
        with self._lock:
            if self._stopping.is_set():
                return  # shutting down: the job stays QUEUED for the next start
            if job_id in self._running:
                return  # queued twice (run before start, then recovered): already taken
            # Registered before EXECUTING so that an abort right after finds it.
            self._running[job_id] = run
        try:
            started = self._store.mark_executing(job_id)
            if started is not None:
                try:
                    self._execute(started, run)
                except Exception:
                    # The runner's own failure (a directory it cannot make, a database
                    # error): the job must not stay EXECUTING for ever.
                    log.exception("could not execute job %s", job_id)
                    self._fail(started, INTERNAL_ERROR)
        finally:
            with self._lock:
                del self._running[job_id]
            run.finished.set()
            self._remove_if_deleted(job_id)

    def _execute(self, job: Job, run: _Running) -> None:
        """Run the job's kind within its execution duration and record the outcome."""
        context = run.context
        context.job = job
        context.directory.mkdir(parents=True, exist_ok=True)
        kind = self._kinds.get(job.kind)
        if kind is None:
            log.error("job %s has kind %r, which this server cannot run", job.job_id, job.kind)
            self._fail(job, INTERNAL_ERROR)
            return
        timer = None
        if job.execution_duration > 0:
            context.deadline = time.monotonic() + job.execution_duration
            timer = threading.Timer(job.execution_duration, self._expire, (job, run))
            timer.name = f"job-timer-{job.job_id}"
            timer.daemon = True
            timer.start()
        failure: JobError | None = None
        try:
            if not context.aborted:
                kind(context)
        except QueryTimeoutError as exc:
            failure = _timeout_error(job, exc)
        except DataLabError as exc:
            failure = _user_error(exc)
        except Exception:
            if context.aborted:
                # Stopped work often fails in its own way; how it ends is decided.
                log.debug("job %s failed after it was stopped", job.job_id, exc_info=True)
            else:
                log.exception("job %s (%s) failed", job.job_id, job.kind)
            failure = INTERNAL_ERROR
        finally:
            if timer is not None:
                timer.cancel()
        if context.aborted:
            self._settle_stopped(job, run)
        elif failure is not None:
            self._fail(job, failure)
        else:
            self._store.mark_completed(job.job_id, context.results)

    def _expire(self, job: Job, run: _Running) -> None:
        """The execution duration is up: ERROR naming the limit, then stop the work."""
        error = duration_error(job.execution_duration)
        try:
            if self._store.mark_error(job.job_id, error, expected=(Phase.EXECUTING,)):
                log.info("job %s exceeded its execution duration", job.job_id)
        except NotFoundError:
            pass
        except Exception:
            # The work is stopped all the same; the worker records the phase.
            log.exception("could not end job %s at its execution duration", job.job_id)
        run.stop(error)

    def _settle_stopped(self, job: Job, run: _Running) -> None:
        """Give a stopped job the phase its stopper meant, if it is still EXECUTING.

        Usually the stopper has set it already and this changes nothing.
        """
        try:
            if run.reason is None:
                self._store.mark_aborted(job.job_id, expected=(Phase.EXECUTING,))
            else:
                self._store.mark_error(job.job_id, run.reason, expected=(Phase.EXECUTING,))
        except NotFoundError:
            pass

    def _fail(self, job: Job, error: JobError) -> None:
        """EXECUTING → ERROR, unless the job already ended another way."""
        try:
            self._store.mark_error(job.job_id, error, expected=(Phase.EXECUTING,))
        except NotFoundError:
            pass

    def _remove_if_deleted(self, job_id: str) -> None:
        """Remove files that stopped work wrote after its job was deleted."""
        try:
            self._store.get(job_id)
        except NotFoundError:
            self._store.remove_dir(job_id)


def _user_error(exc: DataLabError) -> JobError:
    """The UWS error summary of a failure the kind reported for the user."""
    return JobError(
        exc.message,
        fatal=not isinstance(exc, TransientError),
        code=exc.code,
        status_code=exc.status_code,
    )


def _timeout_error(job: Job, exc: QueryTimeoutError) -> JobError:
    """A kind's own timeout: named as the job's execution duration when it has one."""
    if job.execution_duration > 0:
        return duration_error(job.execution_duration)
    return _user_error(exc)
