"""The server's limits on UWS jobs: how long they may run and how long they are kept.

UWS 1.1 lets the server decide both values: a client's EXECUTIONDURATION
(§2.2.3.4) and DESTRUCTION (§2.2.3.3) requests are wishes that the server may lower,
and the job document then shows what the server chose. Clamping rather than refusing
keeps clients that ask for "as long as possible" working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from datalab.errors import UsageError

__all__ = ["JobLimits"]


@dataclass(frozen=True)
class JobLimits:
    """Limits given to new jobs and the ceilings on what a client may ask for.

    Durations are seconds. ``max_workers`` bounds how many jobs execute at once; the
    others wait in QUEUED.
    """

    default_execution_duration: int = 3600
    max_execution_duration: int = 86400
    default_destruction: int = 7 * 86400
    max_destruction: int = 30 * 86400
    max_workers: int = 2

    def __post_init__(self) -> None:
        # A zero ceiling would silently mean "no limit" in the UWS sense; refusing it
        # here keeps every job bounded, which is the point of having limits.
        if not 0 < self.default_execution_duration <= self.max_execution_duration:
            raise ValueError(
                "need 0 < default_execution_duration <= max_execution_duration, got "
                f"{self.default_execution_duration} and {self.max_execution_duration}"
            )
        if not 0 < self.default_destruction <= self.max_destruction:
            raise ValueError(
                "need 0 < default_destruction <= max_destruction, got "
                f"{self.default_destruction} and {self.max_destruction}"
            )
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {self.max_workers}")

    def execution_duration(self, requested: int | None) -> int:
        """The duration a job gets when it asks for ``requested`` seconds (None: default).

        UWS 1.1 §2.2.3.4 uses 0 for "no limit"; this server always has one, so 0 and
        anything above the ceiling become the ceiling.
        """
        if requested is None:
            return self.default_execution_duration
        if requested < 0:
            raise UsageError(
                f"the execution duration must be 0 or more seconds, not {requested}"
            )
        if requested == 0 or requested > self.max_execution_duration:
            return self.max_execution_duration
        return requested

    def destruction(self, creation: datetime, requested: datetime | None) -> datetime:
        """The destruction time of a job created at ``creation`` that asks for ``requested``.

        A time in the past is allowed: the client wants the job gone, and the next sweep
        destroys it. A naive ``requested`` is taken as UTC (DALI timestamps carry no zone).
        """
        latest = creation + timedelta(seconds=self.max_destruction)
        if requested is None:
            return creation + timedelta(seconds=self.default_destruction)
        if requested.tzinfo is None:
            requested = requested.replace(tzinfo=creation.tzinfo)
        return min(requested, latest)
