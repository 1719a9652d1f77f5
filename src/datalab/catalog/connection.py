"""Opening the catalog database with the engine locked down (DESIGN.md, principle 4)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from datalab.errors import ConflictError, UsageError

__all__ = ["MYDB_CATALOG", "SCAN_FIRST_COMPRESSION", "connect", "scalar"]

# The name the users' database is attached under (DESIGN.md, data directory).
MYDB_CATALOG = "mydb"

# Compression methods the catalog does not use for the tables it writes. ALP and
# ALP-RD store floating-point columns in less space, but survey measurements (fluxes,
# magnitudes, positions at full precision) are mostly not the decimal-like values ALP
# is made for: on the mock survey they saved a fifth of the file and made a filtered
# aggregate over two magnitude columns 2.3 times slower (15.7 ms against 6.8 ms for 2
# million rows) and a load a quarter slower. Catalogs are written once and scanned
# many times, so their floats are kept as they are. Users' tables (myDB) are left to
# the engine's default.
SCAN_FIRST_COMPRESSION = "alp,alprd"


def connect(
    path: Path,
    *,
    read_only: bool,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_dir: Path | None = None,
    mydb: Path | None = None,
    disabled_compression: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that cannot touch files, the network or extensions.

    Data reaches the engine only as Arrow batches registered by our own code, so the
    engine itself never needs file access; the configuration is locked so that no SQL
    can loosen it later.

    ``mydb`` is the users' database file (created if missing). It is attached, writable,
    as catalog ``mydb`` *before* the lock-down: afterwards no file can be attached, so
    this is the only moment it can be done, and the catalog itself stays read-only.

    ``disabled_compression`` lists compression methods the tables written through this
    connection must not use (DuckDB's ``disabled_compression_methods``).
    """
    config: dict[str, str | bool | int] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(temp_dir)
    if read_only and not Path(path).exists():
        raise UsageError(f"no catalog at {path}: run `datalab init` or `datalab ingest` first")
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise ConflictError(
                f"the catalog {path} is in use by another process (a running "
                "`datalab serve` or ingest?): stop it and try again"
            ) from exc
        raise UsageError(f"cannot open the catalog {path}: {exc}") from exc
    if mydb is not None:
        _attach_mydb(con, mydb)
    if disabled_compression:
        con.execute("SET disabled_compression_methods = ?", [disabled_compression])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _attach_mydb(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Attach the users' database read-write; the path is ours (settings), never a user's."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    literal = "'" + str(path).replace("'", "''") + "'"
    try:
        con.execute(f"ATTACH {literal} AS {MYDB_CATALOG} (READ_WRITE)")
    except duckdb.Error as exc:
        con.close()
        text = str(exc).lower()
        if "lock" in text or "in use" in text:
            raise ConflictError(
                f"the users' database {path} is in use by another process (a running "
                "`datalab serve`?): stop it and try again"
            ) from exc
        raise UsageError(f"cannot open the users' database {path}: {exc}") from exc


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> object:
    """The first value of the first row of ``sql`` (None if no row).

    Reads the whole result: DuckDB refuses further work on a connection whose last
    result has not been read to the end.
    """
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None
