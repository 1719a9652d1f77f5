"""The JSON routes behind the query page (``/portal/api/...``).

A portal query is an ordinary async TAP job of the logged-in user with a VO-Parquet
result (see :mod:`datalab.web.portal.results`): it is created and queued with the
same domain calls as ``POST /tap/async``, so it also shows in the user's TAP job list.
Its rows are read back a page at a time by :mod:`datalab.query.paging`, converted to
any TAP format by the streaming writers of :mod:`datalab.formats.results`, and saved
to myDB or vos:// by the services that own those.

Every route acts for the session's user only: another user's job id answers 404,
exactly like an id that never existed.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from datalab.adql import ADQLError, Limits, translate
from datalab.errors import NotFoundError, UsageError
from datalab.formats.results import ResultFormat, ResultInfo, encode_result, resolve_format
from datalab.jobs import FINAL_PHASES, Job, Phase
from datalab.jobs.kinds.tap_query import BASE_URL_PARAMETER
from datalab.mydb import check_table_name
from datalab.query.paging import PageRequest, StoredResult, json_ready, parse_filters
from datalab.query.tap import parse_tap_parameters, prepare
from datalab.storage import parse_vos_path
from datalab.web.context import Services, services
from datalab.web.portal.results import PORTAL_RUN_ID, portal_job, result_file
from datalab.web.portal.session import PortalUser, verify_csrf

__all__ = [
    "DEFAULT_LIMIT",
    "DOWNLOADS",
    "MAX_QUERY_CHARS",
    "job_json",
    "query_job",
    "router",
]

router = APIRouter(prefix="/portal/api", include_in_schema=False)

SVC = Annotated[Services, Depends(services)]
CSRF = [Depends(verify_csrf)]

# The compiler's own limit on query text: longer text is refused before any work.
MAX_QUERY_CHARS = Limits().max_length
# A request body holds one query and a few settings, or a list of selected row ids.
MAX_BODY_BYTES = 2 << 20
DEFAULT_LIMIT = 1000
# How long creating a query waits for it to finish, so a quick query shows at once.
RUN_WAIT = 2.0
# The longest a poll of a running query may block (UWS WAIT semantics).
MAX_POLL_WAIT = 10.0
RECENT = 50

# The portal's download formats: name in the URL -> (RESPONSEFORMAT, label).
DOWNLOADS: dict[str, tuple[str, str]] = {
    "votable": ("votable", "VOTable (TABLEDATA)"),
    "votable-binary": ("votable/b", "VOTable (BINARY)"),
    "votable-binary2": ("votable/b2", "VOTable (BINARY2)"),
    "csv": ("csv", "CSV"),
    "tsv": ("tsv", "TSV"),
    "fits": ("fits", "FITS"),
    "parquet": ("parquet", "VO-Parquet"),
    "json": ("json", "JSON"),
}

_POSITION = re.compile(r"\(line (\d+), column (\d+)\)$")


class RequestTooLarge(UsageError):
    code = "too_large"
    status_code = 413


# -- request bodies --------------------------------------------------------------------


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, read up to :data:`MAX_BODY_BYTES` and no further."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RequestTooLarge(
                f"the request is larger than {MAX_BODY_BYTES >> 20} MiB; a query may be at "
                f"most {MAX_QUERY_CHARS:,} characters"
            )
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise UsageError("the request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise UsageError("the request body must be a JSON object")
    return data


def _text(data: dict[str, Any], name: str, *, limit: int, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise UsageError(f"give {name} as text")
    if len(value) > limit:
        raise UsageError(f"{name} is {len(value):,} characters long; the limit is {limit:,}")
    return value


def _query_text(data: dict[str, Any]) -> str:
    value = data.get("query")
    if not isinstance(value, str):
        raise UsageError("give the query as text")
    if not value.strip():
        raise UsageError("write a query first: the query text is empty")
    if len(value) > MAX_QUERY_CHARS:
        raise UsageError(
            f"the query is {len(value):,} characters long; the limit is {MAX_QUERY_CHARS:,}"
        )
    return value


def _row_limit(value: object, svc: Services) -> int:
    hard = svc.settings.tap_hard_maxrec
    if value is None or value == "":
        return min(DEFAULT_LIMIT, hard)
    try:
        limit = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise UsageError(f"the row limit must be a whole number, not {str(value)[:20]!r}") from None
    whole = not isinstance(value, bool) and (not isinstance(value, float) or value.is_integer())
    if not whole or not 1 <= limit <= hard:
        raise UsageError(f"the row limit must be from 1 to {hard:,}")
    return limit


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be true or false")
    return value


def _base_url(request: Request, svc: Services) -> str:
    return (svc.settings.base_url or str(request.base_url)).rstrip("/")


# -- shapes of the answers --------------------------------------------------------------


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _error_json(message: str) -> dict[str, Any]:
    """A failure's message with the line and column the compiler named, if any."""
    found = _POSITION.search(message)
    return {
        "message": message,
        "line": int(found.group(1)) if found else None,
        "column": int(found.group(2)) if found else None,
    }


