"""Command definitions. Each command parses its options and calls one domain function."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from datalab import __version__
from datalab.cli.adql import adql
from datalab.cli.dl import COMMANDS as DATALAB_USER_COMMANDS
from datalab.cli.images import images
from datalab.cli.seed import SeedGroup
from datalab.cli.user import user
from datalab.config import Settings, load_settings
from datalab.errors import DataLabError

if TYPE_CHECKING:
    from datalab.notebooks import Hub

__all__ = ["cli", "main"]


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    """The settings; a value that does not fit one (from the environment, the TOML file
    or an option) is a one-line error naming the setting, not a traceback."""
    from pydantic import ValidationError

    from datalab.errors import UsageError

    config = ctx.find_root().params.get("config")
    try:
        return load_settings(config, **overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            problems.append(
                f"{name} (DATALAB_{name.upper()}): {error['msg']}, not {error['input']!r}"
            )
        raise UsageError("invalid setting " + "; ".join(problems)) from None


def _data_dir_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data directory (default: $DATALAB_HOME, else ./datalab-data).",
    )(fn)


class _TableProgress:
    """Prints one line per table loaded: name, rows and time taken."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.rows = 0
        self.started = time.monotonic()

    def __call__(self, table: str, rows: int) -> None:
        if table != self.current:
            self.finish()
            self.current = table
        self.rows = rows

    def finish(self) -> None:
        if self.current is not None:
            took = time.monotonic() - self.started
            click.echo(f"  {self.current:<28} {self.rows:>12,} rows  {took:6.1f} s", err=True)
            self.current = None
            self.started = time.monotonic()


def _prepare(settings: Settings) -> None:
    from datalab.catalog.setup import catalog_is_empty, prepare_catalog

    paths = settings.paths()
    paths.ensure()
    if settings.demo and catalog_is_empty(paths.catalog):
        click.echo(f"Loading the demo data into {paths.home} ...", err=True)
    progress = _TableProgress()
    prepare_catalog(
        paths.catalog,
        demo=settings.demo,
        mock_rows=settings.demo_mock_rows,
        memory_limit=settings.engine_memory_limit,
        threads=settings.engine_threads,
        temp_dir=paths.tmp,
        progress=progress,
        images_dir=paths.images,
    )
    progress.finish()


@click.group(cls=SeedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="datalab")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="TOML file of settings (see docs/configuration.md).",
)
def cli(config: Path | None) -> None:
    """Data Lab: astronomical catalogs and images, queried in ADQL and SQL.

    Options may also be written as key=value, e.g. `datalab mock rows=1000`.
    """


@cli.command()
@_data_dir_option
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@click.option("--demo/--no-demo", default=None, help="Load the demo data into an empty catalog.")
@click.option(
    "--ssl-certfile",
    type=click.Path(path_type=Path),
    default=None,
    help="PEM certificate (chain) to serve HTTPS with; needs --ssl-keyfile.",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(path_type=Path),
    default=None,
    help="PEM private key of --ssl-certfile (unencrypted).",
)
@click.option(
    "--notebooks/--no-notebooks",
    default=None,
    help="Start JupyterHub for Data Lab users next to the server (default: on with the demo).",
)
@click.option(
    "--notebooks-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of the notebooks (default: the server's port + 1).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    data_dir: Path | None,
    host: str | None,
    port: int | None,
    demo: bool | None,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    notebooks: bool | None,
    notebooks_port: int | None,
) -> None:
    """Start the web server, loading the demo data into an empty data directory first.

    With --ssl-certfile and --ssl-keyfile it serves HTTPS instead of HTTP. With
    notebooks on (the default with the demo data) it also runs JupyterHub on the next
    port, where users log in with their Data Lab accounts; it stops with the server.
    """
    import uvicorn

    from datalab.web import create_app

    settings = _settings(
        ctx, home=data_dir, host=host, port=port, demo=demo,
        ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
        notebooks=notebooks, notebooks_port=notebooks_port,
    )
    tls = _check_tls(settings.ssl_certfile, settings.ssl_keyfile)
    _prepare(settings)
    scheme = "https" if tls else "http"
    url = settings.base_url or f"{scheme}://{settings.host}:{settings.port}/"
    click.echo(f"Data Lab {__version__}: serving {settings.paths().home} at {url}", err=True)
    options: dict[str, Any] = {}
    if tls:
        options = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])}
    hub = _start_notebooks(settings)
    # The web layer reads the notebooks' state from the settings (the portal's link).
    app = create_app(settings.model_copy(update={"notebooks": hub is not None}))
    if hub is None:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", **options)
        return
    with _stopping(hub):
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", **options)


def _start_notebooks(settings: Settings) -> Hub | None:
    """The hub when notebooks are on and can run here; otherwise None, after saying
    why (serving goes on without notebooks)."""
    from datalab.notebooks import NotebooksUnavailable, notebooks_enabled, start_hub

    if not notebooks_enabled(settings):
        return None

    def tell(message: str) -> None:
        click.echo(message, err=True)

    try:
        hub = start_hub(settings, tell)
    except (NotebooksUnavailable, OSError) as exc:
        tell(f"Warning: serving without notebooks: {exc}")
        return None
    tell(f"Notebooks (JupyterHub) at {hub.url}; its log: {hub.log}")
    return hub


