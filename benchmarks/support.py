"""Shared set-up for the query benchmarks: a data directory with the mock survey."""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np

from datalab.catalog import HEALPIX_COLUMN, Engine
from datalab.sky import HEALPIX_ORDER, healpix_index

DEFAULT_HOME = Path("/tmp/datalab-bench-home")
MOCK_TABLE = "ls_mock.tractor"
FOOTPRINT_ORDER = 5  # ~1.8 deg cells: the resolution at which the footprint is read


def catalog_rows(catalog: Path, table: str = MOCK_TABLE) -> int | None:
    """Rows of ``table`` in a catalog file, or None when there is no such table."""
    if not catalog.exists():
        return None
    try:
        con = duckdb.connect(str(catalog), read_only=True)
    except duckdb.Error:
        return None
    try:
        return int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    except duckdb.Error:
        return None
    finally:
        con.close()


def ensure_catalog(home: Path, rows: int) -> Path:
    """A data directory with the mock survey of ``rows`` rows, built with the CLI.

    The generator adds injected objects to the rows asked for, so the table's count
    is not the request; the request is remembered next to the catalog instead, and
    written only once the build has succeeded.
    """
    catalog = home / "catalog.duckdb"
    marker = home / ".bench-mock-rows"
    if marker.exists() and marker.read_text().strip() == str(rows) and catalog_rows(catalog):
        return catalog
    marker.unlink(missing_ok=True)
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
    marker.write_text(f"{rows}\n")
    return catalog


def summary(times: list[float]) -> tuple[float, float]:
    """(median, 95th percentile) in milliseconds."""
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1e3, p95 * 1e3


def free_port() -> int:
    """A TCP port of loopback nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def footprint_centres(
    engine: Engine, n: int, seed: int, table: str = MOCK_TABLE
) -> list[tuple[float, float]]:
    """``n`` centres uniform on the sphere, kept where the table has sources.

    The mock survey leaves the Galactic plane empty, so uniform centres would often
    fall where no engine has anything to find; the footprint is read from the data
    (RA/Dec bounds and the order-5 HEALPix cells that hold sources).
    """
    shift = 2 * (HEALPIX_ORDER - FOOTPRINT_ORDER)
    with engine.cursor() as cur:
        bounds = cur.sql(f"SELECT min(ra), max(ra), min(dec), max(dec) FROM {table}").fetchall()[0]
        cells = cur.sql(f"SELECT DISTINCT {HEALPIX_COLUMN} >> {shift} FROM {table}").fetchnumpy()
    ra_min, ra_max, dec_min, dec_max = bounds
    occupied = np.sort(next(iter(cells.values())).astype(np.int64))
    rng = np.random.default_rng(seed)
    centres: list[tuple[float, float]] = []
    while len(centres) < n:
        ra = rng.uniform(ra_min, ra_max, 4 * n)
        sin_dec = rng.uniform(np.sin(np.radians(dec_min)), np.sin(np.radians(dec_max)), 4 * n)
        dec = np.degrees(np.arcsin(sin_dec))
        cell = healpix_index(ra, dec, FOOTPRINT_ORDER)
        at = np.minimum(np.searchsorted(occupied, cell), len(occupied) - 1)
        keep = occupied[at] == cell
        centres.extend(zip(ra[keep].tolist(), dec[keep].tolist(), strict=True))
    return centres[:n]
