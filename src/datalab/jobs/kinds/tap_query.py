"""The async TAP query job (TAP 1.1 §2.2): run the query, write its result to a file."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

from datalab.catalog import Engine
from datalab.config import Settings
from datalab.formats.results import ResultInfo, encode_result
from datalab.jobs.context import JobContext, JobKind
from datalab.query.tap import parse_tap_parameters, prepare, start
from datalab.query.visible import Visible

__all__ = ["BASE_URL_PARAMETER", "UPLOAD_DIR", "job_base_url", "make_tap_query_kind"]

# Where an async job keeps the tables uploaded with it, inside its directory.
UPLOAD_DIR = "uploads"

BASE_URL_PARAMETER = "_base_url"
"""The job parameter holding the server's address as the job was created through.

A job runs outside any request, yet its result serves server-relative columns
(``ivoa.obscore.access_url``) as absolute URLs, as a synchronous query would. The web
layer stores the address at creation under this reserved name (parameters starting
with ``_`` are set by the server only, and the UWS documents do not show them); the
configured ``base_url``, when set, wins over it (see :func:`job_base_url`).
"""


def job_base_url(parameters: Mapping[str, str], settings: Settings) -> str | None:
    """The base URL a job's result serves absolute URLs under (None: leave them relative)."""
    return settings.base_url or parameters.get(BASE_URL_PARAMETER) or None


def make_tap_query_kind(
    engine: Engine,
    visible_for: Callable[[str | None], Visible],
    settings: Settings,
) -> JobKind:
    """A job kind running TAP queries on ``engine`` with the tables the owner may read."""

    def run(ctx: JobContext) -> None:
        tap = parse_tap_parameters(ctx.job.parameters, settings)
        visible = visible_for(ctx.job.owner).served_at(job_base_url(ctx.job.parameters, settings))
        prepared = prepare(tap, visible, ctx.directory / UPLOAD_DIR)
        timeout = None if ctx.deadline is None else max(ctx.deadline - time.monotonic(), 0.001)
        with start(prepared, engine, timeout=timeout, on_cancel=ctx.on_abort) as result:
            filename = f"result.{tap.format.extension}"
            partial = ctx.directory / f".{filename}.part"
            chunks = encode_result(
                tap.format,
                result.schema,
                prepared.fields(),
                result,
                ResultInfo(query=tap.query, extra_infos=_run_id(tap.run_id)),
                overflow=lambda: result.overflow and tap.maxrec > 0,
                tmp_dir=ctx.directory,
            )
            try:
                with open(partial, "wb") as out:
                    for chunk in chunks:
                        out.write(chunk)
                os.replace(partial, ctx.directory / filename)
            finally:
                # An aborted or failed job keeps no half-written result.
                partial.unlink(missing_ok=True)
            ctx.add_result(
                "result",
                filename,
                tap.format.mime_type,
                rows=result.rows,
                overflow=result.overflow and tap.maxrec > 0,
            )

    return run


def _run_id(run_id: str | None) -> tuple[tuple[str, str], ...]:
    return (("RUNID", run_id),) if run_id else ()
