"""Client-side result formats: the server sends CSV, the caller gets Python objects.

The names are the official client's (``pandas``, ``table``, ``array``, ``structarray``,
``csv-noheader``); like it, duplicate column names get ``_1``, ``_2``… first, since
neither astropy nor numpy can hold two columns of one name.
"""

from __future__ import annotations

import io
from typing import Any

__all__ = ["BINARY_FORMATS", "CONVERTED", "convert", "server_format"]

# Asked of the server as CSV, converted here.
CONVERTED = frozenset({"pandas", "table", "array", "structarray", "csv-noheader"})
# Answered as bytes: decoding them as text would corrupt them.
BINARY_FORMATS = frozenset({"fits", "parquet", "votable/b", "votable/b2", "hdf5"})


def server_format(fmt: str) -> str:
    """The ``ofmt`` sent for the caller's ``fmt``."""
    return "csv" if fmt in CONVERTED else fmt


def _dedupe_header(text: str) -> str:
    header, newline, rest = text.partition("\n")
    seen: dict[str, int] = {}
    names = []
    for name in header.rstrip("\r").split(","):
        if name in seen:
            names.append(f"{name}_{seen[name]}")
            seen[name] += 1
        else:
            names.append(name)
            seen[name] = 1
    return ",".join(names) + newline + rest


def convert(text: str, fmt: str) -> Any:
    """``text`` (CSV with a header line) as the object ``fmt`` names."""
    if fmt == "csv-noheader":
        return text.partition("\n")[2]
    text = _dedupe_header(text)
    if fmt == "pandas":
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("fmt='pandas' needs pandas: pip install pandas") from exc
        return pd.read_csv(io.StringIO(text))
    if fmt == "table":
        from astropy.table import Table

        return Table.read(text, format="ascii.csv")
    import numpy as np

    if fmt == "array":
        # As the official client: the numbers only, one row per line (blank → nan).
        return np.genfromtxt(io.StringIO(text), delimiter=",", skip_header=1)
    if fmt == "structarray":
        return np.genfromtxt(
            io.StringIO(text), delimiter=",", names=True, dtype=None, encoding="utf-8"
        )
    raise ValueError(f"unknown client-side format {fmt!r}")
