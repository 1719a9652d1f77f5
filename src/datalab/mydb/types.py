"""Column types for ``create``: the PostgreSQL and VOTable spellings clients send.

The official Data Lab client sends a schema of ``name,type`` lines whose types are
PostgreSQL's (its myDB was PostgreSQL), and tools that start from a VOTable use
VOTable datatypes. Each accepted spelling maps to a DuckDB type from a fixed table;
the user's text is never placed in SQL, so an unknown type is refused, not passed on.
"""

from __future__ import annotations

import re

from datalab.errors import UsageError

__all__ = ["duckdb_type"]

_SIMPLE = {
    # PostgreSQL names and aliases
    "text": "VARCHAR",
    "varchar": "VARCHAR",
    "character varying": "VARCHAR",
    "char": "VARCHAR",
    "character": "VARCHAR",
    "bpchar": "VARCHAR",
    "smallint": "SMALLINT",
    "int2": "SMALLINT",
    "integer": "INTEGER",
    "int": "INTEGER",
    "int4": "INTEGER",
    "bigint": "BIGINT",
    "int8": "BIGINT",
    "real": "REAL",
    "float4": "REAL",
    # PostgreSQL's bare "float" is double precision (float(53)).
    "float": "DOUBLE",
    "float8": "DOUBLE",
    "double precision": "DOUBLE",
    "double": "DOUBLE",
    # Unbounded PostgreSQL numeric has no DuckDB equal; astronomers use it for measures.
    "numeric": "DOUBLE",
    "decimal": "DOUBLE",
    "boolean": "BOOLEAN",
    "bool": "BOOLEAN",
    "date": "DATE",
    "time": "TIME",
    "time without time zone": "TIME",
    "timestamp": "TIMESTAMP",
    "timestamp without time zone": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "timestamp with time zone": "TIMESTAMPTZ",
    "bytea": "BLOB",
    "serial": "INTEGER",
    "bigserial": "BIGINT",
    # VOTable datatypes (VOTable 1.4 §2.1) not already above
    "unicodechar": "VARCHAR",
    "short": "SMALLINT",
    "long": "BIGINT",
    "unsignedbyte": "UTINYINT",
}

# A length or precision in parentheses, e.g. varchar(20), char(1), numeric(10,3).
_SIZED = re.compile(r"([a-z][a-z ]*?)\s*\(\s*(\d{1,4})\s*(?:,\s*(\d{1,4})\s*)?\)")


def duckdb_type(spelling: str) -> str:
    """The DuckDB type for a client's type name; :class:`UsageError` if not known."""
    if not isinstance(spelling, str):
        raise UsageError(f"a column type must be text, not {type(spelling).__name__}")
    text = " ".join(spelling.strip().lower().split())
    sized = _SIZED.fullmatch(text)
    if sized:
        base, first, second = sized.group(1), int(sized.group(2)), sized.group(3)
        if base in ("numeric", "decimal"):
            scale = int(second) if second is not None else 0
            if not 1 <= first <= 38 or scale > first:
                raise UsageError(
                    f"invalid column type {spelling.strip()!r}: the precision must be "
                    "1 to 38 and the scale at most the precision"
                )
            return f"DECIMAL({first},{scale})"
        if second is None and _SIMPLE.get(base) == "VARCHAR":
            return "VARCHAR"  # DuckDB strings have no length limit to declare
    elif text in _SIMPLE:
        return _SIMPLE[text]
    shown = spelling.strip()[:40]
    raise UsageError(
        f"unknown column type {shown!r}: use one of text, varchar(n), smallint, integer, "
        "bigint, real, double precision, numeric(p,s), boolean, date, timestamp (or a "
        "VOTable datatype such as int, long, float, double, char)"
    )
