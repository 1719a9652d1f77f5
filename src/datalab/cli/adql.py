"""``datalab adql check|translate``: the compiler from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from datalab.cli.seed import SeedCommand, SeedGroup

__all__ = ["adql"]


def _read_query(query: str) -> str:
    if query == "-":
        return sys.stdin.read()
    return query


def _catalog(ctx: click.Context, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from datalab.adql import TableCatalog
    from datalab.catalog.engine import Engine
    from datalab.config import load_settings
    from datalab.errors import NotFoundError

    config = ctx.find_root().params.get("config")
    settings = load_settings(config, **({"home": data_dir} if data_dir else {}))
    path = settings.paths().catalog
    if not path.exists():
        raise NotFoundError(f"no catalog at {path}; run 'datalab init' first, or use --syntax-only")
    engine = Engine(path, threads=1)
    try:
        return TableCatalog(engine.tables())
    finally:
        engine.close()


_LANG = click.option(
    "--lang",
    type=click.Choice(["ADQL", "SQL"], case_sensitive=False),
    default="ADQL",
    show_default=True,
    help="ADQL (2.0/2.1) or SQL (Data Lab's PostgreSQL-flavoured sql=).",
)
_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory whose catalog resolves table names (default: $DATALAB_HOME).",
)


@click.group(cls=SeedGroup)
def adql() -> None:
    """Check ADQL or Data Lab SQL queries and show the SQL the engine runs."""


@adql.command(cls=SeedCommand)
@click.argument("query")
@_LANG
@_DATA_DIR
@click.option("--syntax-only", is_flag=True, help="Only parse; do not resolve table names.")
@click.pass_context
def check(
    ctx: click.Context, query: str, lang: str, data_dir: Path | None, syntax_only: bool
) -> None:
    """Exit 0 if QUERY (or standard input, for '-') is valid; else print why and exit 1."""
    from datalab.adql import parse, translate

    text = _read_query(query)
    language = lang.upper()
    if syntax_only:
        parse(text, language)  # type: ignore[arg-type]
    else:
        translate(text, _catalog(ctx, data_dir), language=language)  # type: ignore[arg-type]
    click.echo("valid")


@adql.command(cls=SeedCommand)
@click.argument("query")
@_LANG
@_DATA_DIR
@click.pass_context
def translate(ctx: click.Context, query: str, lang: str, data_dir: Path | None) -> None:
    """Print the engine SQL for QUERY (or standard input, for '-')."""
    from datalab.adql import translate as compile_query

    result = compile_query(
        _read_query(query),
        _catalog(ctx, data_dir),
        language=lang.upper(),  # type: ignore[arg-type]
    )
    click.echo(result.sql)
