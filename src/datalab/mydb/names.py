"""Names in myDB: the user's table names, user (schema) names, and how SQL quotes them.

Every name reaching generated SQL has passed one of these checks *and* is written as a
quoted identifier, so a name can neither break out of its quotes nor reach another
user's schema: there is no syntax for a schema in a table name (only the ``mydb.``
prefix the Data Lab client sends, which means the caller's own schema).
"""

from __future__ import annotations

import re

from datalab.catalog.metadata import ADQL_RESERVED_WORDS
from datalab.errors import UsageError

__all__ = [
    "MAX_TABLE_NAME",
    "check_column_name",
    "check_table_name",
    "check_user",
    "quote",
]

MAX_TABLE_NAME = 63

# What the official client accepts (lower-case letters, digits, "_", not starting with
# a digit); a leading letter also keeps our own "_"-prefixed staging tables apart.
_TABLE = re.compile(r"[a-z][a-z0-9_]{0,62}")
# User names as the accounts service allows them; they name the user's schema.
_USER = re.compile(r"[a-z][a-z0-9_]{1,31}")
# Schema names the engine gives a meaning of its own inside any database: a user so
# named could not get a schema of theirs.
_ENGINE_SCHEMAS = frozenset({"information_schema", "pg_catalog"})
_COLUMN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_PREFIXES = ("mydb://", "mydb.")


def _shown(value: str) -> str:
    """``value`` quoted for a message, shortened so a huge name cannot flood it."""
    return repr(value if len(value) <= 40 else value[:37] + "...")


def check_table_name(name: str) -> str:
    """The bare lower-case table name from ``t``, ``mydb://t`` or ``mydb.t``.

    Raises :class:`UsageError` saying what is wrong: myDB table names are what the
    Data Lab client allows, which are also plain ADQL identifiers users never quote.
    """
    if not isinstance(name, str):
        raise UsageError(f"a table name must be text, not {type(name).__name__}")
    bare = name
    for prefix in _PREFIXES:
        if bare.lower().startswith(prefix):
            bare = bare[len(prefix) :]
            break
    if not bare:
        raise UsageError("the table name is empty")
    if len(bare) > MAX_TABLE_NAME:
        raise UsageError(
            f"the table name is too long ({len(bare)} characters; at most {MAX_TABLE_NAME})"
        )
    if "." in bare or "/" in bare:
        raise UsageError(
            f"invalid table name {_shown(bare)}: myDB tables live in your own schema, so "
            "a name has no schema, dot or slash in it (write t or mydb://t)"
        )
    lowered = bare.lower()
    if not _TABLE.fullmatch(lowered):
        raise UsageError(
            f"invalid table name {_shown(bare)}: use a letter followed by letters, digits "
            "or underscores"
        )
    if lowered.upper() in ADQL_RESERVED_WORDS:
        raise UsageError(
            f"invalid table name {_shown(bare)}: it is a reserved word of ADQL/SQL; "
            "choose another name"
        )
    return lowered


def check_user(user: str) -> str:
    """``user`` unchanged if it is a valid user name (the schema of their tables).

    Callers pass authenticated names; checking again costs nothing and keeps a bug
    elsewhere from turning into SQL aimed at a schema that is not a user's.
    """
    if not isinstance(user, str) or not _USER.fullmatch(user):
        shown = _shown(user) if isinstance(user, str) else type(user).__name__
        raise UsageError(f"invalid user name {shown}")
    if user in _ENGINE_SCHEMAS:
        raise UsageError(f"the user name {user!r} is reserved and cannot hold myDB tables")
    return user


def check_column_name(name: str) -> str:
    """A column name a user types (in ``create``), lower-cased: a plain identifier."""
    if not isinstance(name, str) or not _COLUMN.fullmatch(name):
        shown = _shown(name) if isinstance(name, str) else type(name).__name__
        raise UsageError(
            f"invalid column name {shown}: use a letter followed by letters, digits or "
            "underscores (at most 63 characters)"
        )
    return name.lower()


def quote(name: str) -> str:
    """``name`` as a DuckDB quoted identifier (any text is safe inside)."""
    return '"' + name.replace('"', '""') + '"'
