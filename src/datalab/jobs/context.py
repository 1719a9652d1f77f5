"""What a job kind sees while it runs: its job, its directory, its deadline, abort hooks.

A kind is a plain function ``kind(context) -> None`` (safir's "the application
supplies a runner" shape). It writes its files into ``context.directory``, registers
them with ``add_result`` and returns; the runner then marks the job COMPLETED. A kind
that can be stopped mid-way (a query engine with an interrupt) registers that stop
with ``on_abort``: it is called when a user aborts the job, when the job runs past
its execution duration, and when the server shuts down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from datalab.jobs.model import Job, JobResult

__all__ = ["JobContext", "JobKind"]

log = logging.getLogger("datalab.jobs")


class JobContext:
    """One execution of one job, shared by the worker thread and whoever stops it."""

    def __init__(self, job: Job, directory: Path, deadline: float | None) -> None:
        #: The job as it was when execution started (phase EXECUTING).
        self.job = job
        #: The job's own directory; it exists when the kind is called.
        self.directory = directory
        #: ``time.monotonic()`` value at which the execution duration runs out, or None.
        self.deadline = deadline
        self._lock = threading.Lock()
        self._aborted = False
        self._callbacks: list[Callable[[], None]] = []
        self._results: dict[str, JobResult] = {}

    @property
    def aborted(self) -> bool:
        """True once the work has been told to stop (abort, time limit or shutdown)."""
        with self._lock:
            return self._aborted

    @property
    def results(self) -> tuple[JobResult, ...]:
        """The results added so far, in the order they were added."""
        with self._lock:
            return tuple(self._results.values())

    def add_result(
        self,
        result_id: str,
        filename: str,
        mime_type: str,
        *,
        rows: int | None = None,
        overflow: bool = False,
    ) -> None:
        """Register ``directory/filename`` as result ``result_id`` (UWS 1.1 §2.2.3.5).

        The file must already be complete: its size is recorded now. ``result_id`` ends
        up in a URL (``results/<id>``), so it may not contain a slash.
        """
        if not result_id or "/" in result_id:
            raise ValueError(f"a result id must be non-empty without '/', not {result_id!r}")
        path = (self.directory / filename).resolve()
        if not path.is_relative_to(self.directory.resolve()):
            raise ValueError(f"result file {filename!r} is outside the job's directory")
        if not path.is_file():
            raise ValueError(f"result file {filename!r} does not exist in the job's directory")
        result = JobResult(
            result_id=result_id,
            filename=path.relative_to(self.directory.resolve()).as_posix(),
            mime_type=mime_type,
            size=path.stat().st_size,
            rows=rows,
            overflow=overflow,
        )
        with self._lock:
            if result_id in self._results:
                raise ValueError(f"result {result_id!r} was already added")
            self._results[result_id] = result

    def on_abort(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from another thread) when this execution must stop.

        Each callback runs at most once. If the execution has already been told to
        stop, the callback runs now, in this thread, so that work started just after
        an abort is stopped too.
        """
        with self._lock:
            if not self._aborted:
                self._callbacks.append(callback)
                return
        _call(callback)

    def abort(self) -> bool:
        """Tell the work to stop: mark aborted and run the callbacks. For the runner.

        Returns False if it had already been told, so callers act only once.
        """
        with self._lock:
            if self._aborted:
                return False
            self._aborted = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _call(callback)
        return True


def _call(callback: Callable[[], None]) -> None:
    """Run an abort callback; its failure must not stop the other callbacks."""
    try:
        callback()
    except Exception:
        log.exception("an abort callback of a job failed")


#: What a job kind is: a function doing the work of one job. It raises a
#: ``datalab.errors.DataLabError`` for failures the user should read about; anything
#: else is logged and reported to the user as an internal error.
JobKind = Callable[[JobContext], None]
