"""The storage table in the state database, and how this package opens that database.

The file system holds only what it is good at: containers (directories) and data
(regular files). Everything else about a node lives in ``storage_nodes``, one row per
node that has something to remember:

* links (``kind = 'link'``): the whole node, since no file-system link is ever made;
* data nodes: the MD5 of the content, with the size and modification time (ns) it was
  computed for, so a file changed behind the service's back is noticed and hashed again;
* any node: the properties the user set, as a JSON object.

Rows are keyed by (user, path); ``parent`` is indexed so a listing is one query.

The engine is the state database's (``datalab.state``: WAL and a busy timeout, so the
server and the ``datalab`` command can share the file), plus ``synchronous=NORMAL``,
which in WAL mode keeps the database consistent on a crash and skips one fsync per
commit (a node written just before a power cut may lose its cached MD5, which is then
computed again).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from datalab.state import create_state_engine

__all__ = ["create_storage_engine", "create_tables", "metadata", "nodes_table"]

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
    """An engine for ``url``; for SQLite also NORMAL sync (cached MD5s can be recomputed)."""
    return create_state_engine(url, synchronous_normal=True)


def create_tables(engine: Engine) -> None:
    """Create the storage table if it is missing (safe when two processes race)."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except sa.exc.OperationalError:
        # The other process created it between the check and the CREATE.
        metadata.create_all(engine, checkfirst=True)
