"""A portal query's result, as every portal page reaches it.

A query run from the portal is an ordinary async TAP job (kind ``tap``) owned by the
logged-in user, so it also appears in ``/tap/async`` for that user's other clients. Its
result is written as VO-Parquet (``RESPONSEFORMAT=parquet``): the pages page, filter,
sort, plot and convert it from that one file without running the query again.
"""

from __future__ import annotations

from pathlib import Path

from datalab.errors import ConflictError, NotFoundError
from datalab.jobs.model import Job, Phase
from datalab.web.context import Services

__all__ = ["PORTAL_RUN_ID", "portal_job", "result_file"]

# RUNID of the jobs the portal creates, so its job list can show only its own.
PORTAL_RUN_ID = "portal"


def portal_job(svc: Services, user: str, job_id: str) -> Job:
    """The user's job ``job_id``; NotFoundError for another user's job, exactly as for a
    job that does not exist, so ids cannot be probed."""
    if not job_id or len(job_id) > 64:
        raise NotFoundError("no such query")
    try:
        job = svc.jobs.get(job_id)
    except NotFoundError:
        raise NotFoundError("no such query") from None
    if job.owner != user:
        raise NotFoundError("no such query")
    return job


def result_file(svc: Services, user: str, job_id: str) -> Path:
    """The Parquet result of the user's completed portal query."""
    job = portal_job(svc, user, job_id)
    if job.phase in (Phase.ERROR, Phase.ABORTED):
        raise ConflictError(f"the query has no result: it ended in {job.phase.value}")
    if job.phase != Phase.COMPLETED:
        raise ConflictError(f"the query has no result yet (it is {job.phase.value})")
    for result in job.results:
        if result.filename.endswith(".parquet"):
            path = svc.jobs.job_dir(job_id) / result.filename
            if path.is_file():
                return path
    raise NotFoundError("the query's result is not kept as Parquet (it was not run from the portal)")
