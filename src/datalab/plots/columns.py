"""The columns of a query result that a plot can use, and their values.

A result is a VO-Parquet file: its schema says which columns hold numbers, and its
metadata carries each column's unit and UCD, which give the axes their labels and let
a sky plot find the RA and Dec columns by meaning rather than by name. Only the columns
a plot needs are read, and rows without a value (NULL, NaN or infinite) in any of them
are dropped and counted, so a caption can say how many were left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datalab.errors import UsageError

__all__ = ["ColumnInfo", "PlotValues", "ResultColumns", "describe_result", "read_values"]

# Names that mean right ascension / declination when no UCD says so, most usual first.
_RA_NAMES = ("ra", "ra_icrs", "raj2000", "ra_j2000", "radeg", "ra_deg", "s_ra", "alpha")
_DEC_NAMES = ("dec", "dec_icrs", "dej2000", "decj2000", "dec_j2000", "dedeg", "dec_deg",
              "s_dec", "delta")
# How many column names an error message lists before "…".
_LISTED = 20


def _kind_of(dtype: pa.DataType) -> str:
    """A plain word for an Arrow type, for messages."""
    if pa.types.is_null(dtype):
        return "only NULLs"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "text"
    if pa.types.is_boolean(dtype):
        return "true/false values"
    if pa.types.is_temporal(dtype):
        return "dates or times"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "binary data"
    if pa.types.is_list(dtype) or pa.types.is_fixed_size_list(dtype):
        return "arrays"
    return str(dtype)


def _is_numeric(dtype: pa.DataType) -> bool:
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)


@dataclass(frozen=True)
class ColumnInfo:
    """One result column: its name, Arrow type and VO metadata."""

    name: str
    dtype: str  # the Arrow type, as text
    numeric: bool
    unit: str | None = None
    ucd: str | None = None
    description: str | None = None
    holds: str = "numbers"  # what the values are, in words, for messages

    @property
    def label(self) -> str:
        """The axis label: the name, and the unit in brackets when there is one."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name

    def has_ucd(self, word: str) -> bool:
        """Whether one of the UCD's words (``;``-separated) is ``word``."""
        return bool(self.ucd) and word in {w.strip().lower() for w in (self.ucd or "").split(";")}


@dataclass(frozen=True)
class ResultColumns:
    """What a result file holds, as far as plotting cares."""

    columns: tuple[ColumnInfo, ...]
    rows: int
    overflow: bool

    @property
    def numeric(self) -> tuple[ColumnInfo, ...]:
        """The numeric columns a plot can name. A query may repeat a name (``t.ra``
        and ``s.ra`` both come out as ``ra``): the name then means its first column."""
        seen: set[str] = set()
        out = []
        for c in self.columns:
            if c.name not in seen:
                seen.add(c.name)
                if c.numeric:
                    out.append(c)
        return tuple(out)

    def find(self, role: str, name: str) -> ColumnInfo:
        """The numeric column ``name`` (an exact match, else the only case-insensitive
        one) for the axis ``role``; a UsageError naming the choices otherwise."""
        found = next((c for c in self.columns if c.name == name), None)
        if found is None:
            folded = [c for c in self.columns if c.name.lower() == name.lower()]
            found = folded[0] if len(folded) == 1 else None
        if found is None:
            shown = name if len(name) <= 40 else name[:40] + "…"
            raise UsageError(
                f"{role}: the result has no column {shown!r}; its numeric columns are "
                + self._listing(),
                detail={"parameter": role},
            )
        if not found.numeric:
            raise UsageError(
                f"{role}: column {found.name!r} holds {found.holds}, not numbers; "
                "choose one of " + self._listing(),
                detail={"parameter": role},
            )
        return found

    def _listing(self) -> str:
        names = [c.name for c in self.numeric]
        if not names:
            return "(none)"
        listed = ", ".join(names[:_LISTED])
        return listed + (", …" if len(names) > _LISTED else "")

    def sky_pair(self) -> tuple[ColumnInfo, ColumnInfo] | None:
        """The RA and Dec columns: by UCD (``pos.eq.ra``/``pos.eq.dec``, the main
        position first), else by a usual name; None when the result has no position."""
        ra = self._by_ucd("pos.eq.ra") or self._by_name(_RA_NAMES)
        dec = self._by_ucd("pos.eq.dec") or self._by_name(_DEC_NAMES)
        return (ra, dec) if ra is not None and dec is not None else None

    def _by_ucd(self, word: str) -> ColumnInfo | None:
        matches = [c for c in self.numeric if c.has_ucd(word)]
        main = [c for c in matches if c.has_ucd("meta.main")]
        return (main or matches or [None])[0]

    def _by_name(self, names: tuple[str, ...]) -> ColumnInfo | None:
        by_name = {c.name.lower(): c for c in self.numeric}
        return next((by_name[n] for n in names if n in by_name), None)


