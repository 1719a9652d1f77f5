"""Reference geometry for the sky tests, computed independently of datalab.sky.

Everything here goes through astropy frames (SkyCoord, SkyOffsetFrame) and plain
planar geometry, so agreement with datalab.sky is evidence rather than an echo.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord, SkyOffsetFrame
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from datalab.sky import N_INDICES, Shape, healpix_index, ranges_contain

# No example database: tests must not write outside tests/sky and the source tree.
SKY_SETTINGS = settings(
    deadline=None,
    database=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)

# Centres that stress the special places: poles, next to them, and RA 0/360.
SPECIAL_DEC = [90.0, -90.0, 89.999, -89.999, 0.0]
SPECIAL_RA = [0.0, 359.9999, 360.0, -0.0001, 180.0]
ras = st.one_of(st.sampled_from(SPECIAL_RA), st.floats(-720.0, 720.0))
decs = st.one_of(st.sampled_from(SPECIAL_DEC), st.floats(-90.0, 90.0))
# Sizes from 0.001 arcsec to tens of degrees, log-uniform.
log_sizes = st.floats(np.log10(0.001 / 3600.0), np.log10(60.0)).map(lambda x: 10.0**x)
seeds = st.integers(0, 2**32 - 1)


def offset_frame(ra: float, dec: float) -> SkyOffsetFrame:
    """Frame centred on (ra, dec): lon grows to the east, lat to the north."""
    return SkyCoord(ra * u.deg, dec * u.deg).skyoffset_frame()


def to_offset(ra0: float, dec0: float, ra, dec) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) in radians of points in the offset frame of (ra0, dec0)."""
    off = SkyCoord(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg).transform_to(
        offset_frame(ra0, dec0)
    )
    return off.lon.wrap_at(180 * u.deg).rad, off.lat.rad


def from_gnomonic(ra0: float, dec0: float, x, y) -> tuple[np.ndarray, np.ndarray]:
    """Sky (ra, dec) of tangent-plane points (x east, y north) around (ra0, dec0)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    lon = np.arctan2(x, 1.0)
    lat = np.arctan2(y, np.sqrt(1.0 + x * x))
    sky = SkyCoord(lon * u.rad, lat * u.rad, frame=offset_frame(ra0, dec0)).icrs
    return sky.ra.deg, sky.dec.deg


def to_gnomonic(ra0: float, dec0: float, ra, dec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tangent-plane (x, y) around (ra0, dec0), and whether each point is in front."""
    lon, lat = to_offset(ra0, dec0, ra, dec)
    along = np.cos(lat) * np.cos(lon)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.cos(lat) * np.sin(lon) / along
        y = np.sin(lat) / along
    return x, y, along > 0


def points_in_cap(ra0: float, dec0: float, radius: float, n: int, rng: np.random.Generator):
    """``n`` points uniformly distributed in the cap of ``radius`` degrees."""
    cos_r = np.cos(np.radians(min(radius, 180.0)))
    sep = np.degrees(np.arccos(rng.uniform(cos_r, 1.0, n)))
    pa = rng.uniform(0.0, 360.0, n)
    sky = SkyCoord(ra0 * u.deg, dec0 * u.deg).directional_offset_by(pa * u.deg, sep * u.deg)
    return sky.ra.deg, sky.dec.deg


