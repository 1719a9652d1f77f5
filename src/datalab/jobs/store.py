"""Persistence of UWS jobs in the state database, and of their files under ``jobs_dir``.

The store is the only place a job's phase changes: every change is one
``UPDATE ... WHERE phase IN (...)``, a compare-and-set, so two threads racing to end a
job (the worker finishing it, a user aborting it, the watchdog timing it out) cannot
both win. The loser sees ``None`` and knows the job ended some other way.

Listeners registered with ``subscribe`` hear of every phase change and deletion made
through this store object; the runner uses that to wake UWS WAIT requests (UWS 1.1
§2.2.1.1) without polling.
"""

from __future__ import annotations

import builtins
import logging
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa

from datalab.errors import ConflictError, NotFoundError, UsageError
from datalab.jobs.limits import JobLimits
from datalab.jobs.model import Job, JobError, JobResult, Phase
from datalab.jobs.phases import sources
from datalab.jobs.schema import (
    error_to_json,
    jobs_table,
    metadata,
    results_to_json,
    row_to_job,
)
from datalab.state import create_state_engine

__all__ = ["JobStore"]

log = logging.getLogger("datalab.jobs")

# What a job id may look like: the alphabet of secrets.token_urlsafe. Checked before an
# id from a URL is used as a directory name.
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Seconds a SQLite connection waits for another writer before giving up.

Listener = Callable[[str], None]


def _now() -> datetime:
    return datetime.now(UTC)


