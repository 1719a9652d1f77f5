"""Generic UWS 1.1 jobs: the phase machine, persistence, the runner pool, destruction.

Domain code only (DESIGN.md): nothing here knows about HTTP. The web layer renders
``Job`` as UWS XML and maps the errors raised here; job kinds (a TAP query, a cutout)
are plain functions of a ``JobContext``, registered by name with the ``JobRunner``.
"""

from datalab.jobs.context import JobContext, JobKind
from datalab.jobs.limits import JobLimits
from datalab.jobs.model import ACTIVE_PHASES, FINAL_PHASES, Job, JobError, JobResult, Phase
from datalab.jobs.phases import TRANSITIONS
from datalab.jobs.runner import JobRunner
from datalab.jobs.store import JobStore

__all__ = [
    "ACTIVE_PHASES",
    "FINAL_PHASES",
    "TRANSITIONS",
    "Job",
    "JobContext",
    "JobError",
    "JobKind",
    "JobLimits",
    "JobResult",
    "JobRunner",
    "JobStore",
    "Phase",
]