class _Terminated(Exception):
    """SIGTERM arrived: unwind so that the hub is stopped before the process ends."""


@contextmanager
def _stopping(hub: Hub) -> Iterator[None]:
    """Stop ``hub`` however serving ends: normally, on Ctrl-C (KeyboardInterrupt) or on
    SIGTERM. uvicorn handles SIGTERM itself and, once shut down, raises it again with
    the handler it found, which is the one set here; after the hub has stopped, the
    process ends by SIGTERM as it would without notebooks."""
    def terminated(signum: int, frame: object) -> None:
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, terminated)
    by_signal = False
    try:
        yield
    except _Terminated:
        by_signal = True
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM waits its turn
        hub.stop()
        signal.signal(signal.SIGTERM, previous)
    if by_signal:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _check_tls(certfile: Path | None, keyfile: Path | None) -> tuple[Path, Path] | None:
    """The certificate and key to serve HTTPS with, checked before anything starts:
    both or neither, readable, PEM, and the key matching the certificate."""
    import ssl

    from datalab.errors import UsageError

    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        given, missing = (
            ("--ssl-certfile", "--ssl-keyfile") if keyfile is None
            else ("--ssl-keyfile", "--ssl-certfile")
        )
        raise UsageError(
            f"{given} (setting {given[2:].replace('-', '_')}) needs {missing} as well, "
            "or neither to serve plain HTTP"
        )
    for what, path in (("certificate", certfile), ("key", keyfile)):
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise UsageError(
                f"cannot read the TLS {what} file {path}: {exc.strerror or exc}"
            ) from None
    try:
        ssl.create_default_context(cafile=str(certfile))
    except (ssl.SSLError, ValueError, OSError) as exc:
        raise UsageError(
            f"the TLS certificate file {certfile} holds no PEM certificate: {exc}"
        ) from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile, password=_no_password)
    except (ssl.SSLError, ValueError, OSError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        if reason == "KEY_VALUES_MISMATCH":
            reason = "the key does not belong to the certificate"
        raise UsageError(
            f"cannot serve TLS with {certfile} and {keyfile} (expected a PEM certificate "
            f"and its unencrypted PEM private key): {reason}"
        ) from None
    return certfile.absolute(), keyfile.absolute()


def _no_password() -> str:
    """An encrypted key would otherwise make OpenSSL prompt on the terminal."""
    raise ValueError("the private key is encrypted")


@cli.command()
@_data_dir_option
@click.option(
    "--mock-rows",
    type=click.IntRange(0),
    default=None,
    help="Field rows of the synthetic ls_mock survey (default 1,000,000; its injected "
    "dwarf-galaxy and RR Lyrae stars come on top; 0 skips the survey).",
)
@click.option(
    "--force", is_flag=True, help="Reload the demo tables even if the catalog has tables."
)
@click.pass_context
def init(ctx: click.Context, data_dir: Path | None, mock_rows: int | None, force: bool) -> None:
    """Create a data directory and load the demo data, without serving."""
    from datalab.catalog.demo import load_demo

    settings = _settings(ctx, home=data_dir, demo_mock_rows=mock_rows)
    if not force:
        _prepare(settings.model_copy(update={"demo": True}))
        click.echo(f"Data directory ready: {settings.paths().home}", err=True)
        return
    paths = settings.paths()
    paths.ensure()
    progress = _TableProgress()
    with _open_store(settings) as store:
        load_demo(store, mock_rows=settings.demo_mock_rows, progress=progress)
    progress.finish()


def _open_store(settings: Settings):  # type: ignore[no-untyped-def]
    from datalab.catalog import CatalogStore

    paths = settings.paths()
    paths.ensure()
    return CatalogStore.open(
        paths.catalog,
        memory_limit=settings.engine_memory_limit,
        threads=settings.engine_threads,
        temp_dir=paths.tmp,
    )


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--table", required=True, help="Target table as schema.table.")
@click.option("--ra", default=None, help="Right ascension column (degrees).")
@click.option("--dec", default=None, help="Declination column (degrees).")
@click.option(
    "--meta",
    "meta_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML or JSON file documenting the table and its columns.",
)
@click.option("--replace", "mode", flag_value="replace", help="Replace an existing table.")
@click.option("--append", "mode", flag_value="append", help="Add rows to an existing table.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "tsv", "parquet", "fits", "votable"]),
    default=None,
    help="File format (default: from the file name, else its first bytes).",
)
@click.option("--chunk-rows", type=click.IntRange(1), default=None, help="Rows read at a time.")
@click.option(
    "--no-row-copy",
    is_flag=True,
    help="Keep no row copy of a table with positions (saves its uncompressed size on "
    "disk; small cone searches then run on the engine, tens of times slower).",
)
@_data_dir_option
@click.pass_context
def ingest(
    ctx: click.Context,
    path: Path,
    table: str,
    ra: str | None,
    dec: str | None,
    meta_file: Path | None,
    mode: str | None,
    file_format: str | None,
    chunk_rows: int | None,
    no_row_copy: bool,
    data_dir: Path | None,
) -> None:
    """Load a FITS, CSV, Parquet or VOTable file into the catalog as a table.

    Columns get their units, UCDs and descriptions from the file (FITS TUNIT/TUCD/TCOMM,
    VOTable FIELD) or from --meta. Tables with positions (--ra/--dec, or columns found by
    UCD or named ra/dec) get the _healpix_29 index and are stored sorted by it, with a
    row copy for fast cone searches. The previous table stays intact if anything fails.
    """
    from tqdm import tqdm

    from datalab.catalog import ingest_file

    settings = _settings(ctx, home=data_dir, ingest_chunk_rows=chunk_rows)
    started = time.monotonic()
    with (
        _open_store(settings) as store,
        tqdm(total=0, unit="B", unit_scale=True, desc=path.name, disable=None) as bar,
    ):

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        info = ingest_file(
            store,
            path,
            table,
            ra=ra,
            dec=dec,
            meta_file=meta_file,
            mode=mode or "create",  # type: ignore[arg-type]
            chunk_rows=settings.ingest_chunk_rows,
            file_format=file_format,
            progress=progress,
            row_copy=not no_row_copy,
        )
    took = time.monotonic() - started
    position = (
        f", indexed on ({info.ra_column}, {info.dec_column})" if info.ra_column else ", no position"
    )
    click.echo(
        f"{info.qualified_name}: {info.nrows:,} rows, {len(info.columns)} columns{position} "
        f"({took:.1f} s)"
    )


@cli.command()
@click.option(
    "--rows",
    type=click.IntRange(1),
    required=True,
    help="Field rows of the survey (the injected objects come on top).",
)
@click.option(
    "--product",
    default="tractor",
    show_default=True,
    help="Table to make: tractor, measurements, truth_objects, truth_dwarfs, "
    "truth_rrlyrae, or all of them.",
)
@click.option(
    "--table",
    default=None,
    help="Target table (default: ls_mock.PRODUCT); not with --product all.",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a .parquet, .csv or .fits file instead of loading the catalog.",
)
@click.option(
    "--inject",
    is_flag=True,
    help="Add the injected dwarf galaxies and RR Lyrae stars, as the demo has them.",
)
@click.option("--replace", is_flag=True, help="Replace the table if it exists.")
@_data_dir_option
@click.pass_context
def mock(
    ctx: click.Context,
    rows: int,
    product: str,
    table: str | None,
    seed: int,
    output: Path | None,
    inject: bool,
    replace: bool,
    data_dir: Path | None,
) -> None:
    """Make a synthetic survey catalog (simulated data, Legacy Surveys-like columns).

    The tractor table by default; the other products are its light curves and truth
    tables. --inject adds the dwarf galaxies and RR Lyrae stars the demo has.
    """
    from datalab.catalog.demo import MOCK_SCHEMA, load_mock, mock_spec
    from datalab.catalog.mock import PRODUCTS, generate_product
    from datalab.catalog.mock_files import write_mock_file
    from datalab.errors import UsageError

    if product != "all" and product not in PRODUCTS:
        raise UsageError(f"--product {product}: choose one of {', '.join(PRODUCTS)} or all")
    if product == "all" and (table is not None or output is not None):
        raise UsageError("--product all loads every table into ls_mock: drop --table/--output")
    started = time.monotonic()
    if output is not None:
        written = write_mock_file(output, rows, seed=seed, product=product, inject=inject)
        click.echo(f"{output}: {written:,} synthetic rows ({time.monotonic() - started:.1f} s)")
        return
    from datalab.catalog import split_table_name

    settings = _settings(ctx, home=data_dir)
    with _open_store(settings) as store:
        if product == "all":
            if not replace:
                existing = [f"{MOCK_SCHEMA}.{n}" for n in PRODUCTS if store.exists(MOCK_SCHEMA, n)]
                if existing:
                    raise UsageError(f"{', '.join(existing)} exist: --replace overwrites them")
            infos = load_mock(store, rows, seed=seed, inject=inject)
        else:
            target = table or f"{MOCK_SCHEMA}.{product}"
            split_table_name(target)
            infos = [
                store.load(
                    mock_spec(target, product),
                    generate_product(product, rows, seed=seed, inject=inject),
                    mode="replace" if replace else "create",
                )
            ]
    took = f"({time.monotonic() - started:.1f} s)"
    lines = [f"{info.qualified_name}: {info.nrows:,} synthetic rows" for info in infos]
    click.echo("\n".join(lines) + ("\n" if len(lines) > 1 else " ") + took)


cli.add_command(adql)
cli.add_command(images)
cli.add_command(user)
for _command in DATALAB_USER_COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: domain errors become a one-line message and exit status 1."""
    try:
        cli.main(args=argv, prog_name="datalab", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DataLabError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
