"""myDB calls of ``queryClient``: list, create, import, drop, truncate, rename, copy,
index. Table names are checked by the server (one rule, one message); the client
only sends them."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from datalab.client._config import is_auth_token
from datalab.client._http import call, queryClientError

__all__ = [
    "list",
    "mydb_copy",
    "mydb_create",
    "mydb_drop",
    "mydb_import",
    "mydb_index",
    "mydb_list",
    "mydb_rename",
    "mydb_truncate",
]


def _shift(token: str | None, *rest: Any) -> tuple[str | None, tuple[Any, ...]]:
    """Accept the official forms without a token: ``f(table)`` as well as
    ``f(token, table)``. When the last argument is missing and the first is not
    token-shaped, every argument moves one place right."""
    if rest and rest[-1] in (None, "") and token is not None and not is_auth_token(token):
        return None, (token, *rest[:-1])
    return token, rest


def _flag(value: object) -> str:
    return "True" if value is True or str(value).strip().lower() in ("true", "1", "yes") else "False"


def mydb_list(token: str | None = None, table: str = "", index: bool = False) -> str:
    """The caller's table names, one a line; with ``table``, its ``name,type`` lines."""
    token, (table,) = _shift(token, table)
    params = {"table": table or "", "index": _flag(index)}
    return call("query", "list", token=token, params=params).text


def list(token: str | None = None, table: str = "") -> str:  # noqa: A001 - official name
    """Alias of :func:`mydb_list`."""
    return mydb_list(token, table)


def mydb_drop(token: str | None = None, table: str | None = None) -> str:
    """Drop a table; ``'OK'``."""
    token, (table,) = _shift(token, table)
    return call("query", "delete", token=token, params={"table": table or ""}).text.strip()


def mydb_truncate(token: str | None = None, table: str | None = None) -> str:
    """Delete every row of a table, keeping its columns; ``'OK'``."""
    token, (table,) = _shift(token, table)
    return call("query", "truncate", token=token, params={"table": table or ""}).text.strip()


def mydb_rename(
    token: str | None = None, source: str | None = None, target: str | None = None
) -> str:
    """Rename ``source`` to ``target``; ``'OK'``."""
    token, (source, target) = _shift(token, source, target)
    params = {"source": source or "", "target": target or ""}
    return call("query", "rename", token=token, params=params).text.strip()


def mydb_copy(
    token: str | None = None, source: str | None = None, target: str | None = None
) -> str:
    """Copy ``source`` to a new table ``target``; ``'OK'``."""
    token, (source, target) = _shift(token, source, target)
    params = {"source": source or "", "target": target or ""}
    return call("query", "copy", token=token, params=params, timeout=600).text.strip()


def mydb_index(
    token: str | None = None, table: str | None = None, colname: str | None = None,
    **kw: Any,
) -> str:
    """Index one column, or (``colname='ra,dec'``) the table's position; ``'OK'``."""
    colname = kw.pop("column", colname)
    token, (table, colname) = _shift(token, table, colname)
    params = {"tbl": table or "", "col": colname or ""}
    return call("query", "index", token=token, params=params, timeout=600).text.strip()


def _schema_lines(schema: Mapping[str, str] | str) -> str:
    if isinstance(schema, Mapping):
        return "\n".join(f"{name},{kind}" for name, kind in schema.items())
    return str(schema)


def mydb_create(
    token: str | None = None,
    table: str | None = None,
    schema: Mapping[str, str] | str | None = None,
    drop: bool = False,
    **kw: Any,
) -> str:
    """Create an empty table from ``{name: type}`` or ``name,type`` lines; ``'OK'``.
    ``drop=True`` replaces an existing table of that name."""
    token, (table, schema) = _shift(token, table, schema)
    if schema is None:
        raise queryClientError("Error: give the schema: {name: type} or 'name,type' lines")
    form = {"table": table or "", "schema": _schema_lines(schema), "drop": _flag(drop)}
    return call("query", "create", token=token, method="POST", data=form).text.strip()


@contextlib.contextmanager
def _as_file(data: Any) -> Iterator[Path]:
    """A local file holding ``data``: the path itself, or a temporary Parquet file
    written from a pandas DataFrame or an astropy Table (Parquet keeps the types)."""
    if isinstance(data, str | Path):
        path = Path(data).expanduser()
        if not path.is_file():
            raise queryClientError(f"Error: no file {str(path)!r} to import")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="datalab-import-") as scratch:
        path = Path(scratch) / "data.parquet"
        if hasattr(data, "to_parquet"):  # pandas.DataFrame
            data.to_parquet(path, index=False)
        elif hasattr(data, "write") and hasattr(data, "colnames"):  # astropy Table
            data.write(path, format="parquet")
        else:
            raise queryClientError(
                "Error: import a file name, a pandas DataFrame or an astropy Table, "
                f"not {type(data).__name__}"
            )
        yield path


def mydb_import(
    token: str | None = None,
    table: str | None = None,
    data: Any = None,
    append: bool = False,
    drop: bool = False,
    **kw: Any,
) -> str:
    """Load ``data`` (a CSV, Parquet, FITS or VOTable file; a DataFrame; a Table) into
    ``table``: a new table, or with ``append=True`` more rows for an existing one, or
    with ``drop=True`` a replacement. The old table survives a failed import."""
    token, (table, data) = _shift(token, table, data)
    if data is None:
        raise queryClientError("Error: give the data to import")
    form = {"table": table or "", "append": _flag(append), "drop": _flag(drop)}
    with _as_file(data) as path, open(path, "rb") as fh:
        files = {"file": (path.name, fh, "application/octet-stream")}
        response = call(
            "query", "import", token=token, method="POST", data=form, files=files,
            timeout=3600,
        )
    return response.text.strip()

