"""`datalab adql check|translate`, run as a process against the demo data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest


def adql(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datalab", "adql", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_check_accepts_a_valid_query(demo_home: Path) -> None:
    done = adql("check", "--data-dir", str(demo_home), "SELECT TOP 3 hip FROM hipparcos.hip2")
    assert (done.returncode, done.stdout.strip()) == (0, "valid")


def test_check_reads_standard_input(demo_home: Path) -> None:
    query = "SELECT hip\nFROM hipparcos.hip2\nWHERE hpmag < 2\n"
    done = adql("check", "--data-dir", str(demo_home), "-", stdin=query)
    assert done.returncode == 0, done.stderr


def test_check_names_the_mistake_and_its_place(demo_home: Path) -> None:
    done = adql("check", "--data-dir", str(demo_home), "-",
                stdin="SELECT hip\nFROM hipparcos.hip2\nWHERE hpmg < 2\n")
    assert done.returncode == 1
    assert "hpmg" in done.stderr and "did you mean hpmag" in done.stderr
    assert "line 3, column 7" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_seed_syntax_and_sql_language(demo_home: Path) -> None:
    done = adql("check", f"data-dir={demo_home}", "lang=SQL",
                "SELECT hip FROM hipparcos.hip2 WHERE q3c_radial_query(ra, dec, 10, 10, 1) LIMIT 5")
    assert done.returncode == 0, done.stderr


def test_translate_prints_sql_the_engine_runs(demo_home: Path) -> None:
    done = adql("translate", "--data-dir", str(demo_home),
                "SELECT COUNT(*) FROM hipparcos.hip2 WHERE "
                "1 = CONTAINS(POINT(ra, dec), CIRCLE(10.68, 41.27, 2.5))")
    assert done.returncode == 0, done.stderr
    assert '"_healpix_29" BETWEEN' in done.stdout
    con = duckdb.connect(str(demo_home / "catalog.duckdb"), read_only=True)
    try:
        ((count,),) = con.sql(done.stdout).fetchall()
    finally:
        con.close()
    assert count > 0


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--lang", "COBOL", "SELECT 1"),
        ("check", "--data-dir", "/nonexistent/dir", "SELECT hip FROM hipparcos.hip2"),
        ("translate",),
        ("check", "SELECT * FROM read_parquet('/etc/passwd')", "--syntax-only"),
    ],
    ids=["bad-language", "no-catalog", "no-query", "table-function"],
)
def test_bad_arguments_get_a_message_and_nonzero_exit(args: tuple[str, ...]) -> None:
    done = adql(*args)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip()
