"""Writing the synthetic survey to a file, for benchmarks and for loading elsewhere."""

from __future__ import annotations

from pathlib import Path

from datalab.catalog.mock import (
    MOCK_FIELDS,
    MOCK_TABLE_DESCRIPTION,
    generate,
    mock_schema,
    write_csv,
    write_parquet,
)
from datalab.errors import UsageError
from datalab.formats import FitsTableWriter

__all__ = ["write_mock_file"]

# The longest morphological type code ('PSF', 'REX', 'EXP', 'DEV', 'SER').
_TYPE_WIDTH = 3


def write_mock_file(path: Path, rows: int, *, seed: int = 42) -> None:
    """Write ``rows`` synthetic rows to ``path``; the format follows the file extension."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        write_parquet(path, rows, seed=seed)
    elif suffix == ".csv":
        write_csv(path, rows, seed=seed)
    elif suffix in (".fits", ".fit"):
        with FitsTableWriter(
            path,
            mock_schema(),
            MOCK_FIELDS,
            description=MOCK_TABLE_DESCRIPTION,
            extname="TRACTOR",
            string_widths={"type": _TYPE_WIDTH},
        ) as writer:
            for batch in generate(rows, seed=seed):
                writer.write_batch(batch)
    else:
        raise UsageError(f"{path}: give the output a .parquet, .csv or .fits name")
