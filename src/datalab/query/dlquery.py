"""A query as the Data Lab API asks for it: ``sql=`` or ``adql=``, ``ofmt=``, ``out=``.

Shared by the REST service (sync and ``async=True``) and its job kind, as
``datalab.query.tap`` is for TAP. The differences from TAP are the Data Lab's own:
PostgreSQL-flavoured SQL is accepted, ``mydb://name`` names a user's table inside the
query text, results may be stored (``out=mydb://t``, ``out=vos://f``) instead of
returned, and there is no MAXREC (every row comes back, up to the site's hard limit).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from datalab.adql import Translation, translate
from datalab.catalog import Engine
from datalab.errors import UsageError
from datalab.formats.results import ResultFormat, resolve_format
from datalab.query.execute import run_translation
from datalab.query.runner import QueryResult
from datalab.query.visible import Visible

__all__ = ["DataLabQuery", "compile_query", "mydb_urls_to_names", "parse_query_parameters"]

# Data Lab's ofmt names that are not result-format aliases of their own.
_OFMT = {"ascii": "tsv", "csv-noheader": "csv", "pandas": "csv", "table": "csv",
         "array": "csv", "structarray": "csv", "votable": "votable"}

_MYDB_URL = re.compile(r"mydb://([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class DataLabQuery:
    text: str
    language: str  # "SQL" or "ADQL"
    format: ResultFormat
    out: str | None  # "mydb://t", "vos://path", or None to answer with the rows
    replace: bool  # drop=True: an existing mydb:// table is overwritten


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


def parse_query_parameters(params: Mapping[str, str]) -> DataLabQuery:
    """Check ``sql``/``adql``, ``ofmt``, ``out``, ``drop`` (names lower-cased)."""
    sql, adql = params.get("sql"), params.get("adql")
    if bool(sql and sql.strip()) == bool(adql and adql.strip()):
        raise UsageError("give exactly one of sql= (Data Lab SQL) or adql= (ADQL)")
    text = (sql or adql or "").strip()
    ofmt = (params.get("ofmt") or "csv").strip().lower()
    fmt = resolve_format(_OFMT.get(ofmt, ofmt))
    out = (params.get("out") or "").strip()
    if out in ("", "None", "none"):
        out_value = None
    elif out.startswith(("mydb://", "vos://")):
        out_value = out
    else:
        # The official client writes a local file itself and still sends its name.
        out_value = None
    return DataLabQuery(
        text=text,
        language="SQL" if sql else "ADQL",
        format=fmt,
        out=out_value,
        replace=_flag(params.get("drop")),
    )


def mydb_urls_to_names(text: str) -> str:
    """``mydb://t`` → ``mydb.t`` outside string literals (a Data Lab habit in SQL)."""
    parts = re.split(r"('(?:[^']|'')*')", text)
    return "".join(
        part if part.startswith("'") else _MYDB_URL.sub(r"mydb.\1", part) for part in parts
    )


def compile_query(query: DataLabQuery, visible: Visible) -> Translation:
    return translate(
        mydb_urls_to_names(query.text),
        visible.catalog(),
        language=query.language,  # type: ignore[arg-type]
    )


def start(
    translation: Translation,
    engine: Engine,
    *,
    timeout: float | None,
    max_rows: int,
    on_cancel: Callable[[Callable[[], None]], None] | None = None,
) -> QueryResult:
    return run_translation(
        engine, translation, timeout=timeout, max_rows=max_rows, on_cancel=on_cancel
    )
