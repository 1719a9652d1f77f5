"""Helpers shared by the myDB tests: test data and compiling queries for a user."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from datalab.adql import TableCatalog, translate
from datalab.catalog import Engine
from datalab.mydb import MyDB
from datalab.query import run_query

STARS = 4000


def star_table(rows: int = STARS, seed: int = 7) -> pa.Table:
    """Stars spread uniformly over the sky, deterministic."""
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "ra": rng.uniform(0.0, 360.0, rows),
            "dec": np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, rows))),
            "mag": rng.uniform(4.0, 16.0, rows).astype(np.float32),
            "kind": rng.choice(["star", "galaxy", "qso"], rows),
        }
    )


def query_rows(engine: Engine, adql: str, mydb: MyDB | None = None, user: str = "alice"
               ) -> list[dict[str, object]]:
    """Compile ``adql`` for ``user`` (their myDB tables included) and run it."""
    tables, physical = mydb.tables_for(user) if mydb is not None else ([], {})
    sql = translate(adql, TableCatalog(engine.tables() + tables, physical=physical)).sql
    with run_query(engine, sql, timeout=60) as result:
        return [row for batch in result for row in batch.to_pylist()]


def compiled(engine: Engine, adql: str, mydb: MyDB, user: str = "alice") -> str:
    tables, physical = mydb.tables_for(user)
    return translate(adql, TableCatalog(engine.tables() + tables, physical=physical)).sql
