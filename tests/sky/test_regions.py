"""Region-region predicates (``intersects``, ``contains``) against a brute-force reference.

The reference knows nothing of datalab.sky: each region is described by astropy
(separations for circles) or by planar geometry in its own tangent plane (boxes and
star-shaped polygons, whose great-circle sides are straight lines there). It samples
each region densely (its boundary at a known spacing, plus interior points) and
decides only the clear cases:

* two regions clearly intersect when a sample of one lies inside the other farther
  than a margin from its boundary; they are clearly apart when no sample of either
  lies in the other and their sampled boundaries stay more than two spacings apart
  (then the boundaries do not meet, and neither region holds the other);
* ``inner`` is clearly in ``outer`` when every boundary sample of ``inner`` is inside
  ``outer`` by more than a spacing (the boundary between samples cannot get out);
  it is clearly not when some sample of ``inner`` is outside by more than a margin.

Examples where the reference cannot decide are skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from hypothesis import given
from hypothesis import strategies as st

from datalab.errors import UsageError
from datalab.sky import Box, Circle, Polygon, Region, boundary_vertices, contains, intersects
from tests.sky.support import (
    SKY_SETTINGS,
    decs,
    from_gnomonic,
    planar_distance_to_boundary,
    planar_inside,
    points_in_cap,
    ras,
    seeds,
    to_gnomonic,
    unit_xyz,
)

BOUNDARY_SAMPLES = 160  # per edge of a box or polygon
CIRCLE_SAMPLES = 720
INTERIOR_SAMPLES = 600


@dataclass
class Reference:
    """A region as the reference sees it: a membership test with a clearance."""

    shape: Region
    adql: str
    size: float  # radians: radius, or the farthest vertex from the centre
    centre: tuple[float, float]
    # Tangent-plane vertices for boxes and polygons (None for circles).
    planar: tuple[np.ndarray, np.ndarray] | None = None
    boundary: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.empty(0),) * 2)
    spacing: float = 0.0  # radians, largest gap between consecutive boundary samples

    def __repr__(self) -> str:
        return self.adql

    def member(self, ra, dec) -> tuple[np.ndarray, np.ndarray]:
        """(inside, lower bound of the angular distance in radians to the boundary)."""
        ra, dec = np.atleast_1d(ra), np.atleast_1d(dec)
        if self.planar is None:
            assert isinstance(self.shape, Circle)
            sep = (
                SkyCoord(self.centre[0] * u.deg, self.centre[1] * u.deg)
                .separation(SkyCoord(ra * u.deg, dec * u.deg))
                .rad
            )
            return sep <= math.radians(self.shape.radius), np.abs(
                sep - math.radians(self.shape.radius)
            )
        vx, vy = self.planar
        x, y, front = to_gnomonic(*self.centre, ra, dec)
        with np.errstate(invalid="ignore"):
            inside = front & planar_inside(x, y, vx, vy)
            # The gnomonic projection stretches lengths by at most 1 + rho^2.
            rho = np.maximum(np.hypot(x, y), np.hypot(vx, vy).max())
            clearance = planar_distance_to_boundary(x, y, vx, vy) / (1.0 + rho**2)
        # Points behind the tangent plane are at least 90 - 60 degrees away.
        return inside, np.where(front, clearance, math.radians(30.0))

    def interior(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        reach = math.degrees(self.size) * 1.01 + 1e-9
        ra, dec = points_in_cap(*self.centre, min(reach, 180.0), INTERIOR_SAMPLES, rng)
        inside, _ = self.member(ra, dec)
        return ra[inside], dec[inside]


def circle_ref(ra0: float, dec0: float, radius: float) -> Reference:
    ra0 %= 360.0
    sep = np.full(CIRCLE_SAMPLES, radius)
    pa = np.linspace(0.0, 360.0, CIRCLE_SAMPLES, endpoint=False)
    edge = SkyCoord(ra0 * u.deg, dec0 * u.deg).directional_offset_by(pa * u.deg, sep * u.deg)
    r = math.radians(radius)
    return Reference(
        Circle(ra0, dec0, radius),
        f"CIRCLE({ra0!r}, {dec0!r}, {radius!r})",
        r,
        (ra0, dec0),
        boundary=(edge.ra.deg, edge.dec.deg),
        spacing=2.0 * math.pi * math.sin(min(r, math.pi / 2)) / CIRCLE_SAMPLES * 1.01,
    )


def loop_ref(shape: Region, adql: str, ra0: float, dec0: float, vx, vy) -> Reference:
    vx, vy = np.asarray(vx, dtype=float), np.asarray(vy, dtype=float)
    t = np.linspace(0.0, 1.0, BOUNDARY_SAMPLES, endpoint=False)[:, None]
    nx, ny = np.roll(vx, -1), np.roll(vy, -1)
    bx, by = (vx + t * (nx - vx)).ravel(), (vy + t * (ny - vy)).ravel()
    bra, bdec = from_gnomonic(ra0, dec0, bx, by)
    # Angular gaps are no longer than planar ones (the projection only stretches).
    spacing = float(np.hypot(nx - vx, ny - vy).max()) / BOUNDARY_SAMPLES * 1.01
    corners_ra, corners_dec = from_gnomonic(ra0, dec0, vx, vy)
    sep = SkyCoord(ra0 * u.deg, dec0 * u.deg).separation(
        SkyCoord(corners_ra * u.deg, corners_dec * u.deg)
    )
    return Reference(
        shape,
        adql,
        float(sep.rad.max()),
        (ra0, dec0),
        planar=(vx, vy),
        boundary=(bra, bdec),
        spacing=spacing,
    )


def box_ref(ra0: float, dec0: float, width: float, height: float) -> Reference:
    ra0 %= 360.0
    tx, ty = math.tan(math.radians(width / 2)), math.tan(math.radians(height / 2))
    vx, vy = np.array([tx, tx, -tx, -tx]), np.array([-ty, ty, ty, -ty])
    return loop_ref(
        Box(ra0, dec0, width, height),
        f"BOX({ra0!r}, {dec0!r}, {width!r}, {height!r})",
        ra0,
        dec0,
        vx,
        vy,
    )


def polygon_ref(ra0: float, dec0: float, vx, vy) -> Reference:
    ra0 %= 360.0
    vra, vdec = from_gnomonic(ra0, dec0, vx, vy)
    coords = ", ".join(f"{float(a)!r}, {float(b)!r}" for a, b in zip(vra, vdec, strict=True))
    return loop_ref(
        Polygon(list(zip(vra, vdec, strict=True))), f"POLYGON({coords})", ra0, dec0, vx, vy
    )


# Sizes (degrees) from 0.001 arcsec to tens of degrees, log-uniform.
sizes = st.floats(math.log10(0.001 / 3600.0), math.log10(50.0)).map(lambda x: 10.0**x)


@st.composite
def regions(draw: st.DrawFn, ra0: float, dec0: float, size: float, big_circles: bool = True):
    """A circle, box or star-shaped polygon of about ``size`` degrees around (ra0, dec0)."""
    kind = draw(st.sampled_from(["circle", "box", "polygon"]))
    if kind == "circle":
        radius = min(size * draw(st.floats(0.5, 1.5)), 179.0)
        if big_circles and draw(st.integers(0, 5)) == 0:
            radius = draw(st.floats(60.0, 179.0))  # caps wider than a hemisphere too
        return circle_ref(ra0, dec0, radius)
    if kind == "box":
        width = min(size * draw(st.floats(0.3, 2.0)), 100.0)
        height = min(size * draw(st.floats(0.3, 2.0)), 100.0)
        return box_ref(ra0, dec0, width, height)
    n = draw(st.integers(3, 9))
    gaps = np.array(draw(st.lists(st.floats(1.0, 1.7), min_size=n, max_size=n)))
    angles = np.cumsum(gaps / gaps.sum() * 2 * np.pi) + draw(st.floats(0.0, 2 * np.pi))
    scale = math.tan(math.radians(min(size, 50.0)))
    radii = scale * np.array(draw(st.lists(st.floats(0.2, 1.0), min_size=n, max_size=n)))
    return polygon_ref(ra0, dec0, radii * np.sin(angles), radii * np.cos(angles))


@st.composite
def region_pairs(draw: st.DrawFn, big_circles: bool = True):
    """Two regions of comparable size, the second near the first (overlapping or not)."""
    ra0, dec0, size = draw(ras), draw(decs), draw(sizes)
    first = draw(regions(ra0 % 360.0, dec0, size, big_circles))
    size2 = size * 10.0 ** draw(st.floats(-1.0, 1.0))
    reach = (math.degrees(first.size) + size2) * draw(st.floats(0.0, 1.6))
    pa = draw(st.floats(0.0, 360.0))
    where = SkyCoord(ra0 * u.deg, dec0 * u.deg).directional_offset_by(
        pa * u.deg, min(reach, 179.0) * u.deg
    )
    second = draw(regions(float(where.ra.deg), float(where.dec.deg), size2, big_circles))
    return first, second


def _margin(a: Reference, b: Reference) -> float:
    # The absolute part covers the reference's own rounding: boundary samples that
    # astropy offsets from a centre at a pole are off by up to ~2e-11 rad (found
    # with CIRCLE(0, 90, 0.0001) against CIRCLE(180, 89.9998, 0.0001), 1e-13 apart).
    return 1e-6 * min(a.size, b.size) + 1e-10


def reference_intersects(a: Reference, b: Reference, rng: np.random.Generator) -> bool | None:
    margin = _margin(a, b)
    seen_inside = False
    for one, other in ((a, b), (b, a)):
        samples = [one.boundary, one.interior(rng)]
        for ra, dec in samples:
            inside, clearance = other.member(ra, dec)
            if (inside & (clearance > margin)).any():
                return True
            seen_inside |= bool(inside.any())
    if seen_inside:
        return None
    gap = np.arccos(np.clip((unit_xyz(*a.boundary) @ unit_xyz(*b.boundary).T).max(), -1, 1))
    if gap > 2.0 * (a.spacing + b.spacing) + margin:
        return False
    return None


def _outside_candidates(outer: Reference, rng) -> tuple[np.ndarray, np.ndarray]:
    """Points likely outside ``outer``: uniform on the sphere, plus the point farthest
    from a circle's centre (its whole outside may be a small cap around it)."""
    ra = rng.uniform(0.0, 360.0, INTERIOR_SAMPLES)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, INTERIOR_SAMPLES)))
    far_ra, far_dec = (outer.centre[0] + 180.0) % 360.0, -outer.centre[1]
    return np.append(ra, far_ra), np.append(dec, far_dec)


