"""Shared set-up for the query benchmarks: a data directory with the mock survey."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import duckdb

DEFAULT_HOME = Path("/tmp/datalab-bench-home")


def ensure_catalog(home: Path, rows: int) -> Path:
    """A data directory whose ``ls_mock.tractor`` has ``rows`` rows, built with the CLI."""
    catalog = home / "catalog.duckdb"
    if catalog.exists():
        con = duckdb.connect(str(catalog), read_only=True)
        try:
            have = con.sql("SELECT count(*) FROM ls_mock.tractor").fetchall()[0][0]
        except duckdb.Error:
            have = -1
        finally:
            con.close()
        if have == rows:
            return catalog
    print(f"building {home} with {rows:,} mock rows (datalab init)...", file=sys.stderr)
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "datalab",
            "init",
            "--data-dir",
            str(home),
            "--mock-rows",
            str(rows),
            "--force",
        ],
        check=True,
    )
    return catalog


def summary(times: list[float]) -> tuple[float, float]:
    """(median, 95th percentile) in milliseconds."""
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1e3, p95 * 1e3
