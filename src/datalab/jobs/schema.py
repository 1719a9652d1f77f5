"""The jobs table in the state database, and the conversion between its rows and ``Job``.

One row per job. Parameters, results and the error are JSON columns: they are always
read and written together with their job and never searched, so child tables would
only add joins. Times are stored as naive UTC, which SQLite and PostgreSQL compare
alike, and come back timezone-aware.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from datalab.jobs.model import Job, JobError, JobResult, Phase
from datalab.state import UTCDateTime

__all__ = ["error_to_json", "jobs_table", "metadata", "results_to_json", "row_to_job"]


metadata = sa.MetaData()

jobs_table = sa.Table(
    "uws_job",
    metadata,
    # An integer key orders jobs created in the same microsecond the way they came.
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("run_id", sa.String(255), nullable=True),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("creation_time", UTCDateTime, nullable=False),
    sa.Column("destruction", UTCDateTime, nullable=False),
    sa.Column("execution_duration", sa.Integer, nullable=False),
    sa.Column("quote", UTCDateTime, nullable=True),
    sa.Column("start_time", UTCDateTime, nullable=True),
    sa.Column("end_time", UTCDateTime, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("results", sa.JSON, nullable=False),
    sa.Index("ix_uws_job_owner_created", "owner", "creation_time"),
    sa.Index("ix_uws_job_phase", "phase"),
    sa.Index("ix_uws_job_destruction", "destruction"),
)


def results_to_json(results: tuple[JobResult, ...]) -> list[dict[str, Any]]:
    """The JSON form of a job's results, in their order."""
    return [
        {
            "result_id": r.result_id,
            "filename": r.filename,
            "mime_type": r.mime_type,
            "size": r.size,
            "rows": r.rows,
            "overflow": r.overflow,
        }
        for r in results
    ]


def error_to_json(error: JobError) -> dict[str, Any]:
    """The JSON form of a job's error."""
    return {
        "message": error.message,
        "fatal": error.fatal,
        "code": error.code,
        "status_code": error.status_code,
    }


def row_to_job(row: Mapping[str, Any]) -> Job:
    """The ``Job`` a table row describes."""
    error = row["error"]
    return Job(
        job_id=row["job_id"],
        kind=row["kind"],
        owner=row["owner"],
        phase=Phase(row["phase"]),
        parameters=dict(row["parameters"]),
        creation_time=row["creation_time"],
        destruction=row["destruction"],
        execution_duration=row["execution_duration"],
        run_id=row["run_id"],
        quote=row["quote"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        error=JobError(**error) if error is not None else None,
        results=tuple(JobResult(**r) for r in row["results"]),
    )