def reference_contains(outer: Reference, inner: Reference, rng) -> bool | None:
    margin = _margin(outer, inner)
    # A point clearly outside ``outer`` and clearly inside ``inner`` settles it. The
    # boundary alone cannot: a region wider than a hemisphere may have its whole
    # boundary inside ``outer`` and still hold all of outer's outside.
    ra, dec = _outside_candidates(outer, rng)
    outside, out_clearance = outer.member(ra, dec)
    within, in_clearance = inner.member(ra, dec)
    if (~outside & (out_clearance > margin) & within & (in_clearance > margin)).any():
        return False
    inside, clearance = outer.member(*inner.boundary)
    if (inside & (clearance > inner.spacing + margin)).all():
        return True
    for ra, dec in (inner.boundary, inner.interior(rng)):
        inside, clearance = outer.member(ra, dec)
        if (~inside & (clearance > margin)).any():
            return False
    return None


@SKY_SETTINGS
@given(region_pairs(), seeds)
def test_intersects_matches_brute_force(pair, seed) -> None:
    a, b = pair
    expected = reference_intersects(a, b, np.random.default_rng(seed))
    if expected is None:
        return
    assert intersects(a.shape, b.shape) is expected, (a.adql, b.adql)
    assert intersects(b.shape, a.shape) is expected, (b.adql, a.adql)


