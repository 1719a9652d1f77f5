"""The query side of the catalog: one read-only DuckDB database, a cursor per task.

DuckDB connections are not meant to be shared between threads; cursors of one
connection are, each used by one thread at a time. Queries therefore take a cursor for
their duration and give it back.

When the server keeps users' tables (myDB), their database is attached to the same
connection as catalog ``mydb``, so that one query can join a user's table with the
catalogs; only the ``datalab.mydb`` package writes to it.

The row copies of the catalog's positional tables (``datalab.catalog.rowcopy``) are
mapped when the engine starts, for queries small enough to answer without a cursor.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from datalab.catalog import metadata as md
from datalab.catalog.connection import connect
from datalab.catalog.rowcopy import RowCopy, copies_root, open_row_copies

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
        # Read once: the catalog is read-only for the engine's lifetime, so its tables
        # and their copies cannot change underneath it.
        self._row_copies = open_row_copies(self._con, copies_root(catalog))

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

    def row_copy(self, qualified_name: str) -> RowCopy | None:
        """The table's row copy, or None (no position, opted out, or not usable)."""
        return self._row_copies.get(qualified_name.lower())

    def close(self) -> None:
        self._row_copies = {}
        self._con.close()