def _field_meta(field: pa.Field) -> dict[str, str]:
    return {
        key.decode(errors="replace"): value.decode(errors="replace")
        for key, value in (field.metadata or {}).items()
    }


def _open(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        # pyarrow's message names the server's file path: not for users' eyes.
        raise UsageError("the query's result file cannot be read") from None


def describe_result(path: Path) -> ResultColumns:
    """The columns, row count and overflow flag of the result file at ``path``.

    Units, UCDs and descriptions come from the Arrow field metadata, where the
    VO-Parquet writer repeats what its VOTable document says of each column."""
    with _open(path) as file:
        schema = file.schema_arrow
        rows = file.metadata.num_rows
        keys = file.metadata.metadata or {}
    columns = []
    for field in schema:
        meta = _field_meta(field)
        numeric = _is_numeric(field.type)
        columns.append(ColumnInfo(
            name=field.name,
            dtype=str(field.type),
            numeric=numeric,
            unit=meta.get("unit") or None,
            ucd=meta.get("ucd") or None,
            description=meta.get("description") or None,
            holds="numbers" if numeric else _kind_of(field.type),
        ))
    return ResultColumns(
        columns=tuple(columns),
        rows=rows,
        overflow=keys.get(b"datalab.query_status") == b"OVERFLOW",
    )


@dataclass(frozen=True)
class PlotValues:
    """The values of one or two columns, as float64, with unusable rows removed.

    ``total`` is the number of rows in the result; ``missing`` how many of them lacked
    a value in at least one of the columns (NULL, NaN or ±inf)."""

    x: np.ndarray
    y: np.ndarray | None
    total: int
    missing: int

    @property
    def count(self) -> int:
        return int(self.x.size)


def _as_float(column: pa.ChunkedArray) -> np.ndarray:
    """A column as float64, NULL becoming NaN."""
    floats = column.cast(pa.float64())
    return np.asarray(floats.to_numpy(), dtype=np.float64)


def _first_named(table: pa.Table, name: str) -> pa.ChunkedArray:
    return table.column(table.schema.names.index(name))


def read_values(path: Path, x: ColumnInfo, y: ColumnInfo | None = None) -> PlotValues:
    """Read just the columns ``x`` (and ``y``) of the result at ``path``."""
    names = [x.name] if y is None or y.name == x.name else [x.name, y.name]
    try:
        with _open(path) as file:
            table = file.read(columns=names, use_threads=True)
    except (pa.ArrowException, OSError):
        raise UsageError("the query's result file cannot be read") from None
    xs = _as_float(_first_named(table, x.name))
    ys = _as_float(_first_named(table, y.name)) if y is not None else None
    keep = np.isfinite(xs)
    if ys is not None:
        keep &= np.isfinite(ys)
    total = table.num_rows
    missing = int(total - np.count_nonzero(keep))
    if missing:
        xs = xs[keep]
        ys = ys[keep] if ys is not None else None
    return PlotValues(x=xs, y=ys, total=total, missing=missing)
