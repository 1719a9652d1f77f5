"""The query side of the catalog: one read-only DuckDB database, a cursor per task.

DuckDB connections are not meant to be shared between threads; cursors of one
connection are, each used by one thread at a time. Queries therefore take a cursor for
their duration and give it back.

When the server keeps users' tables (myDB), their database is attached to the same
connection as catalog ``mydb``, so that one query can join a user's table with the
catalogs; only the ``datalab.mydb`` package writes to it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from datalab.catalog import metadata as md
from datalab.catalog.connection import connect

__all__ = ["Engine"]


class Engine:
    """Owns the read-only catalog connection for the lifetime of the server."""

    def __init__(
        self,
        catalog: Path,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_dir: Path | None = None,
        mydb: Path | None = None,
    ) -> None:
        self._con = connect(
            catalog,
            read_only=True,
            memory_limit=memory_limit,
            threads=threads,
            temp_dir=temp_dir,
            mydb=mydb,
        )
        #: The users' database attached as catalog ``mydb``, or None without myDB.
        self.mydb = mydb
        #: Held by whoever changes myDB's tables or their metadata, so that those short
        #: transactions never conflict with each other (DuckDB would abort one of them).
        self.mydb_lock = threading.Lock()

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def schemas(self) -> list[md.SchemaInfo]:
        with self.cursor() as cur:
            return md.read_schemas(cur)

    def tables(self) -> list[md.TableInfo]:
        """The catalog's tables only: users' tables are listed by ``datalab.mydb``."""
        with self.cursor() as cur:
            return md.read_tables(cur)

    def close(self) -> None:
        self._con.close()