class JobStore:
    """UWS jobs in a SQLAlchemy database (``url``), their files in ``jobs_dir/<job_id>/``.

    Thread-safe: every method uses its own short transaction. ``limits`` decides the
    durations new jobs get and clamps what clients ask for.
    """

    def __init__(self, url: str, jobs_dir: Path, *, limits: JobLimits | None = None) -> None:
        self.jobs_dir = Path(jobs_dir)
        self.limits = limits or JobLimits()
        self._engine = create_state_engine(url)
        metadata.create_all(self._engine, checkfirst=True)
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()

    # -- lifetime -------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connections. The store must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(job_id)`` after each phase change or deletion made here.

        Listeners run in the thread that made the change and must be quick.
        """
        with self._listeners_lock:
            self._listeners.append(listener)

    def _notify(self, job_id: str) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(job_id)
            except Exception:
                log.exception("job listener failed for job %s", job_id)

    # -- the client's operations ----------------------------------------------------

    def create(
        self,
        kind: str,
        owner: str | None,
        parameters: Mapping[str, str],
        *,
        run_id: str | None = None,
        execution_duration: int | None = None,
        destruction: datetime | None = None,
    ) -> Job:
        """A new PENDING job (UWS 1.1 §2.2.3.1) with an unguessable id.

        The id is the only thing protecting an anonymous job (owner None), so it has
        128 random bits.
        """
        now = _now()
        job_id = secrets.token_urlsafe(16)
        values = {
            "job_id": job_id,
            "kind": kind,
            "owner": owner,
            "phase": Phase.PENDING.value,
            "run_id": run_id,
            "parameters": _lower_names(parameters),
            "creation_time": now,
            "destruction": self.limits.destruction(now, destruction),
            "execution_duration": self.limits.execution_duration(execution_duration),
            "results": [],
        }
        with self._engine.begin() as conn:
            conn.execute(jobs_table.insert().values(**values))
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        """The job with this id; NotFoundError if there is none."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(jobs_table).where(jobs_table.c.job_id == job_id)
            ).mappings().first()
        if row is None:
            raise NotFoundError(f"no job {job_id!r}: it never existed or was destroyed")
        return row_to_job(row)

    def list(
        self,
        owner: str | None,
        *,
        phases: Collection[Phase] = (),
        after: datetime | None = None,
        last: int | None = None,
    ) -> list[Job]:
        """The job list of ``owner`` with the filters of UWS 1.1 §2.2.2.1.

        ``phases``: any of these (ARCHIVED jobs only when asked for); ``after``: created
        strictly later; ``last``: the ``last`` most recent, newest first. Without
        ``last`` the jobs come oldest first. Anonymous jobs belong to nobody's list:
        they are reachable only through their unguessable id.
        """
        if owner is None:
            return []
        if last is not None and last < 0:
            raise UsageError(f"LAST must be 0 or more, not {last}")
        t = jobs_table
        query = sa.select(t).where(t.c.owner == owner)
        if phases:
            query = query.where(t.c.phase.in_([Phase(p).value for p in phases]))
        else:
            query = query.where(t.c.phase != Phase.ARCHIVED.value)
        if after is not None:
            if after.tzinfo is None:
                after = after.replace(tzinfo=UTC)
            query = query.where(t.c.creation_time > after)
        if last is not None:
            query = query.order_by(t.c.creation_time.desc(), t.c.seq.desc()).limit(last)
        else:
            query = query.order_by(t.c.creation_time, t.c.seq)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [row_to_job(row) for row in rows]

    def update_parameters(self, job_id: str, parameters: Mapping[str, str]) -> Job:
        """Add or replace parameters (names lower-cased); allowed only while PENDING.

        UWS 1.1 §2.2.3.2: the parameters of a job that has been queued are fixed, since
        the work may already depend on them.
        """
        job = self.get(job_id)
        merged = {**job.parameters, **_lower_names(parameters)}
        self._update_pending(job_id, "change its parameters", parameters=merged)
        return self.get(job_id)

    def set_execution_duration(self, job_id: str, seconds: int) -> Job:
        """Ask for a new execution duration (UWS 1.1 §2.2.3.4), clamped; PENDING only."""
        duration = self.limits.execution_duration(seconds)
        self._update_pending(
            job_id, "change its execution duration", execution_duration=duration
        )
        return self.get(job_id)

    def set_destruction(self, job_id: str, when: datetime) -> Job:
        """Ask for a new destruction time (UWS 1.1 §2.2.3.3), clamped; in any phase."""
        job = self.get(job_id)
        destruction = self.limits.destruction(job.creation_time, when)
        with self._engine.begin() as conn:
            result = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.job_id == job_id)
                .values(destruction=destruction)
            )
        if result.rowcount == 0:
            raise NotFoundError(f"no job {job_id!r}: it never existed or was destroyed")
        return self.get(job_id)

    def job_dir(self, job_id: str) -> Path:
        """Where the files of this job live. Not created here: the runner makes it
        when the job starts, an upload handler when it stores a file."""
        if not _JOB_ID.fullmatch(job_id):
            raise NotFoundError(f"no job {job_id!r}")
        return self.jobs_dir / job_id

    def delete(self, job_id: str) -> None:
        """Remove the job's row and its directory.

        Does not stop running work: ``JobRunner.delete`` aborts first. The row goes
        first so that nobody is served a job whose files are half gone.
        """
        directory = self.job_dir(job_id)
        with self._engine.begin() as conn:
            result = conn.execute(jobs_table.delete().where(jobs_table.c.job_id == job_id))
        if result.rowcount == 0:
            raise NotFoundError(f"no job {job_id!r}: it never existed or was destroyed")
        self.remove_dir(job_id, directory)
        self._notify(job_id)

    def remove_dir(self, job_id: str, directory: Path | None = None) -> None:
        """Remove a job's directory if present (also used after a deleted job's work ends)."""
        directory = directory or self.job_dir(job_id)
        try:
            shutil.rmtree(directory)
        except FileNotFoundError:
            pass
        except OSError:
            log.exception("could not remove the directory of job %s", job_id)

    def expired(self, now: datetime) -> builtins.list[str]:
        """Ids of the jobs whose destruction time (UWS 1.1 §2.2.3.3) is ``now`` or earlier."""
        query = sa.select(jobs_table.c.job_id).where(jobs_table.c.destruction <= now)
        with self._engine.connect() as conn:
            return list(conn.execute(query.order_by(jobs_table.c.seq)).scalars())

    def ids_in_phases(self, phases: Collection[Phase]) -> builtins.list[str]:
        """Ids of every job (of any owner) in one of ``phases``, oldest first.

        For the runner's recovery after a restart, not for users: it crosses owners.
        """
        query = (
            sa.select(jobs_table.c.job_id)
            .where(jobs_table.c.phase.in_([Phase(p).value for p in phases]))
            .order_by(jobs_table.c.creation_time, jobs_table.c.seq)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    # -- transitions used by the runner ------------------------------------------------

    def mark_queued(self, job_id: str) -> Job | None:
        """PENDING or HELD → QUEUED (PHASE=RUN)."""
        return self.transition(job_id, Phase.QUEUED)

    def mark_executing(self, job_id: str) -> Job | None:
        """QUEUED → EXECUTING, recording the start time."""
        return self.transition(
            job_id, Phase.EXECUTING, expected=(Phase.QUEUED,), start_time=_now()
        )

    def mark_completed(self, job_id: str, results: tuple[JobResult, ...]) -> Job | None:
        """EXECUTING → COMPLETED with these results."""
        return self.transition(
            job_id, Phase.COMPLETED, end_time=_now(), results=results_to_json(results)
        )

    def mark_error(
        self, job_id: str, error: JobError, *, expected: Collection[Phase] | None = None
    ) -> Job | None:
        """An active job → ERROR with this error summary (UWS 1.1 §2.2.3.6)."""
        return self.transition(
            job_id, Phase.ERROR, expected=expected, end_time=_now(), error=error_to_json(error)
        )

    def mark_aborted(
        self, job_id: str, *, expected: Collection[Phase] | None = None
    ) -> Job | None:
        """A job not yet finished → ABORTED (PHASE=ABORT)."""
        return self.transition(job_id, Phase.ABORTED, expected=expected, end_time=_now())

    def transition(
        self,
        job_id: str,
        target: Phase,
        *,
        expected: Collection[Phase] | None = None,
        **values: Any,
    ) -> Job | None:
        """Move the job to ``target`` if it is in one of ``expected`` phases, atomically.

        ``expected`` defaults to every phase the table allows a move from. Returns the
        updated job, or None when the job was in another phase (someone else moved it
        first). NotFoundError if the job is gone; ValueError for a move the phase table
        forbids, which is a programming error.
        """
        allowed = sources(target)
        origins = frozenset(expected) if expected is not None else allowed
        if not origins or not origins <= allowed:
            bad = sorted(p.value for p in origins - allowed) or ["(none)"]
            raise ValueError(f"a job cannot move from {', '.join(bad)} to {target.value}")
        with self._engine.begin() as conn:
            result = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.job_id == job_id)
                .where(jobs_table.c.phase.in_([p.value for p in origins]))
                .values(phase=target.value, **values)
            )
        if result.rowcount == 0:
            self.get(job_id)  # raises NotFoundError if it is gone
            return None
        self._notify(job_id)
        return self.get(job_id)

    def _update_pending(self, job_id: str, what: str, **values: Any) -> None:
        """Apply ``values`` if the job is still PENDING, else ConflictError naming its phase."""
        with self._engine.begin() as conn:
            result = conn.execute(
                jobs_table.update()
                .where(jobs_table.c.job_id == job_id)
                .where(jobs_table.c.phase == Phase.PENDING.value)
                .values(**values)
            )
        if result.rowcount == 0:
            job = self.get(job_id)
            raise ConflictError(
                f"job {job_id} is {job.phase.value}: a job can {what} only while it is "
                "PENDING, before it is run"
            )


def _lower_names(parameters: Mapping[str, str]) -> dict[str, str]:
    """Parameters with lower-cased names (UWS parameter names are case-insensitive)."""
    return {str(name).lower(): str(value) for name, value in parameters.items()}

