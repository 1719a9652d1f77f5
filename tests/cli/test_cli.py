"""The `datalab` command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest


def datalab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "datalab", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}: {result.stdout}{result.stderr}")
    return result


def count(home: Path, table: str) -> int:
    con = duckdb.connect(str(home / "catalog.duckdb"), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    finally:
        con.close()


def test_help_lists_commands() -> None:
    out = datalab("--help").stdout
    for command in ("serve", "init", "ingest", "mock"):
        assert command in out


def test_ingest_csv_with_meta_and_seed_syntax(tmp_path: Path) -> None:
    csv = tmp_path / "stars.csv"
    csv.write_text("id,ra,dec,mag\n1,10.5,-5.25,12.5\n2,359.9,89.9,13.0\n3,0.1,-89.9,\n")
    meta = tmp_path / "stars.toml"
    meta.write_text('description = "Three stars"\n[columns.mag]\nunit = "mag"\ndescription = "V"\n')
    home = tmp_path / "home"
    out = datalab("ingest", str(csv), "table=cat.stars", f"meta={meta}", f"data_dir={home}").stdout
    assert "cat.stars: 3 rows, 4 columns, indexed on (ra, dec)" in out
    assert count(home, "cat.stars") == 3
    again = datalab(
        "ingest", str(csv), "--table", "cat.stars", "--data-dir", str(home), check=False
    )
    assert again.returncode == 1
    assert again.stderr.startswith("Error: table cat.stars exists")
    datalab("ingest", str(csv), "--table", "cat.stars", "--append", "--data-dir", str(home))
    assert count(home, "cat.stars") == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "/no/such/file.csv", "--table", "a.b"], "Error:"),
        (["ingest", "{csv}", "--table", "nodot"], "give it as schema.table"),
        (["ingest", "{csv}", "--table", "a.b", "--ra", "nope", "--dec", "dec"], "no such column"),
        (["ingest", "{csv}", "--table", "tap_schema.x"], "reserved"),
        (["ingest", "{csv}", "--table", "a.b", "--meta", "{csv}"], "not valid TOML"),
        (["ingest", "{csv}", "--table", "a.b", "--format", "xls"], "Invalid value"),
        (["mock", "--rows", "-5"], "Invalid value"),
        (["serve", "--port", "99999"], "Invalid value"),
    ],
)
def test_bad_arguments_get_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("ra,dec\n1,2\n")
    home = tmp_path / "home"
    filled = [a.replace("{csv}", str(csv)) for a in args]
    if filled[0] != "serve":
        filled += ["--data-dir", str(home)] if filled[0] == "ingest" else []
    result = datalab(*filled, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_failed_ingest_keeps_previous_table(tmp_path: Path) -> None:
    home = tmp_path / "home"
    good = tmp_path / "good.csv"
    good.write_text("ra,dec,v\n" + "".join(f"{i % 360},{i % 90},{i}\n" for i in range(1000)))
    datalab("ingest", str(good), "--table", "s.t", "--data-dir", str(home))
    bad = tmp_path / "bad.csv"
    # Beyond the reader's first block (which fixes the column types), in a later chunk.
    rows = [f"{i % 360},{i % 90},{i}\n" for i in range(1_500_000)]
    rows[1_400_000] = "1,2,not-a-number\n"
    bad.write_text("ra,dec,v\n" + "".join(rows))
    result = datalab(
        "ingest",
        str(bad),
        "--table",
        "s.t",
        "--replace",
        "--chunk-rows",
        "100000",
        "--data-dir",
        str(home),
        check=False,
    )
    assert result.returncode == 1
    assert "row 1400001" in result.stderr and "'v'" in result.stderr
    assert count(home, "s.t") == 1000


def test_mock_loads_a_table_and_writes_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = datalab("mock", "rows=5000", "table=survey.mock", "--data-dir", str(home)).stdout
    assert "survey.mock: 5,000 synthetic rows" in out
    assert count(home, "survey.mock") == 5000
    for ext in ("parquet", "csv", "fits"):
        target = tmp_path / f"mock.{ext}"
        datalab("mock", "--rows", "3000", "--output", str(target))
        datalab("ingest", str(target), "--table", f"m.from_{ext}", "--data-dir", str(home))
        assert count(home, f"m.from_{ext}") == 3000