def planar_inside(px, py, vx, vy) -> np.ndarray:
    """Even-odd ray casting (ray towards +x) of points in a planar polygon."""
    px, py = np.asarray(px)[:, None], np.asarray(py)[:, None]
    x1, y1 = np.asarray(vx)[None, :], np.asarray(vy)[None, :]
    x2, y2 = np.roll(x1, -1, axis=1), np.roll(y1, -1, axis=1)
    straddles = (y1 > py) != (y2 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    return (np.count_nonzero(straddles & (px < x_cross), axis=1) % 2) == 1


def planar_distance_to_boundary(px, py, vx, vy) -> np.ndarray:
    """Distance from each point to the nearest edge of a planar polygon."""
    px, py = np.asarray(px)[:, None], np.asarray(py)[:, None]
    x1, y1 = np.asarray(vx)[None, :], np.asarray(vy)[None, :]
    dx, dy = np.roll(x1, -1, axis=1) - x1, np.roll(y1, -1, axis=1) - y1
    t = np.clip(((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(px - (x1 + t * dx), py - (y1 + t * dy)).min(axis=1)


def assert_valid_ranges(ranges: np.ndarray) -> None:
    """int64 (n, 2), non-empty intervals, sorted, disjoint and not touching, in range."""
    assert ranges.dtype == np.int64
    assert ranges.ndim == 2 and ranges.shape[1] == 2
    assert len(ranges) >= 1
    assert (ranges[:, 0] < ranges[:, 1]).all()
    assert (ranges[1:, 0] > ranges[:-1, 1]).all(), "ranges overlap, touch or are unsorted"
    assert ranges[0, 0] >= 0 and ranges[-1, 1] <= N_INDICES


def assert_covers(shape: Shape, ranges: np.ndarray, ra, dec) -> int:
    """Every point ``shape.contains`` accepts has its index in ``ranges``.

    Returns how many of the points were inside, so callers can check the test
    actually exercised something.
    """
    ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
    inside = shape.contains(ra, dec)
    index = healpix_index(ra[inside], dec[inside])
    covered = ranges_contain(ranges, index)
    if not covered.all():
        missed = np.flatnonzero(~covered)[:5]
        raise AssertionError(
            f"{shape!r}: points inside but not covered: "
            f"{list(zip(ra[inside][missed], dec[inside][missed], strict=True))}"
        )
    return int(inside.sum())


def covered_fraction(ranges: np.ndarray) -> float:
    """Fraction of the sky covered by the ranges (all order-29 cells have equal area)."""
    return float((ranges[:, 1] - ranges[:, 0]).sum()) / N_INDICES


def unit_xyz(ra, dec) -> np.ndarray:
    """Unit vectors via astropy's cartesian representation, shape (n, 3)."""
    cart = SkyCoord(np.atleast_1d(ra) * u.deg, np.atleast_1d(dec) * u.deg).cartesian
    return np.column_stack([cart.x.value, cart.y.value, cart.z.value])


def densified_inside(vertices, ra, dec, outside: tuple[float, float]):
    """Brute-force point-in-spherical-polygon, returning (inside, clear).

    Each great-circle edge is replaced by points every ~0.25 degrees (spherical
    linear interpolation), everything is projected stereographically from
    ``outside`` (a point known not to be in the polygon, which goes to infinity),
    and the planar polygon is tested by ray casting. ``clear`` marks points farther
    than ~1e-4 rad from the boundary, where the answer can be trusted.
    """
    corners = unit_xyz(*np.array(vertices, dtype=float).T)
    path = []
    for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        theta = np.arccos(np.clip(a @ b, -1.0, 1.0))
        t = np.linspace(0.0, 1.0, max(2, int(np.degrees(theta) * 4)), endpoint=False)[:, None]
        path.append((np.sin((1 - t) * theta) * a + np.sin(t * theta) * b) / np.sin(theta))
    boundary = np.concatenate(path)
    pole = -unit_xyz(*outside)[0]  # projection centre opposite the outside point
    helper = np.cross(pole, [0.0, 0.0, 1.0] if abs(pole[2]) < 0.9 else [1.0, 0.0, 0.0])
    e1 = helper / np.linalg.norm(helper)
    e2 = np.cross(pole, e1)

    def project(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scale = 1.0 + xyz @ pole  # the projection magnifies lengths by 1 / scale
        return (xyz @ e1) / scale, (xyz @ e2) / scale, scale

    bx, by, _ = project(boundary)
    px, py, scale = project(unit_xyz(ra, dec))
    inside = planar_inside(px, py, bx, by)
    clear = planar_distance_to_boundary(px, py, bx, by) * scale > 1e-4
    return inside, clear


def fan_area(centre: tuple[float, float], vertices) -> float:
    """Area (sr) of a polygon star-shaped around ``centre``, as a fan of triangles.

    Uses the Oosterom-Strackee formula for each triangle's solid angle,
    tan(omega / 2) = a . (b x c) / (1 + a.b + b.c + c.a), in the offset frame of
    ``centre`` (where a = (1, 0, 0)) so that tiny polygons keep their precision.
    """
    ra, dec = np.array(vertices, dtype=float).T
    lon, lat = to_offset(centre[0], centre[1], ra, dec)
    b = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    c = np.roll(b, -1, axis=0)
    numerator = b[:, 1] * c[:, 2] - b[:, 2] * c[:, 1]
    denominator = 1.0 + b[:, 0] + c[:, 0] + np.einsum("ij,ij->i", b, c)
    return float(np.abs(2.0 * np.arctan2(numerator, denominator)).sum())
