"""The state database (accounts, jobs, stored files' metadata) as SQLAlchemy sees it.

One module below every package that keeps state there, so that they open the database
and store times the same way: the server and the ``datalab`` command share the file,
and each package keeps only its own tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine

__all__ = ["UTCDateTime", "create_state_engine"]

_SQLITE_BUSY_SECONDS = 30


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back as an aware UTC ``datetime``.

    SQLite keeps no time zone, so aware values are normalised on the way in; a naive
    value passed in is taken to be UTC already.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


def create_state_engine(url: str, *, synchronous_normal: bool = False) -> Engine:
    """An engine for ``url``; for SQLite, one shared safely between threads.

    WAL lets readers (web requests) go on while another thread or process writes, and
    the busy timeout makes a second writer wait instead of failing at once.
    ``synchronous_normal`` skips one fsync per commit (still consistent after a crash in
    WAL mode) for data that can be recomputed.
    """
    if sa.make_url(url).get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(
        url, connect_args={"timeout": _SQLITE_BUSY_SECONDS, "check_same_thread": False}
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            if synchronous_normal:
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_SECONDS * 1000}")
        finally:
            cursor.close()

    return engine
