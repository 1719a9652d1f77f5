"""The accounts tables in the state database, and how to open that database.

The state database is shared with the job store, so every table here is prefixed
``accounts_``. Tokens point at the user's ``uid``, not the name: a user removed and
added again gets a new uid, so a token that somehow outlived the removal still
matches nobody. Times are stored as naive UTC and read back timezone-aware, as the
job store does.

The engine settings match ``datalab.jobs.store``: WAL and a busy timeout, so that the
``datalab user`` command can write while the server reads and writes. (They are
repeated rather than imported because ``accounts`` sits below ``jobs``; a shared
state-database module would remove the copy.)
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from datalab.state import UTCDateTime, create_state_engine

__all__ = [
    "FIRST_UID",
    "counters_table",
    "create_state_engine",
    "create_tables",
    "failures_table",
    "metadata",
    "tokens_table",
    "users_table",
]

# Seconds a SQLite connection waits for another writer before giving up.

FIRST_UID = 1001
"""The first user number, as on Unix systems (below are system accounts)."""


metadata = sa.MetaData()

users_table = sa.Table(
    "accounts_users",
    metadata,
    sa.Column("uid", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(32), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
)

tokens_table = sa.Table(
    "accounts_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("uid", sa.Integer, sa.ForeignKey("accounts_users.uid"), nullable=False),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("expires", UTCDateTime, nullable=False),
    sa.Column("client", sa.String(255), nullable=False, default=""),
    sa.Index("ix_accounts_tokens_uid", "uid"),
    sa.Index("ix_accounts_tokens_expires", "expires"),
)

# One row per failed login, for each of the two things it counts against: the user
# name ("user") and the client ("client"). Rows older than the lockout are pruned.
failures_table = sa.Table(
    "accounts_failures",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_accounts_failures_key", "kind", "key", "at"),
    sa.Index("ix_accounts_failures_at", "at"),
)

# Named counters; "next_uid" is the uid the next user gets. A counter rather than
# max(uid) + 1 so that a removed user's number is never given to someone else.
counters_table = sa.Table(
    "accounts_counters",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
)


def create_tables(engine: Engine) -> None:
    """Create the accounts tables that are missing and the uid counter's row.

    Two processes may start at once on a new database; the loser of the race to insert
    the counter's row finds it there and carries on.
    """
    metadata.create_all(engine, checkfirst=True)
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(counters_table.c.value).where(counters_table.c.name == "next_uid")
        ).first()
    if found is not None:
        return
    try:
        with engine.begin() as conn:
            conn.execute(counters_table.insert().values(name="next_uid", value=FIRST_UID))
    except sa.exc.IntegrityError:
        pass
