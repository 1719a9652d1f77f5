"""HEALPix NESTED indexing at order 29 and index-range arithmetic.

Every positional catalog table carries ``_healpix_29``, the NESTED index of its
(ra, dec) at order 29 (the HATS convention), and is stored sorted by it. In the
NESTED scheme a cell of order ``d`` with index ``i`` contains exactly the order-29
indices ``[i << 2(29-d), (i+1) << 2(29-d))``, so any set of cells becomes a short
list of half-open integer ranges, and a sky query becomes
``_healpix_29 BETWEEN a AND b-1`` clauses followed by an exact test.

Ranges here are always ``int64`` arrays of shape ``(n, 2)`` holding half-open
``[start, end)`` intervals, sorted, with overlapping or touching intervals merged.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested
from numpy.typing import ArrayLike, NDArray

from datalab.errors import UsageError
from datalab.sky._validation import check_order

__all__ = [
    "HEALPIX_ORDER",
    "N_INDICES",
    "cells_to_ranges",
    "complement_ranges",
    "depth_for_radius",
    "healpix_index",
    "healpix_index_arrow",
    "limit_ranges",
    "merge_ranges",
    "ranges_contain",
]

HEALPIX_ORDER = 29
"""Order (depth) of the ``_healpix_29`` column."""

N_INDICES = 12 << (2 * HEALPIX_ORDER)
"""Number of order-29 cells; valid indices are ``0 .. N_INDICES - 1``."""

# Mean angular size of a depth-0 cell: sqrt(4 pi / 12) rad, about 58.6 degrees.
# A cell at depth d is about _CELL_SIZE_0 / 2**d across.
_CELL_SIZE_0 = math.degrees(math.sqrt(4.0 * math.pi / 12.0))

# Depth rule: the largest cells no bigger than radius / _CELLS_PER_RADIUS. With 4 the
# cells measure between radius/8 and radius/4: a cone is then covered by about 10-30
# ranges whose area is typically 1.3x the cone's, instead of 1.5-2x with radius/2
# cells. Fewer, larger cells would make the ranges list shorter but read more rows.
_CELLS_PER_RADIUS = 4.0


def _hash(ra: NDArray[np.float64], dec: NDArray[np.float64], order: int) -> NDArray[np.int64]:
    """cdshealpix hash of already validated, flat coordinates (ra reduced below)."""
    lon = np.mod(ra, 360.0)
    lon[lon >= 360.0] = 0.0  # -1e-20 % 360 rounds to 360.0
    cells = nested.lonlat_to_healpix(
        Longitude(lon, unit=u.deg, copy=False), Latitude(dec, unit=u.deg, copy=False), order
    )
    # Order-29 indices are below 12 * 4**29 < 2**62, so the uint64 bits are the same int64.
    return np.asarray(cells).view(np.int64)


def healpix_index(ra: ArrayLike, dec: ArrayLike, order: int = HEALPIX_ORDER) -> NDArray[np.int64]:
    """NESTED HEALPix index of (ra, dec) in degrees at ``order``, as int64.

    ``ra`` and ``dec`` broadcast against each other; the result has the broadcast
    shape. RA is taken modulo 360 (so -10 and 350 give the same index). Any
    non-finite value or a dec outside [-90, 90] raises :class:`UsageError`: use
    :func:`healpix_index_arrow` for data columns, where such rows become nulls.
    """
    depth = check_order(order)
    ra_arr, dec_arr = np.broadcast_arrays(
        np.asarray(ra, dtype=np.float64), np.asarray(dec, dtype=np.float64)
    )
    for name, values in (("ra", ra_arr), ("dec", dec_arr)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise UsageError(
                f"{name} must be finite; got {float(values[bad].flat[0])!r} "
                f"({int(bad.sum())} non-finite value(s))",
                detail={"parameter": name},
            )
    outside = np.abs(dec_arr) > 90.0
    if outside.any():
        raise UsageError(
            f"dec must be between -90 and 90 degrees; got {float(dec_arr[outside].flat[0])!r} "
            f"({int(outside.sum())} value(s) out of range)",
            detail={"parameter": "dec"},
        )
    flat = _hash(ra_arr.ravel(), dec_arr.ravel(), depth)
    return flat.reshape(ra_arr.shape)


def _arrow_floats(name: str, values: pa.Array | pa.ChunkedArray) -> NDArray[np.float64]:
    """A numeric Arrow column as float64 numpy, nulls turned into NaN.

    Read straight from the Arrow buffers: pyarrow's own conversions (``to_numpy``,
    ``fill_null`` with a scalar) import pandas on first use, which costs an ingest
    process close to half a second.
    """
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        raise UsageError(
            f"{name} must be a pyarrow Array or ChunkedArray; got {type(values).__name__}",
            detail={"parameter": name},
        )
    try:
        as_float = pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise UsageError(
            f"{name} must be a numeric column; got type {values.type}",
            detail={"parameter": name},
        ) from exc
    if isinstance(as_float, pa.ChunkedArray):
        as_float = as_float.combine_chunks()
    n, offset = len(as_float), as_float.offset
    if n == 0:
        return np.empty(0, dtype=np.float64)
    validity, data = as_float.buffers()
    floats = np.frombuffer(data, dtype=np.float64, count=n, offset=offset * 8)
    if as_float.null_count:
        bits = np.frombuffer(validity, dtype=np.uint8)
        valid = np.unpackbits(bits, count=offset + n, bitorder="little")[offset:].astype(bool)
        floats = np.where(valid, floats, math.nan)
    return floats


def _int64_array(values: NDArray[np.int64], valid: NDArray[np.bool_] | None) -> pa.Int64Array:
    """``values`` as an Arrow array without a copy, null where ``valid`` is False.

    Built from buffers for the reason given in :func:`_arrow_floats`.
    """
    values = np.ascontiguousarray(values, dtype=np.int64)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    nulls = 0 if valid is None else len(valid) - int(np.count_nonzero(valid))
    return pa.Array.from_buffers(  # type: ignore[return-value]
        pa.int64(), len(values), [bitmap, pa.py_buffer(values)], null_count=nulls
    )


def healpix_index_arrow(
    ra: pa.Array | pa.ChunkedArray,
    dec: pa.Array | pa.ChunkedArray,
    order: int = HEALPIX_ORDER,
) -> pa.Int64Array:
    """NESTED HEALPix index of Arrow ``ra``/``dec`` columns (degrees), as an Int64Array.

    This is the ingest path, so bad rows do not raise: the result is null wherever
    ra or dec is null or NaN, ra is infinite, or dec lies outside [-90, 90]. Those
    rows simply cannot be found by a positional query. The work is vectorised
    (one cdshealpix call over the whole column); chunked input is returned as one
    contiguous array.
    """
    depth = check_order(order)
    ra_np = _arrow_floats("ra", ra)
    dec_np = _arrow_floats("dec", dec)
    if ra_np.shape != dec_np.shape:
        raise UsageError(
            f"ra and dec must have the same length; got {len(ra_np)} and {len(dec_np)}",
            detail={"parameter": "dec"},
        )
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(ra_np) & (np.abs(dec_np) <= 90.0)
    if valid.all():
        return _int64_array(_hash(ra_np, dec_np, depth), None)
    cells = _hash(np.where(valid, ra_np, 0.0), np.where(valid, dec_np, 0.0), depth)
    return _int64_array(cells, valid)


def merge_ranges(ranges: ArrayLike) -> NDArray[np.int64]:
    """Sort half-open ``[start, end)`` ranges and join overlapping or touching ones."""
    arr = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
    arr = arr[arr[:, 1] > arr[:, 0]]
    if len(arr) == 0:
        return np.empty((0, 2), dtype=np.int64)
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    starts, ends = arr[:, 0], np.maximum.accumulate(arr[:, 1])
    # A new group starts where a range begins strictly after everything before it ended.
    new_group = np.concatenate(([True], starts[1:] > ends[:-1]))
    group_last = np.concatenate((np.flatnonzero(new_group)[1:] - 1, [len(arr) - 1]))
    return np.column_stack((starts[new_group], ends[group_last]))


def cells_to_ranges(ipix: ArrayLike, depth: ArrayLike) -> NDArray[np.int64]:
    """Merged order-29 ranges covering NESTED cells ``ipix`` at ``depth`` (broadcast)."""
    cells, depths = np.broadcast_arrays(
        np.asarray(ipix, dtype=np.int64), np.asarray(depth, dtype=np.int64)
    )
    if cells.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    shift = 2 * (HEALPIX_ORDER - depths.ravel())
    cells = cells.ravel()
    return merge_ranges(np.column_stack((cells << shift, (cells + 1) << shift)))


def complement_ranges(ranges: NDArray[np.int64]) -> NDArray[np.int64]:
    """The order-29 indices not in the merged, sorted ``ranges``, as merged ranges."""
    bounds = np.concatenate(([0], np.asarray(ranges, dtype=np.int64).ravel(), [N_INDICES]))
    return merge_ranges(bounds.reshape(-1, 2))


def limit_ranges(ranges: NDArray[np.int64], max_ranges: int) -> NDArray[np.int64]:
    """Coarsen merged ranges to at most ``max_ranges`` by closing the smallest gaps.

    Closing a gap only adds indices, so the result still covers everything the input
    covered; closing the smallest gaps first adds the fewest indices (and, with the
    table sorted by index, the fewest extra rows to read).
    """
    if isinstance(max_ranges, bool) or not isinstance(max_ranges, int) or max_ranges < 1:
        raise UsageError(
            f"max_ranges must be a positive integer; got {max_ranges!r}",
            detail={"parameter": "max_ranges", "value": repr(max_ranges)},
        )
    excess = len(ranges) - max_ranges
    if excess <= 0:
        return ranges
    gaps = ranges[1:, 0] - ranges[:-1, 1]
    closed = np.zeros(len(gaps), dtype=bool)
    closed[np.argsort(gaps, kind="stable")[:excess]] = True
    first = np.concatenate(([True], ~closed))  # range i opens a group unless gap i-1 closed
    last = np.concatenate((~closed, [True]))  # range i ends a group unless gap i closed
    return np.column_stack((ranges[first, 0], ranges[last, 1]))


def ranges_contain(ranges: NDArray[np.int64], index: ArrayLike) -> NDArray[np.bool_]:
    """Whether each order-29 ``index`` lies in the merged, sorted ``ranges``."""
    idx = np.asarray(index, dtype=np.int64)
    if len(ranges) == 0:
        return np.zeros(idx.shape, dtype=bool)
    pos = np.searchsorted(ranges[:, 0], idx, side="right") - 1
    safe = np.clip(pos, 0, None)
    return (pos >= 0) & (idx < ranges[safe, 1])


def depth_for_radius(radius: float) -> int:
    """Depth at which a shape of this (bounding) radius in degrees is covered.

    Picks the shallowest depth whose cells are no larger than
    ``radius / _CELLS_PER_RADIUS``: deep enough that the cover hugs the shape, shallow
    enough that the range list stays at a few tens. Clamped to [0, 29], so tiny
    shapes use order-29 cells and near-whole-sky shapes use the 12 base cells.
    """
    if radius <= 0.0:
        return HEALPIX_ORDER
    depth = math.ceil(math.log2(_CELLS_PER_RADIUS * _CELL_SIZE_0 / radius))
    return min(max(depth, 0), HEALPIX_ORDER)
