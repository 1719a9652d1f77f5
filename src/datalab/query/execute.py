"""Running a compiled query: from its table's row copy when it is a small cone search,
on the engine otherwise. Every caller that runs a user's query goes through here."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa

from datalab.adql import Translation
from datalab.catalog import Engine
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
    search of a catalog table, so it always runs on the engine."""
    if translation.cone is not None and not tables:
        result = answer_cone(engine, translation, max_rows=max_rows)
        if result is not None:
            if on_cancel is not None:
                on_cancel(result.cancel)
            return result
    return run_query(
        engine,
        translation.sql,
        timeout=timeout,
        max_rows=max_rows,
        tables=tables,
        on_cancel=on_cancel,
    )
