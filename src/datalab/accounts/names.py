"""What a user name and a password may be.

A user name is also the name of the user's myDB schema, their storage folder
(``storage/<name>/``), the first part of their tokens (which the official client splits
on ``.``) and the ``X-DL-User`` header. Hence the narrow alphabet: lower-case ASCII
letters, digits and ``_``, starting with a letter, 2 to 32 characters, so that it is a
valid unquoted SQL identifier on every engine and a safe file name everywhere. Names
are case-insensitive: ``Alice`` is normalised to ``alice``, never stored twice.

Reserved names are refused because they already mean something: schemas the engines
or protocols own (``main``, ``tap_schema``, ``pg_*``…), the official client's fixed
accounts (``anonymous``, ``dldemo``, ``dltest``: its ``login()`` answers those without
asking the server, so such a user could never log in), words an operator would
mistake for a role (``root``, ``admin``…), and PostgreSQL's reserved key words, which
cannot be a schema name unquoted.
"""

from __future__ import annotations

import re

from datalab.errors import UsageError

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "RESERVED_NAMES",
    "check_password_strength",
    "check_user_name",
]

# ASCII only, checked before lower-casing: str.lower() maps e.g. the Kelvin sign to "k".
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{1,31}")

_SYSTEM_NAMES = frozenset(
    {
        # the official client's fixed identities
        "anonymous", "dldemo", "dltest",
        # schemas and catalogs of the engines and the protocols we serve
        "public", "main", "temp", "tmp", "system", "memory", "information_schema",
        "pg_catalog", "tap_schema", "tap_upload", "ivoa", "mydb", "datalab",
        "datalab_private",
        # would read as a role or as "nobody"
        "root", "admin", "administrator", "superuser", "operator", "nobody", "guest",
        "none", "null",
    }
)

# PostgreSQL 16, Appendix C, "reserved" (not "requires AS" or "non-reserved"), plus
# ADQL's TOP.
_SQL_RESERVED = frozenset(
    """
    all analyse analyze and any array as asc asymmetric both case cast check collate
    column constraint create current_catalog current_date current_role current_time
    current_timestamp current_user default deferrable desc distinct do else end except
    false fetch for foreign from grant group having in initially intersect into lateral
    leading limit localtime localtimestamp not offset on only or order placing primary
    references returning select session_user some symmetric system_user table then to
    top trailing true union unique user using variadic when where window with
    """.split()
)

RESERVED_NAMES: frozenset[str] = _SYSTEM_NAMES | _SQL_RESERVED
"""Names no user may take (besides any name starting with ``pg_``)."""

MIN_PASSWORD_LENGTH = 8
"""NIST SP 800-63B's minimum for a password the user chooses."""

MAX_PASSWORD_LENGTH = 1024
"""Longer input is refused rather than hashed: nobody types it, and it costs work."""

# The commonest passwords long enough to pass the length check; refusing them is cheap.
_COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password123", "12345678", "123456789", "1234567890",
        "87654321", "11111111", "00000000", "qwertyui", "qwertyuiop", "iloveyou",
        "abcdefgh", "abcd1234", "sunshine", "princess", "football", "baseball",
        "letmein1", "welcome1", "trustno1", "passw0rd", "asdfghjk", "changeme",
    }
)


def check_user_name(name: str) -> str:
    """The normalised (lower-case) form of ``name``; UsageError saying why if it is bad."""
    shown = name if len(name) <= 40 else name[:40] + "…"
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"bad user name {shown!r}: use 2 to 32 letters, digits or '_', starting with "
            "a letter"
        )
    normal = name.lower()
    if normal in RESERVED_NAMES or normal.startswith("pg_"):
        raise UsageError(f"the user name {normal!r} is reserved; choose another")
    return normal


def check_password_strength(password: str, name: str) -> None:
    """UsageError unless ``password`` is acceptable for the user ``name``.

    Rules: 8 to 1024 characters, not one of the commonest passwords, not the user name,
    and no control characters (a line break could not survive the ``X-DL-Password``
    header nor ``--password-file -``, which reads one line).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UsageError(
            f"the password is too long: use at most {MAX_PASSWORD_LENGTH} characters"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise UsageError("the password contains a control character (tab, line break…)")
    if password.lower() in _COMMON_PASSWORDS or password.lower() == name.lower():
        raise UsageError("the password is too easy to guess: choose another")
