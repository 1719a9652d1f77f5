"""Run queries and manage myDB tables: the official ``dl.queryClient`` functions.

Every non-200 answer raises :class:`queryClientError` carrying the server's text
(``Error: …``). Where the official client lets the token be left out positionally
(``query('select …')``, ``mydb_list('t')``, ``status(jobid)``), so do these: a first
argument that is not token-shaped is taken as the next argument.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from datalab.client._config import is_auth_token, service_url, set_service_url
from datalab.client._convert import BINARY_FORMATS, CONVERTED, convert, server_format
from datalab.client._http import Progress, alive, call, download, queryClientError
from datalab.client._mydb import (
    list,  # noqa: A004 - the official name
    mydb_copy,
    mydb_create,
    mydb_drop,
    mydb_import,
    mydb_index,
    mydb_list,
    mydb_rename,
    mydb_truncate,
)

__all__ = [
    "abort",
    "error",
    "get_svc_url",
    "isAlive",
    "jobs",
    "list",
    "mydb_copy",
    "mydb_create",
    "mydb_drop",
    "mydb_import",
    "mydb_index",
    "mydb_list",
    "mydb_rename",
    "mydb_truncate",
    "query",
    "queryClientError",
    "results",
    "schema",
    "services",
    "set_svc_url",
    "status",
    "wait",
]

_REMOTE_OUT = ("mydb://", "vos://")
_RUNNING = ("QUEUED", "EXECUTING", "PENDING")


def set_svc_url(svc_url: str) -> None:
    """Use ``svc_url`` (e.g. ``http://host:8000/query``) for the query service."""
    set_service_url("query", svc_url)


def get_svc_url() -> str:
    """The query service URL in use."""
    return service_url("query")


def isAlive(svc_url: str | None = None) -> bool:  # noqa: N802 - the official name
    """Whether the query service (or ``svc_url``) answers its liveness check."""
    return alive(svc_url or get_svc_url())


def _flag(value: object) -> str:
    """Booleans as the official client spells them in URLs."""
    return "True" if value is True or str(value).strip().lower() in ("true", "1", "yes") else "False"


def _decode(body: bytes, fmt: str) -> Any:
    if fmt in BINARY_FORMATS:
        return body
    text = body.decode("utf-8")
    return convert(text, fmt) if fmt in CONVERTED else text


def query(
    token: str | None = None,
    adql: str | None = None,
    sql: str | None = None,
    fmt: str = "csv",
    out: str | None = None,
    async_: bool = False,
    drop: bool = False,
    timeout: float = 300,
    **kw: Any,
) -> Any:
    """Run an ADQL (``adql=``) or SQL (``sql=``) query.

    Returns the result (text; bytes for fits/parquet; an object for pandas, table,
    array, structarray), ``'OK'`` when ``out`` is ``mydb://t``, ``vos://…`` or a local
    file (written here), or the job id when ``async_`` (also ``async=True``). With
    ``async_`` and ``wait=True`` it polls until the job ends and returns its result.
    Keywords: ``async``, ``wait``, ``poll`` (seconds between polls, default 1),
    ``format`` (alias of ``fmt``), ``progress`` (callback for local ``out`` files).
    """
    async_ = bool(kw.pop("async", async_))
    fmt = str(kw.pop("format", fmt)).lower()
    wait_for_it = bool(kw.pop("wait", False))
    poll = float(kw.pop("poll", 1))
    progress: Progress | None = kw.pop("progress", None)
    if token is not None and not is_auth_token(token) and adql is None and sql is None:
        # The official one-argument form: query('select …') is SQL with the default token.
        sql, token = token, None
    if (adql is None) == (sql is None):
        raise queryClientError("Error: give exactly one of adql= or sql=")
    params = {
        "sql" if sql is not None else "adql": sql if sql is not None else adql,
        "ofmt": server_format(fmt),
        "out": out if out else "None",
        "async": _flag(async_),
        "drop": _flag(drop),
        "profile": "default",
    }
    headers = {"X-DL-TimeoutRequest": str(int(timeout))}
    local = bool(out) and not str(out).startswith(_REMOTE_OUT)
    if local and not async_:
        target = Path(str(out).removeprefix("file://")).expanduser()
        download(
            "query", "query", target, token=token, params={**params, "out": "None"},
            extra_headers=headers, timeout=timeout + 30, progress=progress,
        )
        return "OK"
    response = call(
        "query", "query", token=token, params=params, extra_headers=headers,
        timeout=timeout + 30,
    )
    if async_:
        job_id = response.text.strip()
        if not wait_for_it:
            return job_id
        return _await_job(token, job_id, fmt, timeout, poll)
    if out:
        return "OK"
    return _decode(response.content, fmt)


def _await_job(token: str | None, job_id: str, fmt: str, timeout: float, poll: float) -> Any:
    """Poll until the job ends; its result, or queryClientError (aborting on timeout)."""
    deadline = time.monotonic() + timeout
    phase = status(token, job_id)
    while phase in _RUNNING:
        if time.monotonic() > deadline:
            abort(token, job_id)
            raise queryClientError(f"Error: query timeout exceeded ({timeout:g} s); job aborted")
        time.sleep(poll)
        phase = status(token, job_id)
    if phase != "COMPLETED":
        raise queryClientError(error(token, job_id) or f"Error: the job ended in phase {phase}")
    return _decode(results(token, job_id, raw=True), fmt)


def _job_args(token: str | None, job_id: str | None) -> tuple[str | None, str]:
    """(token, job id) from the official one- or two-argument forms."""
    if job_id is None:
        if token is None or is_auth_token(token):
            raise queryClientError("Error: give a job id")
        return None, token
    return token, job_id


def status(token: str | None = None, jobId: str | None = None) -> str:  # noqa: N803
    """The job's phase: QUEUED, EXECUTING, COMPLETED, ERROR or ABORTED."""
    token, job_id = _job_args(token, jobId)
    return call("query", "status", token=token, params={"jobid": job_id}).text.strip()


def results(
    token: str | None = None,
    jobId: str | None = None,  # noqa: N803
    fname: str | None = None,
    delete: bool = True,
    progress: Progress | None = None,
    raw: bool = False,
) -> Any:
    """A completed job's result (text; bytes when ``raw``), or ``'OK'`` after writing it
    to the local file ``fname``."""
    token, job_id = _job_args(token, jobId)
    params = {"jobid": job_id, "delete": _flag(delete)}
    if fname:
        download("query", "results", Path(fname).expanduser(), token=token, params=params,
                 progress=progress)
        return "OK"
    body = call("query", "results", token=token, params=params, timeout=300).content
    return body if raw else body.decode("utf-8", errors="replace")


def error(token: str | None = None, jobId: str | None = None) -> str:  # noqa: N803
    """Why a job failed (empty when it did not)."""
    token, job_id = _job_args(token, jobId)
    return call("query", "error", token=token, params={"jobid": job_id}).text.strip()


def abort(token: str | None = None, jobId: str | None = None) -> str:  # noqa: N803
    """Abort a job; its phase afterwards."""
    token, job_id = _job_args(token, jobId)
    return call("query", "abort", token=token, params={"jobid": job_id}).text.strip()


def wait(
    token: str | None = None,
    jobId: str | None = None,  # noqa: N803
    wait: float = 3,
    verbose: bool = False,
) -> str:
    """Poll every ``wait`` seconds while the job is queued or executing; its final phase.

    Like the official function it has no timeout of its own.
    """
    token, job_id = _job_args(token, jobId)
    phase = status(token, job_id)
    while phase in _RUNNING:
        if verbose:
            print(f"{job_id}: {phase}")
        time.sleep(wait)
        phase = status(token, job_id)
    return phase


def jobs(token: str | None = None) -> str:
    """The caller's jobs, one per line: id, phase, creation time, query (tab-separated)."""
    return call("query", "jobs", token=token).text


def schema(value: str = "", format: str = "text", profile: str | None = None) -> str:  # noqa: A002
    """Schemas; with ``value='s'`` a schema's tables; with ``'s.t'`` a table's columns."""
    return call("query", "schema", token=None, params={"value": value, "format": format}).text


def services(
    name: str | None = None, svc_type: str | None = None, mode: str = "list",
    profile: str = "default",
) -> str:
    """The query services the server offers."""
    return call("query", "services", token=None).text
