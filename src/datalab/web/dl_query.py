"""The Data Lab query service (``/query``) as the official client and ours speak it.

Plain-text answers and errors (``Error: …`` with a 4xx status), every call a GET with
query parameters except create/import (POST). Queries run through the same compiler
and runner as TAP; async queries are jobs of kind ``dlquery`` in the same job store,
so TAP's /tap/async sees them too (owner and all).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response, StreamingResponse

from datalab.errors import DataLabError, NotFoundError, PermissionDeniedError, UsageError
from datalab.formats.results import ResultFormat, ResultInfo, encode_result
from datalab.jobs import Job, Phase
from datalab.jobs.kinds.dl_query import save_to_vos, vos_output
from datalab.jobs.kinds.tap_query import BASE_URL_PARAMETER
from datalab.query.dlquery import DataLabQuery, compile_query, parse_query_parameters, start
from datalab.query.visible import result_fields
from datalab.web.context import Services, services
from datalab.web.dl_storage import vos_path, xfer_file
from datalab.web.identity import Identity, identity
from datalab.web.tap_params import read_parameters

__all__ = ["router"]

router = APIRouter(prefix="/query", tags=["Data Lab query"])


def text(body: str, status: int = 200) -> Response:
    return PlainTextResponse(body, status_code=status)


def _errors_as_text(func):  # type: ignore[no-untyped-def]
    """Answer DataLabErrors as the client expects them: ``Error: message``."""

    @functools.wraps(func)
    async def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return await func(*args, **kwargs)
        except DataLabError as exc:
            return text(f"Error: {exc.message}", exc.status_code)

    return wrapper


def _user(who: Identity) -> str:
    if who.user is None:
        raise PermissionDeniedError("log in first: myDB tables belong to a user")
    return who.user


def _timeout(request: Request, svc: Services) -> float:
    limit = svc.settings.tap_sync_timeout
    asked = request.headers.get("X-DL-TimeoutRequest", "")
    try:
        wanted = float(asked)
    except ValueError:
        return limit
    return min(max(wanted, 1.0), limit)


@router.get("", summary="Liveness, as the client checks it")
def alive() -> Response:
    return text("Hello World")


@router.api_route("/query", methods=["GET", "POST"], summary="Run a query (sql= or adql=)")
@_errors_as_text
async def query(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    params = await read_parameters(request)
    await params.close()
    parsed = parse_query_parameters(params.values)
    if parsed.out is not None and parsed.out.startswith("mydb://"):
        _user(who)
    vos = None
    if parsed.out is not None and parsed.out.startswith("vos://"):
        if who.user is None:
            raise PermissionDeniedError("log in first: vos:// files belong to a user")
        vos = vos_output(parsed.out, params.get("ofmt"), parsed.format)
    if (params.get("async") or "").strip().lower() == "true":
        values = {k: v for k, v in params.values.items() if k in (
            "sql", "adql", "ofmt", "out", "drop")}
        values[BASE_URL_PARAMETER] = _base_url(request, svc)
        job = svc.jobs.create("dlquery", who.user, values)
        svc.runner.run(job.job_id)
        return text(job.job_id)
    timeout = _timeout(request, svc)
    return await anyio.to_thread.run_sync(
        _sync, svc, who, parsed, timeout, vos, _base_url(request, svc)
    )


def _base_url(request: Request, svc: Services) -> str:
    return (svc.settings.base_url or str(request.base_url)).rstrip("/")


def _sync(
    svc: Services, who: Identity, parsed: DataLabQuery, timeout: float,
    vos: tuple[str, ResultFormat] | None, base_url: str,
) -> Response:
    translation = compile_query(parsed, svc.visible_for(who.user, base_url))
    result = start(translation, svc.engine, timeout=timeout, max_rows=svc.settings.tap_hard_maxrec)
    fields = result_fields(translation.columns)
    if parsed.out is not None:
        with result:
            if vos is not None:
                storage = svc.storage
                save_to_vos(storage.write, who.user, vos[0], vos[1], result, fields,
                            parsed.text, svc.settings.paths().tmp)
            else:
                svc.save_to_mydb(who.user, parsed.out, result, fields, parsed.replace)
        return text("OK")

    def body() -> Iterator[bytes]:
        with result:
            yield from encode_result(
                parsed.format, result.schema, fields, result, ResultInfo(query=parsed.text, csv_line_end="\n"),
                tmp_dir=svc.settings.paths().tmp,
            )

    return StreamingResponse(body(), media_type=parsed.format.mime_type)


# -- async jobs --------------------------------------------------------------------------


def _job(svc: Services, who: Identity, jobid: str) -> Job:
    if not jobid:
        raise UsageError("give jobid=")
    job = svc.jobs.get(jobid)
    if job.owner is not None and job.owner != who.user:
        raise NotFoundError(f"no job {jobid!r}")
    return job


@router.get("/status", summary="A job's phase")
@_errors_as_text
async def status(
    jobid: str = "", svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    return text(_job(svc, who, jobid).phase.value)


@router.get("/results", summary="A finished job's result")
@_errors_as_text
async def results(
    jobid: str = "", svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    job = _job(svc, who, jobid)
    if job.phase != Phase.COMPLETED or not job.results:
        raise UsageError(f"job {jobid} has no result: its phase is {job.phase.value}")
    result = job.results[0]
    return FileResponse(svc.jobs.job_dir(jobid) / result.filename, media_type=result.mime_type)


@router.get("/error", summary="Why a job failed")
@_errors_as_text
async def error(
    jobid: str = "", svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    job = _job(svc, who, jobid)
    return text(job.error.message if job.error else "")


@router.get("/abort", summary="Abort a job")
@_errors_as_text
async def abort(
    jobid: str = "", svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    _job(svc, who, jobid)
    if svc.jobs.get(jobid).phase in (Phase.PENDING, Phase.QUEUED, Phase.EXECUTING):
        svc.runner.abort(jobid)
    return text(svc.jobs.get(jobid).phase.value)


@router.get("/jobs", summary="The caller's jobs: id, phase, creation time, query")
@_errors_as_text
async def jobs(svc: Services = Depends(services), who: Identity = Depends(identity)) -> Response:
    lines = []
    for job in svc.jobs.list(_user(who)):
        query = (job.parameters.get("sql") or job.parameters.get("adql")
                 or job.parameters.get("query") or "").replace("\n", " ")
        lines.append(f"{job.job_id}\t{job.phase.value}\t{job.creation_time.isoformat()}\t{query}")
    return text("\n".join(lines))


# -- myDB ----------------------------------------------------------------------------------


@router.get("/list", summary="The caller's myDB tables, or one table's columns")
@_errors_as_text
async def list_tables(
    table: str = "", svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    user = _user(who)
    if table and table not in ("None",):
        described = svc.mydb.table(user, table)
        return text("\n".join(f"{c.name},{c.datatype}" for c in described.columns))
    return text("\n".join(t.name for t in svc.mydb.tables(user)))


@router.get("/delete", summary="Drop a myDB table")
@_errors_as_text
async def delete(
    table: str = "", svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    svc.mydb.drop(_user(who), table)
    return text("OK")


@router.get("/truncate", summary="Empty a myDB table")
@_errors_as_text
async def truncate(
    table: str = "", svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    svc.mydb.truncate(_user(who), table)
    return text("OK")


@router.get("/rename", summary="Rename a myDB table")
@_errors_as_text
async def rename(
    source: str = "", target: str = "", svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    svc.mydb.rename(_user(who), source, target)
    return text("OK")


@router.get("/copy", summary="Copy a myDB table")
@_errors_as_text
async def copy(
    source: str = "", target: str = "", svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    await anyio.to_thread.run_sync(svc.mydb.copy, _user(who), source, target)
    return text("OK")


@router.get("/index", summary="Index a myDB table: a column, or ra,dec positionally")
@_errors_as_text
async def index(
    tbl: str = "", col: str = "", q3c: str = "", svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    user = _user(who)
    columns = [c.strip() for c in (q3c or col).split(",") if c.strip()]
    if len(columns) == 2:
        await anyio.to_thread.run_sync(
            functools.partial(svc.mydb.index, user, tbl, ra=columns[0], dec=columns[1])
        )
    elif len(columns) == 1:
        await anyio.to_thread.run_sync(functools.partial(svc.mydb.index, user, tbl, column=columns[0]))
    else:
        raise UsageError("give col=NAME, or col=RA,DEC (or q3c=RA,DEC) for a positional index")
    return text("OK")


@router.post("/create", summary="Create an empty myDB table from name,type lines")
@_errors_as_text
async def create(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    params = await read_parameters(request)
    await params.close()
    table, schema = params.get("table") or "", params.get("schema") or ""
    columns = []
    for line in schema.replace(";", "\n").splitlines():
        if line.strip():
            name, sep, kind = line.partition(",")
            if not sep:
                raise UsageError(f"schema line {line.strip()!r} must be name,type")
            columns.append((name.strip(), kind.strip()))
    replace = (params.get("drop") or "").lower() == "true"
    svc.mydb.create(_user(who), table, columns, replace=replace)
    return text("OK")


@router.post("/import", summary="Create or append to a myDB table from an uploaded file")
@_errors_as_text
async def import_file(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    user = _user(who)
    params = await read_parameters(request)
    try:
        table = params.get("table") or ""
        append = (params.get("append") or "").lower() == "true"
        replace = (params.get("drop") or "").lower() == "true"
        upload = next(iter(params.files.values()), None)
        filename = (params.get("filename") or "").strip()
        if upload is None and filename:
            # A file sent earlier to /storage/xfer, or one of the user's vos:// files.
            if filename.startswith("vos://"):
                storage = svc.storage
                path = await anyio.to_thread.run_sync(
                    storage.local_file, user, vos_path(filename))
                staged = None
            else:
                path = staged = xfer_file(svc.settings, user, filename)
                if not path.is_file():
                    raise NotFoundError(f"no uploaded file {filename!r}: send it to "
                                        "/storage/xfer first")
            try:
                await _load_table(svc, user, table, path, append=append, replace=replace)
            finally:
                if staged is not None:
                    staged.unlink(missing_ok=True)
            return text("OK")
        if upload is None:
            raise UsageError("send the table as a file part of a multipart request, or name "
                             "it: filename=<a file sent to /storage/xfer> or vos://path")
        suffix = Path(upload.filename or "upload").suffix.lower()[:10]
        with tempfile.TemporaryDirectory(dir=svc.settings.paths().tmp) as scratch:
            path = Path(scratch) / f"import{suffix}"
            from datalab.query.uploads import save_part

            await anyio.to_thread.run_sync(save_part, upload.file, path, svc.settings.tap_upload_limit)
            await _load_table(svc, user, table, path, append=append, replace=replace)
    finally:
        await params.close()
    return text("OK")


async def _load_table(
    svc: Services, user: str, table: str, path: Path, *, append: bool, replace: bool
) -> None:
    if append:
        await anyio.to_thread.run_sync(svc.mydb.insert, user, table, path)
    else:
        await anyio.to_thread.run_sync(
            functools.partial(svc.mydb.import_table, user, table, path, replace=replace)
        )


# -- discovery -----------------------------------------------------------------------------


@router.get("/services", summary="The query services on offer")
def list_services() -> Response:
    return text("default\tDuckDB catalog: public catalogs and your myDB")


@router.get("/profiles", summary="Query profiles (one: default)")
def profiles() -> Response:
    return text("default")


@router.get("/schema", summary="Schemas, a schema's tables, or a table's columns")
@_errors_as_text
async def schema(
    value: str = "", svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    tables = svc.visible_for(who.user).tables
    value = value.strip().lower()
    if not value:
        names = sorted({t.schema for t in tables})
        return text("\n".join(names))
    if "." not in value:
        found = [t for t in tables if t.schema == value]
        if not found:
            raise NotFoundError(f"no schema {value!r}")
        return text("\n".join(f"{t.qualified_name}\t{t.description or ''}" for t in found))
    for t in tables:
        if t.qualified_name == value:
            return text("\n".join(
                f"{c.name}\t{c.datatype}\t{c.unit or ''}\t{c.description or ''}" for c in t.columns
            ))
    raise NotFoundError(f"no table {value!r}")
