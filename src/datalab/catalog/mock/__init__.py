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
any ``chunk_rows`` gives identical values, and a shorter catalog's field rows are a
prefix of a longer one's with the same seed (a benchmark's 10 million rows are the first
half of its 20).

On request (``inject=True``; the demo always asks) and the same for every row count, the
injected objects (:mod:`injected`) come on top of the field: the stars of a few faint
dwarf galaxies (:mod:`dwarfs`) and RR Lyrae stars of the halo (:mod:`rrlyrae`),
appended after the field rows with ``objid`` from :data:`INJECTED_OBJID_BASE`. Such a
catalog of ``rows`` rows has ``rows`` field rows plus :func:`injected_rows` injected
ones; without injection it has exactly ``rows`` rows, as benchmarks want.

Besides the tractor table the survey has companion tables (:mod:`products`): light
curves of a subset of stars, ``measurements`` (:mod:`lightcurves`), and the truth tables
``truth_objects``, ``truth_dwarfs`` and ``truth_rrlyrae`` (:mod:`tables` documents them).

Modules: ``truth`` (the source model), ``tractor`` (the measurement model), ``columns``
and ``tables`` (units, UCDs, descriptions, Arrow schemas), ``dwarfs``, ``rrlyrae``,
``injected``, ``lightcurves`` and ``products``; this package joins them into batches
and files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from datalab.catalog.mock.columns import (
    BANDS,
    MOCK_FIELDS,
    MOCK_TABLE_DESCRIPTION,
    mock_schema,
)
from datalab.catalog.mock.dwarfs import DWARFS, Dwarf
from datalab.catalog.mock.injected import INJECTED_OBJID_BASE, injected
from datalab.catalog.mock.products import PRODUCTS, MockProduct
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
    "DWARFS",
    "GALACTIC_TO_ICRS",
    "INJECTED_OBJID_BASE",
    "MOCK_FIELDS",
    "MOCK_TABLE_DESCRIPTION",
    "PRODUCTS",
    "TYPE_NAMES",
    "Dwarf",
    "MockProduct",
    "Sources",
    "galactic_to_icrs",
    "generate",
    "generate_product",
    "injected_rows",
    "iter_sources",
    "mock_schema",
    "simulate_sources",
    "tractor_batch",
    "write_csv",
    "write_parquet",
]


def injected_rows(seed: int = 42) -> int:
    """How many injected rows follow the field rows for ``seed`` (any row count)."""
    return len(injected(seed))


def generate(
    rows: int, *, seed: int = 42, chunk_rows: int = 250_000, inject: bool = False
) -> Iterator[pa.RecordBatch]:
    """The tractor table: ``rows`` field rows (then the injected ones) in ``chunk_rows`` batches.

    Row ``i`` depends only on ``seed`` and ``i`` (never on ``chunk_rows`` or ``rows``), so
    any chunking gives identical data and a shorter catalog's field rows are a prefix of
    a longer one's. Every batch but the last has exactly ``chunk_rows`` rows.
    """
    return generate_product("tractor", rows, seed=seed, chunk_rows=chunk_rows, inject=inject)


def generate_product(
    product: str,
    rows: int,
    *,
    seed: int = 42,
    chunk_rows: int = 250_000,
    inject: bool = False,
) -> Iterator[pa.RecordBatch]:
    """The batches of one table of :data:`PRODUCTS` for a survey of ``rows`` field rows.

    With ``inject`` the survey holds the injected dwarf galaxies and RR Lyrae too.
    """
    if rows < 0:
        raise ValueError(f"rows must be >= 0, not {rows}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, not {chunk_rows}")
    spec = PRODUCTS[product]
    return _rechunked(spec.batches(rows, seed, inject), spec.schema, chunk_rows)


def _rechunked(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for block in batches:
        offset = 0
        while offset < block.num_rows:
            take = min(chunk_rows - pending_rows, block.num_rows - offset)
            pending.append(block.slice(offset, take))
            pending_rows += take
            offset += take
            if pending_rows == chunk_rows:
                yield _joined(pending, schema)
                pending, pending_rows = [], 0
    if pending_rows:
        yield _joined(pending, schema)


def _joined(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatch:
    """One batch from slices of consecutive blocks (copied only when there are several)."""
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches, schema=schema).combine_chunks().to_batches()[0]


def write_parquet(
    path: str | Path,
    rows: int,
    seed: int = 42,
    *,
    chunk_rows: int = 250_000,
    product: str = "tractor",
    inject: bool = False,
) -> int:
    """Stream one table to a Parquet file, one row group per chunk, metadata included.

    Only the few-valued columns are dictionary-encoded: trying dictionaries on noisy
    floats first made writing about six times slower and the file larger. Returns the
    number of rows written.
    """
    schema = PRODUCTS[product].schema
    few_valued = {"type", "band", "true_class", "origin", "host", "var_type", "true_profile"}
    few_valued |= {f"nobs_{band}" for band in BANDS}
    dictionary = [name for name in schema.names if name in few_valued]
    written = 0
    with pq.ParquetWriter(path, schema, use_dictionary=dictionary) as writer:
        for batch in generate_product(
            product, rows, seed=seed, chunk_rows=chunk_rows, inject=inject
        ):
            writer.write_batch(batch)
            written += batch.num_rows
    return written


def write_csv(
    path: str | Path,
    rows: int,
    seed: int = 42,
    *,
    chunk_rows: int = 250_000,
    product: str = "tractor",
    inject: bool = False,
) -> int:
    """Stream one table to a CSV file with a header line; nulls are empty fields."""
    written = 0
    with pacsv.CSVWriter(path, PRODUCTS[product].schema) as writer:
        for batch in generate_product(
            product, rows, seed=seed, chunk_rows=chunk_rows, inject=inject
        ):
            writer.write_batch(batch)
            written += batch.num_rows
    return written
