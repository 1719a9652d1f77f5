"""What a UWS job is (IVOA UWS 1.1 §2.2), independent of storage and of HTTP.

The store (:mod:`datalab.jobs.store`) persists these; the runner moves them through
their phases; the web layer renders them as UWS XML. Times are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["ACTIVE_PHASES", "FINAL_PHASES", "Job", "JobError", "JobResult", "Phase"]


class Phase(enum.StrEnum):
    """UWS 1.1 §2.2.3.1 execution phases, spelled as on the wire."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


# Phases in which a job may still change on its own; a restart must deal with these.
ACTIVE_PHASES = frozenset({Phase.QUEUED, Phase.EXECUTING})
# Phases a job never leaves (except by destruction, or ARCHIVED after COMPLETED).
FINAL_PHASES = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED, Phase.ARCHIVED})


@dataclass(frozen=True)
class JobResult:
    """One result of a job: a file in the job's directory, served under ``results/<id>``."""

    result_id: str
    filename: str  # relative to the job's directory
    mime_type: str
    size: int | None = None
    rows: int | None = None
    overflow: bool = False


@dataclass(frozen=True)
class JobError:
    """Why a job ended in ERROR. ``fatal`` as UWS's errorSummary type (fatal/transient)."""

    message: str
    fatal: bool = True
    code: str = "error"
    status_code: int = 400


@dataclass(frozen=True)
class Job:
    """A job as stored. ``parameters`` keeps the names as the client sent them, lower-cased
    (UWS parameter names are case-insensitive); values are strings."""

    job_id: str
    kind: str
    owner: str | None
    phase: Phase
    parameters: dict[str, str]
    creation_time: datetime
    destruction: datetime
    execution_duration: int  # seconds; 0 means no limit (UWS 1.1 §2.2.3.4)
    run_id: str | None = None
    quote: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    error: JobError | None = None
    results: tuple[JobResult, ...] = field(default=())
