"""The myDB page: the logged-in user's own tables, with ways to query, rename, drop and
fill them.

The page (``/portal/mydb``) lists the tables; its script calls the JSON routes under
``/portal/api/mydb``. All the work is :class:`datalab.mydb.MyDB`'s, which touches the
caller's own schema only, so one user can neither see nor name another's tables.

In ADQL a user's table is ``mydb.<name>`` (``Services.visible_for`` adds them for their
owner), so the "Query" link opens the query page with ``SELECT TOP 100 * FROM mydb.<name>``.

Imports stream the uploaded file to a scratch file in the data directory's ``tmp``
(within ``tap_upload_limit``, the limit of the REST API's imports too), then load it
with ``MyDB.import_table``, which reads CSV, TSV, Parquet, FITS and VOTable.
"""

from __future__ import annotations

import re
import tempfile
from datetime import UTC
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from datalab.errors import ConflictError, DataLabError, NotFoundError, UsageError
from datalab.mydb import MyDBTable, check_table_name
from datalab.web.context import Services, services
from datalab.web.portal.files import UploadSource, upload_source
from datalab.web.portal.pages import page
from datalab.web.portal.session import PortalUser, verify_csrf

__all__ = ["router", "starter_query", "table_json"]

router = APIRouter(include_in_schema=False)

SVC = Annotated[Services, Depends(services)]

# The suffixes of an uploaded file name kept on the scratch copy, so the reader can
# tell the format from them (".csv", ".vot", ".csv.gz"); anything else is left to the
# reader's look at the first bytes.
_SUFFIX = re.compile(r"(\.[a-z0-9]{1,10}){1,2}")


def starter_query(name: str) -> str:
    """The ADQL a user starts from to query their table ``name``."""
    return f"SELECT TOP 100 * FROM mydb.{name}"


def table_json(table: MyDBTable) -> dict[str, object]:
    query = starter_query(table.name)
    return {
        "name": table.name,
        "adql": f"mydb.{table.name}",
        "rows": table.rows,
        "created": table.created.astimezone(UTC).isoformat() if table.created else None,
        "columns": [
            {
                "name": c.name,
                "datatype": c.datatype + (f"[{c.arraysize}]" if c.arraysize else ""),
                "unit": c.unit,
                "ucd": c.ucd,
                "description": c.description,
                "indexed": c.indexed,
            }
            for c in table.columns
        ],
        "position": (
            {"ra": table.ra_column, "dec": table.dec_column} if table.healpix_indexed else None
        ),
        "query": query,
        "query_url": "/portal/query?" + urlencode({"q": query}),
    }


def tables_json(svc: Services, user: str) -> list[dict[str, object]]:
    return [table_json(t) for t in svc.mydb.tables(user)]


# -- the page ---------------------------------------------------------------------------


@router.get("/portal/mydb", response_class=HTMLResponse)
def mydb_page(request: Request, svc: SVC, user: PortalUser) -> Response:
    return page(
        request,
        "mydb.html",
        user=user,
        section="mydb",
        title="myDB",
        tables=tables_json(svc, user),
        upload_limit=svc.settings.tap_upload_limit,
    )


# -- the JSON routes --------------------------------------------------------------------


class Rename(BaseModel):
    name: str = Field(max_length=1000, description="the table's new name")


@router.get("/portal/api/mydb/tables")
def list_tables(svc: SVC, user: PortalUser) -> dict[str, object]:
    return {"tables": tables_json(svc, user)}


@router.get("/portal/api/mydb/tables/{name}")
def one_table(name: str, svc: SVC, user: PortalUser) -> dict[str, object]:
    return table_json(svc.mydb.table(user, name))


@router.delete("/portal/api/mydb/tables/{name}", dependencies=[Depends(verify_csrf)])
def drop(name: str, svc: SVC, user: PortalUser) -> dict[str, str]:
    svc.mydb.drop(user, name)
    return {"dropped": check_table_name(name)}


@router.post("/portal/api/mydb/tables/{name}/rename", dependencies=[Depends(verify_csrf)])
def rename(name: str, body: Rename, svc: SVC, user: PortalUser) -> dict[str, object]:
    svc.mydb.rename(user, name, body.name)
    return table_json(svc.mydb.table(user, body.name))


def _check_import(svc: Services, user: str, table: str, size: int, replace: bool) -> str:
    """The table name if a file of ``size`` bytes may be imported as ``table``."""
    name = check_table_name(table)
    limit = svc.settings.tap_upload_limit
    if size < 0:
        raise UsageError("the size of a file must not be negative")
    if size > limit:
        raise UsageError(f"files to import may hold at most {limit:,} bytes; this one has {size:,}")
    if not replace:
        try:
            svc.mydb.table(user, name)
        except NotFoundError:
            return name
        raise ConflictError(
            f"you already have a myDB table named {name}: choose another name or replace it"
        )
    return name


@router.get("/portal/api/mydb/check")
def check(
    svc: SVC, user: PortalUser, table: str = "", size: int = 0, replace: bool = False
) -> dict[str, str]:
    """Whether a file of ``size`` bytes would be imported as ``table`` now."""
    return {"table": _check_import(svc, user, table, size, replace)}


def _scratch_name(filename: str) -> str:
    suffixes = "".join(Path(filename.lower()).suffixes[-2:])
    return "import" + (suffixes if _SUFFIX.fullmatch(suffixes) else "")


def _receive(source: UploadSource, target: Path, limit: int) -> None:
    """Copy the upload to ``target``, stopping as soon as it passes ``limit`` bytes."""
    written = 0
    with open(target, "wb") as out:
        for piece in source.chunks():
            written += len(piece)
            if written > limit:
                raise UsageError(f"files to import may hold at most {limit:,} bytes")
            out.write(piece)
    if written == 0:
        raise UsageError("the file is empty")


def _as_uploaded(exc: DataLabError, scratch: Path, filename: str) -> DataLabError:
    """``exc`` naming the file as the user sent it, not by its scratch copy's path on
    the server (which is no business of theirs)."""
    shown = filename[:100] or "the file"
    exc.message = exc.message.replace(str(scratch), shown)
    exc.args = (exc.message,)
    if exc.detail.get("path") == str(scratch):
        exc.detail["path"] = shown
    return exc


@router.post("/portal/api/mydb/import", dependencies=[Depends(verify_csrf)])
async def import_file(
    request: Request, svc: SVC, user: PortalUser, table: str = "", replace: bool = False
) -> Response:
    """A new table from the request's one file (CSV, TSV, Parquet, FITS, VOTable)."""
    name = await anyio.to_thread.run_sync(_check_import, svc, user, table, 0, replace)
    source = await upload_source(request)
    limit = svc.settings.tap_upload_limit

    def load() -> MyDBTable:
        try:
            filename = source.open()
            scratch_root = svc.settings.paths().tmp
            scratch_root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=scratch_root) as scratch:
                path = Path(scratch) / _scratch_name(filename)
                _receive(source, path, limit)
                try:
                    return svc.mydb.import_table(user, name, path, replace=replace)
                except DataLabError as exc:
                    raise _as_uploaded(exc, path, filename) from None
        finally:
            source.close()

    table_made = await anyio.to_thread.run_sync(load)
    return JSONResponse(table_json(table_made), status_code=201)
