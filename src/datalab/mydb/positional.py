"""The positional index of a user table: ``_healpix_29`` computed as catalogs have it.

A user table indexed by position is stored exactly like a catalog table (DESIGN.md,
principle 5), so the compiler's HEALPix pushdown applies to it unchanged.
"""

from __future__ import annotations

import pyarrow as pa

from datalab.catalog.metadata import HEALPIX_COLUMN
from datalab.errors import UsageError
from datalab.sky import healpix_index_arrow

__all__ = ["add_position_index", "resolve_column"]


def resolve_column(names: list[str], wanted: str, role: str) -> str:
    """The table's own spelling of column ``wanted`` (names ignore case)."""
    if not isinstance(wanted, str):
        raise UsageError(f"the {role} column must be named by text")
    for name in names:
        if name != HEALPIX_COLUMN and name.lower() == wanted.lower():
            return name
    raise UsageError(f"the table has no column {wanted[:60]!r} to use as {role}")


def add_position_index(batch: pa.RecordBatch, ra: str, dec: str) -> pa.RecordBatch:
    """``batch`` with ``_healpix_29`` of (ra, dec) appended (null where there is no
    valid position, including a batch that lacks the columns)."""
    names = {n.lower(): n for n in batch.schema.names}
    if HEALPIX_COLUMN in batch.schema.names:
        batch = batch.drop_columns([HEALPIX_COLUMN])
    if ra.lower() not in names or dec.lower() not in names:
        index = pa.nulls(batch.num_rows, pa.int64())
    else:
        ra_col, dec_col = batch.column(names[ra.lower()]), batch.column(names[dec.lower()])
        for role, col in (("RA", ra_col), ("Dec", dec_col)):
            t = col.type
            if not (pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t)):
                raise UsageError(f"the {role} column must be numeric (it is {t})")
        index = healpix_index_arrow(ra_col, dec_col)
    return batch.append_column(HEALPIX_COLUMN, index)
