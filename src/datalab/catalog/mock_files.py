"""Writing the synthetic survey's tables to files, for benchmarks and for loading elsewhere."""

from __future__ import annotations

from pathlib import Path

from datalab.catalog.mock import PRODUCTS, generate_product, write_csv, write_parquet
from datalab.errors import UsageError
from datalab.formats import FitsTableWriter

__all__ = ["write_mock_file"]


def write_mock_file(
    path: Path, rows: int, *, seed: int = 42, product: str = "tractor", inject: bool = False
) -> int:
    """Write one table of the survey (``rows`` field rows) to ``path``; return its rows.

    With ``inject`` the survey includes the injected dwarf galaxies and RR Lyrae.

    The format follows the file extension. String columns get FITS widths from their
    documented sizes, so every batch fits the columns the first one set up.
    """
    if product not in PRODUCTS:
        raise UsageError(f"no synthetic table {product!r}; choose one of {', '.join(PRODUCTS)}")
    spec = PRODUCTS[product]
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return write_parquet(path, rows, seed=seed, product=product, inject=inject)
    if suffix == ".csv":
        return write_csv(path, rows, seed=seed, product=product, inject=inject)
    if suffix in (".fits", ".fit"):
        widths = {
            f.name: int(f.arraysize)
            for f in spec.fields
            if f.datatype == "char" and f.arraysize and f.arraysize.isdigit()
        }
        with FitsTableWriter(
            path,
            spec.schema,
            spec.fields,
            description=spec.description,
            extname=spec.extname,
            string_widths=widths,
        ) as writer:
            for batch in generate_product(product, rows, seed=seed, inject=inject):
                writer.write_batch(batch)
        return writer.rows_written
    raise UsageError(f"{path}: give the output a .parquet, .csv or .fits name")
