"""The Data Lab API's async query (``/query/query?async=True``) as a job."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from datalab.catalog import Engine
from datalab.config import Settings
from datalab.errors import PermissionDeniedError
from datalab.formats.fields import FieldMeta
from datalab.formats.results import ResultFormat, ResultInfo, encode_result, resolve_format
from datalab.jobs.context import JobContext, JobKind
from datalab.jobs.kinds.tap_query import job_base_url
from datalab.query.dlquery import compile_query, parse_query_parameters, start
from datalab.query.runner import QueryResult
from datalab.query.visible import Visible, result_fields
from datalab.storage import parse_vos_path

__all__ = ["SaveToMyDB", "SaveToStorage", "make_dl_query_kind", "save_to_vos", "vos_output"]

# Stores a running result as a user's table: (user, out URL, result, fields, replace).
SaveToMyDB = Callable[..., None]
# Writes a stream of bytes as a user's file, atomically: (user, path, chunks).
SaveToStorage = Callable[[str, str, Iterable[bytes]], object]

# The format of an out=vos:// file named by its extension, when ofmt= is left default.
_BY_EXTENSION = {
    ".csv": "csv", ".tsv": "tsv", ".vot": "votable", ".xml": "votable", ".fits": "fits",
    ".fit": "fits", ".parquet": "parquet", ".json": "json",
}


def vos_output(out: str, ofmt: str | None, asked: ResultFormat) -> tuple[str, ResultFormat]:
    """The path (relative to the user's root) and format of an ``out=vos://…`` result.

    ``asked`` is the format ``ofmt`` resolved to. The official client sends ``ofmt=csv``
    unless told otherwise, so with ``ofmt`` absent or ``csv`` the file's extension
    decides (``.csv``, ``.tsv``, ``.vot``/``.xml``, ``.fits``, ``.parquet``, ``.json``);
    any other ``ofmt`` wins over the extension.
    """
    path = parse_vos_path("vos://" + out.strip().removeprefix("vos://").lstrip("/"))
    if (ofmt or "").strip().lower() in ("", "csv"):
        by_name = _BY_EXTENSION.get(PurePosixPath(path).suffix.lower())
        if by_name is not None:
            return path, resolve_format(by_name)
    return path, asked


def save_to_vos(
    save: SaveToStorage,
    user: str | None,
    path: str,
    fmt: ResultFormat,
    result: QueryResult,
    fields: list[FieldMeta],
    query_text: str,
    tmp_dir: Path,
) -> None:
    """Encode a running result in ``fmt`` and stream it into the user's file ``path``."""
    if user is None:
        raise PermissionDeniedError("log in to save results in your file space (out=vos://…)")
    chunks = encode_result(
        fmt, result.schema, fields, result, ResultInfo(query=query_text, csv_line_end="\n"),
        tmp_dir=tmp_dir,
    )
    save(user, path, chunks)


def make_dl_query_kind(
    engine: Engine,
    visible_for: Callable[[str | None], Visible],
    save_to_mydb: SaveToMyDB,
    settings: Settings,
    save_to_storage: SaveToStorage,
) -> JobKind:
    def run(ctx: JobContext) -> None:
        query = parse_query_parameters(ctx.job.parameters)
        vos = None
        if query.out is not None and query.out.startswith("vos://"):
            vos = vos_output(query.out, ctx.job.parameters.get("ofmt"), query.format)
            if ctx.job.owner is None:
                raise PermissionDeniedError("log in to save results in your file space "
                                            "(out=vos://…)")
        visible = visible_for(ctx.job.owner).served_at(job_base_url(ctx.job.parameters, settings))
        translation = compile_query(query, visible)
        timeout = None if ctx.deadline is None else max(ctx.deadline - time.monotonic(), 0.001)
        with start(
            translation, engine, timeout=timeout, max_rows=settings.tap_hard_maxrec,
            on_cancel=ctx.on_abort,
        ) as result:
            fields = result_fields(translation.columns)
            if query.out is not None:
                if vos is not None:
                    save_to_vos(save_to_storage, ctx.job.owner, vos[0], vos[1], result,
                                list(fields), query.text, ctx.directory)
                else:
                    save_to_mydb(ctx.job.owner, query.out, result, fields, query.replace)
                (ctx.directory / "result.txt").write_text("OK")
                ctx.add_result("result", "result.txt", "text/plain", rows=result.rows)
                return
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
