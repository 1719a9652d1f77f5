"""TAP 1.1 over HTTP: /tap/sync, /tap/async (UWS 1.1), and the VOSI resources.

A thin edge (DESIGN.md): parameters are read here, everything else happens in
``datalab.query.tap`` (compile and run), ``datalab.jobs`` (async jobs) and
``datalab.formats.results`` (encoding). Errors of a query are VOTable error documents
with the HTTP status of the error (TAP 1.1 §2.9, DALI 1.1 §4.4.2).
"""

from __future__ import annotations

import functools
import itertools
import logging
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from datalab.adql import UDF_DESCRIPTIONS
from datalab.errors import (
    ConflictError,
    DataLabError,
    NotFoundError,
    QueryTimeoutError,
    UsageError,
)
from datalab.formats.results import (
    RESULT_FORMATS,
    ResultInfo,
    encode_result,
    votable_error_document,
)
from datalab.formats.pipeline import read_ahead
from datalab.jobs import Job, Phase
from datalab.jobs.kinds.tap_query import BASE_URL_PARAMETER, UPLOAD_DIR
from datalab.query.tap import TapQuery, parse_tap_parameters, prepare, start
from datalab.query.uploads import UploadSpec, fetch_url, parse_upload, save_part
from datalab.web import uws_xml, vosi
from datalab.web.context import Services, services
from datalab.web.identity import Identity, identity
from datalab.web.tap_examples import EXAMPLES, examples_document
from datalab.web.tap_params import RequestParameters, read_parameters

__all__ = ["router"]

log = logging.getLogger("datalab.web.tap")

router = APIRouter(prefix="/tap", tags=["TAP"])

_VOTABLE = "application/x-votable+xml"
_XML = "text/xml"
# The longest a client may block on WAIT (UWS 1.1 §2.2.1.1 lets the server cut it).
_MAX_WAIT = 120.0
# Result chunks (up to 1 MiB each) encoded ahead of the one being sent.
_READ_AHEAD_CHUNKS = 4
# Answers up to this size are encoded whole before the response starts.
_SMALL_BODY = 256 * 1024
# Parameters that control the job rather than the query (UWS 1.1 §2.2.3).
_CONTROL = {"phase", "action", "executionduration", "destruction", "wait"}


def _base_url(request: Request, svc: Services) -> str:
    return (svc.settings.base_url or str(request.base_url)).rstrip("/")


def _query_error(exc: DataLabError, query: str | None = None) -> Response:
    return Response(
        votable_error_document(exc.message, query=query),
        status_code=exc.status_code if exc.status_code < 500 else 500,
        media_type=_VOTABLE,
    )


def _plain(text: str, status: int = 200) -> Response:
    return Response(text, status_code=status, media_type="text/plain; charset=utf-8")


def _xml(body: bytes) -> Response:
    return Response(body, media_type=_XML)


# -- uploads --------------------------------------------------------------------------


async def _save_uploads(
    specs: tuple[UploadSpec, ...] | list[UploadSpec],
    params: RequestParameters,
    directory: Path,
    svc: Services,
) -> None:
    """Store each upload as ``directory/<name>``, within the site's size limit in all."""
    directory.mkdir(parents=True, exist_ok=True)
    budget = svc.settings.tap_upload_limit - sum(
        p.stat().st_size for p in directory.iterdir() if p.is_file()
    )
    for spec in specs:
        target = directory / spec.name
        if spec.part is not None:
            part = params.files.get(spec.part) or next(
                (f for n, f in params.files.items() if n.lower() == spec.part.lower()), None
            )
            if part is None:
                if target.exists():  # sent with an earlier request to the same job
                    continue
                raise UsageError(
                    f"UPLOAD {spec.name}: the request has no file part named {spec.part!r}"
                )
            budget -= await anyio.to_thread.run_sync(save_part, part.file, target, budget)
        else:
            budget -= await anyio.to_thread.run_sync(
                fetch_url, spec.uri, target, budget, svc.settings.tap_upload_url_hosts
            )


# -- sync -------------------------------------------------------------------------------


