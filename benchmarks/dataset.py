"""The one data set every engine of the suite is given: the mock survey as files.

``datalab mock`` is deterministic (fixed seed), so the survey is generated once per row
count as Parquet and kept in the work directory; PostgreSQL is loaded from that file,
Data Lab's catalog is ingested from it, and astropy reads it. CSV and FITS copies (the
same rows, written by the same generator) are made only for the ingest workload.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from astropy.io import fits

from benchmarks.support import MOCK_TABLE, catalog_rows
from datalab.catalog import Engine
from datalab.catalog.store import CatalogStore

__all__ = [
    "ensure_datalab_home",
    "ensure_mock_file",
    "file_rows",
    "mock_file",
    "read_columns",
    "sibling_home",
]

DATALAB = [sys.executable, "-m", "datalab"]


def mock_file(workdir: Path, rows: int, fmt: str) -> Path:
    return workdir / f"mock-{rows}.{fmt}"


def file_rows(path: Path) -> int:
    """Rows of a Parquet or FITS file, from its metadata.

    The generator adds a fixed set of injected objects to the rows asked for, so a
    file holds somewhat more rows than its name says; every engine gets them all.
    """
    if path.suffix == ".fits":
        with fits.open(path, memmap=True) as hdus:
            return int(hdus[1].header["NAXIS2"])
    return int(pq.ParquetFile(path).metadata.num_rows)


def ensure_mock_file(workdir: Path, rows: int, fmt: str = "parquet") -> Path:
    """``mock-<rows>.<fmt>`` in ``workdir``, generated unless it is there already.

    The generator is deterministic (fixed seed), and files are written under a
    temporary name and renamed when complete, so a file with the final name is the
    whole survey for that row count and can be reused.
    """
    path = mock_file(workdir, rows, fmt)
    if path.exists():
        return path
    workdir.mkdir(parents=True, exist_ok=True)
    partial = workdir / f"mock-{rows}.partial.{fmt}"
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    print(f"writing the mock survey, {rows:,} rows, to {path} ...", file=sys.stderr, flush=True)
    subprocess.run(
        [*DATALAB, "mock", "--rows", str(rows), "--table", MOCK_TABLE, "--output", str(partial)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    partial.rename(path)
    print(
        f"  {path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return path


def ensure_datalab_home(workdir: Path, rows: int, parquet: Path) -> Path:
    """A data directory holding the mock survey as ``ls_mock.tractor``, from ``parquet``.

    Built with ``datalab ingest`` (the path a data center takes with its own files)
    and kept while its table has ``rows`` rows (those of ``parquet``).
    """
    home = workdir / "datalab"
    if catalog_rows(home / "catalog.duckdb") == rows:
        _ensure_row_copy(home / "catalog.duckdb")
        return home
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    print(f"ingesting {parquet.name} into {home} ...", file=sys.stderr, flush=True)
    subprocess.run(
        [*DATALAB, "ingest", str(parquet), "--table", MOCK_TABLE, "--data-dir", str(home)],
        check=True,
    )
    return home


def _ensure_row_copy(catalog: Path) -> None:
    """Give a table ingested by an earlier version its row copy (cone searches use it)."""
    engine = Engine(catalog)
    try:
        if engine.row_copy(MOCK_TABLE) is not None:
            return
    finally:
        engine.close()
    print(f"writing the row copy of {MOCK_TABLE} ...", file=sys.stderr, flush=True)
    with CatalogStore.open(catalog) as store:
        store.refresh_row_copy(MOCK_TABLE)


def sibling_home(home: Path, name: str) -> Path:
    """Another data directory on the same catalog, for a second server at the same time.

    A server holds its data directory's users' database open for writing, so two
    servers cannot share one directory; they can share the read-only catalog file,
    which is hard-linked (copied where linking is impossible) into ``name`` next to
    ``home``. Everything else a server keeps starts empty.
    """
    sibling = home.parent / name
    catalog = home / "catalog.duckdb"
    linked = sibling / "catalog.duckdb"
    rows = sibling / "catalog.rows"  # the row copies, shared through a link
    if linked.exists() and linked.stat().st_ino == catalog.stat().st_ino and rows.exists():
        return sibling
    shutil.rmtree(sibling, ignore_errors=True)
    sibling.mkdir(parents=True)
    try:
        linked.hardlink_to(catalog)
    except OSError:
        shutil.copy2(catalog, linked)
    if (home / "catalog.rows").is_dir():
        rows.symlink_to((home / "catalog.rows").resolve(), target_is_directory=True)
    return sibling


def read_columns(parquet: Path, columns: list[str], rows: int | None = None) -> pa.Table:
    """The first ``rows`` rows (all without it) of some columns of the survey file."""
    if rows is None:
        return pq.read_table(parquet, columns=columns)
    batches = []
    have = 0
    for batch in pq.ParquetFile(parquet).iter_batches(batch_size=65_536, columns=columns):
        batches.append(batch.slice(0, rows - have))
        have += batches[-1].num_rows
        if have >= rows:
            break
    return pa.Table.from_batches(batches)
