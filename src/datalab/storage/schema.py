"""The storage table in the state database, and how this package opens that database.

The file system holds only what it is good at: containers (directories) and data
(regular files). Everything else about a node lives in ``storage_nodes``, one row per
node that has something to remember:

* links (``kind = 'link'``): the whole node, since no file-system link is ever made;
* data nodes: the MD5 of the content, with the size and modification time (ns) it was
  computed for, so a file changed behind the service's back is noticed and hashed again;
* any node: the properties the user set, as a JSON object.

Rows are keyed by (user, path); ``parent`` is indexed so a listing is one query.

The engine settings follow ``datalab.accounts.schema`` (WAL and a busy timeout, so the
server and the ``datalab`` command can share the file), plus ``synchronous=NORMAL``,
which in WAL mode keeps the database consistent on a crash and skips one fsync per
commit (a node written just before a power cut may lose its cached MD5, which is then
computed again). The code is repeated rather than imported: ``storage`` imports no
other domain package (DESIGN.md).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["create_storage_engine", "create_tables", "metadata", "nodes_table"]

_SQLITE_BUSY_SECONDS = 30

metadata = sa.MetaData()

nodes_table = sa.Table(
    "storage_nodes",
    metadata,
    sa.Column("user", sa.String(32), primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("parent", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("target", sa.Text, nullable=True),
    sa.Column("md5", sa.String(32), nullable=True),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("mtime_ns", sa.BigInteger, nullable=True),
    sa.Column("properties", sa.Text, nullable=False, default="{}"),
    sa.Index("ix_storage_nodes_parent", "user", "parent"),
)


def create_storage_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite, WAL, a busy timeout and NORMAL sync."""
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
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_SECONDS * 1000}")
        finally:
            cursor.close()

    return engine


def create_tables(engine: Engine) -> None:
    """Create the storage table if it is missing (safe when two processes race)."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except sa.exc.OperationalError:
        # The other process created it between the check and the CREATE.
        metadata.create_all(engine, checkfirst=True)
