"""A synthetic survey catalog shaped like the DESI Legacy Imaging Surveys tractor catalogs.

Every row is simulated: no row describes a real object. The catalog exists so that the
demo, the benchmarks and the science notebooks have a survey-sized table whose columns,
units and value distributions behave like a real one (stars crowding toward the Galactic
plane, galaxy counts rising steeply to the survey depth, faint objects with negative
fluxes and null magnitudes, most faint galaxies unresolved).

How it is made, in two separate steps so that truth tables can be built later:

1. :func:`simulate_sources` draws the *true* sources of one block: class (star, galaxy,
   QSO), Galactic position sampled by inverse CDF from a density model and rotated to
   ICRS, reddening, intrinsic g/r/z magnitudes from per-class number counts and colour
   models, and for galaxies a true half-light radius and light profile.
2. :func:`tractor_batch` "observes" those sources: numbers of exposures, flux noise from
   per-band 5-sigma depths, a morphological type chosen the way a model-selecting
   photometry pipeline would (small or faint galaxies stay ``PSF``), measured shapes,
   and the tractor-like columns as an Arrow record batch. The class is not a column.

Rows are produced in fixed blocks of :data:`BLOCK_ROWS`. Block ``i`` draws its truth
from ``numpy.random.default_rng([seed, i, 0])`` and its measurement noise from
``default_rng([seed, i, 1])``, so the data depend only on ``seed`` and the row index:
any ``chunk_rows`` gives identical values, and a shorter catalog is a prefix of a longer
one with the same seed (a benchmark's 10 million rows are the first half of its 20).

Modules: ``truth`` (the source model), ``tractor`` (the measurement model) and
``columns`` (units, UCDs, descriptions, Arrow schema); this package joins them into
batches and files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from datalab.catalog.mock.columns import (
    BANDS,
    MOCK_FIELDS,
    MOCK_TABLE_DESCRIPTION,
    SCHEMA,
    mock_schema,
)
from datalab.catalog.mock.tractor import tractor_batch
from datalab.catalog.mock.truth import (
    BLOCK_ROWS,
    CLASS_NAMES,
    GALACTIC_TO_ICRS,
    TYPE_NAMES,
    Sources,
    galactic_to_icrs,
    iter_sources,
    simulate_sources,
)

__all__ = [
    "BLOCK_ROWS",
    "CLASS_NAMES",
    "GALACTIC_TO_ICRS",
    "MOCK_FIELDS",
    "MOCK_TABLE_DESCRIPTION",
    "TYPE_NAMES",
    "Sources",
    "galactic_to_icrs",
    "generate",
    "iter_sources",
    "mock_schema",
    "simulate_sources",
    "tractor_batch",
    "write_csv",
    "write_parquet",
]


def _blocks(rows: int, seed: int) -> Iterator[pa.RecordBatch]:
    """Whole blocks, the last cut short: measured in full so its rows match longer runs."""
    for block in range(-(-rows // BLOCK_ROWS)):
        batch = tractor_batch(simulate_sources(block, seed=seed))
        yield batch.slice(0, min(BLOCK_ROWS, rows - block * BLOCK_ROWS))


def generate(rows: int, *, seed: int = 42, chunk_rows: int = 250_000) -> Iterator[pa.RecordBatch]:
    """``rows`` rows of the synthetic catalog as record batches of ``chunk_rows`` rows.

    Row ``i`` depends only on ``seed`` and ``i`` (never on ``chunk_rows`` or ``rows``), so
    any chunking gives identical data and a shorter catalog is a prefix of a longer one.
    Every batch but the last has exactly ``chunk_rows`` rows.
    """
    if rows < 0:
        raise ValueError(f"rows must be >= 0, not {rows}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, not {chunk_rows}")
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for block in _blocks(rows, seed):
        offset = 0
        while offset < block.num_rows:
            take = min(chunk_rows - pending_rows, block.num_rows - offset)
            pending.append(block.slice(offset, take))
            pending_rows += take
            offset += take
            if pending_rows == chunk_rows:
                yield _joined(pending)
                pending, pending_rows = [], 0
    if pending_rows:
        yield _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """One batch from slices of consecutive blocks (copied only when there are several)."""
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches, schema=SCHEMA).combine_chunks().to_batches()[0]


def write_parquet(
    path: str | Path, rows: int, seed: int = 42, *, chunk_rows: int = 250_000
) -> None:
    """Stream the catalog to a Parquet file, one row group per chunk, metadata included.

    Only the few-valued columns are dictionary-encoded: trying dictionaries on noisy
    floats first made writing about six times slower and the file larger.
    """
    dictionary = ["type", *(f"nobs_{band}" for band in BANDS)]
    with pq.ParquetWriter(path, SCHEMA, use_dictionary=dictionary) as writer:
        for batch in generate(rows, seed=seed, chunk_rows=chunk_rows):
            writer.write_batch(batch)


def write_csv(path: str | Path, rows: int, seed: int = 42, *, chunk_rows: int = 250_000) -> None:
    """Stream the catalog to a CSV file with a header line; nulls are empty fields."""
    with pacsv.CSVWriter(path, SCHEMA) as writer:
        for batch in generate(rows, seed=seed, chunk_rows=chunk_rows):
            writer.write_batch(batch)
