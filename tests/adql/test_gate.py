"""The gate refuses hostile and malformed input with a located ADQLError."""

from __future__ import annotations

import subprocess
import sys

import pytest

from datalab.adql import ADQLError, parse

HOSTILE = [
    "SELECT a FROM t; DROP TABLE x",
    "SELECT a FROM t -- x\n; SELECT 2",
    "DROP TABLE x",
    "COPY t TO 'x.csv'",
    "ATTACH 'x.db'",
    "PRAGMA version",
    "SET threads=1",
    "INSTALL httpfs",
    "SELECT * FROM read_csv('x.csv')",
    "SELECT * FROM glob('*')",
    "SELECT a FROM duckdb_settings()",
    "SELECT getenv('HOME') FROM t",
    "SELECT a FROM t WHERE x = TRUE",
    "SELECT CAST(a AS BLOB) FROM t",
    "SELECT a FROM t, LATERAL (SELECT 1)",
    "SELECT DISTINCT ON (a) a FROM t",
    "SELECT a INTO b FROM t",
    "SELECT a FROM a.b.c",
    "SELECT " + "(" * 10_000 + "1" + ")" * 10_000 + " FROM t",
    "SELECT a FROM t WHERE a IN (" + ",".join(str(i) for i in range(20_000)) + ")",
    "SELECT sum(a) OVER () FROM t",
    "SELECT a FROM t WHERE b = ?",
    "SELECT '" + "x" * 100_000 + "' FROM t",
    "SELECT a FROM t\x00",
    "   ",
    "/* hi */ SELECT a FROM t",
    "SELECT a FROM t LIMIT 3",
]


@pytest.mark.parametrize("query", HOSTILE, ids=lambda q: q[:40])
def test_hostile_input_is_refused(query: str) -> None:
    with pytest.raises(ADQLError):
        parse(query)


@pytest.mark.parametrize(
    ("query", "line", "column", "fragment"),
    [
        ("SELECT a FROM t WHERE\n x = = 1", 2, 6, "near '='"),
        ("SELECT a FROM t WHERE b = 'open", 1, 27, "not closed"),
        ("SELECT a, FROM t", 1, 11, "select list"),
        ("SELECT CONTANS(a) FROM t", 1, 8, "did you mean CONTAINS"),
        ("SELECT ABS(a, b) FROM t", 1, 8, "1 argument"),
        ("SELECT a FROM t LIMIT 3", 1, 17, "TOP"),
    ],
)
def test_errors_are_located(query: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(ADQLError) as caught:
        parse(query)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert fragment in caught.value.message


def test_data_lab_sql_accepts_postgres_forms() -> None:
    parse("SELECT a::int FROM t WHERE q3c_radial_query(ra, dec, 1, 2, 3) LIMIT 4", "SQL")


def test_cli_reports_error_without_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "datalab", "adql", "check", "--syntax-only",
         "SELECT * FROM read_csv('/etc/passwd')"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error:") and "Traceback" not in done.stderr
