"""healpix_index (numpy and Arrow forms) and the range helpers."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pyarrow as pa
import pytest
from astropy.coordinates import Latitude, Longitude
from cdshealpix.nested import lonlat_to_healpix
from hypothesis import given
from hypothesis import strategies as st

from datalab.errors import UsageError
from datalab.sky import (
    N_INDICES,
    cells_to_ranges,
    complement_ranges,
    depth_for_radius,
    healpix_index,
    healpix_index_arrow,
    limit_ranges,
    merge_ranges,
    ranges_contain,
)
from tests.sky.support import SKY_SETTINGS


def direct(ra, dec, order: int = 29) -> np.ndarray:
    lon = Longitude(np.asarray(ra) * u.deg)  # wraps to [0, 360)
    lat = Latitude(np.asarray(dec) * u.deg)
    return lonlat_to_healpix(lon, lat, order).astype(np.int64)


def test_matches_cdshealpix() -> None:
    rng = np.random.default_rng(1)
    ra = rng.uniform(0, 360, 50_000)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 50_000)))
    ours = healpix_index(ra, dec)
    assert ours.dtype == np.int64
    assert np.array_equal(ours, direct(ra, dec))
    for order in (0, 5, 12):
        assert np.array_equal(healpix_index(ra, dec, order=order), direct(ra, dec, order))


def test_ra_wraps_and_poles() -> None:
    assert healpix_index(-10.0, 20.0) == healpix_index(350.0, 20.0)
    assert healpix_index(360.0, 20.0) == healpix_index(0.0, 20.0)
    assert healpix_index(725.0, -3.0) == healpix_index(5.0, -3.0)
    assert healpix_index(-1e-20, 0.0) == healpix_index(0.0, 0.0)
    north = healpix_index([0.0, 90.0, 271.0], 90.0)
    assert (north >= 0).all() and (north < N_INDICES).all()
    assert 0 <= healpix_index(12.0, -90.0) < N_INDICES


def test_shapes_and_broadcasting() -> None:
    assert healpix_index(10.0, 20.0).shape == ()
    grid = healpix_index(np.array([[1.0, 2.0, 3.0]]), np.array([[10.0], [20.0]]))
    assert grid.shape == (2, 3)
    assert grid[1, 2] == healpix_index(3.0, 20.0)


@pytest.mark.parametrize(
    ("ra", "dec", "message"),
    [
        (np.nan, 0.0, "ra must be finite"),
        (np.inf, 0.0, "ra must be finite"),
        (0.0, np.nan, "dec must be finite"),
        (0.0, 90.5, "dec must be between -90 and 90 degrees; got 90.5"),
        ([1.0, 2.0], [0.0, -91.0], "got -91.0"),
    ],
)
def test_invalid_coordinates(ra, dec, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        healpix_index(ra, dec)


@pytest.mark.parametrize("order", [-1, 30, 2.5, True])
def test_invalid_order(order) -> None:
    with pytest.raises(UsageError, match="order must be an integer between 0 and 29"):
        healpix_index(1.0, 1.0, order=order)


def test_arrow_nulls_nan_and_out_of_range() -> None:
    ra = pa.array([10.0, None, 10.0, np.nan, 10.0, np.inf, -10.0, 10.0, 10.0])
    dec = pa.array([20.0, 20.0, None, 20.0, np.nan, 20.0, 20.0, 90.000001, -90.0])
    out = healpix_index_arrow(ra, dec)
    assert isinstance(out, pa.Int64Array)
    assert out.to_pylist() == [
        int(healpix_index(10.0, 20.0)),
        None,
        None,
        None,
        None,
        None,
        int(healpix_index(350.0, 20.0)),
        None,
        int(healpix_index(10.0, -90.0)),
    ]


def test_arrow_chunked_and_other_numeric_types() -> None:
    rng = np.random.default_rng(2)
    ra = rng.uniform(-180, 540, 10_000)
    dec = rng.uniform(-90, 90, 10_000)
    chunked_ra = pa.chunked_array([pa.array(ra[:3000]), pa.array(ra[3000:])])
    out = healpix_index_arrow(chunked_ra, pa.array(dec))
    assert isinstance(out, pa.Int64Array) and out.null_count == 0
    assert np.array_equal(out.to_numpy(), healpix_index(ra, dec))

    as_float32 = healpix_index_arrow(pa.array(ra, pa.float32()), pa.array(dec, pa.float32()))
    expected = healpix_index(ra.astype(np.float32), dec.astype(np.float32))
    assert np.array_equal(as_float32.to_numpy(), expected)

    ints = healpix_index_arrow(pa.array([10, 370], pa.int32()), pa.array([5, 5], pa.int64()))
    assert ints.to_pylist() == [int(healpix_index(10, 5))] * 2
    assert len(healpix_index_arrow(pa.array([], pa.float64()), pa.array([], pa.float64()))) == 0


def test_arrow_rejects_bad_columns() -> None:
    with pytest.raises(UsageError, match="same length; got 2 and 1"):
        healpix_index_arrow(pa.array([1.0, 2.0]), pa.array([1.0]))
    with pytest.raises(UsageError, match="ra must be a numeric column"):
        healpix_index_arrow(pa.array(["a"]), pa.array([1.0]))
    with pytest.raises(UsageError, match="dec must be a pyarrow Array"):
        healpix_index_arrow(pa.array([1.0]), [1.0])


def test_arrow_million_rows_nulls_where_invalid() -> None:
    rng = np.random.default_rng(3)
    n = 1_000_000
    ra = pa.array(rng.uniform(0, 360, n))
    dec_values = rng.uniform(-90, 90, n)
    dec_values[::997] = np.nan
    null = rng.random(n) < 0.01
    dec = pa.array(dec_values, mask=null)
    out = healpix_index_arrow(ra, dec)
    assert len(out) == n and out.null_count == (null | np.isnan(dec_values)).sum()


def test_merge_ranges_joins_overlaps_and_neighbours() -> None:
    merged = merge_ranges([[10, 20], [0, 5], [5, 7], [15, 30], [40, 41], [41, 41]])
    assert merged.tolist() == [[0, 7], [10, 30], [40, 41]]
    assert merge_ranges(np.empty((0, 2))).shape == (0, 2)


def test_complement_ranges() -> None:
    ranges = np.array([[0, 5], [10, 20]], dtype=np.int64)
    assert complement_ranges(ranges).tolist() == [[5, 10], [20, N_INDICES]]
    assert complement_ranges(np.empty((0, 2), dtype=np.int64)).tolist() == [[0, N_INDICES]]
    assert complement_ranges(np.array([[0, N_INDICES]])).shape == (0, 2)


def test_cells_to_ranges() -> None:
    shift = 2 * (29 - 3)
    ranges = cells_to_ranges([5, 4, 7], 3)
    assert ranges.tolist() == [[4 << shift, 6 << shift], [7 << shift, 8 << shift]]
    mixed = cells_to_ranges([0, 1], [0, 1])  # base cell 0 contains depth-1 cell 1
    assert mixed.tolist() == [[0, 1 << 58]]
    assert cells_to_ranges([11], 0).tolist() == [[11 << 58, N_INDICES]]


@SKY_SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 10**4)), min_size=1, max_size=40),
    st.integers(1, 10),
)
def test_limit_ranges_covers_and_bounds(pairs: list[tuple[int, int]], limit: int) -> None:
    ranges = merge_ranges([[start, start + length] for start, length in pairs])
    limited = limit_ranges(ranges, limit)
    assert len(limited) <= limit
    assert (limited[1:, 0] > limited[:-1, 1]).all()
    probes = np.concatenate([ranges[:, 0], ranges[:, 1] - 1])
    assert ranges_contain(limited, probes).all()
    if len(ranges) <= limit:
        assert np.array_equal(limited, ranges)


@pytest.mark.parametrize("bad", [0, -3, 1.5, None, True])
def test_limit_ranges_rejects_bad_limits(bad) -> None:
    with pytest.raises(UsageError, match="max_ranges must be a positive integer"):
        limit_ranges(np.array([[0, 1], [2, 3]], dtype=np.int64), bad)


def test_ranges_contain_edges() -> None:
    ranges = np.array([[10, 20], [30, 31]], dtype=np.int64)
    probes = np.array([0, 9, 10, 19, 20, 29, 30, 31, 10**18])
    assert ranges_contain(ranges, probes).tolist() == [
        False, False, True, True, False, False, True, False, False,
    ]  # fmt: skip
    assert not ranges_contain(np.empty((0, 2), dtype=np.int64), [5]).any()


def test_depth_for_radius() -> None:
    assert depth_for_radius(180.0) == 1
    assert depth_for_radius(1000.0) == 0
    assert depth_for_radius(0.0) == 29
    assert depth_for_radius(1e-3 / 3600) == 29
    depths = [depth_for_radius(r) for r in (90, 10, 1, 1 / 60, 1 / 3600)]
    assert depths == sorted(depths)
    # Cells come out between radius/8 and radius/4 (mean cell size 58.6 deg / 2**d).
    for radius in (30.0, 1.0, 0.01, 1 / 3600):
        cell = 58.63 / 2 ** depth_for_radius(radius)
        assert radius / 8 < cell <= radius / 4 * 1.001
