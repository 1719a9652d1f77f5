"""The schema browser: every table a visitor may query, schema by schema, with its
columns (description, unit, UCD, datatype) and a starter query for the query page.

Anonymous visitors see the public catalogs; a logged-in user also their own myDB
tables, exactly the set the ADQL compiler resolves names against for them
(``Services.visible_for``), so the browser never lists a table a query could not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from datalab.catalog.metadata import TAP_SCHEMA, TableInfo, adql_name
from datalab.errors import NotFoundError
from datalab.web.context import Services, services
from datalab.web.portal.pages import page
from datalab.web.portal.session import current_user

__all__ = ["TableGroup", "find_table", "router", "starter_query", "table_groups", "visible_tables"]

router = APIRouter(prefix="/portal", include_in_schema=False)

SVC = Annotated[Services, Depends(services)]
MaybeUser = Annotated[str | None, Depends(current_user)]

MYDB_SCHEMA = "mydb"
# Where the starter query's commented cone example looks: the Pleiades, bright and
# in every all-sky catalog of the demo.
EXAMPLE_CONE = (56.75, 24.12, 0.5)
# Columns listed by name in a starter query; wider tables start with SELECT *.
_LISTED_COLUMNS = 10
_LINE = 78


@dataclass(frozen=True)
class TableGroup:
    """The tables of one schema, as the browser lists them."""

    name: str
    description: str | None
    tables: tuple[TableInfo, ...]


def visible_tables(svc: Services, user: str | None) -> tuple[TableInfo, ...]:
    """Every table the user may query (the public ones for an anonymous visitor)."""
    return svc.visible_for(user).tables


def find_table(tables: Iterable[TableInfo], name: str) -> TableInfo:
    """The table ``schema.table`` among ``tables`` (those a user may query, from
    :func:`visible_tables`); NotFoundError otherwise, the same for a table that does
    not exist and one that belongs to someone else."""
    wanted = name.strip().lower() if isinstance(name, str) else ""
    if 0 < len(wanted) <= 200:
        for info in tables:
            if info.qualified_name.lower() == wanted:
                return info
    shown = name if len(name) <= 60 else name[:57] + "..."
    raise NotFoundError(
        f"there is no table {shown!r} that you can query; the Tables page lists them all"
    )


def table_groups(svc: Services, tables: Iterable[TableInfo]) -> list[TableGroup]:
    """Schemas in the order a reader wants them: the catalogs, then TAP_SCHEMA (the
    service's own description), then the user's myDB."""
    described = {s.name: s.description for s in svc.schemas}
    described[MYDB_SCHEMA] = "Your own tables: query results and files you saved (myDB)."
    by_schema: dict[str, list[TableInfo]] = {}
    for info in tables:
        by_schema.setdefault(info.schema, []).append(info)

    def rank(schema: str) -> tuple[int, str]:
        return ({TAP_SCHEMA: 1, MYDB_SCHEMA: 2}.get(schema, 0), schema)

    return [
        TableGroup(name, described.get(name), tuple(sorted(tables, key=lambda t: t.name)))
        for name, tables in sorted(by_schema.items(), key=lambda item: rank(item[0]))
    ]


def starter_query(table: TableInfo) -> str:
    """An ADQL query to begin from: a hundred rows of the table, and for a table with a
    position a commented-out cone condition on its own RA and Dec columns, which a
    user turns on by removing two characters."""
    names = [adql_name(c.name) for c in table.columns if c.principal]
    if not names or len(names) > _LISTED_COLUMNS:
        names = ["*"]
    target = f"{adql_name(table.schema)}.{adql_name(table.name)}"
    lines = _wrapped("SELECT TOP 100 ", names)
    lines.append(f"FROM {target}")
    if table.ra_column and table.dec_column:
        ra, dec, radius = EXAMPLE_CONE
        point = f"POINT({adql_name(table.ra_column)}, {adql_name(table.dec_column)})"
        lines += [
            f"-- A cone search: remove the -- below for rows within {radius} degrees",
            f"-- of a position (here the Pleiades, RA {ra}, Dec +{dec}).",
            f"-- WHERE 1 = CONTAINS({point}, CIRCLE({ra}, {dec}, {radius}))",
        ]
    return "\n".join(lines) + "\n"


def _wrapped(first: str, names: list[str]) -> list[str]:
    """``first`` followed by the names, comma-separated, on lines of readable length."""
    lines: list[str] = []
    current = first
    indent = " " * len("SELECT ")
    fresh = True
    for i, name in enumerate(names):
        piece = name + ("," if i < len(names) - 1 else "")
        if not fresh and len(current) + len(piece) > _LINE:
            lines.append(current.rstrip())
            current = indent
        current += piece + " "
        fresh = False
    lines.append(current.rstrip())
    return lines


@router.get(
    "/tables",
    response_class=HTMLResponse,
    summary="Schema browser",
    description="Schemas, tables and columns you can query, with their documentation.",
)
def tables(request: Request, svc: SVC, user: MaybeUser) -> Response:
    groups = table_groups(svc, visible_tables(svc, user))
    return page(
        request,
        "tables.html",
        user=user,
        section="tables",
        title="Tables",
        groups=groups,
        current=None,
    )


@router.get(
    "/tables/{name}",
    response_class=HTMLResponse,
    summary="One table",
    description="A table's description, row count and columns, and a starter query.",
)
def table(name: str, request: Request, svc: SVC, user: MaybeUser) -> Response:
    visible = visible_tables(svc, user)
    info = find_table(visible, name)
    return page(
        request,
        "table.html",
        user=user,
        section="tables",
        title=info.qualified_name,
        groups=table_groups(svc, visible),
        current=info.qualified_name,
        table=info,
        starter=starter_query(info),
    )