@router.api_route("/sync", methods=["GET", "POST"], summary="Run a TAP query synchronously")
async def sync_query(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    params = await read_parameters(request)
    upload_dir: Path | None = None
    query_text = params.get("query")
    try:
        tap = parse_tap_parameters(params.values, svc.settings)
        if tap.uploads:
            upload_dir = Path(tempfile.mkdtemp(prefix="upload-", dir=svc.settings.paths().tmp))
            await _save_uploads(tap.uploads, params, upload_dir, svc)
        # One hand-over to a worker thread does it all (compile, start, encode the
        # first chunks): each hand-over costs about as much as a small cone.
        chunks, head, finished = await anyio.to_thread.run_sync(
            _run_sync, svc, who, tap, upload_dir, _base_url(request, svc)
        )
    except DataLabError as exc:
        _remove(upload_dir)
        return _query_error(exc, query_text)
    finally:
        await params.close()

    # A small answer (a cone, a count) was encoded whole and is sent as one body:
    # streaming it would cost more in thread hand-overs than encoding it. A larger one
    # goes on from where that stopped, encoded in a thread of its own a few chunks
    # ahead, so that the next chunk is made while the last one is sent (Starlette asks
    # for it only once that is done).
    if finished:
        return Response(b"".join(head), media_type=tap.format.mime_type)
    rest = read_ahead(chunks, _READ_AHEAD_CHUNKS)
    return StreamingResponse(itertools.chain(head, rest), media_type=tap.format.mime_type)


def _take_head(chunks: Iterator[bytes], limit: int) -> tuple[list[bytes], bool]:
    """The first chunks, up to about ``limit`` bytes, and whether they are all."""
    head: list[bytes] = []
    size = 0
    for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size >= limit:
            return head, False
    return head, True


def _run_sync(  # type: ignore[no-untyped-def]
    svc: Services, who: Identity, tap: TapQuery, upload_dir: Path | None, base_url: str
):
    """Compile and start the query, then encode the answer's first chunks: the chunk
    iterator, those chunks, and whether they are the whole answer."""
    prepared, result = _start_sync(svc, who, tap, upload_dir, base_url)
    chunks = _encoded(svc, tap, prepared, result, upload_dir)
    head, finished = _take_head(chunks, _SMALL_BODY)
    return chunks, head, finished


def _encoded(  # type: ignore[no-untyped-def]
    svc: Services, tap: TapQuery, prepared, result, upload_dir: Path | None
) -> Iterator[bytes]:
    """The answer as the chunks of its document; the result and uploads are released
    when it ends, however it ends."""
    try:
        yield from encode_result(
            tap.format,
            result.schema,
            prepared.fields(),
            result,
            ResultInfo(query=tap.query, extra_infos=_run_id(tap)),
            overflow=lambda: result.overflow and tap.maxrec > 0,
            tmp_dir=svc.settings.paths().tmp,
        )
    except DataLabError as exc:
        # The status line has gone out: the truncated document is the error signal.
        log.warning("sync TAP result cut short: %s", exc.message)
    finally:
        result.close()
        _remove(upload_dir)


def _start_sync(  # type: ignore[no-untyped-def]
    svc: Services, who: Identity, tap: TapQuery, upload_dir: Path | None, base_url: str
):
    prepared = prepare(tap, svc.visible_for(who.user, base_url), upload_dir)
    limit = svc.settings.tap_sync_timeout
    try:
        result = start(prepared, svc.engine, timeout=limit)
    except QueryTimeoutError as exc:
        exc.message = (
            f"the query did not finish within the synchronous limit of {limit:g} s; "
            f"run it as an async job (/tap/async), which may take up to "
            f"{svc.settings.tap_async_max_duration} s"
        )
        raise
    return prepared, result


def _run_id(tap: TapQuery) -> tuple[tuple[str, str], ...]:
    return (("RUNID", tap.run_id),) if tap.run_id else ()


def _remove(directory: Path | None) -> None:
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


# -- async: the job list ----------------------------------------------------------------


@router.get("/async", summary="The caller's async jobs (UWS 1.1 job list)")
def job_list(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    phases: list[Phase] = []
    after: datetime | None = None
    last: int | None = None
    for name, value in request.query_params.multi_items():
        key = name.lower()
        if key == "phase":
            try:
                phases.append(Phase(value.strip().upper()))
            except ValueError:
                return _plain(f"PHASE={value!r} is not a UWS phase", 400)
        elif key == "after":
            try:
                after = _parse_time(value)
            except UsageError as exc:
                return _plain(exc.message, 400)
        elif key == "last":
            if not value.strip().isdigit() or int(value) < 1:
                return _plain(f"LAST={value!r} must be a positive whole number", 400)
            last = int(value)
    jobs = svc.jobs.list(who.user, phases=phases, after=after, last=last)
    return _xml(uws_xml.job_list_document(jobs, f"{_base_url(request, svc)}/tap/async"))


@router.post("/async", summary="Create an async TAP job")
async def create_job(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    params = await read_parameters(request)
    try:
        values = {k: v for k, v in params.values.items() if k not in _CONTROL}
        # The address the job was created through, for the absolute URLs its result
        # serves (BASE_URL_PARAMETER: reserved, not shown; the client cannot set it).
        values[BASE_URL_PARAMETER] = _base_url(request, svc)
        duration = _duration(params.get("executionduration"))
        when = params.get("destruction")
        destruction = _parse_time(when) if when else None
        specs = parse_upload(values.get("upload"))
        job = svc.jobs.create(
            "tap",
            who.user,
            values,
            run_id=values.get("runid"),
            execution_duration=duration,
            destruction=destruction,
        )
        try:
            if specs:
                await _save_uploads(specs, params, svc.jobs.job_dir(job.job_id) / UPLOAD_DIR, svc)
        except DataLabError:
            svc.jobs.delete(job.job_id)
            raise
        if (params.get("phase") or "").strip().upper() == "RUN":
            svc.runner.run(job.job_id)
    except DataLabError as exc:
        return _query_error(exc, params.get("query"))
    finally:
        await params.close()
    return RedirectResponse(_job_url(request, svc, job.job_id), status_code=303)


# -- async: one job ---------------------------------------------------------------------


def _job_url(request: Request, svc: Services, job_id: str) -> str:
    return f"{_base_url(request, svc)}/tap/async/{job_id}"


def _own_job(svc: Services, job_id: str, who: Identity) -> Job:
    """The job, if this caller may see it: its owner, or anyone for an anonymous job."""
    job = svc.jobs.get(job_id)
    if job.owner is not None and job.owner != who.user:
        raise NotFoundError(f"no job {job_id!r}: it never existed or was destroyed")
    return job


def _job_call(func):  # type: ignore[no-untyped-def]
    """Run a UWS operation, answering its errors as plain text with their status."""

    @functools.wraps(func)
    async def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return await func(*args, **kwargs)
        except DataLabError as exc:
            return _plain(exc.message, exc.status_code)

    return wrapper


@router.get("/async/{job_id}", summary="An async job (UWS 1.1 job document; WAIT blocks)")
@_job_call
async def get_job(
    job_id: str,
    request: Request,
    svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    job = _own_job(svc, job_id, who)
    params = {k.lower(): v for k, v in request.query_params.items()}
    if "wait" in params:
        try:
            wait = float(params["wait"])
        except ValueError:
            raise UsageError(f"WAIT={params['wait']!r} is not a number") from None
        wait = _MAX_WAIT if wait < 0 else min(wait, _MAX_WAIT)
        phase = None
        if "phase" in params:
            try:
                phase = Phase(params["phase"].strip().upper())
            except ValueError:
                raise UsageError(f"PHASE={params['phase']!r} is not a UWS phase") from None
        if job.phase in (Phase.PENDING, Phase.QUEUED, Phase.EXECUTING) and (
            phase is None or phase == job.phase
        ):
            job = await anyio.to_thread.run_sync(svc.runner.wait, job_id, wait, phase)
    return _xml(uws_xml.job_document(job, _job_url(request, svc, job_id)))


@router.post("/async/{job_id}", summary="Change an async job: PHASE, ACTION=DELETE, parameters")
@_job_call
async def post_job(
    job_id: str,
    request: Request,
    svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    _own_job(svc, job_id, who)
    params = await read_parameters(request)
    try:
        if (params.get("action") or "").strip().upper() == "DELETE":
            svc.runner.delete(job_id)
            return RedirectResponse(f"{_base_url(request, svc)}/tap/async", status_code=303)
        updates = {
            k: v for k, v in params.values.items() if k not in _CONTROL and not k.startswith("_")
        }
        if updates:
            svc.jobs.update_parameters(job_id, updates)
            specs = parse_upload(updates.get("upload"))
            if specs:
                await _save_uploads(specs, params, svc.jobs.job_dir(job_id) / UPLOAD_DIR, svc)
        if params.get("executionduration") is not None:
            svc.jobs.set_execution_duration(job_id, _duration(params.get("executionduration")))
        if params.get("destruction"):
            svc.jobs.set_destruction(job_id, _parse_time(params.get("destruction") or ""))
        if params.get("phase") is not None:
            _change_phase(svc, job_id, params.get("phase") or "")
    finally:
        await params.close()
    return RedirectResponse(_job_url(request, svc, job_id), status_code=303)


@router.delete("/async/{job_id}", summary="Delete an async job and its results")
@_job_call
async def delete_job(
    job_id: str,
    request: Request,
    svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    _own_job(svc, job_id, who)
    svc.runner.delete(job_id)
    return RedirectResponse(f"{_base_url(request, svc)}/tap/async", status_code=303)


def _change_phase(svc: Services, job_id: str, value: str) -> None:
    wanted = value.strip().upper()
    if wanted == "RUN":
        svc.runner.run(job_id)
    elif wanted == "ABORT":
        svc.runner.abort(job_id)
    else:
        raise UsageError(f"PHASE={value!r}: a job's phase can be set to RUN or ABORT only")


@router.get("/async/{job_id}/phase", summary="The job's phase, as text")
@_job_call
async def get_phase(
    job_id: str, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    return _plain(uws_xml.phase_text(_own_job(svc, job_id, who)))


@router.post("/async/{job_id}/phase", summary="Run or abort the job (PHASE=RUN|ABORT)")
@_job_call
async def post_phase(
    job_id: str,
    request: Request,
    svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    _own_job(svc, job_id, who)
    params = await read_parameters(request)
    await params.close()
    if params.get("phase") is None:
        raise UsageError("give PHASE=RUN or PHASE=ABORT")
    _change_phase(svc, job_id, params.get("phase") or "")
    return RedirectResponse(_job_url(request, svc, job_id), status_code=303)


@router.get("/async/{job_id}/executionduration", summary="The job's time limit in seconds")
@_job_call
async def get_duration(
    job_id: str, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    return _plain(str(_own_job(svc, job_id, who).execution_duration))


@router.post("/async/{job_id}/executionduration", summary="Ask for another time limit")
@_job_call
async def post_duration(
    job_id: str,
    request: Request,
    svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    _own_job(svc, job_id, who)
    params = await read_parameters(request)
    await params.close()
    svc.jobs.set_execution_duration(job_id, _duration(params.get("executionduration")) or 0)
    return RedirectResponse(_job_url(request, svc, job_id), status_code=303)


@router.get("/async/{job_id}/destruction", summary="When the job will be destroyed")
@_job_call
async def get_destruction(
    job_id: str, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    job = _own_job(svc, job_id, who)
    return _plain(_iso(job.destruction))


@router.post("/async/{job_id}/destruction", summary="Ask for another destruction time")
@_job_call
async def post_destruction(
    job_id: str,
    request: Request,
    svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    _own_job(svc, job_id, who)
    params = await read_parameters(request)
    await params.close()
    svc.jobs.set_destruction(job_id, _parse_time(params.get("destruction") or ""))
    return RedirectResponse(_job_url(request, svc, job_id), status_code=303)


@router.get("/async/{job_id}/quote", summary="When the job is expected to finish")
@_job_call
async def get_quote(
    job_id: str, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    job = _own_job(svc, job_id, who)
    return _plain(_iso(job.quote) if job.quote else "")


@router.get("/async/{job_id}/owner", summary="Who owns the job")
@_job_call
async def get_owner(
    job_id: str, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    return _plain(_own_job(svc, job_id, who).owner or "")


@router.get("/async/{job_id}/error", summary="Why the job failed (VOTable error document)")
@_job_call
async def get_error(
    job_id: str, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    job = _own_job(svc, job_id, who)
    if job.error is None:
        raise NotFoundError(f"job {job_id} has no error (its phase is {job.phase.value})")
    return Response(
        votable_error_document(job.error.message, query=job.parameters.get("query")),
        media_type=_VOTABLE,
    )


@router.get("/async/{job_id}/parameters", summary="The job's parameters (UWS XML)")
@_job_call
async def get_parameters(
    job_id: str,
    request: Request,
    svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    job = _own_job(svc, job_id, who)
    return _xml(uws_xml.parameters_document(job))


@router.post("/async/{job_id}/parameters", summary="Set parameters of a PENDING job")
@_job_call
async def post_parameters(
    job_id: str,
    request: Request,
    svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    return await post_job(job_id, request, svc, who)


@router.get("/async/{job_id}/results", summary="The job's results (UWS XML)")
@_job_call
async def get_results(
    job_id: str,
    request: Request,
    svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    job = _own_job(svc, job_id, who)
    return _xml(uws_xml.results_document(job, _job_url(request, svc, job_id)))


@router.get("/async/{job_id}/results/{result_id}", summary="One result of the job")
@_job_call
async def get_result(
    job_id: str,
    result_id: str,
    svc: Services = Depends(services),
    who: Identity = Depends(identity),
) -> Response:
    job = _own_job(svc, job_id, who)
    for result in job.results:
        if result.result_id == result_id:
            path = svc.jobs.job_dir(job_id) / result.filename
            if not path.is_file():
                raise NotFoundError(f"the result {result_id} of job {job_id} is gone")
            return FileResponse(path, media_type=result.mime_type)
    if job.phase in (Phase.PENDING, Phase.QUEUED, Phase.EXECUTING):
        raise ConflictError(f"job {job_id} has no results yet: its phase is {job.phase.value}")
    raise NotFoundError(f"job {job_id} has no result {result_id!r}")


# -- VOSI and examples ------------------------------------------------------------------


@router.get("/capabilities", summary="VOSI capabilities with TAPRegExt")
def capabilities(request: Request, svc: Services = Depends(services)) -> Response:
    settings = svc.settings
    caps = vosi.TapCapabilities(
        base_url=_base_url(request, svc),
        output_formats=[(f.mime_type, f.aliases) for f in RESULT_FORMATS],
        udfs=UDF_DESCRIPTIONS,
        default_maxrec=settings.tap_default_maxrec,
        hard_maxrec=settings.tap_hard_maxrec,
        default_execution_duration=settings.tap_async_default_duration,
        hard_execution_duration=settings.tap_async_max_duration,
        sync_execution_duration=int(settings.tap_sync_timeout),
        default_retention=settings.tap_default_retention,
        hard_retention=settings.tap_max_retention,
        upload_limit_bytes=settings.tap_upload_limit,
        url_uploads=bool(settings.tap_upload_url_hosts),
    )
    return _xml(vosi.capabilities_document(caps))


@router.get("/availability", summary="VOSI availability")
def availability(svc: Services = Depends(services)) -> Response:
    return _xml(vosi.availability_document(True, up_since=svc.started))


@router.get("/tables", summary="VOSI tables: every table this caller may query")
def tables(
    request: Request, svc: Services = Depends(services), who: Identity = Depends(identity)
) -> Response:
    detail = (request.query_params.get("detail") or "max").lower()
    if detail not in ("min", "max"):
        return _plain(f"detail={detail!r}: use min or max", 400)
    return _xml(
        vosi.tables_document(svc.schemas, svc.visible_for(who.user).tables, detail=detail)
    )


@router.get("/tables/{name}", summary="VOSI tables: one table with its columns")
def table(name: str, svc: Services = Depends(services), who: Identity = Depends(identity)) -> Response:
    for info in svc.visible_for(who.user).tables:
        if info.qualified_name.lower() == name.lower():
            return _xml(vosi.table_document(info))
    return _plain(f"no table {name!r}", 404)


@router.get("/examples", summary="Example queries (DALI examples, XHTML)")
def examples(request: Request, svc: Services = Depends(services)) -> Response:
    return Response(
        examples_document(EXAMPLES, _base_url(request, svc)),
        media_type="application/xhtml+xml",
    )


@router.get("", include_in_schema=False)
def tap_root(request: Request, svc: Services = Depends(services)) -> Response:
    return RedirectResponse(f"{_base_url(request, svc)}/tap/capabilities", status_code=303)


# -- small parsers ------------------------------------------------------------------------


def _duration(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        seconds = int(value.strip())
    except ValueError:
        raise UsageError(f"EXECUTIONDURATION={value!r} is not a whole number of seconds") from None
    if seconds < 0:
        raise UsageError(f"EXECUTIONDURATION={seconds} is negative")
    return seconds


def _parse_time(value: str) -> datetime:
    """An ISO 8601 time (DALI 1.1 §3.3.3); without a zone it is UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{value!r} is not an ISO 8601 time such as 2030-01-01T00:00:00Z") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
