"""Circle and Box: exact tests against astropy, covers, validation."""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from hypothesis import given
from hypothesis import strategies as st

from datalab.errors import UsageError
from datalab.sky import N_INDICES, Box, Circle, angular_distance, ranges_contain
from tests.sky.support import (
    SKY_SETTINGS,
    assert_covers,
    assert_valid_ranges,
    covered_fraction,
    decs,
    from_gnomonic,
    log_sizes,
    points_in_cap,
    ras,
    seeds,
    to_gnomonic,
)

MAX_DEFAULT_RANGES = 64


def circle_points(circle: Circle, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points around a circle: uniform in a slightly larger cap, plus boundary huggers."""
    ra_in, dec_in = points_in_cap(circle.ra, circle.dec, circle.radius * 1.3 + 1e-9, 1500, rng)
    pa = rng.uniform(0, 360, 600) * u.deg
    shrink = rng.choice([1e-4, 1e-8, 1e-12], 600)
    edge = SkyCoord(circle.ra * u.deg, circle.dec * u.deg).directional_offset_by(
        pa, circle.radius * (1.0 - shrink) * u.deg
    )
    return np.concatenate([ra_in, edge.ra.deg]), np.concatenate([dec_in, edge.dec.deg])


@SKY_SETTINGS
@given(ras, decs, st.one_of(log_sizes, st.floats(60.0, 180.0)), seeds)
def test_circle_contains_and_cover(ra: float, dec: float, radius: float, seed: int) -> None:
    circle = Circle(ra, dec, radius)
    rng = np.random.default_rng(seed)
    pts_ra, pts_dec = circle_points(circle, rng)

    # Exact test agrees with astropy's separation away from the boundary itself.
    separation = (
        SkyCoord(circle.ra * u.deg, circle.dec * u.deg)
        .separation(SkyCoord(pts_ra * u.deg, pts_dec * u.deg))
        .deg
    )
    clear = np.abs(separation - radius) > 1e-9
    assert np.array_equal(circle.contains(pts_ra, pts_dec)[clear], (separation <= radius)[clear])

    ranges = circle.ranges()
    assert_valid_ranges(ranges)
    assert len(ranges) <= MAX_DEFAULT_RANGES
    assert assert_covers(circle, ranges, pts_ra, pts_dec) > 0
    if radius >= 0.5 / 3600:
        # Tight enough to be useful: at most a few times the circle's own area.
        area = 2 * math.pi * (1 - math.cos(math.radians(radius))) / (4 * math.pi)
        assert covered_fraction(ranges) <= max(4.0 * area, 1e-300)


@SKY_SETTINGS
@given(ras, decs, st.floats(1e-4, 90.0), st.integers(1, 8), seeds)
def test_max_ranges_coarsens_but_still_covers(
    ra: float, dec: float, radius: float, limit: int, seed: int
) -> None:
    circle = Circle(ra, dec, radius)
    limited = circle.ranges(max_ranges=limit)
    assert_valid_ranges(limited)
    assert len(limited) <= limit
    assert_covers(circle, limited, *circle_points(circle, np.random.default_rng(seed)))
    full = circle.ranges()
    assert ranges_contain(limited, np.concatenate([full[:, 0], full[:, 1] - 1])).all()


def test_circle_special_sizes() -> None:
    assert Circle(10, 10, 180).ranges().tolist() == [[0, N_INDICES]]
    assert Circle(10, 10, 180).contains([190, 0], [-10, -90]).all()
    point = Circle(123.4, -56.7, 0)
    assert point.contains(123.4, -56.7) and not point.contains(123.4, -56.7000001)
    assert_valid_ranges(point.ranges())
    # 0.001 arcsec circles are covered by a handful of order-29 cells.
    tiny = Circle(359.9999999, 89.9999999, 0.001 / 3600)
    assert_valid_ranges(tiny.ranges())
    assert (tiny.ranges()[:, 1] - tiny.ranges()[:, 0]).sum() < 100
    assert len(Circle(0, 0, 179).ranges()) <= MAX_DEFAULT_RANGES


def test_circle_wraps_ra_and_handles_poles() -> None:
    circle = Circle(-0.5, 0, 1)
    assert circle.ra == 359.5
    assert circle.contains([0.4, 359.0, 358.6, 1.0], [0, 0, 0, 0]).tolist() == [
        True, True, True, False,
    ]  # fmt: skip
    polar = Circle(45, 90, 2)
    assert polar.contains([0, 90, 180, 270, 12], [88.5, 88.5, 88.5, 88.5, 87.9]).tolist() == [
        True, True, True, True, False,
    ]  # fmt: skip
    # NaN, infinite RA and impossible dec are simply not inside.
    assert not Circle(0, 0, 180).contains([np.nan, np.inf, 0.0], [0.0, 0.0, 91.0]).any()


def box_reference(box: Box, ra, dec) -> tuple[np.ndarray, np.ndarray]:
    """Inside/outside from astropy's offset frame, and a mask of points clear of the edge."""
    x, y, front = to_gnomonic(box.ra, box.dec, ra, dec)
    tw, th = math.tan(math.radians(box.width / 2)), math.tan(math.radians(box.height / 2))
    with np.errstate(invalid="ignore"):
        inside = front & (np.abs(x) <= tw) & (np.abs(y) <= th)
        # Doubles place a point only to ~1e-16 rad, and both computations round; do
        # not judge points closer to a side than that, whatever the box size.
        clear = (np.abs(np.abs(x) - tw) > 1e-12 + 1e-9 * tw) & (
            np.abs(np.abs(y) - th) > 1e-12 + 1e-9 * th
        )
    return inside, clear & np.isfinite(x) & np.isfinite(y)


def box_points(box: Box, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points around a box: a cap around it, plus points just inside its sides/corners."""
    radius = box.bounding_circle().radius
    ra_in, dec_in = points_in_cap(box.ra, box.dec, min(radius * 1.3 + 1e-9, 180.0), 1500, rng)
    # Points on the arms of the cross, which are inside even for the thinnest boxes.
    along_width = rng.random(400) < 0.5
    pa = np.where(along_width, rng.choice([90.0, 270.0], 400), rng.choice([0.0, 180.0], 400))
    reach = np.where(along_width, box.width, box.height) / 2 * rng.uniform(0, 1 - 1e-9, 400)
    arms = SkyCoord(box.ra * u.deg, box.dec * u.deg).directional_offset_by(
        pa * u.deg, reach * u.deg
    )
    ra_in = np.concatenate([ra_in, arms.ra.deg])
    dec_in = np.concatenate([dec_in, arms.dec.deg])
    if box.width >= 179.9 or box.height >= 179.9:
        return ra_in, dec_in
    tw, th = math.tan(math.radians(box.width / 2)), math.tan(math.radians(box.height / 2))
    n = 600
    shrink = 1.0 - rng.choice([1e-4, 1e-8, 1e-12], n)
    x = rng.uniform(-tw, tw, n)
    y = rng.choice([-1.0, 1.0], n) * th * shrink
    on_side = rng.random(n) < 0.5  # half along the E/W sides instead of N/S
    x, y = (
        np.where(on_side, rng.choice([-1.0, 1.0], n) * tw * shrink, x),
        np.where(on_side, rng.uniform(-th, th, n), y),
    )
    ra_edge, dec_edge = from_gnomonic(box.ra, box.dec, x, y)
    return np.concatenate([ra_in, ra_edge]), np.concatenate([dec_in, dec_edge])


box_sizes = st.one_of(log_sizes, st.floats(60.0, 180.0), st.just(180.0))


@SKY_SETTINGS
@given(ras, decs, box_sizes, box_sizes, seeds)
def test_box_contains_and_cover(
    ra: float, dec: float, width: float, height: float, seed: int
) -> None:
    box = Box(ra, dec, width, height)
    pts_ra, pts_dec = box_points(box, np.random.default_rng(seed))
    inside = box.contains(pts_ra, pts_dec)
    if width < 179.9 and height < 179.9:
        expected, clear = box_reference(box, pts_ra, pts_dec)
        assert np.array_equal(inside[clear], expected[clear])
    # The bounding circle really bounds.
    bound = box.bounding_circle()
    distance = angular_distance(bound.ra, bound.dec, pts_ra[inside], pts_dec[inside])
    assert (distance <= bound.radius + 1e-9).all()

    ranges = box.ranges()
    assert_valid_ranges(ranges)
    assert len(ranges) <= MAX_DEFAULT_RANGES
    assert assert_covers(box, ranges, pts_ra, pts_dec) > 0


def test_box_sides_are_great_circles_not_parallels() -> None:
    box = Box(0, 0, 10, 10)
    # The top side dips below dec = 5 away from the centre meridian (ADQL BOX is
    # not an RA/dec range), while the centre of the top side is at dec = 5.
    assert box.contains([0, 4.99, 4.99, 0], [4.999, 4.9, 4.99, 5.001]).tolist() == [
        True, True, False, False,
    ]  # fmt: skip
    # Arms are great-circle arcs of half the size: the east arm ends 5 degrees away.
    assert box.contains(4.9999, 0) and not box.contains(5.0001, 0)
    high = Box(0, 60, 20, 2)
    east_end = SkyCoord(0 * u.deg, 60 * u.deg).directional_offset_by(90 * u.deg, 10 * u.deg)
    assert high.contains(east_end.ra.deg - 1e-6, east_end.dec.deg)
    # 10 degrees of arc east of (0, 60) is at RA 19.4, dec 58.5: the box reaches far
    # past RA 10, and its top side there runs near dec 58.6 rather than along dec 61.
    assert high.contains([10.0, 19.0], [60.0, 58.6]).all()
    assert not high.contains(19.0, 60.0)


def test_box_at_pole_and_across_ra_zero() -> None:
    polar = Box(0, 90, 10, 10)
    # Oriented by its RA: east is RA 90, north is RA 180; corners along the diagonals.
    assert polar.contains([45, 0, 90, 180, 270], [83, 90, 85.1, 85.1, 85.1]).all()
    assert not polar.contains([0, 90], [84, 84]).any()
    wrapped = Box(359, -10, 4, 2)
    assert wrapped.contains([0.9, 357.1, 359], [-10, -10, -10.9]).all()
    assert not wrapped.contains([1.2, 356.8], [-10, -10]).any()


def test_box_hemisphere_and_lune() -> None:
    hemisphere = Box(30, 20, 180, 180)
    assert hemisphere.contains([30, 110, 210], [70, 0, -20]).tolist() == [True, True, False]
    assert_valid_ranges(hemisphere.ranges())
    assert covered_fraction(hemisphere.ranges()) < 0.75
    lune = Box(0, 0, 180, 10)
    # A lune: 5 degrees high at the centre, narrowing to its tips 90 degrees away.
    assert lune.contains([60, 300, 0, 45, 89], [2, -2, 4.9, 5.0, 0.5]).tolist() == [
        True, True, True, False, False,
    ]  # fmt: skip
    assert covered_fraction(lune.ranges()) < 0.2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Circle(0, 0, -1), "radius must be in \\[0, 180\\] degrees; got -1"),
        (lambda: Circle(0, 0, 180.5), "radius must be in \\[0, 180\\] degrees; got 180.5"),
        (lambda: Circle(0, 0, math.nan), "radius must be a finite number; got nan"),
        (lambda: Circle(math.inf, 0, 1), "ra must be a finite number; got inf"),
        (lambda: Circle(0, 90.01, 1), "dec must be between -90 and 90 degrees; got 90.01"),
        (lambda: Circle(0, -91, 1), "dec must be between -90 and 90 degrees; got -91"),
        (lambda: Circle("1", 0, 1), "ra must be a real number in degrees; got '1'"),
        (lambda: Circle(0, True, 1), "dec must be a real number in degrees; got True"),
        (lambda: Box(0, 0, 0, 1), "width must be in \\(0, 180\\] degrees; got 0"),
        (lambda: Box(0, 0, 1, -2), "height must be in \\(0, 180\\] degrees; got -2"),
        (lambda: Box(0, 0, 181, 1), "width must be in \\(0, 180\\] degrees; got 181"),
        (lambda: Box(0, 0, 1, math.inf), "height must be a finite number; got inf"),
        (lambda: Box(0, math.nan, 1, 1), "dec must be a finite number; got nan"),
    ],
)
def test_validation(make, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        make()
    assert caught.value.detail["parameter"] in message


def test_shapes_are_values() -> None:
    assert Circle(-10, 0, 1) == Circle(350, 0, 1)
    assert hash(Box(1, 2, 3, 4)) == hash(Box(361, 2, 3, 4))
    assert Circle(0, 0, 1).contains(np.zeros((2, 3)), 0.5).shape == (2, 3)