@SKY_SETTINGS
@given(region_pairs(), seeds)
def test_contains_matches_brute_force(pair, seed) -> None:
    a, b = pair
    rng = np.random.default_rng(seed)
    for outer, inner in ((a, b), (b, a)):
        expected = reference_contains(outer, inner, rng)
        if expected is None:
            continue
        assert contains(outer.shape, inner.shape) is expected, (outer.adql, inner.adql)


@SKY_SETTINGS
@given(region_pairs())
def test_containment_implies_intersection(pair) -> None:
    a, b = pair
    if contains(a.shape, b.shape) or contains(b.shape, a.shape):
        assert intersects(a.shape, b.shape)
    # A region contains itself and meets itself.
    assert contains(a.shape, a.shape) and intersects(a.shape, a.shape)


def test_reference_decides_most_examples() -> None:
    """The brute-force reference is not vacuous: it decides both ways, often."""
    rng = np.random.default_rng(7)
    answers: dict[object, int] = {}
    contained: dict[object, int] = {}
    for seed in range(60):
        a, b = _pair_from_seed(seed)
        key = reference_intersects(a, b, rng)
        answers[key] = answers.get(key, 0) + 1
        key = reference_contains(a, b, rng)
        contained[key] = contained.get(key, 0) + 1
    assert answers.get(True, 0) >= 10 and answers.get(False, 0) >= 10, answers
    assert contained.get(True, 0) >= 3 and contained.get(False, 0) >= 10, contained


