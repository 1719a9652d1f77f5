"""The Data Lab user commands: ``datalab login``, ``query``, ``mydb_*``, jobs…

Each command is a thin adapter over one ``datalab.client`` call, written as Data Lab
users write them (``datalab query sql="…" out=mydb://t``). Unlike the official
``datalab`` script, a failure prints ``Error: <the server's reason>`` on stderr and
exits with status 1, so scripts can tell.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from datalab.cli.seed import SeedCommand
from datalab.client import authClient, queryClient, storeClient
from datalab.client._config import SERVICES, read_conf, service_url, write_conf
from datalab.client._convert import BINARY_FORMATS
from datalab.client._http import ClientError

__all__ = ["COMMANDS"]

F = TypeVar("F", bound=Callable[..., Any])

_FORMATS = ["csv", "csv-noheader", "ascii", "tsv", "votable", "fits", "parquet", "json"]


def _client_errors(func: F) -> F:
    """Client errors become ``Error: message`` and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ClientError as exc:
            raise click.ClickException(exc.message.removeprefix("Error:").strip()) from exc

    return wrapper  # type: ignore[return-value]


def _url_option(func: F) -> F:
    """``--url``: the server's base URL, for this command only."""

    def use(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value:
            base = value.strip().rstrip("/")
            authClient.set_svc_url(f"{base}/auth")
            queryClient.set_svc_url(f"{base}/query")
            storeClient.set_svc_url(f"{base}/storage")
        return value

    return click.option(
        "--url",
        default=None,
        expose_value=False,
        is_eager=True,
        callback=use,
        help="Base URL of the Data Lab, e.g. http://127.0.0.1:8000 "
        "(default: $DATALAB_URL, else dl.conf, else http://127.0.0.1:8000).",
    )(func)


def _command(name: str) -> Callable[[F], click.Command]:
    def decorate(func: F) -> click.Command:
        return click.command(name=name, cls=SeedCommand)(_url_option(_client_errors(func)))

    return decorate


def _jobid_option(func: F) -> F:
    return click.option(
        "--jobid", "--jobId", "jobid", required=True, help="The job id 'query --async' printed."
    )(func)


@contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A byte counter on stderr while a result downloads (silent when not a terminal)."""
    from tqdm import tqdm

    with tqdm(unit="B", unit_scale=True, desc=label, disable=None, file=sys.stderr) as bar:

        def update(done: int, total: int | None) -> None:
            if total is not None and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        yield update


def _echo_result(result: Any) -> None:
    if isinstance(result, bytes):
        sys.stdout.buffer.write(result)
        sys.stdout.buffer.flush()
    else:
        click.echo(str(result), nl=not str(result).endswith("\n"))


def _query_text(value: str) -> str:
    """The query, or the contents of the local file it names (as the official CLI)."""
    path = Path(value).expanduser()
    try:
        if len(value) < 4096 and path.is_file():
            return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read the query file {value}: {exc}") from exc
    return value


# -- login ------------------------------------------------------------------------------


@_command("login")
@click.option("--user", required=True, help="Your Data Lab user name.")
@click.option("--password", default=None, help="Your password (asked for, hidden, if left out).")
def login(user: str, password: str | None) -> None:
    """Log in and keep the token in ~/.datalab (or $DATALAB_CONFIG_DIR) for later commands."""
    if password is None:
        password = click.prompt("Password", hide_input=True)
    token = authClient.login(user, password, raise_errors=True)
    conf = read_conf()
    if not conf.has_section(user):
        conf.add_section(user)
    conf.set(user, "authtoken", token)  # the official CLI's per-user section
    write_conf(conf)
    click.echo(f"Welcome to the Data Lab, {user}")


@_command("logout")
def logout() -> None:
    """Revoke the logged-in user's token and forget it."""
    user = authClient.whoAmI()
    if user == "anonymous":
        raise click.ClickException("nobody is logged in")
    answer = authClient.logout()
    if answer != "OK":
        raise click.ClickException(answer.removeprefix("Error:").strip())
    click.echo(f"{user} is logged out")


@_command("whoami")
def whoami() -> None:
    """Print the logged-in user's name ('anonymous' when nobody is)."""
    click.echo(authClient.whoAmI())


# -- queries ----------------------------------------------------------------------------


@_command("query")
@click.option("--sql", default=None, help="A Data Lab SQL query, or a file holding one.")
@click.option("--adql", default=None, help="An ADQL query, or a file holding one.")
@click.option(
    "--fmt", default="csv", show_default=True, type=click.Choice(_FORMATS, case_sensitive=False),
    help="Result format.",
)
@click.option("--out", default=None, help="mydb://TABLE, vos://PATH, or a local file to write.")
@click.option("--async", "async_", type=click.BOOL, default=False, help="true: run as a job, print its id.")
@click.option("--drop", type=click.BOOL, default=False, help="true: replace an existing out=mydb:// table.")
@click.option("--timeout", type=click.IntRange(1), default=120, show_default=True, help="Seconds.")
def query(
    sql: str | None, adql: str | None, fmt: str, out: str | None, async_: bool, drop: bool,
    timeout: int,
) -> None:
    """Run a query; print the rows (or the job id with --async true)."""
    if (sql is None) == (adql is None):
        raise click.ClickException("give exactly one of sql= or adql=")
    text = {"sql": _query_text(sql)} if sql is not None else {"adql": _query_text(adql or "")}
    fmt = fmt.lower()
    local = bool(out) and not str(out).startswith(("mydb://", "vos://"))
    if local and not async_:
        with _progress_bar(Path(str(out)).name) as progress:
            queryClient.query(None, fmt=fmt, out=out, drop=drop, timeout=timeout,
                              progress=progress, **text)
        return
    result = queryClient.query(None, fmt=fmt, out=out, async_=async_, drop=drop,
                               timeout=timeout, **text)
    if async_ or not out:
        _echo_result(result)


@_command("status")
@_jobid_option
def status(jobid: str) -> None:
    """Print a job's phase."""
    click.echo(queryClient.status(None, jobid))


@_command("results")
@_jobid_option
@click.option("--out", default=None, help="A local file to write the result to.")
def results(jobid: str, out: str | None) -> None:
    """Print a completed job's result, or write it to a file."""
    if out:
        with _progress_bar(Path(out).name) as progress:
            queryClient.results(None, jobid, fname=out, progress=progress)
        return
    _echo_result(queryClient.results(None, jobid, raw=True).decode("utf-8", errors="replace"))


@_command("wait")
@_jobid_option
@click.option("--interval", type=click.FloatRange(0.1), default=1.0, show_default=True,
              help="Seconds between status checks.")
def wait(jobid: str, interval: float) -> None:
    """Wait for a job to end; print its phase (exit 1 and the reason if it failed)."""
    phase = queryClient.wait(None, jobid, wait=interval)
    if phase == "ERROR":
        reason = queryClient.error(None, jobid).removeprefix("Error:").strip()
        raise click.ClickException(f"job {jobid} failed: {reason}")
    click.echo(phase)
    if phase != "COMPLETED":
        sys.exit(1)


@_command("abort")
@_jobid_option
def abort(jobid: str) -> None:
    """Abort a job; print its phase afterwards."""
    click.echo(queryClient.abort(None, jobid))


@_command("jobs")
def jobs() -> None:
    """List your jobs: id, phase, creation time, query."""
    _echo_result(queryClient.jobs(None))


# -- myDB -------------------------------------------------------------------------------

_TABLE = click.option("--table", required=True, help="The myDB table (t or mydb://t).")


@_command("mydb_list")
@click.option("--table", default="", help="A table whose columns to list (default: all tables).")
def mydb_list(table: str) -> None:
    """List your myDB tables, or one table's columns as name,type."""
    _echo_result(queryClient.mydb_list(None, table))


@_command("mydb_create")
@_TABLE
@click.option("--schema", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A file of name,type lines.")
@click.option("--drop", type=click.BOOL, default=False, help="true: replace an existing table.")
def mydb_create(table: str, schema: Path, drop: bool) -> None:
    """Create an empty table from a file of name,type lines."""
    queryClient.mydb_create(None, table, schema.read_text(encoding="utf-8"), drop=drop)


@_command("mydb_import")
@_TABLE
@click.option("--data", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A CSV, Parquet, FITS or VOTable file.")
@click.option("--append", type=click.BOOL, default=False, help="true: add rows to the table.")
@click.option("--drop", type=click.BOOL, default=False, help="true: replace an existing table.")
def mydb_import(table: str, data: Path, append: bool, drop: bool) -> None:
    """Load a file into a table (new, appended to, or replacing the old one)."""
    queryClient.mydb_import(None, table, data, append=append, drop=drop)


@_command("mydb_drop")
@_TABLE
def mydb_drop(table: str) -> None:
    """Drop a table."""
    queryClient.mydb_drop(None, table)


@_command("mydb_truncate")
@_TABLE
def mydb_truncate(table: str) -> None:
    """Delete all rows of a table, keeping its columns."""
    queryClient.mydb_truncate(None, table)


@_command("mydb_rename")
@click.option("--source", required=True, help="The table's name.")
@click.option("--target", required=True, help="Its new name.")
def mydb_rename(source: str, target: str) -> None:
    """Rename a table."""
    queryClient.mydb_rename(None, source, target)


@_command("mydb_copy")
@click.option("--source", required=True, help="The table to copy.")
@click.option("--target", required=True, help="The name of the copy.")
def mydb_copy(source: str, target: str) -> None:
    """Copy a table."""
    queryClient.mydb_copy(None, source, target)


@_command("mydb_index")
@_TABLE
@click.option("--col", required=True, help="A column, or RA,DEC for a positional index.")
def mydb_index(table: str, col: str) -> None:
    """Index a column, or a table's position (col=ra,dec)."""
    queryClient.mydb_index(None, table, col)


# -- discovery --------------------------------------------------------------------------


@_command("schema")
@click.option("--value", default="", help="A schema, or schema.table (default: list schemas).")
def schema(value: str) -> None:
    """List schemas, a schema's tables, or a table's columns."""
    _echo_result(queryClient.schema(value))


@_command("services")
def services() -> None:
    """List the query services the server offers."""
    _echo_result(queryClient.services())


@_command("svc_urls")
def svc_urls() -> None:
    """Print the service URLs in use (to check where commands go)."""
    for service in SERVICES:
        click.echo(f"{service:<8} {service_url(service)}")


# -- files (vos://) ---------------------------------------------------------------------

_VERBOSE = click.option("--verbose", type=click.BOOL, default=True, show_default=True,
                        help="false: print no progress lines.")


@_command("put")
@click.option("--fr", required=True, help="A local file, a pattern (*.csv) or a folder.")
@click.option("--to", default="vos://", show_default=True,
              help="vos://name, or a vos:// folder to put the files in.")
@_VERBOSE
def put(fr: str, to: str, verbose: bool) -> None:
    """Upload local files into your file space, printing (1 / 1) file -> vos://name."""
    storeClient.put(None, fr=fr, to=to, verbose=verbose)


@_command("get")
@click.option("--fr", required=True,
              help="vos://name, a pattern (vos://dir/*.fits) or a folder (vos://dir/).")
@click.option("--to", default="./", show_default=True,
              help="A local file name, or a folder for the file(s).")
@_VERBOSE
def get(fr: str, to: str, verbose: bool) -> None:
    """Download files; a cut download resumes when you run the same get again."""
    storeClient.get(None, fr=fr, to=to, verbose=verbose)


@_command("ls")
@click.option("--name", default="vos://", show_default=True, help="The folder (or file) to list.")
@click.option("--format", "format_", default="csv", show_default=True,
              type=click.Choice(["csv", "ascii", "long", "raw"], case_sensitive=False),
              help="csv: names separated by commas; ascii: one a line; long: with size and "
              "time; raw: JSON.")
def ls(name: str, format_: str) -> None:
    """List a folder of your file space."""
    _echo_result(storeClient.ls(None, name=name, format=format_.lower()))


@_command("stat")
@click.option("--name", required=True, help="The file or folder.")
def stat(name: str) -> None:
    """Print a file's type, size, MD5, time, link target and tags (JSON)."""
    import json

    found = storeClient.stat(None, name)
    if not found:
        raise click.ClickException(f"no file or folder {name}")
    click.echo(json.dumps(found, indent=2))


@_command("rm")
@click.option("--name", required=True, help="The file, or a pattern (vos://dir/*.csv).")
def rm(name: str) -> None:
    """Delete files."""
    storeClient.rm(None, name=name)


@_command("mkdir")
@click.option("--name", required=True, help="The folder to create.")
def mkdir(name: str) -> None:
    """Create a folder."""
    storeClient.mkdir(None, name=name)


@_command("rmdir")
@click.option("--name", required=True, help="The (empty) folder to delete.")
def rmdir(name: str) -> None:
    """Delete an empty folder."""
    storeClient.rmdir(None, name=name)


@_command("mv")
@click.option("--fr", required=True, help="The file or folder (or a pattern) to move.")
@click.option("--to", required=True, help="Its new name, or a folder to move it into.")
def mv(fr: str, to: str) -> None:
    """Move or rename files and folders."""
    storeClient.mv(None, fr=fr, to=to)


@_command("cp")
@click.option("--fr", required=True, help="The file or folder (or a pattern) to copy.")
@click.option("--to", required=True, help="The copy's name, or a folder to copy it into.")
def cp(fr: str, to: str) -> None:
    """Copy files and folders."""
    storeClient.cp(None, fr=fr, to=to)


@_command("ln")
@click.option("--fr", required=True, help="The link to create.")
@click.option("--to", required=True, help="What it points to.")
def ln(fr: str, to: str) -> None:
    """Make a link (fr) to a file or folder (to)."""
    storeClient.ln(None, fr=fr, target=to)


@_command("tag")
@click.option("--name", required=True, help="The file or folder.")
@click.option("--tag", required=True, help="The tag (empty: remove it).")
def tag(name: str, tag: str) -> None:
    """Tag a file or folder."""
    storeClient.tag(None, name=name, tag=tag)


COMMANDS: tuple[click.Command, ...] = (
    login, logout, whoami, query, status, results, wait, abort, jobs,
    mydb_list, mydb_create, mydb_import, mydb_drop, mydb_truncate, mydb_rename, mydb_copy,
    mydb_index, schema, services, svc_urls,
    put, get, ls, stat, rm, mkdir, rmdir, mv, cp, ln, tag,
)
"""Every user command, for ``datalab.cli.main`` to register."""