def job_json(job: Job) -> dict[str, Any]:
    """A portal query as the page shows it (phase, times, rows, error)."""
    now = datetime.now(UTC)
    result = next((r for r in job.results if r.filename.endswith(".parquet")), None)
    elapsed = None
    if job.start_time is not None:
        elapsed = max(((job.end_time or now) - job.start_time).total_seconds(), 0.0)
    try:
        limit: int | None = int(job.parameters.get("maxrec", ""))
    except ValueError:
        limit = None
    return {
        "id": job.job_id,
        "phase": job.phase.value,
        "final": job.phase in FINAL_PHASES,
        "query": job.parameters.get("query", ""),
        "limit": limit,
        "created": _iso(job.creation_time),
        "started": _iso(job.start_time),
        "ended": _iso(job.end_time),
        "elapsed": elapsed,
        "rows": result.rows if result else None,
        "overflow": bool(result and result.overflow),
        "error": _error_json(job.error.message) if job.error else None,
    }


def query_job(svc: Services, user: str, job_id: str) -> Job:
    """The user's portal-visible query: one of their TAP jobs, 404 otherwise."""
    job = portal_job(svc, user, job_id)
    if job.kind != "tap":
        raise NotFoundError("no such query")
    return job


def _settle(svc: Services, job_id: str, seconds: float) -> Job:
    """The job once it has finished, or as it is after ``seconds``."""
    end = time.monotonic() + seconds
    job = svc.jobs.get(job_id)
    waitable = (Phase.PENDING, Phase.QUEUED, Phase.EXECUTING)
    while job.phase in waitable and (left := end - time.monotonic()) > 0:
        job = svc.runner.wait(job_id, left)
    return job


# -- checking and running ------------------------------------------------------------------


@router.post("/adql/check", dependencies=CSRF, summary="Check an ADQL query")
async def check(request: Request, svc: SVC, user: PortalUser) -> dict[str, Any]:
    """Compile without running: ``ok`` and the result's columns, or the compiler's
    message with the line and column it points at."""
    text = _query_text(await read_json(request))
    visible = svc.visible_for(user, _base_url(request, svc))

    def compile_it() -> dict[str, Any]:
        try:
            translation = translate(text, visible.catalog(), language="ADQL")
        except ADQLError as exc:
            return {
                "ok": False,
                "error": {"message": exc.message, "line": exc.line, "column": exc.column},
            }
        return {"ok": True, "columns": [c.name for c in translation.columns], "error": None}

    return await anyio.to_thread.run_sync(compile_it)


@router.get("/queries", summary="The user's recent portal queries")
def recent(svc: SVC, user: PortalUser) -> dict[str, Any]:
    jobs = [j for j in svc.jobs.list(user) if j.run_id == PORTAL_RUN_ID and j.kind == "tap"]
    jobs.sort(key=lambda j: j.creation_time, reverse=True)
    return {"queries": [job_json(j) for j in jobs[:RECENT]]}


@router.post("/queries", dependencies=CSRF, summary="Run a query as an async TAP job")
async def run(request: Request, svc: SVC, user: PortalUser) -> JSONResponse:
    data = await read_json(request)
    text = _query_text(data)
    limit = _row_limit(data.get("limit"), svc)
    values = {
        "request": "doQuery",
        "lang": "ADQL",
        "query": text,
        "responseformat": "parquet",
        "maxrec": str(limit),
        "runid": PORTAL_RUN_ID,
        BASE_URL_PARAMETER: _base_url(request, svc),
    }

    def start() -> Job:
        # Compiled first, so that a bad query is answered with its position at once
        # and leaves no failed job behind; the job compiles it again when it runs.
        tap = parse_tap_parameters(values, svc.settings)
        prepare(tap, svc.visible_for(user, values[BASE_URL_PARAMETER]), None)
        job = svc.jobs.create("tap", user, values, run_id=PORTAL_RUN_ID)
        svc.runner.run(job.job_id)
        return _settle(svc, job.job_id, RUN_WAIT)

    # A query the compiler refuses raises ADQLError: the JSON envelope's detail then
    # holds the line and column it points at.
    job = await anyio.to_thread.run_sync(start)
    return JSONResponse(job_json(job), status_code=201)


