"""The Data Lab API's async query (``/query/query?async=True``) as a job."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from datalab.catalog import Engine
from datalab.config import Settings
from datalab.errors import UsageError
from datalab.formats.results import ResultInfo, encode_result
from datalab.jobs.context import JobContext, JobKind
from datalab.query.dlquery import compile_query, parse_query_parameters, start
from datalab.query.visible import Visible, result_fields

__all__ = ["SaveToMyDB", "make_dl_query_kind"]

# Stores a running result as a user's table: (user, out URL, result, fields, replace).
SaveToMyDB = Callable[..., None]


def make_dl_query_kind(
    engine: Engine,
    visible_for: Callable[[str | None], Visible],
    save_to_mydb: SaveToMyDB,
    settings: Settings,
) -> JobKind:
    def run(ctx: JobContext) -> None:
        query = parse_query_parameters(ctx.job.parameters)
        translation = compile_query(query, visible_for(ctx.job.owner))
        timeout = None if ctx.deadline is None else max(ctx.deadline - time.monotonic(), 0.001)
        with start(translation, engine, timeout=timeout, max_rows=settings.tap_hard_maxrec) as result:
            ctx.on_abort(result.cancel)
            fields = result_fields(translation.columns)
            if query.out is not None and query.out.startswith("mydb://"):
                save_to_mydb(ctx.job.owner, query.out, result, fields, query.replace)
                (ctx.directory / "result.txt").write_text("OK")
                ctx.add_result("result", "result.txt", "text/plain", rows=result.rows)
                return
            if query.out is not None:
                raise UsageError("vos:// outputs need the storage service, which this server "
                                 "does not offer yet; save to mydb:// or fetch the rows")
            filename = f"result.{query.format.extension}"
            partial = ctx.directory / f".{filename}.part"
            with open(partial, "wb") as out:
                for chunk in encode_result(
                    query.format, result.schema, fields, result,
                    ResultInfo(query=query.text, csv_line_end="\n"), tmp_dir=ctx.directory,
                ):
                    out.write(chunk)
            os.replace(partial, ctx.directory / filename)
            ctx.add_result("result", filename, query.format.mime_type, rows=result.rows)

    return run
