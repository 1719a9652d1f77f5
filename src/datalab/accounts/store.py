"""Users, their password hashes and their tokens, in the state database.

Every method is one short transaction, so the ``datalab user`` command (one store) and
the running server (another) can share the database: each sees the other's changes
at its next call. Nothing is cached in memory; ``user_for`` is one lookup by the
primary key of the tokens table joined to the users table's.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second
recommended profile). A wrong password and an unknown user look the same from outside:
same message, and the same work, since an unknown name is verified against a dummy
hash.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from datalab.accounts.errors import AuthenticationError
from datalab.accounts.model import Token, User
from datalab.accounts.names import MAX_PASSWORD_LENGTH, check_password_strength, check_user_name
from datalab.accounts.ratelimit import LoginLimiter
from datalab.accounts.schema import (
    counters_table,
    create_state_engine,
    create_tables,
    tokens_table,
    users_table,
)
from datalab.accounts.tokens import ANONYMOUS_TOKEN, digest, looks_like_token, new_token
from datalab.errors import ConflictError, DataLabError, NotFoundError, UsageError

__all__ = ["AccountStore"]

log = logging.getLogger("datalab.accounts")

Clock = Callable[[], datetime]

_BAD_CREDENTIALS = "wrong user name or password"

u = users_table
t = tokens_table


def _now() -> datetime:
    return datetime.now(UTC)


def _lookup_name(name: str) -> str | None:
    """The normalised form of a name given to look a user up, or None if none can match."""
    try:
        return check_user_name(name)
    except UsageError:
        return None


def _row_to_user(row: Any) -> User:
    return User(name=row.name, uid=row.uid, created=row.created, disabled=bool(row.disabled))


class AccountStore:
    """The accounts in the SQLAlchemy database ``url`` (tables created if missing).

    ``token_lifetime`` is how long a token from ``login`` stays valid; ``max_failures``
    failed logins within ``lockout`` lock a user name, or a client, until the oldest
    of them is ``lockout`` old. ``clock`` returns the current (aware) time, for tests;
    ``hasher`` replaces argon2-cffi's default Argon2id costs (64 MiB, 3 passes, about
    0.1 s a check), for a site tuning them to its machines. Hashes made with other
    costs keep working and are upgraded at the user's next successful login.
    """

    def __init__(
        self,
        url: str,
        *,
        token_lifetime: timedelta = timedelta(days=30),
        max_failures: int = 5,
        lockout: timedelta = timedelta(minutes=5),
        clock: Clock = _now,
        hasher: PasswordHasher | None = None,
    ) -> None:
        if token_lifetime <= timedelta(0):
            raise ValueError("token_lifetime must be positive")
        self.token_lifetime = token_lifetime
        self._limiter = LoginLimiter(max_failures, lockout)
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._engine = create_state_engine(url)
        create_tables(self._engine)

    # -- lifetime -------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connections. The store must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- users ----------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> User:
        """A new user with the next uid; UsageError for a bad name or weak password,
        ConflictError if the name is taken."""
        name = check_user_name(name)
        check_password_strength(password, name)
        if self.exists(name):
            raise ConflictError(f"the user {name!r} already exists")
        password_hash = self._hasher.hash(password)
        try:
            with self._engine.begin() as conn:
                # The counter's update comes first: it takes the write lock at once.
                conn.execute(
                    counters_table.update()
                    .where(counters_table.c.name == "next_uid")
                    .values(value=counters_table.c.value + 1)
                )
                uid = conn.execute(
                    sa.select(counters_table.c.value).where(counters_table.c.name == "next_uid")
                ).scalar_one() - 1
                conn.execute(
                    u.insert().values(
                        uid=uid,
                        name=name,
                        password_hash=password_hash,
                        created=self._clock(),
                        disabled=False,
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise ConflictError(f"the user {name!r} already exists") from exc
        return self.get_user(name)

    def remove_user(self, name: str) -> None:
        """Remove the user and end all their sessions; NotFoundError if there is none.

        Their myDB tables and files are for the packages that own those to remove.
        """
        normal = self._existing_name(name)
        uids = sa.select(u.c.uid).where(u.c.name == normal).scalar_subquery()
        with self._engine.begin() as conn:
            conn.execute(t.delete().where(t.c.uid == uids))
            removed = conn.execute(u.delete().where(u.c.name == normal)).rowcount
            if removed == 0:
                raise self._not_found(normal)

    def set_password(self, name: str, password: str) -> None:
        """Change the password and end all the user's sessions (a stolen token dies too)."""
        normal = self._existing_name(name)
        check_password_strength(password, normal)
        self._update_user(normal, password_hash=self._hasher.hash(password))

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        """Disable (or enable again) a user; disabling ends all their sessions.

        A disabled user cannot log in and their tokens are refused, but their name,
        uid and data stay.
        """
        normal = self._existing_name(name)
        self._update_user(normal, revoke=disabled, disabled=disabled)

    def users(self) -> list[User]:
        """Every user, in the order they were added."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(u).order_by(u.c.uid)).all()
        return [_row_to_user(row) for row in rows]

    def get_user(self, name: str) -> User:
        """The user called ``name`` (any case); NotFoundError if there is none."""
        normal = self._existing_name(name)
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(u).where(u.c.name == normal)).first()
        if row is None:
            raise self._not_found(normal)
        return _row_to_user(row)

    def exists(self, name: str) -> bool:
        """Whether a user called ``name`` (any case) exists, disabled or not."""
        normal = _lookup_name(name)
        if normal is None:
            return False
        with self._engine.connect() as conn:
            found = conn.execute(sa.select(u.c.uid).where(u.c.name == normal)).first()
        return found is not None

    # -- passwords and logins ----------------------------------------------------------

    def check_password(self, name: str, password: str) -> bool:
        """Whether ``password`` is that of the enabled user ``name``.

        No rate limit here (``authenticate`` and ``login`` apply it). Unknown names
        cost one verification too, against a dummy hash, so that timing does not tell
        which names exist.
        """
        return self._verify(name, password) is not None

    def authenticate(self, name: str, password: str, *, client: str = "") -> str:
        """The user's normalised name if the password is right, rate limits permitting.

        AuthenticationError ("wrong user name or password", whether or not the user
        exists) otherwise; LoginRateLimited when the name or ``client`` (an IP address,
        say; "" for none) has failed too often recently, without checking the password.
        Used for HTTP Basic, where no token is issued.
        """
        return self._authenticate(name, password, client)[0]

    def login(self, name: str, password: str, *, client: str = "") -> str:
        """A new token for the user, valid for ``token_lifetime``; errors as ``authenticate``."""
        normal, uid = self._authenticate(name, password, client)
        return self._new_token(normal, uid, client)

    def issue_token(self, name: str, *, client: str = "") -> str:
        """A new token for a user already proven by other means (a portal session), so
        the command line or a notebook can get its own token without a password and
        the browser's session token never leaves its HttpOnly cookie."""
        user = self.get_user(name)
        if user.disabled:
            raise AuthenticationError("wrong user name or password")
        return self._new_token(user.name, user.uid, client)

    def _new_token(self, normal: str, uid: int, client: str) -> str:
        now = self._clock()
        token = new_token(normal, uid)
        with self._engine.begin() as conn:
            conn.execute(t.delete().where(t.c.expires <= now))
            conn.execute(
                t.insert().values(
                    token_hash=digest(token),
                    uid=uid,
                    created=now,
                    expires=now + self.token_lifetime,
                    client=client[:255],
                )
            )
        return token

    # -- tokens ---------------------------------------------------------------------

    def user_for(self, token: str) -> str | None:
        """The user a token proves, or None (anonymous, malformed, unknown, expired,
        revoked, or its user disabled or removed). One indexed lookup."""
        if token == ANONYMOUS_TOKEN or not looks_like_token(token):
            return None
        query = (
            sa.select(u.c.name)
            .select_from(t.join(u, t.c.uid == u.c.uid))
            .where(t.c.token_hash == digest(token))
            .where(t.c.expires > self._clock())
            .where(u.c.disabled == sa.false())
        )
        with self._engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def is_valid_token(self, token: str) -> bool:
        """Whether the token may be used: one that ``user_for`` accepts, or the anonymous
        token (always valid; it proves nobody)."""
        return token == ANONYMOUS_TOKEN or self.user_for(token) is not None

    def logout(self, token: str) -> bool:
        """Revoke the token. True if it was valid until now; False if there was nothing
        to end (unknown, expired, anonymous)."""
        valid = self.user_for(token) is not None
        if looks_like_token(token):
            with self._engine.begin() as conn:
                conn.execute(t.delete().where(t.c.token_hash == digest(token)))
        return valid

    def tokens(self, name: str) -> list[Token]:
        """The user's live sessions, oldest first (without the tokens themselves)."""
        user = self.get_user(name)
        query = (
            sa.select(t)
            .where(t.c.uid == user.uid, t.c.expires > self._clock())
            .order_by(t.c.created)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Token(user.name, user.uid, row.created, row.expires, row.client) for row in rows
        ]

    # -- internals ------------------------------------------------------------------

    @functools.cached_property
    def _dummy_hash(self) -> str:
        """A hash to verify against for unknown users, so that they cost the same time."""
        return self._hasher.hash("not a password: nobody logs in with this")

    def _verify(self, name: str, password: str) -> tuple[str, int] | None:
        """(name, uid) of the enabled user whose password this is, else None."""
        normal = _lookup_name(name)
        row = None
        if normal is not None:
            with self._engine.connect() as conn:
                row = conn.execute(
                    sa.select(u.c.uid, u.c.password_hash, u.c.disabled).where(u.c.name == normal)
                ).first()
        stored = row.password_hash if row is not None else self._dummy_hash
        if len(password) > MAX_PASSWORD_LENGTH:
            password = ""  # still do the work, but no such password was ever accepted
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or normal is None or row.disabled:
            return None
        if self._hasher.check_needs_rehash(stored):
            self._update_user(normal, revoke=False, password_hash=self._hasher.hash(password))
        return normal, int(row.uid)

    def _authenticate(self, name: str, password: str, client: str) -> tuple[str, int]:
        """``_verify`` inside the rate limiter: (name, uid), or an error."""
        now = self._clock()
        user_key = name.lower()
        keys = {"user": user_key, **({"client": client} if client else {})}
        with self._engine.begin() as conn:
            attempt = self._limiter.begin_attempt(conn, keys, now)
        found = self._verify(name, password)
        with self._engine.begin() as conn:
            if found is None:
                self._limiter.prune(conn, now)
            else:
                self._limiter.succeeded(conn, attempt, user_key)
        if found is None:
            raise AuthenticationError(_BAD_CREDENTIALS)
        return found

    def _existing_name(self, name: str) -> str:
        """The normalised name, or NotFoundError if it cannot name any user."""
        normal = _lookup_name(name)
        if normal is None:
            raise self._not_found(name)
        return normal

    def _update_user(self, normal: str, *, revoke: bool = True, **values: Any) -> None:
        """Update the user's row (and end their sessions if ``revoke``); NotFoundError."""
        uids = sa.select(u.c.uid).where(u.c.name == normal).scalar_subquery()
        with self._engine.begin() as conn:
            changed = conn.execute(u.update().where(u.c.name == normal).values(**values))
            if changed.rowcount == 0:
                raise self._not_found(normal)
            if revoke:
                conn.execute(t.delete().where(t.c.uid == uids))

    @staticmethod
    def _not_found(name: str) -> DataLabError:
        shown = name if len(name) <= 40 else name[:40] + "…"
        return NotFoundError(f"no user {shown!r}")