def _pair_from_seed(seed: int) -> tuple[Reference, Reference]:
    rng = np.random.default_rng(seed)
    ra0, dec0 = rng.uniform(0, 360), rng.uniform(-90, 90)
    size = 10.0 ** rng.uniform(-4, 1.5)
    first = circle_ref(ra0, dec0, size) if seed % 2 else box_ref(ra0, dec0, size, size * 0.7)
    offset = (size + size * 0.5) * rng.uniform(0.0, 1.6)
    where = SkyCoord(ra0 * u.deg, dec0 * u.deg).directional_offset_by(
        rng.uniform(0, 360) * u.deg, offset * u.deg
    )
    angles = np.sort(rng.uniform(0, 2 * np.pi, 5)) if seed % 3 else np.linspace(0, 5.0, 5)
    t = math.tan(math.radians(size * 0.5))
    second = polygon_ref(
        float(where.ra.deg), float(where.dec.deg), t * np.sin(angles), t * np.cos(angles)
    )
    return first, second


STANDARD_POLYGON = Polygon([(20.0, -15.0), (20.0, -5.0), (10.0, -5.0), (10.0, -15.0)])
# Polygon around the north pole and one across RA 0.
CAP_POLYGON = Polygon([(0.0, 80.0), (90.0, 80.0), (180.0, 80.0), (270.0, 80.0)])
WRAP_POLYGON = Polygon([(350.0, -5.0), (10.0, -5.0), (10.0, 5.0), (350.0, 5.0)])
EQUATOR_POLYGON = Polygon([(20.0, -5.0), (20.0, 5.0), (10.0, 5.0), (10.0, -5.0)])


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # ADQL 2.1 section 4.2.14: the circle is about 5 degrees from the polygon.
        (Circle(25.4, -20.0, 1.0), STANDARD_POLYGON, False),
        (Circle(25.4, -20.0, 7.1), STANDARD_POLYGON, False),  # 7.176 to (20, -15)
        (Circle(25.4, -20.0, 7.3), STANDARD_POLYGON, True),
        (Circle(15.0, -10.0, 0.1), STANDARD_POLYGON, True),  # inside
        (Circle(15.0, -10.0, 30.0), STANDARD_POLYGON, True),  # around it
        # Touching: the box's west side is the great circle 1 degree from (0, 0).
        (Circle(0.0, 0.0, 1.0), Box(2.0, 0.0, 2.0, 2.0), True),
        (Circle(0.0, 0.0, 0.999), Box(2.0, 0.0, 2.0, 2.0), False),
        (Circle(0.0, 89.0, 2.0), CAP_POLYGON, True),
        (Circle(0.0, 60.0, 19.9), CAP_POLYGON, False),  # 20 to the vertex (0, 80)
        (Circle(0.0, 60.0, 20.1), CAP_POLYGON, True),
        (Circle(180.0, 0.0, 170.0), WRAP_POLYGON, True),
        (Circle(180.0, 0.0, 160.0), WRAP_POLYGON, False),
        (Box(0.0, 0.0, 4.0, 4.0), WRAP_POLYGON, True),  # across RA 0
        (Box(0.0, 20.0, 4.0, 4.0), WRAP_POLYGON, False),
        (Box(15.0, -10.0, 30.0, 1.0), STANDARD_POLYGON, True),  # edges cross, no vertex in
        # The box's west side is the meridian 20, like the polygon's east edge.
        (Box(25.0, 0.0, 10.0, 4.0), EQUATOR_POLYGON, True),
        (Box(25.01, 0.0, 10.0, 4.0), EQUATOR_POLYGON, False),
        (Box(0.0, 90.0, 10.0, 10.0), CAP_POLYGON, True),
        (Box(0.0, 0.0, 180.0, 180.0), CAP_POLYGON, True),  # a hemisphere
        (Box(0.0, -45.0, 180.0, 60.0), CAP_POLYGON, False),  # a lune, south
        (STANDARD_POLYGON, WRAP_POLYGON, True),  # they share the vertex (10, -5)
        (STANDARD_POLYGON, Polygon([(350.0, -5.0), (9.9, -5.0), (9.9, 5.0), (350.0, 5.0)]), False),
        (STANDARD_POLYGON, EQUATOR_POLYGON, True),  # they share an edge
        (STANDARD_POLYGON, STANDARD_POLYGON, True),
        # Boxes of one width above each other: their sides lie on the same two great
        # circles. Apart by 0.6 arcsec, sharing an edge, overlapping.
        (Box(358.0, 14.0, 1.2e-4, 3.2e-4), Box(358.0, 14.000485, 1.2e-4, 3.2e-4), False),
        (Box(358.0, 14.0, 1.2e-4, 3.2e-4), Box(358.0, 14.00032, 1.2e-4, 3.2e-4), True),
        (Box(358.0, 14.0, 1.2e-4, 3.2e-4), Box(358.0, 14.0002, 1.2e-4, 3.2e-4), True),
        (Box(40.0, -30.0, 2.0, 1.0), Box(40.0, -28.5, 2.0, 1.0), False),
    ],
)
def test_intersects_known_answers(a, b, expected) -> None:
    assert intersects(a, b) is expected
    assert intersects(b, a) is expected


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        (Circle(15.0, -10.0, 8.0), STANDARD_POLYGON, True),
        (Circle(15.0, -10.0, 6.0), STANDARD_POLYGON, False),
        (STANDARD_POLYGON, Circle(15.0, -10.0, 4.9), True),
        (STANDARD_POLYGON, Circle(15.0, -10.0, 5.1), False),
        (STANDARD_POLYGON, STANDARD_POLYGON, True),
        (STANDARD_POLYGON, Box(15.0, -10.0, 9.0, 9.0), True),
        (STANDARD_POLYGON, Box(15.0, -10.0, 11.0, 9.0), False),
        # The polygon's corners are 10.11 degrees wide as seen from the box centre.
        (Box(15.0, -10.0, 10.2, 10.2), STANDARD_POLYGON, True),
        (Box(15.0, -10.0, 10.0, 10.0), STANDARD_POLYGON, False),
        (Box(0.0, 0.0, 180.0, 180.0), WRAP_POLYGON, True),
        (Box(180.0, 0.0, 180.0, 60.0), WRAP_POLYGON, False),
        # The edges bulge towards the pole: the nearest is 7.107 degrees from it.
        (CAP_POLYGON, Circle(123.0, 90.0, 7.0), True),
        (CAP_POLYGON, Circle(123.0, 90.0, 7.2), False),
        # Caps wider than a hemisphere: all but a 10-degree cap around (180, 0).
        (Circle(0.0, 0.0, 170.0), WRAP_POLYGON, True),
        (Circle(0.0, 0.0, 170.0), Box(180.0, 0.0, 30.0, 30.0), False),
        (Circle(0.0, 0.0, 180.0), Box(180.0, 0.0, 30.0, 30.0), True),
        (Circle(0.0, 0.0, 10.0), Circle(1.0, 1.0, 5.0), True),
        (Circle(0.0, 0.0, 10.0), Circle(5.0, 5.0, 5.0), False),
        (WRAP_POLYGON, Box(0.0, 0.0, 10.0, 10.0), True),  # the same region
    ],
)
def test_contains_known_answers(outer, inner, expected) -> None:
    assert contains(outer, inner) is expected


def test_box_boundaries_are_oriented_great_circle_loops() -> None:
    for box in (Box(10, 20, 30, 40), Box(10, 20, 180, 40), Box(10, 20, 30, 180),
                Box(10, 20, 180, 180), Box(0, 90, 10, 10), Box(359.9, -89.9, 1e-6, 2e-6)):
        xyz = boundary_vertices(box)
        normals = np.cross(xyz, np.roll(xyz, -1, axis=0))
        assert (normals @ unit_xyz(box.ra, box.dec)[0] > 0).all(), box
        if box.width >= 180.0 or box.height >= 180.0:
            continue
        # Every vertex is on the box's boundary.
        ra = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0]))
        dec = np.degrees(np.arcsin(np.clip(xyz[:, 2], -1, 1)))
        grown = Box(box.ra, box.dec, min(box.width * 1.001, 180), min(box.height * 1.001, 180))
        assert grown.contains(ra, dec).all(), box


def test_half_sky_in_half_sky_is_refused() -> None:
    with pytest.raises(UsageError, match="half the sky"):
        contains(Box(0.0, 0.0, 180.0, 180.0), Box(0.0, 0.0, 180.0, 180.0))
