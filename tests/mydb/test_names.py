"""Names and types users give: what is accepted, and the error for what is not."""

from __future__ import annotations

import pytest

from datalab.errors import UsageError
from datalab.mydb import check_table_name, check_user
from datalab.mydb.types import duckdb_type


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("t", "t"),
        ("mydb://t", "t"),
        ("mydb.t", "t"),
        ("MyTable_2", "mytable_2"),
        ("MYDB://Stars", "stars"),
        ("a" * 63, "a" * 63),
    ],
)
def test_accepted_table_names(given: str, expected: str) -> None:
    assert check_table_name(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "empty"),
        ("mydb://", "empty"),
        ('t"; DROP TABLE x; --', "invalid table name"),
        ("it's", "invalid table name"),
        ("other.t", "own schema"),
        ("alice.t", "own schema"),
        ("../t", "own schema"),
        ("mydb://../bob/t", "own schema"),
        ("my table", "invalid table name"),
        ("t ", "invalid table name"),
        ("2mass", "invalid table name"),
        ("_hidden", "invalid table name"),
        ("x" * 10_000, "too long (10000 characters"),
        ("select", "reserved word"),
        ("TABLE", "reserved word"),
        ("mydb://count", "reserved word"),
        ("tést", "invalid table name"),
    ],
)
def test_refused_table_names(given: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        check_table_name(given)
    assert message in info.value.message
    assert len(info.value.message) < 300  # a huge name is not echoed back whole


def test_table_name_must_be_text() -> None:
    with pytest.raises(UsageError, match="must be text"):
        check_table_name(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("user", ["alice", "b0b", "a_b", "main"])
def test_accepted_users(user: str) -> None:
    assert check_user(user) == user


@pytest.mark.parametrize(
    "user", ["", "a", "Alice", "alice;", 'a"b', "../a", "a" * 33, "information_schema", "1ab"]
)
def test_refused_users(user: str) -> None:
    with pytest.raises(UsageError):
        check_user(user)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("text", "VARCHAR"),
        ("varchar(20)", "VARCHAR"),
        ("character varying (80)", "VARCHAR"),
        ("integer", "INTEGER"),
        ("INT4", "INTEGER"),
        ("bigint", "BIGINT"),
        ("smallint", "SMALLINT"),
        ("real", "REAL"),
        ("double precision", "DOUBLE"),
        ("Double  Precision", "DOUBLE"),
        ("float8", "DOUBLE"),
        ("float", "DOUBLE"),
        ("numeric(10,3)", "DECIMAL(10,3)"),
        ("boolean", "BOOLEAN"),
        ("timestamp", "TIMESTAMP"),
        ("date", "DATE"),
        ("long", "BIGINT"),
        ("short", "SMALLINT"),
        ("unicodeChar", "VARCHAR"),
        ("unsignedByte", "UTINYINT"),
    ],
)
def test_column_types(given: str, expected: str) -> None:
    assert duckdb_type(given) == expected


@pytest.mark.parametrize(
    "given",
    ["geometry", "int); DROP TABLE x; --", "integer[]", "numeric(99,2)", "varchar(1,2)", ""],
)
def test_unknown_column_types(given: str) -> None:
    with pytest.raises(UsageError, match="column type"):
        duckdb_type(given)
