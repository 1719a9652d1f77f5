"""Running a compiled query: from its table's row copy when it is a small cone search,
on the engine otherwise, a crossmatch with a small upload on the table's rows near the
upload's positions. Every caller that runs a user's query goes through here."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa

from datalab.adql import Translation
from datalab.adql.joins import NEAR_TABLE
from datalab.catalog import Engine
from datalab.query import near_join
from datalab.query.cones import answer_cone
from datalab.query.runner import QueryResult, run_query

__all__ = ["run_translation"]


def run_translation(
    engine: Engine,
    translation: Translation,
    *,
    timeout: float | None,
    max_rows: int | None = None,
    tables: Mapping[str, pa.Table] | None = None,
    on_cancel: Callable[[Callable[[], None]], None] | None = None,
) -> QueryResult:
    """Start ``translation`` and return its result, ready to stream (see ``run_query``:
    the parameters mean the same). A query bringing its own tables is never a cone
    search of a catalog table; it may be a crossmatch of one with a catalog table."""
    if translation.cone is not None and not tables:
        result = answer_cone(engine, translation, max_rows=max_rows)
        if result is not None:
            if on_cancel is not None:
                on_cancel(result.cancel)
            return result
    if translation.near is not None and tables:
        restricted = near_join.near_rows(engine, translation.near, tables)
        if restricted is not None:
            if near_join.CHECK:
                near_join.same_answer(
                    engine,
                    translation.sql,
                    tables,
                    translation.near,
                    restricted,
                    timeout=timeout,
                    max_rows=max_rows,
                )
            return run_query(
                engine,
                translation.near.sql,
                timeout=timeout,
                max_rows=max_rows,
                tables={**tables, NEAR_TABLE: restricted},
                on_cancel=on_cancel,
            )
    return run_query(
        engine,
        translation.sql,
        timeout=timeout,
        max_rows=max_rows,
        tables=tables,
        on_cancel=on_cancel,
    )
