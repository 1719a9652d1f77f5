"""The cover engine's one assumption about HEALPix cells, and regressions."""

from __future__ import annotations

import numpy as np
import pytest
from cdshealpix.nested import healpix_to_lonlat

from datalab.sky import Box, Circle, angular_distance, healpix_index, ranges_contain
from datalab.sky._base import _caps


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 5, 9, 14, 20, 29])
def test_bounding_caps_contain_their_cells(depth: int) -> None:
    """Every point of a cell lies in its cap (the engine's correctness rests on it)."""
    rng = np.random.default_rng(depth)
    n_cells = 12 * 4**depth
    cells = np.unique(rng.integers(0, n_cells, min(n_cells, 400))).astype(np.uint64)
    ra, dec, radius = _caps(cells, depth)
    # Points spread over each cell, edges and corners included (dx, dy in [0, 1)).
    grid = np.concatenate([np.linspace(0.0, 1.0 - 1e-12, 9), rng.random(8)])
    for dx in grid:
        for dy in (0.0, 1.0 - 1e-12, float(rng.random())):
            for x, y in ((dx, dy), (dy, dx)):
                lon, lat = healpix_to_lonlat(cells, depth, dx=x, dy=y)
                distance = angular_distance(ra, dec, lon.deg, lat.deg)
                assert (distance <= radius).all()


def test_cone_that_cdshealpix_misses_is_covered() -> None:
    """cdshealpix 0.9 ``cone_search`` leaves out a cell this cone plainly overlaps."""
    ra, dec, radius = 124.82, -20.601, 10.0185
    missed_cell = 157695  # depth 7; centre 9.79 degrees from the cone centre
    centre_lon, centre_lat = healpix_to_lonlat(np.array([missed_cell], np.uint64), 7)
    assert angular_distance(ra, dec, centre_lon.deg, centre_lat.deg)[0] < radius
    circle = Circle(ra, dec, radius)
    index = healpix_index(centre_lon.deg, centre_lat.deg)
    assert ranges_contain(circle.ranges(), index).all()


def test_refinement_keeps_thin_shapes_tight_and_short() -> None:
    thin = Box(10, 20, 60, 0.001)
    ranges = thin.ranges()
    assert len(ranges) <= 32
    # Far tighter than the bounding circle's depth alone would give (~3% of the sky).
    assert (ranges[:, 1] - ranges[:, 0]).sum() / (12 * 4**29) < 0.005
