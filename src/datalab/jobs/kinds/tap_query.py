"""The async TAP query job (TAP 1.1 §2.2): run the query, write its result to a file."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from datalab.catalog import Engine
from datalab.config import Settings
from datalab.formats.results import ResultInfo, encode_result
from datalab.jobs.context import JobContext, JobKind
from datalab.query.tap import parse_tap_parameters, prepare, start
from datalab.query.visible import Visible

__all__ = ["UPLOAD_DIR", "make_tap_query_kind"]

# Where an async job keeps the tables uploaded with it, inside its directory.
UPLOAD_DIR = "uploads"


def make_tap_query_kind(
    engine: Engine,
    visible_for: Callable[[str | None], Visible],
    settings: Settings,
) -> JobKind:
    """A job kind running TAP queries on ``engine`` with the tables the owner may read."""

    def run(ctx: JobContext) -> None:
        tap = parse_tap_parameters(ctx.job.parameters, settings)
        prepared = prepare(tap, visible_for(ctx.job.owner), ctx.directory / UPLOAD_DIR)
        timeout = None if ctx.deadline is None else max(ctx.deadline - time.monotonic(), 0.001)
        with start(prepared, engine, timeout=timeout) as result:
            ctx.on_abort(result.cancel)
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
            with open(partial, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(partial, ctx.directory / filename)
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