@router.get("/queries/{job_id}", summary="A query's phase (wait= blocks up to 10 s)")
def status(job_id: str, svc: SVC, user: PortalUser, wait: str | None = None) -> dict[str, Any]:
    job = query_job(svc, user, job_id)
    if wait is not None:
        try:
            seconds = float(wait)
        except ValueError:
            raise UsageError(f"wait must be a number of seconds, not {wait[:20]!r}") from None
        if not 0 <= seconds <= MAX_POLL_WAIT:
            raise UsageError(f"wait must be from 0 to {MAX_POLL_WAIT:g} seconds")
        job = _settle(svc, job_id, seconds)
    return job_json(job)


@router.post("/queries/{job_id}/abort", dependencies=CSRF, summary="Abort a running query")
def abort(job_id: str, svc: SVC, user: PortalUser) -> dict[str, Any]:
    query_job(svc, user, job_id)
    return job_json(svc.runner.abort(job_id))


# -- rows ------------------------------------------------------------------------------------


def _whole(value: str, name: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        raise UsageError(f"{name} must be a whole number, 0 or more")
    return int(text)


def _open_result(svc: Services, user: str, job_id: str) -> tuple[Job, StoredResult]:
    job = query_job(svc, user, job_id)
    return job, StoredResult(result_file(svc, user, job_id))


def _columns_json(stored: StoredResult) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "datatype": c.meta.datatype,
            "arraysize": c.meta.arraysize,
            "unit": c.meta.unit,
            "ucd": c.meta.ucd,
            "description": c.meta.description,
            "kind": c.kind,
            "numeric": c.numeric,
        }
        for c in stored.columns
    ]


@router.get("/queries/{job_id}/rows", summary="A page of a query's result")
def rows(
    job_id: str,
    svc: SVC,
    user: PortalUser,
    offset: str = "0",
    limit: str = "50",
    sort: str | None = None,
    order: str = "asc",
    filter: str | None = None,
) -> dict[str, Any]:
    direction = order.strip().lower()
    if direction not in ("asc", "desc"):
        raise UsageError("order must be asc or desc")
    request = PageRequest(
        offset=_whole(offset, "offset"),
        limit=_whole(limit, "limit"),
        sort=sort or None,
        descending=direction == "desc",
        filters=parse_filters(filter),
    )
    _, stored = _open_result(svc, user, job_id)
    found = stored.page(request)
    columns = found.columns
    return {
        "columns": _columns_json(stored),
        "row_ids": found.row_ids,
        "rows": [
            [json_ready(v, c) for v, c in zip(row, columns, strict=True)] for row in found.rows
        ],
        "offset": found.offset,
        "limit": found.limit,
        "total": found.total,
        "total_all": found.total_all,
        "sort": stored.column(request.sort).name if request.sort else None,
        "order": direction,
    }


# -- downloads -------------------------------------------------------------------------------


def download_format(name: str | None) -> tuple[str, ResultFormat]:
    """The portal format ``name`` and the TAP format it is written in."""
    key = (name or "").strip().lower()
    if key not in DOWNLOADS:
        raise UsageError(f"unknown format {key[:30]!r}; use one of {', '.join(DOWNLOADS)}")
    return key, resolve_format(DOWNLOADS[key][0])


def _encoded(
    svc: Services,
    job: Job,
    stored: StoredResult,
    fmt: ResultFormat,
    batches: Iterator[Any],
    description: str | None = None,
) -> Iterator[bytes]:
    """The rows in ``fmt``; the first chunk is made before this returns, so an error in
    the conversion is answered as an error instead of a cut-off file."""
    overflow = any(r.overflow for r in job.results)
    chunks = encode_result(
        fmt,
        stored.schema,
        stored.fields,
        batches,
        ResultInfo(
            query=job.parameters.get("query"),
            description=description,
            extra_infos=(("RUNID", PORTAL_RUN_ID),),
        ),
        overflow=lambda: overflow and description is None,
        tmp_dir=svc.settings.paths().tmp,
    )
    first = next(chunks, b"")
    return itertools.chain([first], chunks)


