"""A TAP query, from request parameters to a running result (TAP 1.1 §2, DALI 1.1 §3).

Shared by synchronous requests and async jobs, so that both read parameters, resolve
tables, compile and run in exactly the same way; the callers only differ in where the
rows go (the HTTP response, or a file in the job's directory).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from datalab.adql import Translation, translate
from datalab.catalog import Engine
from datalab.config import Settings
from datalab.errors import UsageError
from datalab.formats import FieldMeta
from datalab.formats.results import ResultFormat, resolve_format
from datalab.query.execute import run_translation
from datalab.query.runner import QueryResult
from datalab.query.visible import Visible, result_fields
from datalab.query.uploads import (
    UPLOAD_SCHEMA,
    UploadedTable,
    UploadSpec,
    load_uploads,
    parse_upload,
)

__all__ = ["PreparedQuery", "TapQuery", "parse_tap_parameters", "prepare", "start"]

LANGUAGES = ("ADQL", "ADQL-2.0", "ADQL-2.1")


@dataclass(frozen=True)
class TapQuery:
    """The parameters of one TAP query, checked."""

    query: str
    lang: str
    format: ResultFormat
    maxrec: int
    run_id: str | None
    uploads: tuple[UploadSpec, ...]


def parse_tap_parameters(params: Mapping[str, str], settings: Settings) -> TapQuery:
    """Check the TAP parameters (names already lower-cased; values as sent).

    REQUEST is optional in TAP 1.1 and must be doQuery when given; LANG is required
    by the standard but defaults to ADQL here, as most services do; MAXREC above the
    hard limit is lowered to it (DALI 1.1 §3.4.3 lets the service choose).
    """
    request = params.get("request")
    if request is not None and request.strip().lower() != "doquery":
        raise UsageError(f"REQUEST={request!r} is not supported; use REQUEST=doQuery")
    lang = (params.get("lang") or "ADQL").strip()
    if lang.upper() not in LANGUAGES:
        raise UsageError(f"LANG={lang!r} is not supported; use one of {', '.join(LANGUAGES)}")
    query = params.get("query")
    if query is None or not query.strip():
        raise UsageError("the QUERY parameter is missing or empty")
    fmt = resolve_format(params.get("responseformat") or params.get("format"))
    maxrec = settings.tap_default_maxrec
    if (text := params.get("maxrec")) is not None:
        try:
            maxrec = int(text.strip())
        except ValueError:
            raise UsageError(f"MAXREC={text!r} is not a whole number") from None
        if maxrec < 0:
            raise UsageError(f"MAXREC={maxrec} is negative")
    maxrec = min(maxrec, settings.tap_hard_maxrec)
    return TapQuery(
        query=query,
        lang=lang.upper(),
        format=fmt,
        maxrec=maxrec,
        run_id=params.get("runid"),
        uploads=tuple(parse_upload(params.get("upload"))),
    )


@dataclass(frozen=True)
class PreparedQuery:
    """A compiled query with the tables it brought along, ready to run."""

    tap: TapQuery
    translation: Translation
    uploads: tuple[UploadedTable, ...]

    def fields(self) -> list[FieldMeta]:
        """FIELD metadata for the result columns."""
        return result_fields(self.translation.columns)


def prepare(tap: TapQuery, visible: Visible, upload_dir: Path | None) -> PreparedQuery:
    """Read the uploads, resolve names against ``visible`` plus the uploads, compile."""
    uploads: list[UploadedTable] = []
    if tap.uploads:
        if upload_dir is None:
            raise UsageError("this request cannot carry uploads")
        uploads = load_uploads(tap.uploads, upload_dir)
    catalog = visible.plus(
        (u.info for u in uploads),
        {f"{UPLOAD_SCHEMA}.{u.info.name}": (u.engine_name,) for u in uploads},
    ).catalog()
    translation = translate(tap.query, catalog, language="ADQL")
    return PreparedQuery(tap, translation, tuple(uploads))


def start(
    prepared: PreparedQuery,
    engine: Engine,
    *,
    timeout: float | None,
    on_cancel: Callable[[Callable[[], None]], None] | None = None,
) -> QueryResult:
    """Run the compiled query: the rows stream from the returned result. ``on_cancel``
    receives the query's cancel function before it runs (see ``run_query``)."""
    return run_translation(
        engine,
        prepared.translation,
        timeout=timeout,
        max_rows=prepared.tap.maxrec,
        tables={u.engine_name: u.table for u in prepared.uploads},
        on_cancel=on_cancel,
    )
