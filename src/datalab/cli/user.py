"""``datalab user add|list|remove|passwd``: the operator manages accounts.

These open the state database directly (not through the server), which is safe while
the server runs: SQLite in WAL mode lets one process write while others read, and the
server looks every token up again on each request, so a removed user or a changed
password takes effect at once.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from datalab.cli.seed import SeedCommand, SeedGroup

if TYPE_CHECKING:
    from datalab.accounts import AccountStore

__all__ = ["user"]

_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory whose state database holds the accounts (default: $DATALAB_HOME).",
)
_PASSWORD_FILE = click.option(
    "--password-file",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Read the password from the first line of FILE ('-' for standard input) "
    "instead of asking for it.",
)


def _store(ctx: click.Context, data_dir: Path | None, *, create: bool = False) -> AccountStore:
    """The account store of the data directory; NotFoundError if it has none and
    ``create`` is false (a mistyped --data-dir should not look like "no users")."""
    from datalab.accounts import AccountStore
    from datalab.config import load_settings
    from datalab.errors import NotFoundError

    config = ctx.find_root().params.get("config")
    settings = load_settings(config, **({"home": data_dir} if data_dir else {}))
    paths = settings.paths()
    if create:
        paths.home.mkdir(parents=True, exist_ok=True)
    elif not paths.state.exists():
        raise NotFoundError(
            f"no state database at {paths.state}: no user has been added there "
            "(check --data-dir, or add one with 'datalab user add')"
        )
    return AccountStore(
        f"sqlite:///{paths.state}",
        token_lifetime=timedelta(seconds=settings.auth_token_lifetime),
        max_failures=settings.auth_max_failures,
        lockout=timedelta(seconds=settings.auth_lockout),
    )


def _read_password(password_file: Path | None) -> str:
    """The new password: the first line of the file or of stdin ('-'), or asked twice."""
    from datalab.errors import UsageError

    if password_file is None:
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    if str(password_file) == "-":
        line = sys.stdin.readline()
    else:
        try:
            with open(password_file, encoding="utf-8") as fh:
                line = fh.readline()
        except OSError as exc:
            raise UsageError(f"cannot read {password_file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise UsageError(f"{password_file} is not UTF-8 text") from exc
    password = line.rstrip("\r\n")
    if not password:
        raise UsageError("the password file's first line is empty")
    return password


@click.group(cls=SeedGroup)
def user() -> None:
    """Add, list and remove users and set their passwords (works while the server runs)."""


@user.command(cls=SeedCommand)
@click.argument("name")
@_PASSWORD_FILE
@_DATA_DIR
@click.pass_context
def add(ctx: click.Context, name: str, password_file: Path | None, data_dir: Path | None) -> None:
    """Add the user NAME, asking for a password unless --password-file gives it."""
    from datalab.accounts import check_user_name

    normal = check_user_name(name)  # before asking for a password in vain
    password = _read_password(password_file)
    with _store(ctx, data_dir, create=True) as store:
        added = store.add_user(normal, password)
    click.echo(f"added user {added.name} (uid {added.uid})")


@user.command(name="list", cls=SeedCommand)
@_DATA_DIR
@click.pass_context
def list_users(ctx: click.Context, data_dir: Path | None) -> None:
    """List the users: name, uid, when added, and whether disabled."""
    with _store(ctx, data_dir) as store:
        users = store.users()
    if not users:
        click.echo("no users", err=True)
        return
    width = max(4, *(len(u.name) for u in users))
    click.echo(f"{'name':<{width}}  {'uid':>6}  {'created':<20}  disabled")
    for u in users:
        created = u.created.strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(
            f"{u.name:<{width}}  {u.uid:>6}  {created:<20}  {'yes' if u.disabled else 'no'}"
        )


@user.command(cls=SeedCommand)
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_DATA_DIR
@click.pass_context
def remove(ctx: click.Context, name: str, yes: bool, data_dir: Path | None) -> None:
    """Remove the user NAME and end their sessions."""
    with _store(ctx, data_dir) as store:
        found = store.get_user(name)
        if not yes:
            click.confirm(
                f"Remove the user {found.name} (uid {found.uid}) and end their sessions?",
                abort=True,
            )
        store.remove_user(found.name)
    click.echo(f"removed user {found.name}")


@user.command(cls=SeedCommand)
@click.argument("name")
@_PASSWORD_FILE
@_DATA_DIR
@click.pass_context
def passwd(
    ctx: click.Context, name: str, password_file: Path | None, data_dir: Path | None
) -> None:
    """Set a new password for NAME; their existing tokens stop working."""
    with _store(ctx, data_dir) as store:
        found = store.get_user(name)  # before asking for a password in vain
        store.set_password(found.name, _read_password(password_file))
    click.echo(f"password changed for {found.name}; their sessions have ended")
