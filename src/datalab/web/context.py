"""What a request handler may use, built once per application in its lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import Request

from datalab.accounts import AccountStore
from datalab.catalog import Engine
from datalab.catalog.metadata import SchemaInfo, TableInfo
from datalab.config import Settings
from datalab.errors import PermissionDeniedError, TransientError
from datalab.images import ImageIndex
from datalab.jobs import JobRunner, JobStore
from datalab.mydb import MyDB
from datalab.query.visible import Visible
from datalab.storage import Storage

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
    accounts: AccountStore
    mydb: MyDB
    storage: Storage
    images: ImageIndex
    schemas: list[SchemaInfo] = field(default_factory=list)
    tables: list[TableInfo] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def visible_for(self, user: str | None, base_url: str | None = None) -> Visible:
        """The tables this user may query: the public catalogs, and a logged-in user's
        own myDB tables as ``mydb.<name>``.

        ``base_url`` is the server's address as the request reached it (the configured
        ``base_url`` when set): the columns holding server-relative paths, such as
        ``ivoa.obscore.access_url``, are served as absolute URLs under it."""
        visible = Visible(tuple(self.tables)).served_at(base_url)
        if user is None:
            return visible
        tables, physical = self.mydb.tables_for(user)
        return visible.plus(tables, physical)

    def save_to_mydb(self, user: str | None, out: str, result, fields, replace: bool) -> None:  # type: ignore[no-untyped-def]
        """Store a running query result as the user's table named by ``out``."""
        if user is None:
            raise PermissionDeniedError("log in to save results in myDB (out=mydb://…)")
        self.mydb.save(user, out, result.schema, result, replace=replace, fields=fields)

    def close(self) -> None:
        try:
            self.runner.stop()
        finally:
            self.jobs.close()
            self.storage.close()
            self.engine.close()


async def services(request: Request) -> Services:
    """Dependency: the application's services, or 503 while it is starting or stopping."""
    found: Services | None = getattr(request.app.state, "services", None)
    if found is None:
        raise TransientError("the server is starting or stopping; try again in a moment")
    return found