def _attachment(job: Job, fmt: ResultFormat, suffix: str = "") -> dict[str, str]:
    # Job ids use only [A-Za-z0-9_-], safe in a header without quoting rules.
    name = f"query-{job.job_id[:10]}{suffix}.{fmt.extension}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/queries/{job_id}/download", summary="The whole result in a TAP format")
def download(job_id: str, svc: SVC, user: PortalUser, format: str = "votable") -> Response:
    key, fmt = download_format(format)
    job, stored = _open_result(svc, user, job_id)
    headers = _attachment(job, fmt)
    if key == "parquet":
        # The stored result is already this format, FIELD metadata and all.
        return FileResponse(stored.path, media_type=fmt.mime_type, headers=headers)
    body = _encoded(svc, job, stored, fmt, stored.batches())
    return StreamingResponse(body, media_type=fmt.mime_type, headers=headers)


@router.post(
    "/queries/{job_id}/download", dependencies=CSRF, summary="Selected rows in a TAP format"
)
async def download_selected(job_id: str, request: Request, svc: SVC, user: PortalUser) -> Response:
    data = await read_json(request)
    _, fmt = download_format(data.get("format") if isinstance(data.get("format"), str) else None)
    ids = data.get("rows")
    if not isinstance(ids, list) or not all(type(i) is int for i in ids):
        raise UsageError("rows must be a list of row numbers")

    def prepare_body() -> tuple[Job, StoredResult, Iterator[bytes]]:
        job, stored = _open_result(svc, user, job_id)
        chosen = stored.check_row_ids(ids)
        note = f"{len(chosen)} selected rows of the query's {stored.num_rows} rows"
        return job, stored, _encoded(svc, job, stored, fmt, stored.selected(chosen), note)

    job, _, body = await anyio.to_thread.run_sync(prepare_body)
    headers = _attachment(job, fmt, "-selected")
    return StreamingResponse(body, media_type=fmt.mime_type, headers=headers)


# -- saving ------------------------------------------------------------------------------------


@router.post(
    "/queries/{job_id}/save", dependencies=CSRF, summary="Save the result to myDB or vos://"
)
async def save(job_id: str, request: Request, svc: SVC, user: PortalUser) -> dict[str, Any]:
    data = await read_json(request)
    target = data.get("target")
    replace = _flag(data, "replace")
    if target == "mydb":
        name = check_table_name(_text(data, "name", limit=200))

        def to_mydb() -> dict[str, Any]:
            _, stored = _open_result(svc, user, job_id)
            table = svc.mydb.save(
                user, name, stored.schema, stored.batches(), replace=replace, fields=stored.fields
            )
            return {
                "target": "mydb",
                "table": f"mydb.{table.name}",
                "rows": table.rows,
                "message": f"Saved {table.rows:,} rows as mydb.{table.name}.",
                "query": f"SELECT TOP 100 * FROM mydb.{table.name}",
            }

        return await anyio.to_thread.run_sync(to_mydb)
    if target == "vos":
        path = parse_vos_path(_text(data, "path", limit=4200))
        if not path:
            raise UsageError("give the file's name, such as vos://results/pleiades.csv")
        key, fmt = download_format(
            data.get("format") if isinstance(data.get("format"), str) else None
        )

        def to_vos() -> dict[str, Any]:
            job, stored = _open_result(svc, user, job_id)
            if key == "parquet":
                with stored.path.open("rb") as original:
                    node = svc.storage.write(user, path, original, overwrite=replace)
            else:
                chunks = _encoded(svc, job, stored, fmt, stored.batches())
                node = svc.storage.write(user, path, chunks, overwrite=replace)
            return {
                "target": "vos",
                "path": node.uri,
                "size": node.size,
                "message": f"Saved {stored.num_rows:,} rows as {node.uri} ({DOWNLOADS[key][1]}).",
            }

        return await anyio.to_thread.run_sync(to_vos)
    raise UsageError('target must be "mydb" or "vos"')
