"""Polygon: exact test against independent references, covers, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from datalab.errors import UsageError
from datalab.sky import Polygon, angular_distance
from tests.sky.support import (
    SKY_SETTINGS,
    assert_covers,
    assert_valid_ranges,
    decs,
    densified_inside,
    fan_area,
    from_gnomonic,
    log_sizes,
    planar_distance_to_boundary,
    planar_inside,
    points_in_cap,
    ras,
    seeds,
    to_gnomonic,
)

MAX_DEFAULT_RANGES = 64
SQ_DEG_PER_SR = (180.0 / math.pi) ** 2


@st.composite
def star_polygons(draw: st.DrawFn) -> tuple[float, float, np.ndarray, np.ndarray]:
    """A polygon star-shaped around a centre, as tangent-plane vertices (x, y).

    Vertices sorted by angle around the centre, with every angular gap under 180
    degrees, make a simple polygon containing the centre; in the gnomonic projection
    great-circle edges are straight, so planar geometry gives the exact answer.
    """
    ra0, dec0 = draw(ras), draw(decs)
    n = draw(st.integers(3, 12))
    # Gaps in [1, 1.7] keep every angular gap below 170 degrees, even for triangles.
    gaps = np.array(draw(st.lists(st.floats(1.0, 1.7), min_size=n, max_size=n)))
    angles = np.cumsum(gaps / gaps.sum() * 2 * np.pi) + draw(st.floats(0.0, 2 * np.pi))
    size = draw(st.one_of(log_sizes, st.floats(30.0, 75.0)))
    scale = math.tan(math.radians(size))
    radii = scale * np.array(draw(st.lists(st.floats(0.1, 1.0), min_size=n, max_size=n)))
    return ra0, dec0, radii * np.sin(angles), radii * np.cos(angles)


def star_points(ra0, dec0, vx, vy, rng: np.random.Generator):
    """Points around a star polygon: its cap, plus points just inside every edge."""
    vra, vdec = from_gnomonic(ra0, dec0, vx, vy)
    reach = angular_distance(ra0 % 360, dec0, vra, vdec).max()
    cap_ra, cap_dec = points_in_cap(ra0 % 360, dec0, min(reach * 1.2 + 1e-9, 180.0), 1500, rng)
    edge = rng.integers(0, len(vx), 600)
    t = rng.random(600)
    ex = vx[edge] + t * (np.roll(vx, -1)[edge] - vx[edge])
    ey = vy[edge] + t * (np.roll(vy, -1)[edge] - vy[edge])
    shrink = 1.0 - rng.choice([1e-3, 1e-7, 1e-11], 600)  # towards the centre: inside
    near_ra, near_dec = from_gnomonic(ra0, dec0, ex * shrink, ey * shrink)
    return (
        np.concatenate([cap_ra, near_ra, vra]),
        np.concatenate([cap_dec, near_dec, vdec]),
    )


@SKY_SETTINGS
@given(star_polygons(), seeds)
def test_star_polygons(polygon_spec, seed: int) -> None:
    ra0, dec0, vx, vy = polygon_spec
    vra, vdec = from_gnomonic(ra0, dec0, vx, vy)
    polygon = Polygon(list(zip(vra, vdec, strict=True)))
    pts_ra, pts_dec = star_points(ra0, dec0, vx, vy, np.random.default_rng(seed))
    inside = polygon.contains(pts_ra, pts_dec)

    # Independent answer: planar ray casting in the tangent plane.
    px, py, front = to_gnomonic(ra0, dec0, pts_ra, pts_dec)
    scale = np.abs(np.concatenate([vx, vy])).max()
    with np.errstate(invalid="ignore"):
        expected = front & planar_inside(px, py, vx, vy)
        clear = ~front | (planar_distance_to_boundary(px, py, vx, vy) > 1e-12 + 1e-8 * scale)
    assert np.array_equal(inside[clear], expected[clear])

    # Either winding order describes the same (smaller) region.
    reversed_polygon = Polygon(list(zip(vra[::-1], vdec[::-1], strict=True)))
    assert np.array_equal(reversed_polygon.contains(pts_ra, pts_dec)[clear], expected[clear])
    assert math.isclose(reversed_polygon.area, polygon.area, rel_tol=1e-9)
    area = fan_area((ra0, dec0), list(zip(vra, vdec, strict=True))) * SQ_DEG_PER_SR
    assert math.isclose(polygon.area, area, rel_tol=1e-6, abs_tol=1e-18)

    bound = polygon.bounding_circle()
    far = angular_distance(bound.ra, bound.dec, pts_ra[inside], pts_dec[inside])
    assert (far <= bound.radius + 1e-9).all()

    ranges = polygon.ranges()
    assert_valid_ranges(ranges)
    assert len(ranges) <= MAX_DEFAULT_RANGES
    assert assert_covers(polygon, ranges, pts_ra, pts_dec) > 0
    assert np.array_equal(reversed_polygon.ranges(), ranges)


def ring(dec: float, step: float = 45.0) -> list[tuple[float, float]]:
    return [(ra, dec) for ra in np.arange(0.0, 360.0, step)]


def sphere_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


@pytest.mark.parametrize(
    ("vertices", "outside"),
    [
        (ring(10.0), (0.0, -90.0)),
        (ring(10.0)[::-1], (0.0, -90.0)),
        (ring(-30.0, 20.0), (0.0, 90.0)),
        # Lopsided: many vertices just south of the equator over half the sky and a
        # few at +60. The smaller region still holds the north pole, although the
        # vertices' mean position is in the south.
        (
            [(ra, -5.0) for ra in np.arange(0.0, 181.0, 4.5)] + [(240.0, 60.0), (300.0, 60.0)],
            (0.0, -90.0),
        ),
        # Across RA 0 with a vertex on the pole.
        ([(350.0, 40.0), (10.0, 40.0), (0.0, 90.0)], (0.0, 0.0)),
        # Concave (an L shape) straddling RA 0.
        (
            [(355.0, 0.0), (15.0, 0.0), (15.0, 5.0), (5.0, 5.0), (5.0, 20.0), (355.0, 20.0)],
            (180.0, 0.0),
        ),
    ],
)
def test_polygons_against_brute_force(vertices, outside) -> None:
    polygon = Polygon(vertices)
    ra, dec = sphere_points(5_000, 4)
    inside = polygon.contains(ra, dec)
    expected, clear = densified_inside(vertices, ra, dec, outside)
    assert np.array_equal(inside[clear], expected[clear])
    assert polygon.area <= 360.0**2 / math.pi / 2 + 1e-9  # never more than a hemisphere
    ranges = polygon.ranges()
    assert_valid_ranges(ranges)
    assert len(ranges) <= MAX_DEFAULT_RANGES
    assert assert_covers(polygon, ranges, ra, dec) > 0


def test_ring_regions_and_poles() -> None:
    north = Polygon(ring(10.0))
    assert north.contains([0, 123, 0], [90, 45, 0]).tolist() == [True, True, False]
    assert np.array_equal(Polygon(ring(10.0)[::-1]).ranges(), north.ranges())
    south = Polygon(ring(-10.0))
    assert south.contains([0, 0], [-90, 0]).tolist() == [True, False]


def test_hemisphere_polygon_keeps_the_left_side() -> None:
    # Four vertices round the equator bound two equal halves: the region to the left
    # of the vertices in the given order is used (north for eastward travel).
    east = Polygon([(0, 0), (90, 0), (180, 0), (270, 0)])
    west = Polygon([(270, 0), (180, 0), (90, 0), (0, 0)])
    assert east.contains([10, 10], [45, -45]).tolist() == [True, False]
    assert west.contains([10, 10], [45, -45]).tolist() == [False, True]
    assert math.isclose(east.area, 360.0**2 / math.pi / 2, rel_tol=1e-9)
    ra, dec = sphere_points(5_000, 5)
    assert_covers(east, east.ranges(), ra, dec)


def test_tiny_polygon() -> None:
    size = 0.001 / 3600  # 0.001 arcsec
    polygon = Polygon([(10.0, 45.0), (10.0 + 2 * size, 45.0), (10.0 + size, 45.0 + size)])
    assert polygon.contains(10.0 + size, 45.0 + size / 3)
    assert not polygon.contains(10.0 + size, 45.0 - size / 3)
    ranges = polygon.ranges()
    assert_valid_ranges(ranges)
    assert (ranges[:, 1] - ranges[:, 0]).sum() < 200  # a few order-29 cells


@pytest.mark.parametrize(
    ("vertices", "message"),
    [
        ([(0, 0), (1, 0)], "at least 3 vertices; got 2"),
        ([(0, 0), (1, 0), (1,)], "vertex 2 must be an \\(ra, dec\\) pair"),
        ([(0, 0), (1, 0), (1, math.nan)], "vertex 2 dec must be a finite number; got nan"),
        ([(0, 0), (math.inf, 0), (1, 1)], "vertex 1 ra must be a finite number; got inf"),
        ([(0, 0), (1, 0), (1, 91)], "vertex 2 dec must be between -90 and 90 degrees; got 91"),
        ([(0, 0), (1, 0), (1, 0), (0, 1)], "vertices 1 and 2 are the same point"),
        ([(0, 0), (1, 0), (0, 1), (360, 0)], "vertices 3 and 0 are the same point"),
        ([(0, 0), (180, 0), (90, 45)], "vertices 0 and 1 are antipodal"),
        ([(10, 20), (190, -20), (90, 45)], "vertices 0 and 1 are antipodal"),
        ([(0, 0), (10, 10), (10, 0), (0, 10)], "edges 0-1 and 2-3 cross"),
        # A degenerate triangle: all on the equator, so the boundary runs back over itself.
        ([(0, 0), (10, 0), (5, 0)], "doubles back on itself at vertex 0"),
        # With more vertices a fold also makes non-adjacent edges touch.
        ([(0, 0), (10, 0), (5, 0), (5, 5)], "edges 0-1 and 2-3 cross or touch"),
        ([(0, 0), (10, 0), (10, 10), (5, 0), (0, 10)], "edges 0-1 and 2-3 cross or touch"),
    ],
)
def test_invalid_polygons(vertices, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Polygon(vertices)


def test_polygon_value_semantics() -> None:
    first = Polygon([(-10, 0), (10, 0), (0, 10)])
    assert first.vertices == ((350.0, 0.0), (10.0, 0.0), (0.0, 10.0))
    assert first == Polygon([(350, 0), (10, 0), (0, 10)])
    assert hash(first) == hash(Polygon([(350, 0), (10, 0), (0, 10)]))
    assert first != Polygon([(10, 0), (350, 0), (0, 10)])
    assert "Polygon([(350.0, 0.0)" in repr(first)
    assert first.contains(np.zeros((2, 2)), 5.0).shape == (2, 2)
    assert not first.contains([np.nan, 0.0], [5.0, 95.0]).any()
