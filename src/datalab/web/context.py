"""What a request handler may use, built once per application in its lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from datalab.catalog import Engine
from datalab.catalog.metadata import SchemaInfo, TableInfo
from datalab.config import Settings
from datalab.errors import TransientError
from datalab.jobs import JobRunner, JobStore
from datalab.query.visible import Visible

__all__ = ["Services", "services"]


@dataclass
class Services:
    """Long-lived resources of one application instance (one data directory).

    The catalog is read-only while the server runs, so its metadata is read once.
    """

    settings: Settings
    engine: Engine
    jobs: JobStore
    runner: JobRunner
    schemas: list[SchemaInfo] = field(default_factory=list)
    tables: list[TableInfo] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def visible_for(self, user: str | None) -> Visible:
        """The tables this user may query: the public catalogs (users' own tables join
        them when accounts and myDB exist)."""
        return Visible(tuple(self.tables))

    def close(self) -> None:
        try:
            self.runner.stop()
        finally:
            self.jobs.close()
            self.engine.close()


def services(request: Request) -> Services:
    """Dependency: the application's services, or 503 while it is starting or stopping."""
    found: Services | None = getattr(request.app.state, "services", None)
    if found is None:
        raise TransientError("the server is starting or stopping; try again in a moment")
    return found
